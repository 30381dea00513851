// gantry frontend: run the frontend build, then publish only what changed to OSS, assets
// first and index.html last (src/site/publish.ts). --dry-run prints the plan.
import type { Ctx } from '../src/context.js';
import { gantryError } from '../src/errors.js';
import { configOptions, helpAsked, parseStepArgs, stepTarget } from '../src/args.js';
import { publishSite } from '../src/site/publish.js';

export const usage =
  'gantry frontend --env <name> [--skip-build] [--concurrency N] [--mr <iid>] [--stop] [--website] [--if-configured] [--config <file>] [--set path=value] [-C <dir>]';

export async function frontend(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'frontend',
    argv,
    {
      ...configOptions,
      env: { type: 'string', short: 'e' },
      'skip-build': { type: 'boolean' },
      concurrency: { type: 'string' },
      mr: { type: 'string' },
      stop: { type: 'boolean' },
      website: { type: 'boolean' },
      'if-configured': { type: 'boolean' },
    },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  const { cwd, env, envName } = stepTarget('frontend', values, ctx, usage);
  const concurrency = Number(values.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw gantryError('E_USAGE', { flag: 'concurrency', value: values.concurrency });
  }
  const result = await publishSite(ctx, {
    cwd,
    env,
    envName,
    config: values.config,
    set: values.set,
    setString: values['set-string'],
    skipBuild: Boolean(values['skip-build']),
    concurrency,
    stop: Boolean(values.stop),
    website: Boolean(values.website),
    ifConfigured: Boolean(values['if-configured']),
  });
  if (result.status === 'skipped') return 0;
  process.stdout.write(`${JSON.stringify(result.report)}\n`);
  if (result.status === 'published' && result.error) throw result.error;
  return 0;
}
