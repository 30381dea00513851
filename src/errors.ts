// The error catalogue: every failure Gantry reports has a stable code, a one-line message,
// details, and how to fix it. Exit codes: 1 = the deploy (or another outside action) failed,
// 2 = bad input or configuration (nothing was done).

export interface CatalogueEntry {
  exitCode: 1 | 2;
  title: string;
}

export const catalogue = {
  E_USAGE: { exitCode: 2, title: 'Bad command line' },
  E_CONFIG_MISSING: { exitCode: 2, title: 'No gantry.yaml' },
  E_CONFIG_SYNTAX: { exitCode: 2, title: 'gantry.yaml is not valid YAML' },
  E_CONFIG_INVALID: { exitCode: 2, title: 'The configuration has problems' },
  E_INPUT: { exitCode: 2, title: 'Missing or bad input' },
  E_TEMPLATE: { exitCode: 2, title: 'A manifest template failed' },
  E_BUILD_NO_SOURCE: { exitCode: 2, title: 'Nothing to build an image from' },
  E_DOCKER_UNAVAILABLE: { exitCode: 1, title: 'No Docker daemon answers' },
  E_BUILD_FAILED: { exitCode: 1, title: 'The image build failed' },
  E_REGISTRY_AUTH: { exitCode: 1, title: 'The registry refused the credentials' },
  E_REGISTRY_UNREACHABLE: { exitCode: 1, title: 'The registry cannot be reached' },
  E_PUSH_DENIED: { exitCode: 1, title: 'The registry refused the push' },
  E_FRONTEND_BUILD_FAILED: { exitCode: 1, title: 'The frontend build failed' },
  E_FRONTEND_EMPTY: { exitCode: 1, title: 'Nothing to publish' },
  E_PREVIEW_ABSOLUTE_PATH: { exitCode: 2, title: "The preview's build names its files from the site root" },
  E_OSS_ACCESS: { exitCode: 1, title: 'OSS refused the credentials' },
  E_OSS_BUCKET: { exitCode: 1, title: 'The OSS bucket does not exist' },
  E_OSS_UNREACHABLE: { exitCode: 1, title: 'OSS cannot be reached' },
  E_KUBECONFIG: { exitCode: 2, title: 'The kubeconfig CI variable is missing or unusable' },
  E_KUBE_UNREACHABLE: { exitCode: 1, title: 'The Kubernetes API server cannot be reached' },
  E_KUBE_UNAUTHORIZED: { exitCode: 1, title: 'The Kubernetes API server rejected the credentials' },
  E_KUBE_FORBIDDEN: { exitCode: 1, title: 'The Kubernetes credentials lack a permission' },
  E_KUBE_NOT_FOUND: { exitCode: 1, title: 'A Kubernetes object does not exist' },
  E_KUBE_API: { exitCode: 1, title: 'The Kubernetes API server refused a request' },
  E_APPLY_INVALID: { exitCode: 2, title: 'The API server rejected the manifests' },
  E_ROLLBACK_REVISION: { exitCode: 2, title: 'No such revision to roll back to' },
  E_DEPLOY_LOCKED: { exitCode: 1, title: 'Another deploy holds the environment' },
  E_OSS_WEBSITE: { exitCode: 1, title: 'OSS refused the bucket website configuration' },
  E_CDN_ACCESS: { exitCode: 1, title: 'The CDN refused the credentials (the files are published)' },
  E_CDN_REFRESH: { exitCode: 1, title: 'The CDN cache refresh failed (the files are published)' },
  E_ROLLOUT_IMAGE_PULL: { exitCode: 1, title: 'The cluster cannot pull the image' },
  E_ROLLOUT_CRASHLOOP: { exitCode: 1, title: 'A container keeps crashing' },
  E_ROLLOUT_OOM: { exitCode: 1, title: 'A container was killed for using more memory than its limit' },
  E_ROLLOUT_CONFIG: { exitCode: 1, title: 'A container references a missing ConfigMap, Secret or key' },
  E_ROLLOUT_CREATE: { exitCode: 1, title: 'The container runtime cannot create or start the container' },
  E_ROLLOUT_UNSCHEDULABLE: { exitCode: 1, title: 'No node can run the pod' },
  E_ROLLOUT_ECI: { exitCode: 1, title: 'Elastic Container Instance could not create the pod' },
  E_ROLLOUT_READINESS: { exitCode: 1, title: 'The readiness probe keeps failing' },
  E_ROLLOUT_REPLICA_FAILURE: { exitCode: 1, title: 'The ReplicaSet cannot create pods' },
  E_ROLLOUT_DEADLINE: { exitCode: 1, title: 'The Deployment exceeded its progress deadline' },
  E_ROLLOUT_TIMEOUT: { exitCode: 1, title: 'The rollout did not finish in time' },
  E_ROLLOUT_DELETED: { exitCode: 1, title: 'The Deployment was deleted during the rollout' },
  E_ROLLOUT_ABORTED: { exitCode: 1, title: 'Tracking the rollout was cancelled' },
  E_INTERNAL: { exitCode: 1, title: 'Unexpected error' },
  E_GITLAB_TOKEN: { exitCode: 2, title: 'No GitLab API token' },
  E_GITLAB_ACCESS: { exitCode: 1, title: 'GitLab refused the token' },
  E_GITLAB_UNREACHABLE: { exitCode: 1, title: 'The GitLab API cannot be reached' },
  E_GITLAB_API: { exitCode: 1, title: 'The GitLab API refused a request' },
  E_INIT_NO_PACKAGE: { exitCode: 2, title: 'gantry init found no package.json' },
  E_INIT_EXISTS: { exitCode: 2, title: 'gantry init would overwrite a file' },
  E_INIT_WRITE: { exitCode: 1, title: 'gantry init could not write all its files' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof catalogue;

export interface GantryErrorOptions {
  details?: string[];
  fix?: string;
  cause?: unknown;
}

export class GantryError extends Error {
  readonly code: ErrorCode;
  readonly details: string[];
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.code = code;
    this.details = options.details ?? [];
    this.fix = options.fix;
  }

  get exitCode(): 1 | 2 {
    return catalogue[this.code].exitCode;
  }
}

export function isGantryError(error: unknown): error is GantryError {
  return error instanceof GantryError;
}

/** Wrap a lower-level error with what was being done, keeping Gantry errors as they are. */
export function wrapError(doing: string, error: unknown): GantryError {
  if (isGantryError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GantryError('E_INTERNAL', `${doing}: ${message}`, { cause: error });
}

/** The text a user sees for an error: code, message, details, fix. */
export function formatError(error: GantryError): string {
  const lines = [`error ${error.code}: ${error.message}`];
  for (const detail of error.details) lines.push(`  ${detail}`);
  if (error.fix) lines.push(`fix: ${error.fix}`);
  return lines.join('\n');
}
