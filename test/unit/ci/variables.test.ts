// The CI variables Gantry reads, and which of them the log masks by their name alone.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ciVariables, configOverrideValues, isSecretVariable, k8sSecretVariables, kubeconfigSecrets, secretValues } from '../../../src/ci/variables.js';

const kubeconfig = (token: string, key = 'a2V5LWRhdGEtLS1QRU0tYm9keQ==') => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://10.0.0.1:6443
users:
- name: u
  user:
    token: ${token}
    client-key-data: ${key}
contexts:
- name: x
  context: { cluster: c, user: u }
current-context: x
`;

describe('ciVariables', () => {
  test('reads the predefined and the Gantry variables by name, retries as numbers with their default', () => {
    const v = ciVariables({
      CI_COMMIT_SHA: 'abc',
      CI_MERGE_REQUEST_IID: '7',
      GANTRY_OSS_RETRIES: '5',
      GANTRY_GITLAB_TOKEN: 'glpat-x',
      DOCKER_HOST: 'tcp://docker:2375',
    });
    expect(v.predefined.commitSha).toBe('abc');
    expect(v.predefined.mergeRequestIid).toBe('7');
    expect(v.predefined.jobToken).toBeUndefined();
    expect(v.gantry.gitlabToken).toBe('glpat-x');
    expect(v.gantry.ossRetries).toBe(5);
    expect(v.gantry.registryRetries).toBe(3);
    expect(v.local.dockerHost).toBe('tcp://docker:2375');
  });

  test('K8S_SECRET_* variables are collected without their prefix, sorted; the bare prefix is not one', () => {
    expect(k8sSecretVariables({ K8S_SECRET_B: '2', K8S_SECRET_A: '1', K8S_SECRET_: 'x', OTHER: 'y' })).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
  });
});

describe('which variables are secrets', () => {
  test('names ending in _PASSWORD, _SECRET, _TOKEN, and every K8S_SECRET_*', () => {
    for (const name of [
      'FOO_PASSWORD',
      'BAR_TOKEN',
      'CI_JOB_TOKEN',
      'CI_REGISTRY_PASSWORD',
      'GANTRY_OSS_ACCESS_KEY_SECRET',
      'ACCESS_KEY_SECRET',
      'K8S_SECRET_DATABASE_URL',
      'SSH_PRIVATE_KEY',
      'CI_JOB_JWT_V2',
    ]) {
      expect([name, isSecretVariable(name)]).toEqual([name, true]);
    }
    for (const name of ['GANTRY_OSS_ACCESS_KEY_ID', 'CI_COMMIT_SHA', 'TOKEN_FILE', 'K8S_SECRET_', 'PASSWORDLESS', 'GANTRY_REGISTRY_USER']) {
      expect([name, isSecretVariable(name)]).toEqual([name, false]);
    }
  });

  test('secretValues: the values, trimmed too, their Secret (base64) and basic-auth forms, and kubeconfig credentials', () => {
    const values = secretValues({
      FOO_PASSWORD: ' pw-12345678 \n',
      FOO_USER: 'alice',
      K8S_SECRET_API_KEY: 'live-key-123',
      KUBECONFIG_PRODUCTION: kubeconfig('kube-token-abcdef'),
      CI_COMMIT_SHA: 'not-a-secret',
    });
    expect(values).toEqual(
      expect.arrayContaining([
        ' pw-12345678 \n',
        'pw-12345678',
        Buffer.from('alice: pw-12345678 \n').toString('base64'),
        'live-key-123',
        Buffer.from('live-key-123').toString('base64'),
        'kube-token-abcdef',
        'a2V5LWRhdGEtLS1QRU0tYm9keQ==',
        'key-data---PEM-body',
      ]),
    );
    expect(values).not.toContain('not-a-secret');
    expect(values).not.toContain('alice');
  });
});

describe('secrets by a name that says so, and credentials inside any value (#13)', () => {
  test('key secrets, access keys, credentials, auth, DSNs and the short password spellings are secret names', () => {
    for (const name of [
      'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
      'SMS_KEY_SECRET',
      'AWS_SECRET_ACCESS_KEY',
      'MINIO_ACCESS_KEY',
      'SECRET_KEY',
      'JWT_SIGNING_KEY',
      'GOOGLE_APPLICATION_CREDENTIALS',
      'REGISTRY_CREDENTIAL',
      'NPM_AUTH',
      'DOCKER_AUTH_CONFIG',
      'SENTRY_DSN',
      'DB_PASS',
      'DB_PWD',
      'GPG_PASSPHRASE',
    ])
      expect([name, isSecretVariable(name)]).toEqual([name, true]);
    for (const name of [
      'PWD',
      'OLDPWD',
      'PROXY_BYPASS',
      'GIT_AUTHOR_NAME',
      'DATABASE_URL',
      'SORT_KEY',
      'GANTRY_OSS_ACCESS_KEY_ID',
      'CI_SERVER_URL',
      'AUTH_TYPE',
    ])
      expect([name, isSecretVariable(name)]).toEqual([name, false]);
  });

  test("a URL's userinfo password in any variable (DATABASE_URL, GANTRY_GITLAB_URL), as written and decoded; not the URL's other parts", () => {
    const values = secretValues({
      DATABASE_URL: 'postgres://app:db-pass-1234@db.internal:5432/app',
      GANTRY_GITLAB_URL: 'https://root:gl%2Fpass%40word@gitlab.example.com',
      CI_SERVER_URL: 'https://gitlab.example.com',
    });
    expect(values).toEqual(expect.arrayContaining(['db-pass-1234', 'gl%2Fpass%40word', 'gl/pass@word']));
    for (const part of ['postgres://app:db-pass-1234@db.internal:5432/app', 'app', 'db.internal', 'https://gitlab.example.com', 'root'])
      expect(values).not.toContain(part);
  });

  test('the password of a connection string with Password=', () => {
    expect(secretValues({ SQLSERVER_CONNECTION: 'Server=db;User Id=app;Password=conn-pw-777;' })).toContain('conn-pw-777');
  });

  test('a secret-named value is masked URL-encoded too', () => {
    expect(secretValues({ SMTP_PASSWORD: 'p@ss word/1' })).toEqual(expect.arrayContaining(['p@ss word/1', 'p%40ss%20word%2F1']));
  });

  test("a kubeconfig variable: its server's password and its exec plugin's env values", () => {
    const text = `apiVersion: v1
clusters:
- name: c
  cluster: { server: 'https://deployer:srv-pass-555@10.0.0.1:6443' }
users:
- name: u
  user:
    exec:
      command: ack-ram-tool
      env:
      - name: ALIBABA_CLOUD_ACCESS_KEY_SECRET
        value: exec-env-secret-1
contexts:
- name: x
  context: { cluster: c, user: u }
current-context: x
`;
    for (const form of [text, Buffer.from(text).toString('base64')])
      expect(secretValues({ KUBECONFIG_STAGING: form })).toEqual(expect.arrayContaining(['srv-pass-555', 'exec-env-secret-1']));
  });
});

describe('kubeconfigSecrets', () => {
  test('YAML: the whole text and its credentials, not the server', () => {
    const text = kubeconfig('tok-1234');
    const secrets = kubeconfigSecrets(text);
    expect(secrets).toEqual(expect.arrayContaining([text.trim(), 'tok-1234']));
    expect(secrets).not.toContain('https://10.0.0.1:6443');
  });

  test('base64 YAML (how GitLab can mask it): the base64 and what is inside', () => {
    const b64 = Buffer.from(kubeconfig('tok-b64-5678')).toString('base64');
    expect(kubeconfigSecrets(b64)).toEqual(expect.arrayContaining([b64, 'tok-b64-5678']));
  });

  test('JSON kubeconfig', () => {
    const json = JSON.stringify({ users: [{ name: 'u', user: { token: 'json-tok-999' } }], 'current-context': 'x' });
    expect(kubeconfigSecrets(json)).toContain('json-tok-999');
  });

  test("a path (a GitLab file variable, KUBECONFIG): the file's credentials, never the path itself", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-kc-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfig('file-tok-4321'));
    const secrets = kubeconfigSecrets(file);
    expect(secrets).toContain('file-tok-4321');
    expect(secrets).not.toContain(file);
    expect(kubeconfigSecrets(`/nonexistent/a:${file}`)).toContain('file-tok-4321');
    expect(kubeconfigSecrets('/nonexistent/kubeconfig')).toEqual([]);
  });
});

test('configOverrideValues: the fixed-meaning variables that are set, with their gantry.yaml path', () => {
  expect(configOverrideValues({ GANTRY_APP: 'shop', GANTRY_REPLICAS: '', GANTRY_FRONTEND_BUCKET: 'b' })).toEqual([
    { variable: 'GANTRY_APP', path: 'app', value: 'shop' },
    { variable: 'GANTRY_FRONTEND_BUCKET', path: 'frontend.bucket', value: 'b' },
  ]);
});
