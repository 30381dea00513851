// Which published files carry a content hash in their name (cached for a year, never given ?v=),
// judged on names the real bundlers wrote (test/fixtures/hashed-names/, made as its BUILD.md says).
import { describe, expect, test } from '@jest/globals';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isHashedName, scanBundle } from '../../../src/oss/files.js';
import { repoRoot } from '../../support/fixtures.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'hashed-names');
const names = (list: string) =>
  readFileSync(path.join(fixtures, `${list}.txt`), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
const bundlerLists = readdirSync(fixtures)
  .filter((f) => f.endsWith('.txt') && f !== 'unhashed.txt')
  .map((f) => f.replace(/\.txt$/, ''));

// The one real name in the lists that reads as a word (a Capital, then lowercase with vowels):
// the rule takes it for unhashed, the safe side (max-age=300 and ?v=), and Vite's manifest,
// which the build leaves beside it, says it is hashed.
const readsAsWord = 'assets/page46-Dnedygby.js';

describe('the name rule, on what the bundlers wrote', () => {
  test('the lists cover Vite/Rolldown, Rollup, webpack, Rspack, esbuild, Parcel, Angular and Next', () => {
    expect(bundlerLists.sort()).toEqual([
      'angular-21.2.30',
      'esbuild-0.28.2',
      'next-16.4.6-turbopack',
      'next-16.4.6-webpack',
      'parcel-2.16.4',
      'rspack-2.3.4',
      'vite-7.3.8-rollup',
      'vite-8.4.0-rolldown',
      'webpack-5.113.0',
      'webpack-5.113.0-cra-layout',
    ]);
    for (const list of bundlerLists) expect(names(list).length).toBeGreaterThan(10);
  });

  test.each(bundlerLists)('%s: every output name is taken as hashed', (list) => {
    const missed = names(list).filter((n) => n !== readsAsWord && !isHashedName(n));
    expect(missed).toEqual([]);
  });

  test('the names from the issue: base64url with - or _, and no digit at all', () => {
    for (const n of ['index-DAC_-vWk.js', 'index-DJKSAJSS.js', 'hero-CLDdwZDr.png', 'assets/page32-BNVS_kR-.css', 'assets/page27-DmmHc--9.js']) {
      expect([n, isHashedName(n)]).toEqual([n, true]);
    }
  });

  test('real unhashed names stay unhashed: public files, RSC payloads, package files, hand-made names', () => {
    const list = names('unhashed');
    expect(list.length).toBeGreaterThan(900);
    expect(list.filter((n) => isHashedName(n))).toEqual([]);
  });

  test('an eight-letter word after a dash is a word, not a hash: the rule keeps to the safe side', () => {
    // Ambiguous by nature: "settings" could be a hash. Rollup hashes read as words about 1 time
    // in 100, such a file only loses the year-long cache; a word taken for a hash would be cached
    // for a year and then changed in place.
    for (const n of ['app-settings.js', 'user-settings.js', 'Inter-SemiBold.woff2', 'fetch-polyfill.js', 'app-v2-beta1.js', readsAsWord]) {
      expect([n, isHashedName(n)]).toEqual([n, false]);
    }
  });
});

/** A bundle directory with the listed files (a few bytes each) and the real manifests of that build. */
function bundleOf(list: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-bundle-'));
  const files: Record<string, string> = { 'index.html': '<!doctype html>', 'robots.txt': 'User-agent: *\n', 'app-settings.js': 'x', ...extra };
  for (const n of names(list)) files[n] = n;
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  const manifests = path.join(fixtures, 'manifests', list);
  cpSync(manifests, dir, { recursive: true });
  return dir;
}

describe("the bundler's manifest decides when the build leaves one", () => {
  test.each([
    ['vite-8.4.0-rolldown', ['.vite/manifest.json']],
    ['vite-7.3.8-rollup', ['.vite/manifest.json']],
    ['webpack-5.113.0', ['assets-manifest.json', 'manifest.json']],
    ['webpack-5.113.0-cra-layout', ['asset-manifest.json', 'assets-manifest.json']],
    ['rspack-2.3.4', ['manifest.json']],
  ])('%s: every output it names is hashed, files it does not name follow the rule', async (list, expected) => {
    const { files, manifests } = await scanBundle(bundleOf(list));
    expect(manifests.map((m) => m.key).sort()).toEqual(expected);
    for (const m of manifests) expect(m.outputs).toBeGreaterThan(0);
    const byKey = new Map(files.map((f) => [f.key, f]));
    expect(names(list).filter((n) => !byKey.get(n)!.hashed)).toEqual([]);
    for (const k of ['index.html', 'robots.txt', 'app-settings.js', ...expected]) expect([k, byKey.get(k)!.hashed]).toEqual([k, false]);
  });

  test('Vite: the word-like hash the rule misses is hashed by the manifest', async () => {
    const { files } = await scanBundle(bundleOf('vite-7.3.8-rollup'));
    expect(isHashedName(readsAsWord)).toBe(false);
    expect(files.find((f) => f.key === readsAsWord)!.hashed).toBe(true);
  });

  function viteBundle(manifest: Record<string, unknown>, files: string[]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-vite-'));
    mkdirSync(path.join(dir, '.vite'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, '.vite/manifest.json'), JSON.stringify(manifest));
    for (const f of files) writeFileSync(path.join(dir, f), f);
    return dir;
  }

  test('an ambiguous tail is a hash when the bundler added it to the source name, not when the source had it', async () => {
    const dir = viteBundle(
      {
        'src/app.ts': { file: 'assets/app-settings.js', src: 'src/app.ts', isEntry: true, css: ['assets/app-Semibold.css'] },
        'src/app-settings.ts': { file: 'assets/app-settings2.js', src: 'src/app-settings.ts' },
        'src/user-settings.ts': { file: 'assets/user-settings.js', src: 'src/user-settings.ts', isDynamicEntry: true },
      },
      ['assets/app-settings.js', 'assets/app-Semibold.css', 'assets/app-settings2.js', 'assets/user-settings.js', 'assets/other-settings.js'],
    );
    const hashed = Object.fromEntries((await scanBundle(dir)).files.map((f) => [f.key, f.hashed]));
    expect(hashed).toEqual({
      '.vite/manifest.json': false,
      // src/app.ts became app-settings.js: "-settings" is what Vite's [hash] wrote.
      'assets/app-settings.js': true,
      'assets/app-Semibold.css': true,
      // Configured without [hash] (entryFileNames: '[name].js'): the name is the source's.
      'assets/app-settings2.js': false,
      'assets/user-settings.js': false,
      // Not in the manifest: the rule, which reads "settings" as a word.
      'assets/other-settings.js': false,
    });
  });

  test('a web app manifest.json is not a bundler manifest, and a webpack manifest behind a public path resolves', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-pwa-'));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ name: 'Hello', short_name: 'Hello', start_url: '/', display: 'standalone' }));
    writeFileSync(path.join(dir, 'main-settings.js'), 'x');
    let scanned = await scanBundle(dir);
    expect(scanned.manifests).toEqual([]);
    expect(scanned.files.find((f) => f.key === 'main-settings.js')!.hashed).toBe(false);

    writeFileSync(
      path.join(dir, 'assets-manifest.json'),
      JSON.stringify({ 'main.js': 'https://cdn.example.com/app/main-settings.js', 'index.html': '/app/index.html' }),
    );
    writeFileSync(path.join(dir, 'index.html'), 'x');
    scanned = await scanBundle(dir);
    expect(scanned.manifests).toEqual([{ key: 'assets-manifest.json', outputs: 2 }]);
    expect(scanned.files.find((f) => f.key === 'main-settings.js')!.hashed).toBe(true);
    expect(scanned.files.find((f) => f.key === 'index.html')!.hashed).toBe(false);
  });

  test('a manifest that is not JSON is reported, not fatal: the rule decides', async () => {
    const dir = viteBundle({}, ['assets/index-DAC_-vWk.js']);
    writeFileSync(path.join(dir, '.vite/manifest.json'), '{ not json');
    const scanned = await scanBundle(dir);
    expect(scanned.manifests).toEqual([{ key: '.vite/manifest.json', outputs: 0, problem: expect.stringMatching(/JSON/) }]);
    expect(scanned.files.find((f) => f.key === 'assets/index-DAC_-vWk.js')!.hashed).toBe(true);
  });
});
