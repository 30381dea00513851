// The cluster scripts' own promises: a component that fails to start is named, with its log.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/fixtures.js';

function runWithLib(script: string) {
  const state = mkdtempSync(path.join(tmpdir(), 'gantry-cluster-state-'));
  const r = spawnSync('bash', ['-c', `set -euo pipefail; source test/cluster/lib/common.sh; ${script}`], {
    cwd: repoRoot,
    env: { ...process.env, GANTRY_CLUSTER_STATE: state, GANTRY_CLUSTER_RUN: path.join(state, 'run'), GANTRY_CACHE: path.join(state, 'cache') },
    encoding: 'utf8',
  });
  return { code: r.status, stderr: r.stderr };
}

test('a component that dies during start-up is named and its log tail shown', () => {
  const r = runWithLib(`start_daemon fake-apiserver sh -c 'echo "bind: address already in use"; exit 3'; wait_for fake-apiserver 10 false`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('ERROR: fake-apiserver: exited during start-up');
  expect(r.stderr).toContain('bind: address already in use');
});

test('a component that never becomes ready fails after its time limit, naming what was awaited', () => {
  const r = runWithLib(`start_daemon sleeper sleep 30; if ! (wait_for sleeper 1 test -e /nonexistent/ready); then stop_daemon sleeper; exit 1; fi`);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/ERROR: sleeper: not ready after 1s \(waiting for: test -e \/nonexistent\/ready\)/);
  expect(r.stderr).toContain('stopping sleeper');
});

test('starting a running component again is a no-op, and stop removes it', () => {
  const r = runWithLib(`start_daemon napper sleep 30; start_daemon napper sleep 30; is_running napper; stop_daemon napper; ! is_running napper`);
  expect(r.stderr).toMatch(/napper already running \(pid \d+\)/);
  expect(r.stderr).toMatch(/stopping napper/);
  expect(r.code).toBe(0);
});
