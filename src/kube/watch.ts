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
import { ApiException, Watch, type KubeConfig } from '@kubernetes/client-node';
import { apiStatus } from './failures.js';
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
  /** Per list request. */
  requestTimeoutMs?: number;
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

/** A GET of JSON from the API server with the kubeconfig's credentials (client-node's agent and auth). */
export async function getJson<T>(
  kc: KubeConfig,
  path: string,
  params: Record<string, string>,
  signal: AbortSignal,
  timeoutMs = 15_000,
): Promise<{ body: T; date: number | undefined }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(options);
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { ...options, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text for the error
        }
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          reject(new ApiException(status, `HTTP ${status}`, body, res.headers as Record<string, string>));
          return;
        }
        const date = Date.parse(String(res.headers.date ?? ''));
        resolve({ body: body as T, date: Number.isNaN(date) ? undefined : date });
      });
    });
    req.on('error', reject);
    req.end();
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
    const answer = await getJson<{ items?: T[]; metadata?: { resourceVersion?: string } }>(kc, spec.path, params, signal, options.requestTimeoutMs);
    if (answer.date !== undefined) handlers.onServerDate?.(answer.date + 500, (sent + Date.now()) / 2);
    return { items: answer.body.items ?? [], resourceVersion: answer.body.metadata?.resourceVersion ?? '' };
  }

  function watchFrom(start: string, onVersion: (rv: string) => void): Promise<WatchEnd> {
    return new Promise((resolve) => {
      let controller: AbortController | undefined;
      let settled = false;
      let events = 0;
      let idle: NodeJS.Timeout | undefined;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        signal.removeEventListener('abort', stopped);
        controller?.abort();
        resolve(end);
      };
      const stopped = () => finish({ kind: 'stopped' });
      // A connection that silently died (no FIN, no RST) would otherwise hang forever: the server
      // ends every watch after watchTimeoutSeconds, so silence well beyond that means it is gone.
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(
          () => finish({ kind: 'error', error: Object.assign(new Error('the watch went silent'), { code: 'ETIMEDOUT' }) }),
          (watchTimeoutSeconds + 20) * 1000,
        );
      };
      if (signal.aborted) return finish({ kind: 'stopped' });
      signal.addEventListener('abort', stopped, { once: true });
      armIdle();
      const query = { ...params, resourceVersion: start, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds };
      new Watch(kc)
        .watch(
          spec.path,
          query,
          (type: string, object: unknown) => {
            if (settled) return;
            armIdle();
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
          },
          (error: unknown) => {
            if (!error) return finish({ kind: 'closed', events });
            const code = (error as { statusCode?: unknown }).statusCode;
            if (typeof code !== 'number') return finish({ kind: 'error', error });
            // client-node's Watch keeps only the status text of a refused watch; the Status message
            // (for a 403: who may not watch what) is what makes the error actionable, so ask again.
            getJson(kc, spec.path, { ...params, watch: 'true', resourceVersion: start, timeoutSeconds: '1' }, signal, 5000).then(
              () => finish({ kind: 'error', error: new ApiException(code, String((error as Error).message), { message: `HTTP ${code}` }, {}) }),
              (detailed: unknown) =>
                finish({
                  kind: 'error',
                  error:
                    apiStatus(detailed)?.code === code ? detailed : new ApiException(code, String((error as Error).message), { message: `HTTP ${code}` }, {}),
                }),
            );
          },
        )
        .then(
          (c) => {
            controller = c;
            if (settled) c.abort();
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
        markDown(`listing ${spec.what} failed: ${describe(error)}`);
        await sleep(backoff(), signal);
        continue;
      }
      if (signal.aborted) return;
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
