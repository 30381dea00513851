// Source-to-image for Node apps without a Dockerfile (what Heroku and Rainbond users know):
// facts from package.json and the lockfile, then a multi-stage Dockerfile whose dependency
// layer is reused when only the source changes.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GantryError } from '../errors.js';

export type PackageManager = 'npm' | 'yarn' | 'pnpm';

export interface NodeAppFacts {
  packageManager: PackageManager;
  lockfile: string | undefined;
  /** Major Node version from engines.node, .nvmrc or .node-version (default 20). */
  nodeMajor: number;
  nodeVersionSource: string;
  hasBuildScript: boolean;
  /** The container command. */
  start: string[];
  startSource: string;
}

const lockfiles: [string, PackageManager][] = [
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['package-lock.json', 'npm'],
  ['npm-shrinkwrap.json', 'npm'],
];

export async function detectNodeApp(dir: string): Promise<NodeAppFacts> {
  const pkgPath = path.join(dir, 'package.json');
  if (!existsSync(pkgPath)) {
    throw new GantryError('E_BUILD_NO_SOURCE', `no Dockerfile and no package.json in ${dir}`, {
      fix: 'add a Dockerfile (backend.dockerfile names it), or build a Node app that has a package.json; backend.context sets the directory',
    });
  }
  let pkg: { scripts?: Record<string, string>; main?: string; engines?: { node?: string } };
  try {
    pkg = JSON.parse(await readFile(pkgPath, 'utf8'));
  } catch (error) {
    throw new GantryError('E_BUILD_NO_SOURCE', `package.json in ${dir} is not valid JSON: ${(error as Error).message}`, { fix: 'correct package.json' });
  }
  const found = lockfiles.find(([file]) => existsSync(path.join(dir, file)));
  const scripts = pkg.scripts ?? {};
  const { major, source } = await nodeMajor(dir, pkg.engines?.node);
  let start: string[];
  let startSource: string;
  if (scripts['start:prod']) [start, startSource] = [runScript(found?.[1] ?? 'npm', 'start:prod', scripts['start:prod']), 'scripts["start:prod"]'];
  else if (scripts.start) [start, startSource] = [runScript(found?.[1] ?? 'npm', 'start', scripts.start), 'scripts.start'];
  else if (pkg.main) [start, startSource] = [['node', pkg.main], 'main'];
  else if (existsSync(path.join(dir, 'server.js'))) [start, startSource] = [['node', 'server.js'], 'server.js (npm start default)'];
  else {
    throw new GantryError('E_BUILD_NO_SOURCE', `package.json in ${dir} says nothing about how to start the app`, {
      fix: 'add a "start" (or "start:prod") script or a "main" entry to package.json, or add a Dockerfile',
    });
  }
  return {
    packageManager: found?.[1] ?? 'npm',
    lockfile: found?.[0],
    nodeMajor: major,
    nodeVersionSource: source,
    hasBuildScript: Boolean(scripts.build),
    start,
    startSource,
  };
}

/** `node dist/main.js` runs as it is: node as PID 1 gets SIGTERM itself, no npm in between. */
function runScript(pm: PackageManager, script: string, body: string): string[] {
  const direct = /^node\s+([\w./@-]+)$/.exec(body.trim());
  if (direct) return ['node', direct[1]!];
  return [pm, 'run', script];
}

async function nodeMajor(dir: string, engines: string | undefined): Promise<{ major: number; source: string }> {
  for (const file of ['.nvmrc', '.node-version']) {
    const p = path.join(dir, file);
    if (existsSync(p)) {
      const m = /(\d+)/.exec((await readFile(p, 'utf8')).trim().replace(/^v/, ''));
      if (m) return { major: Number(m[1]), source: file };
    }
  }
  if (engines) {
    // The lowest major the range names: ">=18" -> 18, "^20.11" -> 20, "20.x" -> 20.
    const m = /(\d+)/.exec(engines);
    if (m) return { major: Number(m[1]), source: 'engines.node' };
  }
  return { major: 20, source: 'default' };
}

export interface DockerfileOptions {
  /** Base image; "{major}" is replaced by the Node major version. Default node:{major}-bookworm-slim. */
  baseImage?: string;
  port: number;
}

const installCommands: Record<PackageManager, { all: string; prod: string; setup: string }> = {
  npm: { setup: '', all: 'npm ci', prod: 'npm ci --omit=dev' },
  yarn: { setup: 'RUN corepack enable\n', all: 'yarn install --frozen-lockfile', prod: 'yarn install --frozen-lockfile --production' },
  pnpm: { setup: 'RUN corepack enable\n', all: 'pnpm install --frozen-lockfile', prod: 'pnpm install --frozen-lockfile --prod' },
};

export function generateDockerfile(facts: NodeAppFacts, options: DockerfileOptions): string {
  const base = (options.baseImage ?? 'node:{major}-bookworm-slim').replaceAll('{major}', String(facts.nodeMajor));
  const pm = installCommands[facts.packageManager];
  // Without a lockfile there is nothing to install reproducibly from: npm install it is.
  const all = facts.lockfile ? pm.all : 'npm install';
  const prod = facts.lockfile ? pm.prod : 'npm install --omit=dev';
  const manifests = ['package.json', ...(facts.lockfile ? [facts.lockfile] : [])].join(' ');
  const build = facts.packageManager === 'npm' ? 'npm run build' : `${facts.packageManager} run build`;
  return [
    `# Generated by gantry build (no Dockerfile found). \`gantry build --print-dockerfile\` shows it;`,
    `# commit it as Dockerfile to take it over. Node ${facts.nodeMajor} from ${facts.nodeVersionSource},`,
    `# ${facts.packageManager}${facts.lockfile ? ` (${facts.lockfile})` : ' (no lockfile)'}, start from ${facts.startSource}.`,
    `ARG BASE_IMAGE=${base}`,
    '',
    // The app's files without node_modules and .git (after the build, when there is one), so
    // the final image gets them as one small layer that a source change alone replaces.
    'FROM ${BASE_IMAGE} AS source',
    'WORKDIR /app',
    ...(facts.hasBuildScript ? [`${pm.setup}COPY ${manifests} ./`, `RUN ${all}`] : []),
    'COPY . .',
    ...(facts.hasBuildScript ? [`RUN ${build}`] : []),
    'RUN rm -rf node_modules .git',
    '',
    'FROM ${BASE_IMAGE}',
    'WORKDIR /app',
    'ENV NODE_ENV=production',
    // Production dependencies first: reused from cache while package.json and the lockfile stay.
    `${pm.setup}COPY ${manifests} ./`,
    `RUN ${prod} && (npm cache clean --force >/dev/null 2>&1 || true)`,
    'COPY --chown=1000:1000 --from=source /app .',
    // A numeric user works whether or not the base image has a "node" user.
    'USER 1000:1000',
    `ENV PORT=${options.port}`,
    `EXPOSE ${options.port}`,
    `CMD ${JSON.stringify(facts.start)}`,
    '',
  ].join('\n');
}
