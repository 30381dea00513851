// The Auto DevOps convention: CI variables named K8S_SECRET_<NAME> become keys <NAME> of one
// Secret in the app's namespace, loaded with envFrom. Its checksum goes on the pod template, so
// changing a value rolls the pods (gitlab-ce#55540). Deploy creates the Secret
// (src/kube/secrets.ts, which also selects the variables); render only needs its name and
// checksum, so the values never reach a rendered file or artifact.
import { ciSecretNamed, type CiSecret } from '../kube/secrets.js';
import { dnsLabel } from '../names/names.js';

export function ciSecretName(app: string): string {
  return dnsLabel(`${app}-secrets`);
}

export function ciSecret(env: NodeJS.ProcessEnv, app: string): CiSecret | null {
  return ciSecretNamed(env, ciSecretName(app));
}
