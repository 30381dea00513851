// What gantry init reads from a repository: app name, port, health path, frontend.
import { detectProject, type PackageJson, type ProjectFacts } from '../../../src/init/detect.js';
import { parseConfigText } from '../../../src/config/load.js';
import { renderGantryYaml, renderGitlabCi } from '../../../src/init/files.js';

function facts(pkg: PackageJson, files: Record<string, string> = {}, dirs: string[] = [], dirName = 'my-repo'): ProjectFacts {
  return { dirName, pkg, read: (f) => files[f], isDir: (d) => dirs.includes(d), list: () => Object.keys(files) };
}

describe('app name', () => {
  test('comes from package.json, scope dropped and made DNS-safe', () => {
    expect(detectProject(facts({ name: '@acme/Shop_API' })).app.value).toBe('shop-api');
    expect(detectProject(facts({ name: '1st.service' })).app.value).toBe('x-1st-service');
  });
  test('falls back to the directory name', () => {
    expect(detectProject(facts({}, {}, [], 'Billing Service')).app).toEqual({ value: 'billing-service', source: 'directory name "Billing Service"' });
  });
});

describe('port', () => {
  test('PORT=... or --port in the start script wins', () => {
    expect(detectProject(facts({ scripts: { start: 'PORT=8080 node server.js' } }, { 'server.js': 'listen(3000)' })).port.value).toBe(8080);
    expect(detectProject(facts({ scripts: { start: 'next start --port 4000' } })).port.value).toBe(4000);
  });
  test('the PORT default or listen(<port>) in the main file named by the start script', () => {
    const r = detectProject(facts({ scripts: { start: 'node src/app.js' } }, { 'src/app.js': "const port = Number(process.env.PORT ?? '5050');" }));
    expect(r.main).toBe('src/app.js');
    expect(r.port).toEqual({ value: 5050, source: "src/app.js: process.env.PORT ?? '5050'" });
    expect(detectProject(facts({ main: 'index.js' }, { 'index.js': 'app.listen(7000, () => {})' })).port.value).toBe(7000);
  });
  test('.env PORT, else 3000', () => {
    expect(detectProject(facts({}, { '.env': 'DEBUG=1\nPORT=9090\n' })).port.value).toBe(9090);
    expect(detectProject(facts({}, { 'server.js': 'listen(process.env.PORT)' })).port).toMatchObject({
      value: 3000,
      source: expect.stringContaining('default'),
    });
  });
  test('an out-of-range number is not a port', () => {
    expect(detectProject(facts({}, { 'server.js': 'server.listen(99999)' })).port.value).toBe(3000);
  });
  test("listen({ port }) and a hapi server({ port }) option; a database port or a comment is not the app's", () => {
    expect(detectProject(facts({}, { 'server.js': "fastify.listen({ host: '0.0.0.0', port: 8081 })" })).port).toEqual({
      value: 8081,
      source: "server.js: .listen({ host: '0.0.0.0', port: 8081",
    });
    expect(detectProject(facts({}, { 'index.js': 'const server = Hapi.server({\n  port: 8082,\n})' })).port.value).toBe(8082);
    expect(
      detectProject(facts({}, { 'server.js': 'const db = { host: "db", port: 5432 };\n// app.listen(9999)\napp.listen(process.env.PORT)' })).port.value,
    ).toBe(3000);
  });
  test('a start script naming a file without extension or a build output finds the source', () => {
    expect(detectProject(facts({ scripts: { start: 'node ./bin/www' } }, { 'bin/www': "var port = normalizePort(process.env.PORT || '3001');" })).port).toEqual(
      { value: 3001, source: "bin/www: process.env.PORT || '3001'" },
    );
    expect(detectProject(facts({ scripts: { 'start:prod': 'node dist/main' } }, { 'src/main.ts': 'await app.listen(process.env.PORT ?? 3002);' })).main).toBe(
      'src/main.ts',
    );
    expect(
      detectProject(facts({ scripts: { start: 'node dist/server.js' } }, { 'src/server.ts': 'app.listen(3003)', 'index.js': 'app.listen(4000)' })).port.value,
    ).toBe(3003);
  });
  test('the app file the main file loads is read too (bin/www requires app.js)', () => {
    const d = detectProject(
      facts({ scripts: { start: 'node server.js' } }, { 'server.js': "require('./src/app');", 'src/app.js': 'const app = express(); app.listen(5001);' }),
    );
    expect(d.port).toEqual({ value: 5001, source: 'src/app.js: .listen(5001)' });
  });
  test('fastify start: -p, else PORT, else 3000', () => {
    expect(detectProject(facts({ scripts: { start: 'fastify start -l info -p 4001 app.js' } })).port.value).toBe(4001);
    expect(
      detectProject(facts({ scripts: { start: 'fastify start -l info app.js' } }, { 'app.js': 'module.exports = async function (fastify) {}' })).port,
    ).toEqual({
      value: 3000,
      source: 'package.json scripts.start: fastify start listens on PORT, else 3000',
    });
  });
});

describe('probe: the routes the sources answer', () => {
  const probe = (files: Record<string, string>, pkg: PackageJson = {}) => detectProject(facts(pkg, files)).probe;

  test('a health route wins over GET /; healthz, health, livez, readyz, ping, status in that order', () => {
    expect(probe({ 'server.js': "app.get('/', h); app.get('/status', h); app.get('/ping', h); app.get('/health', h); app.get('/readyz', h)" }).path).toBe(
      '/health',
    );
    expect(probe({ 'server.js': "app.get('/readyz', h); app.get('/livez', h)" }).path).toBe('/livez');
    expect(probe({ 'server.js': "app.get('/', h)" }).path).toBe('/');
    expect(probe({ 'server.js': "app.get(['/healthz', '/live'], h)" }).path).toBe('/healthz');
    // A parameter or a deeper path is not a health route.
    expect(probe({ 'server.js': "app.get('/orders/:id/status', h); app.get('/health/:check', h)" }).path).toBeNull();
  });

  test('raw node:http comparisons count (url === "/healthz", switch cases)', () => {
    expect(probe({ 'server.js': "http.createServer((req, res) => { if (url === '/healthz') ok(res) })" }).path).toBe('/healthz');
    expect(probe({ 'server.js': "http.createServer((req, res) => { switch (req.url) { case '/health': return ok(res) } })" }).path).toBe('/health');
  });

  test('routes in comments, strings and test files do not count, nor calls to other services', () => {
    const p = probe({
      'server.js': [
        'const app = express();',
        "// app.get('/healthz', h)",
        "/* app.get('/health', h) */",
        'const doc = "app.get(\'/livez\', h)";',
        "await axios.get('/health', { baseURL });",
        "http.get('/healthz', (res) => {});",
        "app.get('env');",
        'app.listen(3000);',
      ].join('\n'),
      'test/app.test.js': "app.get('/health', h)",
      'src/app.spec.ts': "app.get('/health', h)",
      'examples/demo.js': "const app = express(); app.get('/health', h)",
      'frontend/src/api.js': "const router = express.Router(); router.get('/healthz', h)",
      'dist/server.js': "const app = express(); app.get('/health', h)",
    });
    expect(p.path).toBeNull();
    expect(p.routes).toEqual([]);
  });

  test('mount prefixes add up: app.use, router.use, koa-router prefix, fastify register prefix', () => {
    expect(
      probe(
        {
          'app.js': "const app = express(); const api = require('./routes/api'); app.use('/api', api); app.listen(3000);",
          'routes/api.js': "const router = express.Router(); const health = require('./health'); router.use('/v1', health); module.exports = router;",
          'routes/health.js': "const router = express.Router(); router.get('/health', h); module.exports = router;",
        },
        { main: 'app.js' },
      ),
    ).toMatchObject({ path: '/api/v1/health', found: expect.stringContaining('routes/health.js:1') });
    expect(
      probe({ 'app.js': "const app = new Koa(); const router = new Router({ prefix: '/api' }); router.get('/health', h); app.use(router.routes());" }).path,
    ).toBe('/api/health');
    expect(
      probe({
        'server.js':
          "const fastify = Fastify(); fastify.register(require('./routes/health'), { prefix: '/v2' }); fastify.listen({ port: 3000, host: '0.0.0.0' });",
        'routes/health.js': "module.exports = async function (f) { f.get('/health', h) }",
      }).path,
    ).toBe('/v2/health');
    expect(probe({ 'server.js': "const fastify = Fastify(); fastify.register(async (api) => { api.get('/health', h) }, { prefix: '/internal' });" }).path).toBe(
      '/internal/health',
    );
    expect(probe({ 'server.ts': "const app = Fastify(); app.get<{ Reply: Health }>('/health', async () => ({ ok: true }));" }).path).toBe('/health');
  });

  test('a router that is never mounted where gantry init can see is named, not used', () => {
    const p = probe({ 'app.js': "const app = express(); const r = express.Router(); r.get('/health', h); app.use(mount(r));" });
    expect(p.path).toBeNull();
    expect(p.unresolved).toEqual([expect.objectContaining({ path: '/health', file: 'app.js', line: 1 })]);
  });

  test('a 404 handler does not serve /; a handler that answers everything does', () => {
    expect(probe({ 'app.js': "const app = express(); app.use((req, res) => { res.status(404).send('no') });" }).path).toBeNull();
    expect(probe({ 'app.js': 'const app = express(); app.use(function (err, req, res, next) { res.send(err.message) });' }).path).toBeNull();
    expect(probe({ 'server.js': "http.createServer((req, res) => { res.end('hi') }).listen(3000)" }).path).toBe('/');
    expect(
      probe({ 'server.js': "http.createServer((req, res) => { if (req.url === '/x') return res.end('x'); res.writeHead(404); res.end() })" }).path,
    ).toBeNull();
    expect(probe({ 'app.js': "const app = express(); app.get('*', (req, res) => res.sendFile(index));" }).path).toBe('/');
    expect(probe({ 'app.js': "const app = new Koa(); app.use(async (ctx, next) => { await next(); ctx.set('X-Time', '1') });" }).path).toBeNull();
  });

  test('express.static serves / when its directory has an index.html', () => {
    const app = "const app = express(); app.use(express.static(path.join(__dirname, 'public')));";
    expect(probe({ 'app.js': app, 'public/index.html': '<h1>hi</h1>' }).path).toBe('/');
    expect(probe({ 'app.js': app, 'public/style.css': '' }).path).toBeNull();
  });

  test('hapi route objects: GET, a method list or *; a POST is not a probe', () => {
    const hapi = (method: string) =>
      probe({
        'server.js': `const server = Hapi.server({ port: 3000, host: '0.0.0.0' }); server.route({ method: ${method}, path: '/health', handler: () => 'ok' });`,
      }).path;
    expect(hapi("'GET'")).toBe('/health');
    expect(hapi("['get', 'post']")).toBe('/health');
    expect(hapi("'*'")).toBe('/health');
    expect(hapi("'POST'")).toBeNull();
    // A plugin registered with routes.prefix; a plugin passed as { plugin } is not followed, so not used.
    const plugin = {
      'health.js':
        "exports.plugin = { name: 'health', register: async (server) => { server.route({ method: 'GET', path: '/health', handler: () => 'ok' }) } };",
    };
    expect(
      probe({
        ...plugin,
        'server.js': "const server = Hapi.server({ host: '0.0.0.0' }); await server.register(require('./health'), { routes: { prefix: '/ops' } });",
      }).path,
    ).toBe('/ops/health');
    expect(
      probe({
        ...plugin,
        'server.js': "const server = Hapi.server({ host: '0.0.0.0' }); await server.register({ plugin: require('./health'), routes: { prefix: '/ops' } });",
      }).path,
    ).toBeNull();
    // http.request options carry a method and a path too, but no handler: not a route.
    expect(probe({ 'server.js': "http.request({ method: 'GET', path: '/health', host })" }).path).toBeNull();
  });

  test('NestJS: controller and method paths, the global prefix, controllers no module lists, RouterModule', () => {
    const module = '@Module({ controllers: [HealthController] }) export class AppModule {}';
    expect(
      probe({ 'src/health.controller.ts': "@Controller({ path: 'health' }) export class HealthController { @Get() check() {} }", 'src/app.module.ts': module })
        .path,
    ).toBe('/health');
    expect(
      probe({
        'src/health.controller.ts': "@Controller() export class HealthController { @Get(['healthz', 'health']) check() {} }",
        'src/app.module.ts': module,
      }).path,
    ).toBe('/healthz');
    const unlisted = probe({ 'src/health.controller.ts': "@Controller('health') export class HealthController { @Get() check() {} }" });
    expect(unlisted.path).toBeNull();
    expect(unlisted.unresolved[0]).toMatchObject({ path: '/health', why: expect.stringContaining('no module lists HealthController') });
    const routed = probe({
      'src/health.controller.ts': "@Controller('health') export class HealthController { @Get() check() {} }",
      'src/app.module.ts': `${module} RouterModule.register([{ path: 'ops', module: HealthModule }])`,
    });
    expect(routed.path).toBeNull();
    expect(routed.unresolved[0]!.why).toContain('RouterModule');
  });

  test('no routes at all: a TCP probe', () => {
    expect(probe({ 'server.js': 'nothing' })).toMatchObject({ path: null, found: 'no health route found and nothing answers GET / (no GET routes found)' });
  });
});

describe('listening on localhost', () => {
  const warnings = (text: string) => detectProject(facts({}, { 'server.js': text })).warnings;
  test('a literal localhost host, in listen() or a server option, is warned about', () => {
    expect(warnings("app.listen(3000, '127.0.0.1')")).toEqual([expect.stringMatching(/^server\.js:1: listens on host '127\.0\.0\.1'/)]);
    expect(warnings("const server = Hapi.server({ port: 3000, host: 'localhost' })")).toHaveLength(1);
    expect(warnings("app.listen(3000, '0.0.0.0')")).toEqual([]);
  });
  test('fastify without a host listens on localhost; with one it does not', () => {
    expect(warnings('const app = Fastify(); app.listen({ port: 3000 })')).toHaveLength(1);
    expect(warnings("const app = Fastify(); app.listen({ port: 3000, host: '0.0.0.0' })")).toEqual([]);
    expect(warnings('const app = Fastify(); app.listen({ port: 3000, host: process.env.HOST })')).toEqual([]);
    expect(warnings('const app = express(); app.listen(3000)')).toEqual([]);
  });
});

describe('frontend', () => {
  test('a build script with a bundler dependency', () => {
    expect(detectProject(facts({ scripts: { build: 'vite build' }, devDependencies: { vite: '^5' } })).frontend).toEqual({
      build: 'npm run build',
      dir: 'dist',
      source: 'package.json scripts.build and the vite dependency',
    });
    expect(detectProject(facts({ scripts: { build: 'react-scripts build' }, dependencies: { 'react-scripts': '5' } })).frontend?.dir).toBe('build');
  });
  test('a backend build (tsc) is not a frontend', () => {
    expect(detectProject(facts({ scripts: { build: 'tsc' }, devDependencies: { typescript: '5' } })).frontend).toBeUndefined();
  });
  test('a bundler without a build script is not a frontend', () => {
    expect(detectProject(facts({ scripts: { start: 'node x.js' }, devDependencies: { webpack: '5' } })).frontend).toBeUndefined();
  });
  test('a frontend/ directory: the root script that builds it, its own package.json, or as it is', () => {
    expect(detectProject(facts({ scripts: { 'build:frontend': 'node frontend/build.mjs' } }, {}, ['frontend'])).frontend).toMatchObject({
      build: 'npm run build:frontend',
      dir: 'frontend/dist',
    });
    expect(detectProject(facts({}, { 'frontend/package.json': '{"scripts":{"build":"vite build"}}' }, ['frontend'])).frontend).toMatchObject({
      build: expect.stringContaining('--prefix frontend'),
      dir: 'frontend/dist',
    });
    expect(detectProject(facts({}, {}, ['frontend'])).frontend).toMatchObject({ build: undefined, dir: 'frontend' });
  });
});

describe('generated files', () => {
  test.each([
    ['with a frontend', { scripts: { build: 'vite build' }, devDependencies: { vite: '5' }, name: '@acme/web-shop' }],
    ['without a frontend', { name: 'api' }],
  ])('gantry.yaml %s passes validation and the pipeline names the right components', (_n, pkg) => {
    const d = detectProject(facts(pkg as PackageJson));
    const plan = { app: d.app.value, port: d.port.value, healthPath: d.probe.path, probeFound: d.probe.found, frontend: d.frontend };
    const config = parseConfigText(renderGantryYaml(plan), 'gantry.yaml', { env: {} });
    expect(config.app).toBe(plan.app);
    expect(Object.keys(config.environments)).toEqual(['staging', 'production', 'review']);
    expect(Boolean(config.frontend)).toBe(Boolean(d.frontend));
    const ci = renderGitlabCi(plan);
    const components = [...ci.matchAll(/component: \$CI_SERVER_FQDN\/devops\/gantry\/(\w+)@1/g)].map((m) => m[1]);
    expect(components).toEqual(d.frontend ? ['backend', 'review', 'frontend'] : ['backend', 'review']);
    expect(ci).toContain(`frontend: ${d.frontend ? 'true' : 'false'}`);
  });

  test('no health route and nothing on /: gantry.yaml turns both probes to TCP and says why', () => {
    const plan = {
      app: 'api',
      port: 4000,
      healthPath: null,
      probeFound: 'no health route found and nothing answers GET / (GET routes found: /api/items)',
      frontend: undefined,
    };
    const text = renderGantryYaml(plan);
    expect(text).toContain('# gantry init: no health route found and nothing answers GET / (GET routes found: /api/items),');
    const config = parseConfigText(text, 'gantry.yaml', { env: {} });
    expect(config.backend.probes).toEqual({ readiness: { tcp: true }, liveness: { tcp: true } });
    expect(config.backend.port).toBe(4000);
  });

  test('no health route but GET /: healthPath / with the reason in a comment', () => {
    const plan = {
      app: 'web',
      port: 3000,
      healthPath: '/',
      probeFound: "no health route found; GET / is served by routes/index.js:5 (router.get('/'))",
      frontend: undefined,
    };
    const text = renderGantryYaml(plan);
    expect(text).toContain("  # gantry init: no health route found; GET / is served by routes/index.js:5 (router.get('/')).\n");
    const config = parseConfigText(text, 'gantry.yaml', { env: {} });
    expect(config.backend.healthPath).toBe('/');
    expect(config.backend.probes).toEqual({});
  });

  test('an odd health path or build command stays one YAML string', () => {
    const plan = { app: 'a1', port: 1, healthPath: '/a: b #c', frontend: { build: 'echo "x: y" # z', dir: 'out dir', source: '' } };
    const config = parseConfigText(renderGantryYaml(plan), 'gantry.yaml', { env: {} });
    expect(config.backend.healthPath).toBe('/a: b #c');
    expect(config.frontend).toMatchObject({ build: 'echo "x: y" # z', dir: 'out dir' });
  });
});
