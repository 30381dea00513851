// Stand-in (the traffic helper's version replaces it).
import type { Deployment } from '../kube/objects.js';

export const TRACK_LABEL = 'gantry.dev/track';

export function canaryDeployment(stable: Deployment, options: { replicas: number; traffic: string }): Deployment {
  const c = structuredClone(stable) as Deployment & { spec: NonNullable<Deployment['spec']> };
  c.metadata.name = `${stable.metadata.name}-canary`;
  c.metadata.annotations = { ...(c.metadata.annotations ?? {}), 'gantry.dev/canary-of': stable.metadata.name };
  c.spec.replicas = options.replicas;
  c.spec.selector = { matchLabels: { ...(c.spec.selector?.matchLabels ?? {}), [TRACK_LABEL]: 'canary' } };
  c.spec.template = {
    ...c.spec.template,
    metadata: { ...(c.spec.template?.metadata ?? {}), labels: { ...(c.spec.template?.metadata?.labels ?? {}), [TRACK_LABEL]: 'canary' } },
  };
  return c;
}

export function stableFromCanary(canary: Deployment, stableReplicas: number | null): Deployment {
  const s = structuredClone(canary) as Deployment & { spec: NonNullable<Deployment['spec']> };
  const name = canary.metadata.annotations?.['gantry.dev/canary-of'] ?? canary.metadata.name.replace(/-canary$/, '');
  s.metadata.name = name;
  const annotations = { ...(s.metadata.annotations ?? {}) };
  delete annotations['gantry.dev/canary-of'];
  s.metadata.annotations = annotations;
  if (stableReplicas === null) delete s.spec.replicas;
  else s.spec.replicas = stableReplicas;
  const sel = { ...(s.spec.selector?.matchLabels ?? {}) };
  delete sel[TRACK_LABEL];
  s.spec.selector = { matchLabels: sel };
  const labels = { ...(s.spec.template?.metadata?.labels ?? {}) };
  delete labels[TRACK_LABEL];
  s.spec.template = { ...s.spec.template, metadata: { ...(s.spec.template?.metadata ?? {}), labels } };
  return s;
}
