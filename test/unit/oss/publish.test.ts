import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { isHashedName, type LocalFile } from '../../../src/oss/files.js';
import { planUpload } from '../../../src/oss/plan.js';
import { headersFor, publish, publishOrder, type ObjectStore } from '../../../src/oss/publish.js';

const file = (key: string, md5 = 'd41d8cd98f00b204e9800998ecf8427e', size = 0): LocalFile => ({
  key,
  path: `/dist/${key}`,
  size,
  md5,
  html: /\.html?$/.test(key),
  hashed: isHashedName(key.split('/').pop()!),
});
const quietCtx = () => {
  const lines: string[] = [];
  return { ctx: createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
};

describe('frontend publishing rules', () => {
  test('hashed names are recognised without catching ordinary dashed names', () => {
    for (const n of ['app.3f2a9c1e.js', 'index-BN2aX8kq.js', 'chunk.4e5f6a7b8c.css', 'logo.a1b2c3d4e5.svg']) expect(isHashedName(n)).toBe(true);
    for (const n of ['my-component.js', 'index.html', 'favicon.ico', 'jquery-3.7.1.min.js', 'robots.txt', 'app.deadbeefcafe.js.map.old'])
      expect(isHashedName(n)).toBe(false);
  });

  test('assets first, then other HTML, then index.html deepest first, the root one last', () => {
    const waves = publishOrder([
      file('index.html'),
      file('docs/index.html'),
      file('about.html'),
      file('assets/app.3f2a9c1e.js'),
      file('favicon.ico'),
      file('docs/a/index.html'),
    ]);
    expect(waves.map((w) => w.map((f) => f.key))).toEqual([
      ['assets/app.3f2a9c1e.js', 'favicon.ico'],
      ['about.html'],
      ['docs/a/index.html'],
      ['docs/index.html'],
      ['index.html'],
    ]);
  });

  test('headers: content type, cache rule by kind, Content-MD5 and the stored md5', () => {
    const h = headersFor(file('assets/app.3f2a9c1e.js', '00112233445566778899aabbccddeeff'));
    expect(h).toEqual({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=31536000, immutable',
      'Content-MD5': Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64'),
      'x-oss-meta-md5': '00112233445566778899aabbccddeeff',
    });
    expect(headersFor(file('index.html'))['Cache-Control']).toBe('no-cache');
    expect(headersFor(file('favicon.ico'))['Cache-Control']).toBe('public, max-age=300');
  });

  test('an object whose listed ETag is not an MD5 (multipart, empty, another store) is compared by its stored md5', async () => {
    const heads: string[] = [];
    const stored: Record<string, string> = { 'p/video.mp4': 'aa'.repeat(16), 'p/empty.js': 'ee'.repeat(16), 'p/weird.css': 'ff'.repeat(16) };
    const plan = await planUpload(
      [
        file('video.mp4', 'aa'.repeat(16), 100),
        file('a.js', 'bb'.repeat(16), 10),
        file('empty.js', 'ee'.repeat(16), 7),
        file('weird.css', 'ff'.repeat(16), 3),
        file('new.css', 'cc'.repeat(16), 5),
      ],
      [
        { key: 'p/video.mp4', size: 100, etag: 'ffee0011223344556677889900aabbcc-3' },
        { key: 'p/a.js', size: 10, etag: 'bb'.repeat(16) },
        { key: 'p/empty.js', size: 7, etag: '' },
        { key: 'p/weird.css', size: 3, etag: 'not-an-md5' },
        { key: 'p/old.js', size: 3, etag: 'dd'.repeat(16) },
      ],
      'p/',
      async (key) => {
        heads.push(key);
        return { md5: stored[key] };
      },
    );
    expect(plan.unchanged.map((f) => f.key)).toEqual(['video.mp4', 'a.js', 'empty.js', 'weird.css']);
    expect(plan.upload.map((f) => f.key)).toEqual(['new.css']);
    expect(plan.remoteOnly.map((o) => o.key)).toEqual(['p/old.js']);
    expect(heads).toEqual(['p/video.mp4', 'p/empty.js', 'p/weird.css']);
  });

  test('a hashed name whose bytes changed since an earlier release is changed in place: sent no-cache, never immutable', async () => {
    const local = [
      file('assets/index-DAC_-vWk.js', '11'.repeat(16), 10),
      file('assets/hero-CLDdwZDr.png', '22'.repeat(16), 20),
      file('assets/big-BN2aX8kq.js', '33'.repeat(16), 30),
      file('assets/zip-DJKSAJSS.js', '44'.repeat(16), 40),
      file('bundle.js', '55'.repeat(16), 50),
      file('assets/new-CgzAllXe.js', '66'.repeat(16), 60),
      file('assets/kept-pioNgeTC.js', '77'.repeat(16), 70),
    ];
    // zip-DJKSAJSS.js is now stored gzip-encoded: other bytes, same content, not a change; so is
    // kept-pioNgeTC.js, which an earlier release found changed in place: it stays no-cache.
    local[3] = { ...local[3]!, encoding: 'gzip' };
    local[6] = { ...local[6]!, encoding: 'gzip' };
    const heads: string[] = [];
    const plan = await planUpload(
      local,
      [
        { key: 'assets/index-DAC_-vWk.js', size: 10, etag: '99'.repeat(16) },
        { key: 'assets/hero-CLDdwZDr.png', size: 20, etag: '22'.repeat(16) },
        { key: 'assets/big-BN2aX8kq.js', size: 31, etag: 'abcdef-2' },
        { key: 'assets/zip-DJKSAJSS.js', size: 99, etag: '77'.repeat(16) },
        { key: 'bundle.js', size: 49, etag: '88'.repeat(16) },
        { key: 'assets/kept-pioNgeTC.js', size: 170, etag: '12'.repeat(16) },
      ],
      '',
      async (key) => {
        heads.push(key);
        if (key === 'assets/kept-pioNgeTC.js') return { md5: '12'.repeat(16), cacheControl: 'no-cache' };
        return key === 'assets/zip-DJKSAJSS.js' ? { md5: '77'.repeat(16), cacheControl: 'public, max-age=31536000, immutable' } : { md5: undefined };
      },
    );
    expect(plan.unchanged.map((f) => f.key)).toEqual(['assets/hero-CLDdwZDr.png']);
    expect(plan.changedInPlace.map((f) => f.key)).toEqual(['assets/index-DAC_-vWk.js', 'assets/big-BN2aX8kq.js']);
    const sent = new Map(plan.upload.map((f) => [f.key, headersFor(f)['Cache-Control']]));
    expect(Object.fromEntries(sent)).toEqual({
      'assets/index-DAC_-vWk.js': 'no-cache',
      'assets/big-BN2aX8kq.js': 'no-cache',
      'assets/zip-DJKSAJSS.js': 'public, max-age=31536000, immutable',
      'bundle.js': 'public, max-age=300',
      'assets/new-CgzAllXe.js': 'public, max-age=31536000, immutable',
      'assets/kept-pioNgeTC.js': 'no-cache',
    });
    // The stored encoding is asked only of hashed files whose bytes differ.
    expect(heads.sort()).toEqual(['assets/big-BN2aX8kq.js', 'assets/index-DAC_-vWk.js', 'assets/kept-pioNgeTC.js', 'assets/zip-DJKSAJSS.js']);
  });

  test('uploads retry transient failures, never denials, and a wave finishes before the next starts', async () => {
    const { ctx, lines } = quietCtx();
    const log: string[] = [];
    let failures = 2;
    const store: ObjectStore = {
      async put(key) {
        if (key === 'p/assets/app.3f2a9c1e.js' && failures-- > 0) throw Object.assign(new Error('ServiceUnavailable'), { status: 503 });
        await new Promise((r) => setTimeout(r, key.endsWith('.js') ? 30 : 1));
        log.push(key);
      },
    };
    await publish(ctx, store, [file('index.html'), file('assets/app.3f2a9c1e.js'), file('assets/b.css')], { prefix: 'p/', concurrency: 4, retries: 3 });
    expect(log).toEqual(['p/assets/b.css', 'p/assets/app.3f2a9c1e.js', 'p/index.html']);
    expect(lines.filter((l) => l.includes('retrying'))).toHaveLength(2);

    const denied: ObjectStore = {
      put: async () => {
        throw Object.assign(new Error('AccessDenied'), { status: 403 });
      },
    };
    let calls = 0;
    const counting: ObjectStore = {
      put: async (...args) => {
        calls++;
        return denied.put(...args);
      },
    };
    await expect(publish(quietCtx().ctx, counting, [file('a.css')], { prefix: '', concurrency: 1, retries: 3 })).rejects.toMatchObject({ status: 403 });
    expect(calls).toBe(1);
  });
});
