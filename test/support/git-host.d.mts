// Types of git-host.mjs (see there).
export interface GitServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>, what GitLab calls CI_SERVER_FQDN */
  host: string;
  /** The bare repositories, <group>/<project>.git */
  root: string;
  /** Every request so far, "<method> <path+query>", in order. */
  requests(): string[];
  close(): Promise<void>;
}
export function startGitServer(): Promise<GitServer>;
export function createProject(server: GitServer, projectPath: string): string;
export function pushProject(server: GitServer, dir: string, projectPath: string, defaultBranch?: string): string;
export const gantryVersion: string;
export function checkoutSnapshot(message?: string): string;
export function publishGantry(server: GitServer, tags?: string[]): void;
export function startComponentHost(): Promise<GitServer>;
