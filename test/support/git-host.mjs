// A GitLab-like git host on loopback for the tests and `npm run demo` (plain JS so the demo can
// use it too; types in git-host.d.mts): git's own smart-HTTP server (`git
// http-backend`, as CGI) serving bare repositories as http://127.0.0.1:<port>/<group>/<project>.git.
// It serves this checkout as devops/gantry with its version tag, so a project's
// `include: component: $CI_SERVER_FQDN/devops/gantry/<name>@<major>` is resolved by
// gitlab-ci-local over git exactly as GitLab resolves it (templates/<name>.yml at the newest tag
// matching the version), and the user's own project is pushed there as its `origin`.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function git(cwd, ...args) {
  return execFileSync('git', ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Starts the server in a process of its own; its repositories live in a temp dir removed by close(). */
/** @returns {Promise<import('./git-host.d.mts').GitServer>} */
export async function startGitServer() {
  const root = mkdtempSync(path.join(tmpdir(), 'gantry-git-server-'));
  const log = path.join(root, 'requests.log');
  writeFileSync(log, '');
  const child = spawn(process.execPath, [path.join(repoRoot, 'test', 'support', 'git-http-server.mjs'), root, log], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A parent that exits without close() (a failed demo, a killed test) takes the server along.
  const stop = () => child.kill('SIGTERM');
  process.once('exit', stop);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const port = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const listening = /^listening (\d+)$/.exec(line);
        if (listening) resolve(Number(listening[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`the git server exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    root,
    requests: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    async close() {
      process.off('exit', stop);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A bare repository <group>/<project>.git on the server (created when missing), as GitLab creates a project. */
export function createProject(server, projectPath) {
  const bare = path.join(server.root, `${projectPath}.git`);
  if (!existsSync(bare)) {
    mkdirSync(bare, { recursive: true });
    git(bare, 'init', '-q', '--bare');
    // What a partial clone (--filter=tree:0) and its lazy fetches need, as on GitLab.
    git(bare, 'config', 'uploadpack.allowFilter', 'true');
    git(bare, 'config', 'uploadpack.allowAnySHA1InWant', 'true');
    git(bare, 'config', 'http.receivepack', 'true');
  }
  return bare;
}

/**
 * Pushes the repository in `dir` (all branches and tags) to <group>/<project> on the server over
 * HTTP and makes that its `origin`, with origin/HEAD at `defaultBranch`, as a clone from GitLab has.
 */
export function pushProject(server, dir, projectPath, defaultBranch = 'main') {
  createProject(server, projectPath);
  const remote = `${server.url}/${projectPath}.git`;
  if (git(dir, 'remote').split('\n').includes('origin')) git(dir, 'remote', 'set-url', 'origin', remote);
  else git(dir, 'remote', 'add', 'origin', remote);
  // --force: tests push many unrelated copies of one example as the same project.
  git(dir, 'push', '-q', '--force', '--all', 'origin');
  git(dir, 'push', '-q', '--force', '--tags', 'origin');
  git(dir, 'fetch', '-q', 'origin');
  git(dir, 'symbolic-ref', 'refs/remotes/origin/HEAD', `refs/remotes/origin/${defaultBranch}`);
  return remote;
}

/** package.json's version of this checkout. */
export const gantryVersion = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;

/**
 * This checkout's files (tracked and new, as in the working tree: what is being tested; not
 * node_modules or dist) as one fresh commit on `main` in a new temp directory, as a runner clones it.
 */
export function checkoutSnapshot(message = `gantry ${gantryVersion}`) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-checkout-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(path.join(repoRoot, file))) continue; // deleted, not yet committed
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    copyFileSync(path.join(repoRoot, file), path.join(dir, file));
  }
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return dir;
}

/**
 * The checkout's snapshot as devops/gantry on the server, tagged with package.json's version, as
 * Gantry's release publishes it: `component: <host>/devops/gantry/<name>@<major>` resolves to it.
 */
export function publishGantry(server, tags = [gantryVersion]) {
  const dir = checkoutSnapshot();
  try {
    for (const tag of tags) git(dir, 'tag', tag);
    pushProject(server, dir, 'devops/gantry');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A loopback git server with this checkout published as devops/gantry: what a test's projects include components from. */
export async function startComponentHost() {
  const server = await startGitServer();
  try {
    publishGantry(server);
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}
