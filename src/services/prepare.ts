// The cluster side of services, for deploy: the Secrets (an instance's generated password, kept
// across deploys; the managed bindings' settings), and waiting for instances to be ready, failing
// fast with the cause as the rollout tracker does for the app.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { kubeClient } from '../kube/client.js';
import type { K8sObject, KubeEvent, Pod } from '../kube/objects.js';
import { pollUntil } from '../retry.js';
import { classifyPod } from '../track/classify.js';
import { logTail } from '../track/evidence.js';
import { selectorString } from '../track/status.js';
import { instanceLabels } from './instance.js';
import { connectionData, connectionSecretName, type ServicePlan, servicesChecksum, urlParts } from './plan.js';

interface SecretObject {
  metadata: { name: string; uid?: string };
  data?: Record<string, string>;
}

/** [A-Za-z0-9]: safe in a URL and in a shell without quoting. */
export function generatePassword(length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length * 2);
  let out = '';
  // 248 = 4 × 62: bytes above it are skipped so every character is equally likely.
  for (const b of bytes) if (b < 248 && out.length < length) out += alphabet[b % 62];
  return out.length === length ? out : out + generatePassword(length - out.length);
}

const decode = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'));

export interface ServiceSecretsInput {
  namespace: string;
  deployment: string;
  instance: string;
  envName: string;
  /** The labels of the app's objects (the connection Secret is the app's). */
  labels: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /** The URLs of services bound to a Secret (readBoundSecrets), by service name. */
  serviceUrls: Record<string, string>;
}

/**
 * The URLs of the services bound to an existing Secret, read from the namespace and registered
 * for masking: they name the connection Secret (its checksum), so deploy reads them before it renders.
 */
export async function readBoundSecrets(ctx: Ctx, kc: KubeConfig, plans: ServicePlan[], namespace: string): Promise<Record<string, string>> {
  const client = kubeClient(ctx, kc);
  const urls: Record<string, string> = {};
  for (const plan of plans) {
    if (typeof plan.bind !== 'object' || !('secret' in plan.bind)) continue;
    const { secret, key } = plan.bind;
    const existing = await client.read<SecretObject>({ apiVersion: 'v1', kind: 'Secret', name: secret, namespace });
    if (!existing) throw gantryError('E_SERVICE_SECRET_MISSING', { service: plan.name, namespace, secret, key, problem: 'no-secret' });
    const url = decode(existing.data?.[key]);
    if (!url) throw gantryError('E_SERVICE_SECRET_MISSING', { service: plan.name, namespace, secret, key, problem: 'no-key' });
    ctx.logger.addSecret(url);
    urls[plan.name] = url;
  }
  return urls;
}

/**
 * The Secrets the services need, every value registered for masking before anything can print it:
 * each instance's credentials (read back when they exist, so its data keeps working), and the
 * connection Secret of the managed bindings (from the CI variable, or the Secret's URL read by
 * readBoundSecrets), named by its content. Without `kc` (before the cluster is touched) only the
 * bindings are checked.
 */
export async function serviceSecrets(ctx: Ctx, kc: KubeConfig | undefined, plans: ServicePlan[], input: ServiceSecretsInput): Promise<K8sObject[]> {
  const client = kc ? kubeClient(ctx, kc) : undefined;
  const read = async (name: string) =>
    client ? await client.read<SecretObject>({ apiVersion: 'v1', kind: 'Secret', name, namespace: input.namespace }) : undefined;
  const objects: K8sObject[] = [];
  const urls = new Map<string, { url: string; where: string }>();
  for (const plan of plans) {
    if (plan.binding === 'instance') {
      const existing = await read(plan.credentialsSecret!);
      const password = decode(existing?.data?.password) || generatePassword();
      const data: Record<string, string> = { password };
      if (plan.kind === 'mysql') data['root-password'] = decode(existing?.data?.['root-password']) || generatePassword();
      for (const value of Object.values(data)) ctx.logger.addSecret(value);
      objects.push(secretObject(plan.credentialsSecret!, input.namespace, instanceLabels(plan, input.instance, input.envName), data));
    } else if (typeof plan.bind === 'object' && 'variable' in plan.bind) {
      const url = input.env[plan.bind.variable];
      if (!url) throw gantryError('E_SERVICE_URL_MISSING', { service: plan.name, variable: plan.bind.variable, envName: input.envName });
      ctx.logger.addSecret(url);
      urls.set(plan.name, { url, where: `the CI variable ${plan.bind.variable}` });
    } else if (typeof plan.bind === 'object' && 'secret' in plan.bind && Object.hasOwn(input.serviceUrls, plan.name)) {
      urls.set(plan.name, { url: input.serviceUrls[plan.name]!, where: `Secret ${plan.bind.secret} key ${plan.bind.key}` });
    }
  }
  // The password as the app reads it (decoded: p%40ss is p@ss), by its role, whatever its variable is called.
  for (const plan of plans) {
    const found = urls.get(plan.name);
    if (!found) continue;
    const parts = urlParts(plan, found.url, found.where);
    ctx.logger.addSecret(parts.password);
  }
  const data = connectionData(plans, urls);
  if (Object.keys(data).length > 0) {
    const name = connectionSecretName(input.deployment, servicesChecksum(plans, input.env, input.serviceUrls));
    objects.push(secretObject(name, input.namespace, input.labels, data));
  }
  return objects;
}

function secretObject(name: string, namespace: string, labels: Record<string, string>, data: Record<string, string>): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

interface StatefulSetObject {
  metadata: { name: string; uid?: string; generation?: number };
  spec?: { selector?: { matchLabels?: Record<string, string> } };
  status?: { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number; currentRevision?: string; updateRevision?: string };
}

/**
 * Waits until every instance's pod is ready (its port open: the image's init and seed are done).
 * A pod that cannot pull, crashes, cannot be scheduled or is refused its config ends the wait at
 * once with the tracker's diagnosis and the instance's log.
 */
export async function waitForInstances(
  ctx: Ctx,
  kc: KubeConfig,
  input: { namespace: string; plans: ServicePlan[]; timeoutSeconds: number; since: number },
): Promise<Map<string, { uid: string; elapsedMs: number }>> {
  // The first instance that fails ends the others' waits too (nothing may go on after the lease).
  const stop = new AbortController();
  const inner: Ctx = { ...ctx, signal: AbortSignal.any([ctx.signal, stop.signal]) };
  const client = kubeClient(inner, kc);
  const ns = encodeURIComponent(input.namespace);
  const started = Date.now();
  const ready = new Map<string, { uid: string; elapsedMs: number }>();
  const instances = input.plans.filter((p) => p.binding === 'instance');
  await Promise.all(
    instances.map(async (plan) => {
      const name = plan.instanceName!;
      const notReady = (why: string, lines: string[]) =>
        gantryError('E_SERVICE_NOT_READY', { service: plan.name, instance: name, namespace: input.namespace, seconds: input.timeoutSeconds, why, lines });
      let last = 'its pod has not started';
      const uid = await pollUntil(
        inner,
        `wait for ${plan.name} (statefulset/${name}) to be ready`,
        async () => {
          const set = await client.read<StatefulSetObject>({ apiVersion: 'apps/v1', kind: 'StatefulSet', name, namespace: input.namespace });
          if (!set) return undefined;
          const s = set.status ?? {};
          const pods = await client.getJson<{ items?: Pod[] }>(`/api/v1/namespaces/${ns}/pods`, { labelSelector: selectorString(set.spec?.selector) });
          const settled = (s.observedGeneration ?? 0) >= (set.metadata.generation ?? 1) && s.currentRevision === s.updateRevision;
          if (settled && (s.readyReplicas ?? 0) >= 1) {
            // What "a new instance" is for a seed command: the StatefulSet for data on a claim; the
            // pod for an emptyDir, whose data is new whenever the pod is (rescheduled, evicted).
            const pod = (pods.body.items ?? []).find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
            return (plan.storage === 'emptyDir' ? pod?.metadata.uid : undefined) ?? set.metadata.uid ?? '';
          }
          const events = await client.getJson<{ items?: KubeEvent[] }>(`/api/v1/namespaces/${ns}/events`, {});
          for (const pod of pods.body.items ?? []) {
            // A StatefulSet does not replace a pod of an older revision that never became ready (the
            // "forced rollback" of the StatefulSet docs): a deploy after a fix would wait on the
            // broken pod forever. Gantry deletes it, and the controller makes it from the new spec.
            const revision = pod.metadata.labels?.['controller-revision-hash'];
            if (s.updateRevision && revision && revision !== s.updateRevision) {
              const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
              if (!ready && !pod.metadata.deletionTimestamp) {
                ctx.logger.info(`pod ${pod.metadata.name} of an earlier spec of ${plan.name} never became ready: replacing it with the new spec`);
                await client.remove({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace: input.namespace });
              }
              last = `pod ${pod.metadata.name} of an earlier spec is being replaced`;
              continue;
            }
            const failure = classifyPod(pod, events.body.items ?? [], { now: Date.now(), fresh: true, since: input.since });
            if (failure) {
              const log =
                failure.pod && failure.container && failure.logs ? await logTail(client, input.namespace, failure.pod, failure.container, failure.logs) : [];
              throw notReady(`${failure.code}: ${failure.message}`, [...failure.evidence, ...log, `fix: ${failure.fix}`]);
            }
            last =
              pod.status?.phase === 'Running'
                ? `pod ${pod.metadata.name} runs but its port ${plan.port} is not open yet`
                : `pod ${pod.metadata.name} is ${pod.status?.phase ?? 'pending'}`;
          }
          return undefined;
        },
        {
          intervalMs: 500,
          maxIntervalMs: 1000,
          timeoutMs: input.timeoutSeconds * 1000,
          onTimeout: () => {
            throw notReady(`still not ready: ${last}`, []);
          },
        },
      );
      ready.set(plan.name, { uid, elapsedMs: Date.now() - started });
      ctx.logger.info(`service ${plan.name} (${plan.kind}, statefulset/${name}) is ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }),
  ).catch((error: unknown) => {
    stop.abort(error);
    throw error;
  });
  return ready;
}
