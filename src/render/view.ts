// The data the manifest templates see. Everything is computed here, so templates (including a
// user's own deploy/*.hbs) only place values; every field is present (null when unused), which
// lets templates run in Handlebars strict mode and typos fail loudly.
import { createHash } from 'node:crypto';
import type { CiContext } from '../ci/context.js';
import { gantryError } from '../errors.js';
import { defaultPullHost, imagePath } from '../image/acr.js';
import { formatImageRef, imageTagProblem, parseImageRef, toPullHost } from '../image/ref.js';
import { deployAnnotations, dns1035Label, dnsLabel } from '../names/names.js';
import { resolveEnvironment, type EnvironmentTarget } from '../config/resolve.js';
import { eciSchema, type Config, type EnvironmentConfig, type EnvMap, type Resources } from '../config/schema.js';
import { instanceView, type InstanceView, type SeedFile } from '../services/instance.js';
import { planServices, serviceEnv, servicesChecksum } from '../services/plan.js';

export const SLB = 'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-';
export const ECI = 'k8s.aliyun.com/';

export interface RenderInput {
  config: Config;
  envName: string;
  ci: CiContext;
  /** --image, else GANTRY_IMAGE (the build job's dotenv), else <pullHost>/<namespace>/<app>:<short sha>. */
  image?: string | undefined;
  /** The Secret deploy makes of the K8S_SECRET_* CI variables: envFrom, and a checksum that rolls the pods. */
  secret?: { name: string; checksum: string } | null;
  /** resolveEnvironment(config, envName, ci), when the caller has it already. */
  target?: EnvironmentTarget | undefined;
  /** #14: each instance's seed file, read from the repository by the caller (by service name). */
  seeds?: Record<string, SeedFile> | undefined;
  /** #14: the CI variables, for the checksum of managed services' URLs (rolls the pods when one changes). */
  env?: NodeJS.ProcessEnv | undefined;
  /** #14: the URLs of services bound to a Secret, as deploy read them (by service name). */
  serviceUrls?: Record<string, string> | undefined;
}

type K8sObject = Record<string, unknown>;

export interface View {
  app: string;
  environment: { name: string; cluster: 'ack' | 'ask'; namespace: string; review: boolean };
  names: { deployment: string; container: string; configMap: string; service: string; ingress: string; hpa: string };
  labels: Record<string, string>;
  selector: Record<string, string>;
  annotations: Record<string, string>;
  /** kubernetes.io/change-cause on the Deployment, shown by kubectl rollout history. */
  changeCause: string;
  pod: { labels: Record<string, string>; annotations: Record<string, string> };
  image: string;
  imagePullPolicy: string;
  imagePullSecrets: { name: string }[];
  replicas: number | null;
  revisionHistoryLimit: number;
  progressDeadlineSeconds: number;
  terminationGracePeriodSeconds: number;
  strategy: K8sObject;
  container: K8sObject;
  initContainers: K8sObject[];
  sidecars: K8sObject[];
  volumes: K8sObject[];
  configMapData: Record<string, string>;
  autoscale: { minReplicas: number; maxReplicas: number; metrics: K8sObject[] } | null;
  service: { type: string; ports: K8sObject[]; annotations: Record<string, string>; externalTrafficPolicy: string | null };
  ingress: { host: string; className: string; tlsSecret: string | null; annotations: Record<string, string>; servicePort: number } | null;
  ci: { sha: string; shortSha: string; pipelineUrl: string; mrIid: string | null; branch: string };
  /** #14: the service instances this environment runs (services.yaml). */
  services: InstanceView[];
}

export function buildView(input: RenderInput): View {
  const { config, envName, ci } = input;
  const target = input.target ?? resolveEnvironment(config, envName, ci);
  const { env, review } = target;
  if (review && !ci.mrIid) {
    throw gantryError('E_MR_MISSING', { needs: 'review', saysWhereCiSetsIt: true });
  }
  const app = config.app;
  const { namespace, labels, selector } = target;
  const annotations = deployAnnotations(ci);

  const image = resolveImage(input);
  const pinned = image.includes('@sha256:');
  // Serverless clusters always get the ECI annotations, with the schema's defaults if unset.
  const eci = env.eci ?? (env.cluster === 'ask' ? eciSchema.parse({}) : undefined);

  // Plain env goes into the ConfigMap; PORT is set for Node apps unless the user sets it.
  const env_ = { ...config.backend.env, ...(env.env ?? {}) };
  const configMapData: Record<string, string> = { PORT: String(config.backend.port) };
  const envRefs: K8sObject[] = [];
  for (const [name, value] of Object.entries(env_)) {
    if (typeof value === 'object') envRefs.push({ name, valueFrom: envSource(value) });
    else configMapData[name] = String(value);
  }
  const sortedData = Object.fromEntries(Object.entries(configMapData).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const checksum = createHash('sha256').update(JSON.stringify(sortedData)).digest('hex');

  const names = {
    deployment: app,
    container: dns1035Label(app),
    // Named by its content and immutable: each revision's pod template names its own env, so a
    // rollback brings back the env that revision ran with, not the newest one.
    configMap: dnsLabel(`${app}-env-${checksum.slice(0, 10)}`),
    service: dns1035Label(app),
    ingress: app,
    hpa: app,
  };
  const envFrom: K8sObject[] = [
    { configMapRef: { name: names.configMap } },
    ...(input.secret ? [{ secretRef: { name: input.secret.name } }] : []),
    ...config.backend.envFrom.map((ref) => {
      const target = { name: 'configMap' in ref ? ref.configMap : ref.secret, ...(ref.optional !== undefined ? { optional: ref.optional } : {}) };
      return {
        ...(ref.prefix !== undefined ? { prefix: ref.prefix } : {}),
        ...('configMap' in ref ? { configMapRef: target } : { secretRef: target }),
      };
    }),
  ];

  // #14: the services' settings follow the user's own env entries; an instance's come from
  // references the kubelet expands, so they need no cluster DNS and hold no password.
  const plans = planServices(config, envName);
  envRefs.push(...(serviceEnv(plans, names.deployment, input.env ?? {}, input.serviceUrls) as unknown as K8sObject[]));

  const logs = env.cluster === 'ask' && eci?.logs?.enabled ? eci.logs : undefined;
  const logVolume = 'app-logs';
  const resources = resourcesFor(target.resources);
  const container: K8sObject = {
    name: names.container,
    image,
    imagePullPolicy: config.backend.imagePullPolicy ?? (pinned ? 'IfNotPresent' : 'Always'),
    ...(config.backend.command ? { command: config.backend.command } : {}),
    ...(config.backend.args ? { args: config.backend.args } : {}),
    ports: [{ name: 'http', containerPort: config.backend.port, protocol: 'TCP' }],
    envFrom,
    ...(envRefs.length > 0 ? { env: envRefs } : {}),
    resources,
    ...probes(config),
    ...(logs ? { volumeMounts: [{ name: logVolume, mountPath: logs.path }] } : {}),
  };

  const initContainers = config.backend.initContainers.map((init) => ({
    name: init.name,
    image: init.image ?? image,
    imagePullPolicy: container.imagePullPolicy,
    command: init.command,
    ...(init.args ? { args: init.args } : {}),
    envFrom,
    ...(envRefs.length > 0 ? { env: envRefs } : {}),
    // ECI bills every container by its requests; give init containers modest ones by default.
    resources: resourcesFor(init.resources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } }),
  }));

  const sidecars: K8sObject[] = [];
  const volumes: K8sObject[] = [];
  if (logs) {
    volumes.push({ name: logVolume, emptyDir: {} });
    sidecars.push(logtailSidecar(logs, logVolume));
  }

  const podAnnotations: Record<string, string> = { ...config.backend.podAnnotations, 'gantry.dev/config-checksum': checksum };
  if (input.secret) podAnnotations['gantry.dev/secret-checksum'] = input.secret.checksum;
  if (plans.length > 0) podAnnotations['gantry.dev/services-checksum'] = servicesChecksum(plans, input.env ?? {}, input.serviceUrls);
  const podLabels: Record<string, string> = { ...labels };
  const eciAnnotations: Record<string, string> = {};
  const eciLabels: Record<string, string> = {};
  if (eci) {
    eciAnnotations[`${ECI}eci-fail-strategy`] = eci.failStrategy;
    eciAnnotations[`${ECI}eci-auto-imc`] = String(eci.imageCache);
    if (eci.instanceTypes) eciAnnotations[`${ECI}eci-use-specs`] = eci.instanceTypes.join(',');
    if (eci.spot) eciAnnotations[`${ECI}eci-spot-strategy`] = 'SpotAsPriceGo';
    // On ACK, this label sends the pod to the ECI virtual node.
    if (env.cluster === 'ack') eciLabels['alibabacloud.com/eci'] = 'true';
  }
  Object.assign(podAnnotations, eciAnnotations);
  Object.assign(podLabels, eciLabels);
  const services = plans
    .filter((p) => p.binding === 'instance')
    .map((p) => instanceView(p, { instance: target.instance, envName, eciAnnotations, eciLabels, seed: input.seeds?.[p.name] }));

  const autoscaleConfig = target.autoscale;
  const autoscale = autoscaleConfig
    ? {
        minReplicas: autoscaleConfig.min,
        maxReplicas: autoscaleConfig.max,
        metrics: [
          ...(autoscaleConfig.cpu !== undefined || autoscaleConfig.memory === undefined ? [utilisation('cpu', autoscaleConfig.cpu ?? 80)] : []),
          ...(autoscaleConfig.memory !== undefined ? [utilisation('memory', autoscaleConfig.memory)] : []),
        ],
      }
    : null;

  const domain = target.domain;
  return {
    app,
    environment: { name: envName, cluster: env.cluster, namespace, review },
    names,
    labels,
    selector,
    annotations,
    changeCause: ['gantry', ci.shortSha || 'unknown-commit', 'to', envName, ci.pipelineUrl].filter(Boolean).join(' '),
    pod: { labels: podLabels, annotations: podAnnotations },
    image,
    imagePullPolicy: container.imagePullPolicy as string,
    imagePullSecrets: config.registry ? [{ name: config.registry.pullSecret }] : [],
    // With an HPA, spec.replicas is left out so each deploy does not reset what the HPA chose.
    replicas: autoscale ? null : target.replicas,
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: config.backend.progressDeadlineSeconds,
    terminationGracePeriodSeconds: config.backend.terminationGracePeriodSeconds,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: config.backend.maxSurge, maxUnavailable: config.backend.maxUnavailable } },
    container,
    initContainers,
    sidecars,
    volumes,
    configMapData: sortedData,
    autoscale,
    service: serviceView(env),
    ingress: domain
      ? {
          host: domain,
          className: env.ingress.className,
          tlsSecret: env.ingress.tlsSecret ?? null,
          annotations: env.ingress.annotations,
          servicePort: env.service.port,
        }
      : null,
    ci: { sha: ci.sha, shortSha: ci.shortSha, pipelineUrl: ci.pipelineUrl, mrIid: ci.mrIid ?? null, branch: ci.branch },
    services,
  };
}

function resolveImage(input: RenderInput): string {
  const { config, ci } = input;
  const registry = config.registry;
  // An empty --image is a mistake (an unset variable in `--image $X`), not "use the default":
  // falling back to the commit tag would deploy something other than what was asked for.
  if (input.image !== undefined) {
    const ref = parseImageRef(input.image);
    return formatImageRef(toPullHost(ref, registry?.pushHost, registry ? defaultPullHost(registry.pushHost, registry.pullHost) : undefined));
  }
  if (!registry) {
    throw gantryError('E_IMAGE_MISSING', {});
  }
  if (!ci.shortSha) {
    throw gantryError('E_COMMIT_MISSING', { canPassImage: true });
  }
  const tagProblem = imageTagProblem(ci.shortSha);
  if (tagProblem) throw gantryError('E_IMAGE_REF', { field: 'the commit tag (CI_COMMIT_SHORT_SHA, else CI_COMMIT_SHA)', text: ci.shortSha, why: tagProblem });
  const host = defaultPullHost(registry.pushHost, registry.pullHost);
  const image = `${host}/${imagePath(registry, config.app)}:${ci.shortSha}`;
  // The registry settings are checked by gantry validate; this catches a config built elsewhere.
  parseImageRef(image, 'registry (pushHost, pullHost, namespace, repository)');
  return image;
}

function envSource(value: Exclude<EnvMap[string], string | number | boolean>): K8sObject {
  const optional = value.optional !== undefined ? { optional: value.optional } : {};
  return 'secret' in value
    ? { secretKeyRef: { name: value.secret, key: value.key, ...optional } }
    : { configMapKeyRef: { name: value.configMap, key: value.key, ...optional } };
}

function resourcesFor(resources: Resources): K8sObject {
  const pick = (list: Resources['requests']) => (list ? Object.fromEntries(Object.entries(list).filter(([, v]) => v !== undefined)) : undefined);
  const requests = pick(resources.requests);
  const limits = pick(resources.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

const probeDefaults = {
  readiness: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 },
  liveness: { initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 },
  startup: { initialDelaySeconds: 0, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30, successThreshold: 1 },
};

function probes(config: Config): K8sObject {
  const out: K8sObject = {};
  for (const kind of ['liveness', 'readiness', 'startup'] as const) {
    const setting = config.backend.probes[kind];
    if (setting === false) continue;
    // A startup probe is only added when asked for; liveness and readiness are on by default.
    if (kind === 'startup' && setting === undefined) continue;
    const p = setting ?? {};
    const check = p.command
      ? { exec: { command: p.command } }
      : p.tcp
        ? { tcpSocket: { port: 'http' } }
        : { httpGet: { path: p.path ?? config.backend.healthPath, port: 'http' } };
    const d = probeDefaults[kind];
    out[`${kind}Probe`] = {
      ...check,
      initialDelaySeconds: p.initialDelaySeconds ?? d.initialDelaySeconds,
      periodSeconds: p.periodSeconds ?? d.periodSeconds,
      timeoutSeconds: p.timeoutSeconds ?? d.timeoutSeconds,
      failureThreshold: p.failureThreshold ?? d.failureThreshold,
      // Kubernetes requires successThreshold 1 for liveness and startup probes.
      successThreshold: kind === 'readiness' ? (p.successThreshold ?? d.successThreshold) : 1,
    };
  }
  return out;
}

function utilisation(resource: 'cpu' | 'memory', averageUtilization: number): K8sObject {
  return { type: 'Resource', resource: { name: resource, target: { type: 'Utilization', averageUtilization } } };
}

function serviceView(env: EnvironmentConfig): View['service'] {
  const { type, port, nodePort, slb, externalTrafficPolicy } = env.service;
  const annotations: Record<string, string> = {};
  let ports: K8sObject[] = [{ name: 'http', port, targetPort: 'http', protocol: 'TCP', ...(nodePort ? { nodePort } : {}) }];
  if (type === 'LoadBalancer' && slb) {
    if (slb.id) {
      annotations[`${SLB}id`] = slb.id;
      annotations[`${SLB}force-override-listeners`] = 'true';
    }
    if (slb.addressType) annotations[`${SLB}address-type`] = slb.addressType;
    if (slb.vswitchId) annotations[`${SLB}vswitch-id`] = slb.vswitchId;
    if (slb.chargeType) annotations[`${SLB}instance-charge-type`] = slb.chargeType;
    if (slb.spec) annotations[`${SLB}spec`] = slb.spec;
    if (slb.certId) {
      annotations[`${SLB}cert-id`] = slb.certId;
      annotations[`${SLB}protocol-port`] = `https:443,http:${port === 443 ? 80 : port}`;
      ports = [
        { name: 'https', port: 443, targetPort: 'http', protocol: 'TCP' },
        { name: 'http', port: port === 443 ? 80 : port, targetPort: 'http', protocol: 'TCP', ...(nodePort ? { nodePort } : {}) },
      ];
    }
    Object.assign(annotations, slb.annotations);
  }
  // Local keeps the client IP; Aliyun's SLB then needs weighted round-robin to balance by pods.
  if (type === 'LoadBalancer' && externalTrafficPolicy === 'Local' && !annotations[`${SLB}scheduler`]) annotations[`${SLB}scheduler`] = 'wrr';
  return { type, ports, annotations, externalTrafficPolicy: type === 'ClusterIP' ? null : (externalTrafficPolicy ?? null) };
}

function logtailSidecar(logs: NonNullable<NonNullable<EnvironmentConfig['eci']>['logs']>, volume: string): K8sObject {
  const field = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return {
    name: 'logtail',
    image: logs.image ?? `registry-vpc.${logs.region}.aliyuncs.com/log-service/logtail:latest`,
    // Waits 10 s after SIGTERM so the last lines are shipped.
    command: ['sh', '-c', '/usr/local/ilogtail/run_logtail.sh 10'],
    livenessProbe: { exec: { command: ['/etc/init.d/ilogtaild', 'status'] }, initialDelaySeconds: 30, periodSeconds: 30 },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    env: [
      { name: 'ALIYUN_LOGTAIL_USER_ID', value: logs.userId },
      { name: 'ALIYUN_LOGTAIL_USER_DEFINED_ID', value: logs.machineGroup },
      { name: 'ALIYUN_LOGTAIL_CONFIG', value: `/etc/ilogtail/conf/${logs.region}/ilogtail_config.json` },
      { name: 'ALIYUN_LOG_ENV_TAGS', value: '_pod_name_|_pod_ip_|_namespace_|_node_name_|_node_ip_' },
      field('_pod_name_', 'metadata.name'),
      field('_pod_ip_', 'status.podIP'),
      field('_namespace_', 'metadata.namespace'),
      field('_node_name_', 'spec.nodeName'),
      field('_node_ip_', 'status.hostIP'),
    ],
    volumeMounts: [{ name: volume, mountPath: logs.path, readOnly: true }],
  };
}
