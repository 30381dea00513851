// kubeconfigFromCi puts its temp directory (the token is in it) on ctx.cleanup, so a cancelled
// CLI run can say it removed it, or remove it itself when it cannot wait (#13 found 2).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { kubeconfigFromCi } from '../../../src/kube/config.js';

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443" } }]
users: [{ name: u, user: { token: "cleanup-test-token" } }]
contexts: [{ name: ci, context: { cluster: c, user: u } }]
current-context: ci
`;

const quietCtx = () => createCtx({ env: { KUBECONFIG_STAGING: kubeconfig }, logger: createLogger({ write: () => {} }) });

test('the temp directory is held on ctx.cleanup until dispose removes it, which is reported once', async () => {
  const ctx = quietCtx();
  const { path: file, dispose } = await kubeconfigFromCi(ctx, 'KUBECONFIG_STAGING');
  expect(existsSync(file)).toBe(true);
  await dispose();
  await dispose();
  expect(existsSync(path.dirname(file))).toBe(false);
  expect(ctx.cleanup.done()).toEqual(['removed the kubeconfig temp file of KUBECONFIG_STAGING']);
  expect(ctx.cleanup.removeCredentialsNow()).toEqual([]);
});

test('a run that never reaches dispose still has the directory on its list, and removeCredentialsNow removes it', async () => {
  const ctx = quietCtx();
  const { path: file } = await kubeconfigFromCi(ctx, 'KUBECONFIG_STAGING');
  expect(ctx.cleanup.removeCredentialsNow()).toEqual([path.dirname(file)]);
  expect(existsSync(path.dirname(file))).toBe(false);
});
