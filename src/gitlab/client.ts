// The GitLab API client: @gitbeaker/rest resources pointed at CI_SERVER_URL, with the token
// registered as a secret, errors mapped to the catalogue, and idempotent calls retried.
//
// Tokens, in order of preference:
//   GANTRY_GITLAB_TOKEN  a project, group or personal access token with the `api` scope (role
//                        Developer or higher), sent as PRIVATE-TOKEN. Needed for MR notes.
//   CI_JOB_TOKEN         sent as JOB-TOKEN. GitLab only lets a job token call a short list of
//                        endpoints (docs.gitlab.com/ci/jobs/ci_job_token/#job-token-access):
//                        Environments (list/show/stop, since 16.2), Deployments, Releases, Jobs
//                        artifacts, Packages and the container registry, among others. It may
//                        NOT read merge requests or create/edit notes, on GitLab.com or
//                        self-managed (gitlab-org/gitlab#545150 asks for it), so `upsertMrNote`,
//                        `mrState` and `listOpenMrIids` need GANTRY_GITLAB_TOKEN; a job token
//                        answers 401 there. `stopEnvironment` works with either.
import { Environments, MergeRequestNotes, MergeRequests } from '@gitbeaker/rest';
import { maskEnvSecrets, type Ctx } from '../context.js';
import { ciVariables } from '../ci/variables.js';
import { GantryError, gantryError } from '../errors.js';
import { isTimeout, noAnswerText, untilAborted, waitedFor, withinMs, withRetry } from '../retry.js';

export type GitlabTokenKind = 'private' | 'job';

export interface GitlabClient {
  /** The instance, e.g. https://gitlab.example.com (CI_SERVER_URL): the only host ever called. */
  host: string;
  tokenKind: GitlabTokenKind;
  /** Which variable the token came from, for messages. */
  tokenVariable: 'GANTRY_GITLAB_TOKEN' | 'CI_JOB_TOKEN';
  notes: MergeRequestNotes;
  mergeRequests: MergeRequests;
  environments: Environments;
  /** Transient failures (5xx, resets, timeouts) of idempotent calls are retried this often. */
  retries: number;
  minTimeoutMs: number;
  /** Per request, pages included (gitbeaker's queryTimeout): for messages. */
  timeoutMs: number;
  /**
   * Set once a call of this client got no answer in time: every later call fails at once with
   * this error instead of waiting for a silent GitLab again (per client, so per step).
   */
  silent?: GantryError | undefined;
}

export interface GitlabClientOptions {
  retries?: number;
  /** First retry delay; doubles up to 4 s. */
  minTimeoutMs?: number;
  /** Per request, pages included (default ctx.deadlines.requestMs). */
  timeoutMs?: number;
}

/** The instance URL from GANTRY_GITLAB_URL, else CI_SERVER_URL, else CI_API_V4_URL without its /api/v4. */
export function gitlabHost(env: NodeJS.ProcessEnv): string {
  // GANTRY_GITLAB_URL first: a self-managed instance whose API is reached by another address
  // from the runners than the one GitLab announces in CI_SERVER_URL.
  const { predefined, gantry } = ciVariables(env);
  const explicit = gantry.gitlabUrl?.trim();
  const fromServer = predefined.serverUrl?.trim();
  const fromApi = predefined.apiV4Url
    ?.trim()
    .replace(/\/+$/, '')
    .replace(/\/api\/v4$/, '');
  const raw = explicit || fromServer || fromApi;
  const source = explicit ? 'GANTRY_GITLAB_URL' : fromServer ? 'CI_SERVER_URL' : 'CI_API_V4_URL';
  if (!raw) {
    throw gantryError('E_GITLAB_URL_MISSING', {});
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw gantryError('E_GITLAB_URL', { variable: source, value: raw, notHttp: false });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw gantryError('E_GITLAB_URL', { variable: source, value: raw, notHttp: true });
  }
  // A relative-URL install (https://host/gitlab) keeps its path; the query and fragment never matter.
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function gitlabFromEnv(ctx: Ctx, env: NodeJS.ProcessEnv = ctx.env, options: GitlabClientOptions = {}): GitlabClient {
  const host = gitlabHost(env);
  const { predefined, gantry } = ciVariables(env);
  const privateToken = gantry.gitlabToken?.trim();
  const jobToken = predefined.jobToken?.trim();
  // ctx masks both already (their names say they are tokens); an env other than ctx.env, too.
  if (env !== ctx.env) maskEnvSecrets(ctx.logger, env);
  if (!privateToken && !jobToken) {
    throw gantryError('E_GITLAB_TOKEN', { acceptsJobToken: true });
  }
  // gitbeaker bounds each call (all pages of a listing together) by queryTimeout, connect
  // included. A shorter connect timeout would need an undici Agent as `agent` (fetch's
  // dispatcher), and undici is not a dependency (Node bundles it without exporting Agent); the
  // connect phase is bounded by the request deadline instead (and by undici's own 10 s).
  const timeoutMs = options.timeoutMs ?? ctx.deadlines.requestMs;
  const auth = privateToken ? { token: privateToken } : { jobToken: jobToken! };
  const base = { host, queryTimeout: timeoutMs, ...auth };
  return {
    host,
    tokenKind: privateToken ? 'private' : 'job',
    tokenVariable: privateToken ? 'GANTRY_GITLAB_TOKEN' : 'CI_JOB_TOKEN',
    notes: new MergeRequestNotes(base),
    mergeRequests: new MergeRequests(base),
    environments: new Environments(base),
    retries: options.retries ?? gantry.gitlabRetries,
    minTimeoutMs: options.minTimeoutMs ?? 500,
    timeoutMs,
  };
}

/** The HTTP status of a failed gitbeaker call, if GitLab answered at all. */
export function gitlabStatus(error: unknown): number | undefined {
  const cause = (error as { cause?: { response?: { status?: unknown } } })?.cause;
  const status = cause?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** 5xx answers, resets, refused connections and timeouts; never 4xx. */
export function isTransientGitlabError(error: unknown): boolean {
  if (error instanceof GantryError) return false;
  const status = gitlabStatus(error);
  if (status !== undefined) return status >= 500;
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  // gitbeaker retries 429 and 502 itself, but ten times within about 0.26 s in all: a GitLab
  // that is busy for a second is still worth the bounded backoff of gitlabCall.
  if (e?.name === 'GitbeakerRetryError') return true;
  return /GitbeakerTimeoutError|TimeoutError|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|UND_ERR_SOCKET|other side closed|socket hang up|fetch failed/i.test(
    `${e?.name ?? ''} ${e?.message ?? ''} ${e?.cause?.code ?? ''} ${e?.cause?.message ?? ''}`,
  );
}

/** A failed gitbeaker call as a catalogue error, with what was being done. */
export function gitlabError(
  gitlab: Pick<GitlabClient, 'host' | 'tokenKind' | 'tokenVariable'> & Partial<Pick<GitlabClient, 'timeoutMs'>>,
  doing: string,
  error: unknown,
): GantryError {
  if (error instanceof GantryError) return error;
  if (isTimeout(error) && gitlab.timeoutMs !== undefined) {
    // A silent GitLab: its host and the time waited, e.g. "no answer within 15 s (waited 31 s over 2 attempts)".
    return gantryError(
      'E_GITLAB_UNREACHABLE',
      { doing, reason: `${gitlab.host}: ${noAnswerText({ requestMs: gitlab.timeoutMs }, error)}`, causeCode: undefined, host: gitlab.host },
      { cause: error },
    );
  }
  const status = gitlabStatus(error);
  const description = String((error as { cause?: { description?: unknown } })?.cause?.description ?? (error as Error)?.message ?? error).slice(0, 300);
  if (status === 401 || status === 403) {
    return gantryError(
      'E_GITLAB_ACCESS',
      { doing, status, tokenVariable: gitlab.tokenVariable, jobToken: gitlab.tokenKind === 'job', host: gitlab.host, answer: description },
      { cause: error },
    );
  }
  if (status !== undefined) {
    return gantryError('E_GITLAB_API', { doing, status, answer: description, host: gitlab.host }, { cause: error });
  }
  if ((error as Error)?.name === 'GitbeakerRetryError') {
    return gantryError('E_GITLAB_API', { doing, retriesExhausted: (error as Error).message, host: gitlab.host }, { cause: error });
  }
  const cause = (error as { cause?: { code?: string } })?.cause?.code;
  return gantryError(
    'E_GITLAB_UNREACHABLE',
    { doing, reason: (error as Error)?.message ?? String(error), causeCode: cause, host: gitlab.host },
    { cause: error },
  );
}

/**
 * Runs one API call: idempotent calls (GET, PUT of the same body, stopping an environment)
 * are retried on transient failures with bounded exponential backoff, logged; creating a note
 * is not, since a retry after a lost answer would post it twice.
 */
export async function gitlabCall<T>(ctx: Ctx, gitlab: GitlabClient, doing: string, options: { idempotent: boolean }, call: () => Promise<T>): Promise<T> {
  // fetch's errors can come from another realm (a test VM, a worker): p-retry only retries
  // `instanceof Error`, so such errors are re-thrown as local ones with the same name, message and cause.
  // gitbeaker's queryTimeout is the deadline; withinMs is the guard should its signal not fire.
  const attempt = () =>
    withinMs(gitlab.timeoutMs + 500, call()).catch((error: unknown) => {
      if (error instanceof Error || typeof error !== 'object' || error === null) throw error;
      const e = error as { name?: string; message?: string; cause?: unknown };
      throw Object.assign(new Error(e.message ?? String(error), { cause: e.cause }), { name: e.name ?? 'Error' });
    });
  if (gitlab.silent) throw gitlab.silent;
  const started = Date.now();
  try {
    // gitbeaker takes no AbortSignal of ours: a cancelled step does not wait for its request.
    if (!options.idempotent) return await untilAborted(ctx.signal, attempt());
    return await untilAborted(
      ctx.signal,
      withRetry(ctx, doing, attempt, {
        isTransient: isTransientGitlabError,
        retries: gitlab.retries,
        minDelayMs: gitlab.minTimeoutMs,
        maxDelayMs: 4000,
        // gitlabError's message starts with "<doing>: ", which the warning already says.
        describe: (error) => gitlabError(gitlab, doing, error).message.slice(doing.length + 2),
      }),
    );
  } catch (error) {
    // A call that was not retried records its wait here (withRetry does it for the others).
    if (error !== null && typeof error === 'object' && !('gantryWaited' in error))
      Object.assign(error, { gantryWaited: { ms: Date.now() - started, attempts: 1 } });
    const e = gitlabError(gitlab, doing, error);
    // Silent means no answer twice in a row; one slow answer to a single-attempt call (creating a
    // note) is not, and the next call asks again.
    if (isTimeout(error) && (waitedFor(error)?.attempts ?? 1) >= 2) gitlab.silent = e;
    throw e;
  }
}
