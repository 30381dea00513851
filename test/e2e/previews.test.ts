// Previews on the real local cluster, as a team lives with them: the scheduled cleanup job
// (the cleanup component, included from the loopback git server, under gitlab-ci-local) removes the preview of a merged merge request
// and keeps an open one's; a removal that fails does not stop the others; and a commit whose app
// crashes at start fails the MR pipeline with the crash in the job log and the MR note, while
// the previous version keeps answering. The app name carries this run's pid, so every preview
// namespace (<app>-mr-<iid>) is this run's own: the cleanup never sees anyone else's.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { authRegistry, kubectl, kubectlResult, nodeBaseImage, registryAuth, requireCluster, reviewDeployerKubeconfig } from '../support/cluster.js';
import { parseDotenv, repoRoot } from '../support/fixtures.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { startComponentHost, type GitServer } from '../support/git-server.js';
import { cliPath, exampleRepo, gantryBinDir, git } from '../support/tmp-repo.js';

const gcl = path.join(repoRoot, 'test', 'support', 'gitlab-ci-local');
const run = `${process.pid}`;
const app = `gtpv-${run}`;
const ns = (iid: number) => `${app}-mr-${iid}`;
// A: merged, its preview goes; B: open, its preview stays; C and D: closed, C's namespace cannot
// go (a finalizer holds it); E: the merge request whose second commit crashes.
const [A, B, C, D, E] = [11, 12, 13, 14, 15];
const keyId = 'LTAI5tGantryPreviewsKey';
const secret = 'gantry-previews-secret-0123456789';
const bucket = 'acme-hello-web';
const project = 4343;
const token = 'glpat-GantryPreviewsTest0123';
let oss: OssServer;
let gitlab: GitlabServer;
let host: GitServer;
let bin = '';
let repo = '';
let image = '';

const settings = () =>
  [
    `backend.buildArgs.NODE_IMAGE=${nodeBaseImage}`,
    'backend.resources={requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}',
    'environments.review.resources={requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}',
    `frontend.endpoint=${oss.endpoint}`,
  ].join('\n');

/** What a project's CI/CD settings would hold for the example: registry, cluster, OSS, GitLab. */
function variables(): Record<string, string> {
  const auth = registryAuth();
  return {
    GANTRY_REGISTRY_PUSH_HOST: authRegistry,
    GANTRY_REGISTRY_PULL_HOST: authRegistry,
    GANTRY_REGISTRY_NAMESPACE: `previews-${run}`,
    GANTRY_REGISTRY_USER: auth.user,
    GANTRY_REGISTRY_PASSWORD: auth.password,
    GANTRY_SET: settings(),
    // Previews need a deployer that may create and delete namespaces: examples/rbac's, not admin.
    KUBECONFIG_STAGING: reviewDeployer.file,
    GANTRY_OSS_ACCESS_KEY_ID: keyId,
    GANTRY_OSS_ACCESS_KEY_SECRET: secret,
    GANTRY_GITLAB_URL: gitlab.url,
    GANTRY_GITLAB_TOKEN: token,
    CI_PROJECT_ID: String(project),
  };
}

let reviewDeployer: ReturnType<typeof reviewDeployerKubeconfig>;

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|KUBECONFIG)/.test(k)));

function collect(child: ReturnType<typeof spawn>, limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGTERM'), limitMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    }),
  );
}

/** The built CLI, asynchronously (the OSS and GitLab test servers answer from this process). */
function gantry(args: string[], env: Record<string, string | undefined>, cwd = repo) {
  return collect(
    spawn(process.execPath, [cliPath, ...args], { cwd, env: { ...cleanEnv(), ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] }),
    240_000,
  );
}

/** gitlab-ci-local with the given CI variables; the listed predefined ones are taken from them. */
async function pipeline(cwd: string, extra: Record<string, string>, args: string[] = []) {
  const vars = Object.entries({ ...variables(), ...extra }).flatMap(([k, v]) => ['--variable', `${k}=${v}`]);
  const child = spawn(
    gcl,
    [
      '--no-color',
      '--shell-isolation',
      '--force-shell-executor',
      '--no-artifacts-to-source',
      '--ignore-predefined-vars',
      'CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_IID,CI_PROJECT_ID',
      ...vars,
      ...args,
    ],
    {
      cwd,
      env: { ...cleanEnv(), PATH: `${bin}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const r = await collect(child, 300_000);
  return { code: r.code, output: r.stdout + r.stderr, seconds: r.seconds };
}

const jobLog = (cwd: string, job: string) => readFileSync(path.join(cwd, '.gitlab-ci-local', 'output', `${job}.log`), 'utf8');
const namespaceExists = (name: string) => kubectlResult(['get', 'namespace', name]).code === 0;
const prefixKeys = (iid: number) => [...oss.objects(bucket).keys()].filter((k) => k.startsWith(`previews/mr-${iid}/`));
const gantryNotes = (iid: number) =>
  gitlab
    .mergeRequest(project, iid)
    .notes.filter((n) => n.body.includes('gantry:review-app'))
    .map((n) => n.body);
const summaryOf = (text: string) =>
  JSON.parse(/\{"app":.*\}/.exec(text)![0]) as {
    removed: { mr: string; state: string; namespace: string; namespaceResult: string }[];
    kept: { mr: string; namespace: string | null; prefix: string | null }[];
    errors: { mr: string; code: string; message: string }[];
  };
const reviewEnvironment = (iid: number) => `review/feature-${iid}--greeting`;
const environmentState = (iid: number) => gitlab.environments(project).find((e) => e.name === reviewEnvironment(iid))?.state;
const deployedImage = (name: string) => kubectl(['-n', name, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']).trim();

/** One GET on a new connection (agent: false), so an answer cannot come from a kept-alive socket to a pod now gone. */
function freshGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function serviceUrl(name: string): string {
  const svc = JSON.parse(kubectl(['-n', name, 'get', 'service', app, '-o', 'json'])) as { spec: { clusterIP: string; ports: { port: number }[] } };
  return `http://${svc.spec.clusterIP}:${svc.spec.ports[0]!.port}/`;
}

/** This run's preview namespaces, whatever state they are in. */
const ourNamespaces = () =>
  kubectl(['get', 'namespaces', '-o', 'jsonpath={.items[*].metadata.name}'])
    .split(/\s+/)
    .filter((n) => n.startsWith(`${app}-`));

function release(name: string): void {
  // Let a namespace held by the test's finalizer go.
  if (namespaceExists(name)) kubectlResult(['-n', name, 'patch', 'configmap', 'hold', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
}

beforeAll(async () => {
  requireCluster();
  reviewDeployer = reviewDeployerKubeconfig(`previews-${run}`);
  bin = gantryBinDir();
  oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket] });
  gitlab = await startGitlabServer({
    projects: [{ id: project, path: 'acme/hello-node' }],
    privateTokens: [{ token, user: { id: 7, username: 'gantry-bot', name: 'Gantry' } }],
  });
  // Source branches as people name them: the review environment is review/<GitLab's slug of it>.
  for (const iid of [A, B, C, D, E]) gitlab.addMergeRequest(project, { iid, title: `Change ${iid}`, sourceBranch: `Feature/${iid}__greeting` });
  for (const iid of [A, B]) gitlab.addEnvironment(project, { name: reviewEnvironment(iid), external_url: `http://mr-${iid}.review.hello.example.com` });
  const ci = readFileSync(path.join(repoRoot, 'examples', 'hello-node', '.gitlab-ci.yml'), 'utf8').replace('app: hello', `app: ${app}`);
  const files = {
    'gantry.yaml': readFileSync(path.join(repoRoot, 'examples', 'hello-node', 'gantry.yaml'), 'utf8').replace(/^app: hello$/m, `app: ${app}`),
    '.gitlab-ci.yml': `${ci}  - component: $CI_SERVER_FQDN/devops/gantry/cleanup@1\n`,
  };
  expect(files['gantry.yaml']).toContain(`app: ${app}`);
  host = await startComponentHost();
  repo = exampleRepo({ branch: 'main', host, files });
}, 60_000);

afterAll(async () => {
  const left = ourNamespaces();
  for (const name of left) release(name);
  for (const name of left) kubectlResult(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
  if (left.length > 0) kubectlResult(['wait', '--for=delete', ...left.map((n) => `namespace/${n}`), '--timeout=150s']);
  await oss?.close();
  await gitlab?.close();
  await host?.close();
  reviewDeployer?.remove();
  // No preview of this run outlives the suite, whatever happened in the tests.
  expect(ourNamespaces()).toEqual([]);
}, 200_000);

describe('the scheduled cleanup', () => {
  test('two previews are deployed, each with its namespace, frontend prefix and MR note', async () => {
    const built = await gantry(['build', '--dotenv', 'build.env'], variables());
    expect([built.code, built.code === 0 ? '' : built.stderr]).toEqual([0, '']);
    image = parseDotenv(readFileSync(path.join(repo, 'build.env'), 'utf8')).GANTRY_IMAGE!;
    expect(image).toMatch(/@sha256:[a-f0-9]{64}$/);
    // The two deploys run at once, as two MR pipelines do. The frontends run one after the other:
    // both build in this one checkout's frontend/dist, where one build would remove the other's
    // files while it is being published (each MR pipeline has a checkout of its own).
    const deploys = await Promise.all([A, B].map((iid) => gantry(['deploy', '--env', 'review', '--mr', String(iid), '--image', image], variables())));
    const previews: { iid: number; deploy: (typeof deploys)[number]; frontend: (typeof deploys)[number] }[] = [];
    for (const [i, iid] of [A, B].entries()) {
      previews.push({ iid, deploy: deploys[i]!, frontend: await gantry(['frontend', '--env', 'review', '--mr', String(iid)], variables()) });
    }
    for (const p of previews) {
      const failed = p.deploy.code !== 0 || p.frontend.code !== 0;
      expect({ iid: p.iid, deploy: p.deploy.code, frontend: p.frontend.code, log: failed ? p.deploy.stderr + p.frontend.stderr : '' }).toEqual({
        iid: p.iid,
        deploy: 0,
        frontend: 0,
        log: '',
      });
      expect(deployedImage(ns(p.iid))).toBe(image);
      expect(prefixKeys(p.iid)).toContain(`previews/mr-${p.iid}/index.html`);
      expect(gantryNotes(p.iid)).toHaveLength(1);
    }
  }, 400_000);

  test('without GANTRY_GITLAB_TOKEN the job refuses (exit 2) and touches nothing: the job token cannot read merge requests', async () => {
    gitlab.mergeRequest(project, A).state = 'merged';
    const r = await gantry(['cleanup-previews'], { ...variables(), GANTRY_GITLAB_TOKEN: undefined, CI_JOB_TOKEN: 'job-token-0123456789' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_GITLAB_TOKEN');
    expect(r.stderr).toContain('CI_JOB_TOKEN cannot read merge requests');
    expect(r.stdout).toBe('');
    expect(namespaceExists(ns(A))).toBe(true);
    expect(prefixKeys(A).length).toBeGreaterThan(0);
  }, 60_000);

  test("the scheduled pipeline removes the merged MR's namespace and prefix and marks its note stopped; the open MR's preview stays", async () => {
    gitlab.mergeRequest(project, A).state = 'merged';
    expect(gitlab.mergeRequest(project, B).state).toBe('opened');
    const r = await pipeline(repo, { CI_PIPELINE_SOURCE: 'schedule' });
    expect(r.output).toContain('PASS  gantry-cleanup-previews');
    // A scheduled pipeline runs the cleanup only: no build, no deploy.
    expect(r.output).not.toMatch(/(PASS|FAIL)\s+(gantry-build|deploy-staging|review)\b/);
    expect(r.code).toBe(0);
    const log = jobLog(repo, 'gantry-cleanup-previews');
    const summary = summaryOf(log);
    expect(summary.removed).toEqual([
      expect.objectContaining({
        mr: String(A),
        state: 'merged',
        namespace: ns(A),
        namespaceResult: 'deleted',
        gitlabEnvironment: { name: reviewEnvironment(A), result: 'stopped' },
      }),
    ]);
    expect(summary.kept).toEqual([{ mr: String(B), namespace: ns(B), prefix: `previews/mr-${B}/` }]);
    expect(summary.errors).toEqual([]);
    expect(namespaceExists(ns(A))).toBe(false);
    expect(prefixKeys(A)).toEqual([]);
    expect(gantryNotes(A)).toHaveLength(1);
    expect(gantryNotes(A)[0]).toMatch(/stopped/i);
    // GitLab's environment is stopped too, forced (the preview is gone: stop-review need not run).
    expect(environmentState(A)).toBe('stopped');
    const stops = gitlab.requests.filter((q) => q.method === 'POST' && /\/environments\/\d+\/stop$/.test(q.path));
    expect(stops.map((q) => [q.path, q.params?.force])).toEqual([[expect.stringMatching(new RegExp(`/projects/${project}/environments/\\d+/stop$`)), 'true']]);
    // B: untouched.
    expect(environmentState(B)).toBe('available');
    expect(namespaceExists(ns(B))).toBe(true);
    expect(deployedImage(ns(B))).toBe(image);
    expect(prefixKeys(B)).toContain(`previews/mr-${B}/index.html`);
    expect(gantryNotes(B)).toHaveLength(1);
    expect(gantryNotes(B)[0]).not.toMatch(/stopped/i);
    expect(await freshGet(serviceUrl(ns(B)))).toMatch(/^200 \{"hello":"world"/);
  }, 400_000);

  test('a removal that fails does not stop the others, and makes the exit code 1', async () => {
    // C and D are closed previews; C's namespace is held by a finalizer, so it cannot be gone in time.
    // 20 s: an empty namespace (D) goes in a few seconds, but took over 5 s on a loaded cluster.
    for (const iid of [C, D]) {
      kubectl(['create', 'namespace', ns(iid)]);
      kubectl(['label', 'namespace', ns(iid), 'app.kubernetes.io/managed-by=gantry']);
      gitlab.mergeRequest(project, iid).state = 'closed';
    }
    kubectl(['-n', ns(C), 'apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hold', finalizers: ['gantry.test/hold'] }, data: { a: 'b' } }),
    });
    // A namespace with a preview's name but without Gantry's label is not a preview.
    const foreign = `${app}-mr-${E + 100}`;
    kubectl(['create', 'namespace', foreign]);
    gitlab.addMergeRequest(project, { iid: E + 100, state: 'closed' });
    try {
      const r = await gantry(['cleanup-previews', '--timeout', '20'], variables());
      expect(r.code).toBe(1);
      const summary = summaryOf(r.stdout);
      expect(r.stdout.trim().split('\n')).toHaveLength(1);
      expect(summary.errors).toEqual([expect.objectContaining({ mr: String(C), code: 'E_KUBE_API', message: expect.stringContaining('still terminating') })]);
      // D never had a review environment in GitLab: nothing to stop there, and no error.
      expect(summary.removed).toEqual([
        expect.objectContaining({
          mr: String(D),
          state: 'closed',
          namespaceResult: 'deleted',
          gitlabEnvironment: { name: reviewEnvironment(D), result: 'missing' },
        }),
      ]);
      expect(summary.kept.map((k) => k.mr)).toEqual([String(B)]);
      expect(namespaceExists(ns(D))).toBe(false);
      expect(namespaceExists(foreign)).toBe(true);
      expect(namespaceExists(ns(B))).toBe(true);
      expect(r.stderr).toContain(`!${C}: error E_KUBE_API`);
    } finally {
      release(ns(C));
      kubectlResult(['delete', 'namespace', foreign, '--wait=false']);
    }
  }, 200_000);
});

describe('a commit whose app crashes at start', () => {
  test('fails the MR pipeline with the crash in the job log and the MR note, and the previous version keeps answering', async () => {
    const mr = exampleRepo({
      branch: 'feature-crash',
      host,
      files: { 'gantry.yaml': readFileSync(path.join(repo, 'gantry.yaml'), 'utf8'), '.gitlab-ci.yml': readFileSync(path.join(repo, '.gitlab-ci.yml'), 'utf8') },
    });
    const review = { CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: String(E) };
    const good = await pipeline(mr, review);
    expect(good.output).toContain('PASS  review');
    expect(good.code).toBe(0);
    const goodImage = parseDotenv(
      readFileSync(path.join(mr, '.gitlab-ci-local', 'artifacts', 'gantry-build-review', '.gitlab-ci-reports', 'dotenv', 'gantry-build.env'), 'utf8'),
    ).GANTRY_IMAGE!;
    expect(deployedImage(ns(E))).toBe(goodImage);
    const url = serviceUrl(ns(E));
    expect(await freshGet(url)).toMatch(/^200 \{"hello":"world"/);

    // The next commit throws before it listens.
    const marker = `gantry-e2e-crash-${run}`;
    const server = path.join(mr, 'server.js');
    writeFileSync(
      server,
      readFileSync(server, 'utf8').replace("import http from 'node:http';", `import http from 'node:http';\nthrow new Error('${marker}');`),
    );
    expect(readFileSync(server, 'utf8')).toContain(marker);
    git(mr, 'commit', '-q', '-am', 'crash at start');
    const bad = await pipeline(mr, review);
    expect(bad.output).toContain('PASS  gantry-build-review');
    expect(bad.output).toMatch(/FAIL\s+review/);
    expect(bad.code).not.toBe(0);
    const log = jobLog(mr, 'review');
    expect(log).toContain('E_ROLLOUT_CRASHLOOP');
    expect(log).toContain(`Error: ${marker}`);
    // The MR note: failed, with the diagnosis and the crash line.
    const notes = gantryNotes(E);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('E_ROLLOUT_CRASHLOOP');
    expect(notes[0]).toContain(marker);
    // Rolled back: the good image serves, on fresh connections, every time.
    expect(deployedImage(ns(E))).toBe(goodImage);
    for (let i = 0; i < 5; i++) expect(await freshGet(url)).toMatch(/^200 \{"hello":"world"/);
  }, 600_000);
});
