// The canary steps, without any controller: a canary Deployment beside the stable one, both
// behind the app's Service, the weight set by the canary's replica count (weight.ts says the
// granularity), or by a canary Ingress's weight annotation. Each step: set the weight, wait
// for the canary pods (the tracker's fail-fast rules), then hold the pause while the analysis
// runs (analysis.ts). A failed step aborts: the canary Deployment is deleted, the stable one
// was never touched. A `pause: manual` step ends the job with the canary held; its state is on
// the canary Deployment (annotations), so `gantry promote` / `gantry abort` in a later job go on
// from there. The promotion itself (the stable Deployment takes the new template) is the
// deploy flow's ordinary apply-and-track, so it fails fast and rolls back as any deploy does.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Rollout } from '../config/schema.js';
import { durationSeconds } from '../config/schema.js';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';
import { cleanupClient, kubeClient } from '../kube/client.js';
import { stable } from '../kube/history.js';
import { INSTANCE_LABEL, type Deployment, type K8sObject, type Pod } from '../kube/objects.js';
import { trackRollout } from '../track/track.js';
import { selectorString } from '../track/status.js';
import { runAnalysis, type QueryVariables } from './analysis.js';
import type { PrometheusTarget } from './prometheus.js';
import { CANARY_OF_ANNOTATION, CANARY_STEP_ANNOTATION, CANARY_WEIGHT_ANNOTATION } from './objects.js';
import { canaryWeight } from './weight.js';

export { CANARY_STEP_ANNOTATION } from './objects.js';
export const CANARY_PAUSED_ANNOTATION = 'gantry.dev/canary-paused';
export const CANARY_TEMPLATE_ANNOTATION = 'gantry.dev/canary-template';
export const FRONTEND_RELEASE_ANNOTATION = 'gantry.dev/frontend-release';

/** A short hash of a rendered pod template: which version a canary runs (compared by promote). */
export function templateHash(deployment: Deployment | K8sObject): string {
  const template = (deployment as Deployment).spec?.template ?? {};
  return createHash('sha256').update(stable(template)).digest('hex').slice(0, 16);
}

export interface StepReport {
  step: number;
  weight: number;
  actualWeight: number;
  canaryReplicas: number;
  stableReplicas: number;
  seconds: number;
}

export interface CanaryRun {
  namespace: string;
  stableName: string;
  /** The canary Deployment as rendered (its replicas are set by each step). */
  canary: Deployment;
  rollout: Rollout;
  /** backend.maxReplicas: stable + canary pods stay within it. */
  maxReplicas: number;
  prometheus: PrometheusTarget | undefined;
  vars: QueryVariables;
  /** Server ms of this run's apply (the tracker and the built-in checks judge what came after). */
  since: number;
  /** The first step to run (0 for a deploy; the step after the held one for a promote). */
  fromStep: number;
  /** How long the canary pods may take to become available in each step. */
  timeoutSeconds: number;
  /** Objects that carry the weight besides the replicas (a canary Ingress), applied at each step. */
  trafficObjects?: ((weight: number) => K8sObject[]) | undefined;
}

export type CanaryOutcome =
  | { status: 'promote'; steps: StepReport[] }
  | { status: 'paused'; step: number; weight: number; steps: StepReport[] }
  | { status: 'aborted'; error: GantryError; steps: StepReport[]; abortSeconds: number };

/**
 * Runs the steps from run.fromStep; the caller promotes on 'promote'. Whatever ends a step other
 * than its verdict (a cancellation, the step's deadline, a lost lease, Prometheus or the API server
 * failing) takes the canary back before the error goes on: a canary is never left with its share
 * of the traffic and nobody watching it.
 */
export async function runCanarySteps(ctx: Ctx, kc: KubeConfig, run: CanaryRun): Promise<CanaryOutcome> {
  try {
    return await runSteps(ctx, kc, run);
  } catch (error) {
    ctx.logger.error(`the canary run ended (${(error as Error).message?.split('\n')[0] ?? String(error)}): taking the canary back`);
    await abortCanary(ctx, kc, run.namespace, run.canary.metadata.name, run.trafficObjects?.(0)).catch((cleanup: unknown) =>
      ctx.logger.error(`could not take the canary back (${(cleanup as Error).message}): delete deployment/${run.canary.metadata.name} by hand`),
    );
    throw error;
  }
}

async function runSteps(ctx: Ctx, kc: KubeConfig, run: CanaryRun): Promise<CanaryOutcome> {
  const client = kubeClient(ctx, kc);
  const { namespace, rollout } = run;
  const canaryName = run.canary.metadata.name;
  const steps: StepReport[] = [];
  const total = rollout.steps.length;
  for (let i = run.fromStep; i < total; i++) {
    const step = rollout.steps[i]!;
    const started = Date.now();
    const stable = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: run.stableName, namespace });
    // The stable replicas as they are now: the HPA's number when autoscaled (the canary has no HPA).
    const stableReplicas = Math.max(1, stable?.spec?.replicas ?? 1);
    const { replicas, actualWeight } =
      rollout.traffic === 'replicas'
        ? canaryWeight(stableReplicas, step.weight, { maxReplicas: run.maxReplicas })
        : { replicas: Math.max(1, Math.ceil((stableReplicas * step.weight) / 100)), actualWeight: step.weight };
    // Few stable pods make the weight coarse (weight.ts): say so when it is far from the one asked.
    if (actualWeight > step.weight + 5) {
      ctx.logger.warn(
        `step ${i + 1}: ${replicas} canary pod(s) beside ${stableReplicas} stable give ${actualWeight}% of the traffic, not ${step.weight}%: raise the stable replicas, or use traffic: nginx or alb for exact weights`,
      );
    }
    const manual = step.pause === 'manual';
    const object = withStep(run.canary, { replicas, step: i, weight: step.weight, paused: manual });
    await ctx.logger.section(`gantry_canary_step_${i + 1}`, `canary step ${i + 1}/${total}: ${step.weight}%`, async () => {
      ctx.logger.info(
        rollout.traffic === 'replicas'
          ? `${canaryName}: ${replicas} canary pod(s) beside ${stableReplicas} stable: ${actualWeight}% of the traffic (asked ${step.weight}%)`
          : `${canaryName}: ${replicas} canary pod(s); the ${rollout.traffic} Ingress sends ${step.weight}% of the traffic to them`,
      );
      await client.apply(object as unknown as K8sObject, { doing: `apply deployment/${canaryName}` });
    });
    const tracked = await trackRollout(ctx, kc, {
      namespace,
      name: canaryName,
      timeoutSeconds: run.timeoutSeconds,
      waitForTerminatingPods: false,
      since: run.since,
    });
    if (!tracked.ok) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
      const abortSeconds = await abortCanary(ctx, kc, namespace, canaryName, run.trafficObjects?.(0));
      const error = canaryError(run, i, actualWeight, { check: 'built-in', message: tracked.message, lines: tracked.evidence, abortSeconds });
      return { status: 'aborted', error, steps, abortSeconds };
    }
    // The Ingress weight changes once the canary pods are ready (never a share sent to no pod).
    for (const o of run.trafficObjects?.(step.weight) ?? []) await client.apply(o, { doing: `apply ${o.kind.toLowerCase()}/${o.metadata.name}` });
    if (manual) {
      steps.push({ step: i + 1, weight: step.weight, actualWeight, canaryReplicas: replicas, stableReplicas, seconds: (Date.now() - started) / 1000 });
      ctx.logger.info(
        `canary held at step ${i + 1}/${total} (${actualWeight}%): pause: manual. Run gantry promote --env <env> to go on, or gantry abort --env <env> to take it back`,
      );
      return { status: 'paused', step: i + 1, weight: actualWeight, steps };
    }
    const pauseSeconds = step.pause ? durationSeconds(step.pause) : 0;
    const analysis = await ctx.logger.section(
      `gantry_canary_analysis_${i + 1}`,
      `analysis of step ${i + 1} for ${pauseSeconds} s, every ${durationSeconds(rollout.analysis.interval)} s`,
      () =>
        runAnalysis(ctx, kc, {
          namespace,
          canary: object,
          queries: rollout.analysis.queries,
          vars: run.vars,
          prometheus: run.prometheus,
          intervalMs: durationSeconds(rollout.analysis.interval) * 1000,
          durationMs: pauseSeconds * 1000,
          maxRestarts: rollout.analysis.maxRestarts,
          since: run.since,
        }),
    );
    steps.push({ step: i + 1, weight: step.weight, actualWeight, canaryReplicas: replicas, stableReplicas, seconds: (Date.now() - started) / 1000 });
    if (!analysis.ok) {
      ctx.logger.error(`${analysis.message}: aborting the canary`);
      const abortSeconds = await abortCanary(ctx, kc, namespace, canaryName, run.trafficObjects?.(0));
      const error = canaryError(run, i, actualWeight, { check: analysis.check, message: analysis.message, lines: analysis.lines, abortSeconds });
      return { status: 'aborted', error, steps, abortSeconds };
    }
    for (const [query, seen] of Object.entries(analysis.history)) {
      if (seen.length > 0 && seen.every((o) => o.verdict === 'no-data')) {
        ctx.logger.warn(
          `step ${i + 1}: ${query} had no data in any of its ${seen.length} round(s): the canary was not judged by it (no traffic reached it, or Prometheus does not scrape it yet; noData: fail makes this a failure)`,
        );
      }
    }
    ctx.logger.info(`step ${i + 1}/${total} passed (${analysis.rounds} analysis round(s))`);
  }
  return { status: 'promote', steps };
}

function withStep(canary: Deployment, options: { replicas: number; step: number; weight: number; paused: boolean }): Deployment {
  const object = structuredClone(canary);
  object.spec = { ...object.spec!, replicas: options.replicas };
  object.metadata.annotations = {
    ...(object.metadata.annotations ?? {}),
    [CANARY_STEP_ANNOTATION]: String(options.step),
    [CANARY_WEIGHT_ANNOTATION]: String(options.weight),
    [CANARY_PAUSED_ANNOTATION]: options.paused ? 'manual' : 'false',
  };
  return object;
}

function canaryError(
  run: CanaryRun,
  index: number,
  actualWeight: number,
  found: { check: string; message: string; lines: string[]; abortSeconds: number },
): GantryError {
  return gantryError('E_CANARY_ABORTED', {
    deployment: run.stableName,
    namespace: run.namespace,
    step: index + 1,
    steps: run.rollout.steps.length,
    weight: actualWeight,
    check: found.check,
    reason: found.message,
    lines: found.lines,
    abortSeconds: found.abortSeconds,
  });
}

/**
 * Takes the canary back: its Deployment is deleted (its pods leave the Service's endpoints as
 * they terminate) and this waits, up to 60 s, until none of its pods is left. The stable
 * Deployment is not touched: it kept its full capacity all along. Returns the seconds it took.
 */
export async function abortCanary(ctx: Ctx, kc: KubeConfig, namespace: string, canaryName: string, trafficObjects?: K8sObject[]): Promise<number> {
  return takeDown(ctx, kc, namespace, canaryName, trafficObjects, 'the stable version serves all the traffic');
}

/** After the promotion: the canary's pods go, the stable Deployment runs the new version. */
export async function removeCanary(ctx: Ctx, kc: KubeConfig, namespace: string, canaryName: string, trafficObjects?: K8sObject[]): Promise<number> {
  return takeDown(ctx, kc, namespace, canaryName, trafficObjects, 'the promoted stable Deployment serves all the traffic');
}

async function takeDown(
  ctx: Ctx,
  kc: KubeConfig,
  namespace: string,
  canaryName: string,
  trafficObjects: K8sObject[] | undefined,
  after: string,
): Promise<number> {
  const started = Date.now();
  // Also after a cancellation: a canary left behind would keep taking its share of the traffic.
  const client = cleanupClient(ctx, kc, kubeClient(ctx, kc));
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: canaryName, namespace };
  const existing = await client.read<Deployment>(ref);
  // The canary Ingress goes first: from then on the controller sends every request to the stable
  // Service. Found by the names deploy gives, or by the annotation objects.ts puts on them and the
  // app's instance label (another app's canary in a shared namespace is not touched), so
  // gantry abort needs no render.
  const instance = existing?.metadata.labels?.[INSTANCE_LABEL];
  const named = new Set((trafficObjects ?? []).map((o) => `${o.kind}/${o.metadata.name}`));
  const isCanary = (o: K8sObject) =>
    named.has(`${o.kind}/${o.metadata.name}`) ||
    (instance !== undefined &&
      (o.metadata.annotations as Record<string, string> | undefined)?.[CANARY_OF_ANNOTATION] !== undefined &&
      (o.metadata.labels as Record<string, string> | undefined)?.[INSTANCE_LABEL] === instance);
  const [ingresses, services] = await Promise.all([
    client.list<K8sObject>('networking.k8s.io/v1', 'Ingress', namespace),
    client.list<K8sObject>('v1', 'Service', namespace),
  ]);
  for (const o of ingresses.filter(isCanary)) {
    await client.remove(
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: o.metadata.name, namespace },
      { doing: `delete ingress/${o.metadata.name}` },
    );
  }
  if (existing) {
    const labelSelector = selectorString(existing.spec?.selector);
    // Scaled to zero first: its ReplicaSet deletes the pods at once, where a deleted Deployment's
    // pods wait for the garbage collector.
    await client.mergePatch(ref, { spec: { replicas: 0 } }, { subresource: 'scale', doing: `scale deployment/${canaryName} to 0` }).catch(() => undefined);
    await client.remove(ref, { doing: `delete deployment/${canaryName}` });
    // After a cancellation the cleanup client has a short budget: the pods go by themselves.
    const deadline = Date.now() + (ctx.signal.aborted ? 0 : 60_000);
    while (Date.now() < deadline) {
      const pods = await client.list<Pod>('v1', 'Pod', namespace, { labelSelector });
      // A terminating pod is already out of the endpoints (not ready): the canary takes no traffic.
      if (pods.every((p) => p.metadata.deletionTimestamp)) break;
      await sleep(200);
    }
  }
  // The canary Service goes last, once no canary pod is left behind it.
  for (const o of services.filter(isCanary)) {
    await client.remove({ apiVersion: 'v1', kind: 'Service', name: o.metadata.name, namespace }, { doing: `delete service/${o.metadata.name}` });
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  ctx.logger.info(`canary ${canaryName} deleted in ${seconds} s: ${after}`);
  return seconds;
}

/**
 * A canary a later deploy or rollback finds (held by pause: manual, or left by an earlier run)
 * while it runs none itself: taken back first, so a held bad version does not keep its share of
 * the traffic beside what this run deploys. Returns whether there was one.
 */
export async function takeBackLeftover(ctx: Ctx, kc: KubeConfig, namespace: string, canaryName: string, why: string): Promise<boolean> {
  const existing = await kubeClient(ctx, kc).read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: canaryName, namespace });
  if (!existing) return false;
  ctx.logger.warn(`deployment/${canaryName} (a canary of an earlier deploy) is taken back: ${why}`);
  if (!ctx.dryRun) await abortCanary(ctx, kc, namespace, canaryName);
  return true;
}
