// gantry deploy, history, rollback and scale on the real cluster, run as the CLI a CI job runs,
// with a namespaced ServiceAccount token (not admin), pulling from the htpasswd registry
// through the pull secret Gantry creates. Every failure class is made real and must fail
// fast with its code and evidence, and afterwards the previous version must answer again.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, registryAuth, requireCluster } from '../support/cluster.js';
import { cliPath } from '../support/tmp-repo.js';
import { dockerOk } from '../support/docker.js';

const ns = `gt-deploy-${process.pid}`;
const secretValue = 'sk-live-0123456789-very-secret';
let kubeconfig = '';
let image = '';
let repo = '';

const server = `
const http = require('http');
const mode = process.env.MODE || 'ok';
if (mode === 'crash') { console.error('boom: cannot connect to the database at db:5432'); process.exit(1); }
http.createServer((q, s) => {
  if (q.url === '/healthz' && mode === 'unready') { s.writeHead(500); return s.end('not ready'); }
  s.end('version ' + process.env.VERSION + ' token ' + (process.env.API_TOKEN ? 'set' : 'unset') + '\\n');
}).listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
`;

function config(overrides: { env?: Record<string, unknown>; resources?: unknown; replicas?: number; namespace?: string } = {}) {
  const namespace = overrides.namespace ?? ns;
  return {
    app: 'web',
    registry: { pushHost: authRegistry, namespace },
    backend: {
      port: 8080,
      healthPath: '/healthz',
      replicas: overrides.replicas ?? 2,
      maxReplicas: 3,
      progressDeadlineSeconds: 120,
      resources: overrides.resources ?? { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
      env: { MODE: 'ok', VERSION: '1', ...overrides.env },
    },
    environments: { staging: { namespace, kubeconfig: 'KUBECONFIG_TEST' } },
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function gantry(
  args: string[],
  options: { config?: object; env?: Record<string, string>; onStderr?: (text: string) => void; cwd?: string; kubeconfig?: string } = {},
): Promise<Run> & { child: ReturnType<typeof spawn> } {
  const cwd = options.cwd ?? repo;
  if (options.config) writeFileSync(path.join(cwd, 'gantry.yaml'), YAML.stringify(options.config));
  const auth = registryAuth();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|K8S_SECRET)/.test(k)));
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd,
    env: {
      ...base,
      KUBECONFIG_TEST: Buffer.from(readFileSync(options.kubeconfig ?? kubeconfig)).toString('base64'),
      GANTRY_REGISTRY_USER: auth.user,
      GANTRY_REGISTRY_PASSWORD: auth.password,
      K8S_SECRET_API_TOKEN: secretValue,
      ...options.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => {
    stderr += c;
    options.onStderr?.(String(c));
  });
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code) => {
      // GANTRY_TEST_LOG_DIR keeps every run's output, to read after a slow or failed run.
      if (process.env.GANTRY_TEST_LOG_DIR)
        writeFileSync(path.join(process.env.GANTRY_TEST_LOG_DIR, `${started}-${args[0]}.log`), `${args.join(' ')}\nexit ${code}\n${stderr}\n${stdout}`);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    }),
  );
  return Object.assign(done, { child });
}

const deploy = (extra: string[] = [], cfg: object = config()) => gantry(['deploy', '--env', 'staging', '--image', image, ...extra], { config: cfg });

/**
 * One GET on a new connection. fetch() keeps connections alive, and a kept connection stays
 * with the pod it was first routed to, even after that pod left the Service: this test app,
 * like any Node app run as PID 1 without a SIGTERM handler, keeps serving until it is killed.
 */
function getFresh(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Waits until the Service, through kube-proxy, answers `expected` as a client in the cluster
 * would see it, and returns what it answered last. kube-proxy follows an endpoint change within
 * about a second, so right after a rollout the previous version may still answer once.
 */
async function answer(expected: string, seconds = 15, namespace = ns): Promise<string> {
  const ip = kubectl(['-n', namespace, 'get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}']).trim();
  let last = '';
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      last = await getFresh(`http://${ip}:80/`);
      if (last === expected) return last;
    } catch (error) {
      last = String(error);
    }
    await new Promise((res) => setTimeout(res, 300));
  }
  // What the cluster looked like, so a failed expectation shows why.
  const state = [
    kubectl(['-n', namespace, 'get', 'pods', '-o', 'wide']),
    kubectl([
      '-n',
      namespace,
      'get',
      'endpointslices',
      '-o',
      'jsonpath={range .items[*].endpoints[*]}{.targetRef.name} {.addresses[0]} ready={.conditions.ready} terminating={.conditions.terminating}{"\\n"}{end}',
    ]),
  ].join('\n');
  return `${last}\n--- cluster state:\n${state}`;
}

const revision = () => Number(kubectl(['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}']));

/** The revision whose pod template runs VERSION and MODE, read from the ConfigMap it names. */
function revisionRunning(version: string, mode: string): number {
  const sets = JSON.parse(kubectl(['-n', ns, 'get', 'replicasets', '-o', 'json'])).items as {
    metadata: { annotations: Record<string, string> };
    spec: { template: { spec: { containers: { envFrom: { configMapRef?: { name: string } }[] }[] } } };
  }[];
  const matching = sets.filter((rs) => {
    const cm = rs.spec.template.spec.containers[0]!.envFrom.find((e) => e.configMapRef)!.configMapRef!.name;
    const data = JSON.parse(kubectl(['-n', ns, 'get', 'configmap', cm, '-o', 'json'])).data as Record<string, string>;
    return data.VERSION === version && data.MODE === mode;
  });
  return Math.max(...matching.map((rs) => Number(rs.metadata.annotations['deployment.kubernetes.io/revision'])));
}

/**
 * The job log (stdout and stderr, as GitLab shows both) holds the failure's report once: the
 * cause (the report's one-line message), each line of its evidence, and the fix.
 */
function expectReportedOnce(run: Run, code: string): void {
  const log = `${run.stdout}\n${run.stderr}`;
  const times = (text: string) => log.split(text).length - 1;
  const lines = run.stderr.split('\n');
  const head = lines.findIndex((l) => l.startsWith(`error ${code}: `));
  expect(head).toBeGreaterThanOrEqual(0);
  const fixAt = lines.findIndex((l, i) => i > head && l.startsWith('fix: '));
  expect(fixAt).toBeGreaterThan(head + 1);
  const message = lines[head]!.slice(`error ${code}: `.length);
  const evidence = lines.slice(head + 1, fixAt).map((l) => l.trim());
  const fix = lines[fixAt]!.slice('fix: '.length);
  const counted = [message, ...evidence, fix].map((text) => ({ text, times: times(text) }));
  expect(counted).toEqual([message, ...evidence, fix].map((text) => ({ text, times: 1 })));
}

function expectNoSecret(run: Run): void {
  const auth = registryAuth();
  for (const text of [run.stdout, run.stderr]) {
    expect(text).not.toContain(secretValue);
    expect(text).not.toContain(auth.password);
    expect(text).not.toContain(Buffer.from(secretValue).toString('base64'));
  }
}

/**
 * Builds the app image and pushes it to the htpasswd registry, so only the pull secret lets the
 * kubelet pull it; returns it by digest. Another `stamp` makes an image no node has pulled yet
 * (a digest already on the node is not pulled again, so it could not fail to pull).
 */
function pushAppImage(repository: string, stamp = '1'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-deploy-app-'));
  writeFileSync(path.join(dir, 'server.js'), server);
  writeFileSync(path.join(dir, 'stamp'), stamp);
  writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${nodeBaseImage}\nCOPY server.js stamp /app/\nUSER 1000\nCMD ["node", "/app/server.js"]\n`);
  const tag = `${authRegistry}/${repository}:${stamp}`;
  const dockerConfig = mkdtempSync(path.join(tmpdir(), 'gantry-docker-config-'));
  const docker = (args: string[], input?: string) => dockerOk(args, { input, env: { ...process.env, DOCKER_CONFIG: dockerConfig } });
  try {
    const auth = registryAuth();
    docker(['login', authRegistry, '-u', auth.user, '--password-stdin'], auth.password);
    docker(['build', '-q', '-t', tag, dir]);
    docker(['push', '-q', tag]);
    const digest = JSON.parse(docker(['image', 'inspect', tag]))[0]
      .RepoDigests.find((d: string) => d.startsWith(`${authRegistry}/`))
      .split('@')[1];
    return `${authRegistry}/${repository}@${digest}`;
  } finally {
    rmSync(dockerConfig, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubeconfig = namespacedKubeconfig(ns);
  image = pushAppImage(`${ns}/web`);
  repo = mkdtempSync(path.join(tmpdir(), 'gantry-deploy-repo-'));
}, 120_000);

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
});

describe('gantry deploy on the real cluster', () => {
  test('a good deploy applies, waits until the new version serves, and reports its URL and revision; secrets stay out of the log', async () => {
    const run = await gantry(['deploy', '--env', 'staging', '--image', image, '--dotenv', 'deploy.env'], { config: config() });
    expect(run.stderr).not.toMatch(/E_[A-Z_]+:/);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ environment: 'staging', namespace: ns, image, revision: 1 });
    expect(readFileSync(path.join(repo, 'deploy.env'), 'utf8')).toContain(`GANTRY_IMAGE=${image}`);
    expect(await answer('version 1 token set\n')).toBe('version 1 token set\n');
    // The Secret made of K8S_SECRET_* holds the value; the pull secret is there for the registry.
    expect(Buffer.from(kubectl(['-n', ns, 'get', 'secret', 'web-secrets', '-o', 'jsonpath={.data.API_TOKEN}']), 'base64').toString()).toBe(secretValue);
    expect(kubectl(['-n', ns, 'get', 'secret', 'gantry-registry', '-o', 'jsonpath={.type}'])).toBe('kubernetes.io/dockerconfigjson');
    // Everything is owned by the "gantry" field manager (server-side apply).
    expect(kubectl(['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.metadata.managedFields[*].manager}'])).toContain('gantry');
    expectNoSecret(run);
    // A second deploy of the same thing changes nothing and is a new revision of nothing.
    const again = await deploy();
    expect(again.code).toBe(0);
    expect(revision()).toBe(1);
    // A changed K8S_SECRET_ value changes the pod template's checksum: the pods roll.
    const rotated = await gantry(['deploy', '--env', 'staging', '--image', image], { env: { K8S_SECRET_API_TOKEN: `${secretValue}-rotated` } });
    expect(rotated.code).toBe(0);
    expect(revision()).toBe(2);
    expect(rotated.stderr).not.toContain(`${secretValue}-rotated`);
    const back = await deploy();
    expect(back.code).toBe(0);
    expect(await answer('version 1 token set\n')).toBe('version 1 token set\n');
  }, 180_000);

  const failures: [string, () => Promise<Run>, string, RegExp][] = [
    [
      'a container that exits 1',
      () => deploy([], config({ env: { MODE: 'crash', VERSION: '2' } })),
      'E_ROLLOUT_CRASHLOOP',
      /boom: cannot connect to the database/,
    ],
    [
      'a tag that does not exist',
      () => gantry(['deploy', '--env', 'staging', '--image', `${authRegistry}/${ns}/web:does-not-exist`], { config: config({ env: { VERSION: '2' } }) }),
      'E_ROLLOUT_IMAGE_PULL',
      /does-not-exist/,
    ],
    [
      'a secretKeyRef to a missing key',
      () => deploy([], config({ env: { VERSION: '2', DB_PASSWORD: { secret: 'web-secrets', key: 'NO_SUCH_KEY' } } })),
      'E_ROLLOUT_CONFIG',
      /NO_SUCH_KEY/,
    ],
    [
      'requests of 64 CPUs',
      () => deploy([], config({ env: { VERSION: '2' }, resources: { requests: { cpu: '64', memory: '32Mi' }, limits: { cpu: '64', memory: '128Mi' } } })),
      'E_ROLLOUT_UNSCHEDULABLE',
      /cpu/i,
    ],
    ['a readiness path returning 500', () => deploy([], config({ env: { MODE: 'unready', VERSION: '2' } })), 'E_ROLLOUT_READINESS', /500/],
  ];

  test.each(failures)(
    '%s fails fast with its code and evidence, rolls back, and the previous version answers again',
    async (_name, run, code, evidence) => {
      const before = revision();
      const r = await run();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(code);
      expect(r.stderr).toMatch(evidence);
      expect(r.stderr).toMatch(/rollback to revision \d+/);
      expect(r.stderr).toContain('the previous version is serving again');
      expect(JSON.parse(r.stdout)).toMatchObject({ failed: code, rolledBackTo: before });
      expect(await answer('version 1 token set\n')).toBe('version 1 token set\n');
      expectNoSecret(r);
      expectReportedOnce(r, code);
      // Detected within seconds, not the progress deadline (measured in bench/deploy.mjs).
      expect(r.seconds).toBeLessThan(120);
    },
    240_000,
  );

  test('--no-rollback leaves the failed revision for inspection', async () => {
    const before = revision();
    const r = await deploy(['--no-rollback'], config({ env: { MODE: 'crash', VERSION: '3' } }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_ROLLOUT_CRASHLOOP');
    expectReportedOnce(r, 'E_ROLLOUT_CRASHLOOP');
    expect(revision()).toBe(before + 1);
    // The old pods keep serving (maxUnavailable 0): the broken revision never took over.
    expect(await answer('version 1 token set\n')).toBe('version 1 token set\n');
  }, 180_000);

  test('history lists revisions with image and commit; rollback --to brings one back and tracks it', async () => {
    const commit = 'c0ffee'.padEnd(40, '0');
    const pipelineUrl = 'https://gitlab.example.com/acme/web/-/pipelines/4242';
    const v2 = await gantry(['deploy', '--env', 'staging', '--image', image], {
      config: config({ env: { VERSION: '2' } }),
      env: { CI: 'true', CI_COMMIT_SHA: commit, CI_COMMIT_REF_NAME: 'k8s-backend', CI_PIPELINE_URL: pipelineUrl, GITLAB_USER_LOGIN: 'alice' },
    });
    expect(v2.code).toBe(0);
    const v2revision = revision();
    expect(await answer('version 2 token set\n')).toBe('version 2 token set\n');
    const h = await gantry(['history', '--env', 'staging']);
    expect(h.code).toBe(0);
    const { revisions } = JSON.parse(h.stdout) as {
      revisions: { revision: number; images: string[]; current: boolean; commit?: string; pipelineUrl?: string; deployedBy?: string }[];
    };
    expect(revisions.length).toBeGreaterThanOrEqual(3);
    expect(revisions.filter((r) => r.current)).toHaveLength(1);
    expect(revisions.every((r) => r.images.length > 0)).toBe(true);
    // The newest revision says which commit, pipeline and person deployed it.
    expect(revisions.find((r) => r.current)).toMatchObject({ revision: v2revision, commit, pipelineUrl, deployedBy: 'alice' });
    // The revision that ran version 1 (its env is its own immutable ConfigMap).
    const v1 = revisionRunning('1', 'ok');
    expect(revisions.map((r) => r.revision)).toContain(v1);
    const toV1 = await gantry(['rollback', '--env', 'staging', '--to', String(v1)]);
    expect(toV1.code).toBe(0);
    expect(await answer('version 1 token set\n')).toBe('version 1 token set\n');
    // Without --to: the revision before the current one, which ran version 2.
    const back = await gantry(['rollback', '--env', 'staging']);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ ok: true, to: v2revision });
    expect(await answer('version 2 token set\n')).toBe('version 2 token set\n');
  }, 240_000);

  test('scale sets the replicas within backend.maxReplicas and waits for them', async () => {
    const up = await gantry(['scale', '--env', 'staging', '--replicas', '3']);
    expect(up.code).toBe(0);
    expect(kubectl(['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}'])).toBe('3');
    const tooMany = await gantry(['scale', '--env', 'staging', '--replicas', '4']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('backend.maxReplicas');
  }, 120_000);

  test('an object the API server refuses fails the dry run: nothing at all is applied', async () => {
    const before = revision();
    // A Service port out of range passes the template but not the API server's validation.
    mkdirSync(path.join(repo, 'deploy'), { recursive: true });
    writeFileSync(
      path.join(repo, 'deploy', 'svc.yaml.hbs'),
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: {{y environment.namespace}}\n  labels: {{json labels}}\n  annotations: {{json annotations}}\nspec:\n  selector: {{json selector}}\n  ports: [{ name: http, port: 70000, targetPort: http }]\n',
    );
    try {
      const r = await deploy([], config({ env: { VERSION: '9' } }));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('E_APPLY_INVALID');
      expect(r.stderr).toMatch(/service\/web/i);
    } finally {
      rmSync(path.join(repo, 'deploy'), { recursive: true, force: true });
    }
    expect(revision()).toBe(before);
    // Not even the new ConfigMap, valid as it is, was created.
    const versions = (JSON.parse(kubectl(['-n', ns, 'get', 'configmaps', '-o', 'json'])).items as { data?: Record<string, string> }[]).map(
      (c) => c.data?.VERSION,
    );
    expect(versions).not.toContain('9');
  }, 120_000);

  test('two deploys at once do not interleave: the second waits for the lease and says who holds it', async () => {
    let firstDone = 0;
    let secondApplied = 0;
    const first = gantry(['deploy', '--env', 'staging', '--image', image], { config: config({ env: { VERSION: '4' } }) });
    await new Promise((r) => setTimeout(r, 1500));
    const second = gantry(['deploy', '--env', 'staging', '--image', image], {
      env: { CI_JOB_URL: 'https://gitlab.example.com/acme/web/-/jobs/2' },
      onStderr: (t) => {
        if (/apply \d+ objects/.test(t) && !secondApplied) secondApplied = Date.now();
      },
    });
    const a = await first;
    firstDone = Date.now();
    const b = await second;
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(b.stderr).toContain('waiting for the deploy lease');
    expect(secondApplied).toBeGreaterThanOrEqual(firstDone - 1000);
  }, 240_000);

  test('a deploy killed midway is converged by the next run', async () => {
    const killed = gantry(['deploy', '--env', 'staging', '--image', image], {
      config: config({ env: { VERSION: '5' } }),
      env: { GANTRY_DEPLOY_LEASE_SECONDS: '15' },
      onStderr: (t) => {
        if (/ready \d\/\d/.test(t)) killed.child.kill('SIGKILL');
      },
    });
    const k = await killed;
    expect(k.code).toBeNull();
    const rerun = await gantry(['deploy', '--env', 'staging', '--image', image], { env: { GANTRY_DEPLOY_LEASE_SECONDS: '15' } });
    expect(rerun.code).toBe(0);
    expect(await answer('version 5 token set\n')).toBe('version 5 token set\n');
    // Env ConfigMaps are kept exactly as long as a kept revision names them.
    const sets = JSON.parse(kubectl(['-n', ns, 'get', 'replicasets', '-o', 'json'])).items as {
      spec: { template: { spec: { containers: { envFrom: { configMapRef?: { name: string } }[] }[] } } };
    }[];
    const named = new Set(sets.map((rs) => rs.spec.template.spec.containers[0]!.envFrom.find((e) => e.configMapRef)!.configMapRef!.name));
    const configMaps = (
      JSON.parse(kubectl(['-n', ns, 'get', 'configmaps', '-l', 'app.kubernetes.io/name=web', '-o', 'json'])).items as { metadata: { name: string } }[]
    ).map((c) => c.metadata.name);
    expect(configMaps.sort()).toEqual([...named].sort());
  }, 240_000);
});

// A job re-run after its cause was fixed (issue #11): the same job (same image, same gantry.yaml)
// run again once the cause is fixed must pass, whatever the failed run left behind: the previous
// revision rolled back in (the default), or the failing pods themselves (--no-rollback, or a first
// deploy with nothing to roll back to), whose old ErrImagePull or CreateContainerConfigError is no
// verdict on this run. Each case is a failed run, the fix, and the re-run.
describe('a job re-run after its cause was fixed passes', () => {
  const rns = `gt-retry-${process.pid}`;
  let rkubeconfig = '';
  let rrepo = '';
  /** The registry credentials are not set: Gantry creates no pull secret. */
  const noCredentials = { GANTRY_REGISTRY_USER: '', GANTRY_REGISTRY_PASSWORD: '' };
  const seconds: Record<string, number> = {};

  const rconfig = (env: Record<string, unknown>) => config({ namespace: rns, env });
  const run = (img: string, extra: string[], cfg: object, env: Record<string, string> = {}) =>
    gantry(['deploy', '--env', 'staging', '--image', img, ...extra], { config: cfg, env, cwd: rrepo, kubeconfig: rkubeconfig });
  const rrevision = () =>
    Number(kubectl(['-n', rns, 'get', 'deployment', 'web', '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}']));
  const passed = (r: Run) => {
    if (r.code !== 0) throw new Error(`the re-run failed (exit ${r.code}, ${r.seconds} s):\n${r.stderr}\n${r.stdout}`);
  };
  const serves = async (version: string) => expect(await answer(`version ${version} token set\n`, 20, rns)).toBe(`version ${version} token set\n`);

  beforeAll(() => {
    kubectl(['create', 'namespace', rns]);
    rkubeconfig = namespacedKubeconfig(rns);
    rrepo = mkdtempSync(path.join(tmpdir(), 'gantry-retry-repo-'));
    // A Secret the team manages themselves, which the app reads a key of (DB_PASSWORD below).
    kubectl(['-n', rns, 'create', 'secret', 'generic', 'db', '--from-literal=user=app']);
  });

  afterAll(() => {
    kubectlResult(['delete', 'namespace', rns, '--wait=false']);
    process.stderr.write(`retry: seconds per run ${JSON.stringify(seconds)}\n`);
  });

  test('a missing pull secret on the first deploy (nothing to roll back to): the re-run with the registry credentials set passes', async () => {
    const img = pushAppImage(`${rns}/web`, 'first');
    const failed = await run(img, [], rconfig({ VERSION: '1' }), noCredentials);
    seconds.pullFirstFailed = failed.seconds;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('E_ROLLOUT_IMAGE_PULL');
    expect(failed.stderr).toContain('this was the first deploy: there is no previous revision to roll back to');
    const rerun = await run(img, [], rconfig({ VERSION: '1' }));
    seconds.pullFirstRerun = rerun.seconds;
    passed(rerun);
    // The Deployment was unchanged and its pods were failing: they were given a fresh start.
    expect(rerun.stderr).toMatch(/pods of revision 1 are failing \(E_ROLLOUT_IMAGE_PULL\) from before this deploy: restarting them/);
    expect(kubectl(['-n', rns, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.template.metadata.annotations}'])).toContain(
      'kubectl.kubernetes.io/restartedAt',
    );
    await serves('1');
  }, 300_000);

  test('a missing pull secret with a previous revision: the failed run rolls back, the re-run with the credentials set passes', async () => {
    const before = rrevision();
    kubectl(['-n', rns, 'delete', 'secret', 'gantry-registry', '--ignore-not-found']);
    const img = pushAppImage(`${rns}/web`, 'second');
    const failed = await run(img, [], rconfig({ VERSION: '2' }), noCredentials);
    seconds.pullRollbackFailed = failed.seconds;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('E_ROLLOUT_IMAGE_PULL');
    expect(failed.stderr).toContain('the previous version is serving again');
    expect(JSON.parse(failed.stdout)).toMatchObject({ rolledBackTo: before });
    const rerun = await run(img, [], rconfig({ VERSION: '2' }));
    seconds.pullRollbackRerun = rerun.seconds;
    passed(rerun);
    await serves('2');
  }, 300_000);

  test('--no-rollback and a missing pull secret: the failing pods stay, the re-run with the credentials set passes', async () => {
    const before = rrevision();
    kubectl(['-n', rns, 'delete', 'secret', 'gantry-registry', '--ignore-not-found']);
    const img = pushAppImage(`${rns}/web`, 'third');
    const failed = await run(img, ['--no-rollback'], rconfig({ VERSION: '3' }), noCredentials);
    seconds.pullNoRollbackFailed = failed.seconds;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('E_ROLLOUT_IMAGE_PULL');
    expect(rrevision()).toBe(before + 1);
    const rerun = await run(img, ['--no-rollback'], rconfig({ VERSION: '3' }));
    seconds.pullNoRollbackRerun = rerun.seconds;
    passed(rerun);
    expect(rerun.stderr).toMatch(/are failing \(E_ROLLOUT_IMAGE_PULL\) from before this deploy: restarting them/);
    await serves('3');
  }, 300_000);

  const withDbPassword = (version: string) => rconfig({ VERSION: version, DB_PASSWORD: { secret: 'db', key: 'password' } });
  const image3 = () => kubectl(['-n', rns, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);

  test('a missing Secret key: the failed run rolls back, the key is added, the re-run passes', async () => {
    const img = image3();
    const before = rrevision();
    const failed = await run(img, [], withDbPassword('4'));
    seconds.keyRollbackFailed = failed.seconds;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('E_ROLLOUT_CONFIG');
    expect(JSON.parse(failed.stdout)).toMatchObject({ rolledBackTo: before });
    kubectl(['-n', rns, 'patch', 'secret', 'db', '-p', JSON.stringify({ stringData: { password: 'hunter2-db' } })]);
    const rerun = await run(img, [], withDbPassword('4'));
    seconds.keyRollbackRerun = rerun.seconds;
    passed(rerun);
    await serves('4');
  }, 300_000);

  test('--no-rollback and a missing Secret key: the failing pods stay, the key is added, the re-run passes', async () => {
    const img = image3();
    kubectl(['-n', rns, 'patch', 'secret', 'db', '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/data/password' }])]);
    const failed = await run(img, ['--no-rollback'], withDbPassword('5'));
    seconds.keyNoRollbackFailed = failed.seconds;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('E_ROLLOUT_CONFIG');
    kubectl(['-n', rns, 'patch', 'secret', 'db', '-p', JSON.stringify({ stringData: { password: 'hunter2-db' } })]);
    const rerun = await run(img, ['--no-rollback'], withDbPassword('5'));
    seconds.keyNoRollbackRerun = rerun.seconds;
    passed(rerun);
    expect(rerun.stderr).toMatch(/are failing \(E_ROLLOUT_CONFIG\) from before this deploy: restarting them/);
    await serves('5');
  }, 300_000);
});
