// The Gantry job image (Dockerfile at the repository root), built the way Gantry's pipeline
// builds it: from `npm pack` of this checkout, installed with `npm install -g`. No public
// registry is reachable here, so the base is the local Node image, the docker CLI comes from
// the host's docker.io package, and the dependencies install offline from an npm cache.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { nodeBaseImage, requireCluster } from '../support/cluster.js';
import { repoRoot } from '../support/fixtures.js';

const tag = `gantry-test/job-image:${process.pid}`;
const cliTag = `gantry-test/docker-cli:${process.pid}`;
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
let built: { code: number | null; output: string; seconds: number };

function docker(args: string[], timeout = 300_000) {
  const started = Date.now();
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, output: `${r.stdout}\n${r.stderr}`, seconds: (Date.now() - started) / 1000 };
}

beforeAll(() => {
  requireCluster();
  const daemon = docker(['version', '--format', '{{.Server.Version}}'], 20_000);
  if (daemon.code !== 0) throw new Error(`no Docker daemon answers: ${daemon.output}; run npm run cluster:up`);
  // An image with a docker CLI at /usr/local/bin/docker (docker:28-cli outside this sandbox).
  const cli = mkdtempSync(path.join(tmpdir(), 'gantry-docker-cli-'));
  copyFileSync('/usr/bin/docker', path.join(cli, 'docker'));
  chmodSync(path.join(cli, 'docker'), 0o755);
  writeFileSync(path.join(cli, 'Dockerfile'), 'FROM scratch\nCOPY docker /usr/local/bin/docker\n');
  const c = docker(['build', '-q', '-t', cliTag, cli]);
  if (c.code !== 0) throw new Error(`docker CLI image: ${c.output}`);
  // The context: the package tarball, and an npm cache for an offline install.
  const context = mkdtempSync(path.join(tmpdir(), 'gantry-image-context-'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', context], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  mkdirSync(path.join(context, 'npm-cache'));
  cpSync(path.join(process.env.npm_config_cache ?? path.join(homedir(), '.npm'), '_cacache'), path.join(context, 'npm-cache', '_cacache'), { recursive: true });
  built = docker(['build', '-f', path.join(repoRoot, 'Dockerfile'), '--build-arg', `BASE_IMAGE=${nodeBaseImage}`, '--build-arg', `DOCKER_CLI_IMAGE=${cliTag}`, '-t', tag, context]);
}, 400_000);

afterAll(() => {
  docker(['rmi', '-f', tag, cliTag], 60_000);
});

describe('the Gantry job image', () => {
  test('builds from npm pack of the checkout and runs the CLI of the package version', () => {
    expect(built.output).toContain(`Successfully tagged ${tag}`);
    expect(built.code).toBe(0);
    const r = docker(['run', '--rm', tag, 'gantry', '--version'], 60_000);
    expect(r.code).toBe(0);
    expect(r.output.trim()).toBe(version);
    expect(docker(['run', '--rm', tag, 'node', '--version'], 60_000).output).toMatch(/^v20\./);
  }, 120_000);

  test("its docker CLI builds an image through the runner's daemon, and gantry renders a project in a job's directory", () => {
    const project = mkdtempSync(path.join(tmpdir(), 'gantry-image-project-'));
    cpSync(path.join(repoRoot, 'examples', 'hello-node'), project, { recursive: true });
    for (const entry of readdirSync(project)) chmodSync(path.join(project, entry), 0o777);
    chmodSync(project, 0o777);
    const r = docker([
      'run', '--rm', '-v', '/var/run/docker.sock:/var/run/docker.sock', '-v', `${project}:/builds/acme/hello-node`, '-w', '/builds/acme/hello-node',
      '-e', 'CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567', '-e', 'CI_COMMIT_REF_NAME=k8s-backend', '-e', `GANTRY_SET=backend.buildArgs.NODE_IMAGE=${nodeBaseImage}`,
      '-e', 'GANTRY_REGISTRY_PUSH_HOST=127.0.0.1:5000', '-e', `GANTRY_REGISTRY_NAMESPACE=job-image-${process.pid}`,
      tag, 'sh', '-c', 'docker version --format "server {{.Server.Version}}" && gantry build --no-push && gantry render --env staging --out rendered',
    ]);
    expect(r.output).toMatch(/server \d+\.\d+/);
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(project, 'rendered', 'deploy.yaml'), 'utf8')).toContain('kind: Deployment');
    // The image gantry build made is in the host's daemon, tagged with the short sha.
    const image = `127.0.0.1:5000/job-image-${process.pid}/hello:01234567`;
    expect(docker(['image', 'inspect', image], 30_000).code).toBe(0);
    docker(['rmi', '-f', image, `127.0.0.1:5000/job-image-${process.pid}/hello:k8s-backend`], 60_000);
  }, 300_000);
});
