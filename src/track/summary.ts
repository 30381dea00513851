// The per-resource summary printed when tracking ends (and returned to the caller): the
// Deployment, its ReplicaSets that still matter, and every pod with phase, readiness,
// restarts and the last reason anything gave. Pure.
import { condition, eventTime, failureCount, lastTermination } from './classify.js';
import { REVISION_ANNOTATION, type Deployment, type KubeEvent, type Pod, type ReplicaSet } from '../kube/objects.js';
import { desiredReplicas, isPodReady, ownedBy, type RolloutStatus } from './status.js';

export interface ResourceSummary {
  kind: 'Deployment' | 'ReplicaSet' | 'Pod';
  name: string;
  /** ReplicaSets and pods: whether they belong to the rollout's new ReplicaSet. */
  role?: 'new' | 'old';
  /** Pod phase (Running, Pending, Terminating...), or the Deployment's/ReplicaSet's state. */
  phase: string;
  /** "ready/desired" (pods: ready containers / containers). */
  ready: string;
  restarts: number;
  /** The last reason given: a waiting/terminated reason (with exit code), a condition or a warning event. */
  lastReason?: string;
  revision?: string;
}

function podPhase(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  return pod.status?.reason ?? pod.status?.phase ?? 'Unknown';
}

/** A pod's most telling reason: what a container waits for or died of, else its last warning. */
export function podLastReason(pod: Pod, events: KubeEvent[]): string | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const cs of statuses) {
    const w = cs.state?.waiting?.reason;
    if (w && w !== 'ContainerCreating' && w !== 'PodInitializing') {
      const t = lastTermination(cs);
      return t && failureCount(cs) > 0 ? `${w} (last exit ${t.exitCode}${t.reason ? ` ${t.reason}` : ''})` : w;
    }
    const t = cs.state?.terminated;
    if (t) return `${t.reason ?? 'Terminated'} (exit ${t.exitCode})`;
  }
  const scheduled = condition(pod.status?.conditions, 'PodScheduled');
  if (scheduled?.status === 'False') return scheduled.reason ?? 'Unschedulable';
  const warning = events.filter((e) => e.type === 'Warning' && e.involvedObject.uid === pod.metadata.uid).sort((a, b) => eventTime(b) - eventTime(a))[0];
  if (warning && !isPodReady(pod)) return warning.reason;
  for (const cs of statuses) {
    const t = cs.lastState?.terminated;
    if (t) return `restarted after ${t.reason ?? 'exit'} (exit ${t.exitCode})`;
  }
  return undefined;
}

export function summarize(
  d: Deployment | undefined,
  replicaSets: ReplicaSet[],
  pods: Pod[],
  events: KubeEvent[],
  status: RolloutStatus | undefined,
  deleted = false,
): ResourceSummary[] {
  const out: ResourceSummary[] = [];
  if (d) {
    const progressing = condition(d.status?.conditions, 'Progressing');
    const desired = desiredReplicas(d);
    out.push({
      kind: 'Deployment',
      name: d.metadata.name,
      phase: deleted ? 'Deleted' : status?.done ? 'Complete' : progressing?.reason === 'ProgressDeadlineExceeded' ? 'Failed' : 'Progressing',
      ready: `${d.status?.availableReplicas ?? 0}/${desired}`,
      restarts: 0,
      ...(progressing?.reason ? { lastReason: progressing.reason } : {}),
      ...(d.metadata.annotations?.[REVISION_ANNOTATION] ? { revision: d.metadata.annotations[REVISION_ANNOTATION] } : {}),
    });
  }
  const newUid = status?.newReplicaSet?.metadata.uid;
  // Only the Deployment's own ReplicaSets: a canary Deployment's (#15) match its selector too.
  const owned = d?.metadata.uid ? replicaSets.filter((rs) => ownedBy(rs, d.metadata.uid)) : replicaSets;
  const relevant = owned
    .filter((rs) => rs.metadata.uid === newUid || (rs.spec?.replicas ?? 0) > 0 || (rs.status?.replicas ?? 0) > 0)
    .sort((a, b) => Number(b.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) - Number(a.metadata.annotations?.[REVISION_ANNOTATION] ?? 0));
  for (const rs of relevant) {
    const failure = condition(rs.status?.conditions, 'ReplicaFailure');
    out.push({
      kind: 'ReplicaSet',
      name: rs.metadata.name,
      role: rs.metadata.uid === newUid ? 'new' : 'old',
      phase: rs.metadata.uid === newUid ? 'New' : 'Old',
      ready: `${rs.status?.readyReplicas ?? 0}/${rs.spec?.replicas ?? 0}`,
      restarts: 0,
      ...(failure?.status === 'True' ? { lastReason: failure.reason ?? 'ReplicaFailure' } : {}),
      ...(rs.metadata.annotations?.[REVISION_ANNOTATION] ? { revision: rs.metadata.annotations[REVISION_ANNOTATION] } : {}),
    });
  }
  const ordered = [...(status?.newPods ?? []), ...(status?.oldPods ?? [])];
  const rest = pods.filter((p) => !ordered.includes(p) && (p.metadata.ownerReferences ?? []).some((o) => owned.some((rs) => rs.metadata.uid === o.uid)));
  for (const pod of [...ordered, ...rest]) {
    const statuses = pod.status?.containerStatuses ?? [];
    const total = pod.spec?.containers.length ?? statuses.length;
    const reason = podLastReason(pod, events);
    out.push({
      kind: 'Pod',
      name: pod.metadata.name,
      role: (pod.metadata.ownerReferences ?? []).some((o) => o.uid === newUid) ? 'new' : 'old',
      phase: podPhase(pod),
      ready: `${statuses.filter((s) => s.ready).length}/${total}`,
      restarts: [...statuses, ...(pod.status?.initContainerStatuses ?? [])].reduce((n, s) => n + s.restartCount, 0),
      ...(reason ? { lastReason: reason } : {}),
    });
  }
  return out;
}

/** The summary as aligned lines for the CI log. */
export function formatSummary(summary: ResourceSummary[]): string[] {
  const rows = summary.map((r) => [
    `${r.kind.toLowerCase()}/${r.name}`,
    r.role ?? '',
    r.phase,
    `ready ${r.ready}`,
    r.kind === 'Pod' ? `restarts ${r.restarts}` : r.revision ? `revision ${r.revision}` : '',
    r.lastReason ?? '',
  ]);
  const widths = rows.reduce((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), [] as number[]);
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
