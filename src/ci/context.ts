// GitLab CI_* variables -> a typed CiContext. Outside CI the same fields come from git (see
// scripts/), so every step sees one shape whether it runs in a pipeline or on a laptop.
import { slugify } from '../names/names.js';
import { ciVariables } from './variables.js';

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
  const { predefined: ci, local } = ciVariables(env);
  const sha = ci.commitSha || git.sha || '';
  const branch = ci.commitBranch || ci.mergeRequestSourceBranchName || ci.commitRefName || git.branch || '';
  return {
    inCi: ci.gitlabCi === 'true' || ci.ci === 'true',
    sha,
    shortSha: ci.commitShortSha || sha.slice(0, 8),
    branch,
    refSlug: ci.commitRefSlug || slugify(branch),
    mrIid: ci.mergeRequestIid || undefined,
    pipelineUrl: ci.pipelineUrl || '',
    jobUrl: ci.jobUrl || '',
    projectPath: ci.projectPath || '',
    projectUrl: ci.projectUrl || '',
    actor: ci.gitlabUserLogin || local.user || '',
    environmentName: ci.environmentName || undefined,
  };
}
