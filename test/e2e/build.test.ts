// gantry build against the real Docker engine and the real htpasswd registry of test/cluster.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { authRegistry, nodeBaseImage, registryAuth } from '../support/cluster.js';
import { fixture, parseDotenv, repoRoot } from '../support/fixtures.js';
import { dockerOk } from '../support/docker.js';
import { cliPath, exampleRepo, git } from '../support/tmp-repo.js';

const namespace = `e2e${process.pid}`;
const registryUser = registryAuth();
const auth = { REGISTRY_USER: registryUser.user, REGISTRY_PASSWORD: registryUser.password };

function gantryBuild(repo: string, env: Record<string, string> = {}, args: string[] = []) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const r = spawnSync(process.execPath, [cliPath, 'build', ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: {
      ...base,
      GANTRY_REGISTRY_PUSH_HOST: authRegistry,
      GANTRY_REGISTRY_PULL_HOST: authRegistry,
      GANTRY_REGISTRY_NAMESPACE: namespace,
      GANTRY_REGISTRY_USER: auth.REGISTRY_USER,
      GANTRY_REGISTRY_PASSWORD: auth.REGISTRY_PASSWORD,
      GANTRY_SET: `backend.baseImage=${nodeBaseImage}\nbackend.buildArgs.NODE_IMAGE=${nodeBaseImage}`,
      ...env,
    },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

function dotenv(repo: string): Record<string, string> {
  return parseDotenv(readFileSync(path.join(repo, 'gantry-build.env'), 'utf8'));
}

async function registryDigest(repository: string, tag: string): Promise<string | null> {
  const r = await fetch(`http://${authRegistry}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      authorization: `Basic ${Buffer.from(`${auth.REGISTRY_USER}:${auth.REGISTRY_PASSWORD}`).toString('base64')}`,
      accept: 'application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  return r.headers.get('docker-content-digest');
}

/** Runs the image, returns the body of GET path, and removes the container. */
async function runAndGet(image: string, port: number, urlPath: string): Promise<{ status: number; body: string }> {
  const id = dockerOk(['run', '-d', '-p', `127.0.0.1::${port}`, image]).trim();
  try {
    const hostPort = execFileSync('docker', ['port', id, String(port)], { encoding: 'utf8' })
      .trim()
      .split(':')
      .pop();
    for (let i = 0; i < 40; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${hostPort}${urlPath}`, { signal: AbortSignal.timeout(1000) });
        return { status: r.status, body: await r.text() };
      } catch {
        await new Promise((res) => setTimeout(res, 250));
      }
    }
    throw new Error(`container ${image} did not answer; logs:\n${execFileSync('docker', ['logs', id], { encoding: 'utf8' })}`);
  } finally {
    execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  }
}

describe('gantry build', () => {
  test("the example's own Dockerfile: pushed with auth, and the dotenv digest is the registry's", async () => {
    const repo = exampleRepo({ branch: 'k8s-backend' });
    const sha = git(repo, 'rev-parse', 'HEAD').slice(0, 8);
    const r = gantryBuild(repo);
    expect(r.stderr).toContain(`logged in to ${authRegistry}`);
    expect(r.code).toBe(0);
    const env = dotenv(repo);
    expect(env.GANTRY_IMAGE).toMatch(new RegExp(`^${authRegistry}/${namespace}/hello@sha256:[a-f0-9]{64}$`));
    expect(await registryDigest(`${namespace}/hello`, sha)).toBe(env.GANTRY_IMAGE_DIGEST);
    expect(await registryDigest(`${namespace}/hello`, 'k8s-backend')).toBe(env.GANTRY_IMAGE_DIGEST);
    expect(JSON.parse(r.stdout)).toMatchObject({
      digest: env.GANTRY_IMAGE_DIGEST,
      tags: [`${authRegistry}/${namespace}/hello:${sha}`, `${authRegistry}/${namespace}/hello:k8s-backend`],
    });
    expect(r.all).not.toContain(auth.REGISTRY_PASSWORD);
    const served = await runAndGet(env.GANTRY_IMAGE_TAG!, 3000, '/healthz');
    expect(served).toEqual({ status: 200, body: 'ok\n' });
  }, 180_000);

  test('without a Dockerfile one is generated; the image runs as uid 1000 and answers on its health path', async () => {
    const repo = exampleRepo({ remove: ['Dockerfile'] });
    const printed = gantryBuild(repo, {}, ['--print-dockerfile']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`ARG BASE_IMAGE=${nodeBaseImage}`);
    expect(printed.stdout).toContain('CMD ["node","server.js"]');
    expect(printed.stdout).toContain('USER 1000:1000');
    const r = gantryBuild(repo);
    expect(r.code).toBe(0);
    const image = dotenv(repo).GANTRY_IMAGE_TAG!;
    expect(dockerOk(['run', '--rm', image, 'id', '-u']).trim()).toBe('1000');
    expect(await runAndGet(image, 3000, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  }, 180_000);

  test('a TypeScript app is compiled in a build stage and ships without its dev dependencies', async () => {
    const repo = exampleRepo({
      from: fixture('ts-app'),
      files: { 'gantry.yaml': 'app: ts-app\nregistry: { pushHost: example.invalid, namespace: x }\nbackend: { port: 8080 }\nenvironments: { staging: {} }\n' },
    });
    const r = gantryBuild(repo);
    expect(r.stderr).toContain('RUN npm run build');
    expect(r.code).toBe(0);
    const image = dotenv(repo).GANTRY_IMAGE_TAG!;
    expect(await runAndGet(image, 8080, '/')).toEqual({ status: 200, body: 'ts-app dev\n' });
    // Only production dependencies: this app has none, so npm creates no node_modules at all.
    const modules = dockerOk(['run', '--rm', image, 'sh', '-c', 'ls -A node_modules 2>&1; ls -A']);
    expect(modules).not.toContain('typescript');
    expect(modules).toContain('package-lock.json');
    expect(dockerOk(['run', '--rm', image, 'ls', 'dist'])).toContain('server.js');
  }, 300_000);

  test('a source-only change rebuilds from cache and pushes one new layer', () => {
    const repo = exampleRepo({ remove: ['Dockerfile'] });
    expect(gantryBuild(repo).code).toBe(0);
    writeFileSync(path.join(repo, 'server.js'), `${readFileSync(path.join(repo, 'server.js'), 'utf8')}\n// a one-line change\n`);
    git(repo, 'commit', '-qam', 'one-line change');
    const r = gantryBuild(repo);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/RUN npm install --omit=dev[^\n]*\n[^\n]*Using cache/);
    expect(r.stderr.match(/: Pushed$/gm) ?? []).toHaveLength(1);
  }, 240_000);

  test('on a runner with an empty daemon, the pulled branch image supplies the dependency layer', () => {
    // A package.json no other test builds: no other local image can share this layer chain,
    // so a cache hit on the dependency step can only come from the pulled image.
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'examples', 'hello-node', 'package.json'), 'utf8'));
    const repo = exampleRepo({
      remove: ['Dockerfile'],
      branch: `fresh-${process.pid}`,
      files: { 'package.json': JSON.stringify({ ...pkg, description: `fresh runner ${process.pid} ${Date.now()}` }, null, 2) },
    });
    expect(gantryBuild(repo).code).toBe(0);
    const { GANTRY_IMAGE_TAG: first } = dotenv(repo);
    // Forget every local image of this repository, as a fresh dind service would not have them.
    const repository = first!.slice(0, first!.lastIndexOf(':'));
    const ids = execFileSync('docker', ['images', '-q', repository], { encoding: 'utf8' }).split('\n').filter(Boolean);
    execFileSync('docker', ['rmi', '-f', ...new Set(ids)], { stdio: 'ignore' });
    writeFileSync(path.join(repo, 'server.js'), `${readFileSync(path.join(repo, 'server.js'), 'utf8')}\n// changed on another runner\n`);
    git(repo, 'commit', '-qam', 'change');
    const r = gantryBuild(repo);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`(cache from ${repository}:fresh-${process.pid})`);
    expect(r.stderr).toMatch(/RUN npm install --omit=dev[^\n]*\n[^\n]*Using cache/);
  }, 240_000);

  test('a wrong password fails the login with exit 1 and never shows the password', () => {
    const repo = exampleRepo();
    const wrong = 'not-the-password-Xq81';
    const r = gantryBuild(repo, { GANTRY_REGISTRY_PASSWORD: wrong });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error E_REGISTRY_AUTH: ${authRegistry} refused the login of gantry`);
    expect(r.all).not.toContain(wrong);
    expect(r.all).not.toContain(auth.REGISTRY_PASSWORD);
  }, 60_000);

  test('a push without credentials is refused with E_PUSH_DENIED', () => {
    const repo = exampleRepo();
    const r = gantryBuild(repo, { GANTRY_REGISTRY_USER: '', GANTRY_REGISTRY_PASSWORD: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_PUSH_DENIED');
    expect(r.stderr).toContain('set GANTRY_REGISTRY_USER and GANTRY_REGISTRY_PASSWORD');
  }, 120_000);

  test('an unreachable registry is retried a bounded number of times, then E_REGISTRY_UNREACHABLE', () => {
    const repo = exampleRepo();
    const started = Date.now();
    const r = gantryBuild(repo, { GANTRY_REGISTRY_PUSH_HOST: '127.0.0.1:5999', GANTRY_REGISTRY_RETRIES: '2' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_REGISTRY_UNREACHABLE: docker login 127.0.0.1:5999: cannot reach 127.0.0.1:5999');
    expect(r.stderr.match(/retrying \(\d left\)/g)).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  test('a failing build step fails with exit 1 and shows that step and its output', () => {
    const repo = exampleRepo({ files: { Dockerfile: `FROM ${nodeBaseImage}\nRUN echo preparing\nRUN echo "compiling module foo" && exit 3\n` } });
    const r = gantryBuild(repo);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_BUILD_FAILED: docker build failed (Dockerfile)');
    // Gantry's --label flags add a step, so the Dockerfile's third step is "Step 3/4".
    expect(r.stderr).toMatch(/the failing step and its output:\n\s+Step 3\/4 : RUN echo "compiling module foo" && exit 3[\s\S]*compiling module foo/);
    expect(r.stderr).toContain('fix: fix the step shown above in your Dockerfile');
  }, 60_000);

  test('nothing to build from is bad input (exit 2); no daemon at DOCKER_HOST is exit 1 with the fix', () => {
    const empty = exampleRepo({ remove: ['Dockerfile', 'package.json', 'server.js'] });
    const r = gantryBuild(empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error E_BUILD_NO_SOURCE: no Dockerfile and no package.json');
    const noDaemon = gantryBuild(exampleRepo(), { DOCKER_HOST: 'tcp://127.0.0.1:1' });
    expect(noDaemon.code).toBe(1);
    expect(noDaemon.stderr).toContain('error E_DOCKER_UNAVAILABLE: no Docker daemon answers at DOCKER_HOST=tcp://127.0.0.1:1');
    expect(gantryBuild(exampleRepo(), { DOCKER_HOST: 'unix:///var/run/docker.sock' }).code).toBe(0);
  }, 120_000);
});

test('DOCKER_HOST=tcp://... (a docker:dind service) works like the mounted socket', async () => {
  // socat stands in for the dind service: a TCP endpoint in front of the daemon.
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(p));
    });
  });
  const relay = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, 'UNIX-CONNECT:/var/run/docker.sock'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const repo = exampleRepo({ remove: ['Dockerfile'] });
    const r = gantryBuild(repo, { DOCKER_HOST: `tcp://127.0.0.1:${port}` });
    expect(r.stderr).toContain(`at tcp://127.0.0.1:${port}`);
    expect(r.code).toBe(0);
    expect(dotenv(repo).GANTRY_IMAGE).toMatch(/@sha256:[a-f0-9]{64}$/);
  } finally {
    relay.kill();
  }
}, 120_000);
