import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { PrismaClient } from "../db/client.js";
import type { MessageEncryption } from "../security/message-encryption.js";
import { type OnlineCheck, PushNotifier } from "./notifier.js";
import { BullJobQueue, MemoryJobQueue } from "./queue.js";
import { PushSubscriptions } from "./subscriptions.js";
import { WebPushSender } from "./web-push.js";

/** Longest one request to a push service may take, in ms. */
const PUSH_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Push notifications of one node from its configuration: off (notifier null,
 * subscriptions refused) without VAPID keys, which only production can lack
 * (config.ts); else a {@link PushNotifier} on the BullMQ queue in Redis (REDIS_URL or REDIS_CLUSTER)
 * or the in-process one, its worker started with PUSH_CONCURRENCY. In production push
 * endpoints must be https and public (the SSRF rule of uploadAttachmentFromUrl, with its URL_FETCH_ALLOWED_RANGES);
 * push services are trusted by Node's root certificates and URL_FETCH_CA_FILE's, as uploadAttachmentFromUrl's hosts.
 */
export function startPush(
  config: Config,
  db: PrismaClient,
  presence: OnlineCheck,
  encryption: MessageEncryption,
  logger: Logger,
): { notifier: PushNotifier | null; subscriptions: PushSubscriptions } {
  const { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey, VAPID_SUBJECT: subject } = config;
  const ssrf = config.NODE_ENV === "production" ? { allowedRanges: config.URL_FETCH_ALLOWED_RANGES } : null;
  const enabled = Boolean(publicKey && privateKey && subject);
  if (!enabled) return { notifier: null, subscriptions: new PushSubscriptions(db, false, ssrf) };
  const log = logger.child({ component: "push" });
  const queue =
    config.REDIS_URL || config.REDIS_CLUSTER
      ? new BullJobQueue(config, config.REDIS_KEY_PREFIX, config.PUSH_RETRY_BASE_MS, log)
      : new MemoryJobQueue(config.PUSH_RETRY_BASE_MS, log);
  const sender = new WebPushSender(
    { publicKey: publicKey!, privateKey: privateKey!, subject: subject! },
    PUSH_REQUEST_TIMEOUT_MS,
    ssrf,
    config.URL_FETCH_CA_FILE ?? [],
  );
  const notifier = new PushNotifier(db, queue, sender, presence, encryption, config.PUSH_COALESCE_MS, log);
  notifier.start(config.PUSH_CONCURRENCY);
  return { notifier, subscriptions: new PushSubscriptions(db, true, ssrf) };
}
