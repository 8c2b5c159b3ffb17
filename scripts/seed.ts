/**
 * `npm run seed`: fills the configured database (DATABASE_URL, or the embedded
 * default) with a demo, through the same services the API uses, so seqs, event
 * logs and counters are all as if people had chatted: five users (password
 * "correct horse battery"), a PUBLIC, a GROUP and a DIRECT room, a few hundred
 * messages with replies, a thread, reactions, a pin and read markers.
 * Run it once: when the demo users exist it says so and changes nothing.
 */
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { makeLogger } from "../src/logger.js";

const PASSWORD = "correct horse battery";
const PEOPLE = [
  ["alice", "Alice", "Liddell"],
  ["bob", "Bob", "Builder"],
  ["carol", "Carol", "Danvers"],
  ["dave", "Dave", "Bowman"],
  ["erin", "Erin", "Brockovich"],
] as const;
const LINES = [
  "Morning all!",
  "Has anyone seen the new build?",
  "Deploying to staging now",
  "Looks good to me 👍",
  "Can we move the sync to 3 pm?",
  "I'll write the release notes",
  "Lunch?",
  "The tests are green again",
  "Who has the keys to the demo room?",
  "Shipping it 🚀",
] as const;
const MESSAGES_PER_ROOM = 120;

const config = loadConfig();
const logger = makeLogger("warn", false);
const { app, close } = await startApp(config, logger);
try {
  if (await app.db.user.findUnique({ where: { username: "alice" } })) {
    console.log("The demo is there already (user alice exists); nothing changed.");
  } else {
    const users = [];
    for (const [username, firstName, lastName] of PEOPLE) {
      users.push((await app.sessions.register({ username, email: `${username}@example.com`, password: PASSWORD, firstName, lastName })).user);
    }
    const [alice, bob, carol, dave, erin] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0], (typeof users)[0], (typeof users)[0]];
    const lobby = await app.rooms.create(alice.id, { name: "General", description: "Everyone is welcome", type: "PUBLIC" });
    for (const u of [bob, carol, dave, erin]) await app.rooms.join(u.id, lobby.id);
    const project = await app.rooms.create(bob.id, { name: "Project X", description: "The secret one", type: "GROUP", memberIds: [alice.id, carol.id] });
    const direct = await app.rooms.direct(alice.id, bob.id);

    let sent = 0;
    for (const [room, members] of [
      [lobby, users],
      [project, [bob, alice, carol]],
      [direct, [alice, bob]],
    ] as const) {
      let previous: string | null = null;
      for (let i = 0; i < MESSAGES_PER_ROOM; i++) {
        const sender = members[i % members.length]!;
        const message = await app.messages.send({ userId: sender.id, sessionId: null }, {
          roomId: room.id,
          content: `${LINES[i % LINES.length]}${i === 7 ? ` @${members[(i + 1) % members.length]!.username}` : ""}`,
          replyToId: i % 9 === 4 ? previous : null,
        });
        if (i % 6 === 0) await app.messages.react(members[(i + 1) % members.length]!.id, message.id, i % 12 === 0 ? "🎉" : "👍", true);
        previous = message.id;
        sent++;
      }
      const last = previous!;
      for (const m of members) await app.messages.markRead(m.id, room.id, last);
    }
    const root = await app.messages.send({ userId: alice.id, sessionId: null }, { roomId: lobby.id, content: "Ideas for the offsite? Reply in the thread" });
    for (const [u, idea] of [
      [bob, "A lake"],
      [carol, "Mountains!"],
      [erin, "Anywhere with good coffee"],
    ] as const) {
      await app.messages.send({ userId: u.id, sessionId: null }, { roomId: lobby.id, content: idea, threadRootId: root.id });
      sent++;
    }
    await app.messages.pin(alice.id, root.id, true);
    console.log(`Seeded ${users.length} users, 3 rooms and ${sent + 1} messages. Log in as alice, bob, carol, dave or erin with "${PASSWORD}".`);
  }
} finally {
  await close();
}
