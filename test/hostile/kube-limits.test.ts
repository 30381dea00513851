// Issue #13, found item 9 and "--image \"\"" of item 10: values Kubernetes would refuse are
// refused by validate and render first (exit 2, the field, the limit, the fix; nothing written),
// and names are never rewritten or placeholders dropped behind the user's back.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';
import { ciEnv, repoRoot } from '../support/fixtures.js';
import { cliPath } from '../support/tmp-repo.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A copy of examples/hello-node, gantry.yaml edited by `edit`. */
function project(edit: (yaml: string) => string = (y) => y): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-limits-'));
  dirs.push(dir);
  cpSync(path.join(repoRoot, 'examples', 'hello-node'), dir, { recursive: true });
  rmSync(path.join(dir, 'rendered'), { recursive: true, force: true });
  const file = path.join(dir, 'gantry.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return dir;
}

async function gantry(cwd: string, argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  const code = await main(argv, createCtx({ cwd, env: { ...ciEnv, ...env }, logger }));
  return { code, out };
}

/** validate and render both refuse it with exit 2, each naming `expected`; render writes nothing. */
async function refused(cwd: string, expected: (string | RegExp)[], options: { env?: Record<string, string>; flags?: string[] } = {}): Promise<string> {
  const flags = options.flags ?? [];
  const validate = await gantry(cwd, ['validate', ...flags], options.env);
  const render = await gantry(cwd, ['render', '--env', 'staging', ...flags], options.env);
  for (const run of [validate, render]) {
    expect({ code: run.code, out: run.out }).toEqual({ code: 2, out: expect.any(String) });
    for (const e of expected) expect(run.out).toMatch(e);
    expect(run.out).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
  }
  expect(existsSync(path.join(cwd, 'rendered'))).toBe(false);
  return render.out;
}

describe('limits Kubernetes enforces are enforced first', () => {
  test('replicas above 2^31-1 are refused with the int32 limit; 2^31-1 itself passes validate', async () => {
    const dir = project();
    await refused(dir, ['backend.replicas', '2147483647'], { flags: ['--set', 'backend.replicas=2147483648'] });
    expect((await gantry(dir, ['validate', '--set', 'backend.replicas=2147483647'])).code).toBe(0);
  });

  test('progressDeadlineSeconds, probe timings and autoscale bounds beyond int32 are refused', async () => {
    const dir = project();
    await refused(dir, ['backend.progressDeadlineSeconds', '2147483647'], { flags: ['--set', 'backend.progressDeadlineSeconds=99999999999'] });
    await refused(dir, ['backend.probes.readiness.periodSeconds', '2147483647'], { flags: ['--set', 'backend.probes.readiness.periodSeconds=2147483648'] });
    await refused(dir, ['environments.production.autoscale.max', '2147483647'], { flags: ['--set', 'environments.production.autoscale.max=4294967296'] });
  });

  test('an env ConfigMap over 1 MiB is refused with the limit', async () => {
    // gantry.yaml itself is limited to 1 MiB (E_CONFIG_FILE): the ConfigMap can only outgrow it
    // through overrides (--set-string, GANTRY_SET).
    const dir = project((y) => y.replace('    LOG_LEVEL: info', `    LOG_LEVEL: info\n    HALF: "${'x'.repeat(600 * 1024)}"`));
    await refused(dir, ['backend.env', '1048576', '1 MiB'], { flags: ['--set-string', `backend.env.BIG=${'y'.repeat(600 * 1024)}`] });
  });

  test('K8S_SECRET_* variables over 1 MiB are refused by render, naming the variable, never the value', async () => {
    const dir = project();
    const value = `s3cr3t${'y'.repeat(1024 * 1024)}`;
    const run = await gantry(dir, ['render', '--env', 'staging'], { K8S_SECRET_BIG: value, K8S_SECRET_SMALL: 'ok' });
    expect(run.code).toBe(2);
    expect(run.out).toContain('E_CI_SECRET_TOO_LARGE');
    expect(run.out).toContain('K8S_SECRET_BIG');
    expect(run.out).toContain('1048576');
    expect(run.out).not.toContain('s3cr3t');
    expect(existsSync(path.join(dir, 'rendered'))).toBe(false);
  });

  test('a newline in ingress.className is refused: it must be a DNS-1123 subdomain', async () => {
    const dir = project();
    await refused(dir, ['environments.staging.ingress.className', /DNS-1123 subdomain/], {
      flags: ['--set-string', 'environments.staging.ingress.className=nginx\nx'],
    });
  });

  test('an annotation key that is not a qualified name is refused, with the rule', async () => {
    const dir = project((y) => y.replace('  healthPath: /healthz', '  healthPath: /healthz\n  podAnnotations:\n    "bad key\\nx": "1"'));
    await refused(dir, ['backend.podAnnotations', /qualified name/, /at most 63/]);
    const prefixed = project((y) => y.replace('  healthPath: /healthz', `  healthPath: /healthz\n  podAnnotations:\n    "Example.COM/${'n'.repeat(64)}": "1"`));
    await refused(prefixed, ['backend.podAnnotations', /the name part is 64 characters, at most 63/]);
  });

  test('image names with a newline are refused wherever they come from', async () => {
    const init = project((y) =>
      y.replace(
        '  healthPath: /healthz',
        '  healthPath: /healthz\n  initContainers:\n    - { name: migrate, image: "node:20\\nx", command: [npm, run, migrate] }',
      ),
    );
    await refused(init, ['backend.initContainers.0.image', /whitespace or a control character/]);
    const dir = project();
    const flag = await gantry(dir, ['render', '--env', 'staging', '--image', 'registry.example.com/acme/hello:1\n']);
    expect(flag.code).toBe(2);
    expect(flag.out).toContain('E_IMAGE_REF');
    const variable = await gantry(dir, ['render', '--env', 'staging'], { GANTRY_IMAGE: 'registry.example.com/acme/hello:1\nimage: evil' });
    expect(variable.code).toBe(2);
    expect(variable.out).toContain('E_IMAGE_REF');
    await refused(dir, ['registry.namespace', /not an image name/], { flags: ['--set-string', 'registry.namespace=acme..x'] });
    expect(existsSync(path.join(dir, 'rendered'))).toBe(false);
  });

  test('CI_COMMIT_SHORT_SHA used as the image tag is checked', async () => {
    const dir = project();
    const run = await gantry(dir, ['render', '--env', 'staging'], { CI_COMMIT_SHORT_SHA: '0123\nimage: evil' });
    expect(run.code).toBe(2);
    expect(run.out).toContain('E_IMAGE_REF');
    expect(run.out).toContain('CI_COMMIT_SHORT_SHA');
    expect(run.out).toContain('"0123\\nimage: evil"'); // shown escaped, not as a second line
    expect(run.out).toMatch(/a tag is 1 to 128 letters/);
    expect(existsSync(path.join(dir, 'rendered'))).toBe(false);
  });

  test('--image "" is refused, not a silent fall back to the commit tag; an empty GANTRY_IMAGE means not given', async () => {
    const dir = project();
    const flag = await gantry(dir, ['render', '--env', 'staging', '--image', '']);
    expect(flag.code).toBe(2);
    expect(flag.out).toContain('E_IMAGE_REF');
    expect(flag.out).toMatch(/--image: "" is not an image reference \(it is empty\)/);
    expect(existsSync(path.join(dir, 'rendered'))).toBe(false);
    const variable = await gantry(dir, ['render', '--env', 'staging'], { GANTRY_IMAGE: '' });
    expect(variable.code).toBe(0);
    expect(readFileSync(path.join(dir, 'rendered', 'deploy.yaml'), 'utf8')).toContain('acme/hello:01234567');
  });

  test('a namespace that is not valid is an error naming it and the rule, not rewritten', async () => {
    const dir = project((y) => y.replace('namespace: hello-staging', 'namespace: Hello_Staging'));
    const out = await refused(dir, ['environments.staging.namespace', 'Hello_Staging', /DNS-1123 label/, 'hello-staging']);
    expect(out).not.toMatch(/wrote|would write/);
  });

  test('{iid} outside a preview is an error, not dropped', async () => {
    const dir = project((y) => y.replace('namespace: hello-staging', 'namespace: ns-{iid}'));
    await refused(dir, ['environments.staging.namespace', '{iid}', /only known in the review environment/]);
    const domain = project((y) => y.replace('domain: staging.hello.example.com', 'domain: mr-{iid}.hello.example.com'));
    await refused(domain, ['environments.staging.domain', '{iid}']);
  });

  // Run through the built CLI: these commands load their modules lazily, in parallel, which
  // jest's VM modules cannot link in-process (needs `npm run build`).
  test('every command that resolves an environment refuses it before talking to a cluster', () => {
    const dir = project((y) => y.replace('namespace: hello-staging', 'namespace: ns-{iid}'));
    for (const argv of [
      ['history', '--env', 'staging'],
      ['doctor', '--env', 'staging'],
      ['scale', '--env', 'staging', '--replicas', '1'],
      ['rollback', '--env', 'staging'],
      ['deploy', '--env', 'staging', '--dry-run'],
    ]) {
      const run = spawnSync(process.execPath, [cliPath, ...argv], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        env: { PATH: process.env.PATH, ...ciEnv, KUBECONFIG_STAGING: 'apiVersion: v1\nkind: Config\nclusters: []\n' },
      });
      expect({ argv, code: run.status, out: run.stderr }).toEqual({ argv, code: 2, out: expect.stringContaining('environments.staging.namespace') });
    }
  });

  test('build refuses a commit or branch that is not a valid image tag before building; stop refuses an invalid --namespace instead of rewriting it', () => {
    const dir = project();
    const run = (argv: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, [cliPath, ...argv], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        // No Docker and a closed registry port: only a check made before either can answer exit 2.
        env: { PATH: process.env.PATH, ...ciEnv, DOCKER_HOST: 'unix:///nonexistent/docker.sock', ...env },
      });
    const sha = run(['build', '--no-push'], { CI_COMMIT_SHORT_SHA: 'abc def' });
    expect({ code: sha.status, out: sha.stderr }).toEqual({ code: 2, out: expect.stringMatching(/E_IMAGE_REF[\s\S]*CI_COMMIT_SHORT_SHA[\s\S]*"abc def"/) });
    const slug = run(['build', '--no-push'], { CI_COMMIT_REF_SLUG: '-starts-with-dash' });
    expect({ code: slug.status, out: slug.stderr }).toEqual({ code: 2, out: expect.stringMatching(/E_IMAGE_REF[\s\S]*CI_COMMIT_REF_SLUG/) });
    const stop = run(['stop', '--mr', '5', '--namespace', 'Hello_MR_{iid}'], { KUBECONFIG_REVIEW: 'apiVersion: v1\nkind: Config\nclusters: []\n' });
    expect({ code: stop.status, out: stop.stderr }).toEqual({
      code: 2,
      out: expect.stringMatching(/--namespace Hello_MR_\{iid\} \(filled: Hello_MR_5\)[\s\S]*hello-mr-5/),
    });
    expect(existsSync(path.join(dir, 'gantry-build.env'))).toBe(false);
  });

  test('the example project itself still validates and renders', async () => {
    const dir = project();
    expect((await gantry(dir, ['validate'])).code).toBe(0);
    const review = await gantry(dir, ['render', '--env', 'review'], { CI_MERGE_REQUEST_IID: '7' });
    expect(review.code).toBe(0);
  });
});
