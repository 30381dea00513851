// When a service goes wrong, the deploy says which and why, on the real cluster (#14): an
// instance that cannot start fails the deploy in seconds with its cause before the app is
// touched, and an app that crashes because its database refuses it gets the service named in the
// diagnosis. The app is a few lines of node run in the local Node image (no build needed).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, requireCluster } from '../support/cluster.js';
import { cliPath } from '../support/tmp-repo.js';

const ns = `gtsf-${process.pid}`;
let kubeconfig = '';
let repo = '';

// Logs in to its Redis with a wrong password, as a misconfigured app would, and crashes with the
// server's own answer (what ioredis prints as "ReplyError: WRONGPASS ...").
const app = `
const net = require('net');
const s = net.connect(Number(process.env.REDIS_PORT), process.env.REDIS_HOST, () => s.write('AUTH not-the-password\\r\\n'));
s.on('data', (d) => { console.error('ReplyError: ' + String(d).replace(/^-/, '').trim()); process.exit(1); });
s.on('error', (e) => { console.error('Error: ' + e.message); process.exit(1); });
`;

function config(cache: Record<string, unknown>) {
  return {
    app: 'web',
    backend: {
      port: 8080,
      command: ['node', '-e', app],
      replicas: 1,
      progressDeadlineSeconds: 60,
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    },
    services: { cache: { kind: 'redis', version: '7', image: `127.0.0.1:5000/gantry/redis:7`, ...cache } },
    environments: { staging: { namespace: ns, kubeconfig: 'KUBECONFIG_TEST', services: { cache: 'instance' } } },
  };
}

function deploy(cfg: object): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  writeFileSync(path.join(repo, 'gantry.yaml'), YAML.stringify(cfg));
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|K8S_SECRET)/.test(k)));
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, 'deploy', '--env', 'staging', '--image', nodeBaseImage], {
    cwd: repo,
    env: { ...base, KUBECONFIG_TEST: Buffer.from(readFileSync(kubeconfig)).toString('base64'), CI_COMMIT_SHA: 'f'.repeat(40) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 })));
}

beforeAll(() => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubeconfig = namespacedKubeconfig(ns);
  repo = mkdtempSync(path.join(tmpdir(), 'gantry-services-failures-'));
}, 60_000);

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
  rmSync(repo, { recursive: true, force: true });
  rmSync(kubeconfig, { force: true });
});

test('an instance whose image cannot be pulled fails the deploy in seconds with E_SERVICE_NOT_READY, and the app is not applied', async () => {
  const run = await deploy(config({ image: '127.0.0.1:5000/gantry/no-such-redis:7' }));
  process.stderr.write(`services-failures: instance pull failure reported in ${run.seconds.toFixed(1)} s\n`);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('error E_SERVICE_NOT_READY: service cache (web-cache in');
  expect(run.stderr).toContain('E_ROLLOUT_IMAGE_PULL');
  expect(run.stderr).toContain('the app was not changed');
  expect(run.seconds).toBeLessThan(40);
  // Nothing of the app was applied: no Deployment, no Service of its own.
  expect(kubectlResult(['-n', ns, 'get', 'deployment', 'web']).code).not.toBe(0);
}, 90_000);

test('an app that crashes because its Redis refuses its password gets the service and the cause named', async () => {
  const run = await deploy(config({}));
  process.stderr.write(`services-failures: crash with a refused login reported in ${run.seconds.toFixed(1)} s\n`);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('error E_ROLLOUT_CRASHLOOP');
  // The driver's words are in the log tail, and the diagnosis names the service they concern.
  expect(run.stderr).toContain('WRONGPASS');
  expect(run.stderr).toMatch(/service cache \(redis/);
  // The instance's real password appears nowhere.
  const password = Buffer.from(kubectl(['-n', ns, 'get', 'secret', 'web-cache', '-o', 'jsonpath={.data.password}']), 'base64').toString();
  expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
  expect(`${run.stdout}${run.stderr}`).not.toContain(password);
}, 150_000);
