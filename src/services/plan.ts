// gantry.yaml's services resolved for one environment: for each, how it is reached (an instance in
// the namespace, or a managed database by reference), what the app's container gets as env, and,
// for an instance, what runs it. Pure: the cluster is read only by deploy (an instance's existing
// password, a referenced Secret's URL).
import { createHash } from 'node:crypto';
import type { Config, Resources } from '../config/schema.js';
import { gantryError } from '../errors.js';
import { dns1035Label } from '../names/names.js';
import { connectionUrl, KINDS } from './catalog.js';
import type { EnvRole, ResolvedService } from './types.js';

export type Binding = 'instance' | { variable: string } | { secret: string; key: string };

export interface ServicePlan extends ResolvedService {
  /** For an instance: the image it runs. */
  image: string;
  user: string | undefined;
  database: string | undefined;
  storage: string;
  storageClass: string | undefined;
  resources: Resources;
  seed: { file: string } | { command: string[] } | undefined;
  /** The binding as gantry.yaml says it. */
  bind: Binding;
  /** For an instance: the Secret holding its generated password (key "password"). */
  credentialsSecret: string | undefined;
  /** For an instance: the prefix of the service-link variables the kubelet gives pods (HELLO_DB -> HELLO_DB_SERVICE_HOST). */
  serviceLinkPrefix: string | undefined;
}

/** An env entry of the app's container, as the Kubernetes API takes it. */
export interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string; optional?: boolean } };
}

/**
 * The Secret of managed bindings' settings (URL and its parts), written by deploy. Named by its
 * content, as the env ConfigMap is: a deploy stopped by the reachability check or the migration
 * has written a new Secret the running pods do not name, so a pod of the running version that
 * starts again still gets the settings it ran with; and a rollback brings back the old ones.
 */
export function connectionSecretName(deployment: string, checksum: string): string {
  return dns1035Label(`${deployment}-services-${checksum.slice(0, 10)}`);
}

/** Names Gantry uses for its own objects beside `<app>-<service>`: a service may not be called so. */
export const RESERVED_SERVICE_NAMES = ['secrets', 'services', 'env', 'migrate', 'reach', 'seed'] as const;

/** Every declared service, bound for environment `envName` (review: instance unless said otherwise). */
export function planServices(config: Config, envName: string): ServicePlan[] {
  const env = config.environments[envName];
  const bindings = env?.services ?? {};
  const plans: ServicePlan[] = [];
  for (const [name, service] of Object.entries(config.services)) {
    const facts = KINDS[service.kind];
    const given = Object.hasOwn(bindings, name) ? bindings[name] : undefined;
    const bind: Binding | undefined = given ?? (envName === 'review' ? 'instance' : undefined);
    if (bind === undefined) throw bindingMissing(envName, name);
    const defaults = facts.envNames;
    const envNames = Object.fromEntries(facts.roles.map((role) => [role, service.env[role] ?? defaults[role]])) as ServicePlan['envNames'];
    // MySQL user names are at most 32 characters.
    const sqlDefault = config.app.replace(/-/g, '_').slice(0, 32);
    const instance = bind === 'instance';
    const instanceName = instance ? dns1035Label(`${config.app}-${name}`) : undefined;
    plans.push({
      name,
      kind: service.kind,
      binding: instance ? 'instance' : 'variable' in bind ? 'variable' : 'secret',
      instanceName,
      port: facts.port,
      envNames,
      image: service.image ?? `${config.serviceMirror ? `${config.serviceMirror}/` : ''}${facts.image}:${service.version}`,
      user: facts.roles.includes('user') ? (service.user ?? sqlDefault) : undefined,
      database: facts.roles.includes('database') ? (service.database ?? sqlDefault) : undefined,
      storage: service.storage,
      storageClass: service.storageClass,
      resources: service.resources ?? facts.resources,
      seed: service.seed,
      bind,
      credentialsSecret: instanceName,
      serviceLinkPrefix: instanceName?.toUpperCase().replace(/-/g, '_'),
    });
  }
  return plans;
}

/**
 * The app container's env for its services. An instance's host and port are the service-link
 * variables the kubelet sets for a Service that exists before the pod (no cluster DNS needed), its
 * password a reference to its Secret, and the URL is put together by the kubelet's $(VAR)
 * expansion: no password is ever written into a manifest. A managed binding's settings are keys of
 * the connection Secret deploy writes.
 */
export function serviceEnv(plans: ServicePlan[], deployment: string, env: NodeJS.ProcessEnv, urls: Record<string, string> = {}): EnvEntry[] {
  const entries: EnvEntry[] = [];
  const secret = connectionSecretName(deployment, servicesChecksum(plans, env, urls));
  for (const p of plans) {
    const n = p.envNames;
    if (p.binding === 'instance') {
      const ref = (key: string) => ({ secretKeyRef: { name: p.credentialsSecret!, key } });
      if (n.user) entries.push({ name: n.user, value: p.user! });
      if (n.password) entries.push({ name: n.password, valueFrom: ref('password') });
      if (n.database) entries.push({ name: n.database, value: p.database! });
      entries.push({ name: n.host, value: `$(${p.serviceLinkPrefix}_SERVICE_HOST)` });
      entries.push({ name: n.port, value: `$(${p.serviceLinkPrefix}_SERVICE_PORT)` });
      entries.push({
        name: n.url,
        value: connectionUrl(p.kind, {
          user: n.user && `$(${n.user})`,
          password: n.password ? `$(${n.password})` : '',
          host: `$(${n.host})`,
          port: `$(${n.port})`,
          database: n.database && `$(${n.database})`,
        }),
      });
    } else {
      for (const role of KINDS[p.kind].roles) {
        const name = n[role];
        // optional: a URL without a password (a Tair in a VPC) or a database has no such key.
        if (name) entries.push({ name, valueFrom: { secretKeyRef: { name: secret, key: name, optional: true } } });
      }
    }
  }
  return entries;
}

/** What a managed URL says, by role (parts the URL lacks are left out). */
export function urlParts(plan: ServicePlan, url: string, where: string): Partial<Record<EnvRole, string>> {
  const bad = (problem: string) => gantryError('E_SERVICE_URL', { service: plan.name, kind: plan.kind, where, problem });
  // A MongoDB replica set lists its members (dds-a:3717,dds-b:3717, as ApsaraDB hands it out),
  // which is no WHATWG URL: the parts are read from the first member; the app gets the URL whole.
  const members = /^(mongodb(?:\+srv)?:\/\/)((?:[^@/]*@)?)([^/?]*)(.*)$/.exec(url);
  const single = members && members[3]!.includes(',') ? `${members[1]}${members[2]}${members[3]!.split(',')[0]}${members[4]}` : url;
  let parsed: URL;
  try {
    parsed = new URL(single);
  } catch {
    throw bad('not a URL');
  }
  const decode = (text: string, what: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw bad(`its ${what} has a "%" that is no escape (write a literal % as %25)`);
    }
  };
  const schemes: Record<string, string[]> = {
    mysql: ['mysql:', 'mariadb:', 'mysqlx:'],
    postgresql: ['postgresql:', 'postgres:'],
    mongodb: ['mongodb:', 'mongodb+srv:'],
    redis: ['redis:', 'rediss:'],
  };
  if (!schemes[plan.kind]!.includes(parsed.protocol)) {
    throw gantryError('E_SERVICE_URL', {
      service: plan.name,
      kind: plan.kind,
      where,
      problem: `its scheme is ${parsed.protocol.replace(/:$/, '') || 'missing'}, not ${schemes[plan.kind]!.map((s) => s.replace(/:$/, '')).join(' or ')}`,
    });
  }
  if (!parsed.hostname) throw bad('it has no host');
  const parts: Partial<Record<EnvRole, string>> = {
    url,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port || String(KINDS[plan.kind].port),
  };
  if (parsed.username) parts.user = decode(parsed.username, 'user');
  if (parsed.password) parts.password = decode(parsed.password, 'password');
  const database = decode(parsed.pathname.replace(/^\//, ''), 'database');
  if (database && plan.kind !== 'redis') parts.database = database;
  return parts;
}

/** The connection Secret's data for the managed bindings: env name -> value. */
export function connectionData(plans: ServicePlan[], urls: Map<string, { url: string; where: string }>): Record<string, string> {
  const data: Record<string, string> = {};
  for (const p of plans) {
    if (p.binding === 'instance') continue;
    const found = urls.get(p.name);
    if (!found) continue;
    const parts = urlParts(p, found.url, found.where);
    for (const role of KINDS[p.kind].roles) {
      const name = p.envNames[role];
      const value = parts[role];
      if (name && value !== undefined) data[name] = value;
    }
  }
  return data;
}

/**
 * A checksum over the bindings and their URLs (a CI variable's from `env`, a Secret's as deploy
 * read it, in `urls`), so a changed URL or password rolls the pods and names a new Secret.
 */
export function servicesChecksum(plans: ServicePlan[], env: NodeJS.ProcessEnv, urls: Record<string, string> = {}): string {
  const known = plans.map((p) => ({
    name: p.name,
    kind: p.kind,
    bind: p.bind,
    envNames: p.envNames,
    user: p.user,
    database: p.database,
    url: typeof p.bind === 'object' && 'variable' in p.bind ? (env[p.bind.variable] ?? '') : Object.hasOwn(urls, p.name) ? urls[p.name] : undefined,
  }));
  return createHash('sha256').update(JSON.stringify(known)).digest('hex');
}

function bindingMissing(envName: string, name: string) {
  const at = `environments.${envName}.services.${name}`;
  const fix = `add under environments.${envName}.services: "${name}: instance" (run one in the namespace), "${name}: { variable: ${envName.toUpperCase().replace(/-/g, '_')}_${name.toUpperCase().replace(/-/g, '_')}_URL }" (a CI variable with its URL) or "${name}: { secret: <name>, key: url }" (an existing Secret)`;
  return gantryError('E_CONFIG_INVALID', {
    message: `${at} is not set: ${envName} does not say how it reaches service ${name}; nothing was done`,
    fix,
    lines: [`✗ ${at}: not set (only review previews get an instance by default)`, `    fix: ${fix}`],
  });
}
