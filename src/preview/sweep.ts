// gantry cleanup-previews: the scheduled sweep behind GitLab's stop jobs. It finds every preview
// still standing (namespaces <app>-mr-<iid> labelled managed-by=gantry, OSS prefixes
// <prefix>previews/mr-<iid>/), asks GitLab which of those merge requests are merged, closed or
// deleted, and removes exactly those with the code of `gantry stop`, note update included. An
// open merge request's preview is never touched. One failed removal does not stop the others;
// it is counted in errors (the command then exits 1).
import type { Ctx } from '../context.js';
import { ciVariables } from '../ci/variables.js';
import { formatError, gantryError, isGantryError, wrapError } from '../errors.js';
import { isTimeout } from '../retry.js';
import { MANAGED_BY_LABEL, PREVIEW_NAMESPACE_TEMPLATE, previewNamespace, previewNamespaceNames, slugify } from '../names/names.js';
import { ossTargetFromEnv, previewsBase } from '../oss/previews.js';
import { locatePreviews, type PreviewFlags } from './locate.js';
import { removePreview, type StopPreviewResult } from './stop.js';

export interface SweepPreviewsInput {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** --namespace: a template with {app} and {iid}, else environments.review.namespace, else {app}-mr-{iid}. */
  flags: PreviewFlags & { namespace?: string | undefined };
  /** Per namespace. */
  timeoutSeconds: number;
}

export interface CleanupSummary {
  app: string;
  projectId: string;
  /** gitlabEnvironment: the review environment stopped in GitLab (review/<source branch slug>), and how it went. */
  removed: (StopPreviewResult & { state: string; gitlabEnvironment: { name: string; result: string } | null })[];
  kept: { mr: string; namespace: string | null; prefix: string | null }[];
  errors: { mr: string; state: string; code: string; message: string }[];
  dryRun: boolean;
}

/** Removes the previews of merge requests that are merged, closed or deleted; errors are collected, not thrown. */
export async function sweepPreviews(ctx: Ctx, input: SweepPreviewsInput): Promise<CleanupSummary> {
  const { cwd, env, flags } = input;
  const timeout = input.timeoutSeconds;
  // Which merge requests are still open is the whole point: without a token that may read them,
  // nothing may be removed. CI_JOB_TOKEN is no substitute (GitLab answers 401 for merge requests).
  const { predefined, gantry } = ciVariables(env);
  if (!gantry.gitlabToken?.trim()) {
    throw gantryError('E_GITLAB_TOKEN', { command: 'cleanup-previews' });
  }
  const projectId = predefined.projectId;
  if (!projectId) {
    throw gantryError('E_PROJECT_MISSING', { mergeRequestVariable: false });
  }

  // gantry.yaml when there is one (the scheduled pipeline has a checkout); flags win over it.
  const where = await locatePreviews(ctx, { cwd, env, flags }, () => gantryError('E_APP_MISSING', { command: 'cleanup-previews' }));
  const { app, frontend } = where;
  const kubeconfigVar = where.kubeconfigVariable;
  const namespaceTemplate = flags.namespace ?? where.config?.environments.review?.namespace;
  const oss = frontend
    ? ossTargetFromEnv(
        ctx,
        { bucket: frontend.bucket, region: frontend.region!, endpoint: frontend.endpoint, pathStyle: frontend.pathStyle },
        'list the frontend previews',
      )
    : undefined;
  const names = previewNamespaceNames(app, namespaceTemplate ?? PREVIEW_NAMESPACE_TEMPLATE);
  if (!names) {
    ctx.logger.warn(
      `the review namespace "${namespaceTemplate}" does not name one namespace per merge request ({iid}, and no {slug}): preview namespaces are not swept, only frontend prefixes`,
    );
  }
  const base = frontend ? previewsBase(frontend.prefix) : '';

  // What is standing: both listings, each naming merge request iids.
  // The two run together; when one fails the other is told to stop (its ctx's signal), so it
  // does not keep the process running after the step has reported its failure.
  const [namespaces, prefixes] = await ctx.logger.section('gantry_cleanup_list', `find the previews of ${app}`, () => {
    const stop = new AbortController();
    const listCtx: Ctx = { ...ctx, signal: AbortSignal.any([ctx.signal, stop.signal]) };
    const stopOthers = (error: unknown) => {
      stop.abort(error);
      throw error;
    };
    return Promise.all([
      (names ? listPreviewNamespaces(listCtx, kubeconfigVar, names) : Promise.resolve(new Map<string, string>())).catch(stopOthers),
      (frontend && oss ? listPreviewPrefixes(listCtx, oss, base) : Promise.resolve(new Map<string, string>())).catch(stopOthers),
    ]);
  });
  for (const [iid, ns] of namespaces) ctx.logger.info(`!${iid}: namespace ${ns}`);
  for (const [iid, prefix] of prefixes) ctx.logger.info(`!${iid}: ${frontend!.bucket}/${prefix}`);
  const iids = [...new Set([...namespaces.keys(), ...prefixes.keys()])].sort((a, b) => Number(a) - Number(b));

  const summary: CleanupSummary = { app, projectId, removed: [], kept: [], errors: [], dryRun: ctx.dryRun };
  if (iids.length === 0) {
    ctx.logger.info(`no previews of ${app}: nothing to clean up`);
    return summary;
  }

  const { gitlabFromEnv, previewsToRemove, stopEnvironment } = await import('../gitlab/index.js');
  const gitlab = gitlabFromEnv(ctx, env);
  const verdicts = await ctx.logger.section('gantry_cleanup_gitlab', `ask GitLab about ${iids.length} merge request(s)`, () =>
    previewsToRemove(ctx, gitlab, projectId, iids.map(Number)),
  );
  const stale = new Map(verdicts.map((v) => [String(v.iid), v.state]));
  const branches = new Map(verdicts.map((v) => [String(v.iid), v.sourceBranch]));
  for (const iid of iids) {
    if (stale.has(iid)) continue;
    ctx.logger.info(`!${iid} is open: its preview stays`);
    summary.kept.push({ mr: iid, namespace: namespaces.get(iid) ?? null, prefix: prefixes.get(iid) ?? null });
  }

  /**
   * The MR widget and Deployments > Environments still list review/<slug> until GitLab stops it.
   * The preview is gone already, so the stop is forced: GitLab does not run stop-review again.
   * A deleted MR's branch is unknown (its environment is left to auto_stop_in); a failure here
   * is an error of this run, as the preview will not be found again to retry it.
   */
  async function stopReviewEnvironment(iid: string, branch: string | undefined): Promise<{ name: string; result: string } | null> {
    if (!branch) return null;
    const name = `review/${slugify(branch)}`;
    try {
      return { name, result: await stopEnvironment(ctx, gitlab, projectId!, name, { force: true }) };
    } catch (error) {
      const e = isGantryError(error) ? error : wrapError(`stop the GitLab environment ${name}`, error);
      ctx.logger.error(`!${iid}: ${formatError(e)}`);
      summary.errors.push({ mr: iid, state: stale.get(iid)!, code: e.code, message: ctx.logger.mask(e.message) });
      return { name, result: 'failed' };
    }
  }

  // One at a time: each waits for its namespace to be gone, and the log sections stay in order.
  // A service found silent ends the sweep: every later removal would wait for it again, so the
  // merge requests not tried yet are reported with the same error instead.
  let silent: { code: string; message: string } | undefined;
  for (const [iid, state] of stale) {
    if (silent) {
      summary.errors.push({ mr: iid, state, code: silent.code, message: ctx.logger.mask(`not tried: ${silent.message}`) });
      continue;
    }
    ctx.logger.info(`!${iid} is ${state}: ${ctx.dryRun ? 'would remove' : 'removing'} its preview`);
    try {
      const result = await removePreview(ctx, {
        mr: iid,
        app,
        namespace: namespaces.get(iid) ?? names?.nameOf(iid) ?? previewNamespace(app, iid),
        kubeconfigVariable: kubeconfigVar,
        frontend,
        timeoutSeconds: timeout,
      });
      summary.removed.push({ ...result, state, gitlabEnvironment: await stopReviewEnvironment(iid, branches.get(iid)) });
    } catch (error) {
      const e = isGantryError(error) ? error : wrapError(`remove the preview of !${iid}`, error);
      ctx.logger.error(`!${iid}: ${formatError(e)}`);
      summary.errors.push({ mr: iid, state, code: e.code, message: ctx.logger.mask(e.message) });
      if (ctx.signal.aborted || (/_UNREACHABLE$/.test(e.code) && isTimeout(error))) silent = { code: e.code, message: e.message };
    }
  }

  ctx.logger.info(
    `${summary.removed.length} preview(s) ${ctx.dryRun ? 'would be ' : ''}removed, ${summary.kept.length} kept (open), ${summary.errors.length} failed`,
  );
  return summary;
}

/** iid -> namespace, for the namespaces Gantry made (label managed-by=gantry) whose name is a preview's. */
async function listPreviewNamespaces(ctx: Ctx, variable: string, names: NonNullable<ReturnType<typeof previewNamespaceNames>>): Promise<Map<string, string>> {
  const kube = await import('../kube/index.js');
  const { kc, dispose } = await kube.kubeconfigFromCi(ctx, variable);
  try {
    let items: { metadata?: { name?: string } }[];
    try {
      items = await kube.kubeClient(ctx, kc).list('v1', 'Namespace', '', { labelSelector: `${MANAGED_BY_LABEL}=gantry` });
    } catch (error) {
      if (isGantryError(error) && error.code === 'E_KUBE_FORBIDDEN') {
        throw gantryError('E_KUBE_FORBIDDEN', { problem: 'list-namespaces', variable, refused: error }, { cause: error });
      }
      throw error;
    }
    const found = new Map<string, string>();
    for (const item of items) {
      const name = item.metadata?.name ?? '';
      const iid = names.iidOf(name);
      if (iid) found.set(iid, name);
    }
    return found;
  } finally {
    await dispose();
  }
}

/** iid -> prefix, from a delimiter listing of <base>: one entry per mr-<iid>/ "directory", whatever it holds. */
async function listPreviewPrefixes(ctx: Ctx, target: import('../oss/client.js').OssTarget, base: string): Promise<Map<string, string>> {
  const [{ ossClient, ossError }, { ossRetry }, { untilAborted, withRetry }] = await Promise.all([
    import('../oss/client.js'),
    import('../oss/publish.js'),
    import('../retry.js'),
  ]);
  const client = ossClient(target, ctx.deadlines);
  const retries = ciVariables(ctx.env).gantry.ossRetries;
  const found = new Map<string, string>();
  let token: string | undefined;
  do {
    const query = { prefix: base, delimiter: '/', 'max-keys': '1000', ...(token ? { 'continuation-token': token } : {}) };
    const page = (await untilAborted(
      ctx.signal,
      withRetry(ctx, `list ${target.bucket}/${base}`, () => client.listV2(query as never, {}), { ...ossRetry, retries }),
    ).catch((error: unknown) => {
      throw ossError(`list ${target.bucket}/${base}`, target, error, ctx.deadlines);
    })) as { prefixes?: string[] | null; nextContinuationToken?: string };
    for (const prefix of page.prefixes ?? []) {
      const iid = /^mr-([1-9][0-9]*)\/$/.exec(prefix.slice(base.length))?.[1];
      if (iid) found.set(iid, prefix);
    }
    token = page.nextContinuationToken || undefined;
  } while (token);
  return found;
}
