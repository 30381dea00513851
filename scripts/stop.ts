// gantry stop: remove a merge request's preview, the namespace <app>-mr-<iid> (waiting until it
// is gone) and the frontend files under previews/mr-<iid>/. GitLab runs it as the review
// environment's stop job with GIT_STRATEGY none, so there may be no checkout: everything it
// needs can come from flags (the review component passes its inputs), and gantry.yaml is read
// only when it is there. It works when the deploy failed or never ran, and a preview that is
// already gone is success.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../src/context.js';
import { GantryError, isGantryError } from '../src/errors.js';
import { reportToMr } from '../src/gitlab/report.js';
import { ciContextFromEnv } from '../src/ci/context.js';
import { dnsLabel, fillPlaceholders } from '../src/names/names.js';
import { previewPrefix } from '../src/oss/previews.js';
import { parseStepArgs, stepTarget } from '../src/args.js';

export const usage =
  'gantry stop --env review [--mr <iid>] [--app <name>] [--namespace <name>] [--kubeconfig <CI variable>] [--bucket <name> --region <id> [--endpoint <url>] [--prefix <frontend.prefix>]] [--timeout <seconds>] [--config <file>] [-C <dir>]';

/** Only namespaces Gantry made are deleted: a wrong --namespace must not take anything else down. */
const MANAGED_BY = 'app.kubernetes.io/managed-by';

/** What locates a preview without a checkout; shared with gantry cleanup-previews. */
export const previewOptions = {
  config: { type: 'string' },
  cwd: { type: 'string', short: 'C' },
  app: { type: 'string' },
  namespace: { type: 'string' },
  kubeconfig: { type: 'string' },
  bucket: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  prefix: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** A CI component passes every input, empty ones included: empty means not given. */
export function withoutEmpty<T extends Record<string, unknown>>(values: T): T {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) as T;
}

export async function stop(argv: string[], ctx: Ctx): Promise<number> {
  const { values: raw } = parseStepArgs('stop', argv, { ...previewOptions, env: { type: 'string', short: 'e' }, mr: { type: 'string' } }, usage);
  if (raw.help) {
    ctx.logger.info(`usage: ${usage}`);
    return 0;
  }
  const values = withoutEmpty(raw);
  const { cwd, env, envName } = stepTarget('stop', { ...values, env: values.env ?? 'review' }, ctx, usage);
  if (envName !== 'review') {
    throw new GantryError('E_USAGE', `gantry stop --env ${envName}: stop removes merge request previews only`, { fix: 'use --env review (gantry rollback and scale are for the other environments)' });
  }
  const ci = ciContextFromEnv(env);
  if (!ci.mrIid) throw new GantryError('E_INPUT', 'gantry stop needs the merge request', { fix: 'run it in a merge request pipeline, or pass --mr <iid>' });
  const timeout = Number(values.timeout ?? 300);
  if (!Number.isInteger(timeout) || timeout < 5 || timeout > 3600) {
    throw new GantryError('E_USAGE', `--timeout ${values.timeout}: whole seconds from 5 to 3600`, { fix: 'e.g. --timeout 300 (the default)' });
  }

  // gantry.yaml when there is one (a stop job with a checkout, a laptop); flags win over it.
  const configFile = values.config || env.GANTRY_CONFIG || ['gantry.yaml', 'gantry.yml'].find((f) => existsSync(path.join(cwd, f)));
  let app = values.app || env.GANTRY_APP || undefined; // an empty GANTRY_APP (the classic include declares it) is unset
  let namespace: string | undefined;
  let kubeconfigVar = values.kubeconfig;
  let frontend: { bucket: string; region?: string | undefined; endpoint?: string | undefined; prefix?: string | undefined; pathStyle?: boolean | undefined } | undefined;
  if (configFile) {
    const [{ loadConfig }, { resolveEnvironment }] = await Promise.all([import('../src/config/load.js'), import('../src/config/resolve.js')]);
    const { config } = await loadConfig({ cwd, env, file: configFile });
    app ??= config.app;
    if (config.environments.review) {
      if (app === config.app) namespace = resolveEnvironment(config, 'review', ci).namespace;
      kubeconfigVar ??= config.environments.review.kubeconfig;
    }
    if (config.frontend) frontend = { bucket: config.frontend.bucket, region: config.frontend.region, endpoint: config.frontend.endpoint, prefix: config.frontend.prefix, pathStyle: config.frontend.pathStyle };
    ctx.logger.info(`read ${configFile}`);
  }
  app ??= env.CI_PROJECT_NAME;
  if (!app) throw new GantryError('E_INPUT', 'gantry stop does not know the app', { fix: 'pass --app (the app of gantry.yaml; the review component input "app"), or set GANTRY_APP' });
  namespace = values.namespace ? dnsLabel(fillPlaceholders(values.namespace, { app, iid: ci.mrIid, slug: ci.refSlug, env: envName })) : namespace ?? dnsLabel(`${app}-mr-${ci.mrIid}`);
  const { kubeconfigVariable } = await import('../src/kube/config.js');
  kubeconfigVar = kubeconfigVariable('review', kubeconfigVar);
  frontend = await previewFrontend(values, env, frontend, Boolean(configFile));

  const result = await stopPreview(ctx, { mr: ci.mrIid, app, namespace, kubeconfigVariable: kubeconfigVar, frontend, timeoutSeconds: timeout });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

type PreviewFrontend = NonNullable<PreviewTarget['frontend']>;

/**
 * The bucket that holds the frontend previews, if any: flags (the component's inputs) win over
 * the CI variables (GANTRY_FRONTEND_*, GANTRY_SET frontend.*), which gantry.yaml has already
 * taken in when there is one, and gantry.yaml comes last.
 */
export async function previewFrontend(
  values: { bucket?: string | undefined; region?: string | undefined; endpoint?: string | undefined; prefix?: string | undefined },
  env: NodeJS.ProcessEnv,
  fromConfig: PreviewFrontend | undefined,
  hadConfig: boolean,
): Promise<PreviewFrontend | undefined> {
  const o: Record<string, string | undefined> = hadConfig ? {} : (await import('../src/config/load.js')).frontendOverridesFromEnv(env);
  const base = fromConfig ?? (o.bucket ? { bucket: o.bucket } : undefined);
  const bucket = values.bucket ?? base?.bucket;
  if (!bucket) return undefined;
  const pick = (key: 'region' | 'endpoint' | 'prefix') => values[key] ?? fromConfig?.[key] ?? o[key];
  const frontend = { bucket, region: pick('region'), endpoint: pick('endpoint'), prefix: pick('prefix'), pathStyle: fromConfig?.pathStyle ?? (o.pathStyle === undefined ? undefined : o.pathStyle === 'true') };
  if (!frontend.region) throw new GantryError('E_INPUT', `--bucket ${bucket} needs --region`, { fix: 'pass --region (frontend.region of gantry.yaml, e.g. oss-cn-hangzhou)' });
  return frontend;
}

/** Where one merge request's preview lives: what `gantry stop` works out from its flags and gantry.yaml. */
export interface PreviewTarget {
  mr: string;
  app: string;
  namespace: string;
  /** The CI variable that holds the review cluster's kubeconfig. */
  kubeconfigVariable: string;
  frontend?: { bucket: string; region?: string | undefined; endpoint?: string | undefined; prefix?: string | undefined; pathStyle?: boolean | undefined } | undefined;
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
export async function stopPreview(ctx: Ctx, target: PreviewTarget): Promise<StopPreviewResult> {
  const envName = 'review';
  const { mr, namespace, frontend } = target;
  const started = Date.now();
  // What can refuse is checked before anything is deleted (exit 2 means nothing was done): the
  // OSS key pair, the kubeconfig, and that the namespace is one Gantry made.
  const [previews, kube] = await Promise.all([import('../src/oss/previews.js'), import('../src/kube/index.js')]);
  const oss = frontend ? previews.ossTargetFromEnv(ctx, { bucket: frontend.bucket, region: frontend.region!, endpoint: frontend.endpoint, pathStyle: frontend.pathStyle }, 'delete the frontend preview') : undefined;
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, target.kubeconfigVariable);
  try {
    const client = kube.kubeClient(ctx, kc);
    const existing = await previewNamespace(client, target.kubeconfigVariable, namespace);
    // Both halves always run, so one failing does not leave the other behind; errors come after.
    const [ns, fe] = await Promise.allSettled([
      ctx.logger.section('gantry_stop_namespace', `delete namespace ${namespace}`, () => deleteNamespace(ctx, client, namespace, existing, target.timeoutSeconds)),
      oss && frontend
        ? ctx.logger.section('gantry_stop_frontend', `delete the frontend preview in ${frontend.bucket}`, () => previews.deletePreview(ctx, oss, previewPrefix(frontend.prefix, mr)))
        : Promise.resolve(ctx.logger.info('no frontend bucket (no --bucket, no gantry.yaml frontend): no frontend preview to delete')).then(() => 'none' as const),
    ]);
    const failures = [ns, fe].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failures.length > 1) ctx.logger.error(`also failed: ${failures.slice(1).map((e) => (e as Error).message).join('; ')}`);
    if (failures.length > 0) throw failures[0];
    const namespaceResult = (ns as PromiseFulfilledResult<string>).value;
    ctx.logger.info(`preview of merge request !${mr} removed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (!ctx.dryRun) await reportToMr(ctx, { status: 'stopped', environment: envName, mr, url: '' });
    return { environment: envName, mr, namespace, namespaceResult, frontend: frontend ? { bucket: frontend.bucket, prefix: previewPrefix(frontend.prefix, mr) } : null, dryRun: ctx.dryRun };
  } finally {
    await dispose();
  }
}

type NamespaceObject = { metadata?: { labels?: Record<string, string> }; status?: { phase?: string } };
type Client = ReturnType<typeof import('../src/kube/index.js').kubeClient>;

/**
 * The preview's Namespace, or undefined when there is none. One Gantry did not label is refused
 * (E_INPUT), and so is a deployer that may not read it (E_KUBE_FORBIDDEN): without its labels
 * there is no telling whose it is.
 */
async function previewNamespace(client: Client, variable: string, name: string): Promise<NamespaceObject | undefined> {
  let existing: NamespaceObject | undefined;
  try {
    existing = await client.read({ apiVersion: 'v1', kind: 'Namespace', name });
  } catch (error) {
    if (!(isGantryError(error) && error.code === 'E_KUBE_FORBIDDEN')) throw error;
    throw new GantryError('E_KUBE_FORBIDDEN', `cannot read namespace ${name}, so cannot check it is a preview Gantry made: not deleting it`, {
      details: [error.message],
      fix: `the kubeconfig in ${variable} must be allowed to get, list and delete namespaces (examples/rbac/review-deployer.yaml)`,
      cause: error,
    });
  }
  if (existing && existing.metadata?.labels?.[MANAGED_BY] !== 'gantry') {
    throw new GantryError('E_INPUT', `namespace ${name} was not created by Gantry (no label ${MANAGED_BY}=gantry): not deleting it`, {
      fix: 'check --app / --namespace (the review component inputs app and namespace) against gantry.yaml',
    });
  }
  return existing;
}

/** Deletes the namespace and waits until it is gone; returns what happened ("deleted", "already gone", ...). */
async function deleteNamespace(ctx: Ctx, client: Client, name: string, existing: NamespaceObject | undefined, timeoutSeconds: number): Promise<string> {
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
  ctx.logger.info(terminating ? `namespace ${name} is already being deleted: waiting until it is gone` : `deleting namespace ${name}: waiting until it is gone`);
  const started = Date.now();
  const deadline = started + timeoutSeconds * 1000;
  let delay = 250;
  while (await client.read(ref)) {
    if (Date.now() > deadline) {
      throw new GantryError('E_KUBE_API', `namespace ${name} is still terminating after ${timeoutSeconds} s`, {
        details: [`kubectl get namespace ${name} -o yaml shows what holds it (status.conditions, finalizers)`],
        fix: 'usually a finalizer of an object in it; run the stop job again once it is resolved, or raise --timeout',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 2000);
  }
  ctx.logger.info(`namespace ${name} is gone (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return 'deleted';
}
