#!/usr/bin/env node
// npm run demo: run examples/hello-node's GitLab pipeline locally, as a team's pipeline runs
// it: a committed copy of the example with Gantry's ci-templates, executed by gitlab-ci-local
// (shell executor) with this checkout's CLI on PATH. Prints each job's result, the rendered
// manifests and the time each step took.
import { cpSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const step = (name, since) => console.error(`  ${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);

const repo = mkdtempSync(path.join(tmpdir(), 'gantry-demo-'));
cpSync(path.join(root, 'examples', 'hello-node'), repo, { recursive: true });
cpSync(path.join(root, 'ci-templates'), path.join(repo, 'ci-templates'), { recursive: true });
writeFileSync(path.join(repo, '.gitignore'), '.gitlab-ci-local/\nrendered/\n');
const bin = mkdtempSync(path.join(tmpdir(), 'gantry-bin-'));
writeFileSync(path.join(bin, 'gantry'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, 'dist', 'src', 'cli.js')}" "$@"\n`);
chmodSync(path.join(bin, 'gantry'), 0o755);

const git = $({ cwd: repo, quiet: true });
await git`git init -q -b k8s-backend`;
await git`git add -A`;
await git`git -c user.name=Demo -c user.email=demo@example.com commit -qm ${'hello-node demo'}`;
await git`git remote add origin git@gitlab.example.com:acme/hello-node.git`;
console.error(`demo: examples/hello-node committed to ${repo} on branch k8s-backend`);

const t1 = Date.now();
const gcl = path.join(root, 'node_modules', '.bin', 'gitlab-ci-local');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB')));
// The CI variables a team would set, pointed at the local registry (htpasswd auth).
const auth = Object.fromEntries(readFileSync('/var/lib/gantry-cluster/registry-auth.env', 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
const variables = [
  'GANTRY_REGISTRY_PUSH_HOST=127.0.0.1:5001',
  'GANTRY_REGISTRY_PULL_HOST=127.0.0.1:5001',
  'GANTRY_REGISTRY_NAMESPACE=demo',
  `GANTRY_REGISTRY_USER=${auth.REGISTRY_USER}`,
  `GANTRY_REGISTRY_PASSWORD=${auth.REGISTRY_PASSWORD}`,
  'GANTRY_SET=backend.buildArgs.NODE_IMAGE=127.0.0.1:5000/gantry/node:20',
].flatMap((v) => ['--variable', v]);
const run = await $({ cwd: repo, env: { ...env, PATH: `${bin}:${process.env.PATH}` }, nothrow: true, stdio: ['ignore', 'inherit', 'inherit'] })`${gcl} --no-color --shell-isolation --no-artifacts-to-source ${variables}`;
console.error('\ndemo: timings');
step('pipeline (gitlab-ci-local, all jobs)', t1);

if (run.exitCode !== 0) {
  console.error(`demo: the pipeline failed (exit ${run.exitCode}); job logs are in ${repo}/.gitlab-ci-local/output/`);
  process.exit(1);
}
const built = readFileSync(path.join(repo, '.gitlab-ci-local', 'artifacts', 'gantry-build', '.gitlab-ci-reports', 'dotenv', 'gantry-build.env'), 'utf8');
console.error(`demo: built and pushed ${/GANTRY_IMAGE=(.*)/.exec(built)[1]}`);
for (const env of ['staging', 'production']) {
  const dir = path.join(repo, '.gitlab-ci-local', 'artifacts', `gantry-render-${env}`, 'rendered', env);
  const kinds = ['deploy.yaml', 'svc.yaml'].map((f) => `${f}: ${[...readFileSync(path.join(dir, f), 'utf8').matchAll(/^kind: (\w+)/gm)].map((m) => m[1]).join(', ')}`);
  console.error(`demo: ${env} manifests in ${dir}\n    ${kinds.join('\n    ')}`);
}
step('total', t0);
console.error('\ndemo: applying to the local cluster and rollout tracking arrive with issues #6 and #7.');
