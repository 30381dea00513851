// Issue #13, found item 10: a kubeconfig whose exec plugin (aws, gke-gcloud-auth-plugin, a
// vendor's token helper) fails gave E_KUBE_API with an empty message. The error must name the
// plugin's command and what it said on stderr (or that it said nothing), masked like every line.
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../../src/context.js';
import { formatError, type GantryError } from '../../../src/errors.js';
import { kubeClient } from '../../../src/kube/client.js';
import { getJson } from '../../../src/kube/watch.js';
import { createLogger } from '../../../src/log/logger.js';

function withPlugin(script: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // Never contacted: the plugin fails before any request is sent.
    clusters: [{ name: 'c', server: 'https://127.0.0.1:9', skipTLSVerify: true }],
    users: [{ name: 'u', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', script] } }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

function printed(): { ctx: ReturnType<typeof createCtx>; text: () => string } {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env: {} }), text: () => out };
}

const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'y' };

test('a plugin that fails with a message: the command and its stderr, secrets masked', async () => {
  const { ctx, text } = printed();
  ctx.logger.addSecret('s3cr3t-refresh-token');
  const error = (await kubeClient(ctx, withPlugin('echo "refresh failed for s3cr3t-refresh-token: token expired" >&2; exit 3'))
    .read(ref)
    .catch((e: unknown) => e)) as GantryError;
  expect(error.code).toBe('E_KUBE_API');
  expect(error.message).toContain("the kubeconfig's exec plugin /bin/sh failed");
  expect(error.message).toContain('token expired');
  ctx.logger.error(formatError(error));
  expect(text()).toContain('refresh failed for [MASKED]: token expired');
  expect(text()).not.toContain('s3cr3t-refresh-token');
  expect(error.fix).toMatch(/run the plugin/);
});

test('a plugin that fails silently, or is not installed: never an empty message', async () => {
  const { ctx } = printed();
  const silent = (await kubeClient(ctx, withPlugin('exit 1'))
    .read(ref)
    .catch((e: unknown) => e)) as GantryError;
  expect(silent.code).toBe('E_KUBE_API');
  expect(silent.message).toMatch(/exec plugin \/bin\/sh failed: it exited with an error and wrote nothing on stderr/);

  const kc = withPlugin('');
  kc.getCurrentUser()!.exec!.command = '/nonexistent/gke-gcloud-auth-plugin';
  const missing = (await kubeClient(ctx, kc)
    .read(ref)
    .catch((e: unknown) => e)) as GantryError;
  expect(missing.message).toMatch(/exec plugin \/nonexistent\/gke-gcloud-auth-plugin failed: .*ENOENT/);
});

test("the tracker's own requests (lists, watches) say the same", async () => {
  await expect(getJson(withPlugin('echo nope >&2; exit 2'), '/api/v1/namespaces/y/pods', {}, new AbortController().signal)).rejects.toMatchObject({
    message: expect.stringContaining("the kubeconfig's exec plugin /bin/sh failed: nope"),
  });
});

test('a plugin that hangs (a token helper waiting on a silent STS endpoint) ends within the request deadline, naming the plugin', async () => {
  const { ctx } = printed();
  const started = Date.now();
  const error = (await kubeClient(ctx, withPlugin('sleep 30'), { timeoutMs: 500, retries: 0 })
    .read(ref)
    .catch((e: unknown) => e)) as GantryError;
  expect(Date.now() - started).toBeLessThan(5000);
  expect(error.message).toMatch(/exec plugin \/bin\/sh failed: no answer within 0\.5 s/);
});
