import { rmSync } from 'node:fs';
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
  /** What this run must put back in order if it is cancelled (cli.ts); one per createCtx, shared by the contexts made from it. */
  cleanup: Cleanup;
}

/**
 * The credentials a run has written to disk, and what its cleanup has done. Steps remove their
 * own files in finally blocks; this list is for the CLI: it says what a cancelled run cleaned
 * up, and when the cleanup takes too long (or a second signal comes) the CLI removes what is
 * left synchronously before it exits, so no token stays on the runner.
 */
export interface Cleanup {
  /** A directory holding credentials (a kubeconfig), to be removed however the run ends. */
  holdCredentials(dir: string): void;
  /** The owner removed `dir` itself; `what` is reported if the run was cancelled. */
  removedCredentials(dir: string, what: string): void;
  /** Something else put back in order (a deploy lease released), reported if the run was cancelled. */
  note(what: string): void;
  /** What was cleaned up so far, in order. */
  done(): string[];
  /** Removes every directory still held, synchronously (the last thing before a forced exit); returns them. */
  removeCredentialsNow(): string[];
}

export function createCleanup(): Cleanup {
  const held = new Set<string>();
  const done: string[] = [];
  return {
    holdCredentials: (dir) => void held.add(dir),
    removedCredentials(dir, what) {
      if (held.delete(dir)) done.push(what);
    },
    note: (what) => void done.push(what),
    done: () => [...done],
    removeCredentialsNow() {
      const removed = [...held];
      for (const dir of removed) {
        try {
          rmSync(dir, { recursive: true, force: true });
        } catch {
          // Nothing more can be done on the way out; the others are still removed.
        }
        held.delete(dir);
      }
      return removed;
    },
  };
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
    cleanup: overrides.cleanup ?? createCleanup(),
  };
}
