// What a kubeconfig may do, asked of the API server itself: /version for reachability, and a
// SelfSubjectAccessReview per verb and resource a deploy uses. Every authenticated user may
// create SelfSubjectAccessReviews (ClusterRole system:basic-user), so this works with the
// least-privilege credentials a deploy job holds, and it changes nothing.
import { AuthorizationV1Api, VersionApi, type KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { apiConfiguration } from './client.js';
import { kubeError } from './failures.js';

export interface Permission {
  group: string;
  resource: string;
  subresource?: string;
  verbs: string[];
  /** Cluster-scoped (namespaces): asked without a namespace. */
  clusterScoped?: boolean;
  /** Missing it is a warning, not a failure (deploy works without it when the namespace exists). */
  optional?: boolean;
  why: string;
}

const ALL = ['create', 'patch', 'get', 'list', 'watch', 'delete'];

/** What `gantry deploy` (and rollback, scale, history) does in an environment's namespace. */
export const DEPLOY_PERMISSIONS: Permission[] = [
  { group: '', resource: 'configmaps', verbs: ALL, why: 'env ConfigMaps: applied, pruned' },
  { group: '', resource: 'secrets', verbs: ALL, why: 'the registry pull secret and the K8S_SECRET_* Secret' },
  { group: '', resource: 'services', verbs: ALL, why: 'svc.yaml' },
  { group: 'apps', resource: 'deployments', verbs: [...ALL, 'update'], why: 'deploy.yaml, rollback, scale' },
  { group: 'apps', resource: 'replicasets', verbs: ['get', 'list', 'watch'], why: 'rollout tracking and revision history' },
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch'], why: 'rollout tracking' },
  { group: '', resource: 'pods', subresource: 'log', verbs: ['get'], why: "a failing container's log" },
  { group: '', resource: 'events', verbs: ['get', 'list', 'watch'], why: 'the Warning events of a failed rollout' },
  { group: 'autoscaling', resource: 'horizontalpodautoscalers', verbs: ALL, why: 'autoscale' },
  { group: 'networking.k8s.io', resource: 'ingresses', verbs: ALL, why: 'domain' },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['create', 'get', 'update', 'delete'],
    why: 'the deploy lease (one deploy per environment at a time)',
  },
  {
    group: '',
    resource: 'namespaces',
    verbs: ['create'],
    clusterScoped: true,
    optional: true,
    why: 'creating the namespace on the first deploy (and every preview namespace)',
  },
];

/** #14: what services and migrations add, by what the environment uses. */
export function servicePermissions(uses: { instances: boolean; jobs: boolean; services: boolean }): Permission[] {
  return [
    ...(uses.services || uses.jobs
      ? [{ group: '', resource: 'pods', verbs: ['create', 'delete'], why: 'the reachability check of the services (a short-lived pod)' }]
      : []),
    ...(uses.instances ? [{ group: 'apps', resource: 'statefulsets', verbs: ALL, why: 'service instances (services.yaml)' }] : []),
    ...(uses.jobs ? [{ group: 'batch', resource: 'jobs', verbs: ['create', 'get', 'list', 'watch', 'delete'], why: 'backend.migrate and seed commands' }] : []),
  ];
}

export function resourceName(p: Pick<Permission, 'group' | 'resource' | 'subresource'>): string {
  return `${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.group ? `.${p.group}` : ''}`;
}

export interface PermissionResult {
  permission: Permission;
  allowed: string[];
  denied: { verb: string; reason: string }[];
}

/** GET /version: the API server answers and accepts the credentials. One attempt, bounded by ctx.deadlines (or timeoutMs). */
export async function serverVersion(ctx: Ctx, kc: KubeConfig, options: { timeoutMs?: number } = {}): Promise<{ server: string; version: string }> {
  const { server, config } = apiConfiguration(ctx, kc, options.timeoutMs ?? ctx.deadlines.requestMs);
  try {
    const info = await new VersionApi(config).getCode();
    return { server, version: info.gitVersion };
  } catch (error) {
    throw kubeError('get /version', error, server);
  }
}

/** One SelfSubjectAccessReview per verb of every permission, in parallel. */
export async function checkPermissions(
  ctx: Ctx,
  kc: KubeConfig,
  namespace: string,
  permissions: Permission[] = DEPLOY_PERMISSIONS,
  options: { timeoutMs?: number } = {},
): Promise<PermissionResult[]> {
  const { server, config } = apiConfiguration(ctx, kc, options.timeoutMs ?? ctx.deadlines.requestMs);
  const api = new AuthorizationV1Api(config);
  return Promise.all(
    permissions.map(async (permission) => {
      const answers = await Promise.all(
        permission.verbs.map(async (verb) => {
          const attributes = {
            verb,
            group: permission.group,
            resource: permission.resource,
            ...(permission.subresource ? { subresource: permission.subresource } : {}),
            ...(permission.clusterScoped ? {} : { namespace }),
          };
          try {
            const review = await api.createSelfSubjectAccessReview({
              body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attributes } },
            });
            return { verb, allowed: review.status?.allowed === true, reason: review.status?.reason ?? review.status?.evaluationError ?? '' };
          } catch (error) {
            throw kubeError(`check ${verb} ${resourceName(permission)}`, error, server);
          }
        }),
      );
      return {
        permission,
        allowed: answers.filter((a) => a.allowed).map((a) => a.verb),
        denied: answers.filter((a) => !a.allowed).map((a) => ({ verb: a.verb, reason: a.reason })),
      };
    }),
  );
}

/** A Role rule granting what is missing, for the fix line. */
export function missingRule(results: PermissionResult[]): string {
  return results
    .filter((r) => r.denied.length > 0)
    .map(
      (r) =>
        `{ apiGroups: ["${r.permission.group}"], resources: ["${r.permission.resource}${r.permission.subresource ? `/${r.permission.subresource}` : ''}"], verbs: [${r.denied.map((d) => `"${d.verb}"`).join(', ')}] }`,
    )
    .join(', ');
}
