// The local cluster from test/cluster (npm run cluster:up): where it is, kubectl against it,
// and least-privilege kubeconfigs for a namespace. Tests fail (never skip) when it is down.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDotenv } from './fixtures.js';

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
  const r = spawnSync(path.join(k8sBinDir(), 'kubectl'), ['--kubeconfig', adminKubeconfig, '--request-timeout=5s', 'get', '--raw', '/readyz'], { encoding: 'utf8' });
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
export function namespacedKubeconfig(namespace: string, name = 'gantry-deployer'): string {
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
          rules: [
            { apiGroups: ['', 'apps', 'autoscaling', 'networking.k8s.io', 'coordination.k8s.io'], resources: ['*'], verbs: ['*'] },
          ],
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
