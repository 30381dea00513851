// The pure parts of the migration and seed Jobs: the Job object, the judgement of where a Job
// is, the log lines' times, and the error texts (test/e2e/services-job.test.ts runs them for real).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createCtx } from '../../../src/context.js';
import { formatError, gantryError } from '../../../src/errors.js';
import type { KubeEvent, Pod } from '../../../src/kube/objects.js';
import { createLogger } from '../../../src/log/logger.js';
import { type Job, type JobInput, jobObject, judgeJob, runJob, splitLogLine } from '../../../src/services/job.js';

const SECRET = 'hunter2-s3cret';

function input(extra: Partial<JobInput> = {}): JobInput {
  return {
    purpose: 'migration',
    namespace: 'hello-staging',
    name: 'hello-migrate-abc1234-x7k2',
    image: 'registry.example.com/acme/hello@sha256:0123',
    command: ['sh', '-c', 'npx prisma migrate deploy'],
    env: [
      { name: 'API_TOKEN', value: SECRET },
      { name: 'MYSQL_PASSWORD', valueFrom: { secretKeyRef: { name: 'hello-services', key: 'MYSQL_PASSWORD' } } },
      { name: 'DATABASE_URL', value: 'mysql://u:$(MYSQL_PASSWORD)@$(HELLO_DB_SERVICE_HOST):3306/hello' },
    ],
    envFrom: [{ configMapRef: { name: 'hello-config-1' } }],
    imagePullSecrets: [{ name: 'gantry-registry' }],
    labels: { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/instance': 'hello-staging', 'app.kubernetes.io/managed-by': 'gantry' },
    timeoutSeconds: 600,
    ...extra,
  };
}

const spec = (job: ReturnType<typeof jobObject>) => job.spec as any;

describe('the Job object', () => {
  test('runs once, never restarts, ends at the deadline and stays a day for inspection', () => {
    const s = spec(jobObject(input()));
    expect(s.backoffLimit).toBe(0);
    expect(s.activeDeadlineSeconds).toBe(600);
    expect(s.ttlSecondsAfterFinished).toBe(86_400);
    expect(s.template.spec.restartPolicy).toBe('Never');
    expect(s.template.spec.imagePullSecrets).toEqual([{ name: 'gantry-registry' }]);
  });

  test("the container gets the new image, the command as given and the app's env and envFrom untouched", () => {
    const c = spec(jobObject(input())).template.spec.containers[0];
    expect(c).toMatchObject({ name: 'migrate', image: 'registry.example.com/acme/hello@sha256:0123', command: ['sh', '-c', 'npx prisma migrate deploy'] });
    expect(c.env).toEqual(input().env);
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'hello-config-1' } }]);
  });

  test('requests are always set: a small default without resources, the given ones otherwise', () => {
    expect(spec(jobObject(input())).template.spec.containers[0].resources.requests).toEqual({ cpu: '250m', memory: '256Mi' });
    const given = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } };
    expect(spec(jobObject(input({ resources: given }))).template.spec.containers[0].resources).toEqual(given);
  });

  test("the pod does not carry the app Service's selector labels (a running migration pod would get traffic)", () => {
    const job = jobObject(input());
    const podLabels = spec(job).template.metadata.labels;
    expect(podLabels['app.kubernetes.io/name']).toBeUndefined();
    expect(podLabels['app.kubernetes.io/instance']).toBeUndefined();
    expect(podLabels).toMatchObject({ 'app.kubernetes.io/managed-by': 'gantry', 'gantry.dev/job': 'migration' });
    expect(job.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'hello', 'gantry.dev/job': 'migration' });
  });

  test("ECI annotations from the app's pod template go on the pod", () => {
    const a = { 'k8s.aliyun.com/eci-use-specs': '2-4Gi' };
    expect(spec(jobObject(input({ podAnnotations: a }))).template.metadata.annotations).toEqual(a);
  });

  test('a seed Job is kept (its success records that the instance was seeded); its container is "seed"', () => {
    const s = spec(jobObject(input({ purpose: 'seed' })));
    expect(s.ttlSecondsAfterFinished).toBeUndefined();
    expect(s.template.spec.containers[0].name).toBe('seed');
  });

  test('a name that is not a DNS label is refused before anything is sent', () => {
    expect(() => jobObject(input({ name: 'Hello_Migrate' }))).toThrow(/not a DNS label/);
    expect(() => jobObject(input({ name: 'a'.repeat(64) }))).toThrow(/not a DNS label/);
  });
});

const T0 = Date.parse('2026-12-03T02:00:00Z');
const at = { now: T0 + 60_000, since: T0 };
const job = (conditions: { type: string; status: string; reason?: string; message?: string }[] = []): Job => ({
  metadata: { name: 'j', uid: 'job-uid', namespace: 'ns' },
  status: { conditions },
});
function pod(state: Record<string, unknown>, extra: Partial<Pod['status']> = {}): Pod {
  return {
    metadata: { name: 'j-abcde', uid: 'pod-uid', namespace: 'ns', creationTimestamp: '2026-12-03T02:00:01Z' },
    spec: { containers: [{ name: 'migrate', image: '127.0.0.1:5000/nope:1' }] },
    status: { phase: 'Pending', containerStatuses: [{ name: 'migrate', ready: false, restartCount: 0, state }], ...extra },
  };
}

describe('judging the Job', () => {
  test('Complete is success; a container that ended with 0 waits for it', () => {
    expect(judgeJob(job([{ type: 'Complete', status: 'True' }]), undefined, [], 'migration', at).state).toBe('succeeded');
    expect(judgeJob(job(), pod({ terminated: { exitCode: 0 } }), [], 'migration', at).state).toBe('running');
  });

  test('a container that exited non-zero fails at once, with its termination, before the Job controller says so', () => {
    const s = judgeJob(job(), pod({ terminated: { exitCode: 3, reason: 'Error' } }), [], 'migration', at);
    expect(s).toMatchObject({ state: 'failed', termination: { exitCode: 3, reason: 'Error' } });
  });

  test('DeadlineExceeded is the timeout, whichever failure condition says it', () => {
    expect(judgeJob(job([{ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded' }]), undefined, [], 'migration', at).state).toBe('deadline');
    expect(judgeJob(job([{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }]), undefined, [], 'migration', at).state).toBe('deadline');
  });

  test('a pod that cannot pull its image is the rollout classifier’s verdict, at once', () => {
    const events: KubeEvent[] = [
      {
        metadata: { name: 'e', uid: 'e1' },
        involvedObject: { uid: 'pod-uid', fieldPath: 'spec.containers{migrate}' },
        type: 'Warning',
        reason: 'Failed',
        message: 'Failed to pull image "127.0.0.1:5000/nope:1": manifest unknown',
        lastTimestamp: '2026-12-03T02:00:05Z',
      },
    ];
    const s = judgeJob(job(), pod({ waiting: { reason: 'ErrImagePull', message: 'manifest unknown' } }), events, 'migration', at);
    expect(s.state).toBe('cannot-start');
    expect(s.state === 'cannot-start' && s.failure.code).toBe('E_ROLLOUT_IMAGE_PULL');
  });

  test('a missing Secret key is E_ROLLOUT_CONFIG from the classifier', () => {
    const s = judgeJob(
      job(),
      pod({ waiting: { reason: 'CreateContainerConfigError', message: "couldn't find key NOPE in Secret ns/hello-services" } }),
      [],
      'migration',
      at,
    );
    expect(s.state === 'cannot-start' && s.failure).toMatchObject({ code: 'E_ROLLOUT_CONFIG', message: expect.stringContaining('key NOPE is missing') });
  });

  test('a Job whose pod the API server refuses (quota, admission) says why', () => {
    const refused: KubeEvent = {
      metadata: { name: 'e', uid: 'e2' },
      involvedObject: { uid: 'job-uid', kind: 'Job' },
      type: 'Warning',
      reason: 'FailedCreate',
      message: 'Error creating: pods "j-x" is forbidden: exceeded quota: q',
      lastTimestamp: '2026-12-03T02:00:02Z',
    };
    expect(judgeJob(job(), undefined, [refused], 'migration', at)).toEqual({ state: 'cannot-create', said: refused.message });
  });

  test('a deleted Job is gone; a pod still creating is pending', () => {
    expect(judgeJob(undefined, undefined, [], 'migration', at).state).toBe('gone');
    expect(judgeJob(job(), pod({ waiting: { reason: 'ContainerCreating' } }), [], 'migration', at).state).toBe('pending');
  });
});

describe('log lines', () => {
  test('the time is split off, and times with trimmed fractions still compare in order', () => {
    const a = splitLogLine('2026-12-03T02:00:00.1Z applying 001_init');
    const b = splitLogLine('2026-12-03T02:00:00.05Z earlier');
    expect(a).toMatchObject({ time: '2026-12-03T02:00:00Z', text: 'applying 001_init' });
    expect(b.key! < a.key!).toBe(true);
    expect(splitLogLine('no time here')).toEqual({ text: 'no time here' });
    expect(splitLogLine('2026-12-03T02:00:01Z ').text).toBe('');
  });
});

describe('the error texts', () => {
  test('a failed migration says the exit code and reason, shows the log tail and says the running version was not changed', () => {
    const e = gantryError('E_MIGRATION_FAILED', {
      problem: 'exited',
      job: 'hello-migrate-abc',
      namespace: 'hello-staging',
      termination: 'exit code 3 (Error)',
      oom: false,
      memoryLimit: undefined,
      log: ['applying 002_add_email', 'error: column "email" already exists'],
      evidence: ['pod hello-migrate-abc-xyz, container migrate: terminated: exit code 3 (Error)'],
      kept: true,
    });
    expect(e.exitCode).toBe(1);
    const text = formatError(e);
    expect(text).toContain('migration Job hello-migrate-abc failed: exit code 3 (Error)');
    expect(text).toContain('| error: column "email" already exists');
    expect(text).toContain('kubectl -n hello-staging logs job/hello-migrate-abc');
    expect(e.fix).toBe('fix the migration and push again; the running version was not changed');
  });

  test('OOMKilled names the memory limit in the fix', () => {
    const e = gantryError('E_SEED_FAILED', {
      problem: 'exited',
      job: 's',
      namespace: 'n',
      termination: 'exit code 137 (OOMKilled)',
      oom: true,
      memoryLimit: '256Mi',
      log: [],
      evidence: [],
      kept: false,
    });
    expect(e.fix).toMatch(/^the seed ran out of memory \(limit 256Mi\): raise resources.limits.memory/);
    expect(formatError(e)).toContain('its log is empty');
  });

  test('a timeout names the setting and says the Job was stopped', () => {
    const e = gantryError('E_MIGRATION_TIMEOUT', {
      job: 'j',
      namespace: 'n',
      seconds: 600,
      setting: 'backend.migrateTimeout',
      log: ['waiting for lock'],
      evidence: [],
      deleted: true,
    });
    expect(e.message).toBe('migration Job j did not finish within 600 s (backend.migrateTimeout); it was stopped and deleted');
    expect(e.fix).toMatch(/raise backend.migrateTimeout/);
  });

  test('a pod that cannot start keeps the classifier’s cause and fix', () => {
    const e = gantryError('E_MIGRATION_FAILED', {
      problem: 'cannot-start',
      job: 'j',
      namespace: 'n',
      cause: 'E_ROLLOUT_IMAGE_PULL',
      said: 'pod j-x, container migrate cannot pull image a/b:1 from docker.io (not found)',
      evidence: ['image a/b:1'],
      fix: 'push it',
    });
    expect(e.message).toBe(
      'migration Job j could not start (E_ROLLOUT_IMAGE_PULL): pod j-x, container migrate cannot pull image a/b:1 from docker.io (not found)',
    );
    expect(e.fix).toBe('push it; the running version was not changed');
  });

  test('no env value of the Job (a literal secret) appears in any error text', () => {
    const texts = [
      gantryError('E_MIGRATION_FAILED', { problem: 'cannot-create', job: 'j', namespace: 'n', said: 'exceeded quota' }),
      gantryError('E_MIGRATION_FAILED', { problem: 'gone', job: 'j', namespace: 'n' }),
      gantryError('E_SEED_TIMEOUT', { job: 'j', namespace: 'n', seconds: 5, setting: 's', log: [], evidence: [], deleted: false }),
    ].map(formatError);
    for (const text of texts) expect(text).not.toContain(SECRET);
  });
});

describe('runJob against a scripted API server', () => {
  test('a log stream cut mid-way is followed again from the last line’s second: every line printed once, none lost', async () => {
    const name = 'hello-migrate-abc1234-x7k2';
    const logRequests: URLSearchParams[] = [];
    let complete = false;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const second = now.slice(0, 19);
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (body: unknown) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      };
      const p = url.pathname;
      if (p === '/apis/batch/v1')
        return json({ kind: 'APIResourceList', groupVersion: 'batch/v1', resources: [{ name: 'jobs', namespaced: true, kind: 'Job', verbs: [] }] });
      if (p === '/api/v1')
        return json({ kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'pods', namespaced: true, kind: 'Pod', verbs: [] }] });
      const job = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace: 'hello-staging', uid: 'job-uid', creationTimestamp: now },
        status: { conditions: complete ? [{ type: 'Complete', status: 'True' }] : [] },
      };
      if (p.startsWith('/apis/batch/v1/namespaces/hello-staging/jobs')) return json(job);
      if (p === '/api/v1/namespaces/hello-staging/pods') {
        const state = complete ? { terminated: { exitCode: 0 } } : { running: { startedAt: now } };
        return json({
          items: [
            {
              metadata: { name: `${name}-p`, uid: 'pod-uid', creationTimestamp: now },
              status: { containerStatuses: [{ name: 'migrate', ready: true, restartCount: 0, state }] },
            },
          ],
        });
      }
      if (p === `/api/v1/namespaces/hello-staging/pods/${name}-p/log`) {
        logRequests.push(url.searchParams);
        res.writeHead(200);
        if (logRequests.length === 1) {
          res.write(`${second}.1Z one\n${second}.25Z two\n`);
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        complete = true;
        return res.end(`${second}.1Z one\n${second}.25Z two\n${second}.3Z three\n`);
      }
      return json({ items: [] });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
        currentContext: 'c',
      });
      let out = '';
      const ctx = createCtx({ logger: createLogger({ write: (t) => (out += t), gitlab: false, color: false }), env: {} });
      const result = await runJob(ctx, kc, input());
      expect(result).toMatchObject({ ok: true, logLines: 3 });
      expect(out.match(/^migration \| .*$/gm)).toEqual(['migration | one', 'migration | two', 'migration | three']);
      expect(logRequests[0]!.get('sinceTime')).toBeNull();
      expect(logRequests[1]!.get('sinceTime')).toBe(`${second}Z`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
