import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import {
  aliyunCdnRefresher,
  CdnApiError,
  cdnCredentialsFromEnv,
  cdnError,
  isRetryableCdnError,
  percentEncode,
  refreshUrls,
  rpcSignature,
  rpcStringToSign,
  rpcTimestamp,
  signedRpcParams,
} from '../../../src/oss/cdn.js';
import { startCdnServer, type CdnServer } from '../../support/cdn-server.js';

const quietCtx = () => {
  const lines: string[] = [];
  return { ctx: createCtx({ logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
};
const html = (...keys: string[]) => keys.map((key) => ({ key, html: /\.html?$/.test(key) }));

describe('which URLs a publish refreshes', () => {
  test('each changed page, and for an index.html also its directory; the root index.html also /', () => {
    expect(refreshUrls('www.example.com', '', html('index.html', 'docs/index.html', 'about.html', 'assets/app.3f2a9c1e.js'))).toEqual([
      'https://www.example.com/',
      'https://www.example.com/about.html',
      'https://www.example.com/docs/',
      'https://www.example.com/docs/index.html',
      'https://www.example.com/index.html',
    ]);
  });

  test('under the prefix, previews included; names are percent-encoded as browsers request them', () => {
    expect(refreshUrls('cdn.example.com', 'site/previews/mr-7/', html('index.html', 'a b/ü.html'))).toEqual([
      'https://cdn.example.com/site/previews/mr-7/',
      'https://cdn.example.com/site/previews/mr-7/a%20b/%C3%BC.html',
      'https://cdn.example.com/site/previews/mr-7/index.html',
    ]);
  });

  test('nothing for assets alone; the configured index name decides what is a directory index', () => {
    expect(refreshUrls('www.example.com', '', html('assets/app.3f2a9c1e.js', 'favicon.ico'))).toEqual([]);
    expect(refreshUrls('www.example.com', '', html('home.htm', 'index.html'), 'home.htm')).toEqual([
      'https://www.example.com/',
      'https://www.example.com/home.htm',
      'https://www.example.com/index.html',
    ]);
  });
});

describe('the RPC signature (v1, HMAC-SHA1)', () => {
  // The worked example of Aliyun's "RPC signature" page (DescribeRegions, testid / testsecret).
  const documented = {
    AccessKeyId: 'testid',
    Action: 'DescribeRegions',
    Format: 'XML',
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
    SignatureVersion: '1.0',
    Timestamp: '2016-02-23T12:46:24Z',
    Version: '2014-05-26',
  };

  test('matches the documented example: string to sign and signature', () => {
    expect(rpcStringToSign('GET', documented)).toBe(
      'GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26',
    );
    expect(rpcSignature('GET', documented, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
    // The same request sent as POST (as Gantry sends it) signs the verb too.
    expect(rpcSignature('POST', documented, 'testsecret')).toBe('MxbnVAM4w6sft9xjVpe/GCKueuk=');
    // A Signature already present is not part of what is signed.
    expect(rpcSignature('GET', { ...documented, Signature: 'x' }, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  test('percent-encoding is RFC 3986: space %20, * %2A, ~ kept, newline %0A, UTF-8 bytes', () => {
    expect(percentEncode("a b*c~d!'()")).toBe('a%20b%2Ac~d%21%27%28%29');
    expect(percentEncode('https://x.com/a\nhttps://x.com/')).toBe('https%3A%2F%2Fx.com%2Fa%0Ahttps%3A%2F%2Fx.com%2F');
    expect(percentEncode('ü')).toBe('%C3%BC');
  });

  test('common parameters: version 2018-05-10, JSON, UTC timestamp without milliseconds, a fresh nonce each time', () => {
    const creds = { accessKeyId: 'id', accessKeySecret: 'secret' };
    const a = signedRpcParams('POST', 'RefreshObjectCaches', { ObjectPath: 'https://x.com/', ObjectType: 'File' }, creds, {
      now: new Date('2026-01-02T03:04:05.678Z'),
    });
    const b = signedRpcParams('POST', 'RefreshObjectCaches', { ObjectPath: 'https://x.com/', ObjectType: 'File' }, creds);
    expect(a).toMatchObject({
      Action: 'RefreshObjectCaches',
      Version: '2018-05-10',
      Format: 'JSON',
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      Timestamp: '2026-01-02T03:04:05Z',
    });
    expect(a.SignatureNonce).not.toBe(b.SignatureNonce);
    expect(a.Signature).toBe(rpcSignature('POST', a, 'secret'));
    expect(rpcTimestamp(new Date(0))).toBe('1970-01-01T00:00:00Z');
  });
});

describe('the Aliyun CDN refresher against the CDN test server', () => {
  const keyId = 'LTAI5tCdnTestKeyId';
  const secret = 'cdn-test-secret-0123456789abcdef';
  let cdn: CdnServer;
  beforeAll(async () => {
    cdn = await startCdnServer({ accessKeyId: keyId, accessKeySecret: secret });
  });
  afterAll(() => cdn.close());
  beforeEach(() => cdn.clearFaults());
  const refresher = (over: Partial<Parameters<typeof aliyunCdnRefresher>[1]> = {}) => {
    const q = quietCtx();
    return {
      ...q,
      r: aliyunCdnRefresher(q.ctx, { endpoint: cdn.endpoint, accessKeyId: keyId, accessKeySecret: secret, retries: 3, minRetryDelayMs: 10, ...over }),
    };
  };
  const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://www.example.com/p${i}.html`);

  test('one call for a few URLs: ObjectType File, newline-separated, the task id back', async () => {
    const before = cdn.calls.length;
    const { taskIds } = await refresher().r.refresh(['https://www.example.com/', 'https://www.example.com/index.html']);
    const calls = cdn.calls.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ objectType: 'File', paths: ['https://www.example.com/', 'https://www.example.com/index.html'] });
    expect(taskIds).toEqual([calls[0]!.taskId]);
  });

  test('above 1,000 URLs the refresh is split into calls of at most 1,000', async () => {
    const before = cdn.calls.length;
    const { taskIds } = await refresher().r.refresh(urls(2345));
    const calls = cdn.calls.slice(before);
    expect(calls.map((c) => c.paths.length)).toEqual([1000, 1000, 345]);
    expect(calls.flatMap((c) => c.paths)).toEqual(urls(2345));
    expect(taskIds).toHaveLength(3);
  });

  test('the server enforces the limit: 1,001 URLs in one call is SingleRequest.OverLimit, not retried', async () => {
    const before = cdn.requests.length;
    await expect(refresher({ urlsPerCall: 1001 }).r.refresh(urls(1001))).rejects.toMatchObject({ code: 'SingleRequest.OverLimit', status: 400 });
    expect(cdn.requests.length - before).toBe(1);
  });

  test('a 503 is retried with a new nonce and signature; so is throttling', async () => {
    cdn.failNext(1, 503);
    const before = cdn.requests.length;
    const { r, lines } = refresher();
    await r.refresh(['https://www.example.com/']);
    const sent = cdn.requests.slice(before);
    expect(sent.map((q) => q.status)).toEqual([503, 200]);
    expect(sent[0]!.params.SignatureNonce).not.toBe(sent[1]!.params.SignatureNonce);
    expect(lines.join('')).toMatch(/refresh 1 URL: ServiceUnavailable: [^\n]*; retrying \(3 left\)/);
    cdn.failNext(2, 'throttling');
    const mark = cdn.requests.length;
    await refresher().r.refresh(['https://www.example.com/']);
    expect(cdn.requests.slice(mark).map((q) => q.code)).toEqual(['Throttling.User', 'Throttling.User', null]);
  });

  test('retries are bounded: after them the last error stands', async () => {
    cdn.failNext(10, 503);
    const before = cdn.requests.length;
    await expect(refresher({ retries: 2 }).r.refresh(['https://www.example.com/'])).rejects.toMatchObject({ code: 'ServiceUnavailable', status: 503 });
    expect(cdn.requests.length - before).toBe(3);
  });

  test('a wrong secret or unknown key is refused at once, and reported as a credentials problem', async () => {
    const before = cdn.requests.length;
    const wrong = await refresher({ accessKeySecret: 'wrong-secret-value' })
      .r.refresh(['https://www.example.com/'])
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 'SignatureDoesNotMatch', status: 400 });
    expect(cdn.requests.length - before).toBe(1);
    const unknown = await refresher({ accessKeyId: 'LTAI5tNobody' })
      .r.refresh(['https://www.example.com/'])
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'InvalidAccessKeyId.NotFound', status: 404 });
    const e = cdnError(wrong, 'acme-web/site/', ['https://www.example.com/']);
    expect(e.code).toBe('E_CDN_ACCESS');
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain('The files ARE published to acme-web/site/; only the CDN cache refresh failed');
    expect(JSON.stringify({ m: e.message, d: e.details, f: e.fix })).not.toContain('wrong-secret-value');
  });

  test('other failures are E_CDN_REFRESH, saying the files are published', () => {
    const e = cdnError(new CdnApiError(503, 'ServiceUnavailable', 'down', 'REQ-1'), 'b/', ['https://x.com/']);
    expect(e.code).toBe('E_CDN_REFRESH');
    expect(e.message).toMatch(/files ARE published/);
    expect(e.details[0]).toContain('REQ-1');
    expect(cdnError(new CdnApiError(400, 'QuotaExceeded.Refresh', 'used up'), 'b/', []).message).toContain('quota');
    expect(cdnError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 'b/', []).message).toContain('did not answer');
  });

  test('what is retried: 5xx, Throttling*, resets and timeouts; not signature or parameter errors', () => {
    expect(isRetryableCdnError(new CdnApiError(500, 'InternalError', ''))).toBe(true);
    expect(isRetryableCdnError(new CdnApiError(400, 'Throttling.User', ''))).toBe(true);
    expect(isRetryableCdnError(new CdnApiError(400, 'SignatureDoesNotMatch', ''))).toBe(false);
    expect(isRetryableCdnError(new CdnApiError(400, 'InvalidObjectPath.Malformed', ''))).toBe(false);
    expect(isRetryableCdnError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }))).toBe(true);
    expect(isRetryableCdnError(Object.assign(new Error('aborted'), { name: 'TimeoutError' }))).toBe(true);
    expect(isRetryableCdnError(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe(false);
  });
});

describe('the CDN test server is faithful where a client could go wrong', () => {
  const keyId = 'LTAI5tCdnTestKeyId';
  const secret = 'cdn-test-secret-0123456789abcdef';
  let cdn: CdnServer;
  beforeAll(async () => {
    cdn = await startCdnServer({ accessKeyId: keyId, accessKeySecret: secret });
  });
  afterAll(() => cdn.close());
  const post = async (params: Record<string, string>) => {
    const body = Object.entries(params)
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join('&');
    const res = await fetch(`${cdn.endpoint}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const creds = { accessKeyId: keyId, accessKeySecret: secret };
  const refresh = (extra: Record<string, string> = {}, options: Parameters<typeof signedRpcParams>[4] = {}) =>
    signedRpcParams('POST', 'RefreshObjectCaches', { ObjectPath: 'https://www.example.com/', ObjectType: 'File', ...extra }, creds, options);

  test('a replayed nonce is SignatureNonceUsed', async () => {
    const params = refresh();
    expect((await post(params)).status).toBe(200);
    expect(await post(params)).toMatchObject({ status: 400, body: { Code: 'SignatureNonceUsed' } });
  });

  test('a timestamp 20 minutes off is InvalidTimeStamp.Expired; a malformed one InvalidTimeStamp.Format', async () => {
    expect(await post(refresh({}, { now: new Date(Date.now() - 20 * 60 * 1000) }))).toMatchObject({ status: 400, body: { Code: 'InvalidTimeStamp.Expired' } });
    const bad = { ...refresh(), Timestamp: '2026-01-02 03:04:05' };
    expect(await post(bad)).toMatchObject({ status: 400, body: { Code: 'InvalidTimeStamp.Format' } });
  });

  test('a tampered parameter breaks the signature; the answer echoes the string to sign, never the secret', async () => {
    const r = await post({ ...refresh(), ObjectPath: 'https://evil.example.com/' });
    expect(r).toMatchObject({ status: 400, body: { Code: 'SignatureDoesNotMatch' } });
    expect(r.body.Message).toContain('server string to sign is:POST&%2F&');
    expect(r.body.Message).not.toContain(secret);
  });

  test('ObjectType must be File or Directory; paths must be URLs; the answer carries RequestId and RefreshTaskId', async () => {
    expect(await post(refresh({ ObjectType: 'Files' }))).toMatchObject({ status: 400, body: { Code: 'InvalidObjectType.Malformed' } });
    expect(await post(refresh({ ObjectPath: 'not a url' }))).toMatchObject({ status: 400, body: { Code: 'InvalidObjectPath.Malformed' } });
    const ok = await post(refresh({ ObjectPath: 'https://www.example.com/a.html\r\nwww.example.com/b.html' }));
    expect(ok.status).toBe(200);
    expect(ok.body.RequestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(ok.body.RefreshTaskId).toMatch(/^\d+$/);
    expect(cdn.calls[cdn.calls.length - 1]!.paths).toEqual(['https://www.example.com/a.html', 'www.example.com/b.html']);
  });
});

describe('CDN credentials', () => {
  const oss = { accessKeyId: 'oss-id', accessKeySecret: 'oss-secret' };
  test('the CDN pair when set, else the OSS pair; half a pair is an input error (exit 2)', () => {
    expect(cdnCredentialsFromEnv({}, oss)).toEqual(oss);
    expect(cdnCredentialsFromEnv({ GANTRY_CDN_ACCESS_KEY_ID: 'c', GANTRY_CDN_ACCESS_KEY_SECRET: 's' }, oss)).toEqual({
      accessKeyId: 'c',
      accessKeySecret: 's',
    });
    expect(() => cdnCredentialsFromEnv({ GANTRY_CDN_ACCESS_KEY_ID: 'c' }, oss)).toThrow(expect.objectContaining({ code: 'E_CDN_KEY_PARTIAL', exitCode: 2 }));
  });
});
