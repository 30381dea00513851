// What the app needs besides itself (gantry.yaml `services:`): a database or a cache, run by Gantry
// in the namespace (an instance, what previews get) or bound to a managed one by reference (a CI
// variable or an existing Secret holding its URL, what staging and production use).

export type ServiceKind = 'mysql' | 'postgresql' | 'mongodb' | 'redis';
export const SERVICE_KINDS: readonly ServiceKind[] = ['mysql', 'postgresql', 'mongodb', 'redis'];

/** The settings an app receives for one service, each as an environment variable. */
export type EnvRole = 'url' | 'host' | 'port' | 'user' | 'password' | 'database';

export interface ResolvedService {
  /** Its key under services: in gantry.yaml, e.g. db. */
  name: string;
  kind: ServiceKind;
  binding: 'instance' | 'variable' | 'secret';
  /** For an instance: the name of its Service and StatefulSet in the namespace, e.g. hello-db. */
  instanceName?: string | undefined;
  port: number;
  /** The environment variable names the app gets, by role. */
  envNames: Partial<Record<EnvRole, string>> & { url: string; host: string; port: string };
}
