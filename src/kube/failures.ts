// What went wrong talking to the API server, in Gantry's terms: which failures are worth a
// retry, and which catalogue error (with the fix) a failure becomes.
import { ApiException } from '@kubernetes/client-node';
import { type GantryError, gantryError, isGantryError } from '../errors.js';
import { noAnswerText } from '../retry.js';
import { execPluginFailure, timeoutBehind } from './transport.js';

export interface ApiStatus {
  code: number;
  reason: string;
  message: string;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

/** The Status object of an API server error answer (any code, any body shape). */
export function apiStatus(error: unknown): ApiStatus | undefined {
  if (!(error instanceof ApiException)) return undefined;
  let body: unknown = error.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: text.trim() };
    }
  }
  const b = (body ?? {}) as { message?: unknown; reason?: unknown };
  return {
    code: error.code,
    reason: typeof b.reason === 'string' ? b.reason : '',
    message: typeof b.message === 'string' && b.message !== '' ? b.message : `HTTP ${error.code}`,
  };
}

function networkCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; name?: unknown; type?: unknown; cause?: { code?: unknown } } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (e.name === 'AbortError' || e.type === 'aborted') return 'TIMEOUT';
  for (const code of [e.code, e.cause?.code]) if (typeof code === 'string' && (NETWORK_CODES.has(code) || TLS_CODES.test(code))) return code;
  if (/socket hang up/i.test(String((error as Error).message))) return 'ECONNRESET';
  return undefined;
}

/** Failures a retry can fix: the server unreachable, timing out or overloaded. Never after the caller gave up. */
export function isTransient(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted || isGantryError(error)) return false;
  const status = apiStatus(error);
  // Server-side apply answers 500 for a field the schema does not have (kubernetes#122480): a
  // refusal of the object, not a server in trouble.
  if (status?.code === 500 && /failed to create typed patch object|field not declared in schema/.test(status.message)) return false;
  if (status) return [429, 500, 502, 503, 504].includes(status.code);
  const code = networkCode(error);
  return code !== undefined && !TLS_CODES.test(code);
}

/** Turns a client-node failure into the catalogue error, prefixed with what was being done. */
export function kubeError(doing: string, error: unknown, server: string): GantryError {
  if (isGantryError(error)) return error;
  const status = apiStatus(error);
  // client-node's discovery prefixes its failures; a 404 there means the group/version is not served.
  const discovery = /^Failed to fetch resource metadata for (.+)\/([^/:]+): /.exec((error as Error).message ?? '');
  if (status?.code === 404 && discovery) {
    return gantryError('E_KUBE_API', { problem: 'not-served', doing, groupVersion: discovery[1]!, kind: discovery[2]! }, { cause: error });
  }
  if (status) return statusError(doing, status, error);
  const plugin = execPluginFailure(error);
  if (plugin) return gantryError('E_KUBE_API', { problem: 'exec-plugin', doing, ...plugin }, { cause: error });

  const reason = ((error as Error).message ?? String(error)).replace(/^Failed to fetch resource metadata for [^:]+: /, '');
  const timeout = timeoutBehind(error);
  if (timeout) {
    // The limit that passed (connect or request) and the whole wait withRetry recorded on `error`.
    const waited = noAnswerText({ requestMs: timeout.limitMs }, error);
    return gantryError('E_KUBE_UNREACHABLE', { doing, server, reason: timeout.message, tls: false, code: 'TIMEOUT', waited }, { cause: error });
  }
  const code = networkCode(error);
  if (code && TLS_CODES.test(code)) {
    return gantryError('E_KUBE_UNREACHABLE', { doing, server, reason, tls: true }, { cause: error });
  }
  if (code) {
    return gantryError('E_KUBE_UNREACHABLE', { doing, server, reason, tls: false, code }, { cause: error });
  }
  return gantryError('E_KUBE_API', { problem: 'other', doing, reason }, { cause: error });
}

function statusError(doing: string, status: ApiStatus, cause: unknown): GantryError {
  if (status.code === 401) {
    return gantryError('E_KUBE_UNAUTHORIZED', { doing, answer: status.message }, { cause });
  }
  if (status.code === 403) return forbidden(doing, status, cause);
  if (status.code === 404) return gantryError('E_KUBE_NOT_FOUND', { problem: 'status', doing, answer: status.message }, { cause });
  return gantryError('E_KUBE_API', { problem: 'status', doing, answer: status.message, status: status.code, reason: status.reason }, { cause });
}

// `configmaps is forbidden: User "system:serviceaccount:ns:sa" cannot create resource "configmaps"
// in API group "" in the namespace "ns"` -> who, verb, resource, group, namespace.
const FORBIDDEN = /User "([^"]+)" cannot (\w+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/;

function forbidden(doing: string, status: ApiStatus, cause: unknown): GantryError {
  const m = FORBIDDEN.exec(status.message);
  if (!m) return gantryError('E_KUBE_FORBIDDEN', { problem: 'unparsed', doing, answer: status.message }, { cause });
  const [, user, verb, resource, group, namespace] = m as unknown as [string, string, string, string, string, string | undefined];
  return gantryError('E_KUBE_FORBIDDEN', { problem: 'rbac', doing, answer: status.message, user, verb, resource, group, namespace }, { cause });
}
