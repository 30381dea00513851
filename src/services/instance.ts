// What runs an instance of a service in the namespace (previews, or any environment bound
// `instance`): a Service, a StatefulSet of one pod with its data on an emptyDir (a preview's
// data goes with it) or a claim, and the seed file as a ConfigMap the image's entrypoint runs
// from /docker-entrypoint-initdb.d when its data is new. The container speaks the official
// images' contract (MYSQL_*, POSTGRES_*, MONGO_INITDB_*, redis-server --requirepass), so an ACR
// mirror of them works as it is. Pure: the view hands this to deploy/services.yaml.hbs.
import path from 'node:path';
import { COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL, NAME_LABEL, SERVICE_LABEL } from '../kube/objects.js';
import { ENVIRONMENT_LABEL } from '../kube/objects.js';
import { dnsLabel } from '../names/names.js';
import { KINDS } from './catalog.js';
import type { ServicePlan } from './plan.js';

type Obj = Record<string, unknown>;

export interface SeedFile {
  /** The file's name inside /docker-entrypoint-initdb.d. */
  name: string;
  content: Buffer;
}

export interface InstanceView {
  name: string;
  service: string;
  kind: string;
  port: number;
  labels: Record<string, string>;
  selector: Record<string, string>;
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
  container: Obj;
  volumes: Obj[];
  volumeClaimTemplates: Obj[];
  /** The seed ConfigMap (a text file in data, a compressed one in binaryData), or null. */
  seed: { name: string; data: Record<string, string>; binaryData: Record<string, string> } | null;
}

export interface InstanceContext {
  instance: string;
  envName: string;
  /** The app's pod annotations and labels for the node it runs on (ECI); applied to the instance too. */
  eciAnnotations: Record<string, string>;
  eciLabels: Record<string, string>;
  seed: SeedFile | undefined;
}

export function instanceLabels(plan: ServicePlan, instance: string, envName: string): Record<string, string> {
  return {
    [NAME_LABEL]: plan.instanceName!,
    [INSTANCE_LABEL]: instance,
    [MANAGED_BY_LABEL]: 'gantry',
    [ENVIRONMENT_LABEL]: envName.slice(0, 63),
    [COMPONENT_LABEL]: plan.kind,
    [SERVICE_LABEL]: plan.name,
  };
}

export function instanceView(plan: ServicePlan, c: InstanceContext): InstanceView {
  const facts = KINDS[plan.kind];
  const name = plan.instanceName!;
  const labels = instanceLabels(plan, c.instance, c.envName);
  const selector = { [NAME_LABEL]: name, [INSTANCE_LABEL]: c.instance };
  const secret = (key: string) => ({ secretKeyRef: { name: plan.credentialsSecret!, key } });
  const env: Obj[] = [];
  let args: string[] | undefined;
  switch (plan.kind) {
    case 'mysql':
      env.push(
        { name: 'MYSQL_ROOT_PASSWORD', valueFrom: secret('root-password') },
        { name: 'MYSQL_DATABASE', value: plan.database },
        { name: 'MYSQL_USER', value: plan.user },
        { name: 'MYSQL_PASSWORD', valueFrom: secret('password') },
      );
      break;
    case 'postgresql':
      env.push(
        { name: 'POSTGRES_USER', value: plan.user },
        { name: 'POSTGRES_PASSWORD', valueFrom: secret('password') },
        { name: 'POSTGRES_DB', value: plan.database },
        // A claim's root holds lost+found: initdb wants an empty directory.
        { name: 'PGDATA', value: `${facts.dataDir}/pgdata` },
      );
      break;
    case 'mongodb':
      env.push(
        { name: 'MONGO_INITDB_ROOT_USERNAME', value: plan.user },
        { name: 'MONGO_INITDB_ROOT_PASSWORD', valueFrom: secret('password') },
        { name: 'MONGO_INITDB_DATABASE', value: plan.database },
      );
      break;
    case 'redis':
      env.push({ name: 'REDIS_PASSWORD', valueFrom: secret('password') });
      // The kubelet expands $(REDIS_PASSWORD): the password is in no manifest.
      args = ['redis-server', '--requirepass', '$(REDIS_PASSWORD)'];
      break;
  }
  const mounts: Obj[] = [{ name: 'data', mountPath: facts.dataDir }];
  const volumes: Obj[] = [];
  const claims: Obj[] = [];
  if (plan.storage === 'emptyDir') volumes.push({ name: 'data', emptyDir: {} });
  else {
    claims.push({
      metadata: { name: 'data', labels },
      spec: {
        accessModes: ['ReadWriteOnce'],
        ...(plan.storageClass ? { storageClassName: plan.storageClass } : {}),
        resources: { requests: { storage: plan.storage } },
      },
    });
  }
  let seed: InstanceView['seed'] = null;
  if (c.seed) {
    const seedName = dnsLabel(`${name}-seed`);
    const text = !/\.(gz|xz|zst)$/.test(c.seed.name);
    seed = {
      name: seedName,
      data: text ? { [c.seed.name]: c.seed.content.toString('utf8') } : {},
      binaryData: text ? {} : { [c.seed.name]: c.seed.content.toString('base64') },
    };
    volumes.push({ name: 'seed', configMap: { name: seedName } });
    mounts.push({ name: 'seed', mountPath: '/docker-entrypoint-initdb.d', readOnly: true });
  }
  const requests = Object.fromEntries(Object.entries(plan.resources.requests ?? facts.resources.requests ?? {}).filter(([, v]) => v !== undefined));
  const limits = Object.fromEntries(Object.entries(plan.resources.limits ?? {}).filter(([, v]) => v !== undefined));
  const container: Obj = {
    name: plan.kind,
    image: plan.image,
    ...(args ? { args } : {}),
    ports: [{ name: plan.kind, containerPort: facts.port, protocol: 'TCP' }],
    env,
    // The official images listen on the pod's address only once their init (seed included) is
    // done, so an open port means ready, for every kind and mirror alike.
    readinessProbe: { tcpSocket: { port: facts.port }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 },
    resources: { requests, ...(Object.keys(limits).length > 0 ? { limits } : {}) },
    volumeMounts: mounts,
  };
  return {
    name,
    service: plan.name,
    kind: plan.kind,
    port: facts.port,
    labels,
    selector,
    podLabels: { ...labels, ...c.eciLabels },
    podAnnotations: { ...c.eciAnnotations },
    container,
    volumes,
    volumeClaimTemplates: claims,
    seed,
  };
}

/** The seed file's name in /docker-entrypoint-initdb.d: the repository file's base name. */
export function seedFileName(file: string): string {
  return path.posix.basename(file.replace(/\\/g, '/'));
}
