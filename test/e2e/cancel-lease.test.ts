// Issue #13, must-be-true 2 on the real cluster: a deploy that GitLab cancels (SIGTERM) while it
// tracks the rollout releases its deploy lease on the way out (src/kube/lease.ts: the Lease stays,
// its holderIdentity cleared), removes its kubeconfig temp file and exits 143; the next deploy of
// the environment takes the lease at once instead of waiting for it to expire.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, requireCluster } from '../support/cluster.js';
import { cliPath } from '../support/tmp-repo.js';

const ns = `gt-cancel-${process.pid}`;
let kubeconfig = '';
let repo = '';

// The base image the cluster scripts push to the loopback registry, run with a command of our own:
// one that never listens (the rollout is tracked until cancelled), and one that serves /healthz.
const neverReady = ['node', '-e', 'setInterval(() => {}, 1000)'];
const serving = ['node', '-e', "require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT))"];

function config(command: string[]) {
  return {
    app: 'web',
    backend: {
      port: 8080,
      healthPath: '/healthz',
      replicas: 1,
      command,
      progressDeadlineSeconds: 120,
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    },
    environments: { staging: { namespace: ns, kubeconfig: 'KUBECONFIG_TEST' } },
  };
}

interface Run {
  code: number | null;
  stderr: string;
  at: number;
}

function deploy(command: string[], options: { tmp: string; job: string; onStderr: (all: string, child: ReturnType<typeof spawn>) => void }) {
  writeFileSync(path.join(repo, 'gantry.yaml'), YAML.stringify(config(command)));
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|K8S_SECRET)/.test(k)));
  const child = spawn(process.execPath, [cliPath, 'deploy', '--env', 'staging', '--image', nodeBaseImage], {
    cwd: repo,
    env: {
      ...base,
      TMPDIR: options.tmp,
      KUBECONFIG_TEST: Buffer.from(readFileSync(kubeconfig)).toString('base64'),
      CI_JOB_URL: options.job,
      // Long enough that a lease left held would make the next deploy wait far past this test's limits.
      GANTRY_DEPLOY_LEASE_SECONDS: '600',
    },
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (c) => {
    stderr += c;
    options.onStderr(stderr, child);
  });
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stderr, at: Date.now() })));
  return Object.assign(done, { child });
}

const holderOfLease = () => kubectl(['-n', ns, 'get', 'lease', 'gantry-deploy-web', '-o', 'jsonpath={.spec.holderIdentity}']).trim();
const kubeDirs = (tmp: string) => readdirSync(tmp).filter((name) => name.startsWith('gantry-kube-'));

beforeAll(() => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubeconfig = namespacedKubeconfig(ns);
  repo = mkdtempSync(path.join(tmpdir(), 'gantry-cancel-repo-'));
}, 120_000);

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
});

describe('a deploy cancelled while it tracks', () => {
  test('SIGTERM releases the deploy lease, removes the kubeconfig temp file and exits 143; the next deploy does not wait', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'gantry-cancel-tmp-'));
    let signalledAt = 0;
    let heldWhileTracking = '';
    const cancelled = deploy(neverReady, {
      tmp,
      job: 'https://gitlab.example.com/acme/web/-/jobs/1',
      onStderr: (all, child) => {
        // Tracking has started (a pod's progress line, as test/e2e/deploy.test.ts waits for): the lease is held, the kubeconfig on disk.
        if (!signalledAt && /took the deploy lease/.test(all) && /ready \d\/\d/.test(all)) {
          signalledAt = Date.now();
          heldWhileTracking = holderOfLease();
          child.kill('SIGTERM');
        }
      },
    });
    const run = await cancelled;
    expect(signalledAt).toBeGreaterThan(0);
    expect(heldWhileTracking).toBe('https://gitlab.example.com/acme/web/-/jobs/1');
    expect(run.code).toBe(143);
    expect(run.at - signalledAt).toBeLessThan(10_000);
    expect(run.stderr).toMatch(/cancelled by SIGTERM: .*released the deploy lease/);
    // A cancelled deploy is not rolled back (src/deploy/deploy.ts): the next run converges it.
    expect(run.stderr).not.toContain('rollback to revision');
    // Released, not deleted: the Lease object stays with no holder (lease.ts release()).
    expect(holderOfLease()).toBe('');
    expect(kubeDirs(tmp)).toEqual([]);

    // The next deploy takes the lease at once: no wait, no take-over of an expired lease.
    const started = Date.now();
    let waited = false;
    const next = await deploy(serving, {
      tmp,
      job: 'https://gitlab.example.com/acme/web/-/jobs/2',
      onStderr: (all, child) => {
        if (!waited && /waiting for the deploy lease/.test(all)) {
          waited = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(waited).toBe(false);
    expect(next.stderr).toContain('took the deploy lease');
    expect(next.stderr).not.toContain('took over the deploy lease');
    expect(next.code).toBe(0);
    expect(next.at - started).toBeLessThan(150_000);
    expect(holderOfLease()).toBe('');
  }, 300_000);
});
