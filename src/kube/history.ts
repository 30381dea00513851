// Deploy history is the Deployment's own ReplicaSets: one per pod template, numbered by the
// deployment controller (deployment.kubernetes.io/revision), carrying the gantry.dev/*
// annotations the Deployment had when that template was rolled out (the controller copies
// them onto the ReplicaSet) and on the pod template (config/secret checksums).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { pollUntil } from '../retry.js';
import { FIELD_MANAGER, kubeClient, type KubeClient } from './client.js';
import { extractOwned, ownedFields } from './managed-fields.js';
import {
  CHANGE_CAUSE_ANNOTATION,
  COMMIT_ANNOTATION,
  DEPLOYED_BY_ANNOTATION,
  GANTRY_ANNOTATION_PREFIX,
  PIPELINE_URL_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  RESTARTED_AT_ANNOTATION,
  REVISION_ANNOTATION,
  type Deployment,
  type K8sObject,
  type PodTemplateSpec,
  type ReplicaSet,
} from './objects.js';
/**
 * The field manager of a restart, apart from "gantry" (as kubectl's is "kubectl-rollout"): the
 * deploy's server-side apply does not own the annotation, so the next apply leaves it in place
 * instead of removing it, which would change the pod template and roll every pod once more.
 */
export const RESTART_FIELD_MANAGER = 'gantry-rollout';
// Annotations the deployment controller keeps for itself; `kubectl rollout undo` skips the same.
const CONTROLLER_ANNOTATIONS = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export interface Revision {
  revision: number;
  replicaSet: string;
  /** Images of the pod's containers, in order. */
  images: string[];
  /** Every gantry.dev/* annotation of the ReplicaSet and its pod template. */
  annotations: Record<string, string>;
  commit: string | undefined;
  pipelineUrl: string | undefined;
  deployedBy: string | undefined;
  changeCause: string | undefined;
  createdAt: string;
  replicas: number;
  readyReplicas: number;
  /** The revision the Deployment runs now. */
  current: boolean;
}

const revisionOf = (o: Deployment | ReplicaSet) => Number(o.metadata.annotations?.[REVISION_ANNOTATION] ?? NaN);

async function readDeployment(client: KubeClient, namespace: string, name: string): Promise<Deployment> {
  const deployment = await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
  if (!deployment) {
    throw gantryError('E_KUBE_NOT_FOUND', { problem: 'history', deployment: name, namespace });
  }
  return deployment;
}

async function ownedReplicaSets(client: KubeClient, namespace: string, deployment: Deployment): Promise<ReplicaSet[]> {
  const matchLabels = deployment.spec?.selector?.matchLabels ?? {};
  const labelSelector = Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const all = await client.list<ReplicaSet>('apps/v1', 'ReplicaSet', namespace, labelSelector ? { labelSelector } : {});
  return all
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.controller && o.uid === deployment.metadata.uid))
    .filter((rs) => Number.isFinite(revisionOf(rs)))
    .sort((a, b) => revisionOf(a) - revisionOf(b));
}

function gantryAnnotations(...sources: (Record<string, string> | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of sources) for (const [k, v] of Object.entries(source ?? {})) if (k.startsWith(GANTRY_ANNOTATION_PREFIX)) out[k] = v;
  return out;
}

function toRevision(rs: ReplicaSet, currentRevision: number): Revision {
  const annotations = gantryAnnotations(rs.metadata.annotations, rs.spec?.template?.metadata?.annotations);
  return {
    revision: revisionOf(rs),
    replicaSet: rs.metadata.name,
    images: (rs.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
    annotations,
    commit: annotations[COMMIT_ANNOTATION] || undefined,
    pipelineUrl: annotations[PIPELINE_URL_ANNOTATION] || undefined,
    deployedBy: annotations[DEPLOYED_BY_ANNOTATION] || undefined,
    changeCause: rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION],
    createdAt: rs.metadata.creationTimestamp ?? '',
    replicas: rs.status?.replicas ?? 0,
    readyReplicas: rs.status?.readyReplicas ?? 0,
    current: revisionOf(rs) === currentRevision,
  };
}

/** On a ReplicaSet whose rollout failed: the failure's code. `gantry rollback` skips such revisions by default. */
export const FAILED_ANNOTATION = 'gantry.dev/failed';

/**
 * Marks (code) or unmarks (null) revision `revision` of the Deployment as failed, on its
 * ReplicaSet, by a merge patch of field manager gantry-rollout (the deploy's apply does not own
 * it, and the controller's annotation sync from the Deployment leaves it alone). A failed deploy
 * marks its revision; a later deploy that gets the same template to serve unmarks it.
 */
export async function markRevision(ctx: Ctx, kc: KubeConfig, namespace: string, name: string, revision: number, code: string | null): Promise<void> {
  const client = kubeClient(ctx, kc);
  const deployment = await readDeployment(client, namespace, name);
  const rs = (await ownedReplicaSets(client, namespace, deployment)).find((r) => revisionOf(r) === revision);
  if (!rs || (code === null && rs.metadata.annotations?.[FAILED_ANNOTATION] === undefined)) return;
  await client.mergePatch(
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, namespace },
    { metadata: { annotations: { [FAILED_ANNOTATION]: code } } },
    { doing: `${code === null ? 'unmark' : 'mark'} revision ${revision} of deployment/${name}`, fieldManager: RESTART_FIELD_MANAGER, dryRun: ctx.dryRun },
  );
}

/** The Deployment's revisions, oldest first. */
export async function listRevisions(ctx: Ctx, kc: KubeConfig, namespace: string, deploymentName: string): Promise<Revision[]> {
  const client = kubeClient(ctx, kc);
  const deployment = await readDeployment(client, namespace, deploymentName);
  return (await ownedReplicaSets(client, namespace, deployment)).map((rs) => toRevision(rs, revisionOf(deployment)));
}

export interface RollbackResult {
  /** True when the Deployment already runs that template: nothing was changed. */
  skipped: boolean;
  /** The revision that was running before. */
  from: number;
  /** The revision asked for. */
  to: number;
  /** The revision number the restored template runs under now (a new, higher number). */
  revision: number;
  images: string[];
}

/** A pod template as it goes back into a Deployment: without the controller's hash label. */
function cleanTemplate(template: PodTemplateSpec): PodTemplateSpec {
  const copy = structuredClone(template);
  if (copy.metadata) {
    delete copy.metadata.creationTimestamp;
    if (copy.metadata.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  }
  return copy;
}

/** JSON with object keys sorted: the same for equal objects whatever their key order. */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/**
 * Whether two Deployments (as the API server returns them) have the same pod template: then an
 * apply between them created no new ReplicaSet, and the pods are the ones that ran before it.
 */
export function samePodTemplate(a: { spec?: { template?: unknown } } | undefined, b: { spec?: { template?: unknown } } | undefined): boolean {
  if (!a?.spec?.template || !b?.spec?.template) return false;
  return stable(cleanTemplate(a.spec.template as PodTemplateSpec)) === stable(cleanTemplate(b.spec.template as PodTemplateSpec));
}

/**
 * Gives the Deployment's pods a fresh start, as `kubectl rollout restart` does: a new
 * restartedAt annotation on the pod template makes a new ReplicaSet, whose pods replace the
 * current ones by the Deployment's rolling update. Returns the annotation's value.
 */
export async function restartRollout(ctx: Ctx, kc: KubeConfig, namespace: string, name: string, at: Date = new Date()): Promise<string> {
  const restartedAt = at.toISOString();
  const patch = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } } };
  await kubeClient(ctx, kc).mergePatch({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace }, patch, {
    dryRun: ctx.dryRun,
    doing: `restart deployment/${name}`,
    fieldManager: RESTART_FIELD_MANAGER,
  });
  ctx.logger.info(`deployment/${name}: pods ${ctx.dryRun ? 'would be ' : ''}restarted (${RESTARTED_AT_ANNOTATION}=${restartedAt})`);
  return restartedAt;
}

/**
 * Puts revision `revision`'s pod template (and the Deployment annotations it was deployed
 * with) back into the Deployment, as `kubectl rollout undo --to-revision` does. The controller
 * then adopts the old ReplicaSet under a new, higher revision number.
 *
 * Why server-side apply (as "gantry", of exactly the fields Gantry owns, with the template
 * swapped) rather than kubectl's JSON patch or a merge patch: a patch is an Update by another
 * field manager, which would then own the restored fields. The next deploy's apply could not
 * remove them (server-side apply only prunes fields its own manager set), so an env var the
 * old revision had would outlive every later deploy. A merge patch is worse still: it merges
 * maps, so labels and annotations added since that revision would stay. Applying only the
 * template would be wrong too: Gantry owns spec.replicas, strategy and labels, and fields its
 * manager stops specifying are deleted. So the apply carries everything Gantry owns now
 * (read from managedFields), with the old template in place of the current one.
 */
export async function rollbackTo(ctx: Ctx, kc: KubeConfig, namespace: string, name: string, revision: number): Promise<RollbackResult> {
  const client = kubeClient(ctx, kc);
  const deployment = await readDeployment(client, namespace, name);
  const replicaSets = await ownedReplicaSets(client, namespace, deployment);
  const from = revisionOf(deployment);
  const target = replicaSets.find((rs) => revisionOf(rs) === revision);
  if (!target) {
    throw gantryError('E_ROLLBACK_REVISION', { deployment: name, revision, kept: replicaSets.map(revisionOf) });
  }
  const template = cleanTemplate(target.spec?.template ?? {});
  const images = (template.spec?.containers ?? []).map((c) => c.image ?? '');
  if (stable(template) === stable(cleanTemplate(deployment.spec?.template ?? {}))) {
    ctx.logger.info(`deployment/${name} already runs the template of revision ${revision} (revision ${from}); nothing to roll back`);
    return { skipped: true, from, to: revision, revision: from, images };
  }

  const owned = ownedFields(deployment.metadata.managedFields, FIELD_MANAGER);
  const base = (owned ? extractOwned(deployment, owned) : {}) as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  const annotations = Object.fromEntries(Object.entries(target.metadata.annotations ?? {}).filter(([k]) => !CONTROLLER_ANNOTATIONS.has(k)));
  const object: K8sObject = {
    ...base,
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { ...(base.metadata ?? {}), name, namespace, annotations },
    spec: { ...(base.spec ?? {}), template },
  };
  const commit = annotations[COMMIT_ANNOTATION];
  ctx.logger.info(
    `rolling deployment/${name} back from revision ${from} to revision ${revision}${commit ? ` (commit ${commit.slice(0, 8)})` : ''}: ${images.join(', ')}`,
  );
  const applied = await client.apply<Deployment>(object, { dryRun: ctx.dryRun, doing: `roll back deployment/${name}` });
  if (ctx.dryRun) return { skipped: false, from, to: revision, revision: from, images };

  const newRevision = await waitForRevision(ctx, client, namespace, name, applied.metadata.generation ?? 0, from);
  ctx.logger.info(`deployment/${name} now runs revision ${revision}'s template as revision ${newRevision}`);
  return { skipped: false, from, to: revision, revision: newRevision, images };
}

/** The controller numbers the new revision once it has seen the new generation (normally within milliseconds). */
async function waitForRevision(ctx: Ctx, client: KubeClient, namespace: string, name: string, generation: number, previous: number): Promise<number> {
  return pollUntil(
    ctx,
    `roll back deployment/${name}`,
    async () => {
      const d = await readDeployment(client, namespace, name);
      return (d.status?.observedGeneration ?? 0) >= generation && revisionOf(d) !== previous ? revisionOf(d) : undefined;
    },
    {
      intervalMs: 200,
      timeoutMs: 30_000,
      onTimeout: () => {
        throw gantryError('E_KUBE_API', { problem: 'rollback-stalled', deployment: name });
      },
    },
  );
}
