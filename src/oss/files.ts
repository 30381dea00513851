// The local bundle: every file under the build directory with its size and MD5, and what
// kind of file it is for publishing (HTML last, hashed assets cached forever).
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

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
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(relPath);
      else if (entry.isFile()) names.push(relPath);
    }
  };
  walk('');
  // A build directory is a few thousand files just written, so in the page cache: plain
  // synchronous reads are the cheapest way through them (measured on 5,000 files, 127 MB:
  // 0.35 s, against 0.85 s for 32 read streams in flight, whose cost is per-file round trips
  // through the thread pool, not hashing). Only very large files are streamed.
  const out: LocalFile[] = [];
  for (const [i, key] of names.entries()) {
    // Let the event loop run now and then: the bucket listing runs alongside the scan.
    if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
    const full = path.join(dir, key);
    const name = key.slice(key.lastIndexOf('/') + 1);
    const { size } = statSync(full);
    const md5 = size > STREAM_ABOVE ? await md5Stream(full) : createHash('md5').update(readFileSync(full)).digest('hex');
    out.push({ key, path: full, size, md5, html: /\.html?$/i.test(name), hashed: isHashedName(name) });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const STREAM_ABOVE = 64 * 1024 * 1024;

function md5Stream(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('md5');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
