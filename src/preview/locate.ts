// Where a merge request's previews are, worked out without needing a checkout: `gantry stop`
// runs with GIT_STRATEGY none, the scheduled `gantry cleanup-previews` with one. Flags (the
// review component's inputs) win over gantry.yaml, which is read only when it is there.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ciVariables } from '../ci/variables.js';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';
import { frontendTarget, type FrontendTarget } from '../config/resolve.js';
import type { Config } from '../config/schema.js';
import { kubeconfigVariableName } from '../names/names.js';

/** The flags that locate previews; an empty one (a CI component passes every input) is not given. */
export interface PreviewFlags {
  config?: string | undefined;
  app?: string | undefined;
  kubeconfig?: string | undefined;
  bucket?: string | undefined;
  region?: string | undefined;
  endpoint?: string | undefined;
  prefix?: string | undefined;
}

export interface PreviewLocation {
  /** --app, GANTRY_APP, gantry.yaml's app, else CI_PROJECT_NAME. */
  app: string;
  /** gantry.yaml, when it was read and its review environment is this app's. */
  config: Config | undefined;
  kubeconfigVariable: string;
  frontend: FrontendTarget | undefined;
}

/**
 * Reads gantry.yaml when there is one (--config, GANTRY_CONFIG, else gantry.yaml / gantry.yml in
 * cwd; an empty value is unset) and combines it with the flags and CI variables. noApp is the
 * command's own error for an app nothing names; it is thrown before the bucket is looked at.
 */
export async function locatePreviews(
  ctx: Ctx,
  input: { cwd: string; env: NodeJS.ProcessEnv; flags: PreviewFlags },
  noApp: () => GantryError,
): Promise<PreviewLocation> {
  const { cwd, env, flags } = input;
  const { predefined, gantry } = ciVariables(env);
  const configFile = flags.config || gantry.config || ['gantry.yaml', 'gantry.yml'].find((f) => existsSync(path.join(cwd, f)));
  let app = flags.app || gantry.app || undefined; // an empty GANTRY_APP (the classic include declares it) is unset
  let config: Config | undefined;
  let kubeconfig = flags.kubeconfig;
  let frontend: FrontendTarget | undefined;
  if (configFile) {
    const { loadConfig } = await import('../config/load.js');
    const loaded = (await loadConfig({ cwd, env, file: configFile })).config;
    app ??= loaded.app;
    const review = loaded.environments.review;
    if (review) {
      if (app === loaded.app) config = loaded;
      kubeconfig ??= review.kubeconfig;
    }
    frontend = frontendTarget(loaded);
    ctx.logger.info(`read ${configFile}`);
  }
  app ??= predefined.projectName || undefined;
  if (!app) throw noApp();
  return {
    app,
    config,
    kubeconfigVariable: kubeconfigVariableName('review', kubeconfig),
    frontend: await previewFrontend(flags, env, frontend, Boolean(configFile)),
  };
}

/**
 * The bucket that holds the frontend previews, if any: flags (the component's inputs) win over
 * the CI variables (GANTRY_FRONTEND_*, GANTRY_SET frontend.*), which gantry.yaml has already
 * taken in when there is one, and gantry.yaml comes last.
 */
export async function previewFrontend(
  values: { bucket?: string | undefined; region?: string | undefined; endpoint?: string | undefined; prefix?: string | undefined },
  env: NodeJS.ProcessEnv,
  fromConfig: FrontendTarget | undefined,
  hadConfig: boolean,
): Promise<FrontendTarget | undefined> {
  const o: Record<string, string | undefined> = hadConfig ? {} : (await import('../config/load.js')).frontendOverridesFromEnv(env);
  const base = fromConfig ?? (o.bucket ? { bucket: o.bucket } : undefined);
  const bucket = values.bucket ?? base?.bucket;
  if (!bucket) return undefined;
  const pick = (key: 'region' | 'endpoint' | 'prefix') => values[key] ?? fromConfig?.[key] ?? o[key];
  const frontend = {
    bucket,
    region: pick('region'),
    endpoint: pick('endpoint'),
    prefix: pick('prefix'),
    pathStyle: fromConfig?.pathStyle ?? (o.pathStyle === undefined ? undefined : o.pathStyle === 'true'),
  };
  if (!frontend.region) throw gantryError('E_BUCKET_REGION_MISSING', { bucket });
  return frontend;
}
