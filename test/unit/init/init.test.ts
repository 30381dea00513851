// `gantry init` run on copies of real starters: what it says on stderr about the probe, and a
// gantry.yaml whose rendered Deployment probes what the app answers.
import { jest } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { init } from '../../../scripts/init.js';
import { parseConfigText } from '../../../src/config/load.js';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { renderManifests } from '../../../src/render/render.js';
import { buildView } from '../../../src/render/view.js';
import { ciContext, digestImage, fixture } from '../../support/fixtures.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function runInit(starter: string, args: string[] = []) {
  const dir = mkdtempSync(path.join(tmpdir(), `gantry-init-${starter}-`));
  dirs.push(dir);
  cpSync(fixture('init', starter), dir, { recursive: true });
  const lines: string[] = [];
  const ctx = createCtx({ cwd: dir, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
  let stdout = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    const code = await init(args, ctx);
    return { code, dir, stderr: lines.join(''), summary: JSON.parse(stdout) as Record<string, any> };
  } finally {
    spy.mockRestore();
  }
}

async function deploymentProbes(dir: string) {
  const config = parseConfigText(readFileSync(path.join(dir, 'gantry.yaml'), 'utf8'), 'gantry.yaml', { env: {} });
  const view = buildView({ config, envName: 'staging', ci: ciContext(), image: digestImage });
  const manifests = await renderManifests(view, { userDir: path.join(dir, 'deploy') });
  const deployment = manifests.flatMap((m) => m.objects).find((o) => o.kind === 'Deployment') as Record<string, any>;
  const { readinessProbe, livenessProbe } = deployment.spec.template.spec.containers[0];
  return { readinessProbe, livenessProbe };
}

test('express-generator: no health route, GET / served by routes/index.js; init says so and the probes GET /', async () => {
  const r = await runInit('express-generator');
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("port 3000 (bin/www: process.env.PORT || '3000')\n");
  expect(r.stderr).toContain(
    "probe: no health route found; GET / is served by routes/index.js:5 (router.get('/'), mounted at / by app.js:22): readiness and liveness probes on /\n",
  );
  expect(r.stderr).toContain('GET routes found: / (routes/index.js:5), /users (routes/users.js:5)\n');
  expect(r.summary).toMatchObject({ port: 3000, healthPath: '/', probe: 'http' });
  const { readinessProbe, livenessProbe } = await deploymentProbes(r.dir);
  expect(readinessProbe.httpGet).toEqual({ path: '/', port: 'http' });
  expect(livenessProbe.httpGet).toEqual({ path: '/', port: 'http' });
});

test('an API with nothing on /: init says it found no route a probe may GET, and the Deployment probes TCP', async () => {
  const r = await runInit('express-api-only');
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(
    'probe: no health route found and nothing answers GET / (GET routes found: /api/items): readiness and liveness probes check that port 4000 accepts TCP connections\n',
  );
  expect(r.summary).toMatchObject({ port: 4000, healthPath: null, probe: 'tcp' });
  const { readinessProbe, livenessProbe } = await deploymentProbes(r.dir);
  expect(readinessProbe).toMatchObject({ tcpSocket: { port: 'http' } });
  expect(livenessProbe).toMatchObject({ tcpSocket: { port: 'http' } });
  expect(readinessProbe.httpGet).toBeUndefined();
  expect(livenessProbe.httpGet).toBeUndefined();
});

test('--port overrides the detected port, and the TCP line names the port the probes will use', async () => {
  const r = await runInit('express-api-only', ['--port', '9000']);
  expect(r.stderr).toContain('check that port 9000 accepts TCP connections\n');
});

test('NestJS with a HealthController: the probes GET /health', async () => {
  const r = await runInit('nest-health-controller');
  expect(r.stderr).toContain(
    "probe: GET /health is served by src/health/health.controller.ts:6 (@Controller('health') @Get()): readiness and liveness probes on /health\n",
  );
  expect((await deploymentProbes(r.dir)).readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
});

test('a route not used and a server on localhost are both said, as a note and a warning', async () => {
  const dynamic = await runInit('express-dynamic-routes');
  expect(dynamic.stderr).toMatch(/not used: GET \/ in routes\/health\.js:5 \(router\.get\('\/'\)\): .*app\.js:10/);
  const hapi = await runInit('hapi');
  expect(hapi.stderr).toMatch(/warning: index\.js:9: listens on host 'localhost'/);
  expect(hapi.summary.warnings).toHaveLength(1);
});
