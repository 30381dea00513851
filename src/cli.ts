#!/usr/bin/env node
// `gantry <command>`: dispatch, one top-level catch, exit codes (0 ok, 1 failed, 2 bad input).
// Commands are imported lazily so `gantry --version` loads almost nothing.
import { createCtx, type Ctx } from './context.js';
import { formatError, gantryError, isGantryError, wrapError } from './errors.js';
import { createLogger } from './log/logger.js';
import { gantryVersion } from './paths.js';
import { DEADLINE_VARIABLES, type Deadlines, deadlinesFrom } from './retry.js';

type Command = (argv: string[], ctx: Ctx) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  build: {
    summary: 'build the backend image, push it, and write its digest (GANTRY_IMAGE) as a dotenv report',
    load: async () => (await import('../scripts/build-image.js')).build,
  },
  frontend: {
    summary: 'build the frontend and publish what changed to OSS, index.html last',
    load: async () => (await import('../scripts/upload-frontend.js')).frontend,
  },
  render: { summary: 'render deploy.yaml and svc.yaml for an environment', load: async () => (await import('../scripts/render.js')).render },
  deploy: {
    summary: 'apply the rendered manifests, track the rollout until it serves, roll back on failure',
    load: async () => (await import('../scripts/deploy.js')).deploy,
  },
  history: {
    summary: 'list the revisions of an environment with image, commit, pipeline and who deployed',
    load: async () => (await import('../scripts/operate.js')).history,
  },
  rollback: { summary: 'bring back the previous (or --to) revision and track it', load: async () => (await import('../scripts/operate.js')).rollback },
  promote: {
    summary: 'go on with a canary held by pause: manual (its remaining steps and analysis, or --full), then promote it',
    load: async () => (await import('../scripts/canary.js')).promote,
  },
  abort: { summary: 'take a held canary back; the stable version keeps serving', load: async () => (await import('../scripts/canary.js')).abort },
  scale: { summary: 'set the replicas of an environment within backend.maxReplicas', load: async () => (await import('../scripts/operate.js')).scale },
  stop: {
    summary: 'remove a merge request preview: its namespace and its frontend files (works without gantry.yaml)',
    load: async () => (await import('../scripts/stop.js')).stop,
  },
  'cleanup-previews': {
    summary: 'remove the previews of merged or closed merge requests (scheduled; needs GANTRY_GITLAB_TOKEN)',
    load: async () => (await import('../scripts/cleanup-previews.js')).cleanupPreviews,
  },
  validate: { summary: 'check gantry.yaml and report every problem', load: async () => (await import('../scripts/validate.js')).validate },
  'mr-note': {
    summary: "create or update Gantry's note on the merge request (status, preview URL, commit, image, diagnosis)",
    load: async () => (await import('../scripts/mr-note.js')).mrNote,
  },
  schema: { summary: 'print the JSON Schema of gantry.yaml (for editors)', load: async () => (await import('../scripts/validate.js')).schema },
  init: {
    summary: 'set a repository up: gantry.yaml, .gitlab-ci.yml with the Gantry components, a deploy/ override skeleton',
    load: async () => (await import('../scripts/init.js')).init,
  },
  doctor: {
    summary: "check an environment's CI variables, registry login, cluster rights, OSS and GitLab token",
    load: async () => (await import('../scripts/doctor.js')).doctor,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: gantry <command> [options]   (gantry <command> --help for its options)',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'options: --version, --help, --dry-run (print what would be done, change nothing)',
    'exit codes: 0 ok, 1 failed, 2 bad input or configuration (nothing was done), 130/143 cancelled by SIGINT/SIGTERM, 141 output pipe lost',
  ].join('\n');
}

/**
 * How a run was cancelled: ctx.signal's reason when a signal came or an output pipe was lost.
 * The exit code is 128 + the signal's number, as a shell reports a process the signal killed
 * (a lost pipe counts as SIGPIPE, 13), so a job log says "cancelled", not "failed".
 */
interface Cancelled extends Error {
  cancelledBy: string;
  exitCode: 130 | 141 | 143;
}

function cancelledBy(by: 'SIGINT' | 'SIGTERM' | 'stdout' | 'stderr'): Cancelled {
  const what = by === 'stdout' || by === 'stderr' ? `a lost ${by} pipe` : by;
  const exitCode = by === 'SIGINT' ? 130 : by === 'SIGTERM' ? 143 : 141;
  return Object.assign(new Error(`cancelled by ${what}`), { name: 'AbortError', cancelledBy: what, exitCode } as const);
}

function cancellation(signal: AbortSignal): Cancelled | undefined {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof Error && 'cancelledBy' in reason ? (reason as Cancelled) : undefined;
}

/** The deadlines for this run: a GANTRY_*_TIMEOUT that is set wins over what the caller put on ctx (tests pass short ones there). */
function deadlinesOf(ctx: Ctx): Deadlines {
  const read = deadlinesFrom(ctx.env);
  if ('variable' in read) throw gantryError('E_TIMEOUT_VARIABLE', read);
  const out = { ...ctx.deadlines };
  for (const key of Object.keys(DEADLINE_VARIABLES) as (keyof Deadlines)[]) {
    if (ctx.env[DEADLINE_VARIABLES[key].variable]?.trim()) out[key] = read[key];
  }
  return out;
}

export async function main(argv: string[], ctx: Ctx = createCtx()): Promise<number> {
  const dryRun = argv.includes('--dry-run');
  const args = argv.filter((a) => a !== '--dry-run');
  const [name, ...rest] = args;
  // The step's own deadline (GANTRY_STEP_TIMEOUT) ends it through the same signal a cancel does,
  // so every flow unwinds and cleans up the same way; its reason is the error the run reports.
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    if (name === '--version' || name === '-v' || name === 'version') {
      process.stdout.write(`${gantryVersion()}\n`);
      return 0;
    }
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      ctx.logger.info(help());
      return name === undefined ? 2 : 0;
    }
    const command = commands[name];
    if (!command) {
      throw gantryError('E_USAGE', { unknownCommand: name, commands: Object.keys(commands) });
    }
    const deadlines = deadlinesOf(ctx);
    const { variable } = DEADLINE_VARIABLES.stepMs;
    const seconds = Math.round(deadlines.stepMs / 1000);
    timer = setTimeout(() => deadline.abort(gantryError('E_STEP_TIMEOUT', { command: name, seconds, variable })), deadlines.stepMs);
    const signal = AbortSignal.any([ctx.signal, deadline.signal]);
    const code = await (await command.load())(rest, { ...ctx, deadlines, signal, dryRun: ctx.dryRun || dryRun });
    const cancelled = cancellation(ctx.signal);
    return cancelled ? reportCancelled(ctx, cancelled) : code;
  } catch (error) {
    const cancelled = cancellation(ctx.signal);
    if (cancelled) return reportCancelled(ctx, cancelled);
    // Whatever the interrupted call threw (an AbortError, a wrapped one), the step ran out of time.
    const cause = deadline.signal.aborted ? deadline.signal.reason : error;
    const e = isGantryError(cause) ? cause : wrapError(`gantry ${name ?? ''}`.trim(), cause);
    ctx.logger.error(formatError(e));
    if (e.code === 'E_INTERNAL' && cause instanceof Error && cause.stack) ctx.logger.error(cause.stack);
    return e.exitCode;
  } finally {
    clearTimeout(timer);
  }
}

function reportCancelled(ctx: Ctx, cancelled: Cancelled): number {
  const done = ctx.cleanup.done();
  ctx.logger.error(`${cancelled.message}: ${done.length > 0 ? done.join('; ') : 'nothing to clean up'}`);
  return cancelled.exitCode;
}

/** How long a cancelled run may take to clean up (release the lease, remove files) before it exits anyway. */
const CLEANUP_GRACE_MS = 8000;

/**
 * The process around main: SIGTERM and SIGINT (how GitLab cancels a job or ends it at its
 * timeout, and Ctrl-C) and a lost stdout/stderr pipe abort the step's signal, so the flow unwinds
 * through its finally blocks (temp kubeconfig removed, deploy lease released). A second signal,
 * or a cleanup longer than CLEANUP_GRACE_MS, exits at once after removing the credential files
 * still on disk. When main is done the process exits, even if a socket or timer is still open.
 */
function runCli(argv: string[]): void {
  const cancel = new AbortController();
  const lost = new Set<'stdout' | 'stderr'>();
  // Nothing is written to a pipe that is gone: each write would only fail again.
  const logger = createLogger({ write: (text) => void (lost.has('stderr') || process.stderr.write(text)) });
  const ctx = createCtx({ logger, signal: cancel.signal });

  const forceExit = (why: string) => {
    const first = cancellation(cancel.signal)!;
    const removed = ctx.cleanup.removeCredentialsNow();
    ctx.logger.error(`${first.message}: ${why}; exiting now${removed.length > 0 ? ` after removing ${removed.join(', ')}` : ''}`);
    process.exit(first.exitCode);
  };
  const stop = (reason: Cancelled, isSignal: boolean) => {
    if (!cancel.signal.aborted) {
      cancel.abort(reason);
      setTimeout(() => forceExit(`the cleanup took more than ${CLEANUP_GRACE_MS / 1000} s`), CLEANUP_GRACE_MS).unref();
    } else if (isSignal) {
      forceExit(`a second signal (${reason.cancelledBy})`);
    }
  };
  process.on('SIGTERM', () => stop(cancelledBy('SIGTERM'), true));
  process.on('SIGINT', () => stop(cancelledBy('SIGINT'), true));
  for (const name of ['stdout', 'stderr'] as const) {
    // EPIPE (the reader went away) and any other write error: without a listener it would be an uncaught exception.
    process[name].on('error', () => {
      lost.add(name);
      stop(cancelledBy(name), false);
    });
  }

  const exit = (code: number) => {
    ctx.cleanup.removeCredentialsNow();
    process.exit(code);
  };
  const flushed = (name: 'stdout' | 'stderr') => new Promise<void>((resolve) => (lost.has(name) ? resolve() : process[name].write('', () => resolve())));
  const exitFlushed = (code: number) => {
    setTimeout(() => exit(code), 2000);
    void Promise.all([flushed('stdout'), flushed('stderr')]).then(() => exit(code));
  };
  main(argv, ctx).then(exitFlushed, (error: unknown) => {
    if (!lost.has('stderr')) process.stderr.write(`${String(error)}\n`);
    exitFlushed(1);
  });
}

// Run when executed as the CLI (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(^|[\\/])(cli\.js|gantry)$/.test(invoked)) runCli(process.argv.slice(2));
