#!/usr/bin/env node
// Benchmark for issue #5: `gantry frontend` publishing a 5,000-file, ~100 MB bundle to OSS.
//
//   node bench/frontend.mjs [rounds]     (default 3; needs dist/: npx tsc -p tsconfig.json)
//
// Goals, from the issue:
//   (a) a first publish reaches at least 80% of the throughput of a parallel raw PUT loop
//       (the loopback limit). Also reported: a plain sequential PUT loop (the naive baseline).
//   (b) a re-publish with 1% of the files changed is at least 20 times faster than a full
//       re-upload, and sends at most 1.1 times the changed bytes.
//
// The OSS server is test/support/oss-server.ts (in-memory, checks V1 signatures), compiled
// with tsc to a temp dir and run in its own child process; for (b) a byte-counting TCP proxy
// runs in another child process between the client and the server. Each measurement gets a
// fresh server (an empty bucket). Exit code 1 when the median of a goal misses it.
import { execFileSync, fork, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OSS from 'ali-oss';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const rounds = Number(process.argv[2] ?? 3);
const SEED = 'gantry-bench-frontend-5';
const BUCKET = 'bench-web';
const REGION = 'oss-cn-hangzhou';
const KEYS = { accessKeyId: 'LTAIbenchfrontend', accessKeySecret: 'bench-secret-0123456789abcdef' };
const goals = { throughputRatio: 0.8, speedup: 20, bytesRatio: 1.1 };
const MB = 1e6;

if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${process.argv[2]}`);
if (!existsSync(cli)) throw new Error(`${cli} is missing: run npx tsc -p tsconfig.json first`);

const tmp = mkdtempSync(path.join(tmpdir(), 'gantry-bench-frontend-'));
const appDir = path.join(tmp, 'app');
const distDir = path.join(appDir, 'dist');
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------- deterministic bundle

/** A tiny seeded PRNG (mulberry32) for sizes, names and picks. */
function prng(seedText) {
  let a = createHash('sha256').update(seedText).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Incompressible, deterministic content: AES-128-CTR keystream keyed by (seed, key, version). */
function content(key, size, version) {
  const k = createHash('sha256').update(`${SEED}/${key}/${version}`).digest();
  const c = createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16, 32));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

/**
 * 5,000 files: 3 index.html, 12 large (2-4 MB), 80 medium (100 kB-1 MB, log-uniform) and the
 * rest small (1-20 kB, log-uniform), with content-hashed names as Vite/webpack write them.
 */
function makeBundle() {
  const rand = prng(`${SEED}/bundle`);
  const hex = () =>
    Math.floor(rand() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  const logUniform = (lo, hi) => Math.round(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
  const files = [];
  const used = new Set();
  const add = (key, size, cls) => {
    if (used.has(key)) return false;
    used.add(key);
    files.push({ key, size, cls });
    return true;
  };
  add('index.html', 14_000, 'html');
  add('admin/index.html', 6_000, 'html');
  add('docs/index.html', 9_000, 'html');
  const large = [
    ['assets/vendor-', '.js'],
    ['assets/vendor-', '.js.map'],
    ['assets/hero-', '.webp'],
    ['assets/font-', '.woff2'],
  ];
  for (let i = 0; i < 12; i++) {
    const [stem, ext] = large[i % large.length];
    while (!add(`${stem}${hex()}${ext}`, logUniform(2e6, 4e6), 'large'));
  }
  const medium = [
    ['assets/index-', '.js'],
    ['assets/page-', '.js'],
    ['assets/img-', '.png'],
    ['assets/img-', '.jpg'],
    ['assets/index-', '.css'],
  ];
  for (let i = 0; i < 80; i++) {
    const [stem, ext] = medium[Math.floor(rand() * medium.length)];
    while (!add(`${stem}${hex()}${ext}`, logUniform(1e5, 1e6), 'medium'));
  }
  const small = [
    ['assets/chunk-', '.js', 6],
    ['assets/chunk-', '.css', 2],
    ['assets/icon-', '.svg', 1],
    ['assets/img-', '.png', 1],
  ];
  const weights = small.flatMap((s) => Array(s[2]).fill(s));
  while (files.length < 5000) {
    const [stem, ext] = weights[Math.floor(rand() * weights.length)];
    add(`${stem}${hex()}${ext}`, logUniform(1e3, 2e4), 'small');
  }
  return files.sort((a, b) => (a.key < b.key ? -1 : 1));
}

function writeBundle(files) {
  for (const f of files) {
    f.path = path.join(distDir, f.key);
    mkdirSync(path.dirname(f.path), { recursive: true });
    writeFileSync(f.path, content(f.key, f.size, 0));
  }
}

/** 1% of the files, 50, picked per size class (1% of each class, the rest from small files). */
function pickChanged(files) {
  const rand = prng(`${SEED}/changed`);
  const byClass = (cls) => files.filter((f) => f.cls === cls);
  const take = (list, n) => {
    const pool = [...list];
    const out = [];
    while (out.length < n && pool.length) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
    return out;
  };
  const picked = [...take(byClass('large'), Math.round(12 / 100)), ...take(byClass('medium'), Math.round(80 / 100))];
  return [...picked, ...take(byClass('small'), 50 - picked.length)];
}

const setVersion = (changed, version) => {
  for (const f of changed) writeFileSync(f.path, content(f.key, f.size, version));
};

// ---------------------------------------------------------------- child processes

function compileServer() {
  const out = path.join(tmp, 'ossc');
  execFileSync(
    'npx',
    [
      'tsc',
      '--outDir',
      out,
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      '--skipLibCheck',
      '--types',
      'node',
      'test/support/oss-server.ts',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}\n');
  writeFileSync(
    path.join(tmp, 'server.mjs'),
    `import { startOssServer } from './ossc/oss-server.js';
const s = await startOssServer(${JSON.stringify({ ...KEYS, buckets: [BUCKET] })});
process.on('message', async (m) => {
  if (m === 'stats') { const u = process.cpuUsage(); process.send({ requests: s.requests.length, objects: s.objects(${JSON.stringify(BUCKET)}).size, cpu: (u.user + u.system) / 1e6 }); }
  if (m === 'close') { await s.close(); process.exit(0); }
});
process.on('disconnect', () => process.exit(0));
process.send({ endpoint: s.endpoint, port: s.port });
`,
  );
  // Counts bytes both ways and splits client->server bytes into request heads and bodies
  // (every request ali-oss sends here has a Content-Length or no body).
  writeFileSync(
    path.join(tmp, 'proxy.mjs'),
    `import net from 'node:net';
const target = Number(process.argv[2]);
const zero = () => ({ c2s: 0, s2c: 0, head: 0, body: 0, requests: {}, putBody: 0, putBodies: [] });
let st = zero();
const server = net.createServer((client) => {
  const up = net.connect(target, '127.0.0.1');
  let buf = Buffer.alloc(0), bodyLeft = 0, cur = null;
  client.on('data', (d) => {
    st.c2s += d.length;
    let i = 0;
    while (i < d.length) {
      if (bodyLeft > 0) {
        const n = Math.min(bodyLeft, d.length - i);
        bodyLeft -= n; i += n; st.body += n;
        if (cur.method === 'PUT') st.putBody += n;
        continue;
      }
      buf = Buffer.concat([buf, d.subarray(i)]);
      i = d.length;
      const end = buf.indexOf('\\r\\n\\r\\n');
      if (end < 0) break;
      const head = buf.subarray(0, end + 4).toString('latin1');
      st.head += end + 4;
      const rest = buf.subarray(end + 4);
      buf = Buffer.alloc(0);
      const [line] = head.split('\\r\\n');
      const method = line.split(' ')[0];
      const m = /\\r\\ncontent-length:\\s*(\\d+)/i.exec(head);
      cur = { method, url: line.split(' ')[1] };
      st.requests[method] = (st.requests[method] ?? 0) + 1;
      bodyLeft = m ? Number(m[1]) : 0;
      if (method === 'PUT') st.putBodies.push({ url: cur.url, bytes: bodyLeft });
      d = rest; i = 0;
    }
  });
  client.pipe(up);
  up.on('data', (d) => { st.s2c += d.length; });
  up.pipe(client);
  const kill = () => { client.destroy(); up.destroy(); };
  client.on('error', kill); up.on('error', kill); client.on('close', kill); up.on('close', kill);
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m === 'reset') { st = zero(); process.send({ ok: true }); }
  if (m === 'stats') process.send(st);
});
process.on('disconnect', () => process.exit(0));
`,
  );
}

function child(script, args = []) {
  const p = fork(path.join(tmp, script), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (msg) =>
    new Promise((resolve) => {
      p.once('message', resolve);
      if (msg !== undefined) p.send(msg);
    });
  return { p, ask, first: ask() };
}

async function startServer() {
  const c = child('server.mjs');
  const { endpoint, port } = await c.first;
  return {
    endpoint,
    port,
    stats: () => c.ask('stats'),
    close: () =>
      new Promise((resolve) => {
        c.p.once('exit', resolve);
        c.p.send('close');
      }),
  };
}

async function startProxy(targetPort) {
  const c = child('proxy.mjs', [String(targetPort)]);
  const { port } = await c.first;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    reset: () => c.ask('reset'),
    stats: () => c.ask('stats'),
    close: () =>
      new Promise((resolve) => {
        c.p.once('exit', resolve);
        c.p.kill('SIGTERM');
      }),
  };
}

// ---------------------------------------------------------------- the measured clients

function client(endpoint) {
  return new OSS({ bucket: BUCKET, region: REGION, endpoint, secure: false, timeout: 60_000, ...KEYS });
}

/** What gantry sends too, minus Content-MD5 and x-oss-meta-md5 (no MD5 in the raw loops). */
const rawHeaders = (f) => ({ 'Cache-Control': f.cls === 'html' ? 'no-cache' : 'public, max-age=31536000, immutable' });

async function naiveLoop(endpoint, files) {
  const c = client(endpoint);
  const t0 = performance.now();
  for (const f of files) await c.put(f.key, f.path, { headers: rawHeaders(f) });
  return (performance.now() - t0) / 1000;
}

async function parallelLoop(endpoint, files, concurrency) {
  const c = client(endpoint);
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++];
      await c.put(f.key, f.path, { headers: rawHeaders(f) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - t0) / 1000;
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(CI|GITLAB_|GANTRY_)/.test(k)) env[k] = v;
  return { ...env, GANTRY_OSS_ACCESS_KEY_ID: KEYS.accessKeyId, GANTRY_OSS_ACCESS_KEY_SECRET: KEYS.accessKeySecret };
}

/** Wall time of a whole `gantry frontend` process, plus when each phase header appeared on stderr. */
function gantry(endpoint, concurrency) {
  writeFileSync(
    path.join(appDir, 'gantry.yaml'),
    `app: bench\nfrontend: { dir: dist, bucket: ${BUCKET}, region: ${REGION}, endpoint: "${endpoint}", prefix: "", retention: 3 }\nenvironments: { staging: {} }\n`,
  );
  const args = [cli, 'frontend', '--env', 'staging', ...(concurrency ? ['--concurrency', String(concurrency)] : [])];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { cwd: appDir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const marks = {};
    let pending = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => {
      const now = (performance.now() - t0) / 1000;
      err += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        for (const [name, re] of [
          ['plan', /plan bench-web/],
          ['publish', /publish \d+ files to/],
          ['published', /published in/],
          ['release', /release .*keeping/],
        ]) {
          if (re.test(line) && marks[name] === undefined) marks[name] = now;
        }
      }
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`gantry frontend exited ${code}\n${err.slice(-3000)}`));
      resolve({ seconds, summary: JSON.parse(out.trim().split('\n').pop()), marks });
    });
  });
}

function gantryHelp() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [cli, 'frontend', '--help'], { cwd: appDir, env: cleanEnv(), stdio: 'ignore' });
    p.on('error', reject);
    p.on('close', () => resolve((performance.now() - t0) / 1000));
  });
}

// ---------------------------------------------------------------- one round

async function withServer(fn) {
  const s = await startServer();
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function withProxiedServer(fn) {
  return withServer(async (s) => {
    const px = await startProxy(s.port);
    try {
      return await fn(s, px);
    } finally {
      await px.close();
    }
  });
}

async function round(files, changed, log) {
  const r = {};
  const total = files.reduce((n, f) => n + f.size, 0);
  const check = async (s, what) => {
    const st = await s.stats();
    if (st.objects < files.length) throw new Error(`${what}: server holds ${st.objects} objects, expected >= ${files.length}`);
    r.serverCpu[what] = st.cpu;
  };
  r.serverCpu = {};
  // (a) first publish, each against an empty bucket
  r.naive = await withServer(async (s) => {
    const t = await naiveLoop(s.endpoint, files);
    await check(s, 'naive');
    return t;
  });
  log(`naive sequential ${r.naive.toFixed(2)} s`);
  for (const c of [8, 16]) {
    r[`raw${c}`] = await withServer(async (s) => {
      const t = await parallelLoop(s.endpoint, files, c);
      await check(s, `raw ${c}`);
      return t;
    });
    log(`parallel raw x${c} ${r[`raw${c}`].toFixed(2)} s`);
  }
  for (const c of [8, 16]) {
    const g = await withServer(async (s) => {
      const g = await gantry(s.endpoint, c === 8 ? undefined : c);
      await check(s, `gantry ${c}`);
      return g;
    });
    if (g.summary.uploaded !== files.length || g.summary.bytes !== total)
      throw new Error(`gantry first publish uploaded ${g.summary.uploaded} files / ${g.summary.bytes} B`);
    r[`gantry${c}`] = g;
    log(`gantry first publish x${c} ${g.seconds.toFixed(2)} s ${JSON.stringify(g.marks)}`);
  }

  // (b) re-publish with 1% changed, through the byte-counting proxy
  await withProxiedServer(async (_s, px) => {
    const base = await gantry(px.endpoint);
    r.baseBytes = await px.stats();
    log(`base publish via proxy ${base.seconds.toFixed(2)} s`);
    setVersion(changed, 1);
    await px.reset();
    const re = await gantry(px.endpoint);
    r.re = re;
    r.reBytes = await px.stats();
    if (re.summary.uploaded !== changed.length) throw new Error(`re-publish uploaded ${re.summary.uploaded}, expected ${changed.length}`);
    log(`re-publish (${changed.length} changed) ${re.seconds.toFixed(2)} s ${JSON.stringify(re.marks)}`);
    await px.reset();
    const same = await gantry(px.endpoint);
    r.noop = same;
    r.noopBytes = await px.stats();
    if (same.summary.uploaded !== 0) throw new Error(`no-change re-publish uploaded ${same.summary.uploaded}`);
    log(`re-publish (nothing changed) ${same.seconds.toFixed(2)} s`);
  });
  // full re-upload of the changed bundle: gantry to an empty bucket, and the raw loop, both via the proxy
  r.full = await withProxiedServer(async (_s, px) => {
    const g = await gantry(px.endpoint);
    r.fullBytes = await px.stats();
    return g;
  });
  log(`full re-upload (gantry, empty bucket) ${r.full.seconds.toFixed(2)} s`);
  r.fullRaw = await withProxiedServer(async (_s, px) => parallelLoop(px.endpoint, files, 8));
  log(`full re-upload (raw x8) ${r.fullRaw.toFixed(2)} s`);
  // Where the fixed cost of a run goes, measured apart: process start, the local scan (stat +
  // MD5 of every file, gantry's own scanDir), and listing 5,000 objects with ali-oss.
  r.help = await gantryHelp();
  const { scanDir } = await import(path.join(root, 'dist', 'src', 'oss', 'files.js'));
  let t = performance.now();
  await scanDir(distDir);
  r.scan = (performance.now() - t) / 1000;
  await withServer(async (s) => {
    await parallelLoop(s.endpoint, files, 8);
    const c = client(s.endpoint);
    t = performance.now();
    let token;
    let n = 0;
    do {
      const page = await c.listV2({ prefix: '', 'max-keys': '1000', ...(token ? { 'continuation-token': token } : {}) }, {});
      n += page.objects?.length ?? 0;
      token = page.nextContinuationToken || undefined;
    } while (token);
    r.list = (performance.now() - t) / 1000;
    if (n !== files.length) throw new Error(`listed ${n} objects`);
  });
  log(`fixed costs: gantry frontend --help ${f2(r.help)} s, scanDir ${f2(r.scan)} s, list 5,000 ${f2(r.list)} s`);
  setVersion(changed, 0);
  return r;
}

// ---------------------------------------------------------------- main

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f2 = (x) => x.toFixed(2);
const f1 = (x) => x.toFixed(1);

const log = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
log(`compiling test/support/oss-server.ts to ${tmp}`);
compileServer();
const files = makeBundle();
const t0 = performance.now();
writeBundle(files);
const total = files.reduce((n, f) => n + f.size, 0);
const changed = pickChanged(files);
const payload = changed.reduce((n, f) => n + f.size, 0);
const classes = ['html', 'small', 'medium', 'large'].map((c) => {
  const l = files.filter((f) => f.cls === c);
  return `${c} ${l.length} files ${f1(l.reduce((n, f) => n + f.size, 0) / MB)} MB`;
});
log(`bundle: ${files.length} files, ${f1(total / MB)} MB (${classes.join('; ')}), written in ${f2((performance.now() - t0) / 1000)} s`);
log(
  `changed set: ${changed.length} files, ${payload} B (${
    changed
      .map((f) => f.cls)
      .filter((c) => c !== 'small')
      .join(', ') || 'all small'
  } + small)`,
);
log(`load before: ${loadavg().map(f2).join(' ')}; ${cpus().length} CPUs; node ${process.version}`);

const results = [];
for (let i = 1; i <= rounds; i++) {
  log(`round ${i}/${rounds}`);
  results.push(await round(files, changed, log));
}

const med = (get) => median(results.map(get));
const rate = (sec) => `${f1(total / MB / sec)} | ${Math.round(files.length / sec)}`;
const a = {
  naive: med((r) => r.naive),
  raw8: med((r) => r.raw8),
  raw16: med((r) => r.raw16),
  g8: med((r) => r.gantry8.seconds),
  g16: med((r) => r.gantry16.seconds),
  g8pub: med((r) => r.gantry8.marks.published - r.gantry8.marks.publish),
  g16pub: med((r) => r.gantry16.marks.published - r.gantry16.marks.publish),
};
const ratio8 = med((r) => r.raw8 / r.gantry8.seconds);
const ratio16 = med((r) => r.raw16 / r.gantry16.seconds);
const reS = med((r) => r.re.seconds);
const speedup = med((r) => r.full.seconds / r.re.seconds);
const speedupRaw = med((r) => r.fullRaw / r.re.seconds);
const reAll = med((r) => r.reBytes.c2s);
const rePut = med((r) => r.reBytes.putBodies.filter((p) => !p.url.includes('.gantry/')).reduce((n, p) => n + p.bytes, 0));
const reManifest = med((r) => r.reBytes.putBodies.filter((p) => p.url.includes('.gantry/')).reduce((n, p) => n + p.bytes, 0));
const bytesRatio = reAll / payload;
const phase = (g) => {
  const m = g.marks;
  return `start+scan/MD5 ${f2(m.plan)} s, list+plan ${f2(m.publish - m.plan)} s, upload ${f2(m.published - m.publish)} s, manifest+exit ${f2(g.seconds - m.published)} s`;
};

const lines = [];
const p = (s = '') => lines.push(s);
p(
  `## Results: ${rounds} round(s), medians; ${files.length} files, ${f1(total / MB)} MB; node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map(f2).join(' ')}`,
);
p();
p('### (a) First publish, empty bucket');
p();
p('| client | concurrency | s | MB/s | files/s | vs parallel raw (same concurrency) |');
p('| --- | ---: | ---: | ---: | ---: | ---: |');
p(`| naive sequential ali-oss put loop | 1 | ${f2(a.naive)} | ${rate(a.naive)} | ${f2(a.raw8 / a.naive)} of raw x8 |`);
p(`| parallel raw put loop | 8 | ${f2(a.raw8)} | ${rate(a.raw8)} | 1.00 |`);
p(`| parallel raw put loop | 16 | ${f2(a.raw16)} | ${rate(a.raw16)} | 1.00 |`);
p(`| gantry frontend (whole process) | 8 | ${f2(a.g8)} | ${rate(a.g8)} | ${f2(ratio8)} |`);
p(`| gantry frontend (whole process) | 16 | ${f2(a.g16)} | ${rate(a.g16)} | ${f2(ratio16)} |`);
p(`| gantry frontend, upload phase only | 8 | ${f2(a.g8pub)} | ${rate(a.g8pub)} | ${f2(a.raw8 / a.g8pub)} |`);
p(`| gantry frontend, upload phase only | 16 | ${f2(a.g16pub)} | ${rate(a.g16pub)} | ${f2(a.raw16 / a.g16pub)} |`);
p();
p(`gantry x8 phases (last round): ${phase(results.at(-1).gantry8)}`);
p(`gantry x16 phases (last round): ${phase(results.at(-1).gantry16)}`);
p();
p(
  `OSS server process CPU (medians): naive ${f2(med((r) => r.serverCpu.naive))} s, raw x8 ${f2(med((r) => r.serverCpu['raw 8']))} s, raw x16 ${f2(med((r) => r.serverCpu['raw 16']))} s, gantry x8 ${f2(med((r) => r.serverCpu['gantry 8']))} s, gantry x16 ${f2(med((r) => r.serverCpu['gantry 16']))} s.`,
);
p(
  `Fixed costs measured apart (medians): \`gantry frontend --help\` process ${f2(med((r) => r.help))} s; gantry's scanDir (stat + MD5 of ${files.length} files, in-process) ${f2(med((r) => r.scan))} s; ali-oss listV2 of ${files.length} objects ${f2(med((r) => r.list))} s.`,
);
p();
p('### (b) Re-publish with 1% changed (50 files rewritten in place, same names), via the byte-counting proxy');
p();
p('| run | s | client->server bytes | PUT bodies of files | manifest body | requests |');
p('| --- | ---: | ---: | ---: | ---: | --- |');
const req = (st) =>
  Object.entries(st.requests)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
const last = results.at(-1);
const putFiles = (st) => st.putBodies.filter((x) => !x.url.includes('.gantry/')).reduce((n, x) => n + x.bytes, 0);
const putMan = (st) => st.putBodies.filter((x) => x.url.includes('.gantry/')).reduce((n, x) => n + x.bytes, 0);
p(`| gantry re-publish, 50 changed | ${f2(reS)} | ${reAll} | ${rePut} | ${reManifest} | ${req(last.reBytes)} |`);
p(
  `| gantry re-publish, nothing changed | ${f2(med((r) => r.noop.seconds))} | ${med((r) => r.noopBytes.c2s)} | ${putFiles(last.noopBytes)} | ${putMan(last.noopBytes)} | ${req(last.noopBytes)} |`,
);
p(
  `| full re-upload: gantry, empty bucket | ${f2(med((r) => r.full.seconds))} | ${med((r) => r.fullBytes.c2s)} | ${putFiles(last.fullBytes)} | ${putMan(last.fullBytes)} | ${req(last.fullBytes)} |`,
);
p(`| full re-upload: parallel raw x8 | ${f2(med((r) => r.fullRaw))} | | | | |`);
p();
p(`Changed payload: ${payload} B in ${changed.length} files. re-publish phases (last round): ${phase(last.re)}`);
p();
p('### Goals');
p();
p('| goal | measured | target | ok |');
p('| --- | ---: | ---: | --- |');
const ok = (b) => (b ? 'yes' : 'NO');
const goalA = ratio8 >= goals.throughputRatio;
const goalB1 = speedup >= goals.speedup;
const goalB2 = bytesRatio <= goals.bytesRatio;
p(`| (a) gantry x8 throughput / parallel raw x8 (whole process) | ${f2(ratio8)} | >= ${goals.throughputRatio} | ${ok(goalA)} |`);
p(`| (a) same at x16 (reported, not a goal) | ${f2(ratio16)} | | |`);
p(`| (b) full re-upload (gantry, empty bucket) / re-publish time | ${f1(speedup)}x | >= ${goals.speedup}x | ${ok(goalB1)} |`);
p(`| (b) full re-upload (parallel raw x8) / re-publish time (reported) | ${f1(speedupRaw)}x | | |`);
p(`| (b) all client->server bytes / changed payload | ${f2(bytesRatio)} | <= ${goals.bytesRatio} | ${ok(goalB2)} |`);
p(`| (b) file PUT bodies only / changed payload (reported) | ${f2(rePut / payload)} | | |`);
console.log(lines.join('\n'));
process.exitCode = goalA && goalB1 && goalB2 ? 0 : 1;
