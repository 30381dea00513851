// Temporary git repositories made from the example app, as a user's project would look.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './fixtures.js';
import { pushProject, type GitServer } from './git-server.js';

export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli.js');

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com', ...args], { cwd, encoding: 'utf8' }).trim();
}

/**
 * A committed copy of examples/hello-node (plus extra files), on `branch`. With `host`, it is
 * pushed to that loopback git server as `project` (default acme/hello-node) and that is its
 * origin, so its `include: component: $CI_SERVER_FQDN/devops/gantry/...` resolves there, as on
 * GitLab. Without, its origin is a GitLab host that is never contacted.
 */
export function exampleRepo(
  options: { branch?: string; host?: GitServer; project?: string; files?: Record<string, string>; remove?: string[]; from?: string } = {},
): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-repo-'));
  cpSync(options.from ?? path.join(repoRoot, 'examples', 'hello-node'), dir, { recursive: true });
  for (const name of options.remove ?? []) rmSync(path.join(dir, name), { recursive: true, force: true });
  rmSync(path.join(dir, 'rendered'), { recursive: true, force: true });
  for (const [name, text] of Object.entries(options.files ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  writeFileSync(path.join(dir, '.gitignore'), '.gitlab-ci-local/\nrendered/\nnode_modules/\n');
  git(dir, 'init', '-q', '-b', options.branch ?? 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'hello-node');
  if (options.host) {
    pushProject(options.host, dir, options.project ?? 'acme/hello-node', options.branch ?? 'main');
    return dir;
  }
  // gitlab-ci-local derives CI_PROJECT_PATH and URLs from the remote; it never contacts it.
  git(dir, 'remote', 'add', 'origin', 'git@gitlab.example.com:acme/hello-node.git');
  git(dir, 'symbolic-ref', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/main');
  return dir;
}

/** A directory holding a `gantry` command that runs this checkout's built CLI. */
export function gantryBinDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-bin-'));
  const shim = path.join(dir, 'gantry');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  chmodSync(shim, 0o755);
  return dir;
}
