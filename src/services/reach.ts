// The pre-rollout reachability check (#14): does each declared service answer at its host and
// port from inside the app's namespace? A managed database (RDS, ApsaraDB for MongoDB, Tair)
// that has not whitelisted the pods' addresses drops their packets silently, and an app started
// against it only hangs; the check finds that in seconds, before anything is rolled out, and
// says which CIDR to whitelist.
//
// The check is a short-lived Pod in the app's namespace that runs the APP'S OWN IMAGE (the one
// the rollout pulls anyway, so no extra image and no extra registry) with the app container's
// env and envFrom: the kubelet resolves the secretKeyRefs and expands "$(HELLO_DB_SERVICE_HOST)"
// exactly as it will for the app, so the check connects to what the app will connect to.
// `node -e REACH_SCRIPT` reads the host and port (or the URL) of each target from its env,
// opens one TCP connection per host with a deadline, and prints one JSON line. It never prints
// a URL or anything from its userinfo: a URL is reduced to host:port.
import { randomBytes } from 'node:crypto';
import type { KubeConfig, V1EnvFromSource, V1EnvVar } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { type GantryError, gantryError, isGantryError } from '../errors.js';
import { cleanupClient, type KubeClient, kubeClient } from '../kube/client.js';
import type { K8sObject, KubeEvent, Pod } from '../kube/objects.js';
import { COMPONENT_LABEL, MANAGED_BY_LABEL } from '../kube/objects.js';
import { dnsLabel } from '../names/names.js';
import { pollUntil } from '../retry.js';
import { classifyPod, describeTermination, eventTime, type Failure } from '../track/classify.js';

/** One service to check, by the names of the variables the app reads it from (never their values). */
export interface ReachTarget {
  /** The service's key under services: in gantry.yaml, for messages. */
  service: string;
  /** mysql | postgresql | mongodb | redis: the port a URL without one means. */
  kind: string;
  /** host + port variables (MYSQL_HOST/MYSQL_PORT...), or a URL variable (DATABASE_URL...); host/port win when both are given. */
  hostVar?: string;
  portVar?: string;
  urlVar?: string;
}

export interface ReachInput {
  namespace: string;
  /** The app's image (the rollout's): it must have `node` on its PATH. */
  image: string;
  imagePullSecrets: { name: string }[];
  /** The app container's env and envFrom, as the Deployment will have them. */
  env: V1EnvVar[];
  envFrom: V1EnvFromSource[];
  targets: ReachTarget[];
  /** Put on the pod (with the component label): the app's labels, so cleanup by label finds it. */
  labels: Record<string, string>;
  /** The whole check, pod start included (default REACH_TIMEOUT_MS; at least one connect deadline plus REACH_START_MS). */
  timeoutMs?: number;
  /** The app pods' ECI annotations. */
  podAnnotations?: Record<string, string>;
}

export interface ReachTargetResult {
  service: string;
  host: string;
  port: number;
  ok: boolean;
  ms: number;
  /** Connection attempts made within the deadline (quick failures are retried). */
  attempts?: number;
  /** Why it failed: ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENOTFOUND... or, before any connection, EUNSET / EUNEXPANDED / EBADURL / EBADPORT. */
  code?: string;
  /** The variable the host (or URL) came from. */
  variable?: string;
  /** For EUNEXPANDED: the $(NAME) the kubelet could not expand. */
  ref?: string;
}

export interface ReachResult {
  /** The check pod's address: what the database sees connecting. */
  podIP: string;
  /** The pods' CIDR as far as the check could tell (see podCidrSource). */
  podCidr?: string;
  /** Where podCidr comes from: the node's spec.podCIDR, or the network of the pod's own interface. */
  podCidrSource?: 'node' | 'interface';
  /** Why the node's spec.podCIDR is not used (unreadable with this kubeconfig, or not set). */
  podCidrNote?: string;
  /** One per host checked (a replica-set URL has several hosts for one service). */
  results: ReachTargetResult[];
  elapsedMs: number;
  /** The per-connection deadline used (ctx.deadlines.connectMs). */
  connectMs?: number;
  /** The check pod's name (deleted by now). */
  pod?: string;
}

/** The label value that tells the check pod from the app's own pods. */
export const REACH_COMPONENT = 'service-check';
/**
 * The whole check by default: a cold node may first pull the app's image (the rollout needs it
 * anyway) and an ECI pod takes tens of seconds to be created; a node that has the image runs
 * the check in a few seconds plus at most one connect deadline.
 */
export const REACH_TIMEOUT_MS = 120_000;
/** What the check needs besides its connections when the image is on the node: pod start and node's own start. */
export const REACH_START_MS = 5_000;
/** The kubelet's deadline for the pod is later than Gantry's, so Gantry's timeout (which says what the pod waited for) comes first. */
const POD_DEADLINE_SLACK_SECONDS = 15;
/** What the script prints before its JSON, so the line is found whatever else the image writes. */
export const RESULT_MARKER = 'GANTRY_REACH_RESULT ';
const CONTAINER = 'check';
const TARGETS_VAR = 'GANTRY_REACH_TARGETS';
const CONNECT_VAR = 'GANTRY_REACH_CONNECT_MS';

/**
 * The check itself, run with `node -e` in the app's image (any Node since 12: no ESM, no newer
 * syntax). Env in: GANTRY_REACH_TARGETS (JSON ReachTarget[]: variable names only) and
 * GANTRY_REACH_CONNECT_MS, the deadline per host: a failure that may pass (refused, no route:
 * a Service that kube-proxy has not programmed yet, a database still starting) is tried again
 * every 500 ms within it, so only a failure that lasts is reported. Out: one line,
 * RESULT_MARKER + {podIP, ifCidr, results}. Values are
 * validated before they are printed: a host must look like a host name or an IP address and a
 * port like a number. The userinfo ends at the LAST "@" of the URL: a password may hold "@",
 * "/" or "?" unencoded, and cutting anywhere earlier could print part of it as the host (an "@"
 * in the query instead misleads only about the host, which is no secret).
 */
export const REACH_SCRIPT = String.raw`'use strict';
const net = require('net'), os = require('os'), dns = require('dns');
const targets = JSON.parse(process.env.${TARGETS_VAR} || '[]');
const wait = Number(process.env.${CONNECT_VAR}) || 5000;
const PORTS = { mysql: 3306, mariadb: 3306, postgresql: 5432, postgres: 5432, mongodb: 27017, redis: 6379, rediss: 6379 };
const HOST = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const REF = /\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/;
function value(name) { const v = process.env[name]; return v === undefined ? '' : v.trim(); }
function fail(t, code, variable, extra) { return Object.assign({ service: t.service, host: '', port: 0, ok: false, ms: 0, code: code, variable: variable }, extra || {}); }
function port(text, fallback) {
  if (text === '' || text === undefined) return fallback;
  return /^[0-9]{1,5}$/.test(text) && Number(text) > 0 && Number(text) < 65536 ? Number(text) : -1;
}
function endpoint(text, fallback) {
  let host = text, p = '';
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (v6) { host = v6[1]; p = v6[2] || ''; }
  else if ((text.match(/:/g) || []).length === 1) { host = text.slice(0, text.indexOf(':')); p = text.slice(text.indexOf(':') + 1); }
  if (!(HOST.test(host) || (v6 && IPV6.test(host)))) return undefined;
  const n = port(p, fallback);
  return n > 0 ? { host: host, port: n } : undefined;
}
function fromUrl(t) {
  const u = value(t.urlVar);
  if (u === '') return [fail(t, 'EUNSET', t.urlVar)];
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([\s\S]*)$/.exec(u);
  if (!m) return [fail(t, 'EBADURL', t.urlVar)];
  const scheme = m[1].toLowerCase();
  const hosts = m[2].slice(m[2].lastIndexOf('@') + 1).split(/[\/?#]/)[0];
  const unexpanded = REF.exec(hosts);
  if (unexpanded) return [fail(t, 'EUNEXPANDED', t.urlVar, { ref: unexpanded[1] })];
  const fallback = PORTS[scheme.replace(/\+srv$/, '')] || PORTS[t.kind] || 0;
  const list = hosts.split(',').map(function (h) { return endpoint(h.trim(), fallback); });
  if (list.length === 0 || list.some(function (e) { return !e; })) return [fail(t, 'EBADURL', t.urlVar)];
  if (scheme === 'mongodb+srv') return [{ srv: list[0].host, t: t }];
  return list.map(function (e) { return { host: e.host, port: e.port, t: t, variable: t.urlVar }; });
}
function fromParts(t) {
  const h = value(t.hostVar);
  if (h === '') return [fail(t, 'EUNSET', t.hostVar)];
  const p = t.portVar ? value(t.portVar) : '';
  for (const [text, name] of [[h, t.hostVar], [p, t.portVar]]) {
    const r = REF.exec(text);
    if (r) return [fail(t, 'EUNEXPANDED', name, { ref: r[1] })];
  }
  const e = endpoint(h, PORTS[t.kind] || 0);
  if (!e) return [fail(t, 'EBADURL', t.hostVar)];
  const n = port(p, e.port);
  if (n < 0) return [fail(t, 'EBADPORT', t.portVar)];
  return [{ host: e.host, port: n, t: t, variable: t.hostVar }];
}
function once(c, limit) {
  return new Promise(function (resolve) {
    let done = false, socket;
    function end(ok, code) {
      if (done) return;
      done = true; clearTimeout(timer); if (socket) socket.destroy();
      resolve(ok ? { ok: true } : { ok: false, code: code });
    }
    const timer = setTimeout(function () { end(false, 'ETIMEDOUT'); }, limit);
    try {
      socket = net.connect({ host: c.host, port: c.port });
      socket.once('connect', function () { end(true); });
      socket.once('error', function (e) { end(false, e.code || (e.errors && e.errors[0] && e.errors[0].code) || 'ERROR'); });
    } catch (e) { end(false, e.code || 'ERROR'); }
  });
}
const AGAIN = { ECONNREFUSED: 1, EHOSTUNREACH: 1, ENETUNREACH: 1, ECONNRESET: 1, EAI_AGAIN: 1 };
function connect(c) {
  const started = Date.now();
  let attempts = 0, known;
  function next() {
    attempts++;
    return once(c, wait - (Date.now() - started)).then(function (r) {
      if (!r.ok && AGAIN[r.code]) known = r.code;
      if (!r.ok && AGAIN[r.code] && wait - (Date.now() - started) > 1000) return new Promise(function (w) { setTimeout(w, 500); }).then(next);
      // A retry cut short by the deadline says less than the failure before it.
      const code = r.ok ? undefined : r.code === 'ETIMEDOUT' && known ? known : r.code;
      return Object.assign({ service: c.t.service, host: c.host, port: c.port, ok: r.ok, ms: Date.now() - started, attempts: attempts, variable: c.variable }, r.ok ? {} : { code: code });
    });
  }
  return next();
}
function srv(c) {
  return dns.promises.resolveSrv('_mongodb._tcp.' + c.srv).then(function (records) {
    if (!records.length) return [fail(c.t, 'ENOTFOUND', c.t.urlVar, { host: c.srv })];
    return Promise.all(records.map(function (r) { return connect({ host: r.name, port: r.port, t: c.t, variable: c.t.urlVar }); }));
  }, function () { return [fail(c.t, 'ENOTFOUND', c.t.urlVar, { host: c.srv })]; });
}
function me() {
  const all = os.networkInterfaces();
  for (const name of Object.keys(all)) for (const a of all[name] || []) {
    if (a.internal || (a.family !== 'IPv4' && a.family !== 4)) continue;
    const bits = a.netmask.split('.').reduce(function (n, o) { return n + (Number(o).toString(2).match(/1/g) || []).length; }, 0);
    const net4 = a.address.split('.').map(function (o, i) { return Number(o) & Number(a.netmask.split('.')[i]); }).join('.');
    return { podIP: a.address, ifCidr: bits < 32 ? net4 + '/' + bits : undefined };
  }
  return { podIP: '' };
}
const checks = [];
for (const t of targets) checks.push.apply(checks, t.hostVar ? fromParts(t) : t.urlVar ? fromUrl(t) : [fail(t, 'EUNSET', '')]);
Promise.all(checks.map(function (c) { return c.srv ? srv(c) : c.t ? connect(c) : [c]; })).then(function (results) {
  const flat = [].concat.apply([], results);
  process.stdout.write('${RESULT_MARKER}' + JSON.stringify(Object.assign(me(), { results: flat })) + '\n', function () { process.exit(0); });
});
`;

/** What the script printed, from the pod's log; undefined when no result line is there. */
export function parseReachOutput(log: string): { podIP: string; ifCidr?: string; results: ReachTargetResult[] } | undefined {
  const line = log
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_MARKER));
  if (!line) return undefined;
  try {
    const parsed = JSON.parse(line.slice(RESULT_MARKER.length)) as { podIP?: unknown; ifCidr?: unknown; results?: unknown };
    if (!Array.isArray(parsed.results)) return undefined;
    const results = parsed.results.map((r: Record<string, unknown>) => ({
      service: String(r.service ?? ''),
      host: String(r.host ?? ''),
      port: Number(r.port ?? 0),
      ok: r.ok === true,
      ms: Number(r.ms ?? 0),
      ...(typeof r.attempts === 'number' ? { attempts: r.attempts } : {}),
      ...(typeof r.code === 'string' ? { code: r.code } : {}),
      ...(typeof r.variable === 'string' && r.variable !== '' ? { variable: r.variable } : {}),
      ...(typeof r.ref === 'string' ? { ref: r.ref } : {}),
    }));
    return { podIP: String(parsed.podIP ?? ''), ...(typeof parsed.ifCidr === 'string' ? { ifCidr: parsed.ifCidr } : {}), results };
  } catch {
    return undefined;
  }
}

/** The targets as the script reads them: variable names and kinds only, never a value. */
export function targetsForScript(targets: ReachTarget[]): ReachTarget[] {
  return targets.map((t) => ({
    service: t.service,
    kind: t.kind,
    ...(t.hostVar ? { hostVar: t.hostVar } : {}),
    ...(t.hostVar && t.portVar ? { portVar: t.portVar } : {}),
    ...(!t.hostVar && t.urlVar ? { urlVar: t.urlVar } : {}),
  }));
}

/**
 * How long the whole check may take: input.timeoutMs (default REACH_TIMEOUT_MS), but never less
 * than one connect deadline plus REACH_START_MS, or a long GANTRY_CONNECT_TIMEOUT would make
 * every check time out instead of reporting the service.
 */
export function reachTimeoutMs(ctx: Ctx, input: Pick<ReachInput, 'timeoutMs'>): number {
  return Math.max(input.timeoutMs ?? REACH_TIMEOUT_MS, ctx.deadlines.connectMs + REACH_START_MS);
}

/** The check pod: the app's image, env and pull secrets; small requests; bounded in time; no API token. */
export function reachPod(ctx: Ctx, input: ReachInput, name: string): K8sObject {
  const timeoutMs = reachTimeoutMs(ctx, input);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: input.namespace,
      labels: { ...input.labels, [COMPONENT_LABEL]: REACH_COMPONENT, [MANAGED_BY_LABEL]: 'gantry' },
      // ECI annotations of the app's pods (fail-fast, specs): the check runs where the app will.
      ...(input.podAnnotations && Object.keys(input.podAnnotations).length > 0 ? { annotations: input.podAnnotations } : {}),
    },
    spec: {
      restartPolicy: 'Never',
      // The kubelet ends it even if Gantry is killed and never deletes it.
      activeDeadlineSeconds: Math.ceil(timeoutMs / 1000) + POD_DEADLINE_SLACK_SECONDS,
      terminationGracePeriodSeconds: 1,
      // It talks to databases, not to the API server.
      automountServiceAccountToken: false,
      // The app's "$(<SERVICE>_SERVICE_HOST)" references need the service-link variables.
      enableServiceLinks: true,
      ...(input.imagePullSecrets.length ? { imagePullSecrets: input.imagePullSecrets.map((s) => ({ name: s.name })) } : {}),
      containers: [
        {
          name: CONTAINER,
          image: input.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['node', '-e', REACH_SCRIPT],
          env: [
            ...input.env,
            { name: TARGETS_VAR, value: JSON.stringify(targetsForScript(input.targets)) },
            { name: CONNECT_VAR, value: String(ctx.deadlines.connectMs) },
          ],
          ...(input.envFrom.length ? { envFrom: input.envFrom } : {}),
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
        },
      ],
    },
  };
}

/**
 * Runs the check pod and returns what it found; never throws for an unreachable service (see
 * unreachableError). Throws when the check itself could not run: the pod could not be created,
 * could not start (the rollout's own classification: image pull, missing Secret key,
 * unschedulable, ECI stock: E_ROLLOUT_*), ended without a result (E_SERVICE_CHECK_FAILED), or
 * did not finish within input.timeoutMs (E_SERVICE_CHECK_TIMEOUT). The pod is deleted however
 * the check ends, cancellation through ctx.signal included.
 */
export async function checkReachable(ctx: Ctx, kc: KubeConfig, input: ReachInput): Promise<ReachResult> {
  const started = Date.now();
  const timeoutMs = reachTimeoutMs(ctx, input);
  const client = kubeClient(ctx, kc);
  const base = input.labels['app.kubernetes.io/instance'] ?? 'gantry';
  const name = `${dnsLabel(base, 63 - 13)}-reach-${randomBytes(3).toString('hex')}`;
  const ref = { apiVersion: 'v1', kind: 'Pod', name, namespace: input.namespace };
  ctx.logger.info(`checking from namespace ${input.namespace} that the services answer: ${input.targets.map((t) => t.service).join(', ')} (pod ${name})`);
  try {
    await removeFinished(ctx, client, input);
    // Inside the try: a create whose answer was lost may still have made the pod, and the finally deletes it by name.
    const created = await client.create<Pod>(reachPod(ctx, input, name), { doing: `create the service check pod ${name}` });
    const pod = await pollUntil(ctx, `service check pod ${name}`, () => judge(client, input.namespace, name, created), {
      intervalMs: 250,
      maxIntervalMs: 1000,
      timeoutMs,
      onTimeout: () => undefined,
    });
    if (!pod) throw await checkTimeout(client, input.namespace, name, timeoutMs);
    const log = await readLog(client, input.namespace, name);
    const output = parseReachOutput(log);
    if (!output) throw noResult(pod, log);
    const cidr = await podCidr(client, pod, output.ifCidr);
    return {
      podIP: pod.status?.podIP ?? output.podIP,
      ...cidr,
      results: output.results,
      elapsedMs: Date.now() - started,
      connectMs: ctx.deadlines.connectMs,
      pod: name,
    };
  } catch (error) {
    // A pause cut short by the signal rejects with a bare AbortError: say why it stopped.
    if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
    throw error;
  } finally {
    await removePod(ctx, kc, client, ref);
  }
}

type CheckPod = Pod & { status?: Pod['status'] & { podIP?: string } };

/** The pod once its container has ended; throws the rollout's verdict when it cannot start. */
async function judge(client: KubeClient, namespace: string, name: string, created: Pod): Promise<CheckPod | undefined> {
  const pod = await client.read<CheckPod>({ apiVersion: 'v1', kind: 'Pod', name, namespace }, `read the service check pod ${name}`);
  if (!pod) throw gantryError('E_SERVICE_CHECK_FAILED', { problem: 'gone', namespace, pod: name });
  const cs = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  if (cs?.state?.terminated || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return pod;
  if (cs?.state?.running) return undefined;
  // Not started yet: is it waiting for something that will not come?
  const events = await podEvents(client, namespace, pod.metadata.uid);
  const since = Date.parse(created.metadata.creationTimestamp ?? '');
  const failure = classifyPod(pod, events, { now: client.serverNow(), fresh: true, ...(Number.isNaN(since) ? {} : { since }) });
  if (failure) throw startFailure(failure);
  return undefined;
}

async function podEvents(client: KubeClient, namespace: string, uid: string): Promise<KubeEvent[]> {
  try {
    const { body } = await client.getJson<{ items?: KubeEvent[] }>(`/api/v1/namespaces/${namespace}/events`, { fieldSelector: `involvedObject.uid=${uid}` });
    return body.items ?? [];
  } catch {
    // Events only sharpen the verdict; the pod's own status still says most.
    return [];
  }
}

// Failures that come from the image or the env, which the app's pods share with the check.
const SAME_FOR_APP = new Set<string>(['E_ROLLOUT_IMAGE_PULL', 'E_ROLLOUT_CONFIG', 'E_ROLLOUT_CREATE']);

/** A pod that cannot start, said as the rollout says it, naming the check. */
function startFailure(failure: Failure): GantryError {
  return gantryError(failure.code, {
    message: `the service reachability check could not run: ${failure.message}`,
    fix: failure.fix,
    lines: [
      ...failure.evidence,
      ...(SAME_FOR_APP.has(failure.code) ? ['the check runs the app image with the app env: the rollout would fail the same way'] : []),
    ],
  });
}

async function readLog(client: KubeClient, namespace: string, name: string): Promise<string> {
  try {
    return await client.podLog(namespace, name, CONTAINER, { previous: false, tailLines: 50, limitBytes: 64 * 1024 });
  } catch (error) {
    return `(log not available: ${String((error as { body?: unknown }).body ?? (error as Error).message).slice(0, 200)})`;
  }
}

function noResult(pod: CheckPod, log: string): GantryError {
  const cs = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const t = cs?.state?.terminated;
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  return gantryError('E_SERVICE_CHECK_FAILED', {
    problem: 'no-result',
    namespace: pod.metadata.namespace ?? '',
    pod: pod.metadata.name,
    ended: t ? describeTermination(t) : `phase ${pod.status?.phase ?? '?'}${pod.status?.reason ? ` (${pod.status.reason})` : ''}`,
    // The runtime's StartError: exec: "node": executable file not found in $PATH.
    noNode: /executable file not found|no such file/i.test(t?.message ?? ''),
    log: lines.slice(-20),
  });
}

async function checkTimeout(client: KubeClient, namespace: string, name: string, timeoutMs: number): Promise<GantryError> {
  let state = 'not found';
  let running = false;
  let lines: string[] = [];
  try {
    const pod = await client.read<CheckPod>({ apiVersion: 'v1', kind: 'Pod', name, namespace });
    if (pod) {
      const cs = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
      const waiting = cs?.state?.waiting;
      running = cs?.state?.running !== undefined;
      state = `phase ${pod.status?.phase ?? 'Pending'}${waiting ? `, container waiting ${waiting.reason ?? ''}${waiting.message ? `: ${waiting.message}` : ''}` : running ? ', container running' : ''}`;
      lines = (await podEvents(client, namespace, pod.metadata.uid))
        .sort((a, b) => eventTime(a) - eventTime(b))
        .slice(-5)
        .map((e) => `event ${e.reason ?? '?'}: ${(e.message ?? '').replace(/\s+/g, ' ')}`);
      if (running) {
        const log = (await readLog(client, namespace, name)).split('\n').filter((l) => l.trim() !== '');
        lines.push(...(log.length ? ['log of the check:', ...log.slice(-10).map((l) => `| ${l}`)] : ['the check wrote no log']));
      }
    }
  } catch (error) {
    state = `unknown (${(error as Error).message})`;
  }
  return gantryError('E_SERVICE_CHECK_TIMEOUT', { namespace, pod: name, seconds: Math.round(timeoutMs / 1000), state, running, lines });
}

/** The pods' CIDR: the node's spec.podCIDR when this kubeconfig may read it, else the pod interface's network. */
async function podCidr(client: KubeClient, pod: CheckPod, ifCidr: string | undefined): Promise<Pick<ReachResult, 'podCidr' | 'podCidrSource' | 'podCidrNote'>> {
  const node = pod.spec?.nodeName;
  let note: string;
  if (!node) note = 'the pod has no node';
  else {
    try {
      const read = await client.read<{ spec?: { podCIDR?: string } }>({ apiVersion: 'v1', kind: 'Node', name: node }, `read node ${node}`);
      const cidr = read?.spec?.podCIDR;
      if (cidr) return { podCidr: cidr, podCidrSource: 'node' };
      note = read ? `node ${node} has no spec.podCIDR` : `node ${node} was not found`;
    } catch (error) {
      note = isGantryError(error) && error.code === 'E_KUBE_FORBIDDEN' ? `this kubeconfig may not read node ${node}` : (error as Error).message;
    }
  }
  return { ...(ifCidr ? { podCidr: ifCidr, podCidrSource: 'interface' as const } : {}), podCidrNote: note };
}

/** Finished check pods an earlier run left (it was killed before it could delete them). */
async function removeFinished(ctx: Ctx, client: KubeClient, input: ReachInput): Promise<void> {
  try {
    const selector = Object.entries({ ...input.labels, [COMPONENT_LABEL]: REACH_COMPONENT })
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await client.list<Pod>('v1', 'Pod', input.namespace, { labelSelector: selector });
    for (const p of pods) {
      if (p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') continue;
      await client.remove({ apiVersion: 'v1', kind: 'Pod', name: p.metadata.name, namespace: input.namespace });
    }
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    // Leftovers cost nothing but a name: the check goes on.
  }
}

/** Deletes the pod; when the step was cancelled, with a client and a signal of its own (a few seconds at most). */
async function removePod(ctx: Ctx, kc: KubeConfig, client: KubeClient, ref: { apiVersion: string; kind: string; name: string; namespace: string }) {
  const deleting = cleanupClient(ctx, kc, client, { retries: 0 });
  try {
    await deleting.remove(ref, { doing: `delete the service check pod ${ref.name}` });
    if (ctx.signal.aborted) ctx.cleanup.note(`deleted the service check pod ${ref.name}`);
  } catch (error) {
    ctx.logger.warn(`could not delete the service check pod ${ref.name}: ${(error as Error).message}; it stops by itself (activeDeadlineSeconds)`);
  }
}

/** E_SERVICE_UNREACHABLE for every target that did not answer, or undefined when all did. */
export function unreachableError(result: ReachResult): GantryError | undefined {
  const failed = result.results.filter((r) => !r.ok);
  if (failed.length === 0) return undefined;
  return gantryError('E_SERVICE_UNREACHABLE', {
    failures: failed.map((r) => ({
      service: r.service,
      host: r.host,
      port: r.port,
      code: r.code ?? 'ERROR',
      ms: r.ms,
      ...(r.attempts ? { attempts: r.attempts } : {}),
      ...(r.variable ? { variable: r.variable } : {}),
      ...(r.ref ? { ref: r.ref } : {}),
    })),
    total: result.results.length,
    podIP: result.podIP,
    ...(result.podCidr ? { podCidr: result.podCidr } : {}),
    ...(result.podCidrSource ? { podCidrSource: result.podCidrSource } : {}),
    ...(result.podCidrNote ? { podCidrNote: result.podCidrNote } : {}),
    connectSeconds: Math.round((result.connectMs ?? 5000) / 1000),
  });
}
