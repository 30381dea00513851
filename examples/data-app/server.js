// data-app: Gantry's example of an app with data. It connects to each service gantry.yaml
// declares (MySQL, PostgreSQL, MongoDB, Redis; each optional) and answers:
//   GET  /healthz      200 once connected to every configured service, 503 before
//   GET  /             the seed data of each service, and the version
//   POST /notes?text=  writes a note into each service; GET /notes reads them back
//
// A service it cannot reach at start is fatal: the app logs the driver's error (ECONNREFUSED,
// ETIMEDOUT, "Access denied", "password authentication failed", WRONGPASS...) with the host and
// port, and exits 1, so Kubernetes shows a crashing container with that log, which is what
// Gantry's tracker reads to name the service and the likely cause.
import http from 'node:http';
import { configuredServices, connect, close, describeError } from './lib/services.js';
import { readSeed, addNote, listNotes } from './lib/data.js';

const MAX_NOTE_LENGTH = 500;

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

// Runs one read or write against every connected service. A failing service answers 500 naming
// the kind and the driver's error, so a broken table or a lost connection is plain to see.
async function eachService(state, res, operation) {
  const answer = {};
  for (const { settings, client } of state.connected) {
    try {
      answer[settings.kind] = await operation(settings.kind, client);
    } catch (err) {
      const error = describeError(err, settings.secrets);
      console.error(`${settings.kind}: ${error}`);
      sendJson(res, 500, { error: `${settings.kind} at ${settings.where}: ${error}` });
      return undefined;
    }
  }
  return answer;
}

async function handle(state, req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') {
    const ok = state.phase === 'ready';
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(ok ? 'ok\n' : `${state.phase}\n`);
    return;
  }
  if (state.phase !== 'ready') {
    sendJson(res, 503, { error: state.phase });
    return;
  }
  if (url.pathname === '/' && req.method === 'GET') {
    const answer = await eachService(state, res, readSeed);
    if (answer) sendJson(res, 200, { ...answer, version: process.env.APP_VERSION || 'dev' });
    return;
  }
  if (url.pathname === '/notes' && req.method === 'POST') {
    const text = url.searchParams.get('text');
    if (!text || text.length > MAX_NOTE_LENGTH) {
      sendJson(res, 400, { error: `give the note as ?text=, 1 to ${MAX_NOTE_LENGTH} characters` });
      return;
    }
    const answer = await eachService(state, res, (kind, client) => addNote(kind, client, text));
    if (answer) sendJson(res, 201, { text, ...answer });
    return;
  }
  if (url.pathname === '/notes' && req.method === 'GET') {
    const answer = await eachService(state, res, listNotes);
    if (answer) sendJson(res, 200, answer);
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

async function connectAll(state) {
  const services = configuredServices(process.env);
  if (services.length === 0) {
    console.log('no data service configured (MYSQL_HOST, DATABASE_URL, MONGODB_URI, REDIS_URL): serving without data');
  }
  for (const settings of services) {
    console.log(`${settings.kind}: connecting to ${settings.where}`);
    const started = Date.now();
    try {
      const client = await connect(settings);
      state.connected.push({ settings, client });
      console.log(`${settings.kind}: connected to ${settings.where} in ${Date.now() - started} ms`);
    } catch (err) {
      console.error(`${settings.kind}: cannot connect to ${settings.where}: ${describeError(err, settings.secrets)}`);
      process.exit(1);
    }
  }
  state.phase = 'ready';
}

function main() {
  const port = Number(process.env.PORT || 3000);
  const state = { phase: 'connecting', connected: [] };
  const server = http.createServer((req, res) => {
    handle(state, req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    });
  });
  server.listen(port, () => console.log(`data-app listening on :${server.address().port}`));
  connectAll(state);

  // Fail readiness first, then close: the Service stops sending traffic before the pod exits.
  process.on('SIGTERM', () => {
    state.phase = 'shutting down';
    console.log('SIGTERM: draining');
    setTimeout(() => {
      server.close(async () => {
        await Promise.allSettled(state.connected.map(({ settings, client }) => close(settings, client)));
        process.exit(0);
      });
    }, 2000).unref();
  });
}

main();
