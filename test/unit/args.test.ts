// The step scripts' shared flag checks: the text a user sees for a bad --timeout or --mr.
import { checkMrFlag, timeoutFlag } from '../../src/args.js';

test('--timeout: the fallback when absent, the number when within bounds, E_USAGE naming the bounds and the default otherwise', () => {
  const bounds = { min: 5, max: 3600, default: 'the default' };
  expect(timeoutFlag(undefined, bounds, 300)).toBe(300);
  expect(timeoutFlag(undefined, bounds, undefined)).toBeUndefined();
  expect(timeoutFlag('60', bounds, 300)).toBe(60);
  for (const bad of ['4', '3601', '1.5', 'soon']) {
    expect(() => timeoutFlag(bad, bounds, 300)).toThrow(
      expect.objectContaining({
        code: 'E_USAGE',
        exitCode: 2,
        message: `--timeout ${bad}: whole seconds from 5 to 3600`,
        fix: 'e.g. --timeout 300 (the default)',
      }),
    );
  }
});

test('--mr: a whole number from 1 to 2147483647 (the largest GitLab iid), or absent', () => {
  expect(() => checkMrFlag(undefined)).not.toThrow();
  expect(() => checkMrFlag('42')).not.toThrow();
  expect(() => checkMrFlag('2147483647')).not.toThrow();
  for (const bad of ['0', '-1', 'x', '04', '2147483648', '123456789012345678901234567890']) {
    expect(() => checkMrFlag(bad)).toThrow(
      expect.objectContaining({
        code: 'E_USAGE',
        message: `--mr ${bad}: a merge request iid is a whole number from 1 to 2147483647`,
        fix: 'pass the MR number, e.g. --mr 42',
      }),
    );
  }
});
