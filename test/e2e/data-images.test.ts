// The database test images (test/cluster/images/data, pushed by cluster:up) run in the real
// cluster as a preview's instances do: a pod per image with an emptyDir at the data dir, the
// official images' environment, a seed mounted from a ConfigMap into
// /docker-entrypoint-initdb.d and a tcpSocket readiness probe. From the host (pod IPs are
// routed here) the real npm drivers (mysql2, pg, mongodb, ioredis: installed in a temporary
// directory by npm, not dependencies of the repo) read the seed and see a wrong password
// refused; after the server is stopped inside the pod, the kubelet restarts the container on
// the same emptyDir and the seed does not run again.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/fixtures.js';
import { kubectl, kubectlResult, registry, requireCluster } from '../support/cluster.js';

// GANTRY_E2E_NS_PREFIX lets a run share the cluster with others under its own prefix.
const ns = `${process.env.GANTRY_E2E_NS_PREFIX ?? 'gantry-e2e'}-data-${process.pid}`;
const checkScript = path.join(repoRoot, 'test/cluster/images/data/check.mjs');
let drivers = '';

interface Instance {
  name: string;
  kind: 'mysql' | 'postgresql' | 'mongodb' | 'redis';
  image: string;
  port: number;
  dataDir: string;
  user: string;
  password: string;
  env: Record<string, string>;
  args?: string[];
  seed?: Record<string, string>;
}

// Passwords of throw-away test instances, [A-Za-z0-9] as Gantry generates them.
const instances: Instance[] = [
  {
    name: 'mysql',
    kind: 'mysql',
    image: `${registry}/gantry/mariadb:10.11`,
    port: 3306,
    dataDir: '/var/lib/mysql',
    user: 'hello',
    password: 'MyPw1',
    env: { MYSQL_ROOT_PASSWORD: 'MyRoot1', MYSQL_DATABASE: 'hello', MYSQL_USER: 'hello', MYSQL_PASSWORD: 'MyPw1' },
    seed: {
      '00-log.sh': 'echo SEED-SH-RAN\n',
      '01-seed.sql': 'CREATE TABLE seeded (id INT PRIMARY KEY AUTO_INCREMENT);\nINSERT INTO seeded () VALUES ();\n',
    },
  },
  {
    name: 'postgres',
    kind: 'postgresql',
    image: `${registry}/gantry/postgres:15`,
    port: 5432,
    dataDir: '/var/lib/postgresql/data',
    user: 'hello',
    password: 'PgPw1',
    env: { POSTGRES_USER: 'hello', POSTGRES_PASSWORD: 'PgPw1', POSTGRES_DB: 'hello' },
    seed: {
      '00-log.sh': 'echo SEED-SH-RAN\n',
      '01-seed.sql': 'CREATE TABLE seeded (id serial PRIMARY KEY);\nINSERT INTO seeded DEFAULT VALUES;\n',
    },
  },
  {
    name: 'mongo',
    kind: 'mongodb',
    image: `${registry}/gantry/ferretdb:1.24`,
    port: 27017,
    dataDir: '/data/db',
    user: 'hello',
    password: 'MoPw1',
    env: { MONGO_INITDB_ROOT_USERNAME: 'hello', MONGO_INITDB_ROOT_PASSWORD: 'MoPw1', MONGO_INITDB_DATABASE: 'hello' },
    // no mongosh in the FerretDB image: check.mjs writes the "seeded" document once itself
    seed: { '00-log.sh': 'echo SEED-SH-RAN\n' },
  },
  {
    name: 'redis',
    kind: 'redis',
    image: `${registry}/gantry/redis:7`,
    port: 6379,
    dataDir: '/data',
    user: 'default',
    password: 'RePw1',
    env: { REDIS_PASSWORD: 'RePw1' },
    args: ['redis-server', '--requirepass', '$(REDIS_PASSWORD)'],
  },
];

function manifests(i: Instance): unknown[] {
  const volumes: unknown[] = [{ name: 'data', emptyDir: {} }];
  const mounts: unknown[] = [{ name: 'data', mountPath: i.dataDir }];
  const items: unknown[] = [];
  if (i.seed) {
    items.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${i.name}-seed` }, data: i.seed });
    volumes.push({ name: 'seed', configMap: { name: `${i.name}-seed` } });
    mounts.push({ name: 'seed', mountPath: '/docker-entrypoint-initdb.d', readOnly: true });
  }
  items.push({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: i.name, labels: { app: i.name } },
    spec: {
      terminationGracePeriodSeconds: 10,
      volumes,
      containers: [
        {
          name: 'db',
          image: i.image,
          imagePullPolicy: 'Always',
          args: i.args,
          env: Object.entries(i.env).map(([name, value]) => ({ name, value })),
          ports: [{ containerPort: i.port }],
          volumeMounts: mounts,
          readinessProbe: { tcpSocket: { port: i.port }, periodSeconds: 1, failureThreshold: 3 },
          resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        },
      ],
    },
  });
  return items;
}

interface PodState {
  ready: boolean;
  ip: string;
  restarts: number;
}

function podState(name: string): PodState {
  const pod = JSON.parse(kubectl(['-n', ns, 'get', 'pod', name, '-o', 'json']));
  const status = pod.status?.containerStatuses?.[0];
  return { ready: status?.ready === true, ip: pod.status?.podIP ?? '', restarts: status?.restartCount ?? 0 };
}

async function waitReady(name: string, restarts: number, timeoutMs: number): Promise<PodState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = podState(name);
    if (s.ready && s.restarts >= restarts) return s;
    if (Date.now() > deadline) {
      const logs = kubectlResult(['-n', ns, 'logs', name, '--tail=30']).stdout;
      throw new Error(`pod ${name} not ready (restarts ${s.restarts}) after ${timeoutMs} ms; log:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function check(i: Instance, ip: string): { ok: boolean; rows: number; wrongPasswordRefused: boolean; ms: number } {
  const out = execFileSync('node', [checkScript, i.kind, ip, String(i.port), i.user, i.password, 'hello', '30000'], {
    encoding: 'utf8',
    env: { ...process.env, DRIVERS_DIR: drivers },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

beforeAll(() => {
  requireCluster();
  drivers = mkdtempSync(path.join(tmpdir(), 'gantry-data-drivers-'));
  execFileSync('npm', ['init', '-y'], { cwd: drivers, stdio: 'pipe' });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent', 'mysql2', 'pg', 'mongodb@6', 'ioredis'], { cwd: drivers, stdio: 'pipe' });
  kubectl(['create', 'namespace', ns]);
}, 180_000);

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
  if (drivers) rmSync(drivers, { recursive: true, force: true });
});

test('the four data images become ready in pods with an emptyDir, answer the real drivers with their seed, refuse a wrong password, and do not seed again after a restart', async () => {
  const started = Date.now();
  kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: instances.flatMap(manifests) }) });
  const readyMs: Record<string, number> = {};
  const states = await Promise.all(
    instances.map(async (i) => {
      const s = await waitReady(i.name, 0, 90_000);
      readyMs[i.name] = Date.now() - started;
      return s;
    }),
  );
  console.log(`time to ready from kubectl apply (ms): ${JSON.stringify(readyMs)}`);

  for (const [n, i] of instances.entries()) {
    const r = check(i, states[n]!.ip);
    expect({ name: i.name, ok: r.ok, rows: r.rows, refused: r.wrongPasswordRefused }).toEqual({ name: i.name, ok: true, rows: 1, refused: true });
    if (i.seed?.['00-log.sh']) expect(kubectl(['-n', ns, 'logs', i.name]).match(/SEED-SH-RAN/g)?.length).toBe(1);
  }

  // SIGTERM to the server (PID 1): it stops cleanly, the kubelet restarts the container on
  // the same emptyDir, and the entrypoint finds the data initialised.
  for (const i of instances) kubectl(['-n', ns, 'exec', i.name, '--', 'kill', '-TERM', '1']);
  for (const [n, i] of instances.entries()) {
    const s = await waitReady(i.name, 1, 90_000);
    const r = check(i, s.ip);
    // redis counts connections (INCR): 2 means its data survived the restart
    expect({ name: i.name, rows: r.rows }).toEqual({ name: i.name, rows: i.kind === 'redis' ? 2 : 1 });
    if (i.seed?.['00-log.sh']) expect(kubectl(['-n', ns, 'logs', i.name]).match(/SEED-SH-RAN/g) ?? []).toHaveLength(0);
    expect(kubectl(['-n', ns, 'get', 'pod', i.name, '-o', 'jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}'])).not.toBe('137');
    void n;
  }
}, 300_000);
