#!/usr/bin/env node
// `gantry <command>`: dispatch, one top-level catch, exit codes (0 ok, 1 failed, 2 bad input).
// Commands are imported lazily so `gantry --version` loads almost nothing.
import { createCtx, type Ctx } from './context.js';
import { formatError, gantryError, isGantryError, wrapError } from './errors.js';
import { gantryVersion } from './paths.js';

type Command = (argv: string[], ctx: Ctx) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  build: {
    summary: 'build the backend image, push it, and write its digest (GANTRY_IMAGE) as a dotenv report',
    load: async () => (await import('../scripts/build-image.js')).build,
  },
  frontend: {
    summary: 'build the frontend and publish what changed to OSS, index.html last',
    load: async () => (await import('../scripts/upload-frontend.js')).frontend,
  },
  render: { summary: 'render deploy.yaml and svc.yaml for an environment', load: async () => (await import('../scripts/render.js')).render },
  deploy: {
    summary: 'apply the rendered manifests, track the rollout until it serves, roll back on failure',
    load: async () => (await import('../scripts/deploy.js')).deploy,
  },
  history: {
    summary: 'list the revisions of an environment with image, commit, pipeline and who deployed',
    load: async () => (await import('../scripts/operate.js')).history,
  },
  rollback: { summary: 'bring back the previous (or --to) revision and track it', load: async () => (await import('../scripts/operate.js')).rollback },
  scale: { summary: 'set the replicas of an environment within backend.maxReplicas', load: async () => (await import('../scripts/operate.js')).scale },
  stop: {
    summary: 'remove a merge request preview: its namespace and its frontend files (works without gantry.yaml)',
    load: async () => (await import('../scripts/stop.js')).stop,
  },
  'cleanup-previews': {
    summary: 'remove the previews of merged or closed merge requests (scheduled; needs GANTRY_GITLAB_TOKEN)',
    load: async () => (await import('../scripts/cleanup-previews.js')).cleanupPreviews,
  },
  validate: { summary: 'check gantry.yaml and report every problem', load: async () => (await import('../scripts/validate.js')).validate },
  'mr-note': {
    summary: "create or update Gantry's note on the merge request (status, preview URL, commit, image, diagnosis)",
    load: async () => (await import('../scripts/mr-note.js')).mrNote,
  },
  schema: { summary: 'print the JSON Schema of gantry.yaml (for editors)', load: async () => (await import('../scripts/validate.js')).schema },
  init: {
    summary: 'set a repository up: gantry.yaml, .gitlab-ci.yml with the Gantry components, a deploy/ override skeleton',
    load: async () => (await import('../scripts/init.js')).init,
  },
  doctor: {
    summary: "check an environment's CI variables, registry login, cluster rights, OSS and GitLab token",
    load: async () => (await import('../scripts/doctor.js')).doctor,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: gantry <command> [options]   (gantry <command> --help for its options)',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'options: --version, --help, --dry-run (print what would be done, change nothing)',
    'exit codes: 0 ok, 1 failed, 2 bad input or configuration (nothing was done)',
  ].join('\n');
}

export async function main(argv: string[], ctx: Ctx = createCtx()): Promise<number> {
  const dryRun = argv.includes('--dry-run');
  const args = argv.filter((a) => a !== '--dry-run');
  const [name, ...rest] = args;
  try {
    if (name === '--version' || name === '-v' || name === 'version') {
      process.stdout.write(`${gantryVersion()}\n`);
      return 0;
    }
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      ctx.logger.info(help());
      return name === undefined ? 2 : 0;
    }
    const command = commands[name];
    if (!command) {
      throw gantryError('E_USAGE', { unknownCommand: name, commands: Object.keys(commands) });
    }
    return await (await command.load())(rest, { ...ctx, dryRun: ctx.dryRun || dryRun });
  } catch (error) {
    const e = isGantryError(error) ? error : wrapError(`gantry ${name ?? ''}`.trim(), error);
    ctx.logger.error(formatError(e));
    if (e.code === 'E_INTERNAL' && error instanceof Error && error.stack) ctx.logger.error(error.stack);
    return e.exitCode;
  }
}

// Run when executed as the CLI (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(^|[\\/])(cli\.js|gantry)$/.test(invoked)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
