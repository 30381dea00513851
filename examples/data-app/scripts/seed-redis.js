// data-app's Redis seed: a seed *command* (gantry.yaml services.cache.seed.command), which Gantry
// runs once as a Job with the app's image and environment when the instance is new. Idempotent:
// SET NX leaves a key that is already there.
import { redisSettings, connect, describeError } from '../lib/services.js';

const greetings = {
  'greeting:1': 'hello from the redis seed',
  'greeting:2': 'the preview has its own Redis',
  'greeting:3': 'seeded once, when the instance was new',
};

async function main() {
  const settings = redisSettings(process.env);
  if (!settings) {
    console.log('seed-redis: REDIS_URL is not set: nothing to seed');
    return 0;
  }
  console.log(`seed-redis: connecting to ${settings.where}`);
  let client;
  try {
    client = await connect(settings);
  } catch (err) {
    console.error(`seed-redis: cannot connect to ${settings.where}: ${describeError(err, settings.secrets)}`);
    return 1;
  }
  try {
    let set = 0;
    for (const [key, value] of Object.entries(greetings)) {
      if ((await client.set(key, value, 'NX')) === 'OK') set += 1;
    }
    console.log(`seed-redis: ${set} key(s) set, ${Object.keys(greetings).length - set} already there`);
    return 0;
  } catch (err) {
    console.error(`seed-redis: ${describeError(err, settings.secrets)}`);
    return 1;
  } finally {
    await client.quit();
  }
}

process.exitCode = await main();
