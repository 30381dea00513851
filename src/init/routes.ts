// The GET routes an app answers, read from its sources (never run): Express and Koa routers with
// their mount prefixes, Fastify plugins (register prefixes, @fastify/autoload directories),
// Hapi and Fastify route objects, NestJS controllers (and the global prefix), raw node:http
// URL comparisons, handlers that answer every path, and static directories with an index.html.
// A route whose full path cannot be worked out is reported apart and never used for a probe:
// a probe on a guessed path is what made the first deploy fail.
import path from 'node:path';
import { closing, enclosing, entries, isCode, items, lineOf, opening, parseSource, snippet, stringAt, stringsAt, type Range, type Source } from './source.js';

export interface FoundRoute {
  /** The full path (for an unresolved route: the path as written). "/*" answers every path. */
  path: string;
  file: string;
  line: number;
  /** How it is declared, e.g. "router.get('/'), mounted at /users by app.js:22". */
  how: string;
}

export interface UnresolvedRoute extends FoundRoute {
  /** Why its full path is unknown. */
  why: string;
}

export interface RouteScan {
  routes: FoundRoute[];
  unresolved: UnresolvedRoute[];
  /** Findings that break every probe whatever its path, e.g. a server bound to localhost. */
  warnings: string[];
  /** Files that create the app or are the main file: where the port is looked for, main file first. */
  entries: Source[];
}

export interface SourceTree {
  /** Every file of the repository (relative, "/"-separated). */
  list(): string[];
  read(file: string): string | undefined;
}

/** App code: JavaScript and TypeScript outside tests, builds, dependencies and the frontend. */
export function isAppSource(file: string): boolean {
  if (!/\.(?:[cm]?js|[cm]?ts)$/.test(file) || /\.d\.[cm]?ts$/.test(file)) return false;
  if (/(?:^|\/)(?:node_modules|dist|build|out|coverage|tests?|__tests__|__mocks__|e2e|fixtures|public|static|views|frontend|client|\.[^/]+)\//.test(file))
    return false;
  if (/^(?:examples?|docs?|bench(?:marks?)?)\//.test(file)) return false;
  return !/\.(?:test|spec|e2e-spec)\.[cm]?[jt]s$/.test(file) && !/(?:^|\/)[^/]+\.config\.[cm]?[jt]s$/.test(file);
}

const MAX_FILES = 1500;
const HTTP_CLIENTS = /^(?:axios|got|ky|superagent|request|fetch|http|https|client|api|agent|supertest|instance|\$http|httpService|this)$/i;
const WILDCARD = /^(?:\*|\/\*|\(\.\*\)|\/\(\.\*\)|\/?\*\w+|\/\{\*\w*\})$/;
const LOCALHOST = new Set(['localhost', '127.0.0.1', '::1']);

type Framework = 'express' | 'koa' | 'fastify' | 'hapi' | 'nest' | 'http';
type Target = { local: string } | { file: string };

interface Mount {
  receiver: string | null;
  /** null: a prefix computed at run time. */
  prefix: string | null;
  target: Target;
  line: number;
}

interface Autoload {
  receiver: string | null;
  dir: string;
  prefix: string;
  dirNames: boolean;
  line: number;
}

interface RawRoute {
  /** "absolute": the path is already full (NestJS, node:http). Else: relative to the receiver (null: to the file). */
  scope: 'absolute' | 'receiver';
  receiver: string | null;
  paths: string[];
  line: number;
  how: string;
  /** Ordering of what is reported for GET /: a declared route before a static file before a catch-all. */
  rank: number;
  /** Set when the route is known to be unresolvable. */
  why?: string;
}

interface FileModel {
  src: Source;
  imports: Map<string, string>;
  apps: Map<string, Framework>;
  routers: Map<string, string>;
  strings: Map<string, string>;
  mounts: Mount[];
  autoloads: Autoload[];
  dynamicMounts: string[];
  routes: RawRoute[];
  createsApp: boolean;
  warnings: string[];
}

export function scanRoutes(tree: SourceTree, main: string | undefined): RouteScan {
  const listed = tree.list().filter(isAppSource);
  const names = [...new Set([...(main ? [main] : []), ...listed])].slice(0, MAX_FILES);
  const known = new Set(names);
  const models = new Map<string, FileModel>();
  for (const file of names) {
    const text = tree.read(file);
    if (text !== undefined) models.set(file, modelFile(parseSource(file, text), known, tree));
  }
  addNestRoutes([...models.values()]);

  const entryFiles = [...models.values()].filter((m) => m.src.file === main || m.createsApp);
  const entrySet = new Set(entryFiles.map((m) => m.src.file));
  const dynamic = [...models.values()].flatMap((m) => m.dynamicMounts);
  const resolver = prefixResolver(models, entrySet);

  const routes: FoundRoute[] = [];
  const unresolved: UnresolvedRoute[] = [];
  const ranked: { route: FoundRoute; rank: number }[] = [];
  for (const model of models.values()) {
    for (const raw of model.routes) {
      const file = model.src.file;
      const at = raw.why
        ? null
        : raw.scope === 'absolute'
          ? { prefix: '', via: '' }
          : raw.receiver
            ? resolver.ofReceiver(file, raw.receiver)
            : resolver.ofFile(file);
      if (!at) {
        const why =
          raw.why ??
          (dynamic.length > 0
            ? `it is mounted where gantry init cannot follow (${dynamic[0]})`
            : raw.receiver && model.routers.has(raw.receiver)
              ? `nothing gantry init can read mounts router ${raw.receiver}`
              : `nothing gantry init can read mounts ${file}`);
        for (const p of raw.paths) unresolved.push({ path: p, file, line: raw.line, how: raw.how, why });
        continue;
      }
      for (const p of raw.paths) {
        const route = { path: joinPaths(at.prefix, p), file, line: raw.line, how: at.via ? `${raw.how}, ${at.via}` : raw.how };
        if (!routes.some((r) => r.path === route.path && r.file === route.file && r.line === route.line)) {
          routes.push(route);
          ranked.push({ route, rank: raw.rank });
        }
      }
    }
  }
  // Declared routes first, then static files, then handlers that answer everything (stable otherwise).
  const order = new Map(ranked.map((r, i) => [r.route, r.rank * 1e6 + i]));
  routes.sort((a, b) => order.get(a)! - order.get(b)!);
  const entries = [...entryFiles].sort((a, b) => Number(b.src.file === main) - Number(a.src.file === main)).map((m) => m.src);
  return { routes, unresolved, warnings: [...models.values()].flatMap((m) => m.warnings), entries };
}

/** "/api" + "/" + "users/" -> "/api/users"; "" + "/" -> "/". */
export function joinPaths(...parts: string[]): string {
  const joined = parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/');
  return `/${joined}`;
}

function modelFile(src: Source, known: Set<string>, tree: SourceTree): FileModel {
  const m: FileModel = {
    src,
    imports: new Map(),
    apps: new Map(),
    routers: new Map(),
    strings: new Map(),
    mounts: [],
    autoloads: [],
    dynamicMounts: [],
    routes: [],
    createsApp: false,
    warnings: [],
  };
  readImports(m);
  readBindings(m);
  const resolveSpec = (spec: string) => resolveModule(src.file, spec, known);
  readMethodRoutes(m);
  readObjectRoutes(m);
  readComparisons(m);
  readUse(m, resolveSpec, tree);
  readRegister(m, resolveSpec, tree);
  readRouteModules(m, resolveSpec);
  readCallMounts(m, resolveSpec);
  readCreateServer(m);
  readListen(m);
  m.createsApp = m.apps.size > 0 || /\bNestFactory\s*\.\s*create\b/.test(src.bare);
  // axios.get('/health') asks another service: a name such as axios, http or client is an HTTP
  // client unless this file makes it an app or router or mounts it (a plugin's `api` parameter).
  const serves = (name: string) => m.apps.has(name) || m.routers.has(name) || m.mounts.some((mt) => 'local' in mt.target && mt.target.local === name);
  m.routes = m.routes.filter((r) => !(r.receiver && HTTP_CLIENTS.test(r.receiver) && !serves(r.receiver)));
  return m;
}

/** Every match of `re` (global) that starts in code. */
function* codeMatches(src: Source, re: RegExp): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(src.bare); m; m = re.exec(src.bare)) if (isCode(src, m.index)) yield m;
}

/** Skips spaces forward from `i`. */
function skip(code: string, i: number): number {
  while (i < code.length && /\s/.test(code[i]!)) i++;
  return i;
}

/** Skips spaces backward from `i`. */
function skipBack(code: string, i: number): number {
  while (i >= 0 && /\s/.test(code[i]!)) i--;
  return i;
}

function readImports(m: FileModel): void {
  const { src } = m;
  const names = (list: string) =>
    list
      .split(',')
      .map((n) => n.trim().replace(/^type\s+/, ''))
      .filter(Boolean)
      .map((n) =>
        n
          .split(/\s+as\s+|\s*:\s*/)
          .pop()!
          .trim(),
      );
  for (const r of codeMatches(src, /\b(?:const|let|var)\s+(\w+)\s*=\s*require\s*\(\s*(['"])([^'"]+)\2\s*\)/g)) m.imports.set(r[1]!, r[3]!);
  for (const r of codeMatches(src, /\b(?:const|let|var)\s*\{([^}]*)\}\s*=\s*require\s*\(\s*(['"])([^'"]+)\2\s*\)/g))
    for (const n of names(r[1]!)) m.imports.set(n, r[3]!);
  for (const r of codeMatches(src, /\bimport\s+(?!type\b)(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\}|\*\s+as\s+(\w+))?\s*from\s*(['"])([^'"]+)\4/g)) {
    if (r[1]) m.imports.set(r[1], r[5]!);
    if (r[3]) m.imports.set(r[3], r[5]!);
    if (r[2]) for (const n of names(r[2])) m.imports.set(n, r[5]!);
  }
}

/** Which framework a call such as express(), new Koa(), Fastify(), Hapi.server() or express.Router() makes. */
function classify(m: FileModel, callee: string): Framework | 'router' | undefined {
  const [root = '', ...rest] = callee.split('.');
  const member = rest.join('.');
  const mod = (m.imports.get(root) ?? root).replace(/^node:/, '').toLowerCase();
  if (/Router$/.test(callee)) return 'router';
  if (mod === 'express' && !member) return 'express';
  if (mod === 'koa' && !member) return 'koa';
  if (mod === 'fastify' && (!member || member === 'default' || member === 'fastify')) return 'fastify';
  if ((mod === '@hapi/hapi' || mod === 'hapi') && /^(?:server|Server)$/.test(member)) return 'hapi';
  if ((mod === '@nestjs/core' || root === 'NestFactory') && /create$/.test(callee)) return 'nest';
  if (/(?:^|\.)createServer$/.test(callee) && (mod === 'http' || mod === 'https' || root === 'createServer')) return 'http';
  return undefined;
}

function readBindings(m: FileModel): void {
  const { src } = m;
  const bind = (name: string, kind: Framework | 'router' | undefined, open: number) => {
    if (!kind) return;
    const close = closing(src.code, open);
    if (kind === 'router') {
      const prefix = close > 0 ? /\bprefix\s*:\s*(['"`])(\/[^'"`]*)\1/.exec(src.bare.slice(open, close)) : null;
      m.routers.set(name, prefix?.[2] ?? '');
      return;
    }
    m.apps.set(name, kind);
    if (kind === 'hapi' && close > 0) {
      const [options] = items(src.code, open, close);
      if (options && src.code[options[0]] === '{') checkHost(m, entries(src, options[0], closing(src.code, options[0])).get('host'));
    }
  };
  for (const r of codeMatches(src, /\b(?:const|let|var)\s+(\w+)\s*(?::[^=;]+)?=\s*(?:await\s+)?(?:new\s+)?([\w$.]+)\s*(?:<[^;()]*>)?\s*\(/g)) {
    bind(r[1]!, classify(m, r[2]!), r.index + r[0].length - 1);
  }
  // const fastify = require('fastify')({ logger: true })
  for (const r of codeMatches(src, /\b(?:const|let|var)\s+(\w+)\s*=\s*require\s*\(\s*(['"])(fastify|express|koa)\2\s*\)\s*\(/g)) {
    bind(r[1]!, r[3] as Framework, r.index + r[0].length - 1);
  }
  for (const r of codeMatches(src, /\b(\w+)\s*\.\s*prefix\s*\(\s*(['"])(\/[^'"]*)\2\s*\)/g)) if (m.routers.has(r[1]!)) m.routers.set(r[1]!, r[3]!);
  for (const r of codeMatches(src, /\b(?:const|let|var)\s+(\w+)\s*=\s*(['"])(\/[^'"\n]*)\2\s*[;\n]/g)) m.strings.set(r[1]!, r[3]!);
}

/** The receiver of a call at `dot` (the "." before the method name): the nearest plain name in the chain. */
function chainBefore(src: Source, dot: number): { name: string | null; routePath?: string | undefined } {
  const { code } = src;
  let i = skipBack(code, dot - 1);
  let routePath: string | undefined;
  for (let guard = 0; guard < 20 && i >= 0; guard++) {
    if (code[i] === ')') {
      const open = opening(code, i);
      if (open < 0) return { name: null };
      const end = skipBack(code, open - 1);
      let start = end;
      while (start >= 0 && /[\w$]/.test(code[start]!)) start--;
      const callee = code.slice(start + 1, end + 1);
      if (callee === 'route') {
        const [first] = items(code, open, i);
        const value = first ? stringAt(src, first) : undefined;
        if (value !== undefined) routePath = value;
      }
      const before = skipBack(code, start);
      if (code[before] !== '.' || !callee) return { name: null, routePath };
      i = skipBack(code, before - 1);
      continue;
    }
    if (/[\w$]/.test(code[i]!)) {
      let start = i;
      while (start >= 0 && /[\w$]/.test(code[start]!)) start--;
      return { name: code.slice(start + 1, i + 1), routePath };
    }
    return { name: null, routePath };
  }
  return { name: null, routePath };
}

/** `.name(` or `.name<T>(` at `at` (the dot): the index of "(" or -1. */
function callOpen(code: string, afterName: number): number {
  let i = skip(code, afterName);
  if (code[i] === '<') {
    let depth = 0;
    for (; i < code.length; i++) {
      if (code[i] === '<') depth++;
      else if (code[i] === '>' && --depth === 0) break;
      else if (code[i] === ';' || code[i] === '(') return -1;
    }
    i = skip(code, i + 1);
  }
  return code[i] === '(' ? i : -1;
}

interface InlineFunction {
  params: string[];
  body: Range;
}

/** An inline function (arrow or function expression) filling `range`. */
function inlineFunction(src: Source, [s, e]: Range): InlineFunction | undefined {
  const text = src.bare.slice(s, e);
  const { code } = src;
  let params: string[];
  let after: number;
  const fn = /^(?:async\s+)?function\s*\*?\s*\w*\s*\(/.exec(text);
  const arrow = /^(?:async\s*)?\(/.exec(text);
  const single = /^(?:async\s+)?(\w+)\s*=>/.exec(text);
  if (fn || arrow) {
    const open = s + (fn ?? arrow)![0].length - 1;
    const close = closing(code, open);
    if (close < 0 || close >= e) return undefined;
    params = items(code, open, close).map((r) =>
      src.bare
        .slice(r[0], r[1])
        .replace(/[:=].*$/s, '')
        .trim(),
    );
    after = skip(code, close + 1);
    if (!fn) {
      // (a, b): Type => ...
      const arrowAt = code.indexOf('=>', after);
      if (arrowAt < 0 || arrowAt >= e || /[;{}]/.test(code.slice(after, arrowAt).replace(/\{[^}]*\}/g, ''))) return undefined;
      after = skip(code, arrowAt + 2);
    }
  } else if (single) {
    params = [single[1]!];
    after = skip(code, s + single[0].length);
  } else {
    return undefined;
  }
  if (code[after] === '{') {
    const close = closing(code, after);
    return close > 0 && close < e ? { params, body: [after + 1, close] } : undefined;
  }
  if (fn) return undefined;
  return { params, body: [after, e] };
}

/** Does this handler answer every request it gets with a success (a Koa hello world, an SPA fallback)? */
function answersEverything(src: Source, fn: InlineFunction): boolean {
  const body = src.bare.slice(fn.body[0], fn.body[1]);
  const [first, second] = fn.params;
  if (!first || fn.params.length > 3) return false; // four parameters: an Express error handler
  if (/\.status\s*\(\s*[45]\d\d|sendStatus\s*\(\s*[45]|statusCode\s*=\s*[45]|writeHead\s*\(\s*[45]|\.status\s*=\s*[45]|\bthrow\b|createError\s*\(/.test(body))
    return false;
  const esc = (n: string) => n.replace(/\$/g, '\\$');
  const looksAtRequest = (name: string) => new RegExp(`\\b${esc(name)}\\s*\\.\\s*(?:path|url|method|originalUrl|baseUrl|params|request|query)\\b`).test(body);
  // Koa: (ctx, next) => { ctx.body = ... }
  if (new RegExp(`\\b${esc(first)}\\s*\\.\\s*body\\s*=[^=]`).test(body)) return !looksAtRequest(first);
  // Express / node:http: (req, res) => res.send(...)
  if (second && new RegExp(`\\b${esc(second)}\\s*\\.\\s*(?:send|json|end|render|sendFile|write|redirect)\\s*\\(`).test(body)) {
    return !looksAtRequest(first) && !/\bnext\s*\(/.test(body);
  }
  return false;
}

function readMethodRoutes(m: FileModel): void {
  const { src } = m;
  for (const r of codeMatches(src, /\.\s*(get|all)\b/g)) {
    const open = callOpen(src.code, r.index + r[0].length);
    if (open < 0) continue;
    const close = closing(src.code, open);
    if (close < 0) continue;
    const args = items(src.code, open, close);
    const chain = chainBefore(src, r.index);
    let paths: string[] | undefined;
    let handler: Range | undefined;
    let how: string;
    if (chain.routePath !== undefined) {
      paths = [chain.routePath];
      handler = args[args.length - 1];
      how = `${chain.name ?? ''}.route('${chain.routePath}').${r[1]}()`;
    } else {
      if (args.length < 2) continue;
      paths = stringsAt(src, args[0]!);
      handler = args[args.length - 1];
      how = `${chain.name ?? ''}.${r[1]}(${snippet(src, args[0]!)})`;
    }
    if (!paths) continue;
    const kept: string[] = [];
    for (const p of paths) {
      if (WILDCARD.test(p)) {
        // A catch-all route serves / only when its handler visibly answers with a success.
        const fn = handler ? inlineFunction(src, handler) : undefined;
        if (fn && answersEverything(src, fn)) kept.push('/*');
      } else if (p.startsWith('/')) {
        kept.push(p);
      }
    }
    if (kept.length > 0) m.routes.push({ scope: 'receiver', receiver: chain.name, paths: kept, line: lineOf(src, r.index + 1), how, rank: 0 });
  }
}

/** Route objects: { method: 'GET', path: '/health', handler } (Hapi) and { method, url, handler } (Fastify). */
function readObjectRoutes(m: FileModel): void {
  const { src } = m;
  const seen = new Set<number>();
  for (const r of codeMatches(src, /\bmethod\s*:/g)) {
    const open = enclosing(src.code, r.index);
    if (open < 0 || src.code[open] !== '{' || seen.has(open)) continue;
    seen.add(open);
    const close = closing(src.code, open);
    if (close < 0) continue;
    const fields = entries(src, open, close);
    const methods = fields.get('method') ? stringsAt(src, fields.get('method')!) : undefined;
    const pathRange = fields.get('path') ?? fields.get('url');
    const routePath = pathRange ? stringAt(src, pathRange) : undefined;
    if (!methods || routePath === undefined || !/\bhandler\b/.test(src.bare.slice(open, close))) continue;
    if (!methods.some((x) => x.toUpperCase() === 'GET' || x === '*')) continue;
    // Inside server.route(...) / fastify.route(...) (directly or in an array): relative to that receiver.
    let receiver: string | null = null;
    let at = enclosing(src.code, open);
    if (at >= 0 && src.code[at] === '[') at = enclosing(src.code, at);
    if (at >= 0 && src.code[at] === '(') {
      const end = skipBack(src.code, at - 1);
      if (src.code.slice(end - 4, end + 1) === 'route') {
        const dot = skipBack(src.code, end - 5);
        if (src.code[dot] === '.') receiver = chainBefore(src, dot).name;
      }
    }
    const key = fields.has('path') ? 'path' : 'url';
    const methodText = snippet(src, fields.get('method')!, 24);
    const p = WILDCARD.test(routePath) ? '/*' : routePath;
    if (!p.startsWith('/')) continue;
    m.routes.push({
      scope: 'receiver',
      receiver,
      paths: [p],
      line: lineOf(src, open),
      how: `${receiver ?? ''}${receiver ? '.' : ''}route({ method: ${methodText}, ${key}: '${routePath}' })`,
      rank: 0,
    });
  }
}

/** node:http servers: url === '/healthz', pathname !== '/health', switch (req.url) { case '/health': }. */
function readComparisons(m: FileModel): void {
  const { src } = m;
  // Only in a file that makes a plain server: elsewhere `req.path === '/'` is a middleware's test.
  if (!/\bcreateServer\s*\(/.test(src.bare)) return;
  const push = (p: string, at: number, how: string) => {
    if (p.startsWith('/')) m.routes.push({ scope: 'receiver', receiver: null, paths: [p], line: lineOf(src, at), how, rank: 1 });
  };
  for (const r of codeMatches(src, /([\w$.]*\b(?:pathname|path|url|originalUrl))\s*(?:===?|!==?)\s*(?=['"`])/g)) {
    const q = r.index + r[0].length;
    const end = stringEnd(src, q);
    const value = end > 0 ? stringAt(src, [q, end]) : undefined;
    if (value !== undefined) push(value, r.index, `${r[0]}${src.bare.slice(q, end)}`);
  }
  for (const r of codeMatches(src, /(['"`])(\/[^'"`\n]*)\1\s*(?:===?|!==?)\s*[\w$.]*\b(?:pathname|path|url|originalUrl)\b/g)) push(r[2]!, r.index, r[0]);
  if (/\bswitch\s*\(\s*[\w$.]*\b(?:pathname|path|url)\b/.test(src.bare)) {
    for (const r of codeMatches(src, /\bcase\s+(['"`])(\/[^'"`\n]*)\1\s*:/g)) push(r[2]!, r.index, `case '${r[2]}'`);
  }
}

/** The end of the string literal starting at `q`, or -1. */
function stringEnd(src: Source, q: number): number {
  const quote = src.bare[q];
  for (let i = q + 1; i < src.bare.length && src.bare[i] !== '\n'; i++) {
    if (src.bare[i] === '\\') i++;
    else if (src.bare[i] === quote) return i + 1;
  }
  return -1;
}

/** A directory expression: 'public', path.join(__dirname, 'public'), __dirname + '/public'. Repo-relative. */
function dirOf(src: Source, range: Range): string | undefined {
  const literal = stringAt(src, range);
  if (literal !== undefined) return path.posix.normalize(literal.replace(/^\.\//, ''));
  const text = src.bare.slice(range[0], range[1]);
  const here = path.posix.dirname(src.file);
  const joined = /^(?:path\s*\.\s*)?(?:join|resolve)\s*\(\s*(__dirname|import\.meta\.dirname)\s*,([^()]*)\)$/.exec(text);
  if (joined) {
    const parts = [...joined[2]!.matchAll(/(['"])([^'"]*)\1/g)].map((p) => p[2]!);
    return path.posix.normalize(path.posix.join(here, ...parts));
  }
  const plus = /^__dirname\s*\+\s*(['"])([^'"]*)\1$/.exec(text);
  if (plus) return path.posix.normalize(path.posix.join(here, plus[2]!));
  return undefined;
}

function staticRoute(m: FileModel, tree: SourceTree, receiver: string | null, prefix: string, dirRange: Range, line: number, how: string): void {
  const dir = dirOf(m.src, dirRange);
  if (dir === undefined || dir.startsWith('..')) return;
  const index = dir === '.' ? 'index.html' : `${dir}/index.html`;
  if (tree.read(index) === undefined) return;
  m.routes.push({ scope: 'receiver', receiver, paths: [joinPaths(prefix, '/')], line, how: `${how} serves ${index}`, rank: 2 });
}

/** A mount target: a name, name.routes(), require('./x') or import('./x'). */
function targetOf(m: FileModel, range: Range, resolveSpec: (spec: string) => string | undefined): Target | 'dynamic' | undefined {
  const text = m.src.bare.slice(range[0], range[1]);
  const name = /^([\w$]+)(?:\s*\.\s*(?:routes|middleware)\s*\(\s*\))?$/.exec(text);
  if (name) {
    const spec = m.imports.get(name[1]!);
    if (spec?.startsWith('.')) {
      const file = resolveSpec(spec);
      return file ? { file } : undefined;
    }
    return { local: name[1]! };
  }
  const req = /^(?:require|import)\s*\(\s*(['"])(\.[^'"]+)\1\s*\)(?:\s*\.\s*\w+(?:\s*\(\s*\))?)?$/.exec(text);
  if (req) {
    const file = resolveSpec(req[2]!);
    return file ? { file } : undefined;
  }
  if (/\b(?:require|import)\s*\(/.test(text)) return 'dynamic';
  return undefined;
}

function readUse(m: FileModel, resolveSpec: (spec: string) => string | undefined, tree: SourceTree): void {
  const { src } = m;
  for (const r of codeMatches(src, /\.\s*use\s*\(/g)) {
    const open = r.index + r[0].length - 1;
    const close = closing(src.code, open);
    if (close < 0) continue;
    const args = items(src.code, open, close);
    if (args.length === 0) continue;
    const receiver = chainBefore(src, r.index).name;
    const line = lineOf(src, r.index + 1);
    const first = args[0]!;
    const literal = stringAt(src, first) ?? m.strings.get(src.bare.slice(first[0], first[1]));
    let prefix: string | null = '';
    let targets = args;
    if (literal?.startsWith('/')) {
      prefix = literal;
      targets = args.slice(1);
    } else if (args.length > 1 && /['"`]/.test(src.bare.slice(first[0], first[1])) && !/^[\w$.]+\s*\(/.test(src.bare.slice(first[0], first[1]))) {
      // app.use('/' + name, ...): a prefix made at run time
      prefix = null;
      targets = args.slice(1);
    }
    for (const t of targets) {
      const text = src.bare.slice(t[0], t[1]);
      const fn = inlineFunction(src, t);
      if (fn) {
        if (prefix !== null && answersEverything(src, fn)) {
          m.routes.push({
            scope: 'receiver',
            receiver,
            paths: [joinPaths(prefix, '/*')],
            line,
            how: `${receiver ?? ''}.use(${snippet(src, t, 40)}), which answers every path`,
            rank: 3,
          });
        }
        continue;
      }
      const staticCall = /^([\w$.]+)\s*\(/.exec(text);
      if (staticCall && prefix !== null) {
        const callee = staticCall[1]!;
        const mod = m.imports.get(callee.split('.')[0]!);
        if (callee === 'express.static' || mod === 'serve-static' || mod === 'koa-static' || (mod === 'express' && callee.endsWith('.static'))) {
          const callOpenAt = t[0] + staticCall[0].length - 1;
          const dirArg = items(src.code, callOpenAt, closing(src.code, callOpenAt))[0];
          if (dirArg) staticRoute(m, tree, receiver, prefix, dirArg, line, `${callee}(${snippet(src, dirArg, 40)})`);
          continue;
        }
      }
      const target = targetOf(m, t, resolveSpec);
      if (target === 'dynamic') m.dynamicMounts.push(`${src.file}:${line}: ${snippet(src, [r.index - (receiver?.length ?? 0), close + 1], 72)}`);
      else if (target) m.mounts.push({ receiver, prefix, target, line });
    }
  }
}

/** fastify.register(plugin, { prefix }), @fastify/autoload and @fastify/static. */
function readRegister(m: FileModel, resolveSpec: (spec: string) => string | undefined, tree: SourceTree): void {
  const { src } = m;
  for (const r of codeMatches(src, /\.\s*register\s*\(/g)) {
    const open = r.index + r[0].length - 1;
    const close = closing(src.code, open);
    if (close < 0) continue;
    const [plugin, optionsRange] = items(src.code, open, close);
    if (!plugin) continue;
    const receiver = chainBefore(src, r.index).name;
    const line = lineOf(src, r.index + 1);
    const options =
      optionsRange && src.code[optionsRange[0]] === '{' ? entries(src, optionsRange[0], closing(src.code, optionsRange[0])) : new Map<string, Range>();
    // fastify: { prefix: '/v1' }; hapi: { routes: { prefix: '/v1' } }
    const hapiRoutes = options.get('routes');
    const prefixRange =
      options.get('prefix') ??
      (hapiRoutes && src.code[hapiRoutes[0]] === '{' ? entries(src, hapiRoutes[0], closing(src.code, hapiRoutes[0])).get('prefix') : undefined);
    const prefix = prefixRange ? (stringAt(src, prefixRange) ?? null) : '';
    const pluginName = src.bare.slice(plugin[0], plugin[1]);
    const mod = m.imports.get(pluginName) ?? /^require\s*\(\s*['"]([^'"]+)['"]\s*\)$/.exec(pluginName)?.[1];
    if (mod === '@fastify/autoload' || mod === 'fastify-autoload') {
      const dirRange = options.get('dir');
      const dir = dirRange ? dirOf(src, dirRange) : undefined;
      if (!dir) continue;
      const inner = options.get('options');
      let innerPrefix = '';
      if (inner && src.code[inner[0]] === '{') {
        const p = entries(src, inner[0], closing(src.code, inner[0])).get('prefix');
        innerPrefix = p ? (stringAt(src, p) ?? '') : '';
      }
      const dirNames = options.get('dirNameRoutePrefix');
      m.autoloads.push({ receiver, dir, prefix: innerPrefix, dirNames: !(dirNames && src.bare.slice(dirNames[0], dirNames[1]).trim() === 'false'), line });
      continue;
    }
    if (mod === '@fastify/static' || mod === 'fastify-static') {
      const root = options.get('root');
      if (root && prefix !== null) staticRoute(m, tree, receiver, prefix, root, line, `register(${pluginName}, { root: ${snippet(src, root, 40)} })`);
      continue;
    }
    const fn = inlineFunction(src, plugin);
    if (fn) {
      if (fn.params[0]) m.mounts.push({ receiver, prefix, target: { local: fn.params[0] }, line });
      continue;
    }
    const target = targetOf(m, plugin, resolveSpec);
    if (target === 'dynamic') m.dynamicMounts.push(`${src.file}:${line}: ${snippet(src, [r.index, close + 1], 72)}`);
    else if (target) m.mounts.push({ receiver, prefix, target, line });
  }
}

/** server.route(require('./routes')) or server.route(routes): Hapi routes kept in another module. */
function readRouteModules(m: FileModel, resolveSpec: (spec: string) => string | undefined): void {
  const { src } = m;
  for (const r of codeMatches(src, /\.\s*route\s*\(/g)) {
    const open = r.index + r[0].length - 1;
    const close = closing(src.code, open);
    const [arg] = close > 0 ? items(src.code, open, close) : [];
    if (!arg || src.code[arg[0]] === '{' || src.code[arg[0]] === '[' || stringAt(src, arg) !== undefined) continue;
    const target = targetOf(m, arg, resolveSpec);
    if (target && target !== 'dynamic' && 'file' in target)
      m.mounts.push({ receiver: chainBefore(src, r.index).name, prefix: '', target, line: lineOf(src, r.index + 1) });
  }
}

/** require('./routes')(app) or routes(app): a module that adds its routes to the app it is given. */
function readCallMounts(m: FileModel, resolveSpec: (spec: string) => string | undefined): void {
  const { src } = m;
  const isApp = (name: string) => m.apps.has(name) || m.routers.has(name) || /^(?:app|server|router|fastify|api)$/.test(name);
  for (const r of codeMatches(src, /\b([\w$]+)\s*\(\s*([\w$]+)\s*[,)]/g)) {
    const spec = m.imports.get(r[1]!);
    if (!spec?.startsWith('.') || !isApp(r[2]!)) continue;
    const file = resolveSpec(spec);
    if (file) m.mounts.push({ receiver: r[2]!, prefix: '', target: { file }, line: lineOf(src, r.index) });
  }
  for (const r of codeMatches(src, /\brequire\s*\(\s*(['"])(\.[^'"]+)\1\s*\)\s*\(\s*([\w$]+)\s*[,)]/g)) {
    const file = resolveSpec(r[2]!);
    if (file && isApp(r[3]!)) m.mounts.push({ receiver: r[3]!, prefix: '', target: { file }, line: lineOf(src, r.index) });
  }
}

/** http.createServer((req, res) => res.end('hi')): a server that answers every path. */
function readCreateServer(m: FileModel): void {
  const { src } = m;
  for (const r of codeMatches(src, /\bcreateServer\s*\(/g)) {
    m.apps.set(`createServer@${r.index}`, 'http');
    const open = r.index + r[0].length - 1;
    const close = closing(src.code, open);
    if (close < 0) continue;
    for (const arg of items(src.code, open, close)) {
      const fn = inlineFunction(src, arg);
      if (fn && answersEverything(src, fn)) {
        m.routes.push({
          scope: 'absolute',
          receiver: null,
          paths: ['/*'],
          line: lineOf(src, r.index),
          how: `createServer(${snippet(src, arg, 40)}), which answers every path`,
          rank: 3,
        });
      }
    }
  }
}

/** A server bound to localhost cannot be reached by a probe or the Service: the pod's IP is not localhost. */
function checkHost(m: FileModel, range: Range | undefined): boolean {
  if (!range) return false;
  const host = stringAt(m.src, range);
  if (host !== undefined && LOCALHOST.has(host)) {
    m.warnings.push(
      `${m.src.file}:${lineOf(m.src, range[0])}: listens on host '${host}': inside a pod nothing else can reach it, so the probes and the Service fail; listen on '0.0.0.0'`,
    );
  }
  return true;
}

function readListen(m: FileModel): void {
  const { src } = m;
  for (const r of codeMatches(src, /\.\s*listen\s*\(/g)) {
    const open = r.index + r[0].length - 1;
    const close = closing(src.code, open);
    if (close < 0) continue;
    const args = items(src.code, open, close);
    let hostGiven = false;
    for (const arg of args) {
      if (src.code[arg[0]] === '{') hostGiven = checkHost(m, entries(src, arg[0], closing(src.code, arg[0])).get('host')) || hostGiven;
      else if (stringAt(src, arg) !== undefined) hostGiven = checkHost(m, arg) || hostGiven;
    }
    const receiver = chainBefore(src, r.index).name;
    if (receiver && m.apps.get(receiver) === 'fastify' && !hostGiven) {
      m.warnings.push(
        `${src.file}:${lineOf(src, r.index + 1)}: fastify listens on localhost when listen() is given no host: inside a pod nothing else can reach it, so the probes and the Service fail; pass host: '0.0.0.0'`,
      );
    }
  }
}

/** NestJS: @Controller(prefix) classes and their @Get(path) / @All(path) methods. */
function addNestRoutes(models: FileModel[]): void {
  const all = models.map((m) => m.src);
  let globalPrefix: string | null = '';
  let why: string | undefined;
  for (const src of all) {
    for (const r of codeMatches(src, /\.\s*setGlobalPrefix\s*\(/g)) {
      const open = r.index + r[0].length - 1;
      const [arg] = items(src.code, open, closing(src.code, open));
      const value = arg ? stringAt(src, arg) : undefined;
      globalPrefix = value ?? null;
      if (value === undefined) why = `the global prefix (${src.file}:${lineOf(src, r.index)}) is made at run time`;
    }
    for (const r of codeMatches(src, /\bRouterModule\b/g)) why ??= `RouterModule (${src.file}:${lineOf(src, r.index)}) may put it under another path`;
    for (const r of codeMatches(src, /\.\s*enableVersioning\s*\(/g)) why ??= `versioning (${src.file}:${lineOf(src, r.index)}) may put it under a version path`;
  }
  const listed = all.map((s) => [...s.bare.matchAll(/\bcontrollers\s*:\s*\[([^\]]*)\]/g)].map((x) => x[1]!).join(',')).join(',');
  for (const model of models) {
    const { src } = model;
    const controllers: { at: number; prefixes: string[]; text: string; name: string | undefined }[] = [];
    for (const r of codeMatches(src, /@Controller\s*\(/g)) {
      const open = r.index + r[0].length - 1;
      const close = closing(src.code, open);
      if (close < 0) continue;
      const [arg] = items(src.code, open, close);
      let prefixes: string[] | undefined = [''];
      if (arg) {
        prefixes =
          src.code[arg[0]] === '{' ? ((p) => (p ? stringsAt(src, p) : ['']))(entries(src, arg[0], closing(src.code, arg[0])).get('path')) : stringsAt(src, arg);
      }
      const name = /class\s+(\w+)/.exec(src.bare.slice(close, close + 600))?.[1];
      if (prefixes) controllers.push({ at: r.index, prefixes, text: src.bare.slice(r.index, close + 1).replace(/\s+/g, ' '), name });
    }
    if (controllers.length === 0) continue;
    for (const r of codeMatches(src, /@(Get|All)\s*\(/g)) {
      const controller = [...controllers].reverse().find((c) => c.at < r.index);
      if (!controller) continue;
      const open = r.index + r[0].length - 1;
      const close = closing(src.code, open);
      if (close < 0) continue;
      const [arg] = items(src.code, open, close);
      const subs = arg ? stringsAt(src, arg) : [''];
      if (!subs) continue;
      const paths = controller.prefixes.flatMap((p) => subs.map((s) => joinPaths(globalPrefix ?? '', p, s)));
      const unlisted =
        controller.name && !new RegExp(`\\b${controller.name}\\b`).test(listed) ? `no module lists ${controller.name} in its controllers` : undefined;
      const reason = why ?? unlisted;
      model.routes.push({
        scope: 'absolute',
        receiver: null,
        paths: reason ? controller.prefixes.flatMap((p) => subs.map((s) => joinPaths(p, s))) : paths,
        line: lineOf(src, r.index),
        how: `${controller.text} ${src.bare.slice(r.index, close + 1).replace(/\s+/g, ' ')}`,
        rank: 0,
        ...(reason ? { why: reason } : {}),
      });
    }
  }
}

interface Placement {
  prefix: string;
  /** How the file got its prefix, for the user ("mounted at /users by app.js:22"); empty when local. */
  via: string;
}

function prefixResolver(models: Map<string, FileModel>, entries: Set<string>) {
  const memo = new Map<string, Placement | null>();
  const visiting = new Set<string>();

  function ofFile(file: string): Placement | null {
    const key = `file:${file}`;
    if (memo.has(key)) return memo.get(key)!;
    if (entries.has(file)) return { prefix: '', via: '' };
    if (visiting.has(key)) return null;
    visiting.add(key);
    let found: Placement | null = null;
    for (const other of models.values()) {
      for (const mount of other.mounts) {
        if (found || !('file' in mount.target) || mount.target.file !== file || mount.prefix === null) continue;
        const outer = mount.receiver ? ofReceiver(other.src.file, mount.receiver) : ofFile(other.src.file);
        if (outer) {
          const prefix = joinPaths(outer.prefix, mount.prefix);
          found = { prefix, via: `mounted at ${prefix} by ${other.src.file}:${mount.line}` };
        }
      }
      for (const auto of other.autoloads) {
        if (found || !file.startsWith(`${auto.dir}/`)) continue;
        const outer = auto.receiver ? ofReceiver(other.src.file, auto.receiver) : ofFile(other.src.file);
        if (!outer) continue;
        const sub = path.posix.dirname(file.slice(auto.dir.length + 1));
        const prefix = joinPaths(outer.prefix, auto.prefix, auto.dirNames && sub !== '.' ? sub : '');
        found = { prefix, via: `loaded at ${prefix} by @fastify/autoload in ${other.src.file}:${auto.line}` };
      }
    }
    visiting.delete(key);
    memo.set(key, found);
    return found;
  }

  function ofReceiver(file: string, receiver: string): Placement | null {
    const key = `recv:${file}:${receiver}`;
    if (memo.has(key)) return memo.get(key)!;
    if (visiting.has(key)) return null;
    const model = models.get(file);
    if (!model) return null;
    visiting.add(key);
    const own = model.routers.get(receiver) ?? '';
    let found: Placement | null = null;
    const local = model.mounts.find((mt) => 'local' in mt.target && mt.target.local === receiver && mt.receiver !== receiver);
    if (local) {
      const outer = local.prefix === null ? null : local.receiver ? ofReceiver(file, local.receiver) : ofFile(file);
      if (outer && local.prefix !== null) found = { prefix: joinPaths(outer.prefix, local.prefix, own), via: outer.via };
    } else if (model.apps.has(receiver)) {
      found = { prefix: joinPaths(own), via: '' };
    } else if (model.routers.has(receiver)) {
      // A router made here and not mounted here: it is what the file exports, so it sits where
      // the file is mounted; in the app's own file that is nowhere gantry init can see.
      const outer = entries.has(file) ? null : ofFile(file);
      if (outer) found = { prefix: joinPaths(outer.prefix, own), via: outer.via };
    } else {
      found = ofFile(file);
    }
    visiting.delete(key);
    memo.set(key, found);
    return found;
  }

  return { ofFile, ofReceiver };
}

/** './routes/users' from src/app.js -> src/routes/users.js (or .ts, /index.js, a .js import of a .ts file). */
export function resolveModule(from: string, spec: string, known: Set<string>): string | undefined {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const stem = base.replace(/\.(?:[cm]?js)$/, '');
  const candidates = [base, ...['.js', '.ts', '.mjs', '.cjs', '.mts', '.cts'].flatMap((ext) => [`${stem}${ext}`, `${base}/index${ext}`])];
  return candidates.find((c) => known.has(c));
}
