-- data-app's MySQL seed (gantry.yaml services.mysql.seed.file). The database image runs it once,
-- when its data directory is new, in the database named by MYSQL_DATABASE: plain SQL, no USE.
-- Safe to re-run: IF NOT EXISTS and INSERT IGNORE on a unique message.
CREATE TABLE IF NOT EXISTS greetings (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  message VARCHAR(200) NOT NULL,
  UNIQUE KEY greetings_message (message)
);

INSERT IGNORE INTO greetings (message) VALUES
  ('hello from the mysql seed'),
  ('the preview has its own MariaDB'),
  ('seeded once, when the instance was new');

-- The same table as migrations/001_notes.sql, so the app works on a seeded instance before or
-- without the migration, and the migration is a no-op after the seed.
CREATE TABLE IF NOT EXISTS notes (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  body VARCHAR(500) NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
