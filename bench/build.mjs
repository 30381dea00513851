#!/usr/bin/env node
// Benchmark for issue #4: `gantry build` cold (build+push) vs rebuild (build+push) after a
// one-line source change, in one run, with time and the bytes the Docker daemon sends to the
// registry. Goals: rebuild time <= 30% of the cold time, and rebuild bytes pushed <= 1.1x the
// compressed size of the layer(s) that changed. Baseline in the same run: a naive CI step,
// `docker build --no-cache` + `docker push` of the same app and Dockerfile.
//
//   node bench/build.mjs [rounds]      (default 3; needs dist/ and the local Docker + registry)
//
// The daemon pushes through a byte-counting TCP proxy on 127.0.0.1:<free port> that forwards
// to the open registry at 127.0.0.1:5000 and parses the HTTP requests, so the bytes can be
// attributed: layer blobs, config blob, manifests, HTTP headers, existence checks.
// Exit code 1 when the median of a goal misses it.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const example = path.join(root, 'examples', 'hello-node');
const rounds = Number(process.argv[2] ?? 3);
const upstream = { host: '127.0.0.1', port: 5000 };
const baseImage = `${upstream.host}:${upstream.port}/gantry/node:20`;
const branch = 'k8s-backend';
const app = 'hello';
const goals = { timeRatio: 0.3, bytesRatio: 1.1 };
const dependencies = { express: '^4.21.2', pino: '^9.6.0', zod: '^3.24.1' };
const manifestV2 = 'application/vnd.docker.distribution.manifest.v2+json';

if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${process.argv[2]}`);
if (!existsSync(cli)) throw new Error(`${cli} is missing: run npx tsc -p tsconfig.json first`);

// ---------------------------------------------------------------- processes

/** Runs a command asynchronously (the proxy lives in this process, so nothing may block). */
function run(cmd, args, { cwd, env, input, allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd, env: env ?? cleanEnv(), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const r = { code, stdout, stderr, ms: performance.now() - started };
      if (code !== 0 && !allowFail) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${stdout}\n${stderr}`.trim()));
      else resolve(r);
    });
    if (input !== undefined) child.stdin.on('error', () => {}).end(input);
  });
}

/** The inherited environment without CI_*, GITLAB_* and GANTRY_* (a laptop-like run). */
function cleanEnv(extra = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  return { ...base, ...extra };
}

const git = (cwd, ...args) => run('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], { cwd });

// ---------------------------------------------------------------- byte-counting proxy

/**
 * Incremental parser of one direction of an HTTP/1.1 connection. `onHead(startLine, headers,
 * headBytes)` returns the record that the message's bytes go to and how its body is framed.
 */
class HttpStream {
  constructor(onHead) {
    this.onHead = onHead;
    this.buf = Buffer.alloc(0);
    this.state = 'head';
    this.remaining = 0;
    this.acc = null;
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.state === 'head') {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        this.buf = this.buf.subarray(end + 4);
        const { acc, body } = this.onHead(head[0], headers, end + 4);
        this.acc = acc;
        if (body && /chunked/i.test(headers['transfer-encoding'] ?? '')) this.state = 'chunk-size';
        else if (body && Number(headers['content-length'] ?? 0) > 0) [this.state, this.remaining] = ['body', Number(headers['content-length'])];
      } else if (this.state === 'body' || this.state === 'chunk-data') {
        const n = Math.min(this.remaining, this.buf.length);
        this.acc.bodyBytes += n;
        this.remaining -= n;
        this.buf = this.buf.subarray(n);
        if (this.remaining > 0) return;
        this.state = this.state === 'body' ? 'head' : 'chunk-crlf';
      } else if (this.state === 'chunk-crlf') {
        if (this.buf.length < 2) return;
        this.acc.framingBytes += 2;
        this.buf = this.buf.subarray(2);
        this.state = 'chunk-size';
      } else if (this.state === 'chunk-size' || this.state === 'trailer') {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        this.acc.framingBytes += eol + 2;
        const line = this.buf.subarray(0, eol).toString('latin1');
        this.buf = this.buf.subarray(eol + 2);
        if (this.state === 'trailer') {
          if (eol === 0) this.state = 'head';
        } else {
          const size = parseInt(line.split(';')[0], 16);
          if (size === 0) this.state = 'trailer';
          else [this.state, this.remaining] = ['chunk-data', size];
        }
      }
    }
  }
}

function newStats() {
  return { up: 0, down: 0, connections: 0, tlsProbeBytes: 0, tlsProbeDown: 0, requests: [] };
}

/**
 * TCP proxy 127.0.0.1:<free port> -> upstream. Counts bytes both ways and records every
 * request: method, target, header/body/framing bytes sent, and the response's status,
 * Location and bytes (a POST's Location names the upload its PATCH and PUT continue).
 */
async function startProxy() {
  let stats = newStats();
  const sockets = new Set();
  const server = net.createServer((client) => {
    stats.connections++;
    const pending = [];
    const requests = new HttpStream((line, _headers, headBytes) => {
      const [method, target] = line.split(' ');
      const rec = {
        method,
        target,
        headerBytes: headBytes,
        bodyBytes: 0,
        framingBytes: 0,
        status: 0,
        location: '',
        response: { headerBytes: 0, bodyBytes: 0, framingBytes: 0 },
      };
      stats.requests.push(rec);
      pending.push(rec);
      return { acc: rec, body: true };
    });
    const responses = new HttpStream((line, headers, headBytes) => {
      const rec = pending.shift() ?? { method: '?', response: { bodyBytes: 0, framingBytes: 0 } };
      rec.status = Number(line.split(' ')[1]);
      rec.location = headers.location ?? '';
      rec.response.headerBytes = headBytes;
      return { acc: rec.response, body: rec.method !== 'HEAD' && rec.status !== 204 && rec.status !== 304 };
    });
    let tls = null;
    const target = net.connect(upstream.port, upstream.host);
    sockets.add(client).add(target);
    client.on('data', (c) => {
      stats.up += c.length;
      // Docker tries HTTPS first on an insecure registry, then falls back to plain HTTP.
      if (tls === null) tls = c[0] === 0x16;
      if (tls) stats.tlsProbeBytes += c.length;
      else requests.push(c);
    });
    target.on('data', (c) => {
      stats.down += c.length;
      if (tls) stats.tlsProbeDown += c.length;
      else responses.push(c);
    });
    client.pipe(target);
    target.pipe(client);
    const close = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on('error', close).on('close', close);
    target.on('error', close).on('close', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${server.address().port}`,
    /** The counts since the last take(); counting starts afresh. */
    take() {
      const taken = stats;
      stats = newStats();
      return taken;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---------------------------------------------------------------- registry

async function manifest(repository, tag) {
  const r = await fetch(`http://${upstream.host}:${upstream.port}/v2/${repository}/manifests/${tag}`, { headers: { accept: manifestV2 } });
  if (!r.ok) throw new Error(`GET manifest ${repository}:${tag}: HTTP ${r.status}`);
  const text = await r.text();
  return { ...JSON.parse(text), bytes: Buffer.byteLength(text), digest: r.headers.get('docker-content-digest') };
}

/**
 * Attributes the client->server bytes of one phase. Blob uploads (POST, PATCH..., PUT
 * ?digest=) are tied together by their upload id; the digest says whether the blob was a
 * layer (and whether one of `changed`) or the image config.
 */
function breakdown(stats, { changed = new Set(), configs = new Set() } = {}) {
  const uploadDigest = new Map();
  for (const r of stats.requests) {
    const m = /\/blobs\/uploads\/([^/?]+)\?.*digest=(sha256(?::|%3A)[a-f0-9]{64})/i.exec(r.target);
    if (m) uploadDigest.set(m[1], decodeURIComponent(m[2]));
  }
  const b = {
    changedLayerPayload: 0,
    otherLayerPayload: 0,
    configPayload: 0,
    manifestPayload: 0,
    uploadOverhead: 0,
    configUploadOverhead: 0,
    manifestOverhead: 0,
    blobChecks: 0,
    mounts: 0,
    pullCheck: 0,
    ping: 0,
    other: 0,
    tlsProbe: stats.tlsProbeBytes,
    total: stats.up,
    parsed: 0,
    blobChecksCount: 0,
    blobChecksFound: 0,
    mountsCount: 0,
    manifestPuts: 0,
    layersUploaded: 0,
  };
  for (const r of stats.requests) {
    const all = r.headerBytes + r.bodyBytes + r.framingBytes;
    const overhead = r.headerBytes + r.framingBytes;
    b.parsed += all;
    // PATCH and PUT name their upload in the target, the POST that starts it in its Location.
    const upload = /\/blobs\/uploads\/([^/?]+)/.exec(r.target) ?? /\/blobs\/uploads\/([^/?]+)/.exec(r.location);
    if (r.target === '/v2/' || r.target === '/v2') b.ping += all;
    else if (/\/manifests\//.test(r.target) && r.method === 'PUT') {
      b.manifestPayload += r.bodyBytes;
      b.manifestOverhead += overhead;
      b.manifestPuts++;
    } else if (/\/manifests\//.test(r.target)) b.pullCheck += all;
    else if (/\/blobs\/sha256/.test(r.target) && r.method === 'HEAD') {
      b.blobChecks += all;
      b.blobChecksCount++;
      if (r.status === 200) b.blobChecksFound++;
    } else if (r.method === 'POST' && /[?&]mount=/.test(r.target) && r.status === 201) {
      b.mounts += all;
      b.mountsCount++;
    } else if (upload) {
      const digest = uploadDigest.get(upload[1]);
      if (configs.has(digest)) {
        b.configPayload += r.bodyBytes;
        b.configUploadOverhead += overhead;
      } else {
        if (changed.has(digest)) b.changedLayerPayload += r.bodyBytes;
        else b.otherLayerPayload += r.bodyBytes;
        b.uploadOverhead += overhead;
        if (r.method === 'PUT' && digest) b.layersUploaded++;
      }
    } else b.other += all;
  }
  // Bytes the parser could not place (a connection cut mid-request): counted as other.
  b.other += b.total - b.parsed - b.tlsProbe;
  b.withoutManifestAndConfig = b.total - b.manifestPayload - b.manifestOverhead - b.configPayload - b.configUploadOverhead;
  return b;
}

// ---------------------------------------------------------------- the app

/** package.json with real production dependencies, and its lockfile (made once per run). */
async function makeTemplate() {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-bench-template-'));
  cpSync(example, dir, { recursive: true });
  rmSync(path.join(dir, 'Dockerfile'), { force: true });
  rmSync(path.join(dir, 'rendered'), { recursive: true, force: true });
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  pkg.dependencies = dependencies;
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: dir });
  writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\nrendered/\n');
  return dir;
}

/**
 * A committed copy of the template on branch k8s-backend. `nonce` goes into package.json's
 * description so no layer from an earlier round or another build can be reused by the
 * legacy builder (whose cache is the daemon's local images, which builder prune leaves).
 */
async function makeRepo(template, nonce) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-bench-repo-'));
  cpSync(template, dir, { recursive: true });
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  pkg.description = `${pkg.description} (bench ${nonce})`;
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await git(dir, 'init', '-q', '-b', branch);
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'app');
  return dir;
}

// ---------------------------------------------------------------- one round

function gantryEnv(proxy, namespace) {
  return cleanEnv({
    GANTRY_REGISTRY_PUSH_HOST: proxy.host,
    GANTRY_REGISTRY_PULL_HOST: proxy.host,
    GANTRY_REGISTRY_NAMESPACE: namespace,
    GANTRY_SET: `backend.baseImage=${baseImage}`,
  });
}

async function gantryBuild(repo, proxy, namespace, dotenv) {
  proxy.take();
  const r = await run(process.execPath, [cli, 'build', '--dotenv', dotenv], { cwd: repo, env: gantryEnv(proxy, namespace), allowFail: true });
  const stats = proxy.take();
  if (r.code !== 0) throw new Error(`gantry build exited ${r.code}\n${r.stderr}`);
  const built = /built in ([\d.]+) s/.exec(r.stderr);
  return {
    ms: r.ms,
    buildMs: built ? Number(built[1]) * 1000 : NaN,
    stats,
    usingCache: (r.stderr.match(/Using cache/g) ?? []).length,
    pushedLines: (r.stderr.match(/: Pushed$/gm) ?? []).length,
    result: JSON.parse(r.stdout.trim().split('\n').pop()),
    log: r.stderr,
  };
}

/** Removes local images of `repository` (any tag), so nothing of it is cached. */
async function removeLocalImages(repository) {
  const r = await run('docker', ['image', 'ls', '--format', '{{.ID}}', repository]);
  const ids = [...new Set(r.stdout.split('\n').filter(Boolean))];
  if (ids.length) await run('docker', ['image', 'rm', '-f', ...ids], { allowFail: true });
}

const imageId = async (ref) => (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();

/** The image ID that ends the first build stage (legacy builder output: " ---> <id>" before the 2nd FROM). */
function stageImageIds(log) {
  const ids = [];
  let last = null;
  for (const line of log.split('\n')) {
    const id = /^\s*---> ([a-f0-9]{12})\s*$/.exec(line);
    if (id) last = id[1];
    if (/^Step \d+\/\d+ : FROM /.test(line) && last) ids.push(last);
  }
  return ids;
}

/**
 * A cold build+push: no build cache, no local image of the repository, a namespace the
 * registry has never seen, and an app whose package.json no earlier build has seen.
 */
async function coldBuild(template, proxy, namespace, nonce, cleanup) {
  const repo = await makeRepo(template, nonce);
  const out = mkdtempSync(path.join(tmpdir(), 'gantry-bench-out-'));
  cleanup.dirs.push(repo, out);
  await run('docker', ['builder', 'prune', '-af']);
  await removeLocalImages(`${proxy.host}/${namespace}/${app}`);
  const cold = await gantryBuild(repo, proxy, namespace, path.join(out, 'cold.env'));
  cleanup.images.push(await imageId(cold.result.tags[0]), ...stageImageIds(cold.log));
  return { repo, out, cold };
}

/**
 * One round, with a proxy on a fresh port: to the daemon a registry host it has never pushed
 * to. (1) A cold build+push in a first namespace: every layer is uploaded, the base image's
 * too. (2) A cold build+push of another app in a second namespace: the daemon now mounts the
 * base layer from (1) instead of uploading it, as it does when pushing straight to
 * 127.0.0.1:5000 (mounted from gantry/node), or to a registry that holds the base image. This
 * is the cold run the goals are measured against. (3) The rebuild after a one-line change.
 * (4) The naive baseline.
 */
async function round(index, template, cleanup) {
  const proxy = await startProxy();
  try {
    return await roundVia(index, template, proxy, cleanup);
  } finally {
    await proxy.close();
  }
}

async function roundVia(index, template, proxy, cleanup) {
  const nonce = `${Date.now().toString(36)}${process.pid}r${index}`;
  const first = await coldBuild(template, proxy, `bench-build-${nonce}-first`, `${nonce}-first`, cleanup);
  const namespace = `bench-build-${nonce}`;
  const repository = `${namespace}/${app}`;
  const pushRepository = `${proxy.host}/${repository}`;
  const { repo, out, cold } = await coldBuild(template, proxy, namespace, nonce, cleanup);
  const coldSha = (await git(repo, 'rev-parse', 'HEAD')).stdout.trim().slice(0, 8);

  // Rebuild after a one-line change, same daemon (local layer cache), as on a persistent runner.
  writeFileSync(path.join(repo, 'server.js'), `${readFileSync(path.join(repo, 'server.js'), 'utf8')}// bench: a one-line change ${nonce}\n`);
  await git(repo, 'commit', '-qam', 'one-line change');
  const sha = (await git(repo, 'rev-parse', 'HEAD')).stdout.trim().slice(0, 8);
  const rebuild = await gantryBuild(repo, proxy, namespace, path.join(out, 'rebuild.env'));
  cleanup.images.push(await imageId(rebuild.result.tags[0]), ...stageImageIds(rebuild.log));

  const before = await manifest(repository, coldSha);
  const after = await manifest(repository, sha);
  const old = new Set(before.layers.map((l) => l.digest));
  const newLayers = after.layers.filter((l) => !old.has(l.digest));
  const changedLayerSize = newLayers.reduce((n, l) => n + l.size, 0);
  const imageSize = before.layers.reduce((n, l) => n + l.size, 0) + before.config.size;
  const configs = new Set([before.config.digest, after.config.digest]);
  const coldBytes = breakdown(cold.stats, { changed: new Set(before.layers.map((l) => l.digest)), configs });
  const rebuildBytes = breakdown(rebuild.stats, { changed: new Set(newLayers.map((l) => l.digest)), configs });

  // Baseline: what a naive CI step does after the same change: no layer cache, plain push of
  // the same two tags to the same repository (which holds the previous pipeline's image).
  const dockerfile = (await run(process.execPath, [cli, 'build', '--print-dockerfile'], { cwd: repo, env: gantryEnv(proxy, namespace) })).stdout;
  const naiveTags = [`${pushRepository}:${sha}`, `${pushRepository}:${branch}`];
  const dockerConfig = mkdtempSync(path.join(tmpdir(), 'gantry-bench-docker-'));
  cleanup.dirs.push(dockerConfig);
  const dockerEnv = cleanEnv({ DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' });
  proxy.take();
  const naiveStarted = performance.now();
  const naiveBuild = await run('docker', ['build', '--no-cache', '--file', '-', ...naiveTags.flatMap((t) => ['--tag', t]), '.'], {
    cwd: repo,
    env: dockerEnv,
    input: dockerfile,
  });
  const naiveBuildMs = performance.now() - naiveStarted;
  for (const tag of naiveTags) await run('docker', ['push', tag], { env: dockerEnv });
  const naiveMs = performance.now() - naiveStarted;
  const naiveStats = proxy.take();
  cleanup.images.push(await imageId(naiveTags[0]), ...stageImageIds(naiveBuild.stdout));
  const naiveManifest = await manifest(repository, sha);
  const naiveNew = naiveManifest.layers.filter((l) => !new Set(after.layers.map((x) => x.digest)).has(l.digest));
  const naiveBytes = breakdown(naiveStats, { changed: new Set(naiveNew.map((l) => l.digest)), configs: new Set([naiveManifest.config.digest]) });

  return {
    namespace,
    proxy: proxy.host,
    first: { ms: first.cold.ms, buildMs: first.cold.buildMs, up: first.cold.stats.up, down: first.cold.stats.down },
    cold: { ms: cold.ms, buildMs: cold.buildMs, up: cold.stats.up, down: cold.stats.down, bytes: coldBytes, pushedLines: cold.pushedLines },
    rebuild: {
      ms: rebuild.ms,
      buildMs: rebuild.buildMs,
      up: rebuild.stats.up,
      down: rebuild.stats.down,
      bytes: rebuildBytes,
      usingCache: rebuild.usingCache,
      pushedLines: rebuild.pushedLines,
      // Every request the daemon sent, for the raw results file.
      requests: rebuild.stats.requests.map(
        (r) =>
          `${r.method} ${r.target.replace(/\?.*/, '')} -> ${r.status}; sent ${r.headerBytes}+${r.bodyBytes}+${r.framingBytes}, received ${r.response.headerBytes}+${r.response.bodyBytes}`,
      ),
    },
    naive: {
      ms: naiveMs,
      buildMs: naiveBuildMs,
      up: naiveStats.up,
      down: naiveStats.down,
      bytes: naiveBytes,
      newLayers: naiveNew.length,
      newLayerSize: naiveNew.reduce((n, l) => n + l.size, 0),
    },
    layers: after.layers.length,
    newLayers: newLayers.map((l) => ({ digest: l.digest, size: l.size })),
    changedLayerSize,
    configSize: after.config.size,
    manifestSize: after.bytes,
    imageSize,
    timeRatio: rebuild.ms / cold.ms,
    timeRatioFirst: rebuild.ms / first.cold.ms,
    bytesRatio: rebuild.stats.up / changedLayerSize,
    bytesRatioWithoutManifestAndConfig: rebuildBytes.withoutManifestAndConfig / changedLayerSize,
    bytesRatioLayerPayload: rebuildBytes.changedLayerPayload / changedLayerSize,
  };
}

// ---------------------------------------------------------------- report

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => (ms / 1000).toFixed(1);
const kb = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
const pct = (x) => `${(x * 100).toFixed(1)}%`;
const ratio = (x) => `${x.toFixed(2)}x`;

function report(results) {
  const row = (label, f, fmt, goal) => {
    const xs = results.map(f);
    const m = median(xs);
    const ok = goal ? (m <= goal.max ? 'PASS' : 'FAIL') : '';
    return { line: `| ${label} | ${fmt(m)} | ${xs.map(fmt).join(', ')} | ${goal ? goal.text : ''} | ${ok} |`, ok };
  };
  const rows = [
    row('cold, first push to the registry (base layer uploaded too), s', (r) => r.first.ms, sec),
    row('cold, first push: bytes sent to the registry', (r) => r.first.up, kb),
    row('cold `gantry build` (build+push; base layer mounted), s', (r) => r.cold.ms, sec),
    row('cold: of which docker build, s', (r) => r.cold.buildMs, sec),
    row('cold: bytes sent to the registry', (r) => r.cold.up, kb),
    row('rebuild after a one-line change, s', (r) => r.rebuild.ms, sec),
    row('rebuild: of which docker build, s', (r) => r.rebuild.buildMs, sec),
    row('**time ratio rebuild / cold**', (r) => r.timeRatio, pct, { max: goals.timeRatio, text: `<= ${pct(goals.timeRatio)}` }),
    row('time ratio rebuild / cold first push', (r) => r.timeRatioFirst, pct),
    row('changed layer(s), compressed (registry manifest)', (r) => r.changedLayerSize, kb),
    row('rebuild: bytes sent to the registry (all)', (r) => r.rebuild.up, kb),
    row('**bytes ratio rebuild / changed layer (all bytes)**', (r) => r.bytesRatio, ratio, { max: goals.bytesRatio, text: `<= ${ratio(goals.bytesRatio)}` }),
    row('bytes ratio without manifest + config requests', (r) => r.bytesRatioWithoutManifestAndConfig, ratio),
    row('bytes ratio, layer blob payload only', (r) => r.bytesRatioLayerPayload, ratio),
    row('rebuild: bytes received from the registry', (r) => r.rebuild.down, kb),
    row('baseline `docker build --no-cache` + `docker push`, s', (r) => r.naive.ms, sec),
    row('baseline: bytes sent to the registry', (r) => r.naive.up, kb),
  ];
  const lines = ['| metric | median | samples | goal | result |', '| --- | ---: | --- | --- | --- |', ...rows.map((r) => r.line)];

  // Where the rebuild's bytes went (median round by bytes ratio).
  const mid = [...results].sort((a, b) => a.bytesRatio - b.bytesRatio)[Math.floor(results.length / 2)];
  const b = mid.rebuild.bytes;
  const detail = [
    '| rebuild bytes sent (median round) | bytes |',
    '| --- | ---: |',
    `| changed layer blob payload (${mid.newLayers.length} layer) | ${b.changedLayerPayload} |`,
    `| other layer blob payload | ${b.otherLayerPayload} |`,
    `| layer upload HTTP headers + chunk framing (POST, PATCH, PUT) | ${b.uploadOverhead} |`,
    `| config blob payload | ${b.configPayload} |`,
    `| config upload HTTP headers | ${b.configUploadOverhead} |`,
    `| manifest payload (${b.manifestPuts} PUTs, one per tag) | ${b.manifestPayload} |`,
    `| manifest PUT HTTP headers | ${b.manifestOverhead} |`,
    `| HEAD blob existence checks (${b.blobChecksCount}, ${b.blobChecksFound} found) | ${b.blobChecks} |`,
    `| cross-repository mounts (${b.mountsCount}) | ${b.mounts} |`,
    `| cache-from pull of the branch tag (manifest GET/HEAD) | ${b.pullCheck} |`,
    `| GET /v2/ pings | ${b.ping} |`,
    `| TLS attempts before the HTTP fallback | ${b.tlsProbe} |`,
    `| other / unparsed | ${b.other} |`,
    `| **total** | **${b.total}** |`,
  ];
  return { table: lines.join('\n'), detail: detail.join('\n'), fails: rows.filter((r) => r.ok === 'FAIL').length, mid };
}

// ---------------------------------------------------------------- main

async function main() {
  const info = await run('docker', ['version', '--format', '{{.Server.Version}}'], { allowFail: true });
  if (info.code !== 0) throw new Error(`no Docker daemon answers (${info.stderr.trim()}); run bash test/cluster/up.sh`);
  const ping = await fetch(`http://${upstream.host}:${upstream.port}/v2/`).catch((e) => ({ ok: false, status: e.message }));
  if (!ping.ok) throw new Error(`the registry at ${upstream.host}:${upstream.port} does not answer (${ping.status}); run bash test/cluster/up.sh`);
  if ((await run('docker', ['image', 'inspect', baseImage], { allowFail: true })).code !== 0) await run('docker', ['pull', baseImage]);

  const proxy = await startProxy();
  const viaProxy = await fetch(`http://${proxy.host}/v2/`);
  const probe = proxy.take();
  await proxy.close();
  if (!viaProxy.ok || probe.up === 0 || probe.down === 0) throw new Error(`the proxy ${proxy.host} does not reach the registry`);
  console.error(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; docker ${info.stdout.trim()}; proxy -> ${upstream.host}:${upstream.port}; ${rounds} round(s)`,
  );

  const cleanup = { dirs: [], images: [] };
  const results = [];
  try {
    const template = await makeTemplate();
    cleanup.dirs.push(template);
    for (let i = 1; i <= rounds; i++) {
      const r = await round(i, template, cleanup);
      results.push(r);
      if (r.first.up < 0.9 * r.imageSize)
        console.error(
          `warning: round ${i}'s first push sent less than the image (${kb(r.first.up)} of ${kb(r.imageSize)}): the daemon had pushed to ${r.proxy} before and mounted layers`,
        );
      console.error(
        `round ${i} (${r.namespace} via ${r.proxy}): first push ${sec(r.first.ms)} s ${kb(r.first.up)}; cold ${sec(r.cold.ms)} s ${kb(r.cold.up)}; rebuild ${sec(r.rebuild.ms)} s ${r.rebuild.up} B ` +
          `(${r.rebuild.usingCache} cache hits, ${r.rebuild.pushedLines} layer pushed, changed layer ${r.changedLayerSize} B); ` +
          `baseline ${sec(r.naive.ms)} s ${kb(r.naive.up)} (${r.naive.newLayers} new layers)`,
      );
    }
  } finally {
    for (const image of cleanup.images) await run('docker', ['image', 'rm', '-f', image], { allowFail: true });
    for (const dir of cleanup.dirs) rmSync(dir, { recursive: true, force: true });
  }

  console.error(
    `load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const { table, detail, fails, mid } = report(results);
  console.log(table);
  console.log('');
  console.log(detail);
  console.log('');
  console.log(
    `Image: ${mid.layers} layers, ${kb(mid.imageSize)} compressed; config blob ${mid.configSize} B, manifest ${mid.manifestSize} B. ` +
      `Changed layers: ${mid.newLayers.map((l) => `${l.digest.slice(7, 19)} ${l.size} B`).join(', ')}.`,
  );
  console.log(
    `Goals: rebuild time <= ${pct(goals.timeRatio)} of cold; rebuild bytes sent <= ${ratio(goals.bytesRatio)} the changed layer (all bytes the daemon sends, manifest and config included).`,
  );
  writeFileSync(path.join(tmpdir(), 'gantry-bench-build.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.error(`raw results: ${path.join(tmpdir(), 'gantry-bench-build.json')}`);
  process.exitCode = fails ? 1 : 0;
}

main().catch((error) => {
  console.error(error.stack ?? error);
  process.exitCode = 2;
});
