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

/** Every Secret a pod spec names in env (the services' connection Secrets are named by content, #14). */
export function secretsNamed(spec: PodSpec | undefined): Set<string> {
  const names = new Set<string>();
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
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
  // #14: the services' connection Secrets (<deployment>-services-<checksum>) go the same way;
  // only those: the pull secret and the K8S_SECRET_* Secret carry the same labels.
  const connection = new RegExp(`^${deploymentName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-services-[0-9a-f]{10}$`);
  const [replicaSets, configMaps, secrets] = await Promise.all([
    client.list<ReplicaSet>('apps/v1', 'ReplicaSet', namespace, { labelSelector: selector }),
    client.list<{ metadata: { name: string } }>('v1', 'ConfigMap', namespace, { labelSelector: selector }),
    client.list<{ metadata: { name: string } }>('v1', 'Secret', namespace, { labelSelector: selector }),
  ]);
  const specs = [deployment.spec?.template?.spec];
  for (const rs of replicaSets) {
    if ((rs.metadata.ownerReferences ?? []).some((o) => o.uid === deployment.metadata.uid)) specs.push(rs.spec?.template?.spec);
  }
  const used = new Set(specs.flatMap((spec) => [...configMapsNamed(spec), ...secretsNamed(spec)]));
  const unused = (items: { metadata: { name: string } }[]) =>
    items
      .map((c) => c.metadata.name)
      .filter((n) => !used.has(n))
      .sort();
  const unusedConfigMaps = unused(configMaps);
  const unusedSecrets = unused(secrets.filter((s) => connection.test(s.metadata.name)));
  for (const name of unusedConfigMaps) await client.remove({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace }, { dryRun: ctx.dryRun });
  for (const name of unusedSecrets) await client.remove({ apiVersion: 'v1', kind: 'Secret', name, namespace }, { dryRun: ctx.dryRun });
  return [...unusedConfigMaps, ...unusedSecrets];
}
