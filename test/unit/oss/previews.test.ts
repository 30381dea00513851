// Where previews live in the bucket, and deleting one, with the real ali-oss client against the
// OSS test server: exactly the preview's prefix goes, its neighbours (mr-1 next to mr-10, the
// live site) stay, and the key pair is checked and masked first.
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { deletePreview, ossTargetFromEnv, previewPrefix, previewsBase, sitePrefix } from '../../../src/oss/previews.js';
import { startOssServer, type OssServer } from '../../support/oss-server.js';

const keyId = 'LTAI5tPreviewsUnitKey';
const secret = 'previews-unit-secret-0123456789';
const bucket = 'acme-previews';
let oss: OssServer;

const ctxWith = (env: Record<string, string>, dryRun = false) => {
  const lines: string[] = [];
  return { ctx: createCtx({ env, dryRun, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
};
const put = (key: string) =>
  oss
    .objects(bucket)
    .set(key, { body: Buffer.from(key), etag: '"9DD4E461268C8034F5C8564E155C67A6"', headers: {}, lastModified: new Date(), type: 'Normal' } as never);

beforeAll(async () => {
  oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket] });
});
afterAll(() => oss.close());

test('the site and preview prefixes, with and without frontend.prefix', () => {
  expect([sitePrefix(undefined), sitePrefix(''), sitePrefix('web'), sitePrefix('web/'), sitePrefix('web//')]).toEqual(['', '', 'web/', 'web/', 'web/']);
  expect(previewsBase('')).toBe('previews/');
  expect(previewPrefix('web', '12')).toBe('web/previews/mr-12/');
  expect(previewPrefix(undefined, '12')).toBe('previews/mr-12/');
});

test("deleting a preview removes its objects only (not mr-10's for mr-1, not the site's)", async () => {
  for (const key of ['web/index.html', 'web/previews/mr-1/index.html', 'web/previews/mr-1/assets/a.js', 'web/previews/mr-10/index.html']) put(key);
  const { ctx, lines } = ctxWith({ GANTRY_OSS_ACCESS_KEY_ID: keyId, GANTRY_OSS_ACCESS_KEY_SECRET: secret });
  const target = ossTargetFromEnv(ctx, { bucket, region: 'oss-cn-hangzhou', endpoint: oss.endpoint }, 'delete the preview');

  const dry = ctxWith({}, true);
  expect(await deletePreview(dry.ctx, target, previewPrefix('web', '1'))).toBe(0);
  expect(dry.lines.join('')).toContain(`would delete 2 objects under ${bucket}/web/previews/mr-1/`);
  expect(oss.objects(bucket).size).toBe(4);

  expect(await deletePreview(ctx, target, previewPrefix('web', '1'))).toBe(2);
  expect([...oss.objects(bucket).keys()].sort()).toEqual(['web/index.html', 'web/previews/mr-10/index.html']);
  expect(await deletePreview(ctx, target, previewPrefix('web', '1'))).toBe(0);
  expect(lines.join('')).not.toContain(secret);
});

test('a prefix that is not one preview is refused before any request', async () => {
  const { ctx } = ctxWith({});
  const target = { bucket, region: 'oss-cn-hangzhou', endpoint: oss.endpoint, accessKeyId: keyId, accessKeySecret: secret };
  const before = oss.requests.length;
  for (const prefix of ['', 'web/', 'web/previews/', 'web/previews/mr-/', 'web/previews/mr-1']) {
    await expect(deletePreview(ctx, target, prefix)).rejects.toThrow('is not a preview prefix');
  }
  expect(oss.requests.length).toBe(before);
});

test('without the key pair: E_OSS_CREDENTIALS_MISSING naming both variables and what they are for', () => {
  const { ctx } = ctxWith({ GANTRY_OSS_ACCESS_KEY_ID: keyId });
  expect(() => ossTargetFromEnv(ctx, { bucket, region: 'oss-cn-hangzhou' }, 'list the frontend previews')).toThrow(
    expect.objectContaining({
      code: 'E_OSS_CREDENTIALS_MISSING',
      message: `no OSS credentials to list the frontend previews in ${bucket}`,
      fix: expect.stringContaining('GANTRY_OSS_ACCESS_KEY_SECRET'),
    }),
  );
});
