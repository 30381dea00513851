// Where a frontend command works: the config's frontend, the environment checked, the CI facts,
// the OSS key pair and store, the CDN pair, and the prefix (a preview's own under review).
// Shared by publishing, staging, activating and rolling back, so all agree on the site's place.
import type { CiContext } from '../ci/context.js';
import { ciContextFromEnv } from '../ci/context.js';
import { ciVariables } from '../ci/variables.js';
import type { EnvironmentSource } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type Ctx, maskEnvSecrets } from '../context.js';
import { gantryError } from '../errors.js';
import type { RpcCredentials } from '../oss/cdn.js';
import type { OssTarget } from '../oss/client.js';

export interface SiteTarget {
  fe: NonNullable<Config['frontend']>;
  ci: CiContext;
  target: OssTarget;
  /** The CDN key pair when frontend.cdn is set (the OSS pair unless its own is). */
  cdnCredentials: RpcCredentials | undefined;
  prefix: string;
  retries: number;
}

/**
 * The site of `input.envName`, or undefined when the config has no frontend and `ifConfigured`
 * says that is nothing to do. Everything is checked before anything outside is touched.
 */
export async function siteTarget(ctx: Ctx, input: EnvironmentSource, options: { purpose: string; ifConfigured?: boolean }): Promise<SiteTarget | undefined> {
  const { cwd, env, envName } = input;
  // The env handed in may be a copy of ctx.env (with --mr) or another one: its secrets are masked too.
  if (env !== ctx.env) maskEnvSecrets(ctx.logger, env);
  const variables = ciVariables(env);
  // Outside CI the commit comes from git (for ?v= and the release record): asked first, so
  // git runs while the modules load.
  const git = variables.predefined.commitSha ? Promise.resolve({}) : import('../ci/git.js').then((m) => m.gitFacts(cwd)).catch(() => ({}));
  const [{ loadConfigOf }, previews] = await Promise.all([import('../config/load.js'), import('../oss/previews.js')]);
  const { config } = await loadConfigOf(input);
  const fe = config.frontend;
  if (!fe && options.ifConfigured) {
    // The review component runs this for every project: a backend-only one has nothing to publish.
    ctx.logger.info('no frontend in gantry.yaml: nothing to publish (--if-configured)');
    return undefined;
  }
  if (!fe) throw gantryError('E_CONFIG_INVALID', { command: 'frontend', needs: 'frontend' });
  if (!config.environments[envName]) {
    throw gantryError('E_ENV_UNKNOWN', { envName, known: Object.keys(config.environments), offerToAdd: false });
  }
  const ci = ciContextFromEnv(env, await git);
  if (envName === 'review' && !ci.mrIid) throw gantryError('E_MR_MISSING', { needs: 'review', saysWhereCiSetsIt: false });
  const target = previews.ossTargetFromEnv(ctx, fe, options.purpose);
  const { accessKeyId, accessKeySecret } = target;
  // The CDN key pair is checked now, before anything is published (the OSS pair when unset).
  const cdnCredentials = fe.cdn ? (await import('../oss/cdn.js')).cdnCredentialsFromEnv(env, { accessKeyId, accessKeySecret }) : undefined;
  // Previews live under their own prefix, so a merge request never touches the live site.
  const prefix = envName === 'review' ? previews.previewPrefix(fe.prefix, ci.mrIid!) : previews.sitePrefix(fe.prefix);
  return { fe, ci, target, cdnCredentials, prefix, retries: variables.gantry.ossRetries };
}
