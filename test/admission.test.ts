/**
 * Admission control of the database work that can wait (db/admission.ts): the
 * semaphore itself, and what subscription set-up makes of it — the heads of
 * set-ups that wait at once are read in one statement, identical replays
 * waiting at once run once, and a set-up whose socket closed while it waited
 * is dropped. (Writes during a storm of subscriptions: write-admission.test.ts.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Admission, Withdrawn } from "../src/db/admission.js";
import { type GqlResponse, registerUsers, wsClient } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

/** A promise and its resolve, to hold a job open. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("Admission", () => {
  it("runs at most `permits` jobs at once, the others in the order they came", async () => {
    const admission = new Admission(2);
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      admission.run(async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect([admission.active, admission.waiting]).toEqual([2, 3]);
    gates[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect([admission.active, admission.waiting]).toEqual([0, 0]);
  });

  it("frees the permit of a job that throws", async () => {
    const admission = new Admission(1);
    await expect(admission.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await admission.run(async () => "next")).toBe("next");
    expect(admission.active).toBe(0);
  });

  it("drops a job that is no longer wanted when its turn comes, without running it", async () => {
    const admission = new Admission(1);
    const gate = deferred();
    const first = admission.run(() => gate.promise);
    let wanted = true;
    let ran = false;
    const second = admission.run(
      async () => void (ran = true),
      () => wanted,
    );
    const third = admission.run(async () => "third");
    wanted = false;
    gate.resolve();
    await first;
    await expect(second).rejects.toBeInstanceOf(Withdrawn);
    expect(ran).toBe(false);
    expect(await third).toBe("third");
  });
});

describe("subscription set-up through admission", () => {
  // in-process pub/sub: a burst of subscribe messages reaches the head reads in one turn of the event loop;
  // background sweeps slowed out of the counting window
  const {
    server,
    api,
    users: [alice, bob],
  } = useTestServer(["alice", "bob"], { env: { EXPIRY_SWEEP_MS: "60000", PRESENCE_TTL_MS: "60000" } });
  let roomId: string;
  /** Statements reported by Prisma's `query` events while set. */
  let recording: string[] | null = null;

  beforeAll(async () => {
    roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "r", type: GROUP, memberIds: $m }) { id } }`, { m: [bob.id] })
    ).createRoom.id;
    for (const content of ["one", "two", "three"]) {
      await api.ok(alice, `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`, {
        r: roomId,
        c: content,
      });
    }
    server.app.db.$on("query", (e) => recording?.push(e.query));
  }, 60_000);

  const SUBSCRIPTIONS = 30;

  it(`${SUBSCRIPTIONS} messageAdded subscriptions started at once read their heads together and share identical replays`, async () => {
    const client = wsClient(server.wsUrl, bob.accessToken);
    try {
      // connected and authenticated first, so only the set-ups are counted
      await new Promise<void>((resolve) => client.on("connected", () => resolve()));
      const statements: string[] = [];
      recording = statements;
      // every permit held while the 30 subscribe frames arrive, so their set-ups all wait and then meet in one
      // batch: how many socket reads (event-loop turns) a burst takes depends on the machine's load, not on us
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const held = Array.from({ length: server.app.admission.permits }, () => server.app.admission.run(() => gate));
      setTimeout(release, 1000);
      const received = await Promise.all(
        Array.from(
          { length: SUBSCRIPTIONS },
          () =>
            new Promise<number[]>((resolve, reject) => {
              const seqs: number[] = [];
              client.subscribe(
                { query: `subscription($r: ID!) { messageAdded(roomId: $r, after: "1") { seq } }`, variables: { r: roomId } },
                {
                  next: (value: GqlResponse) => {
                    if (value.errors) return reject(new Error(JSON.stringify(value.errors)));
                    seqs.push(value.data.messageAdded.seq);
                    if (seqs.length === 2) resolve(seqs);
                  },
                  error: reject,
                  complete: () => {},
                },
              );
            }),
        ),
      );
      await Promise.all(held);
      recording = null;
      expect(received).toEqual(Array.from({ length: SUBSCRIPTIONS }, () => [2, 3]));
      const heads = statements.filter((s) => s.includes("unnest"));
      const replays = statements.filter((s) => /FROM "public"\."Message"/.test(s));
      const report = JSON.stringify({ permits: server.app.admission.permits, statements }, null, 1);
      if (process.env.WRITE_ADMISSION_REPORT)
        console.log(JSON.stringify({ subscriptions: SUBSCRIPTIONS, headStatements: heads.length, replayStatements: replays.length }));
      // all waiting at once: one batch (a second if the burst is split across turns)
      expect(heads.length, report).toBeLessThanOrEqual(2);
      // identical replays asked in one turn share one read (likewise)
      expect(replays.length, report).toBeLessThanOrEqual(2);
      expect(statements.length, report).toBe(heads.length + replays.length);
    } finally {
      recording = null;
      await client.dispose();
    }
  });

  it("a non-member still gets NOT_FOUND (the head's membership is checked again by requireMember)", async () => {
    const [carol] = await registerUsers(server.url, ["carol"]);
    const client = wsClient(server.wsUrl, carol!.accessToken);
    try {
      const answer = await new Promise<unknown>((resolve) =>
        client.subscribe(
          { query: `subscription($r: ID!) { messageAdded(roomId: $r) { seq } }`, variables: { r: roomId } },
          { next: resolve, error: resolve, complete: () => resolve(null) },
        ),
      );
      expect(answer).toMatchObject({ errors: [{ extensions: { code: "NOT_FOUND" } }] });
    } finally {
      await client.dispose();
    }
  });
});
