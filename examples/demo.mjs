#!/usr/bin/env node
// npm run demo: run examples/hello-node's GitLab pipeline locally, as a team's pipeline runs it,
// end to end: a committed copy of the example on branch k8s-backend, pushed to a loopback git
// server that also serves this checkout as devops/gantry at its version tag (so its
// `include: component: $CI_SERVER_FQDN/devops/gantry/...@1` resolves over git as on GitLab),
// executed by gitlab-ci-local (shell executor) with this checkout's CLI on PATH. The pipeline
// builds the image, pushes it to the local htpasswd registry, renders the manifests and deploys
// them to the local cluster with the real `gantry deploy`, using a kubeconfig CI variable that
// holds a ServiceAccount token limited to the demo namespace. Then the app is called through its
// Service, and the time of each step is printed.
// The namespace is stable (hello-demo, or GANTRY_DEMO_NAMESPACE): a second run updates the app.
import { cpSync, mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { pushProject, startComponentHost } from '../test/support/git-host.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const namespace = process.env.GANTRY_DEMO_NAMESPACE ?? 'hello-demo';
const clusterState = process.env.GANTRY_CLUSTER_STATE ?? '/var/lib/gantry-cluster';
const adminKubeconfig = path.join(clusterState, 'kubeconfig', 'admin.kubeconfig');
const timings = [];
const t0 = Date.now();
async function step(name, fn) {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings.push([name, (Date.now() - started) / 1000]);
  }
}
function fail(message) {
  console.error(`demo: ${message}`);
  printTimings();
  process.exit(1);
}
function printTimings() {
  // GANTRY_DEMO_TIMINGS=<file>: the same timings as JSON, for bench/pipeline.mjs.
  if (process.env.GANTRY_DEMO_TIMINGS) writeFileSync(process.env.GANTRY_DEMO_TIMINGS, JSON.stringify({ steps: timings, total: (Date.now() - t0) / 1000 }));
  console.error('\ndemo: timings');
  for (const [name, seconds] of timings) console.error(`  ${name.padEnd(44)} ${seconds.toFixed(1).padStart(6)} s`);
  console.error(`  ${'total'.padEnd(44)} ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s`);
}

// The cluster's kubectl with the admin kubeconfig: only to set up the deployer's access.
const cache = process.env.GANTRY_CACHE ?? '/var/cache/gantry';
const versions = existsSync(path.join(cache, 'k8s')) ? readdirSync(path.join(cache, 'k8s')).sort() : [];
if (!existsSync(adminKubeconfig) || versions.length === 0) fail(`no local cluster (${adminKubeconfig}): run npm run cluster:up`);
const kubectlBin = path.join(cache, 'k8s', versions.at(-1), 'kubectl');
const kubectl = (args, input) => $({ quiet: true, input })`${kubectlBin} --kubeconfig ${adminKubeconfig} ${args}`;

// 1. The deployer: a ServiceAccount that may manage workloads in the demo namespace only, and a
//    kubeconfig with its token, as a team keeps it in the CI variable KUBECONFIG_STAGING.
const kubeconfigFile = await step('cluster access (namespace, ServiceAccount)', async () => {
  if ((await kubectl(['--request-timeout=5s', 'get', '--raw', '/readyz']).nothrow()).exitCode !== 0)
    fail('the local cluster does not answer: run npm run cluster:up');
  const name = 'gantry-deployer';
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/managed-by': 'gantry' } } };
  const access = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name, namespace },
      rules: [{ apiGroups: ['', 'apps', 'autoscaling', 'networking.k8s.io', 'coordination.k8s.io'], resources: ['*'], verbs: ['*'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  ];
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [ns, ...access] }));
  const token = (await kubectl(['-n', namespace, 'create', 'token', name, '--duration=1h'])).stdout.trim();
  const admin = readFileSync(adminKubeconfig, 'utf8');
  const server = /server: (\S+)/.exec(admin)[1];
  const ca = /certificate-authority-data: (\S+)/.exec(admin)[1];
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gantry-demo-kube-')), 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\nclusters: [{ name: local, cluster: { server: "${server}", certificate-authority-data: "${ca}" } }]\nusers: [{ name: ${name}, user: { token: "${token}" } }]\ncontexts: [{ name: ${name}, context: { cluster: local, user: ${name}, namespace: ${namespace} } }]\ncurrent-context: ${name}\n`,
    { mode: 0o600 },
  );
  return file;
});

// 2. The project: a committed copy of the example on k8s-backend, pushed to the loopback git
//    server where Gantry's components are.
const host = await step('git server (Gantry published as devops/gantry)', () => startComponentHost());
const repo = await step('repository (copy + commit + push)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-demo-'));
  cpSync(path.join(root, 'examples', 'hello-node'), dir, { recursive: true });
  writeFileSync(path.join(dir, '.gitignore'), '.gitlab-ci-local/\nrendered/\n');
  // GANTRY_DEMO_CHANGE appends a line to server.js: a one-line source change (bench/pipeline.mjs).
  if (process.env.GANTRY_DEMO_CHANGE)
    writeFileSync(path.join(dir, 'server.js'), `${readFileSync(path.join(dir, 'server.js'), 'utf8')}\n// ${process.env.GANTRY_DEMO_CHANGE}\n`);
  const git = $({ cwd: dir, quiet: true });
  await git`git init -q -b k8s-backend`;
  await git`git add -A`;
  await git`git -c user.name=Demo -c user.email=demo@example.com commit -qm ${'hello-node demo'}`;
  pushProject(host, dir, 'acme/hello-node', 'k8s-backend');
  return dir;
});
console.error(`demo: examples/hello-node committed to ${repo} on branch k8s-backend, origin ${host.url}/acme/hello-node.git`);
const bin = mkdtempSync(path.join(tmpdir(), 'gantry-bin-'));
writeFileSync(path.join(bin, 'gantry'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, 'dist', 'src', 'cli.js')}" "$@"\n`);
chmodSync(path.join(bin, 'gantry'), 0o755);

// 3. The pipeline. The CI variables a team would set, pointed at the local registry (htpasswd
//    auth) and cluster; GANTRY_SET moves staging into the demo namespace.
// test/support/gitlab-ci-local runs gitlab-ci-local once more after its own include-download race.
const gcl = path.join(root, 'test', 'support', 'gitlab-ci-local');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB') && !k.startsWith('GANTRY')));
const auth = Object.fromEntries(
  readFileSync(path.join(clusterState, 'registry-auth.env'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/=(.*)/s).slice(0, 2)),
);
const variables = [
  'GANTRY_REGISTRY_PUSH_HOST=127.0.0.1:5001',
  'GANTRY_REGISTRY_PULL_HOST=127.0.0.1:5001',
  'GANTRY_REGISTRY_NAMESPACE=demo',
  `GANTRY_REGISTRY_USER=${auth.REGISTRY_USER}`,
  `GANTRY_REGISTRY_PASSWORD=${auth.REGISTRY_PASSWORD}`,
  `GANTRY_SET=backend.buildArgs.NODE_IMAGE=127.0.0.1:5000/gantry/node:20\nenvironments.staging.namespace=${namespace}`,
  // A GitLab "File" variable: the value is the path of a file holding the kubeconfig.
  `KUBECONFIG_STAGING=${kubeconfigFile}`,
].flatMap((v) => ['--variable', v]);
let output = '';
const run = await step('pipeline (gitlab-ci-local, all jobs)', async () => {
  const p = $({
    cwd: repo,
    env: { ...env, PATH: `${bin}:${process.env.PATH}` },
    nothrow: true,
    quiet: true,
  })`${gcl} --no-color --shell-isolation --force-shell-executor --no-artifacts-to-source --timestamps ${variables}`;
  for await (const chunk of p.stdout) {
    output += chunk;
    process.stderr.write(chunk);
  }
  return await p;
});
// gitlab-ci-local's summary: " PASS  [ 2.76 s] deploy-staging" per job.
for (const m of output.matchAll(/^\s*(?:PASS|FAIL|WARN)\s+\[\s*([^\]]+)\]\s+(\S+)/gm)) timings.push([`  job ${m[2]}`, parseDuration(m[1])]);
if (run.exitCode !== 0) fail(`the pipeline failed (exit ${run.exitCode}); job logs are in ${repo}/.gitlab-ci-local/output/`);

// 4. What the jobs handed on, and the app answering through its Service.
const report = (job, file) =>
  Object.fromEntries(
    readFileSync(path.join(repo, '.gitlab-ci-local', 'artifacts', job, '.gitlab-ci-reports', 'dotenv', file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
const built = report('gantry-build', 'gantry-build.env');
const deployed = report('deploy-staging', 'gantry-deploy.env');
console.error(`\ndemo: built and pushed ${built.GANTRY_IMAGE}`);
console.error(`demo: deployed revision ${deployed.GANTRY_REVISION} of ${deployed.GANTRY_IMAGE} to namespace ${deployed.GANTRY_NAMESPACE}`);
if (deployed.GANTRY_IMAGE !== built.GANTRY_IMAGE) fail('the deployed image is not the digest the build pushed');
if (deployed.GANTRY_ENVIRONMENT_URL) console.error(`demo: GitLab environment URL (the Ingress host): ${deployed.GANTRY_ENVIRONMENT_URL}`);
const answer = await step('first answer through the Service', async () => {
  const svc = JSON.parse((await kubectl(['-n', namespace, 'get', 'service', 'hello', '-o', 'json'])).stdout);
  const url = `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}/`;
  const until = Date.now() + 20_000;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `HTTP ${r.status} ${(await r.text()).trim()}`;
      if (r.ok) return { url, text: last };
    } catch (error) {
      last = String(error.cause ?? error);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  fail(`the app does not answer at ${url}: ${last}`);
});
console.error(`demo: the app's URL (from this host, through the Service ClusterIP): ${answer.url}`);
console.error(`demo: GET ${answer.url} -> ${answer.text}`);
await host.close();
printTimings();
console.error(`\ndemo: run it again to update ${namespace}; remove it with: test/cluster/kubectl delete namespace ${namespace}`);

function parseDuration(text) {
  // "1.23 s", "850 ms", "1 min 2 s"
  let s = 0;
  for (const m of text.matchAll(/([\d.]+)\s*(ms|min|m|s)\b/g)) s += Number(m[1]) * { ms: 0.001, s: 1, m: 60, min: 60 }[m[2]];
  return s;
}
