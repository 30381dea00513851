// Where a published bundle is served, what its build is told about it, and the references that
// would make a preview load the live site's files instead of its own. The HTML and JS below are
// from a real `vite build` (Vite 8.4, the create-vite 9.3 vanilla template): with Vite's default
// base, and with `--base=/previews/mr-7/`, where the template's own `/icons.svg` stays as written.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCtx } from '../../../src/context.js';
import { GantryError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log/logger.js';
import { addVersionToReferences } from '../../../src/oss/stage.js';
import {
  adviceFor,
  checkPublicPath,
  findAbsoluteReferences,
  publicPathFor,
  publicPathVariables,
  readFrontendPackage,
  referencesIn,
} from '../../../src/oss/public-path.js';

const viteHtml = (base: string) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" type="image/svg+xml" href="${base}favicon.svg" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>Vite + JS</title>
    <script type="module" crossorigin src="${base}assets/index-CAoPt-vL.js"></script>
    <link rel="stylesheet" crossorigin href="${base}assets/index-CsUDhMuy.css">
  </head>
  <body>
    <div id="app"></div>
  </body>
</html>
`;
// Rolldown writes string literals with backticks; the template's markup sits in one of them.
const viteJs = (base: string) =>
  `function n(e){if(e.ep)return;e.ep=!0;fetch(e.href,t(e))}var e=\`${base}assets/hero-CLDdwZDr.png\`,r=\`${base}assets/vite-BF8QNONU.svg\`;` +
  'document.querySelector(`#app`).innerHTML=`<svg class="icon" role="presentation" aria-hidden="true"><use href="/icons.svg#documentation-icon"></use></svg>' +
  '<a href="https://vite.dev/" target="_blank"><img class="logo" src="${r}" alt="" /></a>`;' +
  'fetch("/api/counter").then(e=>e.json());let s="/",l=`/assets/`,u=location.pathname.split("/");';
const viteKeys = new Set([
  'index.html',
  'favicon.svg',
  'icons.svg',
  'assets/index-CAoPt-vL.js',
  'assets/index-CsUDhMuy.css',
  'assets/hero-CLDdwZDr.png',
  'assets/vite-BF8QNONU.svg',
]);

const ctxWithLines = () => {
  const lines: string[] = [];
  return { ctx: createCtx({ env: {}, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
};

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A build directory with these files (path below dir -> content). */
function buildDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-public-path-'));
  made.push(dir);
  for (const [key, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
    writeFileSync(path.join(dir, key), text);
  }
  return dir;
}
const local = (dir: string, keys: string[]) => keys.map((key) => ({ key, path: path.join(dir, key), html: key.endsWith('.html') }));

describe('the public path', () => {
  test('is the prefix as a URL path: the bucket root for the live site, the preview prefix below it', () => {
    expect(publicPathFor('')).toBe('/');
    expect(publicPathFor('web/')).toBe('/web/');
    expect(publicPathFor('previews/mr-7/')).toBe('/previews/mr-7/');
    expect(publicPathFor('web/previews/mr-12/')).toBe('/web/previews/mr-12/');
    expect(publicPathFor('my site/')).toBe('/my%20site/');
  });

  test("a preview's build gets it as GANTRY_PUBLIC_PATH and as the variables bundlers read; the live site's build only as GANTRY_PUBLIC_PATH", () => {
    const preview = publicPathVariables('/previews/mr-7/', { PUBLIC_URL: 'https://cdn.example.com/app/' }, true);
    expect(preview.variables).toEqual({ GANTRY_PUBLIC_PATH: '/previews/mr-7/', PUBLIC_URL: '/previews/mr-7/', NUXT_APP_BASE_URL: '/previews/mr-7/' });
    // A value the job already had would point the preview at another site's files: it is replaced, and said so.
    expect(preview.replaced).toEqual(['PUBLIC_URL']);
    // The live site keeps whatever the project set up for its bundler.
    const live = publicPathVariables('/web/', { PUBLIC_URL: 'https://cdn.example.com/app/' }, false);
    expect(live).toEqual({ variables: { GANTRY_PUBLIC_PATH: '/web/' }, replaced: [] });
  });
});

describe('references by absolute root path to files of this build', () => {
  test("Vite's default base: the HTML names its script, stylesheet and icon from the root, the JS its images and the template's icons", () => {
    expect(referencesIn(viteHtml('/'), 'index.html', viteKeys, '/previews/mr-7/')).toEqual({
      outside: ['/favicon.svg', '/assets/index-CAoPt-vL.js', '/assets/index-CsUDhMuy.css'],
      inside: 0,
    });
    // "/api/counter", "/", "/assets/" and path splitting name no file of the build.
    expect(referencesIn(viteJs('/'), 'assets/index-CAoPt-vL.js', viteKeys, '/previews/mr-7/')).toEqual({
      outside: ['/assets/hero-CLDdwZDr.png', '/assets/vite-BF8QNONU.svg', '/icons.svg#documentation-icon'],
      inside: 0,
    });
  });

  test('with base set to the public path only what the app wrote by hand is left: no HTML rewrite could reach it', () => {
    expect(referencesIn(viteHtml('/previews/mr-7/'), 'index.html', viteKeys, '/previews/mr-7/')).toEqual({ outside: [], inside: 3 });
    expect(referencesIn(viteJs('/previews/mr-7/'), 'assets/index-CAoPt-vL.js', viteKeys, '/previews/mr-7/')).toEqual({
      outside: ['/icons.svg#documentation-icon'],
      inside: 2,
    });
  });

  test('a site served from the bucket root has no reference outside its public path', () => {
    expect(referencesIn(viteHtml('/'), 'index.html', viteKeys, '/')).toEqual({ outside: [], inside: 3 });
  });

  test('CSS url() and @import, srcset, unquoted attributes and query strings; other hosts, data: and relative paths are left alone', () => {
    const keys = new Set(['assets/font-3f2a9c1e.woff2', 'assets/base.css', 'img/a.png', 'img/b.png', 'app.js', 'logo.png']);
    const css =
      '@import "/assets/base.css";@font-face{src:url(/assets/font-3f2a9c1e.woff2) format("woff2")}a{background:url("data:image/png;base64,AAAA")}b{background:url(//cdn.example.com/img/a.png)}c{background:url(img/b.png)}';
    expect(referencesIn(css, 'assets/site.css', keys, '/p/').outside).toEqual(['/assets/base.css', '/assets/font-3f2a9c1e.woff2']);
    const html =
      '<img srcset="/img/a.png 1x, /img/b.png 2x" src=/logo.png?v=3><script src=app.js></script><a href="https://example.com/app.js">x</a><img src="/p/img/a.png">';
    expect(referencesIn(html, 'index.html', keys, '/p/')).toEqual({ outside: ['/img/a.png', '/img/b.png', '/logo.png?v=3'], inside: 1 });
  });

  test('Angular\'s <base href="/"> sends its relative script and stylesheet paths to the root; --base-href with the public path does not', () => {
    const keys = new Set(['index.html', 'main-4BVDYPQL.js', 'styles-5INURTSO.css', 'favicon.ico']);
    const angular = (base: string) =>
      `<!doctype html><html><head><base href="${base}"><link rel="icon" type="image/x-icon" href="favicon.ico"><link rel="stylesheet" href="styles-5INURTSO.css"></head><body><app-root></app-root><script src="main-4BVDYPQL.js" type="module"></script></body></html>`;
    expect(referencesIn(angular('/'), 'index.html', keys, '/previews/mr-7/').outside).toEqual(['<base href="/">']);
    expect(referencesIn(angular('/previews/mr-7/'), 'index.html', keys, '/previews/mr-7/')).toEqual({ outside: [], inside: 1 });
  });

  test('the scan reads the HTML, JS and CSS of the build (not images or maps) and names each file and reference once', async () => {
    const dir = buildDir({
      'index.html': viteHtml('/'),
      'assets/index-CAoPt-vL.js': viteJs('/'),
      'assets/index-CsUDhMuy.css': 'a{background:url(/assets/hero-CLDdwZDr.png)}',
      'assets/index-CAoPt-vL.js.map': '{"sources":["/assets/hero-CLDdwZDr.png"]}',
      'favicon.svg': '<svg><use href="/icons.svg#x"/></svg>',
      'icons.svg': '<svg/>',
      'assets/hero-CLDdwZDr.png': 'png',
      'assets/vite-BF8QNONU.svg': '<svg/>',
    });
    const scan = await findAbsoluteReferences(
      local(dir, [
        'index.html',
        'assets/index-CAoPt-vL.js',
        'assets/index-CsUDhMuy.css',
        'assets/index-CAoPt-vL.js.map',
        'favicon.svg',
        'icons.svg',
        'assets/hero-CLDdwZDr.png',
        'assets/vite-BF8QNONU.svg',
      ]),
      '/previews/mr-7/',
    );
    expect(scan.references).toEqual([
      { file: 'assets/index-CAoPt-vL.js', reference: '/assets/hero-CLDdwZDr.png' },
      { file: 'assets/index-CAoPt-vL.js', reference: '/assets/vite-BF8QNONU.svg' },
      { file: 'assets/index-CAoPt-vL.js', reference: '/icons.svg#documentation-icon' },
      { file: 'assets/index-CsUDhMuy.css', reference: '/assets/hero-CLDdwZDr.png' },
      { file: 'index.html', reference: '/assets/index-CAoPt-vL.js' },
      { file: 'index.html', reference: '/assets/index-CsUDhMuy.css' },
      { file: 'index.html', reference: '/favicon.svg' },
    ]);
    expect(scan.honoured).toBe(false);
  });
});

describe("the bundler's one-line fix", () => {
  test('is chosen from the dependencies of the package.json next to the build output, else the repository root', () => {
    const dir = buildDir({
      'package.json': JSON.stringify({ devDependencies: { typescript: '5' } }),
      'frontend/package.json': JSON.stringify({ devDependencies: { vite: '^8.3.4' } }),
    });
    expect(adviceFor(readFrontendPackage(dir, path.join(dir, 'frontend/dist'))).bundler).toBe('Vite');
    expect(adviceFor(readFrontendPackage(dir, path.join(dir, 'dist'))).bundler).toBe('your bundler');
  });

  test.each([
    [{ devDependencies: { vite: '^8' } }, 'Vite', 'base: process.env.GANTRY_PUBLIC_PATH'],
    [{ dependencies: { 'react-scripts': '5.0.1' } }, 'Create React App', 'PUBLIC_URL'],
    [{ devDependencies: { '@vue/cli-service': '~5.0.0', webpack: '^5' } }, 'Vue CLI', 'publicPath: process.env.GANTRY_PUBLIC_PATH'],
    [{ devDependencies: { '@angular/cli': '^21', '@angular/build': '^21' } }, 'Angular', 'ng build --base-href "$GANTRY_PUBLIC_PATH"'],
    [{ dependencies: { next: '16.0.0' } }, 'Next.js (static export)', "basePath: process.env.GANTRY_PUBLIC_PATH?.replace(/\\/$/, '')"],
    [{ devDependencies: { '@rspack/cli': '^1', '@rspack/core': '^1' } }, 'Rspack', 'publicPath: process.env.GANTRY_PUBLIC_PATH'],
    [{ devDependencies: { webpack: '^5', 'webpack-cli': '^6' } }, 'webpack', 'publicPath: process.env.GANTRY_PUBLIC_PATH'],
    [{ devDependencies: { parcel: '^2' } }, 'Parcel', 'parcel build --public-url "$GANTRY_PUBLIC_PATH"'],
    [{}, 'your bundler', 'GANTRY_PUBLIC_PATH'],
  ])('%j -> %s', (pkg, bundler, line) => {
    const advice = adviceFor(pkg);
    expect(advice.bundler).toBe(bundler);
    expect(advice.fix).toContain(line);
  });
});

describe('checkPublicPath', () => {
  const viteBuild = (base: string) =>
    buildDir({
      'index.html': viteHtml(base),
      'assets/index-CAoPt-vL.js': viteJs(base),
      'favicon.svg': '<svg/>',
      'icons.svg': '<svg/>',
      'assets/hero-CLDdwZDr.png': 'png',
      'assets/vite-BF8QNONU.svg': '<svg/>',
      'assets/index-CsUDhMuy.css': '',
    });
  const keys = [
    'index.html',
    'assets/index-CAoPt-vL.js',
    'assets/index-CsUDhMuy.css',
    'favicon.svg',
    'icons.svg',
    'assets/hero-CLDdwZDr.png',
    'assets/vite-BF8QNONU.svg',
  ];
  const vitePackage = { devDependencies: { vite: '^8.3.4' } };

  test('refuses a preview that names its own files from the root: exit 2, each file and reference, and the line for Vite', async () => {
    const dir = viteBuild('/');
    const { ctx } = ctxWithLines();
    const error = await checkPublicPath(ctx, { files: local(dir, keys), publicPath: '/previews/mr-7/', preview: true, pkg: vitePackage }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GantryError);
    const e = error as GantryError;
    expect([e.code, e.exitCode]).toEqual(['E_PREVIEW_ABSOLUTE_PATH', 2]);
    expect(e.message).toBe(
      'the preview would load 6 of its files from the live site (6 references, below): the build names them from the site root, not from /previews/mr-7/ where the preview is served; nothing was published',
    );
    expect(e.details).toEqual([
      'assets/index-CAoPt-vL.js: /assets/hero-CLDdwZDr.png',
      'assets/index-CAoPt-vL.js: /assets/vite-BF8QNONU.svg',
      'assets/index-CAoPt-vL.js: /icons.svg#documentation-icon',
      'index.html: /assets/index-CAoPt-vL.js',
      'index.html: /assets/index-CsUDhMuy.css',
      'index.html: /favicon.svg',
    ]);
    expect(e.fix).toContain('Vite: add base: process.env.GANTRY_PUBLIC_PATH, to the config in vite.config.js');
    expect(e.fix).toContain('Gantry sets GANTRY_PUBLIC_PATH=/previews/mr-7/ for the build');
  });

  test("once the bundler writes the public path, the fix points at the paths the app's own code writes", async () => {
    const dir = viteBuild('/previews/mr-7/');
    const { ctx } = ctxWithLines();
    const e = (await checkPublicPath(ctx, { files: local(dir, keys), publicPath: '/previews/mr-7/', preview: true, pkg: vitePackage }).catch(
      (x: unknown) => x,
    )) as GantryError;
    expect(e.code).toBe('E_PREVIEW_ABSOLUTE_PATH');
    expect(e.details).toEqual(['assets/index-CAoPt-vL.js: /icons.svg#documentation-icon']);
    expect(e.fix).toContain('the build already uses /previews/mr-7/');
    expect(e.fix).toContain('build them from import.meta.env.BASE_URL, e.g. `${import.meta.env.BASE_URL}icons.svg#documentation-icon`');
  });

  test('a preview whose files all come from its own path passes, and says nothing', async () => {
    const dir = buildDir({ 'index.html': viteHtml('/previews/mr-7/'), 'assets/index-CAoPt-vL.js': 'console.log(`/previews/mr-7/icons.svg`)' });
    const { ctx, lines } = ctxWithLines();
    await expect(
      checkPublicPath(ctx, { files: local(dir, ['index.html', 'assets/index-CAoPt-vL.js']), publicPath: '/previews/mr-7/', preview: true, pkg: vitePackage }),
    ).resolves.toBeUndefined();
    expect(lines.join('')).toBe('');
  });

  test('the live site under frontend.prefix gets the same findings as a warning, and is published', async () => {
    const dir = viteBuild('/');
    const { ctx, lines } = ctxWithLines();
    await expect(checkPublicPath(ctx, { files: local(dir, keys), publicPath: '/web/', preview: false, pkg: vitePackage })).resolves.toBeUndefined();
    const text = lines.join('');
    expect(text).toContain('warning: the build names 6 of its files from the site root, not from /web/ where frontend.prefix puts them');
    expect(text).toContain('index.html: /assets/index-CAoPt-vL.js');
    expect(text).toContain('Vite: add base: process.env.GANTRY_PUBLIC_PATH, to the config in vite.config.js');
  });

  test('a site at the bucket root is not scanned at all', async () => {
    const { ctx, lines } = ctxWithLines();
    // The files do not exist: reading any of them would fail.
    await expect(checkPublicPath(ctx, { files: local('/nonexistent', keys), publicPath: '/', preview: false, pkg: vitePackage })).resolves.toBeUndefined();
    expect(lines.join('')).toBe('');
  });
});

describe('?v= for unhashed files, once the build writes the public path', () => {
  test('a reference below the public path resolves against the bundle root, as a root reference always did', () => {
    const unhashed = new Set(['favicon.svg', 'app.js']);
    const html = '<link rel="icon" href="/web/favicon.svg"><script src="/app.js"></script><img src="/web/other.png">';
    expect(addVersionToReferences(html, 'index.html', unhashed, 's1', '/web/')).toEqual({
      html: '<link rel="icon" href="/web/favicon.svg?v=s1"><script src="/app.js?v=s1"></script><img src="/web/other.png">',
      references: 2,
    });
    // Without a public path (the bucket root), as before.
    expect(addVersionToReferences(html, 'index.html', unhashed, 's1').references).toBe(1);
  });
});
