// The progress lines of a rollout: an observer of the picture, called after every judgement.
// Each line appears once: a pod's line when it changes, each warning once (the same message for
// several pods once), the counts when they change.
import type { Deployment, KubeEvent, Pod } from '../kube/objects.js';
import { beforeSince, eventTime } from './classify.js';
import type { Picture } from './picture.js';
import type { RolloutStatus } from './status.js';
import { podLastReason } from './summary.js';

/** `[  3.2s]`: time since tracking started, the prefix of every progress line. */
export function elapsed(start: number): string {
  return `[${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s]`;
}

/** One pod as a progress line: phase, readiness, restarts, the last reason anything gave. */
export function podLine(pod: Pod, events: KubeEvent[]): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const ready = `${statuses.filter((s) => s.ready).length}/${pod.spec?.containers.length ?? statuses.length}`;
  const restarts = [...statuses, ...(pod.status?.initContainerStatuses ?? [])].reduce((n, s) => n + s.restartCount, 0);
  const phase = pod.metadata.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Pending');
  const reason = podLastReason(pod, events);
  return `pod/${pod.metadata.name}: ${phase}, ready ${ready}, restarts ${restarts}${reason ? `, ${reason}` : ''}`;
}

export interface ProgressOptions {
  /** Local ms when tracking started. */
  start: number;
  /** As in TrackOptions: only warnings since then are printed. */
  since?: number | undefined;
}

export interface ProgressPrinter {
  /** Prints what is new in this judgement of the picture. */
  report(picture: Picture, deployment: Deployment, status: RolloutStatus): void;
}

/** A printer that remembers what it printed; `log` gets each line without the time prefix. */
export function progressPrinter(log: (line: string) => void, options: ProgressOptions): ProgressPrinter {
  const printedPods = new Map<string, string>();
  const printedWarnings = new Set<string>();
  let printedProgress = '';
  let printedRevision = '';

  return {
    report(picture, d, status) {
      const events = [...picture.events.values()];
      if (status.newReplicaSet && status.revision && printedRevision !== status.revision) {
        printedRevision = status.revision;
        const paused = d.spec?.paused ? ' (the Deployment is paused: nothing rolls out until it is resumed)' : '';
        log(
          `revision ${status.revision}: replicaset/${status.newReplicaSet.metadata.name}, ${status.desired} replica${status.desired === 1 ? '' : 's'} wanted${paused}`,
        );
      }
      for (const pod of status.newPods) {
        const line = podLine(pod, events);
        if (printedPods.get(pod.metadata.uid) !== line) {
          printedPods.set(pod.metadata.uid, line);
          log(line);
        }
      }
      // Warnings about this rollout's objects, each once: the same message for several pods is printed once.
      const tracked = new Set<string>([
        d.metadata.uid,
        ...(status.newReplicaSet ? [status.newReplicaSet.metadata.uid] : []),
        ...status.newPods.map((p) => p.metadata.uid),
      ]);
      // Recent ones only: those since the apply, or (not knowing when that was) the last 30 s.
      const recent = (e: KubeEvent) =>
        options.since !== undefined ? !beforeSince(eventTime(e), options.since) : eventTime(e) >= options.start + picture.clockOffset - 30_000;
      for (const e of [...events].sort((a, b) => eventTime(a) - eventTime(b))) {
        if (e.type !== 'Warning' || !tracked.has(e.involvedObject.uid ?? '') || !recent(e)) continue;
        const objectName = e.involvedObject.name ?? '';
        const generic = (e.message ?? '')
          .split(objectName)
          .join('<name>')
          .split(e.involvedObject.uid ?? '\u0000')
          .join('<uid>');
        const key = `${e.reason}\u0000${generic}`;
        if (printedWarnings.has(key)) continue;
        printedWarnings.add(key);
        log(`warning ${(e.involvedObject.kind ?? '').toLowerCase()}/${objectName} ${e.reason ?? ''}: ${(e.message ?? '').replace(/\s+/g, ' ').trim()}`);
      }
      // Until the new ReplicaSet is known there are no counts worth showing, only what it waits for.
      const old = status.oldPods.length
        ? `, ${status.oldPods.length} old pod${status.oldPods.length === 1 ? '' : 's'}${status.oldTerminating ? ` (${status.oldTerminating} terminating)` : ''}`
        : '';
      const counts = status.newReplicaSet || status.done ? `${status.readyNew}/${status.desired} ready${old}` : '';
      const tail = status.done ? 'all new pods available, no old pods left' : status.waitingFor ? `waiting for ${status.waitingFor}` : '';
      // A changed count is news; a changed number inside the waiting reason alone is not.
      const key = `${counts}|${tail.replace(/\d+/g, '#')}`;
      if (key !== printedProgress) {
        printedProgress = key;
        log([counts, tail].filter(Boolean).join(counts && status.done ? ': ' : '; '));
      }
    },
  };
}
