// The four kinds of data service this app uses, each read from the environment variables Gantry
// gives the app (gantry.yaml `services:`), each optional: a kind is used only when its variables
// are present, so the same image runs with MySQL alone or with all four.
//
// Logs name the host and port a driver connects to, never a password or a whole URL: the
// helpers here are the only place the app turns settings into words.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';

// Long enough for a database that has just become ready, short enough that a pod that cannot
// reach its database crashes with the driver's error instead of hanging in "not ready".
const CONNECT_TIMEOUT_MS = 10_000;

const isUrl = (value, ...schemes) => typeof value === 'string' && schemes.some((s) => value.startsWith(`${s}://`));

// The user:password@ part of a URL, parsed by hand because a MongoDB URI may list several hosts,
// which WHATWG URL refuses.
function splitUrl(url) {
  const scheme = url.slice(0, url.indexOf('://'));
  const rest = url.slice(scheme.length + 3);
  const slash = rest.search(/[/?]/);
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const hosts = at === -1 ? authority : authority.slice(at + 1);
  const colon = userinfo.indexOf(':');
  const password = colon === -1 ? '' : userinfo.slice(colon + 1);
  return { scheme, hosts, password };
}

function withDefaultPort(hosts, port) {
  return hosts
    .split(',')
    .map((h) => (/:\d+$/.test(h) ? h : `${h}:${port}`))
    .join(',');
}

function decoded(value) {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** MySQL settings: the MYSQL_* parts, or else a mysql:// URL in MYSQL_URL or DATABASE_URL. */
export function mysqlSettings(env) {
  if (env.MYSQL_HOST) {
    const port = Number(env.MYSQL_PORT || 3306);
    return {
      kind: 'mysql',
      where: `${env.MYSQL_HOST}:${port}`,
      secrets: [env.MYSQL_PASSWORD],
      options: {
        host: env.MYSQL_HOST,
        port,
        user: env.MYSQL_USER,
        password: env.MYSQL_PASSWORD,
        database: env.MYSQL_DATABASE,
      },
    };
  }
  const url = [env.MYSQL_URL, env.DATABASE_URL].find((u) => isUrl(u, 'mysql'));
  if (!url) return undefined;
  const { hosts, password } = splitUrl(url);
  return { kind: 'mysql', where: withDefaultPort(hosts, 3306), secrets: [password, decoded(password)], options: { uri: url } };
}

/** PostgreSQL settings: a postgres(ql):// URL in DATABASE_URL, or else the libpq PG* variables. */
export function postgresSettings(env) {
  if (isUrl(env.DATABASE_URL, 'postgres', 'postgresql')) {
    const { hosts, password } = splitUrl(env.DATABASE_URL);
    return {
      kind: 'postgresql',
      where: withDefaultPort(hosts, 5432),
      secrets: [password, decoded(password)],
      options: { connectionString: env.DATABASE_URL },
    };
  }
  if (!env.PGHOST) return undefined;
  // pg reads PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE itself.
  return { kind: 'postgresql', where: `${env.PGHOST}:${env.PGPORT || 5432}`, secrets: [env.PGPASSWORD], options: {} };
}

/** MongoDB settings: MONGODB_URI (mongodb:// or mongodb+srv://). */
export function mongoSettings(env) {
  if (!isUrl(env.MONGODB_URI, 'mongodb', 'mongodb+srv')) return undefined;
  const { scheme, hosts, password } = splitUrl(env.MONGODB_URI);
  return {
    kind: 'mongodb',
    where: scheme === 'mongodb+srv' ? hosts : withDefaultPort(hosts, 27017),
    secrets: [password, decoded(password)],
    options: { uri: env.MONGODB_URI },
  };
}

/** Redis settings: REDIS_URL (redis:// or rediss://). */
export function redisSettings(env) {
  if (!isUrl(env.REDIS_URL, 'redis', 'rediss')) return undefined;
  const { hosts, password } = splitUrl(env.REDIS_URL);
  return { kind: 'redis', where: withDefaultPort(hosts, 6379), secrets: [password, decoded(password)], options: { url: env.REDIS_URL } };
}

/** Every configured kind, in a fixed order. */
export function configuredServices(env) {
  return [mysqlSettings(env), postgresSettings(env), mongoSettings(env), redisSettings(env)].filter(Boolean);
}

/**
 * The driver's own words for a failure, with any password blanked. Node 20 reports a refused
 * connection to a name with several addresses as an AggregateError with an empty message, so the
 * inner errors are spelled out.
 */
export function describeError(err, secrets = []) {
  let text;
  if (err?.errors?.length && !err.message) text = err.errors.map((e) => e.message).join('; ');
  else text = err?.message || String(err);
  if (err?.code && !text.includes(err.code)) text = `${err.code}: ${text}`;
  for (const secret of secrets) if (secret && secret.length >= 3) text = text.split(secret).join('***');
  return text;
}

/**
 * Connects to one service and proves it answers (a query, a ping): a wrong password shows here
 * rather than on the first request. Returns the client; throws the driver's error.
 */
export async function connect(settings) {
  const { kind, options } = settings;
  if (kind === 'mysql') {
    const common = { connectTimeout: CONNECT_TIMEOUT_MS, connectionLimit: 5, dateStrings: true };
    const pool = mysql.createPool({ ...options, ...common });
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return pool;
  }
  if (kind === 'postgresql') {
    const pool = new pg.Pool({ ...options, max: 5, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // An idle client that loses its server emits 'error'; unhandled, it would kill the process.
    pool.on('error', (err) => console.error(`postgresql: idle client error: ${describeError(err, settings.secrets)}`));
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return pool;
  }
  if (kind === 'mongodb') {
    const client = new MongoClient(options.uri, { serverSelectionTimeoutMS: CONNECT_TIMEOUT_MS, connectTimeoutMS: CONNECT_TIMEOUT_MS });
    try {
      await client.connect();
      await client.db().command({ ping: 1 });
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
    return client;
  }
  if (kind === 'redis') {
    let ready = false;
    const client = new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: 2,
      // Give up at once on the first connection (the caller exits with the error); reconnect
      // with a bounded backoff once the app has been running.
      retryStrategy: (times) => (ready ? Math.min(times * 200, 2000) : null),
    });
    // ioredis rejects connect() with a bare "Connection is closed."; the cause (ECONNREFUSED,
    // WRONGPASS, NOAUTH...) comes as an 'error' event first, and that is what the log must show.
    let cause;
    client.on('error', (err) => {
      if (ready) console.error(`redis: ${describeError(err, settings.secrets)}`);
      else cause ??= err;
    });
    try {
      await client.connect();
      // Without a password in the URL the connection opens and the first command answers NOAUTH.
      await client.ping();
    } catch (err) {
      client.disconnect();
      throw cause ?? err;
    }
    ready = true;
    return client;
  }
  throw new Error(`unknown kind ${kind}`);
}

/** Closes a client made by connect(). */
export async function close(settings, client) {
  if (settings.kind === 'redis') return client.quit();
  if (settings.kind === 'mongodb') return client.close();
  return client.end();
}
