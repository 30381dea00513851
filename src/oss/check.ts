// Whether the OSS key pair may read the bucket: list at most one key under the prefix. Read-only;
// a write permission is only proven by a publish.
import type { Ctx } from '../context.js';
import { untilAborted } from '../retry.js';
import { ossClient, ossError, type OssTarget } from './client.js';

/** The key pair comes from the CI variables; ctx masks the secret by its name. */
export async function checkOssAccess(
  ctx: Ctx,
  target: OssTarget,
  prefix: string,
  options: { timeoutMs?: number } = {},
): Promise<{ bucket: string; prefix: string; keys: number }> {
  // One attempt, bounded by the deadlines (doctor's own check timeout may be shorter).
  const timeoutMs = options.timeoutMs ?? ctx.deadlines.requestMs;
  const client = ossClient(target, { connectMs: ctx.deadlines.connectMs, requestMs: timeoutMs });
  try {
    const page = await untilAborted(ctx.signal, client.listV2({ prefix, 'max-keys': '1' } as never, {}));
    return { bucket: target.bucket, prefix, keys: (page.objects ?? []).length };
  } catch (error) {
    throw ossError(`list ${target.bucket}/${prefix}`, target, error, { requestMs: timeoutMs });
  }
}
