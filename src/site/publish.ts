// gantry frontend as a flow: run the frontend build, then publish only what changed to OSS,
// assets first and index.html last; or (--stop) remove a merge request's preview files. The
// OSS protocol, plan, staging and publishing waves are in src/oss/; this is their order.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { EnvironmentSource } from '../config/load.js';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';
import { refreshCdn } from './cdn.js';
import { siteTarget } from './target.js';

export interface PublishSiteInput extends EnvironmentSource {
  /** --skip-build: publish what frontend.dir holds. */
  skipBuild: boolean;
  /** Parallel uploads, 1 to 64. */
  concurrency: number;
  /** --stop: delete the review environment's preview files instead. */
  stop: boolean;
  /** --website: apply the bucket's website hosting settings after publishing. */
  website: boolean;
  /** --if-configured: a gantry.yaml without frontend is nothing to do, not an error. */
  ifConfigured: boolean;
  /**
   * --stage: upload the assets and keep the HTML aside under the release's own area; the live
   * HTML and live.json stay as they are until --activate (src/site/release.ts).
   */
  stage?: boolean | undefined;
}

/** What gantry frontend prints: nothing (skipped), the deleted preview, or the publish summary. */
export type PublishSiteResult =
  | { status: 'skipped' }
  | { status: 'stopped'; report: { environment: string; bucket: string; prefix: string; deleted: number } }
  | { status: 'published'; report: Record<string, unknown>; error: GantryError | undefined };

export async function publishSite(ctx: Ctx, input: PublishSiteInput): Promise<PublishSiteResult> {
  const { cwd, env, envName, concurrency } = input;
  const staging = input.stage === true;
  // The site (config, credentials, prefix) is worked out while the modules load.
  const [where, { scanBundle }, { stageBundle }, { planUpload }, { publish, headersFor }, { openOss, ossError }, { recordRelease, readLivePointer }, previews] =
    await Promise.all([
      siteTarget(ctx, input, { purpose: input.stop ? 'delete the preview' : 'publish', ifConfigured: input.ifConfigured }),
      import('../oss/files.js'),
      import('../oss/stage.js'),
      import('../oss/plan.js'),
      import('../oss/publish.js'),
      import('../oss/client.js'),
      import('../oss/release.js'),
      import('../oss/previews.js'),
    ]);
  // Loaded once release.js (which imports it) has: jest's ESM loader fails a module (node:zlib)
  // that two imports of one Promise.all link at the same time ("request for 'node:zlib' is not in cache").
  const retention = await import('../oss/retention.js');
  if (!where) return { status: 'skipped' };
  const { fe, ci, target, prefix, retries } = where;

  // Stopping a preview removes everything under its prefix, and nothing else.
  if (input.stop) {
    if (envName !== 'review') throw gantryError('E_USAGE', { flag: 'stop', outsideReview: true });
    const deleted = await previews.deletePreview(ctx, target, prefix);
    return { status: 'stopped', report: { environment: envName, bucket: fe.bucket, prefix, deleted } };
  }
  const store = openOss(ctx, target, retries);

  // The build is told the path it is served at; a preview must load only its own files.
  const site = await import('../oss/public-path.js');
  const publicPath = site.publicPathFor(prefix);
  const dir = path.resolve(cwd, fe.dir);
  const shownDir = path.relative(cwd, dir) || dir;
  // A dry run changes nothing, and the build writes files: it is not run. The plan is made from
  // what the build directory holds now, or not at all when there is none.
  if (fe.build && !input.skipBuild && ctx.dryRun) {
    ctx.logger.info(`dry run: the frontend build (${fe.build}) is not run, as it writes files`);
    if (!existsSync(dir)) {
      ctx.logger.info(`dry run: ${shownDir} does not exist (not built yet): no upload plan; run without --dry-run, or build first, to see one`);
      return {
        status: 'published',
        report: { environment: envName, bucket: fe.bucket, prefix, built: false, uploaded: 0, bytes: 0, unchanged: 0, deleted: 0, planned: [] },
        error: undefined,
      };
    }
    ctx.logger.info(`dry run: planning from ${shownDir} as it is now (it may be older than the source)`);
  }
  if (fe.build && !input.skipBuild && !ctx.dryRun) {
    await ctx.logger.section('gantry_frontend_build', `frontend build: ${fe.build}`, async () => {
      const { $ } = await import('zx/core');
      const r = await $({
        cwd,
        quiet: true,
        nothrow: true,
        env: { ...env, ...site.buildEnvironment(ctx, env, publicPath, envName === 'review') },
      })`sh -c ${fe.build}`;
      for (const line of (r.stdout + r.stderr).trimEnd().split('\n')) if (line) ctx.logger.info(line);
      if (r.exitCode !== 0) {
        throw gantryError('E_FRONTEND_BUILD_FAILED', {
          command: fe.build,
          exitCode: r.exitCode,
          output: (r.stdout + r.stderr).trimEnd().split('\n').slice(-20),
        });
      }
    });
  }
  // The listing and the local scan are independent: run them together.
  const listing = store.list(prefix);
  listing.catch(() => undefined);
  const { files: built, manifests } = existsSync(dir) ? await scanBundle(dir) : { files: [], manifests: [] };
  for (const m of manifests) {
    if (m.problem) ctx.logger.warn(`${m.key}: ${m.problem}; hashed names are judged by their names alone`);
    else ctx.logger.info(`${m.key}: the bundler's manifest names ${m.outputs} outputs; it decides which of them carry a content hash`);
  }
  if (built.length === 0) {
    throw gantryError('E_FRONTEND_EMPTY', { dir: path.relative(cwd, dir) || dir, exists: existsSync(dir) });
  }
  await site.checkPublicPath(ctx, { files: built, publicPath, preview: envName === 'review', pkg: site.readFrontendPackage(cwd, dir) });

  const version = fe.cacheBust ? ci.shortSha : '';
  if (fe.cacheBust && !version) ctx.logger.warn('no commit sha (not in CI and not in a git repository): references to unhashed assets are not given ?v=');
  const staged = await stageBundle(built, { version, encoding: fe.encoding, compress: fe.compress, publicPath });
  const files = staged.files;
  for (const r of staged.rewritten) ctx.logger.info(`${r.key}: ${r.references} reference(s) to unhashed assets get ?v=${version}`);
  if (staged.compressed > 0) ctx.logger.info(`${staged.compressed} files stored with Content-Encoding: ${fe.encoding} (${staged.saved} B smaller)`);

  let remote: Awaited<ReturnType<typeof store.list>> = [];
  const plan = await ctx.logger.section('gantry_frontend_plan', `plan ${fe.bucket}/${prefix}`, async () => {
    remote = await listing;
    const p = await planUpload(files, remote, prefix, (key) => store.head(key));
    ctx.logger.info(
      `${files.length} files: ${p.upload.length} to upload, ${p.unchanged.length} unchanged; ${p.remoteOnly.length} objects from other releases kept`,
    );
    for (const f of p.changedInPlace) {
      ctx.logger.warn(
        `${prefix}${f.key}: its name carries a content hash, yet its bytes differ from the ones an earlier release published under it; sent with Cache-Control: no-cache instead of immutable (a browser or CDN may still hold the old bytes under this name: make the build hash what it writes)`,
      );
    }
    // A stage sends only the assets; its HTML goes to the release's own area (logged with the record).
    for (const f of p.upload.filter((u) => !staging || !u.html))
      ctx.logger.info(
        `  ${ctx.dryRun ? 'would put' : 'put'} ${prefix}${f.key} (${f.size} B, ${headersFor(f)['Cache-Control']}${f.encoding ? `, ${f.encoding}` : ''})`,
      );
    return p;
  });
  // What goes to the live keys: everything that changed, or for a stage its assets only (new
  // hashed names harm nothing live; an unhashed one that changes is seen by the live pages now).
  const sent = staging ? plan.upload.filter((f) => !f.html) : plan.upload;
  if (staging) {
    const listed = new Set(remote.map((o) => o.key));
    for (const f of sent.filter((u) => (!u.hashed || u.changedInPlace) && listed.has(prefix + u.key))) {
      ctx.logger.warn(
        `${prefix}${f.key}: its name carries no content hash and its bytes change, so the live pages load the new bytes now, before --activate (give it a hashed name for a clean stage)`,
      );
    }
  }
  const pointer = await readLivePointer(store, prefix, remote);
  if (!ctx.dryRun && sent.length > 0) {
    const started = Date.now();
    await ctx.logger.section('gantry_frontend_publish', `${staging ? 'stage' : 'publish'} ${sent.length} files to ${fe.bucket}/${prefix}`, () =>
      publish(ctx, store, sent, { prefix, concurrency, retries }).catch((error: unknown) => {
        throw ossError('publish', target, error, ctx.deadlines);
      }),
    );
    ctx.logger.info(`published in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  // The release record (also one a cut-off earlier run did not write), then retention.
  const release = await recordRelease(ctx, store, {
    prefix,
    keys: files.map((f) => f.key),
    remote,
    uploaded: plan.upload.length,
    retention: fe.retention,
    sha: ci.sha,
    shortSha: ci.shortSha,
    pipelineUrl: ci.pipelineUrl,
    time: new Date(),
    // Every release keeps its HTML aside, so it can be made live again (--activate, --rollback).
    html: files.filter((f) => f.html),
    live: pointer ? retention.recordKeyOf(prefix, pointer.release) : undefined,
    goLive: !staging,
    staged: staging,
  });
  const deleted = release.deleted;
  const recordKey = release.record ?? release.same;
  const releaseId = recordKey ? retention.releaseId(recordKey) : undefined;

  // Website hosting on request (--website), once the pages it names are live. The bucket has one
  // configuration, so it describes the live site under the base prefix, also from a preview job.
  let website: { changed: boolean; applied: boolean } | undefined;
  if (input.website) {
    const web = await import('../oss/website.js');
    const settings = fe.website ?? { index: 'index.html', spa: false };
    const page = settings.spa ? settings.index : settings.notFound;
    if (page && !files.some((f) => f.key === page))
      ctx.logger.warn(`frontend.website: ${page} is not in ${fe.dir}; OSS will answer its own error page until it is`);
    const outcome = await ctx.logger.section('gantry_frontend_website', `website hosting of ${fe.bucket}`, () =>
      web.applyWebsite(ctx, web.ossWebsiteApi(ctx, target, retries), web.desiredWebsite(settings, previews.sitePrefix(fe.prefix))),
    );
    website = { changed: outcome.changed, applied: outcome.applied };
  }

  // CDN: refresh the HTML this publish uploaded (assets get new hashed names and need none). It
  // runs after a complete publish, so a failure still writes the summary, then fails the step.
  const { summary: cdnSummary, failure: cdnFailure } = staging ? {} : await refreshCdn(ctx, where, plan.upload);
  const bytes = sent.reduce((n, f) => n + f.size, 0);
  return {
    status: 'published',
    report: {
      environment: envName,
      bucket: fe.bucket,
      prefix,
      uploaded: ctx.dryRun ? 0 : sent.length,
      bytes: ctx.dryRun ? 0 : bytes,
      unchanged: plan.unchanged.length,
      deleted: ctx.dryRun ? 0 : deleted.length,
      ...(release.record ? { record: release.record, ...(release.recovered ? { recovered: true } : {}) } : {}),
      ...(releaseId ? { release: releaseId } : {}),
      ...(staging ? { staged: Boolean(release.record), live: pointer?.release } : {}),
      planned: sent.map((f) => prefix + f.key),
      ...(website ? { website } : {}),
      ...(cdnSummary ? { cdn: cdnSummary } : {}),
    },
    // A CDN refresh that failed after a complete publish: the summary is printed, then this fails the step.
    error: cdnFailure,
  };
}
