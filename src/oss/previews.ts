// Merge request previews in the frontend bucket: <frontend.prefix>/previews/mr-<iid>/. Shared by
// `gantry frontend` (which publishes and, with --stop, deletes one), `gantry stop` and
// `gantry cleanup-previews`, so all three agree on where a preview lives and what removing it means.
import type { Ctx } from '../context.js';
import { ciVariables } from '../ci/variables.js';
import { gantryError } from '../errors.js';
import { openOss, type OssTarget } from './client.js';

/** Where the site lives in the bucket: frontend.prefix with one trailing "/", or "" for the bucket's root. */
export function sitePrefix(prefix: string | undefined): string {
  return prefix ? `${prefix.replace(/\/+$/, '')}/` : '';
}

/** The prefix that holds every preview of the site. */
export function previewsBase(prefix: string | undefined): string {
  return `${sitePrefix(prefix)}previews/`;
}

/** The prefix of one merge request's preview. */
export function previewPrefix(prefix: string | undefined, iid: string): string {
  return `${previewsBase(prefix)}mr-${iid}/`;
}

/**
 * The OSS key pair from the CI variables (ctx masks the secret, by its name), or a clear error
 * saying what the pair is needed for.
 */
export function ossTargetFromEnv(
  ctx: Ctx,
  where: { bucket: string; region: string; endpoint?: string | undefined; pathStyle?: boolean | undefined },
  purpose: string,
): OssTarget {
  const { ossAccessKeyId: accessKeyId, ossAccessKeySecret: accessKeySecret } = ciVariables(ctx.env).gantry;
  if (!accessKeyId || !accessKeySecret) {
    throw gantryError('E_OSS_CREDENTIALS_MISSING', { purpose, bucket: where.bucket });
  }
  return { bucket: where.bucket, region: where.region, endpoint: where.endpoint, pathStyle: where.pathStyle, accessKeyId, accessKeySecret };
}

/** Deletes every object under one preview's prefix (and nothing else); returns how many there were. */
export async function deletePreview(ctx: Ctx, target: OssTarget, prefix: string): Promise<number> {
  if (!/(^|\/)previews\/mr-[1-9][0-9]*\/$/.test(prefix)) throw new Error(`deletePreview: ${prefix} is not a preview prefix`);
  const store = openOss(ctx, target, ciVariables(ctx.env).gantry.ossRetries);
  const objects = await store.list(prefix);
  ctx.logger.info(`${ctx.dryRun ? 'would delete' : 'deleting'} ${objects.length} objects under ${target.bucket}/${prefix}`);
  if (!ctx.dryRun) await store.deleteMany(objects.map((o) => o.key));
  return ctx.dryRun ? 0 : objects.length;
}
