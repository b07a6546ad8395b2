import { BlockList, isIP } from "node:net";
import { parseAddressRange } from "../config/index.ts";

/**
 * Which address a request came from. Directly connected clients are their
 * socket's peer. Behind a reverse proxy every peer is the proxy, so the
 * per-IP limits (sign-in attempts, client registrations) would throttle
 * everyone together and the audit trail would record the proxy. With
 * `--trusted-proxies`, a request whose peer is one of them is attributed to
 * the nearest address in `X-Forwarded-For` that is not a trusted proxy
 * itself (read from the right: entries further left were written by the
 * client or by proxies we do not trust, so they could be forged).
 */
export class ClientAddresses {
  private readonly trusted: BlockList | undefined;

  /** `proxies`: addresses and CIDR ranges, as the settings checked them. */
  constructor(proxies: readonly string[]) {
    if (proxies.length === 0) return;
    const list = new BlockList();
    for (const entry of proxies) {
      const { address, prefix, family } = parseAddressRange(entry);
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, prefix, family);
    }
    this.trusted = list;
  }

  /** The client's address for `request`, whose socket peer is `peer`. */
  of(request: Request, peer: string | null): string | null {
    if (this.trusted === undefined || peer === null || !this.isTrusted(peer)) return peer;
    const forwarded = request.headers.get("x-forwarded-for");
    if (forwarded === null) return peer;
    const hops = forwarded.split(",");
    let nearest = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = addressOf(hops[i]!.trim());
      // Not an address: whatever is left of it cannot be read, so the proxy that passed it on is as far as we can tell.
      if (isIP(hop) === 0) return nearest;
      if (!this.isTrusted(hop)) return hop;
      nearest = hop;
    }
    return nearest;
  }

  /** Whether `peer` is one of the trusted reverse proxies (its requests come from someone else). */
  isProxy(peer: string): boolean {
    return this.trusted !== undefined && this.isTrusted(peer);
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted!.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}

/** An X-Forwarded-For entry's address: some proxies add a port (`203.0.113.7:41234`, `[2001:db8::1]:443`). */
function addressOf(hop: string): string {
  if (hop.startsWith("[")) {
    const end = hop.indexOf("]");
    return end === -1 ? hop : hop.slice(1, end);
  }
  const colon = hop.indexOf(":");
  return colon !== -1 && colon === hop.lastIndexOf(":") ? hop.slice(0, colon) : hop;
}

/**
 * The client address the server resolved for each request, for routes that
 * are handed the request alone (sign-in, token, registration).
 */
const resolved = new WeakMap<Request, string | null>();

export function noteClientAddress(request: Request, address: string | null): void {
  resolved.set(request, address);
}

export function clientAddressOf(request: Request): string | null {
  return resolved.get(request) ?? null;
}
