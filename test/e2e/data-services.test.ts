// Apps with data (issue #14) on the real local cluster, told as a team lives with them, with the
// built CLI spawned as a CI job runs it: a merge request preview of examples/data-app gets its own
// MySQL, PostgreSQL, MongoDB and Redis, seeded once, answering with their data; a second deploy
// keeps the data and the passwords; the stop removes it all. A staging deploy binds to a
// "managed" MariaDB in another namespace (by its ClusterIP: the cluster has no DNS), passes the
// reachability check, fails within 20 s when the port is wrong or the packets are dropped, and
// stops on a failing migration, each time with the running version untouched. No password
// appears in any output. Every name carries gte14-<pid>, so every namespace is this run's own.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import {
  authRegistry,
  kubectl,
  kubectlResult,
  namespacedKubeconfig,
  nodeBaseImage,
  registryAuth,
  requireCluster,
  reviewDeployerKubeconfig,
  dropPortInPod,
} from '../support/cluster.js';
import { parseDotenv, repoRoot } from '../support/fixtures.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const run = `${process.pid}`;
const app = `gte14-${run}`;
const MR = 901;
const previewNs = `${app}-mr-${MR}`;
const stagingNs = `${app}-stg`;
const managedNs = `${app}-rds`; // where the "managed database" runs
const mariadb = '127.0.0.1:5000/gantry/mariadb:10.11';
// The managed database's credentials, as a team would keep them in a masked CI variable.
const managed = { user: 'shop', password: `Mdb${randomBytes(9).toString('hex')}`, root: `Root${randomBytes(9).toString('hex')}`, database: 'shop' };
const sha = randomBytes(20).toString('hex');
const times: string[] = [];
// Every stdout and stderr of every CLI run of this file, for the last story.
const outputs: string[] = [];
// Every password the suite saw: the instances', the managed database's, the registry's.
const passwords = new Set<string>();

let reviewDeployer: ReturnType<typeof reviewDeployerKubeconfig>;
let stagingKubeconfig = '';
let previewRepo = '';
let stagingRepo = '';
let image = '';
let managedIP = ''; // the managed database's Service ClusterIP
let managedPodIP = '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** ms since the start of the run at which each watched text first appeared on stderr. */
  seen: Map<string, number>;
}

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|KUBECONFIG|K8S_SECRET|STAGING)/.test(k)));

function gantry(args: string[], cwd: string, env: Record<string, string> = {}, watch: string[] = []): Promise<Run> {
  const auth = registryAuth();
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd,
    env: {
      ...cleanEnv(),
      CI_COMMIT_SHA: sha,
      CI_COMMIT_SHORT_SHA: sha.slice(0, 8),
      CI_COMMIT_BRANCH: 'main',
      GANTRY_REGISTRY_USER: auth.user,
      GANTRY_REGISTRY_PASSWORD: auth.password,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const seen = new Map<string, number>();
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => {
    stderr += c;
    for (const w of watch) if (!seen.has(w) && stderr.includes(w)) seen.set(w, Date.now() - started);
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 200_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      outputs.push(`$ gantry ${args.join(' ')}\n${stdout}\n${stderr}`);
      if (process.env.GANTRY_TEST_LOG_DIR)
        writeFileSync(path.join(process.env.GANTRY_TEST_LOG_DIR, `${started}-${args[0]}.log`), `${args.join(' ')}\nexit ${code}\n${stderr}\n${stdout}`);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000, seen });
    }),
  );
}

const b64 = (file: string) => Buffer.from(readFileSync(file)).toString('base64');
const reviewEnv = () => ({ KUBECONFIG_STAGING: b64(reviewDeployer.file) });
const stagingEnv = (url: string) => ({ KUBECONFIG_STAGING: b64(stagingKubeconfig), STAGING_MYSQL_URL: url });
const managedUrl = (host = managedIP, port = 3306) => `mysql://${managed.user}:${managed.password}@${host}:${port}/${managed.database}`;
const deployPreview = () => gantry(['deploy', '--env', 'review', '--mr', String(MR), '--image', image], previewRepo, reviewEnv());
const deployStaging = (url: string, watch: string[] = []) => gantry(['deploy', '--env', 'staging', '--image', image], stagingRepo, stagingEnv(url), watch);
const namespaceExists = (name: string) => kubectlResult(['get', 'namespace', name]).code === 0;
const secretKey = (namespace: string, name: string, key: string) =>
  Buffer.from(kubectl(['-n', namespace, 'get', 'secret', name, '-o', `jsonpath={.data.${key.replaceAll('-', '\\-')}}`]).trim(), 'base64').toString('utf8');
const revision = (namespace: string) =>
  kubectl(['-n', namespace, 'get', 'deployment', app, '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}']).trim();

/** One request on a new connection (agent: false): a kept-alive socket could reach a pod now gone. */
function request(method: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function appUrl(namespace: string): string {
  const svc = JSON.parse(kubectl(['-n', namespace, 'get', 'service', app, '-o', 'json'])) as { spec: { clusterIP: string; ports: { port: number }[] } };
  return `http://${svc.spec.clusterIP}:${svc.spec.ports[0]!.port}`;
}

/** GET until it answers 200 (kube-proxy follows a new endpoint within about a second); the parsed JSON. */
async function getJson(namespace: string, pathName: string, seconds = 20): Promise<Record<string, unknown>> {
  const url = `${appUrl(namespace)}${pathName}`;
  const until = Date.now() + seconds * 1000;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await request('GET', url);
      if (r.status === 200) return JSON.parse(r.body) as Record<string, unknown>;
      last = `${r.status} ${r.body}`;
    } catch (error) {
      last = String(error);
    }
    await sleep(300);
  }
  throw new Error(`GET ${url} did not answer 200 within ${seconds} s; last: ${last}\n${kubectl(['-n', namespace, 'get', 'pods', '-o', 'wide'])}`);
}

/** The managed database: MariaDB in its own namespace, seeded with the example's SQL, behind a Service. */
function createManagedDatabase(): void {
  kubectl(['create', 'namespace', managedNs]);
  const labels = { app: 'mdb' };
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'mdb', namespace: managedNs },
          stringData: { MYSQL_ROOT_PASSWORD: managed.root, MYSQL_USER: managed.user, MYSQL_PASSWORD: managed.password, MYSQL_DATABASE: managed.database },
        },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'mdb-seed', namespace: managedNs },
          data: { 'seed.sql': readFileSync(path.join(repoRoot, 'examples', 'data-app', 'db', 'mysql-seed.sql'), 'utf8') },
        },
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'mdb', namespace: managedNs, labels },
          spec: {
            terminationGracePeriodSeconds: 0,
            containers: [
              {
                name: 'mariadb',
                image: mariadb,
                envFrom: [{ secretRef: { name: 'mdb' } }],
                ports: [{ containerPort: 3306 }],
                readinessProbe: { tcpSocket: { port: 3306 }, periodSeconds: 1 },
                resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                volumeMounts: [
                  { name: 'data', mountPath: '/var/lib/mysql' },
                  { name: 'seed', mountPath: '/docker-entrypoint-initdb.d', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'data', emptyDir: {} },
              { name: 'seed', configMap: { name: 'mdb-seed' } },
            ],
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'mdb', namespace: managedNs },
          spec: { selector: labels, ports: [{ port: 3306, targetPort: 3306 }] },
        },
      ],
    }),
  });
}

function stagingConfig(services: Record<string, unknown>, migrate = 'npm run migrate', version = 'staging-1') {
  return YAML.stringify({
    app,
    registry: { pushHost: authRegistry, pullHost: authRegistry, namespace: app },
    services: { mysql: { kind: 'mysql', version: '10.11', env: { url: 'MYSQL_URL' } } },
    backend: {
      port: 3000,
      healthPath: '/healthz',
      replicas: 1,
      migrate,
      migrateTimeout: 120,
      env: { APP_VERSION: version },
      resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    },
    environments: { staging: { kubeconfig: 'KUBECONFIG_STAGING', namespace: stagingNs, branch: 'main', services } },
  });
}

beforeAll(async () => {
  requireCluster();
  const auth = registryAuth();
  passwords.add(auth.password);
  passwords.add(managed.password);
  passwords.add(managed.root);
  // The managed database starts first: MariaDB's first start takes a while, the build hides it.
  createManagedDatabase();
  kubectl(['create', 'namespace', stagingNs]);
  stagingKubeconfig = namespacedKubeconfig(stagingNs);
  reviewDeployer = reviewDeployerKubeconfig(`gte14-${run}`);

  const example = YAML.parse(readFileSync(path.join(repoRoot, 'examples', 'data-app', 'gantry.yaml'), 'utf8')) as Record<string, any>;
  example.app = app;
  example.registry = { pushHost: authRegistry, pullHost: authRegistry, namespace: app };
  example.backend.buildArgs = { NODE_IMAGE: nodeBaseImage };
  example.backend.resources = { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } };
  previewRepo = exampleRepo({ from: path.join(repoRoot, 'examples', 'data-app'), files: { 'gantry.yaml': YAML.stringify(example) } });
  stagingRepo = exampleRepo({
    from: path.join(repoRoot, 'examples', 'data-app'),
    files: { 'gantry.yaml': stagingConfig({ mysql: { variable: 'STAGING_MYSQL_URL' } }) },
  });

  // One image for the whole file, built once into the htpasswd registry, deployed by digest.
  const build = await gantry(['build', '--dotenv', 'build.env'], previewRepo);
  times.push(`build: ${build.seconds.toFixed(1)} s`);
  if (build.code !== 0) throw new Error(`gantry build failed (exit ${build.code}):\n${build.stderr}`);
  image = parseDotenv(readFileSync(path.join(previewRepo, 'build.env'), 'utf8')).GANTRY_IMAGE!;
  expect(image).toMatch(new RegExp(`^${authRegistry.replace(/\./g, '\\.')}/${app}/${app}@sha256:[0-9a-f]{64}$`));

  kubectl(['-n', managedNs, 'wait', '--for=condition=Ready', 'pod/mdb', '--timeout=120s']);
  managedIP = kubectl(['-n', managedNs, 'get', 'service', 'mdb', '-o', 'jsonpath={.spec.clusterIP}']).trim();
  managedPodIP = kubectl(['-n', managedNs, 'get', 'pod', 'mdb', '-o', 'jsonpath={.status.podIP}']).trim();
}, 240_000);

afterAll(() => {
  for (const name of [previewNs, stagingNs, managedNs]) kubectlResult(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
  reviewDeployer?.remove();
  console.log(`data services timings:\n  ${times.join('\n  ')}`);
}, 60_000);

describe('a merge request preview with its own databases', () => {
  const note = `note-${run}`;

  test('a merge request preview of an app with MySQL, PostgreSQL, MongoDB and Redis answers with data from its seeds', async () => {
    const deploy = await deployPreview();
    times.push(`preview deploy: ${deploy.seconds.toFixed(1)} s`);
    console.log(`preview deploy (4 instances, 2 seed files, 2 seed commands, migration, rollout): ${deploy.seconds.toFixed(1)} s`);
    expect({ code: deploy.code, stderr: deploy.code === 0 ? '' : deploy.stderr }).toEqual({ code: 0, stderr: '' });
    expect(deploy.seconds).toBeLessThan(90);
    for (const name of ['mysql', 'pg', 'mongo', 'cache']) {
      passwords.add(secretKey(previewNs, `${app}-${name}`, 'password'));
    }
    passwords.add(secretKey(previewNs, `${app}-mysql`, 'root-password'));
    expect([...passwords].every((p) => p.length >= 8)).toBe(true);

    const seeds = await getJson(previewNs, '/');
    expect(JSON.stringify(seeds.mysql)).toContain('hello from the mysql seed');
    expect(JSON.stringify(seeds.postgresql)).toContain('hello from the postgres seed');
    expect(JSON.stringify(seeds.mongodb)).toContain('hello from the mongodb seed');
    expect(seeds.redis).toMatchObject({ 'greeting:1': 'hello from the redis seed' });

    const posted = await request('POST', `${appUrl(previewNs)}/notes?text=${note}`);
    expect(posted.status).toBe(201);
    const notes = await getJson(previewNs, '/notes');
    for (const kind of ['mysql', 'postgresql', 'mongodb', 'redis']) expect(JSON.stringify(notes[kind])).toContain(note);
  }, 150_000);

  test('a second deploy keeps the instances data and passwords and does not seed again', async () => {
    const password = secretKey(previewNs, `${app}-mysql`, 'password');
    const deploy = await deployPreview();
    times.push(`second preview deploy: ${deploy.seconds.toFixed(1)} s`);
    expect({ code: deploy.code, stderr: deploy.code === 0 ? '' : deploy.stderr }).toEqual({ code: 0, stderr: '' });
    for (const name of ['mongo', 'cache']) expect(deploy.stderr).toContain(`service ${name} was seeded when it was made: its seed command is not run again`);
    for (const name of ['mysql', 'pg', 'mongo', 'cache']) expect(deploy.stderr).toMatch(new RegExp(`service ${name} \\(\\w+, statefulset/[\\w-]+\\) is ready`));
    expect(secretKey(previewNs, `${app}-mysql`, 'password')).toBe(password);
    const notes = await getJson(previewNs, '/notes');
    for (const kind of ['mysql', 'postgresql', 'mongodb', 'redis']) expect(JSON.stringify(notes[kind])).toContain(note);
  }, 120_000);

  test('gantry stop removes the preview instances and their Secrets', async () => {
    const stop = await gantry(['stop', '--env', 'review', '--mr', String(MR)], previewRepo, reviewEnv());
    times.push(`stop: ${stop.seconds.toFixed(1)} s`);
    expect({ code: stop.code, stderr: stop.code === 0 ? '' : stop.stderr }).toEqual({ code: 0, stderr: '' });
    expect(namespaceExists(previewNs)).toBe(false);
    expect(kubectlResult(['-n', previewNs, 'get', 'statefulsets', '-o', 'name']).stdout.trim()).toBe('');
    expect(kubectlResult(['-n', previewNs, 'get', 'secret', `${app}-mysql`]).code).not.toBe(0);
  }, 90_000);
});

describe('staging bound to a managed database outside the namespace', () => {
  const note = `staging-note-${run}`;

  test('a production-style deploy bound to a managed database outside the namespace passes the reachability check', async () => {
    const deploy = await deployStaging(managedUrl());
    times.push(`staging deploy (variable binding): ${deploy.seconds.toFixed(1)} s`);
    expect({ code: deploy.code, stderr: deploy.code === 0 ? '' : deploy.stderr }).toEqual({ code: 0, stderr: '' });
    expect(deploy.stderr).toContain(`checking from namespace ${stagingNs} that the services answer: mysql`);
    expect(deploy.stderr).toMatch(new RegExp(`every service answers from ${stagingNs} \\([\\d.]+ s\\): mysql \\d+ ms`));
    const seeds = await getJson(stagingNs, '/');
    expect(JSON.stringify(seeds.mysql)).toContain('hello from the mysql seed');
    expect(seeds.version).toBe('staging-1');
    const posted = await request('POST', `${appUrl(stagingNs)}/notes?text=${note}`);
    expect(posted.status).toBe(201);
    expect(JSON.stringify((await getJson(stagingNs, '/notes')).mysql)).toContain(note);
    // The migration ran against the managed database and recorded itself.
    expect(deploy.stderr).toMatch(/migration/);
  }, 120_000);

  test('the same managed database bound through a Secret in the app namespace', async () => {
    kubectl(['-n', stagingNs, 'create', 'secret', 'generic', 'rds-mysql', `--from-literal=url=${managedUrl()}`]);
    writeFileSync(path.join(stagingRepo, 'gantry.yaml'), stagingConfig({ mysql: { secret: 'rds-mysql', key: 'url' } }));
    try {
      const deploy = await deployStaging('');
      times.push(`staging deploy (Secret binding): ${deploy.seconds.toFixed(1)} s`);
      expect({ code: deploy.code, stderr: deploy.code === 0 ? '' : deploy.stderr }).toEqual({ code: 0, stderr: '' });
      expect(deploy.stderr).toMatch(new RegExp(`every service answers from ${stagingNs}`));
      expect(JSON.stringify((await getJson(stagingNs, '/notes')).mysql)).toContain(note);
    } finally {
      writeFileSync(path.join(stagingRepo, 'gantry.yaml'), stagingConfig({ mysql: { variable: 'STAGING_MYSQL_URL' } }));
    }
  }, 120_000);

  const checkStart = `checking from namespace ${stagingNs} that the services answer`;

  async function unreachable(url: string) {
    const before = revision(stagingNs);
    const deploy = await deployStaging(url, [checkStart]);
    const started = deploy.seen.get(checkStart);
    const fromCheck = started === undefined ? Number.NaN : (deploy.seconds * 1000 - started) / 1000;
    expect({ code: deploy.code, stderr: deploy.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('E_SERVICE_UNREACHABLE') });
    expect(started).toBeDefined();
    expect(fromCheck).toBeLessThan(20);
    expect(deploy.stderr).toContain("the pods' CIDR as seen by the check: 10.244.0.0/24");
    expect(revision(stagingNs)).toBe(before);
    const seeds = await getJson(stagingNs, '/');
    expect(JSON.stringify(seeds.mysql)).toContain('hello from the mysql seed');
    return { deploy, fromCheck };
  }

  test('a wrong port fails the deploy within 20 s with E_SERVICE_UNREACHABLE and the app untouched', async () => {
    const { deploy, fromCheck } = await unreachable(managedUrl(managedPodIP, 3307));
    times.push(`wrong port: check to exit ${fromCheck.toFixed(1)} s (deploy ${deploy.seconds.toFixed(1)} s)`);
    expect(deploy.stderr).toContain(`service mysql at ${managedPodIP}:3307 cannot be reached from the pods`);
    expect(deploy.stderr).toContain(`nothing listens at ${managedPodIP}:3307: check the port and that the instance is running`);
  }, 90_000);

  test('a blocked port (packets dropped) fails the deploy within 20 s with E_SERVICE_UNREACHABLE naming the whitelist, and the app untouched', async () => {
    const undrop = dropPortInPod(managedNs, 'mdb', 3306);
    let result: Awaited<ReturnType<typeof unreachable>> | undefined;
    try {
      const before = revision(stagingNs);
      const deploy = await deployStaging(managedUrl(), [checkStart]);
      const started = deploy.seen.get(checkStart);
      const fromCheck = started === undefined ? Number.NaN : (deploy.seconds * 1000 - started) / 1000;
      times.push(`dropped: check to exit ${fromCheck.toFixed(1)} s (deploy ${deploy.seconds.toFixed(1)} s)`);
      expect({ code: deploy.code, stderr: deploy.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('E_SERVICE_UNREACHABLE') });
      expect(fromCheck).toBeLessThan(20);
      expect(deploy.stderr).toContain(`service mysql at ${managedIP}:3306 cannot be reached from the pods`);
      expect(deploy.stderr).toContain("the pods' CIDR as seen by the check: 10.244.0.0/24");
      expect(deploy.stderr).toMatch(/add 10\.244\.0\.0\/24 \(the pods' addresses; .*\) to the database's whitelist/);
      expect(revision(stagingNs)).toBe(before);
      result = { deploy, fromCheck };
    } finally {
      undrop();
    }
    // The host stayed clean: the rule lived in the pod's network namespace only.
    expect(execFileSync('iptables', ['-S', 'INPUT'], { encoding: 'utf8' })).not.toMatch(/--dport 3306 -j DROP/);
    expect(result).toBeDefined();
    // The previous version answers again once the database does (its connection may have been cut).
    const seeds = await getJson(stagingNs, '/', 30);
    expect(JSON.stringify(seeds.mysql)).toContain('hello from the mysql seed');
  }, 90_000);

  test('a failing migration stops the deploy with its log, and the previous version keeps answering', async () => {
    const before = revision(stagingNs);
    writeFileSync(
      path.join(stagingRepo, 'gantry.yaml'),
      stagingConfig(
        { mysql: { variable: 'STAGING_MYSQL_URL' } },
        "echo applying 002_broken.sql; echo 'ERROR 1064 (42000): You have an error in your SQL syntax' >&2; exit 3",
        'staging-2',
      ),
    );
    try {
      const deploy = await deployStaging(managedUrl());
      times.push(`failing migration: ${deploy.seconds.toFixed(1)} s`);
      expect({ code: deploy.code, stderr: deploy.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('E_MIGRATION_FAILED') });
      expect(deploy.stderr).toContain('applying 002_broken.sql');
      expect(deploy.stderr).toContain('ERROR 1064 (42000): You have an error in your SQL syntax');
      expect(deploy.stderr).toMatch(/exit(ed)? (code )?3/);
      expect(revision(stagingNs)).toBe(before);
      const seeds = await getJson(stagingNs, '/');
      expect(seeds.version).toBe('staging-1');
      expect(JSON.stringify(seeds.mysql)).toContain('hello from the mysql seed');
    } finally {
      writeFileSync(path.join(stagingRepo, 'gantry.yaml'), stagingConfig({ mysql: { variable: 'STAGING_MYSQL_URL' } }));
    }
  }, 90_000);

  // "Untouched" includes what a pod of the running version reads when it starts again (a node
  // lost, an eviction, an HPA scale-up): the Secret its env refers to.
  test('after a deploy stopped by E_SERVICE_UNREACHABLE, a restarted pod of the running version still connects', async () => {
    // The connection Secret the running version's pod template names (named by its content).
    const named = () =>
      kubectl(['-n', stagingNs, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].env[*].valueFrom.secretKeyRef.name}'])
        .split(' ')
        .find((n) => n.startsWith(`${app}-services-`))!;
    const secretName = named();
    const secretData = () => kubectl(['-n', stagingNs, 'get', 'secret', secretName, '-o', 'jsonpath={.data}']);
    const before = secretData();
    const deploy = await deployStaging(managedUrl(managedPodIP, 3307));
    expect({ code: deploy.code, stderr: deploy.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('E_SERVICE_UNREACHABLE') });
    const selector = JSON.parse(kubectl(['-n', stagingNs, 'get', 'deployment', app, '-o', 'jsonpath={.spec.selector.matchLabels}'])) as Record<string, string>;
    const labels = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    kubectl(['-n', stagingNs, 'delete', 'pod', '-l', labels, '--wait=false']);
    const started = Date.now();
    let answered = '';
    try {
      answered = JSON.stringify((await getJson(stagingNs, '/', 30)).mysql);
    } catch (error) {
      answered = `${error}\n${kubectlResult(['-n', stagingNs, 'logs', '-l', labels, '--tail=5']).stdout}`;
    }
    times.push(`restarted pod after a failed deploy: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The failed deploy wrote its settings under another name (the Secret is named by its
    // content): the running version's pods still name, and read, what they ran with.
    expect(named()).toBe(secretName);
    expect({ secretUnchanged: secretData() === before, answered }).toEqual({
      secretUnchanged: true,
      answered: expect.stringContaining('hello from the mysql seed'),
    });
  }, 90_000);
});

// Last: it reads what every run above printed.
describe('secrets', () => {
  test('no password appears in any output of the suite', () => {
    // Four instances (mysql's root too), the managed database's two, the registry's.
    expect(passwords.size).toBeGreaterThanOrEqual(8);
    expect(outputs.length).toBeGreaterThanOrEqual(8);
    const leaks = [...passwords].filter((p) => outputs.some((o) => o.includes(p)));
    expect(leaks.map((p) => `${p.slice(0, 3)}… (${p.length} chars)`)).toEqual([]);
  });
});
