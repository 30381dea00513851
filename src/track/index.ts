// The rollout tracker: watch a Deployment until its new ReplicaSet is fully available or it
// fails, with evidence and a fix. See track.ts (the wiring: streams, heartbeat, timers),
// picture.ts (what the streams show), verdict.ts (pure: picture + time -> in progress, done or
// failure), classify.ts (the failure rules), status.ts (completion), progress.ts (the progress
// lines), evidence.ts (log tails, what a timeout waited for), summary.ts (the final table).
export { trackRollout, rolloutError, type TrackOptions, type TrackResult, type TrackSuccess, type TrackFailure } from './track.js';
export { newPicture, type Picture, type StreamKey } from './picture.js';
export { verdict, type Verdict, type VerdictOptions, type Clock } from './verdict.js';
export {
  classifyPod,
  classifyReplicaSet,
  classifyDeployment,
  readinessBudgetSeconds,
  type Failure,
  type PodContext,
  type RolloutFailureCode,
} from './classify.js';
export { rolloutStatus, type RolloutStatus, type RolloutStatusOptions } from './status.js';
export { summarize, formatSummary, type ResourceSummary } from './summary.js';
export { explainConnectionFailure, type ServiceEndpointHint, type ConnectionContext } from './connection.js';
export { currentFailure, failureNow, type CurrentFailure } from './current.js';
