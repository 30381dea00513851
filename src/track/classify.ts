// Failure classifiers: pure functions from what the API server shows (a Pod, its Events, the
// ReplicaSet, the Deployment) to a verdict with evidence and a fix. The watcher feeds them;
// tests feed them real objects taken from a cluster.
//
// Each rule fails fast on evidence that will not go away by itself, and holds off on what can
// be transient: one crash (skaffold #5210) is tolerated, the second is not; a pull error that
// may be a network blip needs a second attempt; a pod that cannot be scheduled waits while
// old pods are still releasing capacity or the cluster-autoscaler is adding a node; readiness
// failures count only after the probe's own budget (kubedog's probes.go) has passed.
import type { ErrorCode } from '../errors.js';
import type { Condition, Container, ContainerStatus, ContainerStateTerminated, Deployment, KubeEvent, Pod, ReplicaSet } from '../kube/objects.js';

export type RolloutFailureCode = Extract<ErrorCode, `E_ROLLOUT_${string}`>;

export interface Failure {
  code: RolloutFailureCode;
  /** One line: what failed, where. */
  message: string;
  /** What shows it: container state, events, scheduler message... (log tails are added by the watcher). */
  evidence: string[];
  fix: string;
  pod?: string;
  container?: string;
  /**
   * Which log of `container` shows the cause: the previous instance's (the one that crashed,
   * when a new one already waits or runs) or the current one's, and what to call it.
   */
  logs?: { previous: boolean; label: string };
}

export interface PodContext {
  /** Now by the API server's clock, in ms (event and container times are server times). */
  now: number;
  /**
   * Whether the objects are known to be current (watches connected and settled after any
   * outage). Verdicts that depend on elapsed time are given only on fresh data: after an API
   * server restart a stale "not ready" must not become a readiness failure.
   */
  fresh: boolean;
  /** Pods of older ReplicaSets are still terminating: the capacity they hold is being released. */
  oldPodsTerminating?: boolean;
  /** When (server ms) the last old pod went away; the scheduler needs a moment to retry after it. */
  capacityFreedAt?: number;
  /**
   * When (server ms) the change this rollout comes from was applied. What happened before it is
   * an earlier attempt's evidence (a job re-run after a fix must not fail on the pull error of
   * the run before): events and terminations from before it are not judged, and a pod created
   * before it is judged only on what it does after it.
   */
  since?: number;
}

/** A container must have failed this many times (a crash, then the retry) before it fails the rollout. */
export const CRASH_THRESHOLD = 2;
/** Added to a readiness probe's budget: the kubelet's probe timing and status updates are not exact. */
export const READINESS_GRACE_SECONDS = 2;
/** How long a pod may stay unschedulable after capacity could last have changed. */
export const UNSCHEDULABLE_HOLD_MS = 5_000;
/** Failed pull attempts needed when the error itself does not prove the image is unpullable. */
export const PULL_ATTEMPTS = 2;
/**
 * Kubernetes timestamps have whole seconds (truncated) and the server clock is known to about half
 * a second: anything stamped up to this long before `since` may have happened after it.
 */
export const SINCE_SLACK_MS = 1_000;

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable', 'SignatureValidationFailed']);
// Pull errors that will be the same on every retry.
const DEFINITIVE_PULL =
  /not found|manifest unknown|\b40[13]\b|unauthori[sz]ed|denied|forbidden|invalid reference|couldn't parse image|no such host|does not exist|repository name .* must be/i;
const START_FAILURES = new Set(['StartError', 'ContainerCannotRun', 'RunContainerError']);
const TRANSIENT_CREATE = /already in use|context deadline exceeded|DeadlineExceeded|try again/i;
const TRANSIENT_CONFIG = /failed to sync (configmap|secret) cache|timed out waiting for the condition/i;
const TRANSIENT_CONFIG_REPEATS = 5;
// ContainerInstanceCreated=False reasons after which ECI will not create the pod (Aliyun's "Custom conditions of
// ECI-based pods"); Creating, StockExhaust ("will be used up") and the reboot notices are not failures.
const ECI_FATAL = new Set([
  'NoStock',
  'StockClose',
  'FailedScheduling',
  'DiskCapacityQuotaFull',
  'CpuOptionsNotSupported',
  'CpuOptionsNotValid',
  'InsufficientBalance',
  'ProviderFailed',
]);
const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };

// ---------------------------------------------------------------------------------------------
// Small readers

export function condition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** When an event last happened (server ms): core/v1 events have lastTimestamp, events.k8s.io ones eventTime/series. */
export function eventTime(e: KubeEvent): number {
  for (const t of [e.lastTimestamp, e.series?.lastObservedTime, e.eventTime, e.firstTimestamp, e.metadata.creationTimestamp]) {
    const ms = t ? Date.parse(t) : NaN;
    if (!Number.isNaN(ms)) return ms;
  }
  return 0;
}

export function eventCount(e: KubeEvent): number {
  return e.count ?? e.series?.count ?? 1;
}

/** The container an event is about: involvedObject.fieldPath is `spec.containers{web}`. */
export function eventContainer(e: KubeEvent): string | undefined {
  return /\{([^}]+)\}/.exec(e.involvedObject.fieldPath ?? '')?.[1];
}

function ms(t: string | undefined): number | undefined {
  const v = t ? Date.parse(t) : NaN;
  return Number.isNaN(v) ? undefined : v;
}

/** Whether a server time (ms, or a timestamp) is from before `since`: an earlier attempt's. Without `since`, nothing is. */
export function beforeSince(time: number | string | undefined, since: number | undefined): boolean {
  const t = typeof time === 'string' ? ms(time) : time;
  return since !== undefined && t !== undefined && t < since - SINCE_SLACK_MS;
}

function quote(text: string | undefined): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

function eventLine(e: KubeEvent): string {
  const n = eventCount(e);
  return `event ${e.reason ?? '?'}${n > 1 ? ` (x${n})` : ''}: ${quote(e.message)}`;
}

/** The registry host an image is pulled from (docker.io when the reference names none). */
export function registryHost(image: string): string {
  const first = image.split('/')[0] ?? '';
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

export function describeTermination(t: ContainerStateTerminated): string {
  const parts = [`exit code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`];
  const signal = t.signal ?? (t.exitCode > 128 && t.exitCode < 160 ? t.exitCode - 128 : undefined);
  if (signal) parts.push(`signal ${signal}${SIGNALS[signal] ? ` (${SIGNALS[signal]})` : ''}`);
  if (t.finishedAt) parts.push(`finished ${t.finishedAt}`);
  if (t.message) parts.push(`message: ${quote(t.message)}`);
  return parts.join(', ');
}

/** How many times the container has failed: restarts, plus the instance that is down now. */
export function failureCount(cs: ContainerStatus): number {
  // Down now: terminated and not restarted yet, or waiting (CrashLoopBackOff...) after a termination.
  const down = cs.state?.terminated !== undefined || (cs.state?.waiting !== undefined && cs.lastState?.terminated !== undefined);
  return cs.restartCount + (down ? 1 : 0);
}

/** The last time the container ended, if it ever did. */
export function lastTermination(cs: ContainerStatus): ContainerStateTerminated | undefined {
  return cs.state?.terminated ?? cs.lastState?.terminated;
}

/**
 * Seconds a readiness probe may fail after the container started before it is a failure:
 * initialDelaySeconds + periodSeconds × failureThreshold + timeoutSeconds (+ the startup
 * probe's own budget, which runs first) + a small grace.
 */
export function readinessBudgetSeconds(container: Container): number | undefined {
  const r = container.readinessProbe;
  if (!r) return undefined;
  let budget = (r.initialDelaySeconds ?? 0) + (r.periodSeconds ?? 10) * (r.failureThreshold ?? 3) + (r.timeoutSeconds ?? 1) + READINESS_GRACE_SECONDS;
  const s = container.startupProbe;
  if (s) budget += (s.initialDelaySeconds ?? 0) + (s.periodSeconds ?? 10) * (s.failureThreshold ?? 3) + (s.timeoutSeconds ?? 1);
  return budget;
}

export function describeProbe(probe: NonNullable<Container['readinessProbe']>): string {
  const target = probe.httpGet
    ? `HTTP GET ${probe.httpGet.scheme === 'HTTPS' ? 'https' : 'http'}://:${probe.httpGet.port ?? '?'}${probe.httpGet.path ?? '/'}`
    : probe.tcpSocket
      ? `TCP :${probe.tcpSocket.port ?? '?'}`
      : probe.grpc
        ? `gRPC :${probe.grpc.port ?? '?'}`
        : probe.exec
          ? `exec ${(probe.exec.command ?? []).join(' ')}`
          : 'probe';
  return `${target} (initialDelaySeconds ${probe.initialDelaySeconds ?? 0}, periodSeconds ${probe.periodSeconds ?? 10}, failureThreshold ${probe.failureThreshold ?? 3}, timeoutSeconds ${probe.timeoutSeconds ?? 1})`;
}

function specContainer(pod: Pod, name: string): Container | undefined {
  return pod.spec?.containers.find((c) => c.name === name) ?? pod.spec?.initContainers?.find((c) => c.name === name);
}

function containerEvents(events: KubeEvent[], container: string): KubeEvent[] {
  return events.filter((e) => {
    const c = eventContainer(e);
    return c === undefined || c === container;
  });
}

function newest(events: KubeEvent[]): KubeEvent | undefined {
  return [...events].sort((a, b) => eventTime(b) - eventTime(a))[0];
}

function warningEvents(events: KubeEvent[], limit = 5, shown?: string): string[] {
  // The kubelet repeats a container's waiting message as a Failed event "Error: <message>": once is enough.
  const repeats = (e: KubeEvent) => shown !== undefined && quote(e.message).replace(/^Error: /, '') === quote(shown);
  return events
    .filter((e) => e.type === 'Warning' && !repeats(e))
    .sort((a, b) => eventTime(b) - eventTime(a))
    .slice(0, limit)
    .map(eventLine);
}

function requests(container: Container | undefined): string {
  const r = container?.resources?.requests;
  const l = container?.resources?.limits;
  const fmt = (o: Record<string, string> | undefined) =>
    o
      ? Object.entries(o)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : 'none';
  return `requests ${fmt(r)}, limits ${fmt(l)}`;
}

// ---------------------------------------------------------------------------------------------
// Pod

/** The reason this pod makes the rollout fail, or undefined while it may still come up. */
export function classifyPod(pod: Pod, events: KubeEvent[], ctx: PodContext): Failure | undefined {
  if (pod.metadata.deletionTimestamp) return undefined;
  const own = events.filter(
    (e) =>
      (e.involvedObject.uid === pod.metadata.uid || (e.involvedObject.uid === undefined && e.involvedObject.name === pod.metadata.name)) &&
      !beforeSince(eventTime(e), ctx.since),
  );
  return classifyEci(pod, own) ?? classifyScheduling(pod, own, ctx) ?? classifyContainers(pod, own, ctx);
}

function classifyEci(pod: Pod, events: KubeEvent[]): Failure | undefined {
  const name = pod.metadata.name;
  const cond = condition(pod.status?.conditions, 'ContainerInstanceCreated');
  const failedCond = cond && cond.status === 'False' && cond.reason && ECI_FATAL.has(cond.reason) ? cond : undefined;
  const providerFailed = pod.status?.reason === 'ProviderFailed';
  const eciEvent = newest(events.filter((e) => e.type === 'Warning' && e.reason && ECI_FATAL.has(e.reason) && e.reason !== 'FailedScheduling'));
  if (!failedCond && !providerFailed && !eciEvent) return undefined;
  const reason = failedCond?.reason ?? (providerFailed ? 'ProviderFailed' : (eciEvent?.reason ?? 'ProviderFailed'));
  const detail = quote(failedCond?.message ?? pod.status?.message ?? eciEvent?.message);
  const evidence = [
    ...(failedCond ? [`condition ContainerInstanceCreated=False reason ${failedCond.reason}: ${quote(failedCond.message)}`] : []),
    ...(providerFailed ? [`pod status ${pod.status?.phase ?? ''} reason ProviderFailed: ${quote(pod.status?.message)}`] : []),
    ...warningEvents(events),
    `resources: ${pod.spec?.containers.map((c) => `${c.name}: ${requests(c)}`).join('; ')}`,
  ];
  const stock = /Stock/.test(reason);
  return {
    code: 'E_ROLLOUT_ECI',
    message: `pod ${name}: Elastic Container Instance could not create it (${reason}${detail ? `: ${detail}` : ''})`,
    evidence,
    fix: stock
      ? 'the zone has no ECI stock for this size: give the virtual node several vSwitches in different zones, allow more instance types (annotation k8s.aliyun.com/eci-use-specs, e.g. "2-4Gi,ecs.c6.large"), or lower the requests; with eci-fail-strategy fail-fast a retry of the deploy may land elsewhere'
      : reason === 'InsufficientBalance'
        ? 'the Alibaba Cloud account balance cannot pay for the instance: top up the account'
        : 'ECI refused the pod: check the ECI annotations (k8s.aliyun.com/eci-*) and the resource requests against the ECI specifications, and the ECI console events for this pod',
    pod: name,
  };
}

function classifyScheduling(pod: Pod, events: KubeEvent[], ctx: PodContext): Failure | undefined {
  const cond = condition(pod.status?.conditions, 'PodScheduled');
  if (cond?.status !== 'False' || cond.reason !== 'Unschedulable') return undefined;
  const since = ms(cond.lastTransitionTime) ?? ctx.now;
  // The cluster-autoscaler is adding a node for this pod: wait (the overall timeout still applies).
  if (events.some((e) => e.reason === 'TriggeredScaleUp' && eventTime(e) >= since - 1000)) return undefined;
  if (ctx.oldPodsTerminating) return undefined;
  if (!ctx.fresh || ctx.now - Math.max(since, ctx.capacityFreedAt ?? 0, ctx.since ?? 0) < UNSCHEDULABLE_HOLD_MS) return undefined;

  const message = quote(cond.message);
  const insufficient = [...message.matchAll(/Insufficient ([\w./-]*[\w/-])/g)].map((m) => m[1]!);
  const resources = [...new Set(insufficient)];
  const taint = /untolerated taint[^,.]*/.exec(message)?.[0];
  const affinity = /didn't match Pod's node affinity\/selector|node\(s\) didn't match/.test(message);
  const pvc = /PersistentVolumeClaim|volume node affinity/i.test(message);
  const what = resources.length
    ? `not enough ${resources.join(', ')} on any node`
    : taint
      ? `the nodes have taints the pod does not tolerate (${taint})`
      : affinity
        ? 'no node matches its nodeSelector/affinity'
        : pvc
          ? 'its volumes cannot be bound or reached'
          : 'no node fits it';
  const evidence = [
    `condition PodScheduled=False reason Unschedulable since ${cond.lastTransitionTime ?? '?'}: ${message}`,
    ...(pod.spec?.containers ?? []).map((c) => `container ${c.name}: ${requests(c)}`),
    ...warningEvents(
      events.filter((e) => e.reason !== 'FailedScheduling' || e.message !== cond.message),
      3,
    ),
  ];
  const fix = resources.length
    ? `the pod requests more ${resources.join(', ')} than any node has free: lower resources.requests${resources.includes('cpu') ? '.cpu' : resources.includes('memory') ? '.memory' : ''} in gantry.yaml, or add/enlarge nodes (on ASK/ECI use a virtual node)`
    : taint
      ? 'add a toleration for the taint, or deploy to nodes without it'
      : affinity
        ? 'fix the nodeSelector/affinity so that some node matches'
        : 'read the scheduler message above; the pod fits no node as specified';
  return { code: 'E_ROLLOUT_UNSCHEDULABLE', message: `pod ${pod.metadata.name} cannot be scheduled: ${what}`, evidence, fix, pod: pod.metadata.name };
}

function classifyContainers(pod: Pod, events: KubeEvent[], ctx: PodContext): Failure | undefined {
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []).map((s) => ({ s, init: true })),
    ...(pod.status?.containerStatuses ?? []).map((s) => ({ s, init: false })),
  ];
  // A pod from before `since`: a waiting state (it has no time) may be what an earlier attempt
  // left, so it counts only once the kubelet has reported it again (a Failed event, which the
  // kubelet sends on each try) after `since`; a termination counts by its own finishedAt.
  const earlier = beforeSince(pod.metadata.creationTimestamp, ctx.since);
  for (const { s, init } of statuses) {
    const f = classifyContainer(pod, s, init, containerEvents(events, s.name), ctx, earlier);
    if (f) return f;
  }
  return undefined;
}

function classifyContainer(pod: Pod, cs: ContainerStatus, init: boolean, events: KubeEvent[], ctx: PodContext, earlier: boolean): Failure | undefined {
  const spec = specContainer(pod, cs.name);
  const reported = !earlier || events.some((e) => e.reason === 'Failed');
  const waiting = reported ? cs.state?.waiting : undefined;
  const where = `pod ${pod.metadata.name}, ${init ? 'init container' : 'container'} ${cs.name}`;
  const base = { pod: pod.metadata.name, container: cs.name };

  if (waiting?.reason === 'CreateContainerConfigError') {
    // "failed to sync configmap cache: timed out waiting for the condition" is the kubelet's
    // informer for a namespace it has just started watching, not a missing object: it clears
    // on the kubelet's next try (seen on the first pod of a new env ConfigMap). Only if it
    // keeps coming back is it a failure.
    const transient = TRANSIENT_CONFIG.test(waiting.message ?? '');
    const repeats = events.filter((e) => e.reason === 'Failed' && TRANSIENT_CONFIG.test(e.message ?? '')).reduce((n, e) => n + eventCount(e), 0);
    if (!transient || repeats >= TRANSIENT_CONFIG_REPEATS) return configFailure(pod, cs, waiting.message, events, where);
  }

  if (waiting?.reason && PULL_REASONS.has(waiting.reason)) {
    const f = pullFailure(pod, cs, spec, events, where);
    if (f) return f;
  }

  if (waiting?.reason === 'CreateContainerError') {
    const failed = events.filter((e) => e.reason === 'Failed' && /^Error: /.test(e.message ?? ''));
    const attempts = failed.reduce((n, e) => n + eventCount(e), 0);
    if (!TRANSIENT_CREATE.test(waiting.message ?? '') || attempts >= 3) {
      return {
        code: 'E_ROLLOUT_CREATE',
        message: `${where}: the container runtime cannot create it: ${quote(waiting.message)}`,
        evidence: [`state waiting CreateContainerError: ${quote(waiting.message)}`, ...warningEvents(events, 5, waiting.message)],
        fix: 'check the container command, working directory, volume mounts (subPath) and securityContext against the image; the runtime message above names the part it rejected',
        ...base,
      };
    }
  }

  const failures = failureCount(cs);
  const last = lastTermination(cs);
  if (failures >= CRASH_THRESHOLD && last && !(earlier && beforeSince(last.finishedAt ?? '', ctx.since)))
    return crashFailure(pod, cs, spec, last, events, where, failures);
  if (failures >= CRASH_THRESHOLD && waiting?.reason && START_FAILURES.has(waiting.reason)) {
    return {
      code: 'E_ROLLOUT_CREATE',
      message: `${where} cannot start: ${quote(waiting.message)}`,
      evidence: [`state waiting ${waiting.reason}: ${quote(waiting.message)}`, ...warningEvents(events, 5, waiting.message)],
      fix: 'the container command must exist in the image: check command/args (and the image entrypoint)',
      ...base,
    };
  }

  if (!init && spec) {
    const f = readinessFailure(pod, cs, spec, events, ctx, where);
    if (f) return f;
  }
  return undefined;
}

function configFailure(pod: Pod, cs: ContainerStatus, message: string | undefined, events: KubeEvent[], where: string): Failure {
  const text = quote(message);
  const ns = pod.metadata.namespace ?? '';
  const key = /couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)\/(\S+)/.exec(text);
  const missing = /(secret|configmap|configMap) "([^"]+)" not found/i.exec(text);
  let what: string;
  let fix: string;
  if (key) {
    const [, k, kind, objNs, name] = key as unknown as [string, string, string, string, string];
    what = `key ${k} is missing from ${kind} ${name}`;
    fix = `add the key ${k} to ${kind} ${name} in namespace ${objNs} (for Gantry's <app>-secrets: define the CI variable K8S_SECRET_${k}), or remove the reference to it from the env`;
  } else if (missing) {
    const kind = missing[1]!.toLowerCase() === 'secret' ? 'Secret' : 'ConfigMap';
    what = `${kind} ${missing[2]} does not exist`;
    fix = `create ${kind} ${missing[2]} in namespace ${ns} before the deploy (or mark the reference optional: true), or fix its name in gantry.yaml`;
  } else {
    what = text;
    fix = 'the kubelet cannot build the container configuration: the message above names what is wrong (e.g. runAsNonRoot with an image that runs as root)';
  }
  return {
    code: 'E_ROLLOUT_CONFIG',
    message: `${where}: ${what}`,
    evidence: [`state waiting CreateContainerConfigError: ${text}`, ...warningEvents(events, 3, message)],
    fix,
    pod: pod.metadata.name,
    container: cs.name,
  };
}

function pullFailure(pod: Pod, cs: ContainerStatus, spec: Container | undefined, events: KubeEvent[], where: string): Failure | undefined {
  const waiting = cs.state!.waiting!;
  const image = spec?.image ?? cs.image ?? '?';
  const host = registryHost(image);
  const pullEvents = events.filter(
    (e) =>
      (e.reason === 'Failed' || e.reason === 'InspectFailed') &&
      /^Failed to (pull|apply default image tag)|^Error: (ErrImagePull|InvalidImageName)/.test(e.message ?? ''),
  );
  const kubeletMessage =
    newest(pullEvents.filter((e) => !/^Error: /.test(e.message ?? '')))?.message ??
    (waiting.reason === 'ErrImagePull' || waiting.reason === 'InvalidImageName' ? waiting.message : undefined);
  const attempts = events.filter((e) => e.reason === 'Failed' && /^Failed to pull image/.test(e.message ?? '')).reduce((n, e) => n + eventCount(e), 0);
  // The kubelet could not read the pod's pull secret and pulled without it. The secret may be
  // missing, or it was created a moment before the pod (a new namespace: the node may read it only
  // once the API server's node authorizer has seen the pod, and the kubelet's next attempt, 10 s
  // later, uses it): a refusal then proves nothing until a second attempt is refused too.
  const secretUnread = newest(events.filter((e) => e.reason === 'FailedToRetrieveImagePullSecret'));
  const refused = /\b40[13]\b|unauthori[sz]ed|denied|forbidden/i.test(kubeletMessage ?? '');
  const definitive =
    waiting.reason === 'InvalidImageName' ||
    waiting.reason === 'ErrImageNeverPull' ||
    (DEFINITIVE_PULL.test(kubeletMessage ?? '') && !(secretUnread && refused));
  if (!definitive && attempts < PULL_ATTEMPTS) return undefined;

  const text = quote(kubeletMessage ?? waiting.message);
  const secrets = (pod.spec?.imagePullSecrets ?? []).map((s) => s.name);
  const ns = pod.metadata.namespace ?? '';
  const notFound = /not found|manifest unknown|does not exist/i.test(text);
  const auth = /\b40[13]\b|unauthori[sz]ed|denied|forbidden/i.test(text);
  const invalid = waiting.reason === 'InvalidImageName' || /invalid reference|couldn't parse|must be lowercase/i.test(text);
  const secretHint =
    secretUnread && secrets.length
      ? `the kubelet could not read imagePullSecrets [${secrets.join(', ')}] in namespace ${ns}: create ${secrets.length > 1 ? 'them' : 'it'} there with credentials for ${host} (Gantry does from GANTRY_REGISTRY_USER / GANTRY_REGISTRY_PASSWORD)`
      : secrets.length
        ? `the pod pulls with imagePullSecrets [${secrets.join(', ')}]: make sure ${secrets.length > 1 ? 'they exist' : 'it exists'} in namespace ${ns} and ${secrets.length > 1 ? 'hold' : 'holds'} credentials for ${host}`
        : `the pod has no imagePullSecrets: a private registry needs a pull secret in namespace ${ns} for ${host} (Gantry creates one from the registry credentials)`;
  const reach = `${host} must be reachable from the cluster's nodes (on ACK use the registry's -vpc endpoint, on ASK/ECI the public one or a NAT gateway)`;
  const fix = invalid
    ? `fix the image reference "${image}" (lowercase repository, valid tag or @sha256 digest)`
    : notFound
      ? `the image ${image} is not in the registry: push it (check the tag/digest Gantry built) or fix the reference; ${reach}`
      : auth
        ? `${host} refused the pull: ${secretHint}`
        : `the node could not pull from ${host}: ${reach}; ${secretHint}`;
  return {
    code: 'E_ROLLOUT_IMAGE_PULL',
    message: `${where} cannot pull image ${image} from ${host}${notFound ? ' (not found)' : auth ? ' (access denied)' : invalid ? ' (invalid name)' : ''}`,
    evidence: [
      `image ${image} (registry ${host})`,
      `state waiting ${waiting.reason}${waiting.message ? `: ${quote(waiting.message)}` : ''}`,
      ...(kubeletMessage && kubeletMessage !== waiting.message ? [`kubelet: ${quote(kubeletMessage)}`] : []),
      ...(attempts ? [`failed pull attempts: ${attempts}`] : []),
      ...(secretUnread ? [`kubelet: ${quote(secretUnread.message)}`] : []),
      `imagePullSecrets: ${secrets.length ? secrets.join(', ') : 'none'}`,
    ],
    fix,
    pod: pod.metadata.name,
    container: cs.name,
  };
}

function crashFailure(
  pod: Pod,
  cs: ContainerStatus,
  spec: Container | undefined,
  last: ContainerStateTerminated,
  events: KubeEvent[],
  where: string,
  failures: number,
): Failure {
  // Until the kubelet restarts it, the crashed instance is the current one.
  const logs = { previous: cs.state?.terminated === undefined, label: 'the instance that crashed' };
  const base = { pod: pod.metadata.name, container: cs.name, logs };
  const state = cs.state?.waiting
    ? `state waiting ${cs.state.waiting.reason ?? ''}${cs.state.waiting.message ? `: ${quote(cs.state.waiting.message)}` : ''}`
    : cs.state?.terminated
      ? 'state terminated (not restarted yet)'
      : 'state running';
  const evidence = [`last termination: ${describeTermination(last)}`, `restarts ${cs.restartCount}, ${state}`];
  const liveness = events.filter((e) => /^(Liveness|Startup) probe (failed|errored)/.test(e.message ?? ''));
  evidence.push(...warningEvents(events, 4));

  if (last.reason === 'OOMKilled') {
    const limit = spec?.resources?.limits?.memory;
    return {
      code: 'E_ROLLOUT_OOM',
      message: `${where} was killed for exceeding its memory limit${limit ? ` (${limit})` : ''} (${failures} times)`,
      evidence: [...evidence, `resources: ${requests(spec)}`],
      fix: `raise resources.limits.memory${limit ? ` (now ${limit})` : ''} in gantry.yaml, or make the app use less: for Node set NODE_OPTIONS=--max-old-space-size to about 75% of the limit in MiB so the heap stays under it`,
      ...base,
    };
  }
  if (last.reason && START_FAILURES.has(last.reason)) {
    return {
      code: 'E_ROLLOUT_CREATE',
      message: `${where} cannot start: ${quote(last.message) || last.reason}`,
      evidence,
      fix: 'the container command must exist in the image: check command/args (and the image entrypoint); the runtime message above names what is missing',
      pod: pod.metadata.name,
      container: cs.name,
    };
  }
  const killedByProbe = liveness.length > 0 && (last.exitCode === 137 || last.exitCode === 143 || last.reason === 'Error');
  const fix = killedByProbe
    ? `the kubelet restarts it because its ${/^Startup/.test(liveness[0]!.message ?? '') ? 'startup' : 'liveness'} probe fails (${quote(liveness[0]!.message)}): make the probed endpoint answer, or give the app more time (initialDelaySeconds/failureThreshold)`
    : last.exitCode === 0
      ? 'the main process exits (exit code 0): a Deployment container must keep running, e.g. a server that listens; check the start command'
      : `the app exits with ${describeTermination(last).split(',')[0]}: read its log above (a missing environment variable or dependency is common), reproduce with docker run and the same env, then fix and redeploy`;
  return {
    code: 'E_ROLLOUT_CRASHLOOP',
    message: `${where} keeps crashing: ${describeTermination(last).split(', finished')[0]}, ${failures} failures`,
    evidence,
    fix,
    ...base,
  };
}

function readinessFailure(pod: Pod, cs: ContainerStatus, spec: Container, events: KubeEvent[], ctx: PodContext, where: string): Failure | undefined {
  const probe = spec.readinessProbe;
  const startedAt = ms(cs.state?.running?.startedAt);
  if (!probe || cs.ready || startedAt === undefined || !ctx.fresh) return undefined;
  const budget = readinessBudgetSeconds(spec)!;
  if (ctx.now - startedAt < budget * 1000) return undefined;
  // Only failures of this container instance count (timestamps have whole seconds).
  const failed = events.filter(
    (e) => e.reason === 'Unhealthy' && /^Readiness probe (failed|errored)/.test(e.message ?? '') && eventTime(e) >= startedAt - 1000,
  );
  const last = newest(failed);
  if (!last) return undefined;
  const runningFor = Math.round((ctx.now - startedAt) / 1000);
  return {
    code: 'E_ROLLOUT_READINESS',
    message: `${where} is not ready ${runningFor} s after it started (budget ${budget} s): ${quote(last.message)}`,
    evidence: [
      `readiness probe: ${describeProbe(probe)}`,
      `container running since ${cs.state?.running?.startedAt}, ready: false, restarts ${cs.restartCount}`,
      eventLine(last),
    ],
    fix: `make ${probe.httpGet ? `GET ${probe.httpGet.path ?? '/'} on port ${probe.httpGet.port ?? '?'}` : 'the readiness probe'} succeed once the app is ready (HTTP 2xx/3xx), or fix healthPath/port in gantry.yaml; if the app only starts slowly, raise initialDelaySeconds or failureThreshold`,
    pod: pod.metadata.name,
    container: cs.name,
    logs: { previous: false, label: 'the running instance' },
  };
}

// ---------------------------------------------------------------------------------------------
// ReplicaSet and Deployment

/**
 * The new ReplicaSet cannot create pods (ReplicaFailure/FailedCreate): an admission policy or an
 * invalid pod is final; an exceeded quota is final unless old pods are still to release some.
 */
export function classifyReplicaSet(rs: ReplicaSet, options: { oldPodsRemain: boolean; since?: number | undefined }): Failure | undefined {
  const cond = condition(rs.status?.conditions, 'ReplicaFailure');
  if (cond?.status !== 'True' || beforeSince(cond.lastTransitionTime, options.since)) return undefined;
  const message = quote(cond.message);
  const quota = /exceeded quota/i.test(message);
  if (quota && options.oldPodsRemain) return undefined;
  return {
    code: 'E_ROLLOUT_REPLICA_FAILURE',
    message: `replicaset ${rs.metadata.name} cannot create pods: ${message}`,
    evidence: [`condition ReplicaFailure=True reason ${cond.reason ?? ''}: ${message}`],
    fix: quota
      ? 'the namespace ResourceQuota has no room for the new pods: raise the quota, or lower resources.requests/limits or replicas in gantry.yaml'
      : /PodSecurity|violates/.test(message)
        ? "the namespace's Pod Security level forbids this pod: adjust securityContext (runAsNonRoot, no privilege escalation, drop capabilities) or the namespace label"
        : 'the API server rejects the pods this ReplicaSet creates (admission webhook or policy): the message above names the rule',
  };
}

/** The Deployment controller gave up: Progressing=False with reason ProgressDeadlineExceeded. */
export function classifyDeployment(d: Deployment, options: { since?: number | undefined } = {}): Failure | undefined {
  if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return undefined;
  const cond = condition(d.status?.conditions, 'Progressing');
  if (cond?.status !== 'False' || cond.reason !== 'ProgressDeadlineExceeded') return undefined;
  if (beforeSince(cond.lastUpdateTime ?? cond.lastTransitionTime, options.since)) return undefined;
  const deadline = d.spec?.progressDeadlineSeconds ?? 600;
  return {
    code: 'E_ROLLOUT_DEADLINE',
    message: `deployment ${d.metadata.name} made no progress for ${deadline} s (ProgressDeadlineExceeded): ${quote(cond.message)}`,
    evidence: [
      `condition Progressing=False reason ProgressDeadlineExceeded since ${cond.lastTransitionTime ?? '?'}: ${quote(cond.message)}`,
      `status: ${d.status?.updatedReplicas ?? 0} updated, ${d.status?.readyReplicas ?? 0} ready, ${d.status?.availableReplicas ?? 0} available of ${d.spec?.replicas ?? '?'}`,
    ],
    fix: 'the new pods never became available: their state in the summary shows why; if the app only starts slowly, raise progressDeadlineSeconds',
  };
}
