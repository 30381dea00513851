// The Prometheus HTTP API, as far as the canary analysis needs it: one instant query
// (GET <url>/api/v1/query). Alibaba's Managed Service for Prometheus (ARMS) serves the same API
// under its own base URL, with a token in the Authorization header. A query the server refuses
// (bad_data: a PromQL syntax error, an unknown function) is the user's to fix: it is thrown as
// E_ANALYSIS_QUERY before anything is applied (checkQueries); no answer, a 5xx or a reset is
// retried, then E_PROMETHEUS.
import type { Ctx } from '../context.js';
import { gantryError, isGantryError } from '../errors.js';
import { asLocalError, isTimeout, withinMs, withRetry } from '../retry.js';

export interface PrometheusTarget {
  /** The API base: http://prometheus:9090, or ARMS's https://<region>.arms.aliyuncs.com/api/v1/prometheus/<id>/... */
  url: string;
  /** The credential, when given; sent as `auth` says. */
  token?: string | undefined;
  /**
   * bearer: `Authorization: Bearer <token>` (a Prometheus behind an auth proxy); token:
   * `Authorization: <token>` (ARMS V1 instances, whose console gives a token for this header);
   * basic: `token` is user:password (ARMS V2: AccessKey ID and secret), sent as HTTP Basic.
   */
  auth?: 'bearer' | 'token' | 'basic' | undefined;
}

/** One value of a query's result; `labels` say which series (empty for a scalar). */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** A refusal by the server (HTTP 4xx with status "error"): not retried. */
export class PrometheusRefusal extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

interface ApiAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** The samples of an instant query's answer (vector or scalar); a matrix or a string is refused. */
export function samplesOf(data: ApiAnswer['data']): Sample[] {
  const type = data?.resultType;
  if (type === 'scalar') {
    const [, v] = (data?.result as [number, string] | undefined) ?? [];
    return v === undefined ? [] : [{ labels: {}, value: Number(v) }];
  }
  if (type === 'vector') {
    return ((data?.result as { metric?: Record<string, string>; value?: [number, string] }[]) ?? []).map((s) => ({
      labels: s.metric ?? {},
      value: Number(s.value?.[1]),
    }));
  }
  throw new PrometheusRefusal(200, 'bad_result', `the query answered a ${type ?? 'nothing'}, not an instant vector or scalar (drop the [range] at the end)`);
}

export function authorization(token: string, auth: 'bearer' | 'token' | 'basic'): string {
  if (auth === 'token') return token;
  if (auth === 'basic') return `Basic ${Buffer.from(token).toString('base64')}`;
  return `Bearer ${token}`;
}

/** One instant query, retried on no answer, 5xx and resets. */
export async function queryPrometheus(ctx: Ctx, target: PrometheusTarget, query: string): Promise<Sample[]> {
  const url = new URL(`${target.url.replace(/\/+$/, '')}/api/v1/query`);
  url.searchParams.set('query', query);
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'gantry' };
  if (target.token) headers.authorization = authorization(target.token, target.auth ?? 'bearer');
  const timeoutMs = ctx.deadlines.requestMs;
  const call = async (): Promise<Sample[]> => {
    let status: number;
    let text: string;
    try {
      const res = await withinMs(timeoutMs, fetch(url, { headers, signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]) }));
      status = res.status;
      text = await withinMs(timeoutMs, res.text());
    } catch (error) {
      throw asLocalError(error);
    }
    let answer: ApiAnswer = {};
    try {
      answer = JSON.parse(text) as ApiAnswer;
    } catch {
      // A proxy's HTML page: reported by its status below.
    }
    if (status >= 500) throw Object.assign(new Error(`HTTP ${status}: ${(answer.error ?? text).slice(0, 200)}`), { status });
    if (status === 401 || status === 403) throw new PrometheusRefusal(status, 'unauthorized', (answer.error ?? text).slice(0, 200) || `HTTP ${status}`);
    if (answer.status !== 'success') {
      throw new PrometheusRefusal(status, answer.errorType ?? `HTTP${status}`, (answer.error ?? text).slice(0, 300) || `HTTP ${status}`);
    }
    return samplesOf(answer.data);
  };
  try {
    return await withRetry(ctx, `query ${url.host}`, call, {
      isTransient: (e) => !(e instanceof PrometheusRefusal) && !isGantryError(e),
      retries: 2,
      minDelayMs: 300,
      maxDelayMs: 2000,
    });
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
    if (error instanceof PrometheusRefusal) throw error;
    throw gantryError(
      'E_PROMETHEUS',
      { host: url.host, reason: isTimeout(error) ? `no answer in ${timeoutMs / 1000} s` : (error as Error).message },
      { cause: error },
    );
  }
}
