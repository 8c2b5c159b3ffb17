import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import { GraphQLError } from "graphql";
import ipaddr from "ipaddr.js";
import { badInput } from "../errors.js";
import { isAllowedType } from "./file-types.js";

/** How the server fetches an attachment from a URL (config.ts URL_FETCH_*, MAX_ATTACHMENT_BYTES). */
export interface UrlFetchOptions {
  /** Largest body, in bytes (MAX_ATTACHMENT_BYTES): refused on Content-Length, and counted as it streams. */
  maxBytes: number;
  /** Longest the whole fetch may take, redirects and body included, in ms (URL_FETCH_TIMEOUT_MS). */
  timeoutMs: number;
  /**
   * Ranges exempt from the refusal of non-public addresses (URL_FETCH_ALLOWED_RANGES),
   * as ipaddr.js CIDRs; empty by default. For a media server on a private network.
   */
  allowedRanges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
  /** PEM certificates trusted besides Node's roots (URL_FETCH_CA_FILE), e.g. a private CA; empty by default. */
  extraCa: readonly string[];
}

/** A fetched file: its bytes, and a file name taken from the URL's last path segment. */
export interface FetchedFile {
  bytes: Buffer;
  filename: string;
}

/** Most redirects followed; each target is checked as the first URL was. */
const MAX_REDIRECTS = 3;
/** Longest URL accepted, in characters. */
const MAX_URL_CHARS = 2048;
/** Declared types that say nothing about the bytes: the sniffed type decides alone. */
const UNDECLARED = new Set(["", "application/octet-stream", "binary/octet-stream"]);

/**
 * Fetches `url` for an attachment, as the server, without letting a client reach
 * what only the server can (SSRF):
 * 1. The URL must be https, without credentials, at most {@link MAX_URL_CHARS}.
 * 2. Its host is resolved once (or is an IP literal), and every address must be
 *    public unicast by ipaddr.js's ranges ({@link refusedAddress}): no loopback,
 *    private, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast,
 *    unspecified, reserved, IPv6 unique-local, IPv4-mapped, NAT64, 6to4 or Teredo,
 *    unless in `allowedRanges`.
 * 3. The connection goes to an address checked (the request's DNS lookup is
 *    replaced by them), so a second resolution cannot rebind the name to another
 *    address; TLS still verifies the certificate for the URL's host name.
 * 4. A redirect (at most {@link MAX_REDIRECTS}) is followed by going back to step 1
 *    with its target; any other status than 2xx is refused.
 * 5. A declared Content-Type must be one of the upload types (ALLOWED_TYPES) or
 *    octet-stream; a declared Content-Length above `maxBytes` is refused before the
 *    body, and a body is cut as soon as it passes `maxBytes`. No compression is asked
 *    for or undone. The caller sniffs the bytes as for an upload.
 * Everything, redirects and body included, must end within `timeoutMs`.
 * @throws BAD_USER_INPUT on `url` for each refusal above, and when the host does
 * not resolve, cannot be reached, fails TLS or does not answer in time.
 */
export async function fetchUrl(url: string, options: UrlFetchOptions): Promise<FetchedFile> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  let target = parseUrl(url);
  for (let redirects = 0; ; redirects++) {
    const addresses = await checkedAddresses(target, options, signal);
    const response = await get(target, addresses, options, signal);
    const location = response.headers.location;
    if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location) {
      response.destroy();
      if (redirects >= MAX_REDIRECTS) throw badInput("url", `The URL redirected more than ${MAX_REDIRECTS} times`);
      target = parseUrl(new URL(location, target).href);
      continue;
    }
    return { bytes: await body(response, options.maxBytes, signal), filename: filenameOf(target) };
  }
}

/** `url` parsed, when it is one the server may fetch (step 1). */
function parseUrl(url: string): URL {
  if (url.length > MAX_URL_CHARS) throw badInput("url", `The URL is longer than ${MAX_URL_CHARS} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badInput("url", "This is not a URL");
  }
  if (parsed.protocol !== "https:") throw badInput("url", "Only https URLs are fetched");
  if (parsed.username || parsed.password) throw badInput("url", "URLs with credentials are not fetched");
  return parsed;
}

/**
 * The addresses to connect to for `url`: its IP literal or those its host resolves to, each checked (step 2).
 * Also the SSRF check of push endpoints (push/subscriptions.ts, push/web-push.ts).
 * @throws BAD_USER_INPUT on `field` when the host does not resolve (within `options.timeoutMs`) or an address is refused.
 */
export async function checkedAddresses(
  url: URL,
  options: Pick<UrlFetchOptions, "allowedRanges" | "timeoutMs">,
  signal: AbortSignal,
  field = "url",
): Promise<LookupAddress[]> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await resolve(host, signal, options.timeoutMs, field);
  for (const { address } of addresses) {
    const refused = refusedAddress(address, options.allowedRanges);
    if (refused) throw badInput(field, `The URL's host is a ${refused} address, which is not fetched`);
  }
  return addresses;
}

/**
 * Every address `host` resolves to (the system resolver, as any connection would
 * use); given up on when `signal` aborts (the lookup itself cannot be cancelled).
 */
function resolve(host: string, signal: AbortSignal, timeoutMs: number, field: string): Promise<LookupAddress[]> {
  return new Promise((done, fail) => {
    const onAbort = () => fail(badInput(field, `The URL's host did not resolve within ${timeoutMs} ms`));
    signal.addEventListener("abort", onAbort, { once: true });
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => {
      signal.removeEventListener("abort", onAbort);
      if (error || addresses.length === 0) fail(badInput(field, "The URL's host does not resolve"));
      else done(addresses);
    });
  });
}

/**
 * Why `address` may not be fetched: the name of its ipaddr.js range ("loopback",
 * "private", "linkLocal", "carrierGradeNat", "uniqueLocal", "ipv4Mapped", …), or
 * null when it is public unicast or within one of `allowedRanges`.
 */
export function refusedAddress(address: string, allowedRanges: UrlFetchOptions["allowedRanges"]): string | null {
  const parsed = ipaddr.parse(address);
  if (allowedRanges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return null;
  const range = parsed.range();
  return range === "unicast" ? null : range;
}

/**
 * One GET of `url`, connected to one of `addresses` (step 3: Node tries them in
 * turn, IPv6 and IPv4, as for any host name); resolves at the response's head.
 */
function get(url: URL, addresses: LookupAddress[], options: UrlFetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((done, fail) => {
    const req = request(url, {
      method: "GET",
      headers: { accept: "*/*", "accept-encoding": "identity", "user-agent": "chat-graphql attachment fetcher" },
      agent: false, // a fresh connection: never a pooled one made for another address
      ca: options.extraCa.length ? [...rootCertificates, ...options.extraCa] : undefined,
      signal,
      lookup: (_host, lookupOptions, callback) => {
        if (lookupOptions.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
    });
    req.on("response", done);
    req.on("error", (e) =>
      fail(
        signal.aborted
          ? badInput("url", `The URL did not answer within ${options.timeoutMs} ms`)
          : badInput("url", `The URL could not be fetched (${(e as NodeJS.ErrnoException).code ?? e.message})`),
      ),
    );
    req.end();
  });
}

/** The body of a 2xx `response` of an accepted type, at most `maxBytes` (step 5). */
async function body(response: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const status = response.statusCode ?? 0;
  const declared = (response.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const length = Number(response.headers["content-length"] ?? 0);
  const refusal =
    status < 200 || status >= 300
      ? `The URL answered HTTP ${status}`
      : !UNDECLARED.has(declared) && !isAllowedType(declared)
        ? `Files of this type (${declared}) are not accepted`
        : length > maxBytes
          ? `The file is larger than ${maxBytes} bytes`
          : null;
  if (refusal) {
    response.destroy();
    throw badInput("url", refusal);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw badInput("url", `The file is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (e) {
    response.destroy();
    if (signal.aborted) throw badInput("url", "The URL did not send its file in time");
    throw e instanceof GraphQLError ? e : badInput("url", "The URL's answer broke off");
  }
  return Buffer.concat(chunks);
}

/** The URL's last path segment, decoded, as a file name ("file" when there is none or it is not valid percent-encoding). */
function filenameOf(url: URL): string {
  const last = url.pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(last) || "file";
  } catch {
    return last || "file";
  }
}
