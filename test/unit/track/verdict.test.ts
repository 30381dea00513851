// The verdict is a pure function of the picture and the time: on a real mid-rollout Deployment
// (test/fixtures/track) whose new pod is a real failing one, finished copies of it, and pictures
// the API server has or has not just confirmed.
import { readFileSync } from 'node:fs';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../../../src/kube/objects.js';
import { newPicture, replaceAll, type Picture } from '../../../src/track/picture.js';
import { remember, verdict, type Clock, type Verdict, type VerdictOptions } from '../../../src/track/verdict.js';
import { fixture } from '../../support/fixtures.js';

interface Cluster {
  deployment: Deployment;
  replicaSets: ReplicaSet[];
  pods: Pod[];
  events: KubeEvent[];
}

const json = <T>(name: string): T => JSON.parse(readFileSync(fixture('track', `${name}.json`), 'utf8')) as T;
const midRollout = (): Cluster => ({ ...json<Omit<Cluster, 'events'>>('deployment-mid-rollout'), events: [] });
const newReplicaSet = (c: Cluster) => c.replicaSets.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2')!;

/** The mid-rollout Deployment whose only pod is the real failing one of a fixture. */
function failingWith(name: string): Cluster {
  const c = midRollout();
  const failing = json<{ pod: Pod; events: KubeEvent[] }>(name);
  const rs = newReplicaSet(c);
  failing.pod.metadata.ownerReferences = [{ kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true }];
  c.pods = [failing.pod];
  c.events = failing.events;
  return c;
}

/** The same rollout, finished: the revision-2 pod ready, the revision-1 pod and ReplicaSet scaled away. */
function completed(): Cluster {
  const c = midRollout();
  const rs = newReplicaSet(c);
  const oldRs = c.replicaSets.find((r) => r !== rs)!;
  rs.status = { ...rs.status, replicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: rs.metadata.generation ?? 1 };
  oldRs.spec!.replicas = 0;
  oldRs.status = { replicas: 0, observedGeneration: 2 };
  c.pods = c.pods.filter((p) => p.metadata.ownerReferences![0]!.uid === rs.metadata.uid);
  const pod = c.pods[0]!;
  pod.status!.conditions = pod.status!.conditions!.map((x) => (x.type === 'Ready' || x.type === 'ContainersReady' ? { ...x, status: 'True' } : x));
  pod.status!.containerStatuses![0]!.ready = true;
  c.deployment.status = { ...c.deployment.status, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 0 };
  return c;
}

// Local time: tracking started 5 s ago, the heartbeat answered 100 ms ago. Server time: well past everything in the fixtures.
const now = 1_000_000;
const clock: Clock = { now, serverNow: Date.parse('2026-11-22T05:00:00Z') };
const options: VerdictOptions = { what: 'deployment/good in t', start: now - 5_000, timeoutMs: 60_000, waitForTerminating: true };

/** Every stream listed and live, the API server confirmed it just now. */
function pictureOf(c: Cluster, change: (p: Picture) => void = () => {}): Picture {
  const p = newPicture(c.deployment);
  replaceAll(p.replicaSets, c.replicaSets);
  replaceAll(p.pods, c.pods);
  replaceAll(p.events, c.events);
  for (const key of ['deployments', 'replicasets', 'pods', 'events'] as const) {
    p.synced[key] = true;
    p.live[key] = true;
  }
  p.beatOkAt = now - 100;
  change(p);
  return p;
}

const failureCode = (v: Verdict) => (v.state === 'failure' ? v.failure.code : undefined);

test('complete, on a picture the API server has just confirmed: done', () => {
  const v = verdict(pictureOf(completed()), clock, options);
  expect(v.state).toBe('done');
  expect(v.state === 'done' && v.judged.status.done).toBe(true);
});

test('complete as far as can be seen, on a picture that may be stale: in progress, waiting for the API server', () => {
  // The API server does not answer: nothing to ask, the picture is stale.
  expect(
    verdict(
      pictureOf(completed(), (p) => (p.beatDown = true)),
      clock,
      options,
    ),
  ).toMatchObject({ state: 'in progress', confirm: false, stale: true });
  // Back, but the cluster may still be catching up after the outage.
  expect(
    verdict(
      pictureOf(completed(), (p) => (p.settledUntil = now + 5_000)),
      clock,
      options,
    ),
  ).toMatchObject({ state: 'in progress', confirm: true, stale: true });
  // A stream lost the server and has not listed again.
  expect(
    verdict(
      pictureOf(completed(), (p) => {
        p.lost.pods = true;
        p.live.pods = false;
      }),
      clock,
      options,
    ),
  ).toMatchObject({ state: 'in progress', confirm: true, stale: true });
  // All fine, but the last heartbeat is 1 s old: ask again before saying done.
  expect(
    verdict(
      pictureOf(completed(), (p) => (p.beatOkAt = now - 1_000)),
      clock,
      options,
    ),
  ).toMatchObject({ state: 'in progress', confirm: true, stale: false });
});

test('before the Deployment, its ReplicaSets and Pods have been listed there is nothing to judge', () => {
  const v = verdict(
    pictureOf(completed(), (p) => (p.synced.pods = false)),
    clock,
    options,
  );
  expect(v).toEqual({ state: 'in progress' });
});

test.each([
  ['crash-exit1', 'E_ROLLOUT_CRASHLOOP'],
  ['oom-killed', 'E_ROLLOUT_OOM'],
  ['image-tag-missing', 'E_ROLLOUT_IMAGE_PULL'],
  ['image-pull-unauthorized', 'E_ROLLOUT_IMAGE_PULL'],
  ['start-error-no-binary', 'E_ROLLOUT_CREATE'],
  ['config-missing-configmap', 'E_ROLLOUT_CONFIG'],
  ['readiness-500', 'E_ROLLOUT_READINESS'],
  ['unschedulable-cpu', 'E_ROLLOUT_UNSCHEDULABLE'],
])('a new pod like %s is the failure classify.ts names: %s', (name, code) => {
  const v = verdict(pictureOf(failingWith(name)), clock, options);
  expect(failureCode(v)).toBe(code);
  if (v.state === 'failure') expect(v.failure.pod).toBe(failingWith(name).pods[0]!.metadata.name);
});

test.each([['readiness-500'], ['unschedulable-cpu']])(
  '%s rests on elapsed time: on a picture not confirmed just now it waits for the API server first',
  (name) => {
    expect(
      verdict(
        pictureOf(failingWith(name), (p) => (p.beatOkAt = now - 1_000)),
        clock,
        options,
      ),
    ).toMatchObject({ state: 'in progress', confirm: true, stale: false });
    // With the API server down the picture is not fresh, and classify.ts does not judge elapsed time on it at all.
    expect(
      verdict(
        pictureOf(failingWith(name), (p) => (p.beatDown = true)),
        clock,
        options,
      ),
    ).toEqual({ state: 'in progress', judged: expect.anything() });
    // A crash does not rest on time: no confirmation needed.
    expect(
      failureCode(
        verdict(
          pictureOf(failingWith('crash-exit1'), (p) => (p.beatOkAt = now - 1_000)),
          clock,
          options,
        ),
      ),
    ).toBe('E_ROLLOUT_CRASHLOOP');
  },
);

test('a new ReplicaSet that cannot create its pods, with no old pods left, is E_ROLLOUT_REPLICA_FAILURE', () => {
  const c = midRollout();
  c.pods = [];
  for (const rs of c.replicaSets) if (rs !== newReplicaSet(c)) rs.spec!.replicas = 0;
  const message = 'pods "good-7fc6d75dd4-x" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=1, limited: cpu=2';
  newReplicaSet(c).status = { replicas: 0, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message }] };
  expect(failureCode(verdict(pictureOf(c), clock, options))).toBe('E_ROLLOUT_REPLICA_FAILURE');
});

test('a Deployment past its progress deadline is E_ROLLOUT_DEADLINE', () => {
  const { deployment } = json<{ deployment: Deployment }>('deployment-progress-deadline');
  const v = verdict(pictureOf({ deployment, replicaSets: [], pods: [], events: [] }), clock, options);
  expect(failureCode(v)).toBe('E_ROLLOUT_DEADLINE');
});

test('a Deployment deleted while tracked is E_ROLLOUT_DELETED, and the picture remembers it', () => {
  const p = pictureOf(midRollout(), (x) => (x.deployment = undefined));
  const v = verdict(p, clock, options);
  expect(v).toMatchObject({
    state: 'failure',
    failure: { code: 'E_ROLLOUT_DELETED', message: 'deployment/good in t was deleted while its rollout was tracked' },
  });
  expect(p.deleted).toBe(false); // pure
  remember(p, v);
  expect(p.deleted).toBe(true);
  expect(p.lastSeen.metadata.name).toBe('good'); // for the summary
});

test('out of time: E_ROLLOUT_TIMEOUT with what it waited for, from the last judgement', () => {
  const p = pictureOf(midRollout());
  const before = verdict(p, clock, options);
  expect(before.state).toBe('in progress');
  remember(p, before);
  const v = verdict(p, { ...clock, now: options.start + options.timeoutMs }, options);
  expect(failureCode(v)).toBe('E_ROLLOUT_TIMEOUT');
  if (v.state !== 'failure') return;
  expect(v.failure.message).toMatch(/^deployment\/good in t did not finish its rollout within 60 s: waiting for /);
  expect(v.failure.evidence[0]).toMatch(/^0\/1 new pods ready, 1 old pods left; waiting for /);
  expect(v.failure.evidence[1]).toMatch(/^pod\/good-7fc6d75dd4-ffszr: /);
  // A millisecond earlier it is still in progress.
  expect(verdict(p, { ...clock, now: options.start + options.timeoutMs - 1 }, options).state).toBe('in progress');
});

test('pure: judging leaves the picture as it was; remember() keeps the status and when old pods went away', () => {
  const p = pictureOf(midRollout());
  const copy = structuredClone(p);
  const v = verdict(p, clock, options);
  expect(p).toEqual(copy);
  remember(p, v);
  expect(p.lastStatus?.oldPods).toHaveLength(1);
  expect(p.lastOldPods).toBe(1);
  expect(p.capacityFreedAt).toBeUndefined();
  // The old pod is gone: capacity was freed now (server time).
  for (const [uid, pod] of p.pods) if (pod.metadata.name !== 'good-7fc6d75dd4-ffszr') p.pods.delete(uid);
  const after = verdict(p, clock, options);
  expect(after.judged?.capacityFreedAt).toBe(clock.serverNow);
});
