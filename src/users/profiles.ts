import type { PrismaClient } from "../db/client.js";
import { badInput } from "../errors.js";
import type { User } from "../generated/prisma/client.js";
import type { Presence } from "../realtime/presence.js";
import type { PresenceStatus } from "../realtime/topics.js";

/** updateProfile's fields; undefined = unchanged, null clears a nullable one. Validated by the schema. */
export interface ProfileChanges {
  firstName?: string | null;
  lastName?: string | null;
  displayName?: string | null;
  avatar?: string | null;
  phoneNumber?: string | null;
  bio?: string | null;
  /** ONLINE or AWAY: what others see while the user is connected (the schema refuses OFFLINE). */
  status?: PresenceStatus | null;
  language?: string | null;
  timezone?: string | null;
}

/** updateSettings' fields, the user's settings; undefined or null = unchanged. */
export type SettingsChanges = Partial<
  Record<
    | "notificationSound"
    | "emailNotifications"
    | "pushNotifications"
    | "showOnlineStatus"
    | "showReadReceipts"
    | "allowDirectMessages"
    | "autoJoinPublicRooms",
    boolean | null
  >
>;

/**
 * A user's own profile and settings. Changes to what presence shows (status
 * AWAY, showOnlineStatus) are announced to the user's rooms at once.
 */
export class Profiles {
  constructor(
    private readonly db: PrismaClient,
    private readonly presence: Presence,
  ) {}

  /**
   * Applies profile changes; returns the updated user.
   * @throws BAD_USER_INPUT on `input.<field>` for null on a field that cannot be empty.
   */
  async update(userId: string, changes: ProfileChanges): Promise<User> {
    const required = (["firstName", "lastName", "language", "timezone"] as const).find((field) => changes[field] === null);
    if (required) throw badInput(`input.${required}`, `${required} cannot be cleared`);
    const { status, firstName, lastName, language, timezone, ...nullable } = changes;
    const user = await this.db.user.update({
      where: { id: userId },
      data: {
        ...nullable,
        firstName: firstName ?? undefined,
        lastName: lastName ?? undefined,
        language: language ?? undefined,
        timezone: timezone ?? undefined,
        away: status == null ? undefined : status === "AWAY",
      },
    });
    if (status != null) await this.presence.refresh(userId);
    return user;
  }

  /** Applies settings changes; returns the updated user. */
  async updateSettings(userId: string, changes: SettingsChanges): Promise<User> {
    const data = Object.fromEntries(Object.entries(changes).filter(([, v]) => v != null));
    const user = await this.db.user.update({ where: { id: userId }, data });
    if (changes.showOnlineStatus != null) await this.presence.refresh(userId);
    return user;
  }
}
