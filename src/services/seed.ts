// Seed files of service instances, read from the repository for the seed ConfigMap: inside the
// repository, of a kind the image's entrypoint runs, and small enough for a ConfigMap.
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { gantryError } from '../errors.js';
import { MAX_DATA_BYTES } from '../names/limits.js';
import { KINDS } from './catalog.js';
import { seedFileName, type SeedFile } from './instance.js';

export async function readSeedFiles(cwd: string, config: Config): Promise<Record<string, SeedFile>> {
  const seeds: Record<string, SeedFile> = {};
  for (const [service, s] of Object.entries(config.services)) {
    if (!s.seed || !('file' in s.seed)) continue;
    const file = s.seed.file;
    const fail = (problem: string) => gantryError('E_SERVICE_SEED_FILE', { service, file, problem });
    const pattern = KINDS[s.kind].seedFiles;
    if (!pattern) throw fail(`${s.kind} images run no seed files: use seed.command`);
    const name = seedFileName(file);
    if (!pattern.test(name))
      throw fail(`${s.kind} images run ${pattern.source.replace(/\\/g, '').replace(/^\(|\)\$$/g, '')} files from /docker-entrypoint-initdb.d`);
    const full = path.resolve(cwd, file);
    let real: string;
    try {
      real = await realpath(full);
    } catch {
      throw fail('no such file in the repository');
    }
    const root = await realpath(cwd);
    if (real !== root && !real.startsWith(root + path.sep)) throw fail('it is outside the repository');
    const info = await stat(real);
    if (!info.isFile()) throw fail('not a regular file');
    // A ConfigMap holds at most 1 MiB; a compressed file is stored as base64 (4/3 of its size).
    const stored = /\.(gz|xz|zst)$/.test(name) ? Math.ceil(info.size / 3) * 4 : info.size;
    if (stored > MAX_DATA_BYTES - 1024)
      throw fail(`${info.size} bytes: a ConfigMap holds at most 1 MiB (compress it as .sql.gz, or load larger data with seed.command)`);
    seeds[service] = { name, content: await readFile(real) };
  }
  return seeds;
}
