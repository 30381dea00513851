#!/usr/bin/env node
// Benchmark for issue #14: a merge request preview with a MySQL service and its seed, from the
// pipeline's start to the app's first answer that holds the seed rows, split by step. Goal: under
// 60 s warm on this machine. Baseline in the same run: the same app without services and without
// a migration, so the database's share is plain.
//
// Each run is the MR pipeline as a team runs it: a committed copy of examples/data-app whose
// .gitlab-ci.yml includes Gantry's `review` component from the loopback git server (as `npm run
// demo` does), run by gitlab-ci-local as a merge_request_event pipeline with its own MR number:
// gantry-build-review (build + push to the htpasswd registry 127.0.0.1:5001), then review
// (`gantry deploy --env review` into <app>-mr-<iid>). The bench reads the job log as it streams,
// stamps each line, and splits the deploy by its section headers and result lines. From the
// moment the deploy says the app is serving, it polls GET / on the app Service's ClusterIP from
// this host until the answer holds the seed rows (baseline: until it answers 200). Then it runs
// `gantry stop --env review --mr N` (timed), which deletes the namespace and waits until it is gone.
//
//   node bench/preview-data.mjs [warm-runs]    (default 3; needs dist/ and npm run cluster:up)
//
// Runs: cold (a new app name: new image repository, an image digest no node has; first preview),
// then the warm runs (same commit, so the same image, a new MR number each), the data app and the
// baseline alternating. Exit code 1 when the warm median misses the goal.
// Raw results: $TMPDIR/gantry-bench-preview-data.json.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { pushProject, startComponentHost } from '../test/support/git-host.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const warmRuns = Number(process.argv[2] ?? 3);
const goalSeconds = 60;
const clusterState = process.env.GANTRY_CLUSTER_STATE ?? '/var/lib/gantry-cluster';
const adminKubeconfig = path.join(clusterState, 'kubeconfig', 'admin.kubeconfig');
const kubectlPath = path.join(root, 'test', 'cluster', 'kubectl');
const cli = path.join(root, 'dist', 'src', 'cli.js');
// Names in the shared cluster carry this prefix (GANTRY_BENCH_PREFIX), so they are easy to find and remove.
const prefix = process.env.GANTRY_BENCH_PREFIX ?? 'gtb14-';
const id = Math.floor(Date.now() / 1000)
  .toString(36)
  .slice(-5);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const kubectl = (args) => spawnSync(kubectlPath, args, { encoding: 'utf8' });
const auth = Object.fromEntries(
  readFileSync(path.join(clusterState, 'registry-auth.env'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/=(.*)/s).slice(0, 2)),
);
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|KUBECONFIG)/.test(k)));
const bin = mkdtempSync(path.join(tmpdir(), 'gantry-bin-'));
writeFileSync(path.join(bin, 'gantry'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
chmodSync(path.join(bin, 'gantry'), 0o755);

// The CI/CD variables a team would set; KUBECONFIG_STAGING is a "File" variable (a path). The
// admin kubeconfig stands in for a review deployer that may create and delete namespaces.
const variables = {
  GANTRY_REGISTRY_PUSH_HOST: '127.0.0.1:5001',
  GANTRY_REGISTRY_PULL_HOST: '127.0.0.1:5001',
  GANTRY_REGISTRY_NAMESPACE: `${prefix}bench`,
  GANTRY_REGISTRY_USER: auth.REGISTRY_USER,
  GANTRY_REGISTRY_PASSWORD: auth.REGISTRY_PASSWORD,
  GANTRY_SET: 'backend.buildArgs.NODE_IMAGE=127.0.0.1:5000/gantry/node:20',
  KUBECONFIG_STAGING: adminKubeconfig,
};

/** A committed copy of examples/data-app: MySQL only (`data`), or no service and no migration (`base`). */
function project(host, kind) {
  const app = `${prefix}${kind}-${id}`;
  const dir = mkdtempSync(path.join(tmpdir(), `gantry-bench-${kind}-`));
  cpSync(path.join(root, 'examples', 'data-app'), dir, { recursive: true, filter: (p) => !p.includes('node_modules') });
  const doc = YAML.parseDocument(readFileSync(path.join(dir, 'gantry.yaml'), 'utf8'));
  doc.set('app', app);
  for (const s of ['pg', 'mongo', 'cache']) doc.deleteIn(['services', s]);
  for (const env of ['review', 'staging', 'production']) for (const s of ['pg', 'mongo', 'cache']) doc.deleteIn(['environments', env, 'services', s]);
  if (kind === 'base') {
    doc.delete('services');
    doc.deleteIn(['backend', 'migrate']);
    doc.deleteIn(['backend', 'migrateTimeout']);
    for (const env of ['review', 'staging', 'production']) doc.deleteIn(['environments', env, 'services']);
  }
  writeFileSync(path.join(dir, 'gantry.yaml'), doc.toString());
  // A new package.json description per bench run: the dependency layer is built anew, so the cold
  // image's digest is one no node has pulled.
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  pkg.description = `${pkg.description} (bench ${id} ${kind})`;
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    path.join(dir, '.gitlab-ci.yml'),
    `stages: [build, review]\ninclude:\n  - component: $CI_SERVER_FQDN/devops/gantry/review@1\n    inputs:\n      app: ${app}\n      kubeconfig: KUBECONFIG_STAGING\n      frontend: false\n`,
  );
  writeFileSync(path.join(dir, '.gitignore'), '.gitlab-ci-local/\nrendered/\nnode_modules/\n');
  const git = (...args) => spawnSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], { cwd: dir, encoding: 'utf8' });
  git('init', '-q', '-b', 'feature-preview');
  git('add', '-A');
  git('commit', '-qm', `${kind} preview bench`);
  pushProject(host, dir, `acme/${app}`, 'feature-preview');
  return { kind, app, dir };
}

// "review > text": gitlab-ci-local's job prefix; GitLab section markers and colours removed.
const escapes = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');
const clean = (line) => line.replace(escapes, '').split('\r').at(-1).trim();

async function firstAnswer(p, namespace, data, until) {
  const svcs = JSON.parse(kubectl(['-n', namespace, 'get', 'services', '-o', 'json']).stdout).items;
  const svc = svcs.find((s) => s.metadata.name === p.app) ?? svcs.find((s) => !s.metadata.name.startsWith('mysql'));
  const url = `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}/`;
  let last = '';
  let tries = 0;
  while (Date.now() < until) {
    tries++;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const text = await r.text();
      last = `HTTP ${r.status} ${text.trim().slice(0, 300)}`;
      if (r.ok && (!data || /hello from the mysql seed/.test(text))) return { at: Date.now(), url, text: last, tries };
    } catch (error) {
      last = String(error.cause ?? error);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no successful answer at ${url}: ${last}`);
}

async function run(p, label, iid) {
  const namespace = `${p.app}-mr-${iid}`;
  const vars = Object.entries({ ...variables, CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: String(iid) }).flatMap(([k, v]) => [
    '--variable',
    `${k}=${v}`,
  ]);
  rmSync(path.join(p.dir, '.gitlab-ci-local'), { recursive: true, force: true });
  const t0 = Date.now();
  const child = spawn(
    path.join(root, 'test', 'support', 'gitlab-ci-local'),
    [
      '--no-color',
      '--shell-isolation',
      '--force-shell-executor',
      '--no-artifacts-to-source',
      '--ignore-predefined-vars',
      'CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_IID',
      ...vars,
    ],
    { cwd: p.dir, env: { ...cleanEnv, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines = []; // [ms since t0, job, text]
  let answer;
  let buffered = '';
  const onData = (chunk) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const raw = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const m = /^(\S+)\s+>\s?(.*)$/.exec(clean(raw));
      const entry = [Date.now() - t0, m ? m[1] : '', m ? clean(m[2]) : clean(raw)];
      lines.push(entry);
      if (process.env.GANTRY_BENCH_VERBOSE) process.stderr.write(`${(entry[0] / 1000).toFixed(1).padStart(6)} ${entry[1]} ${entry[2]}\n`);
      // The Service exists once the deploy says the app is serving: poll from then on.
      if (!answer && entry[1] === 'review' && / is serving in /.test(entry[2]))
        answer = firstAnswer(p, namespace, p.kind === 'data', Date.now() + 60_000).catch((e) => e);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise((r) => child.on('close', r));
  const pipelineEnd = Date.now() - t0;
  if (code !== 0 || !answer) {
    const tail = lines
      .slice(-60)
      .map((l) => `${l[1]} ${l[2]}`)
      .join('\n');
    throw new Error(`${label}: the pipeline failed (exit ${code}); logs in ${p.dir}/.gitlab-ci-local/output/\n${tail}`);
  }
  const got = await answer;
  if (got instanceof Error) throw new Error(`${label}: ${got.message}`);

  // Split by the stamped lines of the two jobs.
  const at = (job, re, after = 0) => lines.find((l) => l[0] >= after && l[1] === job && re.test(l[2]));
  const need = (job, re, after = 0) => {
    const l = at(job, re, after);
    if (!l) throw new Error(`${label}: no line ${re} in job ${job}`);
    return l;
  };
  const buildFirst = lines.find((l) => l[1] === 'gantry-build-review');
  const buildLast = lines.findLast((l) => l[1] === 'gantry-build-review');
  const reviewFirst = lines.find((l) => l[1] === 'review');
  const ns = need('review', /^(== )?namespace /);
  const serving = need('review', / is serving in /);
  const rolled = at('review', /rolled out in ([\d.]+) s/);
  const built = at('gantry-build-review', /built in ([\d.]+) s/);
  const s = (a, b) => (b - a) / 1000;
  const steps = {
    'pipeline start → build job start (gitlab-ci-local, component include)': s(0, buildFirst[0]),
    'build job (image build + push)': s(buildFirst[0], buildLast[0]),
    '  of which docker build': built ? Number(/built in ([\d.]+) s/.exec(built[2])[1]) : NaN,
    'between the jobs (dotenv, review job start, gantry start, render)': s(buildLast[0], ns[0]),
  };
  if (p.kind === 'data') {
    const gate = need('review', /services and migration before the rollout/, ns[0]);
    const ready = need('review', /^service mysql .* is ready \(([\d.]+) s\)/, gate[0]);
    const reach = need('review', /^every service answers from .* \(([\d.]+) s\)/, ready[0]);
    const migrated = need('review', /succeeded in ([\d.]+) s/, reach[0]);
    Object.assign(steps, {
      'deploy: namespace + apply (lease, secrets, dry run, instance objects)': s(ns[0], gate[0]),
      'deploy: services ready (MariaDB up, seed file run by the image)': s(gate[0], ready[0]),
      'deploy: reachability check (a pod of the app image)': s(ready[0], reach[0]),
      'deploy: migration Job': s(reach[0], migrated[0]),
      'deploy: app apply + rollout': s(migrated[0], serving[0]),
    });
  } else {
    Object.assign(steps, { 'deploy: namespace + apply': s(ns[0], (rolled ?? serving)[0] - (rolled ? Number(/([\d.]+) s/.exec(rolled[2])[1]) * 1000 : 0)) });
    Object.assign(steps, { 'deploy: app rollout': rolled ? Number(/rolled out in ([\d.]+) s/.exec(rolled[2])[1]) : NaN });
  }
  Object.assign(steps, {
    'first successful answer after "serving"': s(serving[0], got.at - t0),
  });
  const total = s(0, got.at - t0);
  const extra = {
    reviewJobStart: s(0, reviewFirst[0]),
    pipelineEnd: s(0, pipelineEnd),
    rolledOutSeconds: rolled ? Number(/rolled out in ([\d.]+) s/.exec(rolled[2])[1]) : undefined,
    answer: got.text,
    pollTries: got.tries,
  };
  // Which images the node pulled for this run and which it already had (the kubelet's events).
  const events = JSON.parse(kubectl(['-n', namespace, 'get', 'events', '-o', 'json']).stdout).items;
  extra.images = [
    ...new Set(
      events
        .filter((e) => e.reason === 'Pulled')
        .map(
          (e) =>
            `${e.involvedObject.name.replace(/-[a-z0-9]{5}$/, '')}: ${/already present/.test(e.message) ? 'already present' : 'pulled'} ${/image "([^"]+)"/.exec(e.message)?.[1] ?? ''}`,
        ),
    ),
  ];
  // Where the migration Job's time goes, by the API server's clock (whole seconds): the container's
  // start and end, and the Job's completion time, against the Job's creation.
  if (p.kind === 'data') {
    const jobs = JSON.parse(kubectl(['-n', namespace, 'get', 'jobs', '-o', 'json']).stdout).items.filter((j) => /-migrate-/.test(j.metadata.name));
    const pods = JSON.parse(kubectl(['-n', namespace, 'get', 'pods', '-o', 'json']).stdout).items;
    const job = jobs[0];
    const pod = job && pods.find((x) => x.metadata.labels?.['job-name'] === job.metadata.name);
    const t = (iso) => (iso ? (Date.parse(iso) - Date.parse(job.metadata.creationTimestamp)) / 1000 : NaN);
    const c = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    extra.migrationJob = job
      ? { containerStarted: t(c?.startedAt), containerFinished: t(c?.finishedAt), jobCompleted: t(job.status?.completionTime) }
      : 'deleted before it could be read';
  }
  // The stop, as stop-review runs it (here from the project directory, which has gantry.yaml).
  const stopStarted = Date.now();
  const stop = spawnSync(process.execPath, [cli, 'stop', '--env', 'review', '--mr', String(iid)], {
    cwd: p.dir,
    env: { ...cleanEnv, KUBECONFIG_STAGING: adminKubeconfig },
    encoding: 'utf8',
  });
  const stopSeconds = s(stopStarted, Date.now());
  if (stop.status !== 0) throw new Error(`${label}: gantry stop failed (exit ${stop.status}):\n${stop.stderr.slice(-2000)}`);
  const gone = /namespace \S+ is gone \(([\d.]+) s\)/.exec(stop.stderr);
  const result = {
    label,
    kind: p.kind,
    app: p.app,
    iid,
    namespace,
    steps,
    total,
    ...extra,
    stopSeconds,
    stopGoneSeconds: gone ? Number(gone[1]) : NaN,
    load: load(),
  };
  console.error(
    `${label}: total ${total.toFixed(1)} s, pipeline ${extra.pipelineEnd.toFixed(1)} s, stop ${stopSeconds.toFixed(1)} s; ${Object.entries(steps)
      .map(([k, v]) => `${k.split(' (')[0]} ${v.toFixed(1)}`)
      .join(
        '; ',
      )}\n  images: ${extra.images.join('; ')}${extra.migrationJob ? `\n  migration Job (s after its creation): ${JSON.stringify(extra.migrationJob)}` : ''}`,
  );
  return result;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const startLoad = load();
console.error(`load ${startLoad}; ${cpus().length} cores; bench id ${id}`);
if (kubectl(['--request-timeout=5s', 'get', '--raw', '/readyz']).status !== 0) throw new Error('the local cluster does not answer: run npm run cluster:up');
// A worktree whose node_modules is a symlink: .gitignore's `node_modules/` does not match a
// symlink, so the snapshot of this checkout would try to copy it as a file. Ignored for that call.
const exclude = path.join(bin, 'exclude');
writeFileSync(exclude, 'node_modules\n');
Object.assign(process.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.excludesFile', GIT_CONFIG_VALUE_0: exclude });
const host = await startComponentHost();
for (const k of ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0']) delete process.env[k];
const results = [];
const created = [];
const projects = [];
try {
  const data = project(host, 'data');
  const base = project(host, 'base');
  projects.push(data, base);
  let iid = 1;
  for (const p of [data, base]) {
    created.push(`${p.app}-mr-${iid}`);
    results.push(await run(p, `cold ${p.kind}`, iid++));
  }
  for (let i = 1; i <= warmRuns; i++) {
    for (const p of [data, base]) {
      created.push(`${p.app}-mr-${iid}`);
      results.push(await run(p, `warm ${i} ${p.kind}`, iid++));
    }
  }
} finally {
  await host.close();
  // gantry stop removed each namespace; a failed run may have left one.
  for (const ns of created) if (kubectl(['get', 'namespace', ns]).status === 0) kubectl(['delete', 'namespace', ns, '--wait=false']);
  // The local images the builds left (the registry keeps its copy). The project copies stay
  // when a run failed: their .gitlab-ci-local/output/ holds the job logs.
  for (const p of projects) {
    const tags = spawnSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', `127.0.0.1:5001/${variables.GANTRY_REGISTRY_NAMESPACE}/${p.app}`], {
      encoding: 'utf8',
    });
    const names = (tags.stdout ?? '').split('\n').filter(Boolean);
    if (names.length > 0) spawnSync('docker', ['rmi', ...names], { stdio: 'ignore' });
  }
  if (results.length === projects.length * (warmRuns + 1)) for (const p of projects) rmSync(p.dir, { recursive: true, force: true });
  rmSync(bin, { recursive: true, force: true });
}
const file = path.join(tmpdir(), 'gantry-bench-preview-data.json');
writeFileSync(file, JSON.stringify({ id, startLoad, endLoad: load(), results }, null, 2));

const table = (kind) => {
  const cold = results.find((r) => r.kind === kind && r.label.startsWith('cold'));
  const warm = results.filter((r) => r.kind === kind && r.label.startsWith('warm'));
  const row = (name, get) => {
    const xs = warm.map(get);
    return `| ${name.startsWith('  ') ? `&nbsp;&nbsp;${name.trim()}` : name} | ${get(cold).toFixed(1)} | ${median(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(', ')} |`;
  };
  return [
    '| step | cold s | warm median s | warm runs |',
    '| --- | ---: | ---: | --- |',
    ...Object.keys(cold.steps).map((name) => row(name, (r) => r.steps[name])),
    row('**total: pipeline start → first successful answer**', (r) => r.total),
    row('(pipeline end, gitlab-ci-local exit)', (r) => r.pipelineEnd),
    row('`gantry stop`: namespace deleted and gone', (r) => r.stopSeconds),
  ];
};
const warmData = median(results.filter((r) => r.kind === 'data' && r.label.startsWith('warm')).map((r) => r.total));
const warmBase = median(results.filter((r) => r.kind === 'base' && r.label.startsWith('warm')).map((r) => r.total));
console.log(
  [
    `Load at the start ${startLoad}, at the end ${load()}; ${cpus().length} cores; ${warmRuns} warm runs; raw results in ${file}.`,
    '',
    'With a MySQL service (seed file, migration):',
    '',
    ...table('data'),
    '',
    'Baseline, the same app without services and migration:',
    '',
    ...table('base'),
    '',
    `The database costs ${(warmData - warmBase).toFixed(1)} s warm (median ${warmData.toFixed(1)} s against ${warmBase.toFixed(1)} s).`,
    `Goal: warm under ${goalSeconds} s: ${warmData < goalSeconds ? 'met' : 'MISSED'} (${warmData.toFixed(1)} s).`,
  ].join('\n'),
);
process.exitCode = warmData < goalSeconds ? 0 : 1;
