import { gunzipSync, gzipSync } from 'node:zlib';

// Releases and retention. Each publish records its files in a manifest object under
// <prefix>.gantry/releases/. Old files are deleted only when every release that used them has
// fallen out of the last N, so a visitor holding an older page still gets its assets; files
// Gantry never recorded (robots.txt, verification files) are never touched.

export const RELEASES_DIR = '.gantry/releases/';

export interface ReleaseManifest {
  sha: string;
  time: string;
  pipelineUrl: string;
  /** Keys below the prefix. */
  keys: string[];
}

export function releaseKey(prefix: string, time: Date, sha: string): string {
  // Sortable by name: the listing order is the release order. Gzipped: a list of 5,000 names
  // is 160 kB as text, a quarter of what a 1%-change publish sends (bench/README.md).
  return `${prefix}${RELEASES_DIR}${time.toISOString().replace(/[-:.]/g, '')}-${sha || 'local'}.json.gz`;
}

export function encodeRelease(manifest: ReleaseManifest): Buffer {
  return gzipSync(JSON.stringify(manifest), { level: 9 });
}

export function decodeRelease(body: Buffer): ReleaseManifest {
  return JSON.parse(gunzipSync(body).toString('utf8')) as ReleaseManifest;
}

export interface RetentionPlan {
  keep: string[];
  /** Release manifests that fall out of the last N. */
  expiredReleases: string[];
  /** Objects (full keys) only expired releases used. */
  deleteKeys: string[];
}

/**
 * `releases` are manifest keys in order, the current one last; `read` loads one. The current
 * release's keys are always kept, whatever N.
 */
export async function planRetention(
  prefix: string,
  releases: string[],
  retention: number,
  read: (key: string) => Promise<ReleaseManifest>,
): Promise<RetentionPlan> {
  const sorted = [...releases].sort();
  const kept = sorted.slice(-retention);
  const expired = sorted.slice(0, Math.max(0, sorted.length - retention));
  const used = new Set<string>();
  for (const key of kept) for (const k of (await read(key)).keys) used.add(k);
  const candidates = new Set<string>();
  for (const key of expired) for (const k of (await read(key)).keys) if (!used.has(k)) candidates.add(k);
  return { keep: kept, expiredReleases: expired, deleteKeys: [...candidates].sort().map((k) => prefix + k) };
}
