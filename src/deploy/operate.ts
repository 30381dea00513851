// gantry history | rollback | scale: the day-two flows on a deployed environment. They need no
// image and render nothing: the resolved target names the namespace, the Deployment and the
// kubeconfig variable; the cluster holds the rest (ReplicaSets annotated by deploy).
import type { KubeConfig } from '@kubernetes/client-node';
import { ciContextFromEnv } from '../ci/context.js';
import { ciVariables } from '../ci/variables.js';
import type { EnvironmentSource } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { EnvironmentTarget } from '../config/resolve.js';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';

/** One environment of gantry.yaml: --env, the CI variables (with --mr) and the config flags. */
export type OperateInput = EnvironmentSource;

async function connect(ctx: Ctx, input: OperateInput) {
  const { env, envName } = input;
  const [{ loadConfigOf }, { resolveEnvironment }, kube, track] = await Promise.all([
    import('../config/load.js'),
    import('../config/resolve.js'),
    import('../kube/index.js'),
    import('../track/index.js'),
  ]);
  const { config } = await loadConfigOf(input);
  const target: EnvironmentTarget = resolveEnvironment(config, envName, ciContextFromEnv(env));
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, target.kubeconfigVariable);
  return { config: config as Config, target, kc: kc as KubeConfig, dispose, kube, track };
}

export interface HistoryResult {
  environment: string;
  namespace: string;
  deployment: string;
  revisions: Awaited<ReturnType<typeof import('../kube/index.js').listRevisions>>;
}

/** The kept revisions, newest first in the log, as the cluster's ReplicaSets record them. */
export async function listHistory(ctx: Ctx, input: OperateInput): Promise<HistoryResult> {
  const c = await connect(ctx, input);
  try {
    const { namespace, deployment } = c.target;
    const revisions = await c.kube.listRevisions(ctx, c.kc, namespace, deployment);
    ctx.logger.info(`${deployment} in ${namespace}: ${revisions.length} revisions`);
    for (const r of [...revisions].reverse()) {
      ctx.logger.info(
        `${r.current ? '*' : ' '} ${String(r.revision).padStart(3)}  ${r.createdAt}  ${r.readyReplicas}/${r.replicas} ready  ${r.commit?.slice(0, 8) || '-'}  ${r.deployedBy || '-'}  ${r.images.join(', ')}${r.pipelineUrl ? `  ${r.pipelineUrl}` : ''}${r.annotations['gantry.dev/failed'] ? `  failed: ${r.annotations['gantry.dev/failed']}` : ''}${r.annotations['gantry.dev/frontend-release'] ? `  frontend ${r.annotations['gantry.dev/frontend-release']}` : ''}`,
      );
    }
    return { environment: input.envName, namespace, deployment, revisions };
  } finally {
    await c.dispose();
  }
}

export interface RollbackResult {
  environment: string;
  namespace: string;
  from: number;
  to: number;
  revision: number;
  ok: boolean;
  /** The rollout error when the restored revision did not become available (printed after this). */
  error?: GantryError | undefined;
  /** #15: the frontend release brought back with the revision (it was deployed with --frontend). */
  frontend?: { release: string; previous: string | undefined } | undefined;
}

/**
 * #15: the frontend release that went out with the restored revision (gantry.dev/frontend-release,
 * recorded by deploy --frontend) goes live again, once the backend serves it. A revision deployed
 * without --frontend names none: the live frontend is left as it is.
 */
async function frontendOf(
  ctx: Ctx,
  input: OperateInput,
  config: Config,
  annotations: Record<string, string>,
  revision: number,
): Promise<{ release: string; previous: string | undefined } | undefined> {
  const { FRONTEND_RELEASE_ANNOTATION } = await import('../canary/engine.js');
  const release = annotations[FRONTEND_RELEASE_ANNOTATION];
  if (!config.frontend) return undefined;
  if (!release) {
    ctx.logger.info(`revision ${revision} was deployed without --frontend: the live frontend is left as it is`);
    return undefined;
  }
  const { activateSite } = await import('../site/release.js');
  const activation = await ctx.logger.section('gantry_rollback_frontend', `frontend release ${release} (deployed with revision ${revision}) goes live`, () =>
    activateSite(ctx, { ...input, release }),
  );
  ctx.logger.info(`frontend release ${activation.release} is live again${activation.previous ? ` (was ${activation.previous})` : ''}`);
  if (activation.error) throw activation.error;
  return { release: activation.release, previous: activation.previous };
}

/**
 * Brings back --to (as given on the command line), else the revision before the current one,
 * and tracks it. Null in a dry run (nothing is tracked, nothing printed).
 */
export async function rollbackEnvironment(
  ctx: Ctx,
  input: OperateInput & { to?: string | undefined; timeout?: string | undefined },
): Promise<RollbackResult | null> {
  const c = await connect(ctx, input);
  try {
    const to = input.to === undefined ? undefined : Number(input.to);
    if (to !== undefined && (!Number.isInteger(to) || to < 1)) {
      throw gantryError('E_USAGE', { flag: 'to', value: String(input.to) });
    }
    const { namespace, deployment } = c.target;
    // A failed rollout leaves the lease as a thrown error does, and comes back as the result it is.
    let failed: RollbackResult | undefined;
    return await c.kube
      .withDeployLease(ctx, c.kc, namespace, `gantry-deploy-${deployment}`, `rollback by ${rollbackHolder(ctx)}`, async () => {
        const revisions = await c.kube.listRevisions(ctx, c.kc, namespace, deployment);
        const current = revisions.find((r) => r.current)?.revision ?? 0;
        // By default the newest earlier revision that did not fail (a deploy marks the revision it
        // rolled back from): going back to the version before a failed deploy, not to the failure.
        const { FAILED_ANNOTATION } = await import('../kube/history.js');
        const chosen =
          to ??
          revisions
            .filter((r) => r.revision < current && r.annotations[FAILED_ANNOTATION] === undefined)
            .map((r) => r.revision)
            .sort((a, b) => b - a)[0];
        if (chosen === undefined) {
          throw gantryError('E_ROLLBACK_NO_PREVIOUS', { deployment, namespace, current });
        }
        // A held canary is not left serving beside the revision brought back.
        const [{ takeBackLeftover }, { canaryName }] = await Promise.all([import('../canary/engine.js'), import('../canary/objects.js')]);
        await takeBackLeftover(ctx, c.kc, namespace, canaryName(deployment), 'a rollback brings back the stable version');
        // Judged on what happens from the rollback on (by the API server's clock, which a read tells):
        // the restored revision's pods may have crashed long before it.
        const client = c.kube.kubeClient(ctx, c.kc);
        await client.read({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, namespace });
        const since = client.serverNow();
        const back = await c.kube.rollbackTo(ctx, c.kc, namespace, deployment, chosen);
        if (back.skipped) ctx.logger.info(`revision ${chosen} is already what runs: nothing to do`);
        else ctx.logger.info(`revision ${chosen} restored as revision ${back.revision} (${back.images.join(', ')})`);
        if (ctx.dryRun) return null;
        const timeoutSeconds = input.timeout ? Number(input.timeout) : c.target.trackTimeoutSeconds;
        const result = await c.track.trackRollout(ctx, c.kc, { namespace, name: deployment, timeoutSeconds, waitForTerminatingPods: false, since });
        const report: RollbackResult = { environment: input.envName, namespace, from: back.from, to: chosen, revision: back.revision, ok: result.ok };
        if (result.ok) {
          report.frontend = await frontendOf(ctx, input, c.config, revisions.find((r) => r.revision === chosen)?.annotations ?? {}, chosen);
          return report;
        }
        failed = { ...report, error: c.track.rolloutError(result) };
        throw failed.error;
      })
      .catch((error: unknown) => {
        if (failed && error === failed.error) return failed;
        throw error;
      });
  } finally {
    await c.dispose();
  }
}

export interface ScaleResult {
  environment: string;
  namespace: string;
  deployment: string;
  previous: number;
  replicas: number;
}

/** Sets the replicas (--replicas as given) within backend.maxReplicas and tracks them; refused when autoscaled. */
export async function scaleEnvironment(ctx: Ctx, input: OperateInput & { replicas?: string | undefined }): Promise<ScaleResult> {
  const c = await connect(ctx, input);
  try {
    const replicas = Number(input.replicas);
    const autoscale = c.target.autoscale;
    if (autoscale) {
      throw gantryError('E_SCALE_AUTOSCALED', { envName: input.envName, min: autoscale.min, max: autoscale.max });
    }
    const max = c.config.backend.maxReplicas;
    if (input.replicas === undefined || !Number.isInteger(replicas) || replicas < 0 || replicas > max) {
      throw gantryError('E_USAGE', { flag: 'replicas', value: input.replicas, max });
    }
    const { namespace, deployment } = c.target;
    const r = await c.kube.scaleDeployment(ctx, c.kc, namespace, deployment, replicas);
    ctx.logger.info(`${deployment} in ${namespace}: ${r.previous} -> ${r.replicas} replicas${ctx.dryRun ? ' (dry run)' : ''}`);
    if (!ctx.dryRun) {
      const result = await c.track.trackRollout(ctx, c.kc, {
        namespace,
        name: deployment,
        timeoutSeconds: c.target.trackTimeoutSeconds,
        waitForTerminatingPods: false,
      });
      if (!result.ok) throw c.track.rolloutError(result);
    }
    return { environment: input.envName, namespace, deployment, previous: r.previous, replicas: r.replicas };
  } finally {
    await c.dispose();
  }
}

/** Who holds the deploy lease during a rollback: the job, else the local user. */
function rollbackHolder(ctx: Ctx): string {
  const { predefined, local } = ciVariables(ctx.env);
  return predefined.jobUrl || local.user || 'gantry';
}

export interface AbortResult {
  environment: string;
  namespace: string;
  deployment: string;
  aborted: string;
  seconds: number;
}

/** gantry abort (#15): takes the held canary back under the deploy lease; the stable version is left as it is. */
export async function abortCanaryOf(ctx: Ctx, input: OperateInput): Promise<AbortResult> {
  const c = await connect(ctx, input);
  try {
    const { namespace, deployment } = c.target;
    const [{ abortCanary }, { canaryName: canaryOf }] = await Promise.all([import('../canary/engine.js'), import('../canary/objects.js')]);
    const canaryName = canaryOf(deployment);
    return await c.kube.withDeployLease(ctx, c.kc, namespace, `gantry-deploy-${deployment}`, `abort by ${rollbackHolder(ctx)}`, async () => {
      const existing = await c.kube
        .kubeClient(ctx, c.kc)
        .read({ apiVersion: 'apps/v1', kind: 'Deployment', name: canaryName, namespace }, `get deployment/${canaryName}`);
      if (!existing) throw gantryError('E_CANARY_NONE', { command: 'abort', deployment, namespace });
      const seconds = ctx.dryRun ? 0 : await abortCanary(ctx, c.kc, namespace, canaryName);
      if (ctx.dryRun) ctx.logger.info(`dry run: would delete deployment/${canaryName}`);
      return { environment: input.envName, namespace, deployment, aborted: canaryName, seconds };
    });
  } finally {
    await c.dispose();
  }
}
