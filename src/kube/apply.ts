// Apply = validate everything, then change anything. Every object first goes through a
// server-side dry run (the API server's own validation, admission and defaulting, with unknown
// fields rejected); if any is refused, all refusals are reported together and nothing is
// applied. Then each object is server-side applied, in the order given (ConfigMaps and
// Secrets before the Deployment that reads them).
import type { KubeConfig } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import type { Ctx } from '../context.js';
import { gantryError, isGantryError } from '../errors.js';
import type { K8sObject } from './objects.js';
import { kubeClient, type KubeClient } from './client.js';
import { apiStatus } from './failures.js';

export interface ApplyOptions {
  /** The target namespace: every namespaced object goes here. */
  namespace: string;
  /** Validate only (default: ctx.dryRun). */
  dryRun?: boolean;
  /**
   * Runs before the object at index `at` is applied (after all are validated; not in a dry run):
   * deploy waits there for the services and runs the migration, before the app is changed. Its
   * error ends the apply with the objects from `at` on left as they were.
   */
  gate?: { at: number; run: () => Promise<void> } | undefined;
}

export interface AppliedObject {
  kind: string;
  name: string;
  namespace: string | undefined;
  /** What the apply did; "valid" in a dry run. */
  result: 'created' | 'configured' | 'unchanged' | 'valid';
  /** The object as the API server answered (after defaulting). */
  object: K8sObject;
}

interface Validated {
  object: K8sObject;
  answer: K8sObject;
}

const label = (o: K8sObject) => `${o.kind.toLowerCase()}/${o.metadata.name}`;

/** The object as it will be sent: namespaced kinds moved into the target namespace. */
async function place(ctx: Ctx, client: KubeClient, object: K8sObject, namespace: string): Promise<K8sObject> {
  const namespaced = await client.namespaced(object.apiVersion, object.kind);
  const copy = structuredClone(object);
  if (namespaced === false) {
    delete copy.metadata.namespace;
  } else {
    if (copy.metadata.namespace !== undefined && copy.metadata.namespace !== namespace) {
      ctx.logger.warn(`${label(object)}: namespace ${String(copy.metadata.namespace)} in the manifest replaced by the target namespace ${namespace}`);
    }
    copy.metadata.namespace = namespace;
  }
  return copy;
}

async function dryRunAll(ctx: Ctx, client: KubeClient, objects: K8sObject[], namespace: string): Promise<Validated[]> {
  const limit = pLimit(4);
  const outcomes = await Promise.all(
    objects.map((original) =>
      limit(async () => {
        try {
          const object = await place(ctx, client, original, namespace);
          const answer = await client.apply(object, { dryRun: true, doing: `validate ${label(object)}` });
          return { ok: true as const, object, answer };
        } catch (error) {
          return { ok: false as const, original, error };
        }
      }),
    ),
  );
  const refused: string[] = [];
  for (const outcome of outcomes) {
    if (outcome.ok) continue;
    const { error, original } = outcome;
    // Only a refusal of the object itself is collected; no access, no server, no namespace
    // are problems of the environment, reported as they are.
    if (!isGantryError(error) || error.code !== 'E_KUBE_API') throw error;
    const status = apiStatus(error.cause);
    const message = status && status.code !== 404 ? status.message : error.message.replace(/^validate [^:]+: /, '');
    refused.push(`${label(original)}: ${message}`);
  }
  if (refused.length > 0) {
    throw gantryError('E_APPLY_INVALID', { refused, total: objects.length });
  }
  return outcomes.filter((o) => o.ok).map((o) => ({ object: o.object, answer: o.answer }));
}

/** Validates all objects, then server-side applies them in order (field manager "gantry", force). */
export async function applyObjects(ctx: Ctx, kc: KubeConfig, objects: K8sObject[], options: ApplyOptions): Promise<AppliedObject[]> {
  const client = kubeClient(ctx, kc);
  const dryRun = options.dryRun ?? ctx.dryRun;
  const validated = await dryRunAll(ctx, client, objects, options.namespace);
  const out: AppliedObject[] = [];
  for (const [index, { object, answer }] of validated.entries()) {
    if (!dryRun && options.gate && index === options.gate.at) await options.gate.run();
    const namespace = object.metadata.namespace as string | undefined;
    if (dryRun) {
      ctx.logger.info(`dry run: ${label(object)} is valid and would be applied`);
      out.push({ kind: object.kind, name: object.metadata.name, namespace, result: 'valid', object: answer });
      continue;
    }
    const applied = await client.apply(object, { doing: `apply ${label(object)}` });
    // A dry run answers with the stored resourceVersion (none for a new object); a real apply
    // that changed nothing keeps it.
    const before = (answer.metadata as { resourceVersion?: string }).resourceVersion;
    const after = (applied.metadata as { resourceVersion?: string }).resourceVersion;
    const result = !before ? 'created' : before === after ? 'unchanged' : 'configured';
    ctx.logger.info(`${label(object)} ${result}`);
    out.push({ kind: object.kind, name: object.metadata.name, namespace, result, object: applied });
  }
  return out;
}
