// The list+watch stream against a scripted API server on 127.0.0.1: the situations a real
// cluster produces only now and then (410 Gone, a connection cut mid-watch, a server-side watch
// timeout, RBAC without "watch", revoked credentials) on demand, with the exact requests checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../../src/context.js';
import { kubeClient } from '../../../src/kube/client.js';
import { kubeError } from '../../../src/kube/failures.js';
import { startStream, type StreamHandlers } from '../../../src/kube/watch.js';
import { createLogger } from '../../../src/log/logger.js';
import { waitedFor } from '../../../src/retry.js';

interface Obj {
  metadata: { name: string; uid: string; resourceVersion: string };
}

const obj = (name: string, rv: string): Obj => ({ metadata: { name, uid: `uid-${name}`, resourceVersion: rv } });

type Step = (req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams) => void;

interface Fake {
  kc: KubeConfig;
  requests: { watch: boolean; resourceVersion: string | null; labelSelector: string | null; timeoutSeconds: string | null; auth: string | undefined }[];
  close(): Promise<void>;
}

/** An API server that answers request n with steps[n] (the last step repeats). */
async function fakeApi(steps: Step[]): Promise<Fake> {
  const requests: Fake['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    requests.push({
      watch: q.get('watch') === 'true',
      resourceVersion: q.get('resourceVersion'),
      labelSelector: q.get('labelSelector'),
      timeoutSeconds: q.get('timeoutSeconds'),
      auth: req.headers.authorization,
    });
    const step = steps[Math.min(requests.length - 1, steps.length - 1)]!;
    step(req, res, q);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'deployer', token: 'token-123' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'deployer' }],
    currentContext: 'fake',
  });
  return {
    kc,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const list =
  (rv: string, ...items: Obj[]): Step =>
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: rv }, items }));
  };

/** A watch that sends these lines, then ends as told: normally, or by cutting the connection, or never. */
const watch =
  (lines: unknown[], end: 'close' | 'cut' | 'hang' = 'close'): Step =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    for (const line of lines) res.write(`${JSON.stringify(line)}\n`);
    if (end === 'close') res.end();
    else if (end === 'cut') setTimeout(() => res.socket?.destroy(), 20);
  };

const status =
  (code: number, message: string): Step =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code, message, reason: code === 403 ? 'Forbidden' : 'Unauthorized' }));
  };

interface Recorded {
  log: string[];
  handlers: StreamHandlers<Obj>;
  fatal: unknown[];
}

function recorder(): Recorded {
  const log: string[] = [];
  const fatal: unknown[] = [];
  return {
    log,
    fatal,
    handlers: {
      onSync: (items) => log.push(`sync ${items.map((i) => i.metadata.name).join(',')}`),
      onEvent: (type, o) => log.push(`${type} ${o.metadata.name}`),
      onState: (s) => log.push(s),
      onFatal: (e) => {
        fatal.push(e);
        log.push('fatal');
      },
      log: (m) => log.push(`note: ${m}`),
    },
  };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const options = (extra: Record<string, unknown> = {}) => ({
  signal: new AbortController().signal,
  pollFallback: true,
  maxBackoffMs: 40,
  pollIntervalMs: 50,
  watchTimeoutSeconds: 30,
  ...extra,
});

test('lists, watches from the list version, resumes a watch the server ended from the last version seen (bookmarks too), and lists again after 410 Gone', async () => {
  const fake = await fakeApi([
    list('100', obj('a', '90')),
    watch([
      { type: 'ADDED', object: obj('b', '101') },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '105' } } },
    ]),
    watch(
      [
        { type: 'MODIFIED', object: obj('b', '110') },
        { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 110 (120)' } },
      ],
      'hang',
    ),
    list('200', obj('b', '110'), obj('c', '150')),
    watch([{ type: 'DELETED', object: obj('a', '201') }], 'hang'),
  ]);
  const r = recorder();
  const stream = startStream(fake.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods', params: { labelSelector: 'app=web' } }, r.handlers, options());
  await until(() => r.log.includes('DELETED a'));
  stream.stop();
  await stream.done;
  await fake.close();
  expect(r.log).toEqual(['sync a', 'live', 'ADDED b', 'MODIFIED b', 'sync b,c', 'live', 'DELETED a']);
  expect(fake.requests.map((q) => [q.watch, q.resourceVersion])).toEqual([
    [false, null],
    [true, '100'],
    [true, '105'], // resumed after the bookmark, no list in between
    [false, null], // 410: list again
    [true, '200'],
  ]);
  expect(fake.requests.every((q) => q.labelSelector === 'app=web' && q.auth === 'Bearer token-123')).toBe(true);
  expect(fake.requests[1]!.timeoutSeconds).toBe('30');
});

test('a connection cut in the middle of a watch (an API server going away) is reported, then listed again after a backoff', async () => {
  const fake = await fakeApi([
    list('10', obj('a', '9')),
    watch([{ type: 'MODIFIED', object: obj('a', '11') }], 'cut'),
    (_req, res) => res.socket?.destroy(), // still down: connection reset
    list('30', obj('a', '25')),
    watch([], 'hang'),
  ]);
  const r = recorder();
  const stream = startStream(fake.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r.handlers, options());
  await until(() => r.log.filter((l) => l === 'live').length === 2 && fake.requests.length >= 5);
  stream.stop();
  await stream.done;
  await fake.close();
  expect(r.log).toEqual(['sync a', 'live', 'MODIFIED a', 'down', 'sync a', 'live']);
  expect(fake.requests.map((q) => q.watch)).toEqual([false, true, false, false, true]);
  expect(fake.requests[4]!.resourceVersion).toBe('30');
});

test('RBAC that allows list but not watch: polls with lists when pollFallback is on', async () => {
  const forbidden = status(403, 'pods is forbidden: User "system:serviceaccount:t:deployer" cannot watch resource "pods"');
  // The refused watch (its Status message read from its own answer), then lists.
  const fake = await fakeApi([list('1', obj('a', '1')), forbidden, list('2', obj('a', '2'), obj('b', '2'))]);
  const r = recorder();
  const stream = startStream(fake.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r.handlers, options());
  await until(() => fake.requests.length >= 5);
  stream.stop();
  await stream.done;
  await fake.close();
  expect(r.log.slice(0, 4)).toEqual([
    'sync a',
    'live',
    'note: the API server refuses to watch pods (HTTP 403 pods is forbidden: User "system:serviceaccount:t:deployer" cannot watch resource "pods"): polling every 0.05 s',
    'sync a,b',
  ]);
  expect(fake.requests.slice(2).every((q) => !q.watch)).toBe(true);
  expect(r.fatal).toEqual([]);
});

test('RBAC without watch and pollFallback off, or credentials refused, are fatal at once', async () => {
  const noWatch = await fakeApi([list('1', obj('a', '1')), status(403, 'pods is forbidden')]);
  const r1 = recorder();
  const s1 = startStream(noWatch.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r1.handlers, options({ pollFallback: false }));
  await s1.done;
  await noWatch.close();
  expect(r1.log).toEqual(['sync a', 'live', 'fatal']);
  expect((r1.fatal[0] as { body?: { message?: string } }).body?.message).toBe('pods is forbidden');

  const revoked = await fakeApi([status(401, 'Unauthorized')]);
  const r2 = recorder();
  const s2 = startStream(revoked.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r2.handlers, options());
  await s2.done;
  await revoked.close();
  expect(r2.log).toEqual(['fatal']);
  expect((r2.fatal[0] as { code?: number }).code).toBe(401);
});

test('stop() ends a hanging watch at once', async () => {
  const fake = await fakeApi([list('1', obj('a', '1')), watch([], 'hang')]);
  const r = recorder();
  const stream = startStream(fake.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r.handlers, options());
  await until(() => fake.requests.length === 2);
  const t = Date.now();
  stream.stop();
  await stream.done;
  expect(Date.now() - t).toBeLessThan(500);
  await fake.close();
  expect(r.log).toEqual(['sync a', 'live']);
});

test('a refusal right after the connection came back (an API server whose authorizer has not loaded RBAC yet) is retried for a bounded time, then fatal', async () => {
  const forbidden = status(403, 'deployments.apps is forbidden: User "system:serviceaccount:t:gantry-deployer" cannot list resource "deployments"');
  const fake = await fakeApi([
    list('10', obj('a', '9')),
    watch([], 'cut'), // the API server goes away
    (_req, res) => res.socket?.destroy(), // still down
    forbidden, // back, but RBAC not loaded yet
    forbidden,
    list('30', obj('a', '25')),
    watch([], 'hang'),
  ]);
  const r = recorder();
  const stream = startStream(fake.kc, { what: 'deployments', path: '/apis/apps/v1/namespaces/t/deployments' }, r.handlers, options({ refusalGraceMs: 5000 }));
  await until(() => r.log.filter((l) => l === 'live').length === 2 && fake.requests.length >= 7);
  stream.stop();
  await stream.done;
  await fake.close();
  expect(r.fatal).toEqual([]);
  expect(r.log).toEqual([
    'sync a',
    'live',
    'down',
    'note: the API server refuses to list deployments right after coming back (HTTP 403 deployments.apps is forbidden: User "system:serviceaccount:t:gantry-deployer" cannot list resource "deployments"); a restarted API server refuses until it has loaded its RBAC rules: retrying for up to 5 s',
    'sync a',
    'live',
  ]);

  // A refusal that lasts past the grace is what it says.
  const lasting = await fakeApi([list('10', obj('a', '9')), watch([], 'cut'), forbidden]);
  const r2 = recorder();
  const s2 = startStream(lasting.kc, { what: 'deployments', path: '/apis/apps/v1/namespaces/t/deployments' }, r2.handlers, options({ refusalGraceMs: 300 }));
  const t = Date.now();
  await s2.done;
  await lasting.close();
  expect(Date.now() - t).toBeGreaterThanOrEqual(300);
  expect(r2.log[r2.log.length - 1]).toBe('fatal');
  expect((r2.fatal[0] as { code?: number }).code).toBe(403);
});

describe('a watch that goes silent (issue #13: no event, no bookmark, no close past its timeoutSeconds plus the request deadline)', () => {
  const silentOptions = () => options({ watchTimeoutSeconds: 1, requestTimeoutMs: 300 });
  /** The watch is accepted (status and headers sent, as an API server does at once), then nothing. */
  const silentWatch: Step = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
  };

  test('is re-established from a fresh list', async () => {
    const fake = await fakeApi([list('1', obj('a', '1')), silentWatch, list('2', obj('a', '1'), obj('b', '2')), watch([], 'hang')]);
    const r = recorder();
    const started = Date.now();
    const stream = startStream(fake.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r.handlers, silentOptions());
    await until(() => fake.requests.length >= 4);
    const reestablishedAfter = Date.now() - started;
    stream.stop();
    await stream.done;
    await fake.close();
    expect(r.log).toEqual(['sync a', 'live', 'down', 'sync a,b', 'live']);
    expect(fake.requests.map((q) => q.watch)).toEqual([false, true, false, true]);
    expect(reestablishedAfter).toBeGreaterThanOrEqual(1300);
    expect(reestablishedAfter).toBeLessThan(3000);
    expect(r.fatal).toEqual([]);
  });

  test('and when the list after it gets no answer either, the stream ends with the timeout and the wait, and the step knows the server is silent', async () => {
    const fake = await fakeApi([list('1', obj('a', '1')), silentWatch, () => {}]);
    const r = recorder();
    const started = Date.now();
    const stream = startStream(fake.kc, { what: 'pods', path: '/api/v1/namespaces/t/pods' }, r.handlers, silentOptions());
    await stream.done;
    const endedAfter = Date.now() - started;
    expect(r.log).toEqual(['sync a', 'live', 'down', 'fatal']);
    // The watch's silence (1 s + 300 ms), a backoff, the list's deadline (300 ms), and slack.
    expect(endedAfter).toBeGreaterThanOrEqual(1300 + 300);
    expect(endedAfter).toBeLessThan(1300 + 40 + 300 + 1000);
    expect(r.fatal[0]).toMatchObject({ code: 'ETIMEDOUT', phase: 'request' });
    expect(waitedFor(r.fatal[0])?.attempts).toBe(2);
    const server = fake.kc.getCurrentCluster()!.server;
    expect(kubeError('track deployment/web in t', r.fatal[0], server).message).toMatch(
      new RegExp(
        `^track deployment/web in t: cannot reach the Kubernetes API server at ${server.replace(/\./g, '\\.')}: no answer within \\d+ s \\(waited \\d+ s over 2 attempts\\)$`,
      ),
    );
    // The step's next call does not wait again.
    const ctx = createCtx({ logger: createLogger({ write: () => {}, gitlab: false, color: false }), env: {} });
    const before = fake.requests.length;
    const t = Date.now();
    await expect(kubeClient(ctx, fake.kc).read({ apiVersion: 'v1', kind: 'Pod', name: 'a', namespace: 't' })).rejects.toMatchObject({
      code: 'E_KUBE_UNREACHABLE',
    });
    expect(Date.now() - t).toBeLessThan(100);
    expect(fake.requests.length).toBe(before);
    await fake.close();
  });
});
