// Env ConfigMaps are named by their content (src/render/view.ts), so every change of env leaves
// the previous one behind, on purpose: the ReplicaSets kept for rollback still name theirs.
// After a successful deploy, the ones that no kept ReplicaSet (and not the Deployment itself)
// names any more are deleted. Only ConfigMaps with this app's Gantry labels are candidates.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { kubeClient } from './client.js';
import { APP_LABEL_PREFIX, type Deployment, type PodSpec, type ReplicaSet } from './objects.js';

/** Every ConfigMap a pod spec names. */
export function configMapsNamed(spec: PodSpec | undefined): Set<string> {
  const names = new Set<string>();
  const add = (n: string | undefined) => n && names.add(n);
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    for (const e of c.envFrom ?? []) add(e.configMapRef?.name);
    for (const e of c.env ?? []) add(e.valueFrom?.configMapKeyRef?.name);
  }
  for (const v of spec?.volumes ?? []) {
    add(v.configMap?.name);
    for (const s of v.projected?.sources ?? []) add(s.configMap?.name);
  }
  return names;
}

export async function pruneConfigMaps(ctx: Ctx, kc: KubeConfig, namespace: string, deploymentName: string, labels: Record<string, string>): Promise<string[]> {
  const client = kubeClient(ctx, kc);
  const deployment = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: deploymentName, namespace });
  if (!deployment) return [];
  const selector = Object.entries(labels)
    .filter(([k]) => k.startsWith(APP_LABEL_PREFIX))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const [replicaSets, configMaps] = await Promise.all([
    client.list<ReplicaSet>('apps/v1', 'ReplicaSet', namespace, { labelSelector: selector }),
    client.list<{ metadata: { name: string } }>('v1', 'ConfigMap', namespace, { labelSelector: selector }),
  ]);
  const used = configMapsNamed(deployment.spec?.template?.spec);
  for (const rs of replicaSets) {
    if ((rs.metadata.ownerReferences ?? []).some((o) => o.uid === deployment.metadata.uid)) {
      for (const n of configMapsNamed(rs.spec?.template?.spec)) used.add(n);
    }
  }
  const unused = configMaps
    .map((c) => c.metadata.name)
    .filter((n) => !used.has(n))
    .sort();
  for (const name of unused) await client.remove({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace }, { dryRun: ctx.dryRun });
  return unused;
}
