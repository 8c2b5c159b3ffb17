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
export function endWhenRemoved<T>(
  pubsub: PubSubEngine,
  roomId: string,
  userId: string,
  iterator: AsyncIterableIterator<T>,
): AsyncIterableIterator<T> {
  return new EndWhenRemoved(pubsub, roomId, userId, iterator);
}

/**
 * The wrapper of {@link endWhenRemoved}; a class, so that an idle subscriber keeps its fields and one bus listener, not a closure per method.
 * Exported for realtime/fanout.ts, which reads `iterator` (the wrapped one) and `userId` when the subscriber joins a fan-out group.
 */
export class EndWhenRemoved<T> implements AsyncIterableIterator<T> {
  private readonly watch: Promise<number>;
  private stopped = false;

  constructor(
    private readonly pubsub: PubSubEngine,
    readonly roomId: string,
    readonly userId: string,
    readonly iterator: AsyncIterableIterator<T>,
  ) {
    this.watch = pubsub.subscribe(topics.roomEvents(roomId), (event: RoomEventPayload) => this.heard(event), {});
  }

  next(): Promise<IteratorResult<T>> {
    return this.iterator.next();
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.stopped) {
      this.stopped = true;
      this.pubsub.unsubscribe(await this.watch);
    }
    return this.iterator.return ? this.iterator.return() : { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private heard(event: RoomEventPayload): void {
    if (removes(event, this.userId)) void this.return();
  }
}
