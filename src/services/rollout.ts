// What deploy does between applying the services and applying the app: every instance ready, a
// new instance seeded, every service reachable from the namespace, the migration run. Any failure
// here leaves the running app as it was (nothing of it has been applied yet).
import { randomBytes } from 'node:crypto';
import type { KubeConfig, V1EnvFromSource, V1EnvVar, V1ResourceRequirements } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { Ctx } from '../context.js';
import { COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL, SERVICE_LABEL } from '../kube/objects.js';
import { dnsLabel } from '../names/names.js';
import type { View } from '../render/view.js';
import type { ServicePlan } from './plan.js';
import { waitForInstances } from './prepare.js';

export interface BeforeRolloutInput {
  config: Config;
  plans: ServicePlan[];
  view: View;
  /** When this deploy applied, by the API server's clock: older evidence is not judged. */
  since: number;
}

/** How long an instance may take to become ready (its image pulled, initialised and seeded). */
export const INSTANCE_READY_SECONDS = 180;
/** How long a seed command may run. */
export const SEED_TIMEOUT_SECONDS = 600;
/**
 * The label that ties a seed Job to the instance it seeded, by uid: the StatefulSet's when the data
 * is on a claim, the pod's for an emptyDir (its data goes with the pod). A new instance is seeded again.
 */
export const SEEDED_LABEL = 'gantry.dev/seeded-instance';

/** The app container as the Jobs and the check pod run it: its image, env and pull secrets. */
export function appContainer(view: View) {
  const c = view.container as { env?: V1EnvVar[]; envFrom?: V1EnvFromSource[]; resources?: V1ResourceRequirements };
  const eci = Object.fromEntries(Object.entries(view.pod.annotations).filter(([k]) => k.startsWith('k8s.aliyun.com/')));
  // On ACK, the label that sends the app's pods to the ECI virtual node: the check must run where
  // the app will (its source address is what a whitelist must hold), and so do the Jobs.
  const eciLabels = Object.fromEntries(Object.entries(view.pod.labels).filter(([k]) => k === 'alibabacloud.com/eci'));
  return { image: view.image, env: c.env ?? [], envFrom: c.envFrom ?? [], imagePullSecrets: view.imagePullSecrets, podAnnotations: eci, eciLabels };
}

/** What the check connects to: each service by the host and port variables the app reads. */
export function reachTargets(plans: ServicePlan[]) {
  // A MongoDB URL may name a replica set's members or an SRV record (mongodb+srv): the check
  // reads the URL itself then, and tries every member (an instance's URL expands like the app's).
  return plans.map((p) =>
    p.kind === 'mongodb'
      ? { service: p.name, kind: p.kind, urlVar: p.envNames.url }
      : { service: p.name, kind: p.kind, hostVar: p.envNames.host, portVar: p.envNames.port },
  );
}

const suffix = () => randomBytes(3).toString('hex');

export async function beforeRollout(ctx: Ctx, kc: KubeConfig, input: BeforeRolloutInput): Promise<void> {
  const { plans, view, config } = input;
  const namespace = view.environment.namespace;
  const instances = plans.filter((p) => p.binding === 'instance');
  const ready =
    instances.length > 0 ? await waitForInstances(ctx, kc, { namespace, plans, timeoutSeconds: INSTANCE_READY_SECONDS, since: input.since }) : new Map();
  const { eciLabels, ...app } = appContainer(view);
  // Not the app's name label: with it, the app's Service would send traffic to these pods.
  const baseLabels = { [MANAGED_BY_LABEL]: 'gantry', [INSTANCE_LABEL]: view.labels[INSTANCE_LABEL]!, ...eciLabels };
  const { runJob, succeededJobWithLabel } = await import('./job.js');

  // Seed commands: once per new instance (a succeeded seed Job labelled with its StatefulSet's uid).
  for (const plan of instances) {
    if (!plan.seed || !('command' in plan.seed)) continue;
    const uid = ready.get(plan.name)?.uid ?? '';
    const labels = { ...baseLabels, [SERVICE_LABEL]: plan.name, [COMPONENT_LABEL]: 'seed', [SEEDED_LABEL]: uid };
    if (uid && (await succeededJobWithLabel(ctx, kc, namespace, { [SEEDED_LABEL]: uid }))) {
      ctx.logger.info(`service ${plan.name} was seeded when it was made: its seed command is not run again`);
      continue;
    }
    await runJob(ctx, kc, {
      purpose: 'seed',
      namespace,
      name: dnsLabel(`${plan.instanceName}-seed-${suffix()}`),
      ...app,
      command: plan.seed.command,
      labels,
      timeoutSeconds: SEED_TIMEOUT_SECONDS,
      timeoutSetting: `the seed's limit (${SEED_TIMEOUT_SECONDS} s)`,
    });
  }

  // Every service answers at the host and port the app will read, from inside the namespace: the
  // classic first deploy on Aliyun times out here when the database's whitelist lacks the pods.
  if (plans.length > 0) {
    const { checkReachable, unreachableError } = await import('./reach.js');
    const result = await checkReachable(ctx, kc, {
      namespace,
      image: app.image,
      imagePullSecrets: app.imagePullSecrets,
      env: app.env,
      envFrom: app.envFrom,
      podAnnotations: app.podAnnotations,
      targets: reachTargets(plans),
      labels: baseLabels,
    });
    const unreachable = unreachableError(result);
    if (unreachable) throw unreachable;
    ctx.logger.info(
      `every service answers from ${namespace} (${(result.elapsedMs / 1000).toFixed(1)} s): ${result.results.map((r) => `${r.service} ${r.ms} ms`).join(', ')}`,
    );
  }

  // The migration: the new image with the app's env, one at a time (the deploy lease is held).
  const migrate = config.backend.migrate;
  if (migrate !== undefined) {
    await runJob(ctx, kc, {
      purpose: 'migration',
      namespace,
      name: dnsLabel(`${view.names.deployment}-migrate-${view.ci.shortSha || 'local'}-${suffix()}`),
      ...app,
      command: typeof migrate === 'string' ? ['sh', '-c', migrate] : migrate,
      labels: { ...baseLabels, [COMPONENT_LABEL]: 'migration' },
      timeoutSeconds: config.backend.migrateTimeout,
      timeoutSetting: 'backend.migrateTimeout',
      ...(view.container.resources ? { resources: view.container.resources as V1ResourceRequirements } : {}),
    });
  }
}
