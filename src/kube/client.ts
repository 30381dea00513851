// One small client over client-node's KubernetesObjectApi: plain JSON in and out, every call
// bounded by a timeout, idempotent calls retried with backoff, failures turned into catalogue
// errors that say what was being done.
//
// Why not KubernetesObjectApi.patch() as is: it serialises built-in kinds through client-node's
// typed models, which silently drop every field they do not know. A typo in a template
// (`resource:` for `resources:`) would vanish instead of being reported. Gantry sends the
// object's JSON untouched with fieldValidation=Strict, so the API server names unknown fields,
// and reads answers as plain JSON (no Date objects), which is what gets re-applied on rollback.
// Discovery, URL building, auth and the HTTP stack are still client-node's.
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { waitedFor, withRetry } from '../retry.js';
import type { K8sObject } from './objects.js';
import { apiStatus, isTransient, kubeError } from './failures.js';
import { boundedHttp, markSilent, silenceOf, timeoutBehind, withCredentials } from './transport.js';
import { followLog, getJson, startStream, type Stream, type StreamHandlers, type StreamOptions, type StreamSpec } from './watch.js';

/** Every field manager Gantry applies with. */
export const FIELD_MANAGER = 'gantry';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
}

export interface KubeClientOptions {
  /** Per request (default ctx.deadlines.requestMs, GANTRY_REQUEST_TIMEOUT). */
  timeoutMs?: number;
  /** Retries of idempotent calls after the first attempt (default 4). */
  retries?: number;
  /** First backoff delay, doubling up to 4 s (default 500 ms). */
  minRetryDelayMs?: number;
}

export interface KubeClient {
  /** The API server URL, for messages. */
  server: string;
  /** GET; undefined when the object does not exist. */
  read<T = K8sObject>(ref: ObjectRef, doing?: string): Promise<T | undefined>;
  list<T = K8sObject>(apiVersion: string, kind: string, namespace: string, options?: { labelSelector?: string; limit?: number }): Promise<T[]>;
  /** Server-side apply (field manager "gantry", force, strict field validation). Idempotent, so retried. */
  apply<T = K8sObject>(object: K8sObject, options?: { dryRun?: boolean; doing?: string }): Promise<T>;
  /** POST; not retried (a retry after a lost answer would fail with AlreadyExists). */
  create<T = K8sObject>(object: K8sObject, options?: { dryRun?: boolean; doing?: string }): Promise<T>;
  /** PUT with the object's resourceVersion as the precondition; not retried (the caller re-reads on conflict). */
  replace<T = K8sObject>(object: K8sObject, options?: { doing?: string }): Promise<T>;
  /**
   * JSON merge patch of absolute values (idempotent, so retried), optionally of a subresource such
   * as "scale"; as field manager "gantry" unless another is named.
   */
  mergePatch<T = K8sObject>(
    ref: ObjectRef,
    patch: unknown,
    options?: { subresource?: string; dryRun?: boolean; doing?: string; fieldManager?: string },
  ): Promise<T>;
  /** DELETE (background propagation); false when it was already gone. Idempotent, so retried. */
  remove(ref: ObjectRef, options?: { dryRun?: boolean; doing?: string }): Promise<boolean>;
  /** Whether a kind is namespaced, from discovery; undefined when the cluster does not serve it. */
  namespaced(apiVersion: string, kind: string): Promise<boolean | undefined>;
  /** Now by the API server's clock (from the Date header of its last answer), in ms. */
  serverNow(): number;
  /**
   * GET of an API path as plain JSON, with the answer's Date header (ms). Not retried and errors
   * not translated: the tracker retries and judges them itself (watch.ts isFatal). Ends with
   * `signal` (default: the step's) or after `timeoutMs` (default ctx.deadlines.requestMs).
   */
  getJson<T>(
    path: string,
    params?: Record<string, string>,
    options?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<{ body: T; date: number | undefined }>;
  /** List, then watch, one collection until options.signal ends: a complete picture first, then changes (watch.ts). */
  stream<T extends { metadata?: { resourceVersion?: string } }>(spec: StreamSpec, handlers: StreamHandlers<T>, options: StreamOptions): Stream;
  /** A container's log as text, as the API server sends it. Not retried (the caller has its own fallback). */
  podLog(namespace: string, pod: string, container: string, options: { previous: boolean; tailLines: number; limitBytes: number }): Promise<string>;
  /**
   * Follows a container's log, each line prefixed with its RFC 3339 time (timestamps=true), from
   * `sinceTime` (whole seconds) if given, until the stream ends or `signal` aborts (watch.ts
   * followLog). Not retried: the caller follows again from the last time it saw.
   */
  followLog(
    namespace: string,
    pod: string,
    container: string,
    options: { sinceTime?: string; signal: AbortSignal },
    onLine: (line: string) => void,
  ): Promise<void>;
}

const RAW = 'gantry:raw-json';

interface RawAnswer {
  body: unknown;
  date: string | undefined;
}

interface RawRequest {
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  subresource?: string;
}

type Action = 'create' | 'read' | 'patch' | 'replace' | 'list' | 'delete';

/**
 * The client-node configuration for the kubeconfig's current cluster: every request, discovery
 * included, ends when the step is cancelled, after ctx.deadlines.connectMs without a
 * connection, or after `timeoutMs` (default ctx.deadlines.requestMs) without the whole answer
 * (transport.ts); `onResponse` sees each answer.
 */
export function apiConfiguration(
  ctx: Ctx,
  kc: KubeConfig,
  timeoutMs: number = ctx.deadlines.requestMs,
  onResponse: (response: ResponseContext) => void = () => {},
) {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw kubeError('connect', new Error('the kubeconfig has no current cluster'), '(none)');
  return {
    server,
    config: createConfiguration({
      baseServer: new ServerConfiguration(server, {}),
      // The kubeconfig's auth, with a failing exec plugin named (transport.ts).
      authMethods: {
        default: {
          getName: () => kc.getName(),
          applySecurityAuthentication: (context: RequestContext) =>
            withCredentials(kc, () => kc.applySecurityAuthentication(context), { signal: ctx.signal, ms: timeoutMs }),
        },
      },
      httpApi: boundedHttp({ connectMs: ctx.deadlines.connectMs, requestMs: timeoutMs }, ctx.signal),
      promiseMiddleware: [
        {
          pre: async (context: RequestContext) => context,
          post: async (response: ResponseContext) => {
            onResponse(response);
            return response;
          },
        },
      ],
    }),
  };
}

/** KubernetesObjectApi's discovery, paths and auth, with bodies sent and received as plain JSON. */
class RawObjectApi extends KubernetesObjectApi {
  static for(kc: KubeConfig, configuration: ReturnType<typeof createConfiguration>): RawObjectApi {
    const api = new RawObjectApi(configuration);
    api.setDefaultNamespace(kc);
    return api;
  }

  async send(method: HttpMethod, spec: KubernetesObject, action: Action, request: RawRequest = {}): Promise<RawAnswer> {
    // specUriPath fills in missing fields of what it is given: give it a copy.
    let path = await this.specUriPath(structuredClone(spec), action);
    if (request.subresource) path += `/${request.subresource}`;
    const context = this.configuration.baseServer.makeRequestContext(path, method);
    context.setHeaderParam('Accept', 'application/json');
    for (const [key, value] of Object.entries(request.query ?? {})) context.setQueryParam(key, value);
    if (request.body !== undefined) {
      context.setHeaderParam('Content-Type', request.contentType ?? 'application/json');
      context.setBody(JSON.stringify(request.body));
    }
    return (await this.requestPromise(context, RAW)) as unknown as RawAnswer;
  }

  async namespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    return (await this.resource(apiVersion, kind))?.namespaced;
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext, type?: string): Promise<T> {
    if (type !== RAW) return super.processResponse<T>(response, type);
    const text = await response.body.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON (a proxy's error page): keep the text
    }
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', body, response.headers);
    }
    return { body, date: response.headers.date } as unknown as T;
  }
}

function kindPath(kind: string, name: string): string {
  return `${kind.toLowerCase()}/${name}`;
}

function header(ref: ObjectRef): KubernetesObject {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } };
}

/** What cleanup after a cancellation may take: one connect and one request, at most 5 s. */
export const CLEANUP_MAX_MS = 5000;

/**
 * The client for cleaning up (releasing the lease, deleting a Job or a check pod): `client` while
 * the step runs; once the step's signal is aborted (cancelled, out of time) that client sends
 * nothing, so a client with a signal of its own, bounded by one connect and one request.
 */
export function cleanupClient(ctx: Ctx, kc: KubeConfig, client: KubeClient, options: { retries?: number } = {}): KubeClient {
  if (!ctx.signal.aborted) return client;
  const budgetMs = Math.min(ctx.deadlines.connectMs + ctx.deadlines.requestMs, CLEANUP_MAX_MS);
  return kubeClient({ ...ctx, signal: AbortSignal.timeout(budgetMs), deadlines: { ...ctx.deadlines, requestMs: budgetMs } }, kc, {
    timeoutMs: budgetMs,
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  });
}

export function kubeClient(ctx: Ctx, kc: KubeConfig, options: KubeClientOptions = {}): KubeClient {
  const timeoutMs = options.timeoutMs ?? ctx.deadlines.requestMs;
  const retries = options.retries ?? 4;
  const minTimeout = options.minRetryDelayMs ?? 500;
  let clockOffset = 0;

  // The Date header has whole seconds: assume the middle of that second.
  const { server, config } = apiConfiguration(ctx, kc, timeoutMs, (response) => {
    const date = Date.parse(response.headers.date ?? '');
    if (!Number.isNaN(date)) clockOffset = date + 500 - Date.now();
  });
  const api = RawObjectApi.for(kc, config);

  async function run<T>(doing: string, idempotent: boolean, call: () => Promise<T>): Promise<T> {
    // A server found silent earlier in this step is not asked again: every call would wait its
    // deadline twice more, and a flow of many calls would take many times what one costs.
    const silence = silenceOf(kc);
    if (silence) throw kubeError(doing, silence.error, server);
    try {
      if (!idempotent) return await call();
      return await withRetry(ctx, doing, call, {
        isTransient: (error) => isTransient(error, ctx.signal),
        retries,
        minDelayMs: minTimeout,
        maxDelayMs: 4000,
        // The retry warning names the failure as the final error would, without repeating "<doing>: ".
        describe: (error) => kubeError(doing, error, server).message.slice(doing.length + 2),
      });
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
      // Silent means no answer twice in a row (withRetry's once-more rule): one slow answer to a
      // single-attempt call (a lease renewal, a create behind a slow webhook) is not silence.
      if (timeoutBehind(error) && (waitedFor(error)?.attempts ?? 1) >= 2) markSilent(kc, error);
      throw kubeError(doing, error, server);
    }
  }

  const dry = (dryRun: boolean | undefined): Record<string, string> => (dryRun ? { dryRun: 'All' } : {});

  return {
    server,
    serverNow: () => Date.now() + clockOffset,
    getJson: (path, params = {}, opts = {}) => getJson(kc, path, params, opts.signal ?? ctx.signal, opts.timeoutMs ?? timeoutMs, ctx.deadlines.connectMs),
    stream: (spec, handlers, opts) => startStream(kc, spec, handlers, { requestTimeoutMs: timeoutMs, connectTimeoutMs: ctx.deadlines.connectMs, ...opts }),
    async podLog(namespace, pod, container, opts) {
      const api = new CoreV1Api(config);
      return String(
        await api.readNamespacedPodLog({ name: pod, namespace, container, previous: opts.previous, tailLines: opts.tailLines, limitBytes: opts.limitBytes }),
      );
    },
    followLog(namespace, pod, container, opts, onLine) {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`;
      const params: Record<string, string> = { container, timestamps: 'true', ...(opts.sinceTime ? { sinceTime: opts.sinceTime } : {}) };
      const bounds = { signal: AbortSignal.any([ctx.signal, opts.signal]), requestMs: timeoutMs, connectMs: ctx.deadlines.connectMs };
      return followLog(kc, path, params, bounds, onLine);
    },
    async read<T>(ref: ObjectRef, doing = `get ${kindPath(ref.kind, ref.name)}`) {
      try {
        return (await run(doing, true, () => api.send(HttpMethod.GET, header(ref), 'read'))).body as T;
      } catch (error) {
        if ((error as { code?: string }).code === 'E_KUBE_NOT_FOUND') return undefined;
        throw error;
      }
    },
    async list<T>(apiVersion: string, kind: string, namespace: string, opts: { labelSelector?: string; limit?: number } = {}) {
      const query: Record<string, string> = {};
      if (opts.labelSelector) query.labelSelector = opts.labelSelector;
      if (opts.limit) query.limit = String(opts.limit);
      const spec = { apiVersion, kind, metadata: { namespace } };
      const answer = await run(`list ${kind.toLowerCase()} in ${namespace}`, true, () => api.send(HttpMethod.GET, spec, 'list', { query }));
      return ((answer.body as { items?: T[] }).items ?? []) as T[];
    },
    async apply<T>(object: K8sObject, opts: { dryRun?: boolean; doing?: string } = {}) {
      const doing = opts.doing ?? `${opts.dryRun ? 'validate' : 'apply'} ${kindPath(object.kind, object.metadata.name)}`;
      const query = { fieldManager: FIELD_MANAGER, force: 'true', fieldValidation: 'Strict', ...dry(opts.dryRun) };
      // JSON is YAML, so it goes as application/apply-patch+yaml (the only apply content type servers before 1.29 accept).
      const answer = await run(doing, true, () =>
        api.send(HttpMethod.PATCH, object, 'patch', { query, body: object, contentType: PatchStrategy.ServerSideApply }),
      );
      return answer.body as T;
    },
    async create<T>(object: K8sObject, opts: { dryRun?: boolean; doing?: string } = {}) {
      const doing = opts.doing ?? `create ${kindPath(object.kind, object.metadata.name)}`;
      const query = { fieldManager: FIELD_MANAGER, fieldValidation: 'Strict', ...dry(opts.dryRun) };
      return (await run(doing, false, () => api.send(HttpMethod.POST, object, 'create', { query, body: object }))).body as T;
    },
    async replace<T>(object: K8sObject, opts: { doing?: string } = {}) {
      const doing = opts.doing ?? `update ${kindPath(object.kind, object.metadata.name)}`;
      const query = { fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' };
      return (await run(doing, false, () => api.send(HttpMethod.PUT, object, 'replace', { query, body: object }))).body as T;
    },
    async mergePatch<T>(ref: ObjectRef, patch: unknown, opts: { subresource?: string; dryRun?: boolean; doing?: string; fieldManager?: string } = {}) {
      const doing = opts.doing ?? `patch ${kindPath(ref.kind, ref.name)}${opts.subresource ? `/${opts.subresource}` : ''}`;
      const query = { fieldManager: opts.fieldManager ?? FIELD_MANAGER, ...dry(opts.dryRun) };
      const request = { query, body: patch, contentType: PatchStrategy.MergePatch, ...(opts.subresource ? { subresource: opts.subresource } : {}) };
      return (await run(doing, true, () => api.send(HttpMethod.PATCH, header(ref), 'patch', request))).body as T;
    },
    async remove(ref: ObjectRef, opts: { dryRun?: boolean; doing?: string } = {}) {
      const doing = opts.doing ?? `delete ${kindPath(ref.kind, ref.name)}`;
      try {
        await run(doing, true, () => api.send(HttpMethod.DELETE, header(ref), 'delete', { query: { propagationPolicy: 'Background', ...dry(opts.dryRun) } }));
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === 'E_KUBE_NOT_FOUND') return false;
        throw error;
      }
    },
    async namespaced(apiVersion: string, kind: string) {
      try {
        return await run(`look up ${apiVersion} ${kind}`, true, () => api.namespaced(apiVersion, kind));
      } catch (error) {
        // A group/version the cluster does not serve at all answers 404 to discovery.
        if (apiStatus((error as { cause?: unknown }).cause)?.code === 404) return undefined;
        throw error;
      }
    },
  };
}
