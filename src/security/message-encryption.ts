import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { EncryptionKey } from "../config.js";

/** AES-256-GCM's nonce (96 bits, NIST SP 800-38D's recommended length) and tag lengths, in bytes. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Content as stored: the text itself (`keyId` null) or its sealed form under the key `keyId`. */
export interface StoredContent {
  content: string;
  contentKeyId: string | null;
}

/**
 * Encryption at rest of message content and edits (MESSAGE_ENCRYPTION_KEYS;
 * docs/security.md "Encryption at rest"). A sealed content is base64 of
 * IV (12 random bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes), stored with the
 * id of its key (`contentKeyId`); the message id is the additional authenticated
 * data, so a sealed content copied onto another message does not open. A message
 * and its edits are sealed with the same id. Without keys (`keys` empty) it is
 * off: {@link seal} returns the text as it is, with a null key id.
 */
export class MessageEncryption {
  private readonly keys: Map<string, Buffer>;
  /** The key new content is sealed with (the first configured), or null when encryption is off. */
  readonly currentKeyId: string | null;

  /** `keys`: MESSAGE_ENCRYPTION_KEYS, current first (config.ts); empty or undefined: off. */
  constructor(keys: readonly EncryptionKey[] = []) {
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    this.currentKeyId = keys[0]?.id ?? null;
  }

  /** Whether new content is sealed. */
  get enabled(): boolean {
    return this.currentKeyId !== null;
  }

  /** `text` of message `messageId` as it is to be stored: sealed with the current key, or as it is when encryption is off. */
  seal(messageId: string, text: string): StoredContent {
    if (!this.currentKeyId) return { content: text, contentKeyId: null };
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(messageId));
    const sealed = Buffer.concat([iv, cipher.update(text, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return { content: sealed.toString("base64"), contentKeyId: this.currentKeyId };
  }

  /**
   * The text of a stored content of message `messageId`: as it is when `contentKeyId` is
   * null (stored before encryption was turned on, or a deleted message's ""), else opened.
   * @throws an Error (an unexpected error to clients, and logged) when its key is
   * no longer configured or the content does not open with it (altered, or moved
   * from another message).
   */
  open(messageId: string, stored: StoredContent): string {
    if (stored.contentKeyId === null) return stored.content;
    const key = this.keys.get(stored.contentKeyId);
    if (!key)
      throw new Error(
        `message ${messageId}: its content is sealed with key "${stored.contentKeyId}", which MESSAGE_ENCRYPTION_KEYS no longer lists`,
      );
    const sealed = Buffer.from(stored.content, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(messageId));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new Error(`message ${messageId}: its content does not open with key "${stored.contentKeyId}" (altered or moved)`);
    }
  }

  /** Whether a content stored under `contentKeyId` should be sealed again: encryption is on and it is not under the current key. */
  isStale(contentKeyId: string | null): boolean {
    return this.currentKeyId !== null && contentKeyId !== this.currentKeyId;
  }
}
