// The one retry policy and the one poll loop. Every network call that may be repeated goes
// through withRetry (bounded exponential backoff, each retry logged); every "wait until the
// world catches up" goes through pollUntil. What differs between protocols (which failures are
// worth another attempt, how a failure reads in the log) is data passed in, not another loop.
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { Ctx } from './context.js';

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
}

/**
 * Runs `call`, retrying the failures `isTransient` accepts, and logs each retry as
 * `<doing>: <failure>; retrying (<n> left)`. Stops at once when ctx.signal aborts. Only for
 * idempotent calls: a retry after a lost answer repeats the call.
 */
export function withRetry<T>(ctx: Ctx, doing: string, call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const describe = options.describe ?? firstLine;
  return pRetry(call, {
    retries: options.retries ?? 3,
    minTimeout: options.minDelayMs ?? 500,
    maxTimeout: options.maxDelayMs ?? 4000,
    factor: 2,
    signal: ctx.signal,
    shouldRetry: (error) => options.isTransient(error),
    onFailedAttempt: (error) => {
      // p-retry 6 calls this even when shouldRetry said no: log real retries only.
      if (error.retriesLeft > 0 && options.isTransient(error)) ctx.logger.warn(`${doing}: ${describe(error)}; retrying (${error.retriesLeft} left)`);
    },
  });
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
