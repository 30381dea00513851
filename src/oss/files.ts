// The local bundle: every file under the build directory with its size and MD5, and what
// kind of file it is for publishing (HTML last, hashed assets cached forever).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';

export interface LocalFile {
  /** Path below the build directory, with "/" separators: the key below the prefix. */
  key: string;
  path: string;
  size: number;
  /** Lowercase hex MD5 of the content. */
  md5: string;
  html: boolean;
  /** The name carries a content hash (app.3f2a9c1e.js, index-BN2aX8kq.js): safe to cache forever. */
  hashed: boolean;
  /** Stored compressed (src/oss/stage.ts): size and md5 are those of the compressed bytes. */
  encoding?: 'gzip' | 'br';
  /** The bytes to send when they differ from the file at `path` (src/oss/stage.ts). */
  body?: Buffer;
}

// A run of 8+ hash characters holding both a digit and a letter, between "." or "-" and the
// extension; "my-component.js" is not hashed, "app.3f2a9c1e.js" and "index-BN2aX8kq.js" are.
const hashedName = /[.-](?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$/;

export function isHashedName(name: string): boolean {
  return hashedName.test(name);
}

export async function scanDir(dir: string): Promise<LocalFile[]> {
  const names: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(relPath);
      else if (entry.isFile()) names.push(relPath);
    }
  };
  await walk('');
  // Hashing is I/O-bound per file: many files in flight hide the per-file latency
  // (measured: 5,000 files took 1.17 s one at a time, for 0.16 s of actual hashing).
  const limit = pLimit(32);
  const out = await Promise.all(
    names.map((key) =>
      limit(async () => {
        const full = path.join(dir, key);
        const name = key.slice(key.lastIndexOf('/') + 1);
        const [{ size }, md5] = await Promise.all([stat(full), md5File(full)]);
        return { key, path: full, size, md5, html: /\.html?$/i.test(name), hashed: isHashedName(name) };
      }),
    ),
  );
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function md5File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('md5');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
