import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx, type Ctx } from '../../src/context.js';
import { formatError, GantryError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { COMPONENT_LABEL } from '../../src/kube/objects.js';
import { checkReachable, REACH_COMPONENT, type ReachInput, type ReachResult, unreachableError } from '../../src/services/reach.js';
import { adminKubeconfig, dropPortInPod, kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, requireCluster } from '../support/cluster.js';

const id = randomBytes(3).toString('hex');
const dbNs = `h14reach-db-${id}`; // where the "managed database" runs
const appNs = `h14reach-app-${id}`; // the app's namespace, where the check runs
const PASSWORD = `pw${randomBytes(8).toString('hex')}`;
const labels = { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/instance': 'hello-production' };
const times: string[] = [];

let kc: KubeConfig;
let kubeconfigFile: string;
let dbServiceIP: string; // the "managed database" (ClusterIP of a Service in dbNs)
let dbPodIP: string;
let emptyServiceIP: string; // a Service without endpoints

// A server that accepts and closes: enough for a TCP check.
const serverPod = (name: string, namespace: string, port: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { app: name } },
  spec: {
    terminationGracePeriodSeconds: 0,
    containers: [
      {
        name: 'db',
        image: nodeBaseImage,
        command: ['node', '-e', `require('net').createServer((s) => s.end()).listen(${port})`],
        readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
        resources: { requests: { cpu: '10m', memory: '32Mi' } },
      },
    ],
  },
});
const service = (name: string, namespace: string, port: number, selector: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: { selector, ports: [{ port, targetPort: port }] },
});

function capture(): { ctx: Ctx; log: () => string } {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env: {} }), log: () => out };
}

function input(over: Partial<ReachInput>): ReachInput {
  return { namespace: appNs, image: nodeBaseImage, imagePullSecrets: [], env: [], envFrom: [], targets: [], labels, ...over };
}

/** The check pods in the app's namespace once deletions have gone through (a deleted pod is listed until the kubelet confirms). */
async function checkPodsLeft(): Promise<string[]> {
  for (let i = 0; i < 50 && checkPods().length > 0; i++) await sleep(200);
  return checkPods();
}

const checkPods = () =>
  kubectl(['-n', appNs, 'get', 'pods', '-l', `${COMPONENT_LABEL}=${REACH_COMPONENT}`, '-o', 'name'])
    .split('\n')
    .filter(Boolean);

/** Until kube-proxy has programmed a Service: a connection from this host to its ClusterIP goes through. */
async function serviceAnswers(ip: string, port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: ip, port, timeout: 500 });
      const end = (answered: boolean) => {
        socket.destroy();
        resolve(answered);
      };
      socket.once('connect', () => end(true));
      socket.once('error', () => end(false));
      socket.once('timeout', () => end(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Service ${ip}:${port} does not answer from the host 30 s after its pod was ready`);
    await sleep(200);
  }
}

async function timed(what: string, run: () => Promise<ReachResult>): Promise<{ value: ReachResult; ms: number }> {
  const started = Date.now();
  const value = await run();
  const ms = Date.now() - started;
  const each = value.results.map((r) => `${r.service} ${r.code ?? 'ok'} in ${r.ms} ms`).join(', ');
  times.push(`${what}: ${ms} ms (elapsedMs ${value.elapsedMs}; ${each})`);
  return { value, ms };
}

beforeAll(async () => {
  requireCluster();
  for (const ns of [dbNs, appNs]) kubectl(['create', 'namespace', ns]);
  kubeconfigFile = namespacedKubeconfig(appNs);
  kc = new KubeConfig();
  kc.loadFromFile(kubeconfigFile);
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        serverPod('mdb', dbNs, 3306),
        service('mdb', dbNs, 3306, { app: 'mdb' }),
        service('empty', dbNs, 3306, { app: 'nothing' }),
        // An instance in the app's namespace: its Service exists before the check pod, so the pod gets HELLO_DB_SERVICE_HOST/PORT.
        serverPod('hello-db', appNs, 3306),
        service('hello-db', appNs, 3306, { app: 'hello-db' }),
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hello-production-services', namespace: appNs }, stringData: {} },
      ],
    }),
  });
  dbServiceIP = kubectl(['-n', dbNs, 'get', 'service', 'mdb', '-o', 'jsonpath={.spec.clusterIP}']);
  emptyServiceIP = kubectl(['-n', dbNs, 'get', 'service', 'empty', '-o', 'jsonpath={.spec.clusterIP}']);
  kubectl(['-n', appNs, 'create', 'secret', 'generic', 'managed-db', `--from-literal=url=mysql://hello:${PASSWORD}@${dbServiceIP}:3306/hello`]);
  kubectl(['-n', dbNs, 'wait', '--for=condition=Ready', 'pod/mdb', '--timeout=60s']);
  kubectl(['-n', appNs, 'wait', '--for=condition=Ready', 'pod/hello-db', '--timeout=60s']);
  dbPodIP = kubectl(['-n', dbNs, 'get', 'pod', 'mdb', '-o', 'jsonpath={.status.podIP}']);
  await serviceAnswers(dbServiceIP, 3306);
  await serviceAnswers(kubectl(['-n', appNs, 'get', 'service', 'hello-db', '-o', 'jsonpath={.spec.clusterIP}']), 3306);
}, 120_000);

afterAll(() => {
  for (const ns of [dbNs, appNs]) kubectlResult(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  if (kubeconfigFile) rmSync(kubeconfigFile, { force: true });
  // The figures the brief asks for, in the test output.
  console.log(`service reachability check times:\n${times.join('\n')}`);
});

const managedUrl = { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'managed-db', key: 'url' } } };

test('a managed database in another namespace answers: ok, the pod is deleted, no password in the output', async () => {
  const { ctx, log } = capture();
  const { value: result } = await timed('(a) reachable', () =>
    checkReachable(ctx, kc, input({ env: [managedUrl], targets: [{ service: 'db', kind: 'mysql', urlVar: 'DATABASE_URL' }] })),
  );
  expect(result.results).toEqual([{ service: 'db', host: dbServiceIP, port: 3306, ok: true, ms: expect.any(Number), attempts: 1, variable: 'DATABASE_URL' }]);
  expect(result.podIP).toMatch(/^10\.244\./);
  // The deploy job's kubeconfig may not read nodes; the pod's own interface says the network.
  expect(result.podCidrNote).toMatch(/may not read node gantry-node/);
  expect(result).toMatchObject({ podCidr: '10.244.0.0/24', podCidrSource: 'interface' });
  expect(unreachableError(result)).toBeUndefined();
  expect(await checkPodsLeft()).toEqual([]);
  expect(JSON.stringify(result) + log()).not.toContain(PASSWORD);
});

test('refused: a port nothing listens on, and a Service without endpoints', async () => {
  const { ctx } = capture();
  const env = [
    { name: 'MYSQL_HOST', value: dbPodIP },
    { name: 'MYSQL_PORT', value: '3307' },
    { name: 'REDIS_URL', value: `redis://:${PASSWORD}@${emptyServiceIP}:3306/0` },
  ];
  const { value: result } = await timed('(b) refused', () =>
    checkReachable(
      ctx,
      kc,
      input({
        env,
        targets: [
          { service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' },
          { service: 'cache', kind: 'redis', urlVar: 'REDIS_URL' },
        ],
      }),
    ),
  );
  expect(result.results.map((r) => [r.service, r.host, r.port, r.ok, r.code])).toEqual([
    ['db', dbPodIP, 3307, false, 'ECONNREFUSED'],
    // kube-proxy rejects a Service without endpoints (refused), or, where it has no rule for it,
    // this machine routes the service range to a bridge with no ports (no route to host).
    ['cache', emptyServiceIP, 3306, false, expect.stringMatching(/^(ECONNREFUSED|EHOSTUNREACH)$/)],
  ]);
  const error = unreachableError(result)!;
  expect(error.fix).toContain(`nothing listens at ${dbPodIP}:3307: check the port and that the instance is running`);
  expect(formatError(error)).not.toContain(PASSWORD);
});

test('a security group that drops the packets: E_SERVICE_UNREACHABLE within 20 s, naming the host, the pods CIDR and the whitelist', async () => {
  const undrop = dropPortInPod(dbNs, 'mdb', 3306);
  try {
    const { ctx, log } = capture();
    const started = Date.now();
    const { value: result } = await timed('(c) dropped (5 s connect deadline)', () =>
      checkReachable(ctx, kc, input({ env: [managedUrl], targets: [{ service: 'db', kind: 'mysql', urlVar: 'DATABASE_URL' }] })),
    );
    const error = unreachableError(result)!;
    const failedAfter = Date.now() - started;
    expect(failedAfter).toBeLessThan(20_000);
    expect(result.results[0]).toMatchObject({ host: dbServiceIP, port: 3306, ok: false, code: 'ETIMEDOUT' });
    expect(error.code).toBe('E_SERVICE_UNREACHABLE');
    expect(error.message).toBe(`service db at ${dbServiceIP}:3306 cannot be reached from the pods: timed out after 5 s (no answer: the packets are dropped)`);
    expect(error.details.join('\n')).toContain(`the check pod's IP: ${result.podIP}; the pods' CIDR as seen by the check: 10.244.0.0/24`);
    expect(error.fix).toMatch(/^add 10\.244\.0\.0\/24 \(the pods' addresses; .*\) to the database's whitelist \(RDS: Data Security > Whitelist/);
    expect(formatError(error) + log()).not.toContain(PASSWORD);
    expect(await checkPodsLeft()).toEqual([]);
  } finally {
    // The rule dies with the pod's network namespace anyway; remove it so later cases see the server.
    undrop();
  }
}, 60_000);

test('an instance in the namespace: "$(HELLO_DB_SERVICE_HOST)" is expanded by the kubelet; a name that does not resolve is said so', async () => {
  const { ctx } = capture();
  const env = [
    { name: 'MYSQL_HOST', value: '$(HELLO_DB_SERVICE_HOST)' },
    { name: 'MYSQL_PORT', value: '$(HELLO_DB_SERVICE_PORT)' },
    { name: 'CACHE_HOST', value: '$(HELLO_CACHE_SERVICE_HOST)' }, // no such Service
    { name: 'DOCS_HOST', value: 'dds-bp1.mongodb.rds.example.invalid' }, // pods have no DNS here: the lookup stays in the pod
  ];
  const { value: result } = await timed('(d) service-link expansion', () =>
    checkReachable(
      ctx,
      kc,
      input({
        env,
        targets: [
          { service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' },
          { service: 'cache', kind: 'redis', hostVar: 'CACHE_HOST' },
          { service: 'docs', kind: 'mongodb', hostVar: 'DOCS_HOST' },
        ],
      }),
    ),
  );
  const serviceIP = kubectl(['-n', appNs, 'get', 'service', 'hello-db', '-o', 'jsonpath={.spec.clusterIP}']);
  expect(result.results.map((r) => [r.service, r.host, r.port, r.ok, r.code, r.ref])).toEqual([
    ['db', serviceIP, 3306, true, undefined, undefined],
    ['cache', '', 0, false, 'EUNEXPANDED', 'HELLO_CACHE_SERVICE_HOST'],
    ['docs', 'dds-bp1.mongodb.rds.example.invalid', 27017, false, expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/), undefined],
  ]);
  const text = formatError(unreachableError(result)!);
  expect(text).toContain('CACHE_HOST still holds $(HELLO_CACHE_SERVICE_HOST)');
  expect(text).toContain("does not resolve from the pods: use the VPC endpoint and check the cluster's DNS");
});

test('a pod that cannot start is reported as the rollout would report it: a missing Secret key, an image that is not there', async () => {
  const { ctx } = capture();
  const missingKey = { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'hello-production-services', key: 'DATABASE_URL' } } };
  const started = Date.now();
  const config = await checkReachable(ctx, kc, input({ env: [missingKey], targets: [{ service: 'db', kind: 'mysql', urlVar: 'DATABASE_URL' }] })).catch(
    (e: unknown) => e,
  );
  times.push(`(e) missing Secret key -> ${(config as GantryError).code}: ${Date.now() - started} ms`);
  expect(config).toBeInstanceOf(GantryError);
  expect(config).toMatchObject({ code: 'E_ROLLOUT_CONFIG' });
  expect((config as GantryError).message).toMatch(
    /^the service reachability check could not run: .*key DATABASE_URL is missing from Secret hello-production-services/,
  );

  const pullStarted = Date.now();
  const image = '127.0.0.1:5000/gantry/h14reach-no-such-image:1';
  const pull = await checkReachable(ctx, kc, input({ image, targets: [{ service: 'db', kind: 'mysql', hostVar: 'X' }] })).catch((e: unknown) => e);
  times.push(`(e) image not in the registry -> ${(pull as GantryError).code}: ${Date.now() - pullStarted} ms`);
  expect(pull).toMatchObject({ code: 'E_ROLLOUT_IMAGE_PULL' });
  expect(await checkPodsLeft()).toEqual([]);
}, 90_000);

test('a check that cannot finish: node held up by NODE_OPTIONS times out (running, with its log); node that cannot start ends without a result', async () => {
  const { ctx: base } = capture();
  const ctx = { ...base, deadlines: { ...base.deadlines, connectMs: 1000 } };
  const target = [{ service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' }];
  const hold = { name: 'NODE_OPTIONS', value: '--import=data:text/javascript,await%20new%20Promise((r)=>setTimeout(r,60000))' };
  const env = [
    { name: 'MYSQL_HOST', value: dbPodIP },
    { name: 'MYSQL_PORT', value: '3306' },
  ];
  const started = Date.now();
  const timeout = await checkReachable(ctx, kc, input({ env: [...env, hold], targets: target, timeoutMs: 1 })).catch((e: unknown) => e);
  times.push(`(f) held up -> ${(timeout as GantryError).code}: ${Date.now() - started} ms (timeout clamped to 1 s connect + 5 s)`);
  expect(timeout).toMatchObject({ code: 'E_SERVICE_CHECK_TIMEOUT' });
  expect((timeout as GantryError).message).toMatch(/did not finish within 6 s \(phase Running, container running\)$/);
  expect((timeout as GantryError).fix).toMatch(/NODE_OPTIONS/);

  const broken = { name: 'NODE_OPTIONS', value: '--require=/no/such/module.js' };
  const noResult = await checkReachable(ctx, kc, input({ env: [...env, broken], targets: target })).catch((e: unknown) => e);
  expect(noResult).toMatchObject({ code: 'E_SERVICE_CHECK_FAILED' });
  expect((noResult as GantryError).message).toMatch(/ended without a result: exit code 1/);
  expect((noResult as GantryError).details.join('\n')).toContain("Cannot find module '/no/such/module.js'");

  // An image without node (the cluster's pause image, present on the node, so nothing is pulled).
  const noNode = await checkReachable(ctx, kc, input({ image: 'registry.local/gantry/pause:3.9', env, targets: target })).catch((e: unknown) => e);
  expect(noNode).toMatchObject({ code: 'E_SERVICE_CHECK_FAILED' });
  expect((noNode as GantryError).fix).toMatch(/must have node on its PATH/);
  expect(await checkPodsLeft()).toEqual([]);
}, 60_000);

test('with a kubeconfig that may read the node: its spec.podCIDR is used when set, and said missing when not', async () => {
  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfig);
  const { ctx } = capture();
  const result = await checkReachable(ctx, admin, input({ env: [managedUrl], targets: [{ service: 'db', kind: 'mysql', urlVar: 'DATABASE_URL' }] }));
  const nodeCidr = kubectl(['get', 'node', 'gantry-node', '-o', 'jsonpath={.spec.podCIDR}']);
  if (nodeCidr) expect(result).toMatchObject({ podCidr: nodeCidr, podCidrSource: 'node' });
  else expect(result).toMatchObject({ podCidr: '10.244.0.0/24', podCidrSource: 'interface', podCidrNote: 'node gantry-node has no spec.podCIDR' });
  expect(await checkPodsLeft()).toEqual([]);
});

test('cancelled while it runs: the check pod is deleted', async () => {
  const undrop = dropPortInPod(dbNs, 'mdb', 3306);
  try {
    const controller = new AbortController();
    const { ctx } = capture();
    const cancelCtx = { ...ctx, signal: controller.signal };
    const running = checkReachable(cancelCtx, kc, input({ env: [managedUrl], targets: [{ service: 'db', kind: 'mysql', urlVar: 'DATABASE_URL' }] })).catch(
      (e: unknown) => e,
    );
    while (checkPods().length === 0) await sleep(100);
    controller.abort(new Error('cancelled'));
    expect(await running).toMatchObject({ message: 'cancelled' });
    expect(await checkPodsLeft()).toEqual([]);
    expect(ctx.cleanup.done()).toEqual([expect.stringMatching(/^deleted the service check pod hello-production-reach-/)]);
  } finally {
    undrop();
  }
});
