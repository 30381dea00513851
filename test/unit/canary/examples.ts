// The example apps' environments rendered as deploy applies them: the inputs of the canary's
// objects in the unit tests and the server-side dry runs (test/e2e/canary-objects.test.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import type { K8sObject } from '../../../src/kube/objects.js';
import { renderManifests } from '../../../src/render/render.js';
import { buildView } from '../../../src/render/view.js';
import { readSeedFiles } from '../../../src/services/seed.js';
import { ciContext, digestImage, repoRoot } from '../../support/fixtures.js';

// data-app's staging binds its services to CI variables: any URL of the right kind will do.
const serviceVariables = {
  STAGING_MYSQL_URL: 'mysql://app:pw@rm-1.mysql.rds.aliyuncs.com:3306/app',
  STAGING_DATABASE_URL: 'postgres://app:pw@pgm-1.pg.rds.aliyuncs.com:5432/app',
  STAGING_MONGODB_URI: 'mongodb://app:pw@dds-1.mongodb.rds.aliyuncs.com:3717/app',
  STAGING_REDIS_URL: 'redis://:pw@r-1.redis.rds.aliyuncs.com:6379/0',
};

export function exampleConfig(example: string, edit?: (config: Config) => void): Config {
  const file = path.join(repoRoot, 'examples', example, 'gantry.yaml');
  const config = parseConfigText(readFileSync(file, 'utf8'), file, { env: {} });
  edit?.(config);
  return config;
}

/** One environment of an example app, rendered as deploy applies it. */
export async function renderExample(example: string, envName: string, edit?: (config: Config) => void): Promise<K8sObject[]> {
  const cwd = path.join(repoRoot, 'examples', example);
  const config = exampleConfig(example, edit);
  const ci = ciContext(envName === 'review' ? { CI_MERGE_REQUEST_IID: '17' } : {});
  const view = buildView({ config, envName, ci, image: digestImage, seeds: await readSeedFiles(cwd, config), env: serviceVariables });
  return (await renderManifests(view, { userDir: cwd })).flatMap((m) => m.objects);
}
