import { afterAll, describe, expect, test } from "bun:test";
import { StreamableHttpUpstreamTransport, SseEventSplitter } from "../src/connectors/http-transport.ts";
import { UpstreamSession } from "../src/connectors/upstream-session.ts";

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
