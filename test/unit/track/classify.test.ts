// The failure classifiers on real Pod and Event objects, taken with `kubectl get -o json` from the
// local cluster while each failure happened (test/fixtures/track). Variations (one restart
// instead of two, a later clock, an ECI condition) are made by editing copies of them.
import { readFileSync } from 'node:fs';
import {
  classifyDeployment,
  classifyPod,
  classifyReplicaSet,
  describeTermination,
  failureCount,
  readinessBudgetSeconds,
  registryHost,
  type PodContext,
} from '../../../src/track/classify.js';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../../../src/kube/objects.js';
import { fixture } from '../../support/fixtures.js';

interface PodFixture {
  pod: Pod;
  events: KubeEvent[];
}

function load(name: string): PodFixture {
  return JSON.parse(readFileSync(fixture('track', `${name}.json`), 'utf8')) as PodFixture;
}

/** A context where time is well past everything in the fixture and the data is current. */
function at(time: string | number, extra: Partial<PodContext> = {}): PodContext {
  return { now: typeof time === 'number' ? time : Date.parse(time), fresh: true, ...extra };
}

const later = at('2026-11-22T05:00:00Z');

describe('a crashing container', () => {
  test('that crashed again and again is E_ROLLOUT_CRASHLOOP with exit code, restarts and the crashed instance as the log to show', () => {
    const { pod, events } = load('crash-exit1');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CRASHLOOP');
    expect(f.pod).toBe(pod.metadata.name);
    expect(f.container).toBe('web');
    expect(f.message).toContain('keeps crashing: exit code 1 (Error), 4 failures');
    expect(f.evidence[0]).toBe('last termination: exit code 1 (Error), finished 2026-11-22T04:33:48Z');
    expect(f.evidence[1]).toBe('restarts 3, state terminated (not restarted yet)');
    expect(f.evidence.join('\n')).toContain('event BackOff (x4): Back-off restarting failed container web');
    // Not restarted yet: the crashed instance is the current one.
    expect(f.logs).toEqual({ previous: false, label: 'the instance that crashed' });
    expect(f.fix).toContain('read its log above');
  });

  test('that crashed once and runs again is tolerated (skaffold #5210): one restart is not a crash loop', () => {
    const { pod, events } = load('crash-exit1');
    const cs = pod.status!.containerStatuses![0]!;
    cs.restartCount = 1;
    cs.state = { running: { startedAt: '2026-11-22T04:33:49Z' } };
    expect(failureCount(cs)).toBe(1);
    expect(classifyPod(pod, events, later)).toBeUndefined();
  });

  test('that crashed once and is not restarted yet is tolerated; the second crash (CrashLoopBackOff after a restart) is not', () => {
    const { pod, events } = load('crash-exit1');
    const cs = pod.status!.containerStatuses![0]!;
    cs.restartCount = 0;
    cs.lastState = {};
    expect(failureCount(cs)).toBe(1);
    expect(classifyPod(pod, events, later)).toBeUndefined();

    cs.restartCount = 1;
    cs.lastState = { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-11-22T04:33:25Z' } };
    cs.state = { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=web' } };
    expect(failureCount(cs)).toBe(2);
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CRASHLOOP');
    expect(f.logs).toEqual({ previous: true, label: 'the instance that crashed' });
  });

  test('killed for its memory limit is E_ROLLOUT_OOM naming the limit and the signal', () => {
    const { pod, events } = load('oom-killed');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_OOM');
    expect(f.message).toContain('exceeding its memory limit (32Mi) (3 times)');
    expect(f.evidence[0]).toBe('last termination: exit code 137 (OOMKilled), signal 9 (SIGKILL), finished 2026-11-22T04:33:29Z');
    expect(f.evidence.join('\n')).toContain('resources: requests cpu=10m memory=32Mi, limits memory=32Mi');
    expect(f.fix).toContain('--max-old-space-size');
  });

  test('killed by its liveness probe points at the probe', () => {
    const { pod, events } = load('liveness-restarts');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CRASHLOOP');
    expect(f.evidence.join('\n')).toContain('Liveness probe failed: HTTP probe failed with statuscode: 500');
    expect(f.fix).toContain('liveness probe fails');
  });

  test('whose command does not exist in the image is E_ROLLOUT_CREATE with the runtime message', () => {
    const { pod, events } = load('start-error-no-binary');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CREATE');
    expect(f.message).toContain('exec: "/does/not/exist": stat /does/not/exist: no such file or directory');
    expect(f.fix).toContain('command must exist in the image');
  });

  test('that exits 0 is still a crash for a Deployment, with a fix that says so', () => {
    const { pod, events } = load('crash-exit1');
    const cs = pod.status!.containerStatuses![0]!;
    cs.state = { terminated: { exitCode: 0, reason: 'Completed', finishedAt: '2026-11-22T04:33:48Z' } };
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CRASHLOOP');
    expect(f.fix).toContain('must keep running');
  });
});

describe('an image that cannot be pulled', () => {
  test('a tag that does not exist fails at once, naming image, registry host and the kubelet message', () => {
    const { pod, events } = load('image-tag-missing');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(f.message).toBe(
      `pod ${pod.metadata.name}, container web cannot pull image 127.0.0.1:5000/gantry/node:does-not-exist from 127.0.0.1:5000 (not found)`,
    );
    expect(f.evidence).toContain('image 127.0.0.1:5000/gantry/node:does-not-exist (registry 127.0.0.1:5000)');
    expect(f.evidence.join('\n')).toMatch(/kubelet: Failed to pull image .*rpc error: code = NotFound/);
    expect(f.evidence).toContain('imagePullSecrets: none');
    expect(f.fix).toContain('push it');
    expect(f.fix).toContain('reachable from the cluster');
  });

  test('a refusal after the kubelet could not read the pull secret waits for a second attempt (a secret created a moment before is readable on the next), then fails naming the secret', () => {
    const { pod, events } = load('image-pull-unauthorized');
    pod.spec!.imagePullSecrets = [{ name: 'gantry-registry' }];
    const unread: KubeEvent = {
      ...events[0]!,
      reason: 'FailedToRetrieveImagePullSecret',
      type: 'Warning',
      count: 1,
      message: 'Unable to retrieve some image pull secrets (gantry-registry); attempting to pull the image may not succeed.',
    } as KubeEvent;
    const once = events.map((e) => ({ ...e, count: e.reason === 'Failed' ? 1 : e.count }));
    // Seen in CI: the Secret applied just before the Deployment, in a new namespace, was not yet
    // readable by the node; the kubelet pulled without it, was refused (401), and pulled fine 10 s later.
    expect(classifyPod(pod, [...once, unread], later)).toBeUndefined();
    // Without that warning one refusal is proof enough.
    expect(classifyPod(pod, once, later)!.code).toBe('E_ROLLOUT_IMAGE_PULL');
    // Refused again: the secret is missing or wrong.
    const f = classifyPod(pod, [...events, unread], later)!;
    expect(f.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(f.evidence).toContain('kubelet: Unable to retrieve some image pull secrets (gantry-registry); attempting to pull the image may not succeed.');
    expect(f.fix).toContain(`the kubelet could not read imagePullSecrets [gantry-registry] in namespace ${pod.metadata.namespace}`);
  });

  test('a registry refusing the credentials points at the pull secret in the namespace', () => {
    const { pod, events } = load('image-pull-unauthorized');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(f.message).toContain('from 127.0.0.1:5001 (access denied)');
    expect(f.evidence.join('\n')).toContain('401 Unauthorized');
    expect(f.fix).toContain(`no imagePullSecrets: a private registry needs a pull secret in namespace ${pod.metadata.namespace} for 127.0.0.1:5001`);

    pod.spec!.imagePullSecrets = [{ name: 'gantry-registry' }];
    expect(classifyPod(pod, events, later)!.fix).toContain(
      `imagePullSecrets [gantry-registry]: make sure it exists in namespace ${pod.metadata.namespace} and holds credentials for 127.0.0.1:5001`,
    );
  });

  test('an invalid image name is E_ROLLOUT_IMAGE_PULL with the parse error', () => {
    const { pod, events } = load('image-invalid-name');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(f.message).toContain('(invalid name)');
    expect(f.evidence.join('\n')).toContain('must be lowercase');
    expect(f.fix).toContain('fix the image reference');
  });

  test('a pull error that may be a network blip waits for a second attempt', () => {
    const { pod, events } = load('image-tag-missing');
    const blip = 'Failed to pull image "127.0.0.1:5000/gantry/node:does-not-exist": dial tcp 127.0.0.1:5000: i/o timeout';
    const cs = pod.status!.containerStatuses![0]!;
    cs.state = { waiting: { reason: 'ErrImagePull', message: 'dial tcp 127.0.0.1:5000: i/o timeout' } };
    const edited = events.map((e) => (e.message?.startsWith('Failed to pull image') ? { ...e, message: blip, count: 1 } : e));
    expect(classifyPod(pod, edited, later)).toBeUndefined();
    const again = edited.map((e) => (e.message === blip ? { ...e, count: 2 } : e));
    const f = classifyPod(pod, again, later)!;
    expect(f.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(f.evidence).toContain('failed pull attempts: 2');
  });

  test('registry hosts', () => {
    expect(registryHost('node:20')).toBe('docker.io');
    expect(registryHost('library/node:20')).toBe('docker.io');
    expect(registryHost('localhost/app:1')).toBe('localhost');
    expect(registryHost('crpi-x-vpc.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop@sha256:ab')).toBe('crpi-x-vpc.cn-hangzhou.personal.cr.aliyuncs.com');
    expect(registryHost('127.0.0.1:5000/gantry/node:20')).toBe('127.0.0.1:5000');
  });
});

describe('a missing ConfigMap, Secret or key', () => {
  test('a missing key names the key and the Secret, never a value', () => {
    const { pod, events } = load('config-missing-secret-key');
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CONFIG');
    expect(f.message).toBe(`pod ${pod.metadata.name}, container web: key DATABASE_URL is missing from Secret app-secrets`);
    expect(f.fix).toContain('K8S_SECRET_DATABASE_URL');
    expect(f.fix).toContain(`namespace ${pod.metadata.namespace}`);
    // The kubelet's message once: as the container state, not again as its "Error: ..." event.
    expect(f.evidence.filter((line) => line.includes("couldn't find key DATABASE_URL"))).toEqual([
      `state waiting CreateContainerConfigError: couldn't find key DATABASE_URL in Secret ${pod.metadata.namespace}/app-secrets`,
    ]);
  });

  test('a missing Secret and a missing ConfigMap are named', () => {
    const secret = load('config-missing-secret');
    expect(classifyPod(secret.pod, secret.events, later)!.message).toContain('Secret nope-secrets does not exist');
    const cm = load('config-missing-configmap');
    const f = classifyPod(cm.pod, cm.events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CONFIG');
    expect(f.message).toContain('ConfigMap app-config does not exist');
    expect(f.fix).toContain('create ConfigMap app-config');
  });
});

describe('the kubelet not having synced a new ConfigMap yet', () => {
  // Seen on this cluster (bench/deploy.mjs): the first pod of a new env ConfigMap waits in
  // CreateContainerConfigError "failed to sync configmap cache" for a second, then starts.
  function syncing(count: number) {
    const { pod, events } = load('config-missing-configmap');
    const p = structuredClone(pod);
    const message = 'failed to sync configmap cache: timed out waiting for the condition';
    p.status!.containerStatuses![0]!.state = { waiting: { reason: 'CreateContainerConfigError', message } };
    const failed = { ...structuredClone(events[0]!), reason: 'Failed', type: 'Warning', message: `Error: ${message}`, count };
    return classifyPod(p, [failed], later);
  }

  test('is not a failure while it clears on the next tries', () => {
    expect(syncing(1)).toBeUndefined();
  });

  test('is a failure when it keeps coming back', () => {
    expect(syncing(5)!.code).toBe('E_ROLLOUT_CONFIG');
  });
});

describe('a pod that cannot be scheduled', () => {
  const { pod, events } = load('unschedulable-cpu');
  const since = Date.parse('2026-11-22T04:33:10Z');

  test('fails once it stayed unschedulable for a moment, naming the resource and the requests', () => {
    const f = classifyPod(pod, events, at(since + 6_000))!;
    expect(f.code).toBe('E_ROLLOUT_UNSCHEDULABLE');
    expect(f.message).toBe(`pod ${pod.metadata.name} cannot be scheduled: not enough cpu on any node`);
    expect(f.evidence[0]).toContain('0/1 nodes are available: 1 Insufficient cpu');
    expect(f.evidence).toContain('container web: requests cpu=64, limits none');
    expect(f.fix).toContain('lower resources.requests.cpu');
  });

  test('waits while the scheduler may just not have retried, old pods are releasing capacity, the data is stale, or the autoscaler adds a node', () => {
    expect(classifyPod(pod, events, at(since + 1_000))).toBeUndefined();
    expect(classifyPod(pod, events, at(since + 60_000, { oldPodsTerminating: true }))).toBeUndefined();
    expect(classifyPod(pod, events, at(since + 60_000, { capacityFreedAt: since + 58_000 }))).toBeUndefined();
    expect(classifyPod(pod, events, at(since + 60_000, { fresh: false }))).toBeUndefined();
    const scaleUp: KubeEvent = {
      metadata: { name: 'x', uid: 'e1' },
      involvedObject: { kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
      reason: 'TriggeredScaleUp',
      message: 'pod triggered scale-up: [{asg-1 1->2 (max: 5)}]',
      type: 'Normal',
      lastTimestamp: '2026-11-22T04:33:12Z',
    };
    expect(classifyPod(pod, [...events, scaleUp], at(since + 60_000))).toBeUndefined();
  });

  test('other scheduler reasons: taints', () => {
    const tainted = structuredClone(pod);
    tainted.status!.conditions![0]!.message =
      '0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: infra}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';
    const f = classifyPod(tainted, [], at(since + 6_000))!;
    expect(f.message).toContain('taints the pod does not tolerate');
    expect(f.fix).toContain('toleration');
  });
});

describe('a readiness probe that keeps failing', () => {
  const { pod, events } = load('readiness-500');
  const started = Date.parse('2026-11-22T04:33:12Z');
  const container = pod.spec!.containers[0]!;

  test('has a budget of initialDelaySeconds + periodSeconds × failureThreshold + timeout + grace', () => {
    expect(readinessBudgetSeconds(container)).toBe(0 + 2 * 3 + 1 + 2);
    expect(readinessBudgetSeconds({ name: 'x', readinessProbe: {} })).toBe(10 * 3 + 1 + 2);
    expect(
      readinessBudgetSeconds({
        name: 'x',
        readinessProbe: { initialDelaySeconds: 5, periodSeconds: 2, failureThreshold: 3 },
        startupProbe: { periodSeconds: 5, failureThreshold: 12 },
      }),
    ).toBe(5 + 6 + 1 + 2 + 60 + 1);
    expect(readinessBudgetSeconds({ name: 'x' })).toBeUndefined();
  });

  test('is not a failure within its budget, and is one after it, with the probe message', () => {
    expect(classifyPod(pod, events, at(started + 8_000))).toBeUndefined();
    const f = classifyPod(pod, events, at(started + 9_000))!;
    expect(f.code).toBe('E_ROLLOUT_READINESS');
    expect(f.message).toBe(
      `pod ${pod.metadata.name}, container web is not ready 9 s after it started (budget 9 s): Readiness probe failed: HTTP probe failed with statuscode: 500`,
    );
    expect(f.evidence[0]).toBe('readiness probe: HTTP GET http://:8080/bad (initialDelaySeconds 0, periodSeconds 2, failureThreshold 3, timeoutSeconds 1)');
    expect(f.evidence).toContain('event Unhealthy (x18): Readiness probe failed: HTTP probe failed with statuscode: 500');
    expect(f.logs).toEqual({ previous: false, label: 'the running instance' });
  });

  test('needs current data, and a failure of this container instance', () => {
    expect(classifyPod(pod, events, at(started + 60_000, { fresh: false }))).toBeUndefined();
    // The container restarted after the last Unhealthy event: those failures were the old instance's.
    const restarted = structuredClone(pod);
    restarted.status!.containerStatuses![0]!.state = { running: { startedAt: '2026-11-22T04:40:00Z' } };
    expect(classifyPod(restarted, events, at('2026-11-22T04:41:00Z'))).toBeUndefined();
  });

  test('a ready container is never a readiness failure', () => {
    const { pod: good, events: goodEvents } = load('good-rollout-pod');
    expect(classifyPod(good, goodEvents, later)).toBeUndefined();
  });
});

describe('Elastic Container Instance (virtual-kubelet) failures', () => {
  // Not reproducible on this cluster: the condition and events are those Aliyun documents
  // ("Custom conditions of ECI-based pods"), put on a real pending pod.
  const base = load('unschedulable-cpu').pod;
  function eciPod(reason: string, message: string): Pod {
    const pod = structuredClone(base);
    pod.status!.conditions = [
      { type: 'ContainerInstanceCreated', status: 'False', reason, message, lastTransitionTime: '2026-11-22T04:33:10Z' },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-11-22T04:33:10Z' },
    ];
    return pod;
  }

  test('ContainerInstanceCreated=False NoStock fails at once with the stock advice', () => {
    const f = classifyPod(eciPod('NoStock', 'Create ECI failed because the specified instance is out of stock. zone: cn-hangzhou-h'), [], later)!;
    expect(f.code).toBe('E_ROLLOUT_ECI');
    expect(f.message).toContain('(NoStock: Create ECI failed because the specified instance is out of stock. zone: cn-hangzhou-h)');
    expect(f.evidence[0]).toBe(
      'condition ContainerInstanceCreated=False reason NoStock: Create ECI failed because the specified instance is out of stock. zone: cn-hangzhou-h',
    );
    expect(f.fix).toContain('eci-use-specs');
  });

  test('a ProviderFailed pod (eci-fail-strategy fail-fast) or a ProviderFailed event fails', () => {
    const failed = structuredClone(base);
    failed.status = {
      ...failed.status,
      phase: 'Failed',
      reason: 'ProviderFailed',
      message: 'InsufficientBalance: Your account does not have enough balance',
      conditions: [],
    };
    expect(classifyPod(failed, [], later)!.code).toBe('E_ROLLOUT_ECI');
    const event: KubeEvent = {
      metadata: { name: 'e', uid: 'e2' },
      involvedObject: { kind: 'Pod', name: base.metadata.name, uid: base.metadata.uid },
      reason: 'ProviderFailed',
      message: 'create eci failed: The specified zone is out of stock',
      type: 'Warning',
      lastTimestamp: '2026-11-22T04:33:11Z',
    };
    const pending = structuredClone(base);
    pending.status!.conditions = [];
    const f = classifyPod(pending, [event], later)!;
    expect(f.code).toBe('E_ROLLOUT_ECI');
    expect(f.evidence.join('\n')).toContain('event ProviderFailed: create eci failed');
  });

  test('Creating and StockExhaust ("will be used up") are not failures', () => {
    const creating = eciPod('Creating', 'Creating');
    creating.status!.conditions![1]!.status = 'True';
    expect(classifyPod(creating, [], later)).toBeUndefined();
    expect(classifyPod(eciPod('StockExhaust', 'The stock of the specified zones will be used up.'), [], later)).toBeUndefined();
  });
});

describe('other container states', () => {
  test('CreateContainerError fails with the runtime message; a name conflict waits for retries', () => {
    const { pod, events } = load('config-missing-secret');
    const cs = pod.status!.containerStatuses![0]!;
    cs.state = { waiting: { reason: 'CreateContainerError', message: 'failed to create containerd container: mount /data: invalid argument' } };
    const f = classifyPod(pod, events, later)!;
    expect(f.code).toBe('E_ROLLOUT_CREATE');
    expect(f.message).toContain('mount /data: invalid argument');
    cs.state = { waiting: { reason: 'CreateContainerError', message: 'the container name "k8s_web_x" is already in use by "abc"' } };
    expect(classifyPod(pod, [], later)).toBeUndefined();
  });

  test('a terminating pod is never judged', () => {
    const { pod, events } = load('crash-exit1');
    pod.metadata.deletionTimestamp = '2026-11-22T04:34:00Z';
    expect(classifyPod(pod, events, later)).toBeUndefined();
  });

  test('termination descriptions', () => {
    expect(describeTermination({ exitCode: 143 })).toBe('exit code 143, signal 15 (SIGTERM)');
    expect(describeTermination({ exitCode: 2, reason: 'Error', signal: 11 })).toBe('exit code 2 (Error), signal 11 (SIGSEGV)');
  });
});

describe('ReplicaSet and Deployment verdicts', () => {
  function rsWithFailure(message: string): ReplicaSet {
    return {
      metadata: { name: 'web-7d9', uid: 'rs1' },
      status: { replicas: 0, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message }] },
    };
  }

  test('a quota with no old pods left to free it, or a policy rejection, is E_ROLLOUT_REPLICA_FAILURE', () => {
    const quota = 'pods "web-7d9-x" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=1, limited: cpu=2';
    expect(classifyReplicaSet(rsWithFailure(quota), { oldPodsRemain: true })).toBeUndefined();
    const f = classifyReplicaSet(rsWithFailure(quota), { oldPodsRemain: false })!;
    expect(f.code).toBe('E_ROLLOUT_REPLICA_FAILURE');
    expect(f.fix).toContain('ResourceQuota');
    const psa = 'pods "web-7d9-x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false';
    expect(classifyReplicaSet(rsWithFailure(psa), { oldPodsRemain: true })!.fix).toContain('Pod Security');
  });

  test('ProgressDeadlineExceeded (a real Deployment) is E_ROLLOUT_DEADLINE', () => {
    const { deployment } = JSON.parse(readFileSync(fixture('track', 'deployment-progress-deadline.json'), 'utf8')) as { deployment: Deployment };
    const f = classifyDeployment(deployment)!;
    expect(f.code).toBe('E_ROLLOUT_DEADLINE');
    expect(f.message).toBe(
      'deployment deadline made no progress for 3 s (ProgressDeadlineExceeded): ReplicaSet "deadline-c6fb5555b" has timed out progressing.',
    );
    // A condition from before the controller saw the current generation says nothing about it.
    deployment.metadata.generation = 2;
    expect(classifyDeployment(deployment)).toBeUndefined();
  });
});

// A job re-run after its cause was fixed tracks pods that may have failed before its apply
// (PodContext.since): what they did before it is the failed run's evidence, not this run's.
describe('evidence from before this apply (a job re-run after a fix)', () => {
  const since = Date.parse('2026-11-22T04:34:00Z');
  const soon = (seconds: number, extra: Partial<PodContext> = {}) => at(since + seconds * 1000, { since, ...extra });
  const refreshed = (e: KubeEvent, time: string, count = (e.count ?? 1) + 1): KubeEvent => ({ ...structuredClone(e), lastTimestamp: time, count });

  test('a registry refusal before the apply is not judged: the pod waits in ImagePullBackOff for its next pull; a refusal after the apply fails', () => {
    const { pod, events } = load('image-pull-unauthorized');
    expect(classifyPod(pod, events, later)!.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(classifyPod(pod, events, soon(5))).toBeUndefined();
    const pulled = events.find((e) => e.message?.startsWith('Failed to pull image'))!;
    const again = [...events, refreshed(pulled, '2026-11-22T04:34:20Z')];
    const f = classifyPod(pod, again, soon(25))!;
    expect(f.code).toBe('E_ROLLOUT_IMAGE_PULL');
    expect(f.message).toContain('(access denied)');
  });

  test('a missing key the kubelet reported before the apply is not judged until it reports it again; a pod created after the apply is judged by its state at once', () => {
    const { pod, events } = load('config-missing-secret-key');
    expect(classifyPod(pod, events, soon(5))).toBeUndefined();
    const failed = events.find((e) => e.reason === 'Failed')!;
    expect(classifyPod(pod, [...events, refreshed(failed, '2026-11-22T04:34:03Z')], soon(5))!.code).toBe('E_ROLLOUT_CONFIG');
    const created = structuredClone(pod);
    created.metadata.creationTimestamp = '2026-11-22T04:34:01Z';
    expect(classifyPod(created, [], soon(3))!.code).toBe('E_ROLLOUT_CONFIG');
  });

  test('crashes before the apply are not counted, even with restarts: a crash after it is', () => {
    const { pod, events } = load('crash-exit1');
    // Not restarted yet since the last crash, at 04:33:48.
    expect(classifyPod(pod, events, soon(5))).toBeUndefined();
    // Restarted after the apply and running: the old restarts say nothing about this instance.
    const cs = pod.status!.containerStatuses![0]!;
    const crashed = cs.state!.terminated!;
    cs.lastState = { terminated: crashed };
    cs.restartCount = 4;
    cs.state = { running: { startedAt: '2026-11-22T04:34:05Z' } };
    expect(classifyPod(pod, events, soon(10))).toBeUndefined();
    // It crashes again after the apply.
    cs.state = { terminated: { ...crashed, startedAt: '2026-11-22T04:34:05Z', finishedAt: '2026-11-22T04:34:06Z' } };
    expect(classifyPod(pod, events, soon(10))!.code).toBe('E_ROLLOUT_CRASHLOOP');
  });

  test('an unschedulable pod from before the apply gets the hold again after it', () => {
    const { pod, events } = load('unschedulable-cpu');
    expect(classifyPod(pod, events, at(since + 2_000))!.code).toBe('E_ROLLOUT_UNSCHEDULABLE');
    expect(classifyPod(pod, events, soon(2))).toBeUndefined();
    expect(classifyPod(pod, events, soon(6))!.code).toBe('E_ROLLOUT_UNSCHEDULABLE');
  });

  test("a Deployment's ProgressDeadlineExceeded or a ReplicaSet's ReplicaFailure from before the apply is no verdict", () => {
    const { deployment } = JSON.parse(readFileSync(fixture('track', 'deployment-progress-deadline.json'), 'utf8')) as { deployment: Deployment };
    // The condition is from 04:34:12.
    expect(classifyDeployment(deployment, { since: Date.parse('2026-11-22T04:34:30Z') })).toBeUndefined();
    expect(classifyDeployment(deployment, { since: Date.parse('2026-11-22T04:34:10Z') })!.code).toBe('E_ROLLOUT_DEADLINE');
    const rs: ReplicaSet = {
      metadata: { name: 'web-7d9', uid: 'rs1' },
      status: {
        replicas: 0,
        conditions: [
          {
            type: 'ReplicaFailure',
            status: 'True',
            reason: 'FailedCreate',
            message: 'pods "web-7d9-x" is forbidden: violates PodSecurity "restricted:latest"',
            lastTransitionTime: '2026-11-22T04:33:00Z',
          },
        ],
      },
    };
    expect(classifyReplicaSet(rs, { oldPodsRemain: false, since })).toBeUndefined();
    expect(classifyReplicaSet(rs, { oldPodsRemain: false, since: Date.parse('2026-11-22T04:32:59Z') })!.code).toBe('E_ROLLOUT_REPLICA_FAILURE');
  });
});
