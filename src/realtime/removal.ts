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
