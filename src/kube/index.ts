// Cluster access: kubeconfig from CI, the one client (read/apply/delete/list, list+watch
// streams, pod logs), namespaces, secrets, server-side apply, history and rollback, the
// per-environment deploy lease, scaling; the object types and well-known keys.
export * from './objects.js';
export { kubeconfigFromCi, decodeKubeconfig, type CiKubeconfig } from './config.js';
export { kubeClient, FIELD_MANAGER, type KubeClient, type KubeClientOptions, type ObjectRef } from './client.js';
export { isFatal, type Stream, type StreamSpec, type StreamHandlers, type StreamOptions } from './watch.js';
export { ensureNamespace, type NamespaceResult } from './namespace.js';
export {
  dockerConfigJson,
  pullSecretObject,
  secretFromCiVariables,
  ciSecretNamed,
  CI_SECRET_PREFIX,
  type RegistryCredentials,
  type CiVariablesSecret,
  type CiSecret,
} from './secrets.js';
export { applyObjects, type ApplyOptions, type AppliedObject } from './apply.js';
export { listRevisions, rollbackTo, restartRollout, samePodTemplate, RESTART_FIELD_MANAGER, type Revision, type RollbackResult } from './history.js';
export { withDeployLease, type DeployLeaseOptions, type HeldLease, type LeaseHolder } from './lease.js';
export { scaleDeployment } from './scale.js';
export { pruneConfigMaps, configMapsNamed } from './prune.js';
