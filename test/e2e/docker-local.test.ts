// No test may make Docker pull from a public registry: the test helper runs containers with
// `--pull never` and checks a build's base images before building, and the test daemons have a
// closed loopback port as their proxy for every registry off loopback.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireCluster } from '../support/cluster.js';
import { docker, dockerfileBases, isLoopbackImage } from '../support/docker.js';
import { repoRoot } from '../support/fixtures.js';

beforeAll(() => requireCluster());

test('a missing image is not pulled: `docker run` fails at once with "No such image"', () => {
  const missing = `gantry-test/never-built:${process.pid}`;
  const r = docker(['run', '--rm', missing, 'true'], { timeout: 60_000 });
  expect(r.code).not.toBe(0);
  expect(r.output).toContain(`No such image: ${missing}`);
  expect(r.seconds).toBeLessThan(10);
});

test('a build FROM an image that is neither here nor on a loopback registry is refused before Docker starts, naming the image', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-docker-local-'));
  try {
    writeFileSync(path.join(dir, 'Dockerfile'), 'ARG BASE=node:20-bookworm-slim\nFROM ${BASE} AS build\nFROM build\n');
    expect(() => docker(['build', '-t', `gantry-test/refused:${process.pid}`, dir])).toThrow(
      /docker build of .*Dockerfile: node:20-bookworm-slim is not on this machine, and no public registry can be reached here; build it locally first/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the job image's Dockerfile resolves to the build arguments' images, and loopback registries are allowed", () => {
  const bases = dockerfileBases(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'), {
    BASE_IMAGE: '127.0.0.1:5000/gantry/node:20',
    DOCKER_CLI_IMAGE: 'gantry-test/docker-cli:1',
  });
  expect(bases).toEqual(['gantry-test/docker-cli:1', '127.0.0.1:5000/gantry/node:20']);
  expect(dockerfileBases(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'), {})).toEqual(['docker:28-cli', 'node:20-bookworm-slim']);
  expect(['127.0.0.1:5000/gantry/node:20', 'localhost:5001/a/b:1'].map(isLoopbackImage)).toEqual([true, true]);
  expect(['node:20', 'docker.io/library/node:20', 'registry.example.com/a/b:1', 'gantry-test/x:1', '127.0.0.1.nip.io/a:1'].map(isLoopbackImage)).toEqual([
    false,
    false,
    false,
    false,
    false,
  ]);
});

test("the test daemon's proxy for registries off loopback is a closed loopback port, with the loopback registries exempt", () => {
  const r = docker(['info', '--format', '{{.HTTPProxy}} {{.HTTPSProxy}} {{.NoProxy}}'], { timeout: 30_000 });
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe('http://127.0.0.1:9 http://127.0.0.1:9 127.0.0.1,localhost,::1');
});
