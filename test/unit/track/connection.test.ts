// An app that crashes because it cannot reach or log in to its database: the log tail, as the
// drivers print it, names the service and the likely cause. The refusals and the pg messages
// below are what mysql2 3, pg 8, ioredis 5 and mongodb 7 printed against a closed loopback port
// and a local PostgreSQL 15 (wrong password, missing database, no pg_hba.conf entry).
import { explainConnectionFailure, type ServiceEndpointHint } from '../../../src/track/connection.js';

const db: ServiceEndpointHint = { service: 'db', kind: 'mysql', port: 3306, binding: 'instance', hosts: ['10.96.0.12'] };
const pg: ServiceEndpointHint = { service: 'db', kind: 'postgresql', port: 5432, binding: 'instance' };
const mongo: ServiceEndpointHint = { service: 'mongo', kind: 'mongodb', port: 27017, binding: 'instance' };
const cache: ServiceEndpointHint = { service: 'cache', kind: 'redis', port: 6379, binding: 'instance' };
const rds: ServiceEndpointHint = { service: 'db', kind: 'mysql', port: 3306, binding: 'variable', hosts: ['rm-bp1abc.mysql.rds.aliyuncs.com'] };
const secret = { secret: 'data-app-services' };

const explain = (log: string, services: ServiceEndpointHint[]) => explainConnectionFailure(log.split('\n'), services, secret);

describe('connection refused and timeouts', () => {
  test('mysql2: connect ECONNREFUSED to the instance', () => {
    const log = `Server starting
/app/node_modules/mysql2/promise.js:356
    const localErr = new Error();
                     ^

Error: connect ECONNREFUSED 10.96.0.12:3306
    at PromisePool.query (/app/node_modules/mysql2/promise.js:356:22)
    at async main (/app/server.js:12:3) {
  code: 'ECONNREFUSED',
  errno: -111,
  sqlState: undefined
}

Node.js v20.18.0`;
    expect(explain(log, [db, cache])).toEqual([
      'the app could not connect to service db (mysql, 10.96.0.12:3306): connection refused — the instance is not running or not ready',
    ]);
  });

  test('ioredis: an unhandled error event with ECONNREFUSED on 6379 is the redis service, matched by its port', () => {
    const log =
      '[ioredis] Unhandled error event: Error: connect ECONNREFUSED 10.96.0.9:6379\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)';
    expect(explain(log, [db, cache])).toEqual([
      'the app could not connect to service cache (redis, 10.96.0.9:6379): connection refused — the instance is not running or not ready',
    ]);
  });

  test('a managed database that times out: add the pods CIDR to its whitelist or security group', () => {
    const lines = explain('Error: connect ETIMEDOUT 172.16.3.4:3306\n    at Connection._handleTimeoutError', [rds]);
    expect(lines).toEqual([
      "the app could not connect to service db (mysql, 172.16.3.4:3306): timed out — for a managed database, add the pods' CIDR to its whitelist or security group (gantry doctor --env <env> runs the same check)",
    ]);
    // mysql2 prints a bare ETIMEDOUT (its connectTimeout): the one service is meant.
    expect(explain("Error: connect ETIMEDOUT\n  errorno: 'ETIMEDOUT',", [rds])).toEqual([
      expect.stringMatching(/^the app could not connect to service db \(mysql\): timed out — for a managed database/),
    ]);
  });

  test('a host name that does not resolve, and no route to the host', () => {
    expect(explain('Error: getaddrinfo ENOTFOUND rm-bp1abc.mysql.rds.aliyuncs.com', [rds, cache])).toEqual([
      'the app could not connect to service db (mysql, rm-bp1abc.mysql.rds.aliyuncs.com): the host name does not resolve — check the host of the URL bound to it; a private (VPC) endpoint resolves only inside its VPC',
    ]);
    expect(explain('Error: connect EHOSTUNREACH 172.16.3.4:3306', [rds])).toEqual([
      expect.stringMatching(/^the app could not connect to service db \(mysql, 172\.16\.3\.4:3306\): no route to the host — /),
    ]);
  });

  test('MongoServerSelectionError: the mongodb service, by the kind the message names', () => {
    const log =
      'MongoServerSelectionError: Server selection timed out after 30000 ms\n    at Timeout._onTimeout (/app/node_modules/mongodb/lib/sdam/topology.js:278:38)';
    expect(explain(log, [mongo, cache])).toEqual([expect.stringMatching(/^the app could not connect to service mongo \(mongodb\): timed out — /)]);
    // As the driver prints a refused connection (checked with the mongodb driver 7.9 against a closed port).
    expect(explain('MongoServerSelectionError: connect ECONNREFUSED 10.96.0.5:27017', [mongo, cache])).toEqual([
      'the app could not connect to service mongo (mongodb, 10.96.0.5:27017): connection refused — the instance is not running or not ready',
    ]);
  });

  test('the app connecting to localhost is told it does not read the host Gantry gives it', () => {
    expect(explain('Error: connect ECONNREFUSED 127.0.0.1:5432', [pg])).toEqual([
      'the app connected to 127.0.0.1:5432 (its own container), not to service db (postgresql) — make it read the connection from the environment Gantry sets (by default DATABASE_URL, or PGHOST and PGPORT)',
    ]);
  });
});

describe('refused logins', () => {
  test('mysql2: Access denied for user, with the Secret to blame for an instance', () => {
    const log = "Error: Access denied for user 'app'@'10.244.0.7' (using password: YES)\n  code: 'ER_ACCESS_DENIED_ERROR',\n  errno: 1045,";
    expect(explain(log, [db, cache])).toEqual([
      'the app could not connect to service db (mysql): the password of user app was refused — the Secret data-app-services holds a stale password; for an instance, delete the preview (gantry stop) so it is made again',
    ]);
  });

  test('pg: password authentication failed; a managed database is told to fix the bound URL', () => {
    expect(explain('error: password authentication failed for user "app"', [pg])).toEqual([
      expect.stringContaining('service db (postgresql): the password of user app was refused — the Secret data-app-services holds a stale password'),
    ]);
    const managed: ServiceEndpointHint = { ...pg, binding: 'variable' };
    expect(explain('error: password authentication failed for user "app"', [managed])).toEqual([
      'the app could not connect to service db (postgresql): the password of user app was refused — the URL in the CI variable bound to it has a wrong user or password: correct the variable and deploy again',
    ]);
  });

  test('mongodb: Authentication failed (authSource named for an instance)', () => {
    const log =
      "MongoServerError: Authentication failed.\n    at Connection.onMessage (/app/node_modules/mongodb/lib/cmap/connection.js:202:26) {\n  ok: 0,\n  code: 18,\n  codeName: 'AuthenticationFailed',";
    expect(explain(log, [mongo, cache])).toEqual([
      expect.stringMatching(/^the app could not connect to service mongo \(mongodb\): the password was refused — .*authSource=admin/),
    ]);
  });

  test('redis: WRONGPASS and NOAUTH', () => {
    expect(explain('ReplyError: WRONGPASS invalid username-password pair or user is disabled.', [db, cache])).toEqual([
      expect.stringMatching(/^the app could not connect to service cache \(redis\): the password was refused — the Secret data-app-services/),
    ]);
    expect(explain('[ioredis] Unhandled error event: ReplyError: NOAUTH Authentication required.', [db, cache])).toEqual([
      'the app could not connect to service cache (redis): it sent no password (NOAUTH) — connect with REDIS_URL, which carries the password, or give the client REDIS_PASSWORD',
    ]);
  });

  test('databases that do not exist, and pg_hba', () => {
    expect(explain("Error: Unknown database 'shop'\n  code: 'ER_BAD_DB_ERROR',", [db])).toEqual([
      expect.stringMatching(/^the app could not connect to service db \(mysql\): database shop does not exist — /),
    ]);
    expect(explain('error: database "shop" does not exist', [pg])).toEqual([
      expect.stringMatching(/^the app could not connect to service db \(postgresql\): database shop does not exist — /),
    ]);
    expect(explain('error: no pg_hba.conf entry for host "10.244.0.7", user "app", database "app", no encryption', [{ ...pg, binding: 'secret' }])).toEqual([
      expect.stringMatching(
        /^the app could not connect to service db \(postgresql\): the server refuses connections from 10\.244\.0\.7 \(no pg_hba\.conf entry\) — /,
      ),
    ]);
  });
});

describe('what it never does', () => {
  test('a URL with a password in the log never comes out, whatever matched', () => {
    const log = [
      'connecting to mysql://app:s3cr3t-Pa55@10.96.0.12:3306/shop',
      'Error: connect ECONNREFUSED 10.96.0.12:3306',
      "Error: Access denied for user 'app'@'10.244.0.7' (using password: YES) url=mysql://app:s3cr3t-Pa55@10.96.0.12:3306/shop",
      'getaddrinfo ENOTFOUND app:s3cr3t-Pa55@db',
      'redis://:s3cr3t-Pa55@10.96.0.9:6379/0 ReplyError: WRONGPASS invalid username-password pair',
      'error: password authentication failed for user "s3cr3t-Pa55@x" ',
    ].join('\n');
    const out = explainConnectionFailure(log.split('\n'), [db, cache, { ...pg, service: 'pg' }], secret) ?? [];
    expect(out.length).toBeGreaterThan(2);
    expect(out.join('\n')).not.toContain('s3cr3t');
  });

  test('nothing about connections, or no services: undefined; the same error repeated is said once', () => {
    expect(explain('TypeError: Cannot read properties of undefined (reading "x")', [db])).toBeUndefined();
    expect(explainConnectionFailure(['Error: connect ECONNREFUSED 10.96.0.12:3306'], [])).toBeUndefined();
    expect(explain('Error: connect ECONNREFUSED 10.96.0.12:3306\nError: connect ECONNREFUSED 10.96.0.12:3306', [db])).toHaveLength(1);
    // An HTTP dependency's refusal is not a database's.
    expect(explain('Error: connect ECONNREFUSED 10.96.0.40:8080', [db])).toBeUndefined();
  });

  test('a database port with no such service declared says to declare it', () => {
    expect(explain('Error: connect ECONNREFUSED 10.96.0.30:27017', [db])).toEqual([
      'the app could not connect to 10.96.0.30:27017 (a mongodb port): connection refused — gantry.yaml declares no mongodb service: add one under services:',
    ]);
  });
});
