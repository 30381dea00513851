// What the app reads and writes in each kind. The seed data (db/*.sql, scripts/seed-*.js) is the
// "greetings"; the notes are what POST /notes writes, to prove each service takes a write.
//
//   kind        seed data                        notes
//   mysql       table greetings                  table notes (migrations/001_notes.sql)
//   postgresql  table greetings                  table notes (db/postgres-seed.sql)
//   mongodb     collection greetings             collection notes
//   redis       keys greeting:*                  list notes

const NOTES_SHOWN = 20;

/** The seed data of one kind. */
export async function readSeed(kind, client) {
  if (kind === 'mysql') {
    const [rows] = await client.query('SELECT id, message FROM greetings ORDER BY id');
    return rows;
  }
  if (kind === 'postgresql') {
    const { rows } = await client.query('SELECT id, message FROM greetings ORDER BY id');
    return rows;
  }
  if (kind === 'mongodb') {
    return client.db().collection('greetings').find({}).sort({ _id: 1 }).toArray();
  }
  if (kind === 'redis') {
    const keys = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', 'greeting:*', 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    keys.sort();
    const values = keys.length ? await client.mget(keys) : [];
    return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
  }
  throw new Error(`unknown kind ${kind}`);
}

/** Writes one note; returns what identifies it in that kind. */
export async function addNote(kind, client, body) {
  if (kind === 'mysql') {
    const [result] = await client.query('INSERT INTO notes (body) VALUES (?)', [body]);
    return { id: result.insertId };
  }
  if (kind === 'postgresql') {
    const { rows } = await client.query('INSERT INTO notes (body) VALUES ($1) RETURNING id', [body]);
    return { id: rows[0].id };
  }
  if (kind === 'mongodb') {
    const { insertedId } = await client.db().collection('notes').insertOne({ body, createdAt: new Date() });
    return { id: String(insertedId) };
  }
  if (kind === 'redis') {
    const length = await client.rpush('notes', body);
    return { id: length - 1 };
  }
  throw new Error(`unknown kind ${kind}`);
}

/** The latest notes of one kind, oldest first. */
export async function listNotes(kind, client) {
  if (kind === 'mysql') {
    const [rows] = await client.query('SELECT id, body, created_at FROM notes ORDER BY id DESC LIMIT ?', [NOTES_SHOWN]);
    return rows.reverse();
  }
  if (kind === 'postgresql') {
    const { rows } = await client.query('SELECT id, body, created_at FROM notes ORDER BY id DESC LIMIT $1', [NOTES_SHOWN]);
    return rows.reverse();
  }
  if (kind === 'mongodb') {
    const docs = await client.db().collection('notes').find({}).sort({ _id: -1 }).limit(NOTES_SHOWN).toArray();
    return docs.reverse().map((d) => ({ id: String(d._id), body: d.body, createdAt: d.createdAt }));
  }
  if (kind === 'redis') {
    const bodies = await client.lrange('notes', -NOTES_SHOWN, -1);
    return bodies.map((body) => ({ body }));
  }
  throw new Error(`unknown kind ${kind}`);
}
