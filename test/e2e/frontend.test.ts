// gantry frontend against the OSS test server, through the real ali-oss client.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const keyId = 'LTAI5tGantryTestKeyId';
const secret = 'gantry-test-secret-0123456789abcdef';
const bucket = 'acme-hello-web';
let oss: OssServer;

beforeAll(async () => {
  oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket, 'other-bucket'] });
});
afterAll(() => oss.close());

function frontend(repo: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const child = spawn(process.execPath, [cliPath, 'frontend', ...args], {
    cwd: repo,
    env: {
      ...base,
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
      GANTRY_SET: `frontend.endpoint=${oss.endpoint}`,
      GANTRY_OSS_RETRIES: '3',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const puts = (from = 0) =>
  oss.requests
    .slice(from)
    .filter((r) => r.method === 'PUT' && r.bucket === bucket && r.status === 200)
    .map((r) => r.key);

describe('gantry frontend', () => {
  test('first publish sends every file, assets before HTML and index.html last, with the right headers', async () => {
    const repo = exampleRepo();
    const mark = oss.requests.length;
    const r = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site1']);
    expect(r.stderr).toContain('frontend built into frontend/dist');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ bucket, prefix: 'site1/', uploaded: 3, unchanged: 0 });
    const all = puts(mark);
    const sent = all.filter((k) => !k.includes('/.gantry/'));
    expect(sent).toHaveLength(3);
    expect(sent[sent.length - 1]).toBe('site1/index.html');
    // Once the site is live: the copy of its HTML, the release record, then the live pointer.
    expect(all.slice(-3)[0]).toMatch(/^site1\/\.gantry\/html\/\d{8}T\d{9}Z-[0-9a-f]{7,8}\/index\.html$/);
    expect(all.slice(-2)[0]).toMatch(/^site1\/\.gantry\/releases\/\d{8}T\d{9}Z-[0-9a-f]{7,8}\.json\.gz$/);
    expect(all[all.length - 1]).toBe('site1/.gantry/live.json');
    const objects = oss.objects(bucket);
    const js = [...objects.keys()].find((k) => /^site1\/assets\/app\.[0-9a-f]{8}\.js$/.test(k))!;
    expect(objects.get(js)!.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(objects.get(js)!.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(objects.get('site1/index.html')!.headers['cache-control']).toBe('no-cache');
    expect(objects.get('site1/index.html')!.headers['content-type']).toBe('text/html; charset=utf-8');
    // Every asset the published index.html names is there.
    const html = objects.get('site1/index.html')!.body.toString();
    for (const ref of html.match(/assets\/[\w.]+/g) ?? []) expect(objects.has(`site1/${ref}`)).toBe(true);
  }, 60_000);

  test('a re-publish sends only what changed: nothing, then the changed asset and index.html', async () => {
    const repo = exampleRepo();
    expect((await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site2'])).code).toBe(0);
    let mark = oss.requests.length;
    const again = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site2']);
    expect(JSON.parse(again.stdout)).toMatchObject({ uploaded: 0, unchanged: 3 });
    expect(puts(mark)).toEqual([]);
    writeFileSync(path.join(repo, 'frontend/src/app.js'), `${readFileSync(path.join(repo, 'frontend/src/app.js'), 'utf8')}\nconsole.log('v2');\n`);
    mark = oss.requests.length;
    const changed = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site2']);
    expect(JSON.parse(changed.stdout)).toMatchObject({ uploaded: 2, unchanged: 1 });
    const sent = puts(mark).filter((k) => !k.includes('/.gantry/'));
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^site2\/assets\/app\.[0-9a-f]{8}\.js$/);
    expect(sent[1]).toBe('site2/index.html');
  }, 60_000);

  test('transient 5xx answers on the listing are retried and the publish completes', async () => {
    const repo = exampleRepo();
    expect((await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site3'])).code).toBe(0);
    writeFileSync(path.join(repo, 'frontend/src/style.css'), 'body { color: red; }\n');
    // The first two requests (the listing, then a retry of it) get 503; the uploads follow.
    oss.faults.failNext(2, 503);
    const r = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site3', '--concurrency', '1']);
    oss.faults.clearFaults();
    expect(r.stderr).toMatch(/list acme-hello-web\/site3\/: [^\n]*; retrying \(3 left\)/);
    expect(r.stderr).toMatch(/retrying \(2 left\)/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).uploaded).toBe(2);
  }, 60_000);

  test('--dry-run lists the plan from the built files and sends nothing; a review goes under previews/mr-<iid>/', async () => {
    const repo = exampleRepo();
    // A dry run does not build (#13): the files come from a real run under another prefix.
    expect((await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site4-built'])).code).toBe(0);
    const mark = oss.requests.length;
    const dry = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site4', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain('dry run: the frontend build (npm run build:frontend) is not run');
    expect(dry.stderr).not.toContain('frontend built into');
    expect(dry.stderr).toContain('would put site4/index.html');
    expect(puts(mark)).toEqual([]);
    const review = await frontend(repo, ['--mr', '7', '--set', 'frontend.prefix=site4']);
    expect(review.code).toBe(0);
    expect(JSON.parse(review.stdout).prefix).toBe('site4/previews/mr-7/');
    expect(oss.objects(bucket).has('site4/previews/mr-7/index.html')).toBe(true);
  }, 60_000);

  test('wrong secret, missing bucket, failed build and empty output fail with their codes and no secret', async () => {
    const repo = exampleRepo();
    const wrong = await frontend(repo, ['--env', 'staging'], { GANTRY_OSS_ACCESS_KEY_SECRET: 'wrong-secret-value-xyz' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('error E_OSS_ACCESS');
    expect(wrong.stderr + wrong.stdout).not.toContain('wrong-secret-value-xyz');
    const noBucket = await frontend(repo, ['--env', 'staging'], { GANTRY_FRONTEND_BUCKET: 'missing-bucket' });
    expect(noBucket.code).toBe(1);
    expect(noBucket.stderr).toContain('error E_OSS_BUCKET');
    const failing = await frontend(repo, ['--env', 'staging', '--set', 'frontend.build=echo broken step; exit 4']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('error E_FRONTEND_BUILD_FAILED: "echo broken step; exit 4" exited with 4');
    expect(failing.stderr).toContain('broken step');
    const empty = await frontend(repo, ['--env', 'staging', '--set-string', 'frontend.build=true', '--set', 'frontend.dir=nothing-here']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('error E_FRONTEND_EMPTY: nothing-here does not exist');
    const noKeys = await frontend(repo, ['--env', 'staging'], { GANTRY_OSS_ACCESS_KEY_ID: '' });
    expect(noKeys.code).toBe(2);
  }, 60_000);

  test('retention: files of releases older than the last N are deleted, never unrecorded files or current ones', async () => {
    const repo = exampleRepo();
    const run = (n: number) =>
      frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site5', '--set', 'frontend.retention=2']).then((r) => {
        expect(r.code).toBe(0);
        return { n, ...JSON.parse(r.stdout) };
      });
    const appKeys = () => [...oss.objects(bucket).keys()].filter((k) => /^site5\/assets\/app\./.test(k)).sort();
    const releases = () => [...oss.objects(bucket).keys()].filter((k) => k.startsWith('site5/.gantry/releases/'));
    await run(1);
    // A file some other tool put there: Gantry never recorded it, so it must survive.
    oss.objects(bucket).set('site5/robots.txt', { ...oss.objects(bucket).get('site5/index.html')!, body: Buffer.from('User-agent: *\n') });
    const versions: string[] = [];
    for (let v = 2; v <= 4; v++) {
      writeFileSync(path.join(repo, 'frontend/src/app.js'), `${readFileSync(path.join(repo, 'frontend/src/app.js'), 'utf8')}\nconsole.log(${v});\n`);
      const r = await run(v);
      versions.push(r.planned.find((k: string) => k.includes('assets/app.')));
      // With N = 2, release v deletes what only release v-2 used, the copy of its HTML, and the
      // record of v-2, except release 1's: it is the snapshot the later records are deltas of.
      expect(r.deleted).toBe(v === 3 ? 2 : v === 4 ? 3 : 0);
    }
    // Releases 3 and 4, and the snapshot they are deltas of.
    expect(releases()).toHaveLength(3);
    // The last two releases' app bundles remain; the two before them are gone.
    expect(appKeys()).toEqual([versions[1], versions[2]].sort());
    expect(oss.objects(bucket).has('site5/robots.txt')).toBe(true);
    const html = oss.objects(bucket).get('site5/index.html')!.body.toString();
    for (const ref of html.match(/assets\/[\w.]+/g) ?? []) expect(oss.objects(bucket).has(`site5/${ref}`)).toBe(true);
  }, 120_000);

  test('stopping a preview deletes its prefix and nothing else', async () => {
    const repo = exampleRepo();
    expect((await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=site6'])).code).toBe(0);
    expect((await frontend(repo, ['--mr', '12', '--set', 'frontend.prefix=site6'])).code).toBe(0);
    const under = (p: string) => [...oss.objects(bucket).keys()].filter((k) => k.startsWith(p));
    expect(under('site6/previews/mr-12/').length).toBeGreaterThan(0);
    const stop = await frontend(repo, ['--mr', '12', '--stop', '--set', 'frontend.prefix=site6']);
    expect(stop.code).toBe(0);
    expect(JSON.parse(stop.stdout).deleted).toBeGreaterThan(0);
    expect(under('site6/previews/mr-12/')).toEqual([]);
    expect(oss.objects(bucket).has('site6/index.html')).toBe(true);
    expect((await frontend(repo, ['--env', 'staging', '--stop', '--set', 'frontend.prefix=site6'])).code).toBe(2);
  }, 60_000);

  test('a bundle without hashed names gets ?v=<short sha> in its HTML; gzip-encoded text is stored compressed and compared as sent', async () => {
    const js = 'document.title = "hello";\n'.repeat(100);
    const repo = exampleRepo({
      files: {
        'public/index.html': '<!doctype html><link rel="stylesheet" href="style.css"><script src="/bundle.js"></script><img src="logo.png">',
        'public/bundle.js': js,
        'public/style.css': 'body { color: red; }\n'.repeat(50),
        'public/logo.png': 'not really a png',
      },
    });
    const sha = () => execFileSync('git', ['rev-parse', '--short=8', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    const args = ['--env', 'staging', '--skip-build', '--set', 'frontend.prefix=classic', '--set', 'frontend.dir=public', '--set', 'frontend.encoding=gzip'];
    const first = await frontend(repo, args);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ uploaded: 4 });
    const objects = oss.objects(bucket);
    const index = objects.get('classic/index.html')!;
    expect(index.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(index.body).toString()).toBe(
      `<!doctype html><link rel="stylesheet" href="style.css?v=${sha()}"><script src="/bundle.js?v=${sha()}"></script><img src="logo.png?v=${sha()}">`,
    );
    expect(objects.get('classic/bundle.js')!.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(objects.get('classic/bundle.js')!.body).toString()).toBe(js);
    expect(objects.get('classic/logo.png')!.headers['content-encoding']).toBeUndefined();
    expect(first.stderr).toContain('index.html: 3 reference(s) to unhashed assets get ?v=');

    // The plan compares the bucket with the compressed bytes: nothing to send again.
    const same = await frontend(repo, args);
    expect(JSON.parse(same.stdout)).toMatchObject({ uploaded: 0, unchanged: 4 });

    // A new commit with the same files: only the HTML changes (its ?v=), the assets stay.
    execFileSync('git', ['commit', '-q', '--allow-empty', '-m', 'next'], { cwd: repo });
    const next = await frontend(repo, args);
    expect(JSON.parse(next.stdout)).toMatchObject({ uploaded: 1, unchanged: 3, planned: ['classic/index.html'] });
    expect(gunzipSync(oss.objects(bucket).get('classic/index.html')!.body).toString()).toContain(`/bundle.js?v=${sha()}`);
  }, 60_000);

  test('names as Vite writes them (dash or underscore inside, no digit) are cached for a year and get no ?v=', async () => {
    // Real names from Vite 8.4.0 output (test/fixtures/hashed-names/vite-8.4.0-rolldown.txt);
    // app-settings.js is a public/ file Vite copies as it is.
    const html =
      '<!doctype html><script type="module" src="/assets/index-Joqn-uEF.js"></script><link rel="stylesheet" href="/assets/page32-BNVS_kR-.css"><img src="/assets/hero11-pioNgeTC.png"><script src="/app-settings.js"></script>';
    const repo = exampleRepo({
      files: {
        'web/index.html': html,
        'web/assets/index-Joqn-uEF.js': 'console.log(1);\n',
        'web/assets/page32-BNVS_kR-.css': 'p { margin: 0; }\n',
        'web/assets/hero11-pioNgeTC.png': 'png bytes',
        'web/app-settings.js': 'window.settings = {};\n',
      },
    });
    const sha = execFileSync('git', ['rev-parse', '--short=8', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    const r = await frontend(repo, ['--env', 'staging', '--skip-build', '--set', 'frontend.prefix=vite', '--set', 'frontend.dir=web']);
    expect(r.code).toBe(0);
    const objects = oss.objects(bucket);
    for (const k of ['assets/index-Joqn-uEF.js', 'assets/page32-BNVS_kR-.css', 'assets/hero11-pioNgeTC.png']) {
      expect([k, objects.get(`vite/${k}`)!.headers['cache-control']]).toEqual([k, 'public, max-age=31536000, immutable']);
    }
    expect(objects.get('vite/app-settings.js')!.headers['cache-control']).toBe('public, max-age=300');
    // Only the unhashed public file is given ?v=.
    expect(objects.get('vite/index.html')!.body.toString()).toBe(html.replace('/app-settings.js', `/app-settings.js?v=${sha}`));
  }, 60_000);

  test("the bundler's manifest decides: a hash that reads as a word is hashed when Vite's manifest names it", async () => {
    // From the Vite 7.3.8 build: "Dnedygby" reads as a word, so the name rule alone leaves it unhashed.
    const manifest = { 'pages/page46.js': { file: 'assets/page46-Dnedygby.js', src: 'pages/page46.js', isDynamicEntry: true } };
    const files = { 'web/index.html': '<script src="/assets/page46-Dnedygby.js"></script>', 'web/assets/page46-Dnedygby.js': 'export {};\n' };
    const args = (prefix: string) => ['--env', 'staging', '--skip-build', '--set', `frontend.prefix=${prefix}`, '--set', 'frontend.dir=web'];
    const without = await frontend(exampleRepo({ files }), args('nomanifest'));
    expect(without.code).toBe(0);
    expect(oss.objects(bucket).get('nomanifest/assets/page46-Dnedygby.js')!.headers['cache-control']).toBe('public, max-age=300');
    const withManifest = await frontend(exampleRepo({ files: { ...files, 'web/.vite/manifest.json': JSON.stringify(manifest) } }), args('manifest'));
    expect(withManifest.code).toBe(0);
    expect(withManifest.stderr).toContain(".vite/manifest.json: the bundler's manifest names 1 outputs");
    expect(oss.objects(bucket).get('manifest/assets/page46-Dnedygby.js')!.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(oss.objects(bucket).get('manifest/index.html')!.body.toString()).not.toContain('?v=');
  }, 60_000);

  test('a hashed name whose bytes changed since an earlier release is reported and sent no-cache, not immutable', async () => {
    const repo = exampleRepo({
      files: { 'web/index.html': '<script src="/assets/app-BN2aX8kq.js"></script>', 'web/assets/app-BN2aX8kq.js': 'console.log("v1");\n' },
    });
    const args = ['--env', 'staging', '--skip-build', '--set', 'frontend.prefix=inplace', '--set', 'frontend.dir=web'];
    expect((await frontend(repo, args)).code).toBe(0);
    expect(oss.objects(bucket).get('inplace/assets/app-BN2aX8kq.js')!.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // Same name, other bytes: a build that does not hash what it writes.
    const v2 = 'console.log("v2");\n'.repeat(40);
    writeFileSync(path.join(repo, 'web/assets/app-BN2aX8kq.js'), v2);
    const r = await frontend(repo, args);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warn[^\n]*inplace\/assets\/app-BN2aX8kq\.js: its name carries a content hash, yet its bytes differ[^\n]*no-cache/);
    const object = oss.objects(bucket).get('inplace/assets/app-BN2aX8kq.js')!;
    expect(object.body.toString()).toBe(v2);
    expect(object.headers['cache-control']).toBe('no-cache');
    // Turning on gzip changes the bytes, not the content: no warning for that, and the name that
    // changed in place stays no-cache.
    const gz = await frontend(repo, [...args, '--set', 'frontend.encoding=gzip']);
    expect(gz.code).toBe(0);
    expect(JSON.parse(gz.stdout)).toMatchObject({ uploaded: 1, planned: ['inplace/assets/app-BN2aX8kq.js'] });
    expect(gz.stderr).not.toContain('its name carries a content hash');
    expect(oss.objects(bucket).get('inplace/assets/app-BN2aX8kq.js')!.headers).toMatchObject({ 'content-encoding': 'gzip', 'cache-control': 'no-cache' });
  }, 60_000);

  test('an object whose listed ETag is empty or not an MD5 is compared by the MD5 stored with it', async () => {
    const repo = exampleRepo();
    const args = ['--env', 'staging', '--set', 'frontend.prefix=etags'];
    expect((await frontend(repo, args)).code).toBe(0);
    const objects = oss.objects(bucket);
    const [js, css] = ['app', 'style'].map((n) => [...objects.keys()].find((k) => k.startsWith(`etags/assets/${n}.`))!);
    // As some stores list them: no ETag at all, and an opaque one that is no MD5.
    objects.set(js!, { ...objects.get(js!)!, etag: '' });
    objects.set(css!, { ...objects.get(css!)!, etag: '"0x8DC5A2B3C4D5E6F"' });
    const mark = oss.requests.length;
    const r = await frontend(repo, args);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ uploaded: 0, unchanged: 3 });
    expect(r.stderr).not.toContain('its name carries a content hash');
    expect(
      oss.requests
        .slice(mark)
        .filter((q) => q.method === 'HEAD')
        .map((q) => q.key)
        .sort(),
    ).toEqual([css, js].sort());
    expect(puts(mark)).toEqual([]);
  }, 60_000);
});
