// What deploy does between applying the services and applying the app: every instance ready, a
// new instance seeded, every service reachable from the namespace, the migration run. Any failure
// here leaves the running app as it was (nothing of it has been applied yet).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { Ctx } from '../context.js';
import type { View } from '../render/view.js';
import type { ServicePlan } from './plan.js';
import { waitForInstances } from './prepare.js';

export interface BeforeRolloutInput {
  config: Config;
  plans: ServicePlan[];
  view: View;
  /** When this deploy applied, by the API server's clock: older evidence is not judged. */
  since: number;
}

/** How long an instance may take to become ready (its image pulled, initialised and seeded). */
export const INSTANCE_READY_SECONDS = 180;

export async function beforeRollout(ctx: Ctx, kc: KubeConfig, input: BeforeRolloutInput): Promise<void> {
  const { plans, view } = input;
  const namespace = view.environment.namespace;
  if (plans.some((p) => p.binding === 'instance')) {
    await waitForInstances(ctx, kc, { namespace, plans, timeoutSeconds: INSTANCE_READY_SECONDS, since: input.since });
  }
}
