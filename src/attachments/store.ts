import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Where attachment bytes live, by key. One implementation now (local disk); an
 * S3-compatible one can take its place without touching the rest.
 */
export interface AttachmentStore {
  put(key: string, data: Buffer): Promise<void>;
  /** The bytes, or null when there is nothing under `key`. */
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
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

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
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
