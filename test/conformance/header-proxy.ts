/**
 * A small reverse proxy for conformance runs: the MCP conformance CLI cannot
 * send custom headers, but the gateway wants `Authorization: Bearer <token>`.
 * Point the suite at `proxy.url` and every request reaches `target` with the
 * extra headers added.
 *
 * - Listens on 127.0.0.1, port 0 (the OS picks one).
 * - Forwards any method, path and query string verbatim to the target's
 *   origin. `url` keeps the target's path, so `startHeaderProxy({ target:
 *   "http://127.0.0.1:3001/mcp" })` gives `http://127.0.0.1:<port>/mcp`.
 * - Request bodies are read whole before forwarding (MCP POSTs are small).
 *   Response bodies are streamed, so SSE events come through as they arrive.
 * - Status, status text and response headers (Mcp-Session-Id, Content-Type,
 *   Content-Encoding, Set-Cookie...) pass through; bodies are not decompressed.
 * - Host and Origin: if they name the proxy itself, they are rewritten to the
 *   target, so the proxy is invisible to upstream Host/Origin checks. Any
 *   other value (e.g. the suite's `evil.example.com` in
 *   dns-rebinding-protection) is forwarded unchanged.
 * - A client that disconnects (e.g. closes an SSE GET) aborts the upstream
 *   request too.
 */

export interface HeaderProxy {
  /** The proxy's URL, with the target's path: hand this to the suite. */
  url: string;
  stop(): Promise<void>;
}

export interface HeaderProxyOptions {
  /** Upstream URL; its origin receives the requests, its path is reflected in `url`. */
  target: string;
  /** Added to every forwarded request, replacing any header of the same name. */
  headers: Record<string, string>;
}

// Headers that describe one hop, not the message; never forwarded either way.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export async function startHeaderProxy(options: HeaderProxyOptions): Promise<HeaderProxy> {
  const target = new URL(options.target);
  const extra = Object.entries(options.headers);
  // Filled in once the server is listening; used to recognise our own Host/Origin.
  let selfHost = "";

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // No idle timeout: a quiet SSE stream (GET /mcp) must stay open.
    idleTimeout: 0,
    async fetch(request) {
      const incoming = new URL(request.url);
      const upstreamUrl = new URL(incoming.pathname + incoming.search, target.origin);

      const headers = new Headers();
      request.headers.forEach((value, name) => {
        if (HOP_BY_HOP.has(name) || name === "content-length") return;
        if (name === "host") {
          headers.set("host", value === selfHost ? target.host : value);
          return;
        }
        if (name === "origin") {
          headers.set("origin", value === `http://${selfHost}` ? target.origin : value);
          return;
        }
        headers.append(name, value);
      });
      if (!headers.has("host")) headers.set("host", target.host);
      for (const [name, value] of extra) headers.set(name, value);

      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      let upstream: Response;
      try {
        upstream = await fetch(upstreamUrl, {
          method: request.method,
          headers,
          body: hasBody ? await request.arrayBuffer() : undefined,
          redirect: "manual",
          decompress: false,
          signal: request.signal,
        });
      } catch (error) {
        if (request.signal.aborted) return new Response(null, { status: 499 });
        const message = error instanceof Error ? error.message : String(error);
        return new Response(`header-proxy: upstream request failed: ${message}\n`, {
          status: 502,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }

      const responseHeaders = new Headers();
      upstream.headers.forEach((value, name) => {
        if (HOP_BY_HOP.has(name) || name === "set-cookie") return;
        responseHeaders.append(name, value);
      });
      for (const cookie of upstream.headers.getSetCookie()) responseHeaders.append("set-cookie", cookie);

      return new Response(upstream.body, {
        status: upstream.status,
        statusText: upstream.statusText,
        headers: responseHeaders,
      });
    },
  });

  selfHost = `127.0.0.1:${server.port}`;
  const path = target.pathname === "/" ? "" : target.pathname;
  return {
    url: `http://${selfHost}${path}${target.search}`,
    async stop() {
      await server.stop(true);
    },
  };
}
