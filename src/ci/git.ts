// Outside CI, the commit and branch come from git (one process, via zx/core: the light part).
import type { GitFacts } from './context.js';

export async function gitFacts(cwd: string): Promise<GitFacts> {
  const { $ } = await import('zx/core');
  const result = await $({ cwd, quiet: true, nothrow: true })`git rev-parse HEAD --abbrev-ref HEAD`;
  if (result.exitCode !== 0) return {};
  const [sha, branch] = result.stdout.trim().split('\n');
  return { sha, branch };
}
