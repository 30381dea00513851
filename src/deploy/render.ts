// gantry render as a flow: gantry.yaml and the CI facts for one environment, resolved, rendered
// to deploy.yaml and svc.yaml, and written (both rendered before either is written).
import { constants } from 'node:fs';
import { access, copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ciContextFromEnv } from '../ci/context.js';
import { gitFacts } from '../ci/git.js';
import { ciVariables } from '../ci/variables.js';
import { resolveEnvironment } from '../config/resolve.js';
import type { Ctx } from '../context.js';
import { gantryError, isGantryError } from '../errors.js';

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
  const { outDir, out } = outDirOf(cwd, input.out);
  const { view, manifests } = await ctx.logger.section('gantry_render', `gantry render --env ${envName}`, async () => {
    // A bad --out is found before the config is even read, in a dry run too.
    await checkOutDir(outDir, out);
    const { view, manifests } = await renderEnvironment(ctx, input);
    // Both files are rendered before either is written: nothing is left half-way.
    if (!ctx.dryRun) await writeManifests(outDir, manifests, out);
    for (const m of manifests) {
      ctx.logger.info(
        `${ctx.dryRun ? 'would write' : 'wrote'} ${path.join(outDir, m.file)}: ${m.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
      );
    }
    return { view, manifests };
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
  /** #14: the URLs of services bound to a Secret, read by deploy (they name the connection Secret). */
  serviceUrls?: Record<string, string> | undefined;
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
  const { readSeedFiles } = await import('../services/seed.js');
  const seeds = await readSeedFiles(cwd, config);
  const view = buildView({
    config,
    envName,
    ci,
    // An empty GANTRY_IMAGE counts as not given (as in gitlab/report.ts); an empty --image is refused.
    image: values.image ?? (variables.gantry.image || undefined),
    secret: secret && { name: secret.name, checksum: secret.checksum },
    target,
    seeds,
    env,
    serviceUrls: input.serviceUrls,
  });
  const manifests = await renderManifests(view, { userDir: cwd });
  return { config, ci, target, view, manifests, secret };
}

/**
 * Whether files can be created in `outDir`: it, or its nearest existing ancestor when it is still
 * to be made, is a writable directory. Only looks (nothing is created), so a dry run checks too.
 */
/** Where --out puts the manifests (default rendered/); "" would be the repository root itself: refused, as a path that names no directory. */
export function outDirOf(cwd: string, out: string | undefined): { outDir: string; out: string } {
  if (out === '') throw gantryError('E_OUT_PATH', { out: '', dir: cwd, problem: 'empty' });
  return { outDir: path.resolve(cwd, out ?? 'rendered'), out: out ?? 'rendered' };
}

export async function checkOutDir(outDir: string, out: string = outDir): Promise<void> {
  let dir = outDir;
  for (;;) {
    try {
      if (!(await stat(dir)).isDirectory()) throw gantryError('E_OUT_PATH', { out, dir, problem: 'not-directory' });
      break;
    } catch (error) {
      if (isGantryError(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      const parent = path.dirname(dir);
      // ENOTDIR: a parent is a file; going up finds it and says so.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === dir) throw gantryError('E_OUT_PATH', { out, dir, problem: 'not-writable', reason: code });
      dir = parent;
    }
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw gantryError('E_OUT_PATH', { out, dir, problem: 'not-writable', reason: (error as NodeJS.ErrnoException).code });
  }
}

/**
 * Writes both manifests or neither: every check first (a writable directory, no target that is a
 * directory), then each file to a temp name beside its target, then the renames. On any failure
 * the temp files, and a directory made for them, are removed, and the error names --out.
 */
export async function writeManifests(outDir: string, manifests: { file: string; text: string }[], out: string = outDir): Promise<void> {
  await checkOutDir(outDir, out);
  const targets = manifests.map((m) => path.join(outDir, m.file));
  for (const target of targets) {
    const info = await stat(target).catch(() => undefined);
    if (info && !info.isFile()) throw gantryError('E_OUT_PATH', { out, dir: outDir, problem: 'target-not-file', target });
  }
  let created: string | undefined;
  const temps: string[] = [];
  // The files being replaced, kept until both renames are done: a rename that fails after the
  // first one succeeded puts the first file back, so the pair is never half new.
  const backups: (string | undefined)[] = [];
  let renamed = 0;
  try {
    created = await mkdir(outDir, { recursive: true });
    // A temp name of this process's own: two renders into one directory (two previews deployed
    // from one checkout at once) must not rename each other's file away.
    const own = `${process.pid}.${randomBytes(4).toString('hex')}`;
    for (const [i, m] of manifests.entries()) {
      const temp = `${targets[i]}.${own}.tmp`;
      temps.push(temp);
      await writeFile(temp, m.text, { flag: 'wx' });
    }
    for (const target of targets) {
      const backup = `${target}.${own}.old.tmp`;
      backups.push(
        (await copyFile(target, backup, constants.COPYFILE_EXCL).then(
          () => true,
          () => false,
        ))
          ? backup
          : undefined,
      );
    }
    for (const [i, temp] of temps.entries()) {
      await rename(temp, targets[i]!);
      renamed++;
    }
  } catch (error) {
    await Promise.all(temps.slice(renamed).map((t) => rm(t, { force: true })));
    for (let i = 0; i < renamed; i++) {
      const backup = backups[i];
      await (backup ? rename(backup, targets[i]!) : rm(targets[i]!, { force: true })).catch(() => undefined);
    }
    if (created) await rm(created, { recursive: true, force: true });
    throw gantryError('E_OUT_PATH', { out, dir: outDir, problem: 'not-writable', reason: (error as NodeJS.ErrnoException).code ?? String(error) });
  } finally {
    await Promise.all(backups.map((b) => (b ? rm(b, { force: true }) : undefined)));
  }
}
