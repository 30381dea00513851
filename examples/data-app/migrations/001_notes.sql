-- The notes POST /notes writes. The MySQL seed creates the same table, so IF NOT EXISTS: this
-- migration creates it on a managed database that was never seeded and is a no-op after the seed.
CREATE TABLE IF NOT EXISTS notes (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  body VARCHAR(500) NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
