// Shared argument parsing for the step scripts: strict, with errors that name the flag.
import { statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { ciVariables } from './ci/variables.js';
import type { Ctx } from './context.js';
import { gantryError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const configOptions = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  'set-string': { type: 'string', multiple: true },
  cwd: { type: 'string', short: 'C' },
} as const satisfies Options;

/** The flags of the commands that run the deploy flow (deploy, promote), besides their own. */
export const deployOptions = {
  ...configOptions,
  env: { type: 'string', short: 'e' },
  image: { type: 'string' },
  mr: { type: 'string' },
  timeout: { type: 'string' },
  out: { type: 'string', short: 'o' },
  dotenv: { type: 'string' },
} as const satisfies Options;

/** --timeout of the deploy flow, checked (seconds). */
export function deployTimeout(value: string | undefined): number | undefined {
  return timeoutFlag(value, { min: 10, max: 3600, default: 'default: backend.progressDeadlineSeconds + 30' }, undefined);
}

export function parseStepArgs<O extends Options>(command: string, argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (error) {
    throw gantryError('E_USAGE', { command, usage, parse: (error as Error).message });
  }
}

/**
 * Where a per-environment step works: the repository, the CI variables (with --mr as
 * CI_MERGE_REQUEST_IID) and the environment (--env, else review inside a merge request).
 */
export function stepTarget(command: string, values: { cwd?: string | undefined; mr?: string | undefined; env?: string | undefined }, ctx: Ctx, usage: string) {
  checkMrFlag(values.mr);
  const cwd = cwdFlag(ctx, values.cwd);
  const env = values.mr ? { ...ctx.env, CI_MERGE_REQUEST_IID: values.mr } : ctx.env;
  const envName = values.env ?? (ciVariables(env).predefined.mergeRequestIid ? 'review' : undefined);
  if (!envName) throw gantryError('E_USAGE', { command, usage, missing: 'env' });
  return { cwd, env, envName };
}

/** What locates a preview without a checkout: gantry stop and gantry cleanup-previews. */
export const previewOptions = {
  config: { type: 'string' },
  cwd: { type: 'string', short: 'C' },
  app: { type: 'string' },
  namespace: { type: 'string' },
  kubeconfig: { type: 'string' },
  bucket: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  prefix: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** A CI component passes every input, empty ones included: empty means not given. */
export function withoutEmpty<T extends Record<string, unknown>>(values: T): T {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) as T;
}

/** --help: prints the usage (stderr, as every log line) and says the command is done. */
export function helpAsked(ctx: Ctx, values: { help?: boolean | undefined }, usage: string): boolean {
  if (values.help) ctx.logger.info(`usage: ${usage}`);
  return Boolean(values.help);
}

/** The largest merge request iid: GitLab stores iids as int4 (2^31-1), so nothing larger is real. */
export const MAX_MR_IID = 2147483647;

/** --mr: a merge request iid, when given. */
export function checkMrFlag(value: string | undefined): void {
  if (value !== undefined && !(/^[1-9][0-9]{0,9}$/.test(value) && Number(value) <= MAX_MR_IID)) throw gantryError('E_USAGE', { flag: 'mr', value });
}

/**
 * -C: the directory a step works in (ctx.cwd when not given), checked to be one here so a file
 * given by mistake is exit 2 naming -C, not an ENOTDIR stack trace from the first read under it.
 */
export function cwdFlag(ctx: Ctx, value: string | undefined): string {
  const dir = path.resolve(ctx.cwd, value ?? '.');
  if (value === undefined) return dir;
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw gantryError('E_CWD', {
      flag: '-C',
      dir: value,
      reason: code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : String(code),
    });
  }
  if (!isDirectory) throw gantryError('E_CWD', { flag: '-C', dir: value, reason: 'not a directory' });
  return dir;
}

/** --timeout: whole seconds within the command's bounds, when given; `fallback` when not. */
export function timeoutFlag<F extends number | undefined>(
  value: string | undefined,
  bounds: { min: number; max: number; default: string },
  fallback: F,
): number | F {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < bounds.min || seconds > bounds.max) throw gantryError('E_USAGE', { flag: 'timeout', value, ...bounds });
  return seconds;
}
