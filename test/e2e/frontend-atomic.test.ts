// The live site is consistent between any two requests: whatever index.html is published
// references only objects that exist, through a full publish, a publish cut off half-way
// (the process fails), and the re-run that completes it.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startOssServer, type LoggedRequest, type OssServer } from '../support/oss-server.js';
import { cliPath, exampleRepo } from '../support/tmp-repo.js';

const keyId = 'LTAI5tAtomicKeyId';
const secret = 'atomic-test-secret-value-0123456789';
const bucket = 'acme-hello-web';

test('after every single request the live index.html references only existing objects', async () => {
  const violations: string[] = [];
  let checks = 0;
  let cutOff = false;
  let phase = 1;
  let server: OssServer | undefined;
  const check = (entry: LoggedRequest) => {
    checks++;
    const objects = server!.objects(bucket);
    const index = objects.get('live/index.html');
    if (index) {
      for (const ref of index.body.toString().match(/assets\/[\w.]+/g) ?? []) {
        if (!objects.has(`live/${ref}`)) violations.push(`after ${entry.method} ${entry.key}: index.html names ${ref}, which is missing`);
      }
    }
    // Cut the second publish off right after its first new asset lands: more 503s than retries.
    if (phase === 2 && !cutOff && entry.method === 'PUT' && entry.status === 200 && /assets\//.test(entry.key ?? '')) {
      cutOff = true;
      server!.faults.failNext(20, 503);
    }
  };
  server = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: [bucket], onRequestDone: check });
  try {
    const repo = exampleRepo();
    const run = () => {
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
      const child = spawn(process.execPath, [cliPath, 'frontend', '--env', 'staging', '--concurrency', '1', '--set', 'frontend.prefix=live'], {
        cwd: repo,
        env: { ...base, GANTRY_OSS_ACCESS_KEY_ID: keyId, GANTRY_OSS_ACCESS_KEY_SECRET: secret, GANTRY_SET: `frontend.endpoint=${server!.endpoint}`, GANTRY_OSS_RETRIES: '2' },
      });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
    };
    expect((await run()).code).toBe(0);

    // Version 2: both assets get new hashed names, so index.html must not move before them.
    phase = 2;
    for (const f of ['app.js', 'style.css']) {
      writeFileSync(path.join(repo, 'frontend/src', f), `${readFileSync(path.join(repo, 'frontend/src', f), 'utf8')}\n/* v2 */\n`);
    }
    const cut = await run();
    expect(cutOff).toBe(true);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain('error E_OSS_UNREACHABLE');
    // The live page is still version 1 and whole.
    server.faults.clearFaults();
    const rerun = await run();
    expect(rerun.code).toBe(0);
    const html = server.objects(bucket).get('live/index.html')!.body.toString();
    expect(html).toMatch(/assets\/app\.[0-9a-f]{8}\.js/);
    expect(violations).toEqual([]);
    expect(checks).toBeGreaterThan(10);
  } finally {
    await server.close();
  }
}, 120_000);
