import { join } from "node:path";
import type { Logger } from "pino";
import { Accounts } from "./account/accounts.js";
import { Attachments } from "./attachments/attachments.js";
import { AttachmentUrls } from "./attachments/http.js";
import { type AttachmentStore, DiskStore } from "./attachments/store.js";
import { SessionCache } from "./auth/session-cache.js";
import { Sessions } from "./auth/sessions.js";
import { AccessTokens } from "./auth/tokens.js";
import { requireMember } from "./chat/access.js";
import { activityStore } from "./chat/activity.js";
import { DeliveryReceipts } from "./chat/delivery.js";
import { MessageExpiry } from "./chat/expiry.js";
import { Invites } from "./chat/invites.js";
import { Messages } from "./chat/messages.js";
import { REENCRYPTION_BATCH, REENCRYPTION_INTERVAL_MS, Reencryption } from "./chat/reencryption.js";
import { RoomRules } from "./chat/room-rules.js";
import { Rooms } from "./chat/rooms.js";
import { MessageSearch } from "./chat/search.js";
import type { Config } from "./config.js";
import type { App } from "./context.js";
import { Admission } from "./db/admission.js";
import { makePrisma, WritePool } from "./db/client.js";
import { type Database, openDatabase } from "./db/open.js";
import { makeMailer } from "./mail/mailer.js";
import { Outbox } from "./mail/outbox.js";
import { Metrics } from "./metrics.js";
import { Bans } from "./moderation/bans.js";
import { Reports } from "./moderation/reports.js";
import { startPush } from "./push/start.js";
import { EventLog } from "./realtime/event-log.js";
import { Presence } from "./realtime/presence.js";
import { MemoryPresenceStore, RedisPresenceStore } from "./realtime/presence-store.js";
import { makeBus } from "./realtime/pubsub.js";
import { RoomActivity } from "./realtime/room-activity.js";
import { RoomStreams } from "./realtime/room-streams.js";
import { type SessionRevokedPayload, topics } from "./realtime/topics.js";
import { MemoryTypingStore, RedisTypingStore, Typing } from "./realtime/typing.js";
import { MessageEncryption } from "./security/message-encryption.js";
import { makeTracing } from "./tracing.js";
import { Contacts } from "./users/contacts.js";
import { AccountDeletion } from "./users/deletion.js";
import { Profiles } from "./users/profiles.js";

/**
 * Wires the services of one node from its configuration: PostgreSQL (`database`,
 * or the one db/open.ts opens: the configured one or the embedded one, migrated),
 * pub/sub (Redis, or in-process), presence and typing state (in Redis when it is
 * configured, so all nodes share it), tracing when it is configured (tracing.ts),
 * the account mailer (SMTP_URL, or the log: mail/mailer.ts).
 * Returns the app and a `close` that releases everything in reverse order, `database`
 * included, the spans still batched exported last.
 */
export async function startApp(config: Config, logger: Logger, database?: Database): Promise<{ app: App; close(): Promise<void> }> {
  const tracing = makeTracing(config, logger);
  const { url: databaseUrl, stop: stopDatabase } = database ?? (await openDatabase(config, logger).opened);
  const db = makePrisma(databaseUrl, config.DATABASE_POOL_SIZE);
  if (logger.isLevelEnabled("trace")) db.$on("query", (e) => logger.trace({ sql: e.query, ms: e.duration }, "sql"));
  const writes = new WritePool(databaseUrl, config.DATABASE_WRITE_POOL_SIZE, (err) =>
    logger.warn({ err }, "write pool: idle connection lost"),
  );
  if (logger.isLevelEnabled("trace")) writes.onQuery((sql) => logger.trace({ sql, pool: "writes" }, "sql"));

  // subscription set-up, WebSocket authentication, presence and the expiry sweep share these connections (db/admission.ts)
  const admission = new Admission(config.DATABASE_SETUP_CONNECTIONS ?? Math.ceil(config.DATABASE_POOL_SIZE / 2));

  const bus = await makeBus(config, config.REDIS_KEY_PREFIX);
  const sessionCache = new SessionCache();
  await bus.pubsub.subscribe(topics.sessionRevoked, ({ sessionId }: SessionRevokedPayload) => sessionCache.revoke(sessionId), {});
  bus.watchFeed((up) => sessionCache.setFeedUp(up));
  const metrics = new Metrics();
  metrics.watchAdmission(admission);
  metrics.countPublishes(bus.pubsub);
  const onError = (err: unknown) => logger.error({ err }, "realtime background task failed");
  const presenceStore = bus.redis ? new RedisPresenceStore(bus.redis, config.PRESENCE_TTL_MS) : new MemoryPresenceStore();
  const typingStore = bus.redis ? new RedisTypingStore(bus.redis, config.TYPING_TTL_MS) : new MemoryTypingStore();

  const presence = new Presence(
    presenceStore,
    bus.pubsub,
    {
      // announcements follow connects and disconnects, storms included: admitted like subscription set-up
      roomIdsOf: (userId, sharedWith) =>
        admission.run(async () => {
          const shared = sharedWith ? { room: { members: { some: { userId: sharedWith } } } } : {};
          return (await db.roomMember.findMany({ where: { userId, ...shared }, select: { roomId: true } })).map((m) => m.roomId);
        }),
      profileOf: (userId) =>
        admission.run(async () => {
          const user = await db.user.findUniqueOrThrow({
            where: { id: userId },
            select: { showOnlineStatus: true, away: true, lastSeenAt: true, blocks: { select: { blockedId: true } } },
          });
          return {
            visible: user.showOnlineStatus,
            away: user.away,
            lastSeenAt: user.lastSeenAt,
            blockedIds: user.blocks.map((b) => b.blockedId),
          };
        }),
      // a deleted account's lastSeenAt stays null (users/deletion.ts): its sockets close after the deletion has committed
      touchLastSeen: (userId, at) =>
        admission.run(async () => {
          await db.user.updateMany({ where: { id: userId, deletedAt: null }, data: { lastSeenAt: at } });
          return at;
        }),
    },
    Math.max(250, Math.floor(config.PRESENCE_TTL_MS / 3)),
    onError,
  );
  const typing = new Typing(typingStore, bus.pubsub, config.TYPING_TTL_MS, onError);
  // the membership rule (chat/access.ts) for the modules below chat/ that need it
  const memberOf = (roomId: string, userId: string) => requireMember(db, roomId, userId);
  const eventLog = new EventLog(
    bus.pubsub,
    (err) => logger.error({ err }, "publish after commit failed (subscribers catch up from the database)"),
    tracing,
  );
  const store = await makeStore(config);
  const attachments = new Attachments(
    db,
    store,
    config.MAX_ATTACHMENT_BYTES,
    config.MEDIA_PARSE_TIMEOUT_MS,
    {
      timeoutMs: config.URL_FETCH_TIMEOUT_MS,
      allowedRanges: config.URL_FETCH_ALLOWED_RANGES,
      extraCa: config.URL_FETCH_CA_FILE ?? [],
    },
    memberOf,
  );
  const expiry = new MessageExpiry(
    db,
    admission,
    eventLog,
    attachments,
    config.EXPIRY_SWEEP_MS,
    config.SYNC_RETENTION_DAYS,
    onError,
    (err) => logger.warn({ err }, "expiry sweep skipped: database unavailable (the next sweep retries)"),
  );
  // encryption at rest (MESSAGE_ENCRYPTION_KEYS): sealed messages are searched through MessageSearch only with MESSAGE_SEARCH=on
  const encryption = new MessageEncryption(config.MESSAGE_ENCRYPTION_KEYS);
  const searchSealed = encryption.enabled && config.MESSAGE_SEARCH === "on";
  const reencryption = new Reencryption(
    db,
    admission,
    encryption,
    searchSealed,
    REENCRYPTION_BATCH,
    REENCRYPTION_INTERVAL_MS,
    onError,
    (err) => logger.warn({ err }, "re-encryption skipped: database unavailable (the next run retries)"),
  );

  const rooms = new Rooms(db, eventLog);
  // push notifications (push/): off only in production without VAPID keys
  const push = startPush(config, db, presence, encryption, logger);
  const messages = new Messages(
    db,
    writes,
    eventLog,
    attachments,
    tracing,
    encryption,
    searchSealed,
    push.notifier && ((id) => push.notifier!.messageSent(id)),
  );
  const bans = new Bans(db, rooms);

  const sessions = new Sessions(
    db,
    new AccessTokens(config.JWT_SECRET, config.ACCESS_TOKEN_TTL_S),
    config.REFRESH_TOKEN_TTL_S,
    eventLog,
    sessionCache,
  );
  const outbox = new Outbox(makeMailer(config, logger), logger);
  const accounts = new Accounts(db, sessions, outbox, {
    appUrl: (config.APP_URL ?? config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, ""),
    passwordResetTtlS: config.PASSWORD_RESET_TTL_S,
    emailVerificationTtlS: config.EMAIL_VERIFICATION_TTL_S,
  });

  const activity = activityStore(db);
  const app: App = {
    config,
    logger,
    db,
    writes,
    admission,
    pubsub: bus.pubsub,
    redis: bus.redis,
    metrics,
    tracing,
    eventLog,
    sessions,
    accounts,
    outbox,
    profiles: new Profiles(db, presence),
    accountDeletion: new AccountDeletion(db, eventLog, sessions, attachments),
    contacts: new Contacts(db, eventLog, presence),
    rooms,
    roomRules: new RoomRules(db, eventLog),
    invites: new Invites(db, eventLog),
    bans,
    reports: new Reports(db, bans, messages),
    attachments,
    attachmentUrls: new AttachmentUrls(config.JWT_SECRET, config.PUBLIC_URL?.replace(/\/$/, "") ?? ""),
    messages,
    deliveries: new DeliveryReceipts(db, eventLog, config.DELIVERY_RECEIPTS_MAX_MEMBERS),
    encryption,
    reencryption,
    search: new MessageSearch(db, encryption, config.MESSAGE_SEARCH === "on"),
    typing,
    presence,
    roomStreams: new RoomStreams(db, bus.pubsub, admission, metrics, memberOf),
    activity: new RoomActivity(
      bus.pubsub,
      // each message's read is one statement per node; admitted like presence's reads
      {
        roomIdsOf: (userId) => admission.run(() => activity.roomIdsOf(userId)),
        recipients: (...args) => admission.run(() => activity.recipients(...args)),
        replay: (...args) => admission.run(() => activity.replay(...args)),
      },
      { coalesceAbove: config.ACTIVITY_COALESCE_ABOVE, coalesceMs: config.ACTIVITY_COALESCE_MS },
      onError,
    ),
    pushSubscriptions: push.subscriptions,
  };
  logger.info(
    {
      database: config.DATABASE_URL ? "external" : "embedded",
      pubsub: config.REDIS_CLUSTER ? "redis cluster (sharded)" : bus.redis ? "redis" : "in-process",
      attachments: config.ATTACHMENTS_STORE,
      tracing: tracing ? "otlp" : "off",
      encryptionAtRest: encryption.currentKeyId ? `on (key ${encryption.currentKeyId})` : "off",
      search: config.MESSAGE_SEARCH,
      push: push.notifier ? (bus.redis ? "on (queue in Redis)" : "on (in-process queue)") : "off (no VAPID keys)",
    },
    "services ready",
  );

  return {
    app,
    close: async () => {
      typing.close();
      await outbox.close();
      // the push worker's running jobs finish (their database and Redis are still up)
      await push.notifier?.close();
      await expiry.close();
      await reencryption.close();
      await presence.close();
      await bus.close();
      await writes.close();
      await db.$disconnect();
      store.close?.();
      await stopDatabase();
      await tracing?.shutdown();
    },
  };
}

/**
 * The attachment store of ATTACHMENTS_STORE: the bucket (S3_*) for "s3", whose
 * AWS SDK is loaded only then (it slows a start); else the directory
 * ATTACHMENTS_DIR (default `<DATA_DIR>/attachments`).
 */
async function makeStore(config: Config): Promise<AttachmentStore> {
  if (config.ATTACHMENTS_STORE === "disk") return new DiskStore(config.ATTACHMENTS_DIR ?? join(config.DATA_DIR, "attachments"));
  const { S3Store } = await import("./attachments/s3-store.js");
  const { S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = config;
  return new S3Store({
    bucket: config.S3_BUCKET!,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
  });
}
