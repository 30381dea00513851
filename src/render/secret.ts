// The Auto DevOps convention: CI variables named K8S_SECRET_<NAME> become keys <NAME> of one
// Secret in the app's namespace, loaded with envFrom. Its checksum goes on the pod template, so
// changing a value rolls the pods (gitlab-ce#55540). Deploy creates the Secret
// (src/kube/secrets.ts); render only needs its name and checksum, so the values never reach a
// rendered file or artifact. k8sSecretVariables (src/ci/variables.ts) selects the variables.
import { createHmac } from 'node:crypto';
import { K8S_SECRET_PREFIX, k8sSecretVariables } from '../ci/variables.js';
import { dnsLabel } from '../names/names.js';

export const SECRET_PREFIX = K8S_SECRET_PREFIX;

export interface CiSecret {
  name: string;
  /** Keys without the prefix, sorted, with their plain values. */
  entries: (readonly [string, string])[];
  checksum: string;
}

export function ciSecretName(app: string): string {
  return dnsLabel(`${app}-secrets`);
}

/** The K8S_SECRET_* variables as a Secret named `name`; null when there are none. */
export function ciSecretNamed(env: NodeJS.ProcessEnv, name: string): CiSecret | null {
  const entries = k8sSecretVariables(env);
  if (entries.length === 0) return null;
  // An HMAC keyed by the Secret's name, so it is not a plain hash of the values. The key is not
  // secret: whoever can read the Deployment can still test a guess of every value, as with
  // Helm's checksum/secret. It only has to change when a key or value does.
  const checksum = createHmac('sha256', `gantry:${name}`).update(JSON.stringify(entries)).digest('hex');
  return { name, entries, checksum };
}

export function ciSecret(env: NodeJS.ProcessEnv, app: string): CiSecret | null {
  return ciSecretNamed(env, ciSecretName(app));
}
