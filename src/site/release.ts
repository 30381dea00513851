// Frontend releases that are staged, made live and rolled back. Every publish keeps its HTML under
// <prefix>.gantry/html/<release id>/ and names the live release in <prefix>.gantry/live.json
// (src/oss/release.ts); a stage uploads the assets and keeps its HTML there without touching the
// live pages. Activating a release copies its HTML back to the live keys in the publish waves
// (other HTML, then index.html files, the root one last), writes live.json, then refreshes the
// changed HTML on the CDN: the refresh follows the flip. `gantry deploy` stages the frontend,
// and activates it only once the backend rollout succeeded; `gantry rollback` activates the
// release the restored revision names.
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { EnvironmentSource } from '../config/load.js';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';
import type { OssStore } from '../oss/client.js';
import type { LocalFile } from '../oss/files.js';
import type { RemoteObject } from '../oss/plan.js';
import type { ReadRelease, ReleaseRecord } from '../oss/retention.js';
import { type PublishSiteInput, publishSite } from './publish.js';
import { refreshCdn } from './cdn.js';
import { type SiteTarget, siteTarget } from './target.js';

/** What activating (or rolling back) did: the release now live, the one live before, the summary. */
export interface ActivationResult {
  release: string;
  previous: string | undefined;
  report: Record<string, unknown>;
  /** A CDN refresh that failed after the HTML went live: report it, then fail the step. */
  error?: GantryError | undefined;
}

export type StageSiteInput = Omit<PublishSiteInput, 'stop' | 'stage' | 'website' | 'ifConfigured'> & Partial<Pick<PublishSiteInput, 'website'>>;

/**
 * Builds (unless skipBuild) and uploads the assets, keeps the HTML under the release's own area
 * and records the release as staged; the live HTML and live.json stay as they are. When the
 * bundle is exactly the live release, nothing is staged and that release is returned.
 */
export async function stageSite(
  ctx: Ctx,
  input: StageSiteInput,
): Promise<{ release: string; report: Record<string, unknown>; error?: GantryError | undefined }> {
  const result = await publishSite(ctx, { website: false, ...input, stop: false, ifConfigured: false, stage: true });
  if (result.status !== 'published') throw new Error(`stageSite: unexpected ${result.status}`);
  // Only a dry run of a first stage has no record to name ('').
  const release = typeof result.report.release === 'string' ? result.report.release : '';
  return { release, report: result.report, error: result.error };
}

export interface ActivateSiteInput extends EnvironmentSource {
  /** The release id: the record's name without .json.gz (20261203T052500123Z-abc1234). */
  release: string;
  /** Parallel uploads, 1 to 64 (default 8). */
  concurrency?: number | undefined;
}

/** Makes a kept release's HTML live (idempotent: the live release again changes nothing). */
export async function activateSite(ctx: Ctx, input: ActivateSiteInput): Promise<ActivationResult> {
  const open = await openSite(ctx, input, 'make a frontend release live');
  return activate(ctx, open, input.release, { flag: '--activate', concurrency: input.concurrency ?? 8 });
}

export interface RollbackSiteInput extends EnvironmentSource {
  /** The release to go back to; default the newest one before the live one that was ever live. */
  to?: string | undefined;
  concurrency?: number | undefined;
}

/** Activates the release before the live one (by record order), or the one named. */
export async function rollbackSite(ctx: Ctx, input: RollbackSiteInput): Promise<ActivationResult> {
  const open = await openSite(ctx, input, 'roll the frontend back');
  const retention = await import('../oss/retention.js');
  const { site, records, read, pointer } = open;
  const where = `${site.fe.bucket}/${site.prefix}`;
  // Without live.json (a bucket from before it), the newest release that went live is the live one.
  let live = pointer ? retention.recordKeyOf(site.prefix, pointer.release) : undefined;
  if (!live) {
    for (const key of [...records].sort().reverse()) {
      if (!retention.neverLive(await read(key))) {
        live = key;
        break;
      }
    }
  }
  if (!live && input.to === undefined) throw gantryError('E_FRONTEND_RELEASE', { problem: 'no-previous', live: undefined, where });
  const target = await retention.rollbackTarget(records, live ?? '', read, input.to);
  if ('problem' in target) {
    if (target.problem === 'unknown') throw unknownRelease('--to', input.to!, where, records);
    throw gantryError('E_FRONTEND_RELEASE', { problem: 'no-previous', live: live ? retention.releaseId(live) : undefined, where });
  }
  return activate(ctx, open, retention.releaseId(target.found), { flag: input.to === undefined ? '--rollback' : '--to', concurrency: input.concurrency ?? 8 });
}

/** The release live.json names (undefined before the first publish that wrote it). */
export async function liveRelease(ctx: Ctx, input: EnvironmentSource): Promise<string | undefined> {
  const site = await siteTarget(ctx, input, { purpose: 'read the live frontend release' });
  const [{ openOss }, { readLivePointer }, { LIVE_POINTER }] = await Promise.all([
    import('../oss/client.js'),
    import('../oss/release.js'),
    import('../oss/retention.js'),
  ]);
  const store = openOss(ctx, site!.target, site!.retries);
  // A listing of the one key says whether it is there, without an error to tell apart.
  const listed = await store.list(site!.prefix + LIVE_POINTER);
  return (await readLivePointer(store, site!.prefix, listed))?.release;
}

interface OpenSite {
  envName: string;
  site: SiteTarget;
  store: OssStore;
  remote: RemoteObject[];
  /** Release record keys. */
  records: string[];
  read: ReadRelease;
  pointer: Awaited<ReturnType<typeof import('../oss/release.js').readLivePointer>>;
}

async function openSite(ctx: Ctx, input: EnvironmentSource, purpose: string): Promise<OpenSite> {
  const site = (await siteTarget(ctx, input, { purpose }))!;
  const [{ openOss }, { readLivePointer }, retention] = await Promise.all([
    import('../oss/client.js'),
    import('../oss/release.js'),
    import('../oss/retention.js'),
  ]);
  const store = openOss(ctx, site.target, site.retries);
  const remote = await store.list(site.prefix);
  const dir = site.prefix + retention.RELEASES_DIR;
  const records = remote
    .map((o) => o.key)
    .filter((k) => k.startsWith(dir) && k.endsWith('.json.gz'))
    .sort();
  const cache = new Map<string, Promise<ReleaseRecord>>();
  const read: ReadRelease = (key) => {
    if (!cache.has(key)) cache.set(key, store.getBuffer(key).then(retention.decodeRelease));
    return cache.get(key)!;
  };
  return { envName: input.envName, site, store, remote, records, read, pointer: await readLivePointer(store, site.prefix, remote) };
}

function unknownRelease(flag: string, release: string, where: string, records: string[]): GantryError {
  const known = records
    .slice(-5)
    .reverse()
    .map((k) => k.slice(k.lastIndexOf('/') + 1).replace(/\.json\.gz$/, ''));
  return gantryError('E_FRONTEND_RELEASE', { problem: 'unknown', flag, release, where, known });
}

async function activate(ctx: Ctx, open: OpenSite, id: string, options: { flag: string; concurrency: number }): Promise<ActivationResult> {
  const [retention, { planUpload }, { publish }, { ossError }, { writeLivePointer, COPY_ENCODING_HEADER }] = await Promise.all([
    import('../oss/retention.js'),
    import('../oss/plan.js'),
    import('../oss/publish.js'),
    import('../oss/client.js'),
    import('../oss/release.js'),
  ]);
  const { site, store, remote, records, read, pointer } = open;
  const { fe, prefix, target, retries } = site;
  const where = `${fe.bucket}/${prefix}`;
  const { flag } = options;

  // Everything is checked before anything changes: the record, its HTML copy, its assets.
  const recordKey = retention.recordKeyOf(prefix, id);
  if (!records.includes(recordKey)) throw unknownRelease(flag, id, where, records);
  const record = await read(recordKey);
  const listed = new Set(remote.map((o) => o.key));
  // The listing says which of the release's files are still there (one request, not a HEAD each).
  const missing = [...(await retention.releaseKeys(record, read))]
    .filter((k) => !/\.html?$/i.test(k) && !listed.has(prefix + k))
    .sort()
    .map((k) => prefix + k);
  if (missing.length > 0) throw gantryError('E_FRONTEND_RELEASE', { problem: 'deleted', flag, release: id, where, missing, count: missing.length });
  const copyDir = retention.htmlCopyPrefix(prefix, id);
  const copies = remote.filter((o) => o.key.startsWith(copyDir));
  if (copies.length === 0 && pointer?.release === id) {
    // The live release from before HTML copies were kept (live.json names it): already live, nothing to do.
    ctx.logger.info(`release ${id} is live already (live.json names it; it has no HTML copy to compare with)`);
    const report = { environment: open.envName, bucket: fe.bucket, prefix, release: id, previous: id, changed: 0, unchanged: 0, planned: [] };
    return { release: id, previous: id, report };
  }
  if (copies.length === 0) throw gantryError('E_FRONTEND_RELEASE', { problem: 'no-copy', flag, release: id, where: prefix });

  // The copies, as files to publish: the plan against the live keys says which HTML changes.
  const limit = pLimit(8);
  const files: LocalFile[] = await Promise.all(
    copies.map((o) =>
      limit(async () => {
        const { body, headers } = await store.getObject(o.key);
        const encoding = headers[COPY_ENCODING_HEADER];
        const md5 = createHash('md5').update(body).digest('hex');
        const key = o.key.slice(copyDir.length);
        const file: LocalFile = { key, path: o.key, size: body.length, md5, html: true, hashed: false, body };
        if (encoding === 'gzip' || encoding === 'br') file.encoding = encoding;
        return file;
      }),
    ),
  );
  const plan = await planUpload(files, remote, prefix, (key) => store.head(key));
  const previous = pointer?.release;
  const flips = plan.upload.length > 0 || previous !== id;
  await ctx.logger.section('gantry_frontend_activate', `${flag === '--activate' ? 'activate' : 'roll back to'} ${id} on ${where}`, async () => {
    ctx.logger.info(
      `${files.length} HTML files in release ${id}: ${plan.upload.length} change the live site, ${plan.unchanged.length} already live; live now: ${previous ?? '(no live.json)'}`,
    );
    for (const f of plan.upload) ctx.logger.info(`  ${ctx.dryRun ? 'would put' : 'put'} ${prefix}${f.key}`);
    if (ctx.dryRun || !flips) return;
    await publish(ctx, store, plan.upload, { prefix, concurrency: options.concurrency, retries }).catch((error: unknown) => {
      throw ossError('activate', target, error, ctx.deadlines);
    });
    // A staged release that goes live says so in its record: a rollback may come back to it.
    if (retention.neverLive(record)) {
      await store.putBuffer(recordKey, retention.encodeRelease({ ...record, activated: new Date().toISOString() }), {
        'Content-Type': 'application/gzip',
        'Cache-Control': 'no-cache',
      });
    }
    await writeLivePointer(store, prefix, {
      release: id,
      time: new Date().toISOString(),
      previous: previous === id ? pointer?.previous : previous,
      sha: record.sha,
      pipelineUrl: record.pipelineUrl,
    });
  });
  const cdn = await refreshCdn(ctx, site, plan.upload);
  return {
    release: id,
    previous,
    report: {
      environment: open.envName,
      bucket: fe.bucket,
      prefix,
      release: id,
      previous,
      changed: ctx.dryRun ? 0 : plan.upload.length,
      unchanged: plan.unchanged.length,
      planned: plan.upload.map((f) => prefix + f.key),
      ...(cdn.summary ? { cdn: cdn.summary } : {}),
    },
    error: cdn.failure,
  };
}

/** Which of gantry frontend's modes the flags ask for; more than one, or --to alone, is refused. */
export function frontendMode(given: {
  stage?: boolean | undefined;
  activate?: string | undefined;
  rollback?: boolean | undefined;
  to?: string | undefined;
  stop?: boolean | undefined;
}): 'publish' | 'stage' | 'activate' | 'rollback' | 'stop' {
  const modes = (['stage', 'activate', 'rollback', 'stop'] as const).filter((m) => given[m] !== undefined && given[m] !== false);
  if (modes.length > 1 || (given.to !== undefined && !given.rollback)) {
    const flags = modes.map((m) => `--${m}`);
    throw gantryError('E_FRONTEND_RELEASE', {
      problem: 'flags',
      given: given.to === undefined ? flags : [...flags, '--to'],
      why: modes.length > 1 ? 'one of these at a time' : '--to names the release --rollback goes back to',
    });
  }
  return modes[0] ?? 'publish';
}

/** --dotenv: GANTRY_FRONTEND_RELEASE=<id>, for the jobs after this one. */
export async function writeReleaseDotenv(file: string | undefined, cwd: string, release: unknown): Promise<void> {
  if (!file || typeof release !== 'string' || !release) return;
  const [{ writeFile }, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  await writeFile(path.resolve(cwd, file), `GANTRY_FRONTEND_RELEASE=${release}\n`);
}
