import type { PubSubEngine } from "graphql-subscriptions";
import { requireMember } from "../chat/access.js";
import type { App } from "../context.js";
import type { StreamSource } from "../realtime/stream.js";

/**
 * What the sources of a room's sequenced subscriptions (roomEvents, messageAdded)
 * share: the app's bus, the room's topic, and the viewer's membership checked
 * once live items are being received (`ready`: NOT_FOUND / FORBIDDEN for
 * non-members, chat/access.ts requireMember). A class, not closures: every idle
 * subscriber keeps one (docs/performance.md, memory per idle connection).
 */
export abstract class RoomStreamSource<T> implements StreamSource<T> {
  readonly pubsub: PubSubEngine;

  constructor(
    protected readonly app: App,
    protected readonly roomId: string,
    protected readonly viewerId: string,
    readonly topic: string,
  ) {
    this.pubsub = app.pubsub;
  }

  abstract seqOf(item: T): number;
  abstract head(): Promise<number>;
  abstract load(afterSeq: number, limit: number): Promise<T[]>;

  async ready(): Promise<void> {
    await requireMember(this.app.db, this.roomId, this.viewerId);
  }
}
