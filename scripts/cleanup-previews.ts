// gantry cleanup-previews: the scheduled sweep behind GitLab's stop jobs; the flow is
// src/preview/sweep.ts. stdout is one JSON summary: removed, kept, errors; any error exits 1.
import type { Ctx } from '../src/context.js';
import { cwdFlag, parseStepArgs, previewOptions, timeoutFlag, withoutEmpty } from '../src/args.js';
import { sweepPreviews } from '../src/preview/sweep.js';

export const usage =
  'gantry cleanup-previews [--app <name>] [--namespace <template with {app} and {iid}>] [--kubeconfig <CI variable>] [--bucket <name> --region <id> [--endpoint <url>] [--prefix <frontend.prefix>]] [--timeout <seconds>] [--config <file>] [-C <dir>] [--dry-run]';

export async function cleanupPreviews(argv: string[], ctx: Ctx): Promise<number> {
  const { values: raw } = parseStepArgs('cleanup-previews', argv, previewOptions, usage);
  if (raw.help) {
    ctx.logger.info(`usage: ${usage}`);
    return 0;
  }
  const values = withoutEmpty(raw);
  const timeout = timeoutFlag(values.timeout, { min: 5, max: 3600, default: 'the default, per namespace' }, 300);
  const summary = await sweepPreviews(ctx, { cwd: cwdFlag(ctx, values.cwd), env: ctx.env, flags: values, timeoutSeconds: timeout });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.errors.length > 0 ? 1 : 0;
}
