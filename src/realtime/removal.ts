import type { PubSubEngine } from "graphql-subscriptions";
import { type RoomEventPayload, topics } from "./topics.js";

/** Whether `event` takes `userId` out of its room: they left or were removed, or the room was deleted. */
export function removes(event: RoomEventPayload, userId: string): boolean {
  return event.kind === "RoomDeleted" || (event.kind === "MemberLeft" && event.userId === userId);
}

/**
 * Wraps a room-scoped subscription's iterator so it completes as soon as
 * `userId` leaves or is removed from the room, or the room is deleted: the node
 * that serves the subscription hears the room's MemberLeft / RoomDeleted event
 * on the bus, whichever node made the change. Returning the wrapper (client
 * unsubscribes) stops both.
 */
export function endWhenRemoved<T>(pubsub: PubSubEngine, roomId: string, userId: string, iterator: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
  const watch = pubsub.subscribe(
    topics.roomEvents(roomId),
    (event: RoomEventPayload) => {
      if (removes(event, userId)) void stop();
    },
    {},
  );
  let stopped = false;
  const stop = async (): Promise<IteratorResult<T>> => {
    if (!stopped) {
      stopped = true;
      pubsub.unsubscribe(await watch);
    }
    return iterator.return ? iterator.return() : { done: true, value: undefined };
  };
  return {
    next: () => iterator.next(),
    return: stop,
    throw: async (error) => {
      await stop();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The roomEvents stream of `userId`: every event of the room, ending after the
 * one that removes them (which they still get, so clients can update).
 * A plain iterator, not an async generator: a generator's return() waits for
 * its pending await, so an unsubscribe would hold the bus subscription until
 * the room's next event.
 */
export function untilRemoved(events: AsyncIterableIterator<RoomEventPayload>, userId: string): AsyncIterableIterator<RoomEventPayload> {
  let last = false;
  const done = async (): Promise<IteratorResult<RoomEventPayload>> => {
    last = true;
    await events.return?.();
    return { done: true, value: undefined };
  };
  return {
    next: async () => {
      if (last) return done();
      const result = await events.next();
      if (!result.done && removes(result.value, userId)) last = true;
      return result;
    },
    return: done,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
