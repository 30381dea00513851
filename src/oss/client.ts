// ali-oss behind the small ObjectStore interface, with OSS error codes turned into Gantry's.
import OSS from 'ali-oss';
import { GantryError, gantryError } from '../errors.js';
import type { LocalFile } from './files.js';
import { normaliseEtag, type RemoteObject, type StoredObjectInfo } from './plan.js';
import type { Ctx } from '../context.js';
import { DEFAULT_DEADLINES, type Deadlines, isTimeout, noAnswerText, untilAborted, withRetry } from '../retry.js';
import { isTransient, ossRetry, type ObjectStore } from './publish.js';

export interface OssTarget {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  accessKeyId: string;
  accessKeySecret: string;
  /** Path-style addressing (<endpoint>/<bucket>/<key>), for OSS-compatible stores that need it. */
  pathStyle?: boolean | undefined;
}

export interface OssStore extends ObjectStore {
  list(prefix: string): Promise<RemoteObject[]>;
  /** The MD5 Gantry stored with an object (x-oss-meta-md5) and its Content-Encoding. */
  head(key: string): Promise<StoredObjectInfo>;
  getBuffer(key: string): Promise<Buffer>;
  /**
   * The object's bytes and its response headers (a release's HTML copy, made live again). The
   * HTTP client unzips a body sent with Content-Encoding gzip, so bytes that must come back as
   * stored are kept without that header (src/oss/release.ts).
   */
  getObject(key: string): Promise<{ body: Buffer; headers: Record<string, string> }>;
  putBuffer(key: string, body: Buffer, headers: Record<string, string>): Promise<void>;
  /** Deletes in batches of 1,000 (the DeleteMultipleObjects limit). */
  deleteMany(keys: string[]): Promise<void>;
}

/** Files above this size go up in parts (parallel, and resumable by the client). */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;

/**
 * The ali-oss client for a target: HTTPS unless an http:// endpoint is given, with the connect
 * and request deadlines of src/retry.ts. Aliyun OSS takes only virtual-hosted requests
 * (<bucket>.<endpoint>/<key>); path style is ali-oss's second-level-domain mode (`sldEnable`:
 * <endpoint>/<bucket>/<key>, signed the same).
 */
export function ossClient(target: OssTarget, deadlines: Pick<Deadlines, 'connectMs' | 'requestMs'> = DEFAULT_DEADLINES): OSS {
  const client = new OSS({
    bucket: target.bucket,
    region: target.region,
    accessKeyId: target.accessKeyId,
    accessKeySecret: target.accessKeySecret,
    ...(target.endpoint ? { endpoint: target.endpoint, secure: target.endpoint.startsWith('https:') } : { secure: true }),
    ...(target.pathStyle ? { sldEnable: true } : {}),
    timeout: deadlines.requestMs,
  } as OSS.Options);
  // urllib (ali-oss's HTTP client) takes [connect, response] per request: connect until the TCP
  // connection stands, response from then to the last byte. ali-oss passes its client-wide
  // timeout through ms(), which takes one number only, so the pair is set after construction;
  // every request without its own timeout reads it (lib/common/utils/createRequest.js).
  (client as unknown as { options: { timeout: unknown } }).options.timeout = [deadlines.connectMs, deadlines.requestMs];
  return client;
}

/** Where a target's requests go, for messages: the endpoint's host, or <region>.aliyuncs.com. */
export function ossHost(target: Pick<OssTarget, 'endpoint' | 'region'>): string {
  if (target.endpoint) {
    try {
      return new URL(target.endpoint.includes('://') ? target.endpoint : `https://${target.endpoint}`).host;
    } catch {
      return target.endpoint;
    }
  }
  return `${target.region}.aliyuncs.com`;
}

/**
 * The store the frontend flow uses. Each call is bounded by the deadlines and retried as
 * ossRetry says; once OSS has been found silent (a call ended in timeouts), every later call of
 * this store fails at once with the same error instead of waiting for it again.
 */
export function openOss(ctx: Ctx, target: OssTarget, retries: number): OssStore {
  const client = ossClient(target, ctx.deadlines);
  let multipart: OSS | undefined;
  let silent: GantryError | undefined;
  const call = async <T>(doing: string, request: () => Promise<T>): Promise<T> => {
    if (silent) throw silent;
    try {
      return await untilAborted(ctx.signal, withRetry(ctx, doing, request, { ...ossRetry, retries }));
    } catch (error) {
      const e = ossError(doing, target, error, ctx.deadlines);
      if (isTimeout(error)) silent = e;
      throw e;
    }
  };
  return {
    async list(prefix) {
      const out: RemoteObject[] = [];
      let token: string | undefined;
      do {
        const query = { prefix, 'max-keys': '1000', ...(token ? { 'continuation-token': token } : {}) };
        const page = await call(`list ${target.bucket}/${prefix}`, () => client.listV2(query as never, {}));
        // An empty <ETag/> parses as '' or not at all: the plan then asks for the stored MD5.
        for (const o of page.objects ?? []) out.push({ key: o.name, size: Number(o.size), etag: normaliseEtag(typeof o.etag === 'string' ? o.etag : '') });
        token = (page as { nextContinuationToken?: string }).nextContinuationToken || undefined;
      } while (token);
      return out;
    },
    async head(key) {
      const head = await call(`head ${key}`, () => client.head(key));
      const headers = (head.res as { headers?: Record<string, string> } | undefined)?.headers ?? {};
      return { md5: (head.meta as Record<string, string> | undefined)?.md5, encoding: headers['content-encoding'], cacheControl: headers['cache-control'] };
    },
    async getBuffer(key) {
      const r = await call(`get ${key}`, () => client.get(key));
      return Buffer.from(r.content as Buffer);
    },
    async getObject(key) {
      const r = await call(`get ${key}`, () => client.get(key));
      const headers = (r.res as { headers?: Record<string, string> } | undefined)?.headers ?? {};
      return { body: Buffer.from(r.content as Buffer), headers };
    },
    async putBuffer(key, body, headers) {
      await call(`put ${key}`, () => client.put(key, body, { headers }));
    },
    async deleteMany(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        await call(`delete ${batch.length} objects`, () => client.deleteMulti(batch, { quiet: true }));
      }
    },
    async put(key, file: LocalFile, headers) {
      if (silent) throw silent;
      try {
        let upload: Promise<unknown>;
        if (file.size > MULTIPART_THRESHOLD) {
          // ali-oss gives parts the client's timeout only: a client of its own, allowing for one part.
          multipart ??= ossClient(target, { connectMs: ctx.deadlines.connectMs, requestMs: uploadDeadlineMs(ctx.deadlines, MULTIPART_PART_SIZE) });
          const { 'x-oss-meta-md5': md5, 'Content-MD5': _ignored, ...rest } = headers;
          upload = multipart.multipartUpload(key, file.body ?? file.path, {
            partSize: MULTIPART_PART_SIZE,
            parallel: 4,
            headers: rest,
            meta: { md5 },
          } as never);
        } else {
          upload = client.put(key, file.body ?? file.path, {
            headers,
            timeout: [ctx.deadlines.connectMs, uploadDeadlineMs(ctx.deadlines, file.size)],
          } as never);
        }
        await untilAborted(ctx.signal, upload);
      } catch (error) {
        // Transient errors go back as they are, for the caller's retry; the rest are final.
        if (isTransient(error)) throw error;
        throw ossError(`put ${key}`, target, error, ctx.deadlines);
      }
    },
  };
}

const MULTIPART_PART_SIZE = 8 * 1024 * 1024;

/**
 * urllib's response timer runs while the body is sent, so an upload gets the request deadline
 * plus one second per 256 KiB (a 16 MiB file: +64 s): a slow uplink is not taken for a silent
 * OSS, and a small file still fails in about one request deadline. A silent OSS is found before
 * any upload anyway, by the listing every publish starts with.
 */
export function uploadDeadlineMs(deadlines: Pick<Deadlines, 'requestMs'>, bytes: number): number {
  return deadlines.requestMs + Math.ceil(bytes / (256 * 1024)) * 1000;
}

/** A failed OSS call as a catalogue error; a timeout reads "no answer within 15 s (waited 31 s over 2 attempts)", naming the host. */
export function ossError(doing: string, target: OssTarget, error: unknown, deadlines: Pick<Deadlines, 'requestMs'> = DEFAULT_DEADLINES): GantryError {
  if (error instanceof GantryError) return error;
  const e = error as { code?: string; status?: number; message?: string };
  const where = `${target.bucket} (${target.endpoint ?? target.region})`;
  if (isTimeout(error)) {
    return gantryError(
      'E_OSS_UNREACHABLE',
      { doing, where: `${target.bucket} at ${ossHost(target)}`, reason: noAnswerText(deadlines, error) },
      { cause: error },
    );
  }
  // An OSS-compatible store that takes only path-style requests does not see the bucket of a
  // virtual-hosted one: it answers for another bucket, or finds the signature (which names the
  // bucket) wrong.
  const maybePathStyle = Boolean(target.endpoint && !target.pathStyle);
  if (e.code === 'SecondLevelDomainForbidden') {
    return gantryError('E_OSS_ACCESS', { problem: 'path-style', doing, where });
  }
  if (e.code === 'NoSuchBucket') {
    return gantryError('E_OSS_BUCKET', { doing, where, pathStyleHint: maybePathStyle });
  }
  if (e.code === 'InvalidAccessKeyId' || e.code === 'SignatureDoesNotMatch' || e.code === 'AccessDenied' || e.status === 403) {
    return gantryError('E_OSS_ACCESS', {
      problem: 'refused',
      doing,
      where,
      reason: e.code ?? e.status,
      pathStyleHint: e.code === 'SignatureDoesNotMatch' && maybePathStyle,
    });
  }
  return gantryError('E_OSS_UNREACHABLE', { doing, where, reason: e.code ?? e.status ?? 'network error' });
}
