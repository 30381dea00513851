// The docker CLI for tests, local images only. No public registry is reachable here, so a test
// must never make Docker pull one: `docker run`/`create` get `--pull never`, and before a
// `docker build` every base image of its Dockerfile must be on this machine (or on one of the
// loopback registries, which Docker may pull from). A missing image fails here, with a message
// naming it, instead of as a pull from Docker Hub. (The test dockerd also has a closed loopback
// port as its proxy for any other registry: test/cluster/lib/docker.sh.)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together. */
  output: string;
  seconds: number;
}

export interface DockerOptions {
  timeout?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** Registries Docker may pull from in tests: the loopback ones. */
export function isLoopbackImage(ref: string): boolean {
  const first = ref.split('/')[0]!;
  if (!ref.includes('/') || !/[.:]/.test(first)) return false; // docker.io/library/... or docker.io/<user>/...
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(first);
}

function run(args: string[], options: DockerOptions): DockerResult {
  const started = Date.now();
  const r = spawnSync('docker', args, {
    encoding: 'utf8',
    timeout: options.timeout ?? 300_000,
    input: options.input,
    env: options.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    code: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    output: `${r.stdout ?? ''}\n${r.stderr ?? ''}`,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The value of `--flag value` or `--flag=value` in args (the last one wins). */
function flagValues(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag && i + 1 < args.length) out.push(args[i + 1]!);
    else if (a.startsWith(`${flag}=`)) out.push(a.slice(flag.length + 1));
  });
  return out;
}

/** The base images a Dockerfile builds FROM, with ARG defaults and --build-arg values filled in; build stages are left out. */
export function dockerfileBases(dockerfile: string, buildArgs: Record<string, string>): string[] {
  const args: Record<string, string> = {};
  const stages = new Set<string>();
  const bases: string[] = [];
  const fill = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (_, name: string) => buildArgs[name] ?? args[name] ?? '');
  for (const raw of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    const arg = /^ARG\s+(\w+)(?:=(\S*))?/i.exec(line);
    if (arg && bases.length === 0) args[arg[1]!] = (arg[2] ?? '').replace(/^"(.*)"$/, '$1');
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    const image = fill(from[1]!);
    if (image !== 'scratch' && !stages.has(image)) bases.push(image);
    if (from[2]) stages.add(from[2]);
  }
  return bases;
}

function imageIsLocal(ref: string, options: DockerOptions): boolean {
  return run(['image', 'inspect', '--format', '{{.Id}}', ref], { ...options, timeout: 30_000 }).code === 0;
}

/** Throws unless every image is here or on a loopback registry. */
export function requireLocalImages(images: string[], doing: string, options: DockerOptions = {}): void {
  const missing = images.filter((ref) => !isLoopbackImage(ref) && !imageIsLocal(ref, options));
  if (missing.length > 0) {
    throw new Error(
      `${doing}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on this machine, and no public registry can be reached here; build ${missing.length === 1 ? 'it' : 'them'} locally first (FROM scratch plus files, or push ${missing.length === 1 ? 'it' : 'them'} to the loopback registry 127.0.0.1:5000)`,
    );
  }
}

/** Runs `docker <args>` with local images only (see the top of this file). Never throws for a non-zero exit: read `code`. */
export function docker(args: string[], options: DockerOptions = {}): DockerResult {
  const globals: string[] = [];
  let i = 0;
  while (i < args.length && args[i]!.startsWith('--')) {
    globals.push(args[i]!);
    if (!args[i]!.includes('=')) {
      globals.push(args[i + 1]!);
      i++;
    }
    i++;
  }
  const [command, ...rest] = args.slice(i);
  // A missing image then fails with Docker's own "No such image: <ref>", nothing is pulled.
  if (command === 'run' || command === 'create') return run([...globals, command!, '--pull', 'never', ...rest], options);
  if (command === 'build') {
    const context = rest[rest.length - 1]!;
    const file = flagValues(rest, '-f')[0] ?? flagValues(rest, '--file')[0] ?? path.join(context, 'Dockerfile');
    const buildArgs = Object.fromEntries(flagValues(rest, '--build-arg').map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
    if (existsSync(file)) requireLocalImages(dockerfileBases(readFileSync(file, 'utf8'), buildArgs), `docker build of ${file}`, options);
  }
  return run(args, options);
}

/** docker(), throwing with its output when the command fails; returns stdout. */
export function dockerOk(args: string[], options: DockerOptions = {}): string {
  const r = docker(args, options);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (exit ${r.code}):\n${r.output}`);
  return r.stdout;
}
