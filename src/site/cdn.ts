// The CDN refresh that follows an HTML flip (a publish, an activation, a rollback): only the HTML
// that changed, once it is live; assets have new hashed names and need none. A failure comes after
// the flip, so it is handed back for the caller to print its summary first, then fail the step.
import type { Ctx } from '../context.js';
import type { GantryError } from '../errors.js';
import type { SiteTarget } from './target.js';

/** The CDN refresh of the HTML that changed, after it went live (assets have new hashed names). */
export async function refreshCdn(
  ctx: Ctx,
  site: Pick<SiteTarget, 'fe' | 'prefix' | 'cdnCredentials' | 'retries'>,
  changed: { key: string; html: boolean }[],
): Promise<{ summary?: { urls: string[]; taskIds: string[] }; failure?: GantryError }> {
  const { fe, prefix, cdnCredentials, retries } = site;
  if (!fe.cdn || !cdnCredentials) return {};
  const cdn = await import('../oss/cdn.js');
  const { domain, endpoint } = fe.cdn;
  const urls = cdn.refreshUrls(domain, prefix, changed, fe.website?.index);
  const summary = { urls, taskIds: [] as string[] };
  let failure: GantryError | undefined;
  await ctx.logger.section('gantry_frontend_cdn', `CDN refresh on ${domain}`, async () => {
    if (urls.length === 0) return ctx.logger.info('no HTML changed: nothing to refresh');
    for (const url of urls) ctx.logger.info(`  ${ctx.dryRun ? 'would refresh' : 'refresh'} ${url}`);
    if (ctx.dryRun) return;
    try {
      summary.taskIds = (await cdn.aliyunCdnRefresher(ctx, { endpoint, ...cdnCredentials, retries }).refresh(urls)).taskIds;
    } catch (error) {
      failure = cdn.cdnError(error, `${fe.bucket}/${prefix}`, urls);
    }
  });
  return { summary, ...(failure ? { failure } : {}) };
}
