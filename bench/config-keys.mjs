#!/usr/bin/env node
// Config-check benchmark (issue #13, item 8): wall time of `gantry validate` on a copy of
// examples/hello-node whose backend.env has 20k, 40k and 300k keys, for the tree before the fix
// (d83c374, built into a temp dir) and this tree's dist/, side by side in one run.
// Usage: npm run --silent build && node bench/config-keys.mjs [--base <commit>] [--limit <seconds>]
// A run past --limit (default 120 s) is stopped and reported as "> limit". Goal: 300k keys
// validate in under 5 s, or are refused by the documented size limit (1 MiB) with exit 2.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
};
const base = arg('--base', 'd83c374');
const limitSeconds = Number(arg('--limit', '120'));
const sizes = [10000, 20000, 38000, 40000, 300000];

const work = mkdtempSync(path.join(tmpdir(), 'gantry-bench-keys-'));
try {
  // The old tree: its sources at the base commit, this checkout's node_modules, tsc only.
  const oldTree = path.join(work, 'old');
  execFileSync('mkdir', ['-p', oldTree]);
  execFileSync('sh', ['-c', `git -C "${root}" archive ${base} | tar -x -C "${oldTree}"`]);
  symlinkSync(path.join(root, 'node_modules'), path.join(oldTree, 'node_modules'));
  process.stderr.write(`building ${base} in ${oldTree} ...\n`);
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: oldTree, stdio: 'inherit' });
  const trees = [
    { name: `old (${base})`, cli: path.join(oldTree, 'dist', 'src', 'cli.js') },
    { name: 'new (this tree)', cli: path.join(root, 'dist', 'src', 'cli.js') },
  ];

  const repo = path.join(work, 'repo');
  cpSync(path.join(root, 'examples', 'hello-node'), repo, { recursive: true });
  const original = readFileSync(path.join(repo, 'gantry.yaml'), 'utf8');
  const files = sizes.map((n) => {
    const keys = Array.from({ length: n }, (_, i) => `    KEY_${i}: value-${i}`).join('\n');
    const file = path.join(repo, `gantry-${n}.yaml`);
    writeFileSync(file, original.replace('    LOG_LEVEL: info', `    LOG_LEVEL: info\n${keys}`));
    return { n, file, bytes: statSync(file).size };
  });

  const run = (cli, file) =>
    new Promise((resolve) => {
      const start = process.hrtime.bigint();
      // bash's time gives the CPU seconds too: wall time alone says little on a busy machine.
      const command = `TIMEFORMAT='%U %S'; time "${process.execPath}" "${cli}" validate --config "${file}" >/dev/null`;
      const child = spawn('bash', ['-c', command], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      let stopped = false;
      const timer = setTimeout(() => {
        stopped = true;
        process.kill(-child.pid, 'SIGKILL'); // bash and the gantry it started
      }, limitSeconds * 1000);
      child.on('close', (code) => {
        clearTimeout(timer);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const errorCode = /error (E_[A-Z_]+)/.exec(stderr)?.[1];
        const cpu = /^([0-9.]+) ([0-9.]+)\s*$/m.exec(stderr);
        const cpuText = cpu ? `, CPU ${(Number(cpu[1]) + Number(cpu[2])).toFixed(1)} s` : '';
        resolve(stopped ? `> ${limitSeconds} s (stopped)` : `${seconds.toFixed(1)} s${cpuText}, exit ${code}${errorCode ? ` ${errorCode}` : ''}`);
      });
    });

  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');
  const rows = [];
  for (const f of files) {
    const cells = [];
    for (const tree of trees) {
      process.stderr.write(`${tree.name}: ${f.n} keys ...\n`);
      cells.push(await run(tree.cli, f.file));
    }
    rows.push(`| ${f.n.toLocaleString('en')} | ${(f.bytes / 1024 / 1024).toFixed(2)} MiB | ${cells.join(' | ')} |`);
  }
  console.log(
    `${new Date().toISOString().slice(0, 10)}, load average at the start ${load}, at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')}\n`,
  );
  console.log(`| env keys | file | ${trees.map((t) => t.name).join(' | ')} |`);
  console.log(`| ---: | ---: | ${trees.map(() => '---').join(' | ')} |`);
  for (const row of rows) console.log(row);
} finally {
  rmSync(work, { recursive: true, force: true });
}
