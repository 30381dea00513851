// gantry stop: remove a merge request's preview (its namespace and frontend files); the flow is
// src/preview/stop.ts. Everything can come from flags: the stop job may have no checkout.
import type { Ctx } from '../src/context.js';
import { gantryError } from '../src/errors.js';
import { parseStepArgs, previewOptions, stepTarget, timeoutFlag, withoutEmpty } from '../src/args.js';
import { stopPreview } from '../src/preview/stop.js';
import { ciVariables } from '../src/ci/variables.js';

export const usage =
  'gantry stop --env review [--mr <iid>] [--app <name>] [--namespace <name>] [--kubeconfig <CI variable>] [--bucket <name> --region <id> [--endpoint <url>] [--prefix <frontend.prefix>]] [--timeout <seconds>] [--config <file>] [-C <dir>]';

export async function stop(argv: string[], ctx: Ctx): Promise<number> {
  const { values: raw } = parseStepArgs('stop', argv, { ...previewOptions, env: { type: 'string', short: 'e' }, mr: { type: 'string' } }, usage);
  if (raw.help) {
    ctx.logger.info(`usage: ${usage}`);
    return 0;
  }
  const values = withoutEmpty(raw);
  const { cwd, env, envName } = stepTarget('stop', { ...values, env: values.env ?? 'review' }, ctx, usage);
  if (envName !== 'review') {
    throw gantryError('E_USAGE', { flag: 'env', command: 'stop', value: envName });
  }
  const mr = ciVariables(env).predefined.mergeRequestIid || undefined;
  if (!mr) throw gantryError('E_MR_MISSING', { needs: 'stop', saysWhereCiSetsIt: false });
  const timeout = timeoutFlag(values.timeout, { min: 5, max: 3600, default: 'the default' }, 300);
  const result = await stopPreview(ctx, { cwd, env, mr, flags: values, timeoutSeconds: timeout });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
