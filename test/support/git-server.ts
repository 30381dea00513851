// The loopback git host (test/support/git-host.mjs, plain JS so that `npm run demo` uses it too).
export { checkoutSnapshot, createProject, gantryVersion, publishGantry, pushProject, startComponentHost, startGitServer } from './git-host.mjs';
export type { GitServer } from './git-host.mjs';
