// Gantry tried as a new team tries it (issue #11), on two apps made from their frameworks'
// official starters (test/fixtures/starters/: express-generator with a create-vite vanilla
// frontend, @nestjs/cli with a create-vite React frontend; no Dockerfile), following the README's
// "Quick start for a team" step by step: `gantry init`, `gantry validate`, the CI variables and
// `gantry doctor --env staging`, the commit pushed to the project's GitLab (the loopback git
// server, which also serves devops/gantry for the includes init wrote), a push to k8s-backend
// (build + staging deploy: the app answers through its Service), a push to k8s-frontend (the
// frontend in the bucket), a merge request (a preview: backend in <app>-mr-<iid>, frontend under
// previews/mr-<iid>/ loading only its own files, one MR note) and its stop job. Pipelines run
// under gitlab-ci-local (shell executor, this checkout's CLI as `gantry`) against the local
// cluster and htpasswd registry, the OSS and GitLab test servers. Namespaces are this run's own.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { authRegistry, kubectl, namespacedKubeconfig, nodeBaseImage, registryAuth, requireCluster, reviewDeployerKubeconfig } from '../support/cluster.js';
import { fixture } from '../support/fixtures.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { startOssServer, type OssServer } from '../support/oss-server.js';
import { pushProject, startComponentHost, type GitServer } from '../support/git-server.js';
import {
  deleteNamespaces,
  gantryCli,
  htmlReferences,
  jobDotenv,
  jobLog,
  namespaceExists,
  rootAbsolutePaths,
  runPipeline,
  serviceAnswer,
} from '../support/pipeline.js';
import { cliPath, gantryBinDir, git } from '../support/tmp-repo.js';

const run = `${process.pid}`;
const keyId = 'LTAI5tGantryStartersKey';
const secret = 'gantry-starters-secret-0123456789';
const gitlabToken = 'glpat-GantryStartersTest0123';

interface Starter {
  /** test/fixtures/starters/<name>, also its package.json name, so the app name init picks. */
  name: string;
  /** What GET / answers: the starter's own page. */
  home: RegExp;
  /** The probe route init is expected to pick, and why it must: the starter has no health route. */
  probe: string;
  /** The frontend build init is expected to write. */
  frontendBuild: string;
  gitlabProject: number;
  iid: number;
}

const starters: Starter[] = [
  // express-generator --no-view: / is public/index.html through express.static (its router's / would render a view it has no engine for).
  {
    name: 'express-app',
    home: /^200 [\s\S]*Welcome to Express/,
    probe: '/',
    frontendBuild: 'npm --prefix frontend ci && npm --prefix frontend run build',
    gitlabProject: 5101,
    iid: 800000 + (process.pid % 100000),
  },
  // @nestjs/cli new: / is AppController's @Get(), built from TypeScript by `nest build`.
  {
    name: 'nest-app',
    home: /^200 Hello World!$/,
    probe: '/',
    frontendBuild: 'npm --prefix frontend ci && npm --prefix frontend run build',
    gitlabProject: 5102,
    iid: 900000 + (process.pid % 100000),
  },
];

let oss: OssServer;
let gitlab: GitlabServer;
let host: GitServer;
let bin = '';
let reviewDeployer: ReturnType<typeof reviewDeployerKubeconfig> | undefined;
const namespaces: string[] = [];
const dirs: string[] = [];
const timings: string[] = [];

const gantry = gantryCli;

beforeAll(async () => {
  requireCluster();
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: build the CLI first (npx tsc -p tsconfig.json)`);
  bin = gantryBinDir();
  oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: starters.map((s) => `${s.name}-web`) });
  gitlab = await startGitlabServer({
    projects: starters.map((s) => ({ id: s.gitlabProject, path: `acme/${s.name}` })),
    privateTokens: [{ token: gitlabToken, user: { id: 7, username: 'gantry-bot', name: 'Gantry' } }],
  });
  host = await startComponentHost();
  reviewDeployer = reviewDeployerKubeconfig(`start-${run}`);
}, 120_000);

afterAll(async () => {
  await oss?.close();
  await gitlab?.close();
  await host?.close();
  await deleteNamespaces(namespaces);
  reviewDeployer?.remove();
  for (const dir of [...dirs, bin]) if (dir) rmSync(dir, { recursive: true, force: true });
  if (timings.length > 0) console.log(`starters, seconds per step:\n${timings.join('\n')}`);
  // No namespace of this run outlives it, whatever happened in the tests.
  for (const ns of namespaces) expect([ns, namespaceExists(ns)]).toEqual([ns, false]);
}, 240_000);

describe.each(starters)('a team new to Gantry, with the $name starter (no Dockerfile), follows the quick start', (starter) => {
  const app = starter.name;
  const bucket = `${app}-web`;
  const staging = `gt-start-${run}-${app}`;
  const preview = `${app}-mr-${starter.iid}`;
  const previewPrefix = `previews/mr-${starter.iid}/`;
  let repo = '';
  let stagingKubeconfig = '';
  let summary: { app: string; healthPath: string | null; probe: string; components: string[] } | undefined;

  // The project's CI/CD variables. Registry, namespace, OSS endpoint and base image are the test
  // setup's (a team fills in the CHANGE lines or sets the same variables); resources are small for the test node.
  const variables = (extra: Record<string, string>): Record<string, string> => {
    const auth = registryAuth();
    return {
      GANTRY_REGISTRY_PUSH_HOST: authRegistry,
      GANTRY_REGISTRY_PULL_HOST: authRegistry,
      GANTRY_REGISTRY_NAMESPACE: `starters-${run}`,
      GANTRY_REGISTRY_USER: auth.user,
      GANTRY_REGISTRY_PASSWORD: auth.password,
      GANTRY_OSS_ACCESS_KEY_ID: keyId,
      GANTRY_OSS_ACCESS_KEY_SECRET: secret,
      GANTRY_GITLAB_URL: gitlab.url,
      GANTRY_GITLAB_TOKEN: gitlabToken,
      GANTRY_SET: [
        `backend.baseImage=${nodeBaseImage}`,
        `environments.staging.namespace=${staging}`,
        'backend.resources={requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}',
        'environments.review.resources={requests: {cpu: 20m, memory: 64Mi}, limits: {memory: 256Mi}}',
        `frontend.endpoint=${oss.endpoint}`,
      ].join('\n'),
      ...extra,
    };
  };
  const time = (step: string, seconds: number) => timings.push(`${app} ${step}: ${seconds.toFixed(1)}`);
  const bucketKeys = () => [...oss.objects(bucket).keys()];

  /**
   * What a browser opening <prefix>index.html in the bucket would fetch from this build, and the
   * problems: a reference in index.html outside the prefix or to no stored file, and any
   * root-absolute path in the published HTML/JS/CSS that names one of this build's files outside
   * the prefix (it would load the live site's copy).
   */
  function pageProblems(prefix: string): { local: string[]; inside: number; problems: string[] } {
    const objects = oss.objects(bucket);
    const page = objects.get(`${prefix}index.html`);
    if (!page) return { local: [], inside: 0, problems: [`no ${prefix}index.html`] };
    const origin = 'http://bucket.test';
    const base = new URL(`/${prefix}index.html`, origin);
    const local: string[] = [];
    const problems: string[] = [];
    for (const ref of htmlReferences(page.body.toString('utf8'))) {
      if (ref === '' || ref.startsWith('#') || /^(data|mailto|javascript):/i.test(ref)) continue;
      const url = new URL(ref, base);
      if (url.origin !== origin) continue; // another host: not this build's file
      local.push(ref);
      const key = decodeURIComponent(url.pathname.slice(1));
      if (!key.startsWith(prefix)) problems.push(`index.html: ${ref} is outside /${prefix}`);
      else if (!objects.has(key)) problems.push(`index.html: ${ref} names no stored object (${key})`);
    }
    // At the bucket root a root-absolute path is the build's own file; under a prefix it is not.
    let inside = 0;
    if (prefix !== '') {
      const ownFiles = new Set([...objects.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
      for (const [key, object] of objects) {
        if (!key.startsWith(prefix) || !/\.(html|js|mjs|css)$/.test(key)) continue;
        for (const p of rootAbsolutePaths(object.body.toString('utf8'))) {
          if (p.startsWith(`/${prefix}`)) inside += ownFiles.has(decodeURIComponent(p.slice(prefix.length + 1))) ? 1 : 0;
          else if (ownFiles.has(decodeURIComponent(p.slice(1))))
            problems.push(`${key.slice(prefix.length)}: ${p} loads the live site's copy, not /${prefix}${p.slice(1)}`);
        }
      }
    }
    return { local, inside, problems };
  }

  test('gantry init writes gantry.yaml, .gitlab-ci.yml and deploy/; gantry validate passes; the commit goes to the project', async () => {
    repo = mkdtempSync(path.join(tmpdir(), `gantry-starter-${app}-`));
    dirs.push(repo);
    cpSync(fixture('starters', app), repo, { recursive: true });
    rmSync(path.join(repo, 'README.md'), { force: true }); // the fixture's provenance note, not the app's
    // A team's .gitignore; gitlab-ci-local keeps its state in .gitlab-ci-local/.
    writeFileSync(path.join(repo, '.gitignore'), 'node_modules/\n.gitlab-ci-local/\n');
    git(repo, 'init', '-q', '-b', 'k8s-backend');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', `${app} from its generator`);

    const init = await gantry(['init'], repo);
    expect(init.stderr).not.toMatch(/warning/i);
    expect(init.code).toBe(0);
    summary = JSON.parse(init.stdout);
    expect(summary).toMatchObject({ app, healthPath: starter.probe, probe: 'http', components: ['backend', 'review', 'frontend'] });
    const config = YAML.parse(readFileSync(path.join(repo, 'gantry.yaml'), 'utf8'));
    expect(config.frontend).toMatchObject({ build: starter.frontendBuild, dir: 'frontend/dist', bucket });
    const ci = YAML.parse(readFileSync(path.join(repo, '.gitlab-ci.yml'), 'utf8'));
    expect(ci.include.map((i: { component: string }) => i.component)).toEqual(
      ['backend', 'review', 'frontend'].map((n) => `$CI_SERVER_FQDN/devops/gantry/${n}@1`),
    );
    expect(ci.include[1].inputs).toMatchObject({ app, kubeconfig: 'KUBECONFIG_STAGING', bucket, region: 'oss-cn-hangzhou' });

    // No image input: the components' default is the job image Gantry's own pipeline publishes as
    // $CI_REGISTRY/devops/gantry:<major>. (The shell executor runs the jobs on this host: no pull here.)
    expect(ci.include.map((i: { inputs?: { image?: string } }) => i.inputs?.image)).toEqual([undefined, undefined, undefined]);

    const validate = await gantry(['validate'], repo);
    expect(validate.stderr).toContain(`gantry.yaml is valid: app ${app}`);
    expect(validate.code).toBe(0);

    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'gantry init');
    pushProject(host, repo, `acme/${app}`, 'k8s-backend');
  }, 60_000);

  test('with the CI variables set, gantry doctor --env staging passes', async () => {
    kubectl(['create', 'namespace', staging]);
    namespaces.push(staging);
    // A deployer limited to the staging namespace, as a team's KUBECONFIG_STAGING (scope: staging) holds.
    stagingKubeconfig = namespacedKubeconfig(staging);
    const doctor = await gantry(['doctor', '--env', 'staging'], repo, {
      ...variables({ KUBECONFIG_STAGING: stagingKubeconfig }),
      CI_PROJECT_ID: String(starter.gitlabProject),
    });
    expect(doctor.stderr).not.toContain(secret);
    expect([doctor.code, doctor.stderr]).toEqual([0, expect.any(String)]);
  }, 60_000);

  test('a push to k8s-backend builds the image from the generated Dockerfile and deploys it to staging, where the app answers on its probe and on /', async () => {
    expect(existsSync(path.join(repo, 'Dockerfile'))).toBe(false); // gantry build generates one
    const r = await runPipeline(repo, { bin, variables: variables({ KUBECONFIG_STAGING: stagingKubeconfig }) });
    time('push to k8s-backend (gantry-build, deploy-staging)', r.seconds);
    expect(r.output).toContain('PASS  gantry-build');
    expect(r.output).toContain('PASS  deploy-staging');
    expect(r.output).not.toContain(secret);
    expect([r.code, r.code === 0 ? '' : r.output.slice(-6000)]).toEqual([0, '']);
    const built = jobDotenv(repo, 'gantry-build', 'gantry-build.env');
    expect(built.GANTRY_IMAGE).toMatch(new RegExp(`^${authRegistry}/starters-${run}/${app}@sha256:[a-f0-9]{64}$`));
    expect(jobDotenv(repo, 'deploy-staging', 'gantry-deploy.env')).toMatchObject({ GANTRY_IMAGE: built.GANTRY_IMAGE, GANTRY_NAMESPACE: staging });
    expect(kubectl(['-n', staging, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']).trim()).toBe(built.GANTRY_IMAGE);
    expect(await serviceAnswer(staging, app, summary!.healthPath!)).toMatch(/^200 /);
    expect(await serviceAnswer(staging, app, '/')).toMatch(starter.home);
  }, 900_000);

  test('a push to k8s-frontend builds the frontend and publishes it to the bucket, where index.html names only stored files', async () => {
    git(repo, 'switch', '-q', '-c', 'k8s-frontend');
    git(repo, 'push', '-q', 'origin', 'k8s-frontend');
    const r = await runPipeline(repo, { bin, variables: variables({}) });
    time('push to k8s-frontend (gantry-frontend)', r.seconds);
    expect(r.output).toContain('PASS  gantry-frontend');
    expect(r.output).not.toMatch(/(PASS|FAIL)\s+(gantry-build|deploy-staging)\b/);
    expect([r.code, r.code === 0 ? '' : r.output.slice(-6000)]).toEqual([0, '']);
    expect(bucketKeys()).toContain('index.html');
    const page = pageProblems('');
    expect(page.problems).toEqual([]);
    expect(page.local.length).toBeGreaterThanOrEqual(2); // its script and stylesheet at least
  }, 600_000);

  test('a merge request gets a preview: the backend answers in <app>-mr-<iid>, the frontend under previews/mr-<iid>/ loads only its own files; stop-review removes both', async () => {
    git(repo, 'switch', '-q', '-c', 'feature-first-preview', 'k8s-backend');
    git(repo, 'push', '-q', 'origin', 'feature-first-preview');
    gitlab.addMergeRequest(starter.gitlabProject, { iid: starter.iid, title: 'First preview', sourceBranch: 'feature-first-preview' });
    namespaces.push(preview);
    const notes = () =>
      gitlab
        .mergeRequest(starter.gitlabProject, starter.iid)
        .notes.filter((n) => n.body.includes('gantry:review-app'))
        .map((n) => n.body);
    const review = variables({
      CI_PIPELINE_SOURCE: 'merge_request_event',
      CI_MERGE_REQUEST_IID: String(starter.iid),
      CI_PROJECT_ID: String(starter.gitlabProject),
      // KUBECONFIG_STAGING scoped to review/*: a deployer that may create and delete namespaces (examples/rbac).
      KUBECONFIG_STAGING: reviewDeployer!.file,
    });
    const mrArgs = ['--ignore-predefined-vars', 'CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_IID,CI_PROJECT_ID'];
    const r = await runPipeline(repo, { bin, variables: review, args: mrArgs });
    time('merge request pipeline (gantry-build-review, review)', r.seconds);
    expect(r.output).toContain('PASS  gantry-build-review');
    expect(r.output).toContain('PASS  review');
    expect(r.output).not.toContain(secret);
    expect([r.code, r.code === 0 ? '' : r.output.slice(-6000)]).toEqual([0, '']);
    const image = jobDotenv(repo, 'gantry-build-review', 'gantry-build.env').GANTRY_IMAGE!;
    expect(jobDotenv(repo, 'review', 'gantry-deploy.env').GANTRY_NAMESPACE).toBe(preview);
    expect(kubectl(['-n', preview, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']).trim()).toBe(image);
    expect(await serviceAnswer(preview, app, summary!.healthPath!)).toMatch(/^200 /);
    expect(await serviceAnswer(preview, app, '/')).toMatch(starter.home);
    // The frontend build was told where the preview is served.
    expect(jobLog(repo, 'review')).toContain(`GANTRY_PUBLIC_PATH=/${previewPrefix}`);
    expect(bucketKeys()).toContain(`${previewPrefix}index.html`);
    const page = pageProblems(previewPrefix);
    expect(page.problems).toEqual([]);
    expect(page.local.length).toBeGreaterThanOrEqual(2);
    // Its script names its images (and the template's icons) under the prefix too.
    expect(page.inside).toBeGreaterThanOrEqual(page.local.length + 2);
    expect(notes()).toHaveLength(1);
    expect(notes()[0]).toContain(image.split('@')[1]);

    // GitLab runs stop-review without a checkout (GIT_STRATEGY: none), which gitlab-ci-local
    // does not honour: without gantry.yaml the job has only what init put in its inputs.
    rmSync(path.join(repo, 'gantry.yaml'));
    const stop = await runPipeline(repo, { bin, variables: review, args: ['stop-review', ...mrArgs] });
    time('stop-review', stop.seconds);
    expect(stop.output).toContain('PASS  stop-review');
    expect([stop.code, stop.code === 0 ? '' : stop.output.slice(-6000)]).toEqual([0, '']);
    expect(stop.output).toContain(`namespace ${preview} is gone`);
    expect(namespaceExists(preview)).toBe(false);
    expect(bucketKeys().filter((k) => k.startsWith(previewPrefix))).toEqual([]);
    // The live site stays.
    expect(bucketKeys()).toContain('index.html');
    expect(notes()).toHaveLength(1);
    expect(notes()[0]).toMatch(/stopped/i);
  }, 1_200_000);
});
