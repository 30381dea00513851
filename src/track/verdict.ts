// The verdict on a rollout: a pure function of the picture and the time. Complete (status.ts)?
// Failing (classify.ts)? Out of time? Completion and the failures that rest on elapsed time need
// a picture the API server has just confirmed; when it has not, the verdict says so (confirm:
// ask the API server now; stale: the picture may be out of date), and the wiring acts on it.
import type { KubeEvent } from '../kube/objects.js';
import { classifyDeployment, classifyPod, classifyReplicaSet, type Failure, type RolloutFailureCode } from './classify.js';
import { timeoutEvidence } from './evidence.js';
import { isConfirmed, isCurrent, isSynced, mayBeStale, type Picture } from './picture.js';
import { rolloutStatus, type RolloutStatus } from './status.js';

/** Failures that rest on elapsed time, which a stale picture can fake (see PodContext.fresh). */
const TIME_BASED = new Set<RolloutFailureCode>(['E_ROLLOUT_READINESS', 'E_ROLLOUT_UNSCHEDULABLE']);

export interface VerdictOptions {
  /** `deployment/<name> in <namespace>`, for messages. */
  what: string;
  /** Local ms when tracking started, and how long it may take. */
  start: number;
  timeoutMs: number;
  /** As in TrackOptions. */
  since?: number | undefined;
  waitForTerminating: boolean;
}

export interface Clock {
  /** Local ms (for the heartbeat, settling and the timeout). */
  now: number;
  /** The API server's ms (for the objects' own timestamps). */
  serverNow: number;
}

/** What was judged, for the picture to remember (see remember()). */
export interface Judged {
  status: RolloutStatus;
  capacityFreedAt: number | undefined;
}

export type Verdict =
  | ({ state: 'in progress'; judged?: Judged } & Partial<Waiting>)
  | { state: 'done'; judged: Judged }
  | { state: 'failure'; failure: Failure; judged?: Judged };

interface Waiting {
  /** A verdict waits for the API server to confirm the picture: check its health now. */
  confirm: boolean;
  /** Complete as far as can be seen, but the picture may be stale. */
  stale: boolean;
}

export function timeoutFailure(picture: Picture, options: VerdictOptions): Failure {
  const status = picture.lastStatus;
  return {
    code: 'E_ROLLOUT_TIMEOUT',
    message: `${options.what} did not finish its rollout within ${options.timeoutMs / 1000} s${status?.waitingFor ? `: waiting for ${status.waitingFor}` : ''}`,
    evidence: timeoutEvidence(picture, options.since),
    fix: 'the pod states above show what it waits for; if the app just needs longer to start, raise the tracking timeout',
  };
}

export function deletedFailure(what: string): Failure {
  return {
    code: 'E_ROLLOUT_DELETED',
    message: `${what} was deleted while its rollout was tracked`,
    evidence: [],
    fix: 'something else deleted the Deployment (another pipeline, a person, a namespace cleanup): find out what, then deploy again',
  };
}

export function verdict(picture: Picture, clock: Clock, options: VerdictOptions): Verdict {
  if (clock.now - options.start >= options.timeoutMs) return { state: 'failure', failure: timeoutFailure(picture, options) };
  if (!isSynced(picture)) return { state: 'in progress' };
  const d = picture.deployment;
  if (!d) return { state: 'failure', failure: deletedFailure(options.what) };

  const now = clock.serverNow;
  const replicaSets = [...picture.replicaSets.values()];
  const pods = [...picture.pods.values()];
  const status = rolloutStatus(d, replicaSets, pods, now, { waitForTerminating: options.waitForTerminating });
  const capacityFreedAt = status.oldPods.length < picture.lastOldPods ? now : picture.capacityFreedAt;
  const judged: Judged = { status, capacityFreedAt };
  const confirmed = isConfirmed(picture, clock.now);
  if (status.done) {
    if (confirmed) return { state: 'done', judged };
    return { state: 'in progress', judged, confirm: !picture.beatDown, stale: mayBeStale(picture, clock.now) };
  }

  const fresh = isCurrent(picture, clock.now) && picture.synced.events;
  const byPod = new Map<string, KubeEvent[]>();
  for (const e of picture.events.values()) {
    const uid = e.involvedObject.uid;
    if (!uid) continue;
    const list = byPod.get(uid);
    if (list) list.push(e);
    else byPod.set(uid, [e]);
  }
  for (const pod of status.newPods) {
    const failure = classifyPod(pod, byPod.get(pod.metadata.uid) ?? [], {
      now,
      fresh,
      oldPodsTerminating: status.oldTerminating > 0,
      ...(capacityFreedAt !== undefined ? { capacityFreedAt } : {}),
      ...(options.since !== undefined ? { since: options.since } : {}),
    });
    if (failure && (!TIME_BASED.has(failure.code) || confirmed)) return { state: 'failure', failure, judged };
    if (failure) return { state: 'in progress', judged, confirm: !picture.beatDown, stale: false };
  }
  if (status.newReplicaSet) {
    const oldPodsRemain = status.oldPods.length > 0 || replicaSets.some((rs) => rs !== status.newReplicaSet && (rs.spec?.replicas ?? 0) > 0);
    const failure = classifyReplicaSet(status.newReplicaSet, { oldPodsRemain, since: options.since });
    if (failure) return { state: 'failure', failure, judged };
  }
  const failure = classifyDeployment(d, { since: options.since });
  if (failure) return { state: 'failure', failure, judged };
  return { state: 'in progress', judged };
}

/** Keeps what a verdict saw: the Deployment (for the summary when it is deleted), the status, freed capacity. */
export function remember(picture: Picture, v: Verdict): void {
  if (v.state === 'failure' && v.failure.code === 'E_ROLLOUT_DELETED') picture.deleted = true;
  if (!v.judged) return;
  if (picture.deployment) picture.lastSeen = picture.deployment;
  picture.lastStatus = v.judged.status;
  picture.lastOldPods = v.judged.status.oldPods.length;
  picture.capacityFreedAt = v.judged.capacityFreedAt;
}
