// The release step of a publish, after the HTML is live: write the release record, then delete
// what only releases beyond the retention used (the rules are in retention.ts).
//
// A release is recorded when the publish sent something, and also when nothing needed sending
// but the newest record does not name this bundle: a publish cut off after its index.html went
// live and before its record was written leaves a re-run with nothing to upload, and without a
// record that release's files would never fall out of the retention.
import type { Ctx } from '../context.js';
import type { OssStore } from './client.js';
import type { RemoteObject } from './plan.js';
import * as retention from './retention.js';

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
}

export interface ReleaseOutcome {
  /** The record written (or, with --dry-run, that would be); undefined when none was needed. */
  record?: string | undefined;
  /** True when the record is one an earlier, cut-off run did not write. */
  recovered: boolean;
  /** Objects and expired records deleted (or, with --dry-run, that would be). */
  deleted: string[];
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
  const recovered = input.uploaded === 0 && !(await retention.isNewestRelease(input.keys, previous, read));
  if (input.uploaded === 0 && !recovered) return { recovered: false, deleted: [] };
  if (recovered)
    ctx.logger.warn(
      `no release record names the bundle that is live under ${prefix || 'the bucket root'} (an earlier publish was cut off before writing it): ${ctx.dryRun ? 'it would be recorded now' : 'recording it now'}`,
    );

  const key = retention.releaseKey(prefix, input.time, input.shortSha);
  const header = { sha: input.sha, time: input.time.toISOString(), pipelineUrl: input.pipelineUrl };
  const record = await retention.nextRelease(header, input.keys, previous, input.retention, read);
  records.set(key, Promise.resolve(record));
  const kept = await retention.planRetention(prefix, [...previous, key], input.retention, read, new Set(input.remote.map((o) => o.key)));
  const deleted = [...kept.deleteKeys, ...kept.expiredReleases];
  await ctx.logger.section('gantry_frontend_retention', `release ${key} (keeping ${input.retention})`, async () => {
    for (const k of deleted) ctx.logger.info(`  ${ctx.dryRun ? 'would delete' : 'delete'} ${k}`);
    if (ctx.dryRun) return;
    await store.putBuffer(key, retention.encodeRelease(record), { 'Content-Type': 'application/gzip', 'Cache-Control': 'no-cache' });
    await store.deleteMany(deleted);
  });
  return { record: key, recovered, deleted };
}
