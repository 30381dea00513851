// gantry init and gantry doctor, run as a user runs them (the built CLI), against the local
// cluster, the htpasswd registry on 127.0.0.1:5001, and the OSS and GitLab test servers.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, kubectl, namespacedKubeconfig, registryAuth, requireCluster } from '../support/cluster.js';
import { repoRoot } from '../support/fixtures.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { pushProject, startComponentHost, type GitServer } from '../support/git-server.js';
import { gantryCli } from '../support/pipeline.js';
import { exampleRepo, git } from '../support/tmp-repo.js';

const gcl = path.join(repoRoot, 'test', 'support', 'gitlab-ci-local');

const gantry = gantryCli;

beforeAll(() => {
  // The e2e tests run the built CLI: build it from this checkout.
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
}, 120_000);

describe('gantry init', () => {
  const fresh = () => exampleRepo({ remove: ['gantry.yaml', '.gitlab-ci.yml'] });

  test('in the example app it writes a gantry.yaml that validates, a pipeline of the right components and a deploy/ skeleton', async () => {
    const repo = fresh();
    const r = await gantry(['init'], repo);
    expect(r.stderr).toContain('frontend: npm run build:frontend -> frontend/dist');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ app: 'hello-node', port: 3000, healthPath: '/healthz', components: ['backend', 'review', 'frontend'] });
    expect(summary.detected.port).toContain('server.js');
    expect(summary.files.map((f: { file: string }) => f.file)).toEqual(['gantry.yaml', '.gitlab-ci.yml', 'deploy/README.md', 'deploy/partials/.gitkeep']);
    expect(summary.files.every((f: { action: string }) => f.action === 'created')).toBe(true);

    expect(readFileSync(path.join(repo, 'gantry.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=/);
    const validate = await gantry(['validate'], repo);
    expect(validate.stderr).toContain('gantry.yaml is valid: app hello-node, environments staging, production, review');
    expect(validate.code).toBe(0);
    // Not copies of the templates: a README that says how, and an empty partials directory.
    expect(readFileSync(path.join(repo, 'deploy', 'README.md'), 'utf8')).toContain('cp node_modules/gantry/deploy/deploy.yaml.hbs deploy/');
    expect(existsSync(path.join(repo, 'deploy', 'partials', '.gitkeep'))).toBe(true);
    expect(existsSync(path.join(repo, 'deploy', 'deploy.yaml.hbs'))).toBe(false);
    // The rendered manifests use Gantry's default templates (the skeleton overrides nothing).
    expect((await gantry(['render', '--env', 'staging', '--out', 'out'], repo)).code).toBe(0);

    const ci = YAML.parse(readFileSync(path.join(repo, '.gitlab-ci.yml'), 'utf8'));
    expect(ci.include.map((i: { component: string }) => i.component)).toEqual(
      ['backend', 'review', 'frontend'].map((n) => `$CI_SERVER_FQDN/devops/gantry/${n}@1`),
    );
    // Every input it fills in is one the component declares.
    for (const include of ci.include as { component: string; inputs: Record<string, unknown> }[]) {
      const name = /gantry\/(\w+)@1$/.exec(include.component)![1]!;
      const spec = YAML.parseAllDocuments(readFileSync(path.join(repoRoot, 'templates', `${name}.yml`), 'utf8'))[0]!.toJS().spec.inputs;
      for (const key of Object.keys(include.inputs)) expect([name, key, key in spec]).toEqual([name, key, true]);
    }
  }, 60_000);

  test('gitlab-ci-local expands the pipeline init wrote, its components fetched from the loopback git server as GitLab does, into the backend, review and frontend jobs', async () => {
    const repo = exampleRepo({ branch: 'k8s-backend', remove: ['gantry.yaml', '.gitlab-ci.yml'] });
    expect((await gantry(['init'], repo)).code).toBe(0);
    // The files exactly as init wrote them, committed and pushed to the project's GitLab.
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'gantry init');
    const host: GitServer = await startComponentHost();
    try {
      pushProject(host, repo, 'acme/hello-node', 'k8s-backend');
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB')));
      const r = spawnSync(gcl, ['--no-color', '--preview'], { cwd: repo, env, encoding: 'utf8', timeout: 60_000 });
      // test/support/gitlab-ci-local runs gitlab-ci-local once more when its parallel component
      // downloads race ("File exists"); the first attempt's words stay in stderr: judge the last.
      expect(r.stderr.split('running it once more\n').pop()).not.toMatch(/error/i);
      expect(r.status).toBe(0);
      const jobs = YAML.parse(r.stdout) as Record<string, { script?: string[]; stage?: string }>;
      const visible = Object.keys(jobs).filter((n) => !n.startsWith('.') && jobs[n] && typeof jobs[n] === 'object' && 'script' in jobs[n]!);
      expect(visible.sort()).toEqual(
        [
          'canary-abort-production',
          'canary-promote-production',
          'deploy-staging',
          'gantry-build',
          'gantry-build-review',
          'gantry-frontend',
          'promote-production',
          'review',
          'rollback-production',
          'rollback-staging',
          'stop-review',
        ].sort(),
      );
      expect(jobs['stop-review']!.script!.join('\n')).toContain('--app "hello-node"');
      expect(jobs['stop-review']!.script!.join('\n')).toContain('--bucket "hello-node-web"');
      const list = spawnSync(gcl, ['--no-color', '--list'], { cwd: repo, env, encoding: 'utf8', timeout: 60_000 });
      expect(list.status).toBe(0);
      // On the deploy branch the backend jobs are the ones that run; previews need a merge request.
      const listed = list.stdout
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0])
        .filter(Boolean);
      expect(listed.sort()).toEqual([
        'canary-abort-production',
        'canary-promote-production',
        'deploy-staging',
        'gantry-build',
        'promote-production',
        'rollback-production',
        'rollback-staging',
      ]);
      expect(host.requests()).toContain('GET /devops/gantry.git/info/refs?service=git-upload-pack');
    } finally {
      await host.close();
    }
  }, 120_000);

  test('refuses to overwrite, naming the file and writing nothing at all; --force overwrites', async () => {
    const repo = fresh();
    writeFileSync(path.join(repo, '.gitlab-ci.yml'), 'mine: true\n');
    const r = await gantry(['init'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_INIT_EXISTS');
    expect(r.stderr).toContain('.gitlab-ci.yml already exists');
    expect(r.stderr).toContain('--force');
    expect(r.stdout).toBe('');
    // All or nothing: not even the files that did not exist.
    expect(readFileSync(path.join(repo, '.gitlab-ci.yml'), 'utf8')).toBe('mine: true\n');
    expect(existsSync(path.join(repo, 'gantry.yaml'))).toBe(false);
    expect(existsSync(path.join(repo, 'deploy'))).toBe(false);

    const forced = await gantry(['init', '--force', '--app', 'shop', '--port', '8080'], repo);
    expect(forced.code).toBe(0);
    const files = JSON.parse(forced.stdout).files as { file: string; action: string }[];
    expect(files.find((f) => f.file === '.gitlab-ci.yml')!.action).toBe('overwritten');
    expect(files.find((f) => f.file === 'gantry.yaml')!.action).toBe('created');
    expect(readFileSync(path.join(repo, 'gantry.yaml'), 'utf8')).toMatch(/^app: shop$/m);
    expect(readFileSync(path.join(repo, 'gantry.yaml'), 'utf8')).toMatch(/^ {2}port: 8080$/m);
  }, 60_000);

  test('a directory where one of its files goes is found before anything is written, even with --force', async () => {
    const repo = fresh();
    mkdirSync(path.join(repo, 'deploy', 'README.md'), { recursive: true });
    const r = await gantry(['init', '--force'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot write deploy/README.md: a directory is in the way; nothing was written');
    expect(existsSync(path.join(repo, 'gantry.yaml'))).toBe(false);
    expect(existsSync(path.join(repo, '.gitlab-ci.yml'))).toBe(false);
    // No temporary files left behind either.
    expect(readdirSync(repo).filter((f) => f.includes('gantry-init'))).toEqual([]);
    expect(readdirSync(path.join(repo, 'deploy')).filter((f) => f.includes('gantry-init'))).toEqual([]);
  }, 60_000);

  test('without package.json it exits 2 with what to do; bad flags exit 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-empty-'));
    const r = await gantry(['init', '-C', dir], repoRoot);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_INIT_NO_PACKAGE');
    expect(r.stderr).toContain('npm init -y');
    expect(existsSync(path.join(dir, 'gantry.yaml'))).toBe(false);
    expect((await gantry(['init', '-C', fresh(), '--port', '70000'], repoRoot)).code).toBe(2);
    expect((await gantry(['init', '-C', fresh(), '--app', 'Not_DNS'], repoRoot)).code).toBe(2);
  });
});

describe('gantry doctor', () => {
  const ns = `gt-doctor-${process.pid}`;
  const ossKey = 'LTAI5tDoctorTestKeyId';
  const ossSecret = 'doctor-oss-secret-0123456789abcdef';
  const gitlabToken = 'glpat-doctor-test-token-0123456789';
  let kubeconfig: string;
  let restricted: string;
  let oss: OssServer;
  let gitlab: GitlabServer;
  let repo: string;

  beforeAll(async () => {
    requireCluster();
    kubectl(['create', 'namespace', ns]);
    kubeconfig = namespacedKubeconfig(ns);
    restricted = readOnlyPodsKubeconfig(ns);
    oss = await startOssServer({ accessKeyId: ossKey, accessKeySecret: ossSecret, buckets: ['acme-hello-web'] });
    gitlab = await startGitlabServer({
      projects: [{ id: 7, path: 'acme/hello-node' }],
      privateTokens: [{ token: gitlabToken, user: { id: 5, username: 'deployer', name: 'Deployer' } }],
    });
    repo = exampleRepo();
  }, 120_000);

  afterAll(async () => {
    await oss?.close();
    await gitlab?.close();
    kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    // namespacedKubeconfig() writes a single file straight into the temp dir: remove that file only.
    for (const file of [kubeconfig, restricted]) if (file) rmSync(file, { force: true });
  });

  const sets = (registryHost = authRegistry) => [
    '--set',
    `registry.pushHost=${registryHost}`,
    '--set',
    `environments.staging.namespace=${ns}`,
    '--set',
    `frontend.endpoint=${oss.endpoint}`,
  ];
  const goodEnv = () => ({
    GANTRY_REGISTRY_USER: registryAuth().user,
    GANTRY_REGISTRY_PASSWORD: registryAuth().password,
    KUBECONFIG_STAGING: kubeconfig,
    GANTRY_OSS_ACCESS_KEY_ID: ossKey,
    GANTRY_OSS_ACCESS_KEY_SECRET: ossSecret,
    GANTRY_GITLAB_TOKEN: gitlabToken,
    CI_SERVER_URL: gitlab.url,
    CI_PROJECT_ID: '7',
  });
  type Row = { check: string; status: string; detail: string; fix?: string; code?: string };
  const row = (rows: Row[], check: string | RegExp) => rows.find((r) => (typeof check === 'string' ? r.check === check : check.test(r.check)));

  test('with working credentials every check passes (creating namespaces is only a warning) and it exits 0', async () => {
    const r = await gantry(['doctor', '--env', 'staging', ...sets()], repo, goodEnv());
    const out = JSON.parse(r.stdout) as { ok: boolean; failed: number; namespace: string; checks: Row[] };
    expect(out.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(r.code).toBe(0);
    expect(out).toMatchObject({ ok: true, failed: 0, namespace: ns });
    for (const check of [
      'gantry.yaml',
      'variables: registry',
      'variables: kubeconfig',
      'variables: OSS',
      'variables: GitLab token',
      'registry login',
      'cluster',
      'OSS',
      'GitLab token',
    ]) {
      expect([check, row(out.checks, check)?.status]).toEqual([check, 'pass']);
    }
    for (const resource of [
      'deployments.apps',
      'replicasets.apps',
      'configmaps',
      'secrets',
      'services',
      'pods',
      'pods/log',
      'events',
      'horizontalpodautoscalers.autoscaling',
      'ingresses.networking.k8s.io',
      'leases.coordination.k8s.io',
    ]) {
      expect([resource, row(out.checks, new RegExp(`^may \\S+ ${ns}: ${resource.replace(/[./]/g, '\\$&')}$`))?.status]).toEqual([resource, 'pass']);
    }
    expect(row(out.checks, /namespaces$/)).toMatchObject({ status: 'warn', fix: expect.stringContaining(`kubectl create namespace ${ns}`) });
    expect(r.stderr).toMatch(/^ok {4}registry login +127\.0\.0\.1:5001 accepts/m);
    expect(r.stderr).toContain('all checks passed (1 warning)');
    // No secret anywhere in what it printed.
    for (const secret of [registryAuth().password, ossSecret, gitlabToken]) expect(r.stdout + r.stderr).not.toContain(secret);
  }, 60_000);

  test('a ServiceAccount that may only get pods fails the permission checks, each with the Role rule that fixes it', async () => {
    const r = await gantry(['doctor', '--env', 'staging', ...sets()], repo, { ...goodEnv(), KUBECONFIG_STAGING: restricted });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: Row[] };
    expect(out.ok).toBe(false);
    expect(row(out.checks, 'cluster')?.status).toBe('pass');
    const deployments = row(out.checks, new RegExp(`${ns}: deployments\\.apps$`))!;
    expect(deployments).toMatchObject({ status: 'fail', detail: expect.stringContaining('denied: create/patch/get/list/watch/delete/update') });
    expect(deployments.fix).toContain('{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["create", "patch"');
    // get on pods is granted, list and watch are not.
    expect(row(out.checks, new RegExp(`${ns}: pods$`))).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^denied: list\/watch /) });
    expect(r.stderr).toMatch(/^FAIL {2}may .* deployments\.apps/m);
    expect(r.stderr).toContain('checks failed: see the fix under each');
  }, 60_000);

  test('wrong registry password, OSS secret and GitLab token fail their checks without showing them', async () => {
    const wrong = {
      GANTRY_REGISTRY_PASSWORD: 'wrong-registry-password-7f3a9c',
      GANTRY_OSS_ACCESS_KEY_SECRET: 'wrong-oss-secret-7f3a9c0123',
      GANTRY_GITLAB_TOKEN: 'glpat-wrong-token-7f3a9c0123',
    };
    const r = await gantry(['doctor', '--env', 'staging', ...sets()], repo, { ...goodEnv(), ...wrong });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { checks: Row[] };
    expect(row(out.checks, 'registry login')).toMatchObject({
      status: 'fail',
      code: 'E_REGISTRY_AUTH',
      fix: expect.stringContaining('GANTRY_REGISTRY_PASSWORD'),
    });
    expect(row(out.checks, 'OSS')).toMatchObject({ status: 'fail', code: 'E_OSS_ACCESS' });
    expect(row(out.checks, 'GitLab token')).toMatchObject({ status: 'fail', code: 'E_GITLAB_ACCESS', detail: expect.stringContaining('401') });
    // The cluster checks do not depend on the others.
    expect(row(out.checks, 'cluster')?.status).toBe('pass');
    for (const secret of Object.values(wrong)) expect(r.stdout + r.stderr).not.toContain(secret);
  }, 60_000);

  test("a registry that answers with a Bearer challenge (ACR's token flow) is logged in to through its realm", async () => {
    const { user, password } = { user: 'acr-user', password: 'acr-password-0123456789' };
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${url.pathname}${url.search}`);
      const auth = req.headers.authorization ?? '';
      if (url.pathname === '/v2/') {
        if (auth === 'Bearer tok-123') return void res.writeHead(200).end('{}');
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${(server.address() as AddressInfo).port}/token",service="registry.test"` })
          .end();
        return;
      }
      if (url.pathname === '/token') {
        if (auth !== `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`) return void res.writeHead(401).end('{"errors":[]}');
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"tok-123"}');
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = { ...goodEnv(), GANTRY_REGISTRY_USER: user, GANTRY_REGISTRY_PASSWORD: password };
      const ok = await gantry(['doctor', '--env', 'staging', ...sets(host)], repo, env);
      expect(row(JSON.parse(ok.stdout).checks, 'registry login')).toMatchObject({ status: 'pass', detail: expect.stringContaining('token auth') });
      expect(seen).toContain('GET /token?service=registry.test');
      const bad = await gantry(['doctor', '--env', 'staging', ...sets(host)], repo, { ...env, GANTRY_REGISTRY_PASSWORD: 'not-the-password-42' });
      expect(bad.code).toBe(1);
      expect(row(JSON.parse(bad.stdout).checks, 'registry login')).toMatchObject({
        status: 'fail',
        code: 'E_REGISTRY_AUTH',
        detail: expect.stringContaining('token service'),
      });
      expect(bad.stdout + bad.stderr).not.toContain('not-the-password-42');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);

  test('an unreachable service fails within the 5 s timeout', async () => {
    // A server that accepts and never answers.
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await gantry(['doctor', '--env', 'staging', ...sets(host)], repo, goodEnv());
      expect(r.code).toBe(1);
      expect(row(JSON.parse(r.stdout).checks, 'registry login')).toMatchObject({ status: 'fail', detail: expect.stringContaining('5 s') });
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);

  test('missing CI variables fail with the variable to add; a missing GitLab token is only a warning', async () => {
    const r = await gantry(['doctor', '--env', 'staging', ...sets()], repo, {});
    expect(r.code).toBe(1);
    const checks = (JSON.parse(r.stdout) as { checks: Row[] }).checks;
    expect(row(checks, 'variables: registry')).toMatchObject({ status: 'fail', detail: 'GANTRY_REGISTRY_USER, GANTRY_REGISTRY_PASSWORD not set' });
    expect(row(checks, 'variables: kubeconfig')).toMatchObject({ status: 'fail', code: 'E_KUBECONFIG', detail: expect.stringContaining('KUBECONFIG_STAGING') });
    expect(row(checks, 'variables: OSS')).toMatchObject({ status: 'fail', fix: expect.stringContaining('GANTRY_OSS_ACCESS_KEY_ID') });
    expect(row(checks, 'variables: GitLab token')).toMatchObject({ status: 'warn' });
    expect(row(checks, 'registry login')?.status).toBe('skip');
    expect(row(checks, 'cluster')?.status).toBe('skip');
  }, 60_000);

  test('bad usage or configuration exits 2', async () => {
    expect((await gantry(['doctor'], repo)).code).toBe(2);
    const unknown = await gantry(['doctor', '--env', 'nowhere'], repo);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no such environment');
    const invalid = await gantry(['doctor', '--env', 'staging', '--set', 'backend.port=0'], repo);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('E_CONFIG_INVALID');
  });

  // #14: doctor runs deploy's reachability check from the namespace. A "managed" Redis in another
  // namespace (the cluster has no DNS: its ClusterIP is the host) answers; a port nothing listens
  // on is refused, with the fix; no password reaches the output.
  test('services: a managed database that answers passes, a refused one fails with the fix, and no password is shown', async () => {
    const other = `${ns}-managed`;
    const password = 'Doctor-Redis-Pw-0123456789';
    kubectl(['create', 'namespace', other]);
    try {
      kubectl([
        '-n',
        other,
        'run',
        'redis',
        '--image=127.0.0.1:5000/gantry/redis:7',
        '--port=6379',
        '--restart=Never',
        '--',
        'redis-server',
        '--requirepass',
        password,
      ]);
      kubectl(['-n', other, 'expose', 'pod', 'redis', '--port=6379']);
      kubectl(['-n', other, 'wait', '--for=condition=Ready', 'pod/redis', '--timeout=60s']);
      const ip = kubectl(['-n', other, 'get', 'service', 'redis', '-o', 'jsonpath={.spec.clusterIP}']).trim();
      // A port nothing listens on at the pod itself is refused (a Service port that does not exist
      // is not programmed by kube-proxy, and this machine routes it nowhere).
      const podIp = kubectl(['-n', other, 'get', 'pod', 'redis', '-o', 'jsonpath={.status.podIP}']).trim();
      const settings = [
        '--set',
        'services={cache: {kind: redis, version: "7"}, db: {kind: mysql, version: "8.0"}}',
        '--set',
        'environments.staging.services={cache: {variable: STAGING_REDIS_URL}, db: {variable: STAGING_DATABASE_URL}}',
        // validate wants every environment to say how it reaches each service
        '--set',
        'environments.production.services={cache: {secret: redis-url}, db: {secret: mysql-url}}',
      ];
      const env = {
        ...goodEnv(),
        // The check runs in a Node image (the app's, normally).
        GANTRY_IMAGE: '127.0.0.1:5000/gantry/node:20',
        STAGING_REDIS_URL: `redis://:${password}@${ip}:6379/0`,
        STAGING_DATABASE_URL: `mysql://app:${password}@${podIp}:3307/app`,
      };
      const r = await gantry(['doctor', '--env', 'staging', ...sets(), ...settings], repo, env);
      const out = JSON.parse(r.stdout) as { checks: Row[] };
      expect(row(out.checks, `may create/delete ${ns}: pods`)?.status).toBe('pass');
      expect(row(out.checks, 'service cache (redis)')).toMatchObject({ status: 'pass' });
      expect(row(out.checks, 'service cache (redis)')!.detail).toContain(`${ip}:6379 answers from ${ns}`);
      const db = row(out.checks, 'service db (mysql)')!;
      expect(db).toMatchObject({ status: 'fail', code: 'E_SERVICE_UNREACHABLE' });
      expect(db.detail).toContain(`${podIp}:3307 ECONNREFUSED`);
      expect(db.fix).toContain(`nothing listens at ${podIp}:3307`);
      expect(r.code).toBe(1);
      expect(`${r.stdout}${r.stderr}`).not.toContain(password);
    } finally {
      kubectl(['delete', 'namespace', other, '--wait=false', '--ignore-not-found']);
    }
  }, 120_000);
});

/** A kubeconfig for a ServiceAccount in `namespace` that may only get pods. */
function readOnlyPodsKubeconfig(namespace: string): string {
  return namespacedKubeconfig(namespace, 'gt-pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
}
