/**
 * Fetching URLs that someone else chose (CIMD documents, their jwks_uri)
 * without letting them point mintgate at its own network (checklist §11, SSRF):
 *
 * - https only; the URL carries no userinfo;
 * - the host name is resolved ONCE here, every address must be public, and
 *   the connection goes to that address (the name is only sent as Host and
 *   TLS server name, and the certificate is checked against it), so a second
 *   DNS answer cannot rebind the fetch to 127.0.0.1;
 * - no redirects, 200 only, a JSON content type, a size cap and a time cap.
 *
 * Tests reach 127.0.0.1 test servers by constructing a fetcher with their own
 * resolver, address policy and CA; the gateway never passes those options.
 */
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

export interface SafeFetchOptions {
  /** Resolves a host name to addresses (default: the system resolver, all addresses). */
  resolve?: (host: string) => Promise<string[]>;
  /** Whether an address may be connected to (default: public unicast only, see isPublicAddress). */
  isAllowedAddress?: (address: string) => boolean;
  /** Extra trusted CA certificates (PEM), for tests. */
  ca?: string;
  /** Largest body accepted, in bytes (default 16 KiB). */
  maxBytes?: number;
  /** Time for resolving, connecting and reading (default 8 s). */
  timeoutMs?: number;
}

export interface SafeFetchResult {
  /** The parsed JSON body. */
  json: unknown;
  /** Response headers (for Cache-Control and Expires). */
  headers: Headers;
}

/** Why a fetch was refused or failed, as one sentence (no secrets: the URL was public input). */
export class SafeFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafeFetchError";
  }
}

/** Every IPv4 range that is not public unicast (RFC 6890 special-purpose registry and multicast). */
const BLOCKED_V4: [string, number][] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, incl. the cloud metadata address 169.254.169.254
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved and broadcast
];

/**
 * IPv6: only global unicast (2000::/3) is allowed, which leaves out loopback,
 * unspecified, v4-mapped (::ffff:0:0/96), ULA (fc00::/7), link-local
 * (fe80::/10) and multicast (ff00::/8). Inside 2000::/3 these embed or reach
 * IPv4 or are not routable, so they are refused too.
 */
const BLOCKED_V6_INSIDE_GLOBAL: [string, number][] = [
  ["2001::", 32], // Teredo
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4 (embeds any IPv4 address)
  ["2001:10::", 28], // ORCHID
];

const blocked = new BlockList();
for (const [net, prefix] of BLOCKED_V4) blocked.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of BLOCKED_V6_INSIDE_GLOBAL) blocked.addSubnet(net, prefix, "ipv6");
blocked.addSubnet("64:ff9b::", 96, "ipv6"); // NAT64 (embeds IPv4); outside 2000::/3 anyway
const globalV6 = new BlockList();
globalV6.addSubnet("2000::", 3, "ipv6");

/** True for a public unicast address; anything private, loopback, link-local, CGNAT, multicast or reserved is false. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !blocked.check(address, "ipv4");
  if (family === 6) return globalV6.check(address, "ipv6") && !blocked.check(address, "ipv6");
  return false;
}

const systemResolve = async (host: string): Promise<string[]> => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

const DEFAULT_MAX_BYTES = 16 * 1024;
const DEFAULT_TIMEOUT_MS = 8_000;

export class SafeFetcher {
  private readonly resolve: (host: string) => Promise<string[]>;
  private readonly isAllowedAddress: (address: string) => boolean;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: SafeFetchOptions = {}) {
    this.resolve = options.resolve ?? systemResolve;
    this.isAllowedAddress = options.isAllowedAddress ?? isPublicAddress;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** GETs a JSON document under the rules above; throws SafeFetchError saying why not. */
  async fetchJson(rawUrl: string): Promise<SafeFetchResult> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new SafeFetchError(`${rawUrl} is not a URL.`);
    }
    if (url.protocol !== "https:") throw new SafeFetchError(`${rawUrl} is not an https URL.`);
    if (url.username || url.password) throw new SafeFetchError(`${rawUrl} carries a user name or password.`);
    const signal = AbortSignal.timeout(this.timeoutMs);
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = await Promise.race([
          this.resolve(host),
          new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new SafeFetchError(`Resolving ${host} took too long.`)))),
        ]);
      } catch (error) {
        throw error instanceof SafeFetchError ? error : new SafeFetchError(`${host} could not be resolved.`);
      }
    }
    if (addresses.length === 0) throw new SafeFetchError(`${host} has no address.`);
    // Every address must be public: a name that also resolves to a private address is refused outright.
    const refused = addresses.find((a) => !this.isAllowedAddress(a));
    if (refused !== undefined) {
      throw new SafeFetchError(isIP(host) ? `${host} is not a public address.` : `${host} resolves to ${refused}, which is not a public address.`);
    }
    const pinned = addresses[0]!;
    const target = new URL(url.href);
    target.hostname = isIP(pinned) === 6 ? `[${pinned}]` : pinned;
    target.hash = "";
    let response: Response;
    try {
      response = await fetch(target.href, {
        method: "GET",
        redirect: "manual",
        signal,
        headers: { host: url.host, accept: "application/json" },
        // The certificate is checked against the name, not the pinned address.
        tls: { serverName: host, ...(this.options.ca ? { ca: this.options.ca } : {}) },
      } as RequestInit);
    } catch (error) {
      const name = (error as Error).name;
      if (name === "TimeoutError" || name === "AbortError") throw new SafeFetchError(`Fetching ${rawUrl} took longer than ${this.timeoutMs} ms.`);
      throw new SafeFetchError(`Fetching ${rawUrl} failed (${(error as Error).message.split("\n")[0]}).`);
    }
    if (response.status >= 300 && response.status < 400) {
      void response.body?.cancel();
      throw new SafeFetchError(`${rawUrl} answered with a redirect (${response.status}); redirects are not followed.`);
    }
    if (response.status !== 200) {
      void response.body?.cancel();
      throw new SafeFetchError(`${rawUrl} answered ${response.status}, not 200.`);
    }
    const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
      void response.body?.cancel();
      throw new SafeFetchError(`${rawUrl} is served as "${type || "no content type"}", not application/json.`);
    }
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (declared > this.maxBytes) {
      void response.body?.cancel();
      throw new SafeFetchError(`${rawUrl} is larger than ${this.maxBytes} bytes.`);
    }
    const bytes = await this.readCapped(response, rawUrl);
    try {
      return { json: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)), headers: response.headers };
    } catch {
      throw new SafeFetchError(`${rawUrl} is not valid JSON.`);
    }
  }

  private async readCapped(response: Response, rawUrl: string): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body ?? []) {
        size += chunk.byteLength;
        if (size > this.maxBytes) {
          void response.body?.cancel().catch(() => {});
          throw new SafeFetchError(`${rawUrl} is larger than ${this.maxBytes} bytes.`);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof SafeFetchError) throw error;
      const name = (error as Error).name;
      if (name === "TimeoutError" || name === "AbortError") throw new SafeFetchError(`Fetching ${rawUrl} took longer than ${this.timeoutMs} ms.`);
      throw new SafeFetchError(`Reading ${rawUrl} failed (${(error as Error).message}).`);
    }
    return Buffer.concat(chunks);
  }
}
