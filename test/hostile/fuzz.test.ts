// The fuzz suite of issue #13: generated gantry.yaml configs (valid and hostile), command lines
// and CI variables, run in-process through the CLI's own `main` against a temp repository, for
// the commands that need no network (validate, render --out, render --env review --mr, schema).
// Each promise is one test: exit 0 or 2 and never a stack trace; nothing written on exit 2;
// rendered YAML parses (also as Kubernetes parses it) and every string comes back; no secret in
// any output; Object.prototype and the process untouched; prototype names refused.
// A fixed seed keeps CI repeatable; FC_SEED=random explores new cases, FC_SEED=<n> replays one
// (fast-check prints the seed and the shrunk counterexample of a failure).
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import YAML from 'yaml';
import { parseAsKubernetes } from '../support/k8s-yaml.js';
import { argString, ciEnvironment, hostileCommand, hostileConfigText, prototypeNames, secretEnvironment, validConfig } from './fuzz-arbitraries.js';
import { type Case, describeCase, differences, runGantry, snapshot, withRepo } from './fuzz-run.js';

const seed = process.env.FC_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED ?? 20261313);
// Per-test case counts: 2,400 runs of the CLI in all (the issue asks for at least 2,000).
const RUNS = { exitCodes: 600, nothingWritten: 400, roundTrip: 150, secrets: 300, processState: 350, prototypeNames: 300 };
const settings = (numRuns: number) => ({ seed, numRuns, timeout: 20_000, endOnFailure: false });

const baseEnv: Record<string, string> = { GITLAB_CI: 'true', CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567', CI_COMMIT_SHORT_SHA: '01234567' };

/** A config, a command line and CI variables, most of them hostile. */
const hostileCase = fc
  .record({
    config: fc.oneof({ weight: 3, arbitrary: hostileConfigText }, { weight: 2, arbitrary: validConfig.map((c) => c.text) }),
    command: hostileCommand,
    ci: ciEnvironment,
  })
  .map(({ config, command, ci }): Case & { out: string | undefined } => ({ argv: command.argv, env: { ...baseEnv, ...ci }, config, out: command.out }));

const stackLine = /^\s+at .*(\(.*:\d+:\d+\)|:\d+:\d+)$/m;

// Jest's ESM loader fails two concurrent first imports of one module ("request for 'zod' is not
// in cache"), which render's Promise.all of lazy imports does on its first run: load them once,
// one by one, before the first case (a jest artefact, not Gantry's).
beforeAll(async () => {
  for (const load of [
    () => import('../../src/config/load.js'),
    () => import('../../src/render/view.js'),
    () => import('../../src/render/render.js'),
    () => import('../../src/render/secret.js'),
    () => import('../../scripts/render.js'),
    () => import('../../scripts/validate.js'),
  ])
    await load();
});

describe('fuzz: hostile configs, flags and CI variables (#13)', () => {
  test(`exit code is 0 or 2, never a stack trace or E_INTERNAL (${RUNS.exitCodes} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(hostileCase, async (c) =>
        withRepo(c.config, async ({ repo }) => {
          const o = await runGantry(c.argv, c.env, repo);
          const output = o.stderr + o.stdout;
          if (o.thrown !== undefined) throw new Error(describeCase(c, o, 'main threw'));
          if (o.code !== 0 && o.code !== 2) throw new Error(describeCase(c, o, `exit ${o.code}`));
          if (stackLine.test(output)) throw new Error(describeCase(c, o, 'stack trace in the output'));
          if (output.includes('E_INTERNAL')) throw new Error(describeCase(c, o, 'E_INTERNAL in the output'));
        }),
      ),
      settings(RUNS.exitCodes),
    );
  }, 300_000);

  test(`on exit 2 nothing is written, and no temp file is ever left (${RUNS.nothingWritten} runs)`, async () => {
    const renders = hostileCase.filter((c) => c.argv[0] === 'render');
    await fc.assert(
      fc.asyncProperty(renders, async (c) =>
        withRepo(c.config, async ({ root, repo }) => {
          const before = await snapshot(root);
          const o = await runGantry(c.argv, c.env, repo);
          const after = await snapshot(root);
          const changed = differences(before, after);
          const temps = [...after.keys()].filter((k) => /\.tmp$/.test(k));
          if (temps.length > 0) throw new Error(describeCase(c, o, `temp files left: ${temps.join(', ')}`));
          if (o.code !== 0 && changed.length > 0) throw new Error(describeCase(c, o, `exit ${o.code ?? 'threw'} after writing: ${changed.join(', ')}`));
        }),
      ),
      settings(RUNS.nothingWritten),
    );
  }, 300_000);

  test(`on exit 0 the rendered YAML parses (yaml 1.2, 1.1 and Kubernetes' parser) and every string comes back exactly (${RUNS.roundTrip} runs)`, async () => {
    const streams: string[] = [];
    const parsed: unknown[] = [];
    const envKey = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/);
    const roundTripCase = validConfig.chain((config) =>
      fc.record({
        config: fc.constant(config),
        envName: fc.constantFrom(...config.environments),
        setString: fc.dictionary(envKey, argString, { maxKeys: 3, noNullPrototype: true }),
        image: config.hasRegistry
          ? fc.option(fc.constantFrom('registry.example.com/acme/app:v1.2.3', `registry.example.com/acme/app@sha256:${'cd'.repeat(32)}`), { nil: undefined })
          : fc.constantFrom('registry.example.com/acme/app:v1.2.3', `registry.example.com/acme/app@sha256:${'cd'.repeat(32)}`),
        imageVia: fc.constantFrom('flag', 'GANTRY_IMAGE'),
        mrVia: fc.constantFrom('flag', 'CI_MERGE_REQUEST_IID'),
        mr: fc.integer({ min: 1, max: 99999 }).map(String),
        refSlug: fc.stringMatching(/^[a-z][-a-z0-9]{0,20}[a-z0-9]$/),
        dryRun: fc.boolean(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(roundTripCase, async (g) => {
        const { config } = g;
        const argv = ['render', '--env', g.envName, '--out', 'out'];
        const env: Record<string, string> = { ...baseEnv, CI_COMMIT_REF_SLUG: g.refSlug };
        if (g.image !== undefined && g.imageVia === 'flag') argv.push('--image', g.image);
        if (g.image !== undefined && g.imageVia === 'GANTRY_IMAGE') env.GANTRY_IMAGE = g.image;
        if (g.envName === 'review' && g.mrVia === 'flag') argv.push('--mr', g.mr);
        if (g.envName === 'review' && g.mrVia === 'CI_MERGE_REQUEST_IID') env.CI_MERGE_REQUEST_IID = g.mr;
        for (const [k, v] of Object.entries(g.setString)) argv.push('--set-string', `backend.env.${k}=${v}`);
        if (g.dryRun) argv.push('--dry-run');
        const c: Case = { argv, env, config: config.text };
        await withRepo(config.text, async ({ repo }) => {
          const o = await runGantry(argv, env, repo);
          if (o.code !== 0) throw new Error(describeCase(c, o, `a valid config and command line gave exit ${o.code ?? 'threw'}`));
          const result = JSON.parse(o.stdout) as { files: string[]; namespace: string };
          if (g.dryRun) return;
          const [deployText, svcText] = await Promise.all(result.files.map((f) => readFile(f, 'utf8')));
          const expected: Record<string, string> = { PORT: config.port, ...config.backendEnv, ...g.setString, ...config.environmentEnv[g.envName] };
          for (const version of ['1.2', '1.1'] as const) {
            const docs = YAML.parseAllDocuments(deployText!, { version }).map((d) => {
              if (d.errors.length > 0) throw new Error(describeCase(c, o, `deploy.yaml does not parse as YAML ${version}: ${d.errors[0]!.message}`));
              return d.toJS() as any;
            });
            for (const d of YAML.parseAllDocuments(svcText!, { version })) {
              if (d.errors.length > 0) throw new Error(describeCase(c, o, `svc.yaml does not parse as YAML ${version}: ${d.errors[0]!.message}`));
            }
            const configMap = docs.find((d) => d.kind === 'ConfigMap');
            const deployment = docs.find((d) => d.kind === 'Deployment');
            const problem = (what: string, got: unknown, want: unknown) =>
              new Error(describeCase(c, o, `${what} did not come back (YAML ${version}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`));
            if (
              JSON.stringify(configMap?.data) !== JSON.stringify(Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
            )
              throw problem('the ConfigMap data', configMap?.data, expected);
            const pod = deployment?.spec?.template;
            const container = pod?.spec?.containers?.[0];
            for (const [k, v] of Object.entries(config.podAnnotations))
              if (pod?.metadata?.annotations?.[k] !== v) throw problem(`pod annotation ${k}`, pod?.metadata?.annotations?.[k], v);
            if (config.command && JSON.stringify(container?.command) !== JSON.stringify(config.command))
              throw problem('the command', container?.command, config.command);
            if (config.args?.length && JSON.stringify(container?.args) !== JSON.stringify(config.args)) throw problem('the args', container?.args, config.args);
            if (version === '1.2') {
              streams.push(deployText!, svcText!);
              parsed.push(...docs, ...YAML.parseAllDocuments(svcText!).map((d) => d.toJS()));
            }
          }
        });
      }),
      settings(RUNS.roundTrip),
    );
    // The same files, as Kubernetes reads them (one process for all of them).
    expect(streams.length).toBeGreaterThan(RUNS.roundTrip / 2); // about half the runs wrote files (the others were dry runs)
    const asKubernetes = parseAsKubernetes(streams.map((s) => (s.endsWith('\n') ? s : `${s}\n`)).join('---\n'));
    expect(asKubernetes.filter((d) => d !== null)).toEqual(parsed.filter((d) => d !== null));
  }, 300_000);

  test(`no secret value appears in any output, plain, base64 or JSON-escaped (${RUNS.secrets} runs)`, async () => {
    const secretCase = fc
      .record({ base: hostileCase, secrets: secretEnvironment, imageWithPassword: fc.boolean() })
      .map(({ base, secrets, imageWithPassword }) => {
        const env = { ...base.env, ...secrets };
        // A registry password pasted into the image reference: it must be refused or masked, never rendered.
        if (imageWithPassword) env.GANTRY_IMAGE = `${secrets.GANTRY_REGISTRY_USER}:${secrets.GANTRY_REGISTRY_PASSWORD}@registry.example.com/acme/app:v1`;
        return { ...base, env, secrets };
      });
    await fc.assert(
      fc.asyncProperty(secretCase, async (c) =>
        withRepo(c.config, async ({ root, repo }) => {
          const o = await runGantry(c.argv, c.env, repo);
          const files = [...(await snapshot(root)).entries()].map(([k, v]) => [k, Buffer.from(v, 'latin1').toString('utf8')] as const);
          const outputs: [string, string][] = [['stderr', o.stderr], ['stdout', o.stdout], ...files.map(([k, v]) => [`file ${k}`, v] as [string, string])];
          for (const [name, value] of Object.entries(c.secrets)) {
            if (name === 'GANTRY_REGISTRY_USER') continue;
            const forms: [string, string][] = [
              ['plain', value],
              ['trimmed', value.trim()],
              ['base64', Buffer.from(value).toString('base64')],
              ['base64url', Buffer.from(value).toString('base64url')],
              ['JSON-escaped', JSON.stringify(value).slice(1, -1)],
              ['URL-encoded', encodeURIComponent(value)],
            ];
            if (name === 'GANTRY_REGISTRY_PASSWORD') forms.push(['basic auth', Buffer.from(`${c.secrets.GANTRY_REGISTRY_USER}:${value}`).toString('base64')]);
            for (const [where, text] of outputs)
              for (const [form, secret] of forms) if (text.includes(secret)) throw new Error(describeCase(c, o, `${name} (${form}) appears in ${where}`));
          }
        }),
      ),
      settings(RUNS.secrets),
    );
  }, 300_000);

  test(`Object.prototype, process.env, the working directory and the process's listeners are untouched (${RUNS.processState} runs)`, async () => {
    const processState = () =>
      JSON.stringify({
        env: process.env,
        cwd: process.cwd(),
        exitCode: process.exitCode ?? null,
        listeners: ['SIGTERM', 'SIGINT', 'SIGPIPE', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection'].map((e) => process.listenerCount(e)),
        objectPrototype: Object.getOwnPropertyNames(Object.prototype).sort(),
        arrayPrototype: Object.getOwnPropertyNames(Array.prototype).sort(),
      });
    // Prototype names everywhere: in the config, in --set paths, as --env, in GANTRY_SET.
    const protoCase = fc
      .record({
        base: hostileCase,
        name: fc.constantFrom(...prototypeNames),
        where: fc.constantFrom('set', 'set-string', 'GANTRY_SET', 'env', 'config'),
      })
      .map(({ base, name, where }) => {
        const argv = base.argv[0] === 'schema' ? ['render', '--out', 'out'] : [...base.argv];
        const env = { ...base.env };
        let config = base.config;
        if (where === 'set') argv.push('--set', `${name}.polluted=1`, '--set', `backend.env.${name}=x`);
        if (where === 'set-string') argv.push('--set-string', `${name}.polluted=1`);
        if (where === 'GANTRY_SET') env.GANTRY_SET = `${name}.polluted=1\nbackend.${name}.polluted=2`;
        if (where === 'env') argv.push('--env', name);
        if (where === 'config') config = `${config}\n${name}: { polluted: "1" }\n`;
        return { argv, env, config };
      });
    const before = processState();
    await fc.assert(
      fc.asyncProperty(protoCase, async (c) =>
        withRepo(c.config, async ({ repo }) => {
          const o = await runGantry(c.argv, c.env, repo);
          if (o.polluted.length > 0) throw new Error(describeCase(c, o, `Object.prototype gained ${o.polluted.join(', ')}`));
          const state = processState();
          if (state !== before) throw new Error(describeCase(c, o, `process state changed: ${before} -> ${state}`));
        }),
      ),
      settings(RUNS.processState),
    );
  }, 300_000);

  test(`prototype names as keys or environments are refused with exit 2 naming them (${RUNS.prototypeNames} runs)`, async () => {
    // A valid config and command with exactly one prototype name where the user names a key or an environment.
    const place = fc.constantFrom(
      'backend.env',
      'environments',
      'backend.podAnnotations',
      'backend.buildArgs',
      'ingress.annotations',
      'environment env',
      '--env',
      '--set',
      '--set-string',
      'GANTRY_SET',
    );
    const protoCase = fc.record({ config: validConfig, name: fc.constantFrom(...prototypeNames), place }).map(({ config, name, place }) => {
      const object = structuredClone(config.object) as any;
      const own = (target: Record<string, unknown>, value: unknown) =>
        Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
      const argv = ['render', '--env', 'staging', '--out', 'out', '--image', 'registry.example.com/acme/app:v1'];
      const env: Record<string, string> = { ...baseEnv };
      if (place === 'backend.env') own(object.backend.env, 'x');
      if (place === 'environments') own(object.environments, { namespace: 'x' });
      if (place === 'backend.podAnnotations') own(object.backend.podAnnotations, 'x');
      if (place === 'backend.buildArgs') object.backend.buildArgs = own({}, 'x');
      if (place === 'ingress.annotations') object.environments.staging.ingress = { annotations: own({}, 'x') };
      if (place === 'environment env') object.environments.staging.env = own({ ...(object.environments.staging.env ?? {}) }, 'x');
      if (place === '--env') argv[2] = name;
      if (place === '--set') argv.push('--set', `backend.env.${name}=x`);
      if (place === '--set-string') argv.push('--set-string', `backend.podAnnotations.${name}=x`);
      if (place === 'GANTRY_SET') env.GANTRY_SET = `backend.env.${name}=x`;
      return { argv, env, config: YAML.stringify(object, { lineWidth: 0 }), name, place };
    });
    await fc.assert(
      fc.asyncProperty(protoCase, async (c) =>
        withRepo(c.config, async ({ repo }) => {
          const o = await runGantry(c.argv, c.env, repo);
          const output = o.stderr + o.stdout;
          if (o.code !== 2) throw new Error(describeCase(c, o, `"${c.name}" in ${c.place}: exit ${o.code ?? 'threw'}, not 2`));
          if (!output.includes(c.name)) throw new Error(describeCase(c, o, `"${c.name}" in ${c.place}: exit 2 without naming it`));
        }),
      ),
      settings(RUNS.prototypeNames),
    );
  }, 300_000);
});
