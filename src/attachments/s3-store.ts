import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { AttachmentStore, Download, FileHeaders } from "./store.js";

/**
 * Presigned download URLs are signed per window of this many seconds: one signed
 * in a window carries the window's start as its date and works for two windows,
 * so it works for at least this long after it is handed out (time to follow the
 * redirect, and for a media player to go on seeking) and at most twice that; and
 * the URLs of one object within a window are the same, so a browser's cache
 * serves a file it has seen from the bucket's `cache-control`.
 */
export const PRESIGNED_URL_WINDOW_S = 300;

/** Where the bucket is and how to reach it (ATTACHMENTS_STORE=s3, src/config.ts). */
export interface S3StoreOptions {
  bucket: string;
  /** The S3 API's origin; undefined: AWS S3 in `region`. */
  endpoint?: string;
  region: string;
  /** Undefined: the AWS SDK's default chain (AWS_* variables, shared config, instance or task role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), as MinIO needs. */
  forcePathStyle: boolean;
}

/**
 * Objects in an S3-compatible bucket (AWS S3, MinIO, R2…), an object per key,
 * stored with its content type; every node reaches the same bucket, so none needs
 * a shared disk. The bucket stays private: a download is a redirect to a URL
 * presigned for that one object and method, for minutes
 * ({@link PRESIGNED_URL_WINDOW_S}), with the response headers it must be served
 * with ({@link FileHeaders}) signed into it. A PutObject is atomic: the object is there whole or not at all.
 */
export class S3Store implements AttachmentStore {
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      credentials: options.credentials,
      forcePathStyle: options.forcePathStyle,
      // checksums only where the operation needs one (as before SDK 3.729): its default CRC32
      // headers are refused by some S3-compatible servers (aws/aws-sdk-js-v3#6810: R2 answered 501),
      // and a presigned GET would carry x-amz-checksum-mode
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async put(key: string, data: Buffer, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentType: contentType }));
  }

  /** A URL presigned for `method` on `key` ({@link PRESIGNED_URL_WINDOW_S}); the bucket answers it with `headers`, byte ranges included. */
  async download(key: string, method: "GET" | "HEAD", headers: FileHeaders): Promise<Download> {
    const input = {
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: headers["content-type"],
      ResponseContentDisposition: headers["content-disposition"],
      ResponseCacheControl: headers["cache-control"],
    };
    // the method is part of the signature: a HEAD needs a URL of its own
    const command = method === "HEAD" ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    const windowStartS = Math.floor(Date.now() / 1000 / PRESIGNED_URL_WINDOW_S) * PRESIGNED_URL_WINDOW_S;
    const signingDate = new Date(windowStartS * 1000);
    return { redirect: await getSignedUrl(this.client, command, { signingDate, expiresIn: 2 * PRESIGNED_URL_WINDOW_S }) };
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
  }
}
