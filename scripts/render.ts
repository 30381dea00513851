// gantry render: write <out>/deploy.yaml and <out>/svc.yaml for one environment (src/deploy/render.ts).
import type { Ctx } from '../src/context.js';
import { configOptions, helpAsked, parseStepArgs, stepTarget } from '../src/args.js';
import { renderFiles } from '../src/deploy/render.js';

export const usage =
  'gantry render --env <name> [--out <dir>] [--image <ref>] [--mr <iid>] [--config <file>] [--set path=value] [--set-string path=value] [-C <dir>]';

export async function render(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'render',
    argv,
    {
      ...configOptions,
      env: { type: 'string', short: 'e' },
      out: { type: 'string', short: 'o' },
      image: { type: 'string' },
      mr: { type: 'string' },
    },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  const { cwd, env, envName } = stepTarget('render', values, ctx, usage);
  const result = await renderFiles(ctx, { cwd, env, envName, values, out: values.out });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
