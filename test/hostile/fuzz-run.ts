// The harness of the fuzz suite (test/hostile/fuzz.test.ts): a temp repository per case, the
// CLI's own `main` run in-process with stdout intercepted, and what a failure report needs.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';

export interface Outcome {
  code: number | undefined;
  /** What main threw instead of returning an exit code (it never should). */
  thrown: unknown;
  stderr: string;
  stdout: string;
  ms: number;
  /** Names the run added to Object.prototype (removed again before the next run). */
  polluted: string[];
}

export interface Case {
  argv: string[];
  env: Record<string, string>;
  config: string;
}

/** A temp repository: gantry.yaml (and copies where --config and -C may point), a directory, and svcdir/svc.yaml as a directory. */
export async function makeRepo(config: string): Promise<{ root: string; repo: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'gantry-fuzz-'));
  const repo = path.join(root, 'repo');
  await mkdir(path.join(repo, 'sub'), { recursive: true });
  await mkdir(path.join(repo, 'confdir'));
  await mkdir(path.join(repo, 'svcdir', 'svc.yaml'), { recursive: true });
  await writeFile(path.join(repo, 'gantry.yaml'), config);
  await writeFile(path.join(repo, 'other.yml'), config);
  await writeFile(path.join(repo, 'sub', 'gantry.yaml'), config);
  return { root, repo };
}

/** Every file and directory under `dir` with its content. */
export async function snapshot(dir: string, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.set(`${rel}/`, '(dir)');
      for (const [k, v] of await snapshot(full, rel)) out.set(k, v);
    } else out.set(rel, (await stat(full)).isFile() ? await readFile(full, 'latin1') : '(special)');
  }
  return out;
}

export function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) out.push(before.has(k) ? `changed ${k}` : `created ${k}`);
  for (const k of before.keys()) if (!after.has(k)) out.push(`removed ${k}`);
  return out;
}

/** Runs `gantry <argv>` in-process with `env` as its CI variables; stdout is intercepted, stderr is the logger's. */
export async function runGantry(argv: string[], env: Record<string, string>, cwd: string): Promise<Outcome> {
  const err: string[] = [];
  const out: string[] = [];
  const logger = createLogger({ write: (t) => err.push(t), color: false, gitlab: false });
  const ctx = createCtx({ cwd, env: { ...env }, logger });
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const capture =
    (into: string[]) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  const protoBefore = new Set(Object.getOwnPropertyNames(Object.prototype));
  const started = performance.now();
  let code: number | undefined;
  let thrown: unknown;
  try {
    code = await main(argv, ctx);
  } catch (error) {
    thrown = error;
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  // A polluted Object.prototype would break every later run (and jest): undo it here, so each
  // property fails on its own cases; the process-state property reports it.
  const polluted = Object.getOwnPropertyNames(Object.prototype).filter((n) => !protoBefore.has(n));
  for (const n of polluted) delete (Object.prototype as Record<string, unknown>)[n];
  return { code, thrown, stderr: err.join(''), stdout: out.join(''), ms: performance.now() - started, polluted };
}

/** Everything needed to replay a failure by hand, for the error fast-check reports. */
export function describeCase(c: Case, o: Outcome, problem: string): string {
  const output = `${o.stderr}${o.stdout ? `\n[stdout] ${o.stdout}` : ''}`;
  return [
    problem,
    `argv: ${JSON.stringify(c.argv)}`,
    `env: ${JSON.stringify(c.env)}`,
    `gantry.yaml: ${JSON.stringify(c.config)}`,
    `exit: ${o.code ?? `threw ${String(o.thrown)}`}`,
    `output: ${output.length > 4000 ? `${output.slice(0, 4000)}...` : output}`,
  ].join('\n');
}

export async function withRepo<T>(config: string, fn: (repo: { root: string; repo: string }) => Promise<T>): Promise<T> {
  const repo = await makeRepo(config);
  try {
    return await fn(repo);
  } finally {
    await rm(repo.root, { recursive: true, force: true });
  }
}
