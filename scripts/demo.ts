/**
 * The demo that `npm run seed` (scripts/seed.ts) puts in a database, made through
 * the services the API uses, so seqs, event logs and counters are all as if
 * people had chatted: the five {@link DEMO_PEOPLE} (password {@link DEMO_PASSWORD}),
 * a PUBLIC, a GROUP and a DIRECT room, a few hundred messages with replies, a
 * thread, reactions, a pin and read markers.
 *
 * Every step finds what an earlier run made before making it, so a run that
 * stopped half way (killed, or PostgreSQL gone) is finished by the next one:
 * 1. the demo users are looked up by username, and only the missing ones registered;
 * 2. the PUBLIC and GROUP rooms are looked up by name and creator (each is made in
 *    one transaction, members included); the DIRECT room is the pair's one;
 * 3. each message has a clientMessageId of its own (`demo:<room>:<n>`), so sending it
 *    again returns the stored one (chat/messages.ts), keeping seqs gapless;
 * 4. joins, reactions, read markers and the pin change nothing the second time.
 * The pin comes last: when it is there the demo is whole, and a run changes nothing.
 * The README's examples use other usernames (test/readme.test.ts).
 */
import { verifyPassword } from "../src/auth/passwords.js";
import type { App } from "../src/context.js";
import type { Room, User } from "../src/generated/prisma/client.js";

/** The password of every demo user. */
export const DEMO_PASSWORD = "correct horse battery";

/** The demo's users; each one's email is `<username>@example.com`. */
export const DEMO_PEOPLE = [
  { username: "ada", firstName: "Ada", lastName: "Lovelace" },
  { username: "grace", firstName: "Grace", lastName: "Hopper" },
  { username: "alan", firstName: "Alan", lastName: "Turing" },
  { username: "hedy", firstName: "Hedy", lastName: "Lamarr" },
  { username: "edsger", firstName: "Edsger", lastName: "Dijkstra" },
] as const;

const emailOf = (username: string) => `${username}@example.com`;

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

/** Thrown by {@link seedDemo}, before it changes anything, when a demo username or email belongs to an account that is not the demo's. */
export class DemoConflict extends Error {
  override name = "DemoConflict";
}

/** What {@link seedDemo} found: the demo whole already (`made: false`), or what it holds now that it is. */
export type DemoOutcome = { made: false } | { made: true; users: number; rooms: number; messages: number };

/**
 * Makes the demo in `app`'s database, or finishes the part of it an earlier run made.
 * @throws DemoConflict when a demo username or email is another account's (another
 * password, or another email): the demo's documented logins could not work, and
 * taking that account over is not the seed's business.
 */
export async function seedDemo(app: App): Promise<DemoOutcome> {
  const existing = await demoUsersIn(app);
  const first = existing.get(DEMO_PEOPLE[0].username); // ada, who pins the thread root last
  if (existing.size === DEMO_PEOPLE.length && first && (await pinnedRoot(app, first))) return { made: false };

  const users: User[] = [];
  for (const { username, firstName, lastName } of DEMO_PEOPLE) {
    users.push(
      existing.get(username) ??
        (await app.sessions.register({ username, email: emailOf(username), password: DEMO_PASSWORD, firstName, lastName })).user,
    );
  }
  const [ada, grace, alan, hedy, edsger] = users as [User, User, User, User, User];
  const lobby = await roomMadeBy(app, ada, "PUBLIC", "General", () =>
    app.rooms.create(ada.id, { name: "General", description: "Everyone is welcome", type: "PUBLIC" }),
  );
  for (const u of [grace, alan, hedy, edsger]) await app.rooms.join(u.id, lobby.id);
  const project = await roomMadeBy(app, grace, "GROUP", "Project X", () =>
    app.rooms.create(grace.id, { name: "Project X", description: "The secret one", type: "GROUP", memberIds: [ada.id, alan.id] }),
  );
  const direct = await app.rooms.direct(ada.id, grace.id);

  const send = (
    sender: User,
    roomId: string,
    clientMessageId: string,
    content: string,
    more: { replyToId?: string | null; threadRootId?: string } = {},
  ) => app.messages.send({ userId: sender.id, sessionId: null }, { roomId, content, clientMessageId, ...more });
  for (const [key, room, members] of [
    ["general", lobby, users],
    ["project", project, [grace, ada, alan]],
    ["direct", direct, [ada, grace]],
  ] as const) {
    let previous: string | null = null;
    for (let i = 0; i < MESSAGES_PER_ROOM; i++) {
      const mention = i === 7 ? ` @${members[(i + 1) % members.length]!.username}` : "";
      const message = await send(members[i % members.length]!, room.id, `demo:${key}:${i}`, `${LINES[i % LINES.length]}${mention}`, {
        replyToId: i % 9 === 4 ? previous : null,
      });
      if (i % 6 === 0) await app.messages.react(members[(i + 1) % members.length]!.id, message.id, i % 12 === 0 ? "🎉" : "👍", true);
      previous = message.id;
    }
    for (const m of members) await app.messages.markRead(m.id, room.id, previous!);
  }
  const root = await send(ada, lobby.id, "demo:offsite", "Ideas for the offsite? Reply in the thread");
  for (const [n, [u, idea]] of (
    [
      [grace, "A lake"],
      [alan, "Mountains!"],
      [edsger, "Anywhere with good coffee"],
    ] as const
  ).entries()) {
    await send(u, lobby.id, `demo:offsite:${n}`, idea, { threadRootId: root.id });
  }
  await app.messages.pin(ada.id, root.id, true);

  const rooms = [lobby.id, project.id, direct.id];
  return {
    made: true,
    users: users.length,
    rooms: rooms.length,
    messages: await app.db.message.count({ where: { roomId: { in: rooms } } }),
  };
}

/**
 * The demo users already there, by username.
 * @throws DemoConflict naming the first account that holds a demo username or email without being that demo user.
 */
async function demoUsersIn(app: App): Promise<Map<string, User>> {
  const usernames: ReadonlySet<string> = new Set(DEMO_PEOPLE.map((p) => p.username));
  const found = await app.db.user.findMany({
    where: { OR: [{ username: { in: [...usernames] } }, { email: { in: [...usernames].map(emailOf) } }] },
  });
  for (const user of found) {
    const conflict = !usernames.has(user.username)
      ? `user "${user.username}" has the demo's email ${user.email}`
      : user.email !== emailOf(user.username)
        ? `user "${user.username}" is there with another email (${user.email}) than the demo's`
        : !(await verifyPassword(user.passwordHash, DEMO_PASSWORD))
          ? `user "${user.username}" is there with another password than the demo's`
          : null;
    if (conflict) throw new DemoConflict(conflict);
  }
  return new Map(found.map((u) => [u.username, u]));
}

/** True when the demo's last step is done: ada's thread root is pinned. */
async function pinnedRoot(app: App, ada: User): Promise<boolean> {
  const root = await app.db.message.findUnique({
    where: { senderId_clientMessageId: { senderId: ada.id, clientMessageId: "demo:offsite" } },
    select: { pinnedAt: true },
  });
  return root?.pinnedAt != null;
}

/** `creator`'s room of that type and name, made by `make` when there is none (an earlier run stopped before). */
async function roomMadeBy(app: App, creator: User, type: "PUBLIC" | "GROUP", name: string, make: () => Promise<Room>): Promise<Room> {
  return (await app.db.room.findFirst({ where: { createdById: creator.id, type, name } })) ?? make();
}
