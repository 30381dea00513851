// What to send: the local bundle against the objects under the prefix. A file is unchanged
// when the object has its size and MD5. For a simple PUT the ETag is the MD5; a multipart
// object's ETag is not, so Gantry stores the MD5 as x-oss-meta-md5 and reads it with a HEAD.
import type { LocalFile } from './files.js';

export interface RemoteObject {
  key: string;
  size: number;
  /** Unquoted, lowercase. */
  etag: string;
}

export interface UploadPlan {
  upload: LocalFile[];
  unchanged: LocalFile[];
  /** Objects under the prefix that this bundle does not have (older releases). */
  remoteOnly: RemoteObject[];
}

export type ObjectMd5 = (key: string) => Promise<string | undefined>;

export async function planUpload(local: LocalFile[], remote: RemoteObject[], prefix: string, storedMd5: ObjectMd5): Promise<UploadPlan> {
  const byKey = new Map(remote.map((o) => [o.key, o]));
  const plan: UploadPlan = { upload: [], unchanged: [], remoteOnly: [] };
  for (const file of local) {
    const object = byKey.get(prefix + file.key);
    byKey.delete(prefix + file.key);
    let same = false;
    if (object && object.size === file.size) {
      same = object.etag.includes('-') ? (await storedMd5(object.key)) === file.md5 : object.etag === file.md5;
    }
    (same ? plan.unchanged : plan.upload).push(file);
  }
  plan.remoteOnly = [...byKey.values()];
  return plan;
}

export function normaliseEtag(etag: string): string {
  return etag.replace(/^W\//, '').replaceAll('"', '').toLowerCase();
}
