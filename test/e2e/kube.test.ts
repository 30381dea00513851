// The cluster-access layer against the real local cluster, as a deploy job uses it: with a
// ServiceAccount token that may only work in its own namespace, read from a CI variable.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx, type Ctx } from '../../src/context.js';
import { GantryError } from '../../src/errors.js';
import {
  applyObjects,
  ensureNamespace,
  kubeconfigFromCi,
  listRevisions,
  pullSecretObject,
  rollbackTo,
  scaleDeployment,
  secretFromCiVariables,
  withDeployLease,
  type CiKubeconfig,
  type LeaseHolder,
} from '../../src/kube/index.js';
import { microTime } from '../../src/kube/lease.js';
import { createLogger } from '../../src/log/logger.js';
import type { K8sObject } from '../../src/kube/objects.js';
import {
  adminKubeconfig,
  authRegistry,
  kubectl,
  kubectlResult,
  namespacedKubeconfig,
  nodeBaseImage,
  registry,
  registryAuth,
  requireCluster,
} from '../support/cluster.js';

const id = randomBytes(3).toString('hex');
const ns = `gt-kube-${id}`;
const createdNs = `gt-kube-${id}-new`;
const missingNs = `gt-kube-${id}-missing`;

let deployer: CiKubeconfig; // the deploy job's credentials: a namespaced ServiceAccount token
let narrow: CiKubeconfig; // the same, with a Role that does not cover Namespace objects
let deployerToken: string;
const helperFiles: string[] = []; // kubeconfigs namespacedKubeconfig() wrote

function capture(env: NodeJS.ProcessEnv = {}): { ctx: Ctx; log: () => string } {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env }), log: () => out };
}

const getJson = (args: string[]) => JSON.parse(kubectl([...args, '-o', 'json'])) as Record<string, any>;

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

async function caught(promise: Promise<unknown>): Promise<GantryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GantryError);
    return error as GantryError;
  }
  throw new Error('expected a GantryError');
}

function deployment(
  name: string,
  options: { image: string; env?: Record<string, string>; commit?: string; deployedBy?: string; replicas?: number },
): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'gantry' },
      annotations: {
        'gantry.dev/commit': options.commit ?? '0'.repeat(40),
        'gantry.dev/pipeline-url': `https://gitlab.example.com/acme/${name}/-/pipelines/${(options.commit ?? '0').charCodeAt(0)}`,
        'gantry.dev/deployed-by': options.deployedBy ?? 'alice',
        'kubernetes.io/change-cause': `gantry ${(options.commit ?? '0').slice(0, 8)} to staging`,
      },
    },
    spec: {
      replicas: options.replicas ?? 0,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': name }, annotations: { 'gantry.dev/config-checksum': (options.commit ?? '0').slice(0, 12) } },
        spec: {
          containers: [
            {
              name: 'app',
              image: options.image,
              command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
              env: Object.entries(options.env ?? {}).map(([k, v]) => ({ name: k, value: v })),
              resources: { requests: { cpu: '10m', memory: '32Mi' } },
            },
          ],
        },
      },
    },
  };
}

beforeAll(async () => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  const file = namespacedKubeconfig(ns);
  helperFiles.push(file);
  deployerToken = /token: "([^"]+)"/.exec(readFileSync(file, 'utf8'))![1]!;
  // As a CI variable holds it: base64 of the file.
  deployer = await kubeconfigFromCi(capture({ KUBECONFIG_STAGING: readFileSync(file).toString('base64') }).ctx, 'KUBECONFIG_STAGING');

  const narrowFile = namespacedKubeconfig(ns, 'narrow-deployer');
  helperFiles.push(narrowFile);
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'narrow-deployer', namespace: ns },
      rules: [
        { apiGroups: [''], resources: ['configmaps', 'secrets', 'services', 'pods'], verbs: ['*'] },
        { apiGroups: ['apps'], resources: ['deployments', 'deployments/scale', 'replicasets'], verbs: ['*'] },
      ],
    }),
  });
  // As a GitLab "file" variable holds it: a path.
  narrow = await kubeconfigFromCi(capture({ KUBECONFIG_NARROW: narrowFile }).ctx, 'KUBECONFIG_NARROW');
});

afterAll(async () => {
  await deployer?.dispose();
  await narrow?.dispose();
  for (const name of [ns, createdNs]) kubectlResult(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
  for (const file of helperFiles) rmSync(file, { force: true });
});

test("the deployer's kubeconfig comes from a base64 CI variable, works, and its token is masked", async () => {
  expect(readFileSync(deployer.path, 'utf8')).toContain(deployerToken);
  const { ctx, log } = capture({ KUBECONFIG_STAGING: Buffer.from(readFileSync(deployer.path)).toString('base64') });
  const again = await kubeconfigFromCi(ctx, 'KUBECONFIG_STAGING');
  ctx.logger.info(`Authorization: Bearer ${deployerToken}`);
  expect(log()).toContain('Authorization: Bearer [MASKED]');
  expect(log()).not.toContain(deployerToken);
  expect(await ensureNamespace(ctx, again.kc, ns)).toEqual({ name: ns, created: false, readable: true });
  await again.dispose();
});

test('ensureNamespace creates a missing namespace with its labels, once', async () => {
  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfig);
  const labels = { 'app.kubernetes.io/managed-by': 'gantry', 'gantry.dev/mr': '7' };
  const { ctx, log } = capture();
  expect(await ensureNamespace(ctx, admin, createdNs, labels)).toEqual({ name: createdNs, created: true, readable: true });
  expect(getJson(['get', 'namespace', createdNs]).metadata.labels).toMatchObject(labels);
  expect(await ensureNamespace(ctx, admin, createdNs, labels)).toEqual({ name: createdNs, created: false, readable: true });
  expect(log()).toContain(`created namespace ${createdNs}`);
});

test('a deployer that may not read Namespace objects proves its own namespace usable, and gets a clear error for one it cannot use', async () => {
  expect(kubectlResult(['auth', 'can-i', 'get', `namespace/${ns}`], { kubeconfig: narrow.path }).stdout.trim()).toBe('no');
  const { ctx, log } = capture();
  expect(await ensureNamespace(ctx, narrow.kc, ns, { 'app.kubernetes.io/managed-by': 'gantry' })).toEqual({ name: ns, created: false, readable: false });
  expect(log()).toContain(`namespace ${ns}: cannot read Namespace objects with these credentials; the namespace exists and is usable`);

  const error = await caught(ensureNamespace(ctx, narrow.kc, missingNs));
  expect(error.code).toBe('E_KUBE_FORBIDDEN');
  expect(error.message).toContain(`namespace ${missingNs}`);
  expect(error.fix).toContain(`kubectl create namespace ${missingNs}`);
  expect(kubectlResult(['get', 'namespace', missingNs]).code).not.toBe(0);
});

test('one invalid object means nothing is applied, and every refusal is listed with the API server message', async () => {
  const { ctx, log } = capture();
  const objects: K8sObject[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'invalid-env' }, data: { PORT: '8080' } },
    (() => {
      const d = deployment('invalid-web', { image: nodeBaseImage });
      (d.spec as any).selector.matchLabels = { 'app.kubernetes.io/name': 'something-else' };
      return d;
    })(),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'invalid-web' }, spec: { selector: { app: 'x' }, portz: [{ port: 80 }], ports: [{ port: 80 }] } },
    { apiVersion: 'networking.k8s.oi/v1', kind: 'Ingress', metadata: { name: 'invalid-web' }, spec: {} },
  ];
  const error = await caught(applyObjects(ctx, deployer.kc, objects, { namespace: ns }));
  expect(error.code).toBe('E_APPLY_INVALID');
  expect(error.exitCode).toBe(2);
  expect(error.message).toBe('the API server rejected 3 of 4 objects; nothing was applied');
  expect(error.details).toHaveLength(3);
  expect(error.details[0]).toMatch(/^deployment\/invalid-web: .*`selector` does not match template `labels`/);
  expect(error.details[1]).toMatch(/^service\/invalid-web: .*\.spec\.portz: field not declared in schema/);
  expect(error.details[2]).toBe('ingress/invalid-web: the cluster does not serve networking.k8s.oi/v1 (no Ingress there)');
  expect(log()).not.toContain('retrying'); // a refusal is not retried
  for (const kind of ['configmap', 'deployment', 'service']) {
    const r = kubectlResult(['-n', ns, 'get', kind, kind === 'configmap' ? 'invalid-env' : 'invalid-web']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('NotFound');
  }
});

test('server-side apply twice changes nothing, and a Service keeps its clusterIP when re-applied with changes', async () => {
  const { ctx, log } = capture();
  const service = (portName: string): K8sObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    // A namespace in the manifest is overridden by the target namespace.
    metadata: { name: 'api', namespace: 'somewhere-else', labels: { 'app.kubernetes.io/name': 'api' } },
    spec: { type: 'ClusterIP', selector: { 'app.kubernetes.io/name': 'api' }, ports: [{ name: portName, port: 80, targetPort: 8080 }] },
  });
  const objects = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'api-env' }, data: { PORT: '8080' } },
    deployment('api', { image: nodeBaseImage }),
    service('http'),
  ];

  const first = await applyObjects(ctx, deployer.kc, objects, { namespace: ns });
  expect(first.map((o) => `${o.kind}/${o.name}:${o.result}`)).toEqual(['ConfigMap/api-env:created', 'Deployment/api:created', 'Service/api:created']);
  expect(log()).toContain('namespace somewhere-else in the manifest replaced by the target namespace');
  const svc1 = getJson(['-n', ns, 'get', 'service', 'api']);
  expect(svc1.spec.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

  const second = await applyObjects(ctx, deployer.kc, objects, { namespace: ns });
  expect(second.map((o) => o.result)).toEqual(['unchanged', 'unchanged', 'unchanged']);
  // The controller writes the Deployment's status meanwhile; its spec generation must stay put.
  const meta = (o: { object: K8sObject }) => o.object.metadata as unknown as { resourceVersion: string; generation?: number };
  expect([meta(second[0]!).resourceVersion, meta(second[2]!).resourceVersion]).toEqual([meta(first[0]!).resourceVersion, meta(first[2]!).resourceVersion]);
  expect(meta(second[1]!).generation).toBe(1);

  const third = await applyObjects(ctx, deployer.kc, [service('web')], { namespace: ns });
  expect(third[0]!.result).toBe('configured');
  const svc3 = getJson(['-n', ns, 'get', 'service', 'api', '--show-managed-fields']);
  expect(svc3.spec.clusterIP).toBe(svc1.spec.clusterIP);
  expect(svc3.spec.ports[0].name).toBe('web');
  expect(svc3.metadata.managedFields.filter((m: any) => m.operation === 'Apply').map((m: any) => m.manager)).toEqual(['gantry']);

  const dry = await applyObjects(ctx, deployer.kc, [service('dry')], { namespace: ns, dryRun: true });
  expect(dry[0]!.result).toBe('valid');
  expect(getJson(['-n', ns, 'get', 'service', 'api']).spec.ports[0].name).toBe('web');
});

test('the pull secret lets the kubelet pull from the password-protected registry; without it the pull fails', async () => {
  const { user, password } = registryAuth();
  const image = `${authRegistry}/gt-kube/private:${id}`;
  const dockerConfig = mkdtempSync(path.join(tmpdir(), 'gt-kube-docker-'));
  try {
    const docker = (args: string[], input?: string) => execFileSync('docker', ['--config', dockerConfig, ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });
    docker(['login', '--username', user, '--password-stdin', authRegistry], password);
    docker(['tag', nodeBaseImage, image]);
    docker(['push', '-q', image]);
  } finally {
    rmSync(dockerConfig, { recursive: true, force: true });
  }

  const { ctx, log } = capture();
  // As the deploy does it: the pull secret is applied with the other objects (twice: a re-run applies it again).
  const pullSecret = pullSecretObject(ns, 'gantry-registry', { server: authRegistry, username: user, password });
  await applyObjects(ctx, deployer.kc, [pullSecret], { namespace: ns });
  await applyObjects(ctx, deployer.kc, [pullSecret], { namespace: ns });
  expect(log()).not.toContain(password);
  const secret = getJson(['-n', ns, 'get', 'secret', 'gantry-registry']);
  expect(secret.type).toBe('kubernetes.io/dockerconfigjson');

  const pod = (name: string, pullSecrets: string[]): K8sObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      imagePullSecrets: pullSecrets.map((n) => ({ name: n })),
      containers: [
        {
          name: 'app',
          image,
          imagePullPolicy: 'Always',
          command: ['node', '-e', 'console.log("pulled")'],
          resources: { requests: { cpu: '10m', memory: '32Mi' } },
        },
      ],
    },
  });
  await applyObjects(ctx, deployer.kc, [pod('pull-with-secret', ['gantry-registry']), pod('pull-without-secret', [])], { namespace: ns });
  const phase = await waitFor('the pod with the pull secret to finish', () => {
    const p = getJson(['-n', ns, 'get', 'pod', 'pull-with-secret']).status.phase as string;
    return p === 'Succeeded' || p === 'Failed' ? p : undefined;
  });
  expect(phase).toBe('Succeeded');
  expect(kubectl(['-n', ns, 'logs', 'pull-with-secret'])).toContain('pulled');
  const reason = await waitFor('the pod without it to fail pulling', () => {
    const waiting = getJson(['-n', ns, 'get', 'pod', 'pull-without-secret']).status.containerStatuses?.[0]?.state?.waiting?.reason as string | undefined;
    return waiting === 'ErrImagePull' || waiting === 'ImagePullBackOff' ? waiting : undefined;
  });
  expect(['ErrImagePull', 'ImagePullBackOff']).toContain(reason);
}, 90_000);

test('K8S_SECRET_* variables end up in the Secret, never in the log, and keys dropped from CI leave the Secret', async () => {
  const values = { DATABASE_URL: 'postgres://app:Sup3r-S3cret-Pw@db:5432/app', API_TOKEN: 'tok_live_9f8e7d6c5b4a3f2e' };
  const { ctx, log } = capture({ K8S_SECRET_DATABASE_URL: values.DATABASE_URL, K8S_SECRET_API_TOKEN: values.API_TOKEN, CI_JOB_ID: '42' });
  // As the deploy does it: every K8S_SECRET_* value and its base64 are registered with the logger, then the Secret is applied with the other objects.
  const applyCiSecret = async (c: Ctx, labels?: Record<string, string>) => {
    for (const [key, value] of Object.entries(c.env)) if (key.startsWith('K8S_SECRET_')) c.logger.addSecret(value);
    const built = secretFromCiVariables(c.env, { name: 'web-secrets', namespace: ns, ...(labels ? { labels } : {}) });
    if (!built) return null;
    for (const value of Object.values(built.secret.data as Record<string, string>)) c.logger.addSecret(value);
    await applyObjects(c, deployer.kc, [built.secret], { namespace: ns });
    return built;
  };
  const first = await applyCiSecret(ctx, { 'app.kubernetes.io/managed-by': 'gantry' });
  expect(first).toMatchObject({ secret: { metadata: { name: 'web-secrets' } }, keys: ['API_TOKEN', 'DATABASE_URL'] });
  const data = getJson(['-n', ns, 'get', 'secret', 'web-secrets']).data as Record<string, string>;
  expect(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))).toEqual(values);
  // Whatever a later step prints with a value in it is masked too.
  ctx.logger.warn(`could not connect to ${values.DATABASE_URL}`);
  expect(log()).toContain('could not connect to [MASKED]');
  for (const value of Object.values(values)) {
    expect(log()).not.toContain(value);
    expect(log()).not.toContain(Buffer.from(value).toString('base64'));
  }

  const rotated = capture({ K8S_SECRET_API_TOKEN: 'tok_live_rotated_0000' });
  const second = await applyCiSecret(rotated.ctx);
  expect(second!.checksum).not.toBe(first!.checksum);
  expect(Object.keys(getJson(['-n', ns, 'get', 'secret', 'web-secrets']).data)).toEqual(['API_TOKEN']);
  expect(await applyCiSecret(capture({ PATH: '/bin' }).ctx)).toBeNull();
});

test('history lists revisions with their commits, and rollbackTo restores an older image as a new revision', async () => {
  const { ctx, log } = capture();
  const rev1 = deployment('hist', { image: nodeBaseImage, env: { A: '1', B: '1' }, commit: 'a'.repeat(40), deployedBy: 'alice' });
  const rev2 = deployment('hist', { image: `${registry}/gantry/node:20.20.2`, env: { B: '2' }, commit: 'b'.repeat(40), deployedBy: 'bob' });
  await applyObjects(ctx, deployer.kc, [rev1], { namespace: ns });
  await applyObjects(ctx, deployer.kc, [rev2], { namespace: ns });

  const before = await waitFor('two revisions', () => {
    const d = getJson(['-n', ns, 'get', 'deployment', 'hist']);
    return d.metadata.annotations['deployment.kubernetes.io/revision'] === '2' ? true : undefined;
  }).then(() => listRevisions(ctx, deployer.kc, ns, 'hist'));
  expect(before.map((r) => [r.revision, r.images, r.commit, r.deployedBy, r.current])).toEqual([
    [1, [nodeBaseImage], 'a'.repeat(40), 'alice', false],
    [2, [`${registry}/gantry/node:20.20.2`], 'b'.repeat(40), 'bob', true],
  ]);
  expect(before[0]!.pipelineUrl).toBe('https://gitlab.example.com/acme/hist/-/pipelines/97');
  expect(before[0]!.annotations['gantry.dev/config-checksum']).toBe('a'.repeat(12));
  expect(Date.parse(before[0]!.createdAt)).toBeGreaterThan(Date.now() - 120_000);

  const result = await rollbackTo(ctx, deployer.kc, ns, 'hist', 1);
  expect(result).toEqual({ skipped: false, from: 2, to: 1, revision: 3, images: [nodeBaseImage] });
  const live = getJson(['-n', ns, 'get', 'deployment', 'hist']);
  const container = live.spec.template.spec.containers[0];
  expect(container.image).toBe(nodeBaseImage);
  expect(container.env).toEqual([
    { name: 'A', value: '1' },
    { name: 'B', value: '1' },
  ]);
  expect(live.spec.template.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'hist' });
  expect(live.spec.replicas).toBe(0); // kept: a template-only apply would have dropped it (back to 1)
  expect(live.metadata.annotations['gantry.dev/commit']).toBe('a'.repeat(40));
  expect(log()).toContain(`rolling deployment/hist back from revision 2 to revision 1 (commit aaaaaaaa): ${nodeBaseImage}`);

  const after = await listRevisions(ctx, deployer.kc, ns, 'hist');
  expect(after.map((r) => [r.revision, r.commit, r.current])).toEqual([
    [2, 'b'.repeat(40), false],
    [3, 'a'.repeat(40), true],
  ]);
  expect(await rollbackTo(ctx, deployer.kc, ns, 'hist', 3)).toMatchObject({ skipped: true, revision: 3 });

  // The next deploy owns the whole template again: the env var only revision 1 had is gone.
  await applyObjects(ctx, deployer.kc, [deployment('hist', { image: `${registry}/gantry/node:20.20.2`, env: { B: '3' }, commit: 'c'.repeat(40) })], {
    namespace: ns,
  });
  expect(getJson(['-n', ns, 'get', 'deployment', 'hist']).spec.template.spec.containers[0].env).toEqual([{ name: 'B', value: '3' }]);

  const missing = await caught(rollbackTo(ctx, deployer.kc, ns, 'hist', 99));
  expect(missing.code).toBe('E_ROLLBACK_REVISION');
  expect(missing.details[0]).toMatch(/^revisions kept: 2, 3, 4 /);
  expect((await caught(listRevisions(ctx, deployer.kc, ns, 'no-such-app'))).code).toBe('E_KUBE_NOT_FOUND');
}, 90_000);

test('two deploys to one environment never overlap: the second waits, saying who holds the lease and since when', async () => {
  const spans: Record<string, { enter: number; exit: number }> = {};
  const waits: Record<string, LeaseHolder[]> = { 'pipeline-1': [], 'pipeline-2': [] };
  const logs: Record<string, () => string> = {};
  const deploy = async (holder: string) => {
    const { ctx, log } = capture();
    logs[holder] = log;
    await withDeployLease(
      ctx,
      deployer.kc,
      ns,
      'gantry-deploy-web',
      holder,
      async () => {
        const enter = Date.now();
        await sleep(4000); // twice the TTL: only renewals keep the other one out
        spans[holder] = { enter, exit: Date.now() };
      },
      { ttlSeconds: 2, onWait: (held) => waits[holder]!.push(held) },
    );
  };
  await Promise.all([deploy('pipeline-1'), deploy('pipeline-2')]);

  const [first, second] = Object.entries(spans).sort((a, b) => a[1].enter - b[1].enter);
  expect(first![1].exit).toBeLessThanOrEqual(second![1].enter);
  const waiter = second![0];
  expect(waits[first![0]]).toEqual([]);
  expect(waits[waiter]!.map((w) => w.holder)).toEqual([first![0]]);
  expect(Date.parse(waits[waiter]![0]!.since!)).toBeLessThanOrEqual(first![1].enter + 1000);
  expect(logs[waiter]!()).toMatch(new RegExp(`waiting for the deploy lease ${ns}/gantry-deploy-web: held by ${first![0]} since \\d{4}-\\d\\d-\\d\\dT`));

  const lease = getJson(['-n', ns, 'get', 'lease', 'gantry-deploy-web']);
  expect(lease.spec.holderIdentity).toBeUndefined();
  expect(lease.spec.leaseTransitions).toBe(1);
});

test('a lease whose holder stopped renewing is taken over: at once when long expired, after its TTL when just abandoned', async () => {
  const staleAt = Date.now() - 10 * 60_000;
  const leaseObject = (name: string, renewedAt: number, ttl: number) =>
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: ns },
      spec: {
        holderIdentity: 'pipeline-99 (crashed)',
        leaseDurationSeconds: ttl,
        acquireTime: microTime(renewedAt),
        renewTime: microTime(renewedAt),
        leaseTransitions: 4,
      },
    });
  kubectl(['apply', '-f', '-'], { input: leaseObject('stale-lock', staleAt, 15) });
  const { ctx, log } = capture();
  const started = Date.now();
  const inside = await withDeployLease(ctx, deployer.kc, ns, 'stale-lock', 'pipeline-100', async () => getJson(['-n', ns, 'get', 'lease', 'stale-lock']).spec);
  expect(Date.now() - started).toBeLessThan(2000);
  expect(inside).toMatchObject({ holderIdentity: 'pipeline-100', leaseTransitions: 5, leaseDurationSeconds: 60 });
  expect(log()).toContain(`took over the deploy lease ${ns}/stale-lock from pipeline-99 (crashed)`);
  expect(getJson(['-n', ns, 'get', 'lease', 'stale-lock']).spec.holderIdentity).toBeUndefined();

  // Renewed just now with a 3 s TTL, then never again: the next deploy waits about that long.
  kubectl(['apply', '-f', '-'], { input: leaseObject('abandoned-lock', Date.now(), 3) });
  const abandoned = capture();
  const t0 = Date.now();
  await withDeployLease(abandoned.ctx, deployer.kc, ns, 'abandoned-lock', 'pipeline-101', async () => undefined, { ttlSeconds: 5 });
  const waited = Date.now() - t0;
  expect(waited).toBeGreaterThanOrEqual(2000);
  expect(waited).toBeLessThan(8000);
  expect(abandoned.log()).toContain('held by pipeline-99 (crashed)');
  expect(abandoned.log()).toContain('took over the deploy lease');
});

test('a failing deploy still releases the lease', async () => {
  const { ctx } = capture();
  await expect(
    withDeployLease(ctx, deployer.kc, ns, 'failing-lock', 'pipeline-7', async () => {
      throw new Error('rollout failed');
    }),
  ).rejects.toThrow('rollout failed');
  expect(getJson(['-n', ns, 'get', 'lease', 'failing-lock']).spec.holderIdentity).toBeUndefined();
});

test('scaleDeployment sets the replicas through the scale subresource', async () => {
  const { ctx, log } = capture();
  expect(await scaleDeployment(ctx, deployer.kc, ns, 'api', 2)).toEqual({ previous: 0, replicas: 2 });
  expect(getJson(['-n', ns, 'get', 'deployment', 'api']).spec.replicas).toBe(2);
  expect(await scaleDeployment(ctx, deployer.kc, ns, 'api', 0)).toEqual({ previous: 2, replicas: 0 });
  expect(log()).toContain(`scaled deployment/api in ${ns} from 2 to 0 replicas`);
  expect((await caught(scaleDeployment(ctx, deployer.kc, ns, 'no-such-app', 1))).code).toBe('E_KUBE_NOT_FOUND');
});

test('what the deployer may not do is E_KUBE_FORBIDDEN naming verb, resource and namespace, and the RBAC fix', async () => {
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'sneaky' }, rules: [] };
  const error = await caught(applyObjects(capture().ctx, deployer.kc, [role], { namespace: ns }));
  expect(error.code).toBe('E_KUBE_FORBIDDEN');
  expect(error.message).toBe(
    `validate role/sneaky: system:serviceaccount:${ns}:gantry-deployer may not patch roles.rbac.authorization.k8s.io in namespace ${ns}`,
  );
  expect(error.fix).toContain(`kubectl -n ${ns} create role gantry-deployer --verb=patch --resource=roles.rbac.authorization.k8s.io`);
  expect(kubectlResult(['-n', ns, 'get', 'role', 'sneaky']).code).not.toBe(0);
});
