// examples/hello-node/server.js run as a local process: its answers, its /metrics in the
// Prometheus text format (checked by Debian's promtool when it is installed), and the two
// switches that make a bad version for the canary tests.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { repoRoot } from '../../support/fixtures.js';
import { freeLoopbackPort } from '../../support/loopback.js';

const serverJs = path.join(repoRoot, 'examples', 'hello-node', 'server.js');
const running: ChildProcess[] = [];

interface App {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startApp(env: Record<string, string> = {}): Promise<App> {
  const port = await freeLoopbackPort();
  const child = spawn(process.execPath, [serverJs], { env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const until = Date.now() + 10_000;
  while (!output.includes('listening') && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return { url: `http://127.0.0.1:${port}`, child, output: () => output, exited };
}

/** One request on a new connection. */
function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('examples/hello-node', () => {
  test('answers as before: / and /api/hello with JSON, /healthz ok, anything else 404', async () => {
    const app = await startApp({ APP_VERSION: '7', GREETING: 'gantry' });
    const root = await get(`${app.url}/`);
    expect(root.status).toBe(200);
    expect(JSON.parse(root.body)).toMatchObject({ hello: 'gantry', version: '7' });
    expect((await get(`${app.url}/api/hello`)).status).toBe(200);
    expect(await get(`${app.url}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(`${app.url}/nope`)).toMatchObject({ status: 404, body: 'not found\n' });
  });

  test('/metrics counts requests by path and code, in the Prometheus text format, and does not count itself', async () => {
    const app = await startApp();
    for (const p of ['/', '/', '/api/hello', '/healthz', '/nope', '/wp-login.php']) await get(`${app.url}${p}`);
    await get(`${app.url}/metrics`);
    const metrics = await get(`${app.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.body).toContain('# TYPE http_requests_total counter\n');
    expect(metrics.body).toContain('http_requests_total{path="/",code="200"} 2\n');
    expect(metrics.body).toContain('http_requests_total{path="/api/hello",code="200"} 1\n');
    expect(metrics.body).toContain('http_requests_total{path="/healthz",code="200"} 1\n');
    // Unknown paths share one label value, so a scanner cannot grow the series.
    expect(metrics.body).toContain('http_requests_total{path="other",code="404"} 2\n');
    expect(metrics.body).not.toContain('path="/metrics"');
    expect(metrics.body).toContain('# TYPE http_request_duration_seconds histogram\n');
    expect(metrics.body).toMatch(/http_request_duration_seconds_bucket\{path="\/",le="\+Inf"\} 2\n/);
    expect(metrics.body).toMatch(/http_request_duration_seconds_count\{path="\/"\} 2\n/);
    // Prometheus's own linter parses it (Debian's prometheus package ships promtool).
    if (existsSync('/usr/bin/promtool')) {
      const lint = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
      expect({ code: lint.status, out: `${lint.stdout}${lint.stderr}` }).toEqual({ code: 0, out: '' });
    }
  });

  test('FAIL_RATE=0.5 answers every second request to / and /api/hello with a 500 naming the version; /healthz stays 200', async () => {
    const app = await startApp({ FAIL_RATE: '0.5', APP_VERSION: 'bad-2' });
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await get(`${app.url}${i % 2 ? '/api/hello' : '/'}`));
    expect(answers.filter((a) => a.status === 500)).toHaveLength(5);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    const failure = answers.find((a) => a.status === 500)!;
    expect(failure.type).toBe('application/json');
    expect(JSON.parse(failure.body)).toEqual({ error: 'injected failure (FAIL_RATE=0.5)', version: 'bad-2' });
    for (let i = 0; i < 5; i++) expect((await get(`${app.url}/healthz`)).status).toBe(200);
    const metrics = (await get(`${app.url}/metrics`)).body;
    const count = (code: string) =>
      [...metrics.matchAll(new RegExp(`http_requests_total\\{path="[^"]+",code="${code}"\\} (\\d+)`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
    expect(count('500')).toBe(5);
  });

  test('FAIL_RATE=1 fails every request, FAIL_RATE=0 none', async () => {
    const all = await startApp({ FAIL_RATE: '1' });
    for (let i = 0; i < 3; i++) expect((await get(`${all.url}/`)).status).toBe(500);
    const none = await startApp({ FAIL_RATE: '0' });
    for (let i = 0; i < 3; i++) expect((await get(`${none.url}/`)).status).toBe(200);
  });

  test('CRASH_AFTER_MS exits 1 that long after start, having served until then', async () => {
    const started = Date.now();
    const app = await startApp({ CRASH_AFTER_MS: '700' });
    expect((await get(`${app.url}/healthz`)).status).toBe(200);
    expect(await app.exited).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(app.output()).toContain('CRASH_AFTER_MS=700: exiting with status 1');
  });

  test.each([
    ['FAIL_RATE', '1.5'],
    ['FAIL_RATE', 'half'],
    ['CRASH_AFTER_MS', '-1'],
  ])('%s=%s stops the app at once, naming the variable', async (name, value) => {
    const app = await startApp({ [name]: value });
    expect(await app.exited).toBe(1);
    expect(app.output()).toContain(`${name}="${value}" is not a number from`);
  });
});
