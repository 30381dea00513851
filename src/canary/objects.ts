// #15 traffic: the canary's Kubernetes objects, rendered from an environment's own rendered
// objects (plain JSON, as deploy applies them) and its rollout config. Pure: nothing here reads
// or writes the cluster; the engine (engine.ts) applies, scales and deletes what this returns.
//
// traffic: replicas  a canary Deployment <deployment>-canary beside the stable one. Its pods carry
//                    the stable pods' labels plus gantry.dev/track: canary, so the Service (which
//                    selects only app.kubernetes.io/name and /instance) sends them their share by
//                    pod count (weight.ts). Stable pods get no track label: adding one would
//                    restart every stable pod.
// traffic: nginx|alb the canary pods' app.kubernetes.io/instance becomes <instance>-canary, so the
//                    stable Service does not select them; a canary Service <service>-canary does,
//                    and a canary Ingress <ingress>-canary (same host and paths) carries the
//                    controller's weight annotations.
// traffic: kruise    a rollouts.kruise.io/v1beta1 Rollout of the stable Deployment; Kruise's
//                    controller makes and scales the canary itself.
import { durationSeconds, type Rollout } from '../config/schema.js';
import { gantryError } from '../errors.js';
import { INSTANCE_LABEL, REVISION_ANNOTATION, type K8sObject } from '../kube/objects.js';
import { dns1035Label, dnsLabel, labelValue } from '../names/names.js';

/** On canary pods (and the canary's selector and objects): which track a pod belongs to. */
export const TRACK_LABEL = 'gantry.dev/track';
export const CANARY_TRACK = 'canary';
/** Every annotation of canary state starts with this; a stable object never carries one. */
export const CANARY_ANNOTATION_PREFIX = 'gantry.dev/canary-';
/** On the canary Deployment, Service and Ingress: the stable object's name. */
export const CANARY_OF_ANNOTATION = 'gantry.dev/canary-of';
/** On the canary Deployment: the step (0-based) it is at, for `gantry promote` in a later job. */
export const CANARY_STEP_ANNOTATION = 'gantry.dev/canary-step';
/** On the canary Deployment: the step's weight as configured (per cent). */
export const CANARY_WEIGHT_ANNOTATION = 'gantry.dev/canary-weight';

export type Traffic = Rollout['traffic'];
export type IngressTraffic = Extract<Traffic, 'nginx' | 'alb'>;

const NGINX = 'nginx.ingress.kubernetes.io/';
const ALB = 'alb.ingress.kubernetes.io/';
/** Kruise's RolloutPause.Duration is an *int32 of seconds. */
const INT32_MAX = 2147483647;

// The parts of the rendered objects read here; everything else is carried over untouched.
type Labels = Record<string, string>;
interface Meta {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
  [key: string]: unknown;
}
interface DeploymentShape {
  metadata: Meta;
  spec: {
    replicas?: number;
    selector: { matchLabels?: Labels };
    template: { metadata?: { labels?: Labels; annotations?: Labels } };
    [key: string]: unknown;
  };
  status?: unknown;
  [key: string]: unknown;
}
interface ServiceBackend {
  service?: { name?: string };
}
interface IngressShape {
  metadata: Meta;
  spec?: {
    ingressClassName?: string;
    defaultBackend?: ServiceBackend;
    rules?: { http?: { paths?: { backend?: ServiceBackend }[] } }[];
  };
}

/** The canary Deployment's (and Ingress's) name: <name>-canary, shortened with a hash past 63 characters. */
export function canaryName(name: string): string {
  return dnsLabel(`${name}-canary`);
}

/** The canary Service's name (an RFC 1035 label, as Service names must be). */
export function canaryServiceName(name: string): string {
  return dns1035Label(`${name}-canary`);
}

/** The canary pods' app.kubernetes.io/instance with nginx/alb traffic. */
export function canaryInstance(instance: string): string {
  return labelValue(`${instance}-canary`);
}

export interface CanaryDeploymentOptions {
  /** Canary pods (weight.ts for traffic: replicas; any count >= 1 for nginx/alb). */
  replicas: number;
  traffic: Traffic;
  /** The step the canary is at (0-based), kept in gantry.dev/canary-step. */
  step?: number | undefined;
  /** The step's configured weight, kept in gantry.dev/canary-weight. */
  weight?: number | undefined;
}

/**
 * The canary Deployment of a rendered (new) Deployment: the same pod template, named
 * <name>-canary, its pods and selector with gantry.dev/track: canary (and, for nginx/alb, the
 * instance <instance>-canary), spec.replicas always set (no HPA targets the canary, so nothing
 * fights its count; the stable's HPA keeps scaling the stable Deployment only, though with
 * traffic replicas the stable's selector matches the canary pods too, so the HPA's average
 * usage includes theirs), and
 * gantry.dev/canary-of naming the stable Deployment. change-cause, Gantry's annotations and the
 * ECI annotations and labels of the pod template stay as rendered: canary pods on Serverless
 * Kubernetes are ECI pods like the stable ones.
 */
export function canaryDeployment(stable: K8sObject, options: CanaryDeploymentOptions): K8sObject {
  const { replicas, traffic } = options;
  if (!Number.isInteger(replicas) || replicas < 1) internal('render the canary Deployment', `canary replicas ${replicas} is not a whole number >= 1`);
  if (traffic === 'kruise') internal('render the canary Deployment', 'with traffic kruise the Kruise Rollout controller makes the canary workload');
  const d = structuredClone(stable) as unknown as DeploymentShape;
  const name = d.metadata.name;
  if (d.metadata.annotations?.[CANARY_OF_ANNOTATION] !== undefined) internal('render the canary Deployment', `${name} is already a canary`);
  const selector = d.spec?.selector?.matchLabels;
  const podLabels = d.spec?.template?.metadata?.labels;
  if (!selector || !podLabels) {
    throw templateError(
      `Deployment ${name}`,
      'has no spec.selector.matchLabels or no pod template labels',
      'render the Deployment with both (as deploy/deploy.yaml.hbs does)',
    );
  }
  if (traffic === 'nginx' || traffic === 'alb') {
    const instance = d.metadata.labels?.[INSTANCE_LABEL];
    // The inverse (stableFromCanary) reads the stable instance back from the Deployment's own labels.
    if (instance === undefined || selector[INSTANCE_LABEL] !== instance || podLabels[INSTANCE_LABEL] !== instance) {
      throw templateError(
        `Deployment ${name}`,
        `traffic ${traffic} gives canary pods their own ${INSTANCE_LABEL}, so the Deployment's labels, its selector and its pod labels must all carry the same ${INSTANCE_LABEL}`,
        `keep ${INSTANCE_LABEL}: {{json selector}} in all three places of deploy/deploy.yaml.hbs, as Gantry's default does`,
      );
    }
    selector[INSTANCE_LABEL] = canaryInstance(instance);
    podLabels[INSTANCE_LABEL] = canaryInstance(instance);
  }
  selector[TRACK_LABEL] = CANARY_TRACK;
  podLabels[TRACK_LABEL] = CANARY_TRACK;
  d.metadata.labels = { ...d.metadata.labels, [TRACK_LABEL]: CANARY_TRACK };
  d.metadata.name = canaryName(name);
  const annotations: Labels = { ...d.metadata.annotations, [CANARY_OF_ANNOTATION]: name };
  if (options.step !== undefined) annotations[CANARY_STEP_ANNOTATION] = String(options.step);
  if (options.weight !== undefined) annotations[CANARY_WEIGHT_ANNOTATION] = String(options.weight);
  d.metadata.annotations = annotations;
  const { replicas: _stableReplicas, ...spec } = d.spec;
  d.spec = { replicas, ...spec };
  return d as unknown as K8sObject;
}

// What the API server adds to an object: dropped, so a canary read back gives an appliable stable.
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];
const SERVER_ANNOTATIONS = [REVISION_ANNOTATION, 'kubectl.kubernetes.io/last-applied-configuration'];

/**
 * The stable Deployment a canary was made from: what deploy would have rendered, so a later job
 * (`gantry promote`) applies it without rendering again. `stableReplicas` null leaves
 * spec.replicas out (autoscaled: the HPA keeps its count). A canary read back from the API server
 * works too: its server-set metadata, status and revision annotation are dropped (the defaults
 * the server filled in stay; applying them changes nothing).
 */
export function stableFromCanary(canary: K8sObject, stableReplicas: number | null): K8sObject {
  const d = structuredClone(canary) as unknown as DeploymentShape;
  const stableName = d.metadata.annotations?.[CANARY_OF_ANNOTATION];
  if (stableName === undefined)
    internal('recover the stable Deployment', `${d.metadata.name} has no ${CANARY_OF_ANNOTATION} annotation: it is no canary Gantry made`);
  if (stableReplicas !== null && (!Number.isInteger(stableReplicas) || stableReplicas < 0)) {
    internal('recover the stable Deployment', `stable replicas ${stableReplicas} is not a whole number >= 0`);
  }
  delete d.status;
  for (const key of SERVER_METADATA) delete d.metadata[key];
  const annotations = Object.entries(d.metadata.annotations ?? {}).filter(
    ([key]) => !key.startsWith(CANARY_ANNOTATION_PREFIX) && !SERVER_ANNOTATIONS.includes(key),
  );
  d.metadata.annotations = Object.fromEntries(annotations);
  d.metadata.name = stableName as string;
  const labels = d.metadata.labels ?? {};
  delete labels[TRACK_LABEL];
  const selector = d.spec.selector.matchLabels ?? {};
  const podLabels = d.spec.template.metadata?.labels ?? {};
  delete selector[TRACK_LABEL];
  delete podLabels[TRACK_LABEL];
  const instance = labels[INSTANCE_LABEL];
  if (instance !== undefined && selector[INSTANCE_LABEL] !== undefined) {
    selector[INSTANCE_LABEL] = instance;
    podLabels[INSTANCE_LABEL] = instance;
  }
  const { replicas: _canaryReplicas, ...spec } = d.spec;
  d.spec = stableReplicas === null ? spec : { replicas: stableReplicas, ...spec };
  return d as unknown as K8sObject;
}

// The canary Service takes no load balancer of its own: these belong to the stable Service's SLB
// (a copy with the same loadbalancer-id and force-override-listeners would take its listeners).
const LOAD_BALANCER_ANNOTATION = /^service\.(beta\.)?kubernetes\.io\//;
const LOAD_BALANCER_SPEC = [
  'externalTrafficPolicy',
  'healthCheckNodePort',
  'loadBalancerIP',
  'loadBalancerClass',
  'loadBalancerSourceRanges',
  'allocateLoadBalancerNodePorts',
  'clusterIP',
  'clusterIPs',
  'externalIPs',
];

/**
 * The canary Service (nginx/alb traffic): <service>-canary selecting the canary instance, the
 * same ports (the Ingress names them by number). With nginx it is a ClusterIP Service whatever
 * the stable one is: ingress-nginx reaches the pods directly. With alb a NodePort or LoadBalancer
 * stable Service gets a NodePort canary (an ALB on a Flannel cluster reaches pods through node
 * ports), a ClusterIP one stays ClusterIP (Terway: the ALB reaches pod IPs). Never an SLB, never
 * a fixed node port (the stable one holds it).
 */
export function canaryService(stable: K8sObject, options: { traffic: IngressTraffic } = { traffic: 'nginx' }): K8sObject {
  const s = structuredClone(stable) as unknown as {
    metadata: Meta;
    spec?: Record<string, unknown> & { selector?: Labels; ports?: Record<string, unknown>[]; type?: string };
  };
  const name = s.metadata.name;
  const instance = s.spec?.selector?.[INSTANCE_LABEL];
  if (!s.spec?.selector || instance === undefined) {
    throw templateError(
      `Service ${name}`,
      `its selector has no ${INSTANCE_LABEL}, so no canary Service can select the canary pods apart`,
      "select the pods by {{json selector}} in deploy/svc.yaml.hbs, as Gantry's default does",
    );
  }
  const stableType = s.spec.type ?? 'ClusterIP';
  const type = options.traffic === 'alb' && stableType !== 'ClusterIP' ? 'NodePort' : 'ClusterIP';
  const spec = { ...s.spec, type, selector: { ...s.spec.selector, [INSTANCE_LABEL]: canaryInstance(instance) } } as Record<string, unknown>;
  for (const key of LOAD_BALANCER_SPEC) delete spec[key];
  if (s.spec.ports) spec.ports = s.spec.ports.map(({ nodePort: _nodePort, ...port }) => port);
  const annotations = Object.entries(s.metadata.annotations ?? {}).filter(([key]) => !LOAD_BALANCER_ANNOTATION.test(key));
  return {
    ...(s as unknown as K8sObject),
    metadata: {
      ...s.metadata,
      name: canaryServiceName(name),
      labels: { ...s.metadata.labels, [TRACK_LABEL]: CANARY_TRACK },
      annotations: { ...Object.fromEntries(annotations), [CANARY_OF_ANNOTATION]: name },
    },
    spec,
  };
}

/**
 * The canary Ingress (nginx/alb traffic): <ingress>-canary with the stable Ingress's class, hosts,
 * paths and TLS, every backend of the stable Service `service` pointed at the canary Service, and
 * the weight annotations. `weight` is 0-100 per cent (0 holds the canary without traffic).
 *
 * ingress-nginx: nginx.ingress.kubernetes.io/canary "true" and canary-weight (of 100 by default);
 * a weight with a decimal is written in thousandths with canary-weight-total "1000".
 *
 * ALB Ingress (Alibaba Cloud ACK, "Perform canary releases by using ALB Ingresses",
 * alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/user-guide/use-alb-ingresses-to-perform-canary-releases-1):
 * alb.ingress.kubernetes.io/canary "true" is required on every canary Ingress ("without it, the
 * canary Ingress conflicts with the production Ingress"), alb.ingress.kubernetes.io/canary-weight
 * is the per cent (0-100) for requests no header or cookie rule matched, so a weight is rounded
 * to a whole per cent. Header/cookie rules (canary-by-header, ...) cannot share an Ingress with a
 * weight: any such annotation of the stable Ingress is left off the canary. Rule order follows
 * the Ingresses' namespace and name unless alb.ingress.kubernetes.io/order (1-1000, default 10)
 * says otherwise; a user's order annotation is carried over as is.
 */
export function canaryIngress(stable: K8sObject, weight: number, options: { traffic: IngressTraffic; service: string }): K8sObject {
  if (!(weight >= 0 && weight <= 100)) internal('render the canary Ingress', `weight ${weight} is not between 0 and 100`);
  const i = structuredClone(stable) as unknown as IngressShape;
  const name = i.metadata.name;
  const target = canaryServiceName(options.service);
  let routed = 0;
  const reroute = (backend: ServiceBackend | undefined) => {
    if (backend?.service?.name === options.service) {
      backend.service.name = target;
      routed++;
    }
  };
  reroute(i.spec?.defaultBackend);
  for (const rule of i.spec?.rules ?? []) for (const path of rule.http?.paths ?? []) reroute(path.backend);
  if (routed === 0) {
    throw templateError(
      `Ingress ${name}`,
      `no backend routes to the Service ${options.service}, so no path can be sent to the canary`,
      "route the Ingress to the app's Service ({{y names.service}}) in deploy/svc.yaml.hbs",
    );
  }
  const prefix = options.traffic === 'nginx' ? NGINX : ALB;
  const kept = Object.entries(i.metadata.annotations ?? {}).filter(([key]) => !key.startsWith(`${NGINX}canary`) && !key.startsWith(`${ALB}canary`));
  const annotations: Labels = { ...Object.fromEntries(kept), [CANARY_OF_ANNOTATION]: name, [`${prefix}canary`]: 'true' };
  if (options.traffic === 'alb') {
    annotations[`${ALB}canary-weight`] = String(Math.round(weight));
  } else if (Number.isInteger(weight)) {
    annotations[`${NGINX}canary-weight`] = String(weight);
  } else {
    annotations[`${NGINX}canary-weight`] = String(Math.round(weight * 10));
    annotations[`${NGINX}canary-weight-total`] = '1000';
  }
  i.metadata = { ...i.metadata, name: canaryName(name), labels: { ...i.metadata.labels, [TRACK_LABEL]: CANARY_TRACK }, annotations };
  return i as unknown as K8sObject;
}

export interface CanaryTargets {
  /** The new render's Deployment (the app's). */
  deployment: K8sObject;
  /** The app's Service: the one selecting exactly the Deployment's selector. */
  service: K8sObject | undefined;
  /** The Ingress routing to that Service, when the environment has a domain. */
  ingress: K8sObject | undefined;
}

/**
 * The rendered objects a canary starts from, checked before anything is applied: nginx/alb
 * traffic needs an Ingress (E_CANARY_NO_INGRESS) of a class that reads its annotations
 * (E_CANARY_INGRESS_CLASS); every mode needs the app's Deployment (E_CANARY_TEMPLATE).
 */
export function canaryTargets(objects: K8sObject[], rollout: Rollout, envName: string): CanaryTargets {
  const deployment = objects.find((o) => o.kind === 'Deployment') as (K8sObject & DeploymentShape) | undefined;
  if (!deployment) {
    throw templateError(`environment ${envName}`, 'the rendered manifests hold no Deployment', "render the app's Deployment in deploy/deploy.yaml.hbs");
  }
  const selector = deployment.spec?.selector?.matchLabels ?? {};
  const sameLabels = (a: Labels | undefined) =>
    a !== undefined && Object.keys(a).length === Object.keys(selector).length && Object.entries(a).every(([k, v]) => selector[k] === v);
  const service = objects.find((o) => o.kind === 'Service' && sameLabels((o.spec as { selector?: Labels } | undefined)?.selector));
  const routesTo = (o: K8sObject, svc: string) => {
    const spec = (o as unknown as IngressShape).spec;
    const backends = [spec?.defaultBackend, ...(spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend))];
    return backends.some((b) => b?.service?.name === svc);
  };
  const ingress = service ? objects.find((o) => o.kind === 'Ingress' && routesTo(o, service.metadata.name)) : undefined;
  const traffic = rollout.traffic;
  if (traffic === 'nginx' || traffic === 'alb') {
    if (!service) {
      throw templateError(
        `environment ${envName}`,
        `traffic ${traffic} needs the app's Service (selecting the Deployment's selector), and the rendered manifests hold none`,
        'render the Service in deploy/svc.yaml.hbs',
      );
    }
    if (!ingress) throw gantryError('E_CANARY_NO_INGRESS', { envName, traffic });
    const spec = (ingress as unknown as IngressShape).spec;
    const className = spec?.ingressClassName ?? (ingress.metadata as Meta).annotations?.['kubernetes.io/ingress.class'];
    // Only the two well-known classes are judged: an IngressClass of another name may be either controller.
    if ((traffic === 'alb' && className === 'nginx') || (traffic === 'nginx' && className === 'alb')) {
      throw gantryError('E_CANARY_INGRESS_CLASS', { envName, traffic, className });
    }
  }
  return { deployment, service, ingress };
}

export interface CanaryStep {
  /** Canary pods (canaryWeight(...).replicas with traffic replicas). */
  replicas: number;
  /** The step's weight in per cent: the Ingress annotation with nginx/alb, kept on the Deployment. */
  weight: number;
  /** The step (0-based). */
  step: number;
}

/**
 * Everything to apply for one canary step, in order: the canary Deployment, and with nginx/alb
 * its Service and then its Ingress (the Ingress last, so it never routes to a Service without
 * pods behind it). Not for traffic kruise: Kruise makes its own canary (kruiseRollout).
 */
export function canaryStepObjects(targets: CanaryTargets, rollout: Rollout, step: CanaryStep): K8sObject[] {
  const { traffic } = rollout;
  const deployment = canaryDeployment(targets.deployment, { replicas: step.replicas, traffic, step: step.step, weight: step.weight });
  if (traffic === 'replicas') return [deployment];
  if (traffic === 'kruise' || !targets.service || !targets.ingress) {
    internal('render the canary step', traffic === 'kruise' ? 'traffic kruise renders a Kruise Rollout instead' : 'canaryTargets found no Service or Ingress');
  }
  return [
    deployment,
    canaryService(targets.service, { traffic }),
    canaryIngress(targets.ingress, step.weight, { traffic, service: targets.service.metadata.name }),
  ];
}

export interface KruiseRolloutOptions {
  /** The stable Service: with an Ingress, Kruise routes the canary's share away from it. */
  service?: K8sObject | undefined;
  /** The Ingress in front (none: replicas only, no traffic routing). */
  ingress?: K8sObject | undefined;
  /**
   * Every step waits for approval (pause: {}), whatever its pause says: Kruise has no analysis
   * of its own, so when Gantry's engine runs the checks it approves each step only after they
   * passed for the step's pause, instead of Kruise moving on when the time is up.
   */
  gantryApproves?: boolean | undefined;
}

/**
 * A rollouts.kruise.io/v1beta1 Rollout of the stable Deployment (openkruise/rollouts
 * api/v1beta1/rollout_types.go and trafficrouting.go): spec.workloadRef names the Deployment,
 * spec.strategy.canary.steps come from the config's steps (replicas "<w>%"; with an Ingress also
 * traffic "<w>%"), pause {} for a manual pause (RolloutPause.Duration nil: Kruise waits for
 * approval), { duration: seconds } otherwise (int32; 0 for a step without pause). With an
 * Ingress, trafficRoutings names the Service and the Ingress (classType nginx, or aliyun-alb for
 * the ALB class) and Kruise runs the canary as an extra Deployment
 * (enableExtraWorkloadForCanary); without one the Deployment is updated in place, a share of its
 * pods at a time (partition style), which the Service weights by pod count as well.
 */
export function kruiseRollout(stable: K8sObject, rollout: Rollout, options: KruiseRolloutOptions = {}): K8sObject {
  const d = stable as unknown as DeploymentShape;
  const { service, ingress } = options;
  if (ingress && !service) internal('render the Kruise Rollout', 'an Ingress was given without the Service it routes to');
  const className = ingress ? ((ingress as unknown as IngressShape).spec?.ingressClassName ?? 'nginx') : undefined;
  const trafficRoutings =
    ingress && service
      ? [{ service: service.metadata.name, ingress: { classType: className === 'alb' ? 'aliyun-alb' : className, name: ingress.metadata.name } }]
      : undefined;
  const steps = rollout.steps.map((step) => {
    const share = `${step.weight}%`;
    return { ...(trafficRoutings ? { traffic: share } : {}), replicas: share, pause: kruisePause(step.pause, options.gantryApproves === true) };
  });
  const annotations = Object.entries(d.metadata.annotations ?? {}).filter(
    ([key]) => key.startsWith('gantry.dev/') && !key.startsWith(CANARY_ANNOTATION_PREFIX),
  );
  return {
    apiVersion: 'rollouts.kruise.io/v1beta1',
    kind: 'Rollout',
    metadata: {
      name: d.metadata.name,
      ...(d.metadata.namespace !== undefined ? { namespace: d.metadata.namespace } : {}),
      ...(d.metadata.labels ? { labels: { ...d.metadata.labels } } : {}),
      annotations: Object.fromEntries(annotations),
    },
    spec: {
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name },
      strategy: {
        canary: {
          enableExtraWorkloadForCanary: trafficRoutings !== undefined,
          steps,
          ...(trafficRoutings ? { trafficRoutings } : {}),
        },
      },
    },
  };
}

function kruisePause(pause: Rollout['steps'][number]['pause'], approve: boolean): { duration?: number } {
  if (approve || pause === 'manual') return {};
  if (pause === undefined) return { duration: 0 };
  const seconds = Math.ceil(durationSeconds(pause));
  // Longer than Kruise can count: waiting for approval is the nearest it can do.
  return seconds > INT32_MAX ? {} : { duration: seconds };
}

function templateError(object: string, problem: string, fix: string) {
  return gantryError('E_CANARY_TEMPLATE', { object, problem, fix });
}

function internal(doing: string, reason: string): never {
  throw gantryError('E_INTERNAL', { doing, reason });
}
