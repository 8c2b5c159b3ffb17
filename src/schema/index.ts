import { builder } from "./builder.js";
import "./user.js";
import "./auth.js";
import "./account.js";
import "./room.js";
import "./message.js";
import "./contact.js";
import "./attachment.js";
import "./notification.js";
import "./moderation.js";
import "./events.js";
import "./realtime.js";
import "./gdpr.js";
import "./sync.js";
import "./push.js";

/** The executable GraphQL schema, built once from every schema/*.ts file. */
export const schema = builder.toSchema({ sortSchema: true });
