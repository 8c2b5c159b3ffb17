/**
 * `npm run seed` (scripts/seed.ts) run as a process: on a fresh database the
 * demo's users, rooms, messages, reactions, thread, pin and read markers are
 * there, made through the API's services (seqs and event logs consistent); a
 * second run changes nothing; a run that stopped half way, on a database where a
 * demo user was there before it, is finished by the next one, to the same demo,
 * and the documented logins work; an account of another password under a demo
 * username stops it with a one-line reason, having changed nothing.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_PASSWORD, DEMO_PEOPLE } from "../scripts/demo.js";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import type { App } from "../src/context.js";
import { createTestDatabase } from "./helpers/database.js";
import { TEST_JWT_SECRET } from "./helpers/server.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
type Database = Awaited<ReturnType<typeof createTestDatabase>>;

let dataDir: string;
const databases: Database[] = [];
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "chat-seed-"));
});
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await rm(dataDir, { recursive: true, force: true });
});

async function database(): Promise<Database> {
  const created = await createTestDatabase();
  databases.push(created);
  return created;
}

const seedArgs = ["--import", "tsx", "scripts/seed.ts"];
const seedEnv = (db: Database) => ({ ...process.env, DATABASE_URL: db.url, DATA_DIR: dataDir, REDIS_URL: "", NODE_ENV: "development" });
const seed = (db: Database) => run(process.execPath, seedArgs, { cwd: root, env: seedEnv(db) });

/** The demo as counted in SQL on a fresh database (3 rooms × 120 messages, a thread root and its 3 replies; a reaction on every 6th; 10 read markers). */
const DEMO = {
  users: 5,
  rooms: 3,
  messages: 364,
  reactions: 60,
  threadReplies: 3,
  pinned: 1,
  readMarkers: 10,
  roomsWithSeqGaps: 0,
  roomsWithEventGaps: 0,
};

async function counts(db: Database): Promise<typeof DEMO> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT
      (SELECT count(*) FROM "User")::int AS users,
      (SELECT count(*) FROM "Room")::int AS rooms,
      (SELECT count(*) FROM "Message")::int AS messages,
      (SELECT count(*) FROM "Reaction")::int AS reactions,
      (SELECT count(*) FROM "Message" WHERE "threadRootId" IS NOT NULL)::int AS "threadReplies",
      (SELECT count(*) FROM "Message" WHERE "pinnedAt" IS NOT NULL)::int AS pinned,
      (SELECT count(*) FROM "RoomMember" WHERE "lastReadSeq" > 0)::int AS "readMarkers",
      (SELECT count(*) FROM "Room" r WHERE r."lastSeq" <> (SELECT count(*) FROM "Message" m WHERE m."roomId" = r.id))::int AS "roomsWithSeqGaps",
      (SELECT count(*) FROM "Room" r WHERE r."lastEventSeq" <> (SELECT count(*) FROM "StoredEvent" e WHERE e."roomId" = r.id))::int AS "roomsWithEventGaps"`);
    return rows[0];
  } finally {
    await client.end();
  }
}

/** Runs `fn` with the app's services on `db` (as the server runs them), and closes them. */
async function withApp<T>(db: Database, fn: (app: App) => Promise<T>): Promise<T> {
  const config = loadConfig({
    NODE_ENV: "test",
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: dataDir,
    ATTACHMENTS_DIR: join(dataDir, "attachments"),
  });
  const { app, close } = await startApp(config, pino({ level: "silent" }));
  try {
    return await fn(app);
  } finally {
    await close();
  }
}

const register = (app: App, username: string, password: string) =>
  app.sessions.register({ username, email: `${username}@example.com`, password, firstName: username, lastName: "Before" });

describe("npm run seed", () => {
  it("fills a demo through the API's services, once", async () => {
    const db = await database();
    const first = await seed(db);
    expect(first.stdout).toMatch(`Seeded 5 users, 3 rooms and ${DEMO.messages} messages`);
    expect(await counts(db)).toEqual(DEMO);

    const second = await seed(db);
    expect(second.stdout).toMatch(/The demo is there already; nothing changed/);
    expect(await counts(db)).toEqual(DEMO);
  }, 120_000);

  it("finishes a demo that a run left half made, where a demo user was there before it; the documented logins work", async () => {
    const db = await database();
    const [, before] = DEMO_PEOPLE;
    await withApp(db, (app) => register(app, before.username, DEMO_PASSWORD));

    // a run stopped half way: killed once it has sent some messages
    const child = spawn(process.execPath, seedArgs, { cwd: root, env: seedEnv(db), stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    while ((await counts(db)).messages < 40) {
      expect(child.exitCode, "the first run ended before it was stopped").toBeNull();
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    await exited;
    const half = await counts(db);
    expect(half.users).toBe(5);
    expect(half.messages).toBeLessThan(DEMO.messages);

    expect((await seed(db)).stdout).toMatch(`Seeded 5 users, 3 rooms and ${DEMO.messages} messages`);
    expect(await counts(db)).toEqual(DEMO);
    await withApp(db, async (app) => {
      for (const { username } of DEMO_PEOPLE)
        expect((await app.sessions.login({ login: username, password: DEMO_PASSWORD })).user.username).toBe(username);
    });
    expect((await seed(db)).stdout).toMatch(/nothing changed/);
  }, 180_000);

  it("stops with a one-line reason, changing nothing, when a demo username is another account's", async () => {
    const db = await database();
    const [, , taken] = DEMO_PEOPLE;
    await withApp(db, (app) => register(app, taken.username, "another password entirely"));

    const failed = await seed(db).then(
      () => expect.unreachable("the seed should fail"),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim()).toBe(
      `npm run seed: user "${taken.username}" is there with another password than the demo's; nothing changed. Remove that account, or seed another database (DATABASE_URL).`,
    );
    expect(await counts(db)).toMatchObject({ users: 1, rooms: 0, messages: 0 });
  }, 120_000);
});
