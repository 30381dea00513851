// Whether GANTRY_GITLAB_TOKEN works: with CI_PROJECT_ID, list one merge request of the project
// (what the MR note needs: a job token or a token without access answers 401/403/404 there);
// without it, GET /user (any valid token may).
import { maskEnvSecrets, type Ctx } from '../context.js';
import { ciVariables } from '../ci/variables.js';
import { gantryError } from '../errors.js';
import { withinMs } from '../retry.js';
import { gitlabHost } from './client.js';

export async function checkGitlabToken(ctx: Ctx, env: NodeJS.ProcessEnv, options: { timeoutMs?: number } = {}): Promise<{ host: string; checked: string }> {
  const { predefined, gantry } = ciVariables(env);
  const token = gantry.gitlabToken?.trim();
  // ctx masks it already (its name says it is a token); an env other than ctx.env, too.
  if (env !== ctx.env) maskEnvSecrets(ctx.logger, env);
  if (!token) throw gantryError('E_GITLAB_TOKEN', { acceptsJobToken: false });
  const host = gitlabHost(env);
  const timeoutMs = options.timeoutMs ?? ctx.deadlines.requestMs;
  const project = predefined.projectId?.trim();
  const checked = project ? `GET /api/v4/projects/${project}/merge_requests` : 'GET /api/v4/user';
  const url = project ? `${host}/api/v4/projects/${encodeURIComponent(project)}/merge_requests?per_page=1` : `${host}/api/v4/user`;
  let res: Response;
  try {
    res = await withinMs(timeoutMs, fetch(url, { headers: { 'PRIVATE-TOKEN': token }, signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]) }));
    await res.body?.cancel().catch(() => undefined);
  } catch (error) {
    const e = error as { name?: string; message?: string; cause?: { code?: string } };
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.code ?? e.message ?? String(error));
    throw gantryError('E_GITLAB_UNREACHABLE', { checked, host, why }, { cause: error });
  }
  if (res.ok) return { host, checked };
  if (res.status === 401) {
    throw gantryError('E_GITLAB_ACCESS', { checked, status: 401 });
  }
  if (res.status === 403 || res.status === 404) {
    throw gantryError('E_GITLAB_ACCESS', { checked, status: res.status, project });
  }
  throw gantryError('E_GITLAB_API', { checked, status: res.status });
}
