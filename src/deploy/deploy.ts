// gantry deploy as a flow: render deploy.yaml and svc.yaml, check every object with a
// server-side dry run, apply them (server-side apply, field manager "gantry"), and stay until
// the new version is serving, or fail fast with the cause and roll back to the previous revision.
import os from 'node:os';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { ciVariables } from '../ci/variables.js';
import { type Ctx, maskEnvSecrets } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';
import { reportToMr } from '../gitlab/report.js';
import { defaultPullHost } from '../image/acr.js';
import type { Deployment, K8sObject } from '../kube/objects.js';
import { FRONTEND_RELEASE_ANNOTATION } from '../canary/engine.js';
import { canaryName } from '../canary/objects.js';
import { checkOutDir, outDirOf, renderEnvironment, writeManifests, type RenderEnvironmentInput } from './render.js';

export interface DeployInput extends RenderEnvironmentInput {
  /** --mr: the merge request the note goes to (else CI_MERGE_REQUEST_IID). */
  mr?: string | undefined;
  /** --no-rollback: leave a failed revision as it is for inspection. */
  noRollback: boolean;
  /** --timeout; default: the target's track timeout. */
  timeoutSeconds?: number | undefined;
  /** --out, relative to cwd; default rendered/. */
  out?: string | undefined;
  /** --dotenv: where to write GANTRY_ENVIRONMENT_URL, GANTRY_IMAGE, GANTRY_NAMESPACE, GANTRY_REVISION. */
  dotenv?: string | undefined;
  /** GANTRY_DEPLOY_LEASE_SECONDS, checked. */
  /** #15: promote: go on with the held canary (gantry promote); --full skips its remaining steps. */
  canaryAction?: 'deploy' | 'promote' | undefined;
  full?: boolean | undefined;
  /**
   * #15 --frontend: release the frontend with this backend: its assets are uploaded and its HTML
   * staged before the rollout, and the HTML goes live only once the rollout (or the canary's
   * promotion) succeeded. The Deployment records the release (gantry.dev/frontend-release), so a
   * rollback brings back the frontend that went out with the revision it restores.
   */
  frontend?: boolean | undefined;
  /** --skip-frontend-build: stage what frontend.dir holds. */
  skipFrontendBuild?: boolean | undefined;
}

/** What deploy prints on stdout; a failed deploy also carries the error the CLI reports last. */
export type DeployResult =
  | {
      status: 'dry-run';
      report: { environment: string; namespace: string; image: string; dryRun: true; objects: { kind: string; name: string; result: string }[] };
    }
  | {
      status: 'deployed';
      report: {
        environment: string;
        namespace: string;
        image: string;
        revision: number;
        url: string;
        elapsedMs: number;
        files: string[];
        canary?: CanaryReport | undefined;
        frontend?: { release: string; previous: string | undefined } | undefined;
      };
    }
  | {
      status: 'paused';
      report: { environment: string; namespace: string; image: string; canary: CanaryReport; frontend?: { staged: string } | undefined };
    }
  | { status: 'failed'; report: { environment: string; namespace: string; image: string; failed: string; rolledBackTo: number | null }; error: GantryError };

/** #15: what a canary did, step by step. */
export interface CanaryReport {
  steps: { step: number; weight: number; actualWeight: number; canaryReplicas: number; stableReplicas: number; seconds: number }[];
  held?: { step: number; weight: number } | undefined;
}

export async function deployEnvironment(ctx: Ctx, input: DeployInput): Promise<DeployResult> {
  const { cwd, env, envName } = input;
  const leaseVariable = ciVariables(env).gantry.deployLeaseSeconds;
  const leaseSeconds = Number(leaseVariable ?? 60);
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 5 || leaseSeconds > 600) {
    throw gantryError('E_LEASE_SECONDS', { value: leaseVariable });
  }
  // The env handed in may be a copy of ctx.env (with --mr) or another one: its secrets are masked too.
  if (env !== ctx.env) maskEnvSecrets(ctx.logger, env);

  // Everything that can be checked without the cluster is checked first.
  const { outDir, out } = outDirOf(cwd, input.out);
  await checkOutDir(outDir, out);
  const first = await renderEnvironment(ctx, input);
  const { config, ci, target, secret } = first;
  let { view, manifests } = first;
  if (!view.image.includes('@sha256:')) {
    ctx.logger.warn(`deploying ${view.image} by tag: a tag can move; the build job's GANTRY_IMAGE pins the digest`);
  }
  const pull = pullCredentials(ctx, config, env);
  // #14: the services' bindings are checked before the cluster is touched (a CI variable not set,
  // a URL that is not one: exit 2); the Secrets themselves are made under the lease, below.
  const { planServices } = await import('../services/plan.js');
  const { readBoundSecrets, serviceSecrets } = await import('../services/prepare.js');
  const plans = planServices(config, envName);
  const secretsInput = {
    namespace: view.environment.namespace,
    deployment: view.names.deployment,
    instance: target.instance,
    envName,
    labels: view.labels,
    env,
    serviceUrls: {} as Record<string, string>,
  };
  await serviceSecrets(ctx, undefined, plans, secretsInput);
  const [kube, history, track] = await Promise.all([import('../kube/index.js'), import('../kube/history.js'), import('../track/index.js')]);
  const namespace = view.environment.namespace;
  const name = view.names.deployment;
  // #15: a canary environment's Prometheus is named before the cluster is touched (exit 2 when unset).
  const action = input.canaryAction ?? 'deploy';
  const rollout = config.environments[envName]?.rollout;
  const canaryModule = rollout?.strategy === 'canary' ? await import('../canary/plan.js') : undefined;
  if (action === 'promote' && (!rollout || !canaryModule)) {
    throw gantryError('E_CANARY_NONE', { command: 'promote', deployment: name, namespace });
  }
  const prometheus = canaryModule && rollout ? canaryModule.analysisTarget(ctx, env, envName, rollout) : undefined;
  // nginx / alb: the canary Service and Ingress that carry the weight (no Ingress: exit 2 here).
  const trafficObjects =
    canaryModule && rollout
      ? canaryModule.canaryTraffic(
          manifests.flatMap((m) => m.objects),
          rollout,
          envName,
        )
      : undefined;

  const objects: K8sObject[] = [];
  if (pull && config.registry) objects.push(kube.pullSecretObject(namespace, config.registry.pullSecret, pull, view.labels));
  if (secret) {
    const built = kube.secretFromCiVariables(env, { name: secret.name, namespace, labels: view.labels })!;
    objects.push(built.secret);
  }

  // The kubeconfig is the last thing that can refuse (exit 2), with a Secret a service is bound
  // to: the manifests are written after them, so a refused deploy leaves nothing behind.
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, target.kubeconfigVariable);
  try {
    // A URL kept in a Secret names the connection Secret (its checksum), as a CI variable's does:
    // read it, and render again with it, so a changed URL rolls the pods and a failed deploy
    // leaves the running pods' Secret as it was.
    if (plans.some((p) => p.binding === 'secret')) {
      secretsInput.serviceUrls = await readBoundSecrets(ctx, kc, plans, namespace);
      ({ view, manifests } = await renderEnvironment(ctx, { ...input, serviceUrls: secretsInput.serviceUrls }));
    }
    // #15: every analysis query is tried once, before anything is applied (a refused one is exit 2).
    if (canaryModule && rollout && action === 'deploy') {
      const { queryVariables } = await import('../canary/analysis.js');
      await canaryModule.checkQueries(ctx, prometheus, rollout, queryVariables(namespace, name, canaryName(name)), envName);
    }
    // A template the canary cannot be made from is refused (exit 2) before anything is uploaded.
    if (canaryModule && rollout)
      canaryModule.checkCanaryTemplate(
        manifests.flatMap((m) => m.objects),
        name,
        rollout,
      );
    // #15: the frontend released with this backend is staged now (its assets are harmless to the
    // live pages); its HTML goes live after the rollout. The Deployment records which release.
    // (A promote makes live the release its canary's deploy staged, named on the canary.)
    const site = input.frontend || action === 'promote' ? await import('../site/release.js') : undefined;
    let frontendRelease: string | undefined;
    if (site && input.frontend && action === 'deploy') {
      const staged = await ctx.logger.section('gantry_deploy_frontend', 'stage the frontend released with this backend', () =>
        site.stageSite(ctx, {
          cwd,
          env,
          envName,
          config: input.values.config,
          set: input.values.set,
          setString: input.values['set-string'],
          skipBuild: Boolean(input.skipFrontendBuild),
          concurrency: 8,
        }),
      );
      frontendRelease = staged.release;
      ctx.logger.info(`frontend release ${frontendRelease} is staged; its HTML goes live once ${name} is serving the new version`);
    }
    const servicesManifest = manifests.find((m) => m.file === 'services.yaml');
    const appObjects = manifests.filter((m) => m !== servicesManifest).flatMap((m) => m.objects);
    const recordRelease = (release: string) => {
      for (const o of manifests.flatMap((m) => m.objects)) {
        if (o.kind !== 'Deployment' || o.metadata.name !== name) continue;
        o.metadata.annotations = { ...((o.metadata.annotations as Record<string, string> | undefined) ?? {}), [FRONTEND_RELEASE_ANNOTATION]: release };
      }
    };
    if (frontendRelease) recordRelease(frontendRelease);
    if (!ctx.dryRun) await writeManifests(outDir, manifests, out);
    await ctx.logger.section('gantry_deploy_namespace', `namespace ${namespace}`, () => kube.ensureNamespace(ctx, kc, namespace, view.labels));
    const holder = ci.jobUrl || ci.pipelineUrl || `${os.userInfo().username}@${os.hostname()} (pid ${process.pid})`;
    // A failed rollout leaves the lease as a thrown error does (a lost lease does not replace it),
    // and comes back here as the result it is.
    let failed: Extract<DeployResult, { status: 'failed' }> | undefined;
    return await kube
      .withDeployLease(
        ctx,
        kc,
        namespace,
        `gantry-deploy-${name}`,
        holder,
        async (): Promise<DeployResult> => {
          const client = kube.kubeClient(ctx, kc);
          const before = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
          const previous = Number(before?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0) || undefined;
          // This run is judged on what happens from its apply on, by the API server's clock: a re-run
          // after a fix must not fail on what the failed run's pods did (track: since).
          let since = client.serverNow();

          // The services' Secrets (an instance's password is read back), instances, then the app:
          // all validated first; the app is applied only once the services are ready, reachable
          // and migrated (the gate).
          // The env ConfigMap is named by its content and immutable: applied before the gate, it is
          // there for the migration while the running pods keep theirs. (Only it: a ConfigMap of a
          // user's template may be mounted by the running pods.)
          const envConfigMap = (o: K8sObject) => o.kind === 'ConfigMap' && o.metadata.name === view.names.configMap;
          const serviceObjects = [
            ...(await serviceSecrets(ctx, kc, plans, secretsInput)),
            ...(servicesManifest?.objects ?? []),
            ...appObjects.filter((o) => envConfigMap(o)),
          ];
          let all = [...objects, ...serviceObjects, ...appObjects.filter((o) => !envConfigMap(o))];
          // #15: a canary environment applies a canary Deployment in place of the stable one; the
          // stable one takes the new template only at the promotion, below.
          const stableObject = appObjects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
          const canary =
            canaryModule && rollout && stableObject
              ? await canaryModule.planCanary(ctx, kc, { namespace, stable: stableObject, before, rollout, action, full: input.full })
              : undefined;
          if (canary?.frontendRelease && action === 'promote') {
            // The promoted Deployment records the frontend release its canary's deploy staged, and
            // so does the canary again (a later manual step's promote reads it there).
            frontendRelease = canary.frontendRelease;
            recordRelease(frontendRelease);
          }
          if (canary && frontendRelease) {
            canary.canary.metadata.annotations = { ...(canary.canary.metadata.annotations ?? {}), [FRONTEND_RELEASE_ANNOTATION]: frontendRelease };
          }
          if (!canary && action === 'deploy' && !ctx.dryRun) {
            // A canary held (pause: manual) or left by an earlier run is not left serving beside this version.
            const { takeBackLeftover } = await import('../canary/engine.js');
            await takeBackLeftover(ctx, kc, namespace, canaryName(name), `this deploy runs no canary`);
          }
          if (canary && action === 'promote') all = [];
          else if (canary) all = all.map((o) => (o === stableObject ? (canary.canary as unknown as K8sObject) : o));
          const gated = action === 'deploy' && (plans.length > 0 || config.backend.migrate !== undefined);
          const gate = gated
            ? {
                at: objects.length + serviceObjects.length,
                run: () =>
                  ctx.logger.section('gantry_deploy_services', `services and migration before the rollout`, async () => {
                    const { beforeRollout } = await import('../services/rollout.js');
                    await beforeRollout(ctx, kc, { config, plans, view, since });
                  }),
              }
            : undefined;
          const applied = await ctx.logger.section('gantry_deploy_apply', `apply ${all.length} objects to ${namespace}${ctx.dryRun ? ' (dry run)' : ''}`, () =>
            kube.applyObjects(ctx, kc, all, { namespace, gate }),
          );
          if (ctx.dryRun) {
            return {
              status: 'dry-run',
              report: {
                environment: envName,
                namespace,
                image: view.image,
                dryRun: true,
                objects: applied.map((a) => ({ kind: a.kind, name: a.name, result: a.result })),
              },
            };
          }

          let deployed = applied.find((a) => a.kind === 'Deployment' && a.name === name)?.object as Deployment | undefined;
          let canaryReport: CanaryReport | undefined;
          let removeCanary: (() => Promise<unknown>) | undefined;
          if (canary && rollout && stableObject) {
            const engine = await import('../canary/engine.js');
            const outcome = await engine.runCanarySteps(ctx, kc, {
              namespace,
              stableName: name,
              canary: canary.canary,
              rollout,
              maxReplicas: config.backend.maxReplicas,
              prometheus,
              vars: canary.vars,
              since,
              fromStep: canary.fromStep,
              timeoutSeconds: input.timeoutSeconds ?? target.trackTimeoutSeconds,
              trafficObjects,
            });
            canaryReport = { steps: outcome.steps };
            if (outcome.status === 'paused') {
              canaryReport.held = { step: outcome.step, weight: outcome.weight };
              if (frontendRelease) ctx.logger.info(`frontend release ${frontendRelease} stays staged until gantry promote`);
              const held = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
              await writeReport(input.dotenv, cwd, {
                GANTRY_ENVIRONMENT_URL: view.ingress ? `${view.ingress.tlsSecret ? 'https' : 'http'}://${view.ingress.host}` : '',
                GANTRY_IMAGE: view.image,
                GANTRY_NAMESPACE: namespace,
                GANTRY_REVISION: String(Number(held?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0)),
              });
              return {
                status: 'paused',
                report: {
                  environment: envName,
                  namespace,
                  image: view.image,
                  canary: canaryReport,
                  ...(frontendRelease ? { frontend: { staged: frontendRelease } } : {}),
                },
              };
            }
            if (outcome.status === 'aborted') {
              const error = outcome.error;
              if (frontendRelease) keptFrontend(ctx, frontendRelease);
              await reportToMr(ctx, {
                status: 'failed',
                environment: envName,
                image: view.image,
                mr: input.mr,
                diagnosis: { code: error.code, message: error.message, evidence: error.details ?? [] },
              });
              failed = { status: 'failed', report: { environment: envName, namespace, image: view.image, failed: error.code, rolledBackTo: null }, error };
              throw error;
            }
            // Promotion: the stable Deployment takes the new template, and is tracked (and rolled
            // back on failure) as any rollout; the canary goes once it is done either way.
            since = client.serverNow();
            deployed = await ctx.logger.section('gantry_canary_promote', `promote: deployment/${name} takes the new version`, () =>
              client.apply<Deployment>(stableObject, { doing: `apply deployment/${name}` }),
            );
            removeCanary = () => engine.removeCanary(ctx, kc, namespace, canary.canary.metadata.name, trafficObjects?.(0));
          }
          const { rollbackTarget, restarted } = history.samePodTemplate(before, deployed)
            ? await restartIfFailing(ctx, kc, { namespace, name, previous })
            : { rollbackTarget: previous, restarted: undefined };

          const timeoutSeconds = input.timeoutSeconds ?? target.trackTimeoutSeconds;
          // A crash whose log shows a refused connection or login names the service it was (#14).
          const services = plans.map((p) => ({ service: p.name, kind: p.kind, port: p.port, binding: p.binding, secret: p.credentialsSecret }));
          const result = await track.trackRollout(ctx, kc, { namespace, name, timeoutSeconds, waitForTerminatingPods: false, since, services });
          // #15: the canary's pods go once the stable Deployment runs the new version (or was rolled back).
          if (removeCanary) await removeCanary();
          const url = view.ingress ? `${view.ingress.tlsSecret ? 'https' : 'http'}://${view.ingress.host}` : '';
          if (result.ok) {
            const after = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
            const revision = Number(after?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0);
            // A template that failed before and serves now is no longer a failed revision.
            await markRevisionOrWarn(ctx, kc, namespace, name, revision, null);
            ctx.logger.info(`${name} revision ${revision} is serving in ${namespace} (${(result.elapsedMs / 1000).toFixed(1)} s)${url ? `: ${url}` : ''}`);
            // #15: the frontend's HTML goes live now that the backend serves (the CDN refresh follows it).
            const frontend =
              frontendRelease && site ? await activateFrontend(ctx, site, { cwd, env, envName, input, release: frontendRelease, name, revision }) : undefined;
            const pruned = await kube.pruneConfigMaps(ctx, kc, namespace, name, view.labels);
            if (pruned.length > 0) ctx.logger.info(`deleted ${pruned.length} env ConfigMap(s) no kept revision uses: ${pruned.join(', ')}`);
            await writeReport(input.dotenv, cwd, {
              GANTRY_ENVIRONMENT_URL: url,
              GANTRY_IMAGE: view.image,
              GANTRY_NAMESPACE: namespace,
              GANTRY_REVISION: String(revision),
            });
            await reportToMr(ctx, { status: 'deployed', environment: envName, url: url || undefined, image: view.image, mr: input.mr });
            return {
              status: 'deployed',
              report: {
                environment: envName,
                namespace,
                image: view.image,
                revision,
                url,
                elapsedMs: result.elapsedMs,
                files: manifests.map((m) => path.join(outDir, m.file)),
                ...(canaryReport ? { canary: canaryReport } : {}),
                ...(frontend ? { frontend: { release: frontend.release, previous: frontend.previous } } : {}),
              },
            };
          }

          // Cancelled (a signal) or out of step time: no rollback, no MR note; the step's signal is
          // aborted, so every call would fail at once anyway. The cluster is left mid-rollout; the
          // next deploy converges it (its tracking judges only what happens after its own apply).
          if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');

          if (frontendRelease) keptFrontend(ctx, frontendRelease);
          // Failed. The evidence (log tail included) was taken before a rollback replaces the failing
          // pods; it is printed once, with the fix, by the CLI's report of the error returned here,
          // so that the job log ends with the cause.
          const now = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
          const current = Number(now?.metadata.annotations?.[kube.REVISION_ANNOTATION] ?? 0);
          // The failed revision is marked on its ReplicaSet: gantry rollback does not pick it by default.
          if (current) await markRevisionOrWarn(ctx, kc, namespace, name, current, result.code);
          const rollingBack = !input.noRollback && rollbackTarget !== undefined && rollbackTarget !== current;
          if (input.noRollback) {
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
          await reportToMr(ctx, {
            status: 'failed',
            environment: envName,
            image: view.image,
            mr: input.mr,
            diagnosis: { code: result.code, message: result.message, evidence: result.evidence },
          });
          // Machine output: the code, not the message (GitLab shows stdout in the job log too).
          failed = {
            status: 'failed',
            report: { environment: envName, namespace, image: view.image, failed: result.code, rolledBackTo: rollingBack ? rollbackTarget! : null },
            error: track.rolloutError(result),
          };
          throw failed.error;
        },
        {
          ttlSeconds: leaseSeconds,
          onWait: (held) =>
            ctx.logger.info(
              `waiting for the deploy lease of ${namespace}: held by ${held.holder} since ${held.since ?? '?'} (expires ${held.expiresAt ?? '?'} unless renewed)`,
            ),
        },
      )
      .catch((error: unknown) => {
        if (failed && error === failed.error) return failed;
        throw error;
      });
  } finally {
    await dispose();
  }
}

/**
 * An apply that left the pod template as it was made no new pods: the pods are the ones an
 * earlier run left. If they are failing (a re-run after the cause was fixed: the pull secret or
 * the Secret key is there now), they get a fresh start, as `kubectl rollout restart` gives, and
 * this run tracks the new ones, instead of waiting out the kubelet's back-off. Returns the
 * revision a failure rolls back to, and the revision restarted (if any).
 */
async function restartIfFailing(
  ctx: Ctx,
  kc: KubeConfig,
  d: { namespace: string; name: string; previous: number | undefined },
): Promise<{ rollbackTarget: number | undefined; restarted: number | undefined }> {
  const { namespace, name, previous } = d;
  const [kube, history, track] = await Promise.all([import('../kube/index.js'), import('../kube/history.js'), import('../track/index.js')]);
  const failing = await track.currentFailure(ctx, kc, { namespace, name });
  if (!failing) return { rollbackTarget: previous, restarted: undefined };
  const restarted = Number(failing.revision ?? previous) || previous;
  ctx.logger.info(
    `the pod template is unchanged, and the pods of revision ${restarted} are failing (${failing.failure.code}) from before this deploy: restarting them`,
  );
  await history.restartRollout(ctx, kc, namespace, name);
  // Rolling back to the restarted revision would bring the same pods back: the one before it is what ran before.
  const rollbackTarget = (await kube.listRevisions(ctx, kc, namespace, name))
    .map((r) => r.revision)
    .filter((r) => r < (restarted ?? 0))
    .sort((a, b) => b - a)[0];
  return { rollbackTarget, restarted };
}

/** The mark is a help to gantry rollback, not part of the deploy: a deployer without patch on replicasets gets a warning. */
async function markRevisionOrWarn(ctx: Ctx, kc: KubeConfig, namespace: string, name: string, revision: number, code: string | null): Promise<void> {
  const { markRevision } = await import('../kube/history.js');
  await markRevision(ctx, kc, namespace, name, revision, code).catch((error: unknown) => {
    if (ctx.signal.aborted) throw error;
    ctx.logger.warn(
      `could not ${code ? 'mark' : 'unmark'} revision ${revision} as failed (${(error as Error).message.split('\n')[0]}): give the deployer patch on replicasets, or gantry rollback may pick a failed revision`,
    );
  });
}

/** A failed backend leaves the frontend's live HTML as it was: say which release stays staged. */
function keptFrontend(ctx: Ctx, release: string): void {
  ctx.logger.warn(`frontend release ${release} stays staged, not live: the live HTML is still the release before it`);
}

/**
 * Makes the staged frontend release live after the backend rollout succeeded. A failure here
 * leaves the backend serving the new version with the previous frontend: the error says so and
 * how to finish (gantry frontend --activate). A failed CDN refresh (the HTML is live) fails too.
 */
async function activateFrontend(
  ctx: Ctx,
  site: typeof import('../site/release.js'),
  a: { cwd: string; env: NodeJS.ProcessEnv; envName: string; input: DeployInput; release: string; name: string; revision: number },
): Promise<{ release: string; previous: string | undefined }> {
  const source = {
    cwd: a.cwd,
    env: a.env,
    envName: a.envName,
    config: a.input.values.config,
    set: a.input.values.set,
    setString: a.input.values['set-string'],
  };
  // A release published after this one was staged (release ids sort by time) stays live: making
  // the older staged one live would take the site back.
  const live = await site.liveRelease(ctx, source);
  if (live && live > a.release) {
    ctx.logger.warn(
      `frontend release ${live} went live after ${a.release} was staged: it stays live (gantry frontend --activate ${a.release} makes the staged one live)`,
    );
    return { release: live, previous: live };
  }
  const activation = await ctx.logger
    .section('gantry_deploy_frontend_live', `frontend release ${a.release} goes live`, () => site.activateSite(ctx, { ...source, release: a.release }))
    .catch((error: unknown) => {
      ctx.logger.error(
        `${a.name} revision ${a.revision} serves the new backend, but frontend release ${a.release} could not be made live: run gantry frontend --env ${a.envName} --activate ${a.release}`,
      );
      throw error;
    });
  ctx.logger.info(`frontend release ${activation.release} is live${activation.previous ? ` (was ${activation.previous})` : ''}`);
  if (activation.error) throw activation.error;
  return { release: activation.release, previous: activation.previous };
}

/** Pull credentials: a read-only pair when given, else the push pair; none means no pull secret. */
function pullCredentials(ctx: Ctx, config: { registry?: { pushHost: string; pullHost?: string | undefined } | undefined }, env: NodeJS.ProcessEnv) {
  if (!config.registry) return undefined;
  const { gantry } = ciVariables(env);
  const username = gantry.registryPullUser || gantry.registryUser;
  const password = gantry.registryPullPassword || gantry.registryPassword;
  if (!username || !password) {
    ctx.logger.warn(
      'no GANTRY_REGISTRY_USER / GANTRY_REGISTRY_PASSWORD: no pull secret is created (fine for a public repository or a cluster with its own registry access)',
    );
    return undefined;
  }
  // The cluster pulls from the pull host (an ACR -vpc twin), so that is what the secret is for.
  return { server: defaultPullHost(config.registry.pushHost, config.registry.pullHost), username, password };
}

async function writeReport(file: string | undefined, cwd: string, values: Record<string, string>): Promise<void> {
  if (!file) return;
  await writeFile(
    path.resolve(cwd, file),
    `${Object.entries(values)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
}
