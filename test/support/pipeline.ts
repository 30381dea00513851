// A project's GitLab pipeline run as GitLab would run it, with gitlab-ci-local (shell executor,
// this checkout's CLI as `gantry` on PATH), and what a test then asks of the result: a job's
// dotenv report, the app's answer through its Service, the references a published page makes.
// (test/e2e/pipeline-deploy.test.ts has the first versions of these; they moved here for
// test/e2e/starters.test.ts.)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { kubectl, kubectlResult } from './cluster.js';
import { parseDotenv, repoRoot } from './fixtures.js';
import { cliPath } from './tmp-repo.js';

/** gitlab-ci-local through test/support/gitlab-ci-local, which runs it once more after its own include-download race. */
export const gcl = path.join(repoRoot, 'test', 'support', 'gitlab-ci-local');

/** The test process's environment without anything CI, GitLab, Gantry or kubeconfig: a runner starts clean. */
export function cleanEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(CI|GITLAB|GANTRY|KUBECONFIG)/.test(k))) as Record<
    string,
    string
  >;
}

/** The built CLI, as `npx gantry` runs it in a project, with a runner's clean environment plus `env`; asynchronously (the test servers answer meanwhile). */
export function gantryCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd, env: { ...cleanEnv(), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export interface PipelineResult {
  code: number | null;
  output: string;
  seconds: number;
}

/**
 * gitlab-ci-local in `cwd` with the project's CI/CD variables, asynchronously (the OSS and
 * GitLab test servers answer from the test's process meanwhile). `bin` holds the `gantry` command.
 */
export function runPipeline(
  cwd: string,
  options: { bin: string; variables: Record<string, string>; args?: string[]; timeoutSeconds?: number },
): Promise<PipelineResult> {
  const vars = Object.entries(options.variables).flatMap(([k, v]) => ['--variable', `${k}=${v}`]);
  const started = Date.now();
  const child = spawn(gcl, ['--no-color', '--shell-isolation', '--force-shell-executor', '--no-artifacts-to-source', ...vars, ...(options.args ?? [])], {
    cwd,
    env: { ...cleanEnv(), PATH: `${options.bin}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const timer = setTimeout(() => child.kill('SIGTERM'), (options.timeoutSeconds ?? 600) * 1000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, seconds: (Date.now() - started) / 1000 });
    }),
  );
}

/** A job's dotenv report, as gitlab-ci-local kept it. */
export const jobDotenv = (cwd: string, job: string, file: string) =>
  parseDotenv(readFileSync(path.join(cwd, '.gitlab-ci-local', 'artifacts', job, '.gitlab-ci-reports', 'dotenv', file), 'utf8'));

/** A job's log, as gitlab-ci-local kept it. */
export const jobLog = (cwd: string, job: string) => readFileSync(path.join(cwd, '.gitlab-ci-local', 'output', `${job}.log`), 'utf8');

export const namespaceExists = (ns: string) => kubectlResult(['get', 'namespace', ns]).code === 0;

/**
 * What the app answers on `urlPath` through its Service's ClusterIP, as a client in the cluster
 * sees it: "<status> <body>", the first 2xx within `seconds`, else the last answer or error.
 */
export async function serviceAnswer(ns: string, service: string, urlPath = '/', seconds = 20): Promise<string> {
  const svc = JSON.parse(kubectl(['-n', ns, 'get', 'service', service, '-o', 'json'])) as { spec: { clusterIP: string; ports: { port: number }[] } };
  const url = `http://${svc.spec.clusterIP}:${svc.spec.ports[0]!.port}${urlPath}`;
  let last = '';
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `${r.status} ${await r.text()}`;
      if (r.ok) return last;
    } catch (error) {
      last = String(error);
    }
    await new Promise((res) => setTimeout(res, 300));
  }
  return last;
}

export async function deleteNamespaces(names: string[]): Promise<void> {
  if (names.length === 0) return;
  for (const ns of names) kubectlResult(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  kubectlResult(['wait', '--for=delete', ...names.map((n) => `namespace/${n}`), '--timeout=120s']);
}

/** Every src/href/srcset URL of an HTML page, as written. */
export function htmlReferences(html: string): string[] {
  const refs: string[] = [];
  for (const m of html.matchAll(/\s(src|href|srcset)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    const value = m[2] ?? m[3] ?? m[4] ?? '';
    if (m[1]!.toLowerCase() === 'srcset')
      refs.push(
        ...value
          .split(',')
          .map((s) => s.trim().split(/\s+/)[0]!)
          .filter(Boolean),
      );
    else refs.push(value);
  }
  return refs;
}

/**
 * Root-absolute paths ("/x/y", not "//host") quoted or in url() anywhere in a text file (HTML, JS,
 * CSS), without query or fragment: what a browser fetches from the site root whatever page it is on.
 */
export function rootAbsolutePaths(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:["'`(]|url\()\s*(\/(?!\/)[^"'`()\s]*)/g)) out.add(m[1]!.replace(/[?#].*$/, ''));
  return [...out];
}
