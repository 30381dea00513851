// GitLab CI_* variables -> a typed CiContext. Outside CI the same fields come from git (see
// scripts/), so every step sees one shape whether it runs in a pipeline or on a laptop.
import { slugify } from '../names/names.js';

export interface CiContext {
  inCi: boolean;
  sha: string;
  shortSha: string;
  branch: string;
  refSlug: string;
  mrIid: string | undefined;
  pipelineUrl: string;
  jobUrl: string;
  projectPath: string;
  projectUrl: string;
  /** Who or what triggered this run: the GitLab user, else the local user. */
  actor: string;
  environmentName: string | undefined;
}

export interface GitFacts {
  sha?: string;
  branch?: string;
}

export function ciContextFromEnv(env: NodeJS.ProcessEnv, git: GitFacts = {}): CiContext {
  const sha = env.CI_COMMIT_SHA || git.sha || '';
  const branch =
    env.CI_COMMIT_BRANCH || env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME || env.CI_COMMIT_REF_NAME || git.branch || '';
  return {
    inCi: env.GITLAB_CI === 'true' || env.CI === 'true',
    sha,
    shortSha: env.CI_COMMIT_SHORT_SHA || sha.slice(0, 8),
    branch,
    refSlug: env.CI_COMMIT_REF_SLUG || slugify(branch),
    mrIid: env.CI_MERGE_REQUEST_IID || undefined,
    pipelineUrl: env.CI_PIPELINE_URL || '',
    jobUrl: env.CI_JOB_URL || '',
    projectPath: env.CI_PROJECT_PATH || '',
    projectUrl: env.CI_PROJECT_URL || '',
    actor: env.GITLAB_USER_LOGIN || env.USER || '',
    environmentName: env.CI_ENVIRONMENT_NAME || undefined,
  };
}
