/**
 * What an audio or video file says about itself: its length and, for video, its
 * picture size, read by music-metadata (which parses MP3, Ogg/Opus, WAV, MP4/M4A/
 * QuickTime and Matroska/WebM containers, video tracks included).
 */
export interface MediaInfo {
  /** Length in seconds; null when the file does not say or could not be read in time. */
  durationSeconds: number | null;
  /** Video: the first video track's picture size in pixels; null for audio or when unknown. */
  width: number | null;
  height: number | null;
}

const UNKNOWN: MediaInfo = { durationSeconds: null, width: null, height: null };

/**
 * Largest buffer the parser may allocate for one read, in bytes: a forged header
 * declaring a 4 GiB chunk fails there instead of allocating it (strtok3's
 * maxBufferSize). 8 MiB holds any real tag block this parser reads whole.
 */
const MAX_READ_BYTES = 8 * 1024 * 1024;
/** Size of the chunks the file is fed to the parser in, in bytes (views of the upload, not copies). */
const CHUNK_BYTES = 64 * 1024;
/** Longest duration taken as true, in seconds (24 h): a header claiming more is a lie or a broken file. */
const MAX_DURATION_S = 24 * 3600;
/** Largest picture side taken as true, in pixels (as the Int column and every codec allow). */
const MAX_SIDE_PX = 65_535;

/**
 * Reads the duration (and a video's size) of `bytes`, of the sniffed `mimeType`.
 * Bounded on hostile files: the parser reads the upload as a stream of views (no
 * copy), may allocate at most {@link MAX_READ_BYTES} per read, and is aborted after
 * `timeoutMs` (MEDIA_PARSE_TIMEOUT_MS; its next read fails, and the answer does not
 * wait for it). Never throws: a truncated, garbage or too slow file gives nulls,
 * and values out of range ({@link MAX_DURATION_S}, {@link MAX_SIDE_PX}) are dropped.
 */
export async function readMediaInfo(bytes: Buffer, mimeType: string, timeoutMs: number): Promise<MediaInfo> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`media parse exceeded ${timeoutMs} ms`)), timeoutMs);
  const timedOut = new Promise<never>((_, reject) =>
    abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true }),
  );
  timedOut.catch(() => undefined);
  try {
    // loaded by the first audio or video upload, not at start
    const [{ fromWebStream }, { parseFromTokenizer }] = await Promise.all([import("strtok3"), import("music-metadata")]);
    const tokenizer = fromWebStream(chunks(bytes, abort.signal), {
      abortSignal: abort.signal,
      maxBufferSize: MAX_READ_BYTES,
      fileInfo: { mimeType, size: bytes.length },
    });
    try {
      const { format } = await Promise.race([parseFromTokenizer(tokenizer, { duration: true, skipCovers: true }), timedOut]);
      const video = format.trackInfo.find((t) => t.video?.pixelWidth && t.video.pixelHeight)?.video;
      const side = (px: number | undefined) => (px && Number.isInteger(px) && px > 0 && px <= MAX_SIDE_PX ? px : null);
      const width = side(video?.pixelWidth);
      const height = side(video?.pixelHeight);
      const duration = format.duration;
      return {
        durationSeconds:
          duration !== undefined && Number.isFinite(duration) && duration > 0 && duration <= MAX_DURATION_S ? duration : null,
        width: width && height ? width : null,
        height: width && height ? height : null,
      };
    } finally {
      await tokenizer.close().catch(() => undefined);
    }
  } catch {
    return UNKNOWN;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/**
 * `bytes` as a web stream of {@link CHUNK_BYTES} views, produced as the reader
 * pulls. Each pull first yields to the event loop, so the timeout's timer fires
 * even when the parse would otherwise run in microtasks alone; after `signal`
 * aborts, the stream errors and so does the parser's next read.
 */
function chunks(bytes: Buffer, signal: AbortSignal): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) return controller.error(signal.reason);
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + CHUNK_BYTES));
      offset += CHUNK_BYTES;
    },
  });
}
