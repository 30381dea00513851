// gantry validate: load gantry.yaml with every override and report all problems (exit 2).
// gantry schema: print the JSON Schema editors use.
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { configJsonSchema } from '../src/config/schema.js';
import type { Ctx } from '../src/context.js';
import { configOptions, cwdFlag, helpAsked, parseStepArgs } from '../src/args.js';

const validateUsage = 'gantry validate [--config <file>] [--set path=value] [--set-string path=value] [-C <dir>]';

export async function validate(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('validate', argv, configOptions, validateUsage);
  if (helpAsked(ctx, values, validateUsage)) return 0;
  const cwd = cwdFlag(ctx, values.cwd);
  const { config, file } = await loadConfig({ cwd, env: ctx.env, file: values.config, set: values.set, setString: values['set-string'] });
  ctx.logger.info(`${path.relative(cwd, file) || file} is valid: app ${config.app}, environments ${Object.keys(config.environments).join(', ')}`);
  return 0;
}

export async function schema(argv: string[], ctx: Ctx): Promise<number> {
  parseStepArgs('schema', argv, {}, 'gantry schema');
  void ctx;
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
