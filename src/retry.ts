// The one retry policy and the one poll loop. Every network call that may be repeated goes
// through withRetry (bounded exponential backoff, each retry logged); every "wait until the
// world catches up" goes through pollUntil. What differs between protocols (which failures are
// worth another attempt, how a failure reads in the log) is data passed in, not another loop.
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { Ctx } from './context.js';

/**
 * How long Gantry waits for anything outside (Kubernetes API, registry, OSS, CDN, GitLab, chat
 * robots): one policy for every client, set by CI variables (whole seconds) and read once per
 * step (cli.ts puts it on ctx.deadlines). The defaults keep the promise of failing in seconds:
 * an endpoint that accepts the connection and never answers costs one request timeout, tried
 * once more, then the call fails with the service's code, its host and the time waited.
 */
export interface Deadlines {
  /** TCP connect plus TLS handshake, per attempt (GANTRY_CONNECT_TIMEOUT, default 5 s). */
  connectMs: number;
  /**
   * One request, from sending it to the last byte of the answer; for a watch, the longest
   * silence between two events or bookmarks before it is re-established (GANTRY_REQUEST_TIMEOUT,
   * default 15 s).
   */
  requestMs: number;
  /** The whole step, whatever it waits for (GANTRY_STEP_TIMEOUT, default 3000 s: under GitLab's default job timeout of 1 h, so Gantry ends and cleans up before the runner kills it). */
  stepMs: number;
}

export const DEADLINE_VARIABLES = {
  connectMs: { variable: 'GANTRY_CONNECT_TIMEOUT', defaultSeconds: 5, min: 1, max: 300 },
  requestMs: { variable: 'GANTRY_REQUEST_TIMEOUT', defaultSeconds: 15, min: 1, max: 3600 },
  stepMs: { variable: 'GANTRY_STEP_TIMEOUT', defaultSeconds: 3000, min: 1, max: 86_400 },
} as const;

export const DEFAULT_DEADLINES: Deadlines = {
  connectMs: DEADLINE_VARIABLES.connectMs.defaultSeconds * 1000,
  requestMs: DEADLINE_VARIABLES.requestMs.defaultSeconds * 1000,
  stepMs: DEADLINE_VARIABLES.stepMs.defaultSeconds * 1000,
};

/** A deadline variable that is set but not a whole number of seconds within its bounds. */
export interface DeadlineProblem {
  variable: string;
  value: string;
  min: number;
  max: number;
}

/** The deadlines the environment sets; a bad value is returned as a problem (the caller reports it, exit 2). */
export function deadlinesFrom(env: NodeJS.ProcessEnv): Deadlines | DeadlineProblem {
  const out = { ...DEFAULT_DEADLINES };
  for (const [key, spec] of Object.entries(DEADLINE_VARIABLES) as [keyof Deadlines, (typeof DEADLINE_VARIABLES)[keyof Deadlines]][]) {
    const value = env[spec.variable];
    if (value === undefined || value.trim() === '') continue;
    const seconds = Number(value.trim());
    if (!/^[0-9]+$/.test(value.trim()) || seconds < spec.min || seconds > spec.max) return { variable: spec.variable, value, min: spec.min, max: spec.max };
    out[key] = seconds * 1000;
  }
  return out;
}

/** A request that got no (complete) answer in time: an AbortSignal.timeout, a client library's own timeout, a socket timeout. */
export function isTimeout(error: unknown): boolean {
  for (
    let e = error as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    const text = `${String(e.name ?? '')} ${String(e.code ?? '')}`;
    if (/TimeoutError|ETIMEDOUT|UND_ERR_(CONNECT|HEADERS|BODY)_TIMEOUT|ConnectionTimeout|ResponseTimeout|ESOCKETTIMEDOUT|ECONNABORTED/i.test(text)) return true;
    // Whole words only: ali-oss puts its agent's status in every network error's message, and
    // that JSON names a "timeoutSocketCount" whatever the failure was (ENOTFOUND, ECONNREFUSED).
    if (typeof e.message === 'string' && /\btimed? ?out\b|\btimeout\b/i.test(e.message) && !/operation was aborted/i.test(e.message)) return true;
  }
  return false;
}

/** How long a call waited in all, and over how many attempts; set by withRetry on the error it finally throws (when that is an object). */
export interface Waited {
  ms: number;
  attempts: number;
}

/** What withRetry recorded about the wait behind `error`, if anything. */
export function waitedFor(error: unknown): Waited | undefined {
  return (error as { gantryWaited?: Waited } | null)?.gantryWaited;
}

/** "no answer within 15 s (waited 31 s over 2 attempts)": how a silent endpoint reads in every service's error. */
export function noAnswerText(deadlines: Pick<Deadlines, 'requestMs'>, error: unknown): string {
  const waited = waitedFor(error);
  const per = `no answer within ${Math.round(deadlines.requestMs / 1000)} s`;
  if (!waited) return per;
  return `${per} (waited ${Math.round(waited.ms / 1000)} s${waited.attempts > 1 ? ` over ${waited.attempts} attempts` : ''})`;
}

export interface RetryOptions {
  /** Whether a failure is worth another attempt; any other failure is thrown at once. */
  isTransient: (error: unknown) => boolean;
  /** Attempts after the first (default 3). */
  retries?: number;
  /** Delay before the first retry, doubling each time up to maxDelayMs (defaults 500 and 4000). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How a failure reads in the retry warning, after "<doing>: " (default its first line). */
  describe?: (error: unknown) => string;
  /**
   * How many attempts may end in a timeout before the call gives up (default 2: a silent
   * endpoint is tried once more, not `retries` times, so it costs about two request timeouts).
   */
  timeoutAttempts?: number;
}

/**
 * Runs `call`, retrying the failures `isTransient` accepts, and logs each retry as
 * `<doing>: <failure>; retrying (<n> left)`. Stops at once when ctx.signal aborts. Only for
 * idempotent calls: a retry after a lost answer repeats the call.
 */
export async function withRetry<T>(ctx: Ctx, doing: string, call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const describe = options.describe ?? firstLine;
  const started = Date.now();
  const timeoutAttempts = options.timeoutAttempts ?? 2;
  let attempts = 0;
  let timeouts = 0;
  const shouldRetry = (error: unknown) => options.isTransient(error) && !(isTimeout(error) && timeouts >= timeoutAttempts);
  try {
    return await pRetry(
      () => {
        attempts++;
        return call().catch((error: unknown) => {
          if (isTimeout(error)) timeouts++;
          throw error;
        });
      },
      {
        retries: options.retries ?? 3,
        minTimeout: options.minDelayMs ?? 500,
        maxTimeout: options.maxDelayMs ?? 4000,
        factor: 2,
        signal: ctx.signal,
        shouldRetry: (error) => shouldRetry(error),
        onFailedAttempt: (error) => {
          // p-retry 6 calls this even when shouldRetry said no: log real retries only.
          if (error.retriesLeft > 0 && shouldRetry(error)) ctx.logger.warn(`${doing}: ${describe(error)}; retrying (${error.retriesLeft} left)`);
        },
      },
    );
  } catch (error) {
    if (error !== null && typeof error === 'object') (error as { gantryWaited?: Waited }).gantryWaited = { ms: Date.now() - started, attempts };
    throw error;
  }
}

export interface PollOptions<T> {
  /** Pause between checks; with maxIntervalMs it doubles after each check up to that. */
  intervalMs: number;
  maxIntervalMs?: number;
  /** How long to keep checking; measured from the first check. */
  timeoutMs: number;
  /** What happens when timeoutMs passes: throw a specific error, or return a fallback (default: throw `<doing>: not done after <s> s`). */
  onTimeout?: (elapsedMs: number) => T;
}

/**
 * Calls `check` until it returns something other than undefined, pausing between calls; gives
 * up after timeoutMs through onTimeout. A pause ends early (rejecting) when ctx.signal aborts.
 */
export async function pollUntil<T>(ctx: Ctx, doing: string, check: () => Promise<T | undefined>, options: PollOptions<T>): Promise<T> {
  const started = Date.now();
  let interval = options.intervalMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    const elapsed = Date.now() - started;
    if (elapsed > options.timeoutMs) {
      if (options.onTimeout) return options.onTimeout(elapsed);
      throw new Error(`${doing}: not done after ${Math.round(elapsed / 1000)} s`);
    }
    await sleep(interval, undefined, { signal: ctx.signal });
    interval = Math.min(interval * 2, options.maxIntervalMs ?? options.intervalMs);
  }
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] ?? '';
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts: for client
 * libraries that take no AbortSignal (ali-oss, gitbeaker), so a cancelled or timed-out step does
 * not wait for their in-flight request (which ends by its own request deadline, unobserved).
 */
export function untilAborted<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * `error` as an Error of this realm: fetch's errors (a DOMException TimeoutError, a TypeError)
 * can come from another realm (a test VM, a worker), and p-retry only retries `instanceof Error`.
 * Name, message and cause are kept, so isTimeout and the messages read the same.
 */
export function asLocalError(error: unknown): unknown {
  if (error instanceof Error || typeof error !== 'object' || error === null) return error;
  const e = error as { name?: string; message?: string; cause?: unknown };
  return Object.assign(new Error(e.message ?? String(error), { cause: e.cause }), { name: e.name ?? 'Error' });
}

/**
 * `promise`, or a TimeoutError once `ms` have passed. A second guard for fetch-based clients
 * whose own AbortSignal may never fire: undici's Request stops following its signal once the
 * Request object is garbage collected (nodejs/node#55428), and gitbeaker fetches a Request.
 */
export function withinMs<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms / 1000} s`), { name: 'TimeoutError' })), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
