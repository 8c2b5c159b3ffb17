import { PubSub } from "graphql-subscriptions";
import { describe, expect, it } from "vitest";
import { type StreamSource, sequencedStream } from "../src/realtime/stream.js";

/**
 * The gap-free stream's ordering rules, with publishes arriving in an order the
 * test chooses (over Redis, publishes of two nodes can overtake each other:
 * each is sent after its own commit). The store is an array standing for the
 * room's log, in which seqs are committed in order.
 */
describe("sequenced stream", () => {
  function room() {
    const pubsub = new PubSub();
    const stored: number[] = [];
    const source: StreamSource<number> = {
      pubsub,
      topic: "room",
      seqOf: (seq) => seq,
      head: async () => stored.length,
      load: async (after, limit) => stored.filter((seq) => seq > after).slice(0, limit),
    };
    /** Commits seqs up to `upTo` (in order, as the room lock does). */
    const commit = (upTo: number) => {
      while (stored.length < upTo) stored.push(stored.length + 1);
    };
    return { source, commit, publish: (seq: number) => pubsub.publish("room", seq) };
  }

  it("fills a gap from storage, drops what the fill already read, and fills the next gap too", async () => {
    const { source, commit, publish } = room();
    const stream = await sequencedStream(source, null);
    const received: number[] = [];
    const take = async () => received.push((await stream.next()).value as number);

    // 2 overtakes 1: the gap is filled from storage, which holds 3 already
    commit(3);
    const first = take();
    await publish(2);
    await first;
    await take();
    await take();
    expect(received).toEqual([1, 2, 3]);

    // the live 2 is a duplicate now; then 5 overtakes 4: 4 must come from storage, not be skipped
    const fourth = take();
    commit(5);
    await publish(5);
    await fourth;
    expect(received).toEqual([1, 2, 3, 4]);
    await take();
    // the late publishes are duplicates
    await publish(1);
    await publish(3);
    await publish(4);
    commit(6);
    const sixth = take();
    await publish(6);
    await sixth;
    expect(received).toEqual([1, 2, 3, 4, 5, 6]);
    await stream.return!();
  });

  it("hands in-order live items straight over and ends a pending next() on return()", async () => {
    const { source, commit, publish } = room();
    commit(2);
    const stream = await sequencedStream(source, 1); // replays 2, then live
    expect((await stream.next()).value).toBe(2);
    const next = stream.next();
    commit(3);
    await publish(3);
    expect(await next).toEqual({ done: false, value: 3 });
    const pending = stream.next();
    await stream.return!();
    expect(await pending).toEqual({ done: true, value: undefined });
  });
});
