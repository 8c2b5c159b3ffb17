import DataLoader from "dataloader";
import type { Logger } from "pino";
import type { PubSubEngine } from "graphql-subscriptions";
import type { Sessions, Viewer } from "./auth/sessions.js";
import type { Messages } from "./chat/messages.js";
import type { Rooms } from "./chat/rooms.js";
import type { Config } from "./config.js";
import type { PrismaClient } from "./db/client.js";
import type { Presence } from "./realtime/presence.js";
import type { PresenceStatus } from "./realtime/topics.js";
import type { Typing } from "./realtime/typing.js";

/** The long-lived services of one server process, shared by every request. */
export interface App {
  config: Config;
  logger: Logger;
  db: PrismaClient;
  pubsub: PubSubEngine;
  sessions: Sessions;
  rooms: Rooms;
  messages: Messages;
  typing: Typing;
  presence: Presence;
}

/**
 * What every resolver gets: the app, the viewer (null when not logged in) and
 * per-request loaders. Over HTTP it is made per request; over WebSocket per
 * operation, with the viewer fixed at `connection_init`.
 */
export interface Context {
  app: App;
  viewer: Viewer | null;
  /**
   * Batches the User.status look-ups of one execution into one presence read.
   * Uncached: a subscription keeps its context for its whole life, and presence changes.
   */
  statusLoader: DataLoader<string, PresenceStatus>;
}

/** Builds a resolver context for `viewer`. */
export function makeContext(app: App, viewer: Viewer | null): Context {
  return {
    app,
    viewer,
    statusLoader: new DataLoader(
      async (ids) => {
        const statuses = await app.presence.statuses(ids);
        return ids.map((id) => statuses.get(id) ?? "OFFLINE");
      },
      { cache: false },
    ),
  };
}
