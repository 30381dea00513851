// A doctor check's own time limit only backs up the deadlines of the client it calls: a service
// that gets no answer is reported with its own code and host once that client gives up (a
// request, tried once more), not cut short as an anonymous "no answer within 5 s".
import { createCtx } from '../../../src/context.js';
import { runCheck } from '../../../src/doctor/checks.js';
import { gantryError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log/logger.js';

test("a check that ends after two request deadlines reports the service's own error", async () => {
  const ctx = createCtx({
    logger: createLogger({ write: () => {}, gitlab: false, color: false }),
    deadlines: { connectMs: 500, requestMs: 1000, stepMs: 60_000 },
  });
  // What an OSS client does against a silent endpoint: 2 attempts of 1 s, backoff, then its error.
  const rows = await runCheck(ctx, 'OSS', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5500));
    throw gantryError('E_OSS_UNREACHABLE', {
      doing: 'list acme-web/',
      where: 'acme-web at 127.0.0.1:9',
      reason: 'no answer within 1 s (waited 5 s over 2 attempts)',
    });
  });
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ check: 'OSS', status: 'fail', code: 'E_OSS_UNREACHABLE', detail: expect.stringContaining('127.0.0.1:9') });
}, 20_000);

test('a check that never ends is cut at twice the request deadline plus 5 s', async () => {
  const ctx = createCtx({
    logger: createLogger({ write: () => {}, gitlab: false, color: false }),
    deadlines: { connectMs: 100, requestMs: 100, stepMs: 60_000 },
  });
  const started = Date.now();
  const rows = await runCheck(ctx, 'GitLab token', () => new Promise(() => {}));
  expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
  expect(Date.now() - started).toBeLessThan(7000);
  expect(rows[0]).toMatchObject({ check: 'GitLab token', status: 'fail' });
}, 20_000);
