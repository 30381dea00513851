import { describe, expect, test } from '@jest/globals';
import type { GantryError } from '../../../src/errors.js';
import { frontendMode } from '../../../src/site/release.js';

describe('gantry frontend modes', () => {
  test('no flag publishes; each release flag alone is its mode', () => {
    expect(frontendMode({})).toBe('publish');
    expect(frontendMode({ stage: true })).toBe('stage');
    expect(frontendMode({ activate: '20261203T052500123Z-abc1234' })).toBe('activate');
    expect(frontendMode({ rollback: true, to: 'x' })).toBe('rollback');
    expect(frontendMode({ stop: true, stage: false })).toBe('stop');
  });
  test('two modes, or --to without --rollback, are refused with exit 2 naming the flags', () => {
    const refused = (given: Parameters<typeof frontendMode>[0]) => {
      try {
        frontendMode(given);
      } catch (error) {
        return error as GantryError;
      }
      throw new Error('not refused');
    };
    const both = refused({ stage: true, rollback: true });
    expect(both.code).toBe('E_FRONTEND_RELEASE');
    expect(both.exitCode).toBe(2);
    expect(both.message).toBe('gantry frontend --stage --rollback: one of these at a time');
    expect(refused({ to: 'x' }).message).toContain('--to names the release --rollback goes back to');
    expect(refused({ activate: 'x', stop: true }).fix).toContain('none of them with --stop');
  });
});
