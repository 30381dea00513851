// CDN refresh after a publish: only the HTML this publish changed (assets have new, hashed
// names and need none), through a small CdnRefresher interface. The Aliyun implementation calls
// the CDN RPC API action RefreshObjectCaches (version 2018-05-10) with the v1 HMAC-SHA1
// signature, at most 1,000 URLs a call. Refreshing twice does no harm, so failed calls (5xx,
// throttling, resets) are retried; each attempt is signed afresh (new nonce and timestamp).
import { createHmac, randomUUID } from 'node:crypto';
import type { Ctx } from '../context.js';
import { ciVariables } from '../ci/variables.js';
import { GantryError, gantryError } from '../errors.js';
import { asLocalError, isTimeout, noAnswerText, withinMs, withRetry } from '../retry.js';

export interface CdnRefresher {
  refresh(urls: string[]): Promise<{ taskIds: string[] }>;
}

export const CDN_API_VERSION = '2018-05-10';
export const DEFAULT_CDN_ENDPOINT = 'https://cdn.aliyuncs.com';
/** RefreshObjectCaches takes at most 1,000 URLs (ObjectType File) per call (SingleRequest.OverLimit). */
export const REFRESH_URLS_PER_CALL = 1000;

// ---------------------------------------------------------------------------------------------
// Which URLs

/**
 * The URLs to refresh for the HTML files a publish uploaded (keys below `prefix`): each page, and
 * for a directory index (`docs/index.html`) also the directory URL visitors use (`docs/`), the
 * root one being `https://domain/`. Sorted, without duplicates.
 */
export function refreshUrls(domain: string, prefix: string, files: { key: string; html: boolean }[], index = 'index.html'): string[] {
  const encodePath = (key: string) => key.split('/').map(encodeURIComponent).join('/');
  const urls = new Set<string>();
  for (const f of files) {
    if (!f.html) continue;
    const key = prefix + f.key;
    urls.add(`https://${domain}/${encodePath(key)}`);
    const name = key.slice(key.lastIndexOf('/') + 1);
    if (name === index) urls.add(`https://${domain}/${encodePath(key.slice(0, key.length - name.length))}`);
  }
  return [...urls].sort();
}

// ---------------------------------------------------------------------------------------------
// The RPC signature (signature version 1.0, HMAC-SHA1)

/** RFC 3986 encoding as the RPC signature wants it: space %20, `*` %2A, `~` kept. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Parameters sorted by name, each name and value percent-encoded, joined with `&`. */
export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
}

/** `METHOD&%2F&percentEncode(canonicalQuery)` */
export function rpcStringToSign(method: string, params: Record<string, string>): string {
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalQuery(params))}`;
}

/** Base64(HMAC-SHA1(secret + "&", stringToSign)) */
export function rpcSignature(method: string, params: Record<string, string>, accessKeySecret: string): string {
  return createHmac('sha1', `${accessKeySecret}&`).update(rpcStringToSign(method, params), 'utf8').digest('base64');
}

export interface RpcCredentials {
  accessKeyId: string;
  accessKeySecret: string;
}

/** ISO 8601 in UTC without milliseconds, as the API wants it: 2026-01-02T03:04:05Z. */
export function rpcTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The action's parameters plus the common ones, signed. A fresh nonce each call. */
export function signedRpcParams(
  method: string,
  action: string,
  params: Record<string, string>,
  credentials: RpcCredentials,
  options: { now?: Date; nonce?: string; version?: string } = {},
): Record<string, string> {
  const all: Record<string, string> = {
    ...params,
    Action: action,
    Version: options.version ?? CDN_API_VERSION,
    Format: 'JSON',
    AccessKeyId: credentials.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: options.nonce ?? randomUUID(),
    Timestamp: rpcTimestamp(options.now ?? new Date()),
  };
  return { ...all, Signature: rpcSignature(method, all, credentials.accessKeySecret) };
}

// ---------------------------------------------------------------------------------------------
// The Aliyun client

/** An error answer of the API: `{ Code, Message, RequestId }` with its HTTP status. */
export class CdnApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    /** The API's Message as sent (for SignatureDoesNotMatch it holds the string to sign). */
    readonly apiMessage: string,
    readonly requestId?: string,
  ) {
    super(`${code}: ${apiMessage.length > 300 ? `${apiMessage.slice(0, 300)}…` : apiMessage}`);
    this.name = 'CdnApiError';
  }
}

/** 5xx, throttling and network failures are worth another try; a refused signature is not. */
export function isRetryableCdnError(error: unknown): boolean {
  if (error instanceof CdnApiError) return error.status >= 500 || /^(Throttling|ServiceUnavailable)/.test(error.code);
  const e = error as { name?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'AbortError') return false;
  if (e.name === 'TimeoutError') return true;
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|UND_ERR|socket hang up|fetch failed|terminated/i.test(`${e.cause?.code ?? ''} ${e.message ?? ''}`);
}

export interface AliyunCdnOptions extends RpcCredentials {
  /** https://cdn.aliyuncs.com unless overridden (tests point it at 127.0.0.1). */
  endpoint: string;
  retries: number;
  urlsPerCall?: number;
  /** Per call, from sending to the last byte of the answer (default ctx.deadlines.requestMs). */
  timeoutMs?: number;
  /** Backoff of the first retry, doubling up to 8 s (default 500 ms). */
  minRetryDelayMs?: number;
}

export function aliyunCdnRefresher(ctx: Ctx, options: AliyunCdnOptions): CdnRefresher {
  const perCall = options.urlsPerCall ?? REFRESH_URLS_PER_CALL;
  const url = new URL('/', options.endpoint).toString();

  async function call(paths: string[]): Promise<string[]> {
    const params = signedRpcParams('POST', 'RefreshObjectCaches', { ObjectPath: paths.join('\n'), ObjectType: 'File' }, options);
    // POST with the parameters as a form, signed as POST (what the Aliyun SDKs send).
    const body = Object.entries(params)
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join('&');
    // One deadline for the whole call (fetch has no separate connect timeout without an undici
    // Agent, which is not a dependency): connect, send, and read the answer to its last byte.
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(options.timeoutMs ?? ctx.deadlines.requestMs)]);
    let res: Response;
    let text: string;
    try {
      const timeoutMs = options.timeoutMs ?? ctx.deadlines.requestMs;
      res = await withinMs(
        timeoutMs,
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'gantry' },
          body,
          signal,
        }),
      );
      text = await withinMs(timeoutMs, res.text());
    } catch (error) {
      throw asLocalError(error);
    }
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // An answer that is not JSON (a proxy's HTML page): reported by its status below.
    }
    if (!res.ok) {
      throw new CdnApiError(
        res.status,
        String(json.Code ?? `HTTP${res.status}`),
        String(json.Message ?? text.slice(0, 200)),
        json.RequestId === undefined ? undefined : String(json.RequestId),
      );
    }
    const ids = String(json.RefreshTaskId ?? '');
    if (!ids) throw new CdnApiError(res.status, 'InvalidResponse', `no RefreshTaskId in the answer: ${text.slice(0, 200)}`);
    return ids
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  // Once the API has been found silent, later batches fail at once with the same error.
  let silent: unknown;
  const host = new URL(options.endpoint).host;
  return {
    async refresh(urls) {
      const taskIds: string[] = [];
      for (let i = 0; i < urls.length; i += perCall) {
        if (silent) throw silent;
        const batch = urls.slice(i, i + perCall);
        const what = `refresh ${batch.length} URL${batch.length === 1 ? '' : 's'}`;
        const ids = await withRetry(ctx, what, () => call(batch), {
          isTransient: isRetryableCdnError,
          retries: options.retries,
          minDelayMs: options.minRetryDelayMs ?? 500,
          maxDelayMs: 8000,
        }).catch((error: unknown) => {
          if (isTimeout(error) && !ctx.signal.aborted) {
            // "cdn.aliyuncs.com: no answer within 15 s (waited 31 s over 2 attempts)", read by cdnError.
            silent = Object.assign(
              new Error(`${host}: ${noAnswerText({ requestMs: options.timeoutMs ?? ctx.deadlines.requestMs }, error)}`, { cause: error }),
              {
                name: 'TimeoutError',
              },
            );
            throw silent;
          }
          throw error;
        });
        ctx.logger.info(`${what}: task ${ids.join(', ')}`);
        taskIds.push(...ids);
      }
      return { taskIds };
    },
  };
}

/** GANTRY_CDN_ACCESS_KEY_ID / _SECRET, else the OSS pair; half a pair is an input error. */
export function cdnCredentialsFromEnv(env: NodeJS.ProcessEnv, oss: RpcCredentials): RpcCredentials {
  const { cdnAccessKeyId: id, cdnAccessKeySecret: secret } = ciVariables(env).gantry;
  if (!id && !secret) return oss;
  if (!id || !secret) {
    throw gantryError('E_CDN_KEY_PARTIAL', { missing: id ? 'SECRET' : 'ID' });
  }
  return { accessKeyId: id, accessKeySecret: secret };
}

/** A failed refresh after a successful publish: says plainly that the files are live. */
export function cdnError(error: unknown, published: string, urls: string[]): GantryError {
  if (error instanceof GantryError) return error;
  if (error instanceof CdnApiError) {
    // The API's message, shortened: a refused signature echoes the whole string to sign.
    const said = error.apiMessage.replace(/\s*server string to sign is:.*$/s, '');
    const answer = `${error.code} (HTTP ${error.status})${error.requestId ? `, request id ${error.requestId}` : ''}: ${said.length > 300 ? `${said.slice(0, 300)}…` : said}`;
    if (/^InvalidAccessKeyId|^SignatureDoesNotMatch|^IncompleteSignature|^Forbidden|^NoPermission/.test(error.code) || error.status === 403) {
      return gantryError('E_CDN_ACCESS', { published, urls, code: error.code, answer });
    }
    if (/^QuotaExceeded|^QuotaPerMinuteExceeded|^TooMany/.test(error.code)) {
      return gantryError('E_CDN_REFRESH', { problem: 'quota', published, urls, code: error.code, answer });
    }
    return gantryError('E_CDN_REFRESH', { problem: 'refused', published, urls, code: error.code, answer });
  }
  const message = error instanceof Error ? error.message : String(error);
  return gantryError('E_CDN_REFRESH', { problem: 'no-answer', published, urls, reason: message, endpoint: DEFAULT_CDN_ENDPOINT }, { cause: error });
}
