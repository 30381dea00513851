// What is published can differ from what the build wrote, in two ways a user configures:
// - references from HTML to assets without a content hash in their name get ?v=<short sha>,
//   so a browser or CDN holding the old bundle.js fetches the new one (the classic
//   cache-busting trick for bundles without hashed names);
// - text files can be stored compressed, with Content-Encoding: gzip or br.
// Changed files are held in memory (HTML, and compressed text, is small next to the images
// and maps that go up from disk); the rest are published from the build directory as they are. Size and MD5 are those of the bytes sent, so the plan compares what
// is in the bucket with what would be sent.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import pLimit from 'p-limit';
import type { LocalFile } from './files.js';

export type ContentEncoding = 'gzip' | 'br';

export interface StageOptions {
  /** Appended as ?v= to HTML references to unhashed assets; empty: no rewriting. */
  version: string;
  encoding?: ContentEncoding | undefined;
  /** Extensions (without the dot) stored compressed when `encoding` is set. */
  compress: string[];
  /** Where the bundle is served (src/oss/public-path.ts): references below it resolve against the bundle root. */
  publicPath?: string;
}

export interface StagedBundle {
  files: LocalFile[];
  /** HTML files whose references were rewritten, and how many references. */
  rewritten: { key: string; references: number }[];
  compressed: number;
  /** Bytes saved by compression. */
  saved: number;
}

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

export async function stageBundle(files: LocalFile[], options: StageOptions): Promise<StagedBundle> {
  const unhashedAssets = new Set(files.filter((f) => !f.html && !f.hashed).map((f) => f.key));
  const compressible = new Set(options.compress.map((e) => e.toLowerCase().replace(/^\./, '')));
  const rewritten: StagedBundle['rewritten'] = [];
  let compressed = 0;
  let saved = 0;
  const limit = pLimit(8);
  const out = await Promise.all(
    files.map((file) =>
      limit(async (): Promise<LocalFile> => {
        const rewrite = file.html && options.version !== '' && unhashedAssets.size > 0;
        const ext = path.extname(file.key).slice(1).toLowerCase();
        const encode = options.encoding !== undefined && compressible.has(ext);
        if (!rewrite && !encode) return file;
        let body = await readFile(file.path);
        let changed = false;
        if (rewrite) {
          const r = addVersionToReferences(body.toString('utf8'), file.key, unhashedAssets, options.version, options.publicPath);
          if (r.references > 0) {
            body = Buffer.from(r.html, 'utf8');
            changed = true;
            rewritten.push({ key: file.key, references: r.references });
          }
        }
        let encoding: ContentEncoding | undefined;
        if (encode) {
          const packed = options.encoding === 'br' ? await brotli(body, brotliOptions(body.length)) : await gzip(body, { level: 9 });
          // Stored compressed only when that is smaller: tiny files can grow.
          if (packed.length < body.length) {
            saved += body.length - packed.length;
            body = packed;
            encoding = options.encoding;
            changed = true;
            compressed++;
          }
        }
        if (!changed) return file;
        return { ...file, body, size: body.length, md5: createHash('md5').update(body).digest('hex'), ...(encoding ? { encoding } : {}) };
      }),
    ),
  );
  rewritten.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { files: out, rewritten, compressed, saved };
}

function brotliOptions(size: number): zlib.BrotliOptions {
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
    },
  };
}

// src="..." and href="..." (either quote), in tags; URLs with a scheme, protocol-relative
// URLs, fragments and data: are left alone.
const attribute = /(\s(?:src|href)\s*=\s*)(["'])([^"'<>]*)\2/gi;

/**
 * Adds v=<version> to every reference in `html` (published as `fromKey`) that resolves to one
 * of `assets` (keys below the bundle root). A reference that already has a v= parameter is
 * left as it is. Root-relative references ("/app.js") resolve against the bundle root, and so do
 * those below `publicPath` ("/web/app.js" when the bundle is served at /web/).
 */
export function addVersionToReferences(
  html: string,
  fromKey: string,
  assets: Set<string>,
  version: string,
  publicPath = '/',
): { html: string; references: number } {
  const servedAt = decodeURI(publicPath);
  let references = 0;
  const dir = path.posix.dirname(fromKey);
  const result = html.replace(attribute, (whole, lead: string, quote: string, url: string) => {
    if (url === '' || /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//') || url.startsWith('#')) return whole;
    const cut = url.search(/[?#]/);
    const pathPart = cut === -1 ? url : url.slice(0, cut);
    const rest = cut === -1 ? '' : url.slice(cut);
    const query = rest.startsWith('?') ? rest.slice(1).split('#')[0]! : '';
    const fragment = rest.includes('#') ? rest.slice(rest.indexOf('#')) : '';
    if (/(^|&)v=/.test(query)) return whole;
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathPart);
    } catch {
      return whole;
    }
    const fromRoot = decoded.startsWith(servedAt) ? decoded.slice(servedAt.length) : decoded.slice(1);
    const key = path.posix.normalize(decoded.startsWith('/') ? fromRoot : path.posix.join(dir, decoded));
    if (!assets.has(key)) return whole;
    references++;
    const v = `v=${encodeURIComponent(version)}`;
    return `${lead}${quote}${pathPart}?${query ? `${query}&${v}` : v}${fragment}${quote}`;
  });
  return { html: result, references };
}
