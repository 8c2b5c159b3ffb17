import { describe, expect, it, vi } from "vitest";
import { gql, registerUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const { server, api } = useTestServer([]);

describe("unexpected errors", () => {
  it("are masked for the client and logged with their detail", async () => {
    const user = await registerUser(server.url, "oops");
    const logged = vi.spyOn(server.app.logger, "error");
    vi.spyOn(server.app.rooms, "create").mockRejectedValueOnce(new Error("connection string postgres://secret@db"));
    const result = await api.run(user, `mutation { createRoom(input: { name: "x", type: GROUP }) { id } }`, {});
    expect(result.errors?.[0]?.message).toBe("Unexpected error.");
    expect(result.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    expect(JSON.stringify(result)).not.toContain("secret");
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.objectContaining({ message: "connection string postgres://secret@db" }) }),
      expect.any(String),
    );
  });

  it("leave expected errors (with a code) as they are, unlogged", async () => {
    const logged = vi.spyOn(server.app.logger, "error");
    logged.mockClear();
    const result = await gql(server.url, `mutation { createRoom(input: { name: "x", type: GROUP }) { id } }`);
    expect(result.errors?.[0]).toMatchObject({ message: "Authentication required", extensions: { code: "UNAUTHENTICATED" } });
    expect(logged).not.toHaveBeenCalled();
  });
});

describe("bad pagination arguments", () => {
  it.each([
    [`{ myRooms(after: "garbage") { edges { cursor } } }`, "after"],
    [`{ myRooms(last: 1, before: "garbage") { edges { cursor } } }`, "before"],
    [`{ myRooms(first: -1) { edges { cursor } } }`, "first"],
    [`{ users(after: "garbage") { edges { cursor } } }`, "after"],
  ])("%s answers BAD_USER_INPUT on %s, unlogged", async (query, field) => {
    const user = await registerUser(server.url, "pager");
    const logged = vi.spyOn(server.app.logger, "error");
    logged.mockClear();
    const result = await api.run(user, query, {});
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(logged).not.toHaveBeenCalled();
  });
});
