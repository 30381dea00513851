// What to send: the local bundle against the objects under the prefix. A file is unchanged
// when the object has its size and MD5. For a simple PUT the listed ETag is the MD5; a multipart
// object's ETag is not, nor is an empty one or another store's, so Gantry stores the MD5 as
// x-oss-meta-md5 and reads it with a HEAD whenever the listed ETag is not an MD5.
//
// A file whose name carries a content hash is cached for a year as immutable, so its bytes must
// never change under that name. When they have (a build that is not reproducible, a hash of the
// wrong input, a name that only looks hashed), the file is changed in place: it is sent with
// no-cache and reported, so no browser or CDN keeps the new bytes for a year, and it stays
// no-cache when it is sent again.
import pLimit from 'p-limit';
import type { LocalFile } from './files.js';

export interface RemoteObject {
  key: string;
  size: number;
  /** Unquoted, lowercase; may be empty or something other than an MD5. */
  etag: string;
}

export interface UploadPlan {
  upload: LocalFile[];
  unchanged: LocalFile[];
  /** Objects under the prefix that this bundle does not have (older releases). */
  remoteOnly: RemoteObject[];
  /** Uploads (also in `upload`) whose hashed name now holds other bytes than before. */
  changedInPlace: LocalFile[];
}

/** What a HEAD says of an object: the MD5 Gantry stored with it, its Content-Encoding and Cache-Control. */
export interface StoredObjectInfo {
  md5?: string | undefined;
  encoding?: string | undefined;
  cacheControl?: string | undefined;
}

export type HeadObject = (key: string) => Promise<StoredObjectInfo>;

const isMd5 = (etag: string) => /^[0-9a-f]{32}$/.test(etag);

type Verdict = 'unchanged' | 'upload' | 'changed in place' | 'stays no-cache';

/** One file against the object at its key (undefined: none). */
async function compare(file: LocalFile, object: RemoteObject | undefined, head: HeadObject): Promise<Verdict> {
  if (!object) return 'upload';
  let info: StoredObjectInfo | undefined;
  let md5 = isMd5(object.etag) ? object.etag : undefined;
  if (md5 === undefined && object.size === file.size) {
    info = await head(object.key);
    md5 = info.md5;
  }
  if (object.size === file.size && md5 === file.md5) return 'unchanged';
  // Other bytes for certain: another size, or another known MD5 (an unknown one proves nothing).
  const differs = object.size !== file.size || md5 !== undefined;
  if (!file.hashed || file.html || !differs) return 'upload';
  // The same content stored with another Content-Encoding (frontend.encoding changed) is
  // other bytes, not another file.
  info ??= await head(object.key);
  if ((info.encoding ?? '') === (file.encoding ?? '')) return 'changed in place';
  // Once changed in place, a name stays no-cache: a browser may hold any of its versions.
  return info.cacheControl === 'no-cache' ? 'stays no-cache' : 'upload';
}

/** HEADs in flight at once: a store whose listings carry no MD5 needs one per file. */
const HEADS_IN_FLIGHT = 16;

export async function planUpload(local: LocalFile[], remote: RemoteObject[], prefix: string, head: HeadObject): Promise<UploadPlan> {
  const byKey = new Map(remote.map((o) => [o.key, o]));
  const limit = pLimit(HEADS_IN_FLIGHT);
  const verdicts = await Promise.all(local.map((file) => limit(() => compare(file, byKey.get(prefix + file.key), head))));
  const plan: UploadPlan = { upload: [], unchanged: [], remoteOnly: [], changedInPlace: [] };
  for (const [i, file] of local.entries()) {
    byKey.delete(prefix + file.key);
    const verdict = verdicts[i]!;
    if (verdict === 'unchanged') plan.unchanged.push(file);
    else if (verdict === 'upload') plan.upload.push(file);
    else {
      const sent = { ...file, changedInPlace: true };
      plan.upload.push(sent);
      if (verdict === 'changed in place') plan.changedInPlace.push(sent);
    }
  }
  plan.remoteOnly = [...byKey.values()];
  return plan;
}

export function normaliseEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replaceAll('"', '').toLowerCase();
}
