// A merge request preview of an app made from a bundler's official starter, as a team would ship
// one: Vite's vanilla template from create-vite (npm registry), built by its own `npm run build`,
// published by the real CLI to the OSS test server, and opened in headless Chromium (Debian's
// package) through the bucket's website endpoint.
//
// With Vite's default base ("/"), the preview's index.html and its JS name their files from the
// site root, where the live site's copies are: Gantry refuses it before anything is sent. Vite's
// one line from the README (base: process.env.GANTRY_PUBLIC_PATH) fixes what Vite writes, yet the
// starter's own code writes "/icons.svg#..." in its markup, which no bundler rewrites: Gantry names
// it. Built from import.meta.env.BASE_URL, the preview publishes, and in the browser every request
// stays under previews/mr-7/ and none fails, while the live site's files sit one level up.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromiumPath, visit } from '../support/browser.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { cliPath, git } from '../support/tmp-repo.js';

const keyId = 'LTAI5tPreviewBrowserKey';
const secret = 'preview-browser-secret-0123456789';
const bucket = 'vite-starter-web';
// Pinned, so the template (and its /icons.svg) is the one this story was written against; its
// package.json asks for vite ^8.3.4, installed from the registry as a user's runner would.
const CREATE_VITE = 'create-vite@9.3.0';
// Outside CI the tarball and the npm cache outlive the run, so only the first run on a machine
// downloads. CI sets npm_config_cache to an empty cache of its own: there everything starts from
// nothing, as on a new runner.
const ci = process.env.npm_config_cache !== undefined;
const cache = ci ? mkdtempSync(path.join(tmpdir(), 'gantry-test-npm-')) : path.join(tmpdir(), 'gantry-test-npm');

let oss: OssServer;
let app: string;

type Run = { code: number | null; stdout: string; stderr: string };

function gantry(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|PUBLIC_URL|NUXT_)/.test(k)));
  const child = spawn(process.execPath, [cliPath, 'frontend', ...args], {
    cwd: app,
    env: {
      ...base,
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
      GANTRY_SET: `frontend.endpoint=${oss.endpoint}`,
      GANTRY_OSS_RETRIES: '1',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const npm = (cwd: string, ...args: string[]) =>
  execFileSync('npm', [...args, ...(ci ? [] : ['--cache', path.join(cache, 'npm')]), '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** create-vite's template-vanilla, as `npm create vite -- --template vanilla` writes it, installed and committed. */
function viteStarter(): string {
  mkdirSync(cache, { recursive: true });
  const tarball = path.join(cache, `${CREATE_VITE.replace('@', '-')}.tgz`);
  if (!existsSync(tarball)) {
    const packed = npm(cache, 'pack', CREATE_VITE, '--pack-destination', cache).trim().split('\n').pop()!;
    renameSync(path.join(cache, packed), tarball);
  }
  const unpacked = mkdtempSync(path.join(tmpdir(), 'gantry-create-vite-'));
  execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-vite-starter-'));
  cpSync(path.join(unpacked, 'package', 'template-vanilla'), dir, { recursive: true });
  rmSync(unpacked, { recursive: true, force: true });
  // create-vite ships the ignore file as _gitignore and renames it, as here.
  renameSync(path.join(dir, '_gitignore'), path.join(dir, '.gitignore'));
  npm(dir, 'install', '--prefer-offline');
  writeFileSync(
    path.join(dir, 'gantry.yaml'),
    [
      'app: vite-starter',
      'frontend:',
      '  build: npm run build',
      '  dir: dist',
      `  bucket: ${bucket}`,
      '  region: oss-cn-hangzhou',
      'environments:',
      '  production: {}',
      '  review: {}',
      '',
    ].join('\n'),
  );
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'npm create vite@latest -- --template vanilla');
  return dir;
}

const writes = (from: number) => oss.requests.slice(from).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
const keys = () => [...oss.objects(bucket).keys()];
const errorDetails = (r: Run) =>
  r.stderr
    .split('\n')
    .filter((l) => /^ {2}\S+: \//.test(l))
    .map((l) => l.trim());

beforeAll(async () => {
  if (!chromiumPath()) throw new Error("these tests need Debian's chromium: apt-get install chromium (test/setup.sh installs it)");
  oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket] });
  app = viteStarter();
}, 300_000);
afterAll(async () => {
  await oss?.close();
  if (app) rmSync(app, { recursive: true, force: true });
  if (ci) rmSync(cache, { recursive: true, force: true });
});

describe("a preview of create-vite's vanilla starter", () => {
  test('the live site is published at the bucket root with the default base, and serves as a website', async () => {
    const r = await gantry(['--env', 'production', '--website']);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    // The build ran with the path it is served at; the live site gets no bundler variables from Gantry.
    expect(r.stderr).toContain('build with GANTRY_PUBLIC_PATH=/\n');
    expect(JSON.parse(r.stdout)).toMatchObject({ prefix: '', website: { applied: true } });
    const html = oss.objects(bucket).get('index.html')!.body.toString();
    expect(html).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]{8}\.js"><\/script>/);
  }, 120_000);

  test("with Vite's default base it is refused before anything is sent, naming each reference and Vite's one line", async () => {
    const mark = oss.requests.length;
    const r = await gantry(['--mr', '7']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('build with GANTRY_PUBLIC_PATH=/previews/mr-7/ (and PUBLIC_URL, NUXT_APP_BASE_URL)');
    expect(r.stderr).toMatch(
      /error E_PREVIEW_ABSOLUTE_PATH: the preview would load \d+ of its files from the live site \(\d+ references?, below\): the build names them from the site root, not from \/previews\/mr-7\/ where the preview is served; nothing was published/,
    );
    const details = errorDetails(r);
    // Vite's script and stylesheet in index.html, the icon from public/, and the starter's images and icons in its JS.
    expect(details).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^index\.html: \/assets\/index-[\w-]{8}\.js$/),
        expect.stringMatching(/^index\.html: \/assets\/index-[\w-]{8}\.css$/),
        'index.html: /favicon.svg',
      ]),
    );
    expect(details).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^assets\/index-[\w-]{8}\.js: \/assets\/hero-[\w-]{8}\.png$/),
        expect.stringMatching(/^assets\/index-[\w-]{8}\.js: \/icons\.svg#github-icon$/),
      ]),
    );
    // Each of them is a file of this build, and the live site has one at that path: that is what the preview would have shown.
    for (const line of details) expect(keys()).toContain(line.slice(line.indexOf(': /') + 3).split('#')[0]);
    expect(r.stderr).toContain('fix: Vite: add base: process.env.GANTRY_PUBLIC_PATH, to the config in vite.config.js');
    expect(writes(mark)).toEqual([]);
    expect(keys().filter((k) => k.startsWith('previews/'))).toEqual([]);
  }, 120_000);

  test("with Vite's line in vite.config.js, Vite writes the preview's path; the starter's own /icons.svg is still named, with how to build it", async () => {
    writeFileSync(
      path.join(app, 'vite.config.js'),
      "import { defineConfig } from 'vite'\n\nexport default defineConfig({\n  base: process.env.GANTRY_PUBLIC_PATH,\n})\n",
    );
    const mark = oss.requests.length;
    const r = await gantry(['--mr', '7']);
    expect(r.code).toBe(2);
    const details = errorDetails(r);
    expect(details.length).toBeGreaterThan(0);
    expect(details.every((l) => /^assets\/index-[\w-]{8}\.js: \/icons\.svg#[\w-]+-icon$/.test(l))).toBe(true);
    expect(r.stderr).toMatch(/the preview would load 1 of its files from the live site \(\d+ references?, below\)/);
    expect(r.stderr).toContain(
      "fix: the build already uses /previews/mr-7/; these paths are written in the app's own code, where no bundler rewrites them: build them from import.meta.env.BASE_URL",
    );
    expect(writes(mark)).toEqual([]);
  }, 120_000);

  test('with the icons built from import.meta.env.BASE_URL it publishes, and every URL its index.html names is a file under previews/mr-7/', async () => {
    const main = path.join(app, 'src', 'main.js');
    const source = readFileSync(main, 'utf8');
    expect(source).toContain('href="/icons.svg#');
    writeFileSync(main, source.replaceAll('href="/icons.svg#', 'href="${import.meta.env.BASE_URL}icons.svg#'));
    const r = await gantry(['--mr', '7']);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ environment: 'review', prefix: 'previews/mr-7/' });
    const html = oss.objects(bucket).get('previews/mr-7/index.html')!.body.toString();
    // The unhashed icon from public/ still gets ?v=, below the public path.
    expect(html).toMatch(/href="\/previews\/mr-7\/favicon\.svg\?v=[0-9a-f]{7,8}"/);
    const urls = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const url of urls) {
      const resolved = new URL(url, 'http://site.example/previews/mr-7/');
      expect([url, resolved.host, resolved.pathname.startsWith('/previews/mr-7/')]).toEqual([url, 'site.example', true]);
      expect([url, keys().includes(decodeURIComponent(resolved.pathname.slice(1)))]).toEqual([url, true]);
    }
  }, 120_000);

  test('the preview renders in headless Chromium from the website endpoint: every request stays under previews/mr-7/, none fails', async () => {
    const website = await oss.websiteEndpoint(bucket);
    const page = await visit(`${website.url}/previews/mr-7/`);
    try {
      expect(await page.evaluate<string>("document.querySelector('#app h1')?.textContent")).toBe('Get started');
      // The starter's counter works: its script ran.
      const before = await page.evaluate<string>("document.querySelector('#counter').textContent");
      await page.evaluate<void>("document.querySelector('#counter').click()");
      expect(await page.evaluate<string>("document.querySelector('#counter').textContent")).not.toBe(before);
      await page.settle();
      const network = page.requests.filter((q) => !q.url.startsWith('data:'));
      const loaded = network.map((q) => new URL(q.url).pathname);
      // The document, Vite's script and stylesheet, the starter's image, the icon sprite.
      expect(loaded).toEqual(
        expect.arrayContaining([
          '/previews/mr-7/',
          expect.stringMatching(/^\/previews\/mr-7\/assets\/index-[\w-]{8}\.js$/),
          expect.stringMatching(/^\/previews\/mr-7\/assets\/index-[\w-]{8}\.css$/),
          expect.stringMatching(/^\/previews\/mr-7\/assets\/hero-[\w-]{8}\.png$/),
          '/previews/mr-7/icons.svg',
        ]),
      );
      expect(network.filter((q) => !q.url.startsWith(`${website.url}/previews/mr-7/`))).toEqual([]);
      expect(network.filter((q) => q.failed !== undefined || q.status !== 200)).toEqual([]);
      expect(page.exceptions).toEqual([]);
      // What the website endpoint itself saw: the same, and nothing outside the preview.
      expect(website.requests.filter((q) => !q.path.startsWith('/previews/mr-7/') || q.status !== 200)).toEqual([]);
      expect(website.requests.length).toBeGreaterThanOrEqual(5);
    } finally {
      await page.close();
    }
  }, 120_000);

  test("what the refusal prevents: the default-base build, put under previews/mr-8/ by hand, renders from the live site's files", async () => {
    // The live site is that very build (Vite's default base): copied under the prefix as it is.
    const objects = oss.objects(bucket);
    for (const key of keys().filter((k) => !k.startsWith('previews/') && !k.startsWith('.gantry/') && !k.startsWith('web/')))
      objects.set(`previews/mr-8/${key}`, objects.get(key)!);
    const website = await oss.websiteEndpoint(bucket);
    const page = await visit(`${website.url}/previews/mr-8/`);
    try {
      // It looks right, which is the trouble: only the document came from the preview.
      expect(await page.evaluate<string>("document.querySelector('#app h1')?.textContent")).toBe('Get started');
      const outside = page.requests
        .filter((q) => !q.url.startsWith('data:') && !q.url.startsWith(`${website.url}/previews/mr-8/`))
        .map((q) => new URL(q.url).pathname);
      expect(outside).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^\/assets\/index-[\w-]{8}\.js$/),
          expect.stringMatching(/^\/assets\/index-[\w-]{8}\.css$/),
          '/icons.svg',
        ]),
      );
    } finally {
      await page.close();
    }
  }, 120_000);
});

describe('the public path a build is given', () => {
  // A build command that reports what it was given, then a bundle written by hand.
  const report = 'node -e "console.log(\'given\', process.env.GANTRY_PUBLIC_PATH, process.env.PUBLIC_URL, process.env.NUXT_APP_BASE_URL)"';
  const site = (dir: string, files: Record<string, string>) => {
    for (const [key, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(app, dir, key)), { recursive: true });
      writeFileSync(path.join(app, dir, key), text);
    }
  };

  test("a preview under frontend.prefix: /<prefix>/previews/mr-<iid>/, for GANTRY_PUBLIC_PATH and the variables bundlers read, over the job's own", async () => {
    site('by-hand', { 'index.html': '<script src="/web/previews/mr-9/app.js"></script>', 'app.js': 'console.log(1)\n' });
    const r = await gantry(['--mr', '9'], {
      GANTRY_SET: [`frontend.endpoint=${oss.endpoint}`, 'frontend.prefix=web', 'frontend.dir=by-hand', `frontend.build=${report}`].join('\n'),
      PUBLIC_URL: 'https://cdn.example.com/',
    });
    expect(r.stderr).toContain('given /web/previews/mr-9/ /web/previews/mr-9/ /web/previews/mr-9/');
    expect(r.stderr).toContain('PUBLIC_URL had another value in the job: replaced for the preview');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).prefix).toBe('web/previews/mr-9/');
  }, 60_000);

  test('the live site under frontend.prefix: GANTRY_PUBLIC_PATH only; root paths to its own files are a warning, not a refusal', async () => {
    site('by-hand-live', { 'index.html': '<script src="/app.js"></script>', 'app.js': 'console.log(1)\n' });
    const mark = oss.requests.length;
    const r = await gantry(['--env', 'production'], {
      GANTRY_SET: [`frontend.endpoint=${oss.endpoint}`, 'frontend.prefix=web', 'frontend.dir=by-hand-live', `frontend.build=${report}`].join('\n'),
    });
    expect(r.stderr).toContain('given /web/ undefined undefined');
    expect(r.stderr).toContain('warning: the build names 1 of its files from the site root, not from /web/ where frontend.prefix puts them');
    expect(r.stderr).toContain('warning:   index.html: /app.js');
    expect(r.code).toBe(0);
    expect(writes(mark).map((q) => q.key)).toEqual(expect.arrayContaining(['web/index.html', 'web/app.js']));
  }, 60_000);
});
