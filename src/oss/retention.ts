import { gunzipSync, gzipSync } from 'node:zlib';

// Releases and retention. Each publish records its files in a release object under
// <prefix>.gantry/releases/. Old files are deleted only when every release that used them has
// fallen out of the last N, so a visitor holding an older page still gets its assets; files
// Gantry never recorded (robots.txt, verification files) are never touched.
//
// A record is either a full list of keys (a snapshot) or the difference to one snapshot
// (a delta). A full list of 5,000 names is 27 kB gzipped, sent on every publish however small
// the change (bench/README.md); a delta of a 1% change is a few hundred bytes. A delta always
// names its snapshot directly (no chains), so reading any release costs at most two GETs, and
// a snapshot is kept for as long as a kept release names it.

export const RELEASES_DIR = '.gantry/releases/';
/** Each release's HTML, kept so that any kept release can be made live again: <prefix>.gantry/html/<release id>/<key>. */
export const HTML_DIR = '.gantry/html/';
/** Which release's HTML is live: { release, time, previous, ... }. */
export const LIVE_POINTER = '.gantry/live.json';

/** A record's id: its name without the directory and .json.gz (20261203T052500123Z-abc1234). */
export function releaseId(recordKey: string): string {
  return recordKey.slice(recordKey.lastIndexOf('/') + 1).replace(/\.json\.gz$/, '');
}

/** The record key of a release id. */
export function recordKeyOf(prefix: string, id: string): string {
  return `${prefix}${RELEASES_DIR}${id}.json.gz`;
}

/** Where a release's copy of one HTML file (key below the prefix) is kept. */
export function htmlCopyPrefix(prefix: string, id: string): string {
  return `${prefix}${HTML_DIR}${id}/`;
}

/** A staged release that never went live (a rollback passes over it unless named). */
export function neverLive(record: ReleaseRecord): boolean {
  return record.staged === true && !record.activated;
}

interface ReleaseHeader {
  sha: string;
  time: string;
  pipelineUrl: string;
  /** Written by --stage: the HTML is kept aside, not live. */
  staged?: boolean;
  /** When a staged release first went live (--activate rewrites its record). */
  activated?: string;
}

export interface SnapshotRelease extends ReleaseHeader {
  /** Keys below the prefix. */
  keys: string[];
}

export interface DeltaRelease extends ReleaseHeader {
  /** The snapshot record (full key) this release differs from. */
  base: string;
  added: string[];
  removed: string[];
}

export type ReleaseRecord = SnapshotRelease | DeltaRelease;

export function isDelta(record: ReleaseRecord): record is DeltaRelease {
  return 'base' in record;
}

export function releaseKey(prefix: string, time: Date, sha: string): string {
  // Sortable by name: the listing order is the release order.
  return `${prefix}${RELEASES_DIR}${time.toISOString().replace(/[-:.]/g, '')}-${sha || 'local'}.json.gz`;
}

export function encodeRelease(record: ReleaseRecord): Buffer {
  return gzipSync(JSON.stringify(record), { level: 9 });
}

export function decodeRelease(body: Buffer): ReleaseRecord {
  const record = JSON.parse(gunzipSync(body).toString('utf8')) as ReleaseRecord;
  if (!Array.isArray((record as SnapshotRelease).keys) && !(isDelta(record) && Array.isArray(record.added) && Array.isArray(record.removed))) {
    throw new Error('not a Gantry release record (no keys, or base/added/removed)');
  }
  return record;
}

export type ReadRelease = (key: string) => Promise<ReleaseRecord>;

/** The keys a release uses, resolving a delta against its snapshot. */
export async function releaseKeys(record: ReleaseRecord, read: ReadRelease): Promise<Set<string>> {
  if (!isDelta(record)) return new Set(record.keys);
  const base = await read(record.base);
  if (isDelta(base)) throw new Error(`release base ${record.base} is itself a delta`);
  const keys = new Set(base.keys);
  for (const k of record.removed) keys.delete(k);
  for (const k of record.added) keys.add(k);
  return keys;
}

/** Whether the newest of the `previous` records names exactly `keys` (a publish of the bundle that is live, recorded). */
export async function isNewestRelease(keys: string[], previous: string[], read: ReadRelease): Promise<boolean> {
  const newest = [...previous].sort().at(-1);
  if (!newest) return false;
  const recorded = await releaseKeys(await read(newest), read);
  const wanted = new Set(keys);
  return recorded.size === wanted.size && [...wanted].every((k) => recorded.has(k));
}

/**
 * The record for a new release with `keys`: a delta against the newest snapshot among the
 * releases that stay kept, or a new snapshot when there is none or the difference has grown
 * past a quarter of the snapshot (a delta should stay small next to what it saves).
 */
export async function nextRelease(header: ReleaseHeader, keys: string[], previous: string[], retention: number, read: ReadRelease): Promise<ReleaseRecord> {
  // With N > 1 the newest previous release stays kept after this one, and so does its snapshot.
  const newest = retention > 1 ? [...previous].sort().at(-1) : undefined;
  if (newest) {
    const record = await read(newest);
    const base = isDelta(record) ? record.base : newest;
    const snapshot = isDelta(record) ? await read(base) : record;
    if (!isDelta(snapshot)) {
      const before = new Set(snapshot.keys);
      const now = new Set(keys);
      const added = keys.filter((k) => !before.has(k));
      const removed = snapshot.keys.filter((k) => !now.has(k));
      if (added.length + removed.length <= Math.max(16, snapshot.keys.length / 4)) {
        return { ...header, base, added, removed };
      }
    }
  }
  return { ...header, keys: [...keys] };
}

export interface RetentionPlan {
  keep: string[];
  /** Release records that fall out of the last N and that no kept release needs as its base. */
  expiredReleases: string[];
  /** Objects (full keys) only expired releases used. */
  deleteKeys: string[];
}

/**
 * `releases` are record keys, the current one among them (the newest); `read` loads one. The
 * current release's keys are always kept, whatever N. `existing`, when given, limits the
 * deletions to objects that are there.
 */
export async function planRetention(
  prefix: string,
  releases: string[],
  retention: number,
  read: ReadRelease,
  existing?: Set<string>,
  protect: Set<string> = new Set(),
): Promise<RetentionPlan> {
  const sorted = [...releases].sort();
  // The last N, and whatever is protected beyond them (the live release, staged ones waiting).
  const last = new Set(sorted.slice(-retention));
  const kept = sorted.filter((k) => last.has(k) || protect.has(k));
  const expired = sorted.filter((k) => !last.has(k) && !protect.has(k));
  const used = new Set<string>();
  const anchors = new Set<string>();
  for (const key of kept) {
    const record = await read(key);
    if (isDelta(record)) anchors.add(record.base);
    for (const k of await releaseKeys(record, read)) used.add(k);
  }
  const candidates = new Set<string>();
  for (const key of expired) for (const k of await releaseKeys(await read(key), read)) if (!used.has(k)) candidates.add(k);
  const deleteKeys = [...candidates]
    .sort()
    .map((k) => prefix + k)
    .filter((k) => !existing || existing.has(k));
  return { keep: kept, expiredReleases: expired.filter((k) => !anchors.has(k)), deleteKeys };
}

/**
 * The releases retention must keep beyond the last N: the live one (`live`, a record key), and
 * staged ones newer than it that never went live (a deploy waiting to activate one). A staged
 * release older than the live one was passed over and expires like any other.
 */
export async function protectedReleases(releases: string[], live: string | undefined, read: ReadRelease): Promise<Set<string>> {
  const out = new Set<string>();
  if (live && releases.includes(live)) out.add(live);
  for (const key of releases) if ((!live || key > live) && neverLive(await read(key))) out.add(key);
  return out;
}

/**
 * HTML copies to delete (full keys, from the listing): those of releases whose records are not
 * kept, and those no record names that are older than `current` (a run cut off between its
 * copies and its record). Copies of kept releases, and of `current`, stay.
 */
export function expiredHtmlCopies(prefix: string, listed: string[], kept: string[], records: string[], current: string): string[] {
  const keptIds = new Set(kept.map(releaseId));
  const recorded = new Set(records.map(releaseId));
  const dir = prefix + HTML_DIR;
  return listed
    .filter((k) => k.startsWith(dir))
    .filter((k) => {
      const id = k.slice(dir.length).split('/')[0]!;
      if (keptIds.has(id) || id === current) return false;
      return recorded.has(id) || id < current;
    })
    .sort();
}

/**
 * The release a rollback makes live: `to` when named (undefined when there is no such record),
 * else the newest record before the live one that ever went live. `records` are record keys.
 */
export async function rollbackTarget(
  records: string[],
  live: string,
  read: ReadRelease,
  to?: string,
): Promise<{ found: string } | { problem: 'unknown' | 'no-previous' }> {
  const sorted = [...records].sort();
  if (to !== undefined) {
    const named = sorted.find((k) => releaseId(k) === to);
    return named ? { found: named } : { problem: 'unknown' };
  }
  const at = sorted.indexOf(live);
  for (let i = (at === -1 ? sorted.filter((k) => k < live).length : at) - 1; i >= 0; i--) {
    if (!neverLive(await read(sorted[i]!))) return { found: sorted[i]! };
  }
  return { problem: 'no-previous' };
}
