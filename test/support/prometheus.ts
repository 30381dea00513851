// A real Prometheus for the tests: Debian's /usr/bin/prometheus (test/cluster/lib/k8s.sh installs
// it), run on a free loopback port with its storage in a temporary directory, scraping the local
// cluster's Gantry pods on their pod IPs. startTokenProxy puts the token check that Alibaba's
// Managed Service for Prometheus (ARMS) has in front of it: Prometheus itself has no bearer auth.
//
// Debian builds Prometheus without Kubernetes discovery (removed in 1.5 for client-go's
// dependencies, NEWS.Debian; 2.42's binary has no discovery/kubernetes and rejects
// kubernetes_sd_configs). So the pods are discovered here instead: a loopback endpoint lists them
// from the API server (admin kubeconfig, only the given namespaces) and answers Prometheus's
// http_sd_configs with the __meta_kubernetes_pod_* labels kubernetes_sd's pod role gives; the
// relabelling is the one a kubernetes_sd_configs job would use, unchanged.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { adminKubeconfig } from './cluster.js';
import { freeLoopbackPort, listenOnLoopback } from './loopback.js';

export const prometheusBinary = '/usr/bin/prometheus';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
  lastScrape: string;
}

export interface TestPrometheus {
  /** http://127.0.0.1:<port> */
  url: string;
  /** An instant query (/api/v1/query); a scalar comes back as one sample without labels. */
  query(promql: string): Promise<PromSample[]>;
  /** The active scrape targets (/api/v1/targets), to see what was discovered and why a scrape failed. */
  targets(): Promise<PromTarget[]>;
  /** What Prometheus logged so far (for a failed expectation's message). */
  log(): string;
  /** Stops the process (TERM, then KILL after 10 s), its discovery endpoint, and removes its storage. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Only pods in these namespaces are discovered (the API server is asked for these alone). */
  namespaces: string[];
  scrapeIntervalSeconds?: number;
  evaluationIntervalSeconds?: number;
  /** Kubeconfig the pods are listed with; the admin one by default. */
  kubeconfig?: string;
}

/** Prometheus's label-name sanitising (strutil.SanitizeLabelName): gantry.dev/track -> gantry_dev_track. */
const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');

/**
 * A pod as kubernetes_sd's pod role describes it, as an http_sd target group: the target is
 * <pod IP>:<first declared port of the first non-init container that declares one>, with that
 * container's and port's meta labels (the pod role would make one target per declared port of
 * every container; the app's port is the first one Gantry declares). Pods without an IP or a
 * port are left out, as Prometheus would fail to scrape them.
 */
export function podTargetGroup(pod: V1Pod): { targets: string[]; labels: Record<string, string> } | undefined {
  const ip = pod.status?.podIP;
  const container = pod.spec?.containers.find((c) => (c.ports ?? []).length > 0);
  const port = container?.ports?.[0];
  if (!ip || !container || !port) return undefined;
  const labels: Record<string, string> = {
    __meta_kubernetes_namespace: pod.metadata?.namespace ?? '',
    __meta_kubernetes_pod_name: pod.metadata?.name ?? '',
    __meta_kubernetes_pod_ip: ip,
    __meta_kubernetes_pod_uid: pod.metadata?.uid ?? '',
    __meta_kubernetes_pod_node_name: pod.spec?.nodeName ?? '',
    __meta_kubernetes_pod_host_ip: pod.status?.hostIP ?? '',
    __meta_kubernetes_pod_phase: pod.status?.phase ?? '',
    __meta_kubernetes_pod_ready: String(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'),
    __meta_kubernetes_pod_container_init: 'false',
    __meta_kubernetes_pod_container_name: container.name,
    __meta_kubernetes_pod_container_image: container.image ?? '',
    __meta_kubernetes_pod_container_port_name: port.name ?? '',
    __meta_kubernetes_pod_container_port_number: String(port.containerPort),
    __meta_kubernetes_pod_container_port_protocol: port.protocol ?? 'TCP',
  };
  for (const [key, value] of Object.entries(pod.metadata?.labels ?? {})) {
    labels[`__meta_kubernetes_pod_label_${sanitize(key)}`] = value;
    labels[`__meta_kubernetes_pod_labelpresent_${sanitize(key)}`] = 'true';
  }
  for (const [key, value] of Object.entries(pod.metadata?.annotations ?? {})) {
    labels[`__meta_kubernetes_pod_annotation_${sanitize(key)}`] = value;
    labels[`__meta_kubernetes_pod_annotationpresent_${sanitize(key)}`] = 'true';
  }
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
  if (owner) {
    labels.__meta_kubernetes_pod_controller_kind = owner.kind;
    labels.__meta_kubernetes_pod_controller_name = owner.name;
  }
  return { targets: [`${ip}:${port.containerPort}`], labels };
}

/**
 * The configuration: the targets from `discoveryUrl` (http_sd, refreshed every scrape interval),
 * kept when the pod is labelled app.kubernetes.io/managed-by=gantry and Running, scraped at
 * /metrics. Series carry namespace, pod, container and every pod label (labelmap).
 */
export function prometheusConfig(options: PrometheusOptions & { discoveryUrl: string }): string {
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = {
    global: {
      scrape_interval: interval,
      // The default timeout (10 s) may not exceed the interval.
      scrape_timeout: interval,
      evaluation_interval: `${options.evaluationIntervalSeconds ?? options.scrapeIntervalSeconds ?? 1}s`,
    },
    scrape_configs: [
      {
        job_name: 'gantry-pods',
        metrics_path: '/metrics',
        http_sd_configs: [{ url: options.discoveryUrl, refresh_interval: interval }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_managed_by'], regex: 'gantry', action: 'keep' },
          { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Running', action: 'keep' },
          { source_labels: ['__meta_kubernetes_pod_container_init'], regex: 'true', action: 'drop' },
          {
            source_labels: ['__meta_kubernetes_pod_ip', '__meta_kubernetes_pod_container_port_number'],
            regex: '(.+);(.+)',
            replacement: '$1:$2',
            target_label: '__address__',
          },
          { action: 'labelmap', regex: '__meta_kubernetes_pod_label_(.+)' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
        ],
      },
    ],
  };
  // JSON is YAML: no YAML writer needed, and every string is quoted.
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The discovery endpoint: every GET lists the pods of `namespaces` from the API server and
 * answers the http_sd JSON. An API error answers 500, and Prometheus keeps the targets it had.
 */
export async function startPodDiscovery(options: { namespaces: string[]; kubeconfig?: string }) {
  const kc = new KubeConfig();
  kc.loadFromFile(options.kubeconfig ?? adminKubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  return listenOnLoopback(async (_req, res) => {
    try {
      const lists = await Promise.all(options.namespaces.map((namespace) => core.listNamespacedPod({ namespace })));
      const groups = lists.flatMap((list) => list.items.map(podTargetGroup).filter((g) => g !== undefined));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(groups));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`listing pods failed: ${String(error)}\n`);
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts Prometheus and resolves once it answers /-/ready (its storage is open and its config loaded). */
export async function startPrometheus(options: PrometheusOptions): Promise<TestPrometheus> {
  if (!existsSync(prometheusBinary))
    throw new Error(`${prometheusBinary} is missing: apt-get install --no-install-recommends prometheus (test/setup.sh and npm run cluster:up install it)`);
  if (options.namespaces.length === 0) throw new Error('startPrometheus: namespaces is empty; name the namespaces whose pods it should scrape');
  // Another process may take the free port before Prometheus binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      if (!String(error).includes('address already in use')) throw error;
    }
  }
  throw lastError;
}

async function startOnce(options: PrometheusOptions): Promise<TestPrometheus> {
  const discovery = await startPodDiscovery(options);
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig({ ...options, discoveryUrl: discovery.url }));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    prometheusBinary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      // Lookback as short as the tests: a stopped pod's series leaves instant queries in 30 s, not 5 min.
      '--query.lookback-delta=30s',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk) => {
    log += String(chunk);
    // Keep the end: a long test would otherwise hold every line in memory.
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => (running = false));
  // If this test process dies without stop() (a killed jest worker), the watchdog's stdin closes
  // and it ends Prometheus: none is left behind for the CI host check. stop() ends it first.
  const watchdog = spawn('sh', ['-c', 'read _; kill -TERM "$0" 2>/dev/null', String(child.pid)], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  watchdog.stdin?.on('error', () => {});
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  const stop = async () => {
    if (watchdog.exitCode === null) watchdog.kill('SIGKILL');
    if (running) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 10_000)))]);
      clearTimeout(timer);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await discovery.close();
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!running) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${log.split('\n').slice(-20).join('\n')}`);
    }
    try {
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not answer ${url}/-/ready within 60 s:\n${log.split('\n').slice(-20).join('\n')}`);
    }
    await sleep(100);
  }

  return {
    url,
    log: () => log,
    stop,
    async query(promql) {
      const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await r.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: unknown };
      };
      if (body.status !== 'success' || !body.data) throw new Error(`query ${promql} failed (HTTP ${r.status}): ${body.error ?? JSON.stringify(body)}`);
      if (body.data.resultType === 'vector') {
        return (body.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
          metric: s.metric,
          value: Number(s.value[1]),
        }));
      }
      if (body.data.resultType === 'scalar') return [{ metric: {}, value: Number((body.data.result as [number, string])[1]) }];
      throw new Error(`query ${promql} gave a ${body.data.resultType}, not an instant vector or scalar`);
    },
    async targets() {
      const r = await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(10_000) });
      const body = (await r.json()) as { data: { activeTargets: PromTarget[] } };
      return body.data.activeTargets.map((t) => ({
        labels: t.labels,
        scrapeUrl: t.scrapeUrl,
        health: t.health,
        lastError: t.lastError,
        lastScrape: t.lastScrape,
      }));
    },
  };
}

export interface TokenProxy {
  /** http://127.0.0.1:<port>: use it as the Prometheus URL. */
  url: string;
  /** Requests answered 401 so far. */
  rejected(): number;
  close(): Promise<void>;
}

/**
 * A loopback proxy that checks the token the way Alibaba Cloud's Managed Service for Prometheus
 * does, then forwards to `target` (a Prometheus URL).
 *
 * What this is based on (public documentation, "Access Prometheus data through HTTP API URLs" of
 * Managed Service for Prometheus / ARMS, 2025-2026): a V1 instance has an optional token made
 * with "Generate Token"; once made, every read must carry it, and the Grafana steps put it in a
 * custom header `Authorization` whose value is the token itself (no scheme). A V2 instance uses
 * HTTP Basic auth with an AccessKey ID and secret instead (`basic` here). Gantry's design sends
 * `Authorization: Bearer <token>`: both that and the bare token are accepted, so a test fails
 * only on a missing or wrong credential. The documentation does not show ARMS's 401 body or
 * headers, so the answer here is the Prometheus API's error envelope (status, errorType, error)
 * with a WWW-Authenticate challenge (RFC 6750 / 7617): clients must rely on the 401 status, not
 * on the body's wording. The credential is not forwarded (Prometheus does not need it).
 */
export async function startTokenProxy(options: { target: string; token: string; basic?: { user: string; password: string } }): Promise<TokenProxy> {
  const target = new URL(options.target);
  let rejected = 0;
  const accepted = new Set([options.token, `Bearer ${options.token}`]);
  if (options.basic) accepted.add(`Basic ${Buffer.from(`${options.basic.user}:${options.basic.password}`).toString('base64')}`);
  const listener = await listenOnLoopback(async (req, res) => {
    const given = (req.headers.authorization ?? '').trim();
    if (!accepted.has(given) && !accepted.has(given.replace(/^bearer\s+/i, 'Bearer '))) {
      rejected += 1;
      const body = JSON.stringify({
        status: 'error',
        errorType: 'unauthorized',
        error: given === '' ? 'authentication required: no Authorization header' : 'authentication failed: invalid token',
      });
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': options.basic ? 'Basic realm="prometheus"' : 'Bearer realm="prometheus"',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      req.resume();
      return;
    }
    const headers = { ...req.headers, host: target.host };
    delete headers.authorization;
    await new Promise<void>((resolve) => {
      const upstream = http.request(
        { hostname: target.hostname, port: target.port, method: req.method, path: `${target.pathname.replace(/\/$/, '')}${req.url ?? '/'}`, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', resolve);
          answer.on('error', () => resolve());
        },
      );
      upstream.on('error', (error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${error.message}\n`);
        resolve();
      });
      req.pipe(upstream);
    });
  });
  return { url: listener.url, rejected: () => rejected, close: () => listener.close() };
}
