// Env ConfigMaps are named by their content (src/render/view.ts), so every change of env leaves
// the previous one behind, on purpose: the ReplicaSets kept for rollback still name theirs.
// After a successful deploy, the ones that no kept ReplicaSet (and not the Deployment itself)
// names any more are deleted. Only ConfigMaps with this app's Gantry labels are candidates.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { kubeClient } from './client.js';

interface PodTemplateOwner {
  metadata: { name: string; ownerReferences?: { uid: string }[]; uid?: string };
  spec?: { template?: { spec?: PodSpecRefs } };
}
interface PodSpecRefs {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: { configMap?: { name?: string }; projected?: { sources?: { configMap?: { name?: string } }[] } }[];
}
interface Container {
  envFrom?: { configMapRef?: { name?: string } }[];
  env?: { valueFrom?: { configMapKeyRef?: { name?: string } } }[];
}

/** Every ConfigMap a pod spec names. */
export function configMapsNamed(spec: PodSpecRefs | undefined): Set<string> {
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
  const deployment = await client.read<PodTemplateOwner>({ apiVersion: 'apps/v1', kind: 'Deployment', name: deploymentName, namespace });
  if (!deployment) return [];
  const selector = Object.entries(labels).filter(([k]) => k.startsWith('app.kubernetes.io/')).map(([k, v]) => `${k}=${v}`).join(',');
  const [replicaSets, configMaps] = await Promise.all([
    client.list<PodTemplateOwner>('apps/v1', 'ReplicaSet', namespace, { labelSelector: selector }),
    client.list<{ metadata: { name: string } }>('v1', 'ConfigMap', namespace, { labelSelector: selector }),
  ]);
  const used = configMapsNamed(deployment.spec?.template?.spec);
  for (const rs of replicaSets) {
    if ((rs.metadata.ownerReferences ?? []).some((o) => o.uid === deployment.metadata.uid)) {
      for (const n of configMapsNamed(rs.spec?.template?.spec)) used.add(n);
    }
  }
  const unused = configMaps.map((c) => c.metadata.name).filter((n) => !used.has(n)).sort();
  for (const name of unused) await client.remove({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace }, { dryRun: ctx.dryRun });
  return unused;
}
