// The Auto DevOps convention: CI variables named K8S_SECRET_<NAME> become keys <NAME> of one
// Secret in the app's namespace, loaded with envFrom. Its checksum goes on the pod template, so
// changing a value rolls the pods (gitlab-ce#55540). Deploy creates the Secret; render only
// needs its name and checksum, so the values never reach a rendered file or artifact.
import { createHmac } from 'node:crypto';
import { dnsLabel } from '../names/names.js';

export const SECRET_PREFIX = 'K8S_SECRET_';

export interface CiSecret {
  name: string;
  data: Record<string, string>;
  checksum: string;
}

export function ciSecret(env: NodeJS.ProcessEnv, app: string): CiSecret | null {
  const entries = Object.entries(env)
    .filter((e): e is [string, string] => e[0].startsWith(SECRET_PREFIX) && e[0].length > SECRET_PREFIX.length && typeof e[1] === 'string')
    .map(([k, v]) => [k.slice(SECRET_PREFIX.length), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return null;
  const data = Object.fromEntries(entries);
  // A fingerprint that changes when any value does. Whoever can read the Deployment can test a
  // guess of every value against it, as with Helm's checksum/secret; keep secrets long.
  const checksum = createHmac('sha256', `gantry:${app}`).update(JSON.stringify(data)).digest('hex');
  return { name: dnsLabel(`${app}-secrets`), data, checksum };
}
