// The fresh start deploy gives the pods of an unchanged, failing revision (what `kubectl rollout
// restart` does), against a loopback API server that records what it is sent; and when two pod
// templates are the same one.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../../src/context.js';
import { restartRollout, samePodTemplate } from '../../../src/kube/history.js';
import { RESTARTED_AT_ANNOTATION } from '../../../src/kube/objects.js';
import { createLogger } from '../../../src/log/logger.js';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
}

async function apiServer(): Promise<{ kc: KubeConfig; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname === '/apis/apps/v1') {
        return res.end(
          JSON.stringify({
            kind: 'APIResourceList',
            groupVersion: 'apps/v1',
            resources: [{ name: 'deployments', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch'] }],
          }),
        );
      }
      received.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, contentType: req.headers['content-type'], body });
      res.end(JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', generation: 7 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return {
    kc,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('a restart sets restartedAt on the pod template by a merge patch of its own field manager, so later applies keep it', async () => {
  const api = await apiServer();
  const lines: string[] = [];
  const ctx = createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
  try {
    const at = new Date('2026-12-02T10:00:00.000Z');
    expect(await restartRollout(ctx, api.kc, 'shop', 'web', at)).toBe('2026-12-02T10:00:00.000Z');
    expect(api.received).toHaveLength(1);
    const [patch] = api.received;
    expect(patch).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json' });
    expect(patch!.path).toBe('/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=gantry-rollout');
    expect(JSON.parse(patch!.body)).toEqual({ spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-12-02T10:00:00.000Z' } } } } });
    expect(RESTARTED_AT_ANNOTATION).toBe('kubectl.kubernetes.io/restartedAt');
    expect(lines.join('')).toContain('deployment/web: pods restarted (kubectl.kubernetes.io/restartedAt=2026-12-02T10:00:00.000Z)');

    // A dry run changes nothing.
    await restartRollout({ ...ctx, dryRun: true }, api.kc, 'shop', 'web', at);
    expect(api.received[1]!.path).toContain('dryRun=All');
  } finally {
    await api.close();
  }
});

test('two pod templates are the same when only key order differs; any value makes them differ', () => {
  const a = {
    spec: {
      template: {
        metadata: { labels: { app: 'web', tier: 'api' }, annotations: { 'gantry.dev/config-checksum': 'x' } },
        spec: { containers: [{ name: 'web', image: 'r/web@sha256:1' }] },
      },
    },
  };
  const reordered = {
    spec: {
      template: {
        spec: { containers: [{ image: 'r/web@sha256:1', name: 'web' }] },
        metadata: { annotations: { 'gantry.dev/config-checksum': 'x' }, labels: { tier: 'api', app: 'web' } },
      },
    },
  };
  expect(samePodTemplate(a, reordered)).toBe(true);
  const otherImage = structuredClone(a);
  otherImage.spec.template.spec.containers[0]!.image = 'r/web@sha256:2';
  expect(samePodTemplate(a, otherImage)).toBe(false);
  expect(samePodTemplate(undefined, a)).toBe(false);
});
