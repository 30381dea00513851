// Parses YAML exactly as Kubernetes does, through test/support/k8syaml (sigs.k8s.io/yaml).
// The binary is built once per source version into the temp dir.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './fixtures.js';

export function k8sYamlBinary(): string {
  const dir = path.join(repoRoot, 'test', 'support', 'k8syaml');
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(path.join(dir, f)));
  const binary = path.join(tmpdir(), `gantry-k8syaml-${hash.digest('hex').slice(0, 12)}`);
  // Go ships on these machines in /usr/local/go; PATH may not name it.
  const go = process.env.GO ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');
  if (!existsSync(binary)) execFileSync(go, ['build', '-o', binary, '.'], { cwd: dir, stdio: 'inherit' });
  return binary;
}

/** Each YAML document of `stream` as Kubernetes decodes it. */
export function parseAsKubernetes(stream: string): unknown[] {
  const out = execFileSync(k8sYamlBinary(), { input: stream, maxBuffer: 512 * 1024 * 1024 }).toString('utf8');
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}
