// The Gantry job image (Dockerfile at the repository root), built the way Gantry's pipeline
// builds it: from `npm pack` of this checkout, installed with `npm install -g`. No public
// registry is reachable from a container here, so the base is the local Node image, the docker
// CLI comes from the host's docker.io package, and the dependencies install offline from an npm
// cache that this test fills itself (never the machine's own cache, whose content depends on
// what ran on it before).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { authRegistry, nodeBaseImage, registryAuth, requireCluster } from '../support/cluster.js';
import { docker as dockerCli } from '../support/docker.js';
import { repoRoot } from '../support/fixtures.js';
import { checkoutSnapshot } from '../support/git-server.js';
import { git } from '../support/tmp-repo.js';

const tag = `gantry-test/job-image:${process.pid}`;
const cliTag = `gantry-test/docker-cli:${process.pid}`;
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
let built: { code: number | null; output: string; seconds: number };

const docker = (args: string[], timeout = 300_000) => dockerCli(args, { timeout });
/** An npm cache holding exactly what `npm install -g` of the package needs: filled by such an install on this host into an empty cache. */
let npmCache = '';

/**
 * Installs the tarball globally into a throw-away prefix with an empty cache of its own, so the
 * cache ends up holding every package document and tarball that the image's offline
 * `npm install -g` will ask for, whatever this machine's own cache holds.
 */
function fillNpmCache(tarball: string): string {
  const cache = mkdtempSync(path.join(tmpdir(), 'gantry-image-npm-cache-'));
  const prefix = mkdtempSync(path.join(tmpdir(), 'gantry-image-npm-prefix-'));
  try {
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--cache', cache, '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
  return cache;
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
  const tarball = path.join(
    context,
    execFileSync('npm', ['pack', '--silent', '--pack-destination', context], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim()
      .split('\n')
      .pop()!,
  );
  npmCache = fillNpmCache(tarball);
  mkdirSync(path.join(context, 'npm-cache'));
  cpSync(path.join(npmCache, '_cacache'), path.join(context, 'npm-cache', '_cacache'), { recursive: true });
  built = docker([
    'build',
    '-f',
    path.join(repoRoot, 'Dockerfile'),
    '--build-arg',
    `BASE_IMAGE=${nodeBaseImage}`,
    '--build-arg',
    `DOCKER_CLI_IMAGE=${cliTag}`,
    '-t',
    tag,
    context,
  ]);
  rmSync(context, { recursive: true, force: true });
}, 600_000);

afterAll(() => {
  docker(['rmi', '-f', tag, cliTag], 60_000);
  if (npmCache) rmSync(npmCache, { recursive: true, force: true });
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
      'run',
      '--rm',
      '-v',
      '/var/run/docker.sock:/var/run/docker.sock',
      '-v',
      `${project}:/builds/acme/hello-node`,
      '-w',
      '/builds/acme/hello-node',
      '-e',
      'CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567',
      '-e',
      'CI_COMMIT_REF_NAME=k8s-backend',
      '-e',
      `GANTRY_SET=backend.buildArgs.NODE_IMAGE=${nodeBaseImage}`,
      '-e',
      'GANTRY_REGISTRY_PUSH_HOST=127.0.0.1:5000',
      '-e',
      `GANTRY_REGISTRY_NAMESPACE=job-image-${process.pid}`,
      tag,
      'sh',
      '-c',
      'docker version --format "server {{.Server.Version}}" && gantry build --no-push && gantry render --env staging --out rendered',
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

describe("Gantry's own pipeline", () => {
  /** This checkout's files as a fresh commit, as the runner would clone it (node_modules, dist left out). */
  function ownCheckout(): string {
    const dir = checkoutSnapshot('gantry');
    git(dir, 'remote', 'add', 'origin', 'git@gitlab.example.com:devops/gantry.git');
    return dir;
  }

  /** gitlab-ci-local runs `jobs` of Gantry's own .gitlab-ci.yml in `checkout`, shell executor, with `variables`. */
  function ownPipeline(checkout: string, variables: Record<string, string>, jobs: string[], timeout: number): { status: number | null; output: string } {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|DOCKER)/.test(k)));
    const gcl = path.join(repoRoot, 'node_modules', '.bin', 'gitlab-ci-local');
    const args = [
      '--no-color',
      '--shell-isolation',
      '--force-shell-executor',
      '--no-artifacts-to-source',
      ...Object.entries(variables).flatMap(([k, v]) => ['--variable', `${k}=${v}`]),
      ...jobs,
    ];
    const r = spawnSync(gcl, args, { cwd: checkout, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
  }

  async function tagsDigest(repository: string, tag: string, auth: { user: string; password: string }): Promise<string | null> {
    const r = await fetch(`http://${authRegistry}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`,
        accept: 'application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    return r.status === 200 ? r.headers.get('docker-content-digest') : null;
  }

  test('on a release tag, the package and job-image-socket jobs build the job image and push <version> and <major> to the registry, then the release job runs', async () => {
    const checkout = ownCheckout();
    const auth = registryAuth();
    const repository = `gantry-ci-${process.pid}/gantry`;
    const image = `${authRegistry}/${repository}`;
    const major = version.split('.')[0]!;
    // docker login writes here, not into the host's ~/.docker.
    const dockerConfig = mkdtempSync(path.join(tmpdir(), 'gantry-own-docker-'));
    const variables = {
      CI_COMMIT_TAG: version,
      GANTRY_JOB_IMAGE: image,
      CI_REGISTRY: authRegistry,
      CI_REGISTRY_USER: auth.user,
      CI_REGISTRY_PASSWORD: auth.password,
      // The runner's daemon through its socket (job-image-socket), not a docker:dind service.
      GANTRY_IMAGE_DOCKER: 'socket',
      DOCKER_CONFIG: dockerConfig,
      // No public registry here: the local Node image and docker CLI image, and npm's cache offline.
      GANTRY_IMAGE_BUILD_ARGS: `--build-arg BASE_IMAGE=${nodeBaseImage} --build-arg DOCKER_CLI_IMAGE=${cliTag}`,
      GANTRY_IMAGE_NPM_CACHE: npmCache,
    };
    const { status, output } = ownPipeline(checkout, variables, ['package', 'job-image-socket', 'release'], 500_000);
    try {
      expect(output).toContain('PASS  package');
      expect(output).toContain('PASS  job-image-socket');
      expect(output).toContain('PASS  release');
      expect(output).toContain(`Gantry ${version}: components templates/*.yml, classic includes ci-templates/*.yml, job image ${image}:${version}`);
      expect(status).toBe(0);
      expect(output).not.toContain(auth.password);
      // Both tags name one image in the registry.
      const pushed = await tagsDigest(repository, version, auth);
      expect(pushed).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(await tagsDigest(repository, major, auth)).toBe(pushed);
      // Pulled back from the registry (local copies gone), it runs the CLI of the tag's version.
      docker(['rmi', '-f', `${image}:${version}`, `${image}:${major}`], 60_000);
      const pull = docker(['--config', dockerConfig, 'pull', `${image}:${major}`], 120_000);
      expect(pull.code).toBe(0);
      const run = docker(['run', '--rm', `${image}:${major}`, 'gantry', '--version'], 60_000);
      expect(run.output.trim()).toBe(version);
    } finally {
      docker(['rmi', '-f', `${image}:${version}`, `${image}:${major}`], 60_000);
      rmSync(dockerConfig, { recursive: true, force: true });
      rmSync(checkout, { recursive: true, force: true });
    }
  }, 600_000);

  test("a tag that is not package.json's version exactly (v-prefixed too: GitLab resolves components by plain semantic-version tags) fails the package job", () => {
    const checkout = ownCheckout();
    try {
      const { status, output } = ownPipeline(checkout, { CI_COMMIT_TAG: `v${version}` }, ['package'], 300_000);
      expect(output).toContain(`tag v${version} is not package.json's version ${version}`);
      expect(output).toContain('FAIL  package');
      expect(status).not.toBe(0);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  }, 300_000);

  test('the release job is in a pipeline only for a semantic-version tag, with the release keyword naming that tag', () => {
    const checkout = ownCheckout();
    try {
      const preview = (tag: string) => {
        const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|DOCKER)/.test(k)));
        const r = spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'gitlab-ci-local'), ['--no-color', '--preview', '--variable', `CI_COMMIT_TAG=${tag}`], {
          cwd: checkout,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(r.status).toBe(0);
        return r.stdout;
      };
      const jobs = (tag: string) => {
        const r = spawnSync(
          path.join(repoRoot, 'node_modules', '.bin', 'gitlab-ci-local'),
          ['--no-color', '--list-json', '--variable', `CI_COMMIT_TAG=${tag}`],
          {
            cwd: checkout,
            encoding: 'utf8',
            timeout: 60_000,
            env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY|DOCKER)/.test(k))),
          },
        );
        return (JSON.parse(r.stdout) as { name: string; when: string }[]).filter((j) => j.when !== 'never').map((j) => j.name);
      };
      expect(preview(version)).toMatch(/release:\n(?:.*\n)*?\s+tag_name: \$CI_COMMIT_TAG/);
      expect(jobs(version)).toContain('release');
      expect(jobs('v1.0.0')).not.toContain('release');
      expect(jobs('nightly')).not.toContain('release');
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  }, 120_000);
});
