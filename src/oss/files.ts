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
  /** The name carries a content hash (app.3f2a9c1e.js, index-DAC_-vWk.js): safe to cache forever. */
  hashed: boolean;
  /**
   * Hashed, yet its bytes differ from the object an earlier release left at the same key
   * (src/oss/plan.ts): it is sent with no-cache, never as immutable.
   */
  changedInPlace?: boolean;
  /** Stored compressed (src/oss/stage.ts): size and md5 are those of the compressed bytes. */
  encoding?: 'gzip' | 'br';
  /** The bytes to send when they differ from the file at `path` (src/oss/stage.ts). */
  body?: Buffer;
}

// Content hashes as the bundlers write them (test/fixtures/hashed-names/ holds their real output):
// - Vite/Rollup/Rolldown: `[name]-[hash]`, 8 base64url characters, so `-` and `_` inside and
//   often no digit (index-DAC_-vWk.js); esbuild and Angular: 8 base32 capitals and digits
//   (index-DJKSAJSS.js, chunk-4BVDYPQL.js);
// - webpack, Rspack, Parcel, create-react-app, Next with webpack: lowercase hex, 8 to 20
//   characters after "." or "-", also mid-name (main.378f15cc.chunk.js) or as the whole name
//   (asset modules' [hash][ext]: 124af9fb955cba965b76.woff2);
// - Next.js: everything under _next/static/ is per build (Turbopack's 0cz1d0mv5g_q7.js,
//   _next/static/<build id>/_buildManifest.js); Next serves that folder as immutable itself.
// An 8-character tail is ambiguous: "app-settings.js" could carry the hash "settings". Such a
// tail is taken for words when every piece between - and _ reads as one (lowercase or
// Capitalised runs with a vowel, camelCase humps, trailing digits, one- or two-letter pieces,
// capitals beside a separator as in __PAGE__): Inter-SemiBold.woff2, app-v2-beta1.js. That errs
// on the safe side: about 1 Rollup hash in 100 reads as a word (page46-Dnedygby.js) and only
// loses the year-long cache, while a word taken for a hash would be cached for a year and then
// changed in place. A bundler's manifest, when the build leaves one, decides instead.
const SECONDARY_EXTENSION = /(\.map|\.gz|\.br|\.LICENSE\.txt)$/i;

function hexHash(token: string, after: '.' | '-'): boolean {
  if (!/^[0-9a-f]{8,}$/.test(token)) return false;
  if (token.length >= 16) return true;
  // Eight digits after a dash are a date (report-20240101.pdf); after a dot, webpack's hex.
  return /\d/.test(token) && (after === '.' || /[a-f]/.test(token));
}

function wordPiece(piece: string): boolean {
  if (/^[A-Za-z][a-z]?$|^v?\d+$/.test(piece)) return true;
  if (!/^(?:[A-Z]?[a-z]{2,})+\d*$/.test(piece)) return false;
  return piece
    .replace(/\d+$/, '')
    .split(/(?=[A-Z])/)
    .every((hump) => /[aeiouy]/i.test(hump));
}

function readsAsWords(token: string): boolean {
  const pieces = token.split(/[-_]/).filter(Boolean);
  return pieces.every((p) => wordPiece(p) || (pieces.length > 0 && /[-_]/.test(token) && /^[A-Z]+$/.test(p)));
}

/** The stem of a file name (no directory, no extension, no .map/.gz/.br after it). */
function stemOf(name: string): string {
  let base = name.slice(name.lastIndexOf('/') + 1);
  while (SECONDARY_EXTENSION.test(base)) base = base.replace(SECONDARY_EXTENSION, '');
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

interface HashCandidate {
  token: string;
  kind: 'hex' | 'short';
  after: '.' | '-';
}

/** Every part of a stem that could be a content hash. */
function candidates(stem: string): HashCandidate[] {
  const out: HashCandidate[] = [];
  const segments = stem.split('.');
  segments.forEach((segment, i) => {
    segment.split('-').forEach((part, j) => {
      if (j > 0) out.push({ token: part, kind: 'hex', after: '-' });
      // The whole name as a hash (webpack asset modules) is held to the dash standard: 20240101.pdf.
      else if (i > 0 || segments.length === 1) out.push({ token: part, kind: 'hex', after: i > 0 ? '.' : '-' });
    });
    // Rollup/esbuild's 8 characters may themselves hold "-": take the last 8 after a separator.
    if (segment.length > 8 && segment[segment.length - 9] === '-') out.push({ token: segment.slice(-8), kind: 'short', after: '-' });
    else if (i > 0 && segment.length === 8) out.push({ token: segment, kind: 'short', after: '.' });
  });
  return out;
}

/** The name rule: does this file name (or key below the bundle root) carry a content hash? */
export function isHashedName(name: string): boolean {
  if (/(^|\/)_next\/static\//.test(name)) return true;
  return candidates(stemOf(name)).some((c) => (c.kind === 'hex' ? hexHash(c.token, c.after) : /^[A-Za-z0-9_-]{8}$/.test(c.token) && !readsAsWords(c.token)));
}

/**
 * For a file a bundler's manifest names as the output of `source`: the manifest shows what the
 * bundler added to the source's name. An added "-" or "." and 8+ hash characters is the hash,
 * even when it reads as a word (app.ts -> app-settings.js); an output named as its source
 * (app-settings.ts -> app-settings.js) was configured without [hash]. Without a source (shared
 * chunks), or for a name that does not extend its source's (entryFileNames: 'widget-loader.js'),
 * the name rule decides.
 */
function hashedPerManifest(output: string, source: string | undefined): boolean {
  if (source === undefined) return isHashedName(output);
  const out = stemOf(output);
  const src = stemOf(source);
  if (out === src) return false;
  if (isHashedName(output)) return true;
  return out.startsWith(src) && /^[-.][A-Za-z0-9_-]{8,}$/.test(out.slice(src.length));
}

export interface ManifestUse {
  /** The manifest's key below the bundle root. */
  key: string;
  /** How many files of the bundle it names as outputs. */
  outputs: number;
  /** Why it was not used, when it could not be read. */
  problem?: string;
}

// Where the bundlers leave their manifests in the output directory: Vite 5+ (.vite/manifest.json),
// Vite 2-4, webpack-manifest-plugin and rspack-manifest-plugin (manifest.json, also the name of
// a web app manifest, told apart by its shape), webpack-assets-manifest (assets-manifest.json),
// create-react-app (asset-manifest.json).
const MANIFESTS = ['.vite/manifest.json', 'manifest.json', 'asset-manifest.json', 'assets-manifest.json'];

/** (output, source) pairs a manifest names; source is undefined where it names only the output. */
function manifestOutputs(json: unknown): { output: string; source?: string | undefined }[] | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length === 0) return undefined;
  // Vite: { "<source>": { file, src?, css?: [], assets?: [] } }.
  if (entries.every(([, v]) => typeof v === 'object' && v !== null && typeof (v as { file?: unknown }).file === 'string')) {
    const out: { output: string; source?: string | undefined }[] = [];
    for (const [key, value] of entries) {
      const v = value as { file: string; src?: string; css?: unknown; assets?: unknown };
      // Shared chunks have no src: their key ("_shared-B2x3.js") is made from the output name.
      const source = v.src ?? (key.startsWith('_') ? undefined : key);
      out.push({ output: v.file, source });
      for (const css of Array.isArray(v.css) ? v.css : []) if (typeof css === 'string') out.push({ output: css, source });
      for (const asset of Array.isArray(v.assets) ? v.assets : []) if (typeof asset === 'string') out.push({ output: asset });
    }
    return out;
  }
  // create-react-app: { files: { "<name>": "<public path>" }, entrypoints: [] }.
  const files = (json as { files?: unknown }).files;
  const flat = typeof files === 'object' && files !== null && !Array.isArray(files) ? Object.entries(files) : entries;
  // webpack/Rspack manifest plugins: { "<name>": "<public path>" }. A web app manifest has
  // icons and the like, and its strings do not name files of the bundle (so it names nothing).
  if (!flat.every(([, v]) => typeof v === 'string')) return undefined;
  return flat.map(([key, value]) => ({ output: value as string, source: key }));
}

/** The bundle key a manifest's public path names ("/app/main.1a2b.js", "https://cdn/x/y.js", "auto/z.js"). */
function keyForPublicPath(url: string, keys: Set<string>): string | undefined {
  let p = url
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, '')
    .replace(/^\/+/, '')
    .split(/[?#]/)[0]!;
  try {
    p = decodeURIComponent(p);
  } catch {
    // Left as written.
  }
  // Drop leading folders of the public path until the rest is a file of the bundle.
  for (let rest = p; rest !== ''; rest = rest.includes('/') ? rest.slice(rest.indexOf('/') + 1) : '') {
    if (keys.has(rest)) return rest;
  }
  return undefined;
}

/** What the manifests in a bundle say: key -> hashed, for every file they name as an output. */
function readManifests(dir: string, keys: Set<string>): { verdicts: Map<string, boolean>; used: ManifestUse[] } {
  const verdicts = new Map<string, boolean>();
  const used: ManifestUse[] = [];
  for (const key of MANIFESTS) {
    if (!keys.has(key)) continue;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path.join(dir, key), 'utf8'));
    } catch (error) {
      // manifest.json can be anything a site serves; a bundler's .vite/manifest.json is JSON.
      if (key === '.vite/manifest.json') used.push({ key, outputs: 0, problem: `not JSON (${(error as Error).message.split('\n')[0]})` });
      continue;
    }
    const pairs = manifestOutputs(json);
    if (!pairs) continue;
    // Vite names outputs relative to its outDir, the folder that holds .vite/; the others name
    // public paths.
    const vite = key === '.vite/manifest.json';
    const named = new Set<string>();
    for (const { output, source } of pairs) {
      const k = vite ? (keys.has(output) ? output : undefined) : keyForPublicPath(output, keys);
      if (!k || MANIFESTS.includes(k)) continue;
      // In a flat manifest a key that is the output's own name (webpack-assets-manifest's
      // chunks, create-react-app's files) is no source: it tells nothing.
      const hashed = hashedPerManifest(k, !vite && source?.split('/').pop() === k.split('/').pop() ? undefined : source);
      named.add(k);
      // Two manifests of one build agree; if they do not, a hashed verdict needs both.
      verdicts.set(k, (verdicts.get(k) ?? true) && hashed);
    }
    if (named.size > 0) used.push({ key, outputs: named.size });
  }
  return { verdicts, used };
}

export interface ScannedBundle {
  files: LocalFile[];
  /** Bundler manifests found and used (or found and unreadable). */
  manifests: ManifestUse[];
}

export async function scanDir(dir: string): Promise<LocalFile[]> {
  return (await scanBundle(dir)).files;
}

/**
 * Every file of the bundle with its MD5, and whether its name carries a content hash: as the
 * bundler's manifest says for the files it names, by the name rule for the others (public/
 * files, which bundlers copy as they are).
 */
export async function scanBundle(dir: string): Promise<ScannedBundle> {
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
  const { verdicts, used } = readManifests(dir, new Set(names));
  const out: LocalFile[] = [];
  for (const [i, key] of names.entries()) {
    // Let the event loop run now and then: the bucket listing runs alongside the scan.
    if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
    const full = path.join(dir, key);
    const name = key.slice(key.lastIndexOf('/') + 1);
    const { size } = statSync(full);
    const md5 = size > STREAM_ABOVE ? await md5Stream(full) : createHash('md5').update(readFileSync(full)).digest('hex');
    out.push({ key, path: full, size, md5, html: /\.html?$/i.test(name), hashed: verdicts.get(key) ?? isHashedName(key) });
  }
  return { files: out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), manifests: used };
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
