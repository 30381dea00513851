// Secrets Gantry creates in the target namespace: the registry pull secret, and the app Secret
// made of K8S_SECRET_* CI variables (the Auto DevOps convention). Pure: these build the objects;
// the deploy registers every value with the logger before anything could print it, and applies
// them with the other manifests.
import { createHmac } from 'node:crypto';
import { K8S_SECRET_PREFIX, k8sSecretVariables } from '../ci/variables.js';
import type { K8sObject } from './objects.js';

export const CI_SECRET_PREFIX = K8S_SECRET_PREFIX;

export interface RegistryCredentials {
  /** Registry host as images name it, e.g. registry-vpc.cn-hangzhou.aliyuncs.com. */
  server: string;
  username: string;
  password: string;
}

/** The .dockerconfigjson a kubelet reads: one entry for the registry host. */
export function dockerConfigJson(credentials: RegistryCredentials): string {
  const { server, username, password } = credentials;
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return JSON.stringify({ auths: { [server]: { username, password, auth } } });
}

/** The kubernetes.io/dockerconfigjson Secret that lets the kubelet pull from the registry. */
export function pullSecretObject(namespace: string, name: string, credentials: RegistryCredentials, labels: Record<string, string> = {}): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, ...(Object.keys(labels).length > 0 ? { labels } : {}) },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(dockerConfigJson(credentials)).toString('base64') },
  };
}

/** The K8S_SECRET_* variables selected for one Secret. */
export interface CiSecret {
  name: string;
  /** Keys without the prefix, sorted, with their plain values. */
  entries: (readonly [string, string])[];
  checksum: string;
}

/**
 * The K8S_SECRET_* variables as a Secret named `name`; null when there are none. The one place
 * that selects them: render puts this checksum on the pod template (src/render/secret.ts), and
 * the Secret applied is made of the same selection (secretFromCiVariables).
 */
export function ciSecretNamed(env: NodeJS.ProcessEnv, name: string): CiSecret | null {
  const entries = k8sSecretVariables(env);
  if (entries.length === 0) return null;
  // An HMAC keyed by the Secret's name, so it is not a plain hash of the values. The key is not
  // secret: whoever can read the Deployment can still test a guess of every value, as with
  // Helm's checksum/secret. It only has to change when a key or value does.
  const checksum = createHmac('sha256', `gantry:${name}`).update(JSON.stringify(entries)).digest('hex');
  return { name, entries, checksum };
}

export interface CiVariablesSecret {
  secret: K8sObject;
  /** Keys in the Secret (the variable names without the prefix), sorted. */
  keys: string[];
  /** Changes whenever a key or value changes: put it on the pod template to roll the pods. */
  checksum: string;
}

/**
 * CI variables named K8S_SECRET_<KEY> become key <KEY> of one Opaque Secret; null when there are
 * none. Server-side applied as a whole, so keys dropped from CI disappear from the Secret.
 */
export function secretFromCiVariables(
  env: NodeJS.ProcessEnv,
  options: { name: string; labels?: Record<string, string>; namespace?: string },
): CiVariablesSecret | null {
  const selected = ciSecretNamed(env, options.name);
  if (!selected) return null;
  const data = Object.fromEntries(selected.entries.map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
  const metadata: K8sObject['metadata'] = { name: options.name };
  if (options.namespace) metadata.namespace = options.namespace;
  if (options.labels && Object.keys(options.labels).length > 0) metadata.labels = options.labels;
  return {
    secret: { apiVersion: 'v1', kind: 'Secret', metadata, type: 'Opaque', data },
    keys: selected.entries.map(([k]) => k),
    checksum: selected.checksum,
  };
}
