// The in-memory OSS server, driven by the real ali-oss client over loopback HTTP.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import OSS from 'ali-oss';
import { startOssServer, type OssServer } from '../support/oss-server.js';

const accessKeyId = 'LTAItestkeyid';
const accessKeySecret = 'test-secret-Zq9xVv3';
const bucket = 'gantry-test';

// Independent bitwise CRC-64/XZ (the ECMA-182 variant OSS reports), kept deliberately naive so it
// shares no code with the server's table-driven one. ali-oss 6 for Node ships no CRC-64 to compare with.
function referenceCrc64(data: Buffer): string {
  const poly = 0xc96c5795d7870f42n;
  const mask = 0xffffffffffffffffn;
  let crc = mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return (crc ^ mask).toString();
}

type ClientOptions = OSS.Options & { sldEnable?: boolean; agent?: http.Agent };

describe('OSS test server with the ali-oss client', () => {
  let server: OssServer;
  let client: OSS;
  const agents: http.Agent[] = [];

  // The options documented in oss-server.ts: an IP endpoint makes ali-oss use virtual-host style.
  const makeClient = (extra: Partial<ClientOptions> = {}) =>
    new OSS({ accessKeyId, accessKeySecret, bucket, endpoint: server.endpoint, ...extra } as ClientOptions);

  beforeEach(async () => {
    server = await startOssServer({ accessKeyId, accessKeySecret, buckets: [bucket, 'other-bucket'] });
    client = makeClient();
  });
  afterEach(async () => {
    await server.close();
  });
  afterAll(() => {
    for (const a of agents) a.destroy();
  });

  test('CRC-64 reference matches the published check value', () => {
    expect(referenceCrc64(Buffer.from('123456789'))).toBe(BigInt('0x995DC9BBDF1939FA').toString());
  });

  test('put/get/head/delete round trip keeps headers and meta; ETag is md5 and crc64 matches', async () => {
    const body = Buffer.from('hello gantry\n'.repeat(1000));
    const put = await client.put('dir/app.js', body, {
      headers: { 'Cache-Control': 'max-age=60', 'Content-Encoding': 'identity', 'Content-Type': 'application/javascript' },
      // @types/ali-oss wrongly requires uid/pid in meta; any string map is valid.
      meta: { build: '42', sha: 'abc123' },
    } as unknown as OSS.PutObjectOptions);
    const md5Hex = createHash('md5').update(body).digest('hex').toUpperCase();
    expect(put.res.status).toBe(200);
    expect((put.res.headers as Record<string, string>).etag).toBe(`"${md5Hex}"`);

    const got = await client.get('dir/app.js');
    const h = got.res.headers as Record<string, string>;
    expect(Buffer.compare(got.content as Buffer, body)).toBe(0);
    expect(h['content-type']).toBe('application/javascript');
    expect(h['cache-control']).toBe('max-age=60');
    expect(h['content-encoding']).toBe('identity');
    expect(h['x-oss-meta-build']).toBe('42');
    expect(h.etag).toBe(`"${md5Hex}"`);
    expect(h['x-oss-hash-crc64ecma']).toBe(referenceCrc64(body));

    const head = await client.head('dir/app.js');
    expect(head.status).toBe(200);
    expect(head.meta).toEqual({ build: '42', sha: 'abc123' });
    expect((head.res.headers as Record<string, string>)['content-length']).toBe(String(body.length));

    await client.delete('dir/app.js');
    await expect(client.get('dir/app.js')).rejects.toMatchObject({ code: 'NoSuchKey', status: 404 });
    await expect(client.head('dir/app.js')).rejects.toMatchObject({ code: 'NoSuchKey', status: 404 });
    // Deleting a missing key is still a 204.
    const again = await client.delete('dir/app.js');
    expect(again.res.status).toBe(204);
  });

  test('a Content-MD5 that does not match the body is InvalidDigest', async () => {
    await expect(
      client.put('x.txt', Buffer.from('abc'), { headers: { 'Content-MD5': createHash('md5').update('other').digest('base64') } }),
    ).rejects.toMatchObject({ code: 'InvalidDigest', status: 400 });
    expect(server.objects(bucket).has('x.txt')).toBe(false);
  });

  test('missing bucket is NoSuchBucket', async () => {
    await expect(makeClient({ bucket: 'no-such-bucket' }).put('a', Buffer.from('x'))).rejects.toMatchObject({ code: 'NoSuchBucket', status: 404 });
  });

  test('listV2 pages through 1,050 objects, 100 at a time, returning every key once', async () => {
    const objects = server.objects(bucket);
    const seeded = Array.from({ length: 1050 }, (_, i) => `assets/${String(i).padStart(4, '0')}.txt`);
    // Seed through the API for a few and directly for the rest (the map is the server's store).
    for (const k of seeded.slice(0, 5)) await client.put(k, Buffer.from(k));
    for (const k of seeded.slice(5)) {
      const body = Buffer.from(k);
      objects.set(k, {
        body,
        etag: `"${createHash('md5').update(body).digest('hex').toUpperCase()}"`,
        headers: { 'content-type': 'text/plain' },
        lastModified: new Date(),
        type: 'Normal',
        crc64: referenceCrc64(body),
      });
    }
    await client.put('other/outside.txt', Buffer.from('x'));

    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string | number> = { prefix: 'assets/', 'max-keys': 100 };
      if (token) query['continuation-token'] = token;
      const page = await client.listV2(query as unknown as OSS.ListV2ObjectsQuery, {});
      pages++;
      expect(page.keyCount).toBe(page.objects.length);
      expect(page.objects.length).toBeLessThanOrEqual(100);
      seen.push(...page.objects.map((o) => o.name));
      expect(page.objects[0]?.size).toBeGreaterThan(0);
      token = page.isTruncated ? page.nextContinuationToken : null;
    } while (token);
    expect(pages).toBe(11);
    expect(seen).toEqual(seeded);

    const dirs = await client.listV2({ delimiter: '/', 'max-keys': '10' } as unknown as OSS.ListV2ObjectsQuery, {});
    expect(dirs.prefixes).toEqual(['assets/', 'other/']);
    expect(dirs.objects).toEqual([]);

    const after = await client.listV2({ prefix: 'assets/', 'start-after': 'assets/1047.txt' } as unknown as OSS.ListV2ObjectsQuery, {});
    expect(after.objects.map((o) => o.name)).toEqual(['assets/1048.txt', 'assets/1049.txt']);
  });

  test('deleteMulti removes the named keys', async () => {
    for (const k of ['a.txt', 'b.txt', 'c & d.txt', 'keep.txt']) await client.put(k, Buffer.from(k));
    const r = await client.deleteMulti(['a.txt', 'b.txt', 'c & d.txt', 'never-existed']);
    expect((r.deleted ?? []).map((d) => (d as unknown as { Key: string }).Key).sort()).toEqual(['a.txt', 'b.txt', 'c & d.txt', 'never-existed']);
    expect([...server.objects(bucket).keys()]).toEqual(['keep.txt']);
    const quiet = await client.deleteMulti(['keep.txt'], { quiet: true });
    expect(quiet.deleted).toEqual([]);
    expect(server.objects(bucket).size).toBe(0);
  });

  test('multipartUpload of 3 MB in 1 MB parts reassembles the body with a multipart ETag', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 10)) & 0xff;
    const r = await client.multipartUpload('big.bin', body, { partSize: 1024 * 1024, mime: 'application/octet-stream' });
    const etag = (r as unknown as { etag: string }).etag;
    const partMd5s = [0, 1, 2].map((i) =>
      createHash('md5')
        .update(body.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024))
        .digest(),
    );
    const expected = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex').toUpperCase()}-3"`;
    expect(etag).toBe(expected);
    const stored = server.objects(bucket).get('big.bin')!;
    expect(Buffer.compare(stored.body, body)).toBe(0);
    const got = await client.get('big.bin');
    expect(Buffer.compare(got.content as Buffer, body)).toBe(0);
    expect((got.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(referenceCrc64(body));
    expect((got.res.headers as Record<string, string>)['x-oss-object-type']).toBe('Multipart');
    const kinds = server.requests.map((q) => `${q.method} ${Object.keys(q.query).sort().join(',')}`);
    expect(kinds).toEqual(['POST uploads', 'PUT partNumber,uploadId', 'PUT partNumber,uploadId', 'PUT partNumber,uploadId', 'POST uploadId', 'GET ']);
  });

  test('abortMultipartUpload discards the upload', async () => {
    const init = await client.initMultipartUpload('gone.bin');
    await client.abortMultipartUpload('gone.bin', init.uploadId);
    await expect(client.abortMultipartUpload('gone.bin', init.uploadId)).rejects.toMatchObject({ code: 'NoSuchUpload', status: 404 });
    expect(server.objects(bucket).has('gone.bin')).toBe(false);
  });

  test('putBucketWebsite / getBucketWebsite round trip; unset is NoSuchWebsiteConfiguration', async () => {
    await expect(client.getBucketWebsite(bucket)).rejects.toMatchObject({ code: 'NoSuchWebsiteConfiguration', status: 404 });
    await client.putBucketWebsite(bucket, { index: 'index.html', error: 'error.html' });
    const w = await client.getBucketWebsite(bucket);
    expect(w).toMatchObject({ index: 'index.html', error: 'error.html' });
    // Other buckets are untouched.
    await expect(client.getBucketWebsite('other-bucket')).rejects.toMatchObject({ code: 'NoSuchWebsiteConfiguration' });
  });

  test('a wrong secret is SignatureDoesNotMatch (403) and the secret is not in the error', async () => {
    const wrongSecret = 'definitely-wrong-secret';
    const bad = new OSS({ accessKeyId, accessKeySecret: wrongSecret, bucket, endpoint: server.endpoint });
    const err = (await bad.put('x.txt', Buffer.from('x')).catch((e: unknown) => e)) as Error & { status: number; code: string };
    expect(err).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
    expect(err.message).not.toContain(wrongSecret);
    expect(err.message).not.toContain(accessKeySecret);
    expect(JSON.stringify(err)).not.toContain(wrongSecret);
    expect(server.objects(bucket).size).toBe(0);

    const unknown = new OSS({ accessKeyId: 'nobody', accessKeySecret, bucket, endpoint: server.endpoint });
    await expect(unknown.get('x.txt')).rejects.toMatchObject({ code: 'InvalidAccessKeyId', status: 403 });
  });

  test('virtual-host and path-style addressing both work', async () => {
    // IP endpoint: ali-oss sends Host: <bucket>.oss-cn-hangzhou.aliyuncs.com.
    await client.put('vhost.txt', Buffer.from('v'));
    // Path style needs a host name endpoint (see oss-server.ts).
    const pathStyle = makeClient({ endpoint: `http://localhost:${server.port}`, sldEnable: true });
    await pathStyle.put('path.txt', Buffer.from('p'));
    expect((await pathStyle.get('vhost.txt')).content.toString()).toBe('v');
    // Virtual host on a name endpoint: Host: <bucket>.localhost:PORT, resolved by the agent.
    const agent = new http.Agent({
      keepAlive: true,
      lookup: ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
        opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as http.AgentOptions['lookup'],
    } as http.AgentOptions);
    agents.push(agent);
    const nameVhost = makeClient({ endpoint: `http://localhost:${server.port}`, agent });
    expect((await nameVhost.get('path.txt')).content.toString()).toBe('p');
    expect([...server.objects(bucket).keys()].sort()).toEqual(['path.txt', 'vhost.txt']);
    expect(server.requests.map((r) => [r.method, r.bucket, r.key])).toEqual([
      ['PUT', bucket, 'vhost.txt'],
      ['PUT', bucket, 'path.txt'],
      ['GET', bucket, 'vhost.txt'],
      ['GET', bucket, 'path.txt'],
    ]);
  });

  test('keys with spaces, plus signs and non-ASCII survive signing and addressing', async () => {
    const key = 'dir/中文 a+b&c=d?.txt';
    await client.put(key, Buffer.from('unicode'));
    expect(server.objects(bucket).has(key)).toBe(true);
    expect((await client.get(key)).content.toString()).toBe('unicode');
    const listed = await client.listV2({ prefix: 'dir/' } as unknown as OSS.ListV2ObjectsQuery, {});
    expect(listed.objects.map((o) => o.name)).toEqual([key]);
  });

  // A hand-signed request straight from the Aliyun V1 definition (no ali-oss code): Date header
  // instead of x-oss-date, Host `<bucket>.127.0.0.1:PORT`, and a signed sub-resource.
  function rawRequest(opts: {
    method: string;
    path: string;
    host: string;
    headers: Record<string, string>;
    resource: string;
    body?: Buffer;
    tamper?: (h: Record<string, string>) => void;
  }) {
    const h: Record<string, string> = { Date: new Date().toUTCString(), ...opts.headers };
    const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
    const ossHeaders = Object.keys(lower)
      .filter((k) => k.startsWith('x-oss-'))
      .sort()
      .map((k) => `${k}:${lower[k]}\n`)
      .join('');
    const toSign = `${opts.method}\n${lower['content-md5'] ?? ''}\n${lower['content-type'] ?? ''}\n${lower.date}\n${ossHeaders}${opts.resource}`;
    h.Authorization = `OSS ${accessKeyId}:${createHmac('sha1', accessKeySecret).update(toSign).digest('base64')}`;
    opts.tamper?.(h);
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: server.port, method: opts.method, path: opts.path, headers: { ...h, Host: opts.host }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  test('hand-signed requests: Host <bucket>.127.0.0.1:PORT, Date header, signed sub-resources; tampering is rejected', async () => {
    const host = `${bucket}.127.0.0.1:${server.port}`;
    const body = Buffer.from('raw body');
    const put = await rawRequest({
      method: 'PUT',
      path: '/raw.txt',
      host,
      body,
      resource: `/${bucket}/raw.txt`,
      headers: {
        'Content-Type': 'text/plain',
        'Content-MD5': createHash('md5').update(body).digest('base64'),
        'x-oss-meta-who': 'me',
        'Content-Length': String(body.length),
      },
    });
    expect(put.status).toBe(200);
    expect(server.objects(bucket).get('raw.txt')!.headers['x-oss-meta-who']).toBe('me');

    const get = await rawRequest({
      method: 'GET',
      path: '/raw.txt?response-content-type=application%2Fjson',
      host,
      resource: `/${bucket}/raw.txt?response-content-type=application/json`,
      headers: {},
    });
    expect(get).toMatchObject({ status: 200, body: 'raw body' });
    expect(get.headers['content-type']).toBe('application/json');

    // Changing a signed x-oss-* header after signing breaks the signature; the error says so in XML.
    const tampered = await rawRequest({
      method: 'PUT',
      path: '/raw.txt',
      host,
      body,
      resource: `/${bucket}/raw.txt`,
      headers: { 'Content-Type': 'text/plain', 'x-oss-meta-who': 'me', 'Content-Length': String(body.length) },
      tamper: (h) => {
        h['x-oss-meta-who'] = 'mallory';
      },
    });
    expect(tampered.status).toBe(403);
    expect(tampered.body).toMatch(/<Error>\s*<Code>SignatureDoesNotMatch<\/Code>/);
    expect(tampered.body).not.toContain(accessKeySecret);

    // Leaving a signed sub-resource out of the string to sign is also a mismatch.
    const unsignedSubresource = await rawRequest({ method: 'GET', path: '/?website', host, resource: `/${bucket}/`, headers: {} });
    expect(unsignedSubresource.status).toBe(403);

    // DeleteMultipleObjects without Content-MD5 is refused.
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet><Object><Key>raw.txt</Key></Object></Delete>';
    const noMd5 = await rawRequest({
      method: 'POST',
      path: '/?delete',
      host,
      resource: `/${bucket}/?delete`,
      body: Buffer.from(xml),
      headers: { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(xml)) },
    });
    expect(noMd5.status).toBe(400);
    expect(server.objects(bucket).has('raw.txt')).toBe(true);

    // No Authorization at all.
    const anon = await new Promise<number>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port: server.port, path: '/raw.txt', headers: { Host: host }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject),
    );
    expect(anon).toBe(403);
  });

  test('failNext(2) makes puts fail with 503 (ali-oss does not retry by default) and the log shows it', async () => {
    server.faults.failNext(2);
    await expect(client.put('f.txt', Buffer.from('1'))).rejects.toMatchObject({ status: 503, code: 'ServiceUnavailable' });
    await expect(client.put('f.txt', Buffer.from('2'))).rejects.toMatchObject({ status: 503 });
    await client.put('f.txt', Buffer.from('3'));
    expect(server.objects(bucket).get('f.txt')!.body.toString()).toBe('3');
    expect(server.requests.map((r) => ({ method: r.method, key: r.key, faulted: r.faulted, status: r.status }))).toEqual([
      { method: 'PUT', key: 'f.txt', faulted: true, status: 503 },
      { method: 'PUT', key: 'f.txt', faulted: true, status: 503 },
      { method: 'PUT', key: 'f.txt', faulted: false, status: 200 },
    ]);
  });

  test('resetAfter(1) lets one request through and resets the socket of the next', async () => {
    server.faults.resetAfter(1);
    await client.put('r.txt', Buffer.from('ok'));
    const err = (await client.get('r.txt').catch((e: unknown) => e)) as Error & { code?: string; status?: number };
    expect(err).toBeInstanceOf(Error);
    expect(`${err.code} ${err.message}`).toMatch(/ECONNRESET|socket hang up/i);
    // One-shot: the next request goes through.
    expect((await client.get('r.txt')).content.toString()).toBe('ok');
    expect(server.requests.map((r) => r.faulted)).toEqual([false, true, false]);
    expect(server.requests[1]!.status).toBeNull();
  });

  test('latency delays responses until cleared', async () => {
    server.faults.latency(300);
    const t0 = Date.now();
    await client.put('l.txt', Buffer.from('x'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    server.faults.clearFaults();
    const t1 = Date.now();
    await client.get('l.txt');
    expect(Date.now() - t1).toBeLessThan(250);
  });
});
