// trackRollout's own behaviour (timeout, cancel, a deleted Deployment, the log tail and secret
// masking of a failure, dry run) against a fake API server on 127.0.0.1 that serves real objects
// from test/fixtures/track. The real cluster is exercised in test/e2e/track.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { rolloutError, trackRollout } from '../../../src/track/index.js';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../../../src/kube/objects.js';
import { fixture } from '../../support/fixtures.js';

interface Cluster {
  deployment: Deployment;
  replicaSets: ReplicaSet[];
  pods: Pod[];
  events: KubeEvent[];
  log?: string;
}

interface Fake {
  kc: KubeConfig;
  paths: string[];
  /** Sends a watch event to every open watch of that collection. */
  push(collection: string, type: string, object: unknown): void;
  close(): Promise<void>;
}

async function fakeCluster(c: Cluster): Promise<Fake> {
  const paths: string[] = [];
  const watchers = new Map<string, http.ServerResponse[]>();
  const collections: Record<string, () => unknown[]> = {
    deployments: () => [c.deployment],
    replicasets: () => c.replicaSets,
    pods: () => c.pods,
    events: () => c.events,
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    paths.push(`${url.pathname}${url.search}`);
    if (url.pathname === '/readyz') return res.end('ok');
    const log = /\/pods\/[^/]+\/log$/.exec(url.pathname);
    if (log) {
      res.setHeader('content-type', 'text/plain');
      return res.end(c.log ?? '');
    }
    const collection = url.pathname.split('/').pop() ?? '';
    const items = collections[collection];
    if (!items) {
      res.writeHead(404);
      return res.end('{}');
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      watchers.set(collection, [...(watchers.get(collection) ?? []), res]);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.setHeader('date', new Date().toUTCString());
    res.end(JSON.stringify({ metadata: { resourceVersion: '1' }, items: items() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  return {
    kc,
    paths,
    push: (collection, type, object) => {
      for (const res of watchers.get(collection) ?? []) res.write(`${JSON.stringify({ type, object })}\n`);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function midRollout(): Cluster {
  const r = JSON.parse(readFileSync(fixture('track', 'deployment-mid-rollout.json'), 'utf8')) as Omit<Cluster, 'events'>;
  return { ...r, events: [] };
}

/** The mid-rollout Deployment whose new pod is the real failing one of a fixture (crash-exit1.json, image-pull-unauthorized.json...). */
function failingWith(name: string): Cluster {
  const c = midRollout();
  const failing = JSON.parse(readFileSync(fixture('track', `${name}.json`), 'utf8')) as { pod: Pod; events: KubeEvent[] };
  const newRs = c.replicaSets.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2')!;
  failing.pod.metadata.ownerReferences = [{ kind: 'ReplicaSet', name: newRs.metadata.name, uid: newRs.metadata.uid, controller: true }];
  c.pods = [failing.pod];
  c.events = failing.events;
  return c;
}

const crashing = () => failingWith('crash-exit1');

function logger() {
  const lines: string[] = [];
  return { lines, text: () => lines.join(''), logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) };
}

test('a failure carries the crashed container log tail, masked, and the summary is printed after the progress section', async () => {
  const c = crashing();
  c.log = 'starting app\nconnecting with password hunter2-secret\nError: DATABASE_URL is not set\n';
  const fake = await fakeCluster(c);
  const out = logger();
  out.logger.addSecret('hunter2-secret');
  const result = await trackRollout(createCtx({ logger: out.logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 10 });
  await fake.close();
  if (result.ok) throw new Error('expected a failure');
  expect(result.code).toBe('E_ROLLOUT_CRASHLOOP');
  expect(result.pod).toBe(c.pods[0]!.metadata.name);
  expect(result.container).toBe('web');
  expect(result.evidence.slice(-4)).toEqual([
    'log of container web (the instance that crashed), last 3 lines:',
    '| starting app',
    '| connecting with password [MASKED]',
    '| Error: DATABASE_URL is not set',
  ]);
  // Not restarted yet: the current instance is the one that crashed.
  expect(fake.paths.find((p) => p.includes('/log?'))).toContain('previous=false');
  const text = out.text();
  expect(text).not.toContain('hunter2-secret');
  expect(text.indexOf('rollout summary of deployment/good in t:')).toBeGreaterThan(text.indexOf('E_ROLLOUT_CRASHLOOP'));
  // The verdict is named in the progress; its cause, evidence and fix are the caller's to report, once.
  expect(text).toMatch(/\] E_ROLLOUT_CRASHLOOP \(A container keeps crashing\)\n/);
  expect(text).not.toContain(result.message);
  expect(text).not.toContain('Error: DATABASE_URL is not set');
  expect(text).not.toContain(result.fix);
  expect(text).toMatch(/\n {2}pod\/crash-5cbb6d595b-f8z5m +new +Running +ready 0\/1 +restarts 3 +Error \(exit 1\)\n/);
  // The catalogue error for the CLI: the evidence as details, the fix.
  const error = rolloutError(result);
  expect(error.code).toBe('E_ROLLOUT_CRASHLOOP');
  expect(error.exitCode).toBe(1);
  expect(error.details).toEqual(result.evidence);
});

test('a rollout that does not finish in time is E_ROLLOUT_TIMEOUT saying what it waited for', async () => {
  const fake = await fakeCluster(midRollout());
  const out = logger();
  const t = Date.now();
  const result = await trackRollout(createCtx({ logger: out.logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 1.5 });
  await fake.close();
  if (result.ok) throw new Error('expected a failure');
  expect(Date.now() - t).toBeLessThan(3000);
  expect(result.code).toBe('E_ROLLOUT_TIMEOUT');
  expect(result.message).toBe('deployment/good in t did not finish its rollout within 1.5 s: waiting for 0/1 new pods ready (0 available)');
  expect(result.evidence[0]).toBe('0/1 new pods ready, 1 old pods left; waiting for 0/1 new pods ready (0 available)');
  expect(result.evidence[1]).toMatch(/^pod\/good-7fc6d75dd4-ffszr: Running, ready 0\/1, restarts 0/);
  expect(result.summary.map((s) => s.name)).toEqual(['good', 'good-7fc6d75dd4', 'good-564496c8d8', 'good-7fc6d75dd4-ffszr', 'good-564496c8d8-5h59n']);
});

test('a cancelled job stops tracking at once (E_ROLLOUT_ABORTED), and a Deployment deleted meanwhile is E_ROLLOUT_DELETED', async () => {
  const fake = await fakeCluster(midRollout());
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  const t = Date.now();
  const aborted = await trackRollout(createCtx({ logger: logger().logger, signal: controller.signal }), fake.kc, {
    namespace: 't',
    name: 'good',
    timeoutSeconds: 30,
  });
  expect(Date.now() - t).toBeLessThan(1500);
  expect(aborted).toMatchObject({ ok: false, code: 'E_ROLLOUT_ABORTED' });

  const deployment = midRollout().deployment;
  setTimeout(() => fake.push('deployments', 'DELETED', deployment), 400);
  const deleted = await trackRollout(createCtx({ logger: logger().logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 30 });
  await fake.close();
  expect(deleted).toMatchObject({ ok: false, code: 'E_ROLLOUT_DELETED', message: 'deployment/good in t was deleted while its rollout was tracked' });
  if (!deleted.ok) expect(deleted.summary[0]).toMatchObject({ kind: 'Deployment', name: 'good', phase: 'Deleted' });
});

test('the streams are scoped: the Deployment by name, ReplicaSets and Pods by its selector', async () => {
  const fake = await fakeCluster(midRollout());
  await trackRollout(createCtx({ logger: logger().logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 0.5 });
  await fake.close();
  const lists = fake.paths.filter((p) => !p.includes('watch=true') && p !== '/readyz');
  expect(lists).toEqual(
    expect.arrayContaining([
      '/apis/apps/v1/namespaces/t/deployments?fieldSelector=metadata.name%3Dgood',
      '/apis/apps/v1/namespaces/t/replicasets?labelSelector=app%3Dgood',
      '/api/v1/namespaces/t/pods?labelSelector=app%3Dgood',
      '/api/v1/namespaces/t/events',
    ]),
  );
  expect(fake.paths.filter((p) => p.includes('watch=true')).every((p) => p.includes('resourceVersion=1') && p.includes('allowWatchBookmarks=true'))).toBe(true);
});

test('dry run tracks nothing', async () => {
  const out = logger();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://192.0.2.1:6443' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  const result = await trackRollout(createCtx({ logger: out.logger, dryRun: true }), kc, { namespace: 'web', name: 'api' });
  expect(result).toEqual({ ok: true, elapsedMs: 0, summary: [] });
  expect(out.text()).toBe('would track the rollout of deployment/api in web (up to 300 s)\n');
});

test('a re-run after a fix judges only what happens after its apply (since): an old pull refusal is no verdict, a new one is', async () => {
  // The pod was refused by the registry until 04:33:46; this run applied at 04:34:00.
  const since = Date.parse('2026-11-22T04:34:00Z');
  const c = failingWith('image-pull-unauthorized');
  const fake = await fakeCluster(c);
  try {
    // Without since, the old refusal is the verdict at once.
    const stale = await trackRollout(createCtx({ logger: logger().logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 10 });
    expect(stale).toMatchObject({ ok: false, code: 'E_ROLLOUT_IMAGE_PULL' });

    // With since it waits for what the kubelet does next, and does not print the old warnings.
    const out = logger();
    const waited = await trackRollout(createCtx({ logger: out.logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 1.5, since });
    expect(waited).toMatchObject({ ok: false, code: 'E_ROLLOUT_TIMEOUT' });
    expect(out.text()).not.toContain('401 Unauthorized');
    if (!waited.ok) expect(waited.evidence.join('\n')).not.toContain('401 Unauthorized');

    // The kubelet tries again after the apply and is refused again: that is the verdict.
    const pulled = c.events.find((e) => e.message?.startsWith('Failed to pull image'))!;
    setTimeout(() => fake.push('events', 'MODIFIED', { ...pulled, lastTimestamp: '2026-11-22T04:34:21Z', count: 4 }), 300);
    const refused = await trackRollout(createCtx({ logger: logger().logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 10, since });
    expect(refused).toMatchObject({ ok: false, code: 'E_ROLLOUT_IMAGE_PULL' });
    if (!refused.ok) expect(refused.evidence.join('\n')).toContain('401 Unauthorized');
  } finally {
    await fake.close();
  }
});

test('with the declared services, a crash whose log shows a refused connection names the service and the cause before the log tail', async () => {
  const c = crashing();
  c.log = 'listening on 3000\nError: connect ECONNREFUSED 10.96.0.12:3306\n    at PromisePool.query (/app/node_modules/mysql2/promise.js:356:22)\n';
  const fake = await fakeCluster(c);
  const services = [
    { service: 'db', kind: 'mysql' as const, port: 3306, binding: 'instance' as const },
    { service: 'cache', kind: 'redis' as const, port: 6379, binding: 'instance' as const },
  ];
  const result = await trackRollout(createCtx({ logger: logger().logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 10, services });
  // Without them, the evidence is what it always was.
  const plain = await trackRollout(createCtx({ logger: logger().logger }), fake.kc, { namespace: 't', name: 'good', timeoutSeconds: 10 });
  await fake.close();
  if (result.ok || plain.ok) throw new Error('expected failures');
  expect(result.code).toBe('E_ROLLOUT_CRASHLOOP');
  const tail = result.evidence.indexOf('log of container web (the instance that crashed), last 3 lines:');
  expect(result.evidence[tail - 1]).toBe(
    'the app could not connect to service db (mysql, 10.96.0.12:3306): connection refused — the instance is not running or not ready',
  );
  expect(plain.evidence).toEqual(result.evidence.filter((l) => !l.startsWith('the app could not connect')));
});
