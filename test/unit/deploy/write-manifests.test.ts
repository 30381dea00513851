// render writes both files or neither, even when the second rename fails after the first one
// succeeded (an I/O error between them): the first file is put back as it was.
import { jest } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const real = await import('node:fs/promises');
let renames = 0;
jest.unstable_mockModule('node:fs/promises', () => ({
  ...real,
  default: real,
  rename: async (from: string, to: string) => {
    renames++;
    if (renames === 2 && to.endsWith('svc.yaml')) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    return real.rename(from, to);
  },
}));
const { writeManifests } = await import('../../../src/deploy/render.js');

test('a second rename that fails puts the first file back: the old pair stays, no temp file is left', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-write-'));
  writeFileSync(path.join(dir, 'deploy.yaml'), 'old deploy\n');
  writeFileSync(path.join(dir, 'svc.yaml'), 'old svc\n');
  await expect(
    writeManifests(dir, [
      { file: 'deploy.yaml', text: 'new deploy\n' },
      { file: 'svc.yaml', text: 'new svc\n' },
    ]),
  ).rejects.toMatchObject({ code: 'E_OUT_PATH' });
  expect(readFileSync(path.join(dir, 'deploy.yaml'), 'utf8')).toBe('old deploy\n');
  expect(readFileSync(path.join(dir, 'svc.yaml'), 'utf8')).toBe('old svc\n');
  expect(readdirSync(dir).sort()).toEqual(['deploy.yaml', 'svc.yaml']);
});

test('without a failure both files are new and no backup is left', async () => {
  renames = 10;
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-write-'));
  writeFileSync(path.join(dir, 'deploy.yaml'), 'old deploy\n');
  await writeManifests(dir, [
    { file: 'deploy.yaml', text: 'new deploy\n' },
    { file: 'svc.yaml', text: 'new svc\n' },
  ]);
  expect(readFileSync(path.join(dir, 'deploy.yaml'), 'utf8')).toBe('new deploy\n');
  expect(readFileSync(path.join(dir, 'svc.yaml'), 'utf8')).toBe('new svc\n');
  expect(readdirSync(dir).sort()).toEqual(['deploy.yaml', 'svc.yaml']);
});
