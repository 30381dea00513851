// The release step of a publish, after the HTML is live: keep a copy of the release's HTML,
// write the release record and the live pointer, then delete what only releases beyond the
// retention used (the rules are in retention.ts). --stage writes the copies and a record marked
// staged, and leaves the live pointer as it is.
//
// A release is recorded when the publish sent something, and also when nothing needed sending
// but the newest record does not name this bundle: a publish cut off after its index.html went
// live and before its record was written leaves a re-run with nothing to upload, and without a
// record that release's files would never fall out of the retention.
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { Ctx } from '../context.js';
import type { OssStore } from './client.js';
import type { LocalFile } from './files.js';
import type { RemoteObject } from './plan.js';
import { headersFor } from './publish.js';
import * as retention from './retention.js';

/** <prefix>.gantry/live.json: which release's HTML is live. */
export interface LivePointer {
  /** The release id (record name without .json.gz). */
  release: string;
  time: string;
  /** The release that was live before, when known. */
  previous?: string | undefined;
  sha?: string | undefined;
  pipelineUrl?: string | undefined;
}

/** The live pointer from the listing taken (none when the listing has no live.json). */
export async function readLivePointer(store: Pick<OssStore, 'getBuffer'>, prefix: string, remote: RemoteObject[]): Promise<LivePointer | undefined> {
  const key = prefix + retention.LIVE_POINTER;
  if (!remote.some((o) => o.key === key)) return undefined;
  const pointer = JSON.parse((await store.getBuffer(key)).toString('utf8')) as Partial<LivePointer>;
  return typeof pointer.release === 'string' && pointer.release ? (pointer as LivePointer) : undefined;
}

export async function writeLivePointer(store: Pick<OssStore, 'putBuffer'>, prefix: string, pointer: LivePointer): Promise<void> {
  await store.putBuffer(prefix + retention.LIVE_POINTER, Buffer.from(`${JSON.stringify(pointer)}\n`), {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache',
  });
}

/** The metadata header that says how a copy's bytes are encoded (see copyHeaders). */
export const COPY_ENCODING_HEADER = 'x-oss-meta-encoding';

/**
 * The headers a release's HTML copy is stored with: those it is published with, except that its
 * Content-Encoding goes into metadata. The copy is read back to be made live again, and the
 * HTTP client would unzip a gzip body: stored without the header, the bytes come back as stored.
 */
export function copyHeaders(file: LocalFile): Record<string, string> {
  const { 'Content-Encoding': encoding, ...headers } = headersFor(file);
  return { ...headers, ...(encoding ? { [COPY_ENCODING_HEADER]: encoding } : {}) };
}

/** Puts each HTML file's bytes under the release's copy area (copyHeaders). */
export async function putHtmlCopies(store: Pick<OssStore, 'putBuffer'>, prefix: string, id: string, html: LocalFile[], concurrency = 8): Promise<void> {
  const limit = pLimit(concurrency);
  const dir = retention.htmlCopyPrefix(prefix, id);
  await Promise.all(html.map((f) => limit(async () => store.putBuffer(dir + f.key, f.body ?? (await readFile(f.path)), copyHeaders(f)))));
}

export interface ReleaseInput {
  prefix: string;
  /** Keys (below the prefix) of every file of the bundle being published. */
  keys: string[];
  /** The listing taken for the plan. */
  remote: RemoteObject[];
  /** How many files this publish sent. */
  uploaded: number;
  retention: number;
  sha: string;
  shortSha: string;
  pipelineUrl: string;
  time: Date;
  /** The bundle's HTML: copied under <prefix>.gantry/html/<release id>/ when a record is written. */
  html?: LocalFile[] | undefined;
  /** The record of the release that is live (from live.json): compared with and kept. */
  live?: string | undefined;
  /** This release's HTML is live now: live.json is written naming it. */
  goLive?: boolean | undefined;
  /** --stage: the record says so, and live.json is left alone. */
  staged?: boolean | undefined;
}

export interface ReleaseOutcome {
  /** The record written (or, with --dry-run, that would be); undefined when none was needed. */
  record?: string | undefined;
  /** True when the record is one an earlier, cut-off run did not write. */
  recovered: boolean;
  /** Objects and expired records deleted (or, with --dry-run, that would be). */
  deleted: string[];
  /** When no record was needed: the record that names this bundle already. */
  same?: string | undefined;
}

export async function recordRelease(ctx: Ctx, store: Pick<OssStore, 'getBuffer' | 'putBuffer' | 'deleteMany'>, input: ReleaseInput): Promise<ReleaseOutcome> {
  const { prefix } = input;
  const previous = input.remote.map((o) => o.key).filter((k) => k.startsWith(prefix + retention.RELEASES_DIR));
  // Each record is read once, however many deltas name it as their base.
  const records = new Map<string, Promise<retention.ReleaseRecord>>();
  const read = (key: string) => {
    if (!records.has(key)) records.set(key, store.getBuffer(key).then(retention.decodeRelease));
    return records.get(key)!;
  };
  // The bundle is compared with the live release where live.json names one (the newest record may
  // be a staged one), else with the newest.
  const reference = input.live && previous.includes(input.live) ? [input.live] : previous;
  const recovered = input.uploaded === 0 && !(await retention.isNewestRelease(input.keys, reference, read));
  if (input.uploaded === 0 && !recovered) {
    const same = [...reference].sort().at(-1)!;
    // A bucket from before live.json: the pointer starts with the release that is live.
    if (input.goLive && input.live !== same && !ctx.dryRun) {
      await writeLivePointer(store, prefix, {
        release: retention.releaseId(same),
        time: input.time.toISOString(),
        sha: input.sha,
        pipelineUrl: input.pipelineUrl,
      });
    }
    return { recovered: false, deleted: [], same };
  }
  if (recovered && !input.staged)
    ctx.logger.warn(
      `no release record names the bundle that is live under ${prefix || 'the bucket root'} (an earlier publish was cut off before writing it): ${ctx.dryRun ? 'it would be recorded now' : 'recording it now'}`,
    );

  const key = retention.releaseKey(prefix, input.time, input.shortSha);
  const header = { sha: input.sha, time: input.time.toISOString(), pipelineUrl: input.pipelineUrl, ...(input.staged ? { staged: true } : {}) };
  const record = await retention.nextRelease(header, input.keys, previous, input.retention, read);
  records.set(key, Promise.resolve(record));
  const all = [...previous, key];
  const live = input.goLive ? key : input.live;
  const kept = await retention.planRetention(
    prefix,
    all,
    input.retention,
    read,
    new Set(input.remote.map((o) => o.key)),
    await retention.protectedReleases(all, live, read),
  );
  const id = retention.releaseId(key);
  const copies = retention.expiredHtmlCopies(
    prefix,
    input.remote.map((o) => o.key),
    kept.keep,
    all,
    id,
  );
  const deleted = [...kept.deleteKeys, ...copies, ...kept.expiredReleases];
  const html = input.html ?? [];
  await ctx.logger.section('gantry_frontend_retention', `release ${key} (keeping ${input.retention})`, async () => {
    if (html.length > 0)
      ctx.logger.info(`  ${ctx.dryRun ? 'would keep' : 'keeping'} a copy of ${html.length} HTML files under ${retention.htmlCopyPrefix(prefix, id)}`);
    for (const k of deleted) ctx.logger.info(`  ${ctx.dryRun ? 'would delete' : 'delete'} ${k}`);
    if (ctx.dryRun) return;
    // The copies before the record: a record always has its HTML to make live again.
    await putHtmlCopies(store, prefix, id, html);
    await store.putBuffer(key, retention.encodeRelease(record), { 'Content-Type': 'application/gzip', 'Cache-Control': 'no-cache' });
    if (input.goLive) {
      const before = input.live ? retention.releaseId(input.live) : undefined;
      await writeLivePointer(store, prefix, { release: id, time: input.time.toISOString(), previous: before, sha: input.sha, pipelineUrl: input.pipelineUrl });
    }
    await store.deleteMany(deleted);
  });
  return { record: key, recovered, deleted };
}
