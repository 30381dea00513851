// Following a container's log (kubeClient().followLog) against a scripted API server on
// 127.0.0.1: lines split across chunks, the last line without a newline, a refusal, a cut
// connection and a cancelled follow, with the exact request checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../../src/context.js';
import { kubeClient } from '../../../src/kube/client.js';
import { apiStatus } from '../../../src/kube/failures.js';
import { createLogger } from '../../../src/log/logger.js';

type Step = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function fakeApi(step: Step): Promise<{ kc: KubeConfig; urls: URL[]; close(): Promise<void> }> {
  const urls: URL[] = [];
  const server = http.createServer((req, res) => {
    urls.push(new URL(req.url ?? '/', 'http://x'));
    step(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'deployer', token: 'token-123' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'deployer' }],
    currentContext: 'fake',
  });
  return {
    kc,
    urls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const ctx = () => createCtx({ logger: createLogger({ write: () => {}, gitlab: false, color: false }), env: {} });

test('lines come one by one as the chunks arrive, the last one without a newline too; the request follows with timestamps from sinceTime', async () => {
  const api = await fakeApi((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('2026-12-03T02:00:00.1Z one\n2026-12-03T02:00:00.2Z tw');
    setTimeout(() => res.write('o\n'), 20);
    setTimeout(() => res.end('2026-12-03T02:00:01Z three'), 40);
  });
  try {
    const lines: string[] = [];
    await kubeClient(ctx(), api.kc).followLog('ns', 'job-pod', 'migrate', { sinceTime: '2026-12-03T02:00:00Z', signal: new AbortController().signal }, (l) =>
      lines.push(l),
    );
    expect(lines).toEqual(['2026-12-03T02:00:00.1Z one', '2026-12-03T02:00:00.2Z two', '2026-12-03T02:00:01Z three']);
    const url = api.urls[0]!;
    expect(url.pathname).toBe('/api/v1/namespaces/ns/pods/job-pod/log');
    expect(Object.fromEntries(url.searchParams)).toEqual({ container: 'migrate', timestamps: 'true', follow: 'true', sinceTime: '2026-12-03T02:00:00Z' });
  } finally {
    await api.close();
  }
});

test('a refusal rejects with the API server’s answer', async () => {
  const api = await fakeApi((_req, res) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code: 400, message: 'container "migrate" in pod "p" is waiting to start: ContainerCreating' }));
  });
  try {
    const error = await kubeClient(ctx(), api.kc)
      .followLog('ns', 'p', 'migrate', { signal: new AbortController().signal }, () => {})
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiStatus(error)).toMatchObject({ code: 400, message: expect.stringContaining('waiting to start') });
  } finally {
    await api.close();
  }
});

test('a cut connection ends the follow (the caller follows again); a stopped follow ends at once', async () => {
  const cut = await fakeApi((_req, res) => {
    res.writeHead(200);
    res.write('2026-12-03T02:00:00Z before the cut\n');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  try {
    const lines: string[] = [];
    await kubeClient(ctx(), cut.kc).followLog('ns', 'p', 'migrate', { signal: new AbortController().signal }, (l) => lines.push(l));
    expect(lines).toEqual(['2026-12-03T02:00:00Z before the cut']);
  } finally {
    await cut.close();
  }

  const silent = await fakeApi((_req, res) => {
    res.writeHead(200);
    res.write('2026-12-03T02:00:00Z then nothing for minutes\n');
  });
  try {
    const stop = new AbortController();
    const lines: string[] = [];
    const following = kubeClient(ctx(), silent.kc).followLog('ns', 'p', 'migrate', { signal: stop.signal }, (l) => lines.push(l));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    stop.abort();
    await following;
    expect(Date.now() - started).toBeLessThan(500);
    expect(lines).toEqual(['2026-12-03T02:00:00Z then nothing for minutes']);
  } finally {
    await silent.close();
  }
});
