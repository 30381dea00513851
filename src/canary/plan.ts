// What the deploy flow asks before a canary: is there one to run (a stable version to compare
// with, and a new pod template), where Prometheus is, and whether every query is one it takes.
// All of it is decided before anything is applied: a missing URL or a query Prometheus refuses
// is exit 2 with nothing changed.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Rollout } from '../config/schema.js';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { kubeClient } from '../kube/client.js';
import { samePodTemplate } from '../kube/history.js';
import type { Deployment, K8sObject } from '../kube/objects.js';
import { expandQuery, type QueryVariables, queryVariables } from './analysis.js';
import { CANARY_PAUSED_ANNOTATION, CANARY_STEP_ANNOTATION, CANARY_TEMPLATE_ANNOTATION, FRONTEND_RELEASE_ANNOTATION, templateHash } from './engine.js';
import { canaryDeployment, canaryIngress, canaryName, canaryService, canaryTargets } from './objects.js';
import { PrometheusRefusal, type PrometheusTarget, queryPrometheus } from './prometheus.js';

/** The Prometheus the analysis queries, from the CI variables the rollout names; none without queries. */
export function analysisTarget(ctx: Pick<Ctx, 'logger'>, env: NodeJS.ProcessEnv, envName: string, rollout: Rollout): PrometheusTarget | undefined {
  const { queries, urlVariable, tokenVariable, auth } = rollout.analysis;
  if (rollout.strategy !== 'canary' || queries.length === 0) return undefined;
  const url = env[urlVariable]?.trim();
  if (!url) throw gantryError('E_PROMETHEUS_MISSING', { envName, variable: urlVariable, queries: queries.map((q) => q.name) });
  const token = env[tokenVariable]?.trim() || undefined;
  // Whatever the variable is called, its value (and the Basic form of it) never reaches the log.
  if (token) {
    ctx.logger.addSecret(token);
    ctx.logger.addSecret(Buffer.from(token).toString('base64'));
  }
  return { url, token, auth };
}

/** Runs every query once: one Prometheus refuses (bad PromQL, a range vector) stops the deploy here. */
export async function checkQueries(ctx: Ctx, target: PrometheusTarget | undefined, rollout: Rollout, vars: QueryVariables, envName: string): Promise<void> {
  if (!target) return;
  await ctx.logger.section(
    'gantry_canary_queries',
    `check ${rollout.analysis.queries.length} analysis queries against ${new URL(target.url).host}`,
    async () => {
      for (const q of rollout.analysis.queries) {
        const query = expandQuery(q.query, vars);
        try {
          const samples = await queryPrometheus(ctx, target, query);
          ctx.logger.info(`  ${q.name}: ${samples.length} series now`);
        } catch (error) {
          if (error instanceof PrometheusRefusal) {
            const reason =
              error.errorType === 'unauthorized' ? `refused the token (HTTP ${error.status}: ${error.message})` : `${error.errorType}: ${error.message}`;
            throw gantryError('E_ANALYSIS_QUERY', { envName, name: q.name, query, reason, unauthorized: error.errorType === 'unauthorized' });
          }
          throw error;
        }
      }
    },
  );
}

export interface CanaryPlan {
  /** The canary Deployment to apply (replicas set per step). */
  canary: Deployment;
  /** The step to start from (0, or the one after the held step for a promote). */
  fromStep: number;
  vars: QueryVariables;
  /** promote: the frontend release the held canary's deploy staged (goes live with the promotion). */
  frontendRelease?: string | undefined;
}

export interface PlanCanaryInput {
  namespace: string;
  /** The rendered stable Deployment (with the new template). */
  stable: K8sObject;
  /** The stable Deployment as the cluster has it before this deploy. */
  before: Deployment | undefined;
  rollout: Rollout;
  /** deploy: start a canary; promote: go on with the held one (--full: to the promotion at once). */
  action: 'deploy' | 'promote';
  full?: boolean | undefined;
}

/**
 * The canary to run, or undefined when there is none to run: a rolling environment, a first
 * deploy (no stable version to compare with), or a template the stable Deployment already runs.
 */
export async function planCanary(ctx: Ctx, kc: KubeConfig, input: PlanCanaryInput): Promise<CanaryPlan | undefined> {
  const { namespace, stable, before, rollout } = input;
  const name = stable.metadata.name;
  const canary = canaryName(name);
  const vars = queryVariables(namespace, name, canary);
  const client = kubeClient(ctx, kc);
  const hash = templateHash(stable);
  const existing = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: canary, namespace });
  if (input.action === 'promote') {
    if (!existing) throw gantryError('E_CANARY_NONE', { command: 'promote', deployment: name, namespace });
    const running = existing.metadata.annotations?.[CANARY_TEMPLATE_ANNOTATION] ?? '?';
    if (running !== hash) throw gantryError('E_CANARY_MISMATCH', { deployment: name, namespace, running, rendered: hash });
    const held = Number(existing.metadata.annotations?.[CANARY_STEP_ANNOTATION] ?? 0);
    const paused = existing.metadata.annotations?.[CANARY_PAUSED_ANNOTATION] === 'manual';
    const fromStep = input.full ? rollout.steps.length : paused ? held + 1 : held;
    const frontendRelease = existing.metadata.annotations?.[FRONTEND_RELEASE_ANNOTATION];
    return { canary: canaryOf(stable, rollout, hash), fromStep, vars, frontendRelease };
  }
  if (rollout.strategy !== 'canary' || rollout.steps.length === 0) return undefined;
  if (!before) {
    ctx.logger.info(`${name} does not run in ${namespace} yet: no stable version to compare a canary with, so this first deploy is a plain rollout`);
    return undefined;
  }
  const answer = await client.apply<Deployment>(stable, { dryRun: true, doing: `validate deployment/${name}` });
  if (samePodTemplate(before, answer)) {
    ctx.logger.info(`${name} already runs this pod template: no canary`);
    return undefined;
  }
  if (existing) {
    ctx.logger.warn(`a canary of an earlier deploy (template ${existing.metadata.annotations?.[CANARY_TEMPLATE_ANNOTATION] ?? '?'}) is replaced by this one`);
  }
  return { canary: canaryOf(stable, rollout, hash), fromStep: 0, vars };
}

function canaryOf(stable: K8sObject, rollout: Rollout, hash: string): Deployment {
  const canary = canaryDeployment(stable, { replicas: 1, traffic: rollout.traffic }) as unknown as Deployment;
  canary.metadata.annotations = { ...(canary.metadata.annotations ?? {}), [CANARY_TEMPLATE_ANNOTATION]: hash };
  return canary;
}

/** Refuses (exit 2, before anything is uploaded or applied) a rendered Deployment a canary cannot be made from. */
export function checkCanaryTemplate(objects: K8sObject[], name: string, rollout: Rollout): void {
  if (rollout.strategy !== 'canary' || rollout.traffic === 'kruise') return;
  const stable = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
  if (stable) canaryOf(stable, rollout, '');
}

/**
 * The objects that carry the weight besides the replicas: with nginx or alb, the canary Service
 * and the canary Ingress at that weight (objects.ts). Checked before the cluster is touched: an
 * environment without an Ingress, or with another controller's class, is exit 2. Kruise is
 * rendered (kruiseRollout) but not driven by deploy: refused here, also exit 2.
 */
export function canaryTraffic(appObjects: K8sObject[], rollout: Rollout, envName: string): ((weight: number) => K8sObject[]) | undefined {
  if (rollout.strategy !== 'canary' || rollout.traffic === 'replicas') return undefined;
  if (rollout.traffic === 'kruise') throw gantryError('E_CANARY_KRUISE', { envName });
  const targets = canaryTargets(appObjects, rollout, envName);
  const traffic = rollout.traffic;
  const { service, ingress } = targets;
  if (!service || !ingress) return undefined;
  return (weight) => [canaryService(service, { traffic }), canaryIngress(ingress, weight, { traffic, service: service.metadata.name })];
}
