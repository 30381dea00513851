import { createLogger, type Logger } from './log/logger.js';

/** What every step receives: where it runs, what it may print, and whether it may act. */
export interface Ctx {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
  dryRun: boolean;
  signal: AbortSignal;
}

export function createCtx(overrides: Partial<Ctx> = {}): Ctx {
  return {
    logger: overrides.logger ?? createLogger(),
    env: overrides.env ?? process.env,
    cwd: overrides.cwd ?? process.cwd(),
    dryRun: overrides.dryRun ?? false,
    signal: overrides.signal ?? new AbortController().signal,
  };
}
