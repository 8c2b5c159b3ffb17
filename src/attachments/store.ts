import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The response headers that say what a download is, chosen by attachments.ts
 * (the sniffed type, inline or attachment, the file name, caching); a store that
 * redirects has the bucket send them.
 */
export interface FileHeaders {
  "content-type": string;
  "content-disposition": string;
  "cache-control": string;
}

/**
 * How a download is answered: with the bytes, which the node serves itself
 * (range requests included), or by a redirect to a URL the store signed, which
 * serves the same bytes with the same {@link FileHeaders}.
 */
export type Download = { bytes: Buffer } | { redirect: string };

/**
 * Where attachment bytes live, by key. Keys are made by the server (a uuid, with
 * `.thumb.webp` for a thumbnail), never by clients. Two implementations: local
 * disk ({@link DiskStore}, the embedded default) and an S3-compatible bucket
 * (s3-store.ts), chosen by ATTACHMENTS_STORE.
 */
export interface AttachmentStore {
  /** Stores `data` under `key`, served as `contentType`; resolves once all of it is there. */
  put(key: string, data: Buffer, contentType: string): Promise<void>;
  /**
   * How to answer a `method` download of `key` sent with `headers`; null when the
   * store knows nothing is there (a redirecting store does not look: the bucket 404s).
   */
  download(key: string, method: "GET" | "HEAD", headers: FileHeaders): Promise<Download | null>;
  /** Removes `key`; nothing there is not an error. */
  delete(key: string): Promise<void>;
  /** Releases what the store holds open (the S3 client's connections), at shutdown. */
  close?(): void;
}

/**
 * True when `e` says the store could not serve the request now, so the same
 * request may succeed later: an AWS SDK error that the SDK's retry strategy
 * retried and still failed on (its standard mode retries exactly the transient
 * ones: connections refused, reset or timed out, throttling, HTTP 5xx; a refusal
 * such as AccessDenied or NoSuchBucket is not retried, and is a misconfiguration).
 * The server's maskError turns it into SERVICE_UNAVAILABLE (src/server.ts).
 */
export function isStoreUnavailable(e: unknown): boolean {
  const attempts = (e as { $metadata?: { attempts?: unknown } } | null)?.$metadata?.attempts;
  return typeof attempts === "number" && attempts > 1;
}

/**
 * Files under one directory (ATTACHMENTS_DIR), a file per key. Several nodes
 * must share the directory (a network volume) to serve each other's uploads.
 */
export class DiskStore implements AttachmentStore {
  constructor(private readonly dir: string) {}

  async put(key: string, data: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(this.path(key), data);
  }

  async download(key: string): Promise<Download | null> {
    try {
      return { bytes: await readFile(this.path(key)) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  /** Keys are made by the server (uuid-based), never by clients; refuse anything else. */
  private path(key: string): string {
    if (!/^[0-9a-f-]{36}(\.thumb\.webp)?$/.test(key)) throw new Error(`bad attachment key ${key}`);
    return join(this.dir, key);
  }
}
