// The rollout tracker against the real local cluster, with the rights a deploy job has (a
// ServiceAccount limited to the namespace). Every failure is made real: a crashing app, an image
// tag that does not exist, a missing Secret key, a pod too big for the node, a health check that
// answers 500, a container over its memory limit. Each must be named, with its evidence, within
// 30 s; a good rollout must be reported as soon as it is available; and an API server restart in
// the middle must not change the verdict.
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';
import { trackRollout, type TrackResult } from '../../src/track/index.js';
import { kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, registry, requireCluster, restartApiServer } from '../support/cluster.js';

const ns = `gt-track-${Math.random().toString(36).slice(2, 8)}`;
let kc: KubeConfig;
const measured: Record<string, number> = {};

// An HTTP server: /bad answers 500, everything else 200 (after READY_AFTER_MS, if set).
const server = `
const http = require('http');
const readyAt = Date.now() + Number(process.env.READY_AFTER_MS || 0);
http.createServer((q, s) => { s.statusCode = q.url === '/bad' || Date.now() < readyAt ? 500 : 200; s.end('ok'); })
  .listen(8080, () => console.log('listening on 8080'));
process.on('SIGTERM', () => setTimeout(() => process.exit(0), Number(process.env.EXIT_DELAY_MS || 0)));
`;

interface Workload {
  replicas?: number;
  image?: string;
  command?: string[];
  env?: unknown[];
  readinessPath?: string;
  readinessPeriod?: number;
  resources?: unknown;
  annotations?: Record<string, string>;
}

function deployment(name: string, w: Workload): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: w.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(w.annotations ? { annotations: w.annotations } : {}) },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'web',
              image: w.image ?? nodeBaseImage,
              command: w.command ?? ['node', '-e', server],
              ports: [{ containerPort: 8080 }],
              ...(w.env ? { env: w.env } : {}),
              ...(w.readinessPath
                ? { readinessProbe: { httpGet: { path: w.readinessPath, port: 8080 }, periodSeconds: w.readinessPeriod ?? 1, failureThreshold: 3 } }
                : {}),
              resources: w.resources ?? { requests: { cpu: '10m', memory: '32Mi' } },
            },
          ],
        },
      },
    },
  };
}

function apply(object: unknown): void {
  kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
}

async function track(name: string, timeoutSeconds = 45, secrets: string[] = []): Promise<{ result: TrackResult; log: string }> {
  const lines: string[] = [];
  const ctx = createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
  for (const secret of secrets) ctx.logger.addSecret(secret);
  const result = await trackRollout(ctx, kc, { namespace: ns, name, timeoutSeconds });
  const log = lines.join('');
  if (process.env.GANTRY_TRACK_LOG) process.stderr.write(`--- ${name}\n${log}`);
  return { result, log };
}

function failed(result: TrackResult) {
  if (result.ok) throw new Error(`expected the rollout to fail, it succeeded in ${result.elapsedMs} ms`);
  return result;
}

/** Apply, track, and check the failure code; records seconds-to-verdict. */
async function expectFailure(name: string, workload: Workload, code: string, secrets: string[] = []) {
  apply(deployment(name, workload));
  const { result, log } = await track(name, 45, secrets);
  const f = failed(result);
  measured[code] = f.elapsedMs / 1000;
  if (f.code !== code) throw new Error(`expected ${code}, got ${f.code}: ${f.message}\n${f.evidence.join('\n')}\n${log}`);
  expect(f.elapsedMs).toBeLessThan(30_000);
  return { f, log };
}

beforeAll(() => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubectl(['-n', ns, 'create', 'secret', 'generic', 'app-secrets', '--from-literal=API_KEY=not-the-key-you-want']);
  kc = new KubeConfig();
  kc.loadFromFile(namespacedKubeconfig(ns));
});

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
  process.stderr.write(`seconds to verdict: ${JSON.stringify(measured)}\n`);
});

describe('rollouts that fail are named within 30 s, with their evidence', () => {
  test.concurrent('a container that exits 1: E_ROLLOUT_CRASHLOOP with its log (secrets masked) and exit code', async () => {
    const token = 'tok-9f8e7d6c5b4a';
    const { f, log } = await expectFailure(
      'crash',
      {
        command: [
          'node',
          '-e',
          "console.log('starting app with token ' + process.env.API_TOKEN); console.error('Error: DATABASE_URL is not set'); process.exit(1)",
        ],
        env: [{ name: 'API_TOKEN', value: token }],
        // As every Deployment Gantry renders has: without a readiness probe a container counts as
        // ready the moment it runs, and on a loaded node the Deployment was once available (a
        // success, 3.8 s) before node had even exited.
        readinessPath: '/healthz',
      },
      'E_ROLLOUT_CRASHLOOP',
      [token],
    );
    expect(f.evidence.join('\n')).toContain('| starting app with token [MASKED]');
    expect(JSON.stringify(f) + log).not.toContain(token);
    expect(f.container).toBe('web');
    expect(f.pod).toMatch(/^crash-/);
    expect(f.evidence.join('\n')).toContain('exit code 1 (Error)');
    expect(f.evidence.join('\n')).toContain('| Error: DATABASE_URL is not set');
    expect(f.evidence.join('\n')).toContain('the instance that crashed');
  });

  test.concurrent('an image tag that does not exist: E_ROLLOUT_IMAGE_PULL naming the image, the registry and the kubelet message', async () => {
    const image = `${registry}/gantry/node:no-such-tag-${ns}`;
    const { f } = await expectFailure('badimage', { image }, 'E_ROLLOUT_IMAGE_PULL');
    expect(f.message).toContain(image);
    expect(f.message).toContain('(not found)');
    const evidence = f.evidence.join('\n');
    expect(evidence).toContain(`registry ${registry}`);
    expect(evidence).toMatch(/kubelet: Failed to pull image .*not found/);
    expect(f.fix).toContain('push it');
  });

  test.concurrent('a secretKeyRef to a missing key: E_ROLLOUT_CONFIG naming the Secret and the key, never a value', async () => {
    const { f, log } = await expectFailure(
      'missingkey',
      { env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'app-secrets', key: 'DATABASE_URL' } } }] },
      'E_ROLLOUT_CONFIG',
    );
    expect(f.message).toContain('key DATABASE_URL is missing from Secret app-secrets');
    expect(f.fix).toContain('K8S_SECRET_DATABASE_URL');
    expect(JSON.stringify(f) + log).not.toContain('not-the-key-you-want');
  });

  test.concurrent('requests of 64 CPUs: E_ROLLOUT_UNSCHEDULABLE naming cpu', async () => {
    const { f } = await expectFailure('bigcpu', { resources: { requests: { cpu: '64', memory: '32Mi' } } }, 'E_ROLLOUT_UNSCHEDULABLE');
    expect(f.message).toContain('not enough cpu');
    expect(f.evidence.join('\n')).toContain('Insufficient cpu');
    expect(f.evidence.join('\n')).toContain('requests cpu=64');
  });

  test.concurrent('a readiness path answering 500: E_ROLLOUT_READINESS after the probe budget, with the probe message', async () => {
    const { f } = await expectFailure('notready', { readinessPath: '/bad', readinessPeriod: 2 }, 'E_ROLLOUT_READINESS');
    expect(f.message).toContain('HTTP probe failed with statuscode: 500');
    expect(f.message).toContain('budget 9 s');
    expect(f.evidence.join('\n')).toContain('| listening on 8080');
    // Not before the budget: 2 s × 3 failures + 1 s timeout + 2 s grace after the container started (whole seconds).
    expect(f.elapsedMs).toBeGreaterThan(8_000);
  });

  test.concurrent('a container over its 32Mi memory limit: E_ROLLOUT_OOM', async () => {
    const { f } = await expectFailure(
      'oom',
      {
        command: ['node', '-e', 'const a = []; setInterval(() => { for (let i = 0; i < 20; i++) a.push(Buffer.alloc(1 << 20, 1)); }, 50)'],
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '32Mi' } },
        readinessPath: '/healthz', // see the crash test: never ready, as it never serves
      },
      'E_ROLLOUT_OOM',
    );
    expect(f.message).toContain('(32Mi)');
    expect(f.evidence.join('\n')).toContain('exit code 137 (OOMKilled), signal 9 (SIGKILL)');
  });
});

describe('rollouts that succeed', () => {
  test('a good rollout of 2 replicas is reported as soon as both are available, then an update waits for the old pods to go', async () => {
    apply(deployment('good', { replicas: 2, readinessPath: '/', env: [{ name: 'EXIT_DELAY_MS', value: '10000' }] }));
    const first = await track('good');
    if (!first.result.ok) throw new Error(`${first.result.code}: ${first.result.message}\n${first.result.evidence.join('\n')}\n${first.log}`);
    measured.success = first.result.elapsedMs / 1000;
    expect(first.result.elapsedMs).toBeLessThan(30_000);
    const d = JSON.parse(kubectl(['-n', ns, 'get', 'deployment', 'good', '-o', 'json']));
    expect(d.status.availableReplicas).toBe(2);
    // As soon as available: within 2 s (the Ready times have whole seconds) of the last pod becoming ready.
    const pods = JSON.parse(kubectl(['-n', ns, 'get', 'pods', '-l', 'app=good', '-o', 'json'])).items as {
      status: { conditions: { type: string; lastTransitionTime: string }[] };
    }[];
    const lastReady = Math.max(...pods.map((p) => Date.parse(p.status.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime)));
    const verdictAt = Date.now();
    expect(verdictAt - lastReady).toBeLessThan(3_000);
    expect(first.result.summary.map((r) => `${r.kind} ${r.role ?? ''} ${r.ready}`)).toEqual([
      'Deployment  2/2',
      'ReplicaSet new 2/2',
      'Pod new 1/1',
      'Pod new 1/1',
    ]);
    expect(first.log).toMatch(/2\/2 ready: all new pods available, no old pods left\n.*rolled out in/);

    // An update: complete only when no pod of the old ReplicaSet is left, terminating ones
    // included (the old pods take 2 s to stop: they finish work after SIGTERM until killed).
    apply(
      deployment('good', { replicas: 2, readinessPath: '/', annotations: { 'gantry.dev/commit': 'second' }, env: [{ name: 'EXIT_DELAY_MS', value: '10000' }] }),
    );
    const second = await track('good');
    if (!second.result.ok) throw new Error(`${second.result.code}: ${second.result.message}\n${second.log}`);
    const after = JSON.parse(kubectl(['-n', ns, 'get', 'pods', '-l', 'app=good', '-o', 'json'])).items as { metadata: { deletionTimestamp?: string } }[];
    expect(after).toHaveLength(2);
    expect(after.every((p) => !p.metadata.deletionTimestamp)).toBe(true);
    expect(second.log).toMatch(/old pods? to go away \(\d terminating\)/);
    expect(second.result.summary.filter((r) => r.kind === 'Pod').every((r) => r.role === 'new')).toBe(true);
  });

  test('a Deployment scaled to 0 and one without spec.replicas (HPA-managed) complete', async () => {
    apply(deployment('zero', { replicas: 0, readinessPath: '/' }));
    const zero = await track('zero');
    expect(zero.result.ok).toBe(true);
    // No replicas in the applied object: the API server defaults it (an HPA would set it).
    const hpa = deployment('hpa', { readinessPath: '/' }) as { spec: { replicas?: number } };
    delete hpa.spec.replicas;
    apply(hpa);
    const managed = await track('hpa');
    if (!managed.result.ok) throw new Error(`${managed.result.code}: ${managed.result.message}\n${managed.log}`);
    expect(managed.result.summary[0]).toMatchObject({ kind: 'Deployment', ready: '1/1' });
  });
});

describe('a rollout tracked again after its cause was fixed', () => {
  test('judges only what happened since: the CreateContainerConfigError of a Secret key added since is no verdict, and the pod that then starts is', async () => {
    kubectl(['-n', ns, 'create', 'secret', 'generic', 'added-later', '--from-literal=user=app']);
    apply(deployment('fixed', { env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'added-later', key: 'password' } } }] }));
    const before = await track('fixed', 45);
    expect(failed(before.result).code).toBe('E_ROLLOUT_CONFIG');
    kubectl(['-n', ns, 'patch', 'secret', 'added-later', '-p', JSON.stringify({ stringData: { password: 'pw-added' } })]);
    // The fix is in place once the kubelet has seen it (it watches Secrets: moments); the API
    // server runs on this machine, so its clock is ours.
    await new Promise((r) => setTimeout(r, 1500));
    const since = Date.now();
    const lines: string[] = [];
    const ctx = createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
    const after = await trackRollout(ctx, kc, { namespace: ns, name: 'fixed', timeoutSeconds: 60, since });
    if (!after.ok) throw new Error(`${after.code}: ${after.message}\n${after.evidence.join('\n')}\n${lines.join('')}`);
    measured.fixedSince = after.elapsedMs / 1000;
    // The same pod, started by the kubelet's next try, not a new one.
    expect(after.summary.filter((r) => r.kind === 'Pod')).toHaveLength(1);
    expect(lines.join('')).not.toContain("couldn't find key password");
  }, 90_000);
});

describe('access', () => {
  test('a deployer that may list but not watch gets its verdict by polling; with pollFallback off it is told which right is missing', async () => {
    const file = namespacedKubeconfig(ns, 'lister');
    kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'lister', namespace: ns },
        rules: [{ apiGroups: ['', 'apps'], resources: ['*'], verbs: ['get', 'list'] }],
      }),
    });
    const lister = new KubeConfig();
    lister.loadFromFile(file);
    apply(deployment('polled', { readinessPath: '/' }));
    const lines: string[] = [];
    const ctx = createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
    const result = await trackRollout(ctx, lister, { namespace: ns, name: 'polled', timeoutSeconds: 45 });
    expect(result.ok).toBe(true);
    expect(lines.join('')).toMatch(
      /the API server refuses to watch pods \(HTTP 403 pods is forbidden: User "system:serviceaccount:[^:]+:lister" cannot watch resource "pods".*polling every 2 s/,
    );

    // (A rollout that is already complete would succeed before any watch is refused: take a new one.)
    apply(deployment('strict', { readinessPath: '/' }));
    await expect(trackRollout(ctx, lister, { namespace: ns, name: 'strict', timeoutSeconds: 45, pollFallback: false })).rejects.toMatchObject({
      code: 'E_KUBE_FORBIDDEN',
      fix: expect.stringContaining('--verb=watch'),
    });
  });

  test('a Deployment that does not exist is an error, not a verdict', async () => {
    const ctx = createCtx({ logger: createLogger({ write: () => {}, gitlab: false, color: false }) });
    await expect(trackRollout(ctx, kc, { namespace: ns, name: 'no-such-app', timeoutSeconds: 10 })).rejects.toMatchObject({ code: 'E_KUBE_NOT_FOUND' });
  });
});

describe('an API server restart in the middle of tracking', () => {
  test('does not change the verdicts: a slow good rollout still succeeds, a crashing one still fails', async () => {
    // Ready 6 s after start: inside its readiness budget (2 s × 3 + 1 + 2 = 9 s) but after the restart began.
    apply(deployment('restart-good', { readinessPath: '/', readinessPeriod: 2, env: [{ name: 'READY_AFTER_MS', value: '6000' }] }));
    apply(deployment('restart-crash', { command: ['node', '-e', "setTimeout(() => { console.error('fatal: giving up'); process.exit(3); }, 1500)"] }));
    const good = track('restart-good', 120);
    const crash = track('restart-crash', 120);
    await new Promise((r) => setTimeout(r, 1500));
    const { downMs } = await restartApiServer();
    measured.apiServerDownSeconds = downMs / 1000;
    const [g, c] = await Promise.all([good, crash]);
    if (!g.result.ok) throw new Error(`restart-good: ${g.result.code}: ${g.result.message}\n${g.result.evidence.join('\n')}\n${g.log}`);
    const f = failed(c.result);
    expect(f.code).toBe('E_ROLLOUT_CRASHLOOP');
    expect(f.evidence.join('\n')).toContain('exit code 3');
    // The outage really happened while both were tracked, and both noticed it.
    for (const { log } of [g, c]) {
      expect(log).toMatch(/the API server does not answer/);
      expect(log).toMatch(/stream back/);
    }
    measured.restartGood = g.result.elapsedMs / 1000;
    measured.restartCrash = f.elapsedMs / 1000;
  }, 150_000);
});
