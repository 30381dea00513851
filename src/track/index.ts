// The rollout tracker: watch a Deployment until its new ReplicaSet is fully available or it
// fails, with evidence and a fix. See track.ts (the watcher), classify.ts (the verdicts),
// status.ts (completion), summary.ts (the final table).
export { trackRollout, rolloutError, DEFAULT_TIMEOUT_SECONDS, type TrackOptions, type TrackResult, type TrackSuccess, type TrackFailure } from './track.js';
export { classifyPod, classifyReplicaSet, classifyDeployment, readinessBudgetSeconds, type Failure, type PodContext, type RolloutFailureCode } from './classify.js';
export { rolloutStatus, type RolloutStatus, type RolloutStatusOptions } from './status.js';
export { summarize, formatSummary, type ResourceSummary } from './summary.js';
export { currentFailure, failureNow, type CurrentFailure } from './current.js';
