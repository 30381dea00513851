// gantry frontend against OSS-compatible endpoints that take one addressing style only, through
// the real ali-oss client: a store without virtual hosts (frontend.pathStyle: true), and Aliyun
// OSS itself, which refuses path-style requests.
import { spawn } from 'node:child_process';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const keyId = 'LTAI5tPathStyleKeyId';
const secret = 'path-style-test-secret-0123456789';
const bucket = 'acme-hello-web';

function frontend(repo: string, _server: OssServer, endpoint: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const child = spawn(process.execPath, [cliPath, 'frontend', '--env', 'staging', ...args], {
    cwd: repo,
    env: {
      ...base,
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
      GANTRY_SET: `frontend.endpoint=${endpoint}`,
      GANTRY_OSS_RETRIES: '1',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('an endpoint without virtual hosts', () => {
  let server: OssServer;
  beforeAll(async () => {
    server = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket, 'acme-ip-web', 'acme-name-web'], addressing: 'path' });
  });
  afterAll(() => server.close());

  test('refuses the default virtual-hosted requests, and the error points at frontend.pathStyle', async () => {
    const repo = exampleRepo();
    const mark = server.requests.length;
    const r = await frontend(repo, server, server.endpoint, ['--set', 'frontend.prefix=vhost']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_OSS_ACCESS');
    expect(r.stderr).toContain('SignatureDoesNotMatch');
    expect(r.stderr).toContain('set frontend.pathStyle: true');
    const sent = server.requests.slice(mark);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((q) => q.status === 403)).toBe(true);
    expect([...server.objects(bucket).keys()]).toEqual([]);
  }, 60_000);

  test.each([
    ['an IP endpoint', 'acme-ip-web', (s: OssServer) => s.endpoint],
    ['a host name endpoint', 'acme-name-web', (s: OssServer) => `http://localhost:${s.port}`],
  ])(
    'frontend.pathStyle: true publishes, re-publishes nothing, and sets up website hosting (%s)',
    async (_what, site, endpoint) => {
      const repo = exampleRepo();
      const prefix = 'live';
      const args = ['--set', `frontend.bucket=${site}`, '--set', `frontend.prefix=${prefix}`, '--set', 'frontend.pathStyle=true'];
      const mark = server.requests.length;
      const r = await frontend(repo, server, endpoint(server), [...args, '--website']);
      expect(r.stderr).not.toContain('error');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ uploaded: 3, website: { applied: true } });
      const sent = server.requests.slice(mark);
      expect(sent.length).toBeGreaterThan(4);
      // Every request named the bucket in its path and was answered, but for the 404 of the first
      // website read (the bucket has no website configuration yet).
      const answered = (q: (typeof sent)[number]) => q.status !== null && (q.status < 300 || (q.status === 404 && 'website' in q.query));
      expect(sent.filter((q) => !(q.pathStyle && q.bucket === site && answered(q)))).toEqual([]);
      expect(server.objects(site).get(`${prefix}/index.html`)!.headers['cache-control']).toBe('no-cache');
      expect(server.website(site)).toMatchObject({ suffix: 'index.html' });
      const again = await frontend(repo, server, endpoint(server), args);
      expect(JSON.parse(again.stdout)).toMatchObject({ uploaded: 0, unchanged: 3 });
    },
    60_000,
  );

  test('frontend.pathStyle is a boolean, checked with the rest of gantry.yaml', async () => {
    const r = await frontend(exampleRepo(), server, server.endpoint, ['--set-string', 'frontend.pathStyle=yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('frontend.pathStyle (--set-string frontend.pathStyle=yes): found "yes" (text), expected true or false');
    expect(r.stderr).toContain('Path-style requests (<endpoint>/<bucket>/<key>)');
  }, 60_000);
});

test('Aliyun OSS refuses path style: the error says to remove frontend.pathStyle', async () => {
  const server = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket], addressing: 'virtual-host' });
  try {
    const r = await frontend(exampleRepo(), server, `http://localhost:${server.port}`, ['--set', 'frontend.pathStyle=true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_OSS_ACCESS');
    expect(r.stderr).toContain('SecondLevelDomainForbidden');
    expect(r.stderr).toContain('remove frontend.pathStyle');
    expect(server.requests.every((q) => q.pathStyle && q.status === 403)).toBe(true);
  } finally {
    await server.close();
  }
}, 60_000);
