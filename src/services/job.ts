// A one-off command run to completion as a Kubernetes Job: the migration before a deploy
// (backend.migrate) and the seed command of a new database instance. The Job runs the new image
// with the app's environment; its log is streamed into the job output as it comes; it ends in
// success, or in a catalogue error that carries the exit code, the termination reason and the
// last lines of the log. A pod that cannot start is reported as soon as the rollout classifier
// (track/classify.ts) would report it for the app, not when the deadline passes.
//
// How it is followed: the Job, its pod and (while the pod waits to start) the pod's events are
// read once a second with pollUntil; the container's log is followed on its own connection
// from the moment the container runs. Polling rather than watches: one pod, for minutes, and
// the three reads ride on the client's retries when the API server blinks.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, V1EnvFromSource, V1EnvVar, V1ResourceRequirements } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { gantryError, type ErrorCode } from '../errors.js';
import { cleanupClient, kubeClient, type KubeClient } from '../kube/client.js';
import {
  INSTANCE_LABEL,
  NAME_LABEL,
  type Condition,
  type ContainerStateTerminated,
  type K8sObject,
  type KubeEvent,
  type ObjectMeta,
  type Pod,
} from '../kube/objects.js';
import { pollUntil } from '../retry.js';
import { beforeSince, classifyPod, condition, describeTermination, eventTime, type Failure } from '../track/classify.js';
import { logTail } from '../track/evidence.js';

export type JobPurpose = 'migration' | 'seed';

export interface JobInput {
  purpose: JobPurpose;
  namespace: string;
  /** The Job's name, unique per run (e.g. hello-migrate-<short sha>-<random>); a DNS-1123 label. */
  name: string;
  image: string;
  /** The command, as exec'd (a string from gantry.yaml is passed as ['sh', '-c', text] by the caller). */
  command: string[];
  /** The app container's env and envFrom: $(VAR) references and secretKeyRefs are resolved by the kubelet. */
  env: V1EnvVar[];
  envFrom: V1EnvFromSource[];
  imagePullSecrets: { name: string }[];
  /** The app container's resources; requests are set to a small default when there are none (ECI bills 2 vCPU / 4 GiB without). */
  resources?: V1ResourceRequirements;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  /** The Job's activeDeadlineSeconds, and Gantry's own bound (a little longer). */
  timeoutSeconds: number;
  /** For the timeout message: the setting that gives timeoutSeconds (default backend.migrateTimeout / the seed's). */
  timeoutSetting?: string;
  /** Pod annotations copied from the app's pod template (ECI annotations, for one). */
  podAnnotations?: Record<string, string>;
  /**
   * How long the finished Job stays for inspection (ttlSecondsAfterFinished). Default: a day for
   * a migration; a seed Job is kept (null) because its success is the record that the instance
   * was seeded (succeededJobWithLabel).
   */
  keepSeconds?: number | null;
}

export interface JobResult {
  ok: true;
  elapsedMs: number;
  logLines: number;
}

/** The label on every Job (and its pod) this module creates: its purpose. */
export const JOB_PURPOSE_LABEL = 'gantry.dev/job';
/** A finished migration Job stays this long for `kubectl logs job/...`. */
export const KEEP_SECONDS = 86_400;
/** Past activeDeadlineSeconds, how long Gantry waits for the Job controller to end the Job before it does. */
export const OVERRUN_MS = 15_000;
/** The pod's grace on deletion: a Job is deleted only when it has timed out or the deploy was cancelled. */
export const TERMINATION_GRACE_SECONDS = 10;
/** How many of the last log lines a failure shows. */
export const LOG_TAIL_LINES = 20;
const POLL_MS = 1000;
/** After the container ended, how long the log stream may take to deliver its last lines. */
const DRAIN_MS = 5000;
const LINE_MAX = 4000;
const TAIL_LINE_MAX = 400;
const DEFAULT_REQUESTS = { cpu: '250m', memory: '256Mi' };
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const CODES: Record<JobPurpose, { failed: ErrorCode & ('E_MIGRATION_FAILED' | 'E_SEED_FAILED'); timeout: 'E_MIGRATION_TIMEOUT' | 'E_SEED_TIMEOUT' }> = {
  migration: { failed: 'E_MIGRATION_FAILED', timeout: 'E_MIGRATION_TIMEOUT' },
  seed: { failed: 'E_SEED_FAILED', timeout: 'E_SEED_TIMEOUT' },
};

export interface Job {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { activeDeadlineSeconds?: number };
  status?: { conditions?: Condition[]; active?: number; succeeded?: number; failed?: number; startTime?: string };
}

/** The container's name in the Job's pod. */
export function containerName(purpose: JobPurpose): string {
  return purpose === 'migration' ? 'migrate' : 'seed';
}

/**
 * Pure: the Job. The pod does not carry the app's name/instance labels: those are the app
 * Service's selector, and a running migration pod (no readiness probe, so ready) would get traffic.
 */
export function jobObject(input: JobInput): K8sObject {
  if (!DNS_LABEL.test(input.name) || input.name.length > 63) {
    throw gantryError('E_INTERNAL', {
      doing: `run ${input.purpose} Job`,
      reason: `the Job name ${JSON.stringify(input.name)} is not a DNS label of at most 63 characters`,
    });
  }
  const keep = input.keepSeconds === undefined ? (input.purpose === 'migration' ? KEEP_SECONDS : null) : input.keepSeconds;
  const podLabels = Object.fromEntries(Object.entries(input.labels).filter(([k]) => k !== NAME_LABEL && k !== INSTANCE_LABEL));
  const resources = input.resources?.requests || input.resources?.limits ? input.resources : { ...input.resources, requests: DEFAULT_REQUESTS };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { ...input.labels, [JOB_PURPOSE_LABEL]: input.purpose },
      ...(input.annotations && Object.keys(input.annotations).length ? { annotations: input.annotations } : {}),
    },
    spec: {
      // One attempt: a migration that failed half-way must not run again by itself.
      backoffLimit: 0,
      activeDeadlineSeconds: input.timeoutSeconds,
      ...(keep === null ? {} : { ttlSecondsAfterFinished: keep }),
      template: {
        metadata: {
          labels: { ...podLabels, [JOB_PURPOSE_LABEL]: input.purpose },
          ...(input.podAnnotations && Object.keys(input.podAnnotations).length ? { annotations: input.podAnnotations } : {}),
        },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          // The command talks to its database, not to the Kubernetes API.
          automountServiceAccountToken: false,
          ...(input.imagePullSecrets.length ? { imagePullSecrets: input.imagePullSecrets } : {}),
          containers: [
            {
              name: containerName(input.purpose),
              image: input.image,
              command: input.command,
              ...(input.env.length ? { env: input.env } : {}),
              ...(input.envFrom.length ? { envFrom: input.envFrom } : {}),
              resources,
            },
          ],
        },
      },
    },
  };
}

export type JobState =
  | { state: 'pending'; pod?: Pod }
  /** The container runs, or has ended with 0 and the Job is not marked complete yet. */
  | { state: 'running'; pod: Pod }
  | { state: 'succeeded'; pod?: Pod }
  | { state: 'failed'; pod?: Pod; termination?: ContainerStateTerminated; why: string }
  | { state: 'deadline'; pod?: Pod }
  | { state: 'cannot-start'; pod: Pod; failure: Failure }
  | { state: 'cannot-create'; said: string }
  | { state: 'gone' };

const FINAL = new Set<JobState['state']>(['succeeded', 'failed', 'deadline', 'cannot-start', 'cannot-create', 'gone']);

/**
 * Pure: where the Job is, from the Job, its newest pod and their events. `now` and `since` are
 * server times (ms); `since` is the Job's creation.
 */
export function judgeJob(job: Job | undefined, pod: Pod | undefined, events: KubeEvent[], purpose: JobPurpose, at: { now: number; since: number }): JobState {
  if (!job || job.metadata.deletionTimestamp) return { state: 'gone' };
  const conditions = job.status?.conditions;
  const isTrue = (type: string) => condition(conditions, type)?.status === 'True';
  const withPod = pod ? { pod } : {};
  if (isTrue('Complete') || isTrue('SuccessCriteriaMet')) return { state: 'succeeded', ...withPod };
  const container = pod?.status?.containerStatuses?.find((c) => c.name === containerName(purpose));
  const ended = container?.state?.terminated;
  const failedCond = [condition(conditions, 'Failed'), condition(conditions, 'FailureTarget')].find((c) => c?.status === 'True');
  if (failedCond?.reason === 'DeadlineExceeded') return { state: 'deadline', ...withPod };
  if (failedCond) {
    return {
      state: 'failed',
      ...withPod,
      ...(ended ? { termination: ended } : {}),
      why: `${failedCond.reason ?? 'Failed'}: ${failedCond.message ?? ''}`.trim(),
    };
  }
  if (ended && ended.exitCode !== 0) return { state: 'failed', pod: pod!, termination: ended, why: 'the container exited' };
  if (pod?.status?.phase === 'Failed') {
    return { state: 'failed', pod, why: `pod ${pod.status.reason ?? 'Failed'}${pod.status.message ? `: ${pod.status.message}` : ''}` };
  }
  if (pod) {
    const failure = classifyPod(pod, events, { now: at.now, fresh: true, since: at.since });
    if (failure) return { state: 'cannot-start', pod, failure };
    if (ended || container?.state?.running) return { state: 'running', pod };
    return { state: 'pending', pod };
  }
  const refused = events
    .filter((e) => e.type === 'Warning' && e.reason === 'FailedCreate' && e.involvedObject.uid === job.metadata.uid && !beforeSince(eventTime(e), at.since))
    .sort((a, b) => eventTime(b) - eventTime(a))[0];
  if (refused) return { state: 'cannot-create', said: (refused.message ?? '').replace(/\s+/g, ' ').trim() };
  return { state: 'pending' };
}

/** "2026-12-03T02:10:00.1234Z text": the line's time and text (timestamps=true); no time when the line has none. */
export function splitLogLine(raw: string): { time?: string; key?: string; text: string } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z(?: |$)/.exec(raw);
  if (!m) return { text: raw };
  // RFC 3339 with trimmed fraction digits does not sort as text: pad them for comparing.
  return { time: `${m[1]}Z`, key: `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`, text: raw.slice(m[0].length) };
}

function clip(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The container's log, printed as it comes and kept in part for a failure's message. */
interface LogFollower {
  /** Starts following once the pod's container runs or has ended; notes when it has ended. */
  see(pod: Pod): void;
  /** Waits up to `ms` for the stream to deliver the rest, then stops it. */
  finish(ms: number): Promise<void>;
  count(): number;
  tail(): string[];
  followed(): boolean;
}

function logFollower(ctx: Ctx, client: KubeClient, input: JobInput): LogFollower {
  const container = containerName(input.purpose);
  const prefix = `${input.purpose} |`;
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  let ended = false;
  let lastKey = '';
  let lastTime: string | undefined;
  let count = 0;
  const tail: string[] = [];

  const onLine = (raw: string) => {
    const { key, time, text } = splitLogLine(raw);
    // A stream followed again from the last second repeats that second's lines.
    if (key !== undefined) {
      if (key <= lastKey) return;
      lastKey = key;
      lastTime = time;
    }
    count++;
    tail.push(clip(text, TAIL_LINE_MAX));
    if (tail.length > LOG_TAIL_LINES) tail.shift();
    ctx.logger.info(`${prefix} ${clip(text, LINE_MAX)}`);
  };

  async function follow(pod: string): Promise<void> {
    let told = false;
    while (!stop.signal.aborted) {
      try {
        await client.followLog(input.namespace, pod, container, { ...(lastTime ? { sinceTime: lastTime } : {}), signal: stop.signal }, onLine);
      } catch (error) {
        if (stop.signal.aborted) return;
        if (!told) ctx.logger.warn(`reading the log of pod ${pod}: ${(error as Error).message ?? error}; trying again`);
        told = true;
      }
      // The stream ends when the container has ended; before that it was cut: follow again.
      if (ended) return;
      await sleep(POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  }

  return {
    see(pod) {
      const state = pod.status?.containerStatuses?.find((c) => c.name === container)?.state;
      if (state?.terminated) ended = true;
      if (!running && (state?.running || state?.terminated)) running = follow(pod.metadata.name);
    },
    async finish(ms) {
      ended = true;
      // The pause ends with the stream too (stop), so no timer outlives the Job.
      if (running) await Promise.race([running, sleep(ms, undefined, { signal: stop.signal }).catch(() => undefined)]);
      stop.abort();
      await running;
    },
    count: () => count,
    tail: () => tail.map((line) => ctx.logger.mask(line)),
    followed: () => running !== undefined,
  };
}

/** The Job, its newest pod, and (while that waits to start, or there is none) their events. */
async function look(client: KubeClient, input: JobInput, since: number): Promise<JobState> {
  const job = await client.read<Job>({ apiVersion: 'batch/v1', kind: 'Job', name: input.name, namespace: input.namespace });
  if (!job) return { state: 'gone' };
  const pods = await client.list<Pod>('v1', 'Pod', input.namespace, { labelSelector: `job-name=${input.name}` });
  const pod = pods.sort((a, b) => Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? ''))[0];
  const state = pod?.status?.containerStatuses?.find((c) => c.name === containerName(input.purpose))?.state;
  const events = state?.running || state?.terminated ? [] : await eventsOf(client, input.namespace, pod?.metadata.uid ?? job.metadata.uid);
  return judgeJob(job, pod, events, input.purpose, { now: client.serverNow(), since });
}

async function eventsOf(client: KubeClient, namespace: string, uid: string): Promise<KubeEvent[]> {
  try {
    const answer = await client.getJson<{ items?: KubeEvent[] }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
      fieldSelector: `involvedObject.uid=${uid}`,
    });
    return answer.body.items ?? [];
  } catch {
    // Events only sharpen the diagnosis; the next look asks again.
    return [];
  }
}

/**
 * Deletes the Job and, through the garbage collector, its pod. When the step was cancelled the
 * step's client no longer sends anything: then a client of its own, bounded like the lease's release.
 */
async function removeJob(ctx: Ctx, kc: KubeConfig, client: KubeClient, input: JobInput): Promise<boolean> {
  const deleting = cleanupClient(ctx, kc, client, { retries: 0 });
  try {
    const existed = await deleting.remove(
      { apiVersion: 'batch/v1', kind: 'Job', name: input.name, namespace: input.namespace },
      { doing: `delete job/${input.name}` },
    );
    if (existed) {
      ctx.logger.info(`deleted the ${input.purpose} Job ${input.name}`);
      if (ctx.signal.aborted) ctx.cleanup.note(`deleted the ${input.purpose} Job ${input.name}`);
    }
    return true;
  } catch (error) {
    ctx.logger.warn(
      `could not delete the ${input.purpose} Job ${input.name}: ${(error as Error).message}; delete it with kubectl -n ${input.namespace} delete job ${input.name}`,
    );
    return false;
  }
}

/** After a timeout: waits (bounded) until the Job's pod is gone, so the next run never overlaps this one. */
async function untilPodsGone(ctx: Ctx, client: KubeClient, input: JobInput): Promise<boolean> {
  return pollUntil(
    ctx,
    `wait for the pod of job/${input.name} to end`,
    async () => ((await client.list('v1', 'Pod', input.namespace, { labelSelector: `job-name=${input.name}` })).length === 0 ? true : undefined),
    { intervalMs: POLL_MS, timeoutMs: (TERMINATION_GRACE_SECONDS + 20) * 1000, onTimeout: () => false },
  );
}

function podEvidence(pod: Pod | undefined, purpose: JobPurpose): string[] {
  if (!pod) return ['no pod was created'];
  const cs = pod.status?.containerStatuses?.find((c) => c.name === containerName(purpose));
  const s = cs?.state;
  const state = s?.terminated
    ? `terminated: ${describeTermination(s.terminated)}`
    : s?.running
      ? `running since ${s.running.startedAt ?? '?'}`
      : s?.waiting
        ? `waiting ${s.waiting.reason ?? ''}${s.waiting.message ? `: ${s.waiting.message}` : ''}`
        : `phase ${pod.status?.phase ?? '?'}`;
  return [`pod ${pod.metadata.name}, container ${containerName(purpose)}: ${state}`];
}

/**
 * Runs the command as a Job and waits for it. Throws E_MIGRATION_FAILED / E_SEED_FAILED when
 * it fails or cannot start, E_MIGRATION_TIMEOUT / E_SEED_TIMEOUT past timeoutSeconds (the Job
 * is deleted, and its pod awaited); deletes the Job when the step is cancelled.
 */
export async function runJob(ctx: Ctx, kc: KubeConfig, input: JobInput): Promise<JobResult> {
  const job = jobObject(input);
  const what = `${input.purpose} Job ${input.name}`;
  const shown = input.command.length === 3 && input.command[0] === 'sh' && input.command[1] === '-c' ? input.command[2]! : input.command.join(' ');
  if (ctx.dryRun) {
    ctx.logger.info(`would run ${what} in ${input.namespace}: ${shown}`);
    return { ok: true, elapsedMs: 0, logLines: 0 };
  }
  const codes = CODES[input.purpose];
  const client = kubeClient(ctx, kc);
  const start = Date.now();
  const seconds = () => ((Date.now() - start) / 1000).toFixed(1);
  const title = input.purpose === 'migration' ? 'Migration' : 'Seed';

  return ctx.logger.section(input.purpose, `${title}: ${shown} (Job ${input.name} in ${input.namespace})`, async () => {
    const logs = logFollower(ctx, client, input);
    // The pod as last seen: a timed-out Job's pod may be gone by the time the verdict comes.
    let lastPod: Pod | undefined;
    let outcome: JobState;
    try {
      // A create cancelled in flight may still have created the Job: the catch deletes it either way.
      const created = await client.create<Job>(job, { doing: `create job/${input.name} in ${input.namespace}` });
      const since = Date.parse(created.metadata.creationTimestamp ?? '') || client.serverNow();
      ctx.logger.info(`created ${what} (deadline ${input.timeoutSeconds} s)`);
      outcome = await pollUntil(
        ctx,
        `wait for ${what}`,
        async () => {
          const state = await look(client, input, since);
          if ('pod' in state && state.pod) {
            lastPod = state.pod;
            logs.see(state.pod);
          }
          return FINAL.has(state.state) ? state : undefined;
        },
        { intervalMs: POLL_MS, timeoutMs: input.timeoutSeconds * 1000 + OVERRUN_MS, onTimeout: () => ({ state: 'deadline' }) },
      );
    } catch (error) {
      await logs.finish(0);
      // Whatever ended the watch (a cancellation, the API server lost past its retries, a create
      // whose answer was lost), a Job left running would run beside the next deploy's: delete it.
      await removeJob(ctx, kc, client, input);
      // The step's reason (cancelled, out of time), not the pause's AbortError.
      throw ctx.signal.aborted ? (ctx.signal.reason ?? error) : error;
    }
    const pod = ('pod' in outcome ? outcome.pod : undefined) ?? lastPod;
    // A container that ended before it was seen running: its whole log is still there to read.
    if (pod && (outcome.state === 'succeeded' || outcome.state === 'failed')) logs.see(pod);
    await logs.finish(outcome.state === 'succeeded' || outcome.state === 'failed' ? DRAIN_MS : 0);
    const where = { job: input.name, namespace: input.namespace };

    switch (outcome.state) {
      case 'succeeded':
        ctx.logger.info(`${what} succeeded in ${seconds()} s (${logs.count()} log lines)`);
        return { ok: true as const, elapsedMs: Date.now() - start, logLines: logs.count() };
      case 'failed': {
        const t = outcome.termination;
        const log = await tailOf(client, input, logs, pod);
        const limit = pod?.spec?.containers.find((c) => c.name === containerName(input.purpose))?.resources?.limits?.memory;
        ctx.logger.error(`${what} failed after ${seconds()} s`);
        throw gantryError(codes.failed, {
          problem: 'exited',
          ...where,
          termination: ctx.logger.mask(t ? describeTermination(t).split(', finished')[0]! : outcome.why),
          oom: t?.reason === 'OOMKilled',
          memoryLimit: limit,
          log,
          evidence: [...podEvidence(pod, input.purpose), ...(t ? [] : [`job: ${outcome.why}`])].map((l) => ctx.logger.mask(l)),
          kept: input.keepSeconds !== 0,
        });
      }
      case 'deadline': {
        const log = logs.followed() ? logs.tail() : [];
        const evidence = podEvidence(pod, input.purpose).map((l) => ctx.logger.mask(l));
        ctx.logger.error(`${what} did not finish within ${input.timeoutSeconds} s: deleting it`);
        const deleted = await removeJob(ctx, kc, client, input);
        if (deleted && !(await untilPodsGone(ctx, client, input))) ctx.logger.warn(`the pod of ${what} is still terminating`);
        throw gantryError(codes.timeout, {
          ...where,
          seconds: input.timeoutSeconds,
          setting: input.timeoutSetting ?? (input.purpose === 'migration' ? 'backend.migrateTimeout' : 'the seed timeout'),
          log,
          evidence,
          deleted,
        });
      }
      case 'cannot-start': {
        const f = outcome.failure;
        ctx.logger.error(`${what} cannot start (${f.code}): deleting it`);
        await removeJob(ctx, kc, client, input);
        throw gantryError(codes.failed, {
          problem: 'cannot-start',
          ...where,
          cause: f.code,
          said: ctx.logger.mask(f.message),
          evidence: f.evidence.map((l) => ctx.logger.mask(l)),
          fix: f.fix,
        });
      }
      case 'cannot-create':
        ctx.logger.error(`${what} cannot create its pod: deleting it`);
        await removeJob(ctx, kc, client, input);
        throw gantryError(codes.failed, { problem: 'cannot-create', ...where, said: ctx.logger.mask(outcome.said) });
      default:
        throw gantryError(codes.failed, { problem: 'gone', ...where });
    }
  });
}

/** The last lines of the log: what the stream delivered, else what the API server still has. */
async function tailOf(client: KubeClient, input: JobInput, logs: LogFollower, pod: Pod | undefined): Promise<string[]> {
  if (logs.count() > 0 || !pod) return logs.tail();
  const lines = await logTail(client, input.namespace, pod.metadata.name, containerName(input.purpose), { previous: false, label: 'the Job' });
  // logTail's lines: a header, then "| line" each (or one "not available" line).
  return lines.length > 1
    ? lines
        .slice(1)
        .map((l) => l.replace(/^\| /, ''))
        .slice(-LOG_TAIL_LINES)
    : [];
}

/**
 * Whether a Job with all these labels has succeeded in the namespace: how a seed runs once per
 * database instance (the caller labels the seed Job with the StatefulSet's uid).
 */
export async function succeededJobWithLabel(ctx: Ctx, kc: KubeConfig, namespace: string, labels: Record<string, string>): Promise<boolean> {
  const labelSelector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const jobs = await kubeClient(ctx, kc).list<Job>('batch/v1', 'Job', namespace, { labelSelector });
  return jobs.some((j) => (j.status?.succeeded ?? 0) > 0 || condition(j.status?.conditions, 'Complete')?.status === 'True');
}
