// The local cluster from test/cluster (npm run cluster:up): where it is, kubectl against it,
// and least-privilege kubeconfigs for a namespace. Tests fail (never skip) when it is down.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDotenv, repoRoot } from './fixtures.js';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export const clusterState = process.env.GANTRY_CLUSTER_STATE ?? '/var/lib/gantry-cluster';
export const adminKubeconfig = path.join(clusterState, 'kubeconfig', 'admin.kubeconfig');
export const registry = '127.0.0.1:5000';
export const authRegistry = '127.0.0.1:5001';
export const nodeBaseImage = `${registry}/gantry/node:20`;

/** The htpasswd registry's generated credentials (test/cluster/lib/docker.sh writes them). */
export function registryAuth(): { user: string; password: string } {
  const env = parseDotenv(readFileSync(path.join(clusterState, 'registry-auth.env'), 'utf8'));
  return { user: env.REGISTRY_USER!, password: env.REGISTRY_PASSWORD! };
}

export function k8sBinDir(): string {
  const cache = process.env.GANTRY_CACHE ?? '/var/cache/gantry';
  const versions = existsSync(path.join(cache, 'k8s')) ? readdirSync(path.join(cache, 'k8s')).sort() : [];
  if (versions.length === 0) throw new Error(`no Kubernetes binaries in ${cache}/k8s: run npm run cluster:up`);
  return path.join(cache, 'k8s', versions[versions.length - 1]!);
}

/** Throws a clear error unless the cluster answers. */
export function requireCluster(): void {
  if (!existsSync(adminKubeconfig)) throw new Error(`no cluster: ${adminKubeconfig} is missing; run npm run cluster:up`);
  const r = spawnSync(path.join(k8sBinDir(), 'kubectl'), ['--kubeconfig', adminKubeconfig, '--request-timeout=5s', 'get', '--raw', '/readyz'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`the local cluster does not answer (${r.stderr.trim()}); run npm run cluster:up`);
}

export function kubectl(args: string[], options: { kubeconfig?: string; input?: string } = {}): string {
  return execFileSync(path.join(k8sBinDir(), 'kubectl'), ['--kubeconfig', options.kubeconfig ?? adminKubeconfig, ...args], {
    encoding: 'utf8',
    input: options.input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** kubectl that returns the exit code and output instead of throwing. */
export function kubectlResult(args: string[], options: { kubeconfig?: string } = {}) {
  const r = spawnSync(path.join(k8sBinDir(), 'kubectl'), ['--kubeconfig', options.kubeconfig ?? adminKubeconfig, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A kubeconfig for a ServiceAccount that may manage workloads in `namespace` only (the rights
 * a deploy job needs), authenticated by a short-lived token, as CI would hold it.
 */
export function namespacedKubeconfig(
  namespace: string,
  name = 'gantry-deployer',
  rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = [
    { apiGroups: ['', 'apps', 'batch', 'autoscaling', 'networking.k8s.io', 'coordination.k8s.io'], resources: ['*'], verbs: ['*'] },
  ],
): string {
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name, namespace },
          rules,
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name, namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name, namespace }],
        },
      ],
    }),
  });
  return tokenKubeconfig(namespace, name);
}

/** A kubeconfig that authenticates as the ServiceAccount `namespace/name` with a one-hour token. */
function tokenKubeconfig(namespace: string, name: string): string {
  const token = kubectl(['-n', namespace, 'create', 'token', name, '--duration=1h']).trim();
  const admin = readFileSync(adminKubeconfig, 'utf8');
  const server = /server: (\S+)/.exec(admin)![1];
  const ca = /certificate-authority-data: (\S+)/.exec(admin)![1];
  const file = path.join(tmpdir(), `gantry-${namespace}-${name}.kubeconfig`);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: "${server}", certificate-authority-data: "${ca}" } }]
users: [{ name: ${name}, user: { token: "${token}" } }]
contexts: [{ name: ${name}, context: { cluster: local, user: ${name}, namespace: ${namespace} } }]
current-context: ${name}
`,
    { mode: 0o600 },
  );
  return file;
}

/**
 * The preview deployer of examples/rbac/review-deployer.yaml (a ClusterRole that may create and
 * delete namespaces and manage workloads in them, not admin), applied with names unique to
 * `run`; `remove()` deletes what was applied.
 */
export function reviewDeployerKubeconfig(run: string): { file: string; remove(): void } {
  const text = readFileSync(path.join(repoRoot, 'examples', 'rbac', 'review-deployer.yaml'), 'utf8')
    .replaceAll('gantry-review-deployer', `gantry-review-deployer-${run}`)
    .replaceAll('gantry-system', `gantry-system-${run}`);
  kubectl(['apply', '-f', '-'], { input: text });
  // The authorizer sees a new binding a moment later: wait until it does.
  const as = `system:serviceaccount:gantry-system-${run}:gantry-review-deployer-${run}`;
  const until = Date.now() + 15_000;
  while (kubectlResult(['auth', 'can-i', 'create', 'namespaces', '--as', as]).stdout.trim() !== 'yes') {
    if (Date.now() > until) throw new Error(`${as} still may not create namespaces 15 s after examples/rbac/review-deployer.yaml was applied`);
    execFileSync('sleep', ['0.2']);
  }
  const file = tokenKubeconfig(`gantry-system-${run}`, `gantry-review-deployer-${run}`);
  return {
    file,
    remove() {
      rmSync(file, { force: true });
      kubectlResult(['delete', 'clusterrolebinding,clusterrole', `gantry-review-deployer-${run}`, '--ignore-not-found']);
      kubectlResult(['delete', 'namespace', `gantry-system-${run}`, '--ignore-not-found', '--wait=false']);
    },
  };
}

export const clusterRun = process.env.GANTRY_CLUSTER_RUN ?? '/run/gantry-cluster';

function apiServerReady(timeoutSeconds = 2): boolean {
  const r = spawnSync(path.join(k8sBinDir(), 'kubectl'), ['--kubeconfig', adminKubeconfig, `--request-timeout=${timeoutSeconds}s`, 'get', '--raw', '/readyz'], {
    encoding: 'utf8',
  });
  return r.status === 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops kube-apiserver and starts it again with the same command line, the way
 * test/cluster/lib/common.sh runs it (setsid, its pid file, its log), to test what clients do
 * across an API server restart. Others share the cluster: the outage is kept short (TERM, KILL
 * after 3 s, started again at once) and the server is always started again, even when stopping
 * it failed half-way. Resolves once /readyz answers; returns how long it did not answer.
 */
export async function restartApiServer(): Promise<{ downMs: number }> {
  const pidFile = path.join(clusterRun, 'kube-apiserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a, i, all) => a !== '' || i < all.length - 1);
  if (argv[0] !== 'kube-apiserver') throw new Error(`pid ${pid} from ${pidFile} is not kube-apiserver: ${argv[0]}`);
  const env = { ...process.env, PATH: `${k8sBinDir()}:${process.env.PATH ?? ''}` };
  const stoppedAt = Date.now();
  try {
    // A graceful stop keeps open watches (silent) until they drain, which can take a minute:
    // 3 s of it is enough to test clients against that, then KILL.
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 30 && alive(pid); i++) await sleepMs(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && alive(pid); i++) await sleepMs(100);
  } finally {
    if (!alive(pid)) {
      // The same start as start_daemon: the child writes its own pid, then becomes the server
      // (argv[0] must stay "kube-apiserver": the Kubernetes binary is multi-call).
      const log = openSync(path.join(clusterState, 'logs', 'kube-apiserver.log'), 'a');
      try {
        const child = spawn('setsid', ['bash', '-c', 'echo $$ > "$0"; exec "$@"', pidFile, ...argv], { env, detached: true, stdio: ['ignore', log, log] });
        child.unref();
      } finally {
        closeSync(log);
      }
    }
    const deadline = Date.now() + 90_000;
    while (!apiServerReady() && Date.now() < deadline) await sleepMs(250);
  }
  if (!apiServerReady(5))
    throw new Error('kube-apiserver did not come back within 90 s: see /var/lib/gantry-cluster/logs/kube-apiserver.log, or run npm run cluster:up');
  return { downMs: Date.now() - stoppedAt };
}

/** The pid of a pod's (first) container on this host: its network namespace is the pod's. */
export function podContainerPid(namespace: string, pod: string): number {
  const containerId = kubectl(['-n', namespace, 'get', 'pod', pod, '-o', 'jsonpath={.status.containerStatuses[0].containerID}']).replace(
    /^containerd:\/\//,
    '',
  );
  const line = execFileSync('ctr', ['-n', 'k8s.io', 'task', 'ls'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith(containerId));
  const pid = Number(line?.split(/\s+/)[1]);
  if (!pid) throw new Error(`no task for container ${containerId} of ${namespace}/${pod}`);
  return pid;
}

/**
 * A security group that drops a TCP port, as a cloud database's does for an address not in its
 * whitelist: an iptables DROP rule inside the pod's own network namespace (the test cluster's CNI
 * enforces no NetworkPolicy). The rule dies with the pod; the returned function removes it sooner.
 * The host's own rules are not touched.
 */
export function dropPortInPod(namespace: string, pod: string, port: number): () => void {
  const pid = podContainerPid(namespace, pod);
  const iptables = (op: '-A' | '-D') =>
    execFileSync('nsenter', ['-t', String(pid), '-n', 'iptables', op, 'INPUT', '-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
  iptables('-A');
  return () => iptables('-D');
}
