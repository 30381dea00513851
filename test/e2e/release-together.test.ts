// #15: the frontend released together with its backend, on the real cluster, with the real
// ali-oss client against the OSS test server and Gantry's CDN client against the CDN test server.
// `gantry deploy --frontend` stages the new frontend (assets up, HTML aside), and its HTML goes live
// only after the backend rollout (or the canary's promotion) succeeded; a failed backend leaves
// the live HTML byte for byte as it was; `gantry rollback` brings back the frontend release that
// went out with the revision it restores.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, registryAuth, requireCluster } from '../support/cluster.js';
import { type CdnServer, startCdnServer } from '../support/cdn-server.js';
import { type OssServer, startOssServer } from '../support/oss-server.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const ns = `gt-together-${process.pid}`;
const app = 'hello';
const keyId = 'LTAI5tTogetherKeyId';
const secret = 'together-test-secret-0123456789abcdef';
const bucket = 'acme-hello-web';
const domain = 'www.hello.example.com';
let oss: OssServer;
let cdn: CdnServer;
let repo = '';
let kubeconfig = '';
let image = '';
const doneAt = new Map<number, number>();
const outputs: string[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When each stderr line arrived (ms). */
  lines: { at: number; text: string }[];
}

function config(rollout?: Record<string, unknown>): string {
  const doc = YAML.parse(readFileSync(path.join(repo, 'gantry.yaml'), 'utf8')) as Record<string, any>;
  return YAML.stringify({
    app,
    registry: { pushHost: authRegistry, namespace: ns },
    backend: {
      ...doc.backend,
      replicas: 2,
      progressDeadlineSeconds: 60,
      buildArgs: { NODE_IMAGE: nodeBaseImage },
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    },
    frontend: { ...doc.frontend, endpoint: oss.endpoint, cdn: { domain, endpoint: cdn.endpoint } },
    environments: { production: { namespace: ns, kubeconfig: 'KUBECONFIG_TEST', ...(rollout ? { rollout } : {}) } },
  });
}

function gantry(args: string[]): Promise<Run> {
  const auth = registryAuth();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|K8S_SECRET)/.test(k)));
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repo,
    env: {
      ...base,
      KUBECONFIG_TEST: Buffer.from(readFileSync(kubeconfig)).toString('base64'),
      GANTRY_REGISTRY_USER: auth.user,
      GANTRY_REGISTRY_PASSWORD: auth.password,
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: Run['lines'] = [];
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => {
    stderr += c;
    const parts = (partial + c).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at: Date.now(), text });
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      outputs.push(`$ gantry ${args.join(' ')}\nexit ${code}\n${stderr}\n${stdout}`);
      resolve({ code, stdout, stderr, lines });
    }),
  );
}

/** Deploys APP_VERSION=<v> with frontend version <v> (built into frontend/v<v>), released together. */
const deploy = (v: number, extra: string[] = []) =>
  gantry([
    'deploy',
    '--env',
    'production',
    '--image',
    image,
    '--frontend',
    '--skip-frontend-build',
    '--set-string',
    `backend.env.APP_VERSION=${v}`,
    '--set-string',
    `frontend.dir=frontend/v${v}`,
    ...extra,
  ]);

const ok = (r: Run) => {
  expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, any>;
};
const liveHtml = () => oss.objects(bucket).get('index.html')?.body;
const built = (v: number, file = 'index.html') => readFileSync(path.join(repo, `frontend/v${v}`, file));
const liveRelease = () => (JSON.parse(oss.objects(bucket).get('.gantry/live.json')!.body.toString()) as { release: string }).release;
const annotation = () => kubectl(['-n', ns, 'get', 'deployment', app, '-o', 'jsonpath={.metadata.annotations.gantry\\.dev/frontend-release}']).trim();
const backendVersion = () => {
  const cm = kubectl(['-n', ns, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].envFrom[0].configMapRef.name}']).trim();
  return kubectl(['-n', ns, 'get', 'configmap', cm, '-o', 'jsonpath={.data.APP_VERSION}']).trim();
};
const lineAt = (r: Run, pattern: RegExp) => r.lines.find((l) => pattern.test(l.text))?.at ?? Number.NaN;

beforeAll(async () => {
  requireCluster();
  oss = await startOssServer({
    accessKeyId: keyId,
    accessKeySecret: secret,
    buckets: [bucket],
    onRequestDone: (entry) => doneAt.set(oss.requests.indexOf(entry), Date.now()),
  });
  cdn = await startCdnServer({ accessKeyId: keyId, accessKeySecret: secret });
  kubectl(['create', 'namespace', ns]);
  kubeconfig = namespacedKubeconfig(ns);
  repo = exampleRepo();
  // Four versions of the example's frontend, built once: each changes both assets (new hashed names).
  for (const v of [1, 2, 3, 4]) {
    for (const f of ['app.js', 'style.css'])
      writeFileSync(path.join(repo, 'frontend/src', f), `${readFileSync(path.join(repo, 'frontend/src', f), 'utf8')}\n/* v${v} */\n`);
    execFileSync(process.execPath, ['frontend/build.mjs'], { cwd: repo });
    cpSync(path.join(repo, 'frontend/dist'), path.join(repo, `frontend/v${v}`), { recursive: true });
  }
  writeFileSync(path.join(repo, 'gantry.yaml'), config());
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qam', 'test config'], { cwd: repo });
  const build = await gantry(['build', '--dotenv', 'build.env']);
  if (build.code !== 0) throw new Error(`gantry build failed (exit ${build.code}):\n${build.stderr}`);
  image = /GANTRY_IMAGE=(\S+)/.exec(readFileSync(path.join(repo, 'build.env'), 'utf8'))![1]!;
}, 240_000);

afterAll(async () => {
  await oss?.close();
  await cdn?.close();
  kubectlResult(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  if (process.env.GANTRY_TEST_LOG_DIR) writeFileSync(path.join(process.env.GANTRY_TEST_LOG_DIR, `together-${process.pid}.log`), outputs.join('\n\n'));
}, 60_000);

describe('the frontend released together with its backend', () => {
  let r1 = '';
  let r2 = '';

  test('the new frontend goes live only after the backend rollout succeeded, and the CDN refresh follows the flip', async () => {
    const first = ok(await deploy(1));
    r1 = first.frontend.release;
    expect(liveHtml()).toEqual(built(1));
    expect(annotation()).toBe(r1);

    const cdnBefore = cdn.calls.length;
    const mark = oss.requests.length;
    const run = await deploy(2);
    const report = ok(run);
    r2 = report.frontend.release;
    expect(report.frontend).toEqual({ release: r2, previous: r1 });
    expect(liveHtml()).toEqual(built(2));
    expect(liveRelease()).toBe(r2);
    expect(annotation()).toBe(r2);
    expect(backendVersion()).toBe('2');
    // Order: staged before the rollout; the live index.html PUT after "serving"; the CDN refresh after that PUT's answer.
    const serving = lineAt(run, /hello revision \d+ is serving/);
    const staged = lineAt(run, /frontend release \S+ is staged/);
    const indexPut = oss.requests.findIndex((q, i) => i >= mark && q.method === 'PUT' && q.key === 'index.html');
    expect(indexPut).toBeGreaterThanOrEqual(0);
    expect(staged).toBeLessThan(serving);
    expect(oss.requests[indexPut]!.time).toBeGreaterThanOrEqual(serving - 50);
    expect(cdn.calls.length).toBe(cdnBefore + 1);
    expect(cdn.calls.at(-1)!.time).toBeGreaterThanOrEqual(doneAt.get(indexPut)!);
  }, 120_000);

  test('a coupled release whose backend fails leaves the previous frontend live, byte for byte', async () => {
    const cdnBefore = cdn.calls.length;
    const run = await deploy(3, ['--set-string', 'backend.env.CRASH_AFTER_MS=1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/frontend release \S+ stays staged, not live/);
    expect(run.stderr).toMatch(/error E_ROLLOUT_CRASHLOOP/);
    // v3's assets are there (staged), its HTML is not live; the backend was rolled back to v2.
    for (const a of built(3)
      .toString()
      .match(/assets\/[\w.]+/g)!)
      expect(oss.objects(bucket).get(a)?.body).toEqual(built(3, a));
    expect(liveHtml()).toEqual(built(2));
    expect(liveRelease()).toBe(r2);
    expect(cdn.calls.length).toBe(cdnBefore);
    expect(backendVersion()).toBe('2');
    expect(annotation()).toBe(r2);
    // The failed revision is marked, and history says so.
    const history = await gantry(['history', '--env', 'production']);
    expect(history.stderr).toMatch(/ {2}3 .* failed: E_ROLLOUT_CRASHLOOP {2}frontend \S+/);
  }, 120_000);

  test('gantry rollback brings back the backend revision and the frontend release that went out with it', async () => {
    const run = await gantry(['rollback', '--env', 'production']);
    const report = ok(run);
    // Not revision 3, the failed deploy's (marked): the one before the version that ran before it.
    expect(report).toMatchObject({ from: 4, to: 1 });
    expect(backendVersion()).toBe('1');
    expect(report.frontend).toEqual({ release: r1, previous: r2 });
    expect(liveHtml()).toEqual(built(1));
    expect(liveRelease()).toBe(r1);
    expect(annotation()).toBe(r1);
  }, 120_000);

  test('with a canary held for a manual step, the frontend goes live with gantry promote, not before', async () => {
    writeFileSync(path.join(repo, 'gantry.yaml'), config({ strategy: 'canary', steps: [{ weight: 50, pause: 'manual' }] }));
    const held = ok(await deploy(4));
    expect(held.frontend.staged).toMatch(/^\d{8}T\d{9}Z-/);
    expect(liveHtml()).toEqual(built(1));
    const promoted = ok(
      await gantry([
        'promote',
        '--env',
        'production',
        '--image',
        image,
        '--set-string',
        'backend.env.APP_VERSION=4',
        '--set-string',
        'frontend.dir=frontend/v4',
      ]),
    );
    expect(promoted.frontend).toEqual({ release: held.frontend.staged, previous: r1 });
    expect(liveHtml()).toEqual(built(4));
    expect(backendVersion()).toBe('4');
    expect(annotation()).toBe(held.frontend.staged);
  }, 120_000);
});
