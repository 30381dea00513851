// The Auto DevOps convention: CI variables named K8S_SECRET_<NAME> become keys <NAME> of one
// Secret in the app's namespace, loaded with envFrom. Its checksum goes on the pod template, so
// changing a value rolls the pods (gitlab-ce#55540). Deploy creates the Secret
// (src/kube/secrets.ts, which also selects the variables); render only needs its name and
// checksum, so the values never reach a rendered file or artifact.
import { K8S_SECRET_PREFIX } from '../ci/variables.js';
import { gantryError } from '../errors.js';
import { ciSecretNamed, type CiSecret } from '../kube/secrets.js';
import { dataBytes, MAX_DATA_BYTES } from '../names/limits.js';
import { dnsLabel } from '../names/names.js';

export function ciSecretName(app: string): string {
  return dnsLabel(`${app}-secrets`);
}

export function ciSecret(env: NodeJS.ProcessEnv, app: string): CiSecret | null {
  const secret = ciSecretNamed(env, ciSecretName(app));
  // ValidateSecret refuses more than MaxSecretSize of values (src/names/limits.ts): say so before
  // anything is applied, naming the variables (never their values).
  const bytes = secret ? dataBytes(secret.entries) : 0;
  if (secret && bytes > MAX_DATA_BYTES) {
    const largest = secret.entries
      .map(([key, value]) => ({ variable: `${K8S_SECRET_PREFIX}${key}`, bytes: Buffer.byteLength(value) }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 3);
    throw gantryError('E_CI_SECRET_TOO_LARGE', { name: secret.name, bytes, limit: MAX_DATA_BYTES, largest });
  }
  return secret;
}
