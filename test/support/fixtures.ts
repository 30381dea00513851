// Shared inputs for tests: a fixed CI context (so renders are byte-stable) and config loading.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ciContextFromEnv, type CiContext } from '../../src/ci/context.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixture = (...p: string[]) => path.join(repoRoot, 'test', 'fixtures', ...p);

export const ciEnv = {
  GITLAB_CI: 'true',
  CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
  CI_COMMIT_SHORT_SHA: '01234567',
  CI_COMMIT_BRANCH: 'k8s-backend',
  CI_PIPELINE_URL: 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
  CI_JOB_URL: 'https://gitlab.example.com/acme/shop/-/jobs/99',
  CI_PROJECT_PATH: 'acme/shop',
  GITLAB_USER_LOGIN: 'alice',
};

export function ciContext(extra: Record<string, string> = {}): CiContext {
  return ciContextFromEnv({ ...ciEnv, ...extra });
}

export function fullConfig(): Config {
  return parseConfigText(readFileSync(fixture('gantry.full.yaml'), 'utf8'), 'gantry.full.yaml', { env: {} });
}

export const digestImage = `crpi-abc123.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop@sha256:${'ab'.repeat(32)}`;

/** KEY=value lines (a dotenv report or an env file) as a map. */
export function parseDotenv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
}
