import { createHash } from 'node:crypto';
import { dockerConfigJson, pullSecretObject, secretFromCiVariables } from '../../../src/kube/secrets.js';

const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));

describe('the Secret made of K8S_SECRET_* CI variables', () => {
  test('no such variables: no Secret', () => {
    expect(secretFromCiVariables({ PATH: '/bin', K8S_SECRET_: 'prefix only', CI_JOB_TOKEN: 'x' }, { name: 'hello-secrets' })).toBeNull();
  });

  test('keys lose the prefix, are sorted, and hold the values exactly (newlines, unicode, empty)', () => {
    const env = {
      K8S_SECRET_DATABASE_URL: 'postgres://app:p@ss w0rd@db:5432/app',
      K8S_SECRET_API_KEY: 'line1\nline2 ✓',
      K8S_SECRET_EMPTY: '',
      CI_COMMIT_SHA: 'abc',
      MY_K8S_SECRET_X: 'not a match',
    };
    const built = secretFromCiVariables(env, { name: 'hello-secrets', labels: { 'app.kubernetes.io/managed-by': 'gantry' }, namespace: 'hello-staging' })!;
    expect(built.keys).toEqual(['API_KEY', 'DATABASE_URL', 'EMPTY']);
    expect(built.secret).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: 'hello-secrets', namespace: 'hello-staging', labels: { 'app.kubernetes.io/managed-by': 'gantry' } },
    });
    expect(Object.keys(built.secret.data as object)).toEqual(['API_KEY', 'DATABASE_URL', 'EMPTY']);
    expect(decode(built.secret.data as Record<string, string>)).toEqual({
      API_KEY: 'line1\nline2 ✓',
      DATABASE_URL: 'postgres://app:p@ss w0rd@db:5432/app',
      EMPTY: '',
    });
  });

  test('the checksum depends on the data only: not on variable order, but on every key and value', () => {
    const a = secretFromCiVariables({ K8S_SECRET_A: '1', K8S_SECRET_B: '2' }, { name: 's' })!;
    const reordered = secretFromCiVariables({ K8S_SECRET_B: '2', PATH: '/usr/bin', K8S_SECRET_A: '1' }, { name: 's' })!;
    expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(reordered.checksum).toBe(a.checksum);
    const checksums = [
      a.checksum,
      secretFromCiVariables({ K8S_SECRET_A: '1', K8S_SECRET_B: '3' }, { name: 's' })!.checksum,
      secretFromCiVariables({ K8S_SECRET_A: '1' }, { name: 's' })!.checksum,
      secretFromCiVariables({ K8S_SECRET_A: '1', K8S_SECRET_B: '2', K8S_SECRET_C: '' }, { name: 's' })!.checksum,
      // Moving a character between key and value is a different Secret.
      secretFromCiVariables({ K8S_SECRET_A1: '', K8S_SECRET_B: '2' }, { name: 's' })!.checksum,
    ];
    expect(new Set(checksums).size).toBe(checksums.length);
  });

  test('the checksum is not a bare hash of the values, so it cannot be checked against guessed passwords', () => {
    const built = secretFromCiVariables({ K8S_SECRET_PASSWORD: 'hunter2' }, { name: 'hello-secrets' })!;
    for (const guess of ['hunter2', JSON.stringify({ PASSWORD: 'hunter2' }), JSON.stringify([['PASSWORD', 'hunter2']])]) {
      expect(built.checksum).not.toBe(createHash('sha256').update(guess).digest('hex'));
    }
  });
});

describe('the registry pull secret', () => {
  test('is a dockerconfigjson for the one registry host with user, password and auth', () => {
    const credentials = { server: 'registry-vpc.cn-hangzhou.aliyuncs.com', username: 'deploy@1234', password: 's3cret:with:colons' };
    expect(JSON.parse(dockerConfigJson(credentials))).toEqual({
      auths: {
        'registry-vpc.cn-hangzhou.aliyuncs.com': {
          username: 'deploy@1234',
          password: 's3cret:with:colons',
          auth: Buffer.from('deploy@1234:s3cret:with:colons').toString('base64'),
        },
      },
    });
    const secret = pullSecretObject('hello-staging', 'gantry-registry', credentials);
    expect(secret).toMatchObject({ kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: 'gantry-registry', namespace: 'hello-staging' } });
    expect(Buffer.from((secret.data as Record<string, string>)['.dockerconfigjson']!, 'base64').toString()).toBe(dockerConfigJson(credentials));
  });
});
