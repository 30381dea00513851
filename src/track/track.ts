// trackRollout: follow a Deployment's rollout until it is complete, or fails, or time runs
// out. This is the wiring: four list+watch streams of the one client (the Deployment, its
// ReplicaSets, their Pods, the namespace's Events) fill the picture (picture.ts) and a
// heartbeat tells whether it is current; on every change and every second the verdict
// (verdict.ts) judges it, and the progress printer (progress.ts) shows what is new. Progress
// goes to a collapsible section; the per-resource summary follows it. A failed rollout is a
// result, not an exception: the caller decides what happens next (roll back, report), with the
// evidence already collected (evidence.ts). Only problems reaching or reading the cluster throw.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { catalogue, GantryError, gantryError } from '../errors.js';
import { kubeClient, type KubeClient } from '../kube/client.js';
import { apiStatus, kubeError } from '../kube/failures.js';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../kube/objects.js';
import { isFatal } from '../kube/watch.js';
import { markSilent, timeoutBehind } from '../kube/transport.js';
import type { Failure, RolloutFailureCode } from './classify.js';
import { explainConnectionFailure, type ServiceEndpointHint } from './connection.js';
import { logTail } from './evidence.js';
import { applyEvent, HEARTBEAT_MS, newPicture, RESETTLE_MS, replaceAll, type Picture, type StreamKey } from './picture.js';
import { elapsed, progressPrinter } from './progress.js';
import { selectorString } from './status.js';
import { formatSummary, summarize, type ResourceSummary } from './summary.js';
import { remember, timeoutFailure, verdict, type VerdictOptions } from './verdict.js';

export interface TrackOptions {
  namespace: string;
  /** The Deployment's name. */
  name: string;
  /** Give up after this long (default 300 s). */
  timeoutSeconds?: number;
  /**
   * When the API server refuses to watch (RBAC with list but not watch, or a proxy that cannot
   * stream), poll with lists every 2 s instead of failing (default true). Every command keeps the
   * default; false is for checking a deployer's rights (test/e2e/track.test.ts asserts the error).
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
  /**
   * The services the app is given (gantry.yaml services:). When its container crashes or never
   * gets ready and its log shows it could not connect or log in to one, the evidence names the
   * service and the likely cause. Default: none (the log tail only).
   */
  services?: ServiceEndpointHint[] | undefined;
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

/** A failed result as the catalogue error, for the CLI's top-level report. */
export function rolloutError(result: TrackFailure): GantryError {
  return new GantryError(result.code, result.message, { details: result.evidence, fix: result.fix });
}

export async function trackRollout(ctx: Ctx, kc: KubeConfig, options: TrackOptions): Promise<TrackResult> {
  const { namespace, name } = options;
  const start = Date.now();
  const timeoutMs = (options.timeoutSeconds ?? 300) * 1000;
  const what = `deployment/${name} in ${namespace}`;

  if (ctx.dryRun) {
    ctx.logger.info(`would track the rollout of ${what} (up to ${timeoutMs / 1000} s)`);
    return { ok: true, elapsedMs: 0, summary: [] };
  }

  const client = kubeClient(ctx, kc);
  const server = client.server;
  const log = (line: string) => ctx.logger.info(`${elapsed(start)} ${line}`);

  // The Deployment first: its selector scopes the other streams, and a missing Deployment or
  // missing rights are reported before anything else.
  const deploymentsPath = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`;
  let clockOffset = 0;
  const first = await readDeployment();
  if (!first) {
    throw gantryError('E_KUBE_NOT_FOUND', { problem: 'track', what });
  }

  async function readDeployment(): Promise<Deployment | undefined> {
    let attempt = 0;
    let timeouts = 0;
    for (;;) {
      try {
        const sent = Date.now();
        const answer = await client.getJson<{ items?: Deployment[] }>(deploymentsPath, { fieldSelector: `metadata.name=${name}` });
        if (answer.date !== undefined) clockOffset = answer.date + 500 - (sent + Date.now()) / 2;
        return answer.body.items?.[0];
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
        if (isFatal(error) || Date.now() - start > timeoutMs) throw kubeError(`track ${what}`, error, server);
        // A silent API server is asked once more, as every timed-out call is (src/retry.ts).
        if (timeoutBehind(error) && ++timeouts >= 2) {
          Object.assign(error as object, { gantryWaited: { ms: Date.now() - start, attempts: timeouts } });
          markSilent(kc, error);
          throw kubeError(`track ${what}`, error, server);
        }
        ctx.logger.warn(`track ${what}: ${String((error as Error).message ?? error)}; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(4000, 500 * 2 ** attempt++)));
      }
    }
  }

  const picture = newPicture(first);
  picture.clockOffset = clockOffset;
  const judging: VerdictOptions = { what, start, timeoutMs, since: options.since, waitForTerminating: options.waitForTerminatingPods ?? true };

  const result = await ctx.logger.section('rollout', `Rollout of ${what}`, async (): Promise<TrackResult> => {
    log(`tracking ${what} (timeout ${timeoutMs / 1000} s)`);
    const failure = await untilVerdict(ctx, client, picture, { ...judging, namespace, name, deploymentsPath, pollFallback: options.pollFallback ?? true, log });
    const elapsedMs = Date.now() - start;
    const summary = summarize(
      picture.deployment ?? picture.lastSeen,
      [...picture.replicaSets.values()],
      [...picture.pods.values()],
      [...picture.events.values()],
      picture.lastStatus,
      picture.deleted,
    );
    if (!failure) {
      log(`${what} rolled out in ${(elapsedMs / 1000).toFixed(1)} s`);
      return { ok: true, elapsedMs, summary };
    }
    const tail = failure.logs && failure.pod && failure.container ? await logTail(client, namespace, failure.pod, failure.container, failure.logs) : [];
    const evidence = [...failure.evidence, ...connectionEvidence(failure.code, tail, options.services), ...tail];
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
}

/** For an app that crashes or never gets ready: which declared service it could not use, and why, read from its log tail. */
function connectionEvidence(code: RolloutFailureCode, tail: string[], services: ServiceEndpointHint[] | undefined): string[] {
  if (!services?.length || (code !== 'E_ROLLOUT_CRASHLOOP' && code !== 'E_ROLLOUT_READINESS')) return [];
  // The tail's log lines are quoted with "| " (evidence.ts); its heading and notes are not the app's.
  const lines = tail.filter((l) => l.startsWith('| ')).map((l) => l.slice(2));
  return explainConnectionFailure(lines, services) ?? [];
}

interface Wiring extends VerdictOptions {
  namespace: string;
  name: string;
  deploymentsPath: string;
  pollFallback: boolean;
  /** A progress line (the time prefix is added). */
  log(line: string): void;
}

/** Runs the streams and the heartbeat until the rollout is complete (undefined) or has failed (the failure). */
function untilVerdict(ctx: Ctx, client: KubeClient, picture: Picture, w: Wiring): Promise<Failure | undefined> {
  const { what, start } = w;
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const progress = progressPrinter(w.log, { start, since: w.since });
  let beatPath = '/readyz';

  return new Promise<Failure | undefined>((resolve, reject) => {
    let finished = false;
    let pending = false;
    const ticker = setInterval(() => {
      void beat();
      schedule();
    }, HEARTBEAT_MS);
    let beating = false;
    const timer = setTimeout(() => finish(timeoutFailure(picture, w)), Math.max(0, w.timeoutMs - (Date.now() - start)));
    const onAbort = () =>
      finish({
        code: 'E_ROLLOUT_ABORTED',
        message: `tracking ${what} was cancelled`,
        evidence: [],
        fix: 'the job was cancelled; the rollout may still be going on in the cluster',
      });

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
      w.log('complete as far as can be seen, but the picture may be stale: waiting for the API server to confirm');
    }

    /** One health check of the API server; on a change of its answer, re-judge. */
    async function beat(): Promise<void> {
      if (beating || finished) return;
      beating = true;
      try {
        await client.getJson(beatPath, {}, { signal, timeoutMs: 2000 });
        picture.beatOkAt = Date.now();
        if (picture.beatDown) {
          picture.beatDown = false;
          picture.settledUntil = Date.now() + RESETTLE_MS;
          w.log(`the API server answers again; judging again in ${RESETTLE_MS / 1000} s, once the cluster has caught up`);
        }
      } catch (error) {
        if (signal.aborted) return;
        const status = apiStatus(error);
        if (status && beatPath === '/readyz' && [401, 403, 404].includes(status.code)) {
          // /readyz is normally open to every user; where it is not, any read we may do will do.
          beatPath = `${w.deploymentsPath}?fieldSelector=${encodeURIComponent(`metadata.name=${w.name}`)}&limit=1`;
        } else if (!picture.beatDown) {
          picture.beatDown = true;
          w.log(
            `the API server does not answer (${status ? `HTTP ${status.code} ${status.message}` : String((error as { code?: unknown }).code ?? (error as Error).message)}); waiting`,
          );
        }
      } finally {
        beating = false;
        schedule();
      }
    }

    function evaluate(): void {
      if (finished) return;
      if (picture.fatal !== undefined) {
        fail(kubeError(`track ${what}`, picture.fatal, client.server));
        return;
      }
      const v = verdict(picture, { now: Date.now(), serverNow: Date.now() + picture.clockOffset }, w);
      remember(picture, v);
      if (v.judged && picture.deployment) progress.report(picture, picture.deployment, v.judged.status);
      if (v.state !== 'in progress') {
        finish(v.state === 'failure' ? v.failure : undefined);
        return;
      }
      if (v.confirm) void beat(); // check now: its answer runs this evaluation again
      if (v.stale) waitingOnServer();
    }

    function stream<T extends { metadata: { uid: string; resourceVersion?: string } }>(
      key: StreamKey,
      path: string,
      params: { labelSelector?: string; fieldSelector?: string },
      onSync: (items: T[]) => void,
      onEvent: (type: string, obj: T) => void,
    ): void {
      client.stream<T>(
        { what: key, path, params },
        {
          onSync: (items) => {
            onSync(items);
            picture.synced[key] = true;
            schedule();
          },
          onEvent: (type, obj) => {
            onEvent(type, obj);
            schedule();
          },
          onState: (s, detail) => {
            if (s === 'down' && !picture.lost[key]) {
              picture.lost[key] = true;
              w.log(`lost the ${key} stream (${detail}); listing again`);
            }
            if (s === 'live' && picture.lost[key]) {
              picture.lost[key] = false;
              w.log(`${key} stream back`);
              picture.settledUntil = Date.now() + RESETTLE_MS;
            }
            picture.live[key] = s === 'live';
          },
          onFatal: (error) => {
            picture.fatal = error;
            schedule();
          },
          onServerDate: (serverMs, localMs) => {
            picture.clockOffset = serverMs - localMs;
          },
          log: (message) => w.log(message),
        },
        { signal, pollFallback: w.pollFallback },
      );
    }

    const selector = selectorString(picture.lastSeen.spec?.selector);
    const ns = encodeURIComponent(w.namespace);
    // The streams end with `signal` (stop.abort() in end()).
    stream<Deployment>(
      'deployments',
      w.deploymentsPath,
      { fieldSelector: `metadata.name=${w.name}` },
      (items) => {
        picture.deployment = items.find((d) => d.metadata.name === w.name);
      },
      (type, d) => {
        if (d.metadata.name === w.name) picture.deployment = type === 'DELETED' ? undefined : d;
      },
    );
    stream<ReplicaSet>(
      'replicasets',
      `/apis/apps/v1/namespaces/${ns}/replicasets`,
      { labelSelector: selector },
      (items) => replaceAll(picture.replicaSets, items),
      (type, rs) => applyEvent(picture.replicaSets, type, rs),
    );
    stream<Pod>(
      'pods',
      `/api/v1/namespaces/${ns}/pods`,
      { labelSelector: selector },
      (items) => replaceAll(picture.pods, items),
      (type, pod) => applyEvent(picture.pods, type, pod),
    );
    // Events cannot be selected by owner: take the namespace's and keep those of tracked objects.
    stream<KubeEvent>(
      'events',
      `/api/v1/namespaces/${ns}/events`,
      {},
      (items) => replaceAll(picture.events, items),
      (type, e) => applyEvent(picture.events, type, e),
    );
    void beat();
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}
