/**
 * The headers every reply of the gateway carries, added where replies leave the server (startHttpServer), so that no
 * route, error path or event stream can go without them:
 *
 * - `X-Content-Type-Options: nosniff`: a browser takes an answer for what its Content-Type says, never a JSON error
 *   that echoes input for HTML or script.
 * - `Referrer-Policy: no-referrer`: the sign-in URLs hold the client's state, its PKCE challenge and the flow; on a
 *   redirect the policy also governs the Referer sent to where it leads (the client's redirect URI, with the code).
 * - `Cache-Control: no-store`, unless the route chose its own (the discovery documents are public for 5 minutes):
 *   admin answers hold people, tokens and the configuration, MCP answers tool results. Event streams always
 *   `no-store, no-transform` (the MCP SDK's own say `no-cache`, which lets a cache keep them), so that no proxy
 *   keeps, holds back or compresses their events; with `X-Accel-Buffering: no`, which nginx (and proxies that copy it)
 *   reads as "do not buffer this reply" even where `proxy_buffering` was left on: buffered, a call's progress and
 *   an upstream's question arrived all at once at the end, or never for a listen stream.
 * - `Strict-Transport-Security: max-age=31536000` when the public URL is https (TLS here, or at a proxy in front)
 *   on a name other than this machine's. Browsers ignore it over plain http, so a proxy's plain hop is no matter.
 *   Never for localhost: HSTS binds a host name on every port, and would force each local dev server to https for a
 *   year. Not includeSubDomains: the gateway does not speak for its neighbours' names.
 *
 * The sign-in pages add their strict CSP and ban framing (src/auth/pages).
 */
import { isLoopbackAddress } from "../metrics/index.ts";

const STRICT_TRANSPORT = "max-age=31536000";

/** Whether a URL names this machine (localhost, *.localhost, a loopback address): plain http to it never crosses a network. */
export function servesThisMachineOnly(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return host === "localhost" || host.endsWith(".localhost") || isLoopbackAddress(host);
}

/** Whether replies carry Strict-Transport-Security, for the gateway's public URL (see above). */
export const wantsStrictTransport = (publicUrl: string) => publicUrl.startsWith("https:") && !servesThisMachineOnly(publicUrl);

/**
 * Adds the headers every reply carries (see above) to `response`'s own: Bun's are mutable on every Response (a
 * fetch's too), so no copy is made. `eventStream`: it is a text/event-stream (its caller has read the Content-Type);
 * `strictTransport`: from wantsStrictTransport.
 */
export function withResponseHeaders(response: Response, eventStream: boolean, strictTransport: boolean): Response {
  const headers = response.headers;
  headers.set("x-content-type-options", "nosniff");
  if (!headers.has("referrer-policy")) headers.set("referrer-policy", "no-referrer");
  if (eventStream) {
    headers.set("cache-control", "no-store, no-transform");
    headers.set("x-accel-buffering", "no");
  } else if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  if (strictTransport) headers.set("strict-transport-security", STRICT_TRANSPORT);
  return response;
}
