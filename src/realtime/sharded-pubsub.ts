import { PubSubEngine } from "graphql-subscriptions";
import type { Cluster } from "ioredis";

/**
 * A PubSubEngine over Redis Cluster's sharded pub/sub (SPUBLISH/SSUBSCRIBE,
 * Redis 7): a channel's messages go only to the shard that owns its slot, where
 * a classic PUBLISH is broadcast to every shard, so a cluster's pub/sub capacity
 * grows with its shards. Topics carry hash tags (topics.ts) so a room's channels
 * share a slot.
 *
 * Why our own engine: graphql-redis-subscriptions (the engine with one Redis)
 * only issues PUBLISH and SUBSCRIBE, and no maintained engine on npm speaks
 * sharded pub/sub. This is the least that does; ioredis' Cluster does the rest:
 * `spublish` goes to the primary owning the channel's slot (following MOVED), and
 * with `shardedSubscribers: true` `ssubscribe` goes over one subscriber connection
 * per primary, which ioredis re-subscribes after a failover or a slot move.
 *
 * Payloads are JSON, as with graphql-redis-subscriptions. A node subscribes to a
 * channel once however many of its subscribers listen (reference counted): the
 * first subscribe() sends SSUBSCRIBE and resolves once Redis acknowledged it (as
 * sequencedStream's step 1 needs), the last unsubscribe() sends SUNSUBSCRIBE.
 */
export class ShardedPubSub extends PubSubEngine {
  #nextId = 0;
  readonly #handlers = new Map<number, { channel: string; onMessage: (payload: unknown) => void }>();
  /** The local subscription ids of each channel, from its first subscribe() to its last unsubscribe(). */
  readonly #channels = new Map<string, Set<number>>();
  /** A channel's SSUBSCRIBE while Redis has not answered it: the channel's other subscribe() calls wait for it too. */
  readonly #pending = new Map<string, Promise<unknown>>();

  /** `subscriber` must be made with `shardedSubscribers: true`; `close()` quits both. */
  constructor(
    private readonly publisher: Cluster,
    private readonly subscriber: Cluster,
  ) {
    super();
    subscriber.on("smessage", (channel: string, message: string) => this.#deliver(channel, message));
  }

  /** SPUBLISH of `payload` as JSON. @throws what ioredis throws (e.g. "Command timed out" while the slot's primary is down). */
  async publish(channel: string, payload: unknown): Promise<void> {
    await this.publisher.spublish(channel, JSON.stringify(payload));
  }

  /** Resolves the subscription's id once the node is subscribed to `channel`. @throws (and forgets the subscription) if the SSUBSCRIBE fails. */
  async subscribe(channel: string, onMessage: (payload: unknown) => void): Promise<number> {
    const id = this.#nextId++;
    this.#handlers.set(id, { channel, onMessage });
    const ids = this.#channels.get(channel) ?? new Set();
    if (ids.size === 0) {
      this.#channels.set(channel, ids);
      const subscribed = this.subscriber.ssubscribe(channel).finally(() => this.#pending.delete(channel));
      this.#pending.set(channel, subscribed);
    }
    ids.add(id);
    try {
      await this.#pending.get(channel);
    } catch (error) {
      this.unsubscribe(id);
      throw error;
    }
    return id;
  }

  /** Forgets subscription `id` (no-op if unknown); SUNSUBSCRIBE when it was the channel's last. */
  unsubscribe(id: number): void {
    const handler = this.#handlers.get(id);
    if (!handler) return;
    this.#handlers.delete(id);
    const ids = this.#channels.get(handler.channel)!;
    ids.delete(id);
    if (ids.size > 0) return;
    this.#channels.delete(handler.channel);
    // a failure (the shard's primary is down) leaves nothing to undo: that connection's subscriptions are gone with it
    this.subscriber.sunsubscribe(handler.channel).catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher.quit(), this.subscriber.quit()]);
  }

  #deliver(channel: string, message: string): void {
    const ids = this.#channels.get(channel);
    if (!ids) return;
    const payload: unknown = JSON.parse(message);
    for (const id of ids) this.#handlers.get(id)!.onMessage(payload);
  }
}
