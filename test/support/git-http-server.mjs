// The loopback git host's process (started by test/support/git-server.ts): git's own smart-HTTP
// server, `git http-backend`, as CGI behind node:http, for the bare repositories under argv[2]
// (<group>/<project>.git). A process of its own, so tests that wait synchronously for git or
// gitlab-ci-local do not starve it. Prints "listening <port>" once on stdout, and appends each
// request's "<method> <path+query>" to argv[3] as it arrives (before anything is answered, so
// a client that got its answer finds its requests there).
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

const [root, log] = process.argv.slice(2);
if (!root || !log) {
  console.error('usage: git-http-server.mjs <repositories root> <request log>');
  process.exit(2);
}
const backend = path.join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  appendFileSync(log, `${req.method} ${url.pathname}${url.search}\n`);
  const child = spawn(backend, [], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      // Pushes over HTTP need an authenticated user; the tests push as this one.
      REMOTE_USER: 'gantry-test',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  req.pipe(child.stdin);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  // CGI output: header lines, a blank line, then the body.
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk) => {
    if (headersDone) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    const end = crlf >= 0 ? crlf : lf;
    if (end < 0) return;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (/^status$/i.test(name)) status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    headersDone = true;
    res.write(head.subarray(end + (crlf >= 0 ? 4 : 2)));
  });
  child.on('close', (code) => {
    if (!headersDone) {
      res.statusCode = 500;
      res.write(`git http-backend exited ${code}: ${stderr}`);
    }
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
