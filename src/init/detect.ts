// What `gantry init` reads from a repository: the app name, the port it listens on, the probe
// that will pass (its health route, else / when the app serves it, else a TCP check of the
// port) and whether it has a frontend to publish. Pure over ProjectFacts, so every rule is
// unit-tested without a file system; readProjectFacts does the reading. Nothing is run.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { dns1035Label } from '../names/names.js';
import { scanRoutes, type FoundRoute, type UnresolvedRoute } from './routes.js';
import type { Source } from './source.js';

export interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  /** Prisma's settings: schema is where its schema file is when not prisma/schema.prisma. */
  prisma?: { schema?: unknown };
}

export interface ProjectFacts {
  /** The directory's base name: the app name when package.json has none. */
  dirName: string;
  pkg: PackageJson;
  /** Text of a file relative to the repository, undefined when absent (only small text files). */
  read(file: string): string | undefined;
  isDir(dir: string): boolean;
  /** Every file of the repository, relative and "/"-separated (node_modules and hidden directories left out). */
  list(): string[];
}

export interface Detected<T> {
  value: T;
  /** Where it came from, for the user: "package.json name", "server.js: process.env.PORT || 3000", "default". */
  source: string;
}

export interface FrontendDetection {
  /** frontend.build, e.g. npm run build (undefined: publish dir as it is). */
  build: string | undefined;
  dir: string;
  source: string;
}

export interface ProbeDetection {
  /** The path the readiness and liveness probes GET; null: they check that the port accepts TCP connections. */
  path: string | null;
  /** What was found, for the user: "no health route found; GET / is served by routes/index.js:5 (...)". */
  found: string;
  /** The GET routes found, with their full paths. */
  routes: FoundRoute[];
  /** Routes whose full path static reading could not work out: never used for a probe. */
  unresolved: UnresolvedRoute[];
}

export interface ProjectDetection {
  app: Detected<string>;
  port: Detected<number>;
  probe: ProbeDetection;
  /** The file the backend starts from, when found. */
  main: string | undefined;
  frontend: FrontendDetection | undefined;
  /** Problems no probe can get round, e.g. a server that listens on localhost. */
  warnings: string[];
}

/** Bundlers whose presence makes a build script a frontend build (a plain `tsc` build is not one). */
export const FRONTEND_BUNDLERS = [
  'vite',
  'webpack',
  'webpack-cli',
  '@vue/cli-service',
  'react-scripts',
  'parcel',
  '@angular/cli',
  '@rsbuild/core',
  'rspack',
  '@rspack/cli',
];
const BUILD_SCRIPTS = ['build', 'build:frontend', 'build:web', 'build:client', 'build-frontend'];
const START_SCRIPTS = ['start', 'serve', 'start:prod', 'dev'];
const MAIN_CANDIDATES = [
  'server.js',
  'index.js',
  'app.js',
  'main.js',
  'server.mjs',
  'index.mjs',
  'src/server.js',
  'src/index.js',
  'src/app.js',
  'src/main.js',
  'src/server.ts',
  'src/index.ts',
  'src/app.ts',
  'src/main.ts',
];

export function detectProject(facts: ProjectFacts): ProjectDetection {
  const main = mainFile(facts);
  const scan = scanRoutes(facts, main);
  return {
    app: detectApp(facts),
    port: detectPort(facts, scan.entries),
    probe: chooseProbe(scan.routes, scan.unresolved),
    main,
    frontend: detectFrontend(facts),
    warnings: scan.warnings,
  };
}

export function detectApp(facts: Pick<ProjectFacts, 'pkg' | 'dirName'>): Detected<string> {
  const name = facts.pkg.name?.trim();
  // "@acme/shop-api" names the app shop-api: the scope is the npm organisation, not the app.
  if (name) return { value: dns1035Label(name.replace(/^@[^/]+\//, '')), source: `package.json name "${name}"` };
  return { value: dns1035Label(facts.dirName), source: `directory name "${facts.dirName}"` };
}

/**
 * The file the app starts from: the file the start script runs (`node ./bin/www`, `fastify start
 * app.js`; a build output such as dist/main.js maps back to src/main.ts), package.json main,
 * else a usual name.
 */
export function mainFile(facts: Pick<ProjectFacts, 'pkg' | 'read'>): string | undefined {
  const candidates: string[] = [];
  for (const script of START_SCRIPTS) {
    for (const command of (facts.pkg.scripts?.[script] ?? '').split(/&&|\|\||;/)) {
      const words = command.trim().split(/\s+/);
      const runner = words.findIndex((w, i) => /^(?:node|nodemon|tsx|ts-node|ts-node-dev)$/.test(w) || (w === 'start' && words[i - 1] === 'fastify'));
      if (runner < 0) continue;
      const args = words.slice(runner + 1).filter((w) => !w.startsWith('-') && !w.includes('='));
      const file = args.find((w) => /\.(?:[cm]?js|[cm]?ts)$/.test(w)) ?? args[args.length - 1];
      if (file) candidates.push(...sourcesFor(file));
    }
  }
  if (facts.pkg.main) candidates.push(...sourcesFor(facts.pkg.main));
  candidates.push(...MAIN_CANDIDATES);
  return candidates.map((c) => path.posix.normalize(c.replace(/\\/g, '/'))).find((c) => !c.startsWith('..') && facts.read(c) !== undefined);
}

/** A file a script runs, and the sources it is built from when it is a build output. */
function sourcesFor(file: string): string[] {
  const f = path.posix.normalize(file.replace(/\\/g, '/'));
  const out = [f, `${f}.js`];
  const built = /^(?:dist|build|out|lib)\/(.+?)(?:\.[cm]?js)?$/.exec(f);
  if (built) out.push(`src/${built[1]}.ts`, `${built[1]}.ts`, `src/${built[1]}.js`);
  return out;
}

const validPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

const PORT_PATTERNS = [
  // process.env.PORT || 3000, process.env.PORT ?? '8080', Number(process.env.PORT) || 3000
  /process\.env\.PORT\s*\)?\s*(?:\|\||\?\?)\s*['"`]?(\d{1,5})\b['"`]?/,
  /process\.env\[['"]PORT['"]\]\s*\)?\s*(?:\|\||\?\?)\s*['"`]?(\d{1,5})\b['"`]?/,
  // app.listen(3000), server.listen(8080, ...)
  /\.listen\(\s*(\d{1,5})\s*[,)]/,
  // fastify.listen({ port: 3000, host }), Hapi.server({ port: 3000 })
  /\.listen\(\s*\{[^}]*?\bport\s*:\s*(\d{1,5})\b/,
  /\b[Ss]erver\s*\(\s*\{[^}]*?\bport\s*:\s*(\d{1,5})\b/,
  // const port = 3000 / const PORT = 8080
  /\b(?:const|let|var)\s+port\s*=\s*(\d{1,5})\b/i,
];

/**
 * The port: PORT=... or --port in the start script, else a PORT default or listen(<port>) in the
 * main file, then in the other files that create the app, else .env, else fastify-cli's and
 * Gantry's default 3000.
 */
export function detectPort(facts: Pick<ProjectFacts, 'pkg' | 'read'>, entries: Source[]): Detected<number> {
  for (const script of START_SCRIPTS) {
    const text = facts.pkg.scripts?.[script];
    if (!text) continue;
    const m = /(?:^|\s)PORT=(\d{1,5})\b/.exec(text) ?? /(?:^|\s)(?:--port[= ]|-p\s+)(\d{1,5})\b/.exec(text);
    if (m && validPort(Number(m[1]))) return { value: Number(m[1]), source: `package.json scripts.${script}: ${m[0].trim()}` };
  }
  for (const source of entries) {
    for (const re of PORT_PATTERNS) {
      // Comments are blanked: a commented-out listen(9999) is not the port.
      const m = re.exec(source.bare);
      if (m && validPort(Number(m[1]))) return { value: Number(m[1]), source: `${source.file}: ${m[0].replace(/\s+/g, ' ').trim()}` };
    }
  }
  const dotenv = facts.read('.env');
  const m = dotenv ? /^\s*PORT\s*=\s*['"]?(\d{1,5})\b/m.exec(dotenv) : null;
  if (m && validPort(Number(m[1]))) return { value: Number(m[1]), source: `.env: PORT=${m[1]}` };
  const fastifyStart = START_SCRIPTS.find((s) => /\bfastify\s+start\b/.test(facts.pkg.scripts?.[s] ?? ''));
  if (fastifyStart) return { value: 3000, source: `package.json scripts.${fastifyStart}: fastify start listens on PORT, else 3000` };
  return { value: 3000, source: 'default (no PORT default or listen(<port>) found)' };
}

/** The names a health route goes by, best first: one path serves both readiness and liveness. */
const HEALTH_NAMES = ['healthz', 'health', 'healthcheck', 'health-check', 'livez', 'readyz', 'ping', 'status'];

/**
 * The probe that will pass: a health route when there is one, else / when the app serves it,
 * else none to GET (the probes then check that the port accepts TCP connections).
 */
export function chooseProbe(routes: FoundRoute[], unresolved: UnresolvedRoute[]): ProbeDetection {
  const where = (r: FoundRoute) => `${r.file}:${r.line} (${r.how})`;
  const health = routes
    .map((r, i) => ({ r, i, name: HEALTH_NAMES.indexOf(r.path.split('/').pop() ?? '') }))
    .filter(({ r, name }) => name >= 0 && !/[:{*(]/.test(r.path))
    .sort((a, b) => a.name - b.name || a.r.path.split('/').length - b.r.path.split('/').length || a.i - b.i)[0]?.r;
  if (health) return { path: health.path, found: `GET ${health.path} is served by ${where(health)}`, routes, unresolved };
  const root = routes.find((r) => r.path === '/' || r.path === '/*');
  if (root) return { path: '/', found: `no health route found; GET / is served by ${where(root)}`, routes, unresolved };
  const paths = [...new Set(routes.map((r) => r.path))];
  const shown = paths.length === 0 ? 'no GET routes found' : `GET routes found: ${paths.slice(0, 6).join(', ')}${paths.length > 6 ? ', ...' : ''}`;
  return { path: null, found: `no health route found and nothing answers GET / (${shown})`, routes, unresolved };
}

/** What `gantry init` says about the probe it chose. */
export function probeLine(probe: ProbeDetection, port: number): string {
  return probe.path === null
    ? `${probe.found}: readiness and liveness probes check that port ${port} accepts TCP connections`
    : `${probe.found}: readiness and liveness probes on ${probe.path}`;
}

export function detectFrontend(facts: Pick<ProjectFacts, 'pkg' | 'read' | 'isDir'>): FrontendDetection | undefined {
  const scripts = facts.pkg.scripts ?? {};
  const deps = { ...facts.pkg.dependencies, ...facts.pkg.devDependencies };
  const bundler = FRONTEND_BUNDLERS.find((b) => b in deps);
  if (bundler) {
    const script = BUILD_SCRIPTS.find((s) => scripts[s]);
    if (script) {
      return {
        build: `npm run ${script}`,
        dir: bundler === 'react-scripts' ? 'build' : 'dist',
        source: `package.json scripts.${script} and the ${bundler} dependency`,
      };
    }
  }
  if (facts.isDir('frontend')) {
    // A root script that builds frontend/ (npm run build:frontend) wins over frontend's own package.json.
    const script = Object.keys(scripts).find((s) => /^build[:-]/.test(s) && /\bfrontend\b/.test(`${s} ${scripts[s]}`));
    if (script) return { build: `npm run ${script}`, dir: 'frontend/dist', source: `the frontend/ directory and package.json scripts.${script}` };
    const inner = facts.read('frontend/package.json');
    if (inner) {
      let innerScripts: Record<string, string> = {};
      try {
        innerScripts = (JSON.parse(inner) as PackageJson).scripts ?? {};
      } catch {
        // an unreadable frontend/package.json: treated as one without scripts
      }
      if (innerScripts.build)
        return { build: 'npm --prefix frontend ci && npm --prefix frontend run build', dir: 'frontend/dist', source: 'frontend/package.json scripts.build' };
    }
    return { build: undefined, dir: 'frontend', source: 'the frontend/ directory (no build script: published as it is)' };
  }
  return undefined;
}

/** Directories never listed: dependencies, VCS and tool state, build output. */
const UNLISTED_DIRS = new Set(['node_modules', 'dist', 'build', 'out', 'coverage', 'bower_components', 'vendor']);
const MAX_LISTED = 5000;

/** Reads what detectProject needs from `dir`; undefined when there is no package.json. */
export function readProjectFacts(dir: string): ProjectFacts | undefined {
  const pkgFile = path.join(dir, 'package.json');
  if (!existsSync(pkgFile)) return undefined;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as PackageJson;
  let listed: string[] | undefined;
  return {
    dirName: path.basename(path.resolve(dir)),
    pkg: typeof pkg === 'object' && pkg !== null ? pkg : {},
    read(file) {
      const full = path.join(dir, file);
      try {
        const st = statSync(full);
        // Only small text files matter (a main file, .env); a bundle or a binary is skipped.
        return st.isFile() && st.size <= 512 * 1024 ? readFileSync(full, 'utf8') : undefined;
      } catch {
        return undefined;
      }
    },
    isDir(d) {
      try {
        return statSync(path.join(dir, d)).isDirectory();
      } catch {
        return false;
      }
    },
    list() {
      listed ??= listFiles(dir);
      return listed;
    },
  };
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string, depth: number) => {
    let names: import('node:fs').Dirent[];
    try {
      names = readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (out.length >= MAX_LISTED) return;
      const file = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (depth < 10 && !entry.name.startsWith('.') && !UNLISTED_DIRS.has(entry.name)) walk(file, depth + 1);
      } else if (entry.isFile()) {
        out.push(file);
      }
    }
  };
  walk('', 0);
  return out;
}
