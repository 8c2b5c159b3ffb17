import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makePrisma } from "../../src/db/client.js";
import { isDatabaseUnavailable } from "../../src/db/errors.js";
import { gql, registerUser, type TestUser } from "../helpers/client.js";
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
 * then throws P2028, which used to reach clients as INTERNAL_SERVER_ERROR.
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
    rejection(server.app.db.$transaction(async (tx) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return tx.user.count();
    }, { timeout: 50 }));

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

    const duplicate = await rejection(server.app.db.user.create({ data: { username: alice.username, email: "other@example.com", passwordHash: "x", firstName: "a", lastName: "b" } }));
    expect(duplicate).toMatchObject({ code: "P2002" });
    expect(isDatabaseUnavailable(duplicate)).toBe(false);
    expect(isDatabaseUnavailable(new Error("a bug"))).toBe(false);
  });

  it("answers a sendMessage whose transaction expired with SERVICE_UNAVAILABLE, not an unexpected error, and logs the original", async () => {
    const room = await gql(server.url, `mutation { createRoom(input: { name: "Busy", type: GROUP }) { id } }`, {}, alice.accessToken);
    vi.spyOn(server.app.messages, "send").mockRejectedValueOnce(await expiredTransaction());
    const logged = vi.spyOn(server.app.logger, "error").mockClear();
    const result = await gql(server.url, `mutation($r: ID!) { sendMessage(input: { roomId: $r, content: "hi", clientMessageId: "k1" }) { id } }`, { r: room.data.createRoom.id }, alice.accessToken);
    expect(result.errors).toEqual([{ message: "Database unavailable; retry later", path: ["sendMessage"], locations: expect.any(Array), extensions: { code: "SERVICE_UNAVAILABLE" } }]);
    // for the operator: the original, once
    expect(logged).toHaveBeenCalledTimes(1);
    expect(JSON.stringify(logged.mock.calls[0])).toContain("expired transaction");
  });
});
