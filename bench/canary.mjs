#!/usr/bin/env node
// Benchmark for issue #15: a bad canary (examples/hello-node with FAIL_RATE=0.5: every second
// answer a 500) at a 10% step (9 stable pods, 1 canary pod, weight by replicas), analysed by the
// error-rate query against a real Prometheus (Debian's, scraping every 1 s). Measured from the
// client side and from Prometheus, for two analysis intervals in one run:
//   - first error -> canary gone: from the first 500 a client saw to the canary's deletion;
//   - threshold crossed -> abort decided: from the first moment the same query, polled here every
//     250 ms, is above the threshold, to Gantry's "aborting the canary" (goal: <= one interval);
//   - bad-version share: answers from the canary / all answers while it served (goal: <= the
//     step's weight + 2 points).
// A client runs 4 loops of GET /api/hello on new connections against the Service's ClusterIP.
//
//   node bench/canary.mjs [runs-per-interval]    (default 3; needs dist/ and npm run cluster:up)
//
// Raw results: $TMPDIR/gantry-bench-canary.json. Exit code 1 when a goal is missed.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { importTs } from './support/ts-import.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[2] ?? 3);
const intervals = [5, 10];
const weight = 10;
const stable = 9;
const threshold = 0.05;
const clusterState = process.env.GANTRY_CLUSTER_STATE ?? '/var/lib/gantry-cluster';
const adminKubeconfig = path.join(clusterState, 'kubeconfig', 'admin.kubeconfig');
const kubectlPath = path.join(root, 'test', 'cluster', 'kubectl');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const id = Math.floor(Date.now() / 1000)
  .toString(36)
  .slice(-5);
const ns = `${process.env.GANTRY_BENCH_PREFIX ?? 'gtb15-'}${id}`;
const app = 'hello';
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const kubectl = (args) => spawnSync(kubectlPath, args, { encoding: 'utf8' }).stdout;
const auth = Object.fromEntries(
  readFileSync(path.join(clusterState, 'registry-auth.env'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/=(.*)/s).slice(0, 2)),
);
const query = (namespace, pods) =>
  `(sum(rate(http_requests_total{namespace="${namespace}",pod=~"${pods}",path=~"/|/api/hello",code=~"5.."}[10s])) or vector(0)) / sum(rate(http_requests_total{namespace="${namespace}",pod=~"${pods}",path=~"/|/api/hello"}[10s]))`;

function config(interval) {
  return YAML.stringify({
    app,
    registry: { pushHost: '127.0.0.1:5001', namespace: ns },
    backend: {
      port: 3000,
      healthPath: '/healthz',
      replicas: stable,
      maxReplicas: 20,
      buildArgs: { NODE_IMAGE: '127.0.0.1:5000/gantry/node:20' },
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
      env: { APP_VERSION: 'stable' },
    },
    environments: {
      production: {
        namespace: ns,
        kubeconfig: 'KUBECONFIG_TEST',
        rollout: {
          strategy: 'canary',
          steps: [{ weight, pause: '120s' }],
          analysis: {
            interval: `${interval}s`,
            queries: [
              {
                name: 'error-rate',
                query: query('{{namespace}}', '{{canaryPods}}'),
                max: threshold,
              },
            ],
          },
        },
      },
    },
  });
}

function gantry(dir, args, env, onLine) {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: dir,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|KUBECONFIG)/.test(k))),
      KUBECONFIG_TEST: adminKubeconfig,
      GANTRY_REGISTRY_USER: auth.REGISTRY_USER,
      GANTRY_REGISTRY_PASSWORD: auth.REGISTRY_PASSWORD,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => {
    stderr += c;
    const lines = (partial + c).split('\n');
    partial = lines.pop();
    for (const line of lines) onLine?.(line, Date.now());
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 })));
}

function getFresh(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let version = '?';
        try {
          version = JSON.parse(body).version;
        } catch {}
        resolve({ status: res.statusCode, version });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, version: '?', error: String(e) }));
  });
}

function client(ip) {
  const seen = [];
  let running = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      const at = Date.now();
      seen.push({ at, ...(await getFresh(`http://${ip}/api/hello`)) });
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return seen;
    },
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const { startPrometheus } = await importTs('test/support/prometheus.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-bench-canary-'));
  cpSync(path.join(root, 'examples', 'hello-node'), dir, { recursive: true });
  writeFileSync(path.join(dir, 'gantry.yaml'), config(intervals[0]));
  // gantry build tags the image with the commit: a repository of its own.
  const git = (...args) => spawnSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], { cwd: dir });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'canary bench');
  spawnSync(kubectlPath, ['create', 'namespace', ns]);
  const prometheus = await startPrometheus({ namespaces: [ns], scrapeIntervalSeconds: 1 });
  const results = [];
  try {
    const build = await gantry(dir, ['build', '--dotenv', 'build.env']);
    if (build.code !== 0) throw new Error(`gantry build failed:\n${build.stderr}`);
    const image = /GANTRY_IMAGE=(\S+)/.exec(readFileSync(path.join(dir, 'build.env'), 'utf8'))[1];
    const first = await gantry(dir, ['deploy', '--env', 'production', '--image', image], { GANTRY_PROMETHEUS_URL: prometheus.url });
    if (first.code !== 0) throw new Error(`first deploy failed:\n${first.stderr}`);
    const ip = kubectl(['-n', ns, 'get', 'service', app, '-o', 'jsonpath={.spec.clusterIP}']).trim();
    console.log(`bench canary ${new Date().toISOString()} load ${load()}: ${stable} stable pods, a ${weight}% step, threshold ${threshold}`);
    for (const interval of intervals) {
      writeFileSync(path.join(dir, 'gantry.yaml'), config(interval));
      for (let r = 1; r <= runs; r++) {
        const bad = `bad-${interval}-${r}`;
        // The last run's canary pods drain first (2 s): the hash looked up below is this run's.
        for (let i = 0; i < 100 && kubectl(['-n', ns, 'get', 'pods', '-l', 'gantry.dev/track=canary', '-o', 'name']).trim(); i++) {
          await new Promise((res) => setTimeout(res, 200));
        }
        const loadBefore = load();
        const loop = client(ip);
        let crossed;
        let polling = true;
        // The same query as Gantry's, for this canary's pod template only (as Gantry expands {{canaryPods}}).
        const poller = (async () => {
          let hash = '';
          while (polling) {
            const at = Date.now();
            if (!hash)
              hash = kubectl([
                '-n',
                ns,
                'get',
                'replicasets',
                '-l',
                'gantry.dev/track=canary',
                '-o',
                'jsonpath={.items[0].metadata.labels.pod-template-hash}',
              ]).trim();
            const v = hash ? await prometheus.query(query(ns, `${app}-canary-${hash}-[a-z0-9]+`)).catch(() => []) : [];
            if (crossed === undefined && v.some((s) => s.value > threshold)) crossed = at;
            await new Promise((res) => setTimeout(res, 250));
          }
        })();
        const marks = {};
        const run = await gantry(
          dir,
          ['deploy', '--env', 'production', '--image', image, '--set-string', `backend.env.APP_VERSION=${bad}`, '--set-string', 'backend.env.FAIL_RATE=0.5'],
          { GANTRY_PROMETHEUS_URL: prometheus.url },
          (line, at) => {
            if (line.includes('aborting the canary')) marks.decided = at;
            if (/canary \S+ deleted in/.test(line)) marks.gone = at;
            if (/== analysis of step 1/.test(line)) marks.analysis = at;
          },
        );
        await new Promise((res) => setTimeout(res, 1000));
        polling = false;
        await poller;
        const seen = await loop.stop();
        const fromBad = seen.filter((s) => s.version === bad);
        const firstError = seen.find((s) => s.status === 500 && s.version === bad)?.at;
        const firstBad = fromBad[0]?.at;
        const lastBad = fromBad.at(-1)?.at;
        const during = seen.filter((s) => s.at >= firstBad && s.at <= lastBad);
        const stableFailures = seen.filter((s) => s.status !== 200 && s.version !== bad).length;
        const result = {
          interval,
          run: r,
          code: run.code,
          aborted: run.stdout.includes('E_CANARY_ABORTED'),
          errorToGoneSeconds: marks.gone && firstError ? (marks.gone - firstError) / 1000 : null,
          crossedToDecidedSeconds: marks.decided && crossed ? (marks.decided - crossed) / 1000 : null,
          badSharePercent: during.length ? (100 * fromBad.length) / during.length : null,
          requests: seen.length,
          badAnswers: fromBad.length,
          stableFailures,
          deploySeconds: run.seconds,
          load: `${loadBefore} -> ${load()}`,
        };
        results.push(result);
        console.log(
          `interval ${interval} s, run ${r}: ${result.aborted ? 'aborted' : `NOT aborted (exit ${run.code})`}; first error -> canary gone ${result.errorToGoneSeconds?.toFixed(1)} s; threshold crossed -> abort decided ${result.crossedToDecidedSeconds?.toFixed(1)} s; bad-version share ${result.badSharePercent?.toFixed(1)}% of ${during.length} answers while it served; stable failures ${stableFailures}; load ${result.load}`,
        );
        if (!result.aborted) console.log(run.stderr.split('\n').slice(-30).join('\n'));
      }
    }
  } finally {
    await prometheus.stop();
    spawnSync(kubectlPath, ['delete', 'namespace', ns, '--wait=false']);
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(path.join(tmpdir(), 'gantry-bench-canary.json'), JSON.stringify(results, null, 2));
  let ok = true;
  for (const interval of intervals) {
    const mine = results.filter((r) => r.interval === interval);
    const decided = mine.map((r) => r.crossedToDecidedSeconds).filter((x) => x !== null);
    const share = mine.map((r) => r.badSharePercent).filter((x) => x !== null);
    const gone = mine.map((r) => r.errorToGoneSeconds).filter((x) => x !== null);
    const within = decided.every((d) => d <= interval) && mine.every((r) => r.aborted);
    const shareOk = share.every((s) => s <= weight + 2);
    ok = ok && within && shareOk && mine.every((r) => r.stableFailures === 0);
    console.log(
      `interval ${interval} s: threshold crossed -> abort decided median ${median(decided).toFixed(1)} s, max ${Math.max(...decided).toFixed(1)} s (goal <= ${interval} s: ${within ? 'met' : 'MISSED'}); first error -> canary gone median ${median(gone).toFixed(1)} s; bad share median ${median(share).toFixed(1)}%, max ${Math.max(...share).toFixed(1)}% (goal <= ${weight + 2}%: ${shareOk ? 'met' : 'MISSED'})`,
    );
  }
  process.exitCode = ok ? 0 : 1;
}

await main();
