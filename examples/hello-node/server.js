// hello-node: the backend Gantry deploys in its examples and end-to-end tests.
import http from 'node:http';

const port = Number(process.env.PORT || 3000);
const started = Date.now();
let ready = true;

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') {
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(ready ? 'ok\n' : 'shutting down\n');
    return;
  }
  if (url.pathname === '/' || url.pathname === '/api/hello') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        hello: process.env.GREETING || 'world',
        version: process.env.APP_VERSION || 'dev',
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
      }) + '\n',
    );
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});

server.listen(port, () => console.log(`hello-node listening on :${port}`));

// Fail readiness first, then close: the Service stops sending traffic before the pod exits.
process.on('SIGTERM', () => {
  ready = false;
  console.log('SIGTERM: draining');
  setTimeout(() => server.close(() => process.exit(0)), 2000).unref();
});
