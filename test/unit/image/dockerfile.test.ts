import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { detectNodeApp, generateDockerfile } from '../../../src/image/dockerfile.js';

async function app(files: Record<string, string>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-app-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}
const pkg = (o: object) => JSON.stringify({ name: 'x', version: '1.0.0', ...o });

describe('Node app detection', () => {
  test('package manager from the lockfile, pnpm over yarn over npm', async () => {
    expect((await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js' }), 'pnpm-lock.yaml': '' }))).packageManager).toBe('pnpm');
    expect((await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js' }), 'yarn.lock': '' }))).packageManager).toBe('yarn');
    const npm = await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js' }), 'package-lock.json': '{}' }));
    expect(npm).toMatchObject({ packageManager: 'npm', lockfile: 'package-lock.json' });
  });

  test('Node version from .nvmrc, .node-version, then engines, else 20', async () => {
    expect((await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js', engines: { node: '>=18' } }), '.nvmrc': 'v22.3.0\n' }))).nodeMajor).toBe(22);
    expect((await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js' }), '.node-version': '21' }))).nodeMajor).toBe(21);
    expect(await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js', engines: { node: '^18.17' } }) }))).toMatchObject({
      nodeMajor: 18,
      nodeVersionSource: 'engines.node',
    });
    expect(await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js' }) }))).toMatchObject({ nodeMajor: 20, nodeVersionSource: 'default' });
  });

  test('start command: start:prod, then start, then main; a plain "node file" runs node directly', async () => {
    const scripts = (s: object) => app({ 'package.json': pkg({ scripts: s, main: 'index.js' }) });
    expect((await detectNodeApp(await scripts({ 'start:prod': 'node dist/main.js', start: 'nodemon' }))).start).toEqual(['node', 'dist/main.js']);
    expect((await detectNodeApp(await scripts({ start: 'node --enable-source-maps dist/main.js' }))).start).toEqual(['npm', 'run', 'start']);
    expect((await detectNodeApp(await scripts({}))).start).toEqual(['node', 'index.js']);
    const yarn = await detectNodeApp(await app({ 'package.json': pkg({ scripts: { 'start:prod': 'NODE_OPTIONS=x node a.js' } }), 'yarn.lock': '' }));
    expect(yarn.start).toEqual(['yarn', 'run', 'start:prod']);
  });

  test('no package.json, bad JSON, or no way to start are bad input (exit 2)', async () => {
    await expect(detectNodeApp(await app({}))).rejects.toMatchObject({ code: 'E_BUILD_NO_SOURCE', exitCode: 2 });
    await expect(detectNodeApp(await app({ 'package.json': '{oops' }))).rejects.toMatchObject({
      code: 'E_BUILD_NO_SOURCE',
      message: expect.stringContaining('not valid JSON'),
    });
    await expect(detectNodeApp(await app({ 'package.json': pkg({}) }))).rejects.toMatchObject({
      code: 'E_BUILD_NO_SOURCE',
      fix: expect.stringContaining('"start"'),
    });
  });
});

describe('generated Dockerfile', () => {
  test('a build stage, production dependencies in their own layer, non-root, port, base image with {major}', async () => {
    const facts = await detectNodeApp(
      await app({ 'package.json': pkg({ scripts: { build: 'tsc', 'start:prod': 'node dist/server.js' } }), 'pnpm-lock.yaml': '', '.nvmrc': '22' }),
    );
    const text = generateDockerfile(facts, { port: 8080, baseImage: 'registry-vpc.cn-hangzhou.aliyuncs.com/acme/node:{major}-slim' });
    expect(text).toContain('ARG BASE_IMAGE=registry-vpc.cn-hangzhou.aliyuncs.com/acme/node:22-slim');
    const lines = text.split('\n');
    const at = (s: string) => lines.findIndex((l) => l.startsWith(s));
    // Source stage: install everything, build, drop node_modules.
    expect(at('RUN pnpm install --frozen-lockfile')).toBeLessThan(at('RUN pnpm run build'));
    expect(at('RUN pnpm run build')).toBeLessThan(at('RUN rm -rf node_modules .git'));
    // Final stage: manifests, production install, then the app; never the other way round.
    expect(at('RUN pnpm install --frozen-lockfile --prod')).toBeGreaterThan(lines.lastIndexOf('FROM ${BASE_IMAGE}'));
    expect(at('RUN pnpm install --frozen-lockfile --prod')).toBeLessThan(at('COPY --chown=1000:1000 --from=source /app .'));
    expect(text).toContain('RUN corepack enable');
    expect(text).toContain('ENV NODE_ENV=production');
    expect(text).toContain('USER 1000:1000');
    expect(text).toContain('EXPOSE 8080');
    expect(text).toContain('CMD ["node","dist/server.js"]');
  });

  test('defaults to the official slim image of the detected major, npm ci when there is a lockfile', async () => {
    const facts = await detectNodeApp(await app({ 'package.json': pkg({ main: 'a.js', engines: { node: '18.x' } }), 'package-lock.json': '{}' }));
    const text = generateDockerfile(facts, { port: 3000 });
    expect(text).toContain('ARG BASE_IMAGE=node:18-bookworm-slim');
    expect(text).toContain('RUN npm ci --omit=dev');
    expect(text).not.toContain('run build');
  });
});
