// Migration and seed Jobs against the real local cluster, as the deploy runs them: with a
// namespaced ServiceAccount token (the deployer's rights plus batch Jobs), the app's env with
// $(VAR) references and secretKeyRefs, and the log streamed into the job output.
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx, type Ctx } from '../../src/context.js';
import { formatError, GantryError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { type JobInput, runJob, succeededJobWithLabel } from '../../src/services/job.js';
import { kubectl, namespacedKubeconfig, nodeBaseImage, registry, requireCluster } from '../support/cluster.js';

const id = randomBytes(3).toString('hex');
const ns = `h14jobs-${id}`;
const PASSWORD = `pw${randomBytes(8).toString('hex')}`;
let kc: KubeConfig;
let kubeconfigFile: string;

beforeAll(() => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  kubectl(['-n', ns, 'create', 'secret', 'generic', 'hello-services', `--from-literal=MYSQL_PASSWORD=${PASSWORD}`]);
  kubeconfigFile = namespacedKubeconfig(ns, 'gantry-deployer', [{ apiGroups: ['', 'apps', 'batch', 'coordination.k8s.io'], resources: ['*'], verbs: ['*'] }]);
  kc = new KubeConfig();
  kc.loadFromFile(kubeconfigFile);
}, 60_000);

afterAll(() => {
  kubectl(['delete', 'namespace', ns, '--wait=false']);
  rmSync(kubeconfigFile, { force: true });
});

/** A context whose log is captured line by line with the time each line came. */
function capture(signal?: AbortSignal): { ctx: Ctx; lines: { at: number; text: string }[]; text: () => string } {
  const lines: { at: number; text: string }[] = [];
  const logger = createLogger({ write: (t) => void lines.push({ at: Date.now(), text: t }), gitlab: false, color: false });
  logger.addSecret(PASSWORD);
  return { ctx: createCtx({ logger, env: {}, ...(signal ? { signal } : {}) }), lines, text: () => lines.map((l) => l.text).join('') };
}

let n = 0;
function job(command: string, extra: Partial<JobInput> = {}): JobInput {
  return {
    purpose: 'migration',
    namespace: ns,
    name: `hello-migrate-${id}-${++n}`,
    image: nodeBaseImage,
    command: ['sh', '-c', command],
    env: [
      { name: 'MYSQL_PASSWORD', valueFrom: { secretKeyRef: { name: 'hello-services', key: 'MYSQL_PASSWORD' } } },
      { name: 'MYSQL_HOST', value: 'db.internal' },
      { name: 'DATABASE_URL', value: 'mysql://hello:$(MYSQL_PASSWORD)@$(MYSQL_HOST):3306/hello' },
    ],
    envFrom: [],
    imagePullSecrets: [],
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    labels: { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/instance': 'hello', 'app.kubernetes.io/managed-by': 'gantry' },
    timeoutSeconds: 60,
    ...extra,
  };
}

async function caught(promise: Promise<unknown>): Promise<{ error: GantryError; at: number }> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof GantryError)) throw error;
    return { error, at: Date.now() };
  }
  throw new Error('expected a GantryError');
}

const jobsAndPods = (name: string) =>
  kubectl(['-n', ns, 'get', 'jobs,pods', '-l', `job-name=${name}`, '-o', 'name']).trim() +
  kubectl(['-n', ns, 'get', 'jobs', '--field-selector', `metadata.name=${name}`, '-o', 'name']).trim();

test('a passing migration streams its lines as they come, gets the env with $(VAR) and secretKeyRef resolved, and returns', async () => {
  const url = `mysql://hello:${PASSWORD}@db.internal:3306/hello`;
  const digest = createHash('sha256').update(url).digest('hex');
  const { ctx, lines, text } = capture();
  const started = Date.now();
  const input = job(
    `echo "applying 001_init"; sleep 3; echo "url $DATABASE_URL"; node -e 'console.log("digest " + require("crypto").createHash("sha256").update(process.env.DATABASE_URL).digest("hex"))'; echo done`,
  );
  const result = await runJob(ctx, kc, input);
  const ended = Date.now();
  expect(result).toMatchObject({ ok: true, logLines: 4 });
  const out = text();
  expect(out).toContain('migration | applying 001_init');
  expect(out).toContain(`migration | digest ${digest}`);
  // The URL reached the process whole (the digest above), and the job output masks its password.
  expect(out).toContain('migration | url mysql://hello:[MASKED]@db.internal:3306/hello');
  expect(out).not.toContain(PASSWORD);
  // Streamed: the first line was printed while the command was still sleeping.
  const first = lines.find((l) => l.text.includes('migration | applying 001_init'))!;
  expect(ended - first.at).toBeGreaterThan(2000);
  console.log(
    `passing migration: ${((ended - started) / 1000).toFixed(1)} s in all, its first line printed ${((first.at - started) / 1000).toFixed(1)} s after the start and ${((ended - first.at) / 1000).toFixed(1)} s before the end`,
  );
  // A finished migration Job stays a day for inspection.
  expect(kubectl(['-n', ns, 'get', 'job', input.name, '-o', 'jsonpath={.spec.ttlSecondsAfterFinished}'])).toBe('86400');
}, 90_000);

test('a failing migration (exit 3 after printing lines) throws E_MIGRATION_FAILED with the log tail within seconds of the failure', async () => {
  const { ctx } = capture();
  const input = job('echo "applying 002_add_email"; echo "password is $MYSQL_PASSWORD"; sleep 2; echo "error: column email already exists" >&2; exit 3');
  const { error, at } = await caught(runJob(ctx, kc, input));
  expect(error.code).toBe('E_MIGRATION_FAILED');
  expect(error.exitCode).toBe(1);
  expect(error.message).toBe(`migration Job ${input.name} failed: exit code 3 (Error)`);
  const text = formatError(error);
  expect(text).toContain('| applying 002_add_email');
  expect(text).toContain('| error: column email already exists');
  expect(text).toContain('| password is [MASKED]');
  expect(text).not.toContain(PASSWORD);
  expect(error.fix).toBe('fix the migration and push again; the running version was not changed');
  const finishedAt = Date.parse(
    kubectl(['-n', ns, 'get', 'pods', '-l', `job-name=${input.name}`, '-o', 'jsonpath={.items[0].status.containerStatuses[0].state.terminated.finishedAt}']),
  );
  // finishedAt has whole seconds (truncated): up to 1 s is the timestamp's.
  const after = (at - finishedAt) / 1000;
  console.log(`failing migration: reported ${after.toFixed(1)} s after the container ended`);
  expect(after).toBeLessThan(5);
}, 90_000);

test('a hanging migration ends with E_MIGRATION_TIMEOUT at its deadline and leaves no Job or pod', async () => {
  const { ctx } = capture();
  const input = job('echo "waiting for the lock"; trap "exit 143" TERM; sleep 600 & wait', { timeoutSeconds: 8 });
  const started = Date.now();
  const { error, at } = await caught(runJob(ctx, kc, input));
  const seconds = (at - started) / 1000;
  console.log(`hanging migration: E_MIGRATION_TIMEOUT after ${seconds.toFixed(1)} s (deadline 8 s), Job and pod gone`);
  expect(error.code).toBe('E_MIGRATION_TIMEOUT');
  expect(error.message).toBe(`migration Job ${input.name} did not finish within 8 s (backend.migrateTimeout); it was stopped and deleted`);
  expect(formatError(error)).toContain('| waiting for the lock');
  expect(seconds).toBeGreaterThanOrEqual(8);
  expect(seconds).toBeLessThan(8 + 20);
  expect(jobsAndPods(input.name)).toBe('');
}, 90_000);

test('an image that cannot be pulled fails fast with the pull cause, and the Job is deleted', async () => {
  const { ctx } = capture();
  const input = job('true', { image: `${registry}/gantry/no-such-image:1` });
  const started = Date.now();
  const { error, at } = await caught(runJob(ctx, kc, input));
  const seconds = (at - started) / 1000;
  console.log(`unpullable image: ${error.code} after ${seconds.toFixed(1)} s`);
  expect(error.code).toBe('E_MIGRATION_FAILED');
  expect(error.message).toContain('could not start (E_ROLLOUT_IMAGE_PULL)');
  expect(error.message).toContain(`cannot pull image ${registry}/gantry/no-such-image:1 from ${registry}`);
  expect(error.fix).toMatch(/the running version was not changed$/);
  expect(seconds).toBeLessThan(20);
  expect(kubectl(['-n', ns, 'get', 'jobs', '--field-selector', `metadata.name=${input.name}`, '-o', 'name']).trim()).toBe('');
}, 90_000);

test('a secretKeyRef to a missing key fails fast, naming the key and the Secret', async () => {
  const { ctx } = capture();
  const input = job('true');
  input.env = [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'hello-services', key: 'API_KEY' } } }];
  const started = Date.now();
  const { error, at } = await caught(runJob(ctx, kc, input));
  const seconds = (at - started) / 1000;
  console.log(`missing Secret key: ${error.code} after ${seconds.toFixed(1)} s`);
  expect(error.code).toBe('E_MIGRATION_FAILED');
  expect(error.message).toContain('could not start (E_ROLLOUT_CONFIG)');
  expect(error.message).toContain('key API_KEY is missing from Secret hello-services');
  expect(seconds).toBeLessThan(15);
}, 60_000);

test('a migration killed for its memory says OOMKilled and names the limit', async () => {
  const { ctx } = capture();
  const input = job(`echo "loading"; node -e 'const a = []; for (;;) a.push(Buffer.alloc(1e7, 1))'`, {
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '48Mi' } },
  });
  const started = Date.now();
  const { error, at } = await caught(runJob(ctx, kc, input));
  console.log(`OOM-killed migration: ${error.code} after ${((at - started) / 1000).toFixed(1)} s: ${error.message}`);
  expect(error.code).toBe('E_MIGRATION_FAILED');
  expect(error.message).toBe(`migration Job ${input.name} failed: exit code 137 (OOMKilled), signal 9 (SIGKILL)`);
  expect(error.fix).toMatch(/^the migration ran out of memory \(limit 48Mi\)/);
  expect(formatError(error)).toContain('| loading');
}, 90_000);

test('a pod no node can take fails fast as unschedulable, and the Job is deleted', async () => {
  const { ctx } = capture();
  const input = job('true', { resources: { requests: { cpu: '500', memory: '64Mi' } } });
  const started = Date.now();
  const { error, at } = await caught(runJob(ctx, kc, input));
  const seconds = (at - started) / 1000;
  console.log(`unschedulable: ${error.code} after ${seconds.toFixed(1)} s: ${error.message}`);
  expect(error.message).toContain('could not start (E_ROLLOUT_UNSCHEDULABLE)');
  expect(error.message).toContain('not enough cpu');
  expect(seconds).toBeLessThan(20);
  expect(kubectl(['-n', ns, 'get', 'jobs', '--field-selector', `metadata.name=${input.name}`, '-o', 'name']).trim()).toBe('');
}, 60_000);

test('a cancelled migration deletes its Job', async () => {
  const stop = new AbortController();
  const { ctx, text } = capture(stop.signal);
  const input = job('echo started; sleep 600');
  const running = runJob(ctx, kc, input);
  const deadline = Date.now() + 30_000;
  while (!text().includes('migration | started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  stop.abort(new Error('cancelled'));
  await expect(running).rejects.toThrow('cancelled');
  expect(text()).toContain(`deleted the migration Job ${input.name}`);
  expect(kubectl(['-n', ns, 'get', 'jobs', '--field-selector', `metadata.name=${input.name}`, '-o', 'name']).trim()).toBe('');
}, 60_000);

test('a seed runs once per instance: its succeeded Job, labelled with the instance, is found again', async () => {
  const { ctx, text } = capture();
  const instance = { 'gantry.dev/instance-uid': `uid-${id}` };
  expect(await succeededJobWithLabel(ctx, kc, ns, instance)).toBe(false);
  const input = job('echo seeded', { purpose: 'seed', name: `hello-seed-${id}`, labels: { 'app.kubernetes.io/managed-by': 'gantry', ...instance } });
  await runJob(ctx, kc, input);
  expect(text()).toContain('seed | seeded');
  expect(await succeededJobWithLabel(ctx, kc, ns, instance)).toBe(true);
  expect(await succeededJobWithLabel(ctx, kc, ns, { 'gantry.dev/instance-uid': 'another' })).toBe(false);
  // Kept: no TTL removes the record that the instance was seeded.
  expect(kubectl(['-n', ns, 'get', 'job', input.name, '-o', 'jsonpath={.spec.ttlSecondsAfterFinished}'])).toBe('');
}, 60_000);
