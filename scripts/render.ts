// gantry render: write <out>/deploy.yaml and <out>/svc.yaml for one environment.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ciContextFromEnv } from '../src/ci/context.js';
import { gitFacts } from '../src/ci/git.js';
import type { Ctx } from '../src/context.js';
import { configOptions, parseStepArgs, stepTarget } from '../src/args.js';

export const usage =
  'gantry render --env <name> [--out <dir>] [--image <ref>] [--mr <iid>] [--config <file>] [--set path=value] [--set-string path=value] [-C <dir>]';

export async function render(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('render', argv, {
    ...configOptions,
    env: { type: 'string', short: 'e' },
    out: { type: 'string', short: 'o' },
    image: { type: 'string' },
    mr: { type: 'string' },
  }, usage);
  if (values.help) {
    ctx.logger.info(`usage: ${usage}`);
    return 0;
  }
  const { cwd, env, envName } = stepTarget('render', values, ctx, usage);

  const { view, manifests, outDir } = await ctx.logger.section('gantry_render', `gantry render --env ${envName}`, async () => {
    const { view, manifests } = await renderEnvironment(ctx, { cwd, env, envName, values });
    // Both files are rendered before either is written: nothing is left half-way.
    const outDir = path.resolve(cwd, values.out ?? 'rendered');
    if (!ctx.dryRun) await writeManifests(outDir, manifests);
    for (const m of manifests) {
      ctx.logger.info(`${ctx.dryRun ? 'would write' : 'wrote'} ${path.join(outDir, m.file)}: ${m.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
    }
    return { view, manifests, outDir };
  });
  process.stdout.write(
    `${JSON.stringify({
      environment: envName,
      namespace: view.environment.namespace,
      image: view.image,
      files: manifests.map((m) => path.join(outDir, m.file)),
      objects: manifests.flatMap((m) => m.objects.map((o) => ({ file: m.file, kind: o.kind, name: o.metadata.name }))),
    })}\n`,
  );
  return 0;
}

export interface RenderTarget {
  cwd: string;
  env: NodeJS.ProcessEnv;
  envName: string;
  values: { config?: string | undefined; set?: string[] | undefined; 'set-string'?: string[] | undefined; image?: string | undefined };
}

/** Config, CI facts, view and manifests for one environment: what render writes and deploy applies. */
export async function renderEnvironment(ctx: Ctx, target: RenderTarget) {
  const { cwd, env, envName, values } = target;
  // Outside CI, git is asked for the commit first; the heavy modules load while it runs.
  const git = env.CI_COMMIT_SHA ? Promise.resolve({}) : gitFacts(cwd);
  const [{ loadConfig }, { buildView }, { renderManifests }, { ciSecret }] = await Promise.all([
    import('../src/config/load.js'),
    import('../src/render/view.js'),
    import('../src/render/render.js'),
    import('../src/render/secret.js'),
  ]);
  const { config } = await loadConfig({ cwd, env, file: values.config, set: values.set, setString: values['set-string'] });
  const ci = ciContextFromEnv(env, await git);
  const secret = ciSecret(env, config.app);
  const view = buildView({ config, envName, ci, image: values.image ?? env.GANTRY_IMAGE, secret: secret && { name: secret.name, checksum: secret.checksum } });
  const manifests = await renderManifests(view, { userDir: cwd });
  return { config, ci, view, manifests, secret };
}

export async function writeManifests(outDir: string, manifests: { file: string; text: string }[]): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const m of manifests) {
    const target = path.join(outDir, m.file);
    // A temp name of this process's own: two renders into one directory (two previews deployed
    // from one checkout at once) must not rename each other's file away.
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, m.text);
    await rename(temp, target);
  }
}
