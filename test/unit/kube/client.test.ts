// The client against servers that do not answer like an API server at all: a closed port and
// a socket that accepts and then says nothing. What is checked is the retry policy, the
// time bounds and the error a user sees.
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server, type Socket } from 'node:net';
import { createCtx } from '../../../src/context.js';
import { kubeClient } from '../../../src/kube/client.js';
import { createLogger } from '../../../src/log/logger.js';

function kubeconfigFor(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'token-value-for-tests' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

function quiet() {
  const lines: string[] = [];
  return { ctx: createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
}

async function listen(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

describe('talking to an API server that is not there', () => {
  test('connection refused: idempotent reads are retried with backoff, logged, then E_KUBE_UNREACHABLE', async () => {
    const { server, port } = await listen(() => {});
    await new Promise((r) => server.close(r)); // the port is now closed
    const { ctx, lines } = quiet();
    const client = kubeClient(ctx, kubeconfigFor(port), { retries: 2, minRetryDelayMs: 50 });
    const started = Date.now();
    await expect(client.read({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'y' })).rejects.toMatchObject({
      code: 'E_KUBE_UNREACHABLE',
      message: expect.stringMatching(new RegExp(`^get configmap/x: cannot reach the Kubernetes API server at https://127.0.0.1:${port} \\(ECONNREFUSED\\)`)),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150); // 50 + 100 ms of backoff
    expect(lines.join('')).toMatch(/get configmap\/x: cannot reach .*; retrying \(2 left\)\n.*retrying \(1 left\)/);
  });

  test('a server that never answers times out: reads are tried once more (not `retries` times), a create is sent once, later calls do not wait again', async () => {
    const { server, port, sockets } = await listen(() => {}); // accepts, never speaks TLS
    try {
      const { ctx } = quiet();
      const client = kubeClient(ctx, kubeconfigFor(port), { timeoutMs: 300, retries: 2, minRetryDelayMs: 20 });
      const started = Date.now();
      await expect(client.list('v1', 'ConfigMap', 'y')).rejects.toMatchObject({
        code: 'E_KUBE_UNREACHABLE',
        message: expect.stringMatching(new RegExp(`at https://127\\.0\\.0\\.1:${port}: no answer within \\d+ s \\(waited \\d+ s over 2 attempts\\)$`)),
      });
      expect(sockets.length).toBe(2);
      expect(Date.now() - started).toBeLessThan(3000);
      // A create is not idempotent: one attempt only, whatever failed (a fresh kubeconfig: the
      // first one is known to be silent now).
      const fresh = kubeClient(ctx, kubeconfigFor(port), { timeoutMs: 300, retries: 2, minRetryDelayMs: 20 });
      await expect(fresh.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'y' } })).rejects.toMatchObject({
        code: 'E_KUBE_UNREACHABLE',
      });
      expect(sockets.length).toBe(3);
      // One unanswered attempt of a single-attempt call (a lease renewal, a create behind a slow
      // webhook) is not silence: the next call asks the server again.
      await expect(fresh.read({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'y' })).rejects.toMatchObject({ code: 'E_KUBE_UNREACHABLE' });
      expect(sockets.length).toBe(5);
      // Once silent, the step's later calls fail at once with the same cause, without a new connection.
      const again = Date.now();
      await expect(client.read({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'y' })).rejects.toMatchObject({
        code: 'E_KUBE_UNREACHABLE',
        message: expect.stringMatching(/^get configmap\/x: cannot reach .*: no answer within \d+ s \(waited \d+ s over 2 attempts\)$/),
      });
      expect(Date.now() - again).toBeLessThan(100);
      expect(sockets.length).toBe(5);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  test('cancelling the step stops the retries at once', async () => {
    const { server, port } = await listen(() => {});
    await new Promise((r) => server.close(r));
    const controller = new AbortController();
    const ctx = createCtx({ logger: quiet().ctx.logger, signal: controller.signal });
    const client = kubeClient(ctx, kubeconfigFor(port), { retries: 10, minRetryDelayMs: 1000 });
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('job cancelled')), 100);
    await expect(client.read({ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'y' })).rejects.toThrow('job cancelled');
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
