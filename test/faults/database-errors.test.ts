import { randomBytes } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makePrisma } from "../../src/db/client.js";
import { isDatabaseUnavailable } from "../../src/db/errors.js";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { gql, registerUser, type TestUser } from "../helpers/client.js";
import { admin } from "../helpers/database.js";
import { freePort } from "../helpers/node-process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** What `promise` rejects with. @throws if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/**
 * Which database errors are retryable (db/errors.ts isDatabaseUnavailable), on
 * errors produced for real by Prisma over @prisma/adapter-pg, and that the server
 * answers them with SERVICE_UNAVAILABLE. The known case: under heavy fan-out
 * sendMessage's interactive transaction can outlive its 5 s timeout, and Prisma
 * then throws P2028, which used to reach clients as INTERNAL_SERVER_ERROR; and
 * the pool exhausted, which Prisma reports as P2028 ("Unable to start a
 * transaction in the given time") or, with a pg `connectionTimeoutMillis`, as
 * node-postgres' own error, passed through raw. A plain `pg.Pool` (the write
 * pool) throws node-postgres' errors as they are: those are checked too.
 * (A PostgreSQL that goes away for real: postgres-restart.test.ts.)
 */
describe("database errors", () => {
  let server: TestServer;
  let alice: TestUser;
  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, "alice");
  });
  afterAll(() => server.close());

  /** A real P2028: an interactive transaction that outlives its timeout. */
  const expiredTransaction = () =>
    rejection(
      server.app.db.$transaction(
        async (tx) => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          return tx.user.count();
        },
        { timeout: 50 },
      ),
    );

  it("counts an unreachable server and an expired transaction as unavailable, a constraint violation not", async () => {
    const nobody = makePrisma(`postgresql://postgres@127.0.0.1:${await freePort()}/chat`, 1);
    try {
      expect(isDatabaseUnavailable(await rejection(nobody.user.count()))).toBe(true);
      expect(isDatabaseUnavailable(await rejection(nobody.$transaction(async (tx) => tx.user.count())))).toBe(true);
    } finally {
      await nobody.$disconnect();
    }
    const expired = await expiredTransaction();
    expect(expired).toMatchObject({ code: "P2028" });
    expect(isDatabaseUnavailable(expired)).toBe(true);

    const duplicate = await rejection(
      server.app.db.user.create({
        data: { username: alice.username, email: "other@example.com", passwordHash: "x", firstName: "a", lastName: "b" },
      }),
    );
    expect(duplicate).toMatchObject({ code: "P2002" });
    expect(isDatabaseUnavailable(duplicate)).toBe(false);
    expect(isDatabaseUnavailable(new Error("a bug"))).toBe(false);
  });

  it("answers a sendMessage whose transaction expired with SERVICE_UNAVAILABLE, not an unexpected error, and logs the original", async () => {
    const room = await gql(server.url, `mutation { createRoom(input: { name: "Busy", type: GROUP }) { id } }`, {}, alice.accessToken);
    vi.spyOn(server.app.messages, "send").mockRejectedValueOnce(await expiredTransaction());
    const logged = vi.spyOn(server.app.logger, "error").mockClear();
    const result = await gql(
      server.url,
      `mutation($r: ID!) { sendMessage(input: { roomId: $r, content: "hi", clientMessageId: "k1" }) { id } }`,
      { r: room.data.createRoom.id },
      alice.accessToken,
    );
    expect(result.errors).toEqual([
      {
        message: "Database unavailable; retry later",
        path: ["sendMessage"],
        locations: expect.any(Array),
        extensions: { code: "SERVICE_UNAVAILABLE" },
      },
    ]);
    // for the operator: the original, once
    expect(logged).toHaveBeenCalledTimes(1);
    expect(JSON.stringify(logged.mock.calls[0])).toContain("expired transaction");
  });

  /** Holds every connection of a pool of one for `ms` (an interactive transaction that sleeps), so the next caller waits. */
  const holdOnly = (db: { $transaction: PrismaClient["$transaction"] }, ms: number) =>
    db.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_sleep(${ms / 1000})`;
      },
      { timeout: ms + 5000 },
    );

  it("counts a transaction that could not get a connection within maxWait as unavailable (P2028)", async () => {
    const db = makePrisma(server.app.config.DATABASE_URL!, 1);
    try {
      const held = holdOnly(db, 600);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Prisma waits for the connection however long it takes, then gives it back and throws, when maxWait has passed
      const late = await rejection(db.$transaction(async (tx) => tx.user.count(), { maxWait: 50 }));
      expect(late).toMatchObject({ code: "P2028", message: expect.stringContaining("Unable to start a transaction in the given time") });
      expect(isDatabaseUnavailable(late)).toBe(true);
      await held;
    } finally {
      await db.$disconnect();
    }
  });

  it("counts node-postgres' pool timeout as unavailable, passed through Prisma raw", async () => {
    const db = new PrismaClient({
      adapter: new PrismaPg({ connectionString: server.app.config.DATABASE_URL!, max: 1, connectionTimeoutMillis: 100 }),
    });
    try {
      const held = holdOnly(db, 800);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const waiting = [
        rejection(db.user.count()),
        rejection(db.$queryRaw`SELECT 1`),
        rejection(db.$transaction(async (tx) => tx.user.count())),
      ];
      for (const timedOut of await Promise.all(waiting)) {
        expect(timedOut).toMatchObject({ message: "timeout exceeded when trying to connect" });
        expect(isDatabaseUnavailable(timedOut)).toBe(true);
      }
      await held;
    } finally {
      await db.$disconnect();
    }
  });

  describe("node-postgres' own errors, from a plain pg.Pool", () => {
    let pool: pg.Pool;
    beforeAll(() => {
      pool = new pg.Pool({ connectionString: server.app.config.DATABASE_URL!, max: 2, connectionTimeoutMillis: 100 });
      pool.on("error", () => {}); // idle clients killed below
    });
    afterAll(() => pool.end());

    it("pool exhausted: timeout exceeded when trying to connect", async () => {
      const held = await Promise.all([pool.connect(), pool.connect()]);
      try {
        const timedOut = await rejection(pool.query("SELECT 1"));
        expect(timedOut).toMatchObject({ message: "timeout exceeded when trying to connect" });
        expect(isDatabaseUnavailable(timedOut)).toBe(true);
      } finally {
        for (const c of held) c.release();
      }
    });

    it("connection refused (ECONNREFUSED)", async () => {
      const nowhere = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${await freePort()}/chat`, max: 1 });
      try {
        const refused = await rejection(nowhere.query("SELECT 1"));
        expect(refused).toMatchObject({ code: "ECONNREFUSED" });
        expect(isDatabaseUnavailable(refused)).toBe(true);
      } finally {
        await nowhere.end();
      }
    });

    it("the server ends the connection: 57P01 (admin shutdown), then Connection terminated", async () => {
      const client = await pool.connect();
      client.on("error", () => {});
      try {
        const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        const running = rejection(client.query("SELECT pg_sleep(5)"));
        await new Promise((resolve) => setTimeout(resolve, 100));
        await admin((c) => c.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]));
        const terminated = await running;
        expect(terminated).toMatchObject({ code: "57P01", severity: "FATAL" });
        expect(isDatabaseUnavailable(terminated)).toBe(true);
        const closed = await rejection(client.query("SELECT 1"));
        expect(closed).toMatchObject({
          message: expect.stringMatching(/^(Connection terminated|Client has encountered a connection error)/),
        });
        expect(isDatabaseUnavailable(closed)).toBe(true);
      } finally {
        client.release(true);
      }
    });

    it("the socket lost mid-query: Connection terminated unexpectedly", async () => {
      const client = await pool.connect();
      client.on("error", () => {});
      try {
        const running = rejection(client.query("SELECT pg_sleep(5)"));
        (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        const lost = await running;
        expect(lost).toMatchObject({ message: expect.stringMatching(/^Connection terminated/) });
        expect(isDatabaseUnavailable(lost)).toBe(true);
      } finally {
        client.release(true);
      }
    });

    it("too many connections (53300)", async () => {
      // superusers are exempt from connection limits: a role of its own that may open none
      const role = `chat_nolimit_${randomBytes(4).toString("hex")}`;
      await admin((c) => c.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`));
      const url = new URL(server.app.config.DATABASE_URL!);
      url.username = role;
      const limited = new pg.Pool({ connectionString: url.toString(), max: 1 });
      try {
        const refused = await rejection(limited.query("SELECT 1"));
        expect(refused).toMatchObject({ code: "53300" });
        expect(isDatabaseUnavailable(refused)).toBe(true);
      } finally {
        await limited.end();
        await admin((c) => c.query(`DROP ROLE ${role}`));
      }
    });

    it("the server starting up (57P03, which only a restart produces: the error as node-postgres builds it)", () => {
      const startingUp = Object.assign(new pg.DatabaseError("the database system is starting up", 0, "error"), {
        code: "57P03",
        severity: "FATAL",
      });
      expect(isDatabaseUnavailable(startingUp)).toBe(true);
    });

    it("not for the request's own faults: a constraint violation, division by zero, bad SQL", async () => {
      const missing = await rejection(pool.query(`INSERT INTO "User" (id) VALUES (gen_random_uuid())`));
      expect(missing).toMatchObject({ code: "23502" });
      expect(isDatabaseUnavailable(missing)).toBe(false);
      const zero = await rejection(pool.query("SELECT 1 / 0"));
      expect(zero).toMatchObject({ code: "22012" });
      expect(isDatabaseUnavailable(zero)).toBe(false);
      const syntax = await rejection(pool.query("SELEC 1"));
      expect(syntax).toMatchObject({ code: "42601" });
      expect(isDatabaseUnavailable(syntax)).toBe(false);
    });
  });
});
