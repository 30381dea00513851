// Stand-in (the traffic helper's version replaces it).
export function canaryWeight(stableReplicas: number, weight: number, options: { maxReplicas?: number } = {}): { replicas: number; actualWeight: number } {
  let replicas = Math.max(1, Math.round((stableReplicas * weight) / (100 - weight)));
  if (options.maxReplicas !== undefined) replicas = Math.max(1, Math.min(replicas, options.maxReplicas - stableReplicas));
  return { replicas, actualWeight: Math.round((1000 * replicas) / (stableReplicas + replicas)) / 10 };
}
