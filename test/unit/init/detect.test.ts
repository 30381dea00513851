// What gantry init reads from a repository: app name, port, health path, frontend.
import { detectProject, type PackageJson, type ProjectFacts } from '../../../src/init/detect.js';
import { parseConfigText } from '../../../src/config/load.js';
import { renderGantryYaml, renderGitlabCi } from '../../../src/init/files.js';

function facts(pkg: PackageJson, files: Record<string, string> = {}, dirs: string[] = [], dirName = 'my-repo'): ProjectFacts {
  return { dirName, pkg, read: (f) => files[f], isDir: (d) => dirs.includes(d) };
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
    expect(detectProject(facts({}, { 'server.js': 'listen(process.env.PORT)' })).port).toMatchObject({ value: 3000, source: expect.stringContaining('default') });
  });
  test('an out-of-range number is not a port', () => {
    expect(detectProject(facts({}, { 'server.js': 'server.listen(99999)' })).port.value).toBe(3000);
  });
});

describe('health path', () => {
  test('a route the main file answers, else /healthz', () => {
    expect(detectProject(facts({}, { 'server.js': "app.get('/health', ok)" })).healthPath.value).toBe('/health');
    expect(detectProject(facts({}, { 'server.js': "if (url === '/healthz')" })).healthPath.value).toBe('/healthz');
    expect(detectProject(facts({}, { 'server.js': 'nothing' })).healthPath).toMatchObject({ value: '/healthz', source: expect.stringContaining('default') });
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
    expect(detectProject(facts({ scripts: { 'build:frontend': 'node frontend/build.mjs' } }, {}, ['frontend'])).frontend).toMatchObject({ build: 'npm run build:frontend', dir: 'frontend/dist' });
    expect(detectProject(facts({}, { 'frontend/package.json': '{"scripts":{"build":"vite build"}}' }, ['frontend'])).frontend).toMatchObject({ build: expect.stringContaining('--prefix frontend'), dir: 'frontend/dist' });
    expect(detectProject(facts({}, {}, ['frontend'])).frontend).toMatchObject({ build: undefined, dir: 'frontend' });
  });
});

describe('generated files', () => {
  test.each([
    ['with a frontend', { scripts: { build: 'vite build' }, devDependencies: { vite: '5' }, name: '@acme/web-shop' }],
    ['without a frontend', { name: 'api' }],
  ])('gantry.yaml %s passes validation and the pipeline names the right components', (_n, pkg) => {
    const d = detectProject(facts(pkg as PackageJson));
    const plan = { app: d.app.value, port: d.port.value, healthPath: d.healthPath.value, frontend: d.frontend };
    const config = parseConfigText(renderGantryYaml(plan), 'gantry.yaml', { env: {} });
    expect(config.app).toBe(plan.app);
    expect(Object.keys(config.environments)).toEqual(['staging', 'production', 'review']);
    expect(Boolean(config.frontend)).toBe(Boolean(d.frontend));
    const ci = renderGitlabCi(plan);
    const components = [...ci.matchAll(/component: \$CI_SERVER_FQDN\/devops\/gantry\/(\w+)@1/g)].map((m) => m[1]);
    expect(components).toEqual(d.frontend ? ['backend', 'review', 'frontend'] : ['backend', 'review']);
    expect(ci).toContain(`frontend: ${d.frontend ? 'true' : 'false'}`);
  });

  test('an odd health path or build command stays one YAML string', () => {
    const plan = { app: 'a1', port: 1, healthPath: '/a: b #c', frontend: { build: 'echo "x: y" # z', dir: 'out dir', source: '' } };
    const config = parseConfigText(renderGantryYaml(plan), 'gantry.yaml', { env: {} });
    expect(config.backend.healthPath).toBe('/a: b #c');
    expect(config.frontend).toMatchObject({ build: 'echo "x: y" # z', dir: 'out dir' });
  });
});
