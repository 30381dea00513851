// gantry history | rollback | scale: the day-two commands on a deployed environment. They need
// no image and render nothing: the config names the namespace, the Deployment and the
// kubeconfig variable; the cluster holds the rest (ReplicaSets annotated by deploy).
import type { Ctx } from '../src/context.js';
import { GantryError } from '../src/errors.js';
import { ciContextFromEnv } from '../src/ci/context.js';
import { configOptions, parseStepArgs, stepTarget, type Options } from '../src/args.js';

async function connect(ctx: Ctx, command: string, argv: string[], extra: Options, usage: string) {
  const { values } = parseStepArgs(command, argv, { ...configOptions, env: { type: 'string', short: 'e' }, mr: { type: 'string' }, ...extra }, usage);
  if (values.help) return { help: true as const };
  const { cwd, env, envName } = stepTarget(command, values as { cwd?: string; mr?: string; env?: string }, ctx, usage);
  const [{ loadConfig }, { resolveEnvironment }, kube, track] = await Promise.all([
    import('../src/config/load.js'),
    import('../src/config/resolve.js'),
    import('../src/kube/index.js'),
    import('../src/track/index.js'),
  ]);
  const { config } = await loadConfig({ cwd, env, file: values.config as string | undefined, set: values.set as string[] | undefined, setString: values['set-string'] as string[] | undefined });
  const target = resolveEnvironment(config, envName, ciContextFromEnv(env));
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, kube.kubeconfigVariable(envName, target.env.kubeconfig));
  return { help: false as const, values: values as Record<string, string | undefined>, config, envName, target, kc, dispose, kube, track };
}

export const historyUsage = 'gantry history --env <name> [--mr <iid>] [--config <file>] [-C <dir>]';

export async function history(argv: string[], ctx: Ctx): Promise<number> {
  const c = await connect(ctx, 'history', argv, {}, historyUsage);
  if (c.help) return help(ctx, historyUsage);
  try {
    const revisions = await c.kube.listRevisions(ctx, c.kc, c.target.namespace, c.target.deployment);
    ctx.logger.info(`${c.target.deployment} in ${c.target.namespace}: ${revisions.length} revisions`);
    for (const r of [...revisions].reverse()) {
      ctx.logger.info(
        `${r.current ? '*' : ' '} ${String(r.revision).padStart(3)}  ${r.createdAt}  ${r.readyReplicas}/${r.replicas} ready  ${r.commit?.slice(0, 8) || '-'}  ${r.deployedBy || '-'}  ${r.images.join(', ')}${r.pipelineUrl ? `  ${r.pipelineUrl}` : ''}`,
      );
    }
    process.stdout.write(`${JSON.stringify({ environment: c.envName, namespace: c.target.namespace, deployment: c.target.deployment, revisions })}\n`);
    return 0;
  } finally {
    await c.dispose();
  }
}

export const rollbackUsage = 'gantry rollback --env <name> [--to <revision>] [--timeout <seconds>] [--mr <iid>] [--config <file>] [-C <dir>]';

export async function rollback(argv: string[], ctx: Ctx): Promise<number> {
  const c = await connect(ctx, 'rollback', argv, { to: { type: 'string' }, timeout: { type: 'string' } }, rollbackUsage);
  if (c.help) return help(ctx, rollbackUsage);
  try {
    const to = c.values.to === undefined ? undefined : Number(c.values.to);
    if (to !== undefined && (!Number.isInteger(to) || to < 1)) {
      throw new GantryError('E_USAGE', `--to ${String(c.values.to)}: a revision number (gantry history lists them)`, { fix: 'e.g. --to 3, or leave it out for the previous revision' });
    }
    const { namespace, deployment } = c.target;
    return await c.kube.withDeployLease(ctx, c.kc, namespace, `gantry-deploy-${deployment}`, `rollback by ${ctx.env.CI_JOB_URL || ctx.env.USER || 'gantry'}`, async () => {
      const revisions = await c.kube.listRevisions(ctx, c.kc, namespace, deployment);
      const current = revisions.find((r) => r.current)?.revision ?? 0;
      const chosen = to ?? revisions.filter((r) => r.revision < current).map((r) => r.revision).sort((a, b) => b - a)[0];
      if (chosen === undefined) {
        throw new GantryError('E_INPUT', `${deployment} in ${namespace} has no revision before ${current}`, { fix: 'gantry history --env ... lists the revisions that are kept' });
      }
      // Judged on what happens from the rollback on (by the API server's clock, which a read tells):
      // the restored revision's pods may have crashed long before it.
      const client = c.kube.kubeClient(ctx, c.kc);
      await client.read({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, namespace });
      const since = client.serverNow();
      const back = await c.kube.rollbackTo(ctx, c.kc, namespace, deployment, chosen);
      if (back.skipped) ctx.logger.info(`revision ${chosen} is already what runs: nothing to do`);
      else ctx.logger.info(`revision ${chosen} restored as revision ${back.revision} (${back.images.join(', ')})`);
      if (ctx.dryRun) return 0;
      const timeoutSeconds = c.values.timeout ? Number(c.values.timeout) : c.config.backend.progressDeadlineSeconds + 30;
      const result = await c.track.trackRollout(ctx, c.kc, { namespace, name: deployment, timeoutSeconds, waitForTerminatingPods: false, since });
      process.stdout.write(`${JSON.stringify({ environment: c.envName, namespace, from: back.from, to: chosen, revision: back.revision, ok: result.ok })}\n`);
      if (!result.ok) throw c.track.rolloutError(result);
      return 0;
    });
  } finally {
    await c.dispose();
  }
}

export const scaleUsage = 'gantry scale --env <name> --replicas <N> [--mr <iid>] [--config <file>] [-C <dir>]';

export async function scale(argv: string[], ctx: Ctx): Promise<number> {
  const c = await connect(ctx, 'scale', argv, { replicas: { type: 'string' } }, scaleUsage);
  if (c.help) return help(ctx, scaleUsage);
  try {
    const replicas = Number(c.values.replicas);
    const autoscale = c.target.env.autoscale ?? c.config.backend.autoscale;
    if (autoscale) {
      throw new GantryError('E_INPUT', `${c.envName} is autoscaled (${autoscale.min}-${autoscale.max} replicas): the HPA sets the replicas`, {
        fix: 'change autoscale.min / autoscale.max in gantry.yaml and deploy',
      });
    }
    const max = c.config.backend.maxReplicas;
    if (c.values.replicas === undefined || !Number.isInteger(replicas) || replicas < 0 || replicas > max) {
      throw new GantryError('E_USAGE', `--replicas ${c.values.replicas ?? '(missing)'}: a whole number from 0 to ${max} (backend.maxReplicas)`, { fix: `e.g. --replicas 2; raise backend.maxReplicas for more than ${max}` });
    }
    const { namespace, deployment } = c.target;
    const r = await c.kube.scaleDeployment(ctx, c.kc, namespace, deployment, replicas);
    ctx.logger.info(`${deployment} in ${namespace}: ${r.previous} -> ${r.replicas} replicas${ctx.dryRun ? ' (dry run)' : ''}`);
    if (!ctx.dryRun) {
      const result = await c.track.trackRollout(ctx, c.kc, { namespace, name: deployment, timeoutSeconds: c.config.backend.progressDeadlineSeconds + 30, waitForTerminatingPods: false });
      if (!result.ok) throw c.track.rolloutError(result);
    }
    process.stdout.write(`${JSON.stringify({ environment: c.envName, namespace, deployment, previous: r.previous, replicas: r.replicas })}\n`);
    return 0;
  } finally {
    await c.dispose();
  }
}

function help(ctx: Ctx, usage: string): number {
  ctx.logger.info(`usage: ${usage}`);
  return 0;
}
