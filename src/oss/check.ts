// Whether the OSS key pair may read the bucket: list at most one key under the prefix. Read-only;
// a write permission is only proven by a publish.
import type { Ctx } from '../context.js';
import { ossClient, ossError, type OssTarget } from './client.js';

/** The key pair comes from the CI variables; ctx masks the secret by its name. */
export async function checkOssAccess(
  _ctx: Ctx,
  target: OssTarget,
  prefix: string,
  options: { timeoutMs?: number } = {},
): Promise<{ bucket: string; prefix: string; keys: number }> {
  const client = ossClient(target);
  try {
    const page = await client.listV2({ prefix, 'max-keys': '1' } as never, { timeout: options.timeoutMs ?? 5000 });
    return { bucket: target.bucket, prefix, keys: (page.objects ?? []).length };
  } catch (error) {
    throw ossError(`list ${target.bucket}/${prefix}`, target, error);
  }
}
