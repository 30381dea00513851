// gantry stop: remove a merge request's preview, the namespace <app>-mr-<iid> (waiting until it
// is gone) and the frontend files under previews/mr-<iid>/. GitLab runs it as the review
// environment's stop job with GIT_STRATEGY none, so there may be no checkout: everything it
// needs can come from flags (the review component passes its inputs), and gantry.yaml is read
// only when it is there. It works when the deploy failed or never ran, and a preview that is
// already gone is success.
import { ciContextFromEnv } from '../ci/context.js';
import type { FrontendTarget } from '../config/resolve.js';
import type { Ctx } from '../context.js';
import { gantryError, isGantryError } from '../errors.js';
import { reportToMr } from '../gitlab/report.js';
import type { Namespace } from '../kube/objects.js';
import { fillPlaceholders, MANAGED_BY_LABEL, namespaceProblem, previewNamespace } from '../names/names.js';
import { previewPrefix } from '../oss/previews.js';
import { pollUntil } from '../retry.js';
import { locatePreviews, type PreviewFlags } from './locate.js';

export interface StopPreviewInput {
  cwd: string;
  /** The CI variables, with CI_MERGE_REQUEST_IID set (--mr). */
  env: NodeJS.ProcessEnv;
  mr: string;
  /** --namespace: a name or a template with {app}, {iid}, {slug}, {env}. */
  flags: PreviewFlags & { namespace?: string | undefined };
  timeoutSeconds: number;
}

/** --namespace as given, once filled: a namespace Kubernetes accepts, or exit 2 (never rewritten into another one, which would be some other namespace). */
function checkedNamespace(value: string, filled: string): string {
  const bad = namespaceProblem(filled);
  if (bad) throw gantryError('E_USAGE', { flag: 'namespace', value, filled, why: bad.why, suggestion: bad.suggestion });
  return filled;
}

/** `gantry stop`: locates the merge request's preview from flags and gantry.yaml, and removes it. */
export async function stopPreview(ctx: Ctx, input: StopPreviewInput): Promise<StopPreviewResult> {
  const { cwd, env, mr, flags } = input;
  const envName = 'review';
  const ci = ciContextFromEnv(env);
  const where = await locatePreviews(ctx, { cwd, env, flags }, () => gantryError('E_APP_MISSING', { command: 'stop' }));
  const { app } = where;
  const namespace = flags.namespace
    ? checkedNamespace(flags.namespace, fillPlaceholders(flags.namespace, { app, iid: mr, slug: ci.refSlug, env: envName }))
    : where.config
      ? (await import('../config/resolve.js')).resolveEnvironment(where.config, envName, ci).namespace
      : previewNamespace(app, mr);
  return removePreview(ctx, {
    mr,
    app,
    namespace,
    kubeconfigVariable: where.kubeconfigVariable,
    frontend: where.frontend,
    timeoutSeconds: input.timeoutSeconds,
  });
}

/** Where one merge request's preview lives: what `gantry stop` works out from its flags and gantry.yaml. */
export interface PreviewTarget {
  mr: string;
  app: string;
  namespace: string;
  /** The CI variable that holds the review cluster's kubeconfig. */
  kubeconfigVariable: string;
  frontend?: FrontendTarget | undefined;
  timeoutSeconds: number;
}

export interface StopPreviewResult {
  environment: 'review';
  mr: string;
  namespace: string;
  namespaceResult: string;
  frontend: { bucket: string; prefix: string } | null;
  dryRun: boolean;
}

/**
 * Removes one preview (namespace and frontend prefix) and updates the merge request's note to
 * stopped. `gantry stop` runs it for its merge request, `gantry cleanup-previews` for each one
 * that is merged or closed.
 */
export async function removePreview(ctx: Ctx, target: PreviewTarget): Promise<StopPreviewResult> {
  const envName = 'review';
  const { mr, namespace, frontend } = target;
  const started = Date.now();
  // What can refuse is checked before anything is deleted (exit 2 means nothing was done): the
  // OSS key pair, the kubeconfig, and that the namespace is one Gantry made.
  const [previews, kube] = await Promise.all([import('../oss/previews.js'), import('../kube/index.js')]);
  const oss = frontend
    ? previews.ossTargetFromEnv(
        ctx,
        { bucket: frontend.bucket, region: frontend.region!, endpoint: frontend.endpoint, pathStyle: frontend.pathStyle },
        'delete the frontend preview',
      )
    : undefined;
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, target.kubeconfigVariable);
  try {
    const client = kube.kubeClient(ctx, kc);
    const existing = await readPreviewNamespace(client, target.kubeconfigVariable, namespace);
    // Both halves always run, so one failing does not leave the other behind; errors come after.
    const [ns, fe] = await Promise.allSettled([
      ctx.logger.section('gantry_stop_namespace', `delete namespace ${namespace}`, () =>
        deleteNamespace(ctx, client, namespace, existing, target.timeoutSeconds),
      ),
      oss && frontend
        ? ctx.logger.section('gantry_stop_frontend', `delete the frontend preview in ${frontend.bucket}`, () =>
            previews.deletePreview(ctx, oss, previewPrefix(frontend.prefix, mr)),
          )
        : Promise.resolve(ctx.logger.info('no frontend bucket (no --bucket, no gantry.yaml frontend): no frontend preview to delete')).then(
            () => 'none' as const,
          ),
    ]);
    const failures = [ns, fe].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failures.length > 1)
      ctx.logger.error(
        `also failed: ${failures
          .slice(1)
          .map((e) => (e as Error).message)
          .join('; ')}`,
      );
    if (failures.length > 0) throw failures[0];
    const namespaceResult = (ns as PromiseFulfilledResult<string>).value;
    ctx.logger.info(`preview of merge request !${mr} removed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (!ctx.dryRun) await reportToMr(ctx, { status: 'stopped', environment: envName, mr, url: '' });
    return {
      environment: envName,
      mr,
      namespace,
      namespaceResult,
      frontend: frontend ? { bucket: frontend.bucket, prefix: previewPrefix(frontend.prefix, mr) } : null,
      dryRun: ctx.dryRun,
    };
  } finally {
    await dispose();
  }
}

type Client = ReturnType<typeof import('../kube/index.js').kubeClient>;

/**
 * The preview's Namespace, or undefined when there is none. One Gantry did not label is refused
 * (E_NAMESPACE_NOT_GANTRY), and so is a deployer that may not read it (E_KUBE_FORBIDDEN): without its labels
 * there is no telling whose it is.
 */
async function readPreviewNamespace(client: Client, variable: string, name: string): Promise<Namespace | undefined> {
  let existing: Namespace | undefined;
  try {
    existing = await client.read({ apiVersion: 'v1', kind: 'Namespace', name });
  } catch (error) {
    if (!(isGantryError(error) && error.code === 'E_KUBE_FORBIDDEN')) throw error;
    throw gantryError('E_KUBE_FORBIDDEN', { problem: 'read-preview-namespace', namespace: name, variable, refused: error.message }, { cause: error });
  }
  if (existing && existing.metadata?.labels?.[MANAGED_BY_LABEL] !== 'gantry') {
    throw gantryError('E_NAMESPACE_NOT_GANTRY', { namespace: name, label: MANAGED_BY_LABEL });
  }
  return existing;
}

/** Deletes the namespace and waits until it is gone; returns what happened ("deleted", "already gone", ...). */
async function deleteNamespace(ctx: Ctx, client: Client, name: string, existing: Namespace | undefined, timeoutSeconds: number): Promise<string> {
  const ref = { apiVersion: 'v1', kind: 'Namespace', name };
  if (!existing) {
    ctx.logger.info(`namespace ${name} does not exist: nothing to delete (the deploy never ran, or the preview was already stopped)`);
    return 'already gone';
  }
  if (ctx.dryRun) {
    await client.remove(ref, { dryRun: true });
    ctx.logger.info(`dry run: would delete namespace ${name}`);
    return 'would delete';
  }
  const terminating = existing.status?.phase === 'Terminating';
  if (!terminating && !(await client.remove(ref))) return 'already gone';
  ctx.logger.info(
    terminating ? `namespace ${name} is already being deleted: waiting until it is gone` : `deleting namespace ${name}: waiting until it is gone`,
  );
  const started = Date.now();
  await pollUntil(ctx, `wait for namespace ${name} to be gone`, async () => ((await client.read(ref)) ? undefined : true), {
    intervalMs: 250,
    maxIntervalMs: 2000,
    timeoutMs: timeoutSeconds * 1000,
    onTimeout: () => {
      throw gantryError('E_KUBE_API', { problem: 'namespace-still-terminating', namespace: name, seconds: timeoutSeconds });
    },
  });
  ctx.logger.info(`namespace ${name} is gone (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return 'deleted';
}
