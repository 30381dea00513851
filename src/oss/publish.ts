// Publishing is atomic for visitors: every asset first, then HTML, and each directory's
// index.html last (the root one very last), so no published page ever references a file
// that is not there yet. Uploads run with bounded concurrency; transient failures are retried.
import pLimit from 'p-limit';
import { AbortError } from 'p-retry';
import mime from 'mime-types';
import type { Ctx } from '../context.js';
import { GantryError } from '../errors.js';
import { withRetry, type RetryOptions } from '../retry.js';
import type { LocalFile } from './files.js';

export interface ObjectStore {
  put(key: string, file: LocalFile, headers: Record<string, string>): Promise<void>;
}

export interface PublishOptions {
  prefix: string;
  concurrency: number;
  retries: number;
}

export const cacheControl = {
  hashed: 'public, max-age=31536000, immutable',
  html: 'no-cache',
  other: 'public, max-age=300',
};

export function headersFor(file: LocalFile): Record<string, string> {
  return {
    'Content-Type': mime.contentType(file.key.split('/').pop() ?? '') || 'application/octet-stream',
    // A hashed name whose bytes changed in place must not be kept for a year (src/oss/plan.ts).
    'Cache-Control': file.html || file.changedInPlace ? cacheControl.html : file.hashed ? cacheControl.hashed : cacheControl.other,
    'Content-MD5': Buffer.from(file.md5, 'hex').toString('base64'),
    'x-oss-meta-md5': file.md5,
    ...(file.encoding ? { 'Content-Encoding': file.encoding } : {}),
  };
}

/** The upload waves, in order: assets, other HTML, index.html files deepest first. */
export function publishOrder(files: LocalFile[]): LocalFile[][] {
  const isIndex = (f: LocalFile) => /(^|\/)index\.html?$/i.test(f.key);
  const depth = (f: LocalFile) => f.key.split('/').length;
  const indexes = files.filter(isIndex).sort((a, b) => depth(b) - depth(a) || (a.key < b.key ? -1 : 1));
  const waves = [files.filter((f) => !f.html), files.filter((f) => f.html && !isIndex(f))];
  // Each index.html depth is its own wave, so the root index.html goes after everything else.
  for (const d of [...new Set(indexes.map(depth))]) waves.push(indexes.filter((f) => depth(f) === d));
  return waves.filter((w) => w.length > 0);
}

export async function publish(ctx: Ctx, store: ObjectStore, files: LocalFile[], options: PublishOptions): Promise<void> {
  const limit = pLimit(options.concurrency);
  for (const wave of publishOrder(files)) {
    // A wave completes before the next starts: that is the ordering guarantee.
    await Promise.all(
      wave.map((file) => {
        const key = options.prefix + file.key;
        return limit(() => withRetry(ctx, `put ${key}`, () => store.put(key, file, headersFor(file)), { ...ossRetry, retries: options.retries }));
      }),
    ).catch((error: unknown) => {
      // The step fails with the first error: the uploads still queued must not run (and wait
      // for a silent OSS one by one) after it has ended.
      limit.clearQueue();
      throw error;
    });
  }
}

/** How OSS calls are retried: transient failures only, from 200 ms doubling up to 5 s. */
export const ossRetry: RetryOptions = { isTransient: (error) => isTransient(error), minDelayMs: 200, maxDelayMs: 5000 };

/** 5xx answers, resets and timeouts are worth retrying; 4xx (denied, missing bucket) are not. */
export function isTransient(error: unknown): boolean {
  if (error instanceof AbortError || error instanceof GantryError) return false;
  const e = error as { status?: number; code?: string; name?: string };
  if (typeof e.status === 'number' && e.status >= 500) return true;
  if (typeof e.status === 'number' && e.status >= 400) return false;
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|ResponseTimeout|ConnectionTimeout|RequestError/i.test(
    `${e.code ?? ''} ${e.name ?? ''} ${(error as Error).message ?? ''}`,
  );
}
