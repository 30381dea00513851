// The Kubernetes objects Gantry reads and writes, as the API server sends them (JSON wire format:
// timestamps are RFC 3339 strings), and the well-known label and annotation keys. Only the
// fields Gantry uses are declared. Watches deliver this format, `kubectl get -o json` prints it,
// so test fixtures are real objects taken verbatim. Every module (render, kube, track, the
// flows) takes these types from here; kube itself imports nothing from render or track.

/** Any object as rendered or applied: a kind, a name, and whatever else the manifest holds. */
export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: Record<string, unknown> & { name: string } };

/** The deployment controller numbers each pod template it rolls out (on the Deployment and its ReplicaSet). */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** What `kubectl rollout restart` sets on the pod template; Gantry's restart sets the same. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
/** `kubectl annotate ... kubernetes.io/change-cause`: shown in the history. */
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
/** The label the deployment controller adds to a ReplicaSet's pod template (and pods): the template's hash. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** On everything Gantry creates, as `app.kubernetes.io/managed-by: gantry`. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** The app's name (gantry.yaml app): with the instance, the Deployment's selector. */
export const NAME_LABEL = 'app.kubernetes.io/name';
/** One environment's copy of the app: <app>-<env>, or the preview's <app>-mr-<iid>. */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** The gantry.yaml environment an object belongs to. */
export const ENVIRONMENT_LABEL = 'gantry.dev/environment';
/** Prefix of the recommended app labels (name, instance, managed-by) that select an app's objects. */
export const APP_LABEL_PREFIX = 'app.kubernetes.io/';
/** Prefix of Gantry's own annotations (commit, pipeline, deployer, checksums). */
export const GANTRY_ANNOTATION_PREFIX = 'gantry.dev/';
export const COMMIT_ANNOTATION = 'gantry.dev/commit';
export const PIPELINE_URL_ANNOTATION = 'gantry.dev/pipeline-url';
export const DEPLOYED_BY_ANNOTATION = 'gantry.dev/deployed-by';
export const MR_ANNOTATION = 'gantry.dev/mr';

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  managedFields?: ManagedFieldsEntry[];
}

type FieldsTrie = { [key: string]: FieldsTrie };

/** One field manager's claim in metadata.managedFields (see managed-fields.ts). */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsType?: string;
  fieldsV1?: FieldsTrie;
  subresource?: string;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface Probe {
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
  httpGet?: { path?: string; port?: number | string; scheme?: string };
  tcpSocket?: { port?: number | string };
  grpc?: { port?: number };
  exec?: { command?: string[] };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Where env comes from (the ConfigMaps named, for pruning). */
  envFrom?: { configMapRef?: { name?: string }; secretRef?: { name?: string } }[];
  // Env values are deliberately not declared: nothing reads (or prints) them, only which ConfigMap a variable comes from.
  env?: { name?: string; valueFrom?: { configMapKeyRef?: { name?: string }; secretKeyRef?: { name?: string } } }[];
}

export interface PodTemplateSpec {
  metadata?: Partial<ObjectMeta>;
  spec?: PodSpec;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  imagePullSecrets?: { name: string }[];
  nodeName?: string;
  volumes?: Volume[];
}

/** Only the ConfigMaps a volume names are declared (for pruning). */
export interface Volume {
  name?: string;
  configMap?: { name?: string };
  projected?: { sources?: { configMap?: { name?: string } }[] };
}

export interface ContainerStateTerminated {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: ContainerStateTerminated;
}

export interface ContainerStatus {
  name: string;
  image?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: PodSpec;
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    startTime?: string;
  };
}

export interface ReplicaSet {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { replicas?: number; selector?: LabelSelector; template?: PodTemplateSpec };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    fullyLabeledReplicas?: number;
    observedGeneration?: number;
    conditions?: Condition[];
  };
}

export interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    replicas?: number;
    selector: LabelSelector;
    template?: PodTemplateSpec;
    paused?: boolean;
    minReadySeconds?: number;
    progressDeadlineSeconds?: number;
    strategy?: { type?: string };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: Condition[];
  };
}

/** core/v1 Event. The scheduler writes events.k8s.io-style ones: eventTime set, no count/lastTimestamp. */
export interface KubeEvent {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  involvedObject: { kind?: string; name?: string; namespace?: string; uid?: string; fieldPath?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  series?: { count?: number; lastObservedTime?: string } | null;
  source?: { component?: string };
  reportingComponent?: string;
}

/** A kube Status object, as sent in a watch ERROR event or an error response. */
export interface KubeStatus {
  kind?: 'Status';
  code?: number;
  reason?: string;
  message?: string;
}

/** core/v1 Namespace: a preview's, read before `gantry stop` deletes it. */
export interface Namespace {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  status?: { phase?: string };
}

/** coordination.k8s.io/v1 Lease: the per-environment deploy lock (lease.ts). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with six fraction digits. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: LeaseSpec;
}

/** #14: the service (of gantry.yaml services:) an instance, its seed ConfigMap or a seed Job belongs to. */
export const SERVICE_LABEL = 'gantry.dev/service';
/** #14: what a Gantry-made Job or Pod is for (migration, seed, reach). */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
