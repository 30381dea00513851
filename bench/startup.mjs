#!/usr/bin/env node
// Startup benchmark: wall time of `gantry --version` and `gantry render` as a user runs them
// (a fresh node process each time), in a committed copy of examples/hello-node.
// Usage: npm run bench   (or: node bench/startup.mjs [runs])   Goals: --version < 150 ms,
// render < 500 ms (median). Exits 1 when a goal is missed.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const runs = Number(process.argv[2] ?? 20);

const repo = mkdtempSync(path.join(tmpdir(), 'gantry-bench-'));
cpSync(path.join(root, 'examples', 'hello-node'), repo, { recursive: true });
const git = (...a) => execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', ...a], { cwd: repo });
git('init', '-q');
git('add', '-A');
git('commit', '-qm', 'bench');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB')));
const ciEnv = {
  ...env,
  CI: 'true',
  GITLAB_CI: 'true',
  CI_COMMIT_SHA: 'f'.repeat(40),
  CI_COMMIT_SHORT_SHA: 'ffffffff',
  CI_PIPELINE_URL: 'https://gitlab.example.com/p/1',
};

function time(args, environment) {
  const samples = [];
  for (let i = 0; i < runs + 2; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, env: environment, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`gantry ${args.join(' ')} failed: ${r.stderr}`);
    if (i >= 2) samples.push(ms); // the first two warm the disk cache
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], p90: samples[Math.floor(samples.length * 0.9)], min: samples[0] };
}

const baseline = time(['--version'], env); // measured twice: node itself is part of the number
const cases = [
  { name: 'gantry --version', args: ['--version'], env, goal: 150 },
  { name: 'gantry render --env staging (in CI: commit from CI_COMMIT_SHA)', args: ['render', '--env', 'staging', '--out', 'out'], env: ciEnv, goal: 500 },
  { name: 'gantry render --env production (laptop: commit from git)', args: ['render', '--env', 'production', '--out', 'out'], env, goal: 500 },
];
const nodeOnly = (() => {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
})();
void baseline;

console.log(`node ${process.version}, ${cpus().length} cores, ${runs} runs each; bare \`node -e 0\` median ${nodeOnly.toFixed(0)} ms\n`);
console.log('| command | median ms | p90 ms | min ms | goal ms | ok |');
console.log('| --- | ---: | ---: | ---: | ---: | --- |');
let failed = false;
for (const c of cases) {
  const t = time(c.args, c.env);
  const ok = t.median < c.goal;
  failed ||= !ok;
  console.log(`| ${c.name} | ${t.median.toFixed(0)} | ${t.p90.toFixed(0)} | ${t.min.toFixed(0)} | ${c.goal} | ${ok ? 'yes' : 'NO'} |`);
}
rmSync(repo, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
