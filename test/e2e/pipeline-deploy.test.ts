// The example's whole pipeline (components backend, frontend and review, included from the
// loopback git server as GitLab includes them) under gitlab-ci-local, shell executor, against the real local cluster and registry and the OSS test
// server: a push to k8s-backend builds once and deploys that digest to staging, the manual promote
// deploys the same digest to production, a push to k8s-frontend publishes the bundle, a merge request gets a preview (namespace + frontend under its prefix) and its stop job
// removes it. The CLI is this checkout's build. Namespaces are unique to this run.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  authRegistry,
  kubectl,
  kubectlResult,
  namespacedKubeconfig,
  nodeBaseImage,
  registryAuth,
  requireCluster,
  reviewDeployerKubeconfig,
} from '../support/cluster.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { startComponentHost, type GitServer } from '../support/git-server.js';
import { deleteNamespaces, jobDotenv, namespaceExists, runPipeline, serviceAnswer } from '../support/pipeline.js';
import { cliPath, exampleRepo, gantryBinDir } from '../support/tmp-repo.js';

const run = `${process.pid}`;
const staging = `gt-pipe-${run}-staging`;
const production = `gt-pipe-${run}-production`;
// The preview namespace is <app>-mr-<iid>: an iid unique to this run keeps it apart.
const iid = String(700000 + (process.pid % 100000));
const preview = `hello-mr-${iid}`;
const keyId = 'LTAI5tGantryPipelineKey';
const secret = 'gantry-pipeline-secret-0123456789';
const bucket = 'acme-hello-web';
let oss: OssServer;
let gitlab: GitlabServer;
let host: GitServer;
const gitlabProject = 4242;
const gitlabToken = 'glpat-GantryPipelineTest0123';
/** Bodies of the Gantry notes on the preview's MR. */
const gitlabNotes = () =>
  gitlab
    .mergeRequest(gitlabProject, Number(iid))
    .notes.filter((n) => n.body.includes('gantry:review-app'))
    .map((n) => n.body);
let bin = '';
let repo = '';
let stagingKubeconfig = '';
let reviewDeployer: ReturnType<typeof reviewDeployerKubeconfig>;
let productionKubeconfig = '';

// Small requests: the example's production asks for 2 x 1 CPU, more than the test node has.
const settings = [
  `backend.buildArgs.NODE_IMAGE=${nodeBaseImage}`,
  `environments.staging.namespace=${staging}`,
  `environments.production.namespace=${production}`,
  'environments.production.resources={requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}',
  'environments.production.autoscale={min: 1, max: 2, cpu: 70}',
  'backend.resources={requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}',
];

/** The project's CI/CD variables: the registry with auth and the test's settings, plus `extra`. */
function variables(extra: Record<string, string>): Record<string, string> {
  const auth = registryAuth();
  return {
    GANTRY_REGISTRY_PUSH_HOST: authRegistry,
    GANTRY_REGISTRY_PULL_HOST: authRegistry,
    GANTRY_REGISTRY_NAMESPACE: `pipeline-${run}`,
    GANTRY_REGISTRY_USER: auth.user,
    GANTRY_REGISTRY_PASSWORD: auth.password,
    GANTRY_SET: settings.join('\n'),
    ...extra,
  };
}

/** gitlab-ci-local, asynchronously: the OSS test server answers from this process meanwhile. */
const pipeline = (cwd: string, args: string[], extra: Record<string, string> = {}) =>
  runPipeline(cwd, { bin, variables: variables(extra), args, timeoutSeconds: 240 });
const dotenv = jobDotenv;
const deployedImage = (ns: string) => kubectl(['-n', ns, 'get', 'deployment', 'hello', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']).trim();
/** What the app answers through its Service's ClusterIP, as a client in the cluster sees it. */
const answer = (ns: string) => serviceAnswer(ns, 'hello');

beforeAll(async () => {
  requireCluster();
  for (const ns of [staging, production]) kubectl(['create', 'namespace', ns]);
  stagingKubeconfig = namespacedKubeconfig(staging);
  productionKubeconfig = namespacedKubeconfig(production);
  bin = gantryBinDir();
  oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket] });
  gitlab = await startGitlabServer({
    projects: [{ id: gitlabProject, path: 'acme/hello-node' }],
    privateTokens: [{ token: gitlabToken, user: { id: 7, username: 'gantry-bot', name: 'Gantry' } }],
  });
  host = await startComponentHost();
  repo = exampleRepo({ branch: 'k8s-backend', host });
  reviewDeployer = reviewDeployerKubeconfig(`pipe-${run}`);
}, 60_000);

afterAll(async () => {
  await oss?.close();
  await gitlab?.close();
  await host?.close();
  await deleteNamespaces([staging, production, preview]);
  reviewDeployer?.remove();
  // No preview outlives the suite, whatever happened in the tests.
  expect(namespaceExists(preview)).toBe(false);
}, 180_000);

describe('the example pipeline deploys to the cluster', () => {
  test('a push to k8s-backend builds the image once and deploys that digest to staging, where the app answers', async () => {
    // Each kubeconfig holds a token that may work in its own namespace only (a GitLab "File" variable: a path).
    const r = await pipeline(repo, [], { KUBECONFIG_STAGING: stagingKubeconfig, KUBECONFIG_PRODUCTION: productionKubeconfig });
    expect(r.output).toContain('PASS  gantry-build');
    expect(r.output).toContain('PASS  deploy-staging');
    expect(r.code).toBe(0);
    const built = dotenv(repo, 'gantry-build', 'gantry-build.env');
    const deployed = dotenv(repo, 'deploy-staging', 'gantry-deploy.env');
    expect(built.GANTRY_IMAGE).toMatch(new RegExp(`^${authRegistry}/pipeline-${run}/hello@sha256:[a-f0-9]{64}$`));
    expect(deployed).toMatchObject({
      GANTRY_IMAGE: built.GANTRY_IMAGE,
      GANTRY_NAMESPACE: staging,
      GANTRY_REVISION: '1',
      GANTRY_ENVIRONMENT_URL: 'http://staging.hello.example.com',
    });
    expect(deployedImage(staging)).toBe(built.GANTRY_IMAGE);
    expect(await answer(staging)).toMatch(/^200 \{"hello":"world"/);
    // The promote is manual: nothing reached production.
    expect(r.output).not.toContain('PASS  promote-production');
    expect(kubectlResult(['-n', production, 'get', 'deployment', 'hello']).code).not.toBe(0);
  }, 300_000);

  test('the manual promote deploys the same digest to production, without building again', async () => {
    const built = dotenv(repo, 'gantry-build', 'gantry-build.env');
    expect(built.GANTRY_IMAGE).toContain('@sha256:');
    const r = await pipeline(repo, ['promote-production'], { KUBECONFIG_STAGING: stagingKubeconfig, KUBECONFIG_PRODUCTION: productionKubeconfig });
    expect(r.output).toContain('PASS  promote-production');
    expect(r.output).not.toMatch(/gantry-build\s+\$ gantry build/);
    expect(r.code).toBe(0);
    expect(dotenv(repo, 'promote-production', 'gantry-deploy.env')).toMatchObject({ GANTRY_IMAGE: built.GANTRY_IMAGE, GANTRY_NAMESPACE: production });
    expect(deployedImage(production)).toBe(built.GANTRY_IMAGE);
    expect(deployedImage(staging)).toBe(built.GANTRY_IMAGE);
    expect(await answer(production)).toMatch(/^200 \{"hello":"world"/);
  }, 300_000);

  test('a push to k8s-frontend builds the bundle and publishes it to the bucket, index.html last; the next push sends only what changed', async () => {
    const web = exampleRepo({ branch: 'k8s-frontend', host });
    const vars = {
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
      GANTRY_SET: [...settings, `frontend.endpoint=${oss.endpoint}`].join('\n'),
    };
    const live = () => [...oss.objects(bucket).keys()].filter((k) => !k.startsWith('previews/') && !k.startsWith('web/') && !k.startsWith('.gantry/'));
    /** The bundle as the example's build makes it, built here from the same commit. */
    const bundle = () => {
      execFileSync(process.execPath, ['frontend/build.mjs'], { cwd: web, stdio: 'ignore' });
      const dist = path.join(web, 'frontend', 'dist');
      return new Map(
        readdirSync(dist, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => {
            const file = path.join(e.parentPath, e.name);
            return [path.relative(dist, file).split(path.sep).join('/'), readFileSync(file)] as const;
          }),
      );
    };
    const puts = (from: number) =>
      oss.requests
        .slice(from)
        .filter((q) => q.method === 'PUT' && q.bucket === bucket && q.status === 200 && !q.key.startsWith('.gantry/'))
        .map((q) => q.key);

    const first = oss.requests.length;
    const r = await pipeline(web, [], vars);
    expect(r.output).toContain('PASS  gantry-frontend');
    // The frontend branch publishes the frontend only: no image build, no deploy.
    expect(r.output).not.toMatch(/(PASS|FAIL)\s+(gantry-build|deploy-staging|review)\b/);
    expect(r.code).toBe(0);
    expect(r.output).not.toContain(secret);
    const built = bundle();
    expect(built.size).toBeGreaterThan(1);
    expect(live().sort()).toEqual([...built.keys()].sort());
    for (const [key, body] of built) expect(oss.objects(bucket).get(key)!.body.equals(body)).toBe(true);
    const order = puts(first);
    expect(order.at(-1)).toBe('index.html');
    expect(order.sort()).toEqual([...built.keys()].sort());

    // A one-line change to one asset, committed and pushed: that asset (new hashed name) and index.html.
    const asset = readdirSync(path.join(web, 'frontend', 'src')).find((n) => n.endsWith('.css'))!;
    appendFileSync(path.join(web, 'frontend', 'src', asset), '\nbody { margin: 0; }\n');
    execFileSync('git', ['-C', web, 'commit', '-qam', 'frontend: no margin'], { stdio: 'ignore' });
    const second = oss.requests.length;
    const again = await pipeline(web, ['gantry-frontend'], vars);
    expect(again.output).toContain('PASS  gantry-frontend');
    expect(again.code).toBe(0);
    const rebuilt = bundle();
    const changed = [...rebuilt.keys()].filter((k) => !built.has(k));
    expect(changed).toHaveLength(1);
    expect(puts(second)).toEqual([...changed, 'index.html']);
    expect(oss.objects(bucket).get('index.html')!.body.equals(rebuilt.get('index.html')!)).toBe(true);
  }, 300_000);

  test('a merge request gets a preview in its own namespace and frontend prefix, and stop-review removes both', async () => {
    const mr = exampleRepo({ branch: 'feature-greeting', host });
    const review = {
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_MERGE_REQUEST_IID: iid,
      // Previews need a namespace per MR: the review deployer of examples/rbac (not admin).
      KUBECONFIG_STAGING: reviewDeployer.file,
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
      GANTRY_SET: [...settings, `frontend.endpoint=${oss.endpoint}`].join('\n'),
      // The MR note goes to the GitLab test server.
      GANTRY_GITLAB_URL: gitlab.url,
      GANTRY_GITLAB_TOKEN: gitlabToken,
      CI_PROJECT_ID: String(gitlabProject),
    };
    gitlab.addMergeRequest(gitlabProject, { iid: Number(iid), title: 'Greeting' });
    const gantryNotes = gitlabNotes;
    const r = await pipeline(mr, ['--ignore-predefined-vars', 'CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_IID,CI_PROJECT_ID'], review);
    expect(r.output).toContain('PASS  gantry-build-review');
    expect(r.output).toContain('PASS  review');
    expect(r.output).not.toContain('deploy-staging');
    expect(r.code).toBe(0);
    const deployed = dotenv(mr, 'review', 'gantry-deploy.env');
    expect(deployed.GANTRY_NAMESPACE).toBe(preview);
    expect(deployed.GANTRY_ENVIRONMENT_URL).toBe(`http://mr-${iid}.review.hello.example.com`);
    expect(deployedImage(preview)).toBe(dotenv(mr, 'gantry-build-review', 'gantry-build.env').GANTRY_IMAGE);
    expect(await answer(preview)).toMatch(/^200 \{"hello":"world"/);
    const previewKeys = () => [...oss.objects(bucket).keys()].filter((k) => k.startsWith(`previews/mr-${iid}/`));
    expect(previewKeys()).toContain(`previews/mr-${iid}/index.html`);
    // One Gantry note on the MR, with the preview URL and the digest.
    expect(gantryNotes()).toHaveLength(1);
    expect(gantryNotes()[0]).toContain(`http://mr-${iid}.review.hello.example.com`);
    expect(gantryNotes()[0]).toContain(dotenv(mr, 'gantry-build-review', 'gantry-build.env').GANTRY_IMAGE!.split('@')[1]);

    // GitLab runs stop-review with GIT_STRATEGY none, which gitlab-ci-local does not honour: the
    // job's directory loses gantry.yaml here, so the job must make do with the component's inputs.
    rmSync(path.join(mr, 'gantry.yaml'));
    const stop = await pipeline(mr, ['stop-review', '--ignore-predefined-vars', 'CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_IID,CI_PROJECT_ID'], review);
    expect(stop.output).toContain('PASS  stop-review');
    expect(stop.code).toBe(0);
    expect(stop.output).not.toContain('read gantry.yaml');
    expect(stop.output).toContain(`namespace ${preview} is gone`);
    expect(namespaceExists(preview)).toBe(false);
    expect(previewKeys()).toEqual([]);
    // The same note, updated in place: stopped.
    expect(gantryNotes()).toHaveLength(1);
    expect(gantryNotes()[0]).toMatch(/stopped/i);
    // Stopping again (GitLab's auto_stop after a manual stop) is a success with nothing to do.
    const again = await pipeline(mr, ['stop-review', '--ignore-predefined-vars', 'CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_IID,CI_PROJECT_ID'], review);
    expect(again.code).toBe(0);
    expect(readFileSync(path.join(mr, '.gitlab-ci-local', 'output', 'stop-review.log'), 'utf8')).toContain(`namespace ${preview} does not exist`);
  }, 400_000);
});

describe('gantry stop without a checkout', () => {
  function stop(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|KUBECONFIG)/.test(k)));
    const cwd = mkdtempSync(path.join(tmpdir(), 'gantry-no-checkout-'));
    const child = spawn(process.execPath, [cliPath, 'stop', '--env', 'review', ...args], { cwd, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  test('removes a preview from flags alone, even one whose deploy never ran, and refuses a namespace Gantry did not make', async () => {
    const ns = `stopcheck-mr-${iid}`;
    kubectl(['create', 'namespace', ns]);
    kubectl(['label', 'namespace', ns, 'app.kubernetes.io/managed-by=gantry']);
    kubectl(['-n', ns, 'create', 'configmap', 'leftover', '--from-literal=a=b']);
    const key = `web/previews/mr-${iid}/index.html`;
    oss
      .objects(bucket)
      .set(key, { body: Buffer.from('x'), etag: '"9DD4E461268C8034F5C8564E155C67A6"', headers: {}, lastModified: new Date(), type: 'Normal' } as never);
    oss.objects(bucket).set('web/index.html', {
      body: Buffer.from('live'),
      etag: '"9DD4E461268C8034F5C8564E155C67A6"',
      headers: {},
      lastModified: new Date(),
      type: 'Normal',
    } as never);
    const env = {
      CI_MERGE_REQUEST_IID: iid,
      KUBECONFIG_REVIEW: Buffer.from(readFileSync(reviewDeployer.file)).toString('base64'),
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
    };
    const flags = [
      '--app',
      'stopcheck',
      '--bucket',
      bucket,
      '--region',
      'oss-cn-hangzhou',
      '--endpoint',
      oss.endpoint,
      '--prefix',
      'web',
      '--namespace',
      '',
      '--kubeconfig',
      'KUBECONFIG_REVIEW',
    ];
    const r = await stop(flags, env);
    expect(r.stderr).toContain(`namespace ${ns} is gone`);
    expect(r.code).toBe(0);
    expect(namespaceExists(ns)).toBe(false);
    expect(oss.objects(bucket).has(key)).toBe(false);
    expect(oss.objects(bucket).has('web/index.html')).toBe(true);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      namespace: ns,
      namespaceResult: 'deleted',
      frontend: { bucket, prefix: `web/previews/mr-${iid}/` },
    });

    // Already gone: success, nothing to do.
    const again = await stop(flags, env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!)).toMatchObject({ namespaceResult: 'already gone' });

    // A namespace without Gantry's label is never deleted.
    const foreign = `gt-pipe-${run}-foreign`;
    kubectl(['create', 'namespace', foreign]);
    try {
      const refused = await stop(['--app', 'x', '--namespace', foreign, '--kubeconfig', 'KUBECONFIG_REVIEW'], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('was not created by Gantry');
      expect(namespaceExists(foreign)).toBe(true);
    } finally {
      await deleteNamespaces([foreign]);
    }
  }, 180_000);

  test('what can refuse is checked before anything is deleted; the namespace input takes the placeholders deploy fills', async () => {
    const ns = `stopfirst-review-${iid}`; // {app}-{env}-{iid}
    kubectl(['create', 'namespace', ns]);
    kubectl(['label', 'namespace', ns, 'app.kubernetes.io/managed-by=gantry']);
    const key = `previews/mr-${iid}/keep.html`;
    oss
      .objects(bucket)
      .set(key, { body: Buffer.from('x'), etag: '"9DD4E461268C8034F5C8564E155C67A6"', headers: {}, lastModified: new Date(), type: 'Normal' } as never);
    const kube = {
      CI_MERGE_REQUEST_IID: iid,
      CI_COMMIT_REF_SLUG: 'feature-x',
      KUBECONFIG_REVIEW: Buffer.from(readFileSync(reviewDeployer.file)).toString('base64'),
    };
    const flags = [
      '--app',
      'stopfirst',
      '--namespace',
      '{app}-{env}-{iid}',
      '--kubeconfig',
      'KUBECONFIG_REVIEW',
      '--bucket',
      bucket,
      '--region',
      'oss-cn-hangzhou',
      '--endpoint',
      oss.endpoint,
    ];
    const foreign = `gt-pipe-${run}-notours`;
    kubectl(['create', 'namespace', foreign]);
    try {
      // No OSS key pair: exit 2, and the namespace is still there.
      const noKeys = await stop(flags, kube);
      expect(noKeys.code).toBe(2);
      expect(noKeys.stderr).toContain('no OSS credentials to delete the frontend preview');
      expect(namespaceExists(ns)).toBe(true);
      // A namespace Gantry did not make: exit 2, and the frontend preview is still there.
      const withKeys = { ...kube, GANTRY_OSS_ACCESS_KEY_ID: keyId, GANTRY_OSS_ACCESS_KEY_SECRET: secret };
      const notOurs = await stop([...flags.slice(0, 2), '--namespace', foreign, ...flags.slice(4)], withKeys);
      expect(notOurs.code).toBe(2);
      expect(notOurs.stderr).toContain('was not created by Gantry');
      expect(oss.objects(bucket).has(key)).toBe(true);
      // With both: {env} is review, as deploy names it; both halves go.
      const ok = await stop(flags, withKeys);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout.trim().split('\n').at(-1)!)).toMatchObject({ namespace: ns, namespaceResult: 'deleted' });
      expect(namespaceExists(ns)).toBe(false);
      expect(oss.objects(bucket).has(key)).toBe(false);
    } finally {
      await deleteNamespaces([foreign, ns]);
    }
  }, 180_000);
});
