// Issue #13, found item 1 (the Kubernetes side): every command that talks to the API server
// ends within its documented deadline when the kubeconfig's server accepts the connection and
// never answers (a hung proxy, a half-dead load balancer), with E_KUBE_UNREACHABLE, the
// server's host and the time waited; never waits until the GitLab job's timeout. The real
// commands run in-process (src/cli.ts main) on a copy of examples/hello-node, with small
// deadlines so the file runs in seconds.
import { jest } from '@jest/globals';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';
import type { Deadlines } from '../../src/retry.js';
import { repoRoot } from '../support/fixtures.js';
import { startSilentServer, type SilentServer } from '../support/silent-server.js';
import { exampleRepo } from '../support/tmp-repo.js';

// The smallest the CI variables allow (whole seconds), set both ways: on ctx and as the
// variables, so the test holds however the CLI reads them.
const deadlines: Deadlines = { connectMs: 1000, requestMs: 1000, stepMs: 60_000 };
const deadlineVariables = { GANTRY_CONNECT_TIMEOUT: '1', GANTRY_REQUEST_TIMEOUT: '1' };
// Two attempts of one request (withRetry's rule for timeouts), the kube client's first backoff
// (500 ms), and slack for a loaded 2-core machine. Later calls of the same step fail fast.
const BOUND_MS = 2 * deadlines.requestMs + 500 + 1500;

let silent: SilentServer;
let repo: string;
let kubeconfigFile: string;

function kubeconfig(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: c\n  cluster: { server: "${server}", insecure-skip-tls-verify: true }`,
    'users:',
    '- name: u\n  user: { token: deadline-test-token }',
    'contexts:',
    '- name: x\n  context: { cluster: c, user: u }',
    'current-context: x',
    '',
  ].join('\n');
}

beforeAll(async () => {
  // The commands import these lazily (in parallel, which Jest's ESM loader cannot do for a
  // first load); loading them here also keeps module loading out of the measured times.
  await import('../../src/kube/index.js');
  await import('../../src/kube/history.js');
  await import('../../src/track/index.js');
  await import('../../src/doctor/doctor.js');
  for (const script of ['deploy', 'operate', 'stop', 'doctor']) await import(`../../scripts/${script}.js`);
  for (const module of ['config/load', 'config/resolve', 'render/view', 'render/render']) await import(`../../src/${module}.js`);
  silent = await startSilentServer();
  // No frontend: stop must not call OSS; only the API server is silent here.
  const config = readFileSync(path.join(repoRoot, 'examples', 'hello-node', 'gantry.yaml'), 'utf8').replace(/^frontend:\n(?: {2}.*\n)+/m, '');
  repo = exampleRepo({ files: { 'gantry.yaml': config } });
  kubeconfigFile = path.join(tmpdir(), `gantry-silent-kubeconfig-${process.pid}`);
  writeFileSync(kubeconfigFile, kubeconfig(`https://${silent.host}`));
});

afterAll(async () => {
  await silent.close();
  rmSync(repo, { recursive: true, force: true });
  rmSync(kubeconfigFile, { force: true });
});

/**
 * Runs `gantry <argv>` in-process; elapsedMs is measured from the moment the kubeconfig is
 * loaded (just before the first API call), so rendering and reading gantry.yaml, which the
 * deadlines do not cover, are not counted.
 */
async function run(argv: string[], file = kubeconfigFile): Promise<{ code: number; output: string; stdout: string; elapsedMs: number }> {
  let output = '';
  let stdout = '';
  let connecting: number | undefined;
  const write = (text: string) => {
    if (connecting === undefined && text.includes('kubeconfig from KUBECONFIG_STAGING')) connecting = Date.now();
    output += text;
  };
  const logger = createLogger({ write, gitlab: false, color: false });
  const env = { CI: 'true', KUBECONFIG_STAGING: file, PATH: process.env.PATH, ...deadlineVariables };
  const ctx = createCtx({ cwd: repo, env, logger, deadlines });
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const started = Date.now();
  try {
    const code = await main([...argv, '-C', repo], ctx);
    return { code, output, stdout, elapsedMs: Date.now() - (connecting ?? started) };
  } finally {
    spy.mockRestore();
  }
}

const commands: [string, string[]][] = [
  ['deploy --dry-run', ['deploy', '--env', 'staging', '--dry-run', '--image', 'registry.cn-hangzhou.aliyuncs.com/acme/hello:abc1234']],
  ['history', ['history', '--env', 'staging']],
  ['rollback', ['rollback', '--env', 'staging']],
  ['scale', ['scale', '--env', 'staging', '--replicas', '3']],
  ['stop (the namespace part)', ['stop', '--env', 'review', '--mr', '5']],
];

describe('an API server that accepts the connection and never answers', () => {
  test.each(commands)('%s fails with E_KUBE_UNREACHABLE, the host and the time waited, within two request timeouts', async (_name, argv) => {
    const r = await run(argv);
    expect(r.output).toContain('error E_KUBE_UNREACHABLE');
    expect(r.output).toContain(silent.host);
    expect(r.output).toMatch(/no answer within 1 s \(waited \d+(\.\d+)? s over 2 attempts\)/);
    expect(r.code).toBe(1);
    expect(r.elapsedMs).toBeLessThan(BOUND_MS);
  });

  test('doctor reports the cluster row failed with the host and the wait, within one request timeout', async () => {
    const r = await run(['doctor', '--env', 'staging']);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(new RegExp(`FAIL +cluster +.*${silent.host.replace(/\./g, '\\.')}.*no answer within`));
    const report = JSON.parse(r.stdout) as { checks: { check: string; code?: string }[] };
    expect(report.checks.find((c) => c.check === 'cluster')?.code).toBe('E_KUBE_UNREACHABLE');
    expect(r.elapsedMs).toBeLessThan(deadlines.requestMs + 1500);
  });

  test('over plain HTTP (TCP connected, request unanswered) the request timeout applies, tried once more', async () => {
    const file = `${kubeconfigFile}-http`;
    writeFileSync(file, kubeconfig(`http://${silent.host}`));
    try {
      const before = silent.connections();
      const r = await run(['history', '--env', 'staging'], file);
      expect(r.output).toContain('error E_KUBE_UNREACHABLE');
      expect(r.output).toContain(silent.host);
      expect(r.output).toMatch(/no answer within 1 s \(waited \d+(\.\d+)? s over 2 attempts\)/);
      expect(r.code).toBe(1);
      expect(silent.connections() - before).toBe(2);
      expect(r.elapsedMs).toBeLessThan(BOUND_MS);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
