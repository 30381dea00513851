// Every credential a kubeconfig can hold is registered for masking when it is decoded (#13): the
// server's userinfo password, basic auth, client keys (data and file), exec plugin env and args,
// auth-provider config. Client certificates, hosts, user names and commands are not secrets.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { credentialValues, decodeKubeconfig } from '../../../src/kube/config.js';

const KEY_PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeKeyMaterialForTestsOnly0123456789abcdef\n-----END EC PRIVATE KEY-----\n';
const FILE_KEY_PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKeyFromAFileNotInTheConfig0123456789abcdef\n-----END EC PRIVATE KEY-----\n';
const CERT_DATA = Buffer.from('-----BEGIN CERTIFICATE-----\npublic-cert\n-----END CERTIFICATE-----\n').toString('base64');

function kubeconfigText(keyFile: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: ack
    cluster:
      server: https://deployer:srv%2Fpass-1@47.96.1.2:6443
      proxy-url: http://proxy-user:proxy-pass-2@10.0.0.9:3128
users:
  - name: basic
    user: { username: admin, password: basic-pass-3 }
  - name: keys
    user:
      client-certificate-data: ${CERT_DATA}
      client-key-data: ${Buffer.from(KEY_PEM).toString('base64')}
  - name: keyfile
    user: { client-certificate: /etc/cert.pem, client-key: ${keyFile} }
  - name: exec
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: ack-ram-tool
        args: [credential-plugin, get-token, --cluster-id, c0ffee, --access-key-secret=exec-arg-4, --token, exec-arg-5]
        env:
          - { name: ALIBABA_CLOUD_ACCESS_KEY_ID, value: LTAI-exec-env-6 }
          - { name: ALIBABA_CLOUD_ACCESS_KEY_SECRET, value: exec-env-7 }
  - name: oidc
    user:
      auth-provider:
        name: oidc
        config:
          client-id: kubernetes
          client-secret: oidc-secret-8
          id-token: oidc-id-token-9
          refresh-token: oidc-refresh-10
          idp-issuer-url: https://issuer.example.com
  - name: gcp
    user:
      auth-provider:
        name: gcp
        config: { access-token: gcp-access-11, cmd-path: /usr/bin/gcloud, cmd-args: "config config-helper --token=gcp-arg-12", token-key: "{.credential.access_token}" }
contexts:
  - name: basic@ack
    context: { cluster: ack, user: basic }
current-context: basic@ack
`;
}

test('a kubeconfig names every credential it holds, in the forms a message may quote, and nothing public', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-kc-'));
  const keyFile = path.join(dir, 'client.key');
  writeFileSync(keyFile, FILE_KEY_PEM);
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigText(keyFile));
  const values = credentialValues(kc);
  expect(values).toEqual(
    expect.arrayContaining([
      'srv%2Fpass-1',
      'srv/pass-1',
      'proxy-pass-2',
      'basic-pass-3',
      'admin:basic-pass-3',
      Buffer.from('admin:basic-pass-3').toString('base64'),
      Buffer.from(KEY_PEM).toString('base64'),
      KEY_PEM.trim(),
      'MHcCAQEEIFakeKeyMaterialForTestsOnly0123456789abcdef',
      FILE_KEY_PEM.trim(),
      'MHcCAQEEIKeyFromAFileNotInTheConfig0123456789abcdef',
      'exec-arg-4',
      'exec-arg-5',
      'LTAI-exec-env-6',
      'exec-env-7',
      'oidc-secret-8',
      'oidc-id-token-9',
      'oidc-refresh-10',
      'gcp-access-11',
      'gcp-arg-12',
    ]),
  );
  for (const pub of [
    CERT_DATA,
    '47.96.1.2',
    'deployer',
    'admin',
    'proxy-user',
    'ack-ram-tool',
    'c0ffee',
    'kubernetes',
    'https://issuer.example.com',
    '/usr/bin/gcloud',
    keyFile,
  ])
    expect([pub, values.includes(pub)]).toEqual([pub, false]);
});

test('decodeKubeconfig hands the server password to the logger with the rest', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-kc-'));
  const decoded = decodeKubeconfig('KUBECONFIG_STAGING', kubeconfigText(path.join(dir, 'missing.key')));
  expect(decoded.secrets).toEqual(expect.arrayContaining(['srv/pass-1', 'exec-env-7', 'basic-pass-3']));
});
