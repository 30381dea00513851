import { mkdtempSync, statSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCtx } from '../../../src/context.js';
import { GantryError } from '../../../src/errors.js';
import { decodeKubeconfig, kubeconfigFromCi } from '../../../src/kube/config.js';
import { kubeconfigVariableName as kubeconfigVariable } from '../../../src/names/names.js';
import { createLogger } from '../../../src/log/logger.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.deployer-token-value.c2lnbmF0dXJl';
const KEY_PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeKeyMaterialForTestsOnly0123456789abcdef\n-----END EC PRIVATE KEY-----\n';
const KEY_DATA = Buffer.from(KEY_PEM).toString('base64');

const kubeconfigYaml = (currentContext = 'deployer@ack') => `apiVersion: v1
kind: Config
clusters:
  - name: ack
    cluster:
      server: https://47.96.1.2:6443
      certificate-authority-data: ${Buffer.from('not really a CA').toString('base64')}
users:
  - name: deployer
    user:
      token: ${TOKEN}
  - name: cert-user
    user:
      client-certificate-data: ${Buffer.from('cert').toString('base64')}
      client-key-data: ${KEY_DATA}
contexts:
  - name: deployer@ack
    context: { cluster: ack, user: deployer, namespace: hello-staging }
  - name: cert@ack
    context: { cluster: ack, user: cert-user }
${currentContext ? `current-context: ${currentContext}\n` : ''}`;

function capture() {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { logger, text: () => out };
}

function expectKubeconfigError(fn: () => unknown, message: RegExp): GantryError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GantryError);
    const e = error as GantryError;
    expect(e.code).toBe('E_KUBECONFIG');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(message);
    expect(e.fix).toContain('KUBECONFIG_STAGING');
    return e;
  }
  throw new Error('expected an E_KUBECONFIG error');
}

describe('kubeconfig from a CI variable', () => {
  test('the variable is named after the environment unless gantry.yaml names one', () => {
    expect(kubeconfigVariable('staging')).toBe('KUBECONFIG_STAGING');
    expect(kubeconfigVariable('review-apps')).toBe('KUBECONFIG_REVIEW_APPS');
    expect(kubeconfigVariable('prod.eu')).toBe('KUBECONFIG_PROD_EU');
    expect(kubeconfigVariable('production', 'ACK_PROD_KUBECONFIG')).toBe('ACK_PROD_KUBECONFIG');
  });

  test('raw YAML, base64 (wrapped or not), JSON and a GitLab file variable all give the same config', () => {
    const yaml = kubeconfigYaml();
    const b64 = Buffer.from(yaml).toString('base64');
    const wrapped = b64.replace(/(.{76})/g, '$1\n');
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-kc-test-'));
    const file = path.join(dir, 'KUBECONFIG_STAGING');
    writeFileSync(file, yaml);
    const b64File = path.join(dir, 'KUBECONFIG_B64');
    writeFileSync(b64File, `${wrapped}\n`);
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'ack', cluster: { server: 'https://47.96.1.2:6443' } }],
      users: [{ name: 'deployer', user: { token: TOKEN } }],
      contexts: [{ name: 'deployer@ack', context: { cluster: 'ack', user: 'deployer', namespace: 'hello-staging' } }],
      'current-context': 'deployer@ack',
    });
    for (const value of [yaml, `  ${yaml}\n\n`, b64, wrapped, file, b64File, json]) {
      const { kc } = decodeKubeconfig('KUBECONFIG_STAGING', value);
      expect(kc.getCurrentContext()).toBe('deployer@ack');
      expect(kc.getCurrentCluster()?.server).toBe('https://47.96.1.2:6443');
      expect(kc.getCurrentUser()?.token).toBe(TOKEN);
      expect(kc.getContextObject('deployer@ack')?.namespace).toBe('hello-staging');
    }
  });

  test('unset, empty, undecodable and context-less values are E_KUBECONFIG errors naming the variable and the fix', () => {
    expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', undefined), /KUBECONFIG_STAGING: the CI variable is not set or empty/);
    expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', '  \n'), /not set or empty/);
    expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', 'this is not a kubeconfig!'), /neither kubeconfig YAML nor base64/);
    expectKubeconfigError(
      () => decodeKubeconfig('KUBECONFIG_STAGING', Buffer.from('\u0000\u0001binary junk').toString('base64')),
      /base64, but what it decodes to is not a kubeconfig/,
    );
    expectKubeconfigError(
      () => decodeKubeconfig('KUBECONFIG_STAGING', '/builds/group/app.tmp/KUBECONFIG_STAGING'),
      /names the file \/builds\/group\/app\.tmp\/KUBECONFIG_STAGING, which does not exist/,
    );
    expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', 'clusters: [{name: a}]\ncurrent-context: x\n'), /not a valid kubeconfig/);
    const none = expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', kubeconfigYaml('')), /has no current-context/);
    expect(none.details.join('\n')).toContain('deployer@ack, cert@ack');
    expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', kubeconfigYaml('nope')), /current-context "nope" is not one of its contexts/);
  });

  test('a kubeconfig that is broken YAML is reported by position, without the lines around it (they may hold the token)', () => {
    const broken = `apiVersion: v1\nkind: Config\nusers:\n- name: deployer\n  user:\n    token: ${TOKEN}\n   bad: indent\n`;
    for (const value of [broken, Buffer.from(broken).toString('base64')]) {
      const e = expectKubeconfigError(() => decodeKubeconfig('KUBECONFIG_STAGING', value), /not a valid kubeconfig: .*\(line \d+, column \d+\)/);
      expect(JSON.stringify({ message: e.message, details: e.details, fix: e.fix, cause: String(e.cause ?? '') })).not.toContain(TOKEN);
    }
  });

  test('tokens, client keys and the base64 form itself are registered as secrets', () => {
    const b64 = Buffer.from(kubeconfigYaml()).toString('base64');
    const { secrets } = decodeKubeconfig('KUBECONFIG_STAGING', b64);
    expect(secrets).toEqual(expect.arrayContaining([TOKEN, KEY_DATA, KEY_PEM.trim(), b64]));
    expect(secrets).not.toContain(Buffer.from('cert').toString('base64'));
  });

  test('kubeconfigFromCi writes a 0600 file, masks the credentials, and dispose() removes the file', async () => {
    const { logger, text } = capture();
    const ctx = createCtx({ logger, env: { KUBECONFIG_STAGING: Buffer.from(kubeconfigYaml()).toString('base64') } });
    const config = await kubeconfigFromCi(ctx, 'KUBECONFIG_STAGING');
    expect(statSync(config.path).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(config.path)).mode & 0o077).toBe(0);
    expect(readFileSync(config.path, 'utf8')).toContain(`token: ${TOKEN}`);
    expect(config.kc.getCurrentUser()?.name).toBe('deployer');
    logger.info(`debug: user token ${TOKEN} and key ${KEY_DATA}`);
    expect(text()).toContain('kubeconfig from KUBECONFIG_STAGING: context deployer@ack, cluster https://47.96.1.2:6443');
    expect(text()).not.toContain(TOKEN);
    expect(text()).not.toContain(KEY_DATA);
    await config.dispose();
    expect(existsSync(config.path)).toBe(false);
    await config.dispose();
  });

  test('kubeconfigFromCi with the variable missing fails before writing anything', async () => {
    const ctx = createCtx({ logger: capture().logger, env: {} });
    await expect(kubeconfigFromCi(ctx, 'KUBECONFIG_STAGING')).rejects.toMatchObject({ code: 'E_KUBECONFIG' });
  });
});
