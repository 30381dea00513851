// The tests' real Prometheus (Debian's package, test/support/prometheus.ts) against the real
// cluster: examples/hello-node, built and deployed by this checkout's CLI with FAIL_RATE=0.5,
// is discovered through kubernetes_sd_configs and scraped on its pod IPs, and its error rate is
// there to query, by namespace, pod and pod label (a canary pod's gantry.dev/track as
// gantry_dev_track). The token proxy checks credentials the way ARMS does, in front of it.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, registryAuth, requireCluster } from '../support/cluster.js';
import { parseDotenv } from '../support/fixtures.js';
import { type PromSample, prometheusBinary, prometheusConfig, startPrometheus, startTokenProxy, type TestPrometheus } from '../support/prometheus.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const ns = `prom-${process.pid}`;
let repo = '';
let image = '';
let kubeconfig = '';
let prometheus: TestPrometheus | undefined;
const timings: Record<string, number> = {};

const config = {
  app: 'hello',
  registry: { pushHost: authRegistry, namespace: ns },
  backend: {
    port: 3000,
    healthPath: '/healthz',
    replicas: 2,
    buildArgs: { NODE_IMAGE: nodeBaseImage },
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    env: { FAIL_RATE: '0.5', APP_VERSION: 'bad-1' },
  },
  environments: { staging: { namespace: ns, kubeconfig: 'KUBECONFIG_TEST' } },
};

/** This checkout's CLI, as a CI job runs it, with the registry's credentials. */
function gantry(args: string[], env: Record<string, string> = {}) {
  const auth = registryAuth();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|K8S_SECRET)/.test(k)));
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...base, GANTRY_REGISTRY_USER: auth.user, GANTRY_REGISTRY_PASSWORD: auth.password, ...env },
  });
  if (r.status !== 0) throw new Error(`gantry ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** One GET on a new connection (a kept-alive one would stay with one pod). */
function getFresh(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The pod IPs of the Running pods matching `selector` in the test namespace. */
function podIps(selector: string): string[] {
  return kubectl(['-n', ns, 'get', 'pods', '-l', selector, '--field-selector=status.phase=Running', '-o', 'jsonpath={.items[*].status.podIP}'])
    .split(/\s+/)
    .filter(Boolean);
}

/**
 * Sends requests to every IP (new connection each, alternating / and /api/hello) while `check`
 * is not yet true, for at most `seconds`; returns how long it took. Bounded in count and time.
 */
async function trafficUntil(ips: string[], check: () => Promise<boolean>, seconds: number): Promise<number> {
  const started = Date.now();
  let sent = 0;
  while (Date.now() - started < seconds * 1000 && sent < 20_000) {
    for (const ip of ips) {
      await getFresh(`http://${ip}:3000${sent % 2 ? '/api/hello' : '/'}`).catch(() => 0);
      sent += 1;
    }
    if (sent % (ips.length * 5) === 0 && (await check())) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not seen within ${seconds} s (${sent} requests sent); targets: ${JSON.stringify(await prometheus?.targets(), null, 1)}`);
}

async function waitFor(check: () => Promise<boolean>, seconds: number, what: string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    if (await check()) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not seen within ${seconds} s; targets: ${JSON.stringify(await prometheus?.targets(), null, 1)}`);
}

beforeAll(async () => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubeconfig = namespacedKubeconfig(ns);
  repo = exampleRepo({ branch: 'k8s-backend', files: { 'gantry.yaml': YAML.stringify(config) } });
  gantry(['build'], { GANTRY_REGISTRY_NAMESPACE: ns });
  image = parseDotenv(readFileSync(path.join(repo, 'gantry-build.env'), 'utf8')).GANTRY_IMAGE!;
  gantry(['deploy', '--env', 'staging', '--image', image], { KUBECONFIG_TEST: Buffer.from(readFileSync(kubeconfig)).toString('base64') });
}, 300_000);

afterAll(async () => {
  await prometheus?.stop();
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
  if (repo) rmSync(repo, { recursive: true, force: true });
  if (Object.keys(timings).length > 0) process.stderr.write(`prometheus timings (s): ${JSON.stringify(timings)}\n`);
}, 60_000);

describe('the tests’ Prometheus', () => {
  test("its configuration passes Debian's promtool", () => {
    const dir = path.join(repo, 'prometheus-check');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'prometheus.yml');
    writeFileSync(file, prometheusConfig({ namespaces: [ns], discoveryUrl: 'http://127.0.0.1:9/' }));
    const r = spawnSync('/usr/bin/promtool', ['check', 'config', file], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  test('scrapes the deployed pods by Kubernetes discovery and sees their 500s within 30 s, by namespace and pod', async () => {
    const started = Date.now();
    prometheus = await startPrometheus({ namespaces: [ns] });
    timings.ready = (Date.now() - started) / 1000;
    expect(prometheus.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pods = kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/name=hello', '-o', 'jsonpath={.items[*].metadata.name}'])
      .split(/\s+/)
      .filter(Boolean);
    expect(pods).toHaveLength(2);
    // Both pods are discovered and scraped (up == 1) without any request to them yet.
    timings.firstScrape = await waitFor(async () => (await prometheus!.query(`sum(up{namespace="${ns}"})`))[0]?.value === 2, 30, 'two targets up');
    timings.firstScrapeSinceStart = (Date.now() - started) / 1000;

    const errors = `sum(rate(http_requests_total{namespace="${ns}",code="500"}[10s]))`;
    let result: PromSample[] = [];
    timings.errorRateSeen = await trafficUntil(
      podIps('app.kubernetes.io/name=hello'),
      async () => {
        result = await prometheus!.query(errors);
        return (result[0]?.value ?? 0) > 0;
      },
      30,
    );
    expect(result[0]!.value).toBeGreaterThan(0);

    // Each pod's series carry where they came from, and every pod label.
    const series = await prometheus.query(`http_requests_total{namespace="${ns}",code="500"}`);
    expect(new Set(series.map((s) => s.metric.pod))).toEqual(new Set(pods));
    const labels = series[0]!.metric;
    process.stderr.write(`series labels: ${JSON.stringify(labels)}\n`);
    expect(labels).toMatchObject({
      __name__: 'http_requests_total',
      namespace: ns,
      code: '500',
      container: 'hello',
      job: 'gantry-pods',
      app_kubernetes_io_managed_by: 'gantry',
      app_kubernetes_io_name: 'hello',
    });
    expect(labels.instance).toMatch(/^10\.244\.\d+\.\d+:3000$/);
    // Stable pods carry no track label.
    expect(labels.gantry_dev_track).toBeUndefined();
    // The error share matches FAIL_RATE: half of / and /api/hello.
    const share = await prometheus.query(
      `sum(increase(http_requests_total{namespace="${ns}",code="500"}[1m])) / sum(increase(http_requests_total{namespace="${ns}",path=~"/|/api/hello"}[1m]))`,
    );
    expect(share[0]!.value).toBeGreaterThan(0.4);
    expect(share[0]!.value).toBeLessThan(0.6);
  }, 120_000);

  test('a pod labelled gantry.dev/track: canary is seen with gantry_dev_track="canary"', async () => {
    if (!prometheus) prometheus = await startPrometheus({ namespaces: [ns] });
    const stable = JSON.parse(kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/name=hello', '-o', 'json'])).items[0];
    // The stable pod's spec and labels, plus the track label: what the canary Deployment makes.
    const canary = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello-canary-probe', namespace: ns, labels: { ...stable.metadata.labels, 'gantry.dev/track': 'canary' } },
      spec: { ...stable.spec, nodeName: undefined, hostname: undefined },
    };
    delete canary.metadata.labels['pod-template-hash'];
    kubectl(['apply', '-f', '-'], { input: JSON.stringify(canary) });
    kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/hello-canary-probe', '--timeout=60s']);
    timings.canarySeen = await trafficUntil(
      podIps('gantry.dev/track=canary'),
      async () => (await prometheus!.query(`http_requests_total{namespace="${ns}",gantry_dev_track="canary"}`)).length > 0,
      30,
    );
    const series = await prometheus.query(`http_requests_total{namespace="${ns}",gantry_dev_track="canary"}`);
    expect(new Set(series.map((s) => s.metric.pod))).toEqual(new Set(['hello-canary-probe']));
    // The stable pods are still there, without the label.
    const stableSeries = await prometheus.query(`up{namespace="${ns}",gantry_dev_track!="canary"}`);
    expect(stableSeries.length).toBe(2);
  }, 120_000);
});

describe('the token proxy (ARMS-style credentials in front of Prometheus)', () => {
  const token = 'arms-token-0123456789abcdef';

  test('401 without a token and with a wrong one; the right token (Bearer or bare) passes through, GET and POST', async () => {
    if (!prometheus) prometheus = await startPrometheus({ namespaces: [ns] });
    const proxy = await startTokenProxy({ target: prometheus.url, token });
    try {
      const query = `${proxy.url}/api/v1/query?query=vector(42)`;
      const none = await fetch(query);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="prometheus"');
      expect(await none.json()).toEqual({ status: 'error', errorType: 'unauthorized', error: 'authentication required: no Authorization header' });
      const wrong = await fetch(query, { headers: { authorization: `Bearer ${token}x` } });
      expect(wrong.status).toBe(401);
      expect(((await wrong.json()) as { error: string }).error).toBe('authentication failed: invalid token');
      expect((await fetch(query, { headers: { authorization: 'Basic Zm9vOmJhcg==' } })).status).toBe(401);
      expect(proxy.rejected()).toBe(3);

      for (const authorization of [`Bearer ${token}`, token]) {
        const ok = await fetch(query, { headers: { authorization } });
        expect(ok.status).toBe(200);
        expect(await ok.json()).toMatchObject({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: {}, value: [expect.any(Number), '42'] }] },
        });
      }
      // A POSTed form query (as Grafana and many clients send) reaches Prometheus whole.
      const posted = await fetch(`${proxy.url}/api/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: 'vector(7)' }),
      });
      expect(posted.status).toBe(200);
      expect(((await posted.json()) as { data: { result: { value: [number, string] }[] } }).data.result[0]!.value[1]).toBe('7');
      // Prometheus's own errors come back as they are.
      const bad = await fetch(`${proxy.url}/api/v1/query?query=sum(`, { headers: { authorization: `Bearer ${token}` } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { errorType: string }).errorType).toBe('bad_data');
      expect(proxy.rejected()).toBe(3);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  test('with AccessKey credentials (a V2 instance) Basic auth passes, and a wrong secret is refused with a Basic challenge', async () => {
    if (!prometheus) prometheus = await startPrometheus({ namespaces: [ns] });
    const proxy = await startTokenProxy({ target: prometheus.url, token, basic: { user: 'LTAI5tTestKeyId', password: 'test-key-secret' } });
    try {
      const query = `${proxy.url}/api/v1/query?query=vector(1)`;
      const basic = `Basic ${Buffer.from('LTAI5tTestKeyId:test-key-secret').toString('base64')}`;
      expect((await fetch(query, { headers: { authorization: basic } })).status).toBe(200);
      const wrong = await fetch(query, { headers: { authorization: `Basic ${Buffer.from('LTAI5tTestKeyId:nope').toString('base64')}` } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="prometheus"');
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

test('the binary is the Debian package', () => {
  const r = spawnSync(prometheusBinary, ['--version'], { encoding: 'utf8' });
  expect(`${r.stdout}${r.stderr}`).toMatch(/^prometheus, version 2\.\d+\.\d+/);
});
