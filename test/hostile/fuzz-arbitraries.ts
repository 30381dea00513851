// Generators for the fuzz suite (test/hostile/fuzz.test.ts): gantry.yaml configs built from the
// schema's shape (src/config/schema.ts), hostile mutations of them (wrong types, huge numbers,
// prototype names, control characters, YAML tags, anchors, nesting), command-line flags and CI
// variables. Every generator is pure data: the test decides what to run and what must hold.
import fc from 'fast-check';
import { yamlWords } from '../support/yaml-words.js';
import YAML from 'yaml';

/** Names every plain object inherits: a user's key or environment name must never reach them. */
export const prototypeNames = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
] as const;

// Words and characters that mean something to YAML, Handlebars or a shell (same spirit as
// test/unit/render/yaml-safety.test.ts, shortened).

/** Strings that hit YAML's corners; well-formed Unicode only (a lone surrogate has no UTF-8 form). */
export const trickyString = fc
  .oneof(
    fc.constantFrom(...yamlWords),
    fc.array(fc.constantFrom(...yamlWords), { minLength: 2, maxLength: 4 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({
      unit: fc.constantFrom(':', '#', ' ', '-', '"', "'", '\\', '\n', '{', '}', '[', ']', 'a', '1', '.', 'e', '|', '>', '&', '*', '!'),
      maxLength: 12,
    }),
  )
  .filter((s) => s.isWellFormed());

/** What argv can carry: no NUL byte (the OS cannot pass one). */
export const argString = trickyString.map((s) => s.replaceAll('\u0000', ''));

// Present in about one case in six: a hostile value everywhere at once would stop almost every
// run at the first check, before the code paths further on.
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const dnsLabel = (max: number) => fc.stringMatching(new RegExp(`^[a-z]([-a-z0-9]{0,${max - 2}}[a-z0-9])?$`));
const envVarName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/);
const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });

/**
 * An env value as written in gantry.yaml. `raw` is set when the value is written as a plain YAML
 * scalar that reads as a number or boolean (1.10, 0x10, true): Gantry keeps the text as written.
 */
export interface EnvValue {
  value: string;
  raw: boolean;
}

const envValue: fc.Arbitrary<EnvValue> = fc.oneof(
  { weight: 5, arbitrary: trickyString.map((value) => ({ value, raw: false })) },
  { weight: 1, arbitrary: fc.constantFrom('1.10', '0x10', '017', '1e3', 'true', 'no', '3', '-0', '.5').map((value) => ({ value, raw: true })) },
);

export interface GeneratedConfig {
  /** The config as a JS object (raw env values replaced by placeholders; see `text`). */
  object: Record<string, unknown>;
  /** gantry.yaml text. */
  text: string;
  /** backend.port as the ConfigMap's PORT holds it. */
  port: string;
  /** backend.env as strings, exactly as written. */
  backendEnv: Record<string, string>;
  /** environments.<name>.env as strings, exactly as written. */
  environmentEnv: Record<string, Record<string, string>>;
  /** Pod annotations, command and args that must come back exactly. */
  podAnnotations: Record<string, string>;
  command: string[] | undefined;
  args: string[] | undefined;
  environments: string[];
  hasRegistry: boolean;
}

// Requests never above limits (a rule of src/config/rules.ts), and always a CPU request (autoscaling needs one).
const resources = fc.record({
  requests: fc.record({ cpu: fc.constantFrom('100m', '250m'), memory: fc.constantFrom('128Mi', '256Mi') }),
  limits: fc.record({ cpu: fc.constantFrom('500m', '1', '2'), memory: fc.constantFrom('256Mi', '1Gi', '2Gi') }),
});

const envMap = fc.dictionary(envVarName, envValue, { maxKeys: 6, noNullPrototype: true });

const environment = (name: string) =>
  fc.record(
    {
      cluster: fc.constantFrom('ack', 'ask'),
      namespace: name === 'review' ? fc.constant('{app}-mr-{iid}') : dnsLabel(30),
      domain:
        name === 'review'
          ? fc.constantFrom('mr-{iid}.review.example.com', '{slug}.preview.example.com')
          : fc.constantFrom('example.com', 'staging.example.com'),
      replicas: fc.integer({ min: 0, max: 5 }),
      resources,
      env: envMap,
      service: fc.record(
        {
          type: name === 'review' ? fc.constant('ClusterIP') : fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
          port: fc.integer({ min: 1, max: 65535 }),
        },
        { requiredKeys: [] },
      ),
      ingress: fc.record(
        {
          className: fc.constantFrom('nginx', 'alb'),
          annotations: fc.dictionary(fc.constantFrom('nginx.ingress.kubernetes.io/proxy-body-size', 'example.com/x'), trickyString, { maxKeys: 2 }),
        },
        { requiredKeys: [] },
      ),
      autoscale: fc.record({ min: fc.integer({ min: 1, max: 3 }), max: fc.integer({ min: 3, max: 10 }), cpu: fc.integer({ min: 1, max: 100 }) }),
    },
    { requiredKeys: [] },
  );

/** A gantry.yaml that the schema and Kubernetes both accept, with its expected env per environment. */
export const validConfig: fc.Arbitrary<GeneratedConfig> = fc
  .record({
    app: dnsLabel(20),
    registry: fc.option(fc.record({ pushHost: fc.constantFrom('registry.cn-hangzhou.aliyuncs.com', 'registry.example.com:5000'), namespace: dnsLabel(12) }), {
      nil: undefined,
    }),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    env: envMap,
    podAnnotations: fc.dictionary(fc.constantFrom('example.com/a', 'example.com/b', 'team'), trickyString, { maxKeys: 3, noNullPrototype: true }),
    command: fc.option(fc.array(trickyString, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    args: fc.option(fc.array(trickyString, { maxLength: 3 }), { nil: undefined }),
    replicas: fc.integer({ min: 0, max: 10 }),
    progressDeadlineSeconds: fc.integer({ min: 1, max: 3600 }),
    environments: fc.record(
      { staging: environment('staging'), production: environment('production'), review: environment('review') },
      { requiredKeys: ['staging'] },
    ),
  })
  .map((g) => {
    const raws: string[] = [];
    const toYamlEnv = (env: Record<string, EnvValue>) =>
      Object.fromEntries(
        Object.entries(env).map(([k, v]) => {
          if (!v.raw) return [k, v.value];
          raws.push(v.value);
          return [k, `RAWPLACEHOLDER${raws.length - 1}X`];
        }),
      );
    const plain = (env: Record<string, EnvValue>) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.value]));
    const environments: Record<string, unknown> = {};
    const environmentEnv: Record<string, Record<string, string>> = {};
    for (const [name, e] of Object.entries(g.environments)) {
      if (!e) continue;
      const { env, ...rest } = e;
      const out: Record<string, unknown> = { ...rest };
      if (env) out.env = toYamlEnv(env);
      if (rest.autoscale) delete out.replicas;
      environments[name] = out;
      environmentEnv[name] = env ? plain(env) : {};
    }
    const backend: Record<string, unknown> = {
      env: toYamlEnv(g.env),
      replicas: g.replicas,
      progressDeadlineSeconds: g.progressDeadlineSeconds,
      podAnnotations: g.podAnnotations,
    };
    if (g.port !== undefined) backend.port = g.port;
    if (g.command) backend.command = g.command;
    if (g.args) backend.args = g.args;
    const object: Record<string, unknown> = { app: g.app, ...(g.registry ? { registry: g.registry } : {}), backend, environments };
    let text = YAML.stringify(object, { lineWidth: 0 });
    raws.forEach((raw, i) => {
      text = text.replace(`RAWPLACEHOLDER${i}X`, raw);
    });
    return {
      object,
      text,
      port: String(g.port ?? 3000),
      backendEnv: plain(g.env),
      environmentEnv,
      podAnnotations: g.podAnnotations,
      command: g.command,
      args: g.args,
      environments: Object.keys(environments),
      hasRegistry: Boolean(g.registry),
    };
  });

// Values of the wrong type, out of every range, or made to confuse a parser.
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    [],
    {},
    [[]],
    { a: { b: {} } },
    -1,
    0,
    1.5,
    2 ** 31,
    2 ** 31 - 1,
    2 ** 53 + 2,
    -(2 ** 63),
    1e308,
    Number.MAX_SAFE_INTEGER,
    'x'.repeat(70),
    'x'.repeat(5000),
    '1e999',
    'NaN',
    '-0',
    '0777',
  ),
  fc.constantFrom(...prototypeNames),
  trickyString,
  fc.integer(),
  fc.double(),
  fc.array(trickyString, { maxLength: 3 }),
  fc.dictionary(fc.oneof(fc.constantFrom(...prototypeNames), envVarName), trickyString, { maxKeys: 3, noNullPrototype: true }),
);

// Every leaf and map a user writes, by dotted path (strings: keys; numbers: list indexes).
const mutationPaths: (string | number)[][] = [
  ['app'],
  ['registry'],
  ['registry', 'pushHost'],
  ['registry', 'namespace'],
  ['backend'],
  ['backend', 'port'],
  ['backend', 'replicas'],
  ['backend', 'maxReplicas'],
  ['backend', 'env'],
  ['backend', 'env', 'GREETING'],
  ['backend', 'envFrom'],
  ['backend', 'envFrom', 0],
  ['backend', 'command'],
  ['backend', 'args', 0],
  ['backend', 'healthPath'],
  ['backend', 'progressDeadlineSeconds'],
  ['backend', 'terminationGracePeriodSeconds'],
  ['backend', 'maxSurge'],
  ['backend', 'podAnnotations'],
  ['backend', 'resources', 'limits', 'memory'],
  ['backend', 'probes', 'liveness'],
  ['backend', 'autoscale'],
  ['backend', 'initContainers', 0],
  ['frontend'],
  ['environments'],
  ['environments', 'staging'],
  ['environments', 'staging', 'namespace'],
  ['environments', 'staging', 'replicas'],
  ['environments', 'staging', 'env'],
  ['environments', 'staging', 'domain'],
  ['environments', 'staging', 'kubeconfig'],
  ['environments', 'staging', 'ingress', 'className'],
  ['environments', 'staging', 'ingress', 'annotations'],
  ['environments', 'staging', 'service', 'nodePort'],
  ['environments', 'staging', 'eci'],
  ['environments', 'review', 'namespace'],
];

function setPath(target: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      // defineProperty: a generated "__proto__" key is an own key here, as YAML would read it.
      Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
      return;
    }
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === null || typeof next !== 'object') {
      Object.defineProperty(node, key, { value: typeof path[i + 1] === 'number' ? [] : {}, enumerable: true, writable: true, configurable: true });
    }
    node = node[key] as Record<string | number, unknown>;
  });
}

/** Text-level hostility the YAML writer would never produce. */
const textMutation: fc.Arbitrary<(text: string) => string> = fc.oneof(
  fc.constant((t: string) => t),
  fc.constantFrom(
    (t: string) => `\ufeff${t}`,
    (t: string) => t.replaceAll('\n', '\r\n'),
    (t: string) => `${t}---\napp: second\n`,
    (t: string) => `%YAML 1.1\n---\n${t}`,
    (t: string) => `${t}...\n`,
    (t: string) => `${t}app: duplicate\n`,
    (t: string) => t.replace(/^( +)/m, '\t'),
    () => '',
    () => 'just a string\n',
    () => '- a\n- list\n',
    () => '!!binary aGVsbG8=\n',
    () => 'app: !!binary aGVsbG8=\nenvironments: { staging: {} }\n',
    () => 'app: !!js/function "function(){}"\nenvironments: { staging: {} }\n',
    () => 'app: !custom hello\nenvironments: { staging: {} }\n',
    () => 'app: hello\nenvironments: !!set { staging }\n',
    () => 'app: hello\nenvironments: !!omap [ staging: {} ]\n',
    () => 'app: hello\nx: &a { A: "1" }\nbackend: { env: { <<: *a, B: *a } }\nenvironments: { staging: {} }\n',
    () => 'app: hello\nbackend: { env: &e { A: "1" } }\nenvironments: { staging: { env: *e }, production: { env: *e } }\n',
    () => 'app: hello\nbackend: { env: { __proto__: { polluted: "1" } } }\nenvironments: { staging: {} }\n',
    () => 'app: hello\n__proto__: { polluted: "1" }\nenvironments: { staging: {} }\n',
    () => 'app: hello\nenvironments: { __proto__: { namespace: x }, staging: {} }\n',
    () => 'app: hello\nenvironments: { constructor: {}, toString: {} }\n',
    () => 'app: hello\nbackend: { env: { constructor: "c", toString: "t", valueOf: "v" } }\nenvironments: { staging: {} }\n',
    () => 'app: "\\u0000\\u001b"\nenvironments: { staging: {} }\n',
  ),
  // Nesting within the parser's limits, in flow and block style.
  fc.integer({ min: 1, max: 60 }).map((depth) => () => `app: hello\nenvironments: { staging: { eci: ${'['.repeat(depth)}${']'.repeat(depth)} } }\n`),
  fc
    .integer({ min: 1, max: 40 })
    .map(
      (depth) => () =>
        `app: hello\nenvironments:\n  staging:\n    env:\n${Array.from({ length: depth }, (_, i) => `${'  '.repeat(i + 3)}k${i}:`).join('\n')} x\n`,
    ),
  // Alias expansion within the default limit (100).
  fc
    .integer({ min: 1, max: 8 })
    .map((n) => () => `app: hello\na: &a ["x"]\nb: &b [${Array(n).fill('*a').join(', ')}]\nbackend: { env: { A: "1" } }\nenvironments: { staging: {} }\n`),
  // A random character inserted, deleted or replaced somewhere.
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom('', ':', '-', '"', "'", '\n', ' ', '\t', '{', '[', '&', '*', '!', '|', '>', '#', '%', '@', '\u0000', '\u0085', '\ufeff'),
      fc.boolean(),
    )
    .map(([at, ch, replace]) => (t: string) => {
      const i = t.length === 0 ? 0 : at % t.length;
      return t.slice(0, i) + ch + t.slice(replace ? i + 1 : i);
    }),
);

/** A valid config broken in 1-3 places, then possibly broken as text. */
export const hostileConfigText: fc.Arbitrary<string> = fc
  .tuple(
    validConfig,
    fc.array(fc.tuple(fc.constantFrom(...mutationPaths), hostileValue), { maxLength: 2 }),
    rarely(fc.array(fc.tuple(fc.constantFrom(...mutationPaths), fc.constantFrom(...prototypeNames), hostileValue), { minLength: 1, maxLength: 2 })),
    textMutation,
  )
  .map(([config, mutations, protoKeys, mutate]) => {
    const object = structuredClone(config.object);
    for (const [path, value] of mutations) setPath(object, path, value);
    for (const [path, name, value] of protoKeys ?? []) setPath(object, [...path, name], value);
    let text: string;
    try {
      text = YAML.stringify(object, { lineWidth: 0, aliasDuplicateObjects: false });
    } catch {
      text = config.text;
    }
    return mutate(text);
  });

const setPaths = fc.oneof(
  fc.constantFrom(
    'app',
    'backend.replicas',
    'backend.port',
    'backend.env.GREETING',
    'backend.env',
    'backend.podAnnotations.example\\.com/x',
    'environments.staging.namespace',
    'environments.staging.replicas',
    'environments.review.domain',
    'backend.args.0',
    'backend.command.1',
    'registry.pushHost',
    'frontend.bucket',
    '0',
    'a..b',
    '.x',
    '',
  ),
  fc
    .tuple(
      fc.constantFrom('', 'backend.', 'backend.env.', 'environments.', 'environments.staging.'),
      fc.constantFrom(...prototypeNames),
      fc.constantFrom('', '.polluted', '.x.y'),
    )
    .map((p) => p.join('')),
);

const setValues = fc.oneof(
  argString,
  fc.constantFrom('1', '-1', '2147483648', '1e400', 'null', '[]', '{}', '{a: 1}', '!!binary aGk=', '&a [*a]', '*a', '"', "'", '[', '{', 'true', '0x7fffffff'),
);

/** One command line: a command, its flags, and the repository layout the paths in it refer to. */
export interface GeneratedCommand {
  argv: string[];
  /** --out of a render. */
  out: string | undefined;
}

const envFlag = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('staging', 'production', 'review') },
  { weight: 2, arbitrary: fc.constantFrom(...prototypeNames) },
  { weight: 1, arbitrary: fc.constantFrom('', 'missing', 'Staging', 'staging\n', 'stag ing', 'ß', '../x', '-1', 'a'.repeat(80)) },
);

const imageFlag = fc.constantFrom(
  'registry.example.com/acme/app:v1',
  `registry.example.com/acme/app@sha256:${'ab'.repeat(32)}`,
  'app',
  'localhost:5000/app:latest',
  '',
  'UPPER/app:tag',
  'a b',
  'x\ny',
  ':tag',
  '@sha256:zz',
  'host:99999/app',
  'user:pass@host/app',
  `registry.example.com/${'a'.repeat(300)}`,
  'registry.example.com/app:tag\n  injected: true',
);

/** --out relative to the repository: inside it, beside it, at a file, at a directory that holds svc.yaml as a directory. */
const outFlag = fc.constantFrom('out', 'rendered', 'a/b/c', '.', '', '../outside', 'gantry.yaml', 'svcdir', 'out\nx', ' ');

const mrFlag = fc.constantFrom('1', '42', '0', '-1', '01', '1e3', '123456789012345678901234567890', 'abc', '', '9007199254740993');

const configFlag = fc.constantFrom('gantry.yaml', 'other.yml', 'missing.yaml', 'confdir', '/dev/null', 'sub/gantry.yaml', '');

const cwdFlag = fc.constantFrom('.', 'sub', 'missing', 'gantry.yaml', '');

/** Hostile command lines for validate, render (always with --out in the repository) and schema. */
export const hostileCommand: fc.Arbitrary<GeneratedCommand> = fc
  .record({
    command: fc.constantFrom('validate', 'render', 'render', 'render', 'schema'),
    env: fc.option(envFlag, { freq: 8, nil: undefined }),
    out: fc.oneof(
      { weight: 3, arbitrary: fc.constant('out') },
      { weight: 1, arbitrary: fc.constantFrom('svcdir', 'gantry.yaml') },
      { weight: 2, arbitrary: outFlag },
    ),
    image: rarely(imageFlag),
    mr: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constant('7') }, { weight: 1, arbitrary: mrFlag }),
    config: rarely(configFlag),
    cwd: rarely(cwdFlag),
    set: rarely(fc.array(fc.tuple(setPaths, setValues), { minLength: 1, maxLength: 3 })),
    setString: rarely(fc.array(fc.tuple(setPaths, argString), { minLength: 1, maxLength: 2 })),
    extra: rarely(fc.constantFrom(['--bogus'], ['positional'], ['--set'], ['--env'], ['--help'], ['--dry-run'], ['-x'])),
  })
  .map((c) => {
    const argv: string[] = [c.command];
    if (c.command !== 'schema') {
      if (c.env !== undefined) argv.push('--env', c.env);
      if (c.command === 'render') argv.push('--out', c.out);
      if (c.image !== undefined && c.command === 'render') argv.push('--image', c.image);
      if (c.mr !== undefined && c.command === 'render') argv.push('--mr', c.mr);
      if (c.config !== undefined) argv.push('--config', c.config);
      if (c.cwd !== undefined) argv.push('-C', c.cwd);
      for (const [p, v] of c.set ?? []) argv.push('--set', `${p}=${v}`);
      for (const [p, v] of c.setString ?? []) argv.push('--set-string', `${p}=${v}`);
    }
    if (c.extra) argv.push(...c.extra);
    return { argv, out: c.command === 'render' ? c.out : undefined };
  });

/** Secret values: at least 8 characters, random enough never to appear by chance, some with characters JSON escapes. */
export const secretValue = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'), minLength: 12, maxLength: 24 }),
    fc.constantFrom('', '"q', '\\b', '\n', 'é', '/+', ' x'),
  )
  .map(([s, extra]) => `Zq${s}${extra}`);

/** CI variables, valid or hostile, as GitLab (or a user's CI/CD settings) would set them. */
export const ciEnvironment = fc
  .record({
    CI_COMMIT_SHA: fc.oneof({ weight: 8, arbitrary: hex(40) }, { weight: 1, arbitrary: fc.constantFrom('', 'not-a-sha') }),
    CI_COMMIT_SHORT_SHA: fc.oneof(
      { weight: 8, arbitrary: hex(8) },
      { weight: 1, arbitrary: fc.constantFrom('', 'UPPER', 'a:b', 'a\nb', 'x'.repeat(200), '../..', '-') },
    ),
    CI_COMMIT_REF_SLUG: fc.oneof({ weight: 4, arbitrary: dnsLabel(20) }, { weight: 1, arbitrary: argString }),
    CI_COMMIT_BRANCH: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('main', 'k8s-backend', 'feature/ß-ü') }, { weight: 1, arbitrary: argString }),
    CI_MERGE_REQUEST_IID: rarely(fc.oneof(fc.constantFrom('7', '1'), mrFlag)),
    CI_PIPELINE_URL: fc.constantFrom('https://gitlab.example.com/acme/app/-/pipelines/1', 'javascript:alert(1)', 'https://x\ny'),
    GANTRY_SET: rarely(fc.array(fc.tuple(setPaths, setValues), { minLength: 1, maxLength: 2 }).map((lines) => lines.map(([p, v]) => `${p}=${v}`).join('\n'))),
    GANTRY_IMAGE: rarely(imageFlag),
    GANTRY_REPLICAS: rarely(fc.constantFrom('2', '-1', '2147483648', 'x', '1.5')),
    GANTRY_APP: rarely(fc.constantFrom('hello', 'Hello', '__proto__', 'constructor', 'a'.repeat(70))),
  })
  .map(
    (env) =>
      Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && !e[1].includes('\u0000'))) as Record<string, string>,
  );

/** Secret-named CI variables (K8S_SECRET_*, *_PASSWORD, *_TOKEN, *_SECRET) with random values. */
export const secretEnvironment = fc
  .record({
    K8S_SECRET_DB_PASSWORD: secretValue,
    K8S_SECRET_API: secretValue,
    GANTRY_REGISTRY_PASSWORD: secretValue,
    GANTRY_REGISTRY_USER: fc.constantFrom('robot', 'deployer'),
    GANTRY_GITLAB_TOKEN: secretValue,
    CI_JOB_TOKEN: secretValue,
    GANTRY_OSS_ACCESS_KEY_SECRET: secretValue,
    MY_API_KEY: secretValue,
  })
  .map((env) => env as Record<string, string>);
