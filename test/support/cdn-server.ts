// An Aliyun CDN API server for tests: HTTP on 127.0.0.1, speaking the RPC style the real
// endpoint (https://cdn.aliyuncs.com) speaks, so Gantry's client is tested against the protocol
// and never against the real service.
//
// What it checks, as the real gateway does (codes and statuses from the Aliyun common error
// tables and the RefreshObjectCaches reference):
//   - parameters in the query (GET) or as a form body (POST), merged;
//   - Version 2018-05-10, SignatureMethod HMAC-SHA1, SignatureVersion 1.0, Format JSON or XML;
//   - Timestamp as YYYY-MM-DDThh:mm:ssZ (InvalidTimeStamp.Format) within 15 minutes
//     (InvalidTimeStamp.Expired);
//   - the AccessKeyId (404 InvalidAccessKeyId.NotFound) and the v1 signature over
//     METHOD&%2F&percentEncode(sorted, encoded parameters) keyed with secret + "&"
//     (400 SignatureDoesNotMatch, echoing the string to sign, never the secret);
//   - SignatureNonce never seen before (400 SignatureNonceUsed): a retry must sign afresh.
// RefreshObjectCaches: ObjectPath required, split on \n or \r\n, each a URL (http(s)://host/...
// or host/...); ObjectType File (default, at most 1,000 per call) or Directory (at most 100);
// more answers SingleRequest.OverLimit; another type InvalidObjectType.Malformed. It answers
// { RequestId, RefreshTaskId } and records the call.
//
// Faults (switchable): the next N authenticated calls answer 503 ServiceUnavailable or
// 400 Throttling.User, after the nonce is spent, so a client that replays a request is caught.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback } from './loopback.js';

export interface CdnCall {
  action: string;
  objectType: string;
  /** The ObjectPath entries, in order. */
  paths: string[];
  taskId: string;
  requestId: string;
  accessKeyId: string;
  nonce: string;
  time: number;
}

export interface CdnRequest {
  method: string;
  params: Record<string, string>;
  time: number;
  status: number | null;
  /** The error code answered, if any. */
  code: string | null;
  faulted: boolean;
}

export type CdnFault = 503 | 'throttling';

export interface CdnServer {
  endpoint: string;
  port: number;
  /** Every request, answered or not. */
  requests: CdnRequest[];
  /** Accepted RefreshObjectCaches calls. */
  calls: CdnCall[];
  /** Every URL accepted for refresh, in order. */
  refreshed(): string[];
  /** The next `n` authenticated calls fail with 503 ServiceUnavailable or 400 Throttling.User. */
  failNext(n: number, fault?: CdnFault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export interface CdnServerOptions {
  accessKeyId: string;
  accessKeySecret: string;
  /** More key pairs the server knows (RAM users of the same account). */
  moreKeys?: Record<string, string>;
  /** URLs per File call (RefreshObjectCaches allows 1,000). */
  maxUrlsPerCall?: number;
  /** The server's clock, for Timestamp checks. */
  now?: () => number;
}

const API_VERSION = '2018-05-10';
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_DIRECTORIES_PER_CALL = 100;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// RFC 3986, as the signature specifies; written out here rather than imported from Gantry, so
// the server does not share a bug with the client it tests.
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function stringToSign(method: string, params: Record<string, string>): string {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${rfc3986(k)}=${rfc3986(params[k]!)}`)
    .join('&');
  return `${method}&${rfc3986('/')}&${rfc3986(canonical)}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function startCdnServer(options: CdnServerOptions): Promise<CdnServer> {
  const keys = new Map([[options.accessKeyId, options.accessKeySecret], ...Object.entries(options.moreKeys ?? {})]);
  const now = options.now ?? Date.now;
  const maxUrls = options.maxUrlsPerCall ?? 1000;
  const requests: CdnRequest[] = [];
  const calls: CdnCall[] = [];
  const nonces = new Set<string>();
  const faults = { count: 0, fault: 503 as CdnFault };
  let taskCounter = 700_000_000;

  function send(res: ServerResponse, status: number, format: string, action: string, body: Record<string, string>): void {
    const text =
      format === 'JSON'
        ? JSON.stringify(body)
        : `<?xml version='1.0' encoding='UTF-8'?><${status < 300 ? `${action}Response` : 'Error'}>${Object.entries(body)
            .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
            .join('')}</${status < 300 ? `${action}Response` : 'Error'}>`;
    res.writeHead(status, {
      'Content-Type': format === 'JSON' ? 'application/json;charset=utf-8' : 'text/xml;charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  function authenticate(method: string, p: Record<string, string>): void {
    for (const name of ['AccessKeyId', 'Signature', 'SignatureNonce', 'Timestamp', 'Version', 'Action']) {
      if (!p[name]) throw new ApiError(400, `Missing${name}`, `${name} is mandatory for this action.`);
    }
    if (p.Version !== API_VERSION) throw new ApiError(400, 'InvalidVersion', `Specified parameter Version is not valid.`);
    if ((p.SignatureMethod ?? 'HMAC-SHA1') !== 'HMAC-SHA1') throw new ApiError(400, 'InvalidSignatureMethod', 'Specified signature method is not valid.');
    if ((p.SignatureVersion ?? '1.0') !== '1.0') throw new ApiError(400, 'InvalidSignatureVersion', 'Specified signature version is not valid.');
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(p.Timestamp!) || Number.isNaN(Date.parse(p.Timestamp!))) {
      throw new ApiError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    }
    if (Math.abs(now() - Date.parse(p.Timestamp!)) > MAX_SKEW_MS)
      throw new ApiError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    const secret = keys.get(p.AccessKeyId!);
    if (secret === undefined) throw new ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    const toSign = stringToSign(method, p);
    const expected = createHmac('sha1', `${secret}&`).update(toSign, 'utf8').digest();
    const given = Buffer.from(p.Signature!, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${toSign}`);
    }
    if (nonces.has(p.SignatureNonce!)) throw new ApiError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    nonces.add(p.SignatureNonce!);
  }

  function refreshObjectCaches(p: Record<string, string>, requestId: string): Record<string, string> {
    const objectType = p.ObjectType ?? 'File';
    if (objectType !== 'File' && objectType !== 'Directory') {
      throw new ApiError(400, 'InvalidObjectType.Malformed', 'The specified ObjectType is invalid.');
    }
    if (!p.ObjectPath) throw new ApiError(400, 'MissingObjectPath', 'ObjectPath is mandatory for this action.');
    const paths = p.ObjectPath.split(/\r?\n/).filter((l) => l.trim() !== '');
    const limit = objectType === 'File' ? maxUrls : MAX_DIRECTORIES_PER_CALL;
    if (paths.length > limit) {
      throw new ApiError(
        400,
        'SingleRequest.OverLimit',
        `A maximum of ${limit} ${objectType === 'File' ? 'URLs' : 'directories'} are supported for each request.`,
      );
    }
    for (const path of paths) {
      let host = '';
      try {
        host = new URL(/^https?:\/\//.test(path) ? path : `http://${path}`).hostname;
      } catch {
        // reported below
      }
      if (!host.includes('.') || /\s/.test(path) || (objectType === 'Directory' && !path.endsWith('/'))) {
        throw new ApiError(400, 'InvalidObjectPath.Malformed', 'The specified ObjectPath is invalid.');
      }
    }
    const taskId = String(++taskCounter);
    calls.push({
      action: 'RefreshObjectCaches',
      objectType,
      paths,
      taskId,
      requestId,
      accessKeyId: p.AccessKeyId!,
      nonce: p.SignatureNonce!,
      time: Date.now(),
    });
    return { RequestId: requestId, RefreshTaskId: taskId };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    const body = await readBody(req);
    if (method === 'POST' && /application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    }
    const entry: CdnRequest = { method, params, time: Date.now(), status: null, code: null, faulted: false };
    requests.push(entry);
    const format = (params.Format ?? 'XML').toUpperCase() === 'JSON' ? 'JSON' : 'XML';
    const action = params.Action ?? '';
    const requestId = randomUUID().toUpperCase();
    const fail = (e: ApiError) => {
      entry.status = e.status;
      entry.code = e.code;
      send(res, e.status, format, action, { RequestId: requestId, HostId: 'cdn.aliyuncs.com', Code: e.code, Message: e.message });
    };
    try {
      if (method !== 'GET' && method !== 'POST') throw new ApiError(400, 'UnsupportedHTTPMethod', 'This http method is not supported.');
      if (url.pathname !== '/') throw new ApiError(404, 'InvalidApi.NotFound', 'Specified api is not found, please check your url and method.');
      authenticate(method, params);
      if (faults.count > 0) {
        faults.count--;
        entry.faulted = true;
        throw faults.fault === 503
          ? new ApiError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.')
          : new ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.');
      }
      if (action !== 'RefreshObjectCaches') throw new ApiError(404, 'InvalidApi.NotFound', 'Specified api is not found, please check your url and method.');
      const answer = refreshObjectCaches(params, requestId);
      entry.status = 200;
      send(res, 200, format, action, answer);
    } catch (e) {
      fail(e instanceof ApiError ? e : new ApiError(500, 'InternalError', 'The request processing has failed due to some unknown error.'));
    }
  }

  const listener = await listenOnLoopback(handle);
  const port = listener.port;
  return {
    endpoint: listener.url,
    port,
    requests,
    calls,
    refreshed: () => calls.flatMap((c) => c.paths),
    failNext(n, fault = 503) {
      faults.count = n;
      faults.fault = fault;
    },
    clearFaults() {
      faults.count = 0;
    },
    close: listener.close,
  };
}
