// Connects to one of the data images with the real npm driver and prints one JSON line:
// { ok, rows, wrongPasswordRefused, ms }. Used by images/data/selftest.sh, from a temporary
// directory holding mysql2, pg, mongodb and ioredis (not the repo's dependencies).
//   node check.mjs <mysql|postgresql|mongodb|redis> <host> <port> <user> <password> <db> [deadline ms]
// "rows" is what the seed wrote: the row count of table/collection "seeded" (redis: the
// value of the key "seeded"), so a seed run twice shows up as 2.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.DRIVERS_DIR ?? process.cwd(), 'package.json'));
const [kind, host, portText, user, password, db, deadlineText] = process.argv.slice(2);
const port = Number(portText);
const deadline = Date.now() + Number(deadlineText ?? 30000);
const started = Date.now();

async function query(pw) {
  switch (kind) {
    case 'mysql': {
      const mysql = require('mysql2/promise');
      const c = await mysql.createConnection({ host, port, user, password: pw, database: db, connectTimeout: 2000 });
      try {
        const [rows] = await c.query('SELECT COUNT(*) AS n FROM seeded');
        return Number(rows[0].n);
      } finally {
        await c.end();
      }
    }
    case 'postgresql': {
      const { Client } = require('pg');
      const c = new Client({ host, port, user, password: pw, database: db, connectionTimeoutMillis: 2000 });
      await c.connect();
      try {
        const r = await c.query('SELECT COUNT(*)::int AS n FROM seeded');
        return r.rows[0].n;
      } finally {
        await c.end();
      }
    }
    case 'mongodb': {
      const { MongoClient } = require('mongodb');
      const uri = `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@${host}:${port}/${db}?authSource=admin`;
      const c = new MongoClient(uri, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
      try {
        await c.connect();
        const col = c.db().collection('seeded');
        // no mongosh in the image: the seed is written here, once, guarded by a marker
        if ((await c.db().collection('marker').countDocuments()) === 0) {
          await col.insertOne({ at: new Date() });
          await c.db().collection('marker').insertOne({ seeded: true });
        }
        return await col.countDocuments();
      } finally {
        await c.close();
      }
    }
    case 'redis': {
      const Redis = require('ioredis');
      // a refused AUTH rejects connect() with "Connection is closed"; the reason (WRONGPASS)
      // comes as an error event, so the rejection carries it
      const c = new Redis({ host, port, password: pw, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
      let reason = '';
      c.on('error', (e) => {
        reason = e.message;
      });
      try {
        await c.connect().catch((e) => {
          throw new Error(`${e.message} ${reason}`);
        });
        return Number(await c.incr('seeded'));
      } finally {
        c.disconnect();
      }
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

let rows;
let lastError;
for (;;) {
  try {
    rows = await query(password);
    break;
  } catch (e) {
    lastError = e;
    if (Date.now() > deadline) {
      console.log(JSON.stringify({ ok: false, error: String(e?.message ?? e) }));
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
const ms = Date.now() - started;
let wrongPasswordRefused = false;
try {
  await query(`${password}-wrong`);
} catch (e) {
  wrongPasswordRefused = /auth|password|denied|WRONGPASS|NOAUTH/i.test(String(e?.message ?? e));
  if (!wrongPasswordRefused) console.error(`wrong password gave: ${e?.message}`);
}
void lastError;
console.log(JSON.stringify({ ok: true, rows, wrongPasswordRefused, ms }));
