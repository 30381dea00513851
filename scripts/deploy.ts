// gantry deploy: render, apply, track until serving, or fail fast with the cause and roll back
// (src/deploy/deploy.ts). stdout is one JSON line; a failed rollout exits 1 with its diagnosis.
import type { Ctx } from '../src/context.js';
import { deployOptions, deployTimeout, helpAsked, parseStepArgs, stepTarget } from '../src/args.js';
import { deployEnvironment } from '../src/deploy/deploy.js';

export const usage =
  'gantry deploy --env <name> [--image <ref>] [--frontend [--skip-frontend-build]] [--mr <iid>] [--no-rollback] [--timeout <seconds>] [--out <dir>] [--dotenv <file>] [--config <file>] [--set path=value] [-C <dir>]';

export async function deploy(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'deploy',
    argv,
    { ...deployOptions, 'no-rollback': { type: 'boolean' }, frontend: { type: 'boolean' }, 'skip-frontend-build': { type: 'boolean' } },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  const { cwd, env, envName } = stepTarget('deploy', values, ctx, usage);
  const timeout = deployTimeout(values.timeout);
  const result = await deployEnvironment(ctx, {
    cwd,
    env,
    envName,
    values,
    mr: values.mr,
    noRollback: Boolean(values['no-rollback']),
    timeoutSeconds: timeout,
    out: values.out,
    dotenv: values.dotenv,
    frontend: Boolean(values.frontend),
    skipFrontendBuild: Boolean(values['skip-frontend-build']),
  });
  process.stdout.write(`${JSON.stringify(result.report)}\n`);
  if (result.status === 'failed') throw result.error;
  return 0;
}
