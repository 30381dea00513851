// hello-node: the backend Gantry deploys in its examples and end-to-end tests.
// /metrics speaks the Prometheus text format, written by hand: the example has no dependencies.
// Two switches make a bad version for the canary tests: FAIL_RATE (0..1) answers that fraction
// of requests to / and /api/hello with a 500, CRASH_AFTER_MS exits 1 that long after start.
import http from 'node:http';

const port = Number(process.env.PORT || 3000);
const version = process.env.APP_VERSION || 'dev';
const started = Date.now();
let ready = true;

/** A number in [min, max] from the environment, or the default; anything else stops the app at once. */
function numberFromEnv(name, fallback, min, max) {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    console.error(`${name}=${JSON.stringify(text)} is not a number from ${min} to ${max}: fix or unset ${name}`);
    process.exit(1);
  }
  return value;
}

const failRate = numberFromEnv('FAIL_RATE', 0, 0, 1);
const crashAfterMs = numberFromEnv('CRASH_AFTER_MS', undefined, 0, 2 ** 31 - 1);

// Counted, not random: after n requests exactly floor(n * FAIL_RATE) have failed, so a short
// test sees the rate it asked for (0.5 fails every second request).
let served = 0;
let failed = 0;
function shouldFail() {
  served += 1;
  if (failed < Math.floor(served * failRate)) {
    failed += 1;
    return true;
  }
  return false;
}

// http_requests_total{path,code} and http_request_duration_seconds{path} (a histogram).
// Unknown paths share path="other", so a scanner cannot grow the series without bound; /metrics
// itself is not counted, so a 1 s scrape does not dilute the error rate.
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const requests = new Map(); // `${path}\n${code}` -> count
const durations = new Map(); // path -> { counts per bucket, sum, count }

function record(path, code, seconds) {
  const key = `${path}\n${code}`;
  requests.set(key, (requests.get(key) ?? 0) + 1);
  let d = durations.get(path);
  if (!d) durations.set(path, (d = { counts: buckets.map(() => 0), sum: 0, count: 0 }));
  buckets.forEach((le, i) => {
    if (seconds <= le) d.counts[i] += 1;
  });
  d.sum += seconds;
  d.count += 1;
}

const label = (value) => String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function metricsText() {
  const lines = [
    '# HELP http_requests_total HTTP requests answered, by path and status code.',
    '# TYPE http_requests_total counter',
  ];
  for (const [key, count] of requests) {
    const [path, code] = key.split('\n');
    lines.push(`http_requests_total{path="${label(path)}",code="${code}"} ${count}`);
  }
  lines.push('# HELP http_request_duration_seconds Time to answer an HTTP request, by path.', '# TYPE http_request_duration_seconds histogram');
  for (const [path, d] of durations) {
    const p = label(path);
    buckets.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{path="${p}",le="${le}"} ${d.counts[i]}`));
    lines.push(`http_request_duration_seconds_bucket{path="${p}",le="+Inf"} ${d.count}`);
    lines.push(`http_request_duration_seconds_sum{path="${p}"} ${d.sum}`);
    lines.push(`http_request_duration_seconds_count{path="${p}"} ${d.count}`);
  }
  lines.push(
    '# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${started / 1000}`,
  );
  return `${lines.join('\n')}\n`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(metricsText());
    return;
  }
  const begin = process.hrtime.bigint();
  const known = ['/', '/api/hello', '/healthz'].includes(url.pathname);
  res.on('finish', () => record(known ? url.pathname : 'other', res.statusCode, Number(process.hrtime.bigint() - begin) / 1e9));
  // Health stays 200 whatever FAIL_RATE says: a bad version becomes ready and then fails by its
  // error rate, as a real one does.
  if (url.pathname === '/healthz') {
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(ready ? 'ok\n' : 'shutting down\n');
    return;
  }
  if (url.pathname === '/' || url.pathname === '/api/hello') {
    if (shouldFail()) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: `injected failure (FAIL_RATE=${failRate})`, version })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        hello: process.env.GREETING || 'world',
        version,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
      }) + '\n',
    );
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});

server.listen(port, () => console.log(`hello-node listening on :${port}${failRate > 0 ? ` (FAIL_RATE=${failRate})` : ''}`));

if (crashAfterMs !== undefined) {
  setTimeout(() => {
    console.error(`CRASH_AFTER_MS=${crashAfterMs}: exiting with status 1`);
    process.exit(1);
  }, crashAfterMs);
}

// Fail readiness first, then close: the Service stops sending traffic before the pod exits.
process.on('SIGTERM', () => {
  ready = false;
  console.log('SIGTERM: draining');
  setTimeout(() => server.close(() => process.exit(0)), 2000).unref();
});
