// What `gantry init` reads from a repository: the app name, the port it listens on, its health
// path and whether it has a frontend to publish. Pure over ProjectFacts, so every rule is
// unit-tested without a file system; readProjectFacts does the reading.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { dns1035Label } from '../names/names.js';

export interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface ProjectFacts {
  /** The directory's base name: the app name when package.json has none. */
  dirName: string;
  pkg: PackageJson;
  /** Text of a file relative to the repository, undefined when absent (only small text files). */
  read(file: string): string | undefined;
  isDir(dir: string): boolean;
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

export interface ProjectDetection {
  app: Detected<string>;
  port: Detected<number>;
  healthPath: Detected<string>;
  /** The file the backend starts from, when found. */
  main: string | undefined;
  frontend: FrontendDetection | undefined;
}

/** Bundlers whose presence makes a build script a frontend build (a plain `tsc` build is not one). */
export const FRONTEND_BUNDLERS = ['vite', 'webpack', 'webpack-cli', '@vue/cli-service', 'react-scripts', 'parcel', '@angular/cli', '@rsbuild/core', 'rspack', '@rspack/cli'];
const BUILD_SCRIPTS = ['build', 'build:frontend', 'build:web', 'build:client', 'build-frontend'];
const START_SCRIPTS = ['start', 'serve', 'start:prod', 'dev'];
const MAIN_CANDIDATES = ['server.js', 'index.js', 'app.js', 'main.js', 'server.mjs', 'index.mjs', 'src/server.js', 'src/index.js', 'src/app.js', 'src/main.js', 'src/server.ts', 'src/index.ts', 'src/app.ts', 'src/main.ts'];

export function detectProject(facts: ProjectFacts): ProjectDetection {
  const main = mainFile(facts);
  const mainText = main ? facts.read(main) : undefined;
  return {
    app: detectApp(facts),
    port: detectPort(facts, main, mainText),
    healthPath: detectHealthPath(main, mainText),
    main,
    frontend: detectFrontend(facts),
  };
}

export function detectApp(facts: Pick<ProjectFacts, 'pkg' | 'dirName'>): Detected<string> {
  const name = facts.pkg.name?.trim();
  // "@acme/shop-api" names the app shop-api: the scope is the npm organisation, not the app.
  if (name) return { value: dns1035Label(name.replace(/^@[^/]+\//, '')), source: `package.json name "${name}"` };
  return { value: dns1035Label(facts.dirName), source: `directory name "${facts.dirName}"` };
}

/** The file the app starts from: `node <file>` in the start script, package.json main, else a usual name. */
export function mainFile(facts: Pick<ProjectFacts, 'pkg' | 'read'>): string | undefined {
  const candidates: string[] = [];
  for (const script of START_SCRIPTS) {
    const m = /(?:^|\s|&&)(?:node|nodemon|tsx|ts-node)\s+(?:--?[\w-]+(?:=\S+)?\s+)*([\w./-]+\.(?:[cm]?js|ts))/.exec(facts.pkg.scripts?.[script] ?? '');
    if (m) candidates.push(m[1]!);
  }
  if (facts.pkg.main) candidates.push(facts.pkg.main);
  candidates.push(...MAIN_CANDIDATES);
  return candidates.map((c) => path.posix.normalize(c.replace(/\\/g, '/'))).find((c) => !c.startsWith('..') && facts.read(c) !== undefined);
}

const validPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

export function detectPort(facts: Pick<ProjectFacts, 'pkg' | 'read'>, main: string | undefined, mainText: string | undefined): Detected<number> {
  for (const script of START_SCRIPTS) {
    const text = facts.pkg.scripts?.[script];
    if (!text) continue;
    const m = /(?:^|\s)PORT=(\d{1,5})\b/.exec(text) ?? /(?:^|\s)(?:--port[= ]|-p\s+)(\d{1,5})\b/.exec(text);
    if (m && validPort(Number(m[1]))) return { value: Number(m[1]), source: `package.json scripts.${script}: ${m[0].trim()}` };
  }
  if (main && mainText) {
    const patterns = [
      // process.env.PORT || 3000, process.env.PORT ?? '8080', Number(process.env.PORT || 3000)
      /process\.env\.PORT\s*\)?\s*(?:\|\||\?\?)\s*['"`]?(\d{1,5})\b['"`]?/,
      /process\.env\[['"]PORT['"]\]\s*\)?\s*(?:\|\||\?\?)\s*['"`]?(\d{1,5})\b['"`]?/,
      // app.listen(3000), server.listen(8080, ...)
      /\.listen\(\s*(\d{1,5})\s*[,)]/,
      // const port = 3000 / const PORT = 8080
      /\b(?:const|let|var)\s+port\s*=\s*(\d{1,5})\b/i,
    ];
    for (const re of patterns) {
      const m = re.exec(mainText);
      if (m && validPort(Number(m[1]))) return { value: Number(m[1]), source: `${main}: ${m[0].trim()}` };
    }
  }
  const dotenv = facts.read('.env');
  const m = dotenv ? /^\s*PORT\s*=\s*['"]?(\d{1,5})\b/m.exec(dotenv) : null;
  if (m && validPort(Number(m[1]))) return { value: Number(m[1]), source: `.env: PORT=${m[1]}` };
  return { value: 3000, source: 'default (no PORT default or listen(<port>) found)' };
}

export function detectHealthPath(main: string | undefined, mainText: string | undefined): Detected<string> {
  if (main && mainText) {
    for (const candidate of ['/healthz', '/health', '/livez', '/readyz', '/ping', '/status']) {
      if (new RegExp(`['"\`]${candidate.replace('/', '\\/')}['"\`]`).test(mainText)) return { value: candidate, source: `${main} answers ${candidate}` };
    }
  }
  return { value: '/healthz', source: 'default (add a route that answers 200 there)' };
}

export function detectFrontend(facts: Pick<ProjectFacts, 'pkg' | 'read' | 'isDir'>): FrontendDetection | undefined {
  const scripts = facts.pkg.scripts ?? {};
  const deps = { ...facts.pkg.dependencies, ...facts.pkg.devDependencies };
  const bundler = FRONTEND_BUNDLERS.find((b) => b in deps);
  if (bundler) {
    const script = BUILD_SCRIPTS.find((s) => scripts[s]);
    if (script) {
      return { build: `npm run ${script}`, dir: bundler === 'react-scripts' ? 'build' : 'dist', source: `package.json scripts.${script} and the ${bundler} dependency` };
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
      if (innerScripts.build) return { build: 'npm --prefix frontend ci && npm --prefix frontend run build', dir: 'frontend/dist', source: 'frontend/package.json scripts.build' };
    }
    return { build: undefined, dir: 'frontend', source: 'the frontend/ directory (no build script: published as it is)' };
  }
  return undefined;
}

/** Reads what detectProject needs from `dir`; undefined when there is no package.json. */
export function readProjectFacts(dir: string): ProjectFacts | undefined {
  const pkgFile = path.join(dir, 'package.json');
  if (!existsSync(pkgFile)) return undefined;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as PackageJson;
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
  };
}
