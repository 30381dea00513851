// One deploy at a time per environment: a coordination.k8s.io/v1 Lease in the namespace, the
// same object Kubernetes uses for leader election. It is taken with optimistic concurrency
// (create, or update at the resourceVersion that was read: of two racing writers one gets
// 409 Conflict and goes back to waiting), renewed in the background while the deploy runs,
// and released at the end. A holder that died stops renewing, so its lease expires and the
// next deploy takes it over.
//
// Expiry is judged two ways, and either is enough. (1) The way client-go's leader election
// does: the Lease has not changed (same resourceVersion) for its whole duration, as measured
// on this process's own clock, so no two clocks are compared. (2) Its renewTime is older than
// its duration plus a margin, so a lease left behind long ago is taken at once instead of
// after a full wait. For (2) the times in the Lease are the API server's clock, estimated from
// its Date header (whole seconds, hence the margin), not the runner's: a laptop whose clock
// is off by a minute would otherwise see every lease as expired, or none.
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ctx } from '../context.js';
import { gantryError, isGantryError } from '../errors.js';
import { MANAGED_BY_LABEL, type K8sObject, type Lease, type LeaseSpec } from './objects.js';
import { CLEANUP_MAX_MS, cleanupClient, kubeClient, type KubeClient } from './client.js';
import { apiStatus } from './failures.js';
import { pollUntil } from '../retry.js';

export interface LeaseHolder {
  holder: string;
  /** When the holder took the lease (RFC 3339). */
  since: string | undefined;
  renewedAt: string | undefined;
  /** When it expires unless renewed. */
  expiresAt: string | undefined;
}

export interface DeployLeaseOptions {
  /** How long a lease lasts without renewal (default 60 s); it is renewed every third of that. */
  ttlSeconds?: number;
  /** Called when this caller starts waiting, and again whenever the holder changes. */
  onWait?: (held: LeaseHolder) => void;
  /** How often a waiting caller looks again (default 2 s, at most a quarter of the TTL). */
  pollMs?: number;
  /** Give up with E_DEPLOY_LOCKED after this long (default: wait until the job's own timeout). */
  maxWaitSeconds?: number;
}

export interface HeldLease {
  /** Aborted when the lease is lost (another deploy took it over) or the step is cancelled. */
  signal: AbortSignal;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fraction digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function expiresAt(spec: LeaseSpec): number {
  const last = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  return Number.isNaN(last) ? 0 : last + (spec.leaseDurationSeconds ?? 0) * 1000;
}

/** Covers the error of two Date-header clock estimates (each within half a second) and some latency. */
const CLOCK_MARGIN_MS = 2000;

const isConflict = (error: unknown) => isGantryError(error) && apiStatus(error.cause)?.code === 409;

function leaseObject(namespace: string, name: string, spec: LeaseSpec, resourceVersion?: string): K8sObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: 'gantry' }, ...(resourceVersion ? { resourceVersion } : {}) },
    spec,
  };
}

/** Runs `fn` while holding the Lease `leaseName` in `namespace`; waits while another holder has it. */
export async function withDeployLease<T>(
  ctx: Ctx,
  kc: KubeConfig,
  namespace: string,
  leaseName: string,
  holder: string,
  fn: (lease: HeldLease) => Promise<T>,
  options: DeployLeaseOptions = {},
): Promise<T> {
  const ttlSeconds = options.ttlSeconds ?? 60;
  const client = kubeClient(ctx, kc);
  const where = `lease ${namespace}/${leaseName}`;

  if (ctx.dryRun) {
    const lease = await client.read<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: leaseName, namespace });
    const held = lease?.spec?.holderIdentity && expiresAt(lease.spec) > client.serverNow() ? ` (now held by ${lease.spec.holderIdentity})` : '';
    ctx.logger.info(`dry run: would take the deploy ${where}${held}`);
    return fn({ signal: ctx.signal });
  }

  let lease = await acquire(ctx, client, namespace, leaseName, holder, ttlSeconds, options);
  const lost = new AbortController();
  const stop = new AbortController();
  const renewing = renewLoop(
    ctx,
    client,
    where,
    holder,
    ttlSeconds,
    () => lease,
    (l) => (lease = l),
    lost,
    stop.signal,
  );
  try {
    const result = await fn({ signal: AbortSignal.any([ctx.signal, lost.signal]) });
    // Another deploy may have run alongside the end of this one: that is a failure, not a success.
    if (lost.signal.aborted) throw lost.signal.reason;
    return result;
  } finally {
    stop.abort();
    // Wait for a renewal in flight, so it cannot land after the release and re-take the lease.
    await renewing;
    if (!lost.signal.aborted) await release(ctx, kc, client, where, holder, lease);
  }
}

async function acquire(
  ctx: Ctx,
  client: KubeClient,
  namespace: string,
  name: string,
  holder: string,
  ttlSeconds: number,
  options: DeployLeaseOptions,
): Promise<Lease> {
  const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name, namespace };
  const where = `lease ${namespace}/${name}`;
  const pollMs = options.pollMs ?? Math.min(2000, (ttlSeconds * 1000) / 4);
  let announced = '';
  let observed = { resourceVersion: '', since: 0 };
  return pollUntil(
    ctx,
    `wait for the deploy ${where}`,
    async (): Promise<Lease | undefined> => {
      const current = await client.read<Lease>(ref, `get ${where}`);
      const now = client.serverNow();
      const mine = (transitions: number): LeaseSpec => ({
        holderIdentity: holder,
        leaseDurationSeconds: ttlSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: transitions,
      });
      try {
        if (!current) {
          const created = await client.create<Lease>(leaseObject(namespace, name, mine(0)), { doing: `create ${where}` });
          ctx.logger.info(`took the deploy ${where} as ${holder}`);
          return created;
        }
        const spec = current.spec ?? {};
        if (current.metadata.resourceVersion !== observed.resourceVersion)
          observed = { resourceVersion: current.metadata.resourceVersion ?? '', since: Date.now() };
        const unchangedForMs = Date.now() - observed.since;
        const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
        const expired = unchangedForMs >= durationMs || expiresAt(spec) + CLOCK_MARGIN_MS <= now;
        if (!spec.holderIdentity || spec.holderIdentity === holder || expired) {
          // Counted as client-go's leader election counts them: every change of holder, a released lease included.
          const transitions = (spec.leaseTransitions ?? 0) + (spec.holderIdentity === holder ? 0 : 1);
          const taken = await client.replace<Lease>(leaseObject(namespace, name, mine(transitions), current.metadata.resourceVersion), {
            doing: `take ${where}`,
          });
          if (spec.holderIdentity && spec.holderIdentity !== holder) {
            const last = spec.renewTime ?? spec.acquireTime ?? '(never)';
            ctx.logger.warn(
              `took over the deploy ${where} from ${spec.holderIdentity}: last renewed at ${last}, not renewed within its ${spec.leaseDurationSeconds ?? 0} s since (that deploy died or lost its connection)`,
            );
          } else {
            ctx.logger.info(`took the deploy ${where} as ${holder}`);
          }
          return taken;
        }
        const held: LeaseHolder = {
          holder: spec.holderIdentity,
          since: spec.acquireTime,
          renewedAt: spec.renewTime,
          expiresAt: new Date(expiresAt(spec)).toISOString(),
        };
        const key = `${held.holder}@${held.since ?? ''}`;
        if (key !== announced) {
          announced = key;
          options.onWait?.(held);
          ctx.logger.info(
            `waiting for the deploy ${where}: held by ${held.holder} since ${held.since ?? '(unknown)'}; it expires at ${held.expiresAt} unless renewed`,
          );
        }
      } catch (error) {
        // Someone else wrote the Lease between our read and our write: read again.
        if (!isConflict(error)) throw error;
      }
      return undefined;
    },
    {
      intervalMs: pollMs,
      timeoutMs: options.maxWaitSeconds !== undefined ? options.maxWaitSeconds * 1000 : Infinity,
      onTimeout: () => {
        throw gantryError('E_DEPLOY_LOCKED', { where, gaveUpAfter: options.maxWaitSeconds, heldBy: announced ? announced.split('@')[0] : undefined });
      },
    },
  );
}

async function renewLoop(
  ctx: Ctx,
  client: KubeClient,
  where: string,
  holder: string,
  ttlSeconds: number,
  get: () => Lease,
  set: (lease: Lease) => void,
  lost: AbortController,
  stop: AbortSignal,
): Promise<void> {
  const every = (ttlSeconds * 1000) / 3;
  let renewedAt = Date.now();
  while (!stop.aborted) {
    try {
      await sleep(every, undefined, { signal: stop });
    } catch {
      return; // stopped
    }
    const lease = get();
    try {
      const spec = { ...lease.spec, renewTime: microTime(client.serverNow()) };
      set(
        await client.replace<Lease>(leaseObject(lease.metadata.namespace!, lease.metadata.name, spec, lease.metadata.resourceVersion), {
          doing: `renew ${where}`,
        }),
      );
      renewedAt = Date.now();
    } catch (error) {
      if (isConflict(error)) {
        const now = await client
          .read<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: lease.metadata.name, namespace: lease.metadata.namespace })
          .catch(() => undefined);
        if (now?.spec?.holderIdentity === holder) {
          set(now); // our own lease at a newer resourceVersion: renew it at the next tick
          continue;
        }
        const lostIt = gantryError('E_DEPLOY_LOCKED', { where, lostTo: now?.spec?.holderIdentity ?? 'nobody' });
        ctx.logger.error(lostIt.message);
        lost.abort(lostIt);
        return;
      }
      ctx.logger.warn(`could not renew the deploy ${where}: ${(error as Error).message}; trying again`);
      if (Date.now() - renewedAt > ttlSeconds * 1000) {
        const lostIt = gantryError('E_DEPLOY_LOCKED', { where, notRenewedFor: ttlSeconds });
        ctx.logger.error(lostIt.message);
        lost.abort(lostIt);
        return;
      }
    }
  }
}

/** The longest a release may take: it runs while a cancelled job is being shut down, and an unreleased lease expires anyway. */
export const RELEASE_MAX_MS = CLEANUP_MAX_MS;

async function release(ctx: Ctx, kc: KubeConfig, client: KubeClient, where: string, holder: string, lease: Lease): Promise<void> {
  const spec: LeaseSpec = { ...lease.spec, renewTime: microTime(client.serverNow()) };
  delete spec.holderIdentity;
  delete spec.acquireTime;
  // The step's signal is aborted when the job was cancelled or ran out of time, which is exactly
  // when the next deploy most needs the lease back: then the release gets a client and a signal
  // of its own, bounded by one connect and one request (at most RELEASE_MAX_MS).
  const releasing = cleanupClient(ctx, kc, client);
  try {
    await releasing.replace(leaseObject(lease.metadata.namespace!, lease.metadata.name, spec, lease.metadata.resourceVersion), { doing: `release ${where}` });
    ctx.logger.info(`released the deploy ${where}`);
    ctx.cleanup.note(`released the deploy ${where}`);
  } catch (error) {
    const ttl = lease.spec?.leaseDurationSeconds ?? 0;
    // Not fatal: the deploy itself is done, and an unreleased lease expires by itself.
    ctx.logger.warn(`could not release the deploy ${where} held by ${holder}: ${(error as Error).message}; it expires within ${ttl} s`);
  }
}
