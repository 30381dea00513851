// ctx.cleanup: what a cancelled run reports it cleaned up, and the credential directories the
// CLI removes synchronously when it cannot wait for the steps' own cleanup (#13 found 2).
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCleanup, createCtx } from '../../src/context.js';

describe('ctx.cleanup', () => {
  test('a directory its owner removed is reported as cleaned up and not removed again; one still held is removed now', () => {
    const cleanup = createCleanup();
    const disposed = mkdtempSync(path.join(tmpdir(), 'gantry-kube-'));
    const left = mkdtempSync(path.join(tmpdir(), 'gantry-kube-'));
    writeFileSync(path.join(left, 'kubeconfig'), 'token: x', { mode: 0o600 });
    cleanup.holdCredentials(disposed);
    cleanup.holdCredentials(left);
    cleanup.removedCredentials(disposed, 'removed the kubeconfig temp file of KUBECONFIG_STAGING');
    cleanup.removedCredentials(disposed, 'removed it twice'); // dispose is safe to call twice: reported once
    cleanup.note('released the deploy lease ns/gantry-deploy-web');
    expect(cleanup.done()).toEqual(['removed the kubeconfig temp file of KUBECONFIG_STAGING', 'released the deploy lease ns/gantry-deploy-web']);
    expect(cleanup.removeCredentialsNow()).toEqual([left]);
    expect(existsSync(left)).toBe(false);
    expect(cleanup.removeCredentialsNow()).toEqual([]);
  });

  test('each context gets its own list; contexts made from one by spreading share it', () => {
    const a = createCtx({ env: {} });
    const b = createCtx({ env: {} });
    a.cleanup.note('x');
    expect(b.cleanup.done()).toEqual([]);
    const step = { ...a, dryRun: true };
    step.cleanup.note('y');
    expect(a.cleanup.done()).toEqual(['x', 'y']);
  });
});
