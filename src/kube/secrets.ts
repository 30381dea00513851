// Secrets Gantry creates in the target namespace: the registry pull secret, and the app Secret
// made of K8S_SECRET_* CI variables (the Auto DevOps convention). Both are server-side applied,
// and every value is registered with the logger before anything could print it.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import type { K8sObject } from './objects.js';
import { ciSecretNamed, SECRET_PREFIX } from '../render/secret.js';
import { kubeClient } from './client.js';

export const CI_SECRET_PREFIX = SECRET_PREFIX;

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

export function pullSecretObject(namespace: string, name: string, credentials: RegistryCredentials, labels: Record<string, string> = {}): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, ...(Object.keys(labels).length > 0 ? { labels } : {}) },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(dockerConfigJson(credentials)).toString('base64') },
  };
}

/** Creates or updates the kubernetes.io/dockerconfigjson Secret that lets the kubelet pull from the registry. */
export async function ensurePullSecret(
  ctx: Ctx,
  kc: KubeConfig,
  namespace: string,
  name: string,
  credentials: RegistryCredentials,
  options: { labels?: Record<string, string> } = {},
): Promise<void> {
  const secret = pullSecretObject(namespace, name, credentials, options.labels);
  ctx.logger.addSecret(credentials.password);
  ctx.logger.addSecret(Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'));
  ctx.logger.addSecret((secret.data as Record<string, string>)['.dockerconfigjson']);
  await kubeClient(ctx, kc).apply(secret, { dryRun: ctx.dryRun, doing: `apply secret/${name}` });
  ctx.logger.info(`${ctx.dryRun ? 'dry run: would apply' : 'applied'} pull secret ${namespace}/${name} for ${credentials.server} (user ${credentials.username})`);
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
 * none. Selection and checksum come from src/render/secret.ts, so the checksum render puts on
 * the pod template is the one of the Secret applied here.
 */
export function secretFromCiVariables(env: NodeJS.ProcessEnv, options: { name: string; labels?: Record<string, string>; namespace?: string }): CiVariablesSecret | null {
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

/**
 * Applies the Secret made of the K8S_SECRET_* variables in ctx.env to `namespace`; null (and
 * nothing applied) when there are none. Keys dropped from CI disappear from the Secret, since
 * Gantry owns the whole data map under server-side apply.
 */
export async function applyCiSecret(
  ctx: Ctx,
  kc: KubeConfig,
  namespace: string,
  options: { name: string; labels?: Record<string, string> },
): Promise<{ name: string; keys: string[]; checksum: string } | null> {
  for (const [key, value] of Object.entries(ctx.env)) if (key.startsWith(CI_SECRET_PREFIX)) ctx.logger.addSecret(value);
  const built = secretFromCiVariables(ctx.env, { ...options, namespace });
  if (!built) return null;
  for (const value of Object.values(built.secret.data as Record<string, string>)) ctx.logger.addSecret(value);
  await kubeClient(ctx, kc).apply(built.secret, { dryRun: ctx.dryRun, doing: `apply secret/${options.name}` });
  ctx.logger.info(`${ctx.dryRun ? 'dry run: would apply' : 'applied'} secret ${namespace}/${options.name} from CI variables: ${built.keys.join(', ')}`);
  return { name: options.name, keys: built.keys, checksum: built.checksum };
}
