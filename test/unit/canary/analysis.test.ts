// The canary analysis's pure parts: query variables, thresholds, the built-in verdict on the
// canary's pods, the report of values over time; the rollout rules of gantry.yaml; and the
// Prometheus client against a loopback server that answers as Prometheus does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfigText } from '../../../src/config/load.js';
import { createCtx } from '../../../src/context.js';
import type { GantryError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log/logger.js';
import type { Pod } from '../../../src/kube/objects.js';
import { builtinFailure, expandQuery, judgeQuery, queryVariables, unknownVariables, valuesOverTime, type QueryCheck } from '../../../src/canary/analysis.js';
import { PrometheusRefusal, queryPrometheus, samplesOf } from '../../../src/canary/prometheus.js';
import { analysisTarget } from '../../../src/canary/plan.js';

const errorRate: QueryCheck = { name: 'error-rate', query: 'q', max: 0.05, noData: 'ignore' };

describe('queries', () => {
  test('{{...}} variables name the namespace, the Deployments and regexes of their pods', () => {
    const vars = queryVariables('shop-production', 'web', 'web-canary');
    expect(expandQuery('rate(x{namespace="{{namespace}}",pod=~"{{ canaryPods }}"}[1m]) / on() y{pod=~"{{stablePods}}"}', vars)).toBe(
      'rate(x{namespace="shop-production",pod=~"web-canary-[a-z0-9]+-[a-z0-9]+"}[1m]) / on() y{pod=~"web-[a-z0-9]+-[a-z0-9]+"}',
    );
    // The stable regex does not match a canary pod (Prometheus anchors =~ at both ends).
    expect(new RegExp(`^${vars.stablePods}$`).test('web-canary-5c5d44fbc-x7k2p')).toBe(false);
    expect(new RegExp(`^${vars.stablePods}$`).test('web-5c5d44fbc-x7k2p')).toBe(true);
    expect(unknownVariables('{{namespace}} {{pods}} {{ canary }}')).toEqual(['pods']);
  });

  test('a value above max (or below min) fails with the value, the threshold and the series', () => {
    expect(judgeQuery(errorRate, [{ labels: {}, value: 0.01 }])).toEqual({ verdict: 'pass' });
    expect(judgeQuery(errorRate, [{ labels: { pod: 'web-canary-a-b' }, value: 0.5 }])).toEqual({
      verdict: 'fail',
      why: '0.500 > max 0.05 for {pod="web-canary-a-b"}',
    });
    expect(judgeQuery({ ...errorRate, max: undefined, min: 0.99 }, [{ labels: {}, value: 0.9 }])).toEqual({ verdict: 'fail', why: '0.900 < min 0.99' });
  });

  test('no data (an empty vector, or NaN from 0/0 before the first request) is ignored unless noData: fail', () => {
    expect(judgeQuery(errorRate, [])).toEqual({ verdict: 'no-data' });
    expect(judgeQuery(errorRate, [{ labels: {}, value: Number.NaN }])).toEqual({ verdict: 'no-data' });
    expect(judgeQuery({ ...errorRate, noData: 'fail' }, [])).toEqual({ verdict: 'fail', why: 'no data (noData: fail)' });
    // errors / successes of a canary that only fails is +Inf: a value, and it fails max.
    expect(judgeQuery(errorRate, [{ labels: {}, value: Number.POSITIVE_INFINITY }])).toEqual({ verdict: 'fail', why: 'Infinity > max 0.05' });
  });

  test('the values over time are one line an evaluation, the failing one marked', () => {
    expect(
      valuesOverTime([
        { atSeconds: 0, values: [], verdict: 'no-data' },
        { atSeconds: 2, values: [0.012], verdict: 'pass' },
        { atSeconds: 4.1, values: [0.48], verdict: 'fail' },
      ]),
    ).toEqual(['values over time:', '  +   0.0 s  no data', '  +   2.0 s  0.0120', '  +   4.1 s  0.480  <- breaks the threshold']);
  });
});

describe('built-in checks', () => {
  const now = Date.parse('2026-12-03T10:00:30Z');
  const since = Date.parse('2026-12-03T10:00:00Z');
  const pod = (name: string, restarts: number, ready = true): Pod =>
    ({
      metadata: { name, uid: name, creationTimestamp: '2026-12-03T10:00:01Z' },
      spec: { containers: [{ name: 'web', image: 'x' }] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
        containerStatuses: [
          {
            name: 'web',
            ready,
            restartCount: restarts,
            state: { running: { startedAt: '2026-12-03T10:00:20Z' } },
            ...(restarts > 0 ? { lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-12-03T10:00:19Z' } } } : {}),
          },
        ],
      },
    }) as unknown as Pod;

  test('healthy canary pods pass', () => {
    expect(builtinFailure([pod('web-canary-a-1', 0), pod('web-canary-a-2', 0)], [], { now, since, maxRestarts: 0 })).toBeUndefined();
  });

  test('one restart beyond analysis.maxRestarts fails, naming the pod, the count and the exit', () => {
    const failure = builtinFailure([pod('web-canary-a-1', 0), pod('web-canary-a-2', 1)], [], { now, since, maxRestarts: 0 });
    expect(failure).toMatchObject({
      code: 'E_ROLLOUT_CRASHLOOP',
      message: 'canary pod web-canary-a-2: container web restarted 1 time(s) (analysis.maxRestarts: 0)',
      evidence: ['last termination: exit code 1 (Error) at 2026-12-03T10:00:19Z'],
      pod: 'web-canary-a-2',
      logs: { previous: true, label: 'the instance that exited' },
    });
    expect(builtinFailure([pod('web-canary-a-2', 1)], [], { now, since, maxRestarts: 1 })).toBeUndefined();
  });
});

describe('gantry.yaml rollout rules', () => {
  const base = (rollout: string, extra = '') => `app: web
environments:
  production:
${extra}    rollout:
${rollout}`;
  const problems = (text: string) => {
    try {
      parseConfigText(text, 'gantry.yaml', { env: {} });
    } catch (error) {
      return (error as GantryError).details.join('\n');
    }
    return '';
  };

  test('a valid canary parses with its defaults', () => {
    const config = parseConfigText(
      base(`      strategy: canary
      steps: [{ weight: 10, pause: 2m }, { weight: 50, pause: manual }]
      analysis:
        queries: [{ name: error-rate, query: 'sum(rate(x{pod=~"{{canaryPods}}"}[1m]))', max: 0.05 }]
`),
      'gantry.yaml',
      { env: {} },
    );
    expect(config.environments.production!.rollout).toEqual({
      strategy: 'canary',
      steps: [
        { weight: 10, pause: '2m' },
        { weight: 50, pause: 'manual' },
      ],
      traffic: 'replicas',
      analysis: {
        interval: '30s',
        urlVariable: 'GANTRY_PROMETHEUS_URL',
        tokenVariable: 'GANTRY_PROMETHEUS_TOKEN',
        auth: 'bearer',
        maxRestarts: 0,
        queries: [{ name: 'error-rate', query: 'sum(rate(x{pod=~"{{canaryPods}}"}[1m]))', max: 0.05, noData: 'ignore' }],
      },
    });
  });

  test('every mistake is named with its field and the fix', () => {
    const text = problems(
      base(`      strategy: canary
      traffic: nginx
      steps: [{ weight: 50, pause: 2 minutes }, { weight: 30 }, { weight: 100 }]
      analysis:
        queries:
          - { name: errors, query: 'x{pod=~"{{pods}}"}' }
          - { name: errors, query: y, max: 1 }
`),
    );
    expect(text).toContain('pause is a duration such as 30s, 2m or 1h');
    expect(text).toMatch(/weight.*(100|99)/);
    expect(text).toContain('give the query a threshold: max, min or both');
    expect(problems(base(`      strategy: canary\n      steps: [{ weight: 50 }, { weight: 30 }]\n`))).toContain('weight 30 is not above the step before (50)');
    expect(problems(base(`      strategy: canary\n      traffic: alb\n      steps: [{ weight: 5 }]\n`))).toContain(
      'traffic: alb sets the weight on a canary Ingress, and this environment has none (no domain)',
    );
    expect(problems(base(`      strategy: canary\n      steps: []\n`))).toContain('a canary needs at least one step');
    expect(problems(base(`      strategy: canary\n      steps: [{ weight: 5 }]\n      analysis: { interval: 0s }\n`))).toContain(
      '0s is too short for an analysis interval',
    );
    expect(
      problems(
        base(
          `      strategy: canary\n      steps: [{ weight: 5 }]\n      analysis: { queries: [{ name: e, query: '{{pods}}', max: 1 }, { name: e, query: y, max: 1 }] }\n`,
        ),
      ),
    ).toMatch(/\{\{pods\}\} is not a query variable[\s\S]*e is named twice|e is named twice[\s\S]*\{\{pods\}\} is not a query variable/);
  });

  test('queries without the Prometheus URL variable are refused before the cluster (exit 2)', () => {
    const config = parseConfigText(
      base(`      strategy: canary\n      steps: [{ weight: 10 }]\n      analysis: { queries: [{ name: e, query: up, max: 1 }] }\n`),
      'gantry.yaml',
      { env: {} },
    );
    const rollout = config.environments.production!.rollout!;
    expect(() => analysisTarget(ctx(), {}, 'production', rollout)).toThrow(expect.objectContaining({ code: 'E_PROMETHEUS_MISSING', exitCode: 2 }));
    expect(analysisTarget(ctx(), { GANTRY_PROMETHEUS_URL: 'http://127.0.0.1:9090', GANTRY_PROMETHEUS_TOKEN: 'tok-123' }, 'production', rollout)).toEqual({
      url: 'http://127.0.0.1:9090',
      token: 'tok-123',
      auth: 'bearer',
    });
  });
});

const ctx = () => createCtx({ env: {}, logger: createLogger({ write: () => undefined, gitlab: false, color: false }) });

describe('the Prometheus client', () => {
  let server: http.Server;
  let url = '';
  const seen: { url: string; authorization?: string | undefined }[] = [];
  let answer: (q: string) => [number, unknown] = () => [200, { status: 'success', data: { resultType: 'vector', result: [] } }];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
      const [status, body] = answer(q);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('an instant vector comes back as samples; the token is a bearer token; the base URL keeps its path', async () => {
    answer = () => [200, { status: 'success', data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [1, '0.25'] }] } }];
    expect(await queryPrometheus(ctx(), { url, token: 'tok' }, 'sum(x)')).toEqual([{ labels: { pod: 'a' }, value: 0.25 }]);
    expect(seen.at(-1)).toEqual({ url: '/prefix/api/v1/query?query=sum%28x%29', authorization: 'Bearer tok' });
    expect(samplesOf({ resultType: 'scalar', result: [1, 'NaN'] })).toEqual([{ labels: {}, value: Number.NaN }]);
    // ARMS V1 takes the bare token; V2 an AccessKey pair as HTTP Basic.
    await queryPrometheus(ctx(), { url, token: 'tok', auth: 'token' }, 'up');
    expect(seen.at(-1)?.authorization).toBe('tok');
    await queryPrometheus(ctx(), { url, token: 'LTAIid:secret', auth: 'basic' }, 'up');
    expect(seen.at(-1)?.authorization).toBe(`Basic ${Buffer.from('LTAIid:secret').toString('base64')}`);
  });

  test("Prometheus's bad_data answer is a refusal (not retried), with its error text", async () => {
    answer = () => [400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected <EOF>' }];
    const before = seen.length;
    await expect(queryPrometheus(ctx(), { url }, 'sum(')).rejects.toEqual(expect.any(PrometheusRefusal));
    await expect(queryPrometheus(ctx(), { url }, 'sum(')).rejects.toMatchObject({ errorType: 'bad_data', message: '1:5: parse error: unexpected <EOF>' });
    expect(seen.length - before).toBe(2);
  });

  test('a 5xx is retried, then reported as E_PROMETHEUS with the host', async () => {
    answer = () => [503, 'upstream unavailable'];
    const before = seen.length;
    await expect(queryPrometheus(ctx(), { url }, 'up')).rejects.toMatchObject({ code: 'E_PROMETHEUS', message: expect.stringContaining('127.0.0.1') });
    expect(seen.length - before).toBe(3);
  });
});
