// #15 on the real cluster, with a real Prometheus (Debian's, scraping the app's pods through
// Kubernetes service discovery): the example app (examples/hello-node, its FAIL_RATE and
// CRASH_AFTER_MS switches) is deployed as a canary beside its stable version while a client
// loop calls the Service on new connections. A good version passes its analysis and is
// promoted; one whose error rate crosses the threshold is aborted at the first step; one that
// crashes is aborted by the built-in checks without any query; the stable version answers every
// request throughout.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, registryAuth, requireCluster } from '../support/cluster.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { startPrometheus, startTokenProxy } from '../support/prometheus.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const ns = `gt-canary-${process.pid}`;
const app = 'hello';
let repo = '';
let kubeconfig = '';
let image = '';
let prometheus: Awaited<ReturnType<typeof startPrometheus>>;
let gitlab: GitlabServer;
const project = 42;
const gitlabToken = 'glpat-canary-0123456789';
const outputs: string[] = [];

// The canary's share of failed answers to the app's routes (its /healthz probes are counted too:
// left out). "or vector(0)": with no failed answer there is no 5xx series, and the ratio would be empty.
const ERROR_RATE = `(sum(rate(http_requests_total{namespace="{{namespace}}",pod=~"{{canaryPods}}",path=~"/|/api/hello",code=~"5.."}[10s])) or vector(0)) / sum(rate(http_requests_total{namespace="{{namespace}}",pod=~"{{canaryPods}}",path=~"/|/api/hello"}[10s]))`;

function config(rollout: Record<string, unknown>): string {
  return YAML.stringify({
    app,
    registry: { pushHost: authRegistry, namespace: ns },
    backend: {
      port: 3000,
      healthPath: '/healthz',
      replicas: 4,
      maxReplicas: 12,
      progressDeadlineSeconds: 60,
      buildArgs: { NODE_IMAGE: nodeBaseImage },
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
      env: { APP_VERSION: '1' },
    },
    environments: { production: { namespace: ns, kubeconfig: 'KUBECONFIG_TEST', rollout } },
  });
}

const canary = (extra: Record<string, unknown> = {}, queries = [{ name: 'error-rate', query: ERROR_RATE, max: 0.1 }]) => ({
  strategy: 'canary',
  steps: [{ weight: 20, pause: '12s' }],
  analysis: { interval: '2s', queries },
  ...extra,
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function gantry(args: string[], env: Record<string, string | undefined> = {}, onChild?: (child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const auth = registryAuth();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|K8S_SECRET)/.test(k)));
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repo,
    env: {
      ...base,
      KUBECONFIG_TEST: Buffer.from(readFileSync(kubeconfig)).toString('base64'),
      GANTRY_REGISTRY_USER: auth.user,
      GANTRY_REGISTRY_PASSWORD: auth.password,
      GANTRY_PROMETHEUS_URL: prometheus?.url,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onChild?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      outputs.push(`$ gantry ${args.join(' ')}\nexit ${code}\n${stderr}\n${stdout}`);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    }),
  );
}

function setConfig(rollout: Record<string, unknown>): void {
  writeFileSync(path.join(repo, 'gantry.yaml'), config(rollout));
}

const deploy = (version: string, extra: string[] = [], env: Record<string, string | undefined> = {}) =>
  gantry(['deploy', '--env', 'production', '--image', image, '--set-string', `backend.env.APP_VERSION=${version}`, ...extra], env);

/** One GET on a new connection (a kept-alive one would stay with one pod). */
function getFresh(url: string): Promise<{ status: number; version: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let version = '?';
        try {
          version = String((JSON.parse(body) as { version?: unknown }).version);
        } catch {
          // not the app's JSON
        }
        resolve({ status: res.statusCode ?? 0, version });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

interface Seen {
  at: number;
  status: number;
  version: string;
  error?: string;
}

/** Calls the Service until stopped, ~25 requests a second, each on a new connection. */
function clientLoop(): { stop(): Promise<Seen[]> } {
  const ip = kubectl(['-n', ns, 'get', 'service', app, '-o', 'jsonpath={.spec.clusterIP}']).trim();
  const seen: Seen[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        seen.push({ at, ...(await getFresh(`http://${ip}/api/hello`)) });
      } catch (error) {
        seen.push({ at, status: 0, version: '?', error: String(error) });
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** Waits until the Service answers only `version` (terminating pods of an earlier one drain first). */
async function onlyVersion(version: string): Promise<void> {
  const ip = kubectl(['-n', ns, 'get', 'service', app, '-o', 'jsonpath={.spec.clusterIP}']).trim();
  let inARow = 0;
  const until = Date.now() + 30_000;
  while (inARow < 20 && Date.now() < until) {
    const answer = await getFresh(`http://${ip}/api/hello`).catch(() => undefined);
    inARow = answer?.status === 200 && answer.version === version ? inARow + 1 : 0;
  }
  expect(inARow).toBe(20);
}

const versionOf = (seen: Seen[]) => [...new Set(seen.filter((s) => s.status === 200).map((s) => s.version))].sort();
const revision = () => Number(kubectl(['-n', ns, 'get', 'deployment', app, '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}']));
const deployments = () => kubectl(['-n', ns, 'get', 'deployments', '-o', 'jsonpath={.items[*].metadata.name}']).trim().split(/\s+/).filter(Boolean).sort();

beforeAll(async () => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubeconfig = namespacedKubeconfig(ns);
  repo = exampleRepo({ files: { 'gantry.yaml': config({}) } });
  const build = await gantry(['build', '--dotenv', 'build.env']);
  if (build.code !== 0) throw new Error(`gantry build failed (exit ${build.code}):\n${build.stderr}`);
  image = /GANTRY_IMAGE=(\S+)/.exec(readFileSync(path.join(repo, 'build.env'), 'utf8'))![1]!;
  prometheus = await startPrometheus({ namespaces: [ns], scrapeIntervalSeconds: 1 });
  gitlab = await startGitlabServer({
    projects: [{ id: project, path: 'acme/hello' }],
    privateTokens: [{ token: gitlabToken, user: { id: 7, username: 'gantry-bot', name: 'Gantry' } }],
  });
  gitlab.addMergeRequest(project, { iid: 5, title: 'Faster greetings' });
  // The first version, by a plain rollout (there is no stable version for a canary yet).
  setConfig(canary());
  const first = await deploy('1');
  expect({ code: first.code, stderr: first.code === 0 ? '' : first.stderr }).toEqual({ code: 0, stderr: '' });
  expect(first.stderr).toContain('no stable version to compare a canary with');
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  await gitlab?.close();
  kubectlResult(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  if (process.env.GANTRY_TEST_LOG_DIR) writeFileSync(path.join(process.env.GANTRY_TEST_LOG_DIR, `canary-${process.pid}.log`), outputs.join('\n\n'));
}, 60_000);

describe('a canary with analysis against a real Prometheus', () => {
  test('a good version passes its analysis and is promoted: one new revision, no canary left, stable served throughout', async () => {
    await onlyVersion('1');
    const before = revision();
    const loop = clientLoop();
    const run = await deploy('2');
    const seen = await loop.stop();
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stderr).toMatch(/1 canary pod\(s\) beside 4 stable: 20% of the traffic \(asked 20%\)/);
    expect(run.stderr).toMatch(/analysis \+[0-9.]+ s: pods 1\/1 ready; error-rate 0 \(<= 0.1\)/);
    expect(run.stderr).toContain('step 1/1 passed');
    const report = JSON.parse(run.stdout) as { revision: number; canary: { steps: { actualWeight: number }[] } };
    expect(report.canary.steps).toEqual([expect.objectContaining({ step: 1, weight: 20, actualWeight: 20, canaryReplicas: 1, stableReplicas: 4 })]);
    expect(revision()).toBe(before + 1);
    expect(deployments()).toEqual([app]);
    // Every request was answered; both versions served during the canary.
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    expect(versionOf(seen)).toEqual(['1', '2']);
    console.log(`good canary: ${run.seconds.toFixed(1)} s, ${seen.length} requests, ${seen.filter((s) => s.version === '2').length} to v2`);
  }, 120_000);

  test('a version whose error rate crosses the threshold is aborted at the first step, with the query and its values over time; the stable version answers every request', async () => {
    await onlyVersion('2');
    const before = revision();
    const loop = clientLoop();
    // Deployed for merge request !5: its note gets the diagnosis.
    const run = await deploy('3', ['--set-string', 'backend.env.FAIL_RATE=0.5', '--mr', '5'], {
      GANTRY_GITLAB_URL: gitlab.url,
      GANTRY_GITLAB_TOKEN: gitlabToken,
      CI_PROJECT_ID: String(project),
    });
    const seen = await loop.stop();
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('"failed":"E_CANARY_ABORTED"');
    expect(run.stderr).toMatch(
      /error E_CANARY_ABORTED: the canary of hello in gt-canary-\d+ was aborted at step 1\/1 \(20% of the traffic\) by the analysis error-rate: analysis error-rate: [0-9.]+ > max 0.1 at \+[0-9.]+ s/,
    );
    // {{canaryPods}} names this canary's pod template only (an earlier canary's series linger in rate()).
    const hash = kubectl([
      '-n',
      ns,
      'get',
      'replicasets',
      '-l',
      'gantry.dev/track=canary',
      '-o',
      'jsonpath={.items[*].metadata.labels.pod-template-hash}',
    ]).trim();
    expect(hash === '' ? [] : hash.split(' ')).toEqual([]); // the canary and its ReplicaSets are gone
    const expanded = ERROR_RATE.replaceAll('{{namespace}}', ns).replaceAll('{{canaryPods}}', `${app}-canary-(HASH)-[a-z0-9]+`);
    const shown = /^ {2}query: (.*)$/m.exec(run.stderr)?.[1] ?? '';
    expect(shown.replace(/hello-canary-\(([a-z0-9]+)\)-/g, 'hello-canary-(HASH)-')).toBe(expanded);
    expect(run.stderr).toContain('threshold: <= 0.1');
    expect(run.stderr).toMatch(/values over time:\n(\s+\+\s+[0-9.]+ s\s+.*\n)+.*<- breaks the threshold/);
    const notes = gitlab.mergeRequest(project, 5).notes.map((n) => n.body);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('E_CANARY_ABORTED');
    expect(notes[0]).toContain('threshold: <= 0.1');
    expect(notes[0]).toMatch(/values over time:[\s\S]*<- breaks the threshold/);
    expect(notes[0]).not.toContain(gitlabToken);
    // The stable version kept its revision and its capacity; the canary is gone.
    expect(revision()).toBe(before);
    expect(deployments()).toEqual([app]);
    expect(kubectl(['-n', ns, 'get', 'deployment', app, '-o', 'jsonpath={.status.readyReplicas}'])).toBe('4');
    // No request failed on the stable version; the failures are the canary's own answers.
    const failed = seen.filter((s) => s.status !== 200);
    expect(failed.filter((s) => s.version !== '3')).toEqual([]);
    expect(failed.length).toBeGreaterThan(0);
    expect(versionOf(seen)).toEqual(['2', '3']);
    console.log(`bad canary: aborted after ${run.seconds.toFixed(1)} s; ${failed.length} of ${seen.length} requests failed, all on the canary`);
  }, 120_000);

  test('a canary that crashes is aborted by the built-in checks, without any query', async () => {
    setConfig(canary({}, []));
    await onlyVersion('2');
    const before = revision();
    const loop = clientLoop();
    const run = await deploy('4', ['--set-string', 'backend.env.CRASH_AFTER_MS=3000'], { GANTRY_PROMETHEUS_URL: undefined });
    const seen = await loop.stop();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /aborted at step 1\/1 \(20% of the traffic\) by the built-in checks: canary pod hello-canary-\S+: container hello restarted 1 time\(s\)/,
    );
    expect(run.stderr).toContain('last termination: exit code 1');
    expect(run.stderr).not.toContain('check 1 analysis queries');
    expect(revision()).toBe(before);
    expect(deployments()).toEqual([app]);
    expect(seen.filter((s) => s.status === 200 && s.version !== '2' && s.version !== '4')).toEqual([]);
    expect(seen.filter((s) => s.status !== 200 && s.error === undefined && s.version !== '4')).toEqual([]);
  }, 120_000);

  test('a query Prometheus refuses, or a wrong token, stops the deploy with exit 2 before anything is applied', async () => {
    setConfig(canary({}, [{ name: 'broken', query: 'sum(rate(http_requests_total[10s]', max: 1 }]));
    const bad = await deploy('5');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/error E_ANALYSIS_QUERY: environments.production.rollout.analysis.queries broken: bad_data: .*parse error/);
    const proxy = await startTokenProxy({ target: prometheus.url, token: 'right-token' });
    try {
      setConfig(canary());
      const denied = await deploy('5', [], { GANTRY_PROMETHEUS_URL: proxy.url, GANTRY_PROMETHEUS_TOKEN: 'wrong-token' });
      expect(denied.code).toBe(2);
      expect(denied.stderr).toMatch(/E_ANALYSIS_QUERY: .*error-rate: refused the token \(HTTP 401/);
      expect(denied.stderr).toContain('fix: check the token CI variable');
      expect(denied.stderr).not.toContain('wrong-token');
    } finally {
      await proxy.close();
    }
    expect(deployments()).toEqual([app]);
    expect(kubectl(['-n', ns, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].envFrom}'])).not.toContain('APP_VERSION=5');
  }, 60_000);

  test('pause: manual holds the canary for gantry promote, which runs the remaining steps and promotes; gantry abort takes a held one back', async () => {
    setConfig(
      canary({
        steps: [
          { weight: 20, pause: 'manual' },
          { weight: 50, pause: '4s' },
        ],
      }),
    );
    const before = revision();
    const held = await deploy('6');
    expect({ code: held.code, stderr: held.code === 0 ? '' : held.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(held.stdout)).toMatchObject({ canary: { held: { step: 1, weight: 20 } } });
    expect(deployments()).toEqual([app, `${app}-canary`]);
    expect(revision()).toBe(before);

    // Another version cannot be promoted in its place.
    const other = await gantry(['promote', '--env', 'production', '--image', image, '--set-string', 'backend.env.APP_VERSION=7']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('error E_CANARY_MISMATCH');

    const loop = clientLoop();
    const promoted = await gantry(['promote', '--env', 'production', '--image', image, '--set-string', 'backend.env.APP_VERSION=6']);
    const seen = await loop.stop();
    expect({ code: promoted.code, stderr: promoted.code === 0 ? '' : promoted.stderr }).toEqual({ code: 0, stderr: '' });
    expect(promoted.stderr).toMatch(/4 canary pod\(s\) beside 4 stable: 50% of the traffic/);
    expect(revision()).toBe(before + 1);
    expect(deployments()).toEqual([app]);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);

    const again = await deploy('8');
    expect(again.code).toBe(0);
    expect(deployments()).toEqual([app, `${app}-canary`]);
    const aborted = await gantry(['abort', '--env', 'production']);
    expect(aborted.code).toBe(0);
    expect(JSON.parse(aborted.stdout)).toMatchObject({ aborted: `${app}-canary` });
    expect(deployments()).toEqual([app]);
    expect(revision()).toBe(before + 1);
    const none = await gantry(['abort', '--env', 'production']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('error E_CANARY_NONE');

    // A held canary is not left serving when a later deploy runs none (here: the stable template again).
    expect((await deploy('9')).code).toBe(0);
    expect(deployments()).toEqual([app, `${app}-canary`]);
    const plain = await deploy('6');
    expect({ code: plain.code, stderr: plain.code === 0 ? '' : plain.stderr }).toEqual({ code: 0, stderr: '' });
    expect(plain.stderr).toContain(`deployment/${app}-canary (a canary of an earlier deploy) is taken back: this deploy runs no canary`);
    expect(deployments()).toEqual([app]);
  }, 240_000);

  test('a deploy cancelled during the analysis (SIGTERM, as GitLab cancels a job) takes its canary back', async () => {
    setConfig(canary({ steps: [{ weight: 20, pause: '60s' }] }, []));
    let child: ReturnType<typeof spawn> | undefined;
    const running = gantry(
      ['deploy', '--env', 'production', '--image', image, '--set-string', 'backend.env.APP_VERSION=10'],
      { GANTRY_PROMETHEUS_URL: undefined },
      (c) => (child = c),
    );
    const until = Date.now() + 60_000;
    while (Date.now() < until && !kubectl(['-n', ns, 'get', 'deployments', '-o', 'name']).includes(`${app}-canary`))
      await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 3000));
    expect(deployments()).toEqual([app, `${app}-canary`]);
    child!.kill('SIGTERM');
    const run = await running;
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/taking the canary back/);
    expect(deployments()).toEqual([app]);
    expect(revision()).toBeGreaterThan(0);
  }, 120_000);
});
