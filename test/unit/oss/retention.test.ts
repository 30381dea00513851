import { describe, expect, test } from '@jest/globals';
import { decodeRelease, encodeRelease, isDelta, nextRelease, planRetention, releaseKeys, type ReleaseRecord } from '../../../src/oss/retention.js';

const header = (n: number) => ({ sha: `sha${n}`, time: `2026-01-0${n}T00:00:00Z`, pipelineUrl: '' });
const key = (n: number) => `p/.gantry/releases/2026010${n}-sha${n}.json.gz`;

/** Publishes releases with the given key lists in order, as upload-frontend does. */
async function publishAll(lists: string[][], retention: number) {
  const store = new Map<string, ReleaseRecord>();
  const read = async (k: string) => {
    const r = store.get(k);
    if (!r) throw new Error(`no ${k}`);
    return decodeRelease(encodeRelease(r));
  };
  const plans = [];
  const bucket = new Set<string>();
  for (const [i, keys] of lists.entries()) {
    for (const k of keys) bucket.add(`p/${k}`);
    const previous = [...store.keys()];
    const record = await nextRelease(header(i + 1), keys, previous, retention, read);
    store.set(key(i + 1), record);
    const plan = await planRetention('p/', [...previous, key(i + 1)], retention, read, new Set(bucket));
    for (const k of plan.expiredReleases) store.delete(k);
    for (const k of plan.deleteKeys) bucket.delete(k);
    plans.push({ record, plan });
  }
  return { store, plans, read };
}

describe('release records', () => {
  test('a small change is recorded as a delta of a few names, not the whole list', async () => {
    const big = Array.from({ length: 5000 }, (_, i) => `assets/chunk-${i}.js`);
    const changed = [...big.slice(0, 4950), ...Array.from({ length: 50 }, (_, i) => `assets/new-${i}.js`)];
    const { plans, read } = await publishAll([big, changed], 3);
    const second = plans[1]!.record;
    expect(isDelta(second)).toBe(true);
    expect(encodeRelease(second).length).toBeLessThan(1000);
    expect(encodeRelease(plans[0]!.record).length).toBeGreaterThan(10_000);
    expect([...(await releaseKeys(second, read))].sort()).toEqual([...changed].sort());
  });

  test('a large change, or no kept release, writes a full snapshot', async () => {
    const a = Array.from({ length: 100 }, (_, i) => `a${i}.js`);
    const b = Array.from({ length: 100 }, (_, i) => `b${i}.js`);
    const { plans } = await publishAll([a, b], 3);
    expect(isDelta(plans[1]!.record)).toBe(false);
    const one = await publishAll([a, a], 1);
    expect(isDelta(one.plans[1]!.record)).toBe(false);
  });

  test('retention deletes only what expired releases alone used, and keeps a snapshot that kept deltas name', async () => {
    const lists = [
      ['index.html', 'a1.js', 'shared.css'],
      ['index.html', 'a2.js', 'shared.css'],
      ['index.html', 'a3.js', 'shared.css'],
      ['index.html', 'a4.js', 'shared.css'],
    ];
    const { store, plans, read } = await publishAll(lists, 2);
    // Release 3 expires release 1: a1.js goes; release 4 expires release 2: a2.js goes.
    expect(plans[2]!.plan.deleteKeys).toEqual(['p/a1.js']);
    expect(plans[3]!.plan.deleteKeys).toEqual(['p/a2.js']);
    // Release 1 is the snapshot every later record is a delta of: it stays as their base.
    expect(isDelta(store.get(key(1))!)).toBe(false);
    expect([2, 3, 4].every((n) => isDelta(store.get(key(n)) ?? ({ base: '' } as never)))).toBe(true);
    expect(plans[2]!.plan.expiredReleases).toEqual([]);
    expect(store.has(key(1))).toBe(true);
    expect(store.has(key(2))).toBe(false);
    // Every kept release still resolves to its own files.
    expect([...(await releaseKeys(store.get(key(4))!, read))].sort()).toEqual(['a4.js', 'index.html', 'shared.css']);
  });

  test('deletions are limited to objects that exist', async () => {
    const store = new Map<string, ReleaseRecord>([
      [key(1), { ...header(1), keys: ['old.js', 'gone.js'] }],
      [key(2), { ...header(2), keys: ['new.js'] }],
    ]);
    const plan = await planRetention('p/', [key(1), key(2)], 1, async (k) => store.get(k)!, new Set(['p/old.js', 'p/new.js']));
    expect(plan.deleteKeys).toEqual(['p/old.js']);
  });

  test('a record that is neither a snapshot nor a delta is refused', () => {
    expect(() => decodeRelease(encodeRelease({ sha: '', time: '', pipelineUrl: '' } as never))).toThrow(/not a Gantry release record/);
  });
});
