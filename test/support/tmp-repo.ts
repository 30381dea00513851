// Temporary git repositories made from the example app, as a user's project would look.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './fixtures.js';

export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli.js');

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com', ...args], { cwd, encoding: 'utf8' }).trim();
}

/** A committed copy of examples/hello-node (plus extra files), on `branch`. */
export function exampleRepo(options: { branch?: string; withCiTemplates?: boolean; files?: Record<string, string>; remove?: string[]; from?: string } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-repo-'));
  cpSync(options.from ?? path.join(repoRoot, 'examples', 'hello-node'), dir, { recursive: true });
  for (const name of options.remove ?? []) rmSync(path.join(dir, name), { recursive: true, force: true });
  rmSync(path.join(dir, 'rendered'), { recursive: true, force: true });
  if (options.withCiTemplates) cpSync(path.join(repoRoot, 'ci-templates'), path.join(dir, 'ci-templates'), { recursive: true });
  for (const [name, text] of Object.entries(options.files ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  writeFileSync(path.join(dir, '.gitignore'), '.gitlab-ci-local/\nrendered/\nnode_modules/\n');
  git(dir, 'init', '-q', '-b', options.branch ?? 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'hello-node');
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
