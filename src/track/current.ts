// Is the Deployment's current revision failing right now? One look (no watch), judged by the
// same rules as a rollout, with everything the cluster still shows counted, old evidence
// included. The deploy flow asks this when an apply left the pod template unchanged: the pods
// are then the ones an earlier run left, and if they are failing they get a fresh start rather
// than a verdict on what they did before the fix (a job re-run after a fix must pass).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { kubeClient } from '../kube/client.js';
import { kubeError } from '../kube/failures.js';
import { pollUntil } from '../retry.js';
import { classifyDeployment, classifyPod, classifyReplicaSet, type Failure } from './classify.js';
import { rolloutStatus, selectorString } from './status.js';
import type { Deployment, KubeEvent, Pod, ReplicaSet } from '../kube/objects.js';

export interface CurrentFailure {
  /** The revision whose pods were judged. */
  revision: string | undefined;
  failure: Failure;
}

/**
 * Pure: the failure the current revision shows in this picture, or undefined when it is complete,
 * still coming up, or the controller has not caught up with the spec yet (nothing to judge).
 */
export function failureNow(d: Deployment, replicaSets: ReplicaSet[], pods: Pod[], events: KubeEvent[], now: number): CurrentFailure | undefined {
  const status = rolloutStatus(d, replicaSets, pods, now, { waitForTerminating: false });
  if (status.done || !status.newReplicaSet) return undefined;
  const revision = status.revision;
  for (const pod of status.newPods) {
    const failure = classifyPod(pod, events, { now, fresh: true });
    if (failure) return { revision, failure };
  }
  const failure = classifyReplicaSet(status.newReplicaSet, { oldPodsRemain: false }) ?? classifyDeployment(d);
  return failure ? { revision, failure } : undefined;
}

/** Reads the Deployment, its ReplicaSets and pods and the namespace's events once, and judges them (failureNow). */
export async function currentFailure(ctx: Ctx, kc: KubeConfig, options: { namespace: string; name: string }): Promise<CurrentFailure | undefined> {
  const ns = encodeURIComponent(options.namespace);
  const what = `deployment/${options.name} in ${options.namespace}`;
  try {
    const client = kubeClient(ctx, kc);
    // The controller numbers the revision once it has seen the spec: wait a moment for it (it
    // normally takes milliseconds); a spec it has not seen in 5 s is not judged here.
    const judged = await pollUntil(
      ctx,
      `wait for ${what} to be observed`,
      async (): Promise<{ failure: CurrentFailure | undefined } | undefined> => {
        const sent = Date.now();
        const answer = await client.getJson<{ items?: Deployment[] }>(`/apis/apps/v1/namespaces/${ns}/deployments`, {
          fieldSelector: `metadata.name=${options.name}`,
        });
        const d = answer.body.items?.[0];
        if (!d) return { failure: undefined };
        if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return undefined;
        const labelSelector = selectorString(d.spec?.selector);
        const [replicaSets, pods, events] = await Promise.all([
          client.getJson<{ items?: ReplicaSet[] }>(`/apis/apps/v1/namespaces/${ns}/replicasets`, { labelSelector }),
          client.getJson<{ items?: Pod[] }>(`/api/v1/namespaces/${ns}/pods`, { labelSelector }),
          client.getJson<{ items?: KubeEvent[] }>(`/api/v1/namespaces/${ns}/events`, {}),
        ]);
        // Times in the objects are the API server's: judge by its clock (its Date header has whole seconds).
        const now = answer.date !== undefined ? answer.date + 500 + (Date.now() - sent) : Date.now();
        return { failure: failureNow(d, replicaSets.body.items ?? [], pods.body.items ?? [], events.body.items ?? [], now) };
      },
      { intervalMs: 200, timeoutMs: 4800, onTimeout: () => ({ failure: undefined }) },
    );
    return judged.failure;
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
    throw kubeError(`read the pods of ${what}`, error, kc.getCurrentCluster()?.server ?? '(no cluster)');
  }
}
