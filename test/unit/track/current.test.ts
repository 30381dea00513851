// Whether the revision a Deployment runs is failing right now (failureNow): asked by deploy when
// its apply left the pod template unchanged, to decide whether the pods an earlier run left need
// a fresh start. On the real mid-rollout Deployment with the real failing pods of the fixtures.
import { readFileSync } from 'node:fs';
import { failureNow } from '../../../src/track/current.js';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../../../src/kube/objects.js';
import { fixture } from '../../support/fixtures.js';

interface Rollout {
  deployment: Deployment;
  replicaSets: ReplicaSet[];
  pods: Pod[];
}

const later = Date.parse('2026-11-22T05:00:00Z');

/** The mid-rollout Deployment (revision 2 coming up) with the new pod replaced by a fixture's, and its events. */
function withNewPod(name: string): Rollout & { events: KubeEvent[] } {
  const r = JSON.parse(readFileSync(fixture('track', 'deployment-mid-rollout.json'), 'utf8')) as Rollout;
  const failing = JSON.parse(readFileSync(fixture('track', `${name}.json`), 'utf8')) as { pod: Pod; events: KubeEvent[] };
  const newRs = r.replicaSets.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2')!;
  failing.pod.metadata.ownerReferences = [{ kind: 'ReplicaSet', name: newRs.metadata.name, uid: newRs.metadata.uid, controller: true }];
  return { ...r, pods: [...r.pods.filter((p) => p.metadata.ownerReferences![0]!.uid !== newRs.metadata.uid), failing.pod], events: failing.events };
}

test('pods left failing by an earlier run are failing now, whatever their evidence is from before: pull refused, key missing, crash loop', () => {
  for (const [name, code] of [
    ['image-pull-unauthorized', 'E_ROLLOUT_IMAGE_PULL'],
    ['config-missing-secret-key', 'E_ROLLOUT_CONFIG'],
    ['crash-exit1', 'E_ROLLOUT_CRASHLOOP'],
  ] as const) {
    const r = withNewPod(name);
    expect([name, failureNow(r.deployment, r.replicaSets, r.pods, r.events, later)]).toEqual([
      name,
      { revision: '2', failure: expect.objectContaining({ code }) },
    ]);
  }
});

test('a revision still coming up, complete, or not yet seen by the controller is not failing', () => {
  const starting = JSON.parse(readFileSync(fixture('track', 'deployment-mid-rollout.json'), 'utf8')) as Rollout;
  expect(failureNow(starting.deployment, starting.replicaSets, starting.pods, [], later)).toBeUndefined();

  const r = withNewPod('crash-exit1');
  r.deployment.metadata.generation = 3;
  expect(failureNow(r.deployment, r.replicaSets, r.pods, r.events, later)).toBeUndefined();

  const good = withNewPod('good-rollout-pod');
  expect(failureNow(good.deployment, good.replicaSets, good.pods, good.events, later)).toBeUndefined();
});

test('a Deployment past its progress deadline is failing', () => {
  const r = withNewPod('good-rollout-pod');
  const { deployment } = JSON.parse(readFileSync(fixture('track', 'deployment-progress-deadline.json'), 'utf8')) as { deployment: Deployment };
  r.deployment.status!.conditions = deployment.status!.conditions;
  // The pod is still not ready: nothing but the Deployment's condition says it is failing.
  r.pods[r.pods.length - 1]!.status!.conditions = r.pods[r.pods.length - 1]!.status!.conditions!.map((c) =>
    c.type === 'Ready' ? { ...c, status: 'False' } : c,
  );
  expect(failureNow(r.deployment, r.replicaSets, r.pods, [], later)).toMatchObject({ revision: '2', failure: { code: 'E_ROLLOUT_DEADLINE' } });
});
