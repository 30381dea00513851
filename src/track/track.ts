// trackRollout: follow a Deployment's rollout until it is complete, or fails, or time runs
// out. Four list+watch streams (the Deployment, its ReplicaSets, their Pods, the namespace's
// Events) keep a current picture; on every change and every second it is judged: complete?
// (status.ts) failing? (classify.ts). Progress goes to a collapsible section; the per-resource
// summary follows it. A failed rollout is a result, not an exception: the caller decides what
// happens next (roll back, report). Only problems reaching or reading the cluster throw.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { catalogue, GantryError } from '../errors.js';
import { apiStatus, kubeError } from '../kube/failures.js';
import { beforeSince, classifyDeployment, classifyPod, classifyReplicaSet, eventTime, type Failure, type RolloutFailureCode } from './classify.js';
import { rolloutStatus, selectorString, type RolloutStatus } from './status.js';
import { formatSummary, podLastReason, summarize, type ResourceSummary } from './summary.js';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../kube/objects.js';
import { getJson, isFatal, startStream, type Stream } from '../kube/watch.js';

export interface TrackOptions {
  namespace: string;
  /** The Deployment's name. */
  name: string;
  /** Give up after this long (default 300 s). */
  timeoutSeconds?: number;
  /**
   * When the API server refuses to watch (RBAC with list but not watch, or a proxy that cannot
   * stream), poll with lists every 2 s instead of failing (default true).
   */
  pollFallback?: boolean;
  /**
   * Whether the rollout is complete only once old pods that are already terminating are gone
   * too (default true: the old version may still be finishing work). false is what kubectl
   * rollout status does, and saves the old version's shutdown time.
   */
  waitForTerminatingPods?: boolean;
  /**
   * When (ms by the API server's clock) the change this rollout comes from was applied. Only what
   * happened after it is judged or printed: events, container terminations, pod and ReplicaSet
   * and Deployment conditions from before it are an earlier attempt's (a job re-run after a fix
   * must not fail on the failed run's ErrImagePull). Default: everything counts.
   */
  since?: number;
}

export type TrackResult = TrackSuccess | TrackFailure;

export interface TrackSuccess {
  ok: true;
  elapsedMs: number;
  summary: ResourceSummary[];
}

export interface TrackFailure {
  ok: false;
  code: RolloutFailureCode;
  message: string;
  /** Container state, events, log tail... already masked. */
  evidence: string[];
  fix: string;
  elapsedMs: number;
  summary: ResourceSummary[];
  pod?: string;
  container?: string;
}

export const DEFAULT_TIMEOUT_SECONDS = 300;
/**
 * After the API server was unreachable (or a stream reconnected), verdicts that need a current
 * picture wait this long: the kubelet retries the pod status updates it could not send every
 * 10 s, so until then the API server may still show what was true before the outage.
 */
export const RESETTLE_MS = 12_000;
/** How often the API server's health is checked, and how old that check may be for a verdict that needs a current picture. */
const HEARTBEAT_MS = 1_000;
const HEARTBEAT_MAX_AGE_MS = 1_500;
/** Failures that rest on elapsed time, which a stale picture can fake (see PodContext.fresh). */
const TIME_BASED = new Set<RolloutFailureCode>(['E_ROLLOUT_READINESS', 'E_ROLLOUT_UNSCHEDULABLE']);
const LOG_TAIL_LINES = 30;
const LOG_LINE_MAX = 400;

/** A failed result as the catalogue error, for the CLI's top-level report. */
export function rolloutError(result: TrackFailure): GantryError {
  return new GantryError(result.code, result.message, { details: result.evidence, fix: result.fix });
}

interface State {
  deployment: Deployment | undefined;
  /** The Deployment as last seen, for the summary when it was deleted. */
  lastSeen: Deployment;
  deleted: boolean;
  replicaSets: Map<string, ReplicaSet>;
  pods: Map<string, Pod>;
  events: Map<string, KubeEvent>;
}

function replaceAll<T extends { metadata: { uid: string } }>(map: Map<string, T>, items: T[]): void {
  map.clear();
  for (const item of items) map.set(item.metadata.uid, item);
}

function apply<T extends { metadata: { uid: string } }>(map: Map<string, T>, type: string, obj: T): void {
  if (type === 'DELETED') map.delete(obj.metadata.uid);
  else map.set(obj.metadata.uid, obj);
}

function elapsed(start: number): string {
  return `[${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s]`;
}

function podLine(pod: Pod, events: KubeEvent[]): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const ready = `${statuses.filter((s) => s.ready).length}/${pod.spec?.containers.length ?? statuses.length}`;
  const restarts = [...statuses, ...(pod.status?.initContainerStatuses ?? [])].reduce((n, s) => n + s.restartCount, 0);
  const phase = pod.metadata.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Pending');
  const reason = podLastReason(pod, events);
  return `pod/${pod.metadata.name}: ${phase}, ready ${ready}, restarts ${restarts}${reason ? `, ${reason}` : ''}`;
}

export async function trackRollout(ctx: Ctx, kc: KubeConfig, options: TrackOptions): Promise<TrackResult> {
  const { namespace, name } = options;
  const start = Date.now();
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const what = `deployment/${name} in ${namespace}`;
  const server = kc.getCurrentCluster()?.server ?? '(no cluster)';

  if (ctx.dryRun) {
    ctx.logger.info(`would track the rollout of ${what} (up to ${timeoutMs / 1000} s)`);
    return { ok: true, elapsedMs: 0, summary: [] };
  }

  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  let clockOffset = 0;
  const serverNow = () => Date.now() + clockOffset;

  // The Deployment first: its selector scopes the other streams, and a missing Deployment or
  // missing rights are reported before anything else.
  const deploymentsPath = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`;
  const first = await readDeployment();
  if (!first) {
    throw new GantryError('E_KUBE_NOT_FOUND', `track ${what}: the Deployment does not exist`, {
      fix: 'apply the manifests before tracking, and check the Deployment name and namespace',
    });
  }

  async function readDeployment(): Promise<Deployment | undefined> {
    let attempt = 0;
    for (;;) {
      try {
        const sent = Date.now();
        const answer = await getJson<{ items?: Deployment[] }>(kc, deploymentsPath, { fieldSelector: `metadata.name=${name}` }, ctx.signal);
        if (answer.date !== undefined) clockOffset = answer.date + 500 - (sent + Date.now()) / 2;
        return answer.body.items?.[0];
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
        if (isFatal(error) || Date.now() - start > timeoutMs) throw kubeError(`track ${what}`, error, server);
        ctx.logger.warn(`track ${what}: ${String((error as Error).message ?? error)}; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(4000, 500 * 2 ** attempt++)));
      }
    }
  }

  const state: State = { deployment: first, lastSeen: first, deleted: false, replicaSets: new Map(), pods: new Map(), events: new Map() };
  const synced = { deployments: false, replicasets: false, pods: false, events: false };
  const live = { deployments: false, replicasets: false, pods: false, events: false };
  const lost = { deployments: false, replicasets: false, pods: false, events: false };
  let settledUntil = 0;
  // The heartbeat: the watches alone cannot tell a quiet cluster from an API server that stopped
  // answering (one shutting down keeps its watches open, silent, for up to a minute).
  let beatOkAt = 0;
  let beatDown = false;
  let beatPath = '/readyz';
  let fatal: unknown;

  // What has been printed, so that every line appears once.
  const printedPods = new Map<string, string>();
  const printedWarnings = new Set<string>();
  let printedProgress = '';
  let printedRevision = '';
  let lastOldPods = 0;
  let capacityFreedAt: number | undefined;
  let lastStatus: RolloutStatus | undefined;

  const result = await ctx.logger.section('rollout', `Rollout of ${what}`, async (): Promise<TrackResult> => {
    ctx.logger.info(`${elapsed(start)} tracking ${what} (timeout ${timeoutMs / 1000} s)`);
    const failure = await untilVerdict();
    const elapsedMs = Date.now() - start;
    const summary = summarize(state.deployment ?? state.lastSeen, [...state.replicaSets.values()], [...state.pods.values()], [...state.events.values()], lastStatus, state.deleted);
    if (!failure) {
      ctx.logger.info(`${elapsed(start)} ${what} rolled out in ${(elapsedMs / 1000).toFixed(1)} s`);
      return { ok: true, elapsedMs, summary };
    }
    const evidence = [...failure.evidence];
    if (failure.logs && failure.pod && failure.container) evidence.push(...(await logTail(failure.pod, failure.container, failure.logs)));
    // Only the verdict: the cause, evidence and fix are in the result, for the caller to report once.
    ctx.logger.error(`${elapsed(start)} ${failure.code} (${catalogue[failure.code].title})`);
    return {
      ok: false,
      code: failure.code,
      message: ctx.logger.mask(failure.message),
      evidence: evidence.map((line) => ctx.logger.mask(line)),
      fix: failure.fix,
      elapsedMs,
      summary,
      ...(failure.pod ? { pod: failure.pod } : {}),
      ...(failure.container ? { container: failure.container } : {}),
    };
  });
  ctx.logger.info(`rollout summary of ${what}:`);
  for (const line of formatSummary(result.summary)) ctx.logger.info(`  ${line}`);
  return result;

  /** Runs the streams until the rollout is complete (undefined) or has failed (the failure). */
  function untilVerdict(): Promise<Failure | undefined> {
    return new Promise<Failure | undefined>((resolve, reject) => {
      let finished = false;
      let pending = false;
      const ticker = setInterval(() => {
        void beat();
        schedule();
      }, HEARTBEAT_MS);
      let beating = false;
      const timer = setTimeout(() => finish(timeoutFailure()), Math.max(0, timeoutMs - (Date.now() - start)));
      const onAbort = () =>
        finish({ code: 'E_ROLLOUT_ABORTED', message: `tracking ${what} was cancelled`, evidence: [], fix: 'the job was cancelled; the rollout may still be going on in the cluster' });

      function end(): boolean {
        if (finished) return false;
        finished = true;
        clearInterval(ticker);
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        stop.abort();
        return true;
      }
      function finish(failure?: Failure): void {
        if (end()) resolve(failure);
      }
      function fail(error: unknown): void {
        if (end()) reject(error);
      }
      function schedule(): void {
        if (pending || finished) return;
        pending = true;
        setImmediate(() => {
          pending = false;
          try {
            evaluate();
          } catch (error) {
            fail(error);
          }
        });
      }

      let toldWaiting = false;
      function waitingOnServer(): void {
        if (toldWaiting) return;
        toldWaiting = true;
        ctx.logger.info(`${elapsed(start)} complete as far as can be seen, but the picture may be stale: waiting for the API server to confirm`);
      }

      /** One health check of the API server; on a change of its answer, re-judge. */
      async function beat(): Promise<void> {
        if (beating || finished) return;
        beating = true;
        try {
          await getJson(kc, beatPath, {}, signal, 2000);
          beatOkAt = Date.now();
          if (beatDown) {
            beatDown = false;
            settledUntil = Date.now() + RESETTLE_MS;
            ctx.logger.info(`${elapsed(start)} the API server answers again; judging again in ${RESETTLE_MS / 1000} s, once the cluster has caught up`);
          }
        } catch (error) {
          if (signal.aborted) return;
          const status = apiStatus(error);
          if (status && beatPath === '/readyz' && [401, 403, 404].includes(status.code)) {
            // /readyz is normally open to every user; where it is not, any read we may do will do.
            beatPath = `${deploymentsPath}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}&limit=1`;
          } else if (!beatDown) {
            beatDown = true;
            ctx.logger.info(`${elapsed(start)} the API server does not answer (${status ? `HTTP ${status.code} ${status.message}` : String((error as { code?: unknown }).code ?? (error as Error).message)}); waiting`);
          }
        } finally {
          beating = false;
          schedule();
        }
      }

      function evaluate(): void {
        if (finished) return;
        if (fatal !== undefined) return fail(kubeError(`track ${what}`, fatal, server));
        if (!synced.deployments || !synced.replicasets || !synced.pods) return;
        const d = state.deployment;
        if (d) state.lastSeen = d;
        if (!d) {
          state.deleted = true;
          return finish({
            code: 'E_ROLLOUT_DELETED',
            message: `${what} was deleted while its rollout was tracked`,
            evidence: [],
            fix: 'something else deleted the Deployment (another pipeline, a person, a namespace cleanup): find out what, then deploy again',
          });
        }
        const now = serverNow();
        const replicaSets = [...state.replicaSets.values()];
        const pods = [...state.pods.values()];
        const events = [...state.events.values()];
        const status = rolloutStatus(d, replicaSets, pods, now, { waitForTerminating: options.waitForTerminatingPods ?? true });
        lastStatus = status;
        if (status.oldPods.length < lastOldPods) capacityFreedAt = now;
        lastOldPods = status.oldPods.length;
        report(d, status, events);
        // Completion, and failures that rest on elapsed time, need a current picture: streams
        // live, the API server answering right now, and settled after any outage.
        const current =
          !beatDown && Date.now() - beatOkAt < HEARTBEAT_MAX_AGE_MS && Date.now() >= settledUntil && Object.values(live).every(Boolean);
        const confirmed = (): boolean => {
          if (current && Date.now() - beatOkAt < 250) return true;
          if (!beatDown) void beat(); // check now: its answer runs this evaluation again
          return false;
        };
        if (status.done) {
          if (confirmed()) finish();
          else if (beatDown || Date.now() < settledUntil || Object.values(lost).some(Boolean)) waitingOnServer();
          return;
        }

        const fresh = current && synced.events;
        const byPod = new Map<string, KubeEvent[]>();
        for (const e of events) {
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
          if (failure && (!TIME_BASED.has(failure.code) || confirmed())) return finish(failure);
          if (failure) return;
        }
        if (status.newReplicaSet) {
          const oldPodsRemain = status.oldPods.length > 0 || replicaSets.some((rs) => rs !== status.newReplicaSet && (rs.spec?.replicas ?? 0) > 0);
          const failure = classifyReplicaSet(status.newReplicaSet, { oldPodsRemain, since: options.since });
          if (failure) return finish(failure);
        }
        const failure = classifyDeployment(d, { since: options.since });
        if (failure) return finish(failure);
      }

      function report(d: Deployment, status: RolloutStatus, events: KubeEvent[]): void {
        const log = (line: string) => ctx.logger.info(`${elapsed(start)} ${line}`);
        if (status.newReplicaSet && status.revision && printedRevision !== status.revision) {
          printedRevision = status.revision;
          const paused = d.spec?.paused ? ' (the Deployment is paused: nothing rolls out until it is resumed)' : '';
          log(`revision ${status.revision}: replicaset/${status.newReplicaSet.metadata.name}, ${status.desired} replica${status.desired === 1 ? '' : 's'} wanted${paused}`);
        }
        for (const pod of status.newPods) {
          const line = podLine(pod, events);
          if (printedPods.get(pod.metadata.uid) !== line) {
            printedPods.set(pod.metadata.uid, line);
            log(line);
          }
        }
        // Warnings about this rollout's objects, each once: the same message for several pods is printed once.
        const tracked = new Set<string>([d.metadata.uid, ...(status.newReplicaSet ? [status.newReplicaSet.metadata.uid] : []), ...status.newPods.map((p) => p.metadata.uid)]);
        // Recent ones only: those since the apply, or (not knowing when that was) the last 30 s.
        const recent = (e: KubeEvent) => (options.since !== undefined ? !beforeSince(eventTime(e), options.since) : eventTime(e) >= start + clockOffset - 30_000);
        for (const e of [...events].sort((a, b) => eventTime(a) - eventTime(b))) {
          if (e.type !== 'Warning' || !tracked.has(e.involvedObject.uid ?? '') || !recent(e)) continue;
          const objectName = e.involvedObject.name ?? '';
          const generic = (e.message ?? '').split(objectName).join('<name>').split(e.involvedObject.uid ?? '\u0000').join('<uid>');
          const key = `${e.reason}\u0000${generic}`;
          if (printedWarnings.has(key)) continue;
          printedWarnings.add(key);
          log(`warning ${(e.involvedObject.kind ?? '').toLowerCase()}/${objectName} ${e.reason ?? ''}: ${(e.message ?? '').replace(/\s+/g, ' ').trim()}`);
        }
        // Until the new ReplicaSet is known there are no counts worth showing, only what it waits for.
        const old = status.oldPods.length ? `, ${status.oldPods.length} old pod${status.oldPods.length === 1 ? '' : 's'}${status.oldTerminating ? ` (${status.oldTerminating} terminating)` : ''}` : '';
        const counts = status.newReplicaSet || status.done ? `${status.readyNew}/${status.desired} ready${old}` : '';
        const tail = status.done ? 'all new pods available, no old pods left' : status.waitingFor ? `waiting for ${status.waitingFor}` : '';
        // A changed count is news; a changed number inside the waiting reason alone is not.
        const key = `${counts}|${tail.replace(/\d+/g, '#')}`;
        if (key !== printedProgress) {
          printedProgress = key;
          log([counts, tail].filter(Boolean).join(counts && status.done ? ': ' : '; '));
        }
      }

      function timeoutFailure(): Failure {
        const status = lastStatus;
        const events = [...state.events.values()];
        const evidence: string[] = [];
        if (status) {
          evidence.push(`${status.readyNew}/${status.desired} new pods ready${status.oldPods.length ? `, ${status.oldPods.length} old pods left` : ''}${status.waitingFor ? `; waiting for ${status.waitingFor}` : ''}`);
          for (const pod of status.newPods) evidence.push(podLine(pod, events));
        }
        const down = Object.entries(live).filter(([, isLive]) => !isLive).map(([k]) => k);
        if (down.length) evidence.push(`the API server was not answering for: ${down.join(', ')}`);
        const tracked = new Set(status?.newPods.map((p) => p.metadata.uid) ?? []);
        evidence.push(
          ...events
            .filter((e) => e.type === 'Warning' && tracked.has(e.involvedObject.uid ?? '') && !beforeSince(eventTime(e), options.since))
            .sort((a, b) => eventTime(b) - eventTime(a))
            .slice(0, 5)
            .map((e) => `event ${e.reason}: ${(e.message ?? '').replace(/\s+/g, ' ')}`),
        );
        return {
          code: 'E_ROLLOUT_TIMEOUT',
          message: `${what} did not finish its rollout within ${timeoutMs / 1000} s${status?.waitingFor ? `: waiting for ${status.waitingFor}` : ''}`,
          evidence,
          fix: 'the pod states above show what it waits for; if the app just needs longer to start, raise the tracking timeout',
        };
      }

      function stream<T extends { metadata: { uid: string; resourceVersion?: string } }>(
        key: keyof typeof synced,
        path: string,
        params: { labelSelector?: string; fieldSelector?: string },
        onSync: (items: T[]) => void,
        onEvent: (type: string, obj: T) => void,
      ): Stream {
        return startStream<T>(
          kc,
          { what: key, path, params },
          {
            onSync: (items) => {
              onSync(items);
              synced[key] = true;
              schedule();
            },
            onEvent: (type, obj) => {
              onEvent(type, obj);
              schedule();
            },
            onState: (s, detail) => {
              if (s === 'down' && !lost[key]) {
                lost[key] = true;
                ctx.logger.info(`${elapsed(start)} lost the ${key} stream (${detail}); listing again`);
              }
              if (s === 'live' && lost[key]) {
                lost[key] = false;
                ctx.logger.info(`${elapsed(start)} ${key} stream back`);
                settledUntil = Date.now() + RESETTLE_MS;
              }
              live[key] = s === 'live';
            },
            onFatal: (error) => {
              fatal = error;
              schedule();
            },
            onServerDate: (serverMs, localMs) => {
              clockOffset = serverMs - localMs;
            },
            log: (message) => ctx.logger.info(`${elapsed(start)} ${message}`),
          },
          { signal, pollFallback: options.pollFallback ?? true },
        );
      }

      const selector = selectorString(first!.spec?.selector);
      const ns = encodeURIComponent(namespace);
      // The streams end with `signal` (stop.abort() in end()).
      stream<Deployment>(
        'deployments',
        deploymentsPath,
        { fieldSelector: `metadata.name=${name}` },
        (items) => {
          state.deployment = items.find((d) => d.metadata.name === name);
        },
        (type, d) => {
          if (d.metadata.name === name) state.deployment = type === 'DELETED' ? undefined : d;
        },
      );
      stream<ReplicaSet>('replicasets', `/apis/apps/v1/namespaces/${ns}/replicasets`, { labelSelector: selector }, (items) => replaceAll(state.replicaSets, items), (type, rs) => apply(state.replicaSets, type, rs));
      stream<Pod>('pods', `/api/v1/namespaces/${ns}/pods`, { labelSelector: selector }, (items) => replaceAll(state.pods, items), (type, pod) => apply(state.pods, type, pod));
      // Events cannot be selected by owner: take the namespace's and keep those of tracked objects.
      stream<KubeEvent>('events', `/api/v1/namespaces/${ns}/events`, {}, (items) => replaceAll(state.events, items), (type, e) => apply(state.events, type, e));
      void beat();
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The last lines a container wrote (the other instance's when that one has none to give). */
  async function logTail(pod: string, container: string, which: { previous: boolean; label: string }): Promise<string[]> {
    const api = kc.makeApiClient(CoreV1Api);
    let lastError = '';
    for (const previous of [which.previous, !which.previous]) {
      try {
        const text = String(await withTimeout(api.readNamespacedPodLog({ name: pod, namespace, container, previous, tailLines: LOG_TAIL_LINES, limitBytes: 64 * 1024 }), 10_000));
        // The API server answers 200 with this text when the runtime has already removed that container.
        if (/^unable to retrieve container logs/.test(text)) {
          lastError = text.trim();
          continue;
        }
        const lines = text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        if (lines.length === 0) {
          lastError = 'the log is empty';
          continue;
        }
        const label = previous === which.previous ? which.label : previous ? 'the previous instance' : 'the current instance';
        return [
          `log of container ${container} (${label}), last ${Math.min(lines.length, LOG_TAIL_LINES)} lines:`,
          ...lines.slice(-LOG_TAIL_LINES).map((l) => `| ${l.length > LOG_LINE_MAX ? `${l.slice(0, LOG_LINE_MAX)}…` : l}`),
        ];
      } catch (error) {
        lastError = String((error as { body?: unknown }).body ?? (error as Error).message ?? error).slice(0, 200);
      }
    }
    return [`log of container ${container}: not available (${lastError})`];
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer));
}
