import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfigText } from '../../../src/config/load.js';
import { GantryError } from '../../../src/errors.js';
import { fullConfig } from '../../support/fixtures.js';

const minimal = `app: hello
environments:
  staging: {}
`;

function problemsOf(text: string, options: { env?: NodeJS.ProcessEnv; set?: string[]; setString?: string[] } = {}): GantryError {
  try {
    parseConfigText(text, 'gantry.yaml', { env: options.env ?? {}, set: options.set, setString: options.setString });
  } catch (error) {
    expect(error).toBeInstanceOf(GantryError);
    return error as GantryError;
  }
  throw new Error('expected the config to be rejected');
}

describe('gantry.yaml loading', () => {
  test('a minimal file gets sensible defaults', () => {
    const config = parseConfigText(minimal, 'gantry.yaml', { env: {} });
    expect(config.backend.port).toBe(3000);
    expect(config.backend.healthPath).toBe('/healthz');
    expect(config.backend.resources.requests).toEqual({ cpu: '250m', memory: '512Mi' });
    expect(config.environments.staging!.cluster).toBe('ack');
    expect(config.environments.staging!.service).toEqual({ type: 'ClusterIP', port: 80 });
  });

  test('three mistakes are reported together, each with path, line, what was found and a fix; exit code 2', () => {
    const error = problemsOf(`app: hello
backend:
  port: "eighty"
  replicas: -1
environments:
  staging:
    clsuter: ack
`);
    expect(error.code).toBe('E_CONFIG_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('gantry.yaml has 3 problems; nothing was done');
    const text = error.details.join('\n');
    expect(text).toContain('✗ backend.port (gantry.yaml:3): found "eighty" (text), expected a whole number from 1 to 65535');
    expect(text).toContain('✗ backend.replicas (gantry.yaml:4): found -1 (a number), expected at least 0');
    expect(text).toContain('fix: set backend.port to a whole number from 1 to 65535, e.g. 3000 — Port the app listens on (also passed as PORT)');
    expect(text).toContain('✗ environments.staging.clsuter (gantry.yaml:7): unknown key');
    expect(text).toContain('fix: did you mean "cluster"? Rename it, or remove it');
    expect(error.details.filter((d) => d.trimStart().startsWith('fix:'))).toHaveLength(3);
  });

  test('an unknown key far from any known one lists what is allowed', () => {
    const error = problemsOf(`${minimal}zzzzzzzz: 1\n`);
    expect(error.details.join('\n')).toMatch(
      /zzzzzzzz .*unknown key[\s\S]*keys allowed here: app, registry, backend, frontend, services, serviceMirror, environments/,
    );
  });

  test('an enum typo suggests the closest value', () => {
    const error = problemsOf(`app: hello
environments:
  staging: { cluster: aks }
`);
    expect(error.details.join('\n')).toContain('environments.staging.cluster (gantry.yaml:3): found "aks" (text), expected one of "ack", "ask"');
    expect(error.details.join('\n')).toContain('did you mean "ack"?');
  });

  test('a missing required field says to add it', () => {
    const error = problemsOf('environments:\n  staging: {}\n');
    expect(error.details.join('\n')).toContain('✗ app (gantry.yaml:1): missing; expected text');
    expect(error.details.join('\n')).toContain('fix: add app (text), e.g. "hello" — App name: names the Deployment, Service and image');
  });

  test('a bad env var name and a bad DNS name are both reported', () => {
    const error = problemsOf(`app: Hello_App
backend:
  env:
    "1BAD": x
environments:
  staging: {}
`);
    const text = error.details.join('\n');
    expect(text).toContain('app (gantry.yaml:1): found "Hello_App" (text): app must be a DNS label');
    expect(text).toContain('backend.env.1BAD');
    expect(text).toContain('must not start with a digit');
  });

  test('file < CI variables < flags', () => {
    const file = `${minimal}backend:\n  replicas: 1\n`;
    expect(parseConfigText(file, 'gantry.yaml', { env: {} }).backend.replicas).toBe(1);
    expect(parseConfigText(file, 'gantry.yaml', { env: { GANTRY_REPLICAS: '3' } }).backend.replicas).toBe(3);
    expect(parseConfigText(file, 'gantry.yaml', { env: { GANTRY_REPLICAS: '3' }, set: ['backend.replicas=5'] }).backend.replicas).toBe(5);
    const viaSet = parseConfigText(file, 'gantry.yaml', { env: { GANTRY_SET: 'backend.port=8080\nenvironments.staging.namespace=web' } });
    expect(viaSet.backend.port).toBe(8080);
    expect(viaSet.environments.staging!.namespace).toBe('web');
    expect(parseConfigText(file, 'gantry.yaml', { env: {}, setString: ['backend.env.BUILD=007'] }).backend.env.BUILD).toBe('007');
  });

  test('a bad override names the flag or CI variable it came from', () => {
    const error = problemsOf(minimal, { env: { GANTRY_REPLICAS: 'many' }, set: ['backend.prot=80', 'nonsense'] });
    const text = error.details.join('\n');
    expect(text).toContain('✗ backend.replicas (CI variable GANTRY_REPLICAS): found "many" (text)');
    expect(text).toContain('✗ backend.prot (--set backend.prot=80): unknown key');
    expect(text).toContain('did you mean "port"?');
    expect(text).toContain('(--set nonsense): "nonsense" is not path=value');
  });

  test('env values keep exactly what was written, never a re-printed number', () => {
    const config = fullConfig();
    expect(config.backend.env.VERSION).toBe('1.10');
    expect(config.backend.env.FEATURE_X).toBe('yes');
    expect(config.backend.env.ENABLED).toBe('true');
  });

  test('rules across fields are checked after the schema passes', () => {
    const error = problemsOf(`app: hello
backend:
  autoscale: { min: 5, max: 2 }
  resources:
    requests: { cpu: "2" }
    limits: { cpu: 500m }
environments:
  staging:
    service:
      type: ClusterIP
      slb: { addressType: internet }
  review:
    domain: review.example.com
    service: { type: LoadBalancer }
`);
    const text = error.details.join('\n');
    expect(error.message).toBe('gantry.yaml has 5 problems; nothing was done');
    expect(text).toContain('backend.autoscale.min (gantry.yaml:3): min (5) is greater than max (2)');
    expect(text).toContain('backend.resources.requests.cpu (gantry.yaml:5): request 2 is more than the limit 500m');
    expect(text).toContain('environments.staging.service.slb (gantry.yaml:11): SLB options are set but service.type is ClusterIP');
    expect(text).toContain('environments.review.service.type (gantry.yaml:14): every merge request would buy its own SLB');
    expect(text).toContain('environments.review.domain (gantry.yaml:13): "review.example.com" would be the same host for every merge request');
  });

  test('a TCP probe is probes.<kind>.tcp: true; mixing it with a path, or a non-boolean, names the field and the fix', () => {
    const config = parseConfigText(`${minimal}backend:\n  probes:\n    readiness: { tcp: true }\n    liveness: { tcp: true }\n`, 'gantry.yaml', { env: {} });
    expect(config.backend.probes).toEqual({ readiness: { tcp: true }, liveness: { tcp: true } });
    const mixed = problemsOf(`${minimal}backend:\n  probes:\n    readiness: { tcp: true, path: /healthz }\n`).details.join('\n');
    expect(mixed).toContain('✗ backend.probes.readiness (gantry.yaml:6): a probe can check one thing: path, command or tcp');
    expect(mixed).toContain('fix: keep only one of path, command, tcp');
    const notBoolean = problemsOf(`${minimal}backend:\n  probes:\n    liveness: { tcp: "yes" }\n`).details.join('\n');
    expect(notBoolean).toContain('✗ backend.probes.liveness.tcp (gantry.yaml:6): found "yes" (text), expected true or false');
  });

  test('an HPA target needs the matching request, where an environment overrides either', () => {
    const error = problemsOf(`app: hello
backend:
  autoscale: { min: 1, max: 3, memory: 80 }
  resources: { requests: { cpu: 100m, memory: 128Mi } }
environments:
  staging: {}
  production:
    resources: { requests: { cpu: "1" } }
  canary:
    autoscale: { min: 1, max: 2 }
    resources: { requests: { memory: 1Gi } }
`);
    const text = error.details.join('\n');
    expect(error.message).toBe('gantry.yaml has 2 problems; nothing was done');
    expect(text).toContain('environments.production.resources (gantry.yaml:8): autoscaling on memory needs resources.requests.memory');
    expect(text).toContain('environments.canary.autoscale (gantry.yaml:10): autoscaling on cpu needs resources.requests.cpu');
    const backendOnly = problemsOf(
      'app: hello\nbackend:\n  autoscale: { min: 1, max: 3, memory: 80 }\n  resources: { requests: { cpu: 100m } }\nenvironments: { staging: {} }\n',
    );
    expect(backendOnly.details[0]).toContain('backend.autoscale (gantry.yaml:3): autoscaling on memory needs resources.requests.memory');
  });

  test('YAML syntax errors carry the line and column', () => {
    const error = problemsOf('app: hello\nenvironments:\n  staging: {\n');
    expect(error.code).toBe('E_CONFIG_SYNTAX');
    expect(error.exitCode).toBe(2);
    expect(error.details[0]).toMatch(/^gantry\.yaml:\d+:\d+: /);
  });

  test('a missing gantry.yaml says how to create one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gantry-'));
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toMatchObject({ code: 'E_CONFIG_MISSING', exitCode: 2 });
    await writeFile(path.join(dir, 'gantry.yml'), minimal);
    const loaded = await loadConfig({ cwd: dir, env: {} });
    expect(loaded.file).toBe(path.join(dir, 'gantry.yml'));
    await writeFile(path.join(dir, 'other.yaml'), 'app: other\nenvironments: { qa: {} }\n');
    expect((await loadConfig({ cwd: dir, env: { GANTRY_CONFIG: 'other.yaml' } })).config.app).toBe('other');
  });
});
