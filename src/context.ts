import { secretValues } from './ci/variables.js';
import { createLogger, type Logger } from './log/logger.js';
import { DEFAULT_DEADLINES, type Deadlines } from './retry.js';

/** What every step receives: where it runs, what it may print, and whether it may act. */
export interface Ctx {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
  dryRun: boolean;
  signal: AbortSignal;
  /** How long any outside call may take (src/retry.ts): cli.ts reads them from the CI variables; tests get the defaults. */
  deadlines: Deadlines;
}

/**
 * Registers every value in `env` whose variable name says it is a secret (and every kubeconfig's
 * credentials): createCtx does it for ctx.env, so no step has to remember to; addSecret is left
 * for values made later. Call it only for another environment a step is handed.
 */
export function maskEnvSecrets(logger: Logger, env: NodeJS.ProcessEnv): void {
  for (const secret of secretValues(env)) logger.addSecret(secret);
}

export function createCtx(overrides: Partial<Ctx> = {}): Ctx {
  const env = overrides.env ?? process.env;
  const logger = overrides.logger ?? createLogger();
  maskEnvSecrets(logger, env);
  return {
    logger,
    env,
    cwd: overrides.cwd ?? process.cwd(),
    dryRun: overrides.dryRun ?? false,
    signal: overrides.signal ?? new AbortController().signal,
    deadlines: overrides.deadlines ?? DEFAULT_DEADLINES,
  };
}
