// Issue #13, found item 6: a password in the kubeconfig's server URL was printed by deploy and
// doctor (table and JSON). Credentials hide in more places than secret-named variables: URL
// userinfo, client keys, exec plugin env and args. Each command runs in-process on a copy of
// examples/hello-node, everything it writes (stderr through the logger, stdout's JSON) is
// collected, and no credential may appear in it, raw, base64 or URL-encoded.
import { jest } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';
import { DEFAULT_DEADLINES } from '../../src/retry.js';
import { ciEnv, repoRoot } from '../support/fixtures.js';

const SERVER_PASSWORD = 's3cretpass';
// A password with characters a URL must percent-encode: the kubeconfig holds it encoded.
const PROXY_PASSWORD = 'pr0xy/p@ss word';
const KEY_PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
const KEY_DATA = Buffer.from(KEY_PEM).toString('base64');
const KEY_BODY = KEY_PEM.split('\n')[1]!;
const EXEC_ENV_VALUE = 'exec-env-value-9876';
const EXEC_ARG_TOKEN = 'exec-arg-token-5432';
const BASIC_PASSWORD = 'basic-auth-pw-2468';

let closedPort = 0;
let dir = '';

beforeAll(async () => {
  // deploy imports these three at once; Jest's ESM loader fails on a module two of them share
  // unless it is loaded already (a Jest limitation, not Gantry's: the built CLI loads them fine).
  await import('../../src/kube/index.js');
  await import('../../src/kube/history.js');
  await import('../../src/track/index.js');
  // A port nothing listens on: the API server refuses at once, so each command ends in seconds.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  dir = mkdtempSync(path.join(tmpdir(), 'gantry-mask-'));
  cpSync(path.join(repoRoot, 'examples', 'hello-node'), dir, { recursive: true });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(user: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: ack
    cluster:
      server: http://deployer:${SERVER_PASSWORD}@127.0.0.1:${closedPort}
      proxy-url: http://proxy-user:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${closedPort}
users:
  - name: deployer
    user:
${user}
contexts:
  - name: deployer@ack
    context: { cluster: ack, user: deployer }
current-context: deployer@ack
`;
}

const certUser = `      client-certificate-data: ${Buffer.from('-----BEGIN CERTIFICATE-----\nnot-a-secret\n-----END CERTIFICATE-----\n').toString('base64')}
      client-key-data: ${KEY_DATA}
      username: basic-user
      password: ${BASIC_PASSWORD}`;

// A failing exec plugin that repeats its arguments and environment on stderr, as real plugins do
// when they fail ("invalid token abc..."), so any message quoting the plugin's error is hostile.
const execUser = `      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: sh
        args: ["-c", 'echo "plugin failed: $0 $1 $GANTRY_TEST_PLUGIN_CREDENTIAL" >&2; exit 1', "--token", "${EXEC_ARG_TOKEN}"]
        env:
          - name: GANTRY_TEST_PLUGIN_CREDENTIAL
            value: ${EXEC_ENV_VALUE}
        interactiveMode: Never`;

function forms(secret: string): string[] {
  return [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')];
}

async function run(argv: string[], kubeconfigText: string): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const env = { ...ciEnv, CI_PROJECT_DIR: dir, KUBECONFIG_STAGING: kubeconfigText };
  const logger = createLogger({ write: (t) => lines.push(t), gitlab: false, color: false });
  const ctx = createCtx({ cwd: dir, env, logger, deadlines: { ...DEFAULT_DEADLINES, connectMs: 1000, requestMs: 2000 } });
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const code = await main([...argv, '-C', dir], ctx);
    return { code, output: lines.join('') };
  } finally {
    spy.mockRestore();
  }
}

const secrets = [
  SERVER_PASSWORD,
  PROXY_PASSWORD,
  KEY_DATA,
  KEY_PEM.trim(),
  KEY_BODY,
  BASIC_PASSWORD,
  `basic-user:${BASIC_PASSWORD}`,
  EXEC_ENV_VALUE,
  EXEC_ARG_TOKEN,
];

function expectNoSecret(output: string): void {
  for (const secret of secrets) for (const form of forms(secret)) expect([secret, output.includes(form)]).toEqual([secret, false]);
}

describe.each([
  ['client key and basic auth', certUser],
  ['a failing exec plugin', execUser],
])('with a kubeconfig whose server URL has a password and whose user has %s', (_, user) => {
  test('deploy --env staging --dry-run names the host and prints no credential', async () => {
    const { code, output } = await run(['deploy', '--env', 'staging', '--dry-run'], kubeconfig(user));
    expect(code).not.toBe(0);
    expect(output).toContain(`127.0.0.1:${closedPort}`);
    expectNoSecret(output);
  });

  test('doctor --env staging: the table and the JSON name the server with its password masked', async () => {
    const { code, output } = await run(['doctor', '--env', 'staging'], kubeconfig(user));
    expect(code).toBe(1);
    expect(output).toContain(`http://deployer:[MASKED]@127.0.0.1:${closedPort}`);
    const json = JSON.parse(output.trim().split('\n').at(-1)!) as { checks: { check: string; detail: string }[] };
    expect(json.checks.find((c) => c.check === 'variables: kubeconfig')?.detail).toContain(`http://deployer:[MASKED]@127.0.0.1:${closedPort}`);
    expectNoSecret(output);
  });

  test('the same kubeconfig as base64 (how GitLab can mask it) prints no credential either', async () => {
    const { output } = await run(['doctor', '--env', 'staging'], Buffer.from(kubeconfig(user)).toString('base64'));
    expect(output).toContain(`127.0.0.1:${closedPort}`);
    expectNoSecret(output);
  });
});
