// Evidence for a failed rollout, beyond what the classifier already gave (the container's
// termination state, its events): what a timed-out rollout was waiting for, and the last lines
// the failing container wrote, read before a rollback replaces the pod.
import type { KubeClient } from '../kube/client.js';
import { beforeSince, eventTime } from './classify.js';
import type { Picture } from './picture.js';
import { podLine } from './progress.js';

const LOG_TAIL_LINES = 30;
const LOG_LINE_MAX = 400;
const LOG_TIMEOUT_MS = 10_000;

/** Pure: what a rollout that ran out of time was waiting for, its pods, unanswered streams, the latest warnings. */
export function timeoutEvidence(picture: Picture, since: number | undefined): string[] {
  const status = picture.lastStatus;
  const events = [...picture.events.values()];
  const evidence: string[] = [];
  if (status) {
    evidence.push(
      `${status.readyNew}/${status.desired} new pods ready${status.oldPods.length ? `, ${status.oldPods.length} old pods left` : ''}${status.waitingFor ? `; waiting for ${status.waitingFor}` : ''}`,
    );
    for (const pod of status.newPods) evidence.push(podLine(pod, events));
  }
  const down = Object.entries(picture.live)
    .filter(([, isLive]) => !isLive)
    .map(([k]) => k);
  if (down.length) evidence.push(`the API server was not answering for: ${down.join(', ')}`);
  const tracked = new Set(status?.newPods.map((p) => p.metadata.uid) ?? []);
  evidence.push(
    ...events
      .filter((e) => e.type === 'Warning' && tracked.has(e.involvedObject.uid ?? '') && !beforeSince(eventTime(e), since))
      .sort((a, b) => eventTime(b) - eventTime(a))
      .slice(0, 5)
      .map((e) => `event ${e.reason}: ${(e.message ?? '').replace(/\s+/g, ' ')}`),
  );
  return evidence;
}

/** The last lines a container wrote (the other instance's when that one has none to give). */
export async function logTail(
  client: KubeClient,
  namespace: string,
  pod: string,
  container: string,
  which: { previous: boolean; label: string },
): Promise<string[]> {
  let lastError = '';
  for (const previous of [which.previous, !which.previous]) {
    try {
      const text = await withTimeout(client.podLog(namespace, pod, container, { previous, tailLines: LOG_TAIL_LINES, limitBytes: 64 * 1024 }), LOG_TIMEOUT_MS);
      // The API server answers 200 with this text when the runtime has already removed that container.
      if (/^unable to retrieve container logs/.test(text)) {
        lastError = text.trim();
        continue;
      }
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      if (lines.length === 0) {
        lastError = 'the log is empty';
        continue;
      }
      const label = previous === which.previous ? which.label : previous ? 'the previous instance' : 'the current instance';
      return [
        `log of container ${container} (${label}), last ${Math.min(lines.length, LOG_TAIL_LINES)} lines:`,
        ...lines.slice(-LOG_TAIL_LINES).map((l) => `| ${l.length > LOG_LINE_MAX ? `${l.slice(0, LOG_LINE_MAX)}…` : l}`),
      ];
    } catch (error) {
      lastError = String((error as { body?: unknown }).body ?? (error as Error).message ?? error).slice(0, 200);
    }
  }
  return [`log of container ${container}: not available (${lastError})`];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
