// gantry build: the app's source -> an image in the registry, tagged with the short commit and
// the branch slug, built once and handed to later jobs by digest (src/image/build.ts).
import type { Ctx } from '../src/context.js';
import { configOptions, cwdFlag, helpAsked, parseStepArgs } from '../src/args.js';
import { buildImage } from '../src/image/build.js';

export const usage = 'gantry build [--print-dockerfile] [--dotenv <file>] [--no-push] [--config <file>] [--set path=value] [-C <dir>]';

export async function build(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'build',
    argv,
    {
      ...configOptions,
      'print-dockerfile': { type: 'boolean' },
      dotenv: { type: 'string' },
      'no-push': { type: 'boolean' },
    },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  const cwd = cwdFlag(ctx, values.cwd);
  const result = await buildImage(ctx, {
    cwd,
    config: values.config,
    set: values.set,
    setString: values['set-string'],
    printDockerfile: Boolean(values['print-dockerfile']),
    dotenv: values.dotenv,
    noPush: Boolean(values['no-push']),
  });
  if (result.status === 'dockerfile') process.stdout.write(result.dockerfile);
  else if (result.status !== 'dry-run') process.stdout.write(`${JSON.stringify(result.report)}\n`);
  return 0;
}
