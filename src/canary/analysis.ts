// The canary analysis: during every pause, every `analysis.interval`, the built-in checks (the
// canary pods' restarts, readiness and the tracker's failure classes, which need no metrics) and
// each PromQL query with its threshold. The first failed check ends the pause with a failure
// that says which check, and for a query its values over time and the threshold; the caller
// aborts. Judging is pure (judgeQuery, builtinFailure); runAnalysis is the loop.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { kubeClient } from '../kube/client.js';
import { POD_TEMPLATE_HASH_LABEL, type Deployment, type KubeEvent, type Pod } from '../kube/objects.js';
import { classifyPod, type Failure } from '../track/classify.js';
import { logTail } from '../track/evidence.js';
import { isPodReady, selectorString } from '../track/status.js';
import { type PrometheusTarget, queryPrometheus, type Sample } from './prometheus.js';

export interface QueryCheck {
  name: string;
  query: string;
  max?: number | undefined;
  min?: number | undefined;
  noData: 'ignore' | 'fail';
}

/** What {{...}} in a query may name. */
export interface QueryVariables {
  namespace: string;
  deployment: string;
  canary: string;
  canaryPods: string;
  stablePods: string;
}

export const QUERY_VARIABLES: readonly (keyof QueryVariables)[] = ['namespace', 'deployment', 'canary', 'canaryPods', 'stablePods'];

/** The variables of a canary `canary` beside the stable Deployment `deployment`. */
export function queryVariables(namespace: string, deployment: string, canary: string): QueryVariables {
  // Pod names are <deployment>-<template hash>-<suffix>; the stable regex must not match the canary's.
  return { namespace, deployment, canary, canaryPods: `${canary}-[a-z0-9]+-[a-z0-9]+`, stablePods: `${deployment}-[a-z0-9]+-[a-z0-9]+` };
}

/** The names in {{...}} that are not variables (checked by gantry validate). */
export function unknownVariables(query: string): string[] {
  return [...query.matchAll(/\{\{\s*([^}\s]*)\s*\}\}/g)].map((m) => m[1] ?? '').filter((n) => !(QUERY_VARIABLES as readonly string[]).includes(n));
}

export function expandQuery(query: string, vars: QueryVariables): string {
  return query.replace(/\{\{\s*([A-Za-z]+)\s*\}\}/g, (whole, name: string) => (name in vars ? vars[name as keyof QueryVariables] : whole));
}

export function thresholdText(check: Pick<QueryCheck, 'max' | 'min'>): string {
  return [check.max !== undefined ? `<= ${check.max}` : '', check.min !== undefined ? `>= ${check.min}` : ''].filter(Boolean).join(' and ');
}

export type QueryJudgement = { verdict: 'pass' | 'no-data' } | { verdict: 'fail'; why: string };

/** Pure: a query's samples against its threshold. NaN (0/0: no requests yet) counts as no data. */
export function judgeQuery(check: QueryCheck, samples: Sample[]): QueryJudgement {
  // NaN is 0/0 (no requests yet); +Inf (errors / successes with no success) is a value, and fails max.
  const values = samples.filter((s) => !Number.isNaN(s.value));
  if (values.length === 0) {
    return check.noData === 'fail' ? { verdict: 'fail', why: 'no data (noData: fail)' } : { verdict: 'no-data' };
  }
  for (const s of values) {
    const series = Object.keys(s.labels).length > 0 ? ` for ${seriesName(s.labels)}` : '';
    if (check.max !== undefined && s.value > check.max) return { verdict: 'fail', why: `${formatValue(s.value)} > max ${check.max}${series}` };
    if (check.min !== undefined && s.value < check.min) return { verdict: 'fail', why: `${formatValue(s.value)} < min ${check.min}${series}` };
  }
  return { verdict: 'pass' };
}

function seriesName(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 || v === Math.trunc(v) ? String(v) : v.toPrecision(3);
}

/** One evaluation of one query, for the report of values over time. */
export interface Observation {
  /** Seconds since the analysis of this step began. */
  atSeconds: number;
  values: number[];
  verdict: QueryJudgement['verdict'];
}

/**
 * Pure: the built-in verdict on the canary's pods: the tracker's failure classes (crash loop,
 * pull errors, readiness failing past its probe budget, OOM, ECI...), then restarts beyond
 * maxRestarts (a crash the kubelet has restarted once already counts).
 */
export function builtinFailure(pods: Pod[], events: KubeEvent[], options: { now: number; since: number; maxRestarts: number }): Failure | undefined {
  for (const pod of pods) {
    const failure = classifyPod(pod, events, { now: options.now, fresh: true, since: options.since });
    if (failure) return failure;
  }
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    for (const cs of pod.status?.containerStatuses ?? []) {
      if ((cs.restartCount ?? 0) > options.maxRestarts) {
        const last = cs.lastState?.terminated;
        return {
          code: 'E_ROLLOUT_CRASHLOOP',
          message: `canary pod ${pod.metadata.name}: container ${cs.name} restarted ${cs.restartCount} time(s) (analysis.maxRestarts: ${options.maxRestarts})`,
          evidence: last
            ? [`last termination: exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}${last.finishedAt ? ` at ${last.finishedAt}` : ''}`]
            : [],
          fix: 'read the canary log above; the stable version kept serving',
          pod: pod.metadata.name,
          container: cs.name,
          logs: { previous: true, label: 'the instance that exited' },
        };
      }
    }
  }
  return undefined;
}

export interface AnalysisInput {
  namespace: string;
  /** The canary Deployment as applied (its selector finds its pods). */
  canary: Deployment;
  queries: QueryCheck[];
  vars: QueryVariables;
  prometheus: PrometheusTarget | undefined;
  intervalMs: number;
  /** How long the pause lasts; the checks run at its start, every interval, and at its end. */
  durationMs: number;
  maxRestarts: number;
  /** Server ms of this deploy's apply: older events are not this canary's. */
  since: number;
}

/** How often the built-in checks look at the canary's pods. */
export const BUILTIN_EVERY_MS = 2000;

export type AnalysisResult =
  | { ok: true; rounds: number; history: Record<string, Observation[]> }
  | { ok: false; check: string; message: string; lines: string[]; atSeconds: number; history: Record<string, Observation[]> };

/** Runs the checks until the pause is over or one fails. */
export async function runAnalysis(ctx: Ctx, kc: KubeConfig, input: AnalysisInput): Promise<AnalysisResult> {
  const client = kubeClient(ctx, kc);
  const ns = encodeURIComponent(input.namespace);
  const labelSelector = selectorString(input.canary.spec?.selector);
  const history: Record<string, Observation[]> = Object.fromEntries(input.queries.map((q) => [q.name, []]));
  const started = Date.now();
  const end = started + input.durationMs;
  // The built-in checks are two list calls: they run every 2 s whatever the interval, so a
  // crashing canary is stopped in seconds; the queries run every interval.
  const tickMs = Math.min(BUILTIN_EVERY_MS, input.intervalMs);
  let rounds = 0;
  let nextQueries = started;
  let lastLine = '';
  for (;;) {
    const atSeconds = Math.round((Date.now() - started) / 100) / 10;
    const sent = Date.now();
    const [podsAnswer, eventsAnswer] = await Promise.all([
      client.getJson<{ items?: Pod[] }>(`/api/v1/namespaces/${ns}/pods`, { labelSelector }),
      client.getJson<{ items?: KubeEvent[] }>(`/api/v1/namespaces/${ns}/events`, {}),
    ]);
    const now = podsAnswer.date !== undefined ? podsAnswer.date + 500 + (Date.now() - sent) : Date.now();
    const pods = podsAnswer.body.items ?? [];
    const failure = builtinFailure(pods, eventsAnswer.body.items ?? [], { now, since: input.since, maxRestarts: input.maxRestarts });
    if (failure) {
      const lines = [...failure.evidence];
      if (failure.pod && failure.container && failure.logs)
        lines.push(...(await logTail(client, input.namespace, failure.pod, failure.container, failure.logs)));
      return { ok: false, check: 'built-in', message: failure.message, lines, atSeconds, history };
    }
    const last = Date.now() >= end;
    if (Date.now() >= nextQueries || last) {
      rounds++;
      nextQueries += input.intervalMs;
      const ready = pods.filter((p) => !p.metadata.deletionTimestamp && isPodReady(p)).length;
      const checks = [`pods ${ready}/${input.canary.spec?.replicas ?? 1} ready`];
      // {{canaryPods}} names this canary's pods only (its pod-template-hash): the series of an
      // earlier canary, aborted a moment ago, stay in a rate() window for its length.
      const vars = { ...input.vars, canaryPods: podsOfTemplates(input.vars.canary, pods) ?? input.vars.canaryPods };
      for (const q of input.queries) {
        const expanded = expandQuery(q.query, vars);
        const samples = await queryPrometheus(ctx, input.prometheus!, expanded);
        const judged = judgeQuery(q, samples);
        history[q.name]!.push({ atSeconds, values: samples.map((s) => s.value), verdict: judged.verdict });
        checks.push(`${q.name} ${samples.length === 0 ? 'no data' : samples.map((s) => formatValue(s.value)).join(',')} (${thresholdText(q)})`);
        if (judged.verdict === 'fail') {
          return {
            ok: false,
            check: q.name,
            message: `analysis ${q.name}: ${judged.why} at +${atSeconds} s`,
            lines: [`query: ${expanded}`, `threshold: ${thresholdText(q)}`, ...valuesOverTime(history[q.name]!)],
            atSeconds,
            history,
          };
        }
      }
      const line = checks.join('; ');
      if (line !== lastLine || last) ctx.logger.info(`  analysis +${atSeconds} s: ${line}`);
      lastLine = line;
    }
    if (last) return { ok: true, rounds, history };
    await sleep(Math.max(0, Math.min(tickMs, end - Date.now(), nextQueries - Date.now())), undefined, { signal: ctx.signal });
  }
}

/** A regex of the pod names of the templates `pods` run (`<deployment>-<hash>-<suffix>`), or undefined without pods. */
export function podsOfTemplates(deployment: string, pods: Pod[]): string | undefined {
  const hashes = [...new Set(pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.labels?.[POD_TEMPLATE_HASH_LABEL]))].filter(
    (h): h is string => Boolean(h),
  );
  if (hashes.length === 0) return undefined;
  return `${deployment}-(${hashes.sort().join('|')})-[a-z0-9]+`;
}

/** The report of one query's values over time, one line an evaluation. */
export function valuesOverTime(observations: Observation[]): string[] {
  return [
    'values over time:',
    ...observations.map(
      (o) =>
        `  +${o.atSeconds.toFixed(1).padStart(6)} s  ${o.values.length === 0 ? 'no data' : o.values.map(formatValue).join(', ')}${o.verdict === 'fail' ? '  <- breaks the threshold' : ''}`,
    ),
  ];
}
