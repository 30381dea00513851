#!/usr/bin/env node
// Benchmark for issue #7: push-to-live of examples/hello-node, warm, split by step. Each round
// is `npm run demo`'s pipeline (examples/demo.mjs: gitlab-ci-local runs the example's
// .gitlab-ci.yml on branch k8s-backend: build + push to the local registry, render, deploy to
// the local cluster) after a one-line change to server.js, then the first answer of the new
// version through the Service. Goal: under 60 s on this 2-core machine.
//
//   node bench/pipeline.mjs [rounds]     (default 3, after one warm-up round; needs dist/ and npm run cluster:up)
//
// Exit code 1 when the median total misses the goal.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 3);
const goalSeconds = 60;
const file = path.join(tmpdir(), `gantry-bench-pipeline-${process.pid}.json`);
const namespace = `gt-bench-pipeline-${process.pid}`;

function round(label) {
  const r = spawnSync(process.execPath, [path.join(root, 'examples', 'demo.mjs')], {
    env: { ...process.env, GANTRY_DEMO_NAMESPACE: namespace, GANTRY_DEMO_CHANGE: `${label} ${Date.now()}`, GANTRY_DEMO_TIMINGS: file },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`demo round ${label} failed:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.error(
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; warm-up round`,
);
round('warm-up');
const results = [];
for (let i = 1; i <= rounds; i++) {
  const r = round(`round ${i}`);
  results.push(r);
  console.error(`round ${i}: ${r.total.toFixed(1)} s`);
}
const names = results[0].steps.map(([name]) => name);
const lines = [
  `Rounds: ${rounds} after a warm-up, each after a one-line change to server.js; load at the end ${loadavg()[0].toFixed(2)}.`,
  '',
  '| step | median s | samples |',
  '| --- | ---: | --- |',
  ...names.map((name) => {
    const xs = results.map((r) => r.steps.find(([n]) => n === name)?.[1] ?? NaN);
    return `| ${name.trim().startsWith('job') ? `&nbsp;&nbsp;${name.trim()}` : name} | ${median(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(', ')} |`;
  }),
  `| **total, push to live** | **${median(results.map((r) => r.total)).toFixed(1)}** | ${results.map((r) => r.total.toFixed(1)).join(', ')} |`,
  '',
  `Goal: under ${goalSeconds} s: ${median(results.map((r) => r.total)) < goalSeconds ? 'met' : 'MISSED'}.`,
];
console.log(lines.join('\n'));
spawnSync(path.join(root, 'test', 'cluster', 'kubectl'), ['delete', 'namespace', namespace, '--wait=false'], { stdio: 'ignore' });
process.exitCode = median(results.map((r) => r.total)) < goalSeconds ? 0 : 1;
