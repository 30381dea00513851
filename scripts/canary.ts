// gantry promote | abort: the manual step of a canary (#15). promote goes on from the held step
// (its analysis included; --full: straight to the promotion) and is the deploy flow with the held
// canary as its start; abort takes the canary back and leaves the stable version as it is.
import type { Ctx } from '../src/context.js';
import { configOptions, deployOptions, deployTimeout, helpAsked, parseStepArgs, stepTarget } from '../src/args.js';
import { deployEnvironment } from '../src/deploy/deploy.js';
import { abortCanaryOf } from '../src/deploy/operate.js';

export const promoteUsage =
  'gantry promote --env <name> [--full] [--image <ref>] [--timeout <seconds>] [--dotenv <file>] [--mr <iid>] [--config <file>] [--set path=value] [-C <dir>]';

export async function promote(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('promote', argv, { ...deployOptions, full: { type: 'boolean' } }, promoteUsage);
  if (helpAsked(ctx, values, promoteUsage)) return 0;
  const { cwd, env, envName } = stepTarget('promote', values, ctx, promoteUsage);
  const result = await deployEnvironment(ctx, {
    cwd,
    env,
    envName,
    values,
    mr: values.mr,
    noRollback: false,
    timeoutSeconds: deployTimeout(values.timeout),
    out: values.out,
    dotenv: values.dotenv,
    canaryAction: 'promote',
    full: Boolean(values.full),
  });
  process.stdout.write(`${JSON.stringify(result.report)}\n`);
  if (result.status === 'failed') throw result.error;
  return 0;
}

export const abortUsage = 'gantry abort --env <name> [--mr <iid>] [--config <file>] [--set path=value] [-C <dir>]';

export async function abort(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('abort', argv, { ...configOptions, env: { type: 'string', short: 'e' }, mr: { type: 'string' } }, abortUsage);
  if (helpAsked(ctx, values, abortUsage)) return 0;
  const { cwd, env, envName } = stepTarget('abort', values, ctx, abortUsage);
  const result = await abortCanaryOf(ctx, { cwd, env, envName, config: values.config, set: values.set, setString: values['set-string'] });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
