// Issue #13, found item 2 and must-be-true 2: a job that GitLab cancels (SIGTERM), a Ctrl-C
// (SIGINT), or a job whose log pipe goes away ends the step cleanly: the kubeconfig temp file
// (it holds the token) is removed, the deploy lease is released, and the exit code says
// "cancelled" (128 + the signal). Also the step deadline (GANTRY_STEP_TIMEOUT) and a bad
// GANTRY_*_TIMEOUT value. Each case runs the built CLI (`npm run build` first) in a copy of
// examples/hello-node, held mid-step by an API server that never answers.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { startSilentServer, type SilentServer } from '../support/silent-server.js';
import { repoRoot } from '../support/fixtures.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

jest.setTimeout(90_000);

const TOKEN = 'cancel-test-token-5b2f9c';

function kubeconfig(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: c`,
    `  cluster: { server: "${server}"${server.startsWith('http:') ? ', insecure-skip-tls-verify: true' : ''} }`,
    'users:',
    `- name: u`,
    `  user: { token: "${TOKEN}" }`,
    'contexts:',
    '- name: ci',
    '  context: { cluster: c, user: u }',
    'current-context: ci',
    '',
  ].join('\n');
}

interface Run {
  child: ChildProcess;
  tmp: string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal that killed it) and when it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

// A run a failed assertion left behind is killed, so no test leaves a process waiting on a port.
const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function gantry(args: string[], cwd: string, env: Record<string, string>): Run {
  const tmp = mkdtempSync(path.join(tmpdir(), 'gantry-cancel-tmp-'));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|KUBECONFIG)/.test(k)));
  const child = spawn(process.execPath, [cliPath, ...args], { cwd, env: { ...clean, TMPDIR: tmp, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, tmp, stderr: () => err, exited };
}

const kubeDirs = (tmp: string) => readdirSync(tmp).filter((name) => name.startsWith('gantry-kube-'));

async function until(what: string, check: () => boolean, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not reached within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A run held mid-step: its kubeconfig is on disk and its first API request is hanging. */
async function heldMidStep(run: Run, requests: () => number): Promise<void> {
  await until('the kubeconfig temp dir and a hanging API request', () => kubeDirs(run.tmp).length === 1 && requests() > 0);
}

// Long request and connect deadlines, so the run is still waiting when the test acts.
const waitLong = { GANTRY_REQUEST_TIMEOUT: '600', GANTRY_CONNECT_TIMEOUT: '300' };

describe('gantry history, held by an API server that never answers', () => {
  let silent: SilentServer;
  let repo: string;
  beforeAll(() => {
    repo = exampleRepo();
  });
  beforeEach(async () => {
    silent = await startSilentServer();
  });
  afterEach(async () => {
    await silent.close();
  });

  const history = (extra: Record<string, string> = {}) =>
    gantry(['history', '--env', 'staging'], repo, { KUBECONFIG_STAGING: kubeconfig(`https://${silent.host}`), ...waitLong, ...extra });

  test('SIGTERM (GitLab cancelling the job) ends it within seconds with 143, the kubeconfig temp file removed', async () => {
    const run = history();
    await heldMidStep(run, silent.connections);
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const end = await run.exited;
    expect(end).toMatchObject({ code: 143, signal: null });
    expect(end.at - sent).toBeLessThan(5000);
    expect(kubeDirs(run.tmp)).toEqual([]);
    expect(run.stderr()).toContain('cancelled by SIGTERM: removed the kubeconfig temp file of KUBECONFIG_STAGING');
    expect(run.stderr()).not.toContain(TOKEN);
    expect(run.stderr()).not.toMatch(/\n\s+at /); // no stack trace
  });

  test('SIGINT (Ctrl-C) ends it with 130, the temp file removed', async () => {
    const run = history();
    await heldMidStep(run, silent.connections);
    run.child.kill('SIGINT');
    const end = await run.exited;
    expect(end).toMatchObject({ code: 130, signal: null });
    expect(kubeDirs(run.tmp)).toEqual([]);
    expect(run.stderr()).toContain('cancelled by SIGINT');
  });

  test('a lost stderr pipe ends it (141) at the next log line instead of crashing on EPIPE, the temp file removed', async () => {
    const run = history();
    await heldMidStep(run, silent.connections);
    run.child.stderr!.destroy();
    // The endpoint drops the connection: the client logs a retry warning, to the pipe that is gone.
    await silent.close();
    const end = await run.exited;
    expect(end).toMatchObject({ code: 141, signal: null });
    expect(kubeDirs(run.tmp)).toEqual([]);
  });

  test('GANTRY_STEP_TIMEOUT ends a step that waits too long with E_STEP_TIMEOUT, not an abort stack', async () => {
    const started = Date.now();
    const run = history({ GANTRY_STEP_TIMEOUT: '5' });
    const end = await run.exited;
    expect(end.code).toBe(1);
    expect(silent.connections()).toBeGreaterThan(0); // it was waiting for the API server, whose requests may take 600 s
    expect(end.at - started).toBeLessThan(20_000); // 5 s and the CLI's start
    expect(run.stderr()).toContain('error E_STEP_TIMEOUT: gantry history did not finish within 5 s (GANTRY_STEP_TIMEOUT); it was stopped and cleaned up');
    expect(run.stderr()).toContain('raise GANTRY_STEP_TIMEOUT');
    expect(run.stderr()).not.toMatch(/AbortError|\n\s+at /);
    expect(kubeDirs(run.tmp)).toEqual([]);
  });

  test('a deadline variable that is not whole seconds is exit 2, naming it, its value and the bounds; nothing is done', async () => {
    const run = history({ GANTRY_REQUEST_TIMEOUT: 'abc' });
    const end = await run.exited;
    expect(end.code).toBe(2);
    expect(run.stderr()).toContain('error E_TIMEOUT_VARIABLE: GANTRY_REQUEST_TIMEOUT is "abc": expected whole seconds from 1 to 3600; nothing was done');
    expect(silent.connections()).toBe(0);
    expect(kubeDirs(run.tmp)).toEqual([]);
  });
});

/** gantry cleanup-previews on the example, its kubeconfig's server `kubeServer` and its OSS endpoint `ossEndpoint`. */
function cleanupPreviews(kubeServer: string, ossEndpoint: string): Run {
  const text = readFileSync(path.join(repoRoot, 'examples', 'hello-node', 'gantry.yaml'), 'utf8');
  const config = text.replace('  region: oss-cn-hangzhou\n', `  region: oss-cn-hangzhou\n  endpoint: ${ossEndpoint}\n  pathStyle: true\n`);
  expect(config).not.toBe(text);
  return gantry(['cleanup-previews'], exampleRepo({ files: { 'gantry.yaml': config } }), {
    KUBECONFIG_STAGING: kubeconfig(kubeServer),
    ...waitLong,
    GANTRY_GITLAB_TOKEN: 'x',
    CI_PROJECT_ID: '1',
    CI_SERVER_URL: 'http://127.0.0.1:2',
    GANTRY_OSS_ACCESS_KEY_ID: 'a',
    GANTRY_OSS_ACCESS_KEY_SECRET: 'b',
  });
}

describe('other long steps, cancelled mid-way', () => {
  let silent: SilentServer;
  beforeEach(async () => {
    silent = await startSilentServer();
  });
  afterEach(async () => {
    await silent.close();
  });

  test('gantry stop (no checkout), held deleting the preview namespace: SIGTERM ends it with 143, the temp file removed', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'gantry-cancel-stop-'));
    const run = gantry(['stop', '--mr', '5', '--app', 'hello', '--kubeconfig', 'KUBECONFIG_REVIEW'], empty, {
      KUBECONFIG_REVIEW: kubeconfig(`https://${silent.host}`),
      ...waitLong,
    });
    await heldMidStep(run, silent.connections);
    run.child.kill('SIGTERM');
    const end = await run.exited;
    expect(end).toMatchObject({ code: 143, signal: null });
    expect(kubeDirs(run.tmp)).toEqual([]);
    expect(run.stderr()).toContain('cancelled by SIGTERM');
    expect(run.stderr()).not.toContain(TOKEN);
  });

  test('gantry cleanup-previews, held by Kubernetes and OSS listings that never answer: SIGTERM ends it with 143, the temp file removed', async () => {
    const run = cleanupPreviews(`https://${silent.host}`, `http://${silent.host}`);
    await until('both listings hanging', () => kubeDirs(run.tmp).length === 1 && silent.connections() >= 2);
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const end = await run.exited;
    expect(end).toMatchObject({ code: 143, signal: null });
    expect(end.at - sent).toBeLessThan(5000);
    expect(kubeDirs(run.tmp)).toEqual([]);
  });
});

describe('a step that has failed', () => {
  test('exits although another call still waits: cleanup-previews, its OSS listing refused while the Kubernetes listing hangs', async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const run = cleanupPreviews(`https://${silent.host}`, 'http://127.0.0.1:1');
      const end = await run.exited;
      // Before, the process printed this error and went on waiting for the API server (minutes).
      expect(run.stderr()).toContain('error E_OSS_UNREACHABLE');
      expect(end.code).toBe(1);
      expect(end.at - started).toBeLessThan(20_000);
      expect(kubeDirs(run.tmp)).toEqual([]);
    } finally {
      await silent.close();
    }
  });
});

/**
 * Just enough of the Kubernetes API for `gantry rollback` to take the deploy lease: discovery,
 * the Lease (absent, then created), and a Deployment read that never answers (the step is held
 * there). The release (a PUT of the Lease) is recorded, and answered or left hanging.
 */
async function fakeApi(options: { answerRelease: boolean }) {
  const releases: { holderIdentity?: string }[] = [];
  let deploymentReads = 0;
  const resources: Record<string, unknown[]> = {
    'coordination.k8s.io/v1': [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['create', 'get', 'update'] }],
    'apps/v1': [
      { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch'] },
      { name: 'replicasets', singularName: 'replicaset', namespaced: true, kind: 'ReplicaSet', verbs: ['list'] },
    ],
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const groupVersion = /^\/apis\/([^/]+\/[^/]+)$/.exec(url.pathname)?.[1];
      if (req.method === 'GET' && groupVersion && resources[groupVersion]) {
        return json(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: resources[groupVersion] });
      }
      if (url.pathname.includes('/leases')) {
        if (req.method === 'GET')
          return json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
        const lease = JSON.parse(text) as { metadata: Record<string, unknown>; spec: { holderIdentity?: string } };
        if (req.method === 'POST') return json(res, 201, { ...lease, metadata: { ...lease.metadata, resourceVersion: '1' } });
        if (req.method === 'PUT') {
          releases.push(lease.spec);
          if (options.answerRelease) return json(res, 200, { ...lease, metadata: { ...lease.metadata, resourceVersion: '2' } });
          return; // a release that hangs: the cleanup is slow
        }
      }
      if (url.pathname.includes('/deployments/')) {
        deploymentReads++;
        return; // never answered: the step is held here, holding the lease
      }
      json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    releases,
    deploymentReads: () => deploymentReads,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('gantry rollback, cancelled while it holds the deploy lease', () => {
  let repo: string;
  beforeAll(() => {
    repo = exampleRepo();
  });

  test('SIGTERM releases the lease although the step was cancelled, then exits 143 with the temp file removed', async () => {
    const api = await fakeApi({ answerRelease: true });
    try {
      const run = gantry(['rollback', '--env', 'staging'], repo, { KUBECONFIG_STAGING: kubeconfig(api.url), ...waitLong });
      await heldMidStep(run, api.deploymentReads);
      run.child.kill('SIGTERM');
      const end = await run.exited;
      expect(end).toMatchObject({ code: 143, signal: null });
      expect(api.releases).toHaveLength(1);
      expect(api.releases[0]!.holderIdentity).toBeUndefined();
      expect(kubeDirs(run.tmp)).toEqual([]);
      expect(run.stderr()).toMatch(/cancelled by SIGTERM: .*released the deploy lease hello-staging\/gantry-deploy-hello/);
    } finally {
      await api.close();
    }
  });

  test('a second SIGTERM while the release hangs exits at once, the temp file removed', async () => {
    const api = await fakeApi({ answerRelease: false });
    try {
      const run = gantry(['rollback', '--env', 'staging'], repo, { KUBECONFIG_STAGING: kubeconfig(api.url), ...waitLong });
      await heldMidStep(run, api.deploymentReads);
      run.child.kill('SIGTERM');
      await until('the release request', () => api.releases.length === 1, 10_000);
      expect(existsSync(path.join(run.tmp, kubeDirs(run.tmp)[0] ?? 'none'))).toBe(true); // still cleaning up
      const second = Date.now();
      run.child.kill('SIGTERM');
      const end = await run.exited;
      expect(end).toMatchObject({ code: 143, signal: null });
      expect(end.at - second).toBeLessThan(1500);
      expect(kubeDirs(run.tmp)).toEqual([]);
      expect(run.stderr()).toContain('a second signal (SIGTERM); exiting now after removing');
    } finally {
      await api.close();
    }
  });
});
