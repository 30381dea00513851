// When is a rollout complete? On a real mid-rollout Deployment (revision 2 coming up, one pod of
// revision 1 still serving) and edited copies of it: complete, scaled to zero, HPA-managed.
import { readFileSync } from 'node:fs';
import { findNewReplicaSet, isPodSettled, rolloutStatus, selectorString } from '../../../src/track/status.js';
import { formatSummary, summarize } from '../../../src/track/summary.js';
import type { Deployment, Pod, ReplicaSet } from '../../../src/kube/objects.js';
import { fixture } from '../../support/fixtures.js';

interface Rollout {
  deployment: Deployment;
  replicaSets: ReplicaSet[];
  pods: Pod[];
}

const midRollout = (): Rollout => JSON.parse(readFileSync(fixture('track', 'deployment-mid-rollout.json'), 'utf8')) as Rollout;
const later = Date.parse('2026-11-22T05:00:00Z');

/** The same rollout, finished: the revision-2 pod ready, the revision-1 pod and ReplicaSet scaled away. */
function completed(): Rollout {
  const r = midRollout();
  const newRs = r.replicaSets.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2')!;
  const oldRs = r.replicaSets.find((rs) => rs !== newRs)!;
  newRs.status = { ...newRs.status, replicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: newRs.metadata.generation ?? 1 };
  oldRs.spec!.replicas = 0;
  oldRs.status = { replicas: 0, observedGeneration: 2 };
  r.pods = r.pods.filter((p) => p.metadata.ownerReferences![0]!.uid === newRs.metadata.uid);
  const pod = r.pods[0]!;
  pod.status!.conditions = pod.status!.conditions!.map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'True' } : c));
  pod.status!.containerStatuses![0]!.ready = true;
  r.deployment.status = { ...r.deployment.status, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 0 };
  return r;
}

test('mid-rollout: the new ReplicaSet is the one of the current revision, and the old pod is counted', () => {
  const r = midRollout();
  const s = rolloutStatus(r.deployment, r.replicaSets, r.pods, later);
  expect(s.done).toBe(false);
  expect(s.revision).toBe('2');
  expect(s.newReplicaSet?.metadata.name).toBe('good-7fc6d75dd4');
  expect(s.newPods.map((p) => p.metadata.name)).toEqual(['good-7fc6d75dd4-ffszr']);
  expect(s.oldPods.map((p) => p.metadata.name)).toEqual(['good-564496c8d8-5h59n']);
  expect(s.readyNew).toBe(0);
  expect(s.waitingFor).toBe('0/1 new pods ready (0 available)');
});

test('complete: new ReplicaSet fully available and no old pod left', () => {
  const r = completed();
  const s = rolloutStatus(r.deployment, r.replicaSets, r.pods, later);
  expect(s).toMatchObject({ done: true, desired: 1, readyNew: 1, oldTerminating: 0 });
});

test('not complete while an old pod is still terminating, even when the Deployment status no longer counts it', () => {
  const r = completed();
  const old = structuredClone(midRollout().pods.find((p) => p.metadata.name === 'good-564496c8d8-5h59n')!);
  old.metadata.deletionTimestamp = '2026-11-22T04:34:20Z';
  const s = rolloutStatus(r.deployment, r.replicaSets, [...r.pods, old], later);
  expect(s.done).toBe(false);
  expect(s.waitingFor).toBe('1 old pod to go away (1 terminating)');
  // Unless asked to count it as gone, as kubectl rollout status does.
  expect(rolloutStatus(r.deployment, r.replicaSets, [...r.pods, old], later, { waitForTerminating: false }).done).toBe(true);
  // An old pod that is not even terminating yet blocks completion either way.
  delete old.metadata.deletionTimestamp;
  expect(rolloutStatus(r.deployment, r.replicaSets, [...r.pods, old], later, { waitForTerminating: false }).done).toBe(false);
});

test('not complete before the controller has observed the current generation (its status is about the previous spec)', () => {
  const r = completed();
  r.deployment.metadata.generation = 3;
  const s = rolloutStatus(r.deployment, r.replicaSets, r.pods, later);
  expect(s.done).toBe(false);
  expect(s.newReplicaSet).toBeUndefined();
  expect(s.waitingFor).toBe('the Deployment controller to observe generation 3');
  expect(findNewReplicaSet(r.deployment, r.replicaSets)).toBeUndefined();
});

test('a container without readiness probe, or one that restarted, must stay up a moment before it counts', () => {
  const r = completed();
  const pod = r.pods[0]!;
  const started = Date.parse(pod.status!.containerStatuses![0]!.state!.running!.startedAt!);
  // With a readiness probe and no restart: ready is enough.
  expect(isPodSettled(pod, started + 100)).toBe(true);
  pod.status!.containerStatuses![0]!.restartCount = 1;
  expect(isPodSettled(pod, started + 1_000)).toBe(false);
  expect(isPodSettled(pod, started + 3_000)).toBe(true);
  delete pod.spec!.containers[0]!.readinessProbe;
  pod.status!.containerStatuses![0]!.restartCount = 0;
  expect(isPodSettled(pod, started + 1_000)).toBe(false);
  expect(rolloutStatus(r.deployment, r.replicaSets, r.pods, started + 1_000).waitingFor).toBe('1 new pod to stay up for 3 s');
  // minReadySeconds lengthens it.
  expect(isPodSettled(pod, started + 5_000, 10)).toBe(false);
});

test('scaled to zero: complete once no pod is left', () => {
  const r = completed();
  r.deployment.spec!.replicas = 0;
  r.deployment.status = { observedGeneration: 2, replicas: 0 };
  expect(rolloutStatus(r.deployment, r.replicaSets, r.pods, later).done).toBe(false);
  expect(rolloutStatus(r.deployment, r.replicaSets, [], later).done).toBe(true);
});

test('HPA-managed: spec.replicas as the HPA set it is what counts; with none at all, the status', () => {
  const r = completed();
  r.deployment.spec!.replicas = 3;
  expect(rolloutStatus(r.deployment, r.replicaSets, r.pods, later)).toMatchObject({ done: false, desired: 3 });
  delete r.deployment.spec!.replicas;
  expect(rolloutStatus(r.deployment, r.replicaSets, r.pods, later)).toMatchObject({ done: true, desired: 1 });
});

test('label selectors as query strings', () => {
  expect(selectorString({ matchLabels: { 'app.kubernetes.io/name': 'web', tier: 'api' } })).toBe('app.kubernetes.io/name=web,tier=api');
  expect(
    selectorString({
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['staging', 'prod'] },
        { key: 'canary', operator: 'DoesNotExist' },
        { key: 'team', operator: 'Exists' },
        { key: 'zone', operator: 'NotIn', values: ['a'] },
      ],
    }),
  ).toBe('env in (staging,prod),!canary,team,zone notin (a)');
});

test('the summary lists the Deployment, the ReplicaSets that matter and every pod, aligned', () => {
  const r = midRollout();
  const status = rolloutStatus(r.deployment, r.replicaSets, r.pods, later);
  const summary = summarize(r.deployment, r.replicaSets, r.pods, [], status);
  expect(summary.map((s) => [s.kind, s.name, s.role, s.phase, s.ready, s.restarts, s.lastReason])).toEqual([
    ['Deployment', 'good', undefined, 'Progressing', '1/1', 0, 'ReplicaSetUpdated'],
    ['ReplicaSet', 'good-7fc6d75dd4', 'new', 'New', '0/1', 0, undefined],
    ['ReplicaSet', 'good-564496c8d8', 'old', 'Old', '1/1', 0, undefined],
    ['Pod', 'good-7fc6d75dd4-ffszr', 'new', 'Running', '0/1', 0, undefined],
    ['Pod', 'good-564496c8d8-5h59n', 'old', 'Running', '1/1', 0, undefined],
  ]);
  expect(formatSummary(summary)).toEqual([
    'deployment/good                  Progressing  ready 1/1  revision 2  ReplicaSetUpdated',
    'replicaset/good-7fc6d75dd4  new  New          ready 0/1  revision 2',
    'replicaset/good-564496c8d8  old  Old          ready 1/1  revision 1',
    'pod/good-7fc6d75dd4-ffszr   new  Running      ready 0/1  restarts 0',
    'pod/good-564496c8d8-5h59n   old  Running      ready 1/1  restarts 0',
  ]);
});

test('the summary gives each failing pod its last reason', () => {
  const crash = JSON.parse(readFileSync(fixture('track', 'oom-killed.json'), 'utf8')) as { pod: Pod };
  const summary = summarize(undefined, [], [crash.pod], [], undefined);
  expect(summary).toEqual([]); // pods of unknown ReplicaSets are not this rollout's
  const rs: ReplicaSet = {
    metadata: { name: 'oom-6c97c858f7', uid: crash.pod.metadata.ownerReferences![0]!.uid },
    spec: { replicas: 1 },
    status: { replicas: 1 },
  };
  const rows = summarize(undefined, [rs], [crash.pod], [], undefined);
  expect(rows[1]).toMatchObject({ kind: 'Pod', restarts: 2, lastReason: 'CrashLoopBackOff (last exit 137 OOMKilled)' });
});
