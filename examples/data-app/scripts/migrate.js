// npm run migrate: applies migrations/*.sql to MySQL in name order, each once, recording the
// applied ones in the table schema_migrations. Gantry runs it as a Job with the new image before
// the rollout (gantry.yaml backend.migrate); a failure prints the SQL error, exits 1, and the
// deploy stops with the running version untouched.
//
// To add a migration, add migrations/NNN_what.sql. MySQL commits DDL as it goes, so a file that
// fails half-way is not rolled back: keep one change per file and make it safe to re-run
// (IF NOT EXISTS), as 001_notes.sql is.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mysqlSettings, connect, describeError } from '../lib/services.js';

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

async function main() {
  const settings = mysqlSettings(process.env);
  if (!settings) {
    console.error('migrate: no MySQL configured: set MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE (or a mysql:// MYSQL_URL)');
    return 1;
  }
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
  console.log(`migrate: ${files.length} migration file(s); connecting to MySQL at ${settings.where}`);
  let pool;
  try {
    // Several statements per file: the file is the unit of a migration.
    pool = await connect({ ...settings, options: { ...settings.options, multipleStatements: true } });
  } catch (err) {
    console.error(`migrate: cannot connect to MySQL at ${settings.where}: ${describeError(err, settings.secrets)}`);
    return 1;
  }
  try {
    await pool.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(255) NOT NULL PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)',
    );
    const [rows] = await pool.query('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    let count = 0;
    for (const file of files) {
      if (applied.has(file)) continue;
      const sql = await readFile(path.join(migrationsDir, file), 'utf8');
      const started = Date.now();
      try {
        await pool.query(sql);
      } catch (err) {
        console.error(`migrate: ${file} failed: ${describeError(err, settings.secrets)}`);
        return 1;
      }
      await pool.query('INSERT INTO schema_migrations (version) VALUES (?)', [file]);
      count += 1;
      console.log(`migrate: applied ${file} (${Date.now() - started} ms)`);
    }
    console.log(count ? `migrate: done, ${count} applied` : `migrate: up to date (${applied.size} applied before)`);
    return 0;
  } catch (err) {
    console.error(`migrate: ${describeError(err, settings.secrets)}`);
    return 1;
  } finally {
    await pool.end();
  }
}

process.exitCode = await main();
