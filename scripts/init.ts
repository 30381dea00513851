// gantry init: set a repository up for Gantry: gantry.yaml, .gitlab-ci.yml and a deploy/
// override skeleton, all or nothing (src/init/init.ts).
import path from 'node:path';
import type { Ctx } from '../src/context.js';
import { gantryError } from '../src/errors.js';
import { helpAsked, parseStepArgs } from '../src/args.js';
import { initRepository } from '../src/init/init.js';

export const usage = 'gantry init [-C <dir>] [--app <name>] [--port <N>] [--force]';

export async function init(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'init',
    argv,
    {
      cwd: { type: 'string', short: 'C' },
      app: { type: 'string' },
      port: { type: 'string' },
      force: { type: 'boolean' },
    },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  const dir = path.resolve(ctx.cwd, values.cwd ?? '.');
  if (values.app !== undefined && !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.app)) {
    throw gantryError('E_USAGE', { flag: 'app', value: values.app });
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!/^[0-9]+$/.test(values.port!) || port < 1 || port > 65535)) {
    throw gantryError('E_USAGE', { flag: 'port', value: values.port });
  }
  const result = await initRepository(ctx, { dir, app: values.app, port, force: Boolean(values.force) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
