// Which bucket `gantry stop` and `gantry cleanup-previews` delete previews in: flags (the review
// component's inputs) over the CI variables over gantry.yaml; the CI variables only count when
// there is no gantry.yaml (loadConfig has applied them to it otherwise).
import { frontendOverridesFromEnv } from '../../../src/config/load.js';
import { previewFrontend } from '../../../src/preview/locate.js';

const yaml = { bucket: 'from-yaml', region: 'oss-cn-shanghai', endpoint: undefined, prefix: 'web' };

test('frontend settings from GANTRY_FRONTEND_* and GANTRY_SET; other keys and object values are ignored', () => {
  expect(
    frontendOverridesFromEnv({
      GANTRY_FRONTEND_BUCKET: 'b',
      GANTRY_FRONTEND_REGION: 'oss-cn-hangzhou',
      GANTRY_SET: 'frontend.endpoint=http://127.0.0.1:9000\nbackend.replicas=3\nfrontend.cdn={domain: x}\nfrontend.prefix=web',
    }),
  ).toEqual({ bucket: 'b', region: 'oss-cn-hangzhou', endpoint: 'http://127.0.0.1:9000', prefix: 'web' });
  expect(() => frontendOverridesFromEnv({ GANTRY_SET: 'frontend.endpoint' })).toThrow(expect.objectContaining({ code: 'E_CONFIG_INVALID' }));
});

test('flags win; without gantry.yaml the CI variables fill in what the flags leave empty', async () => {
  const env = { GANTRY_SET: 'frontend.endpoint=http://127.0.0.1:9000' };
  expect(await previewFrontend({ bucket: 'b', region: 'oss-cn-hangzhou' }, env, undefined, false)).toEqual({
    bucket: 'b',
    region: 'oss-cn-hangzhou',
    endpoint: 'http://127.0.0.1:9000',
    prefix: undefined,
  });
  expect(await previewFrontend({}, { GANTRY_FRONTEND_BUCKET: 'v', GANTRY_FRONTEND_REGION: 'oss-cn-beijing' }, undefined, false)).toEqual({
    bucket: 'v',
    region: 'oss-cn-beijing',
    endpoint: undefined,
    prefix: undefined,
  });
  expect(await previewFrontend({}, {}, undefined, false)).toBeUndefined();
});

test('with gantry.yaml its frontend is the base, flags win over it, and the CI variables are not read twice', async () => {
  expect(await previewFrontend({}, { GANTRY_FRONTEND_BUCKET: 'ignored' }, yaml, true)).toEqual(yaml);
  expect(await previewFrontend({ bucket: 'flag', endpoint: 'http://127.0.0.1:1' }, {}, yaml, true)).toEqual({
    bucket: 'flag',
    region: 'oss-cn-shanghai',
    endpoint: 'http://127.0.0.1:1',
    prefix: 'web',
  });
});

test('a bucket without a region is refused: E_BUCKET_REGION_MISSING with the fix', async () => {
  await expect(previewFrontend({ bucket: 'b' }, {}, undefined, false)).rejects.toMatchObject({
    code: 'E_BUCKET_REGION_MISSING',
    message: '--bucket b needs --region',
  });
});
