/**
 * `npm run seed` (scripts/seed.ts) run as a process against a fresh database:
 * the demo's users, rooms, messages, reactions, thread and pin are there, made
 * through the API's services (seqs and event logs consistent); a second run
 * changes nothing.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./helpers/database.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), "chat-seed-"));
});
afterAll(async () => {
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const seed = () =>
  run(process.execPath, ["--import", "tsx", "scripts/seed.ts"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: dataDir, REDIS_URL: "", NODE_ENV: "development" },
  });

async function counts(): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT
      (SELECT count(*) FROM "User")::int AS users,
      (SELECT count(*) FROM "Room")::int AS rooms,
      (SELECT count(*) FROM "Message")::int AS messages,
      (SELECT count(*) FROM "Reaction")::int AS reactions,
      (SELECT count(*) FROM "Message" WHERE "threadRootId" IS NOT NULL)::int AS "threadReplies",
      (SELECT count(*) FROM "Message" WHERE "pinnedAt" IS NOT NULL)::int AS pinned,
      (SELECT count(*) FROM "Room" r WHERE r."lastSeq" <> (SELECT count(*) FROM "Message" m WHERE m."roomId" = r.id))::int AS "roomsWithSeqGaps",
      (SELECT count(*) FROM "Room" r WHERE r."lastEventSeq" <> (SELECT count(*) FROM "StoredEvent" e WHERE e."roomId" = r.id))::int AS "roomsWithEventGaps"`);
    return rows[0];
  } finally {
    await client.end();
  }
}

describe("npm run seed", () => {
  it("fills a demo through the API's services, once", async () => {
    const first = await seed();
    expect(first.stdout).toMatch(/Seeded 5 users, 3 rooms and \d+ messages/);
    const seeded = await counts();
    expect(seeded).toMatchObject({ users: 5, rooms: 3, threadReplies: 3, pinned: 1, roomsWithSeqGaps: 0, roomsWithEventGaps: 0 });
    expect(seeded.messages).toBeGreaterThanOrEqual(300);
    expect(seeded.reactions).toBeGreaterThan(0);

    const second = await seed();
    expect(second.stdout).toMatch(/nothing changed/);
    expect(await counts()).toEqual(seeded);
  }, 120_000);
});
