// gantry render as a flow: gantry.yaml and the CI facts for one environment, resolved, rendered
// to deploy.yaml and svc.yaml, and written (both rendered before either is written).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ciContextFromEnv } from '../ci/context.js';
import { gitFacts } from '../ci/git.js';
import { ciVariables } from '../ci/variables.js';
import { resolveEnvironment } from '../config/resolve.js';
import type { Ctx } from '../context.js';

export interface RenderFilesInput extends RenderEnvironmentInput {
  /** --out, relative to cwd; default rendered/. */
  out?: string | undefined;
}

export interface RenderFilesResult {
  environment: string;
  namespace: string;
  image: string;
  files: string[];
  objects: { file: string; kind: string; name: string }[];
}

/** Renders one environment's manifests and writes them to <out>/ (not in a dry run). */
export async function renderFiles(ctx: Ctx, input: RenderFilesInput): Promise<RenderFilesResult> {
  const { cwd, envName } = input;
  const { view, manifests, outDir } = await ctx.logger.section('gantry_render', `gantry render --env ${envName}`, async () => {
    const { view, manifests } = await renderEnvironment(ctx, input);
    // Both files are rendered before either is written: nothing is left half-way.
    const outDir = path.resolve(cwd, input.out ?? 'rendered');
    if (!ctx.dryRun) await writeManifests(outDir, manifests);
    for (const m of manifests) {
      ctx.logger.info(
        `${ctx.dryRun ? 'would write' : 'wrote'} ${path.join(outDir, m.file)}: ${m.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
      );
    }
    return { view, manifests, outDir };
  });
  return {
    environment: envName,
    namespace: view.environment.namespace,
    image: view.image,
    files: manifests.map((m) => path.join(outDir, m.file)),
    objects: manifests.flatMap((m) => m.objects.map((o) => ({ file: m.file, kind: o.kind, name: o.metadata.name }))),
  };
}

export interface RenderEnvironmentInput {
  cwd: string;
  env: NodeJS.ProcessEnv;
  envName: string;
  values: { config?: string | undefined; set?: string[] | undefined; 'set-string'?: string[] | undefined; image?: string | undefined };
}

/** Config, CI facts, view and manifests for one environment: what render writes and deploy applies. */
export async function renderEnvironment(_ctx: Ctx, input: RenderEnvironmentInput) {
  const { cwd, env, envName, values } = input;
  // Outside CI, git is asked for the commit first; the heavy modules load while it runs.
  const variables = ciVariables(env);
  const git = variables.predefined.commitSha ? Promise.resolve({}) : gitFacts(cwd);
  const [{ loadConfig }, { buildView }, { renderManifests }, { ciSecret }] = await Promise.all([
    import('../config/load.js'),
    import('../render/view.js'),
    import('../render/render.js'),
    import('../render/secret.js'),
  ]);
  const { config } = await loadConfig({ cwd, env, file: values.config, set: values.set, setString: values['set-string'] });
  const ci = ciContextFromEnv(env, await git);
  const secret = ciSecret(env, config.app);
  const target = resolveEnvironment(config, envName, ci);
  const view = buildView({
    config,
    envName,
    ci,
    // An empty GANTRY_IMAGE counts as not given (as in gitlab/report.ts); an empty --image is refused.
    image: values.image ?? (variables.gantry.image || undefined),
    secret: secret && { name: secret.name, checksum: secret.checksum },
    target,
  });
  const manifests = await renderManifests(view, { userDir: cwd });
  return { config, ci, target, view, manifests, secret };
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
