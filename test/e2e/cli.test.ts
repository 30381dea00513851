// The built CLI, run as a user runs it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { cliPath, exampleRepo, git } from '../support/tmp-repo.js';
import { repoRoot } from '../support/fixtures.js';

function gantry(args: string[], cwd: string, env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB') && !k.startsWith('GANTRY')));
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd, env: { ...clean, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const digest = `sha256:${'c3'.repeat(32)}`;

describe('gantry CLI', () => {
  test('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    const r = gantry(['--version'], repoRoot);
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  test('render in the example repository writes deploy.yaml and svc.yaml as Kubernetes objects', () => {
    const repo = exampleRepo();
    const sha = git(repo, 'rev-parse', 'HEAD');
    const r = gantry(['render', '--env', 'staging', '--out', 'out'], repo);
    expect(r.stderr).toContain('wrote');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      environment: 'staging',
      namespace: 'hello-staging',
      image: `registry-vpc.cn-hangzhou.aliyuncs.com/acme/hello:${sha.slice(0, 8)}`,
    });
    const kinds: string[] = [];
    for (const file of ['deploy.yaml', 'svc.yaml']) {
      const docs = YAML.parseAllDocuments(readFileSync(path.join(repo, 'out', file), 'utf8'));
      for (const d of docs) {
        expect(d.errors).toEqual([]);
        const o = d.toJS();
        expect(typeof o.apiVersion).toBe('string');
        expect(o.metadata.annotations['gantry.dev/commit']).toBe(sha);
        kinds.push(o.kind);
      }
    }
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'Service', 'Ingress']);
  });

  test('--image with a digest, GANTRY_IMAGE from the build job, and --mr for a review', () => {
    const repo = exampleRepo();
    const pushed = `registry.cn-hangzhou.aliyuncs.com/acme/hello@${digest}`;
    const viaFlag = gantry(['render', '--env', 'production', '--out', 'p', '--image', pushed], repo);
    expect(viaFlag.code).toBe(0);
    expect(JSON.parse(viaFlag.stdout).image).toBe(`registry-vpc.cn-hangzhou.aliyuncs.com/acme/hello@${digest}`);
    const viaEnv = gantry(['render', '--env', 'staging', '--out', 's'], repo, { GANTRY_IMAGE: pushed });
    expect(JSON.parse(viaEnv.stdout).image).toContain(digest);
    const review = gantry(['render', '--mr', '31', '--out', 'r', '--image', pushed], repo);
    expect(review.code).toBe(0);
    expect(JSON.parse(review.stdout)).toMatchObject({ environment: 'review', namespace: 'hello-mr-31' });
    expect(readFileSync(path.join(repo, 'r', 'svc.yaml'), 'utf8')).toContain('host: mr-31.review.hello.example.com');
  });

  test('a gantry.yaml with three mistakes prints all three paths, exits 2 and writes nothing', () => {
    const repo = exampleRepo();
    const text = readFileSync(path.join(repo, 'gantry.yaml'), 'utf8')
      .replace('port: 3000', 'port: http')
      .replace('replicas: 2', 'replicas: two')
      .replace('    cluster: ack\n    kubeconfig: KUBECONFIG_STAGING', '    cluster: ack\n    kubeconfg: KUBECONFIG_STAGING');
    writeFileSync(path.join(repo, 'gantry.yaml'), text);
    const r = gantry(['render', '--env', 'staging', '--out', 'out'], repo);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error E_CONFIG_INVALID: gantry.yaml has 3 problems; nothing was done');
    expect(r.stderr).toMatch(/✗ backend\.port \(gantry\.yaml:\d+\): found "http" \(text\), expected a whole number from 1 to 65535/);
    expect(r.stderr).toMatch(/✗ backend\.replicas \(gantry\.yaml:\d+\): found "two" \(text\)/);
    expect(r.stderr).toMatch(/✗ environments\.staging\.kubeconfg \(gantry\.yaml:\d+\): unknown key\n\s+fix: did you mean "kubeconfig"\?/);
    expect(existsSync(path.join(repo, 'out'))).toBe(false);
  });

  test('frontend --if-configured is a no-op for a project without a frontend; without the flag that is a config error', () => {
    const repo = exampleRepo();
    const text = readFileSync(path.join(repo, 'gantry.yaml'), 'utf8').replace(/^frontend:\n( {2}.*\n)+/m, '');
    expect(text).not.toContain('bucket:');
    writeFileSync(path.join(repo, 'gantry.yaml'), text);
    const env = { CI_MERGE_REQUEST_IID: '3', GANTRY_OSS_ACCESS_KEY_ID: 'id', GANTRY_OSS_ACCESS_KEY_SECRET: 'secret-value' };
    const skipped = gantry(['frontend', '--env', 'review', '--if-configured'], repo, env);
    expect([skipped.code, skipped.stderr]).toEqual([0, expect.stringContaining('no frontend in gantry.yaml: nothing to publish')]);
    const refused = gantry(['frontend', '--env', 'review'], repo, env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('gantry frontend needs frontend in gantry.yaml');
  });

  test('usage mistakes exit 2 and say what to type', () => {
    const repo = exampleRepo();
    expect(gantry(['deploi'], repo)).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "deploi"') });
    expect(gantry(['render', '--envv', 'staging'], repo)).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--envv'") });
    expect(gantry(['render'], repo)).toMatchObject({ code: 2, stderr: expect.stringContaining('--env is required') });
    expect(gantry(['render', '--env', 'qa'], repo)).toMatchObject({ code: 2, stderr: expect.stringContaining('no such environment') });
    expect(gantry(['render', '--env', 'staging', '--mr', 'x'], repo)).toMatchObject({ code: 2 });
  });

  test('--dry-run renders and reports but writes nothing', () => {
    const repo = exampleRepo();
    const r = gantry(['render', '--env', 'staging', '--out', 'dry', '--dry-run'], repo);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('would write');
    expect(existsSync(path.join(repo, 'dry'))).toBe(false);
  });

  test('validate accepts the example and flags overrides from CI variables', () => {
    const repo = exampleRepo();
    expect(gantry(['validate'], repo)).toMatchObject({ code: 0, stderr: expect.stringContaining('gantry.yaml is valid') });
    const bad = gantry(['validate'], repo, { GANTRY_REPLICAS: '-3' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('backend.replicas (CI variable GANTRY_REPLICAS)');
  });

  test('the committed JSON Schema is what `gantry schema` prints, and editors can validate with it', () => {
    const r = gantry(['schema'], repoRoot);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(path.join(repoRoot, 'schema', 'gantry.schema.json'), 'utf8'));
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(r.stdout));
    const example = YAML.parse(readFileSync(path.join(repoRoot, 'examples', 'hello-node', 'gantry.yaml'), 'utf8'));
    expect(validate(example)).toBe(true);
    expect(validate({ ...example, backend: { ...example.backend, port: 'http', prot: 1 } })).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath)).toEqual(expect.arrayContaining(['/backend/port']));
  });
});
