// The target namespace: created when missing (previews get one per merge request). A deployer
// whose Role lives inside the namespace usually cannot read or create Namespace objects; then
// the namespace is taken to exist if the deployer can work in it, which a dry-run create proves
// (the API server answers NotFound for a namespace that does not exist, Forbidden for no rights).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError, isGantryError } from '../errors.js';
import { kubeClient, type KubeClient } from './client.js';

export interface NamespaceResult {
  name: string;
  /** Whether Gantry created it just now (false in a dry run: it reports what it would do). */
  created: boolean;
  /** False when the credentials cannot read Namespace objects and existence was inferred. */
  readable: boolean;
}

const isCode = (error: unknown, code: string) => isGantryError(error) && error.code === code;

export async function ensureNamespace(ctx: Ctx, kc: KubeConfig, name: string, labels: Record<string, string> = {}): Promise<NamespaceResult> {
  const client = kubeClient(ctx, kc);
  const ref = { apiVersion: 'v1', kind: 'Namespace', name };
  let existing: { status?: { phase?: string }; metadata?: { labels?: Record<string, string> } } | undefined;
  try {
    existing = await client.read(ref);
  } catch (error) {
    if (!isCode(error, 'E_KUBE_FORBIDDEN')) throw error;
    await proveUsable(ctx, client, name, error as GantryError);
    return { name, created: false, readable: false };
  }

  if (existing) {
    if (existing.status?.phase === 'Terminating') {
      throw gantryError('E_KUBE_API', { problem: 'namespace-terminating', namespace: name });
    }
    const missing = Object.entries(labels).filter(([k, v]) => existing.metadata?.labels?.[k] !== v);
    if (missing.length > 0 && !ctx.dryRun) {
      // Labels are how previews are found and cleaned up; add them, but a deployer that may
      // not patch its own namespace is no reason to stop the deploy.
      try {
        await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }, { doing: `label namespace/${name}` });
      } catch (error) {
        if (!isCode(error, 'E_KUBE_FORBIDDEN')) throw error;
        ctx.logger.warn(`namespace ${name}: cannot add the labels ${missing.map(([k, v]) => `${k}=${v}`).join(', ')} (no permission); continuing`);
      }
    }
    return { name, created: false, readable: true };
  }

  if (ctx.dryRun) {
    ctx.logger.info(`dry run: would create namespace ${name}`);
    return { name, created: false, readable: true };
  }
  try {
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }, { doing: `create namespace/${name}` });
  } catch (error) {
    if (isCode(error, 'E_KUBE_API') && /already exists/.test((error as Error).message)) return { name, created: false, readable: true };
    if (isCode(error, 'E_KUBE_FORBIDDEN')) {
      const e = error as GantryError;
      throw gantryError('E_KUBE_FORBIDDEN', { problem: 'create-namespace', namespace: name, refused: e }, { cause: error });
    }
    throw error;
  }
  ctx.logger.info(`created namespace ${name}`);
  return { name, created: true, readable: true };
}

async function proveUsable(ctx: Ctx, client: KubeClient, name: string, cannotRead: GantryError): Promise<void> {
  const probe = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gantry-access-probe', namespace: name } };
  try {
    await client.list('v1', 'ConfigMap', name, { limit: 1 });
    await client.create(probe, { dryRun: true, doing: `check access to namespace ${name}` });
  } catch (error) {
    if (isCode(error, 'E_KUBE_NOT_FOUND')) {
      throw gantryError('E_KUBE_NOT_FOUND', { problem: 'namespace', namespace: name, cannotRead: cannotRead.message }, { cause: error });
    }
    // AlreadyExists means someone really has a ConfigMap of that name: access is proven all the same.
    if (isCode(error, 'E_KUBE_API') && /already exists/.test((error as Error).message)) return;
    if (isCode(error, 'E_KUBE_FORBIDDEN')) {
      const e = error as GantryError;
      throw gantryError('E_KUBE_FORBIDDEN', { problem: 'namespace-access', namespace: name, cannotRead: cannotRead.message, refused: e }, { cause: error });
    }
    throw error;
  }
  ctx.logger.info(`namespace ${name}: cannot read Namespace objects with these credentials; the namespace exists and is usable`);
}
