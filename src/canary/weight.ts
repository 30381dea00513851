// #15 traffic: how many canary pods give a step's weight when the weight is set by replica
// counts (traffic: replicas): the Service spreads connections over the stable and canary pods
// alike, so the canary's share is c/(S+c) for S stable and c canary pods.
//
// Granularity, said honestly: with S stable pods the reachable weights are c/(S+c) for
// c = 1, 2, 3, ... only. S=2 reaches 33.3%, 50%, 60%, 66.7%, ...; S=4 reaches 20%, 33.3%, 42.9%, ...
// The smallest weight is 1/(S+1): a 10% step needs S >= 9, a 1% step S >= 99. The canary pods are
// added beside the stable ones (stable keeps full capacity), so c = w/(100-w) * S, rounded to the
// nearest whole pod, at least one; the weight really given is returned so the engine reports it.
// (Per connection, not per request: keep-alive clients stay on the pod they reached.)
import { gantryError } from '../errors.js';

export interface CanaryWeight {
  /** Canary pods to run beside the stable ones. */
  replicas: number;
  /** The share of the traffic those pods get, in per cent, rounded to one decimal. */
  actualWeight: number;
}

/**
 * The canary pods for a step weight `weight` (1-99 per cent) beside `stableReplicas` stable pods.
 * `maxReplicas` caps stable + canary (an HPA's maximum, an ECI quota); one canary pod is kept
 * even then, since a canary without pods tests nothing.
 */
export function canaryWeight(stableReplicas: number, weight: number, options: { maxReplicas?: number } = {}): CanaryWeight {
  if (!Number.isInteger(stableReplicas) || stableReplicas < 0) {
    throw gantryError('E_INTERNAL', { doing: 'work out the canary replicas', reason: `stable replicas ${stableReplicas} is not a whole number >= 0` });
  }
  if (!(weight > 0 && weight < 100)) {
    throw gantryError('E_INTERNAL', { doing: 'work out the canary replicas', reason: `weight ${weight} is not between 0 and 100 (exclusive)` });
  }
  let replicas = Math.max(1, Math.round((stableReplicas * weight) / (100 - weight)));
  if (options.maxReplicas !== undefined) replicas = Math.max(1, Math.min(replicas, options.maxReplicas - stableReplicas));
  return { replicas, actualWeight: Math.round((1000 * replicas) / (stableReplicas + replicas)) / 10 };
}
