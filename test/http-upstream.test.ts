import { afterAll, describe, expect, test } from "bun:test";
import { capSseEvents, StreamableHttpUpstreamTransport, SseEventSplitter } from "../src/connectors/http-transport.ts";
import { Connector } from "../src/connectors/connector.ts";
import { Http1Client } from "../src/connectors/http1-client.ts";
import { UpstreamSession } from "../src/connectors/upstream-session.ts";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startForwardProxy } from "./fixtures/forward-proxy.ts";
import { startHttpUpstream } from "./fixtures/http-upstream.ts";
import { startRawHttpUpstream } from "./fixtures/raw-http-upstream.ts";
import { startRawSseUpstream } from "./fixtures/raw-sse-upstream.ts";
import { connectMcpClient, freePort, runMintgate, startConfiguredGateway, tempDir, waitFor } from "./harness.ts";

describe("SSE events from an upstream", () => {
  const big = "x".repeat(70_000);
  const stream = `event: message\ndata: {"a":1}\n\n: keep-alive\n\nevent: message\r\ndata: {"b":"${big}"}\r\n\r\ndata: {"c":"é€"}\n\n`;
  const bytes = new TextEncoder().encode(stream);

  test("are cut at blank lines (LF or CRLF) whatever the chunk boundaries, multi-byte characters included", () => {
    for (const size of [1, 2, 3, 4, 7, 1000, 4096, bytes.length]) {
      const splitter = new SseEventSplitter();
      const events: string[] = [];
      for (let i = 0; i < bytes.length; i += size) events.push(...splitter.push(bytes.subarray(i, i + size)));
      expect(events).toEqual(['event: message\ndata: {"a":1}', ": keep-alive", `event: message\r\ndata: {"b":"${big}"}`, 'data: {"c":"é€"}']);
      expect(splitter.pending).toBe(0);
    }
  });

  // A stand-in for a third-party upstream that writes its SSE reply in odd pieces.
  const upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (request.method !== "POST") return new Response(null, { status: request.method === "DELETE" ? 200 : 405 });
      const message = (await request.json()) as { id?: number; method: string; params?: { _meta?: { progressToken?: number } } };
      if (message.id === undefined) return new Response(null, { status: 202 });
      if (message.method === "initialize") {
        return Response.json(
          { jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "odd", version: "1" } } },
          { headers: { "mcp-session-id": "s1" } },
        );
      }
      const token = message.params?._meta?.progressToken;
      const text =
        `event: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":${token},"progress":1}}\r\n\r\n` +
        // One message split over two data lines, as the SSE format allows.
        `event: message\r\ndata: {"jsonrpc":"2.0","id":${message.id},\r\ndata: "result":{"content":[{"type":"text","text":"${big}"}]}}\r\n\r\n`;
      const encoded = new TextEncoder().encode(text);
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          for (let i = 0; i < encoded.length; i += 4093) {
            controller.enqueue(encoded.subarray(i, i + 4093));
            await Bun.sleep(1);
          }
          controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  afterAll(() => upstream.stop(true));

  test("a reply in many chunks, with progress first and the answer over two data lines, comes through whole", async () => {
    const transport = new StreamableHttpUpstreamTransport(new URL(`http://127.0.0.1:${upstream.port}/mcp`), {}, "odd");
    const session = new UpstreamSession("odd", transport);
    await session.connect(5000);
    const progress: number[] = [];
    const result = await session.request("tools/call", { name: "echo" }, { timeoutMs: 5000, onProgress: (p) => progress.push(p.progress) });
    expect(progress).toEqual([1]);
    expect((result.content as { text: string }[])[0]!.text).toBe(big);
    await session.close();
  });
});

/** A raw TCP stand-in for an upstream: `answer` is called with each request's text and the count of requests on its connection. */
function rawUpstream(answer: (request: string, nthOnConnection: number, socket: { write(text: string): void; end(): void; terminate(): void }) => void) {
  let connections = 0;
  const server = Bun.listen<{ buffer: string; count: number }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        connections++;
        socket.data = { buffer: "", count: 0 };
      },
      data(socket, data) {
        // Bytes as latin1 characters, so lengths count bytes as Content-Length does.
        socket.data.buffer += data.toString("latin1");
        for (;;) {
          const headEnd = socket.data.buffer.indexOf("\r\n\r\n");
          if (headEnd === -1) return;
          const length = Number(/content-length: (\d+)/i.exec(socket.data.buffer.slice(0, headEnd))?.[1] ?? 0);
          if (socket.data.buffer.length < headEnd + 4 + length) return;
          const request = Buffer.from(socket.data.buffer.slice(0, headEnd + 4 + length), "latin1").toString();
          socket.data.buffer = socket.data.buffer.slice(headEnd + 4 + length);
          answer(request, ++socket.data.count, { write: (text) => void socket.write(text), end: () => socket.end(), terminate: () => socket.terminate() });
        }
      },
    },
  });
  return { url: new URL(`http://127.0.0.1:${server.port}/mcp?x=1`), connections: () => connections, stop: () => server.stop(true) };
}

/** Sends one request through the client and collects the reply. */
function exchange(client: Http1Client, body: string, options: { abortAfterHead?: boolean } = {}) {
  return new Promise<{ status: number; headers: Map<string, string>; body: string }>((resolve, reject) => {
    let status = 0;
    let headers = new Map<string, string>();
    const parts: Uint8Array[] = [];
    const sent = client.request("POST", { "content-type": "application/json" }, body, {
      head(code, map) {
        status = code;
        headers = map;
        if (options.abortAfterHead) sent.abort();
      },
      chunk: (bytes) => parts.push(bytes),
      end: () => resolve({ status, headers, body: Buffer.concat(parts).toString() }),
      fail: reject,
    });
  });
}

/** Runs `body` with a client of a raw upstream that answers with `answer`; closes both after. */
async function withUpstream(answer: Parameters<typeof rawUpstream>[0], body: (client: Http1Client, upstream: ReturnType<typeof rawUpstream>) => Promise<void>): Promise<void> {
  const upstream = rawUpstream(answer);
  const client = new Http1Client(upstream.url);
  try {
    await body(client, upstream);
  } finally {
    client.close();
    upstream.stop();
  }
}

describe("the HTTP/1.1 client for plain-http upstreams", () => {
  test("keeps the connection alive across requests and reads Content-Length bodies, with Host, path and query as given", async () => {
    const seen: string[] = [];
    await withUpstream((request, _n, socket) => {
      seen.push(request);
      const body = JSON.stringify({ echo: request.slice(request.indexOf("\r\n\r\n") + 4) });
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }, async (client, upstream) => {
      for (const text of ['{"a":"é"}', '{"b":2}', '{"c":3}']) {
        const reply = await exchange(client, text);
        expect(reply.status).toBe(200);
        expect(reply.headers.get("content-type")).toBe("application/json");
        expect(JSON.parse(reply.body)).toEqual({ echo: text });
      }
      expect(upstream.connections()).toBe(1);
      expect(seen[0]).toStartWith(`POST /mcp?x=1 HTTP/1.1\r\nhost: ${upstream.url.host}\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n`);
    });
  });

  test("a request body larger than the socket takes at once goes out whole", async () => {
    await withUpstream((request, _n, socket) => {
      const body = String(Buffer.byteLength(request.slice(request.indexOf("\r\n\r\n") + 4)));
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }, async (client) => {
      const big = JSON.stringify({ text: "ab€".repeat(2_000_000) });
      expect((await exchange(client, big)).body).toBe(String(Buffer.byteLength(big)));
    });
  });

  test("skips an interim 1xx response and decodes a chunked body written a few bytes at a time", async () => {
    await withUpstream((_request, _n, socket) => {
      const wire = "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
      void (async () => {
        for (let i = 0; i < wire.length; i += 3) {
          socket.write(wire.slice(i, i + 3));
          await Bun.sleep(0);
        }
      })();
    }, async (client, upstream) => {
      const first = await exchange(client, "{}");
      expect(first).toMatchObject({ status: 200, body: "hello, world" });
      // The trailer was read to its end, so the connection is clean for the next exchange.
      expect(await exchange(client, "{}")).toMatchObject({ status: 200, body: "hello, world" });
      expect(upstream.connections()).toBe(1);
    });
  });

  test("sends a request again, once, on a new connection when a kept-alive one was closed before any reply", async () => {
    await withUpstream((_request, n, socket) => {
      // The race a keep-alive timeout makes: the server closes a connection just as the next request arrives.
      if (n === 2) return socket.terminate();
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }, async (client, upstream) => {
      expect((await exchange(client, "{}")).body).toBe("ok");
      expect((await exchange(client, "{}")).body).toBe("ok");
      expect(upstream.connections()).toBe(2);
    });
  });

  test("fails an exchange whose connection ends mid-body, and does not reuse a connection the server said it would close", async () => {
    await withUpstream((request, _n, socket) => {
      if (request.includes('"cut"')) {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        return socket.end();
      }
      socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    }, async (client, upstream) => {
      await expect(exchange(client, '{"cut":1}')).rejects.toThrow(/before the reply was complete/);
      expect((await exchange(client, "{}")).body).toBe("ok");
      expect((await exchange(client, "{}")).body).toBe("ok");
      expect(upstream.connections()).toBe(3);
    });
  });

  test("an aborted exchange fails with an AbortError and its connection is not used again", async () => {
    // The body never ends: only the abort ends the exchange.
    const unfinished = (_request: string, _n: number, socket: { write(text: string): void }) => socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    await withUpstream(unfinished, async (client, upstream) => {
      await expect(exchange(client, "{}", { abortAfterHead: true })).rejects.toMatchObject({ name: "AbortError" });
      await expect(exchange(client, "{}", { abortAfterHead: true })).rejects.toMatchObject({ name: "AbortError" });
      expect(upstream.connections()).toBe(2);
    });
  });

  test("with every connection busy, a waiting exchange aborted (its call timed out) hands its turn on: the next one takes the connection freed", async () => {
    const held: { write(text: string): void }[] = [];
    const answer = (socket: { write(text: string): void }) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await withUpstream((request, _n, socket) => {
      if (request.includes('"hold"')) held.push(socket);
      else answer(socket);
    }, async (client) => {
      // The client's limit of connections to one upstream (MAX_CONNECTIONS), each held by an unanswered exchange.
      const busy = Array.from({ length: 256 }, () => exchange(client, '{"hold":1}'));
      await waitFor("every connection to be busy", () => held.length === 256, 200, 50);
      const timedOut = client.request("POST", {}, "{}", { head() {}, chunk() {}, end() {}, fail() {} });
      const next = exchange(client, "{}");
      timedOut.abort();
      // One connection is freed: before, its turn went to the aborted exchange, which dropped it, and the next one waited on.
      answer(held.shift()!);
      expect((await busy[0])!.body).toBe("ok");
      const outcome = await Promise.race([next.then((reply) => reply.body), Bun.sleep(3_000).then(() => "still waiting")]);
      expect(outcome).toBe("ok");
      for (const socket of held) answer(socket);
      await Promise.all(busy);
    });
  });
});

describe("closing an upstream session", () => {
  test("neither the event stream's GET nor the DELETE follows a redirect to another host, which would carry the connector's credential headers there", async () => {
    const elsewhere: string[] = [];
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => (elsewhere.push(`${request.method} ${request.headers.get("x-api-key")}`), new Response("ok")) });
    const deletes: string[] = [];
    let gets = 0;
    const upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        if (request.method === "DELETE") {
          deletes.push(request.headers.get("mcp-session-id") ?? "");
          return new Response(null, { status: 307, headers: { location: `http://localhost:${other.port}/collect` } });
        }
        if (request.method === "GET") {
          gets++;
          return new Response(null, { status: 308, headers: { location: `http://localhost:${other.port}/stream` } });
        }
        if (request.method !== "POST") return new Response(null, { status: 405 });
        const message = (await request.json()) as { id?: number };
        if (message.id === undefined) return new Response(null, { status: 202 });
        return Response.json(
          { jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "moved", version: "1" } } },
          { headers: { "mcp-session-id": "s1" } },
        );
      },
    });
    try {
      const session = new UpstreamSession("moved", new StreamableHttpUpstreamTransport(new URL(`http://127.0.0.1:${upstream.port}/mcp`), { "x-api-key": "k3y-value" }, "moved"));
      await session.connect(5000);
      // The GET stream opens once the handshake is done (fetch, which would follow the 308 before it answered).
      await waitFor("the event stream's GET", () => gets > 0);
      // close() waits for the DELETE's answer, and fetch follows a redirect before it answers.
      await session.close();
      expect(deletes).toEqual(["s1"]);
      expect(elsewhere).toEqual([]);
    } finally {
      other.stop(true);
      upstream.stop(true);
    }
  });
});

describe("an upstream refusing the event stream", () => {
  test("with an endless error body, has no more of it read than an event may hold (10 MiB)", async () => {
    let bytesSent = 0;
    let cancelled = false;
    const chunk = new Uint8Array(64 * 1024).fill(120);
    const upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        if (request.method === "GET") {
          const endless = new ReadableStream<Uint8Array>({ pull: (c) => ((bytesSent += chunk.length), c.enqueue(chunk)), cancel: () => void (cancelled = true) });
          return new Response(endless, { status: 400, headers: { "content-type": "text/plain" } });
        }
        if (request.method !== "POST") return new Response(null, { status: 200 });
        const message = (await request.json()) as { id?: number };
        if (message.id === undefined) return new Response(null, { status: 202 });
        return Response.json({ jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "endless", version: "1" } } });
      },
    });
    const session = new UpstreamSession("endless", new StreamableHttpUpstreamTransport(new URL(`http://127.0.0.1:${upstream.port}/mcp`), {}, "endless"));
    try {
      await session.connect(5000);
      // Cancelled by the gateway itself, while the session is still open. "Sent" counts what sits in both kernel socket
      // buffers and fetch's own buffer too, unread: 11 to 20 MiB at cancellation were measured, so 4 times the limit
      // sent means the gateway never stops reading.
      const neverStops = 4 * 10 * 1024 * 1024;
      await waitFor("the refusal's body to be cut off or read past the limit", () => cancelled || bytesSent > neverStops);
      expect({ cancelled, overTheLimit: bytesSent > neverStops }).toEqual({ cancelled: true, overTheLimit: false });
    } finally {
      await session.close();
      upstream.stop(true);
    }
  });

  test("with a page (200, text/html) instead of an event stream, is taken as offering none: asked once, not every 2 s with the lists read again each time", async () => {
    const upstream = startRawHttpUpstream({ landingPage: true });
    const transport = new StreamableHttpUpstreamTransport(new URL(upstream.url), {}, "paged");
    let gaps = 0;
    transport.onStreamResumedWithGap = () => void gaps++;
    const session = new UpstreamSession("paged", transport);
    try {
      await session.connect(5000);
      await waitFor("the event stream's GET", () => upstream.gets() > 0);
      // Before, the page was read as an event stream that ended, and asked for again every 2 s (GET_STREAM_RETRY_MS), each
      // time as a stream back after a gap: the connector read its lists again. Nothing shows a GET not coming but time:
      // two of those intervals and a half.
      await Bun.sleep(5_000);
      expect({ gets: upstream.gets(), gaps }).toEqual({ gets: 1, gaps: 0 });
    } finally {
      await session.close();
      await upstream.stop();
    }
  });
});

describe("an upstream behind a proxy that answers with its HTML error pages", () => {
  // nginx's own pages, as a reverse proxy in front of an MCP server sends them.
  const page = (title: string) => `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n${"<!-- padding -->\r\n".repeat(6)}`;
  let refuseInitialize = true;
  const upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (request.method !== "POST") return new Response(null, { status: request.method === "DELETE" ? 200 : 405 });
      const message = (await request.json()) as { id?: number; method: string; params?: { name?: string } };
      if (message.method === "initialize" && refuseInitialize) return new Response(page("401 Authorization Required"), { status: 401, headers: { "content-type": "text/html" } });
      if (message.id === undefined) return new Response(null, { status: 202 });
      if (message.method === "initialize") {
        return Response.json({ jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "proxied", version: "1" } } });
      }
      if (message.params?.name === "untitled") return new Response("<!DOCTYPE html><html><body>upstream down</body></html>", { status: 503 });
      if (message.params?.name === "text") return new Response("rate limited, retry later", { status: 429 });
      if (message.params?.name === "missing") return new Response("no such path", { status: 404 });
      return new Response(page("502 Bad Gateway"), { status: 502, headers: { "content-type": "text/html; charset=utf-8" } });
    },
  });
  afterAll(() => upstream.stop(true));
  const url = new URL(`http://127.0.0.1:${upstream.port}/mcp`);

  test("are named by their title in the error, not pasted into it, and a plain-text body still is", async () => {
    const refused = new UpstreamSession("edge", new StreamableHttpUpstreamTransport(url, {}, "edge"));
    await expect(refused.connect(5000)).rejects.toThrow(/^Connector "edge" answered HTTP 401 with an HTML page titled "401 Authorization Required": the upstream refused the connector's credentials; check its headers and the secrets they use\.$/);
    await refused.close();

    refuseInitialize = false;
    const session = new UpstreamSession("edge", new StreamableHttpUpstreamTransport(url, {}, "edge"));
    await session.connect(5000);
    const call = (name: string) => session.request("tools/call", { name }, { timeoutMs: 5000 }).then(() => "answered", (error: Error) => error.message);
    expect(await call("proxied")).toBe('Connector "edge" answered HTTP 502 with an HTML page titled "502 Bad Gateway": check the upstream\'s log.');
    expect(await call("untitled")).toBe('Connector "edge" answered HTTP 503 with an HTML page: check the upstream\'s log.');
    expect(await call("text")).toBe('Connector "edge" answered HTTP 429 saying "rate limited, retry later": check the upstream\'s log.');
    // A path the upstream does not serve points at the url, not at the credentials.
    expect(await call("missing")).toBe('Connector "edge" answered HTTP 404 saying "no such path": nothing serves MCP there; check the connector\'s url.');
    await session.close();
  });
});

describe("a legacy SSE upstream's event stream held to 10 MiB an event", () => {
  /** The bytes that come through, the chunks given one at a time as a socket would. */
  const read = async (chunks: Uint8Array[]) => {
    let next = 0;
    const body = new ReadableStream<Uint8Array>({ pull: (c) => (next < chunks.length ? c.enqueue(chunks[next++]!) : c.close()) }, { highWaterMark: 0 });
    let bytes = 0;
    for await (const chunk of capSseEvents(new Response(body)).body!) bytes += chunk.length;
    return bytes;
  };
  const split = (text: string, size: number) => {
    const bytes = new TextEncoder().encode(text);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    return chunks;
  };

  test("passes many events of 4 MiB, whatever their line ends and wherever the chunks cut the blank lines between them", async () => {
    const data = "x".repeat(4 * 1024 * 1024);
    for (const end of ["\n", "\r\n", "\r"]) {
      const stream = [1, 2, 3, 4].map((n) => `event: message${end}id: ${n}${end}data: ${data}${end}${end}`).join("");
      for (const size of [1 << 20, 65_537, 4 * 1024 * 1024 + 20]) expect(await read(split(stream, size))).toBe(new TextEncoder().encode(stream).length);
    }
  });

  test("fails the stream once one event passes the limit, in small chunks or whole in one", async () => {
    const stream = `data: ${"x".repeat(1024)}\n\ndata: ${"y".repeat(10 * 1024 * 1024)}\ndata: z\n\n`;
    for (const size of [65_536, stream.length]) await expect(read(split(stream, size))).rejects.toThrow("an event from the upstream is longer than 10 MiB");
  });
});

describe("a call the upstream refused because it forgot the gateway's session", () => {
  /** A gateway whose Virtual MCP "v" holds one http connector "hr" on a fresh raw upstream, ready, and a client of it. */
  async function behindRawUpstream(label: string) {
    const upstream = startRawHttpUpstream();
    const { gateway, token } = await startConfiguredGateway(
      {
        connectors: [{ name: "hr", kind: "http", url: upstream.url, timeout: "20s" }],
        virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "hr" }] }],
      },
      { label },
    );
    const admin = async <T>(path: string) => (await (await fetch(`${gateway.url}/admin/api${path}`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as T;
    const ready = async () => (await admin<{ name: string; state: string }[]>("/connectors")).some((c) => c.name === "hr" && c.state === "ready");
    await waitFor("connector hr ready", ready);
    const client = await connectMcpClient(`${gateway.url}/mcp/v`, token);
    const call = (name: string) => client.callTool({ name, arguments: {} }, undefined, { timeout: 10_000 }).then((r) => ({ isError: r.isError === true, text: (r.content as { text: string }[])[0]!.text }));
    const toolCalls = async () => (await admin<{ method: string; exposedName: string; outcome: string }[]>("/calls?limit=50")).filter((row) => row.method === "tools/call");
    const stop = async () => {
      await client.close().catch(() => {});
      await gateway.stop();
      await upstream.stop();
    };
    return { upstream, call, ready, toolCalls, stop };
  }

  test("is sent again once the connector has a new session, and the person gets its answer, recorded once as ok", async () => {
    const { upstream, call, toolCalls, stop } = await behindRawUpstream("mintgate-session-resend");
    try {
      upstream.forgetSessions();
      const before = upstream.received().length;
      expect(await call("hr__ok")).toEqual({ isError: false, text: "ok" });
      // Refused, the handshake of the new session, then the call again: once.
      expect(upstream.received().slice(before)).toEqual(["tools/call ok", "initialize", "notifications/initialized", "tools/list", "tools/call ok"]);
      expect(upstream.initializations()).toBe(2);
      expect(await toolCalls()).toMatchObject([{ exposedName: "hr__ok", outcome: "ok" }]);
    } finally {
      await stop();
    }
  });

  test("refused again in the new session, it fails naming the connector after one resend, not a loop", async () => {
    const { upstream, call, ready, toolCalls, stop } = await behindRawUpstream("mintgate-session-resend-once");
    try {
      const failed = await call("hr__amnesia");
      expect(failed.isError).toBe(true);
      expect(failed.text).toStartWith('Connector "hr" lost its upstream session (HTTP 400;');
      // Each refusal has the connector reconnect: once it is back after the last one, nothing sends the call again.
      const sent = () => upstream.received().filter((method) => method === "tools/call amnesia").length;
      await waitFor("connector hr back after the last refusal", async () => upstream.initializations() === sent() + 1 && (await ready()));
      expect(sent()).toBe(2);
      expect(await toolCalls()).toMatchObject([{ exposedName: "hr__amnesia", outcome: "error" }]);
    } finally {
      await stop();
    }
  });

  test("cancelled while it waits for the new session, it fails as cancelled and is not sent again", async () => {
    const upstream = startRawHttpUpstream();
    // A reconnect an hour away: the resend waits for it until the cancel.
    const connector = new Connector({ name: "hr", spec: { kind: "http", url: upstream.url, headers: {} }, timeoutMs: 20_000 }, { resolveSecret: () => "", backoffFirstMs: 3_600_000 });
    try {
      await connector.start();
      expect(connector.state.status).toBe("ready");
      upstream.forgetSessions();
      const cancel = new AbortController();
      const call = connector.request("tools/call", { name: "ok" }, { signal: cancel.signal }).then(() => "answered", (error: Error) => error.message);
      await waitFor("the connector to be failed after the refusal", () => connector.state.status === "failed");
      // Forgotten as soon as it was opened, the session did not expire: said as what to check.
      expect((connector.state as { reason: string }).reason).toStartWith("the upstream forgot its session (HTTP 400) ");
      expect((connector.state as { reason: string }).reason).toEndWith(" after it was opened; check the upstream's log (behind a load balancer, its sessions must stay on one server)");
      cancel.abort();
      expect(await call).toBe("The request was cancelled.");
      expect(upstream.received().filter((method) => method === "tools/call ok")).toHaveLength(1);
    } finally {
      await connector.retire();
      await upstream.stop();
    }
  });
});

describe("an upstream session that expires", () => {
  test("is renewed at once, not as a failure with its backoff: the call that found it gone and a call made meanwhile both get their answers", async () => {
    const upstream = startRawHttpUpstream();
    // A failure would wait an hour to reconnect: only a renewal gets these calls answered.
    const connector = new Connector({ name: "hr", spec: { kind: "http", url: upstream.url, headers: {} }, timeoutMs: 5_000 }, { resolveSecret: () => "", backoffFirstMs: 3_600_000 });
    const states: string[] = [];
    let meanwhile: Promise<string> | undefined;
    connector.onStateChange(() => {
      states.push(connector.state.status);
      if (connector.state.status === "starting" && states.length > 2) meanwhile ??= connector.request("tools/call", { name: "ok" }).then(() => "answered", (error: Error) => error.message);
    });
    try {
      await connector.start();
      expect(connector.state.status).toBe("ready");
      // A session the upstream kept a while before forgetting it expired (a session forgotten at once is a failure).
      await Bun.sleep(5_100);
      upstream.forgetSessions();
      expect(await connector.request("tools/call", { name: "ok" }).then(() => "answered", (error: Error) => error.message)).toBe("answered");
      expect(await meanwhile).toBe("answered");
      expect(states).toEqual(["starting", "ready", "starting", "ready"]);
      expect(upstream.initializations()).toBe(2);
    } finally {
      await connector.retire();
      await upstream.stop();
    }
  });

  test("a call still waiting for its answer when another finds the session forgotten is told its session was lost, in a sentence", async () => {
    const upstream = startRawHttpUpstream();
    // A short timeout: the call that found the session forgotten waits that long for a new one (an hour away) before it fails too.
    const connector = new Connector({ name: "hr", spec: { kind: "http", url: upstream.url, headers: {} }, timeoutMs: 3_000 }, { resolveSecret: () => "", backoffFirstMs: 3_600_000 });
    try {
      await connector.start();
      const waiting = connector.request("tools/call", { name: "hang" }).then(() => "answered", (error: Error) => error.message);
      await waitFor("the call to reach the upstream", () => upstream.hangsStarted() === 1);
      upstream.forgetSessions();
      await connector.request("tools/call", { name: "ok" }).catch(() => {});
      // It said 'Connector "hr" is unavailable: The exchange was aborted..'.
      expect(await waiting).toBe('Connector "hr" lost its upstream session (HTTP 400; the upstream probably restarted) during tools/call, so the call did not complete; send it again in a moment.');
    } finally {
      await connector.retire();
      await upstream.stop();
    }
  });
});

describe("http and sse connectors to an https upstream whose certificate a company CA signed", () => {
  /** A CA, and a server certificate it signed for 127.0.0.1 only (so https://localhost is another name). */
  function companyCa(): { ca: string; cert: string; key: string } {
    const dir = tempDir("mintgate-company-ca");
    const file = (name: string) => join(dir, name);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    const run = (args: string[]) => expect(Bun.spawnSync(["openssl", ...args], { stderr: "pipe" }).exitCode).toBe(0);
    run(["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=Company CA"]);
    run(["req", "-new", ...ec, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=mcp"]);
    writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1\n");
    run(["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", file("san.ext"), "-out", file("server.pem")]);
    return { ca: file("ca.pem"), cert: readFileSync(file("server.pem"), "utf8"), key: readFileSync(file("server.key"), "utf8") };
  }

  test("work once the gateway trusts the CA (NODE_EXTRA_CA_CERTS); an untrusted or misnamed certificate fails the connector with a sentence saying what to do; unchecked certificates are warned of", async () => {
    const { ca, cert, key } = companyCa();
    const http = startHttpUpstream("t0k", { tls: { cert, key } });
    const sse = startRawSseUpstream({ tls: { cert, key } });
    const config = {
      connectors: [
        { name: "h", kind: "http", url: http.url, headers: { Authorization: "Bearer t0k" } },
        { name: "s", kind: "sse", url: sse.url },
        { name: "hn", kind: "http", url: http.url.replace("127.0.0.1", "localhost"), headers: { Authorization: "Bearer t0k" } },
        { name: "sn", kind: "sse", url: sse.url.replace("127.0.0.1", "localhost") },
      ],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: ["h", "s", "hn", "sn"].map((connector) => ({ connector })) }],
    };
    const [trusting, untrusting, unchecking] = await Promise.all([
      startConfiguredGateway(config, { label: "mintgate-tls-trusted", env: { NODE_EXTRA_CA_CERTS: ca } }),
      startConfiguredGateway(config, { label: "mintgate-tls-untrusted", env: { NODE_EXTRA_CA_CERTS: "" } }),
      startConfiguredGateway(config, { label: "mintgate-tls-unchecked", env: { NODE_EXTRA_CA_CERTS: "", NODE_TLS_REJECT_UNAUTHORIZED: "0" } }),
    ]);
    const states = async (gateway: typeof trusting.gateway) =>
      Object.fromEntries(
        ((await (await fetch(`${gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { name: string; state: string; reason?: string }[]).map((c) => [c.name, c.state === "failed" ? c.reason : c.state]),
      );
    const settled = (gateway: typeof trusting.gateway) => waitFor("every connector ready or failed", async () => {
      const now = await states(gateway);
      return Object.values(now).every((state) => state !== "starting") ? now : undefined;
    });
    const untrusted = (name: string, host: string) =>
      `Connector "${name}" does not trust the TLS certificate of ${host} (no certificate authority this machine trusts signed it); start the gateway with NODE_EXTRA_CA_CERTS naming a PEM file that holds the CA that signed it (or the certificate itself).`;
    const misnamed = (name: string, host: string) =>
      `Connector "${name}" cannot connect because the TLS certificate of ${host} is not issued for localhost; set the connector's url to a name the certificate holds, or have it issued for this one.`;
    const hostOf = (url: string) => new URL(url).host;
    try {
      expect(await settled(trusting.gateway)).toEqual({
        h: "ready",
        s: "ready",
        hn: misnamed("hn", hostOf(http.url).replace("127.0.0.1", "localhost")),
        sn: misnamed("sn", hostOf(sse.url).replace("127.0.0.1", "localhost")),
      });
      const client = await connectMcpClient(`${trusting.gateway.url}/mcp/v`, trusting.token);
      const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }, undefined, { timeout: 10_000 }).then((r) => (r.content as { text: string }[])[0]!.text);
      expect(await call("h__shout", { text: "over tls" })).toBe("OVER TLS");
      expect(await call("h__shout", { text: "again" })).toBe("AGAIN");
      expect(await call("s__ok", {})).toBe("ok");
      await client.close();

      expect(await settled(untrusting.gateway)).toEqual({
        h: untrusted("h", hostOf(http.url)),
        s: untrusted("s", hostOf(sse.url)),
        hn: untrusted("hn", hostOf(http.url).replace("127.0.0.1", "localhost")),
        sn: untrusted("sn", hostOf(sse.url).replace("127.0.0.1", "localhost")),
      });

      // Certificates not checked at all: everything connects, so it is said at start.
      expect(await settled(unchecking.gateway)).toEqual({ h: "ready", s: "ready", hn: "ready", sn: "ready" });
      expect(unchecking.gateway.output()).toContain(
        "warn  NODE_TLS_REJECT_UNAUTHORIZED=0 is set, so no certificate is checked on the gateway's HTTPS connections (connectors, SSO providers); unset it, and trust a company or self-signed CA with NODE_EXTRA_CA_CERTS instead.",
      );
      expect(trusting.gateway.output()).not.toContain("NODE_TLS_REJECT_UNAUTHORIZED");
    } finally {
      await Promise.all([trusting.gateway.stop(), untrusting.gateway.stop(), unchecking.gateway.stop(), http.stop(), sse.stop()]);
    }
  });
  test("a failed TLS handshake (no TLS there, or a client certificate asked for) is said as either, not as plain HTTP; plain HTTP to a TLS server is said as perhaps that", async () => {
    const { ca, cert, key } = companyCa();
    // Bun's fetch says EPROTO alike for both: a server asking for a client certificate is not one without TLS.
    const asking = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert, key, ca: readFileSync(ca, "utf8"), requestCert: true, rejectUnauthorized: true }, fetch: () => new Response("{}") });
    const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("{}") });
    // Sent plain HTTP, Bun's TLS server closes the connection without a byte (it said "Connector "tls" is unavailable: ECONNRESET: the upstream closed the connection before the reply was complete.").
    const tls = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert, key }, fetch: () => new Response("{}") });
    const config = {
      connectors: [
        { name: "asking", kind: "http", url: `https://127.0.0.1:${asking.port}/mcp` },
        { name: "plain", kind: "http", url: `https://127.0.0.1:${plain.port}/mcp` },
        { name: "tls", kind: "http", url: `http://127.0.0.1:${tls.port}/mcp` },
      ],
      virtualMcps: [],
    };
    const { gateway } = await startConfiguredGateway(config, { label: "mintgate-tls-handshake", env: { NODE_EXTRA_CA_CERTS: ca } });
    const said = (name: string, port: number | undefined) =>
      `Connector "${name}" cannot connect because the TLS handshake with 127.0.0.1:${port} failed (EPROTO): it does not speak TLS there, or it asks for a client certificate, which the gateway does not send; if it serves plain HTTP, set the connector's url to http://127.0.0.1:${port}/mcp.`;
    try {
      const reasons = await waitFor("both connectors failed", async () => {
        const list = (await (await fetch(`${gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { name: string; state: string; reason?: string }[];
        return list.every((c) => c.state === "failed") ? Object.fromEntries(list.map((c) => [c.name, c.reason])) : undefined;
      });
      expect(reasons).toEqual({
        asking: said("asking", asking.port),
        plain: said("plain", plain.port),
        tls: `Connector "tls" cannot connect to 127.0.0.1:${tls.port}: the upstream closed the connection before answering (ECONNRESET), perhaps because it expects HTTPS; if it does, set the connector's url to https://127.0.0.1:${tls.port}/mcp, otherwise check the upstream's log.`,
      });
    } finally {
      await Promise.all([gateway.stop(), asking.stop(true), plain.stop(true), tls.stop(true)]);
    }
  });

  test("an upstream that drops the connection mid-reply is said alike over https (fetch) and plain http (the HTTP/1.1 client), without Bun's advice on fetch's options", async () => {
    const { ca, cert, key } = companyCa();
    const secure = startRawHttpUpstream({ tls: { cert, key } });
    const plain = startRawHttpUpstream();
    const config = {
      connectors: [
        { name: "hs", kind: "http", url: secure.url },
        { name: "hp", kind: "http", url: plain.url },
      ],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "hs" }, { connector: "hp" }] }],
    };
    const { gateway, token } = await startConfiguredGateway(config, { label: "mintgate-tls-reset", env: { NODE_EXTRA_CA_CERTS: ca } });
    try {
      const client = await connectMcpClient(`${gateway.url}/mcp/v`, token);
      await waitFor("both connectors' tools", async () => ((await client.listTools()).tools.length >= 2 ? true : undefined));
      const cut = async (name: string) => {
        const result = await client.callTool({ name: `${name}__cut`, arguments: {} }, undefined, { timeout: 10_000 });
        return { isError: result.isError, text: (result.content as { text: string }[])[0]!.text };
      };
      // Over https it said "… ECONNRESET: The socket connection was closed unexpectedly. For more information, pass `verbose: true` in the second argument to fetch()",
      // over plain http "… ECONNRESET: ECONNRESET: connection reset by peer, read before the reply was complete".
      const said = (name: string) => ({ isError: true, text: `Connector "${name}" failed answering tools/call: ECONNRESET: the upstream closed the connection before the reply was complete` });
      expect(await cut("hs")).toEqual(said("hs"));
      expect(await cut("hp")).toEqual(said("hp"));
      await client.close();
    } finally {
      await Promise.all([gateway.stop(), secure.stop(), plain.stop()]);
    }
  });
});

describe("a kept-alive connection that ends without an answer", () => {
  test("a tool call on it is not sent again (the upstream may have run it): it fails once, naming the connector, and the next call goes through", async () => {
    const upstream = startRawHttpUpstream();
    const config = { connectors: [{ name: "hp", kind: "http", url: upstream.url }], virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "hp" }] }] };
    const { gateway, token } = await startConfiguredGateway(config, { label: "mintgate-no-replay" });
    try {
      const client = await connectMcpClient(`${gateway.url}/mcp/v`, token);
      await waitFor("the connector's tools", async () => ((await client.listTools()).tools.length > 0 ? true : undefined));
      // The connection the call goes on has carried the handshake and the lists: a kept-alive one.
      const result = await client.callTool({ name: "hp__vanish", arguments: {} }, undefined, { timeout: 20_000 });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toBe('Connector "hp" is unavailable: ECONNRESET: the upstream closed the connection before the reply was complete.');
      // Before, it was sent again on a new connection, and a server with other workers (or restarted) ran it twice.
      expect(upstream.received().filter((m) => m === "tools/call vanish")).toHaveLength(1);
      // The connector reconnects (nobody answered: the upstream may be gone) and the next call is answered.
      await waitFor("a call answered again", async () => ((await client.callTool({ name: "hp__ok", arguments: {} })).isError ? undefined : true));
      await client.close();
    } finally {
      await Promise.all([gateway.stop(), upstream.stop()]);
    }
  });
});

describe("a gateway whose environment names a forward proxy (HTTP_PROXY, HTTPS_PROXY)", () => {
  test("reaches upstreams on this machine's loopback directly, as the CLI reaches the gateway; other hosts go through the proxy", async () => {
    // A corporate proxy reaches its own loopback, not ours: it refuses them all (before, every loopback
    // connector failed with its 502, their Authorization headers went to it, and `status` said the gateway had crashed).
    const proxy = await startForwardProxy({ refuse: 502 });
    const http = startHttpUpstream("t0k");
    const sse = startRawSseUpstream();
    const config = {
      connectors: [
        { name: "h", kind: "http", url: http.url, headers: { Authorization: "Bearer t0k" } },
        { name: "s", kind: "sse", url: sse.url.replace("127.0.0.1", "localhost") },
        { name: "far", kind: "http", url: "http://mcp.example.invalid/mcp" },
      ],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "h" }, { connector: "s" }] }],
    };
    const env = { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: "", no_proxy: "" };
    const { gateway, token, dataDir } = await startConfiguredGateway(config, { label: "mintgate-forward-proxy", env });
    try {
      const states = await waitFor("every connector ready or failed", async () => {
        const list = (await (await fetch(`${gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { name: string; state: string }[];
        return list.every((c) => c.state !== "starting") ? Object.fromEntries(list.map((c) => [c.name, c.state])) : undefined;
      });
      expect(states).toEqual({ h: "ready", s: "ready", far: "failed" });
      const client = await connectMcpClient(`${gateway.url}/mcp/v`, token);
      const answer = await client.callTool({ name: "h__shout", arguments: { text: "direct" } }, undefined, { timeout: 10_000 });
      expect((answer.content as { text: string }[])[0]!.text).toBe("DIRECT");
      await client.close();
      const status = await runMintgate(["status", "--data", dataDir], { env });
      expect([status.code, status.stderr]).toEqual([0, ""]);
      expect(proxy.requests()).toEqual(["POST http://mcp.example.invalid/mcp"]);
    } finally {
      await Promise.all([gateway.stop(), http.stop(), sse.stop(), proxy.stop()]);
    }
  });
  test("a proxy that asks for credentials (407) is said as the proxy's refusal, with what to set, and never with the proxy's password", async () => {
    const proxy = await startForwardProxy({ refuse: 407 });
    const withPassword = proxy.url.replace("http://", "http://ada:pr0xy-s3cret@");
    const config = {
      connectors: [
        { name: "tunnel", kind: "http", url: "https://mcp.example.invalid/mcp" },
        { name: "plain", kind: "http", url: "http://mcp.example.invalid/mcp" },
      ],
      virtualMcps: [],
    };
    const { gateway } = await startConfiguredGateway(config, { label: "mintgate-proxy-407", env: { HTTP_PROXY: withPassword, HTTPS_PROXY: withPassword, NO_PROXY: "", no_proxy: "" } });
    try {
      const reasons = await waitFor("both connectors failed", async () => {
        const list = (await (await fetch(`${gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { name: string; state: string; reason?: string }[];
        return list.every((c) => c.state === "failed") ? Object.fromEntries(list.map((c) => [c.name, c.reason])) : undefined;
      });
      expect(reasons).toEqual({
        tunnel: 'Connector "tunnel" cannot reach mcp.example.invalid: the proxy in HTTPS_PROXY refused to open a tunnel to it (HTTP 407 Proxy Authentication Required); it wants credentials: put its user name and password in HTTPS_PROXY (http://user:password@host:port) and restart the gateway.',
        plain: 'Connector "plain" answered HTTP 407: the proxy in HTTP_PROXY wants credentials; put its user name and password in HTTP_PROXY (http://user:password@host:port) and restart the gateway.',
      });
      expect(proxy.requests()).toContain("CONNECT mcp.example.invalid:443 (Proxy-Authorization)");
      expect(gateway.output()).not.toContain("pr0xy-s3cret");
    } finally {
      await Promise.all([gateway.stop(), proxy.stop()]);
    }
  });
  test("a proxy that is down is named with the variable that points at it, since Bun says ECONNREFUSED for the proxy and the upstream alike; its URL is never said", async () => {
    const closed = `http://ada:pr0xy-s3cret@127.0.0.1:${await freePort()}`;
    const config = {
      connectors: [
        { name: "tunnel", kind: "http", url: "https://mcp.example.invalid/mcp" },
        { name: "plain", kind: "http", url: "http://mcp.example.invalid/mcp" },
      ],
      virtualMcps: [],
    };
    // NO_PROXY lists another host: mcp.example.invalid still goes through the proxy, each scheme's through its own variable
    // (the sentence says "if", as the gateway does not read NO_PROXY to decide; Bun's fetch does).
    const env = { HTTPS_PROXY: closed, https_proxy: "", HTTP_PROXY: "", http_proxy: "", ALL_PROXY: closed, all_proxy: "", NO_PROXY: "internal.example.com", no_proxy: "" };
    const { gateway } = await startConfiguredGateway(config, { label: "mintgate-proxy-down", env });
    const refused = (name: string, variable: string) =>
      `Connector "${name}" cannot connect to mcp.example.invalid: nothing accepts connections there (ECONNREFUSED); check that the upstream server is running (and, if the request goes through the proxy in ${variable}, that the proxy is) and the connector's url.`;
    try {
      const reasons = await waitFor("both connectors failed", async () => {
        const list = (await (await fetch(`${gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { name: string; state: string; reason?: string }[];
        return list.every((c) => c.state === "failed") ? Object.fromEntries(list.map((c) => [c.name, c.reason])) : undefined;
      });
      expect(reasons).toEqual({ tunnel: refused("tunnel", "HTTPS_PROXY"), plain: refused("plain", "ALL_PROXY") });
      expect(gateway.output()).not.toContain("pr0xy-s3cret");
    } finally {
      await gateway.stop();
    }
  });
});

describe("an http upstream nobody listens for", () => {
  test("fails the connector, and a call made as it went away, with a sentence naming the address, not \"the connection closed\"", async () => {
    const port = await freePort();
    const refused = (name: string) => `Connector "${name}" cannot connect to 127.0.0.1:${port}: nothing accepts connections there (ECONNREFUSED); check that the upstream server is running and the connector's url.`;
    // Plain http (the gateway's own HTTP/1.1 client), https (fetch) and a legacy sse upstream: none had a word for it
    // (sse said Bun's "Unable to connect. Is the computer able to access the url?").
    const specs = [
      { kind: "http" as const, url: `http://127.0.0.1:${port}/mcp`, headers: {} },
      { kind: "http" as const, url: `https://127.0.0.1:${port}/mcp`, headers: {} },
      { kind: "sse" as const, url: `http://127.0.0.1:${port}/sse`, headers: {} },
    ];
    for (const spec of specs) {
      const connector = new Connector({ name: "gone", spec, timeoutMs: 5_000 }, { resolveSecret: () => "", backoffFirstMs: 3_600_000 });
      try {
        await connector.start();
        expect(connector.state).toMatchObject({ status: "failed", reason: refused("gone") });
      } finally {
        await connector.retire();
      }
    }
    const upstream = startRawHttpUpstream();
    const url = new URL(upstream.url);
    const connector = new Connector({ name: "went", spec: { kind: "http", url: upstream.url, headers: {} }, timeoutMs: 5_000 }, { resolveSecret: () => "", backoffFirstMs: 50 });
    try {
      await connector.start();
      expect(connector.state.status).toBe("ready");
      await upstream.stop();
      const said = `Connector "went" cannot connect to ${url.host}: nothing accepts connections there (ECONNREFUSED); check that the upstream server is running and the connector's url.`;
      // A request that may run twice: sent again on a new connection when the kept-alive one is found closed (a tool call
      // is not, see "a kept-alive connection that ends without an answer").
      expect(await connector.request("tools/list", undefined).then(() => "answered", (error: Error) => error.message)).toBe(said);
      // Its reconnects say the same.
      await waitFor("a reconnect to fail", () => connector.state.status === "failed" && connector.restarts > 0);
      expect(connector.state).toMatchObject({ status: "failed", reason: said });
    } finally {
      await connector.retire();
    }
  });
});

describe("an http upstream that never answers the POST of a notification", () => {
  test("fails the handshake within the connect timeout, naming the connector and notifications/initialized, rather than leaving it starting", async () => {
    const upstream = startRawHttpUpstream({ holding: "notifications/initialized" });
    const session = new UpstreamSession("mute", new StreamableHttpUpstreamTransport(new URL(upstream.url), {}, "mute"));
    try {
      const started = Date.now();
      const outcome = await session.connect(1_000).then(() => "connected", (error: Error) => error.message);
      expect(outcome).toBe('Connector "mute" did not answer notifications/initialized within 1 s.');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await session.close();
      // Closing the session ended the POST it was held on.
      await waitFor("the held POST to be ended", () => upstream.pending() === 0);
      await upstream.stop();
    }
  });
});

describe("a legacy SSE upstream whose event stream never names its endpoint", () => {
  test("fails the handshake within the connect timeout with a sentence naming the connector, rather than leaving it starting", async () => {
    const upstream = startRawSseUpstream({ nameless: true });
    const { SSEClientTransport } = await import("@modelcontextprotocol/sdk/client/sse.js");
    const session = new UpstreamSession("nameless", new SSEClientTransport(new URL(upstream.url)));
    try {
      const outcome = await session.connect(1_000).then(() => "connected", (error: Error) => error.message);
      expect(outcome).toBe(`Connector "nameless" did not open its connection within 1 s; check the upstream's log and the connector's url.`);
      expect(upstream.streamsOpened()).toBe(1);
    } finally {
      await session.close();
      await upstream.stop();
    }
  });
});

describe("a legacy SSE upstream that never answers the POST of notifications/cancelled", () => {
  test("has each one ended once a call's timeout passed, so timed-out calls do not pile up held connections", async () => {
    const upstream = startRawSseUpstream({ holding: "notifications/cancelled" });
    const connector = new Connector({ name: "wedged", spec: { kind: "sse", url: upstream.url, headers: {} }, timeoutMs: 1_000 }, { resolveSecret: () => "" });
    try {
      await connector.start();
      expect(connector.state.status).toBe("ready");
      const calls = Array.from({ length: 5 }, () => connector.request("tools/call", { name: "hang" }).then(() => "answered", (error: Error) => error.message));
      for (const outcome of await Promise.all(calls)) expect(outcome).toBe('Connector "wedged" did not answer tools/call within 1 s.');
      await waitFor("the cancellations to be held", () => upstream.held() === 5);
      // The event stream alone is left.
      await waitFor("the held cancellations to be ended", () => upstream.pending() === 1, 100);
      expect(connector.state.status).toBe("ready");
    } finally {
      await connector.retire();
      await upstream.stop();
    }
  });
});

describe("an http upstream that never answers the POST of notifications/cancelled", () => {
  test("has each one ended within 10 s, so timed-out calls do not pile up held connections", async () => {
    const upstream = startRawHttpUpstream({ holding: "notifications/cancelled" });
    const connector = new Connector({ name: "wedged", spec: { kind: "http", url: upstream.url, headers: {} }, timeoutMs: 1_000 }, { resolveSecret: () => "" });
    try {
      await connector.start();
      expect(connector.state.status).toBe("ready");
      const calls = Array.from({ length: 5 }, () => connector.request("tools/call", { name: "hang" }).then(() => "answered", (error: Error) => error.message));
      for (const outcome of await Promise.all(calls)) expect(outcome).toBe('Connector "wedged" did not answer tools/call within 1 s.');
      // The calls' own exchanges were ended by their timeout; the cancellations sent for them held one more each.
      await waitFor("the calls' exchanges to be ended", () => upstream.hangsClosed() === 5);
      await waitFor("the cancellations to be held", () => upstream.received().filter((method) => method === "notifications/cancelled").length === 5);
      expect(upstream.pending()).toBe(5);
      await waitFor("the held cancellations to be ended", () => upstream.pending() === 0, 300);
      expect(connector.state.status).toBe("ready");
    } finally {
      await connector.retire();
      await upstream.stop();
    }
  });
});

describe("an http upstream that keeps a call's SSE reply open after the answer", () => {
  test("has the reply ended soon after the answer, so answered calls do not pile up held connections", async () => {
    const upstream = startRawHttpUpstream();
    const connector = new Connector({ name: "lingers", spec: { kind: "http", url: upstream.url, headers: {} }, timeoutMs: 5_000 }, { resolveSecret: () => "" });
    try {
      await connector.start();
      expect(connector.state.status).toBe("ready");
      const answers = await Promise.all(Array.from({ length: 5 }, () => connector.request("tools/call", { name: "linger" })));
      for (const answer of answers) expect(answer).toEqual({ content: [{ type: "text", text: "lingering" }] });
      await waitFor("the lingering replies to be ended", () => upstream.pending() === 0, 100);
      expect(await connector.request("tools/call", { name: "ok" })).toEqual({ content: [{ type: "text", text: "ok" }] });
    } finally {
      await connector.retire();
      await upstream.stop();
    }
  });
});
