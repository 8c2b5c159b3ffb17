import { createECDH, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ipaddr from "ipaddr.js";
import { z } from "zod";

/**
 * A rate-limit rule as `<points>/<seconds>`, e.g. `30/10`: at most that many calls
 * per window of that many seconds (src/limits/rate-limits.ts).
 */
const rateRule = z
  .string()
  .regex(/^[1-9]\d*\/[1-9]\d*$/, "must be <calls>/<seconds>, e.g. 30/10")
  .transform((v) => {
    const [points, durationS] = v.split("/").map(Number) as [number, number];
    return { points, durationS };
  });

/**
 * Words of the placeholders that example configurations put in a JWT secret
 * ("change-me-…", "secret", jwt.io's "your-256-bit-secret", "replace-me", …). A
 * production JWT_SECRET containing one, once lower-cased and stripped to letters
 * and digits, is refused as a known value, not a key: NIST SP 800-63B §5.1.1.2 has
 * verifiers refuse secrets "known to be commonly-used, expected, or compromised".
 * A random key contains none of them: a hex one never, a base64 one of 64
 * characters (`openssl rand -base64 48`) by a chance below one in ten million.
 */
const PLACEHOLDER_WORDS = ["changeme", "changethis", "replaceme", "placeholder", "secret", "password", "example", "insecure"] as const;

/** One key of MESSAGE_ENCRYPTION_KEYS: its id (stored with each sealed row) and its 32 bytes (AES-256). */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/**
 * MESSAGE_ENCRYPTION_KEYS → its keys, current first. Each entry is
 * `<id>:<base64>`: an id of 1–32 letters, digits, `_` or `-`, unique, and exactly
 * 32 bytes of key.
 * @throws a ZodError naming the entry that is not.
 */
function parseEncryptionKeys(list: string, ctx: z.RefinementCtx): EncryptionKey[] {
  const keys = list
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [id = "", base64 = ""] = entry.split(":", 2);
      return { id, key: Buffer.from(base64, "base64"), base64 };
    });
  if (keys.length === 0) ctx.addIssue({ code: "custom", message: "must list at least one <keyId>:<base64 key>" });
  for (const { id, key, base64 } of keys) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) ctx.addIssue({ code: "custom", message: `key id "${id}" must be 1-32 letters, digits, _ or -` });
    else if (key.length !== 32 || key.toString("base64") !== base64)
      ctx.addIssue({ code: "custom", message: `key "${id}" must be 32 bytes in base64 (openssl rand -base64 32)` });
  }
  if (new Set(keys.map((k) => k.id)).size !== keys.length) ctx.addIssue({ code: "custom", message: "key ids must be unique" });
  return keys.map(({ id, key }) => ({ id, key }));
}

/** A Redis Cluster to connect to (REDIS_CLUSTER_NODES or a `redis+cluster://` REDIS_URL). */
export interface RedisClusterConfig {
  /** Seed nodes: any of the cluster's nodes; ioredis discovers the rest (CLUSTER SLOTS). */
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
}

/** `host:port,host:port` → the nodes; an entry of another shape is an issue on the variable. */
function parseClusterNodes(list: string, ctx: z.RefinementCtx): { host: string; port: number }[] {
  const nodes = list
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^([^:\s]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) ctx.addIssue({ code: "custom", message: `"${entry}" must be host:port` });
      return { host: match?.[1]?.replace(/^\[|\]$/g, "") ?? "", port };
    });
  if (nodes.length === 0) ctx.addIssue({ code: "custom", message: "must list at least one host:port" });
  return nodes;
}

/** `redis+cluster://[user:password@]host:port[,host:port…]` → a {@link RedisClusterConfig}. */
function parseClusterUrl(url: string, ctx: z.RefinementCtx): RedisClusterConfig {
  const rest = url.slice("redis+cluster://".length).replace(/\/$/, "");
  const at = rest.lastIndexOf("@");
  const [username = "", password = ""] = at < 0 ? [] : rest.slice(0, at).split(":", 2).map(decodeURIComponent);
  return { nodes: parseClusterNodes(rest.slice(at + 1), ctx), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** The first of {@link PLACEHOLDER_WORDS} in `secret`, or undefined. */
function placeholderWordIn(secret: string): string | undefined {
  const letters = secret.toLowerCase().replace(/[^a-z0-9]/g, "");
  return PLACEHOLDER_WORDS.find((word) => letters.includes(word));
}

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HOST: z.string().default("0.0.0.0"),
    /** PostgreSQL URL; unset → embedded PostgreSQL under DATA_DIR. */
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    /**
     * Connections reserved for sendMessage's statement (db/client.ts WritePool), besides
     * DATABASE_POOL_SIZE (Prisma's): nothing else ever makes a send wait for a connection.
     */
    DATABASE_WRITE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5),
    /**
     * Redis URL; unset → in-process pub/sub (one node only). `redis+cluster://[user:password@]host:port[,host:port…]`
     * names a Redis Cluster instead, as REDIS_CLUSTER_NODES does.
     */
    REDIS_URL: z.union([z.url({ protocol: /^rediss?$/ }), z.string().startsWith("redis+cluster://").transform(parseClusterUrl)]).optional(),
    /**
     * A Redis Cluster (7.0 or later: sharded pub/sub) instead of one Redis: some of its nodes as
     * `host:port,host:port` (the others are discovered); realtime/pubsub.ts. Not with a `redis://` REDIS_URL.
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .transform((list, ctx) => parseClusterNodes(list, ctx))
      .optional(),
    /**
     * Prefix of this deployment's Redis keys (presence, typing, rate limits, the push queue); nodes of one
     * deployment share it. No braces: a cluster's hash tags are the server's own (realtime/presence-store.ts).
     */
    REDIS_KEY_PREFIX: z
      .string()
      .max(64)
      .regex(/^[^{}]*$/, "must not contain { or }")
      .default("chat:"),
    /** HS256 key for access tokens; required in production, ≥ 32 characters, no placeholder ({@link PLACEHOLDER_WORDS}). */
    JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    /** Where the embedded PostgreSQL and the development JWT secret live. */
    DATA_DIR: z.string().default(".data"),
    /** Port of the embedded PostgreSQL (only when DATABASE_URL is unset). */
    EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
    /** Access-token lifetime in seconds (default 15 min). */
    ACCESS_TOKEN_TTL_S: z.coerce.number().int().positive().default(900),
    /** Refresh-token (session) lifetime in seconds (default 30 days). */
    REFRESH_TOKEN_TTL_S: z.coerce
      .number()
      .int()
      .positive()
      .default(30 * 24 * 3600),
    /** Presence TTL in ms: a node that stops heart-beating takes its users OFFLINE within this (+ one sweep). */
    PRESENCE_TTL_MS: z.coerce.number().int().min(1000).max(60_000).default(30_000),
    /** Typing expiry in ms: typing ends this long after the last setTyping(true) (default 3 s). */
    TYPING_TTL_MS: z.coerce.number().int().min(100).default(3000),
    /**
     * Largest room (members) whose delivery receipts are tracked (chat/delivery.ts): above
     * it markDelivered stores and publishes nothing and deliveryState stays SENT until READ,
     * so a big room never costs an acknowledgement write and event per member per message.
     */
    DELIVERY_RECEIPTS_MAX_MEMBERS: z.coerce.number().int().min(2).max(10_000).default(100),
    /**
     * myEvents RoomActivity in rooms of more than this many members is coalesced: at
     * most one event per room per ACTIVITY_COALESCE_MS, with the newest message and
     * counts (realtime/room-activity.ts). Default 500.
     */
    ACTIVITY_COALESCE_ABOVE: z.coerce.number().int().min(0).default(500),
    /** The coalescing window of ACTIVITY_COALESCE_ABOVE, in ms (default 1 s). */
    ACTIVITY_COALESCE_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
    /**
     * How long, in days, a sync cursor (sync's `nextCursor`) stays usable, and so
     * how long each user's event log (UserEventLog) is kept (default 30).
     * An older cursor is refused with SYNC_CURSOR_EXPIRED (src/sync/cursor.ts).
     */
    SYNC_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    /**
     * Where uploads are kept: "disk" (default) under ATTACHMENTS_DIR, which several
     * nodes must share; "s3" in the S3-compatible bucket S3_BUCKET (AWS S3, MinIO,
     * R2…), downloads redirected to presigned URLs (attachments/s3-store.ts).
     */
    ATTACHMENTS_STORE: z.enum(["disk", "s3"]).default("disk"),
    /** Where uploads are kept with ATTACHMENTS_STORE=disk (default `<DATA_DIR>/attachments`); nodes must share it. */
    ATTACHMENTS_DIR: z.string().optional(),
    /** The bucket of ATTACHMENTS_STORE=s3 (required there), named by S3's rules: 3–63 lower-case letters, digits, dots and hyphens. */
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a bucket name: 3-63 lower-case letters, digits, dots and hyphens")
      .optional(),
    /**
     * The S3 API's origin, e.g. `http://127.0.0.1:9000` (MinIO) or
     * `https://<account>.r2.cloudflarestorage.com`; unset: AWS S3 in S3_REGION.
     * Clients download from it (presigned URLs point there), so it must be reachable by them.
     */
    S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /** The bucket's region (R2: `auto`; MinIO accepts the default). */
    S3_REGION: z.string().min(1).default("us-east-1"),
    /** Access key of ATTACHMENTS_STORE=s3, with S3_SECRET_ACCESS_KEY; both unset: the AWS SDK's default chain (AWS_* variables, shared config, instance or task role). */
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    /** `true`: path-style URLs (`<endpoint>/<bucket>/<key>`), as MinIO and most self-hosted S3 servers need; `false` (default): `<bucket>.<endpoint host>`. */
    S3_FORCE_PATH_STYLE: z.stringbool().default(false),
    /** Largest upload in bytes (default 25 MiB). */
    MAX_ATTACHMENT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(1024 ** 3)
      .default(25 * 1024 * 1024),
    /**
     * Longest the duration and video size of an audio or video upload are read for,
     * in ms (attachments/media.ts); a file that takes longer is stored without them.
     */
    MEDIA_PARSE_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(2000),
    /** Longest uploadAttachmentFromUrl's fetch may take, redirects and body included, in ms (attachments/url-fetch.ts). */
    URL_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /**
     * Address ranges uploadAttachmentFromUrl may fetch from although they are not
     * public (loopback, private, link-local…), as comma-separated CIDRs, e.g.
     * `10.1.2.0/24` for an internal media server; default none. Each is an exception
     * to the SSRF protection: name the smallest range that holds the server.
     */
    URL_FETCH_ALLOWED_RANGES: z
      .string()
      .default("")
      .transform((list) =>
        list
          .split(",")
          .map((r) => r.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .refine((r) => ipaddr.isValidCIDR(r), "must be a CIDR such as 10.1.2.0/24 or fd00::/64")
            .transform((r) => ipaddr.parseCIDR(r)),
        ),
      ),
    /** A PEM file of CA certificates trusted by uploadAttachmentFromUrl and by push notifications (push/web-push.ts) besides Node's roots (a private CA); read once at start. */
    URL_FETCH_CA_FILE: z.string().transform(readPemFile).optional(),
    /** The server's public origin for attachment URLs, e.g. https://chat.example.com; unset: path-only URLs. */
    PUBLIC_URL: z.url().optional(),
    /**
     * Where account mails (password reset, email verification) go out: an SMTP URL as
     * nodemailer reads it, e.g. `smtps://user:pass@smtp.example.com:465` or
     * `smtp://127.0.0.1:2525`. Unset: outside production each mail is logged
     * (link included) instead of sent; in production mails are dropped, with a
     * warning at start and per mail (mail/mailer.ts), and no link is ever logged.
     */
    SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
    /** The From of account mails, e.g. `"Chat" <no-reply@chat.example.com>`. */
    MAIL_FROM: z.string().min(3).default("Chat <no-reply@localhost>"),
    /**
     * The web app's origin that account mails link to (`<APP_URL>/reset-password?token=…`,
     * `<APP_URL>/verify-email?token=…`); the page there calls resetPassword or verifyEmail.
     * Default: PUBLIC_URL, else `http://localhost:<PORT>`. Required in production when SMTP_URL is set.
     */
    APP_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** How long a password-reset token lives, in seconds (default 30 min, OWASP Forgot Password Cheat Sheet: short-lived). */
    PASSWORD_RESET_TTL_S: z.coerce
      .number()
      .int()
      .min(60)
      .max(24 * 3600)
      .default(30 * 60),
    /** How long an email-verification token lives, in seconds (default 48 h). */
    EMAIL_VERIFICATION_TTL_S: z.coerce
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .default(48 * 3600),
    /** How often each node purges self-destructing messages whose time has come, in ms. */
    EXPIRY_SWEEP_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    /** PostgreSQL connections of this node's Prisma pool. */
    DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(10),
    /**
     * How many of them subscription set-up (membership, head, replay, gap fills),
     * WebSocket authentication, presence and the expiry sweep may use at once
     * (db/admission.ts); the rest wait in memory, and the other connections stay
     * free for requests and writes. Default: half the pool, rounded up (5 of 10).
     */
    DATABASE_SETUP_CONNECTIONS: z.coerce.number().int().min(1).max(199).optional(),
    /**
     * "on": a subscription selecting only viewer-independent fields is executed
     * once per event per node and the result shared by its subscribers
     * (realtime/shared-execution.ts), and WebSocket subscriptions to messageAdded and
     * roomEvents are delivered by one fan-out loop per room and selection
     * (realtime/fanout.ts); "memo": the shared execution only, each subscriber
     * iterated by graphql-ws (the path before fan-out groups, kept for comparison);
     * "off": once per subscriber (the naive stack, kept for the benchmark's baseline).
     */
    SUBSCRIPTION_SHARING: z.enum(["on", "memo", "off"]).default("on"),
    /** Largest GraphQL-over-HTTP request body (not multipart) in bytes; larger ones get HTTP 413 (default 1 MiB, as the WebSocket maxPayload). */
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Deepest selection allowed (graphql-armor max-depth; introspection exempt). The deepest operation in examples/, README and tests is 8. */
    MAX_QUERY_DEPTH: z.coerce.number().int().min(1).default(10),
    /** Highest graphql-armor cost (objects 2, scalars 1, ×1.5 per level, × a literal `first`). The costliest operation in examples/, README and tests is ≈ 14,050. */
    MAX_QUERY_COST: z.coerce.number().int().min(1).default(20_000),
    /** Most aliases in one operation (graphql-armor's default; `__typename` exempt). */
    MAX_QUERY_ALIASES: z.coerce.number().int().min(0).default(15),
    /** Most directives in one operation (graphql-armor's default). */
    MAX_QUERY_DIRECTIVES: z.coerce.number().int().min(0).default(50),
    /** Most lexical tokens in one document (graphql-armor's default; the README's largest block has 422). */
    MAX_QUERY_TOKENS: z.coerce.number().int().min(1).default(1000),
    /** "off" refuses introspection (`__schema`, `__type`); GraphiQL then has no schema. Default: "off" when NODE_ENV=production, else "on". */
    GRAPHQL_INTROSPECTION: z.enum(["on", "off"]).optional(),
    /** "on" serves GraphiQL at GET /graphql to browsers (graphiql.ts). Default: "off" when NODE_ENV=production, else "on". */
    GRAPHIQL: z.enum(["on", "off"]).optional(),
    /**
     * Trusted documents (security/trusted-documents.ts): "off" runs any document sent
     * as text; "allow" also runs those of GRAPHQL_TRUSTED_DOCUMENTS_FILE sent by hash
     * alone (`extensions.persistedQuery.sha256Hash`); "only" runs nothing but those,
     * so a production deployment can refuse documents its own clients do not send.
     */
    GRAPHQL_TRUSTED_DOCUMENTS: z.enum(["off", "allow", "only"]).default("off"),
    /**
     * A JSON file `{ "<hash>": "<document>", … }`, as GraphQL Code Generator's client
     * preset writes it (`persistedDocuments`; `npm run codegen` writes the example
     * clients' to examples/generated/persisted-documents.json). Read and checked once
     * at start, into a map hash → document; required unless GRAPHQL_TRUSTED_DOCUMENTS is "off".
     */
    GRAPHQL_TRUSTED_DOCUMENTS_FILE: z.string().transform(readTrustedDocuments).optional(),
    /**
     * How many proxies in front of the nodes append to X-Forwarded-For: 0 (default)
     * ignores the header and takes the socket's address as the client's; n takes the
     * n-th address from the right (1: the address the nearest proxy saw).
     */
    TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
    /**
     * Encryption at rest of message content and edits (security/message-encryption.ts):
     * `<keyId>:<base64 of 32 random bytes>,…` (`openssl rand -base64 32`), the first
     * key current (new content is sealed with it), the others still read; rotate by
     * putting a new key first, and drop an old one once no row uses it (the
     * re-encryption job moves rows to the current key). Unset: off, content stored as sent.
     */
    MESSAGE_ENCRYPTION_KEYS: z.string().transform(parseEncryptionKeys).optional(),
    /**
     * Full-text message search (searchMessages). With encryption on, "on" keeps a
     * tsvector per message (MessageSearch) whose lexemes are plaintext at rest, and
     * "off" stores nothing plaintext, and searchMessages is refused. Default "on".
     */
    MESSAGE_SEARCH: z.enum(["on", "off"]).default("on"),
    /** "off" turns every rate limit off (the benchmark does). */
    RATE_LIMITS: z.enum(["on", "off"]).default("on"),
    /**
     * sendMessage per user, all rooms together: 1/s sustained, bursts to 60. Slack's
     * chat.postMessage allows 1 per second per channel with short bursts; Telegram's Bot
     * API FAQ ≤ 1 per second per chat and 20 per minute per group.
     */
    RATE_LIMIT_SEND_MESSAGE: rateRule.prefault("60/60"),
    /** setTyping per user: 1/s sustained; clients refresh within the 3 s TYPING_TTL_MS and should throttle their calls. */
    RATE_LIMIT_SET_TYPING: rateRule.prefault("60/60"),
    /** uploadAttachment and uploadAttachmentFromUrl per user, one budget (Slack's files.upload is in its Tier 2: 20+ per minute). */
    RATE_LIMIT_UPLOAD: rateRule.prefault("30/60"),
    /** login per client IP (generous: many users may share one NAT address). */
    RATE_LIMIT_LOGIN_IP: rateRule.prefault("30/60"),
    /**
     * login per account identifier (email or username as sent, case-folded), and
     * deleteAccount per user (its password check), against
     * password guessing: NIST SP 800-63B §5.2.2 asks to limit failed attempts per account;
     * ASP.NET Core Identity locks out for 5 min after 5 failures.
     */
    RATE_LIMIT_LOGIN_ACCOUNT: rateRule.prefault("10/300"),
    /** register per client IP (sign-ups of a whole class behind one NAT still pass). */
    RATE_LIMIT_REGISTER_IP: rateRule.prefault("60/600"),
    /**
     * reportMessage and reportUser per user, together: 10 per 10 minutes. Enough for
     * someone reporting a burst of abuse, not for flooding a room's queue.
     */
    RATE_LIMIT_REPORT: rateRule.prefault("10/600"),
    /**
     * requestPasswordReset per client IP. Each call may send a mail to someone else's
     * inbox, so this is tighter than login's.
     */
    RATE_LIMIT_PASSWORD_RESET_IP: rateRule.prefault("10/600"),
    /**
     * requestPasswordReset per email address asked for (whether or not it has an
     * account, so the limit reveals nothing): 3 mails an hour at most reach one inbox.
     */
    RATE_LIMIT_PASSWORD_RESET_ACCOUNT: rateRule.prefault("3/3600"),
    /**
     * changePassword and changeEmail per user: each checks the current password, so
     * a stolen access token must not become a password oracle; login's per-account rule.
     */
    RATE_LIMIT_PASSWORD_CHECK: rateRule.prefault("10/300"),
    /** requestEmailVerification per user: each sends a mail. */
    RATE_LIMIT_VERIFICATION_MAIL: rateRule.prefault("5/3600"),
    /** Largest WebSocket frame (message) a client may send, in bytes; a larger one closes the socket with 1009 (default 1 MiB). */
    WS_MAX_PAYLOAD_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** How long a new WebSocket may take to send `connection_init`, in ms; then it is closed with 4408 (default 10 s). */
    WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
    /**
     * Operations one WebSocket may have running at once; one more closes it with 4429.
     * A client needs `myEvents` (its RoomActivity keeps a room list current), and
     * `messageAdded`, `typing` and `presence` per open room, or a `roomEvents` per room
     * it follows in full: 100 covers about 80 followed rooms with a few open.
     */
    WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(10_000).default(100),
    /**
     * Messages one WebSocket may send at once (token-bucket size; any graphql-ws
     * message and ping frames); beyond it, and the refill WS_MESSAGES_PER_S, it is
     * closed with 4429. 200: twice WS_MAX_SUBSCRIPTIONS, so a reconnecting client
     * re-subscribing everything at once (plus connection_init and pings) passes.
     */
    WS_MESSAGE_BURST: z.coerce.number().int().min(1).max(100_000).default(200),
    /**
     * Messages per second one WebSocket may keep sending (the bucket's refill).
     * 20: switching rooms is 6 messages (complete and subscribe for messageAdded,
     * typing, presence), typing over WebSocket one every few seconds.
     */
    WS_MESSAGES_PER_S: z.coerce.number().min(0.1).max(100_000).default(20),
    /**
     * Bytes queued for one WebSocket that its client has not read (beyond the
     * kernel's buffers) before it counts as a slow consumer and is closed with 1013
     * (clients retry and resume with `after:`). 4 MiB: one replay page (200 messages
     * of up to 5000 characters) fits; a stuck client costs at most this.
     */
    WS_MAX_BUFFERED_BYTES: z.coerce
      .number()
      .int()
      .min(16 * 1024)
      .max(1024 ** 3)
      .default(4 * 1024 * 1024),
    /**
     * Origins whose pages may call the API from a browser (CORS), comma-separated,
     * e.g. `https://chat.example.com,https://admin.example.com`; `*` allows any.
     * Default: none, i.e. same-origin only (GraphiQL is served from /graphql;
     * native and server clients do not use CORS). See security/cors.ts.
     */
    CORS_ORIGINS: z
      .string()
      .default("")
      .transform((list) =>
        list
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z.union([
            z.literal("*"),
            z
              .url({ protocol: /^https?$/ })
              .refine((o) => new URL(o).origin === o, "must be an origin such as https://chat.example.com (no path or trailing slash)"),
          ]),
        ),
      ),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /**
     * Where traces go (OpenTelemetry's standard variable, src/tracing.ts): "otlp" (OTLP over
     * HTTP, JSON) or "none". Unset: "otlp" when an OTLP endpoint is set, else "none", i.e.
     * tracing is off unless configured (the specification's default would be "otlp").
     */
    OTEL_TRACES_EXPORTER: z.enum(["otlp", "none"]).optional(),
    /** The OTLP collector's base URL, e.g. http://collector:4318; spans go to `<it>/v1/traces`. */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /** The OTLP traces URL itself (wins over OTEL_EXPORTER_OTLP_ENDPOINT), e.g. http://collector:4318/v1/traces. */
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /** `service.name` of this node's spans. */
    OTEL_SERVICE_NAME: z.string().min(1).default("chat-graphql"),
    /**
     * Which traces are recorded: "parentbased_always_on" (all; a client's `traceparent` header decides
     * for its request) or "parentbased_traceidratio" (a share, OTEL_TRACES_SAMPLER_ARG, of the traces that start here).
     */
    OTEL_TRACES_SAMPLER: z.enum(["parentbased_always_on", "parentbased_traceidratio"]).default("parentbased_always_on"),
    /** The share of traces parentbased_traceidratio records, 0 to 1. */
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
    /**
     * Web Push (RFC 8292 VAPID): the application server's P-256 public key, 65 bytes
     * uncompressed in base64url (`npx web-push generate-vapid-keys`), with VAPID_PRIVATE_KEY.
     * Unset outside production: a pair is generated once into `<DATA_DIR>/vapid-keys`.
     * Unset in production (both): push notifications are off (src/push/).
     */
    VAPID_PUBLIC_KEY: z
      .string()
      .refine(
        (k) => isBase64url(k, 65) && Buffer.from(k, "base64url")[0] === 4,
        "must be a P-256 public key: 65 bytes uncompressed, base64url",
      )
      .optional(),
    /** The VAPID private key: 32 bytes in base64url. */
    VAPID_PRIVATE_KEY: z
      .string()
      .refine((k) => isBase64url(k, 32), "must be a P-256 private key: 32 bytes, base64url")
      .optional(),
    /** Who push services contact about this server's pushes (RFC 8292 §2.1 `sub`): a `mailto:` or `https:` URL. Required in production when push is on. */
    VAPID_SUBJECT: z.url({ protocol: /^(mailto|https)$/, message: "must be a mailto: or https: URL" }).optional(),
    /**
     * Coalescing window of push notifications, in ms: at most one push per user,
     * room and kind (message, mention) per window, saying the newest message
     * (src/push/notifier.ts). Also the delay of the first push of a burst. Default 2 s.
     */
    PUSH_COALESCE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
    /** First retry delay of a push the push service refused for now (5xx, 429, network), in ms; doubled at each of the 5 attempts. */
    PUSH_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(5000),
    /** Push jobs one node's worker runs at once. */
    PUSH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  })
  .refine((env) => !env.VAPID_PUBLIC_KEY === !env.VAPID_PRIVATE_KEY, {
    path: ["VAPID_PRIVATE_KEY"],
    message: "VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together (both unset: generated outside production, push off in production)",
  })
  .refine((env) => env.NODE_ENV !== "production" || !env.VAPID_PUBLIC_KEY || env.VAPID_SUBJECT, {
    path: ["VAPID_SUBJECT"],
    message: "is required when NODE_ENV=production and the VAPID keys are set (a mailto: or https: URL push services can reach you at)",
  })
  .refine((env) => env.DATABASE_SETUP_CONNECTIONS === undefined || env.DATABASE_SETUP_CONNECTIONS < env.DATABASE_POOL_SIZE, {
    path: ["DATABASE_SETUP_CONNECTIONS"],
    message: "must be less than DATABASE_POOL_SIZE (the rest is kept for requests and writes)",
  })
  .refine((env) => env.ATTACHMENTS_STORE !== "s3" || env.S3_BUCKET, {
    path: ["S3_BUCKET"],
    message: "is required when ATTACHMENTS_STORE=s3",
  })
  .refine((env) => env.ATTACHMENTS_STORE === "s3" || !env.S3_BUCKET, {
    path: ["S3_BUCKET"],
    message: "is set, but uploads go to disk: set ATTACHMENTS_STORE=s3 to keep them in the bucket (or unset S3_BUCKET)",
  })
  .refine((env) => !env.S3_ACCESS_KEY_ID === !env.S3_SECRET_ACCESS_KEY, {
    path: ["S3_SECRET_ACCESS_KEY"],
    message: "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together (both unset: the AWS SDK's default credentials)",
  })
  .refine((env) => env.NODE_ENV !== "production" || env.JWT_SECRET, {
    path: ["JWT_SECRET"],
    message: "is required when NODE_ENV=production",
  })
  .superRefine((env, ctx) => {
    const word = env.NODE_ENV === "production" && env.JWT_SECRET ? placeholderWordIn(env.JWT_SECRET) : undefined;
    if (word) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_SECRET"],
        message: `is a placeholder (it contains "${word}"), not a key; when NODE_ENV=production set a random one, e.g. \`openssl rand -base64 48\``,
      });
    }
  })
  .refine((env) => env.NODE_ENV !== "production" || !env.SMTP_URL || env.APP_URL || env.PUBLIC_URL, {
    path: ["APP_URL"],
    message: "is required when NODE_ENV=production and SMTP_URL is set (the links in account mails point to it)",
  })
  .refine((env) => env.GRAPHQL_TRUSTED_DOCUMENTS === "off" || env.GRAPHQL_TRUSTED_DOCUMENTS_FILE, {
    path: ["GRAPHQL_TRUSTED_DOCUMENTS_FILE"],
    message: "is required when GRAPHQL_TRUSTED_DOCUMENTS is allow or only",
  })
  .refine((env) => !(typeof env.REDIS_URL === "string" && env.REDIS_CLUSTER_NODES), {
    path: ["REDIS_CLUSTER_NODES"],
    message: "is set, and so is a redis:// REDIS_URL: one Redis or a cluster, not both",
  })
  // what a production deployment does not publish unless asked: the schema, and a page to explore it;
  // REDIS_URL: one Redis only, REDIS_CLUSTER: the cluster (from REDIS_CLUSTER_NODES or a redis+cluster:// REDIS_URL)
  .transform(({ REDIS_URL, REDIS_CLUSTER_NODES, ...env }) => {
    const outsideProduction = env.NODE_ENV === "production" ? "off" : "on";
    const cluster: RedisClusterConfig | undefined = REDIS_CLUSTER_NODES
      ? { nodes: REDIS_CLUSTER_NODES }
      : (REDIS_URL as RedisClusterConfig | undefined);
    return {
      ...env,
      REDIS_URL: typeof REDIS_URL === "string" ? REDIS_URL : undefined,
      REDIS_CLUSTER: typeof REDIS_URL === "string" ? undefined : cluster,
      GRAPHQL_INTROSPECTION: env.GRAPHQL_INTROSPECTION ?? outsideProduction,
      GRAPHIQL: env.GRAPHIQL ?? outsideProduction,
    };
  });

/** Whether `value` is base64url (no padding) of exactly `bytes` bytes. */
function isBase64url(value: string, bytes: number): boolean {
  return /^[A-Za-z0-9_-]+$/.test(value) && Buffer.from(value, "base64url").length === bytes;
}

/** The trusted documents file's content: a JSON object of non-empty hash → non-empty document. */
const TrustedDocumentsFile = z.record(z.string().min(1), z.string().min(1));

/**
 * GRAPHQL_TRUSTED_DOCUMENTS_FILE's transform: reads the file at `path` (relative to
 * the working directory) into a map hash → document. A file that cannot be read,
 * is not JSON or not of that shape is an issue on the variable, naming the file and why.
 */
function readTrustedDocuments(path: string, ctx: z.RefinementCtx): ReadonlyMap<string, string> {
  try {
    const parsed = TrustedDocumentsFile.safeParse(JSON.parse(readFileSync(path, "utf8")));
    if (parsed.success) return new Map(Object.entries(parsed.data));
    ctx.addIssue({
      code: "custom",
      message: `${path} is not a JSON object of hash → document: ${z.prettifyError(parsed.error).replace(/\n/g, " ")}`,
    });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `cannot read ${path}: ${(err as Error).message}` });
  }
  return z.NEVER;
}

/** The certificates of a PEM file (URL_FETCH_CA_FILE), each from BEGIN to END; an issue when unreadable or empty. */
function readPemFile(path: string, ctx: z.RefinementCtx): string[] {
  try {
    const pems = readFileSync(path, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (pems) return pems;
    ctx.addIssue({ code: "custom", message: `${path} holds no PEM certificate` });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `cannot read ${path}: ${(err as Error).message}` });
  }
  return z.NEVER;
}

/**
 * The server's typed configuration, read once from the environment.
 * Times carry their unit in the name (`_S` seconds, `_MS` milliseconds).
 */
export type Config = Omit<z.infer<typeof EnvSchema>, "JWT_SECRET" | "VAPID_SUBJECT"> & {
  JWT_SECRET: string;
  /** Always set when the VAPID keys are (outside production: `mailto:push@localhost` by default). */
  VAPID_SUBJECT?: string;
};

/** Thrown by {@link loadConfig} with one line per bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses and checks the environment (zod) and fills the embedded defaults;
 * empty variables count as unset.
 * Outside production a missing JWT_SECRET is generated once and kept in
 * `<DATA_DIR>/jwt-secret`, so tokens survive restarts.
 * @throws ConfigError naming each bad variable, e.g. `PORT: Too big: expected number to be <=65535`;
 * in production also for a missing JWT_SECRET or a placeholder one ({@link PLACEHOLDER_WORDS}).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // an empty variable counts as unset (e.g. `DATABASE_URL= npm start`)
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment:\n${lines.join("\n")}`);
  }
  const config = parsed.data;
  const JWT_SECRET = config.JWT_SECRET ?? keptInDataDir(config.DATA_DIR, "jwt-secret", () => randomBytes(48).toString("base64url"));
  const vapid = config.VAPID_PUBLIC_KEY || config.NODE_ENV === "production" ? config : devVapidKeys(config.DATA_DIR);
  return {
    ...config,
    DATA_DIR: resolve(config.DATA_DIR),
    JWT_SECRET,
    VAPID_PUBLIC_KEY: vapid.VAPID_PUBLIC_KEY,
    VAPID_PRIVATE_KEY: vapid.VAPID_PRIVATE_KEY,
    VAPID_SUBJECT: config.VAPID_SUBJECT ?? (vapid.VAPID_PUBLIC_KEY ? "mailto:push@localhost" : undefined),
  };
}

/**
 * A development secret kept in `<dataDir>/<name>`: read when the file exists,
 * else made by `generate` and written (mode 0600, only if no other process
 * wrote it first: then that one is read), so it survives restarts.
 */
function keptInDataDir(dataDir: string, name: string, generate: () => string): string {
  const file = join(dataDir, name);
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = generate();
    try {
      writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
      throw err;
    }
    return secret;
  }
}

/** A development VAPID key pair (P-256), kept in `<dataDir>/vapid-keys` as `<public>\n<private>` in base64url. */
function devVapidKeys(dataDir: string): { VAPID_PUBLIC_KEY: string; VAPID_PRIVATE_KEY: string } {
  const [publicKey, privateKey] = keptInDataDir(dataDir, "vapid-keys", () => {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    return `${ecdh.getPublicKey().toString("base64url")}\n${ecdh.getPrivateKey().toString("base64url")}`;
  }).split("\n");
  return { VAPID_PUBLIC_KEY: publicKey!, VAPID_PRIVATE_KEY: privateKey! };
}
