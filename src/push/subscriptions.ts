import { checkedAddresses, type UrlFetchOptions } from "../attachments/url-fetch.js";
import type { Viewer } from "../auth/sessions.js";
import type { PrismaClient } from "../db/client.js";
import { badInput, forbidden } from "../errors.js";
import type { PushSubscription } from "../generated/prisma/client.js";

/** Most push subscriptions one user keeps; registering one more drops the oldest (a user rarely has 10 devices; a leak of endpoints stays bounded). */
export const MAX_PUSH_SUBSCRIPTIONS = 10;

/** How long registration's DNS check of an endpoint's host may take, in ms. */
const RESOLVE_TIMEOUT_MS = 5000;

/** A device's Web Push subscription as the browser's PushSubscription.toJSON() gives it (keys checked by schema/validation.ts rules.pushKey). */
export interface RegisterPushInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/**
 * The viewer's Web Push subscriptions, one set per session (device). `enabled` is
 * false when push is off (production without VAPID keys); `ssrf` (production) makes
 * an endpoint https-only and its host public-only (attachments/url-fetch.ts), null outside production.
 */
export class PushSubscriptions {
  constructor(
    private readonly db: PrismaClient,
    /** Whether push is on (VAPID keys configured or generated). */
    readonly enabled: boolean,
    private readonly ssrf: Pick<UrlFetchOptions, "allowedRanges"> | null,
  ) {}

  /**
   * Registers `input` for the viewer's session. An endpoint registered already (by
   * anyone) moves to this session and user, with the new keys; past
   * {@link MAX_PUSH_SUBSCRIPTIONS} the user's oldest go.
   * @throws FORBIDDEN when push is off; BAD_USER_INPUT on `input.endpoint` in
   * production for a non-https URL or a host that does not resolve to public addresses only.
   */
  async register(viewer: Viewer, input: RegisterPushInput): Promise<PushSubscription> {
    if (!this.enabled) throw forbidden("Push notifications are off on this server (webPushPublicKey is null)");
    const url = new URL(input.endpoint);
    if (this.ssrf) {
      if (url.protocol !== "https:") throw badInput("input.endpoint", "must be an https URL");
      await checkedAddresses(
        url,
        { ...this.ssrf, timeoutMs: RESOLVE_TIMEOUT_MS },
        AbortSignal.timeout(RESOLVE_TIMEOUT_MS),
        "input.endpoint",
      );
    }
    const data = {
      userId: viewer.userId,
      sessionId: viewer.sessionId,
      p256dh: input.keys.p256dh,
      auth: input.keys.auth,
      createdAt: new Date(),
      lastSentAt: null,
    };
    const subscription = await this.db.pushSubscription.upsert({
      where: { endpoint: input.endpoint },
      create: { endpoint: input.endpoint, ...data },
      update: data,
    });
    const beyond = await this.db.pushSubscription.findMany({
      where: { userId: viewer.userId },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      skip: MAX_PUSH_SUBSCRIPTIONS,
      select: { id: true },
    });
    if (beyond.length > 0) await this.db.pushSubscription.deleteMany({ where: { id: { in: beyond.map((s) => s.id) } } });
    return subscription;
  }

  /** Removes the viewer's subscription with this endpoint; resolves false when they have none. */
  async unregister(viewer: Viewer, endpoint: string): Promise<boolean> {
    const { count } = await this.db.pushSubscription.deleteMany({ where: { endpoint, userId: viewer.userId } });
    return count > 0;
  }
}
