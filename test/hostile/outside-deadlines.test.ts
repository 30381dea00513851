// Issue #13, found item 1 (and item 10's dry run) for OSS, the CDN API, GitLab and the container
// registry: an endpoint that accepts the connection and never answers (test/support/silent-server)
// fails the command with the service's code, its host and the time waited, within about two
// request deadlines (one timeout, tried once more), and nothing is left running afterwards. The
// commands run in-process through src/cli.ts main() with small deadlines on a copy of
// examples/hello-node. Docker cannot run here: `gantry build` is shown to fail before it would
// start Docker (a fake `docker` on PATH records any call).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { main } from '../../src/cli.js';
import { type Ctx, createCtx } from '../../src/context.js';
import { checkGitlabToken } from '../../src/gitlab/check.js';
import { gitlabCall, gitlabFromEnv } from '../../src/gitlab/client.js';
import { checkRegistryLogin } from '../../src/image/registry-check.js';
import { openDocker } from '../../src/image/docker.js';
import { createLogger } from '../../src/log/logger.js';
import { aliyunCdnRefresher, cdnError } from '../../src/oss/cdn.js';
import { checkOssAccess } from '../../src/oss/check.js';
import { openOss, ossClient, type OssTarget, uploadDeadlineMs } from '../../src/oss/client.js';
import { deletePreview } from '../../src/oss/previews.js';
import type { Deadlines } from '../../src/retry.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { startSilentServer, type SilentServer } from '../support/silent-server.js';
import { exampleRepo, git } from '../support/tmp-repo.js';

/** Small deadlines: a silent endpoint costs 1 s, tried once more. */
const SMALL: Deadlines = { connectMs: 500, requestMs: 1000, stepMs: 20_000 };
/** Two request deadlines, the backoff between them and the command's own work, with room for a slow CI machine. */
const BOUND_MS = 2 * SMALL.requestMs + 4000;

const keyId = 'LTAI5tGantryTestKeyId';
const secret = 'gantry-test-secret-0123456789abcdef';
const glToken = 'glpat-GantryTestToken0123456789';
const bucket = 'acme-hello-web';
const ci = {
  CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
  CI_COMMIT_SHORT_SHA: '01234567',
  CI_COMMIT_REF_SLUG: 'main',
  CI_PIPELINE_URL: 'https://gitlab.example.com/acme/hello-node/-/pipelines/4242',
};

/**
 * Also silent, but it reads what it is sent and counts the HTTP requests: to tell a request sent
 * after the command returned (something left running) from undici's idle reconnect after an
 * aborted request (a connection that sends nothing, unref'd, which does not keep a process alive).
 */
async function startReadingSilentServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      requests += (chunk.toString('latin1').match(/^(GET|POST|PUT|DELETE|HEAD) \S+ HTTP\/1\.1\r$/gm) ?? []).length;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests: () => requests,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let silent: SilentServer;
let reading: Awaited<ReturnType<typeof startReadingSilentServer>>;
let oss: OssServer;
let gl: GitlabServer;
beforeAll(async () => {
  [silent, reading, oss, gl] = await Promise.all([
    startSilentServer(),
    startReadingSilentServer(),
    startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket] }),
    startGitlabServer({
      projects: [{ id: 77, path: 'acme/hello-node' }],
      privateTokens: [{ token: glToken, user: { id: 5, username: 'bot', name: 'bot' } }],
      jobTokens: [],
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([silent.close(), reading.close(), oss.close(), gl.close()]);
});

const silentUrl = () => `http://${silent.host}`;
const ossEnv = (endpoint: string) => ({ GANTRY_OSS_ACCESS_KEY_ID: keyId, GANTRY_OSS_ACCESS_KEY_SECRET: secret, GANTRY_SET: `frontend.endpoint=${endpoint}` });
const gitlabEnv = (url: string) => ({ CI_SERVER_URL: url, GANTRY_GITLAB_TOKEN: glToken, CI_PROJECT_ID: '77' });

function quietCtx(overrides: Partial<Ctx> = {}): { ctx: Ctx; log: () => string } {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env: {}, deadlines: SMALL, ...overrides }), log: () => out };
}

/** `gantry <argv>` in-process: exit code, everything printed (stderr log and stdout), time taken. */
async function gantry(cwd: string, argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; ms: number }> {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  const ctx = createCtx({ cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ci, ...env }, logger, deadlines: SMALL });
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const started = Date.now();
  try {
    const code = await main(argv, ctx);
    return { code, out, ms: Date.now() - started };
  } finally {
    stdout.mockRestore();
  }
}

/** A copy of examples/hello-node whose frontend is already built (a tiny dist), so no npm build runs. */
function builtRepo(): string {
  const repo = exampleRepo();
  mkdirSync(path.join(repo, 'frontend/dist/assets'), { recursive: true });
  writeFileSync(path.join(repo, 'frontend/dist/index.html'), '<!doctype html><script src="assets/app.0123abcd.js"></script>\n');
  writeFileSync(path.join(repo, 'frontend/dist/assets/app.0123abcd.js'), 'console.log("hello")\n');
  return repo;
}

/** Connections the silent server accepts from now on. */
function connectionsSince(): () => number {
  const before = silent.connections();
  return () => silent.connections() - before;
}

/** Whether anything still talks to the silent server after the command returned (a loop or promise left running). */
async function expectNothingLeftRunning(count: () => number): Promise<void> {
  const after = count();
  await new Promise((r) => setTimeout(r, SMALL.requestMs * 2 + 500));
  expect(count()).toBe(after);
}

describe('OSS that accepts and never answers', () => {
  test('gantry frontend fails with E_OSS_UNREACHABLE, the host and the time waited, within two request deadlines', async () => {
    const count = connectionsSince();
    const r = await gantry(builtRepo(), ['frontend', '--env', 'staging', '--skip-build'], ossEnv(silentUrl()));
    expect(r.out).toMatch(
      new RegExp(`error E_OSS_UNREACHABLE: list ${bucket}/: ${bucket} at ${silent.host}: no answer within 1 s \\(waited \\d s over 2 attempts\\)`),
    );
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
    expect(count()).toBe(2);
    await expectNothingLeftRunning(count);
  }, 30_000);

  test('gantry stop: removing the preview files fails in seconds with the same code (the OSS half of stop)', async () => {
    const { ctx } = quietCtx();
    const target: OssTarget = { bucket, region: 'oss-cn-hangzhou', endpoint: silentUrl(), accessKeyId: keyId, accessKeySecret: secret };
    const started = Date.now();
    await expect(deletePreview(ctx, target, 'previews/mr-5/')).rejects.toMatchObject({
      code: 'E_OSS_UNREACHABLE',
      message: expect.stringContaining(`${bucket} at ${silent.host}: no answer within 1 s`),
    });
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
  }, 30_000);

  test('once OSS was found silent, the same store fails at once instead of waiting again', async () => {
    const { ctx } = quietCtx();
    const store = openOss(ctx, { bucket, region: 'oss-cn-hangzhou', endpoint: silentUrl(), accessKeyId: keyId, accessKeySecret: secret }, 3);
    const first = await store.list('a/').catch((e: unknown) => e);
    const count = connectionsSince();
    const started = Date.now();
    const second = await store.head('a/index.html').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(100);
    expect(second).toBe(first);
    expect(count()).toBe(0);
  }, 30_000);

  test('gantry cleanup-previews with OSS silent ends after its fatal error', async () => {
    const count = connectionsSince();
    const r = await gantry(builtRepo(), ['cleanup-previews', '--namespace', 'hello-review'], { ...ossEnv(silentUrl()), ...gitlabEnv(gl.url) });
    expect(r.out).toContain(`error E_OSS_UNREACHABLE: list ${bucket}/previews/: ${bucket} at ${silent.host}: no answer within 1 s`);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
    await expectNothingLeftRunning(count);
  }, 30_000);

  test("doctor's OSS check fails within one request deadline, naming the host", async () => {
    const { ctx } = quietCtx();
    const started = Date.now();
    await expect(
      checkOssAccess(ctx, { bucket, region: 'oss-cn-hangzhou', endpoint: silentUrl(), accessKeyId: keyId, accessKeySecret: secret }, ''),
    ).rejects.toMatchObject({ code: 'E_OSS_UNREACHABLE', message: expect.stringContaining(`${silent.host}: no answer within 1 s`) });
    expect(Date.now() - started).toBeLessThan(SMALL.requestMs + 1500);
  }, 30_000);

  test('a failure that is not a timeout is not taken for one (ali-oss messages carry "timeoutSocketCount")', async () => {
    const { ctx } = quietCtx();
    const store = openOss(ctx, { bucket, region: 'oss-cn-hangzhou', endpoint: 'http://gantry-test.invalid', accessKeyId: keyId, accessKeySecret: secret }, 0);
    const error = await store.list('a/').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_OSS_UNREACHABLE' });
    expect((error as Error).message).not.toContain('no answer within');
  });

  test('an upload to a silent OSS ends after the request deadline plus one second per 256 KiB', async () => {
    expect(uploadDeadlineMs(SMALL, 16 * 1024 * 1024)).toBe(SMALL.requestMs + 64_000);
    const { ctx } = quietCtx();
    const store = openOss(ctx, { bucket, region: 'oss-cn-hangzhou', endpoint: silentUrl(), accessKeyId: keyId, accessKeySecret: secret }, 3);
    const body = Buffer.from('<p>hello</p>');
    const file = { key: 'index.html', path: '', size: body.length, md5: '0'.repeat(32), html: true, hashed: false, body };
    const started = Date.now();
    await expect(store.put('index.html', file, {})).rejects.toMatchObject({ name: 'ResponseTimeoutError' });
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(uploadDeadlineMs(SMALL, body.length) - 100);
    expect(ms).toBeLessThan(uploadDeadlineMs(SMALL, body.length) + 1000);
  }, 30_000);

  test('the client takes the connect and request deadlines as urllib pair [connect, response]', () => {
    const client = ossClient({ bucket, region: 'oss-cn-hangzhou', accessKeyId: keyId, accessKeySecret: secret }, SMALL) as unknown as {
      options: { timeout: unknown };
    };
    expect(client.options.timeout).toEqual([500, 1000]);
  });
});

describe('gantry frontend --dry-run does not build (found item 10)', () => {
  test('without a build directory it says it did not build, calls nothing and writes nothing', async () => {
    const repo = exampleRepo();
    const count = connectionsSince();
    const r = await gantry(
      repo,
      ['frontend', '--env', 'staging', '--dry-run', '--set', 'frontend.build=touch BUILT && mkdir -p frontend/dist'],
      ossEnv(silentUrl()),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('dry run: the frontend build (touch BUILT && mkdir -p frontend/dist) is not run, as it writes files');
    expect(r.out).toContain('dry run: frontend/dist does not exist (not built yet): no upload plan');
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toMatchObject({ built: false, planned: [], uploaded: 0 });
    expect(existsSync(path.join(repo, 'BUILT'))).toBe(false);
    expect(git(repo, 'status', '--porcelain', '--ignored')).toBe('');
    expect(count()).toBe(0);
  }, 30_000);

  test('with a build directory it plans from what is there, without running the build', async () => {
    const repo = builtRepo();
    const r = await gantry(repo, ['frontend', '--env', 'staging', '--dry-run', '--set', 'frontend.build=touch BUILT'], ossEnv(oss.endpoint));
    expect(r.code).toBe(0);
    expect(r.out).toContain('dry run: planning from frontend/dist as it is now');
    expect(r.out).toContain('would put index.html');
    expect(existsSync(path.join(repo, 'BUILT'))).toBe(false);
    expect(oss.objects(bucket).size).toBe(0);
  }, 30_000);
});

describe('GitLab that accepts and never answers', () => {
  test('gantry mr-note fails with E_GITLAB_UNREACHABLE, the host and the time waited', async () => {
    const before = reading.requests();
    const r = await gantry(builtRepo(), ['mr-note', '--status', 'deployed', '--mr', '5'], gitlabEnv(reading.url));
    expect(r.out).toMatch(
      new RegExp(
        `error E_GITLAB_UNREACHABLE: list the notes of merge request !5 of project 77: ${reading.url}: no answer within 1 s \\(waited \\d s over 2 attempts\\)`,
      ),
    );
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
    await expectNothingLeftRunning(() => reading.requests() - before);
    expect(reading.requests() - before).toBe(2);
  }, 30_000);

  test('gantry cleanup-previews with GitLab silent ends after its fatal error', async () => {
    // A preview in the bucket, so the sweep has a merge request to ask GitLab about.
    const store = openOss(quietCtx().ctx, { bucket, region: 'oss-cn-hangzhou', endpoint: oss.endpoint, accessKeyId: keyId, accessKeySecret: secret }, 0);
    await store.putBuffer('previews/mr-3/index.html', Buffer.from('<p>3</p>'), {});
    const before = reading.requests();
    const r = await gantry(builtRepo(), ['cleanup-previews', '--namespace', 'hello-review'], { ...ossEnv(oss.endpoint), ...gitlabEnv(reading.url) });
    expect(r.out).toContain('!3: acme-hello-web/previews/mr-3/');
    expect(r.out).toMatch(new RegExp(`error E_GITLAB_UNREACHABLE: list the open merge requests of project 77: ${reading.url}: no answer within 1 s`));
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
    await expectNothingLeftRunning(() => reading.requests() - before);
    expect(reading.requests() - before).toBe(2);
    expect(oss.objects(bucket).has('previews/mr-3/index.html')).toBe(true);
  }, 30_000);

  test('once GitLab was found silent, the same client fails at once', async () => {
    const { ctx } = quietCtx({ env: gitlabEnv(silentUrl()) });
    const gitlab = gitlabFromEnv(ctx, ctx.env, { minTimeoutMs: 10 });
    const first = await gitlabCall(ctx, gitlab, 'read merge request !1', { idempotent: true }, () => gitlab.mergeRequests.show(77, 1)).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'E_GITLAB_UNREACHABLE' });
    const count = connectionsSince();
    const started = Date.now();
    const second = await gitlabCall(ctx, gitlab, 'create a note', { idempotent: false }, () => gitlab.notes.create(77, 1, 'x')).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(100);
    expect(second).toBe(first);
    expect(count()).toBe(0);
  }, 30_000);

  test('one unanswered attempt of a single-attempt call (creating a note) does not mark GitLab silent', async () => {
    const { ctx } = quietCtx({ env: gitlabEnv(silentUrl()) });
    const gitlab = gitlabFromEnv(ctx, ctx.env, { minTimeoutMs: 10 });
    const first = await gitlabCall(ctx, gitlab, 'create a note', { idempotent: false }, () => gitlab.notes.create(77, 1, 'x')).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'E_GITLAB_UNREACHABLE' });
    expect(gitlab.silent).toBeUndefined();
    const count = connectionsSince();
    const second = await gitlabCall(ctx, gitlab, 'read merge request !1', { idempotent: true }, () => gitlab.mergeRequests.show(77, 1)).catch(
      (e: unknown) => e,
    );
    expect(second).toMatchObject({ code: 'E_GITLAB_UNREACHABLE' });
    expect(count()).toBeGreaterThan(0);
  }, 30_000);

  test("doctor's GitLab token check fails within one request deadline, naming the host", async () => {
    const { ctx } = quietCtx();
    const started = Date.now();
    await expect(checkGitlabToken(ctx, gitlabEnv(silentUrl()))).rejects.toMatchObject({
      code: 'E_GITLAB_UNREACHABLE',
      message: expect.stringContaining(`at ${silentUrl()}: no answer within 1 s`),
    });
    expect(Date.now() - started).toBeLessThan(SMALL.requestMs + 1500);
  }, 30_000);
});

describe('the CDN API that accepts and never answers', () => {
  test('the refresh fails with E_CDN_REFRESH naming the host and the time waited; later batches do not wait again', async () => {
    const { ctx } = quietCtx();
    const refresher = aliyunCdnRefresher(ctx, { endpoint: reading.url, accessKeyId: keyId, accessKeySecret: secret, retries: 3, minRetryDelayMs: 10 });
    const urls = Array.from({ length: 2500 }, (_, i) => `https://www.example.com/p${i}.html`);
    const before = reading.requests();
    const started = Date.now();
    const error = await refresher.refresh(urls).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
    // The first of three batches, tried twice; the other two are not sent.
    expect(reading.requests() - before).toBe(2);
    const e = cdnError(error, `${bucket}/`, urls);
    expect(e.code).toBe('E_CDN_REFRESH');
    expect(e.message).toMatch(
      new RegExp(`the CDN API did not answer \\(${new URL(reading.url).host}: no answer within 1 s \\(waited \\d s over 2 attempts\\)\\)`),
    );
    const again = Date.now();
    await expect(refresher.refresh(urls.slice(0, 1))).rejects.toBe(error);
    expect(Date.now() - again).toBeLessThan(100);
  }, 30_000);
});

describe('a container registry that accepts and never answers', () => {
  /** A `docker` on PATH that records each call and exits 1: Docker cannot run here, and must not be reached. */
  function fakeDocker(script = 'echo "$@" >> "$(dirname "$0")/calls"; exit 1'): { dir: string; calls: () => string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-fake-docker-'));
    writeFileSync(path.join(dir, 'docker'), `#!/bin/sh\n${script}\n`);
    chmodSync(path.join(dir, 'docker'), 0o755);
    return { dir, calls: () => (existsSync(path.join(dir, 'calls')) ? readFileSync(path.join(dir, 'calls'), 'utf8') : '') };
  }

  test('gantry build fails with E_REGISTRY_UNREACHABLE before Docker is started', async () => {
    const docker = fakeDocker();
    const r = await gantry(builtRepo(), ['build'], {
      PATH: `${docker.dir}:${process.env.PATH}`,
      GANTRY_REGISTRY_PUSH_HOST: silent.host,
      GANTRY_REGISTRY_USER: 'ci',
      GANTRY_REGISTRY_PASSWORD: 'registry-password-0123',
    });
    expect(r.out).toMatch(
      new RegExp(`error E_REGISTRY_UNREACHABLE: GET http://${silent.host}/v2/: ${silent.host}: no answer within 1 s \\(waited \\d s over 2 attempts\\)`),
    );
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
    expect(docker.calls()).toBe('');
  }, 30_000);

  test('gantry build --no-push does not ask the registry (it is not needed)', async () => {
    const docker = fakeDocker();
    const before = reading.requests();
    const r = await gantry(builtRepo(), ['build', '--no-push'], {
      PATH: `${docker.dir}:${process.env.PATH}`,
      GANTRY_REGISTRY_PUSH_HOST: new URL(reading.url).host,
    });
    expect(reading.requests()).toBe(before);
    // The fake docker says no daemon: that is where the build stops here.
    expect(r.out).toContain('error E_DOCKER_UNAVAILABLE');
    expect(docker.calls()).toContain('version');
  }, 30_000);

  test("doctor's registry check fails within one request deadline, naming the host", async () => {
    const { ctx } = quietCtx();
    const started = Date.now();
    await expect(checkRegistryLogin(ctx, { host: silent.host, user: 'ci', password: 'registry-password-0123' })).rejects.toMatchObject({
      code: 'E_REGISTRY_UNREACHABLE',
      message: expect.stringContaining(`GET http://${silent.host}/v2/: no answer within 1 s`),
    });
    expect(Date.now() - started).toBeLessThan(SMALL.requestMs + 1500);
  }, 30_000);

  test('a docker child process ends when the step is cancelled (ctx.signal)', async () => {
    const docker = fakeDocker('exec sleep 30');
    const controller = new AbortController();
    const { ctx } = quietCtx({ env: { PATH: `${docker.dir}:${process.env.PATH}` }, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled')), 300);
    const started = Date.now();
    await openDocker(ctx).catch(() => undefined);
    expect(Date.now() - started).toBeLessThan(3000);
  }, 30_000);
});
