// The files `gantry init` writes: gantry.yaml, .gitlab-ci.yml including Gantry's components,
// and a deploy/ skeleton for template overrides. Pure: same detection, same bytes.
import { dnsLabel } from '../names/names.js';
import { gantryVersion } from '../paths.js';
import type { FrontendDetection } from './detect.js';
import { urlEnvName, type ProposedService } from './services.js';

export interface InitPlan {
  app: string;
  port: number;
  /** The path the probes GET; null: the probes check that the port accepts TCP connections. */
  healthPath: string | null;
  /** What detection found, written above the probe settings so the file says why. */
  probeFound?: string | undefined;
  frontend: FrontendDetection | undefined;
  /** The services: block proposed from the app's drivers (none: no services: written). */
  services?: ProposedService[] | undefined;
}

/** The GitLab CI components the generated pipeline includes, in order. */
export function componentsFor(plan: InitPlan): string[] {
  return plan.frontend ? ['backend', 'review', 'frontend'] : ['backend', 'review'];
}

export const COMPONENT_PREFIX = '$CI_SERVER_FQDN/devops/gantry';
/** The components' version a new pipeline pins: this CLI's major version, so the components and the job image match the CLI that wrote them. */
export function componentVersion(): string {
  return gantryVersion().split('.')[0]!;
}

const q = (value: string) => JSON.stringify(value);

/** A bucket name to start from; the user replaces it with theirs. */
export function placeholderBucket(app: string): string {
  return dnsLabel(`${app}-web`, 63);
}

export function renderGantryYaml(plan: InitPlan): string {
  const { app } = plan;
  const lines = [
    '# yaml-language-server: $schema=node_modules/gantry/schema/gantry.schema.json',
    '# Gantry deploy configuration, written by `gantry init`. Check it with `npx gantry validate`',
    '# and the CI variables and cluster rights with `npx gantry doctor --env staging`.',
    '# Reference: the "gantry.yaml reference" section of Gantry\'s README.',
    `app: ${app}`,
    '',
    '# The container registry CI pushes to (ACR). Credentials: masked CI variables',
    '# GANTRY_REGISTRY_USER and GANTRY_REGISTRY_PASSWORD. CHANGE: your region and ACR namespace.',
    'registry:',
    '  pushHost: registry.cn-hangzhou.aliyuncs.com',
    '  # the cluster pulls from the -vpc twin of an ACR host unless pullHost says otherwise',
    `  namespace: ${app}`,
    '',
    'backend:',
    `  port: ${plan.port}`,
    ...probeLines(plan),
    '  replicas: 1',
    '  resources:',
    '    requests: { cpu: 250m, memory: 256Mi }',
    '    limits: { cpu: "1", memory: 512Mi }',
    '  # env: { LOG_LEVEL: info }   (secrets: CI variables named K8S_SECRET_<NAME>)',
    ...servicesLines(plan),
  ];
  if (plan.frontend) {
    lines.push(
      '',
      '# The frontend bundle published to OSS. Credentials: masked CI variables',
      '# GANTRY_OSS_ACCESS_KEY_ID and GANTRY_OSS_ACCESS_KEY_SECRET. CHANGE: your bucket and region.',
      'frontend:',
      ...(plan.frontend.build ? [`  build: ${q(plan.frontend.build)}`] : ['  # build: npm run build']),
      `  dir: ${q(plan.frontend.dir)}`,
      `  bucket: ${placeholderBucket(app)}`,
      '  region: oss-cn-hangzhou',
    );
  }
  lines.push(
    '',
    '# Each environment reads its kubeconfig from a CI variable (default KUBECONFIG_<ENV>).',
    'environments:',
    '  # Every push to the k8s-backend branch deploys here.',
    '  staging:',
    '    cluster: ack',
    '    kubeconfig: KUBECONFIG_STAGING',
    `    namespace: ${dnsLabel(`${app}-staging`)}`,
    '    branch: k8s-backend',
    `    # domain: staging.${app}.example.com   (creates an Ingress)`,
    ...managedBindingLines(plan, 'staging'),
    '  # A manual promote of the digest staging runs (never a rebuild).',
    '  production:',
    '    cluster: ack',
    '    kubeconfig: KUBECONFIG_PRODUCTION',
    `    namespace: ${dnsLabel(`${app}-production`)}`,
    '    manual: true',
    '    replicas: 2',
    `    # domain: ${app}.example.com`,
    '    # autoscale: { min: 2, max: 10, cpu: 70 }',
    ...managedBindingLines(plan, 'production'),
    '  # A preview per merge request in its own namespace (<app>-mr-<iid>), removed by stop-review.',
    '  review:',
    '    cluster: ack',
    '    kubeconfig: KUBECONFIG_STAGING',
    '    autoStopIn: 3 days',
    '    replicas: 1',
    '    # requests are always set: Elastic Container Instances bill 2 vCPU / 4 GiB without them',
    '    resources:',
    '      requests: { cpu: 100m, memory: 128Mi }',
    '      limits: { memory: 256Mi }',
    `    # domain: mr-{iid}.review.${app}.example.com   ({iid} keeps every preview's host apart)`,
    ...(plan.services?.length
      ? [
          '    # each preview runs its own instance of every service, removed with it',
          '    services:',
          ...plan.services.map((s) => `      ${s.name}: instance`),
        ]
      : []),
    '',
  );
  return lines.join('\n');
}

/** services: as detected from the drivers; previews get instances of them (environments.review.services). */
function servicesLines(plan: InitPlan): string[] {
  if (!plan.services?.length) return [];
  return [
    '',
    `# gantry init: the app's drivers need ${plan.services.map((s) => `${s.kind} (${s.from})`).join(', ')}.`,
    '# The app gets each connection as environment variables (DATABASE_URL, MYSQL_HOST..., MONGODB_URI,',
    '# REDIS_URL; names overridable with env:) from a Secret Gantry writes.',
    'services:',
    ...plan.services.flatMap((s) => [
      `  ${s.name}:`,
      `    kind: ${s.kind}`,
      `    version: ${q(s.version)}`,
      ...(s.env ? [`    env: { url: ${s.env.url} }`] : []),
    ]),
  ];
}

/**
 * Staging and production bind to managed databases by a CI variable named here: gantry validate
 * wants a binding for every service, and a deploy without the variable says which one to add.
 */
function managedBindingLines(plan: InitPlan, env: 'staging' | 'production'): string[] {
  if (!plan.services?.length) return [];
  const prefix = env.toUpperCase();
  return [
    '    # CHANGE: each service is your managed database (RDS, ApsaraDB for MongoDB, Tair): add a masked',
    '    # CI variable holding its VPC URL, or bind an existing Secret ({ secret: <name>, key: url }).',
    '    services:',
    ...plan.services.map((s) => `      ${s.name}: { variable: ${prefix}_${urlEnvName(s)} }`),
  ];
}

/** backend.healthPath, or TCP probes when the app answers nothing a probe may GET; with the reason. */
function probeLines(plan: InitPlan): string[] {
  const found = plan.probeFound?.replace(/\s+/g, ' ').trim();
  if (plan.healthPath === null) {
    return [
      `  # gantry init: ${found ?? 'no health route found'},`,
      `  # so the probes check that port ${plan.port} accepts TCP connections. Once the app answers a`,
      '  # health route (e.g. GET /healthz with 200), set healthPath to it and delete these probes.',
      '  probes:',
      '    readiness: { tcp: true }',
      '    liveness: { tcp: true }',
    ];
  }
  const lines = found ? [`  # gantry init: ${found}.`] : [];
  if (plan.healthPath === '/' && found?.startsWith('no health route')) {
    lines.push(
      '  # / must answer 2xx/3xx without a login. A route that answers 200 without calling',
      '  # databases (e.g. GET /healthz) makes a better probe: add one and set it here.',
    );
  }
  return [...lines, `  healthPath: ${q(plan.healthPath)}`];
}

export function renderGitlabCi(plan: InitPlan): string {
  const component = (name: string) => `  - component: ${COMPONENT_PREFIX}/${name}@${componentVersion()}`;
  const lines = [
    "# Written by `gantry init`: Gantry's CI components do the work, gantry.yaml says how.",
    '# backend:  a push to k8s-backend builds the image once, deploys staging, and offers a manual',
    '#           promote of the same digest to production (and rollbacks).',
    '# review:   every merge request gets a preview (its own namespace) and a stop job.',
    ...(plan.frontend ? ['# frontend: a push to k8s-frontend publishes the frontend to OSS, index.html last.'] : []),
    '# CI/CD variables: GANTRY_REGISTRY_USER, GANTRY_REGISTRY_PASSWORD, KUBECONFIG_STAGING,',
    `#   KUBECONFIG_PRODUCTION${plan.frontend ? ', GANTRY_OSS_ACCESS_KEY_ID, GANTRY_OSS_ACCESS_KEY_SECRET' : ''}, GANTRY_GITLAB_TOKEN`,
    '#   (check them with `npx gantry doctor --env staging`).',
    'stages: [build, deploy, review, production]',
    '',
    'include:',
    component('backend'),
    '    inputs:',
    '      branch: k8s-backend',
    '      staging: staging',
    '      production: production',
    component('review'),
    '    inputs:',
    `      app: ${plan.app}`,
    '      kubeconfig: KUBECONFIG_STAGING',
    `      frontend: ${plan.frontend ? 'true' : 'false'}`,
    ...(plan.frontend ? [`      bucket: ${placeholderBucket(plan.app)}`, '      region: oss-cn-hangzhou'] : []),
  ];
  if (plan.frontend) {
    lines.push(component('frontend'), '    inputs:', '      branch: k8s-frontend', '      environment: staging');
  }
  lines.push('');
  return lines.join('\n');
}

export function renderDeployReadme(): string {
  return `# deploy/: your overrides of Gantry's manifest templates

Gantry renders two files per environment from Handlebars templates:

- \`deploy.yaml.hbs\`: the Deployment, its ConfigMap and the HorizontalPodAutoscaler
- \`svc.yaml.hbs\`: the Service (and its SLB) and the Ingress

Gantry's own templates are used until you put a file of the same name here. To change one,
copy it from Gantry and edit the copy:

\`\`\`sh
cp node_modules/gantry/deploy/deploy.yaml.hbs deploy/
cp node_modules/gantry/deploy/svc.yaml.hbs deploy/
\`\`\`

Files in \`deploy/partials/*.hbs\` are registered as partials (\`{{> name}}\`) and override
Gantry's partials of the same name. Keep Gantry's labels and annotations on every object:
history, rollback and preview cleanup find objects by them.

Check the result without a cluster: \`npx gantry render --env staging --out rendered\`.
An override is yours to keep up to date when Gantry's templates change; delete it to go back
to Gantry's.
`;
}
