// Where a Deployment's rollout stands, from the Deployment, its ReplicaSets and their Pods:
// which ReplicaSet is the new one, how many of its pods are ready, whether old pods remain,
// and whether the rollout is complete. Pure: the watcher calls it on every change.
import { condition } from './classify.js';
import { REVISION_ANNOTATION, type Deployment, type LabelSelector, type Pod, type ReplicaSet } from '../kube/objects.js';

/** A container without a readiness probe, or one that has restarted, must run this long to count as up. */
export const STABLE_MS = 3_000;

export interface RolloutStatus {
  /** The rollout is complete: the new ReplicaSet fully available, no old pods left. */
  done: boolean;
  /** What it is waiting for (one line), when not done. */
  waitingFor?: string;
  /** The Deployment's revision, once the controller has observed the current generation. */
  revision?: string;
  newReplicaSet?: ReplicaSet;
  /** Desired replicas: spec.replicas (set by the user or, for HPA-managed Deployments, by the HPA). */
  desired: number;
  /** Pods of the new ReplicaSet that are not terminating, oldest first. */
  newPods: Pod[];
  readyNew: number;
  /** Pods of older ReplicaSets of this Deployment, terminating ones included. */
  oldPods: Pod[];
  oldTerminating: number;
}

/** A LabelSelector as the `labelSelector` query parameter. */
export function selectorString(selector: LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export function ownedBy(obj: { metadata: { ownerReferences?: { uid: string }[] } }, uid: string | undefined): boolean {
  return uid !== undefined && (obj.metadata.ownerReferences ?? []).some((o) => o.uid === uid);
}

export function desiredReplicas(d: Deployment): number {
  // The API server defaults spec.replicas to 1; an HPA sets it. status.replicas only as a last resort.
  return d.spec?.replicas ?? d.status?.replicas ?? 1;
}

/** The ReplicaSet of the Deployment's current revision (after the controller observed the current generation). */
export function findNewReplicaSet(d: Deployment, replicaSets: ReplicaSet[]): ReplicaSet | undefined {
  if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return undefined;
  const revision = d.metadata.annotations?.[REVISION_ANNOTATION];
  if (!revision) return undefined;
  return replicaSets.find((rs) => ownedBy(rs, d.metadata.uid) && rs.metadata.annotations?.[REVISION_ANNOTATION] === revision);
}

function byCreation(a: Pod, b: Pod): number {
  return (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name);
}

export function isPodReady(pod: Pod): boolean {
  return condition(pod.status?.conditions, 'Ready')?.status === 'True';
}

/**
 * Whether a ready pod has been up long enough to believe it: a container that restarted, or
 * that has no readiness probe, counts only after running STABLE_MS (or minReadySeconds). A
 * crashing container without a probe is "ready" for a moment after each start: the Deployment
 * controller even reports NewReplicaSetAvailable for it.
 */
export function isPodSettled(pod: Pod, now: number, minReadySeconds = 0): boolean {
  if (!isPodReady(pod)) return false;
  const stableMs = Math.max(STABLE_MS, minReadySeconds * 1000);
  for (const cs of pod.status?.containerStatuses ?? []) {
    if (!cs.ready || !cs.state?.running) return false;
    const spec = pod.spec?.containers.find((c) => c.name === cs.name);
    if (cs.restartCount === 0 && spec?.readinessProbe) continue;
    const started = Date.parse(cs.state.running.startedAt ?? '');
    if (Number.isNaN(started) || now - started < stableMs) return false;
  }
  return true;
}

export interface RolloutStatusOptions {
  /** Whether old pods that are already terminating must be gone too (default true). */
  waitForTerminating?: boolean;
}

export function rolloutStatus(d: Deployment, replicaSets: ReplicaSet[], pods: Pod[], now: number, options: RolloutStatusOptions = {}): RolloutStatus {
  const desired = desiredReplicas(d);
  const owned = replicaSets.filter((rs) => ownedBy(rs, d.metadata.uid));
  const newRs = findNewReplicaSet(d, owned);
  const oldUids = new Set(owned.filter((rs) => rs !== newRs).map((rs) => rs.metadata.uid));
  const podsOf = (uid: string) => pods.filter((p) => (p.metadata.ownerReferences ?? []).some((o) => o.uid === uid));
  const newPods = newRs
    ? podsOf(newRs.metadata.uid)
        .filter((p) => !p.metadata.deletionTimestamp)
        .sort(byCreation)
    : [];
  const oldPods = pods.filter((p) => (p.metadata.ownerReferences ?? []).some((o) => oldUids.has(o.uid))).sort(byCreation);
  const oldTerminating = oldPods.filter((p) => p.metadata.deletionTimestamp).length;
  const readyNew = newPods.filter(isPodReady).length;
  const revision = (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) ? d.metadata.annotations?.[REVISION_ANNOTATION] : undefined;
  const base = { desired, newPods, readyNew, oldPods, oldTerminating, ...(newRs ? { newReplicaSet: newRs } : {}), ...(revision ? { revision } : {}) };
  const waiting = (why: string): RolloutStatus => ({ ...base, done: false, waitingFor: why });

  if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
    return waiting(`the Deployment controller to observe generation ${d.metadata.generation}`);
  }
  const st = d.status ?? {};
  if (desired === 0) {
    // Scaled to zero: done when nothing runs any more (a new ReplicaSet may not even exist).
    if ((st.replicas ?? 0) > 0 || oldPods.length > 0 || newPods.length > 0)
      return waiting(`${oldPods.length + newPods.length} pods to go away (0 replicas wanted)`);
    return { ...base, done: true };
  }
  if (!newRs) return waiting(`the new ReplicaSet of revision ${revision ?? '?'}`);
  if ((newRs.status?.observedGeneration ?? 0) < (newRs.metadata.generation ?? 0)) return waiting(`replicaset ${newRs.metadata.name} to be observed`);
  if ((st.updatedReplicas ?? 0) < desired) return waiting(`${desired - (st.updatedReplicas ?? 0)} of ${desired} new pods to be created`);
  if ((newRs.status?.availableReplicas ?? 0) < desired || (st.availableReplicas ?? 0) < desired) {
    return waiting(`${readyNew}/${desired} new pods ready (${newRs.status?.availableReplicas ?? 0} available)`);
  }
  // By default an old pod still terminating is not gone: it may still be finishing requests or
  // background work with the old version. (kubectl rollout status does not wait for it; the
  // waitForTerminating: false option gives that behaviour, saving the old version's shutdown.)
  const oldLeft = options.waitForTerminating === false ? oldPods.length - oldTerminating : oldPods.length;
  if ((st.replicas ?? 0) > desired || oldLeft > 0) {
    const n = Math.max(oldLeft, (st.replicas ?? 0) - desired);
    return waiting(`${n} old pod${n === 1 ? '' : 's'} to go away${oldTerminating ? ` (${oldTerminating} terminating)` : ''}`);
  }
  const minReady = d.spec?.minReadySeconds ?? 0;
  const settled = newPods.filter((p) => isPodSettled(p, now, minReady)).length;
  if (settled < desired)
    return waiting(`${desired - settled} new pod${desired - settled === 1 ? '' : 's'} to stay up for ${Math.max(STABLE_MS / 1000, minReady)} s`);
  return { ...base, done: true };
}
