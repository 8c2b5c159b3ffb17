import DataLoader from "dataloader";
import type { PubSubEngine } from "graphql-subscriptions";
import type { Logger } from "pino";
import type { Accounts } from "./account/accounts.js";
import type { Attachments } from "./attachments/attachments.js";
import type { AttachmentUrls } from "./attachments/http.js";
import type { Sessions, Viewer } from "./auth/sessions.js";
import type { DeliveryReceipts, ReceiptMarker } from "./chat/delivery.js";
import type { Invites } from "./chat/invites.js";
import type { Messages } from "./chat/messages.js";
import type { Reencryption } from "./chat/reencryption.js";
import type { RoomRules } from "./chat/room-rules.js";
import type { Rooms } from "./chat/rooms.js";
import type { MessageSearch } from "./chat/search.js";
import type { Config } from "./config.js";
import type { Admission } from "./db/admission.js";
import type { PrismaClient, WritePool } from "./db/client.js";
import type { Outbox } from "./mail/outbox.js";
import type { Metrics } from "./metrics.js";
import type { Bans } from "./moderation/bans.js";
import type { Reports } from "./moderation/reports.js";
import type { PushSubscriptions } from "./push/subscriptions.js";
import type { EventLog } from "./realtime/event-log.js";
import { type Presence, shownStatus } from "./realtime/presence.js";
import type { RedisClient } from "./realtime/redis-connection.js";
import type { RoomActivity } from "./realtime/room-activity.js";
import type { RoomStreams } from "./realtime/room-streams.js";
import type { PresenceStatus } from "./realtime/topics.js";
import type { Typing } from "./realtime/typing.js";
import type { MessageEncryption } from "./security/message-encryption.js";
import type { Tracing } from "./tracing.js";
import type { Contacts } from "./users/contacts.js";
import type { AccountDeletion } from "./users/deletion.js";
import { presenceViews } from "./users/privacy.js";
import type { Profiles } from "./users/profiles.js";

/** The long-lived services of one server process, shared by every request. */
export interface App {
  config: Config;
  logger: Logger;
  db: PrismaClient;
  /** Connections reserved for the send statement (chat/messages.ts). */
  writes: WritePool;
  /** Admission to `db` for work that can wait (subscription set-up, WebSocket authentication, presence, sweeps): db/admission.ts. */
  admission: Admission;
  pubsub: PubSubEngine;
  /** The Redis command connection (keys under REDIS_KEY_PREFIX; a Cluster with REDIS_CLUSTER); null in-process. */
  redis: RedisClient | null;
  metrics: Metrics;
  /** OpenTelemetry tracing (tracing.ts); null when it is off, as it is unless configured. */
  tracing: Tracing | null;
  /** Room and user events: stored with the change, published after its commit (realtime/event-log.ts). */
  eventLog: EventLog;
  sessions: Sessions;
  /** Password change and recovery, email verification (account/accounts.ts). */
  accounts: Accounts;
  /** Account mails, sent after the answer (mail/outbox.ts). */
  outbox: Outbox;
  profiles: Profiles;
  /** deleteAccount (users/deletion.ts). */
  accountDeletion: AccountDeletion;
  contacts: Contacts;
  rooms: Rooms;
  /** Slow mode and blocked words (chat/room-rules.ts). */
  roomRules: RoomRules;
  invites: Invites;
  /** Bans and kicks (moderation/bans.ts). */
  bans: Bans;
  /** Reports and their resolution (moderation/reports.ts). */
  reports: Reports;
  attachments: Attachments;
  attachmentUrls: AttachmentUrls;
  messages: Messages;
  /** markDelivered, bounded by DELIVERY_RECEIPTS_MAX_MEMBERS (chat/delivery.ts). */
  deliveries: DeliveryReceipts;
  /** Seals and opens message content at rest (security/message-encryption.ts); off without MESSAGE_ENCRYPTION_KEYS. */
  encryption: MessageEncryption;
  /** The background re-encryption to the current key (chat/reencryption.ts). */
  reencryption: Reencryption;
  /** Full-text message search (chat/search.ts). */
  search: MessageSearch;
  typing: Typing;
  presence: Presence;
  /** The sources of roomEvents and messageAdded, and the set-up check of typing and presence (realtime/room-streams.ts). */
  roomStreams: RoomStreams;
  /** myEvents' RoomActivity of this node (realtime/room-activity.ts). */
  activity: RoomActivity;
  /** registerPushSubscription and friends (push/subscriptions.ts); the notifications themselves go from push/notifier.ts. */
  pushSubscriptions: PushSubscriptions;
}

/**
 * What every resolver gets: the app, the viewer (null when not logged in) and
 * per-request loaders. Over HTTP it is made per request; over WebSocket per
 * operation, with the viewer fixed at `connection_init`.
 */
export interface Context {
  app: App;
  viewer: Viewer | null;
  /** The client's IP address (src/limits/client-ip.ts): of the HTTP request, or of the WebSocket's upgrade request. */
  clientIp: string;
  /** An access token was sent but is bad, expired or of an ended session (viewer null); `me` answers UNAUTHENTICATED then, so clients refresh. */
  tokenRejected: boolean;
  /** Per-request DataLoaders, each made on first use. */
  loaders: Loaders;
  /**
   * The WebSocket of a graphql-ws operation (undefined over HTTP and SSE): database
   * work of the operation that waits for admission (db/admission.ts) is dropped if
   * it has closed meanwhile (realtime/room-streams.ts).
   */
  socket?: { readonly readyState: number };
}

/**
 * The context of a field that requires a logged-in viewer (`t.withAuth({ viewer: true })`,
 * schema/builder.ts): scope-auth answers UNAUTHENTICATED before the resolver runs, so
 * the viewer is there.
 */
export type ViewerContext = Context & { viewer: Viewer };

/**
 * The DataLoaders of one context, each made on first use: a WebSocket
 * subscription keeps its context for its whole life, and most never load
 * anything. Uncached (presence and receipt marks change while a subscription
 * lives); each batches the look-ups of one execution.
 */
export class Loaders {
  #presence?: DataLoader<string, { status: PresenceStatus; hidden: boolean }>;
  #receiptMarkers?: DataLoader<string, ReceiptMarker[]>;

  constructor(
    private readonly app: App,
    private readonly viewer: Viewer | null,
  ) {}

  /**
   * How each user's presence shows to the viewer (status, and whether lastSeenAt
   * is hidden), batching the User.status / lastSeenAt look-ups of one execution
   * into one presence read and two SQL statements.
   */
  get presence(): DataLoader<string, { status: PresenceStatus; hidden: boolean }> {
    const { app, viewer } = this;
    this.#presence ??= new DataLoader(
      async (ids) => {
        const unique = [...new Set(ids)]; // uncached loaders do not dedupe keys
        const [online, views] = await Promise.all([app.presence.online(unique), presenceViews(app.db, viewer?.userId ?? null, unique)]);
        return ids.map((id) => {
          const view = views.get(id) ?? { hidden: true, away: false };
          return { status: shownStatus(online.has(id), view.hidden, view.away), hidden: view.hidden };
        });
      },
      { cache: false },
    );
    return this.#presence;
  }

  /**
   * Room id → the receipt marks of every member (chat/delivery.ts ReceiptMarker:
   * read marker, delivery mark, whether they show read receipts), batching
   * Message.readBy / deliveryState into one statement per execution.
   */
  get receiptMarkers(): DataLoader<string, ReceiptMarker[]> {
    const { app } = this;
    this.#receiptMarkers ??= new DataLoader(
      async (roomIds) => {
        const members = await app.db.roomMember.findMany({
          where: { roomId: { in: [...new Set(roomIds)] } },
          select: { roomId: true, userId: true, lastReadSeq: true, lastDeliveredSeq: true, user: { select: { showReadReceipts: true } } },
        });
        const markers = members.map(({ user, ...m }) => ({ ...m, showsReceipts: user.showReadReceipts }));
        return roomIds.map((id) => markers.filter((m) => m.roomId === id));
      },
      { cache: false },
    );
    return this.#receiptMarkers;
  }
}

/**
 * Builds a resolver context for `viewer` calling from `clientIp`; `tokenRejected`
 * when a token was sent and refused; `socket`, a graphql-ws operation's WebSocket.
 */
export function makeContext(app: App, viewer: Viewer | null, clientIp: string, tokenRejected = false, socket?: Context["socket"]): Context {
  return {
    app,
    viewer,
    clientIp,
    tokenRejected,
    loaders: new Loaders(app, viewer),
    socket,
  };
}
