// gantry frontend --website and the CDN refresh, through the real CLI: the real ali-oss client
// against the OSS test server, Gantry's CDN client against the CDN test server. Every run that has
// a CDN configured points frontend.cdn.endpoint at 127.0.0.1: no real Aliyun endpoint is called.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import OSS from 'ali-oss';
import { startCdnServer, type CdnServer } from '../support/cdn-server.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const ossKeyId = 'LTAI5tGantryTestKeyId';
const ossSecret = 'gantry-test-secret-0123456789abcdef';
const cdnKeyId = 'LTAI5tGantryCdnKeyId';
const cdnSecret = 'gantry-cdn-secret-fedcba9876543210';
const domain = 'www.hello.example.com';
let oss: OssServer;
let cdn: CdnServer;

beforeAll(async () => {
  oss = await startOssServer({ accessKeyId: ossKeyId, accessKeySecret: ossSecret, buckets: ['acme-hello-web', 'web-spa', 'web-404'] });
  // The CDN knows its own RAM user and the OSS one (the fallback when no CDN pair is set).
  cdn = await startCdnServer({ accessKeyId: cdnKeyId, accessKeySecret: cdnSecret, moreKeys: { [ossKeyId]: ossSecret } });
});
afterAll(async () => {
  await oss.close();
  await cdn.close();
});
beforeEach(() => {
  oss.clearFaults();
  cdn.clearFaults();
});

type Run = { code: number | null; stdout: string; stderr: string };

/** `gantry frontend` on a repo whose site is already built into site/ (--skip-build). */
function frontend(repo: string, args: string[], options: { cdn?: boolean; env?: Record<string, string> } = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const set = [`frontend.endpoint=${oss.endpoint}`, 'frontend.dir=site'];
  // The CDN domain never goes without the local endpoint.
  if (options.cdn) set.push(`frontend.cdn.domain=${domain}`, `frontend.cdn.endpoint=${cdn.endpoint}`);
  const child = spawn(process.execPath, [cliPath, 'frontend', '--skip-build', ...args], {
    cwd: repo,
    env: {
      ...base,
      GANTRY_OSS_ACCESS_KEY_ID: ossKeyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: ossSecret,
      ...(options.cdn ? { GANTRY_CDN_ACCESS_KEY_ID: cdnKeyId, GANTRY_CDN_ACCESS_KEY_SECRET: cdnSecret } : {}),
      GANTRY_SET: set.join('\n'),
      GANTRY_OSS_RETRIES: '3',
      ...options.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

// Relative asset paths, so the same pages also make a preview that loads its own files.
const page = (title: string, up = '') =>
  `<!doctype html>\n<html><head><title>${title}</title><script src="${up}assets/app.1a2b3c4d.js"></script></head><body>${title}</body></html>\n`;

/** A built static site: a root page, a directory index, a plain page, a 404 page and a hashed asset. */
function siteRepo(): string {
  return exampleRepo({
    files: {
      'site/index.html': page('home'),
      'site/docs/index.html': page('docs', '../'),
      'site/about.html': page('about'),
      'site/404.html': page('not found'),
      'site/assets/app.1a2b3c4d.js': 'console.log("app");\n',
    },
  });
}

const websitePuts = (from: number, bucket: string) => oss.requests.slice(from).filter((r) => r.bucket === bucket && 'website' in r.query && r.method === 'PUT');
const websiteGets = (from: number, bucket: string) => oss.requests.slice(from).filter((r) => r.bucket === bucket && 'website' in r.query && r.method === 'GET');
const summaryOf = (r: Run) => JSON.parse(r.stdout.trim().split('\n').pop()!);

describe('gantry frontend --website', () => {
  test('SPA hosting: --dry-run prints the XML and sends nothing; then index.html answers every missing path with 200; a re-run does not PUT again', async () => {
    const repo = siteRepo();
    const env = { GANTRY_FRONTEND_BUCKET: 'web-spa' };
    const spa = ['--env', 'staging', '--website', '--set', 'frontend.website.spa=true'];

    let mark = oss.requests.length;
    const dry = await frontend(repo, [...spa, '--dry-run'], { env });
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain('would PUT ?website:');
    expect(dry.stderr).toContain('<Key>index.html</Key>');
    expect(dry.stderr).toContain('<HttpStatus>200</HttpStatus>');
    expect(websitePuts(mark, 'web-spa')).toEqual([]);
    expect(oss.website('web-spa')).toBeNull();

    mark = oss.requests.length;
    const applied = await frontend(repo, spa, { env });
    expect(applied.code).toBe(0);
    expect(summaryOf(applied)).toMatchObject({ uploaded: 5, website: { changed: true, applied: true } });
    expect(websitePuts(mark, 'web-spa')).toHaveLength(1);
    // The PUT comes after the pages it names are live.
    const putAt = oss.requests.indexOf(websitePuts(mark, 'web-spa')[0]!);
    const indexAt = oss.requests.findIndex((r, i) => i >= mark && r.method === 'PUT' && r.key === 'index.html');
    expect(indexAt).toBeGreaterThan(-1);
    expect(putAt).toBeGreaterThan(indexAt);
    expect(oss.website('web-spa')).toMatchObject({ suffix: 'index.html', supportSubDir: 'true', type: '0', errorKey: 'index.html', errorStatus: '200' });

    // Read back by the real ali-oss client, as a user's own tooling would.
    const client = new OSS({
      accessKeyId: ossKeyId,
      accessKeySecret: ossSecret,
      bucket: 'web-spa',
      region: 'oss-cn-hangzhou',
      endpoint: oss.endpoint,
      secure: false,
    });
    expect(await client.getBucketWebsite('web-spa')).toMatchObject({ index: 'index.html', supportSubDir: 'true', type: '0', error: 'index.html' });

    // Nothing changed: read, compared (HttpStatus included), not sent again.
    mark = oss.requests.length;
    const again = await frontend(repo, spa, { env });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('website hosting is already configured');
    expect(summaryOf(again)).toMatchObject({ uploaded: 0, website: { changed: false, applied: false } });
    expect(websiteGets(mark, 'web-spa')).toHaveLength(1);
    expect(websitePuts(mark, 'web-spa')).toEqual([]);

    // Someone sets a 404 page in the console (ali-oss cannot send HttpStatus): the next run puts SPA hosting back.
    await client.putBucketWebsite('web-spa', { index: 'index.html', error: '404.html' });
    mark = oss.requests.length;
    const restored = await frontend(repo, spa, { env });
    expect(restored.code).toBe(0);
    expect(restored.stderr).toContain('ErrorDocument/Key: 404.html -> index.html');
    expect(restored.stderr).toContain('ErrorDocument/HttpStatus: 404 -> 200');
    expect(websitePuts(mark, 'web-spa')).toHaveLength(1);
    expect(oss.website('web-spa')).toMatchObject({ errorKey: 'index.html', errorStatus: '200' });
  }, 90_000);

  test('a 404 page under the prefix answers 404; spa with notFound is a config error before anything is sent', async () => {
    const repo = siteRepo();
    const env = { GANTRY_FRONTEND_BUCKET: 'web-404' };
    const r = await frontend(repo, ['--env', 'staging', '--website', '--set', 'frontend.prefix=www', '--set', 'frontend.website.notFound=404.html'], { env });
    expect(r.code).toBe(0);
    expect(oss.website('web-404')).toMatchObject({ suffix: 'index.html', errorKey: 'www/404.html', errorStatus: '404' });

    const mark = oss.requests.length;
    const both = await frontend(repo, ['--env', 'staging', '--website', '--set', 'frontend.website.notFound=404.html', '--set', 'frontend.website.spa=true'], {
      env,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('error E_CONFIG_INVALID');
    expect(both.stderr).toContain('frontend.website.notFound');
    expect(oss.requests.length).toBe(mark);
  }, 60_000);
});

describe('CDN refresh after a publish', () => {
  const url = (p: string) => `https://${domain}/${p}`;

  test('the first publish refreshes its pages; a publish that changes one HTML file refreshes exactly its URLs; no change, no call', async () => {
    const repo = siteRepo();
    let mark = cdn.calls.length;
    const first = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c1'], { cdn: true });
    expect(first.code).toBe(0);
    const all = [url('c1/'), url('c1/404.html'), url('c1/about.html'), url('c1/docs/'), url('c1/docs/index.html'), url('c1/index.html')];
    expect(
      cdn.calls
        .slice(mark)
        .flatMap((c) => c.paths)
        .sort(),
    ).toEqual(all);
    expect(cdn.calls.slice(mark).every((c) => c.objectType === 'File' && c.accessKeyId === cdnKeyId)).toBe(true);
    expect(summaryOf(first).cdn).toEqual({ urls: all, taskIds: cdn.calls.slice(mark).map((c) => c.taskId) });

    writeFileSync(path.join(repo, 'site/docs/index.html'), page('docs, second edition', '../'));
    mark = cdn.calls.length;
    const second = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c1'], { cdn: true });
    expect(second.code).toBe(0);
    expect(summaryOf(second)).toMatchObject({ uploaded: 1 });
    expect(cdn.calls.slice(mark)).toHaveLength(1);
    expect(cdn.calls[mark]!.paths).toEqual([url('c1/docs/'), url('c1/docs/index.html')]);
    expect(second.stderr).toContain(`task ${cdn.calls[mark]!.taskId}`);

    mark = cdn.requests.length;
    const third = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c1'], { cdn: true });
    expect(third.code).toBe(0);
    expect(third.stderr).toContain('no HTML changed: nothing to refresh');
    expect(cdn.requests.length).toBe(mark);
  }, 90_000);

  test('--dry-run prints the URLs it would refresh and calls nothing; a preview refreshes under previews/mr-<iid>/ with the OSS key pair when no CDN pair is set', async () => {
    const repo = siteRepo();
    const mark = cdn.requests.length;
    const dry = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c2', '--dry-run'], { cdn: true });
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain(`would refresh ${url('c2/docs/')}`);
    expect(dry.stderr).toContain(`would refresh ${url('c2/')}\n`);
    expect(cdn.requests.length).toBe(mark);

    const callsBefore = cdn.calls.length;
    const preview = await frontend(repo, ['--mr', '7', '--set', 'frontend.prefix=c2'], {
      cdn: true,
      env: { GANTRY_CDN_ACCESS_KEY_ID: '', GANTRY_CDN_ACCESS_KEY_SECRET: '' },
    });
    expect(preview.code).toBe(0);
    const calls = cdn.calls.slice(callsBefore);
    expect(calls.map((c) => c.accessKeyId)).toEqual([ossKeyId]);
    expect(calls[0]!.paths).toContain(url('c2/previews/mr-7/'));
    expect(calls[0]!.paths.every((p) => p.startsWith(url('c2/previews/mr-7/')))).toBe(true);
  }, 60_000);

  test('a 503 once is retried, signed afresh, and the refresh completes', async () => {
    const repo = siteRepo();
    const mark = cdn.requests.length;
    cdn.failNext(1, 503);
    const r = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c3'], { cdn: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/refresh 6 URLs: ServiceUnavailable: [^\n]*; retrying \(3 left\)/);
    const sent = cdn.requests.slice(mark);
    expect(sent.map((q) => q.status)).toEqual([503, 200]);
    expect(summaryOf(r).cdn.taskIds).toHaveLength(1);
  }, 60_000);

  test('a wrong CDN secret fails with exit 1 after the publish: the files are published, the message says so, the secret is nowhere', async () => {
    const repo = siteRepo();
    const wrong = 'wrong-cdn-secret-value-4242';
    const mark = cdn.requests.length;
    const r = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c4'], { cdn: true, env: { GANTRY_CDN_ACCESS_KEY_SECRET: wrong } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_CDN_ACCESS: The files ARE published to acme-hello-web/c4/; only the CDN cache refresh failed');
    expect(r.stderr).toContain('SignatureDoesNotMatch');
    expect(r.stderr).toContain('GANTRY_CDN_ACCESS_KEY_SECRET');
    expect(r.stdout + r.stderr).not.toContain(wrong);
    // Refused once, not retried.
    expect(cdn.requests.slice(mark).map((q) => q.code)).toEqual(['SignatureDoesNotMatch']);
    // The publish completed: every page is in the bucket, and the summary still says so.
    expect(summaryOf(r)).toMatchObject({ uploaded: 5, cdn: { taskIds: [] } });
    const objects = oss.objects('acme-hello-web');
    for (const key of ['index.html', 'docs/index.html', 'about.html', '404.html', 'assets/app.1a2b3c4d.js']) expect(objects.has(`c4/${key}`)).toBe(true);
    expect(objects.get('c4/index.html')!.body.toString()).toBe(page('home'));
  }, 60_000);

  test('a CDN that keeps failing fails the step with E_CDN_REFRESH after bounded retries; half a CDN key pair is refused before anything is sent', async () => {
    const repo = siteRepo();
    cdn.failNext(100, 'throttling');
    const mark = cdn.requests.length;
    const r = await frontend(repo, ['--env', 'staging', '--set', 'frontend.prefix=c5'], { cdn: true, env: { GANTRY_OSS_RETRIES: '2' } });
    cdn.clearFaults();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_CDN_REFRESH: The files ARE published to acme-hello-web/c5/');
    expect(cdn.requests.length - mark).toBe(3);
    expect(oss.objects('acme-hello-web').has('c5/index.html')).toBe(true);

    const ossMark = oss.requests.length;
    const half = await frontend(siteRepo(), ['--env', 'staging', '--set', 'frontend.prefix=c6'], { cdn: true, env: { GANTRY_CDN_ACCESS_KEY_SECRET: '' } });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('error E_CDN_KEY_PARTIAL: GANTRY_CDN_ACCESS_KEY_SECRET is missing');
    expect(oss.requests.slice(ossMark).filter((q) => q.method === 'PUT')).toEqual([]);
  }, 60_000);
});
