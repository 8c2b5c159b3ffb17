import type { Viewer } from "./sessions.js";

/**
 * The access tokens this node has verified (signature, claims) and found live
 * (their session neither revoked nor expired), so a request that presents one
 * again skips the JWT check and the session query. An entry lives until the
 * token or its session expires, whichever is first.
 *
 * It is only as fresh as the revocation feed: every node publishes the end of a
 * session (`sessions:revoked`, auth/sessions.ts), and each node's cache drops
 * that session's tokens on hearing it ({@link revoke}). While the feed may be
 * missing messages (Redis disconnected, or not yet resubscribed after a
 * reconnect) the cache fails closed: {@link setFeedUp}(false) empties it and
 * nothing is cached or served from it until the feed is back; then every token
 * is checked against PostgreSQL again. The send statement checks the session
 * itself too (chat/messages.ts), so a send is refused even in the moment
 * between a revocation's commit and its broadcast reaching this node.
 * A check that was under way when a revocation arrived is not cached: the
 * caller takes {@link epoch} before its query and passes it to {@link set}.
 * At most `maxEntries` tokens are kept; past that the oldest go first.
 */
export class SessionCache {
  readonly #byToken = new Map<string, { viewer: Viewer; untilMs: number }>();
  readonly #bySession = new Map<string, Set<string>>();
  #feedUp = false;
  /** Bumped by every revocation and feed change: a check begun before one is not cached. */
  #epoch = 0;

  constructor(private readonly maxEntries = 50_000) {}

  /** The viewer `token` was cached for, or null (unknown, expired, or the feed is down). */
  get(token: string, nowMs: number): Viewer | null {
    const entry = this.#byToken.get(token);
    if (!entry) return null;
    if (entry.untilMs > nowMs) return entry.viewer;
    this.#forget(token, entry.viewer.sessionId);
    return null;
  }

  /** A mark to take before checking a token, for {@link set}. */
  epoch(): number {
    return this.#epoch;
  }

  /**
   * Caches `token` as `viewer`'s until `untilMs` (epoch ms). Ignored while the
   * feed is down, and when a revocation or a feed change came after `checkedAt`
   * (the {@link epoch} taken before the check).
   */
  set(token: string, viewer: Viewer, untilMs: number, checkedAt: number): void {
    if (!this.#feedUp || checkedAt !== this.#epoch) return;
    if (this.#byToken.size >= this.maxEntries) {
      const [oldest, entry] = this.#byToken.entries().next().value!;
      this.#forget(oldest, entry.viewer.sessionId);
    }
    this.#byToken.set(token, { viewer, untilMs });
    let tokens = this.#bySession.get(viewer.sessionId);
    if (!tokens) this.#bySession.set(viewer.sessionId, (tokens = new Set()));
    tokens.add(token);
  }

  /** Forgets every token of `sessionId` (it has ended). */
  revoke(sessionId: string): void {
    this.#epoch++;
    for (const token of this.#bySession.get(sessionId) ?? []) this.#byToken.delete(token);
    this.#bySession.delete(sessionId);
  }

  /** The revocation feed is complete from now on (true), or may be missing messages (false: the cache empties and stays unused). */
  setFeedUp(up: boolean): void {
    this.#feedUp = up;
    this.#epoch++;
    this.#byToken.clear();
    this.#bySession.clear();
  }

  #forget(token: string, sessionId: string): void {
    this.#byToken.delete(token);
    const tokens = this.#bySession.get(sessionId);
    tokens?.delete(token);
    if (tokens?.size === 0) this.#bySession.delete(sessionId);
  }
}
