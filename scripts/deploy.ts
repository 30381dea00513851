// gantry deploy: render deploy.yaml and svc.yaml, check every object with a server-side dry
// run, apply them (server-side apply, field manager "gantry"), and stay until the new version
// is serving, or fail fast with the cause and roll back to the previous revision.
import os from 'node:os';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Ctx } from '../src/context.js';
import { GantryError } from '../src/errors.js';
import { defaultPullHost } from '../src/image/acr.js';
import type { K8sObject } from '../src/kube/objects.js';
import { configOptions, parseStepArgs, stepTarget } from './args.js';
import { reportToMr } from './mr-note.js';
import { renderEnvironment, writeManifests } from './render.js';

export const usage =
  'gantry deploy --env <name> [--image <ref>] [--mr <iid>] [--no-rollback] [--timeout <seconds>] [--out <dir>] [--dotenv <file>] [--config <file>] [--set path=value] [-C <dir>]';

export async function deploy(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('deploy', argv, {
    ...configOptions,
    env: { type: 'string', short: 'e' },
    image: { type: 'string' },
    mr: { type: 'string' },
    'no-rollback': { type: 'boolean' },
    timeout: { type: 'string' },
    out: { type: 'string', short: 'o' },
    dotenv: { type: 'string' },
  }, usage);
  if (values.help) {
    ctx.logger.info(`usage: ${usage}`);
    return 0;
  }
  const { cwd, env, envName } = stepTarget('deploy', values, ctx, usage);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 10 || timeout > 3600)) {
    throw new GantryError('E_USAGE', `--timeout ${values.timeout}: whole seconds from 10 to 3600`, { fix: 'e.g. --timeout 300 (default: backend.progressDeadlineSeconds + 30)' });
  }
  const leaseSeconds = Number(env.GANTRY_DEPLOY_LEASE_SECONDS ?? 60);
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 5 || leaseSeconds > 600) {
    throw new GantryError('E_INPUT', `GANTRY_DEPLOY_LEASE_SECONDS=${env.GANTRY_DEPLOY_LEASE_SECONDS}: whole seconds from 5 to 600`, { fix: 'unset it for the default of 60' });
  }
  for (const [key, value] of Object.entries(env)) if (key.startsWith('K8S_SECRET_')) ctx.logger.addSecret(value);

  // Everything that can be checked without the cluster is checked first.
  const { config, ci, view, manifests, secret } = await renderEnvironment(ctx, { cwd, env, envName, values });
  if (!view.image.includes('@sha256:')) {
    ctx.logger.warn(`deploying ${view.image} by tag: a tag can move; the build job's GANTRY_IMAGE pins the digest`);
  }
  const pull = pullCredentials(ctx, config, env);
  const [kube, history, track] = await Promise.all([import('../src/kube/index.js'), import('../src/kube/history.js'), import('../src/track/index.js')]);
  const namespace = view.environment.namespace;
  const name = view.names.deployment;

  const objects: K8sObject[] = [];
  if (pull && config.registry) objects.push(kube.pullSecretObject(namespace, config.registry.pullSecret, pull, view.labels));
  if (secret) {
    const built = kube.secretFromCiVariables(env, { name: secret.name, namespace, labels: view.labels })!;
    for (const v of Object.values(built.secret.data as Record<string, string>)) ctx.logger.addSecret(v);
    objects.push(built.secret);
  }
  for (const m of manifests) objects.push(...m.objects);

  const outDir = path.resolve(cwd, values.out ?? 'rendered');
  if (!ctx.dryRun) await writeManifests(outDir, manifests);

  const kcVar = kube.kubeconfigVariable(envName, config.environments[envName]!.kubeconfig);
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, kcVar);
  try {
    await ctx.logger.section('gantry_deploy_namespace', `namespace ${namespace}`, () => kube.ensureNamespace(ctx, kc, namespace, view.labels));
    const holder = ci.jobUrl || ci.pipelineUrl || `${os.userInfo().username}@${os.hostname()} (pid ${process.pid})`;
    return await kube.withDeployLease(ctx, kc, namespace, `gantry-deploy-${name}`, holder, async () => {
      const client = kube.kubeClient(ctx, kc);
      const before = await client.read<DeploymentJson>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
      const previous = Number(before?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0) || undefined;
      // This run is judged on what happens from its apply on, by the API server's clock: a re-run
      // after a fix must not fail on what the failed run's pods did (track: since).
      const since = client.serverNow();

      const applied = await ctx.logger.section('gantry_deploy_apply', `apply ${objects.length} objects to ${namespace}${ctx.dryRun ? ' (dry run)' : ''}`, () =>
        kube.applyObjects(ctx, kc, objects, { namespace }),
      );
      if (ctx.dryRun) {
        process.stdout.write(`${JSON.stringify({ environment: envName, namespace, image: view.image, dryRun: true, objects: applied.map((a) => ({ kind: a.kind, name: a.name, result: a.result })) })}\n`);
        return 0;
      }

      // An apply that left the pod template as it was made no new pods: the pods are the ones an
      // earlier run left. If they are failing (a re-run after the cause was fixed: the pull secret
      // or the Secret key is there now), they get a fresh start, as `kubectl rollout restart`
      // gives, and this run tracks the new ones, instead of waiting out the kubelet's back-off.
      let rollbackTarget = previous;
      let restarted: number | undefined;
      const deployed = applied.find((a) => a.kind === 'Deployment' && a.name === name)?.object as DeploymentJson | undefined;
      if (history.samePodTemplate(before, deployed)) {
        const failing = await track.currentFailure(ctx, kc, { namespace, name });
        if (failing) {
          restarted = Number(failing.revision ?? previous) || previous;
          ctx.logger.info(`the pod template is unchanged, and the pods of revision ${restarted} are failing (${failing.failure.code}) from before this deploy: restarting them`);
          await history.restartRollout(ctx, kc, namespace, name);
          // Rolling back to the restarted revision would bring the same pods back: the one before it is what ran before.
          rollbackTarget = (await kube.listRevisions(ctx, kc, namespace, name)).map((r) => r.revision).filter((r) => r < (restarted ?? 0)).sort((a, b) => b - a)[0];
        }
      }

      const timeoutSeconds = timeout ?? config.backend.progressDeadlineSeconds + 30;
      const result = await track.trackRollout(ctx, kc, { namespace, name, timeoutSeconds, waitForTerminatingPods: false, since });
      const url = view.ingress ? `${view.ingress.tlsSecret ? 'https' : 'http'}://${view.ingress.host}` : '';
      if (result.ok) {
        const after = await client.read<DeploymentJson>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
        const revision = Number(after?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0);
        ctx.logger.info(`${name} revision ${revision} is serving in ${namespace} (${(result.elapsedMs / 1000).toFixed(1)} s)${url ? `: ${url}` : ''}`);
        const pruned = await kube.pruneConfigMaps(ctx, kc, namespace, name, view.labels);
        if (pruned.length > 0) ctx.logger.info(`deleted ${pruned.length} env ConfigMap(s) no kept revision uses: ${pruned.join(', ')}`);
        await writeReport(values.dotenv, cwd, { GANTRY_ENVIRONMENT_URL: url, GANTRY_IMAGE: view.image, GANTRY_NAMESPACE: namespace, GANTRY_REVISION: String(revision) });
        await reportToMr(ctx, { status: 'deployed', environment: envName, url: url || undefined, image: view.image, mr: values.mr });
        process.stdout.write(`${JSON.stringify({ environment: envName, namespace, image: view.image, revision, url, elapsedMs: result.elapsedMs, files: manifests.map((m) => path.join(outDir, m.file)) })}\n`);
        return 0;
      }

      // Failed. The evidence (log tail included) was taken before a rollback replaces the failing
      // pods; it is printed once, with the fix, by the CLI's report of the error thrown at the end,
      // so that the job log ends with the cause.
      const now = await client.read<DeploymentJson>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
      const current = Number(now?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0);
      const rollingBack = !values['no-rollback'] && rollbackTarget !== undefined && rollbackTarget !== current;
      if (values['no-rollback']) {
        ctx.logger.warn(`--no-rollback: revision ${current} is left as it is for inspection`);
      } else if (!rollingBack) {
        ctx.logger.warn(
          restarted
            ? `revision ${restarted} was failing before this deploy and no earlier revision is kept: nothing to roll back to`
            : previous
              ? `revision ${current} was already running before this deploy: nothing to roll back to`
              : 'this was the first deploy: there is no previous revision to roll back to',
        );
      } else {
        const to = rollbackTarget!;
        await ctx.logger.section('gantry_deploy_rollback', `rollback to revision ${to}`, async () => {
          const rollbackSince = client.serverNow();
          // rollbackTo reports what it restores, as which revision.
          await kube.rollbackTo(ctx, kc, namespace, name, to);
          const again = await track.trackRollout(ctx, kc, { namespace, name, timeoutSeconds, waitForTerminatingPods: false, since: rollbackSince });
          if (again.ok) ctx.logger.info(`the previous version is serving again (${(again.elapsedMs / 1000).toFixed(1)} s)`);
          else ctx.logger.error(`the rollback did not become available either: ${again.code}: ${again.message}`);
        });
      }
      await reportToMr(ctx, { status: 'failed', environment: envName, image: view.image, mr: values.mr, diagnosis: { code: result.code, message: result.message, evidence: result.evidence } });
      // Machine output: the code, not the message (GitLab shows stdout in the job log too).
      process.stdout.write(`${JSON.stringify({ environment: envName, namespace, image: view.image, failed: result.code, rolledBackTo: rollingBack ? rollbackTarget : null })}\n`);
      throw track.rolloutError(result);
    }, {
      ttlSeconds: leaseSeconds,
      onWait: (held) => ctx.logger.info(`waiting for the deploy lease of ${namespace}: held by ${held.holder} since ${held.since ?? '?'} (expires ${held.expiresAt ?? '?'} unless renewed)`),
    });
  } finally {
    await dispose();
  }
}

interface DeploymentJson {
  metadata: { annotations?: Record<string, string> };
  spec?: { template?: unknown };
}

/** Pull credentials: a read-only pair when given, else the push pair; none means no pull secret. */
function pullCredentials(ctx: Ctx, config: { registry?: { pushHost: string; pullHost?: string | undefined } | undefined }, env: NodeJS.ProcessEnv) {
  if (!config.registry) return undefined;
  const username = env.GANTRY_REGISTRY_PULL_USER || env.GANTRY_REGISTRY_USER;
  const password = env.GANTRY_REGISTRY_PULL_PASSWORD || env.GANTRY_REGISTRY_PASSWORD;
  if (!username || !password) {
    ctx.logger.warn('no GANTRY_REGISTRY_USER / GANTRY_REGISTRY_PASSWORD: no pull secret is created (fine for a public repository or a cluster with its own registry access)');
    return undefined;
  }
  ctx.logger.addSecret(password);
  // The cluster pulls from the pull host (an ACR -vpc twin), so that is what the secret is for.
  return { server: defaultPullHost(config.registry.pushHost, config.registry.pullHost), username, password };
}

async function writeReport(file: string | undefined, cwd: string, values: Record<string, string>): Promise<void> {
  if (!file) return;
  await writeFile(path.resolve(cwd, file), Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
}
