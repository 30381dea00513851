// gantry frontend: run the frontend build, then publish only what changed to OSS, assets first and
// index.html last (src/site/publish.ts); or stage, activate or roll back a release (src/site/release.ts).
import type { Ctx } from '../src/context.js';
import { gantryError } from '../src/errors.js';
import { configOptions, helpAsked, parseStepArgs, stepTarget } from '../src/args.js';
import { publishSite } from '../src/site/publish.js';
import { activateSite, frontendMode, rollbackSite, writeReleaseDotenv } from '../src/site/release.js';

export const usage =
  'gantry frontend --env <name> [--skip-build] [--concurrency N] [--mr <iid>] [--stop] [--website] [--if-configured] [--stage | --activate <release> | --rollback [--to <release>]] [--dotenv <file>] [--config <file>] [--set path=value] [-C <dir>]';

export async function frontend(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'frontend',
    argv,
    {
      ...configOptions,
      ...{ stage: { type: 'boolean' }, activate: { type: 'string' }, rollback: { type: 'boolean' }, to: { type: 'string' }, dotenv: { type: 'string' } },
      ...{ env: { type: 'string', short: 'e' }, 'skip-build': { type: 'boolean' }, concurrency: { type: 'string' }, mr: { type: 'string' } },
      ...{ stop: { type: 'boolean' }, website: { type: 'boolean' }, 'if-configured': { type: 'boolean' } },
    },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  const { cwd, env, envName } = stepTarget('frontend', values, ctx, usage);
  const concurrency = Number(values.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw gantryError('E_USAGE', { flag: 'concurrency', value: values.concurrency });
  }
  const source = { cwd, env, envName, config: values.config, set: values.set, setString: values['set-string'], concurrency };
  const mode = frontendMode(values);
  let result: { report: Record<string, unknown>; error?: unknown };
  if (mode === 'activate') result = await activateSite(ctx, { ...source, release: values.activate! });
  else if (mode === 'rollback') result = await rollbackSite(ctx, { ...source, to: values.to });
  else {
    const published = await publishSite(ctx, {
      ...{ ...source, skipBuild: Boolean(values['skip-build']), stop: mode === 'stop', stage: mode === 'stage' },
      ...{ website: Boolean(values.website), ifConfigured: Boolean(values['if-configured']) },
    });
    if (published.status === 'skipped') return 0;
    result = published;
  }
  process.stdout.write(`${JSON.stringify(result.report)}\n`);
  if (!ctx.dryRun) await writeReleaseDotenv(values.dotenv, cwd, result.report.release);
  if (result.error) throw result.error;
  return 0;
}
