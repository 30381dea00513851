// Releases that are staged, made live and rolled back: what retention keeps (the live release and
// staged ones waiting, with their HTML copies), and which release a rollback picks.
import { describe, expect, test } from '@jest/globals';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import type { LocalFile } from '../../../src/oss/files.js';
import { recordRelease, type ReleaseInput } from '../../../src/oss/release.js';
import {
  decodeRelease,
  encodeRelease,
  expiredHtmlCopies,
  planRetention,
  protectedReleases,
  type ReleaseRecord,
  recordKeyOf,
  releaseId,
  rollbackTarget,
} from '../../../src/oss/retention.js';

const rec = (keys: string[], extra: Partial<ReleaseRecord> = {}): ReleaseRecord => ({ sha: 's', time: 't', pipelineUrl: '', keys, ...extra });
const k = (n: number) => `p/.gantry/releases/2026010${n}T000000000Z-sha${n}.json.gz`;
const reader = (records: Record<string, ReleaseRecord>) => async (key: string) => {
  const r = records[key];
  if (!r) throw new Error(`no ${key}`);
  return r;
};

describe('release ids and keys', () => {
  test('the id is the record name without .json.gz, and back', () => {
    expect(releaseId('p/.gantry/releases/20261203T052500123Z-abc1234.json.gz')).toBe('20261203T052500123Z-abc1234');
    expect(recordKeyOf('p/', '20261203T052500123Z-abc1234')).toBe('p/.gantry/releases/20261203T052500123Z-abc1234.json.gz');
  });
});

describe('retention with a live pointer and staged releases', () => {
  test('with N = 1, staging v2 keeps the live v1 and its assets; once v2 is live and v3 published, both expire', async () => {
    const records = { [k(1)]: rec(['index.html', 'a1.js']), [k(2)]: rec(['index.html', 'a2.js'], { staged: true }) };
    const read = reader(records);
    const keep = await protectedReleases([k(1), k(2)], k(1), read);
    expect([...keep].sort()).toEqual([k(1), k(2)]);
    const plan = await planRetention('p/', [k(1), k(2)], 1, read, undefined, keep);
    expect(plan).toEqual({ keep: [k(1), k(2)], expiredReleases: [], deleteKeys: [] });
    // v2 activated (its record says so), v3 published and live: v1 and v2 fall out.
    records[k(2)] = rec(['index.html', 'a2.js'], { staged: true, activated: 'now' });
    records[k(3)] = rec(['index.html', 'a3.js']);
    const later = await planRetention('p/', [k(1), k(2), k(3)], 1, read, undefined, await protectedReleases([k(1), k(2), k(3)], k(3), read));
    expect(later).toEqual({ keep: [k(3)], expiredReleases: [k(1), k(2)], deleteKeys: ['p/a1.js', 'p/a2.js'] });
  });

  test('a staged release older than the live one (passed over) is not kept; staged ones newer are', async () => {
    const read = reader({
      [k(1)]: rec([], { staged: true }),
      [k(2)]: rec([]),
      [k(3)]: rec([], { staged: true }),
      [k(4)]: rec([], { staged: true, activated: 'x' }),
    });
    expect([...(await protectedReleases([k(1), k(2), k(3), k(4)], k(2), read))].sort()).toEqual([k(2), k(3)]);
    // No live pointer (a bucket from before it): staged ones waiting are kept all the same.
    expect([...(await protectedReleases([k(1), k(2), k(3)], undefined, read))].sort()).toEqual([k(1), k(3)]);
  });

  test("HTML copies go with their expired release; kept ones, the current one's and newer orphans stay", () => {
    const listed = [
      'p/.gantry/html/20260101T000000000Z-sha1/index.html',
      'p/.gantry/html/20260101T000000000Z-sha1/docs/index.html',
      'p/.gantry/html/20260102T000000000Z-sha2/index.html',
      // A run cut off between its copies and its record, older than the current one: an orphan.
      'p/.gantry/html/20260102T120000000Z-shaX/index.html',
      'p/.gantry/html/20260103T000000000Z-sha3/index.html',
      // Newer than the current one without a record: another run's, left alone.
      'p/.gantry/html/20260109T000000000Z-shaY/index.html',
      'p/index.html',
    ];
    expect(expiredHtmlCopies('p/', listed, [k(2), k(3)], [k(1), k(2), k(3)], releaseId(k(3)))).toEqual([
      'p/.gantry/html/20260101T000000000Z-sha1/docs/index.html',
      'p/.gantry/html/20260101T000000000Z-sha1/index.html',
      'p/.gantry/html/20260102T120000000Z-shaX/index.html',
    ]);
  });
});

describe('which release a rollback makes live', () => {
  const read = reader({ [k(1)]: rec([]), [k(2)]: rec([], { staged: true, activated: 'x' }), [k(3)]: rec([], { staged: true }), [k(4)]: rec([]) });
  const all = [k(4), k(2), k(1), k(3)];
  test('the newest before the live one that ever went live: a staged-never-live one is passed over', async () => {
    expect(await rollbackTarget(all, k(4), read)).toEqual({ found: k(2) });
    expect(await rollbackTarget(all, k(2), read)).toEqual({ found: k(1) });
    expect(await rollbackTarget(all, k(1), read)).toEqual({ problem: 'no-previous' });
  });
  test('--to names any kept release, a staged one too; an unknown id is refused', async () => {
    expect(await rollbackTarget(all, k(4), read, releaseId(k(3)))).toEqual({ found: k(3) });
    expect(await rollbackTarget(all, k(4), read, '20990101T000000000Z-nope')).toEqual({ problem: 'unknown' });
  });
});

describe('the release step keeps the HTML and names the live release', () => {
  function bucket(objects: Record<string, Buffer>) {
    const calls: string[] = [];
    const store = {
      async getBuffer(key: string) {
        if (!objects[key]) throw new Error(`no ${key}`);
        return objects[key]!;
      },
      async putBuffer(key: string, body: Buffer) {
        calls.push(`PUT ${key}`);
        objects[key] = body;
      },
      async deleteMany(keys: string[]) {
        for (const key of keys) {
          calls.push(`DELETE ${key}`);
          delete objects[key];
        }
      },
    };
    return { store, calls, objects };
  }
  const html = (key: string, text: string): LocalFile => ({
    key,
    path: '',
    size: text.length,
    md5: '0'.repeat(32),
    html: true,
    hashed: false,
    body: Buffer.from(text),
  });
  const input = (objects: Record<string, Buffer>, keys: string[], time: string, extra: Partial<ReleaseInput>): ReleaseInput => ({
    prefix: 'p/',
    keys,
    remote: Object.entries(objects).map(([key, body]) => ({ key, size: body.length, etag: '' })),
    uploaded: 1,
    retention: 1,
    sha: 'f'.repeat(40),
    shortSha: 'ffffffff',
    pipelineUrl: '',
    time: new Date(time),
    ...extra,
  });
  const ctx = () => createCtx({ logger: createLogger({ write: () => undefined, gitlab: false, color: false }) });

  test('a publish: the HTML copy, then the record, then live.json; a stage: copy and staged record, live.json untouched, the live assets kept', async () => {
    const { store, calls, objects } = bucket({ 'p/index.html': Buffer.from('v1'), 'p/a1.js': Buffer.from('1') });
    const v1 = await recordRelease(
      ctx(),
      store,
      input(objects, ['index.html', 'a1.js'], '2026-01-01T00:00:00Z', { html: [html('index.html', 'v1')], goLive: true }),
    );
    const id1 = releaseId(v1.record!);
    expect(calls).toEqual([`PUT p/.gantry/html/${id1}/index.html`, `PUT ${v1.record}`, 'PUT p/.gantry/live.json']);
    expect(JSON.parse(objects['p/.gantry/live.json']!.toString())).toMatchObject({ release: id1 });

    calls.length = 0;
    objects['p/a2.js'] = Buffer.from('2');
    const v2 = await recordRelease(
      ctx(),
      store,
      input(objects, ['index.html', 'a2.js'], '2026-01-02T00:00:00Z', { html: [html('index.html', 'v2')], staged: true, live: v1.record }),
    );
    const id2 = releaseId(v2.record!);
    // N = 1, yet nothing of the live v1 goes: it is live.
    expect(calls).toEqual([`PUT p/.gantry/html/${id2}/index.html`, `PUT ${v2.record}`]);
    expect(decodeRelease(objects[v2.record!]!)).toMatchObject({ staged: true });
    expect(JSON.parse(objects['p/.gantry/live.json']!.toString())).toMatchObject({ release: id1 });
    expect(objects['p/a1.js']).toBeDefined();
    expect(objects[`p/.gantry/html/${id1}/index.html`]!.toString()).toBe('v1');
  });

  test('a stage of exactly the live bundle records nothing and names the live release', async () => {
    const r1 = k(1);
    const { store, calls, objects } = bucket({ [r1]: encodeRelease(rec(['index.html'])), 'p/index.html': Buffer.from('v1') });
    const out = await recordRelease(
      ctx(),
      store,
      input(objects, ['index.html'], '2026-01-05T00:00:00Z', { uploaded: 0, staged: true, live: r1, html: [html('index.html', 'v1')] }),
    );
    expect(out).toEqual({ recovered: false, deleted: [], same: r1 });
    expect(calls).toEqual([]);
  });
});
