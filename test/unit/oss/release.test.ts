import { describe, expect, test } from '@jest/globals';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { recordRelease, type ReleaseInput } from '../../../src/oss/release.js';
import { decodeRelease, encodeRelease, releaseKeys, type ReleaseRecord } from '../../../src/oss/retention.js';

/** A bucket in memory with the calls the release step makes, counted. */
function bucket(objects: Record<string, Buffer>) {
  const calls: string[] = [];
  const store = {
    async getBuffer(key: string) {
      calls.push(`GET ${key}`);
      if (!objects[key]) throw new Error(`no ${key}`);
      return objects[key]!;
    },
    async putBuffer(key: string, body: Buffer) {
      calls.push(`PUT ${key}`);
      objects[key] = body;
    },
    async deleteMany(keys: string[]) {
      calls.push(`DELETE ${keys.length}`);
      for (const k of keys) delete objects[k];
    },
  };
  const input = (keys: string[], uploaded: number, time: string): ReleaseInput => ({
    prefix: 'p/',
    keys,
    remote: Object.entries(objects).map(([key, body]) => ({ key, size: body.length, etag: '' })),
    uploaded,
    retention: 1,
    sha: 'f'.repeat(40),
    shortSha: 'ffffffff',
    pipelineUrl: '',
    time: new Date(time),
  });
  return { store, calls, input, objects };
}

const quiet = (dryRun = false) => {
  const lines: string[] = [];
  return { ctx: createCtx({ dryRun, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
};
const record = (keys: string[]): ReleaseRecord => ({ sha: 'e'.repeat(40), time: '2026-01-01T00:00:00.000Z', pipelineUrl: '', keys });
const v1 = ['index.html', 'assets/app-AAAAAAA1.js'];
const v2 = ['index.html', 'assets/app-BBBBBBB2.js'];
const r1 = 'p/.gantry/releases/20260101T000000000Z-eeeeeeee.json.gz';

describe('the release step', () => {
  test('a re-run with nothing to send records the live bundle a cut-off run left unrecorded, and retention then runs', async () => {
    // Release 1 recorded; release 2's files went live, index.html last, and the run was cut off there.
    const { store, calls, input, objects } = bucket({
      [r1]: encodeRelease(record(v1)),
      'p/index.html': Buffer.from('v2'),
      'p/assets/app-AAAAAAA1.js': Buffer.from('1'),
      'p/assets/app-BBBBBBB2.js': Buffer.from('2'),
    });
    const { ctx, lines } = quiet();
    const outcome = await recordRelease(ctx, store, input(v2, 0, '2026-01-02T00:00:00Z'));
    expect(outcome).toEqual({ record: 'p/.gantry/releases/20260102T000000000Z-ffffffff.json.gz', recovered: true, deleted: ['p/assets/app-AAAAAAA1.js', r1] });
    expect(lines.join('')).toMatch(
      /no release record names the bundle that is live under p\/ \(an earlier publish was cut off before writing it\): recording it now/,
    );
    const written = decodeRelease(objects[outcome.record!]!);
    expect([...(await releaseKeys(written, async (k) => decodeRelease(objects[k]!)))].sort()).toEqual([...v2].sort());
    expect(Object.keys(objects).sort()).toEqual(['p/.gantry/releases/20260102T000000000Z-ffffffff.json.gz', 'p/assets/app-BBBBBBB2.js', 'p/index.html']);
    expect(calls).toContain('DELETE 2');

    // Once recorded, a re-run with nothing to send reads the newest record and writes nothing.
    calls.length = 0;
    const again = await recordRelease(quiet().ctx, store, input(v2, 0, '2026-01-03T00:00:00Z'));
    expect(again).toEqual({ recovered: false, deleted: [], same: 'p/.gantry/releases/20260102T000000000Z-ffffffff.json.gz' });
    expect(calls).toEqual(['GET p/.gantry/releases/20260102T000000000Z-ffffffff.json.gz']);
  });

  test('a first publish cut off before its record: the re-run records it', async () => {
    const { store, input } = bucket({ 'p/index.html': Buffer.from('v1'), 'p/assets/app-AAAAAAA1.js': Buffer.from('1') });
    const outcome = await recordRelease(quiet().ctx, store, input(v1, 0, '2026-01-01T00:00:00Z'));
    expect(outcome).toMatchObject({ recovered: true, deleted: [] });
  });

  test('a publish that sent files records it as before; --dry-run writes and deletes nothing', async () => {
    const { store, calls, input } = bucket({ [r1]: encodeRelease(record(v1)), 'p/assets/app-AAAAAAA1.js': Buffer.from('1') });
    const { ctx, lines } = quiet(true);
    const outcome = await recordRelease(ctx, store, input(v2, 2, '2026-01-02T00:00:00Z'));
    expect(outcome).toMatchObject({ recovered: false, deleted: ['p/assets/app-AAAAAAA1.js', r1] });
    expect(calls.filter((c) => !c.startsWith('GET'))).toEqual([]);
    expect(lines.join('')).toContain('would delete p/assets/app-AAAAAAA1.js');
  });
});
