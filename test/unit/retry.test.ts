// The one retry policy and the one poll loop: what is retried, how it is logged, when it stops.
import { createCtx } from '../../src/context.js';
import { createLogger } from '../../src/log/logger.js';
import { noAnswerText, pollUntil, waitedFor, withRetry } from '../../src/retry.js';

function capture(signal?: AbortSignal) {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env: {}, ...(signal ? { signal } : {}) }), log: () => out };
}

const transient = (error: unknown) => /ECONNRESET/.test((error as Error).message);

describe('withRetry', () => {
  test('a transient failure is retried with each retry logged, and the answer comes back', async () => {
    const { ctx, log } = capture();
    let calls = 0;
    const answer = await withRetry(
      ctx,
      'get thing',
      async () => {
        if (++calls < 3) throw new Error('read ECONNRESET\nmore detail');
        return 42;
      },
      { isTransient: transient, retries: 3, minDelayMs: 1, maxDelayMs: 2 },
    );
    expect(answer).toBe(42);
    expect(calls).toBe(3);
    expect(log()).toBe('warning: get thing: read ECONNRESET; retrying (3 left)\nwarning: get thing: read ECONNRESET; retrying (2 left)\n');
  });

  test('a failure that is not transient is thrown at once and not logged', async () => {
    const { ctx, log } = capture();
    let calls = 0;
    const refused = new Error('403 denied');
    await expect(
      withRetry(
        ctx,
        'get thing',
        async () => {
          calls++;
          throw refused;
        },
        { isTransient: transient, retries: 3, minDelayMs: 1 },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(log()).toBe('');
  });

  test('the retries are bounded: after the last one the failure is thrown', async () => {
    const { ctx, log } = capture();
    let calls = 0;
    await expect(
      withRetry(
        ctx,
        'put x',
        async () => {
          calls++;
          throw new Error('ECONNRESET');
        },
        { isTransient: transient, retries: 2, minDelayMs: 1, maxDelayMs: 1 },
      ),
    ).rejects.toThrow('ECONNRESET');
    expect(calls).toBe(3);
    expect(log().match(/retrying/g)).toHaveLength(2);
  });

  test('describe says how a failure reads in the warning', async () => {
    const { ctx, log } = capture();
    let calls = 0;
    await withRetry(
      ctx,
      'list',
      async () => {
        if (calls++ === 0) throw new Error('ECONNRESET');
        return 'ok';
      },
      { isTransient: transient, retries: 1, minDelayMs: 1, describe: () => 'the server hung up' },
    );
    expect(log()).toBe('warning: list: the server hung up; retrying (1 left)\n');
  });

  test('a call that timed out is tried once more, not `retries` times, and the error says how long it waited in all', async () => {
    const { ctx, log } = capture();
    let calls = 0;
    const timedOut = () => Object.assign(new Error('no answer from 127.0.0.1:1 within 30 ms'), { name: 'TimeoutError', code: 'ETIMEDOUT' });
    const error = await withRetry(
      ctx,
      'get deployment/web',
      async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 30));
        throw timedOut();
      },
      { isTransient: () => true, retries: 5, minDelayMs: 10 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(2);
    expect(log().match(/retrying/g)).toHaveLength(1);
    expect(waitedFor(error)).toEqual({ ms: expect.any(Number), attempts: 2 });
    expect(waitedFor(error)!.ms).toBeGreaterThanOrEqual(60);
    expect(noAnswerText({ requestMs: 15_000 }, error)).toMatch(/^no answer within 15 s \(waited 0 s over 2 attempts\)$/);

    // Other transient failures keep their retries; timeoutAttempts raises the timeout rule.
    let refused = 0;
    await expect(
      withRetry(
        ctx,
        'get',
        async () => {
          refused++;
          throw new Error('ECONNRESET');
        },
        { isTransient: transient, retries: 3, minDelayMs: 1 },
      ),
    ).rejects.toThrow('ECONNRESET');
    expect(refused).toBe(4);
    let three = 0;
    await expect(
      withRetry(
        ctx,
        'get',
        async () => {
          three++;
          throw timedOut();
        },
        { isTransient: () => true, retries: 5, minDelayMs: 1, timeoutAttempts: 3 },
      ),
    ).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(three).toBe(3);
  });

  test('an aborted run stops retrying', async () => {
    const controller = new AbortController();
    const { ctx } = capture(controller.signal);
    let calls = 0;
    const run = withRetry(
      ctx,
      'get',
      async () => {
        calls++;
        controller.abort(new Error('cancelled'));
        throw new Error('ECONNRESET');
      },
      { isTransient: transient, retries: 5, minDelayMs: 50 },
    );
    await expect(run).rejects.toThrow('cancelled');
    expect(calls).toBe(1);
  });
});

describe('pollUntil', () => {
  test('checks until the check answers, pausing between checks', async () => {
    const { ctx } = capture();
    let checks = 0;
    const started = Date.now();
    const value = await pollUntil(ctx, 'wait for it', async () => (++checks === 3 ? 'ready' : undefined), { intervalMs: 20, timeoutMs: 5000 });
    expect(value).toBe('ready');
    expect(checks).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  test("gives up after the timeout with the caller's error, or its fallback", async () => {
    const { ctx } = capture();
    await expect(
      pollUntil(ctx, 'wait', async () => undefined, {
        intervalMs: 5,
        timeoutMs: 30,
        onTimeout: () => {
          throw new Error('still not there');
        },
      }),
    ).rejects.toThrow('still not there');
    expect(await pollUntil<string>(ctx, 'wait', async () => undefined, { intervalMs: 5, timeoutMs: 30, onTimeout: () => 'fallback' })).toBe('fallback');
    await expect(pollUntil(ctx, 'wait for the namespace', async () => undefined, { intervalMs: 5, timeoutMs: 20 })).rejects.toThrow(
      /^wait for the namespace: not done after \d+ s$/,
    );
  });

  test('the pause grows up to maxIntervalMs', async () => {
    const { ctx } = capture();
    const times: number[] = [];
    await pollUntil(ctx, 'wait', async () => (times.push(Date.now()) === 4 ? true : undefined), { intervalMs: 10, maxIntervalMs: 40, timeoutMs: 5000 });
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(9);
    expect(gaps[1]).toBeGreaterThanOrEqual(19);
    expect(gaps[2]).toBeGreaterThanOrEqual(39);
  });

  test('an abort ends the pause', async () => {
    const controller = new AbortController();
    const { ctx } = capture(controller.signal);
    setTimeout(() => controller.abort(), 20);
    await expect(pollUntil(ctx, 'wait', async () => undefined, { intervalMs: 10_000, timeoutMs: 60_000 })).rejects.toThrow();
  });
});
