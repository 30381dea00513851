-- data-app's PostgreSQL seed (gantry.yaml services.pg.seed.file). The database image runs it once,
-- when its data directory is new, in the database named by POSTGRES_DB as POSTGRES_USER (the
-- app's user, who thus owns the tables): plain SQL, no \connect. Safe to re-run.
CREATE TABLE IF NOT EXISTS greetings (
  id SERIAL PRIMARY KEY,
  message TEXT NOT NULL UNIQUE
);

INSERT INTO greetings (message) VALUES
  ('hello from the postgres seed'),
  ('the preview has its own PostgreSQL'),
  ('seeded once, when the instance was new')
ON CONFLICT (message) DO NOTHING;

-- The notes POST /notes writes (the migrations in migrations/ are MySQL's; PostgreSQL gets its
-- table from the seed).
CREATE TABLE IF NOT EXISTS notes (
  id SERIAL PRIMARY KEY,
  body TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
