/**
 * `npm run seed`: puts the demo (scripts/demo.ts) in the configured database
 * (DATABASE_URL, or the embedded default), or finishes the part of it an earlier
 * run made; when it is whole already, says so and changes nothing.
 * Exits with 1 and a one-line reason, having changed nothing, when a demo
 * username or email is another account's.
 */
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { makeLogger } from "../src/logger.js";
import { DEMO_PASSWORD, DEMO_PEOPLE, DemoConflict, seedDemo } from "./demo.js";

const { app, close } = await startApp(loadConfig(), makeLogger("warn", false));
try {
  const outcome = await seedDemo(app);
  const logins = `Log in as ${DEMO_PEOPLE.map((p) => p.username).join(", ")} with "${DEMO_PASSWORD}".`;
  if (!outcome.made) console.log(`The demo is there already; nothing changed. ${logins}`);
  else console.log(`Seeded ${outcome.users} users, ${outcome.rooms} rooms and ${outcome.messages} messages. ${logins}`);
} catch (e) {
  if (!(e instanceof DemoConflict)) throw e;
  console.error(`npm run seed: ${e.message}; nothing changed. Remove that account, or seed another database (DATABASE_URL).`);
  process.exitCode = 1;
} finally {
  await close();
}
