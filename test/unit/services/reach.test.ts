// The reachability check's own parts: the script (run here with this machine's node against
// loopback servers), the pod it runs in, reading its output, and the error a user reads.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { createCtx } from '../../../src/context.js';
import { formatError, gantryError } from '../../../src/errors.js';
import { COMPONENT_LABEL } from '../../../src/kube/objects.js';
import {
  parseReachOutput,
  REACH_COMPONENT,
  REACH_SCRIPT,
  RESULT_MARKER,
  reachPod,
  type ReachResult,
  reachTimeoutMs,
  type ReachTarget,
  targetsForScript,
  unreachableError,
} from '../../../src/services/reach.js';

const PASSWORD = 'S3cr/et@pa?ss';
const ENCODED = encodeURIComponent(PASSWORD);

let server: net.Server;
let open: number; // a port that accepts
let closed: number; // a port nothing listens on

beforeAll(async () => {
  server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open = (server.address() as net.AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closed = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
});
afterAll(() => new Promise((r) => server.close(r)));

/** Runs the script as the pod does (node -e), with only `env` (and the targets) set. */
function runScript(targets: ReachTarget[], env: Record<string, string>, connectMs = 2000) {
  const r = spawnSync(process.execPath, ['-e', REACH_SCRIPT], {
    env: { ...env, GANTRY_REACH_TARGETS: JSON.stringify(targetsForScript(targets)), GANTRY_REACH_CONNECT_MS: String(connectMs) },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, parsed: parseReachOutput(r.stdout) };
}

describe('the check script', () => {
  test('host and port variables: an open port answers, a closed one is refused, one JSON line in all', async () => {
    const r = runScript(
      [
        { service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' },
        { service: 'cache', kind: 'redis', hostVar: 'REDIS_HOST', portVar: 'REDIS_PORT' },
      ],
      { MYSQL_HOST: '127.0.0.1', MYSQL_PORT: String(open), REDIS_HOST: '127.0.0.1', REDIS_PORT: String(closed) },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith(RESULT_MARKER))).toHaveLength(1);
    expect(r.parsed?.podIP).toMatch(/\S/);
    expect(r.parsed?.results).toEqual([
      { service: 'db', host: '127.0.0.1', port: open, ok: true, ms: expect.any(Number), attempts: 1, variable: 'MYSQL_HOST' },
      {
        service: 'cache',
        host: '127.0.0.1',
        port: closed,
        ok: false,
        ms: expect.any(Number),
        attempts: expect.any(Number),
        code: 'ECONNREFUSED',
        variable: 'REDIS_HOST',
      },
    ]);
    // Refused is tried again until the connect deadline (a database still starting, a Service not programmed yet).
    expect(r.parsed!.results[1]!.attempts).toBeGreaterThan(1);
    expect(r.parsed!.results[1]!.ms).toBeGreaterThan(1000);
  });

  test('a URL is reduced to host:port; its password (with @, / and ?) never appears in the output', () => {
    const r = runScript([{ service: 'db', kind: 'postgresql', urlVar: 'DATABASE_URL' }], {
      DATABASE_URL: `postgresql://app:${PASSWORD}@127.0.0.1:${open}/hello?sslmode=disable`,
    });
    expect(r.parsed?.results).toEqual([
      { service: 'db', host: '127.0.0.1', port: open, ok: true, ms: expect.any(Number), attempts: 1, variable: 'DATABASE_URL' },
    ]);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain('S3cr');
      expect(text).not.toContain(ENCODED);
    }
  });

  test('a URL-encoded password, and a URL without a port gets the kind default', () => {
    const r = runScript(
      [
        { service: 'db', kind: 'mysql', urlVar: 'DATABASE_URL' },
        { service: 'cache', kind: 'redis', urlVar: 'REDIS_URL' },
      ],
      { DATABASE_URL: `mysql://app:${ENCODED}@127.0.0.1:${open}/hello`, REDIS_URL: `redis://:${ENCODED}@127.0.0.1` },
      500,
    );
    expect(r.parsed?.results.map((x) => [x.host, x.port, x.ok])).toEqual([
      ['127.0.0.1', open, true],
      ['127.0.0.1', 6379, expect.any(Boolean)],
    ]);
    expect(r.stdout).not.toContain(ENCODED);
  });

  test('a replica-set URL checks every host', () => {
    const r = runScript([{ service: 'docs', kind: 'mongodb', urlVar: 'MONGODB_URI' }], {
      MONGODB_URI: `mongodb://root:${ENCODED}@127.0.0.1:${open},127.0.0.1:${closed}/hello?replicaSet=mgset-1&authSource=admin`,
    });
    expect(r.parsed?.results.map((x) => [x.port, x.ok, x.code])).toEqual([
      [open, true, undefined],
      [closed, false, 'ECONNREFUSED'],
    ]);
  });

  test('settings that name no address are reported by variable, never by value', () => {
    const r = runScript(
      [
        { service: 'a', kind: 'mysql', hostVar: 'A_HOST', portVar: 'A_PORT' },
        { service: 'b', kind: 'mysql', hostVar: 'B_HOST', portVar: 'B_PORT' },
        { service: 'c', kind: 'mysql', urlVar: 'C_URL' },
        { service: 'd', kind: 'mysql', hostVar: 'D_HOST', portVar: 'D_PORT' },
        { service: 'e', kind: 'mysql', urlVar: 'E_URL' },
        { service: 'f', kind: 'mysql', urlVar: 'F_URL' },
      ],
      {
        B_HOST: '$(HELLO_DB_SERVICE_HOST)',
        B_PORT: '3306',
        C_URL: `not a url ${PASSWORD}`,
        D_HOST: '127.0.0.1',
        D_PORT: 'three',
        E_URL: `mysql://app:${PASSWORD}@$(HELLO_DB_SERVICE_HOST):3306/x`,
        F_URL: `mysql://app:pw@bad_host!:3306/x`,
      },
    );
    expect(r.parsed?.results.map((x) => [x.service, x.code, x.variable, x.ref ?? '', x.host])).toEqual([
      ['a', 'EUNSET', 'A_HOST', '', ''],
      ['b', 'EUNEXPANDED', 'B_HOST', 'HELLO_DB_SERVICE_HOST', ''],
      ['c', 'EBADURL', 'C_URL', '', ''],
      ['d', 'EBADPORT', 'D_PORT', '', ''],
      ['e', 'EUNEXPANDED', 'E_URL', 'HELLO_DB_SERVICE_HOST', ''],
      ['f', 'EBADURL', 'F_URL', '', ''],
    ]);
    expect(r.stdout).not.toContain('S3cr');
  });
  // A name that does not resolve (ENOTFOUND) is checked in the pods (test/e2e/services-reach.test.ts):
  // here the lookup would ask this machine's resolver, off the machine.
});

describe('reading the output', () => {
  test('the last marked line counts; other output (an image that prints, a warning) is ignored', () => {
    const log = `(node:1) Warning: something\n${RESULT_MARKER}{"podIP":"10.244.0.9","ifCidr":"10.244.0.0/24","results":[{"service":"db","host":"h","port":3306,"ok":false,"ms":5001,"code":"ETIMEDOUT","variable":"MYSQL_HOST"}]}\n`;
    expect(parseReachOutput(log)).toEqual({
      podIP: '10.244.0.9',
      ifCidr: '10.244.0.0/24',
      results: [{ service: 'db', host: 'h', port: 3306, ok: false, ms: 5001, code: 'ETIMEDOUT', variable: 'MYSQL_HOST' }],
    });
  });

  test('no marked line, or a broken one, is no result', () => {
    expect(parseReachOutput('Error: Cannot find module\n')).toBeUndefined();
    expect(parseReachOutput(`${RESULT_MARKER}{"podIP":`)).toBeUndefined();
  });
});

describe('the target list and the pod', () => {
  test('targets carry variable names only; host/port win over a URL', () => {
    expect(
      targetsForScript([
        { service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT', urlVar: 'DATABASE_URL' },
        { service: 'cache', kind: 'redis', urlVar: 'REDIS_URL' },
      ]),
    ).toEqual([
      { service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' },
      { service: 'cache', kind: 'redis', urlVar: 'REDIS_URL' },
    ]);
  });

  test('the pod: the app image, env and pull secrets, small requests, bounded, no API token, labelled', () => {
    const ctx = createCtx({ env: {}, deadlines: { connectMs: 3000, requestMs: 15_000, stepMs: 60_000 } });
    const env = [
      { name: 'MYSQL_PASSWORD', valueFrom: { secretKeyRef: { name: 'hello-production-services', key: 'MYSQL_PASSWORD' } } },
      { name: 'MYSQL_HOST', value: '$(HELLO_DB_SERVICE_HOST)' },
    ];
    const pod = reachPod(
      ctx,
      {
        namespace: 'hello',
        image: 'registry.example/hello:abc',
        imagePullSecrets: [{ name: 'gantry-registry' }],
        env,
        envFrom: [{ configMapRef: { name: 'hello-env' } }],
        targets: [{ service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' }],
        labels: { 'app.kubernetes.io/name': 'hello' },
        timeoutMs: 30_000,
      },
      'hello-reach-abc123',
    ) as any;
    expect(pod.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'hello',
      [COMPONENT_LABEL]: REACH_COMPONENT,
      'app.kubernetes.io/managed-by': 'gantry',
    });
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Never',
      activeDeadlineSeconds: 45,
      automountServiceAccountToken: false,
      enableServiceLinks: true,
      imagePullSecrets: [{ name: 'gantry-registry' }],
    });
    const c = pod.spec.containers[0];
    expect(c.image).toBe('registry.example/hello:abc');
    expect(c.command.slice(0, 2)).toEqual(['node', '-e']);
    expect(c.resources.requests).toEqual({ cpu: '50m', memory: '64Mi' });
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'hello-env' } }]);
    // The app's env first (so its $(VAR) references resolve as in the app), then the check's own.
    expect(c.env.slice(0, 2)).toEqual(env);
    expect(c.env.slice(2)).toEqual([
      { name: 'GANTRY_REACH_TARGETS', value: '[{"service":"db","kind":"mysql","hostVar":"MYSQL_HOST","portVar":"MYSQL_PORT"}]' },
      { name: 'GANTRY_REACH_CONNECT_MS', value: '3000' },
    ]);
  });
});

describe('the time the check may take', () => {
  test('the given timeout, but never less than one connect deadline plus the pod start', () => {
    const ctx = createCtx({ env: {}, deadlines: { connectMs: 5000, requestMs: 15_000, stepMs: 60_000 } });
    expect(reachTimeoutMs(ctx, {})).toBe(120_000);
    expect(reachTimeoutMs(ctx, { timeoutMs: 30_000 })).toBe(30_000);
    expect(reachTimeoutMs({ ...ctx, deadlines: { ...ctx.deadlines, connectMs: 60_000 } }, { timeoutMs: 30_000 })).toBe(65_000);
  });

  test('E_SERVICE_CHECK_TIMEOUT says what the pod waited for, and what to do about a check that hangs', () => {
    const waiting = gantryError('E_SERVICE_CHECK_TIMEOUT', {
      namespace: 'hello',
      pod: 'hello-production-reach-abc',
      seconds: 120,
      state: 'phase Pending, container waiting ContainerCreating',
      running: false,
      lines: ['event Pulling: Pulling image "registry/hello:abc"'],
    });
    expect(formatError(waiting)).toBe(
      [
        'error E_SERVICE_CHECK_TIMEOUT: the service reachability check pod hello-production-reach-abc in namespace hello did not finish within 120 s (phase Pending, container waiting ContainerCreating)',
        '  event Pulling: Pulling image "registry/hello:abc"',
        "fix: it was waiting for its image (the app image's first pull on this node) or for a node (ECI creation, autoscaling): the events above show which; the rollout would wait for the same, so fix that, or run the deploy again once the image is on the node",
      ].join('\n'),
    );
    const running = gantryError('E_SERVICE_CHECK_TIMEOUT', {
      namespace: 'hello',
      pod: 'p',
      seconds: 10,
      state: 'phase Running, container running',
      running: true,
      lines: [],
    });
    expect(running.fix).toMatch(/NODE_OPTIONS with --require or --import/);
  });

  test('E_SERVICE_CHECK_FAILED: an image without node on its PATH, a script that stopped early', () => {
    const noNode = gantryError('E_SERVICE_CHECK_FAILED', {
      problem: 'no-result',
      namespace: 'hello',
      pod: 'p',
      ended: 'exit code 128 (StartError)',
      noNode: true,
      log: [],
    });
    expect(noNode.message).toBe('the service reachability check pod p in namespace hello ended without a result: exit code 128 (StartError)');
    expect(noNode.fix).toMatch(/must have node on its PATH/);
    expect(noNode.details).toEqual(['the check wrote no log']);
  });
});

describe('E_SERVICE_UNREACHABLE', () => {
  const base: ReachResult = { podIP: '10.244.0.9', results: [], elapsedMs: 7000, connectMs: 5000 };
  const timedOut = { service: 'db', host: 'rm-bp1.mysql.rds.aliyuncs.com', port: 3306, ok: false, ms: 5001, code: 'ETIMEDOUT', variable: 'DATABASE_URL' };

  test('all answered: no error', () => {
    expect(unreachableError({ ...base, results: [{ service: 'db', host: 'h', port: 1, ok: true, ms: 3 }] })).toBeUndefined();
  });

  test('a timeout names the service, host:port, the wait, the pod IP, the CIDR and the whitelist fix', () => {
    const e = unreachableError({ ...base, podCidr: '10.244.0.0/24', podCidrSource: 'node', results: [timedOut] })!;
    expect(e.code).toBe('E_SERVICE_UNREACHABLE');
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(
      'service db at rm-bp1.mysql.rds.aliyuncs.com:3306 cannot be reached from the pods: timed out after 5 s (no answer: the packets are dropped)',
    );
    expect(e.details).toContain("the check pod's IP: 10.244.0.9; the pods' CIDR as seen by the check: 10.244.0.0/24 (the node's spec.podCIDR)");
    expect(e.fix).toBe(
      "add 10.244.0.0/24 (the pods' addresses; on ACK with Terway the pod vSwitch CIDR, with Flannel the cluster's pod CIDR) to the database's whitelist (RDS: Data Security > Whitelist; ApsaraDB for MongoDB / Tair: the same) or its security group, and check that rm-bp1.mysql.rds.aliyuncs.com is the VPC (internal) endpoint",
    );
  });

  test('a node that cannot be read: the pod IP with why, and the interface network when known', () => {
    const forbidden = { ...base, podCidrNote: 'this kubeconfig may not read node n1', results: [timedOut] };
    expect(unreachableError(forbidden)!.details.at(-1)).toBe(
      "the check pod's IP: 10.244.0.9; the pods' CIDR as seen by the check: 10.244.0.9 (the node's pod CIDR could not be read: this kubeconfig may not read node n1)",
    );
    expect(unreachableError(forbidden)!.fix).toContain("add 10.244.0.9/32 (and the rest of the pods' range)");
    const iface = { ...forbidden, podCidr: '10.244.0.0/24', podCidrSource: 'interface' as const };
    expect(unreachableError(iface)!.details.at(-1)).toContain(
      "10.244.0.0/24 (the network of the check pod's interface; the node's pod CIDR could not be read: this kubeconfig may not read node n1)",
    );
  });

  test('refused, no route and no such host each get their own fix; several failures are all named', () => {
    const e = unreachableError({
      ...base,
      podCidr: '10.244.0.0/24',
      podCidrSource: 'node',
      results: [
        { service: 'db', host: '10.0.0.5', port: 3307, ok: false, ms: 5002, attempts: 10, code: 'ECONNREFUSED' },
        { service: 'cache', host: 'r-bp1.redis.rds.aliyuncs.com', port: 6379, ok: false, ms: 30, code: 'ENOTFOUND' },
        { service: 'docs', host: '10.0.9.9', port: 27017, ok: false, ms: 3000, code: 'EHOSTUNREACH' },
        { service: 'ok', host: '10.0.0.6', port: 5432, ok: true, ms: 2 },
      ],
    })!;
    expect(e.message).toBe(
      '3 of 4 service connections fail from the pods: db at 10.0.0.5:3307 (connection refused (10 attempts in 5 s)); cache at r-bp1.redis.rds.aliyuncs.com:6379 (the host name does not resolve); docs at 10.0.9.9:27017 (no route to host)',
    );
    expect(e.fix).toContain('nothing listens at 10.0.0.5:3307: check the port and that the instance is running');
    expect(e.fix).toContain("the host name r-bp1.redis.rds.aliyuncs.com does not resolve from the pods: use the VPC endpoint and check the cluster's DNS");
    expect(e.fix).toContain('add 10.244.0.0/24');
  });

  test('settings without an address name the variable and what to fix, never a value', () => {
    const e = unreachableError({
      ...base,
      results: [
        { service: 'db', host: '', port: 0, ok: false, ms: 0, code: 'EUNEXPANDED', variable: 'MYSQL_HOST', ref: 'HELLO_DB_SERVICE_HOST' },
        { service: 'cache', host: '', port: 0, ok: false, ms: 0, code: 'EBADURL', variable: 'REDIS_URL' },
      ],
    })!;
    const text = formatError(e);
    expect(text).toContain('db at (MYSQL_HOST) (MYSQL_HOST still holds $(HELLO_DB_SERVICE_HOST): the kubelet could not expand it)');
    expect(text).toContain('a Service-link variable needs its Service created first');
    expect(text).toContain('environments.<env>.services.cache');
  });
});
