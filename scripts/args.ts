// Shared argument parsing for the step scripts: strict, with errors that name the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GantryError } from '../src/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const configOptions = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  'set-string': { type: 'string', multiple: true },
  cwd: { type: 'string', short: 'C' },
} as const satisfies Options;

export function parseStepArgs<O extends Options>(command: string, argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new GantryError('E_USAGE', `gantry ${command}: ${(error as Error).message}`, { fix: `usage: ${usage}` });
  }
}
