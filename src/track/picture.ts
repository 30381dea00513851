// The picture of a rollout: what the four streams (the Deployment, its ReplicaSets, their Pods,
// the namespace's Events) have shown so far, and how far it can be trusted: which streams have
// listed and are live, whether the API server answered the last heartbeat, when the cluster has
// caught up after an outage. The wiring (track.ts) feeds it; the verdict (verdict.ts) and the
// progress printer (progress.ts) read it.
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../kube/objects.js';
import type { RolloutStatus } from './status.js';

export type StreamKey = 'deployments' | 'replicasets' | 'pods' | 'events';

/**
 * After the API server was unreachable (or a stream reconnected), verdicts that need a current
 * picture wait this long: the kubelet retries the pod status updates it could not send every
 * 10 s, so until then the API server may still show what was true before the outage.
 */
export const RESETTLE_MS = 12_000;
/** How often the API server's health is checked, and how old that check may be for a verdict that needs a current picture. */
export const HEARTBEAT_MS = 1_000;
export const HEARTBEAT_MAX_AGE_MS = 1_500;
/** A heartbeat this recent confirms a verdict that needs a current picture. */
export const CONFIRMED_MAX_AGE_MS = 250;

export interface Picture {
  deployment: Deployment | undefined;
  /** The Deployment as last seen, for the summary when it was deleted. */
  lastSeen: Deployment;
  deleted: boolean;
  replicaSets: Map<string, ReplicaSet>;
  pods: Map<string, Pod>;
  events: Map<string, KubeEvent>;
  /** Each stream has listed once (its objects are known). */
  synced: Record<StreamKey, boolean>;
  /** Each stream is current now. */
  live: Record<StreamKey, boolean>;
  /** Each stream lost the server and has not come back yet. */
  lost: Record<StreamKey, boolean>;
  /** Local ms until which the cluster may still be catching up after an outage (RESETTLE_MS). */
  settledUntil: number;
  /** The heartbeat: the watches alone cannot tell a quiet cluster from an API server that stopped answering (one shutting down keeps its watches open, silent, for up to a minute). Local ms of its last answer. */
  beatOkAt: number;
  beatDown: boolean;
  /** The API server's clock minus ours, ms (from Date headers). */
  clockOffset: number;
  /** A stream failure that retrying cannot fix. */
  fatal: unknown;
  /** The last status judged, for the timeout's evidence and the summary. */
  lastStatus: RolloutStatus | undefined;
  /** Old pods counted at the last judgement, and when (server ms) their number last fell: capacity freed for an unschedulable pod. */
  lastOldPods: number;
  capacityFreedAt: number | undefined;
}

const streams = (value: boolean): Record<StreamKey, boolean> => ({ deployments: value, replicasets: value, pods: value, events: value });

export function newPicture(first: Deployment): Picture {
  return {
    deployment: first,
    lastSeen: first,
    deleted: false,
    replicaSets: new Map(),
    pods: new Map(),
    events: new Map(),
    synced: streams(false),
    live: streams(false),
    lost: streams(false),
    settledUntil: 0,
    beatOkAt: 0,
    beatDown: false,
    clockOffset: 0,
    fatal: undefined,
    lastStatus: undefined,
    lastOldPods: 0,
    capacityFreedAt: undefined,
  };
}

/** A stream's complete list: replaces what was known. */
export function replaceAll<T extends { metadata: { uid: string } }>(map: Map<string, T>, items: T[]): void {
  map.clear();
  for (const item of items) map.set(item.metadata.uid, item);
}

/** One watch event. */
export function applyEvent<T extends { metadata: { uid: string } }>(map: Map<string, T>, type: string, obj: T): void {
  if (type === 'DELETED') map.delete(obj.metadata.uid);
  else map.set(obj.metadata.uid, obj);
}

/** The Deployment and its ReplicaSets and Pods have each been listed: there is something to judge. */
export function isSynced(p: Picture): boolean {
  return p.synced.deployments && p.synced.replicasets && p.synced.pods;
}

/** Streams live, the API server answering right now, and settled after any outage (`now`: local ms). */
export function isCurrent(p: Picture, now: number): boolean {
  return !p.beatDown && now - p.beatOkAt < HEARTBEAT_MAX_AGE_MS && now >= p.settledUntil && Object.values(p.live).every(Boolean);
}

/** Current, and the heartbeat so recent that the picture is confirmed. */
export function isConfirmed(p: Picture, now: number): boolean {
  return isCurrent(p, now) && now - p.beatOkAt < CONFIRMED_MAX_AGE_MS;
}

/** Possibly stale: the API server is down, the cluster is catching up, or a stream has lost it. */
export function mayBeStale(p: Picture, now: number): boolean {
  return p.beatDown || now < p.settledUntil || Object.values(p.lost).some(Boolean);
}
