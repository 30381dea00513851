// examples/hello-node's .gitlab-ci.yml, run by gitlab-ci-local with the shell executor, its
// components included from the loopback git server as GitLab includes them: the render jobs of
// templates/render.yml call the real CLI and keep the manifests as artifacts. The deploy jobs
// (backend.yml, review.yml) run against the cluster in pipeline-deploy.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, nodeBaseImage, registryAuth } from '../support/cluster.js';
import { parseDotenv, repoRoot } from '../support/fixtures.js';
import { startComponentHost, type GitServer } from '../support/git-server.js';
import { exampleRepo, gantryBinDir, git } from '../support/tmp-repo.js';

const gcl = path.join(repoRoot, 'test', 'support', 'gitlab-ci-local');
let host: GitServer;
beforeAll(async () => {
  host = await startComponentHost();
});
afterAll(() => host?.close());

// The CI variables a team sets, pointed at the local registry with htpasswd auth.
function registryVariables(): string[] {
  const auth = registryAuth();
  return [
    `GANTRY_REGISTRY_PUSH_HOST=${authRegistry}`,
    `GANTRY_REGISTRY_PULL_HOST=${authRegistry}`,
    'GANTRY_REGISTRY_NAMESPACE=pipeline',
    `GANTRY_REGISTRY_USER=${auth.user}`,
    `GANTRY_REGISTRY_PASSWORD=${auth.password}`,
    `GANTRY_SET=backend.buildArgs.NODE_IMAGE=${nodeBaseImage}`,
  ].flatMap((v) => ['--variable', v]);
}

function runPipeline(repo: string, args: string[] = []) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB') && !k.startsWith('GANTRY')));
  const r = spawnSync(gcl, ['--no-color', '--shell-isolation', '--force-shell-executor', '--no-artifacts-to-source', ...registryVariables(), ...args], {
    cwd: repo,
    env: { ...env, PATH: `${gantryBinDir()}:${process.env.PATH}` },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  return { code: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe('the example pipeline under gitlab-ci-local', () => {
  test('on k8s-backend the image is built and pushed once, and both render jobs pin its digest', () => {
    const repo = exampleRepo({ branch: 'k8s-backend', host });
    const sha = git(repo, 'rev-parse', 'HEAD');
    const run = runPipeline(repo, ['gantry-build', 'gantry-render-staging', 'gantry-render-production']);
    expect(run.output).toContain('PASS  gantry-build');
    expect(run.output).toContain('PASS  gantry-render-staging');
    expect(run.code).toBe(0);
    const built = parseDotenv(
      readFileSync(path.join(repo, '.gitlab-ci-local', 'artifacts', 'gantry-build', '.gitlab-ci-reports', 'dotenv', 'gantry-build.env'), 'utf8'),
    );
    expect(built.GANTRY_IMAGE).toMatch(new RegExp(`^${authRegistry}/pipeline/hello@sha256:[a-f0-9]{64}$`));
    for (const env of ['staging', 'production']) {
      const dir = path.join(repo, '.gitlab-ci-local', 'artifacts', `gantry-render-${env}`, 'rendered', env);
      const objects = ['deploy.yaml', 'svc.yaml'].flatMap((f) => YAML.parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()));
      const deployment = objects.find((o) => o.kind === 'Deployment');
      expect(deployment.metadata.namespace).toBe(`hello-${env}`);
      // The CLI saw the pipeline's CI variables.
      expect(deployment.metadata.annotations['gantry.dev/commit']).toBe(sha);
      expect(deployment.metadata.annotations['gantry.dev/pipeline-url']).toMatch(new RegExp(`^${host.url}/acme/hello-node/pipelines/\\d+$`));
      expect(deployment.spec.template.spec.containers[0].image).toBe(built.GANTRY_IMAGE);
    }
    const production = readFileSync(
      path.join(repo, '.gitlab-ci-local', 'artifacts', 'gantry-render-production', 'rendered', 'production', 'deploy.yaml'),
      'utf8',
    );
    expect(production).toContain('kind: HorizontalPodAutoscaler');
    expect(production).toContain('k8s.aliyun.com/eci-fail-strategy: fail-fast');
  });

  test('a broken gantry.yaml fails the job with the problems in the job log', () => {
    const repo = exampleRepo({ host });
    writeFileSync(path.join(repo, 'gantry.yaml'), readFileSync(path.join(repo, 'gantry.yaml'), 'utf8').replace('port: 3000', 'port: "3000x"'));
    git(repo, 'commit', '-qam', 'break the config');
    const run = runPipeline(repo, ['gantry-render-staging']);
    expect(run.code).toBe(1);
    expect(run.output).toContain('FAIL  gantry-render-staging');
    const log = readFileSync(path.join(repo, '.gitlab-ci-local', 'output', 'gantry-render-staging.log'), 'utf8');
    expect(log).toContain('error E_CONFIG_INVALID');
    expect(log).toContain('backend.port');
    expect(existsSync(path.join(repo, '.gitlab-ci-local', 'artifacts', 'gantry-render-staging', 'rendered', 'staging', 'deploy.yaml'))).toBe(false);
  });

  test('off the deploy branch no image is built', () => {
    const repo = exampleRepo({ branch: 'feature-x', host });
    const run = runPipeline(repo, ['--list']);
    expect(run.code).toBe(0);
    expect(run.output).not.toContain('gantry-build');
    expect(run.output).toContain('gantry-render-staging');
  });

  test('the components declare their inputs', () => {
    const inputs = (name: string) =>
      Object.keys(YAML.parseAllDocuments(readFileSync(path.join(repoRoot, 'templates', `${name}.yml`), 'utf8'))[0]!.toJS().spec.inputs);
    expect(inputs('render')).toEqual(['environment', 'stage', 'gantry', 'out']);
    expect(inputs('build')).toEqual(['stage', 'branch', 'gantry', 'dotenv']);
  });
});
