// Where a published bundle is served (its public path), how the build learns it, and the check
// that a preview loads its own files.
//
// A URL path on the bucket's website endpoint, custom domain or CDN names the object key, so the
// live site is served at /<frontend.prefix>/ and a merge request's preview at
// /<frontend.prefix>/previews/mr-<iid>/. Bundlers write absolute root paths by default (Vite's
// base "/", Create React App's and Vue CLI's "/", Next's /_next/...): in a preview, /assets/app.js
// is the live site's file. Rewriting the HTML would not be enough, since the bundler's runtime
// (chunk loading, preload helpers, asset URLs in JS) carries the same base; the build itself has
// to be told, so it gets GANTRY_PUBLIC_PATH (and, for a preview, the variables bundlers read
// themselves), and a preview whose HTML, JS or CSS still names files of this very build from the
// root is refused before anything is sent.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { Ctx } from '../context.js';
import { GantryError } from '../errors.js';

/** The URL path a bundle published under `prefix` (a key prefix: "" or ending in "/") is served at. */
export function publicPathFor(prefix: string): string {
  return encodeURI(`/${prefix}`);
}

// Variables bundlers read by themselves: Create React App's react-scripts (PUBLIC_URL overrides
// package.json "homepage") and Nuxt (NUXT_APP_BASE_URL sets app.baseURL, also for nuxt generate).
const BUNDLER_VARIABLES = ['PUBLIC_URL', 'NUXT_APP_BASE_URL'] as const;

/**
 * The variables the frontend build runs with. GANTRY_PUBLIC_PATH always; for a preview also the
 * ones bundlers read, replacing a value the job already had (any other value points the preview
 * at another site's files). The live site's build keeps its own settings for them.
 */
export function publicPathVariables(
  publicPath: string,
  env: Record<string, string | undefined>,
  preview: boolean,
): { variables: Record<string, string>; replaced: string[] } {
  const variables: Record<string, string> = { GANTRY_PUBLIC_PATH: publicPath };
  const replaced: string[] = [];
  if (preview) {
    for (const name of BUNDLER_VARIABLES) {
      if (env[name] !== undefined && env[name] !== publicPath) replaced.push(name);
      variables[name] = publicPath;
    }
  }
  return { variables, replaced };
}

/** publicPathVariables for the build's environment, saying what the build is given. */
export function buildEnvironment(ctx: Ctx, env: Record<string, string | undefined>, publicPath: string, preview: boolean): Record<string, string> {
  const { variables, replaced } = publicPathVariables(publicPath, env, preview);
  const others = Object.keys(variables).filter((name) => name !== 'GANTRY_PUBLIC_PATH');
  ctx.logger.info(`build with GANTRY_PUBLIC_PATH=${publicPath}${others.length > 0 ? ` (and ${others.join(', ')})` : ''}`);
  for (const name of replaced) ctx.logger.info(`${name} had another value in the job: replaced for the preview`);
  return variables;
}

// --- references ---------------------------------------------------------------------------------

// A quoted string (", ' or a template literal without substitutions) that starts with "/": in
// JS, CSS and HTML alike, attribute values included.
const QUOTED = /(["'`])(\/[^"'`\s<>\\]*)\1/g;
const CSS_URL = /url\(\s*(\/[^'")\s]*)\s*\)/gi;
const UNQUOTED_ATTRIBUTE = /\s(?:src|href|poster|action|data)\s*=\s*(\/[^\s"'`<>]*)/gi;
const SRCSET = /\s(?:srcset|imagesrcset)\s*=\s*(["'])([^"']*)\1/gi;
const BASE = /<base\s[^>]*?href\s*=\s*(["']?)([^"'\s>]*)\1/i;
// The relative src/href a <base href> redirects.
const RELATIVE_ATTRIBUTE = /\s(?:src|href)\s*=\s*(["']?)([^"'\s<>]+)\1/gi;
const SCANNED_EXTENSIONS = new Set(['.html', '.htm', '.js', '.mjs', '.cjs', '.css']);
// Larger files are not bundles a browser runs (or are not worth holding up a publish for).
const MAX_SCANNED_BYTES = 32 * 1024 * 1024;

/** The object key (below the bundle root) a root-absolute reference names, or undefined. */
function keyOf(reference: string): string | undefined {
  if (!reference.startsWith('/') || reference.startsWith('//')) return undefined;
  const cut = reference.search(/[?#]/);
  let pathPart = cut === -1 ? reference : reference.slice(0, cut);
  try {
    pathPart = decodeURIComponent(pathPart);
  } catch {
    return undefined;
  }
  const key = path.posix.normalize(pathPart).replace(/^\/+/, '');
  return key === '' || key === '.' || key.endsWith('/') ? undefined : key;
}

/**
 * The root-absolute references in one file of the build (HTML, JS or CSS) that name a file of
 * this build (`keys`) from outside `publicPath`, in order of appearance, each once; and how many
 * distinct references already start with `publicPath`. `"/"`, `"/api/users"` and directory
 * paths name no file of the build and are not counted. In HTML, a `<base href>` outside the
 * public path counts as one reference when it sends relative paths to files of the build there.
 */
export function referencesIn(text: string, file: string, keys: ReadonlySet<string>, publicPath: string): { outside: string[]; inside: number } {
  const found: { at: number; reference: string }[] = [];
  const add = (at: number, reference: string) => found.push({ at, reference });
  for (const m of text.matchAll(QUOTED)) add(m.index, m[2]!);
  for (const m of text.matchAll(CSS_URL)) add(m.index, m[1]!);
  const html = /\.html?$/i.test(file);
  if (html) {
    for (const m of text.matchAll(UNQUOTED_ATTRIBUTE)) add(m.index, m[1]!);
    for (const m of text.matchAll(SRCSET)) {
      for (const candidate of m[2]!.split(',')) {
        const url = candidate.trim().split(/\s+/)[0];
        if (url) add(m.index, url);
      }
    }
  }
  found.sort((a, b) => a.at - b.at);
  const outsideSet = new Set<string>();
  const inside = new Set<string>();
  for (const { reference } of found) {
    const key = keyOf(reference);
    const named = key !== undefined && keys.has(key);
    // At the bucket root every root path is the site's own; below it, the public path is.
    if (publicPath === '/' ? named : reference.startsWith(publicPath)) inside.add(reference);
    else if (named) outsideSet.add(reference);
  }
  const outside = [...outsideSet];
  if (html && publicPath !== '/') {
    const base = BASE.exec(text);
    const href = base?.[2];
    if (href?.startsWith('/') && !href.startsWith('//') && !href.startsWith(publicPath)) {
      const dir = href.endsWith('/') ? href : `${path.posix.dirname(href)}/`;
      const misdirected = [...text.matchAll(RELATIVE_ATTRIBUTE)].some((m) => {
        const url = m[2]!;
        if (url.startsWith('/') || url.startsWith('#') || /^[a-z][a-z0-9+.-]*:/i.test(url)) return false;
        const key = keyOf(path.posix.join(dir, url));
        return key !== undefined && keys.has(key);
      });
      if (misdirected) outside.unshift(`<base href="${href}">`);
    }
  }
  return { outside, inside: inside.size };
}

export interface AbsoluteReference {
  /** The file of the build that holds the reference (its key below the bundle root). */
  file: string;
  /** As written, e.g. /assets/index-CAoPt-vL.js or /icons.svg#github-icon. */
  reference: string;
}

export interface ReferenceScan {
  /** Sorted by file, then reference. */
  references: AbsoluteReference[];
  /** Some reference already starts with the public path: the bundler was told it. */
  honoured: boolean;
}

/** Reads the HTML, JS and CSS of the build and collects its references outside `publicPath`. */
export async function findAbsoluteReferences(files: { key: string; path: string }[], publicPath: string): Promise<ReferenceScan> {
  const keys = new Set(files.map((f) => f.key));
  const limit = pLimit(8);
  let honoured = false;
  const perFile = await Promise.all(
    files
      .filter((f) => SCANNED_EXTENSIONS.has(path.extname(f.key).toLowerCase()))
      .map((f) =>
        limit(async () => {
          if ((await stat(f.path)).size > MAX_SCANNED_BYTES) return [];
          const r = referencesIn(await readFile(f.path, 'utf8'), f.key, keys, publicPath);
          if (r.inside > 0) honoured = true;
          return r.outside.map((reference) => ({ file: f.key, reference }));
        }),
      ),
  );
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const references = perFile.flat().sort((a, b) => compare(a.file, b.file) || compare(a.reference, b.reference));
  return { references, honoured };
}

// --- the bundler and its fix -------------------------------------------------------------------

export interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface BundlerAdvice {
  bundler: string;
  /** The one line that gives the bundler the public path. */
  fix: string;
  /** How the app's own code builds a path from the public path, for `rest` (e.g. icons.svg). */
  inCode: (rest: string) => string;
}

// First match wins: Vue CLI and Angular also list webpack, Nuxt lists Vite.
const BUNDLERS: { packages: string[]; advice: BundlerAdvice }[] = [
  {
    packages: ['next'],
    advice: {
      bundler: 'Next.js (static export)',
      fix: "add basePath: process.env.GANTRY_PUBLIC_PATH?.replace(/\\/$/, ''), to next.config.js (basePath takes no trailing slash)",
      inCode: (rest) =>
        `prefix them with the basePath yourself (Next adds it to next/link and imported images only), e.g. \`${'${'}basePath}/${rest}\` with basePath passed through the env of next.config.js`,
    },
  },
  {
    packages: ['nuxt'],
    advice: {
      bundler: 'Nuxt',
      fix: 'Nuxt reads NUXT_APP_BASE_URL, which Gantry sets for a preview: do not set it in the build command or nuxt.config (app.baseURL)',
      inCode: (rest) => `build them from useRuntimeConfig().app.baseURL, e.g. \`${'${'}useRuntimeConfig().app.baseURL}${rest}\``,
    },
  },
  {
    packages: ['@angular/cli', '@angular/build', '@angular-devkit/build-angular'],
    advice: {
      bundler: 'Angular',
      fix: 'build with ng build --base-href "$GANTRY_PUBLIC_PATH" (frontend.build, e.g. npx ng build --base-href "$GANTRY_PUBLIC_PATH")',
      inCode: (rest) => `write it without the leading "/" (${rest}), so it resolves against <base href>`,
    },
  },
  {
    packages: ['react-scripts'],
    advice: {
      bundler: 'Create React App',
      fix: 'react-scripts reads PUBLIC_URL, which Gantry sets for a preview: do not set PUBLIC_URL in the build command',
      inCode: (rest) => `build them from process.env.PUBLIC_URL, e.g. \`${'${'}process.env.PUBLIC_URL}/${rest}\``,
    },
  },
  {
    packages: ['@vue/cli-service'],
    advice: {
      bundler: 'Vue CLI',
      fix: "add publicPath: process.env.GANTRY_PUBLIC_PATH ?? '/', to vue.config.js",
      inCode: (rest) => `build them from process.env.BASE_URL, e.g. \`${'${'}process.env.BASE_URL}${rest}\``,
    },
  },
  {
    packages: ['vite'],
    advice: {
      bundler: 'Vite',
      fix: 'add base: process.env.GANTRY_PUBLIC_PATH, to the config in vite.config.js (or build with vite build --base "$GANTRY_PUBLIC_PATH")',
      inCode: (rest) => `build them from import.meta.env.BASE_URL, e.g. \`${'${'}import.meta.env.BASE_URL}${rest}\``,
    },
  },
  {
    packages: ['@rsbuild/core'],
    advice: {
      bundler: 'Rsbuild',
      fix: 'add output: { assetPrefix: process.env.GANTRY_PUBLIC_PATH }, to rsbuild.config',
      inCode: (rest) => `build them from process.env.ASSET_PREFIX, e.g. \`${'${'}process.env.ASSET_PREFIX}/${rest}\``,
    },
  },
  {
    packages: ['@rspack/cli', '@rspack/core'],
    advice: {
      bundler: 'Rspack',
      fix: "set output: { publicPath: process.env.GANTRY_PUBLIC_PATH ?? 'auto' } in rspack.config",
      inCode: (rest) => `build them from __webpack_public_path__, e.g. __webpack_public_path__ + '${rest}'`,
    },
  },
  {
    packages: ['webpack', 'webpack-cli'],
    advice: {
      bundler: 'webpack',
      fix: "set output: { publicPath: process.env.GANTRY_PUBLIC_PATH ?? 'auto' } in webpack.config.js",
      inCode: (rest) => `build them from __webpack_public_path__, e.g. __webpack_public_path__ + '${rest}'`,
    },
  },
  {
    packages: ['parcel'],
    advice: {
      bundler: 'Parcel',
      fix: 'build with parcel build --public-url "$GANTRY_PUBLIC_PATH"',
      inCode: (rest) => `import it, e.g. new URL('${rest}', import.meta.url), so Parcel writes the public URL`,
    },
  },
];

const GENERIC: BundlerAdvice = {
  bundler: 'your bundler',
  fix: 'make the build write its paths from the environment variable GANTRY_PUBLIC_PATH (or write relative paths)',
  inCode: (rest) => `build them from GANTRY_PUBLIC_PATH at build time, e.g. GANTRY_PUBLIC_PATH + '${rest}'`,
};

function dependsOn(pkg: PackageJson, names: string[]): boolean {
  return names.some((n) => pkg.dependencies?.[n] !== undefined || pkg.devDependencies?.[n] !== undefined);
}

/** What to tell the user to change, from the frontend's package.json (undefined: none found). */
export function adviceFor(pkg: PackageJson | undefined): BundlerAdvice {
  return (pkg && BUNDLERS.find((b) => dependsOn(pkg, b.packages))?.advice) ?? GENERIC;
}

/**
 * The frontend's package.json: from the build output's parent (frontend/dist -> frontend/) up to
 * the repository root, the first one that names a known bundler, else the first one found.
 */
export function readFrontendPackage(root: string, dir: string): PackageJson | undefined {
  const top = path.resolve(root);
  let at = path.dirname(path.resolve(dir));
  let first: PackageJson | undefined;
  for (;;) {
    const file = path.join(at, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
        if (BUNDLERS.some((b) => dependsOn(pkg, b.packages))) return pkg;
        first ??= pkg;
      } catch {
        // An unreadable package.json gives no advice; the build has already run with it.
      }
    }
    if (at === top || !at.startsWith(top + path.sep)) break;
    at = path.dirname(at);
  }
  return first;
}

// --- the check ---------------------------------------------------------------------------------

const SHOWN = 20;

function listed(references: AbsoluteReference[]): string[] {
  const lines = references.slice(0, SHOWN).map((r) => `${r.file}: ${r.reference}`);
  if (references.length > SHOWN) lines.push(`... and ${references.length - SHOWN} more`);
  return lines;
}

function fixFor(scan: ReferenceScan, publicPath: string, advice: BundlerAdvice): string {
  if (scan.honoured) {
    const first = scan.references.find((r) => !r.reference.startsWith('<'))?.reference ?? '/';
    return `the build already uses ${publicPath}; these paths are written in the app's own code, where no bundler rewrites them: ${advice.inCode(first.replace(/^\/+/, ''))}`;
  }
  return `${advice.bundler}: ${advice.fix}; Gantry sets GANTRY_PUBLIC_PATH=${publicPath} for the build (README: "Previews and your bundler's public path")`;
}

/** How many distinct files of the build the references name. */
function filesNamed(references: AbsoluteReference[]): number {
  return new Set(references.map((r) => (r.reference.startsWith('<') ? r.reference : keyOf(r.reference)))).size;
}

/**
 * Before anything is sent: a preview whose HTML, JS or CSS names files of its own build by
 * absolute root path would load the live site's copies (or the live site's 404s) and is refused
 * (E_PREVIEW_ABSOLUTE_PATH, exit 2). The live site under frontend.prefix gets the same findings
 * as a warning only: a domain or CDN whose origin maps its root onto the prefix serves such a
 * build correctly, and Gantry cannot see that mapping; a preview always sits below its site, so
 * no mapping makes a root path reach it. A site at the bucket root is not scanned.
 */
export async function checkPublicPath(
  ctx: Ctx,
  input: { files: { key: string; path: string }[]; publicPath: string; preview: boolean; pkg: PackageJson | undefined },
): Promise<void> {
  const { publicPath, preview } = input;
  if (publicPath === '/') return;
  const scan = await findAbsoluteReferences(input.files, publicPath);
  if (scan.references.length === 0) return;
  const advice = adviceFor(input.pkg);
  const count = filesNamed(scan.references);
  if (preview) {
    throw new GantryError(
      'E_PREVIEW_ABSOLUTE_PATH',
      `the preview would load ${count} of its files from the live site (${scan.references.length} reference${scan.references.length === 1 ? '' : 's'}, below): the build names them from the site root, not from ${publicPath} where the preview is served; nothing was published`,
      { details: listed(scan.references), fix: fixFor(scan, publicPath, advice) },
    );
  }
  ctx.logger.warn(
    `the build names ${count} of its files from the site root, not from ${publicPath} where frontend.prefix puts them: served at ${publicPath}, the pages load them from the bucket's root (right only when a domain or CDN maps its root onto the prefix)`,
  );
  for (const line of listed(scan.references)) ctx.logger.warn(`  ${line}`);
  ctx.logger.warn(`  fix: ${fixFor(scan, publicPath, advice)}`);
}
