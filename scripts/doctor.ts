// gantry doctor: is everything an environment's deploy needs in place (src/doctor/doctor.ts)?
// Read-only. Prints a table (stderr) and a JSON summary (stdout); exit 1 when a check fails, 2
// for a bad command line or configuration.
import type { Ctx } from '../src/context.js';
import { configOptions, helpAsked, parseStepArgs, stepTarget } from '../src/args.js';
import { runDoctor } from '../src/doctor/doctor.js';

export const usage = 'gantry doctor --env <name> [--mr <iid>] [--config <file>] [--set path=value] [-C <dir>]';

export async function doctor(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('doctor', argv, { ...configOptions, env: { type: 'string', short: 'e' }, mr: { type: 'string' } }, usage);
  if (helpAsked(ctx, values, usage)) return 0;
  const target = stepTarget('doctor', values, ctx, usage);
  const result = await runDoctor(ctx, { ...target, config: values.config, set: values.set, setString: values['set-string'] });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return result.ok ? 0 : 1;
}
