// Merge request state and review environments: what the scheduled preview cleanup asks GitLab
// before it deletes a preview namespace (<app>-mr-<iid>) or OSS prefix (previews/mr-<iid>/).
import type { Ctx } from '../context.js';
import { gitlabCall, gitlabStatus, type GitlabClient } from './client.js';

export type MrState = 'opened' | 'merged' | 'closed';

/** The MR's state; GitLab's short-lived `locked` (being merged) counts as opened. */
export async function mrState(ctx: Ctx, gitlab: GitlabClient, projectId: string | number, iid: number): Promise<MrState> {
  return (await mrInfo(ctx, gitlab, projectId, iid)).state;
}

/** The MR's state and source branch (whose slug names its review environment). */
export async function mrInfo(
  ctx: Ctx,
  gitlab: GitlabClient,
  projectId: string | number,
  iid: number,
): Promise<{ state: MrState; sourceBranch: string | undefined }> {
  const mr = (await gitlabCall(ctx, gitlab, `read merge request !${iid} of project ${projectId}`, { idempotent: true }, () =>
    gitlab.mergeRequests.show(projectId, iid),
  )) as unknown as { state: string; source_branch?: string };
  const state = mr.state === 'merged' ? 'merged' : mr.state === 'closed' ? 'closed' : 'opened';
  return { state, sourceBranch: mr.source_branch || undefined };
}

/** The iids of every open MR of the project (all pages), ascending. */
export async function listOpenMrIids(ctx: Ctx, gitlab: GitlabClient, projectId: string | number): Promise<number[]> {
  const mrs = (await gitlabCall(ctx, gitlab, `list the open merge requests of project ${projectId}`, { idempotent: true }, () =>
    gitlab.mergeRequests.all({ projectId, state: 'opened', perPage: 100 }),
  )) as unknown as { iid: number }[];
  return [...new Set(mrs.map((m) => m.iid))].sort((a, b) => a - b);
}

export interface PreviewVerdict {
  iid: number;
  state: MrState | 'deleted';
  /** The MR's source branch; unknown for a deleted MR. */
  sourceBranch?: string;
}

/**
 * Which of the previews found (by MR iid) may be removed: those whose MR is merged, closed or
 * deleted. The open list is read first (one paged call); each iid not in it is then confirmed
 * one by one, so an MR opened between the two reads is never torn down.
 */
export async function previewsToRemove(ctx: Ctx, gitlab: GitlabClient, projectId: string | number, iids: number[]): Promise<PreviewVerdict[]> {
  const open = new Set(await listOpenMrIids(ctx, gitlab, projectId));
  const remove: PreviewVerdict[] = [];
  for (const iid of [...new Set(iids)].sort((a, b) => a - b)) {
    if (open.has(iid)) continue;
    try {
      const { state, sourceBranch } = await mrInfo(ctx, gitlab, projectId, iid);
      if (state !== 'opened') remove.push({ iid, state, ...(sourceBranch ? { sourceBranch } : {}) });
    } catch (error) {
      // The listing above proved the project is readable, so 404 here means the MR is gone.
      if (gitlabStatus((error as { cause?: unknown }).cause) === 404) remove.push({ iid, state: 'deleted' });
      else throw error;
    }
  }
  return remove;
}

export type StopEnvironmentResult = 'stopped' | 'already-stopped' | 'missing' | 'would-stop';

/**
 * Stops the GitLab environment called `name` (e.g. review/feature-x), so the MR widget stops
 * linking a preview that is gone. A job token may call this (GitLab 16.2+). With `force`, GitLab
 * does not run the environment's on_stop job: for callers that have removed the preview already.
 */
export async function stopEnvironment(
  ctx: Ctx,
  gitlab: GitlabClient,
  projectId: string | number,
  name: string,
  options: { force?: boolean } = {},
): Promise<StopEnvironmentResult> {
  const envs = (await gitlabCall(ctx, gitlab, `find environment ${name} of project ${projectId}`, { idempotent: true }, () =>
    gitlab.environments.all(projectId, { name }),
  )) as unknown as { id: number; name: string; state: string }[];
  const env = envs.find((e) => e.name === name);
  if (!env) return 'missing';
  if (env.state === 'stopped') return 'already-stopped';
  if (ctx.dryRun) {
    ctx.logger.info(`would stop environment ${name} (${env.id})`);
    return 'would-stop';
  }
  // Stopping a stopping or stopped environment changes nothing: safe to retry.
  await gitlabCall(ctx, gitlab, `stop environment ${name} of project ${projectId}`, { idempotent: true }, () =>
    gitlab.environments.stop(projectId, env.id, options.force ? { force: 'true' } : {}),
  );
  ctx.logger.info(`stopped environment ${name}`);
  return 'stopped';
}
