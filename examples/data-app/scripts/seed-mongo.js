// data-app's MongoDB seed: a seed *command* (gantry.yaml services.mongo.seed.command), which
// Gantry runs once as a Job with the app's image and environment when the instance is new. It is
// a node script with the app's own driver because the image has no mongosh. Idempotent: each
// greeting has a fixed _id and is upserted, so a second run changes nothing.
import { mongoSettings, connect, describeError } from '../lib/services.js';

const greetings = [
  { _id: 'seed-1', message: 'hello from the mongodb seed' },
  { _id: 'seed-2', message: 'the preview has its own MongoDB (FerretDB in the tests)' },
  { _id: 'seed-3', message: 'seeded once, when the instance was new' },
];

async function main() {
  const settings = mongoSettings(process.env);
  if (!settings) {
    console.log('seed-mongo: MONGODB_URI is not set: nothing to seed');
    return 0;
  }
  console.log(`seed-mongo: connecting to ${settings.where}`);
  let client;
  try {
    client = await connect(settings);
  } catch (err) {
    console.error(`seed-mongo: cannot connect to ${settings.where}: ${describeError(err, settings.secrets)}`);
    return 1;
  }
  try {
    const collection = client.db().collection('greetings');
    let upserted = 0;
    for (const { _id, message } of greetings) {
      const result = await collection.updateOne({ _id }, { $set: { message } }, { upsert: true });
      upserted += result.upsertedCount;
    }
    console.log(`seed-mongo: ${upserted} greeting(s) inserted, ${greetings.length - upserted} already there`);
    return 0;
  } catch (err) {
    console.error(`seed-mongo: ${describeError(err, settings.secrets)}`);
    return 1;
  } finally {
    await client.close();
  }
}

process.exitCode = await main();
