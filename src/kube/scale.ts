// Scaling goes through the Deployment's scale subresource, as `kubectl scale` does: the RBAC
// rule is deployments/scale, and the change is a merge patch of one absolute number
// (idempotent, so retried), owned by the scale subresource rather than by Gantry's apply.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { kubeClient } from './client.js';

export async function scaleDeployment(
  ctx: Ctx,
  kc: KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
): Promise<{ previous: number; replicas: number }> {
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw gantryError('E_SCALE_REPLICAS', { deployment: name, replicas });
  }
  const client = kubeClient(ctx, kc);
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace };
  const before = await client.read<{ spec?: { replicas?: number } }>(ref, `get deployment/${name}`);
  if (!before) {
    throw gantryError('E_KUBE_NOT_FOUND', { problem: 'scale', deployment: name, namespace });
  }
  const previous = before.spec?.replicas ?? 1;
  const scale = await client.mergePatch<{ spec?: { replicas?: number } }>(
    ref,
    { spec: { replicas } },
    { subresource: 'scale', dryRun: ctx.dryRun, doing: `scale deployment/${name}` },
  );
  ctx.logger.info(
    `${ctx.dryRun ? 'dry run: would scale' : 'scaled'} deployment/${name} in ${namespace} from ${previous} to ${scale.spec?.replicas ?? replicas} replicas`,
  );
  return { previous, replicas: scale.spec?.replicas ?? replicas };
}
