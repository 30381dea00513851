// The Docker CLI, driven through zx: it honours DOCKER_HOST (a mounted socket or a
// docker:dind service), so Gantry runs wherever a GitLab runner gives it a daemon.
// Credentials only ever travel on stdin, into a throwaway DOCKER_CONFIG.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AbortError } from 'p-retry';
import type { Ctx } from '../context.js';
import { ciVariables } from '../ci/variables.js';
import { GantryError, gantryError } from '../errors.js';
import { withRetry } from '../retry.js';

type Zx = typeof import('zx/core');

export interface Docker {
  /** Runs `docker <args>`; stdout and stderr are collected and, with `stream`, logged live. */
  run(args: string[], options?: { input?: string; stream?: boolean }): Promise<DockerResult>;
  configDir: string;
  dispose(): Promise<void>;
}

export interface DockerResult {
  exitCode: number;
  output: string;
}

const unreachable =
  /connection refused|no such host|i\/o timeout|timeout exceeded|TLS handshake timeout|network is unreachable|connection reset|EOF$|server gave HTTP response to HTTPS client/im;

export async function openDocker(ctx: Ctx): Promise<Docker> {
  const { $ }: Zx = await import('zx/core');
  const configDir = await mkdtemp(path.join(tmpdir(), 'gantry-docker-'));
  const env = { ...ctx.env, DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false' };
  const docker: Docker = {
    configDir,
    async run(args, options = {}) {
      const p = $({ env, cwd: ctx.cwd, quiet: true, nothrow: true, input: options.input, signal: ctx.signal })`docker ${args}`;
      let output = '';
      // Chunks end mid-line; only whole lines are logged.
      const lineLogger = () => {
        let pending = '';
        return {
          add(chunk: Buffer) {
            const text = chunk.toString();
            output += text;
            if (!options.stream) return;
            const lines = (pending + text).split('\n');
            pending = lines.pop() ?? '';
            for (const line of lines) if (line.trim()) ctx.logger.info(line);
          },
          flush() {
            if (options.stream && pending.trim()) ctx.logger.info(pending);
          },
        };
      };
      const out = lineLogger();
      const err = lineLogger();
      p.stdout.on('data', (c: Buffer) => out.add(c));
      p.stderr.on('data', (c: Buffer) => err.add(c));
      const result = await p;
      out.flush();
      err.flush();
      return { exitCode: result.exitCode ?? 1, output };
    },
    async dispose() {
      await rm(configDir, { recursive: true, force: true });
    },
  };
  const version = await docker.run(['version', '--format', '{{.Server.Version}}']);
  const dockerHost = ciVariables(ctx.env).local.dockerHost;
  if (version.exitCode !== 0) {
    await docker.dispose();
    throw gantryError('E_DOCKER_UNAVAILABLE', { dockerHost, output: tail(version.output, 5) });
  }
  ctx.logger.info(`docker daemon ${version.output.trim()}${dockerHost ? ` at ${dockerHost}` : ''}`);
  return docker;
}

/** Retries idempotent registry calls on network errors only, with bounded backoff. */
async function withRegistryRetries<T>(ctx: Ctx, what: string, host: string, attempt: () => Promise<T | { retry: string }>): Promise<T> {
  try {
    return await withRetry(
      ctx,
      what,
      async () => {
        const result = await attempt();
        if (result && typeof result === 'object' && 'retry' in result) throw new Error(result.retry);
        return result as T;
      },
      {
        // Refusals are thrown as GantryErrors (inside AbortError); anything else may be the network.
        isTransient: (error) => !(error instanceof GantryError),
        retries: ciVariables(ctx.env).gantry.registryRetries,
        minDelayMs: 1000,
        maxDelayMs: 8000,
        describe: (error) => firstLine((error as Error).message),
      },
    );
  } catch (error) {
    if (error instanceof GantryError) throw error;
    throw gantryError('E_REGISTRY_UNREACHABLE', { problem: 'login', doing: what, host, output: tail((error as Error).message, 5) });
  }
}

/** docker login with the password on stdin; it is a CI variable (GANTRY_REGISTRY_PASSWORD), which ctx masks by its name. */
export async function login(ctx: Ctx, docker: Docker, host: string, user: string, password: string): Promise<void> {
  await withRegistryRetries(ctx, `docker login ${host}`, host, async () => {
    const r = await docker.run(['login', '--username', user, '--password-stdin', host], { input: password });
    if (r.exitCode === 0) return undefined;
    if (unreachable.test(r.output)) return { retry: ctx.logger.mask(r.output) };
    throw new AbortError(gantryError('E_REGISTRY_AUTH', { host, user, output: tail(ctx.logger.mask(r.output), 3) }));
  });
  ctx.logger.info(`logged in to ${host} as ${user}`);
}

export async function push(ctx: Ctx, docker: Docker, image: string, host: string): Promise<void> {
  await withRegistryRetries(ctx, `docker push ${image}`, host, async () => {
    const r = await docker.run(['push', image], { stream: true });
    if (r.exitCode === 0) return undefined;
    if (/denied|unauthorized|authentication required|no basic auth credentials|forbidden/i.test(r.output)) {
      throw new AbortError(gantryError('E_PUSH_DENIED', { host, image, output: tail(ctx.logger.mask(r.output), 3) }));
    }
    if (unreachable.test(r.output)) return { retry: ctx.logger.mask(r.output) };
    throw new AbortError(gantryError('E_PUSH_DENIED', { image, failed: true, output: tail(ctx.logger.mask(r.output), 5) }));
  });
}

/** The repository digest the registry gave the pushed image. */
export async function pushedDigest(docker: Docker, image: string, repository: string): Promise<string> {
  const r = await docker.run(['image', 'inspect', '--format', '{{range .RepoDigests}}{{println .}}{{end}}', image]);
  const line = r.output.split('\n').find((l) => l.startsWith(`${repository}@sha256:`));
  if (r.exitCode !== 0 || !line) throw new Error(`no digest for ${image} after the push (docker image inspect: ${firstLine(r.output)})`);
  return line.slice(repository.length + 1).trim();
}

export function tail(text: string, lines: number): string[] {
  return text.trimEnd().split('\n').slice(-lines);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
