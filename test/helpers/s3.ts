import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

/** A local S3 server started by {@link startS3}. */
export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  /** The variables that put a server's attachments in this bucket (ATTACHMENTS_STORE=s3, path-style, the server's keys). */
  env: Record<string, string>;
  /** The keys in the bucket, sorted. */
  keys(): Promise<string[]>;
  /** An object's bytes and the content type it was stored with. */
  object(key: string): Promise<{ contentType: string | undefined; bytes: Buffer }>;
  close(): Promise<void>;
}

/**
 * Starts s3rver (a fake S3 server in Node.js) in this process on a free port of
 * 127.0.0.1, keeping objects in a temporary directory of its own, with one empty
 * bucket. It speaks the S3 REST API (path-style) and checks a presigned URL's
 * expiry; it does not check SigV4 signatures (its source: "Signature version 4
 * calculation is unimplemented"), nor refuse unsigned requests, so a test proves
 * who the server hands a URL to, not that the bucket refuses everyone else.
 */
export async function startS3(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "chat-s3-"));
  const bucket = "chat-attachments";
  const s3rver = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await s3rver.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's built-in account
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  return {
    endpoint,
    bucket,
    env: {
      ATTACHMENTS_STORE: "s3",
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: "true",
    },
    keys: async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort(),
    object: async (key) => {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { contentType: object.ContentType, bytes: Buffer.from(await object.Body!.transformToByteArray()) };
    },
    close: async () => {
      client.destroy();
      await s3rver.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
