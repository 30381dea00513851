// gantry build as a flow: the app's source -> an image in the registry, tagged with the short
// commit and the branch slug, built once and handed to later jobs by digest (dotenv report
// GANTRY_IMAGE).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ciContextFromEnv } from '../ci/context.js';
import { gitFacts } from '../ci/git.js';
import { ciVariables } from '../ci/variables.js';
import type { ConfigSource } from '../config/load.js';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { imageTagProblem } from './ref.js';

export interface BuildImageInput extends Omit<ConfigSource, 'env'> {
  /** --print-dockerfile: only say which Dockerfile would be built (the repository's or a generated one). */
  printDockerfile: boolean;
  /** --dotenv, relative to cwd; default gantry-build.env. */
  dotenv?: string | undefined;
  /** --no-push: build and tag only. */
  noPush: boolean;
}

export type BuildImageResult =
  | { status: 'dockerfile'; dockerfile: string }
  | { status: 'dry-run' }
  | { status: 'built'; report: { tags: string[]; pushed: false } }
  | { status: 'pushed'; report: { image: string; digest: string; tags: string[]; dotenv: string } };

export async function buildImage(ctx: Ctx, input: BuildImageInput): Promise<BuildImageResult> {
  const { cwd } = input;
  const [{ loadConfig }, { detectNodeApp, generateDockerfile }, { defaultPullHost, imagePath }] = await Promise.all([
    import('../config/load.js'),
    import('../image/dockerfile.js'),
    import('../image/acr.js'),
  ]);
  const { config } = await loadConfig({ cwd, env: ctx.env, file: input.config, set: input.set, setString: input.setString });
  const { backend } = config;
  const context = path.resolve(cwd, backend.context);
  const dockerfilePath = path.resolve(cwd, backend.dockerfile);
  const own = existsSync(dockerfilePath);
  const dockerfile = own
    ? await readFile(dockerfilePath, 'utf8')
    : generateDockerfile(await detectNodeApp(context), { baseImage: backend.baseImage, port: backend.port });
  if (input.printDockerfile) return { status: 'dockerfile', dockerfile };

  const registry = config.registry;
  if (!registry) {
    throw gantryError('E_CONFIG_INVALID', { command: 'build', needs: 'registry' });
  }
  const variables = ciVariables(ctx.env);
  const user = variables.gantry.registryUser;
  const password = variables.gantry.registryPassword;
  if (Boolean(user) !== Boolean(password)) {
    throw gantryError('E_REGISTRY_CREDENTIALS_PARTIAL', {});
  }
  const ci = ciContextFromEnv(ctx.env, variables.predefined.commitSha ? {} : await gitFacts(cwd));
  if (!ci.shortSha) throw gantryError('E_COMMIT_MISSING', { canPassImage: false });
  // Both become image tags: a value Docker would refuse fails here, before anything is built.
  for (const [field, text] of [
    ['the commit tag (CI_COMMIT_SHORT_SHA, else CI_COMMIT_SHA)', ci.shortSha],
    ['the branch tag (CI_COMMIT_REF_SLUG)', ci.refSlug],
  ] as const) {
    const why = text ? imageTagProblem(text) : undefined;
    if (text && why) throw gantryError('E_IMAGE_REF', { field, text, why });
  }
  const repository = `${registry.pushHost}/${imagePath(registry, config.app)}`;
  const tags = [...new Set([ci.shortSha, ci.refSlug].filter(Boolean))].map((t) => `${repository}:${t}`);
  const dotenvFile = path.resolve(cwd, input.dotenv ?? 'gantry-build.env');

  if (ctx.dryRun) {
    ctx.logger.info(
      `would build ${own ? dockerfilePath : 'a generated Dockerfile'} in ${context} as ${tags.join(', ')}${input.noPush ? '' : `, push, and write ${dotenvFile}`}`,
    );
    return { status: 'dry-run' };
  }

  // A registry that accepts connections and never answers would only show after the build,
  // at login or push: asked first (seconds, by the request deadline), when the image will be pushed.
  if (!input.noPush) await (await import('../image/registry-check.js')).checkRegistryAnswers(ctx, registry.pushHost);
  const { openDocker, login, push, pushedDigest } = await import('../image/docker.js');
  const docker = await openDocker(ctx);
  try {
    if (user && password)
      await ctx.logger.section('gantry_login', `docker login ${registry.pushHost}`, () => login(ctx, docker, registry.pushHost, user, password));

    // The branch's previous image seeds the layer cache on a runner that has never built it
    // (a docker:dind service starts empty for every job); a daemon that has it skips the pull.
    const cacheFrom = `${repository}:${ci.refSlug}`;
    const local = (await docker.run(['image', 'inspect', '--format', '{{.Id}}', cacheFrom])).exitCode === 0;
    const cached = local || (!input.noPush && (await docker.run(['pull', '--quiet', cacheFrom])).exitCode === 0);

    await ctx.logger.section('gantry_build', `docker build ${tags[0]}`, async () => {
      const args = ['build', '--file', own ? dockerfilePath : '-', ...tags.flatMap((t) => ['--tag', t])];
      if (cached) args.push('--cache-from', cacheFrom);
      for (const [k, v] of Object.entries(backend.buildArgs)) args.push('--build-arg', `${k}=${v}`);
      args.push('--label', `org.opencontainers.image.revision=${ci.sha}`);
      if (ci.projectUrl) args.push('--label', `org.opencontainers.image.source=${ci.projectUrl}`);
      args.push(context);
      const started = Date.now();
      const r = await docker.run(args, { input: own ? undefined : dockerfile, stream: true });
      if (r.exitCode !== 0) {
        throw gantryError('E_BUILD_FAILED', { dockerfile: own ? path.relative(cwd, dockerfilePath) : undefined, step: failingStep(ctx.logger.mask(r.output)) });
      }
      ctx.logger.info(`built in ${((Date.now() - started) / 1000).toFixed(1)} s${cached ? ` (cache from ${cacheFrom})` : ''}`);
    });

    if (input.noPush) {
      return { status: 'built', report: { tags, pushed: false } };
    }
    await ctx.logger.section('gantry_push', `docker push ${repository}`, async () => {
      for (const tag of tags) await push(ctx, docker, tag, registry.pushHost);
    });
    const digest = await pushedDigest(docker, tags[0]!, repository);
    const image = `${defaultPullHost(registry.pushHost, registry.pullHost)}/${imagePath(registry, config.app)}@${digest}`;
    await writeFile(dotenvFile, `GANTRY_IMAGE=${image}\nGANTRY_IMAGE_DIGEST=${digest}\nGANTRY_IMAGE_TAG=${tags[0]}\n`);
    ctx.logger.info(`pushed ${tags.join(', ')}\nimage for deploys: ${image} (written to ${path.relative(cwd, dotenvFile)})`);
    return { status: 'pushed', report: { image, digest, tags, dotenv: dotenvFile } };
  } finally {
    await docker.dispose();
  }
}

/** The output of the step that failed: from its "Step N/M" header (or the last 30 lines). */
function failingStep(output: string): string[] {
  const lines = output.trimEnd().split('\n');
  let start = -1;
  lines.forEach((line, i) => {
    if (/^Step \d+\/\d+ :/.test(line) || /^#\d+ \[/.test(line)) start = i;
  });
  const from = start >= 0 ? Math.max(start, lines.length - 40) : Math.max(0, lines.length - 30);
  return lines.slice(from).map((l) => `  ${l}`);
}
