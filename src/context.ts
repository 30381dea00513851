import { secretValues } from './ci/variables.js';
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
  const env = overrides.env ?? process.env;
  const logger = overrides.logger ?? createLogger();
  // Every variable whose name says it is a secret (and every kubeconfig) is masked from the
  // start, so no step has to remember to register it; addSecret is left for values made later.
  for (const secret of secretValues(env)) logger.addSecret(secret);
  return {
    logger,
    env,
    cwd: overrides.cwd ?? process.cwd(),
    dryRun: overrides.dryRun ?? false,
    signal: overrides.signal ?? new AbortController().signal,
  };
}
