// gantry init on apps made by their frameworks' own generators and docs (test/fixtures/init/*,
// each README names where it came from): the port it listens on, and a probe that will pass:
// the health route when there is one, else / when the app serves it, else a TCP probe.
import path from 'node:path';
import { detectProject, probeLine, readProjectFacts, type ProjectDetection } from '../../../src/init/detect.js';
import { fixture } from '../../support/fixtures.js';

function detect(starter: string): ProjectDetection {
  const facts = readProjectFacts(fixture('init', starter));
  if (!facts) throw new Error(`no package.json in test/fixtures/init/${starter}`);
  return detectProject(facts);
}

interface Expected {
  port: number;
  portFrom: string;
  probe: string | null;
  /** Where the probe's route was found (file:line), for http probes. */
  servedBy?: string;
}

describe.each<[string, Expected]>([
  // Official generators and docs, as they come.
  ['express-generator', { port: 3000, portFrom: "bin/www: process.env.PORT || '3000'", probe: '/', servedBy: 'routes/index.js:5' }],
  ['express-generator-no-view', { port: 3000, portFrom: "bin/www: process.env.PORT || '3000'", probe: '/', servedBy: 'routes/index.js:5' }],
  ['fastify-cli', { port: 3000, portFrom: 'fastify start', probe: '/', servedBy: 'routes/root.js:4' }],
  ['fastify-cli-ts', { port: 3000, portFrom: 'fastify start', probe: '/', servedBy: 'src/routes/root.ts:5' }],
  ['nest', { port: 3000, portFrom: 'src/main.ts: process.env.PORT ?? 3000', probe: '/', servedBy: 'src/app.controller.ts:9' }],
  ['koa', { port: 3000, portFrom: 'index.js: .listen(3000)', probe: '/', servedBy: 'index.js:4' }],
  ['hapi', { port: 3000, portFrom: 'index.js: server({', probe: '/', servedBy: 'index.js:12' }],
  ['fastify-readme', { port: 3000, portFrom: 'server.js: .listen({ port: 3000', probe: '/', servedBy: 'server.js:11' }],
  // Health routes in the usual places and spellings.
  ['express-ts-health', { port: 3000, portFrom: 'src/index.ts: process.env.PORT || 3000', probe: '/health', servedBy: 'src/index.ts:12' }],
  ['express-router-mounted', { port: 3000, portFrom: 'bin/www', probe: '/ops/healthz', servedBy: 'routes/health.js:5' }],
  ['express-port-8080', { port: 8080, portFrom: 'server.js: const port = 8080', probe: '/healthz', servedBy: 'routes/health.js:5' }],
  ['fastify-ping', { port: 3000, portFrom: 'server.js: .listen({ port: 3000', probe: '/ping', servedBy: 'server.js:3' }],
  ['fastify-route-status', { port: 8080, portFrom: 'src/server.ts: process.env.PORT) || 8080', probe: '/status', servedBy: 'src/server.ts:6' }],
  ['hapi-health', { port: 3000, portFrom: 'server.js: process.env.PORT || 3000', probe: '/health', servedBy: 'server.js:12' }],
  ['koa-router-livez', { port: 3000, portFrom: 'app.js: process.env.PORT || 3000', probe: '/livez', servedBy: 'app.js:11' }],
  ['nest-health-controller', { port: 3000, portFrom: 'src/main.ts', probe: '/health', servedBy: 'src/health/health.controller.ts:6' }],
  ['nest-global-prefix', { port: 3000, portFrom: 'src/main.ts', probe: '/api/health', servedBy: 'src/app.controller.ts:14' }],
  // Nothing a probe may GET: TCP.
  ['express-api-only', { port: 4000, portFrom: 'index.js: process.env.PORT ?? 4000', probe: null }],
  ['express-dynamic-routes', { port: 3000, portFrom: 'app.js: process.env.PORT || 3000', probe: null }],
])('%s', (starter, expected) => {
  const d = detect(starter);
  test(`listens on ${expected.port}`, () => {
    expect(d.port.value).toBe(expected.port);
    expect(d.port.source).toContain(expected.portFrom);
  });
  test(expected.probe ? `probes GET ${expected.probe}` : 'probes TCP', () => {
    expect(d.probe.path).toBe(expected.probe);
    if (expected.servedBy) expect(d.probe.found).toContain(expected.servedBy);
  });
});

describe('what gantry init says about the probe', () => {
  test('a health route: where it is served', () => {
    expect(probeLine(detect('nest-health-controller').probe, 3000)).toBe(
      "GET /health is served by src/health/health.controller.ts:6 (@Controller('health') @Get()): readiness and liveness probes on /health",
    );
  });

  test('no health route but GET /: says so and probes /', () => {
    expect(probeLine(detect('express-generator').probe, 3000)).toBe(
      "no health route found; GET / is served by routes/index.js:5 (router.get('/'), mounted at / by app.js:22): readiness and liveness probes on /",
    );
    expect(probeLine(detect('koa').probe, 3000)).toMatch(
      /^no health route found; GET \/ is served by index\.js:4 \(app\.use\(.*\), which answers every path\): readiness and liveness probes on \/$/,
    );
  });

  test('neither: a TCP probe on the port, with the GET routes it did find', () => {
    const d = detect('express-api-only');
    expect(probeLine(d.probe, 4000)).toBe(
      'no health route found and nothing answers GET / (GET routes found: /api/items): readiness and liveness probes check that port 4000 accepts TCP connections',
    );
    // The axios.get('/health') call is a request to another service, not a route of this app.
    expect(d.probe.routes.map((r) => r.path)).toEqual(['/api/items']);
  });

  test('a route mounted where static reading cannot follow is named and not used', () => {
    const d = detect('express-dynamic-routes');
    expect(d.probe.path).toBeNull();
    expect(d.probe.unresolved).toEqual([expect.objectContaining({ file: 'routes/health.js', line: 5, path: '/' })]);
    expect(d.probe.unresolved[0]!.why).toContain('app.js:10');
  });

  test('a server bound to localhost is unreachable in a pod: a warning names the line and the fix', () => {
    expect(detect('hapi').warnings).toEqual([expect.stringMatching(/^index\.js:9: .*host 'localhost'.*0\.0\.0\.0/)]);
    expect(detect('fastify-readme').warnings).toEqual([
      expect.stringMatching(/^server\.js:16: fastify listens on localhost when listen\(\) is given no host.*0\.0\.0\.0/),
    ]);
    for (const starter of ['fastify-ping', 'hapi-health', 'express-generator', 'nest', 'fastify-cli'])
      expect([starter, detect(starter).warnings]).toEqual([starter, []]);
  });
});

test('every starter directory has a README saying where it came from: a generator or doc with its version, a derivation, or written here', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dirs = readdirSync(fixture('init'));
  expect(dirs.length).toBeGreaterThanOrEqual(19);
  const provenance = /^(?:Generated by \S+ \d+\.\d+\.\d+: `npx |From .* \d+\.\d+\.\d+|Derived from .*(?:\d+\.\d+\.\d+|\.\.\/)|Written for these tests: )/;
  for (const dir of dirs) expect([dir, readFileSync(path.join(fixture('init'), dir, 'README.md'), 'utf8')]).toEqual([dir, expect.stringMatching(provenance)]);
});
