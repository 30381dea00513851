// The CI components (templates/*.yml, spec:inputs) and their classic include twins
// (ci-templates/*.yml, variables), included by a project as GitLab resolves them: from the
// loopback git server, where this checkout is devops/gantry at its version tag. The rules that
// keep deploys safe hold in both forms.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { repoRoot } from '../support/fixtures.js';
import { gantryVersion, publishGantry, pushProject, startGitServer, type GitServer } from '../support/git-server.js';
import { exampleRepo } from '../support/tmp-repo.js';

const gcl = path.join(repoRoot, 'test', 'support', 'gitlab-ci-local');
type Job = Record<string, any>;
let server: GitServer;
let project = 0;

beforeAll(async () => {
  server = await startGitServer();
  publishGantry(server);
});
afterAll(() => server?.close());

function expand(ci: string, args: string[] = []): { code: number | null; jobs: Record<string, Job>; output: string } {
  const repo = exampleRepo({ branch: 'k8s-backend', files: { '.gitlab-ci.yml': ci } });
  pushProject(server, repo, `acme/hello-${++project}`, 'k8s-backend');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CI') && !k.startsWith('GITLAB')));
  const r = spawnSync(gcl, ['--no-color', '--preview', ...args], { cwd: repo, env, encoding: 'utf8', timeout: 60_000 });
  const jobs = r.status === 0 ? (YAML.parse(r.stdout) as Record<string, Job>) : {};
  return { code: r.status, jobs, output: `${r.stdout}\n${r.stderr}` };
}

const stages = 'stages: [build, test, deploy, review, production]\n';
const major = gantryVersion.split('.')[0];
// Exactly as README.md and `gantry init` write them.
const components = `${stages}include:
  - component: $CI_SERVER_FQDN/devops/gantry/backend@${major}
    inputs: { image: registry.acme.test/devops/gantry:1.4.2, gantry: npx gantry }
  - component: $CI_SERVER_FQDN/devops/gantry/review@${major}
    inputs: { image: registry.acme.test/devops/gantry:1.4.2, gantry: npx gantry, app: hello, auto_stop_in: 1 week, bucket: acme-hello-web, region: oss-cn-hangzhou }
  - component: $CI_SERVER_FQDN/devops/gantry/frontend@${major}
    inputs: { image: registry.acme.test/devops/gantry:1.4.2, gantry: npx gantry }
  - component: $CI_SERVER_FQDN/devops/gantry/cleanup@${major}
    inputs: { image: registry.acme.test/devops/gantry:1.4.2, gantry: npx gantry }
`;
const classic = `${stages}include:
  - project: devops/gantry
    ref: ${gantryVersion}
    file: [ci-templates/backend.yml, ci-templates/review.yml, ci-templates/frontend.yml, ci-templates/cleanup.yml]
variables:
  GANTRY_JOB_IMAGE: registry.acme.test/devops/gantry:1.4.2
  GANTRY: npx gantry
  GANTRY_REVIEW_APP: hello
`;

describe.each([
  ['the components', () => components],
  ['the classic includes', () => classic],
])('%s', (_name, ci) => {
  let code: number | null = null;
  let jobs: Record<string, Job> = {};
  let output = '';
  let visible: [string, Job][] = [];
  beforeAll(() => {
    ({ code, jobs, output } = expand(ci()));
    visible = Object.entries(jobs).filter(([name, job]) => !name.startsWith('.') && typeof job === 'object' && job && 'script' in job);
  });

  test('define the backend, review, frontend and cleanup jobs', () => {
    expect(output).not.toContain('error');
    expect(code).toBe(0);
    expect(visible.map(([n]) => n).sort()).toEqual(
      [
        'canary-abort-production',
        'canary-promote-production',
        'deploy-staging',
        'gantry-build',
        'gantry-build-review',
        'gantry-cleanup-previews',
        'gantry-frontend',
        'promote-production',
        'review',
        'rollback-production',
        'rollback-staging',
        'stop-review',
      ].sort(),
    );
  });

  test("only builds are interruptible; every deploying job holds its environment's resource group", () => {
    for (const [name, job] of visible) expect([name, job.interruptible === true]).toEqual([name, name.startsWith('gantry-build')]);
    for (const name of ['deploy-staging', 'promote-production', 'rollback-staging', 'rollback-production', 'review', 'stop-review', 'gantry-frontend']) {
      expect([name, typeof jobs[name]!.resource_group]).toEqual([name, 'string']);
    }
    expect(jobs['deploy-staging']!.resource_group).toBe(jobs['rollback-staging']!.resource_group);
    expect(jobs['promote-production']!.resource_group).toBe(jobs['rollback-production']!.resource_group);
    expect(jobs['promote-production']!.resource_group).not.toBe(jobs['deploy-staging']!.resource_group);
  });

  test('a held canary is promoted or aborted by manual jobs that hold the production resource group (#15)', () => {
    for (const [name, command] of [
      ['canary-promote-production', 'promote'],
      ['canary-abort-production', 'abort'],
    ] as const) {
      const job = jobs[name]!;
      expect([name, job.rules[0].when, job.resource_group]).toEqual([name, 'manual', jobs['promote-production']!.resource_group]);
      expect(job.script.join('\n')).toMatch(new RegExp(`(gantry|\\$GANTRY) ${command} --env "(production|\\$GANTRY_BACKEND_PRODUCTION)"`));
    }
    // promote deploys the build's digest (its report), never a rebuild; abort needs nothing.
    expect(jobs['canary-promote-production']!.needs).toEqual(expect.arrayContaining([expect.objectContaining({ job: 'gantry-build', artifacts: true })]));
    expect(jobs['canary-abort-production']!.needs).toEqual([]);
  });

  test("production is a manual promote of the build's digest, never a rebuild", () => {
    const promote = jobs['promote-production']!;
    expect(promote.rules[0].when).toBe('manual');
    expect(promote.needs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ job: 'gantry-build', artifacts: true }),
        expect.objectContaining({ job: 'deploy-staging', artifacts: false }),
      ]),
    );
    expect(promote.script.join('\n')).toMatch(/(gantry|\$GANTRY) deploy --env "(production|\$GANTRY_BACKEND_PRODUCTION)"/);
    expect(promote.script.join('\n')).not.toContain('build');
    expect(jobs['deploy-staging']!.environment.url).toBe('$GANTRY_ENVIRONMENT_URL');
    expect(jobs['deploy-staging']!.artifacts.reports.dotenv).toBe('gantry-deploy.env');
  });

  test('every job runs the job image and the configured command', () => {
    for (const [name, job] of visible) {
      expect([name, job.image?.name ?? job.image]).toEqual([
        name,
        expect.stringMatching(/^(registry\.acme\.test\/devops\/gantry:1\.4\.2|\$GANTRY_JOB_IMAGE)$/),
      ]);
      expect([name, job.script.join('\n')]).toEqual([name, expect.stringMatching(/^(npx gantry|\$GANTRY) /m)]);
    }
  });

  test('the preview registers its environment with a stop job that needs no checkout', () => {
    const review = jobs.review!;
    expect(review.environment).toMatchObject({ name: 'review/$CI_COMMIT_REF_SLUG', url: '$GANTRY_ENVIRONMENT_URL', on_stop: 'stop-review' });
    expect(review.environment.auto_stop_in).toMatch(/^(1 week|\$GANTRY_REVIEW_AUTO_STOP_IN)$/);
    const stop = jobs['stop-review']!;
    expect(stop.variables.GIT_STRATEGY).toBe('none');
    expect(stop.environment).toEqual({ name: 'review/$CI_COMMIT_REF_SLUG', action: 'stop' });
    expect(stop.rules[0].when).toBe('manual');
    expect(stop.needs).toEqual([]);
    expect(stop.script.join(' ')).toMatch(/^(npx gantry|\$GANTRY) stop --env review --app "(hello|\$GANTRY_REVIEW_APP)"/);
    expect(jobs['gantry-cleanup-previews']!.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "schedule"' }]);
  });
});

test('the components declare their inputs', () => {
  const inputs = (name: string) =>
    Object.keys(YAML.parseAllDocuments(readFileSync(path.join(repoRoot, 'templates', `${name}.yml`), 'utf8'))[0]!.toJS().spec.inputs);
  expect(inputs('backend')).toEqual([
    'image',
    'gantry',
    'branch',
    'staging',
    'production',
    'build_stage',
    'deploy_stage',
    'production_stage',
    'dotenv',
    'deploy_flags',
  ]);
  expect(inputs('review')).toEqual([
    'image',
    'gantry',
    'app',
    'namespace',
    'kubeconfig',
    'frontend',
    'bucket',
    'region',
    'endpoint',
    'prefix',
    'auto_stop_in',
    'build_stage',
    'stage',
    'dotenv',
  ]);
  expect(inputs('frontend')).toEqual(['image', 'gantry', 'branch', 'environment', 'stage', 'website']);
  expect(inputs('cleanup')).toEqual(['image', 'gantry', 'stage']);
});

test('the includes are fetched over git from the project devops/gantry at its version tag, and a major version with no release fails naming the ref', () => {
  const before = server.requests().length;
  const { code } = expand(components);
  expect(code).toBe(0);
  const requests = server.requests().slice(before);
  expect(requests).toContain('GET /devops/gantry.git/info/refs?service=git-upload-pack');
  expect(requests.filter((r) => r === 'POST /devops/gantry.git/git-upload-pack').length).toBeGreaterThan(0);
  const missing = expand(components.replaceAll(`@${major}`, '@99'));
  expect(missing.code).not.toBe(0);
  expect(missing.output).toContain(`component: \`${server.host}/devops/gantry/backend@99\` - The ref (99) is invalid`);
});

test('test/support/gitlab-ci-local runs gitlab-ci-local once more after its own component-download race, and passes any other failure through', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-gcl-wrapper-'));
  try {
    // A stand-in that fails as gitlab-ci-local's parallel downloads did in CI, the first time only.
    const fake = path.join(dir, 'fake-gcl');
    writeFileSync(
      fake,
      `#!/bin/sh\nif [ ! -e "${dir}/ran" ]; then touch "${dir}/ran"; echo "Component include could not be fetched { project: devops/gantry }" >&2; echo "cp: cannot create directory '/x/templates': File exists" >&2; exit 1; fi\necho "jobs: $*"\n`,
      { mode: 0o755 },
    );
    const raced = spawnSync(gcl, ['--preview'], { encoding: 'utf8', env: { ...process.env, GANTRY_TEST_GCL: fake } });
    expect(raced.stderr).toContain('its parallel component downloads raced (File exists): running it once more');
    expect(raced.stdout).toBe('jobs: --preview\n');
    expect(raced.status).toBe(0);
    writeFileSync(fake, '#!/bin/sh\necho "This GitLab CI configuration is invalid" >&2\nexit 1\n', { mode: 0o755 });
    const other = spawnSync(gcl, ['--preview'], { encoding: 'utf8', env: { ...process.env, GANTRY_TEST_GCL: fake } });
    expect(other.status).toBe(1);
    expect(other.stderr).toBe('This GitLab CI configuration is invalid\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
