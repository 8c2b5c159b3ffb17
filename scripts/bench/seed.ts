/**
 * The benchmark's database: a fresh `chat_bench_<hex>` database
 * ({@link createBenchDatabase}; the first server started on it migrates it),
 * then bulk SQL rows ({@link seed}; registering thousands of users through the
 * API would spend minutes in argon2):
 * - `users[i]`: subscriber i, a User with one Session and an access token
 *   (src/auth/tokens.ts, signed with the run's JWT_SECRET, valid 6 h);
 * - `sender`: the user whose token sends every message; OWNER of every room;
 * - `bigRoom`: a GROUP room with all subscribers (fan-out and idle scenarios);
 * - `roomSets[roomSetKey(shape)]`: for each many-rooms shape `{ rooms, perRoom }`,
 *   `rooms` GROUP rooms, room r with subscribers r·perRoom … r·perRoom+perRoom−1
 *   (shapes share users: every set starts at subscriber 0);
 * - `writeRooms` / `rawWriteRooms`: one room per concurrent writer of the writes
 *   scenario (ours / the raw INSERT+PUBLISH loop), so writers do not queue on one room's row lock;
 * - `syncRooms`: `sizes.syncRooms` GROUP rooms of the sender and subscriber 0, the
 *   viewer of the sync scenario (sync.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { AccessTokens } from "../../src/auth/tokens.js";
import { admin } from "../../test/helpers/database.js";
import { databaseUrl } from "../../test/helpers/env.js";

/** A user with a session and a bearer token for it. */
export interface BenchUser {
  userId: string;
  sessionId: string;
  token: string;
}

export interface BenchData {
  sender: BenchUser & { displayName: string };
  users: BenchUser[];
  bigRoom: string;
  /** Room ids of each many-rooms shape, by {@link roomSetKey}. */
  roomSets: Record<string, string[]>;
  writeRooms: string[];
  rawWriteRooms: string[];
  /** The sync scenario's rooms: the sender and users[0] in each. */
  syncRooms: string[];
}

export interface SeedSizes {
  /** Subscribers (users[]), all members of bigRoom. */
  users: number;
  /** Shapes of the many-rooms scenario: `rooms` rooms of `perRoom` subscribers each (rooms × perRoom ≤ users). */
  roomSets: RoomShape[];
  /** Highest writer concurrency of the writes scenario. */
  writers: number;
  /** Rooms of the sync scenario's viewer (0: none). */
  syncRooms: number;
}

/** A set of rooms of the same size: `rooms` rooms, `perRoom` subscribers in each. */
export interface RoomShape {
  rooms: number;
  perRoom: number;
}

/** The key of a room set in {@link BenchData.roomSets}: `<rooms>x<perRoom>`. */
export function roomSetKey(shape: RoomShape): string {
  return `${shape.rooms}x${shape.perRoom}`;
}

/** Creates an empty database of its own; `drop()` removes it (WITH (FORCE): servers still connected are cut off). */
export async function createBenchDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `chat_bench_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Inserts the users, sessions, rooms and memberships of `sizes` into the migrated database at `url`; signs a token per user. */
export async function seed(url: string, jwtSecret: string, sizes: SeedSizes): Promise<BenchData> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const userIds = Array.from({ length: sizes.users + 1 }, () => randomUUID());
    const sessionIds = userIds.map(() => randomUUID());
    const [senderId] = userIds as [string];
    await client.query("BEGIN");
    // user 0 is the sender ("Bench Sender"), users 1… the subscribers ("Bench User<n>")
    await client.query(
      `INSERT INTO "User" (id, username, email, "passwordHash", "firstName", "lastName", "updatedAt")
       SELECT id, 'bench' || n, 'bench' || n || '@bench.invalid', 'not-a-hash', 'Bench', CASE WHEN n = 1 THEN 'Sender' ELSE 'User' || (n - 1) END, now()
       FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
      [userIds],
    );
    await client.query(
      `INSERT INTO "Session" (id, "userId", "refreshTokenHash", "expiresAt")
       SELECT s, u, 'not-a-hash', now() + interval '1 day' FROM unnest($1::uuid[], $2::uuid[]) AS t(s, u)`,
      [sessionIds, userIds],
    );
    const subscribers = userIds.slice(1);
    // every room in one INSERT, every membership in another (the sender is OWNER of each)
    const rooms: { id: string; name: string; members: string[] }[] = [];
    const room = (name: string, members: string[]) => {
      rooms.push({ id: randomUUID(), name, members: [senderId, ...members] });
      return rooms.at(-1)!.id;
    };
    const bigRoom = room("bench big room", subscribers);
    const roomSets: Record<string, string[]> = {};
    for (const shape of sizes.roomSets) {
      const key = roomSetKey(shape);
      if (shape.rooms * shape.perRoom > subscribers.length)
        throw new Error(`room set ${key} needs ${shape.rooms * shape.perRoom} users, ${subscribers.length} seeded`);
      roomSets[key] ??= Array.from({ length: shape.rooms }, (_, r) =>
        room(`bench ${key} room ${r}`, subscribers.slice(r * shape.perRoom, (r + 1) * shape.perRoom)),
      );
    }
    const writeRooms = Array.from({ length: sizes.writers }, (_, w) => room(`bench writes ${w}`, []));
    const rawWriteRooms = Array.from({ length: sizes.writers }, (_, w) => room(`bench raw writes ${w}`, []));
    const syncRooms = Array.from({ length: sizes.syncRooms }, (_, r) => room(`bench sync ${r}`, subscribers.slice(0, 1)));
    await client.query(
      `INSERT INTO "Room" (id, type, name, "maxMembers", "createdById", "updatedAt") SELECT id, 'GROUP', name, 1000000, $3, now() FROM unnest($1::uuid[], $2::text[]) AS t(id, name)`,
      [rooms.map((r) => r.id), rooms.map((r) => r.name), senderId],
    );
    const memberRooms = rooms.flatMap((r) => r.members.map(() => r.id));
    const memberUsers = rooms.flatMap((r) => r.members);
    await client.query(
      `INSERT INTO "RoomMember" ("roomId", "userId", role)
       SELECT r, u, CASE WHEN u = $3::uuid THEN 'OWNER'::"RoomRole" ELSE 'MEMBER'::"RoomRole" END FROM unnest($1::uuid[], $2::uuid[]) AS t(r, u)`,
      [memberRooms, memberUsers, senderId],
    );
    await client.query("COMMIT");

    const tokens = new AccessTokens(jwtSecret, 6 * 3600);
    const users: BenchUser[] = [];
    for (let i = 0; i < userIds.length; i++) {
      const { token } = await tokens.sign({ userId: userIds[i]!, sessionId: sessionIds[i]! });
      users.push({ userId: userIds[i]!, sessionId: sessionIds[i]!, token });
    }
    const [sender, ...rest] = users as [BenchUser, ...BenchUser[]];
    return { sender: { ...sender, displayName: "Bench Sender" }, users: rest, bigRoom, roomSets, writeRooms, rawWriteRooms, syncRooms };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    await client.end();
  }
}
