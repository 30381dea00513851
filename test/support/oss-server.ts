// An in-memory Aliyun OSS server for tests that drive the real `ali-oss` client over HTTP.
//
// It speaks the subset of the OSS REST API that Gantry's uploads use, byte-for-byte as
// ali-oss 6.x sends and parses it (checked against node_modules/ali-oss/lib), including the
// V1 header signature, so a request the real OSS would reject is rejected here too.
//
// Client options (ali-oss 6.23, which signs with V1 by default: `authorizationV4: false`):
//
//   Virtual-host style (the ali-oss default addressing):
//     new OSS({ accessKeyId, accessKeySecret, bucket, endpoint: server.endpoint })
//   ali-oss sees an IP endpoint, so it sends the request to http://127.0.0.1:PORT/<key> and sets
//   `Host: <bucket>.oss-cn-hangzhou.aliyuncs.com` (from `region`); the bucket comes from the Host.
//
//   Path style (`sldEnable: true`) needs a host NAME endpoint, because with an IP endpoint ali-oss
//   still overrides Host with `<bucket>.<region host>` and the request would be ambiguous:
//     new OSS({ accessKeyId, accessKeySecret, bucket, endpoint: `http://localhost:${server.port}`, sldEnable: true })
//   -> http://localhost:PORT/<bucket>/<key>, Host: localhost:PORT.
//
//   Virtual-host style with a name endpoint (`Host: <bucket>.localhost:PORT`) also works, but
//   `<bucket>.localhost` does not resolve everywhere, so give the client an agent that resolves it:
//     agent: new http.Agent({ keepAlive: true, lookup: (h, o, cb) => ... '127.0.0.1' })
//
// Addressing rule (`addressing: 'both'`, the default): a Host that is an IP address or has a single
// label (localhost) means path style; otherwise the first label of the Host is the bucket.
// The server can also play the two kinds of endpoint that take one style only:
//   `addressing: 'path'`: an OSS-compatible store without virtual hosts (MinIO, Ceph RGW or an
//   Apsara Stack endpoint without a wildcard domain). The bucket is always the first path segment,
//   whatever the Host says, so a virtual-hosted request (`/index.html`, Host `<bucket>.<region>`)
//   names no bucket or the wrong one and is refused as such a store refuses it: the V1 signature
//   covers `/<bucket>/<key>`, which the store does not see, so 403 SignatureDoesNotMatch.
//   `addressing: 'virtual-host'`: Aliyun OSS itself, which refuses a path-style request with
//   403 SecondLevelDomainForbidden, "Please use virtual hosted style to access."
//
// Not implemented (answers 501 NotImplemented): V4 signatures, presigned URLs, ACLs, versioning,
// copy, append, tagging, listParts/listUploads, CORS, lifecycle and the other bucket configs.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback } from './loopback.js';
import { isIP } from 'node:net';

export interface StoredObject {
  body: Buffer;
  /** Quoted uppercase hex, as OSS returns it: `"5EB63BBBE01EEED093CB22BB8F5ACDC3"` or `"...-3"` for multipart. */
  etag: string;
  /** Headers replayed on GET/HEAD: content-type, cache-control, content-encoding, content-disposition, expires, x-oss-meta-*. */
  headers: Record<string, string>;
  lastModified: Date;
  type: 'Normal' | 'Multipart';
  /** Decimal CRC-64/ECMA-182 (as `x-oss-hash-crc64ecma`). */
  crc64: string;
}

export interface LoggedRequest {
  method: string;
  /** null for service-level requests or when the Host names no bucket. */
  bucket: string | null;
  /** '' for bucket-level requests. */
  key: string;
  query: Record<string, string>;
  /** Arrival time, ms since the epoch. */
  time: number;
  /** True when a fault (failNext or resetAfter) answered this request instead of the API. */
  faulted: boolean;
  /** Status sent, or null when the socket was destroyed (or no answer yet). */
  status: number | null;
  /** The request named its bucket in the path (path style), not in the Host. */
  pathStyle: boolean;
}

export interface OssFaults {
  /** The next `n` requests are answered with `status` (default 503) and an OSS error body. */
  failNext(n: number, status?: number): void;
  /** Let `n` more requests through, then destroy the socket of the one after (once). */
  resetAfter(n: number): void;
  /** Delay every response by `ms` until cleared. */
  latency(ms: number): void;
  clearFaults(): void;
}

export interface OssServer extends OssFaults {
  endpoint: string;
  port: number;
  requests: LoggedRequest[];
  objects(bucket: string): Map<string, StoredObject>;
  /** The bucket's website configuration as last PUT (null when none), for assertions. */
  website(bucket: string): WebsiteConfig | null;
  /**
   * The bucket's static website as a browser sees it, on a loopback listener of its own (a
   * browser cannot send the Host that names the bucket): anonymous GET/HEAD served by the website
   * configuration last PUT. Started on first call, closed with the server.
   */
  websiteEndpoint(bucket: string): Promise<OssWebsiteEndpoint>;
  faults: OssFaults;
  close(): Promise<void>;
}

interface Upload {
  bucket: string;
  key: string;
  headers: Record<string, string>;
  parts: Map<number, { body: Buffer; etag: string; md5: Buffer }>;
}

export interface WebsiteConfig {
  suffix: string;
  supportSubDir?: string;
  type?: string;
  errorKey?: string;
  errorStatus?: string;
  /** Inner XML of <RoutingRules>, echoed back as sent. */
  routingRulesXml?: string;
}

interface Bucket {
  objects: Map<string, StoredObject>;
  website: WebsiteConfig | null;
}

class OssError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
    /** OSS's detailed error code (the EC element and x-oss-ec header), where known. */
    readonly ec?: string,
  ) {
    super(message);
  }
}

// Query parameters that OSS signs as sub-resources (the list the Aliyun SDKs share); any other
// query parameter (prefix, max-keys, list-type...) is not part of the canonicalized resource.
const SIGNED_SUBRESOURCES = new Set([
  'acl',
  'uploads',
  'location',
  'cors',
  'logging',
  'website',
  'referer',
  'lifecycle',
  'delete',
  'append',
  'tagging',
  'objectMeta',
  'uploadId',
  'partNumber',
  'security-token',
  'position',
  'img',
  'style',
  'styleName',
  'replication',
  'replicationProgress',
  'replicationLocation',
  'cname',
  'bucketInfo',
  'comp',
  'qos',
  'live',
  'status',
  'vod',
  'startTime',
  'endTime',
  'symlink',
  'x-oss-process',
  'response-content-type',
  'x-oss-traffic-limit',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'udf',
  'udfName',
  'udfImage',
  'udfId',
  'udfImageDesc',
  'udfApplication',
  'udfApplicationLog',
  'restore',
  'callback',
  'callback-var',
  'qosInfo',
  'policy',
  'stat',
  'encryption',
  'versions',
  'versioning',
  'versionId',
  'requestPayment',
  'x-oss-request-payer',
  'sequential',
  'inventory',
  'inventoryId',
  'continuation-token',
  'asyncFetch',
  'worm',
  'wormId',
  'wormExtend',
  'resourceGroup',
  'transferAcceleration',
]);

// Headers stored with an object and replayed on GET/HEAD (plus every x-oss-meta-*).
const REPLAYED_HEADERS = ['content-type', 'cache-control', 'content-encoding', 'content-disposition', 'expires', 'content-language'];

// OSS rejects requests whose date is more than 15 minutes off.
const MAX_SKEW_MS = 15 * 60 * 1000;
// OSS minimum size of every part but the last.
const MIN_PART_SIZE = 100 * 1024;

// ---------------------------------------------------------------------------------------------
// CRC-64/ECMA-182 as OSS reports it (reflected, init and xorout all ones: the "CRC-64/XZ" variant,
// check value for "123456789" = 0x995DC9BBDF1939FA). ali-oss 6.x for Node carries no CRC-64 code to
// reuse, so this is computed here with two 32-bit halves (BigInt per byte is too slow for MBs).
// The table is a constant, built once.
const CRC_TABLE = ((): { hi: Uint32Array; lo: Uint32Array } => {
  const polyHi = 0xc96c5795;
  const polyLo = 0xd7870f42;
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let h = 0;
    let l = i;
    for (let b = 0; b < 8; b++) {
      if (l & 1) {
        l = (((l >>> 1) | ((h & 1) << 31)) ^ polyLo) >>> 0;
        h = ((h >>> 1) ^ polyHi) >>> 0;
      } else {
        l = ((l >>> 1) | ((h & 1) << 31)) >>> 0;
        h = h >>> 1;
      }
    }
    hi[i] = h;
    lo[i] = l;
  }
  return { hi, lo };
})();

export function crc64ecma(data: Buffer): string {
  let h = 0xffffffff;
  let l = 0xffffffff;
  const { hi, lo } = CRC_TABLE;
  for (let i = 0; i < data.length; i++) {
    const idx = (l ^ data[i]!) & 0xff;
    l = (((l >>> 8) | ((h & 0xff) << 24)) ^ lo[idx]!) >>> 0;
    h = ((h >>> 8) ^ hi[idx]!) >>> 0;
  }
  h = ~h >>> 0;
  l = ~l >>> 0;
  return ((BigInt(h) << 32n) | BigInt(l)).toString();
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function md5(data: Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

function quotedEtag(digest: Buffer): string {
  return `"${digest.toString('hex').toUpperCase()}"`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function xmlUnescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(parseInt(n, 10)))
    .replace(/&amp;/g, '&');
}

// The request bodies OSS takes are flat, non-recursive documents, so matching elements by name is
// enough; a body that is not the expected root element is MalformedXML, as OSS answers.
function xmlElements(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

function xmlText(xml: string, tag: string): string | undefined {
  const v = xmlElements(xml, tag)[0];
  return v === undefined ? undefined : xmlUnescape(v.trim());
}

function requireRoot(body: Buffer, root: string): string {
  const xml = body.toString('utf8');
  if (!new RegExp(`^\\s*(<\\?xml[^>]*\\?>)?\\s*<${root}[\\s>][\\s\\S]*</${root}>\\s*$`).test(xml)) {
    throw new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  }
  return xml;
}

function xmlDoc(root: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>${inner}</${root}>`;
}

function el(tag: string, value: string | number): string {
  return `<${tag}>${typeof value === 'number' ? value : xmlEscape(value)}</${tag}>`;
}

function compareBytes(a: string, b: string): number {
  // OSS lists keys in UTF-8 byte order, which differs from UTF-16 order outside the BMP.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Request parsing and the V1 signature

interface ParsedRequest {
  method: string;
  bucket: string | null;
  key: string;
  query: Record<string, string>;
  /** The Host header as sent; echoed as HostId in error bodies. */
  hostId: string;
  pathStyle: boolean;
}

export type OssAddressing = 'both' | 'path' | 'virtual-host';

function parseRequest(req: IncomingMessage, addressing: OssAddressing): ParsedRequest {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const query = Object.fromEntries(new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)));
  const host = header(req, 'host') ?? '';
  // Strip the port, keeping bracketed IPv6 literals whole.
  const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    path = rawPath;
  }
  const pathStyle = addressing === 'path' || isIP(hostname) !== 0 || !hostname.includes('.');
  let bucket: string | null;
  let key: string;
  if (pathStyle) {
    const rest = path.replace(/^\//, '');
    const slash = rest.indexOf('/');
    bucket = (slash === -1 ? rest : rest.slice(0, slash)) || null;
    key = slash === -1 ? '' : rest.slice(slash + 1);
  } else {
    bucket = hostname.slice(0, hostname.indexOf('.'));
    key = path.replace(/^\//, '');
  }
  return { method: req.method ?? 'GET', bucket, key, query, hostId: host, pathStyle };
}

/** The bytes OSS signs: VERB, Content-MD5, Content-Type, Date, x-oss-* headers, resource. */
function stringToSign(req: IncomingMessage, p: ParsedRequest): Buffer {
  const ossHeaders = Object.keys(req.headers)
    .filter((k) => k.startsWith('x-oss-'))
    .sort()
    .map((k) => `${k}:${(header(req, k) ?? '').trim()}\n`)
    .join('');
  // ali-oss sends no Date header and signs x-oss-date in the Date position; OSS accepts that.
  const date = header(req, 'x-oss-date') ?? header(req, 'date') ?? '';
  const head = `${p.method}\n${header(req, 'content-md5') ?? ''}\n${header(req, 'content-type') ?? ''}\n${date}\n${ossHeaders}`;
  let resource = p.bucket === null ? '/' : `/${p.bucket}/${p.key}`;
  const subres = Object.keys(p.query)
    .filter((k) => SIGNED_SUBRESOURCES.has(k))
    .sort();
  if (subres.length > 0) {
    resource += `?${subres.map((k) => (p.query[k] ? `${k}=${p.query[k]}` : k)).join('&')}`;
  }
  // Header values arrive as latin1 (one char per wire byte); the key is Unicode, signed as UTF-8.
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(resource, 'utf8')]);
}

function authenticate(req: IncomingMessage, p: ParsedRequest, keys: ReadonlyMap<string, string>): void {
  const auth = header(req, 'authorization');
  if (!auth) throw new OssError(403, 'AccessDenied', 'You have no right to access this object because of bucket acl.');
  if (auth.startsWith('OSS4-HMAC-SHA256')) {
    throw new OssError(501, 'NotImplemented', 'This test server checks OSS V1 signatures only.');
  }
  const m = /^OSS ([^:]+):(.+)$/.exec(auth);
  if (!m) throw new OssError(400, 'InvalidArgument', 'Authorization header is invalid.', { ArgumentName: 'Authorization', ArgumentValue: auth });
  const [, keyId, signature] = m as unknown as [string, string, string];
  const secret = keys.get(keyId);
  if (secret === undefined) {
    throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: keyId });
  }
  const date = header(req, 'x-oss-date') ?? header(req, 'date');
  const when = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(when)) throw new OssError(403, 'AccessDenied', 'OSS authentication requires a valid Date.');
  if (Math.abs(Date.now() - when) > MAX_SKEW_MS) {
    throw new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }
  const toSign = stringToSign(req, p);
  const expected = createHmac('sha1', secret).update(toSign).digest();
  const given = Buffer.from(signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    // Real OSS echoes the string to sign (never the secret) so clients can debug.
    throw new OssError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        OSSAccessKeyId: keyId,
        SignatureProvided: signature,
        StringToSign: toSign.toString('utf8'),
        StringToSignBytes: [...toSign].map((b) => b.toString(16).padStart(2, '0')).join(' '),
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The server

export interface OssWebsiteEndpoint {
  /** http://127.0.0.1:<port>: a path on it is an object key, as on the bucket's website domain. */
  url: string;
  /** Every request to it: the path asked for, the key that answered (null: none), the status. */
  requests: { method: string; path: string; key: string | null; status: number }[];
}

export interface OssServerOptions {
  accessKeyId: string;
  accessKeySecret: string;
  buckets: string[];
  /** Called after each request's effect is in place (or it failed): for invariants that must hold between any two requests. */
  onRequestDone?: (entry: LoggedRequest) => void;
  /** Which addressing styles the endpoint takes (see the top of this file); default 'both'. */
  addressing?: OssAddressing;
}

export async function startOssServer(options: OssServerOptions): Promise<OssServer> {
  const keys: ReadonlyMap<string, string> = new Map([[options.accessKeyId, options.accessKeySecret]]);
  const buckets = new Map<string, Bucket>(options.buckets.map((b) => [b, { objects: new Map(), website: null }]));
  const uploads = new Map<string, Upload>();
  const requests: LoggedRequest[] = [];
  const faultState = { failCount: 0, failStatus: 503, resetIn: -1, latencyMs: 0 };
  let requestCounter = 0;

  const requestId = () => `${(++requestCounter).toString(16).padStart(8, '0')}${randomBytes(8).toString('hex')}`.toUpperCase();

  function send(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer | string): void {
    const buf = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    res.writeHead(status, {
      Server: 'AliyunOSS',
      Date: new Date().toUTCString(),
      'x-oss-request-id': requestId(),
      'Content-Length': buf.length,
      ...(body !== undefined && !Buffer.isBuffer(body) ? { 'Content-Type': 'application/xml' } : {}),
      ...headers,
    });
    res.end(buf);
  }

  function sendError(res: ServerResponse, p: ParsedRequest, e: OssError): void {
    const id = requestId();
    const extra = Object.entries(e.extra)
      .map(([k, v]) => el(k, v))
      .join('');
    const ec = e.ec === undefined ? '' : el('EC', e.ec);
    const xml = xmlDoc('Error', `${el('Code', e.code)}${el('Message', e.message)}${el('RequestId', id)}${el('HostId', p.hostId)}${extra}${ec}`);
    // ali-oss reads HEAD errors from the base64 x-oss-err header since HEAD has no body.
    send(res, e.status, { 'x-oss-request-id': id, 'x-oss-err': Buffer.from(xml).toString('base64'), ...(e.ec === undefined ? {} : { 'x-oss-ec': e.ec }) }, xml);
  }

  function getBucket(name: string | null): Bucket {
    const b = name === null ? undefined : buckets.get(name);
    if (!b) throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: name ?? '' });
    return b;
  }

  function getObject(b: Bucket, key: string): StoredObject {
    const o = b.objects.get(key);
    if (!o) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    return o;
  }

  function checkContentMd5(req: IncomingMessage, body: Buffer): void {
    const sent = header(req, 'content-md5');
    if (sent !== undefined && sent !== md5(body).toString('base64')) {
      throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
    }
  }

  function replayedHeaders(req: IncomingMessage): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      if (REPLAYED_HEADERS.includes(k) || k.startsWith('x-oss-meta-')) out[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    out['content-type'] ??= 'application/octet-stream';
    return out;
  }

  function storeObject(b: Bucket, key: string, body: Buffer, etag: string, headers: Record<string, string>, type: StoredObject['type']): StoredObject {
    const o: StoredObject = { body, etag, headers, lastModified: new Date(), type, crc64: crc64ecma(body) };
    b.objects.set(key, o);
    return o;
  }

  function objectHeaders(o: StoredObject): Record<string, string | number> {
    return {
      ...o.headers,
      ETag: o.etag,
      'Last-Modified': o.lastModified.toUTCString(),
      'Accept-Ranges': 'bytes',
      'x-oss-object-type': o.type,
      'x-oss-storage-class': 'Standard',
      'x-oss-hash-crc64ecma': o.crc64,
    };
  }

  function getOrHeadObject(req: IncomingMessage, res: ServerResponse, o: StoredObject, head: boolean, q: Record<string, string>): void {
    const headers = objectHeaders(o);
    // GET ?response-content-type=... and friends override the stored headers in this response only.
    for (const [k, v] of Object.entries(q)) {
      if (k.startsWith('response-')) {
        const name = k.slice('response-'.length);
        for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name) delete headers[existing];
        headers[name] = v;
      }
    }
    const range = header(req, 'range');
    const m = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    // OSS ignores a malformed or unsatisfiable Range on GET and returns the whole object.
    if (m && (m[1] || m[2])) {
      const size = o.body.length;
      const start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
      const end = m[1] ? (m[2] ? Math.min(Number(m[2]), size - 1) : size - 1) : size - 1;
      if (start < size && start <= end) {
        const part = o.body.subarray(start, end + 1);
        const h = { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` };
        if (head) send(res, 206, { ...h, 'Content-Length': part.length });
        else send(res, 206, h, part);
        return;
      }
    }
    // Node drops the body of a HEAD response but keeps Content-Length, as OSS sends it.
    if (head) {
      res.writeHead(200, { Server: 'AliyunOSS', Date: new Date().toUTCString(), 'x-oss-request-id': requestId(), ...headers, 'Content-Length': o.body.length });
      res.end();
    } else send(res, 200, headers, o.body);
  }

  function listObjects(res: ServerResponse, bucketName: string, b: Bucket, q: Record<string, string>): void {
    const v2 = q['list-type'] === '2';
    const prefix = q.prefix ?? '';
    const delimiter = q.delimiter ?? '';
    const maxKeysRaw = q['max-keys'] ?? '100';
    const maxKeys = Number(maxKeysRaw);
    if (!/^\d+$/.test(maxKeysRaw) || maxKeys > 1000) {
      throw new OssError(400, 'InvalidArgument', 'max-keys should be an integer between 0 and 1000.', { ArgumentName: 'max-keys', ArgumentValue: maxKeysRaw });
    }
    const urlEncode = q['encoding-type'] === 'url';
    if (q['encoding-type'] !== undefined && !urlEncode) {
      throw new OssError(400, 'InvalidArgument', 'The encoding-type is invalid.', { ArgumentName: 'encoding-type' });
    }
    const enc = (s: string) => (urlEncode ? encodeURIComponent(s) : s);
    let marker: string;
    if (v2 && q['continuation-token'] !== undefined) {
      // Opaque to clients; here the last key or common prefix already returned.
      marker = Buffer.from(q['continuation-token'], 'base64url').toString('utf8');
    } else {
      marker = (v2 ? q['start-after'] : q.marker) ?? '';
    }
    const keys = [...b.objects.keys()].filter((k) => k.startsWith(prefix) && compareBytes(k, marker) > 0).sort(compareBytes);
    const contents: string[] = [];
    const prefixes: string[] = [];
    let last = '';
    let truncated = false;
    for (const k of keys) {
      let cp: string | null = null;
      if (delimiter) {
        const i = k.indexOf(delimiter, prefix.length);
        if (i !== -1) cp = k.slice(0, i + delimiter.length);
      }
      // Keys under a common prefix already returned (or the marker itself) are rolled up into it.
      if (cp !== null && (cp === last || cp === marker)) continue;
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      if (cp !== null) {
        prefixes.push(cp);
        last = cp;
      } else {
        const o = b.objects.get(k)!;
        contents.push(
          `<Contents>${el('Key', enc(k))}${el('LastModified', o.lastModified.toISOString())}${el('ETag', o.etag)}${el('Type', o.type)}${el('Size', o.body.length)}${el('StorageClass', 'Standard')}${
            q['fetch-owner'] === 'true' || !v2 ? `<Owner>${el('ID', options.accessKeyId)}${el('DisplayName', options.accessKeyId)}</Owner>` : ''
          }</Contents>`,
        );
        last = k;
      }
    }
    let inner = `${el('Name', bucketName)}${el('Prefix', enc(prefix))}`;
    if (v2) {
      if (q['start-after'] !== undefined) inner += el('StartAfter', enc(q['start-after']));
      if (q['continuation-token'] !== undefined) inner += el('ContinuationToken', q['continuation-token']);
    } else {
      inner += el('Marker', enc(q.marker ?? ''));
    }
    inner += `${el('MaxKeys', maxKeys)}${el('Delimiter', enc(delimiter))}`;
    if (urlEncode) inner += el('EncodingType', 'url');
    inner += el('IsTruncated', String(truncated));
    if (truncated) inner += v2 ? el('NextContinuationToken', Buffer.from(last, 'utf8').toString('base64url')) : el('NextMarker', enc(last));
    if (v2) inner += el('KeyCount', contents.length + prefixes.length);
    inner += contents.join('') + prefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('');
    send(res, 200, {}, xmlDoc('ListBucketResult', inner));
  }

  function deleteMultiple(req: IncomingMessage, res: ServerResponse, b: Bucket, body: Buffer): void {
    if (header(req, 'content-md5') === undefined) {
      throw new OssError(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5.', {}, '0016-00000606');
    }
    checkContentMd5(req, body);
    const xml = requireRoot(body, 'Delete');
    const quiet = xmlText(xml, 'Quiet') === 'true';
    const keys = xmlElements(xml, 'Object').map((o) => xmlText(o, 'Key') ?? '');
    if (keys.length > 1000) throw new OssError(400, 'MalformedXML', 'Too many objects: at most 1000 per request.');
    for (const k of keys) b.objects.delete(k);
    // Deleting a missing key counts as deleted, as on OSS.
    const inner = quiet ? '' : keys.map((k) => `<Deleted>${el('Key', k)}</Deleted>`).join('');
    send(res, 200, {}, xmlDoc('DeleteResult', inner));
  }

  function putWebsite(res: ServerResponse, b: Bucket, body: Buffer): void {
    const xml = requireRoot(body, 'WebsiteConfiguration');
    const index = xmlElements(xml, 'IndexDocument')[0];
    const suffix = index === undefined ? undefined : xmlText(index, 'Suffix');
    if (!suffix) throw new OssError(400, 'MalformedXML', 'IndexDocument Suffix is required.');
    const error = xmlElements(xml, 'ErrorDocument')[0];
    const cfg: WebsiteConfig = { suffix };
    const sub = index === undefined ? undefined : xmlText(index, 'SupportSubDir');
    const type = index === undefined ? undefined : xmlText(index, 'Type');
    if (sub !== undefined) cfg.supportSubDir = sub;
    if (type !== undefined) cfg.type = type;
    // As OSS validates them (EC 0019-00000002 for HttpStatus): SupportSubDir is a boolean, Type
    // 0, 1 or 2, HttpStatus an integer; an ErrorDocument needs its Key.
    if (sub !== undefined && sub !== 'true' && sub !== 'false') {
      throw new OssError(400, 'InvalidArgument', 'SupportSubDir is Invalid', { ArgumentName: 'SupportSubDir', ArgumentValue: sub });
    }
    if (type !== undefined && !['0', '1', '2'].includes(type)) {
      throw new OssError(400, 'InvalidArgument', 'Type is Invalid', { ArgumentName: 'Type', ArgumentValue: type });
    }
    if (error !== undefined) {
      const k = xmlText(error, 'Key');
      const s = xmlText(error, 'HttpStatus');
      if (!k) throw new OssError(400, 'MalformedXML', 'ErrorDocument Key is required.');
      if (s !== undefined && !/^[1-9][0-9]{2}$/.test(s)) {
        throw new OssError(400, 'InvalidArgument', 'HttpStatus is Invalid', { ArgumentName: 'HttpStatus', ArgumentValue: s }, '0019-00000002');
      }
      cfg.errorKey = k;
      if (s !== undefined) cfg.errorStatus = s;
    }
    const rules = xmlElements(xml, 'RoutingRules')[0];
    if (rules !== undefined) cfg.routingRulesXml = rules;
    b.website = cfg;
    send(res, 200, {});
  }

  function getWebsite(res: ServerResponse, b: Bucket, bucketName: string): void {
    const w = b.website;
    if (!w) throw new OssError(404, 'NoSuchWebsiteConfiguration', 'The specified bucket does not have a website configuration.', { BucketName: bucketName });
    let index = el('Suffix', w.suffix);
    if (w.supportSubDir !== undefined) index += el('SupportSubDir', w.supportSubDir);
    if (w.type !== undefined) index += el('Type', w.type);
    let inner = `<IndexDocument>${index}</IndexDocument>`;
    if (w.errorKey !== undefined || w.errorStatus !== undefined) {
      inner += `<ErrorDocument>${w.errorKey !== undefined ? el('Key', w.errorKey) : ''}${w.errorStatus !== undefined ? el('HttpStatus', w.errorStatus) : ''}</ErrorDocument>`;
    }
    if (w.routingRulesXml !== undefined) inner += `<RoutingRules>${w.routingRulesXml}</RoutingRules>`;
    send(res, 200, {}, xmlDoc('WebsiteConfiguration', inner));
  }

  function getUpload(bucket: string, key: string, id: string): Upload {
    const u = uploads.get(id);
    if (!u || u.bucket !== bucket || u.key !== key) {
      throw new OssError(
        404,
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { UploadId: id },
      );
    }
    return u;
  }

  function completeUpload(res: ServerResponse, p: ParsedRequest, b: Bucket, id: string, body: Buffer): void {
    const u = getUpload(p.bucket!, p.key, id);
    const xml = requireRoot(body, 'CompleteMultipartUpload');
    const listed = xmlElements(xml, 'Part').map((x) => ({ number: Number(xmlText(x, 'PartNumber')), etag: xmlText(x, 'ETag') ?? '' }));
    if (listed.length === 0)
      throw new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    const chosen = listed.map((l, i) => {
      if (i > 0 && l.number <= listed[i - 1]!.number) {
        throw new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts list must specified in order by part number.');
      }
      const part = u.parts.get(l.number);
      if (!part || part.etag.toUpperCase() !== l.etag.toUpperCase()) {
        throw new OssError(
          400,
          'InvalidPart',
          "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
          { PartNumber: String(l.number), ETag: l.etag },
        );
      }
      if (i < listed.length - 1 && part.body.length < MIN_PART_SIZE) {
        throw new OssError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.', { PartNumber: String(l.number) });
      }
      return part;
    });
    const etag = `"${md5(Buffer.concat(chosen.map((c) => c.md5)))
      .toString('hex')
      .toUpperCase()}-${chosen.length}"`;
    const o = storeObject(b, p.key, Buffer.concat(chosen.map((c) => c.body)), etag, u.headers, 'Multipart');
    uploads.delete(id);
    const inner = `${el('Location', `http://${p.bucket}.${p.hostId}/${p.key}`)}${el('Bucket', p.bucket!)}${el('Key', p.key)}${el('ETag', etag)}`;
    // ali-oss reads the final ETag from the response header, not the body.
    send(res, 200, { ETag: etag, 'x-oss-hash-crc64ecma': o.crc64 }, xmlDoc('CompleteMultipartUploadResult', inner));
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, p: ParsedRequest, body: Buffer): Promise<void> {
    if (options.addressing === 'virtual-host' && p.pathStyle && p.bucket !== null) {
      throw new OssError(403, 'SecondLevelDomainForbidden', 'Please use virtual hosted style to access.');
    }
    authenticate(req, p, keys);
    const b = getBucket(p.bucket);
    const bucket = p.bucket!;
    const q = p.query;
    const m = p.method;
    const has = (k: string) => Object.hasOwn(q, k);

    if (p.key === '') {
      if (has('website')) {
        if (m === 'PUT') return putWebsite(res, b, body);
        if (m === 'GET') return getWebsite(res, b, bucket);
        if (m === 'DELETE') {
          b.website = null;
          return send(res, 204, {});
        }
      } else if (has('delete') && m === 'POST') {
        return deleteMultiple(req, res, b, body);
      } else if (m === 'GET' && ![...Object.keys(q)].some((k) => SIGNED_SUBRESOURCES.has(k) && k !== 'continuation-token')) {
        return listObjects(res, bucket, b, q);
      }
      throw new OssError(501, 'NotImplemented', `This test server does not implement ${m} on this bucket sub-resource.`);
    }

    if (has('uploads') && m === 'POST') {
      const id = randomBytes(16).toString('hex').toUpperCase();
      uploads.set(id, { bucket, key: p.key, headers: replayedHeaders(req), parts: new Map() });
      return send(res, 200, {}, xmlDoc('InitiateMultipartUploadResult', `${el('Bucket', bucket)}${el('Key', p.key)}${el('UploadId', id)}`));
    }
    if (has('uploadId')) {
      const id = q.uploadId!;
      if (m === 'PUT' && has('partNumber')) {
        const n = Number(q.partNumber);
        if (!Number.isInteger(n) || n < 1 || n > 10000) {
          throw new OssError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.', {
            ArgumentName: 'partNumber',
            ArgumentValue: q.partNumber ?? '',
          });
        }
        const u = getUpload(bucket, p.key, id);
        checkContentMd5(req, body);
        const digest = md5(body);
        const etag = quotedEtag(digest);
        u.parts.set(n, { body, etag, md5: digest });
        return send(res, 200, { ETag: etag, 'Content-MD5': digest.toString('base64'), 'x-oss-hash-crc64ecma': crc64ecma(body) });
      }
      if (m === 'POST') return completeUpload(res, p, b, id, body);
      if (m === 'DELETE') {
        getUpload(bucket, p.key, id);
        uploads.delete(id);
        return send(res, 204, {});
      }
    }
    if (Object.keys(q).some((k) => SIGNED_SUBRESOURCES.has(k) && !k.startsWith('response-'))) {
      throw new OssError(501, 'NotImplemented', `This test server does not implement ${m} on this object sub-resource.`);
    }
    switch (m) {
      case 'PUT': {
        checkContentMd5(req, body);
        const digest = md5(body);
        const o = storeObject(b, p.key, body, quotedEtag(digest), replayedHeaders(req), 'Normal');
        return send(res, 200, { ETag: o.etag, 'Content-MD5': digest.toString('base64'), 'x-oss-hash-crc64ecma': o.crc64 });
      }
      case 'GET':
      case 'HEAD':
        return getOrHeadObject(req, res, getObject(b, p.key), m === 'HEAD', q);
      case 'DELETE':
        // OSS answers 204 whether or not the key existed.
        b.objects.delete(p.key);
        return send(res, 204, {});
      default:
        throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const p = parseRequest(req, options.addressing ?? 'both');
    const entry: LoggedRequest = {
      method: p.method,
      bucket: p.bucket,
      key: p.key,
      query: p.query,
      time: Date.now(),
      faulted: false,
      status: null,
      pathStyle: p.pathStyle,
    };
    requests.push(entry);
    // Read the whole body first so that faults hit a complete request, never a half-written one.
    const body = await readBody(req);
    if (faultState.latencyMs > 0) await sleep(faultState.latencyMs);
    if (faultState.resetIn === 0) {
      faultState.resetIn = -1;
      entry.faulted = true;
      req.socket.destroy();
      return;
    }
    if (faultState.resetIn > 0) faultState.resetIn--;
    res.on('finish', () => {
      entry.status = res.statusCode;
      options.onRequestDone?.(entry);
    });
    if (faultState.failCount > 0) {
      faultState.failCount--;
      entry.faulted = true;
      const s = faultState.failStatus;
      return sendError(
        res,
        p,
        s === 503
          ? new OssError(s, 'ServiceUnavailable', 'Please reduce your request rate.')
          : new OssError(s, 'InternalError', 'We encountered an internal error. Please try again.'),
      );
    }
    try {
      await handleApi(req, res, p, body);
    } catch (e) {
      if (e instanceof OssError) sendError(res, p, e);
      else sendError(res, p, new OssError(500, 'InternalError', e instanceof Error ? e.message : String(e)));
    }
  }

  // Static website hosting as OSS does it: `dir/` serves dir/<index> (SupportSubDir true, else the
  // root index); `dir` without a slash redirects to `dir/` (Type 0) or serves its index (Type 2)
  // when dir/<index> exists; a missing key answers the error document with its status, else 404.
  function websiteKey(b: Bucket, key: string): { key: string | null; status: number; location?: string } {
    const w = b.website!;
    if (key === '' || key.endsWith('/')) {
      const index = (w.supportSubDir === 'true' ? key : '') + w.suffix;
      if (b.objects.has(index)) return { key: index, status: 200 };
    } else if (b.objects.has(key)) {
      return { key, status: 200 };
    } else if (w.supportSubDir === 'true' && b.objects.has(`${key}/${w.suffix}`)) {
      if ((w.type ?? '0') === '0') return { key: null, status: 302, location: `/${encodeURI(key)}/` };
      if (w.type === '2') return { key: `${key}/${w.suffix}`, status: 200 };
    }
    if (w.errorKey !== undefined && b.objects.has(w.errorKey)) return { key: w.errorKey, status: Number(w.errorStatus ?? 404) };
    return { key: null, status: 404 };
  }

  const websites = new Map<string, Promise<OssWebsiteEndpoint & { close(): Promise<void> }>>();
  function websiteEndpoint(bucketName: string): Promise<OssWebsiteEndpoint & { close(): Promise<void> }> {
    const known = websites.get(bucketName);
    if (known) return known;
    const log: OssWebsiteEndpoint['requests'] = [];
    const started = listenOnLoopback(async (req, res) => {
      const raw = (req.url ?? '/').split('?')[0]!;
      const p: ParsedRequest = { method: req.method ?? 'GET', bucket: bucketName, key: '', query: {}, hostId: header(req, 'host') ?? '', pathStyle: false };
      const entry = { method: p.method, path: raw, key: null as string | null, status: 0 };
      log.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      try {
        const b = getBucket(bucketName);
        if (p.method !== 'GET' && p.method !== 'HEAD')
          throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
        if (!b.website)
          throw new OssError(404, 'NoSuchWebsiteConfiguration', 'The specified bucket does not have a website configuration.', { BucketName: bucketName });
        let key: string;
        try {
          key = decodeURIComponent(raw).replace(/^\//, '');
        } catch {
          throw new OssError(400, 'InvalidURI', 'Could not parse the specified URI.');
        }
        const found = websiteKey(b, key);
        entry.key = found.key;
        if (found.location !== undefined) return send(res, found.status, { Location: found.location });
        if (found.key === null) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
        const o = b.objects.get(found.key)!;
        if (p.method === 'HEAD') {
          res.writeHead(found.status, { Server: 'AliyunOSS', ...objectHeaders(o), 'Content-Length': o.body.length });
          return void res.end();
        }
        send(res, found.status, objectHeaders(o), o.body);
      } catch (e) {
        sendError(res, p, e instanceof OssError ? e : new OssError(500, 'InternalError', String(e)));
      }
    }).then((l) => ({ url: l.url, requests: log, close: l.close }));
    websites.set(bucketName, started);
    return started;
  }

  const listener = await listenOnLoopback(handle);
  const port = listener.port;

  const faults: OssFaults = {
    failNext(n, status = 503) {
      faultState.failCount = n;
      faultState.failStatus = status;
    },
    resetAfter(n) {
      faultState.resetIn = n;
    },
    latency(ms) {
      faultState.latencyMs = ms;
    },
    clearFaults() {
      Object.assign(faultState, { failCount: 0, failStatus: 503, resetIn: -1, latencyMs: 0 });
    },
  };

  return {
    endpoint: listener.url,
    port,
    requests,
    objects(bucket) {
      const b = buckets.get(bucket);
      if (!b) throw new Error(`oss-server: no bucket ${bucket}`);
      return b.objects;
    },
    website(bucket) {
      const b = buckets.get(bucket);
      if (!b) throw new Error(`oss-server: no bucket ${bucket}`);
      return b.website;
    },
    faults,
    ...faults,
    websiteEndpoint: (bucket) => websiteEndpoint(bucket).then(({ url, requests: log }) => ({ url, requests: log })),
    async close() {
      await Promise.all([...websites.values()].map(async (w) => (await w).close()));
      await listener.close();
    },
  };
}
