// gantry history | rollback | scale: the day-two commands on a deployed environment; the flows
// are in src/deploy/operate.ts.
import type { Ctx } from '../src/context.js';
import { configOptions, helpAsked, parseStepArgs, stepTarget, type Options } from '../src/args.js';
import { listHistory, rollbackEnvironment, scaleEnvironment } from '../src/deploy/operate.js';

function parse(ctx: Ctx, command: string, argv: string[], extra: Options, usage: string) {
  const { values } = parseStepArgs(command, argv, { ...configOptions, env: { type: 'string', short: 'e' }, mr: { type: 'string' }, ...extra }, usage);
  if (helpAsked(ctx, values, usage)) return undefined;
  const v = values as Record<string, string | undefined>;
  const lists = values as { set?: string[]; 'set-string'?: string[] };
  return {
    ...stepTarget(command, values as { cwd?: string; mr?: string; env?: string }, ctx, usage),
    config: v.config,
    set: lists.set,
    setString: lists['set-string'],
    values: v,
  };
}

const print = (result: unknown) => process.stdout.write(`${JSON.stringify(result)}\n`);

export const historyUsage = 'gantry history --env <name> [--mr <iid>] [--config <file>] [-C <dir>]';

export async function history(argv: string[], ctx: Ctx): Promise<number> {
  const input = parse(ctx, 'history', argv, {}, historyUsage);
  if (input) print(await listHistory(ctx, input));
  return 0;
}

export const rollbackUsage = 'gantry rollback --env <name> [--to <revision>] [--timeout <seconds>] [--mr <iid>] [--config <file>] [-C <dir>]';

export async function rollback(argv: string[], ctx: Ctx): Promise<number> {
  const input = parse(ctx, 'rollback', argv, { to: { type: 'string' }, timeout: { type: 'string' } }, rollbackUsage);
  const result = input && (await rollbackEnvironment(ctx, { ...input, to: input.values.to, timeout: input.values.timeout }));
  if (!result) return 0;
  const { error, ...report } = result;
  print(report);
  if (error) throw error;
  return 0;
}

export const scaleUsage = 'gantry scale --env <name> --replicas <N> [--mr <iid>] [--config <file>] [-C <dir>]';

export async function scale(argv: string[], ctx: Ctx): Promise<number> {
  const input = parse(ctx, 'scale', argv, { replicas: { type: 'string' } }, scaleUsage);
  if (input) print(await scaleEnvironment(ctx, { ...input, replicas: input.values.replicas }));
  return 0;
}
