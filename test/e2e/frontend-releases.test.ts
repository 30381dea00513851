// Frontend releases staged, made live and rolled back (#15), through the real CLI: the real ali-oss
// client against the OSS test server, Gantry's CDN client against the CDN test server (the CDN
// endpoint is 127.0.0.1: no real Aliyun endpoint is called).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';
import { activateSite, liveRelease, rollbackSite, stageSite } from '../../src/site/release.js';
import { type CdnServer, startCdnServer } from '../support/cdn-server.js';
import { type OssServer, startOssServer } from '../support/oss-server.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const keyId = 'LTAI5tReleaseKeyId';
const secret = 'release-test-secret-0123456789abcdef';
const bucket = 'acme-hello-web';
const domain = 'www.hello.example.com';
let oss: OssServer;
let cdn: CdnServer;
/** When each OSS request was answered (ms), by its index in oss.requests. */
const doneAt = new Map<number, number>();
let repo: string;

beforeAll(async () => {
  oss = await startOssServer({
    accessKeyId: keyId,
    accessKeySecret: secret,
    buckets: [bucket],
    onRequestDone: (entry) => doneAt.set(oss.requests.indexOf(entry), Date.now()),
  });
  cdn = await startCdnServer({ accessKeyId: keyId, accessKeySecret: secret });
  // Three versions of the example's frontend, built once: each changes both assets (new hashed names).
  repo = exampleRepo();
  for (const v of [1, 2, 3]) {
    for (const f of ['app.js', 'style.css'])
      writeFileSync(path.join(repo, 'frontend/src', f), `${readFileSync(path.join(repo, 'frontend/src', f), 'utf8')}\n/* v${v} */\n`);
    execFileSync(process.execPath, ['frontend/build.mjs'], { cwd: repo });
    cpSync(path.join(repo, 'frontend/dist'), path.join(repo, `frontend/v${v}`), { recursive: true });
  }
});
afterAll(async () => {
  await oss.close();
  await cdn.close();
});

type Run = { code: number | null; stdout: string; stderr: string; ms: number };

function frontend(args: string[], options: { v?: number; prefix: string; retention?: number; cdn?: boolean; mr?: string }): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const set = [`frontend.endpoint=${oss.endpoint}`, `frontend.prefix=${options.prefix}`, `frontend.dir=frontend/v${options.v ?? 1}`];
  if (options.retention) set.push(`frontend.retention=${options.retention}`);
  if (options.cdn !== false) set.push(`frontend.cdn.domain=${domain}`, `frontend.cdn.endpoint=${cdn.endpoint}`);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [cliPath, 'frontend', ...(options.mr ? ['--mr', options.mr] : ['--env', 'staging']), ...(options.v ? ['--skip-build'] : []), ...args],
    {
      cwd: repo,
      env: { ...base, GANTRY_OSS_ACCESS_KEY_ID: keyId, GANTRY_OSS_ACCESS_KEY_SECRET: secret, GANTRY_SET: set.join('\n'), GANTRY_OSS_RETRIES: '2' },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

const ok = (r: Run) => {
  expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown> & { release: string };
};
const body = (key: string) => oss.objects(bucket).get(key)?.body;
const built = (v: number, file: string) => readFileSync(path.join(repo, `frontend/v${v}`, file));
const live = (prefix: string) => JSON.parse(body(`${prefix}/.gantry/live.json`)!.toString()) as { release: string; previous?: string };
/** Requests that change the bucket (PUT, POST delete), since `from`. */
const writes = (from: number) =>
  oss.requests
    .slice(from)
    .filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'DELETE')
    .map((r) => `${r.method} ${r.key}`);
const timings: Record<string, { cliMs: number; requests: number; ossSpanMs: number }> = {};
/** A run's wall time, its OSS requests and the span from the first one's arrival to the last one's answer. */
const timed = (r: Run, from: number) => {
  const last = oss.requests.length - 1;
  return { cliMs: r.ms, requests: oss.requests.length - from, ossSpanMs: (doneAt.get(last) ?? 0) - (oss.requests[from]?.time ?? 0) };
};

describe('gantry frontend --stage, --activate, --rollback', () => {
  test('publish v1, stage v2 (live stays v1 byte for byte), activate v2 (CDN refresh after the flip), again (nothing), roll back (v1 byte for byte), --to v2', async () => {
    const p = 'rel';
    const r1 = ok(await frontend([], { v: 1, prefix: p })).release;
    expect(r1).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{7,8}$/);
    expect(live(p)).toMatchObject({ release: r1 });
    expect(body(`${p}/.gantry/html/${r1}/index.html`)).toEqual(built(1, 'index.html'));

    // Stage v2: its assets go up, its HTML goes aside; the live page and live.json stay v1.
    let mark = oss.requests.length;
    let cdnMark = cdn.calls.length;
    const staged = await frontend(['--stage', '--dotenv', 'frontend.env'], { v: 2, prefix: p });
    timings.stage = timed(staged, mark);
    const stage = ok(staged);
    const r2 = stage.release;
    expect(stage).toMatchObject({ staged: true, live: r1 });
    expect(r2 > r1).toBe(true);
    expect(readFileSync(path.join(repo, 'frontend.env'), 'utf8')).toBe(`GANTRY_FRONTEND_RELEASE=${r2}\n`);
    expect(body(`${p}/index.html`)).toEqual(built(1, 'index.html'));
    expect(live(p)).toMatchObject({ release: r1 });
    const v2Assets = built(2, 'index.html')
      .toString()
      .match(/assets\/[\w.]+/g)!;
    expect(v2Assets).toHaveLength(2);
    for (const a of v2Assets) expect(body(`${p}/${a}`)).toEqual(built(2, a));
    expect(writes(mark).filter((w) => !/ rel\/(assets\/|\.gantry\/(html|releases)\/)/.test(w))).toEqual([]);
    expect(cdn.calls.length).toBe(cdnMark);

    // Activate v2: the live HTML flips, live.json follows, then the CDN refresh.
    mark = oss.requests.length;
    cdnMark = cdn.calls.length;
    const activated = await frontend(['--activate', r2], { prefix: p });
    timings.activate = timed(activated, mark);
    expect(ok(activated)).toMatchObject({ release: r2, previous: r1, changed: 1, planned: [`${p}/index.html`] });
    expect(body(`${p}/index.html`)).toEqual(built(2, 'index.html'));
    expect(live(p)).toMatchObject({ release: r2, previous: r1 });
    expect(writes(mark)).toEqual([`PUT ${p}/index.html`, `PUT ${p}/.gantry/releases/${r2}.json.gz`, `PUT ${p}/.gantry/live.json`]);
    const flipAt = doneAt.get(oss.requests.findIndex((r, i) => i >= mark && r.method === 'PUT' && r.key === `${p}/index.html`))!;
    expect(cdn.calls.slice(cdnMark)).toHaveLength(1);
    expect(cdn.calls[cdnMark]!.paths).toEqual([`https://${domain}/${p}/`, `https://${domain}/${p}/index.html`]);
    expect(cdn.calls[cdnMark]!.time).toBeGreaterThanOrEqual(flipAt);

    // Activating the live release again changes nothing and refreshes nothing.
    mark = oss.requests.length;
    cdnMark = cdn.calls.length;
    expect(ok(await frontend(['--activate', r2], { prefix: p }))).toMatchObject({ release: r2, previous: r2, changed: 0 });
    expect(writes(mark)).toEqual([]);
    expect(cdn.calls.length).toBe(cdnMark);

    // Roll back: v1 again, byte for byte, and its CDN refresh.
    mark = oss.requests.length;
    cdnMark = cdn.calls.length;
    const rolled = await frontend(['--rollback', '--dotenv', 'frontend.env'], { prefix: p });
    timings.rollback = timed(rolled, mark);
    expect(ok(rolled)).toMatchObject({ release: r1, previous: r2, changed: 1 });
    expect(body(`${p}/index.html`)).toEqual(built(1, 'index.html'));
    expect(live(p)).toMatchObject({ release: r1, previous: r2 });
    expect(readFileSync(path.join(repo, 'frontend.env'), 'utf8')).toBe(`GANTRY_FRONTEND_RELEASE=${r1}\n`);
    expect(cdn.calls.length).toBe(cdnMark + 1);
    // Every asset the live page names is there.
    for (const a of body(`${p}/index.html`)!
      .toString()
      .match(/assets\/[\w.]+/g)!)
      expect(body(`${p}/${a}`)).toEqual(built(1, a));

    // --to names the release: v2 again.
    mark = oss.requests.length;
    const to = await frontend(['--rollback', '--to', r2], { prefix: p });
    timings.rollbackTo = timed(to, mark);
    expect(ok(to)).toMatchObject({ release: r2, previous: r1 });
    expect(body(`${p}/index.html`)).toEqual(built(2, 'index.html'));

    // A normal publish of v3 goes live as before, and names v2 as the one before it.
    const r3 = ok(await frontend([], { v: 3, prefix: p })).release;
    expect(body(`${p}/index.html`)).toEqual(built(3, 'index.html'));
    expect(live(p)).toMatchObject({ release: r3, previous: r2 });
    console.log(`timings on the OSS test server (ms, whole CLI runs): ${JSON.stringify(timings)}`);
  }, 120_000);

  test('a rollback passes over a staged release that never went live, unless --to names it', async () => {
    const p = 'skip';
    const r1 = ok(await frontend([], { v: 1, prefix: p })).release;
    const r2 = ok(await frontend([], { v: 2, prefix: p })).release;
    const r3 = ok(await frontend(['--stage'], { v: 3, prefix: p })).release;
    expect(live(p).release).toBe(r2);
    expect(ok(await frontend(['--rollback'], { prefix: p }))).toMatchObject({ release: r1, previous: r2 });
    // From v1 there is nothing before; the staged v3 is after it and never live.
    const none = await frontend(['--rollback'], { prefix: p });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`error E_FRONTEND_RELEASE: --rollback: no release before ${r1}`);
    expect(ok(await frontend(['--rollback', '--to', r3], { prefix: p }))).toMatchObject({ release: r3 });
    expect(body(`${p}/index.html`)).toEqual(built(3, 'index.html'));
  }, 120_000);

  test('an unknown release, one retention deleted, one without an HTML copy, and bad flags: exit 2 with nothing changed', async () => {
    const p = 'gone';
    // N = 2: v1 is the snapshot v2's and v3's records are deltas of, so its record stays while its files go.
    const r1 = ok(await frontend([], { v: 1, prefix: p, retention: 2 })).release;
    const r2 = ok(await frontend([], { v: 2, prefix: p, retention: 2 })).release;
    ok(await frontend([], { v: 3, prefix: p, retention: 2 }));
    expect(oss.objects(bucket).has(`${p}/.gantry/releases/${r1}.json.gz`)).toBe(true);
    const mark = oss.requests.length;
    const cdnMark = cdn.calls.length;
    const before = body(`${p}/index.html`);

    const unknown = await frontend(['--activate', '20990101T000000000Z-nope'], { prefix: p });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`error E_FRONTEND_RELEASE: --activate 20990101T000000000Z-nope: no such release under ${bucket}/${p}/`);
    expect(unknown.stderr).toContain(r2);
    const unknownTo = await frontend(['--rollback', '--to', 'nope'], { prefix: p });
    expect(unknownTo.code).toBe(2);
    expect(unknownTo.stderr).toContain('error E_FRONTEND_RELEASE: --to nope: no such release');

    const deleted = await frontend(['--rollback', '--to', r1], { prefix: p });
    expect(deleted.code).toBe(2);
    expect(deleted.stderr).toMatch(new RegExp(`error E_FRONTEND_RELEASE: --to ${r1}: retention already deleted 2 of its files`));
    expect(deleted.stderr).toContain('fix: name a newer release with --to');

    // A release recorded before the HTML copies (simulated: its copy removed).
    for (const k of [...oss.objects(bucket).keys()]) if (k.startsWith(`${p}/.gantry/html/${r2}/`)) oss.objects(bucket).delete(k);
    const noCopy = await frontend(['--rollback'], { prefix: p });
    expect(noCopy.code).toBe(2);
    expect(noCopy.stderr).toContain(`error E_FRONTEND_RELEASE: --rollback ${r2}: there is no copy of its HTML`);

    const flags = await frontend(['--stage', '--activate', r2], { prefix: p });
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('error E_FRONTEND_RELEASE: gantry frontend --stage --activate: one of these at a time');
    const lonelyTo = await frontend(['--to', r2], { prefix: p });
    expect(lonelyTo.code).toBe(2);

    expect(writes(mark)).toEqual([]);
    expect(cdn.calls.length).toBe(cdnMark);
    expect(body(`${p}/index.html`)).toEqual(before);
  }, 120_000);

  test('retention keeps the live release and a staged one waiting, with their HTML copies, and deletes expired copies', async () => {
    const p = 'keep';
    const r1 = ok(await frontend([], { v: 1, prefix: p, retention: 1 })).release;
    // N = 1 and v2 staged: v1 is live, so its files and HTML copy stay.
    const r2 = ok(await frontend(['--stage'], { v: 2, prefix: p, retention: 1 })).release;
    const under = (dir: string) => [...oss.objects(bucket).keys()].filter((k) => k.startsWith(`${p}/${dir}`)).sort();
    expect(under('.gantry/html/')).toEqual([`${p}/.gantry/html/${r1}/index.html`, `${p}/.gantry/html/${r2}/index.html`]);
    for (const a of body(`${p}/index.html`)!
      .toString()
      .match(/assets\/[\w.]+/g)!)
      expect(body(`${p}/${a}`)).toBeDefined();
    expect(under('assets/')).toHaveLength(4);
    ok(await frontend(['--activate', r2], { prefix: p, retention: 1 }));
    // v3 published: v1 and v2 fall out, files, records and HTML copies.
    const r3 = ok(await frontend([], { v: 3, prefix: p, retention: 1 })).release;
    expect(under('.gantry/html/')).toEqual([`${p}/.gantry/html/${r3}/index.html`]);
    expect(under('.gantry/releases/')).toEqual([`${p}/.gantry/releases/${r3}.json.gz`]);
    expect(under('assets/')).toHaveLength(2);
  }, 120_000);

  test('a preview stages and activates under its own prefix', async () => {
    const run = (args: string[], v?: number) => frontend(args, { prefix: 'pv', cdn: false, mr: '9', ...(v ? { v } : {}) });
    const staged = ok(await run(['--stage'], 1));
    expect(staged).toMatchObject({ prefix: 'pv/previews/mr-9/' });
    expect(body('pv/previews/mr-9/index.html')).toBeUndefined();
    ok(await run(['--activate', staged.release]));
    expect(body('pv/previews/mr-9/index.html')).toBeDefined();
    expect(body('pv/index.html')).toBeUndefined();
  }, 60_000);
});

test('gzip-stored HTML comes back as stored, with its Content-Encoding; activating it again changes nothing', async () => {
  const p = 'gz';
  // The copy is read back through ali-oss, whose HTTP client unzips a body sent with Content-Encoding gzip.
  const withGzip = (v: number) => frontend(['--set', 'frontend.encoding=gzip'], { v, prefix: p, cdn: false });
  const r1 = ok(await withGzip(1)).release;
  const v1 = oss.objects(bucket).get(`${p}/index.html`)!;
  expect(v1.headers['content-encoding']).toBe('gzip');
  ok(await withGzip(2));
  expect(oss.objects(bucket).get(`${p}/index.html`)!.body).not.toEqual(v1.body);
  expect(ok(await frontend(['--rollback'], { prefix: p, cdn: false }))).toMatchObject({ release: r1, changed: 1 });
  const back = oss.objects(bucket).get(`${p}/index.html`)!;
  expect(back.body).toEqual(v1.body);
  expect(back.headers).toMatchObject({ 'content-encoding': 'gzip', 'cache-control': 'no-cache', 'content-type': 'text/html; charset=utf-8' });
  const mark = oss.requests.length;
  expect(ok(await frontend(['--activate', r1], { prefix: p, cdn: false }))).toMatchObject({ release: r1, changed: 0 });
  expect(writes(mark)).toEqual([]);
}, 60_000);

test('a bucket published before releases kept their HTML: the pointer starts with the live release, and a rollback to one without a copy is refused', async () => {
  const p = 'old';
  const r1 = ok(await frontend([], { v: 1, prefix: p, cdn: false })).release;
  // As an older Gantry left it: a record, no HTML copy, no live.json.
  for (const k of [...oss.objects(bucket).keys()]) if (k.startsWith(`${p}/.gantry/html/`) || k === `${p}/.gantry/live.json`) oss.objects(bucket).delete(k);
  // A publish with nothing to send names the live release in live.json, and sends nothing else.
  let mark = oss.requests.length;
  expect(ok(await frontend([], { v: 1, prefix: p, cdn: false }))).toMatchObject({ uploaded: 0, release: r1 });
  expect(writes(mark)).toEqual([`PUT ${p}/.gantry/live.json`]);
  expect(live(p).release).toBe(r1);
  // Activating it is nothing to do.
  mark = oss.requests.length;
  expect(ok(await frontend(['--activate', r1], { prefix: p, cdn: false }))).toMatchObject({ release: r1, changed: 0 });
  expect(writes(mark)).toEqual([]);
  // v2 is published with its copy; going back to v1 is refused: there is no copy of its HTML.
  ok(await frontend([], { v: 2, prefix: p, cdn: false }));
  mark = oss.requests.length;
  const back = await frontend(['--rollback'], { prefix: p, cdn: false });
  expect(back.code).toBe(2);
  expect(back.stderr).toContain(`error E_FRONTEND_RELEASE: --rollback ${r1}: there is no copy of its HTML under ${p}/.gantry/html/`);
  expect(back.stderr).toContain('recorded before Gantry kept each release');
  expect(writes(mark)).toEqual([]);
  expect(body(`${p}/index.html`)).toEqual(built(2, 'index.html'));
}, 60_000);

test('the library calls gantry deploy and gantry rollback make: stageSite, liveRelease, activateSite, rollbackSite', async () => {
  const p = 'lib';
  // Jest's ESM loader can fail two first imports of one module at once ("request for 'ali-oss' is
  // not in cache"), which the flows' Promise.all of imports does: load them one by one first.
  for (const m of ['client', 'release', 'retention', 'plan', 'publish', 'files', 'stage', 'previews', 'public-path', 'cdn'])
    await import(`../../src/oss/${m}.js`);
  for (const m of ['../../src/config/load.js', '../../src/ci/git.js']) await import(m);
  const r1 = ok(await frontend([], { v: 1, prefix: p, cdn: false })).release;
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const env = { ...base, GANTRY_OSS_ACCESS_KEY_ID: keyId, GANTRY_OSS_ACCESS_KEY_SECRET: secret, GANTRY_OSS_RETRIES: '2' };
  const ctx = createCtx({ env, cwd: repo, logger: createLogger({ write: () => undefined, gitlab: false, color: false }) });
  const set = (v: number) => [`frontend.endpoint=${oss.endpoint}`, `frontend.prefix=${p}`, `frontend.dir=frontend/v${v}`];
  const source = { cwd: repo, env, envName: 'staging', set: set(1) };

  const staged = await stageSite(ctx, { ...source, set: set(2), skipBuild: true, concurrency: 4 });
  expect(staged.release > r1).toBe(true);
  expect(staged.report).toMatchObject({ staged: true, live: r1 });
  expect(await liveRelease(ctx, source)).toBe(r1);
  expect(body(`${p}/index.html`)).toEqual(built(1, 'index.html'));

  const activated = await activateSite(ctx, { ...source, release: staged.release });
  expect(activated).toMatchObject({ release: staged.release, previous: r1, report: { changed: 1 } });
  expect(activated.error).toBeUndefined();
  expect(await liveRelease(ctx, source)).toBe(staged.release);
  expect(body(`${p}/index.html`)).toEqual(built(2, 'index.html'));

  expect(await rollbackSite(ctx, source)).toMatchObject({ release: r1, previous: staged.release });
  expect(await liveRelease(ctx, source)).toBe(r1);
  expect(body(`${p}/index.html`)).toEqual(built(1, 'index.html'));
  // A stage of exactly the live bundle names the live release and stages nothing.
  expect(await stageSite(ctx, { ...source, skipBuild: true, concurrency: 4 })).toMatchObject({ release: r1, report: { staged: false } });
}, 60_000);
