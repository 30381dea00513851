// gantry validate's rules for services: what the schema cannot see alone. Each returns problems.
import type { Problem } from '../config/problems.js';
import type { Config } from '../config/schema.js';
import { imageRefProblem } from '../image/ref.js';
import { dns1035Label } from '../names/names.js';
import { KINDS } from './catalog.js';
import { RESERVED_SERVICE_NAMES } from './plan.js';
import type { EnvRole } from './types.js';

export function checkServices(config: Config): Problem[] {
  const problems: Problem[] = [];
  const claimed = new Map<string, string>();
  for (const name of Object.keys(config.backend.env)) claimed.set(name, 'backend.env');
  for (const [name, s] of Object.entries(config.services)) {
    const at = (...rest: string[]) => ['services', name, ...rest];
    const facts = KINDS[s.kind];
    if ((RESERVED_SERVICE_NAMES as readonly string[]).includes(name)) {
      problems.push({
        path: at(),
        message: `"${name}" names one of Gantry's own objects (${config.app}-${name})`,
        fix: 'call the service something else, e.g. db or cache',
      });
    }
    // The StatefulSet's pods carry controller-revision-hash: <name>-<10 characters>, a label value
    // of at most 63: a longer name makes a StatefulSet that never gets a pod.
    const instance = dns1035Label(`${config.app}-${name}`);
    if (instance !== `${config.app}-${name}` || instance.length > 52) {
      problems.push({
        path: at(),
        message: `${config.app}-${name} (the instance's name) is longer than 52 characters, which a StatefulSet's pods cannot carry`,
        fix: 'use a shorter service name',
      });
    }
    if (s.kind === 'mysql' && s.user === 'root') {
      problems.push({
        path: at('user'),
        message: 'the mysql images make root themselves and refuse MYSQL_USER=root',
        fix: `use another user name, e.g. ${config.app.replace(/-/g, '_').slice(0, 32)}`,
      });
    }
    for (const role of ['user', 'database'] as const) {
      if (s[role] !== undefined && !facts.roles.includes(role)) {
        problems.push({ path: at(role), message: `${s.kind} has no ${role}`, fix: `remove services.${name}.${role}` });
      }
    }
    for (const role of Object.keys(s.env) as EnvRole[]) {
      if (!facts.roles.includes(role))
        problems.push({ path: at('env', role), message: `${s.kind} has no ${role}`, fix: `remove services.${name}.env.${role}` });
    }
    if (s.storage === 'emptyDir' && s.storageClass !== undefined) {
      problems.push({
        path: at('storageClass'),
        message: 'a storage class needs a size: emptyDir has none',
        fix: `set services.${name}.storage to a size such as 1Gi, or remove storageClass`,
      });
    }
    if (s.image !== undefined) {
      const why = imageRefProblem(s.image);
      if (why)
        problems.push({
          path: at('image'),
          message: `"${s.image}" is not an image reference: ${why}`,
          fix: 'write registry/namespace/name:tag, e.g. registry-vpc.cn-hangzhou.aliyuncs.com/acme/mysql:8.0',
        });
    }
    if (s.seed && 'file' in s.seed && !facts.seedFiles) {
      problems.push({
        path: at('seed', 'file'),
        message: `${s.kind} images run no seed files`,
        fix: 'use seed.command: a command run once with the app image, e.g. [node, scripts/seed.js]',
      });
    }
    // Two services (or a service and backend.env) giving the app the same variable: one would win silently.
    for (const role of facts.roles) {
      const envName = s.env[role] ?? facts.envNames[role];
      const other = claimed.get(envName);
      if (other) {
        problems.push({
          path: at('env', role),
          message: `${envName} is also set by ${other}`,
          fix: `give one of them another name, e.g. services.${name}.env.${role}: ${name.toUpperCase().replace(/-/g, '_')}_${role.toUpperCase()}`,
        });
      } else claimed.set(envName, `services.${name}`);
    }
  }
  for (const [envName, env] of Object.entries(config.environments)) {
    // A service's variable would silently replace the environment's own of the same name.
    for (const key of Object.keys(env.env ?? {})) {
      const by = claimed.get(key);
      if (by?.startsWith('services.')) {
        problems.push({
          path: ['environments', envName, 'env', key],
          message: `${key} is also set by ${by}`,
          fix: `rename it, or give ${by} another name for it (env:)`,
        });
      }
    }
    for (const name of Object.keys(env.services ?? {})) {
      if (!Object.hasOwn(config.services, name)) {
        problems.push({
          path: ['environments', envName, 'services', name],
          message: `no service ${name} is declared`,
          fix: `declare it under services: (kind, version), or remove it here; declared: ${Object.keys(config.services).join(', ') || 'none'}`,
        });
      }
    }
    if (envName === 'review') continue;
    for (const name of Object.keys(config.services)) {
      if (!env.services || !Object.hasOwn(env.services, name)) {
        problems.push({
          path: ['environments', envName, 'services', name],
          message: `${envName} does not say how it reaches service ${name} (only review previews get an instance by default)`,
          fix: `add "${name}: instance", "${name}: { variable: ${envName.toUpperCase().replace(/-/g, '_')}_${name.toUpperCase().replace(/-/g, '_')}_URL }" or "${name}: { secret: <name>, key: url }"`,
        });
      }
    }
  }
  return problems;
}
