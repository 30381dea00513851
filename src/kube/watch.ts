// List-then-watch of one resource kind in a namespace, as a reflector does it: list (the
// objects and a resourceVersion), watch from that resourceVersion, keep the last version seen
// (bookmarks included). A watch the server ends normally is resumed from there; a 410 Gone, a
// dropped connection or an API server restart leads to a fresh list after a backoff, so the
// caller always gets a complete picture again (onSync) before further changes (onEvent).
// When the API server refuses watches (RBAC without "watch", or a proxy that cannot stream) and
// pollFallback is on, the stream lists every pollIntervalMs instead.
//
// Objects are kept as the JSON the API server sends (see objects.ts): lists are plain GETs here,
// watches use client-node's Watch, which also hands over the parsed JSON.
import http from 'node:http';
import https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_DEADLINES } from '../retry.js';
import { apiStatus } from './failures.js';
import { boundConnect, kubeTimeout, markSilent, timeoutBehind, withCredentials, type KubeTimeout } from './transport.js';
import type { KubeStatus } from './objects.js';

export interface StreamSpec {
  /** For messages: "pods", "events"... */
  what: string;
  /** API path of the collection, e.g. /api/v1/namespaces/web/pods. */
  path: string;
  params?: { labelSelector?: string; fieldSelector?: string };
}

export interface StreamHandlers<T> {
  /** A complete, current list of the objects: replaces whatever was known. */
  onSync(items: T[]): void;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void;
  /** The stream is current ("live") or has lost the server ("down", with why). */
  onState(state: 'live' | 'down', detail?: string): void;
  /** A failure retrying cannot fix (credentials, permissions): tracking must stop. */
  onFatal(error: unknown): void;
  /** The API server's clock (ms, from a Date header), to judge server timestamps. */
  onServerDate?(serverMs: number, localMs: number): void;
  /** Diagnostic lines (mode changes). */
  log?(message: string): void;
}

export interface StreamOptions {
  signal: AbortSignal;
  pollFallback: boolean;
  pollIntervalMs?: number;
  /** Server-side watch timeout: the server ends each watch after this long, and it is resumed. */
  watchTimeoutSeconds?: number;
  /**
   * Per list request, and the silence past watchTimeoutSeconds after which a watch is
   * re-established (default GANTRY_REQUEST_TIMEOUT's; kubeClient passes ctx.deadlines).
   */
  requestTimeoutMs?: number;
  /** TCP and TLS connect, per request (default GANTRY_CONNECT_TIMEOUT's). */
  connectTimeoutMs?: number;
  maxBackoffMs?: number;
  /**
   * How long a 401/403 is retried when it comes right after the connection was lost: an API
   * server that has just restarted answers before its authorizer has loaded the RBAC rules and
   * refuses what it will allow seconds later. Refusals at any other time are fatal at once.
   */
  refusalGraceMs?: number;
}

export interface Stream {
  stop(): void;
  /** Settles when the stream has stopped. */
  done: Promise<void>;
}

interface ListAnswer<T> {
  items: T[];
  resourceVersion: string;
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

interface Bounds {
  signal: AbortSignal;
  /** Until the answer's headers (getJson: until its last byte; a watch re-arms it per chunk). */
  requestMs: number;
  connectMs: number;
}

interface Deadline {
  rearm(ms: number): void;
  stop(): void;
}

/**
 * A GET to the API server with the kubeconfig's credentials (client-node's agent and auth),
 * bounded as transport.ts bounds client-node's own requests: `onAnswer` gets the answer once
 * its headers are in; `onError` gets any failure once (a timeout as a KubeTimeout). Returns
 * what ends the request.
 */
async function openGet(
  kc: KubeConfig,
  path: string,
  params: Record<string, string>,
  bounds: Bounds,
  onAnswer: (res: http.IncomingMessage, deadline: Deadline, fail: (error: unknown) => void) => void,
  onError: (error: unknown) => void,
): Promise<() => void> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await withCredentials(kc, () => kc.applyToHTTPSOptions(options), { signal: bounds.signal, ms: bounds.requestMs });
  const transport = url.protocol === 'http:' ? http : https;
  const limit = new AbortController();
  let timedOut: KubeTimeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline: Deadline = {
    rearm(ms) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = kubeTimeout('request', ms, url.host);
        limit.abort(timedOut);
      }, ms);
    },
    stop: () => clearTimeout(timer),
  };
  deadline.rearm(bounds.requestMs);
  boundConnect(options.agent, bounds.connectMs, url.host, (error) => (timedOut ??= error));
  let failed = false;
  const fail = (error: unknown) => {
    deadline.stop();
    if (failed) return;
    failed = true;
    onError(timedOut && !bounds.signal.aborted ? Object.assign(timedOut, { cause: error }) : error);
  };
  const req = transport.request(url, { ...options, signal: AbortSignal.any([bounds.signal, limit.signal]) }, (res) => {
    res.on('error', fail);
    onAnswer(res, deadline, fail);
  });
  req.on('error', fail);
  req.end();
  return () => {
    deadline.stop();
    req.destroy();
  };
}

function readAll(res: http.IncomingMessage, done: (status: number, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the error
    }
    done(res.statusCode ?? 0, body);
  });
}

/**
 * A GET of JSON from the API server with the kubeconfig's credentials, ended by `signal`, after
 * connectMs without a connection or timeoutMs without the whole answer (defaults: the
 * GANTRY_*_TIMEOUT defaults; kubeClient passes ctx.deadlines).
 */
export function getJson<T>(
  kc: KubeConfig,
  path: string,
  params: Record<string, string>,
  signal: AbortSignal,
  timeoutMs = DEFAULT_DEADLINES.requestMs,
  connectMs = DEFAULT_DEADLINES.connectMs,
): Promise<{ body: T; date: number | undefined }> {
  return new Promise((resolve, reject) => {
    openGet(
      kc,
      path,
      params,
      { signal, requestMs: timeoutMs, connectMs },
      (res, deadline) =>
        readAll(res, (status, body) => {
          deadline.stop();
          if (status < 200 || status > 299) {
            reject(new ApiException(status, `HTTP ${status}`, body, res.headers as Record<string, string>));
            return;
          }
          const date = Date.parse(String(res.headers.date ?? ''));
          resolve({ body: body as T, date: Number.isNaN(date) ? undefined : date });
        }),
      reject,
    ).catch(reject);
  });
}

/** Errors no retry fixes: bad credentials, missing rights, a malformed request, a TLS mismatch. */
export function isFatal(error: unknown): boolean {
  const status = apiStatus(error);
  if (status) return [400, 401, 403, 404, 405, 422].includes(status.code);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_ERROR.test(code);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function describe(error: unknown): string {
  const status = apiStatus(error);
  if (status) return `HTTP ${status.code} ${status.message}`;
  const e = error as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === 'string' ? e.code : String(e?.message ?? error);
}

type WatchEnd = { kind: 'closed'; events: number } | { kind: 'gone' } | { kind: 'error'; error: unknown } | { kind: 'stopped' };

export function startStream<T extends { metadata?: { resourceVersion?: string } }>(
  kc: KubeConfig,
  spec: StreamSpec,
  handlers: StreamHandlers<T>,
  options: StreamOptions,
): Stream {
  const local = new AbortController();
  const signal = AbortSignal.any([options.signal, local.signal]);
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 55;
  const requestMs = options.requestTimeoutMs ?? DEFAULT_DEADLINES.requestMs;
  const connectMs = options.connectTimeoutMs ?? DEFAULT_DEADLINES.connectMs;
  const idleMs = watchTimeoutSeconds * 1000 + requestMs;
  const maxBackoffMs = options.maxBackoffMs ?? 4000;
  const params: Record<string, string> = {};
  if (spec.params?.labelSelector) params.labelSelector = spec.params.labelSelector;
  if (spec.params?.fieldSelector) params.fieldSelector = spec.params.fieldSelector;

  let failures = 0;
  let mode: 'watch' | 'poll' = 'watch';
  let quickCloses = 0;
  let down = false;
  let synced = false;
  /** When a stream that was live lost the server (the start of a possible restart), until it is live again. */
  let lostAt: number | undefined;
  let toldRefusal = false;
  const refusalGraceMs = options.refusalGraceMs ?? 30_000;

  /** Timeouts in a row without an answer in between (a list or a silent watch), and since when. */
  let silence: { since: number; count: number } | undefined;
  /**
   * A list with no answer is tried once more, as every timed-out call is (retry.ts); the second
   * silence in a row ends the stream with the error, the time waited recorded on it, and the
   * kubeconfig marked silent so the step's later calls do not wait again (transport.ts).
   */
  const silentTwice = (error: unknown): boolean => {
    if (!timeoutBehind(error)) return false;
    silence = { since: silence?.since ?? Date.now() - requestMs, count: (silence?.count ?? 0) + 1 };
    if (silence.count < 2) return false;
    Object.assign(error as object, { gantryWaited: { ms: Date.now() - silence.since, attempts: silence.count } });
    markSilent(kc, error);
    return true;
  };
  const backoff = () => Math.min(maxBackoffMs, 250 * 2 ** failures++) * (0.5 + Math.random() / 2);
  const markDown = (detail: string) => {
    if (!down) handlers.onState('down', detail);
    down = true;
    if (synced) lostAt ??= Date.now();
  };
  /** A refusal within the grace after a lost connection: wait for the server's authorizer instead of giving up. */
  const refusedWhileRecovering = (error: unknown, doing: string): boolean => {
    const status = apiStatus(error);
    if (!status || (status.code !== 401 && status.code !== 403)) return false;
    if (lostAt === undefined || Date.now() - lostAt >= refusalGraceMs) return false;
    if (!toldRefusal) {
      toldRefusal = true;
      handlers.log?.(
        `the API server refuses to ${doing} ${spec.what} right after coming back (${describe(error)}); a restarted API server refuses until it has loaded its RBAC rules: retrying for up to ${Math.round(refusalGraceMs / 1000)} s`,
      );
    }
    return true;
  };

  async function list(): Promise<ListAnswer<T>> {
    const sent = Date.now();
    const answer = await getJson<{ items?: T[]; metadata?: { resourceVersion?: string } }>(kc, spec.path, params, signal, requestMs, connectMs);
    if (answer.date !== undefined) handlers.onServerDate?.(answer.date + 500, (sent + Date.now()) / 2);
    return { items: answer.body.items ?? [], resourceVersion: answer.body.metadata?.resourceVersion ?? '' };
  }

  function watchFrom(start: string, onVersion: (rv: string) => void): Promise<WatchEnd> {
    return new Promise((resolve) => {
      let cancel: (() => void) | undefined;
      let settled = false;
      let events = 0;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', stopped);
        cancel?.();
        resolve(end);
      };
      const stopped = () => finish({ kind: 'stopped' });
      if (signal.aborted) return finish({ kind: 'stopped' });
      signal.addEventListener('abort', stopped, { once: true });
      const line = (text: string) => {
        let data: { type?: string; object?: unknown };
        try {
          data = JSON.parse(text) as typeof data;
        } catch {
          return; // not a watch event (a proxy's noise): skip it
        }
        const { type, object } = data;
        if (type === 'ERROR') {
          const status = object as KubeStatus;
          finish(
            status?.code === 410
              ? { kind: 'gone' }
              : { kind: 'error', error: new ApiException(status?.code ?? 500, status?.message ?? 'watch error', status, {}) },
          );
          return;
        }
        const rv = (object as T)?.metadata?.resourceVersion;
        if (rv) onVersion(rv);
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          events++;
          handlers.onEvent(type, object as T);
        }
      };
      const query = { ...params, watch: 'true', resourceVersion: start, allowWatchBookmarks: 'true', timeoutSeconds: String(watchTimeoutSeconds) };
      openGet(
        kc,
        spec.path,
        query,
        { signal, requestMs, connectMs },
        (res, deadline, fail) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            // A refused watch: its Status message (for a 403: who may not watch what) is the error.
            readAll(res, (code, body) => {
              deadline.stop();
              finish({ kind: 'error', error: new ApiException(code, `HTTP ${code}`, body, res.headers as Record<string, string>) });
            });
            return;
          }
          // The server ends every watch after watchTimeoutSeconds and sends bookmarks meanwhile:
          // silence well beyond that (a connection that died without FIN or RST, a hung proxy)
          // means the watch is gone; it is re-established from a fresh list.
          deadline.rearm(idleMs);
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (settled) return;
            deadline.rearm(idleMs);
            buffered += chunk;
            let newline = buffered.indexOf('\n');
            while (newline >= 0 && !settled) {
              const text = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (text) line(text);
              newline = buffered.indexOf('\n');
            }
          });
          res.on('end', () => {
            deadline.stop();
            if (buffered.trim() && !settled) line(buffered.trim());
            finish({ kind: 'closed', events });
          });
          res.on('close', () => {
            if (!res.complete) fail(Object.assign(new Error('the watch connection was cut'), { code: 'ECONNRESET' }));
          });
        },
        (error) => finish({ kind: 'error', error }),
      ).then(
        (c) => {
          cancel = c;
          if (settled) c();
        },
        (error: unknown) => finish({ kind: 'error', error }),
      );
    });
  }

  async function run(): Promise<void> {
    while (!signal.aborted) {
      let answer: ListAnswer<T>;
      try {
        answer = await list();
      } catch (error) {
        if (signal.aborted) return;
        if (refusedWhileRecovering(error, 'list')) {
          await sleep(backoff(), signal);
          continue;
        }
        if (isFatal(error)) return handlers.onFatal(error);
        if (silentTwice(error)) return handlers.onFatal(error);
        markDown(`listing ${spec.what} failed: ${describe(error)}`);
        await sleep(backoff(), signal);
        continue;
      }
      if (signal.aborted) return;
      silence = undefined;
      handlers.onSync(answer.items);
      down = false;
      synced = true;
      lostAt = undefined;
      toldRefusal = false;
      handlers.onState('live');

      if (mode === 'poll') {
        failures = 0;
        await sleep(pollIntervalMs, signal);
        continue;
      }

      let rv = answer.resourceVersion;
      for (;;) {
        const startedAt = Date.now();
        const end = await watchFrom(rv, (v) => (rv = v));
        if (end.kind === 'stopped' || signal.aborted) return;
        if (end.kind === 'closed') {
          // The server ended the watch (its timeout): resume from the last version seen. A watch
          // that closes at once, again and again, means something in between cannot stream.
          if (end.events === 0 && Date.now() - startedAt < 1000) quickCloses++;
          else quickCloses = 0;
          failures = 0;
          if (quickCloses < 3) continue;
          if (!options.pollFallback) {
            markDown(`the watch on ${spec.what} keeps closing at once`);
            await sleep(backoff(), signal);
            break;
          }
          mode = 'poll';
          handlers.log?.(`watching ${spec.what} does not work here (each watch closes at once): polling every ${pollIntervalMs / 1000} s`);
          break;
        }
        if (end.kind === 'gone') {
          // 410: the version is too old for the server's watch cache (after a restart, for one): list again.
          failures = 0;
          break;
        }
        if (refusedWhileRecovering(end.error, 'watch')) {
          await sleep(backoff(), signal);
          break;
        }
        const status = apiStatus(end.error);
        if (status && (status.code === 403 || status.code === 405) && options.pollFallback) {
          mode = 'poll';
          handlers.log?.(`the API server refuses to watch ${spec.what} (${describe(end.error)}): polling every ${pollIntervalMs / 1000} s`);
          break;
        }
        if (isFatal(end.error)) return handlers.onFatal(end.error);
        // A silent watch counts as the first of the two silences (retry.ts): a list that gets no
        // answer either ends the stream.
        if (timeoutBehind(end.error)) silence = { since: Date.now() - idleMs, count: 1 };
        markDown(`the watch on ${spec.what} ended: ${describe(end.error)}`);
        await sleep(backoff(), signal);
        break;
      }
    }
  }

  const done = run().catch((error: unknown) => {
    if (!signal.aborted) handlers.onFatal(error);
  });
  return { stop: () => local.abort(), done };
}

/**
 * Follows a container's log (GET <pod>/log with follow=true), calling onLine with each line as
 * it comes, until the server ends the stream (the container ended, or the kubelet or a proxy
 * dropped it: the caller follows again from the last line's time) or `signal` aborts (then it
 * resolves too). A refused request rejects with the API server's answer. Only connecting and
 * the answer's headers are bounded: a migration may print nothing for minutes, so silence here
 * proves nothing; the caller ends the stream from what it sees of the pod.
 */
export function followLog(
  kc: KubeConfig,
  path: string,
  params: Record<string, string>,
  bounds: { signal: AbortSignal; requestMs: number; connectMs: number },
  onLine: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let streaming = false;
    const ended = () => {
      if (buffered !== '') onLine(buffered);
      buffered = '';
      resolve();
    };
    // Once the log flows, a cut connection ends it like the server's end does.
    const failed = (error: unknown) => (bounds.signal.aborted || streaming ? ended() : reject(error));
    openGet(
      kc,
      path,
      { ...params, follow: 'true' },
      bounds,
      (res, deadline) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          readAll(res, (code, body) => {
            deadline.stop();
            failed(new ApiException(code, `HTTP ${code}`, body, res.headers as Record<string, string>));
          });
          return;
        }
        deadline.stop();
        streaming = true;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            onLine(buffered.slice(0, newline));
            buffered = buffered.slice(newline + 1);
            newline = buffered.indexOf('\n');
          }
        });
        res.on('end', ended);
        // A cut connection ends the stream as well: the caller follows again from where it was.
        res.on('close', ended);
      },
      failed,
    ).catch(failed);
  });
}
