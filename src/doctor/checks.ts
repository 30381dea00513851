// The frame of `gantry doctor`: a check is a name and a function; each runs under its own
// timeout, a failure becomes a row with the catalogue error's message and fix, and the rows
// print as one table. Secrets never reach a row: every text goes through the logger's mask.
import type { Ctx } from '../context.js';
import { isGantryError } from '../errors.js';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckRow {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string | undefined;
  code?: string | undefined;
}

/**
 * Runs `fn` with a ctx whose signal ends after timeoutMs; whatever happens, it resolves to rows.
 * The default only backs up the deadlines every client has (a request, tried once more when it
 * gets no answer), so a silent service reads as its own error, with its host and the wait.
 */
export async function runCheck(
  ctx: Ctx,
  check: string,
  fn: (ctx: Ctx) => Promise<CheckRow | CheckRow[]>,
  timeoutMs = 2 * ctx.deadlines.requestMs + 5000,
): Promise<CheckRow[]> {
  const controller = new AbortController();
  const signal = AbortSignal.any([ctx.signal, controller.signal]);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckRow[]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`${check}: no answer within ${timeoutMs / 1000} s`));
      resolve([
        {
          check,
          status: 'fail',
          detail: `no answer within ${timeoutMs / 1000} s`,
          fix: 'check that this machine (the runner) can reach the service; see the rows above for the address',
        },
      ]);
    }, timeoutMs);
  });
  const run = (async (): Promise<CheckRow[]> => {
    try {
      const out = await fn({ ...ctx, signal });
      return Array.isArray(out) ? out : [out];
    } catch (error) {
      return [failedRow(check, error)];
    }
  })();
  try {
    return masked(ctx, await Promise.race([run, timedOut]));
  } finally {
    clearTimeout(timer);
  }
}

export function failedRow(check: string, error: unknown): CheckRow {
  if (isGantryError(error)) return { check, status: 'fail', detail: error.message, fix: error.fix, code: error.code };
  return { check, status: 'fail', detail: error instanceof Error ? error.message : String(error), code: 'E_INTERNAL' };
}

export function masked(ctx: Ctx, rows: CheckRow[]): CheckRow[] {
  return rows.map((r) => ({ ...r, detail: ctx.logger.mask(r.detail), ...(r.fix ? { fix: ctx.logger.mask(r.fix) } : {}) }));
}

const LABEL: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' };

/** The table a person reads: one row per check, the fix under every failure and warning. */
export function formatTable(rows: CheckRow[]): string {
  const width = Math.min(36, Math.max(...rows.map((r) => r.check.length)));
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`${LABEL[r.status]}  ${r.check.padEnd(width)}  ${r.detail}`);
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) lines.push(`${' '.repeat(6 + width + 2)}fix: ${r.fix}`);
  }
  return lines.join('\n');
}
