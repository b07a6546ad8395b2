import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { runMintgate, startConfiguredGateway, waitFor, type ConfiguredGateway } from "./harness.ts";

/** The sessionless 2026-07-28 revision, driven by the official 2.x client pinned to it. */
const CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - { slug: modern, name: Modern, connectors: [{ connector: demo, prefix: d }], access: { everyone: true } }
`;
/** CONFIG and a Virtual MCP \`dual\` on the upstream at \`dualUrl\` (see startDualEraUpstream). */
const withDual = (config: string, dualUrl: string) =>
  config
    .replace("virtualMcps:\n", `  - { name: dual, kind: http, url: "${dualUrl}" }\nvirtualMcps:\n`)
    .concat(`  - { slug: dual, name: Dual, connectors: [{ connector: dual, prefix: "" }], access: { everyone: true } }\n`);

/**
 * An upstream on the official 2.x server, which serves both eras on one endpoint and tells them apart by the
 * envelope in a request's `_meta`; the gateway reaches it over a 2025 session of its own.
 */
function startDualEraUpstream() {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "dual-era", version: "1.0.0" });
    server.registerTool("echo", { inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({ content: [{ type: "text", text }] }));
    server.registerPrompt("hello", { argsSchema: z.object({ name: z.string() }) }, ({ name }) => ({ messages: [{ role: "user", content: { type: "text", text: `hello ${name}` } }] }));
    return server;
  });
  return Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => handler.fetch(request) });
}

let setup: ConfiguredGateway;
let url: string;
let dualEra: ReturnType<typeof startDualEraUpstream>;
let dualUrl: string;
beforeAll(async () => {
  dualEra = startDualEraUpstream();
  dualUrl = `http://127.0.0.1:${dualEra.port}/mcp`;
  setup = await startConfiguredGateway(withDual(CONFIG, dualUrl), { label: "mintgate-modern" });
  url = `${setup.gateway.url}/mcp/modern`;
});
afterAll(async () => {
  await setup.gateway.stop();
  await dualEra.stop(true);
});

async function modernClient(endpoint = url, token = setup.token): Promise<Client> {
  const client = new Client({ name: "modern-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  const withToken = (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { fetch: withToken }));
  return client;
}

const envelope = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
function post(body: object, headers: Record<string, string>, token = setup.token) {
  return fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  });
}

/** A subscriptions/listen stream opened with `token`, read past its acknowledgement. */
async function listenWith(token: string) {
  const response = await post(
    { jsonrpc: "2.0", id: 1, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: envelope } },
    { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" },
    token,
  );
  const reader = response.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toContain("notifications/subscriptions/acknowledged");
  return reader;
}

/**
 * An event stream as it is read: `until(text)` reads until `text` has come, `ended()` reads to its end ("ended") or
 * gives up after 8 s ("still open"), `lastMessage()` parses the last `message` event read; `text` is all read so far.
 */
function reading(reader: { read(): Promise<{ done: boolean; value?: Uint8Array }> }) {
  const decoder = new TextDecoder();
  const stream = {
    text: "",
    async until(expected: string) {
      while (!stream.text.includes(expected)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before "${expected}": ${stream.text}`);
        stream.text += decoder.decode(value, { stream: true });
      }
    },
    async ended() {
      const toEnd = async () => {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) stream.text += decoder.decode(chunk.value, { stream: true });
        return "ended";
      };
      return Promise.race([toEnd(), Bun.sleep(8_000).then(() => "still open")]);
    },
    lastMessage() {
      const prefix = "event: message\ndata: ";
      return JSON.parse(stream.text.split("\n\n").filter((e) => e.startsWith(prefix)).at(-1)!.slice(prefix.length)) as { id: number; error?: { message: string } };
    },
  };
  return stream;
}

describe("protocol revision 2026-07-28 (sessionless)", () => {
  test("the official 2.x client pinned to 2026-07-28 lists and calls tools, reads a resource and gets a prompt", async () => {
    const client = await modernClient();
    expect(client.getProtocolEra()).toBe("modern");
    await waitFor("demo tools", async () => (await client.listTools()).tools.length === 4);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["d__add", "d__countdown", "d__echo", "d__now"]);
    const sum = await client.callTool({ name: "d__add", arguments: { a: 40, b: 2 } });
    expect((sum.content as { text: string }[])[0]!.text).toBe("42");
    const resource = await client.readResource({ uri: "d+demo://numbers/3" });
    expect(resource.contents[0]!.uri).toBe("d+demo://numbers/3");
    const prompt = await client.getPrompt({ name: "d__greeting", arguments: { name: "Ada" } });
    expect(JSON.stringify(prompt.messages)).toContain("Ada");
    await client.close();
    // Each call left its record, with no session.
    const calls = (await (await fetch(`${setup.gateway.url}/admin/api/calls`, { headers: { authorization: `Bearer ${setup.gateway.adminToken()}` } })).json()) as { method: string; exposedName: string; outcome: string }[];
    expect(calls.find((c) => c.method === "tools/call")).toMatchObject({ exposedName: "d__add", outcome: "ok" });
    // Lists, reads and gets are recorded too (every MCP request is).
    expect(calls.filter((c) => c.method === "resources/read" || c.method === "prompts/get").map((c) => c.outcome)).toEqual(["ok", "ok"]);
  });

  test("reading a resource the upstream does not have is an invalid-params error (-32602 now) with data.uri the URI asked by", async () => {
    const client = await modernClient();
    const failure = await client.readResource({ uri: "d+demo://missing" }).then(
      () => undefined,
      (error: { code: number; data?: unknown }) => ({ code: error.code, data: error.data }),
    );
    expect(failure).toEqual({ code: -32602, data: { uri: "d+demo://missing" } });
    await client.close();
  });

  test("a call reaches an upstream on the official 2.x server: the client's envelope is not passed on into the gateway's 2025 session with it", async () => {
    // The envelope names 2026-07-28; passed on, the upstream read it against its session's 2025 header and refused
    // every call, prompt and read as a header mismatch (-32020).
    const client = await modernClient(`${setup.gateway.url}/mcp/dual`);
    await waitFor("the dual-era upstream's tools", async () => (await client.listTools()).tools.length === 1);
    const echoed = await client.callTool({ name: "echo", arguments: { text: "through the gateway" } });
    expect(echoed.isError).toBeFalsy();
    expect((echoed.content as { text: string }[])[0]!.text).toBe("through the gateway");
    const prompt = await client.getPrompt({ name: "hello", arguments: { name: "Ada" } });
    expect(JSON.stringify(prompt.messages)).toContain("hello Ada");
    await client.close();
  });

  test("a reply past Bun's 16 KiB write buffer arrives whole", async () => {
    const client = await modernClient();
    await waitFor("demo tools", async () => (await client.listTools()).tools.length === 4);
    const text = "ü".repeat(100_000);
    const echoed = await client.callTool({ name: "d__echo", arguments: { text } });
    expect((echoed.content as { text: string }[])[0]!.text).toBe(text);
    await client.close();
  });

  test("a browser at an allowed origin may send the revision's headers: the preflight allows Mcp-Method and Mcp-Name", async () => {
    const origin = "http://localhost:6274";
    const preflight = await fetch(url, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, mcp-protocol-version, mcp-method, mcp-name" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
    const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const header of ["authorization", "content-type", "mcp-protocol-version", "mcp-method", "mcp-name"]) expect(allowed).toContain(header);
    // The request the preflight clears is answered, for that origin.
    const call = await post(
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "d__echo", arguments: { text: "from a browser" }, _meta: envelope } },
      { origin, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__echo" },
    );
    expect(call.status).toBe(200);
    expect(call.headers.get("access-control-allow-origin")).toBe(origin);
    expect(JSON.stringify(await call.json())).toContain("from a browser");
  });

  test("server/discover answers with the supported version, capabilities and server info", async () => {
    const response = await post({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: envelope } }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: Record<string, unknown> };
    expect(body.result).toMatchObject({ supportedVersions: ["2026-07-28"], resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "mintgate/modern" } } });
    expect(response.headers.get("mcp-session-id")).toBeNull();
    // Like initialize for older revisions, it is on the record.
    const calls = (await (await fetch(`${setup.gateway.url}/admin/api/calls`, { headers: { authorization: `Bearer ${setup.gateway.adminToken()}` } })).json()) as { method: string; outcome: string }[];
    expect(calls.some((c) => c.method === "server/discover" && c.outcome === "ok")).toBe(true);
  });

  test("mismatched headers, an unsupported version and removed methods are refused with the revision's codes", async () => {
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "d__echo", arguments: { text: "x" }, _meta: envelope } };
    const mismatch = await post(call, { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__add" });
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: { code: number } }).error.code).toBe(-32020);
    const noMethodHeader = await post(call, { "mcp-protocol-version": "2026-07-28", "mcp-name": "d__echo" });
    expect(((await noMethodHeader.json()) as { error: { code: number } }).error.code).toBe(-32020);
    const future = await post({ ...call, params: { ...call.params, _meta: { ...envelope, "io.modelcontextprotocol/protocolVersion": "2099-01-01" } } }, { "mcp-protocol-version": "2099-01-01", "mcp-method": "tools/call", "mcp-name": "d__echo" });
    expect(future.status).toBe(400);
    expect(((await future.json()) as { error: { code: number; data: unknown } }).error).toMatchObject({ code: -32022, data: { supported: ["2026-07-28"], requested: "2099-01-01" } });
    const ping = await post({ jsonrpc: "2.0", id: 3, method: "ping", params: { _meta: envelope } }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "ping" });
    expect(ping.status).toBe(404);
    expect(((await ping.json()) as { error: { code: number } }).error.code).toBe(-32601);
    const ok = await post(call, { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "=?base64?" + Buffer.from("d__echo").toString("base64") + "?=" });
    expect(ok.status).toBe(200);
    // Without a token: the same 401 challenge as every other request.
    const anonymous = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(call) });
    expect(anonymous.status).toBe(401);
    // Each refusal is on the record as an error with the sentence its client got; the anonymous request left none.
    const recent = await fetch(`${setup.gateway.url}/admin/api/audit?kind=mcp&limit=5`, { headers: { authorization: `Bearer ${setup.gateway.adminToken()}` } });
    const records = (await recent.json()) as { method: string; outcome: string; error: string | null; virtualMcp: string; sessionId: string | null }[];
    expect(records.map(({ method, outcome, error, virtualMcp, sessionId }) => ({ method, outcome, error, virtualMcp, sessionId }))).toEqual([
      { method: "tools/call", outcome: "ok", error: null, virtualMcp: "modern", sessionId: expect.stringMatching(/^stateless-/) },
      { method: "ping", outcome: "error", error: 'HTTP 404: The method "ping" does not exist in protocol revision 2026-07-28.', virtualMcp: "modern", sessionId: null },
      { method: "tools/call", outcome: "error", error: "HTTP 400: Unsupported protocol version 2099-01-01.", virtualMcp: "modern", sessionId: null },
      { method: "tools/call", outcome: "error", error: "HTTP 400: The Mcp-Method header must equal the request's method.", virtualMcp: "modern", sessionId: null },
      { method: "tools/call", outcome: "error", error: "HTTP 400: The Mcp-Name header must equal the request's tool, prompt or resource name.", virtualMcp: "modern", sessionId: null },
    ]);
  });

  test("the revision's header is checked against the body first, and a modern header without the envelope is refused as that revision, with the request's id", async () => {
    // A supported header over another version in the body is a header mismatch (conformance server-stateless), not an unsupported version.
    const other = await post(
      { jsonrpc: "2.0", id: 302, method: "server/discover", params: { _meta: { ...envelope, "io.modelcontextprotocol/protocolVersion": "v999.0.0" } } },
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover" },
    );
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: { code: number } }).error.code).toBe(-32020);
    // No envelope, or none naming a version: invalid params for this revision, not a 2025 "Server not initialized" with a null id.
    for (const [id, params] of [[101, {}], [102, { _meta: { "io.modelcontextprotocol/clientCapabilities": {} } }]] as const) {
      const missing = await post({ jsonrpc: "2.0", id, method: "tools/list", params }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({ id, error: { code: -32602 } });
      expect(missing.headers.get("mcp-session-id")).toBeNull();
    }
    // The 2025 handshake under a modern header is a mismatch too (as the official 2.x server answers it), and opens no session.
    const init = await post(
      { jsonrpc: "2.0", id: 7, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } },
      { "mcp-protocol-version": "2026-07-28" },
    );
    expect(init.status).toBe(400);
    expect(await init.json()).toMatchObject({ id: 7, error: { code: -32020 } });
    expect(init.headers.get("mcp-session-id")).toBeNull();
  });

  test("an MCP-Protocol-Version that is no date is an unsupported version on every request, with or without a session, not one 2026-07-28 or later", async () => {
    const initialize = { jsonrpc: "2.0", id: 7, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } };
    const send = (method: string, headers: Record<string, string>, body?: object) =>
      fetch(url, {
        method,
        headers: { authorization: `Bearer ${setup.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    // Compared as text, "bogus" sorts after every date: before, the initialize was told it "must not name protocol revision
    // 2026-07-28 or later", and a sessionless request that its envelope was missing. A POST is answered as the sessionless
    // revision answers an unsupported version (the conformance suite's v999.0.0 expects its data and the request's id).
    for (const body of [initialize, { jsonrpc: "2.0", id: 8, method: "tools/list", params: { _meta: envelope } }]) {
      const refused = await send("POST", { "mcp-protocol-version": "bogus", "mcp-method": body.method }, body);
      expect({ status: refused.status, session: refused.headers.get("mcp-session-id"), body: await refused.json() }).toEqual({
        status: 400,
        session: null,
        body: { jsonrpc: "2.0", id: body.id, error: { code: -32022, message: "Unsupported protocol version bogus.", data: { supported: ["2026-07-28"], requested: "bogus" } } },
      });
    }
    for (const method of ["GET", "DELETE"]) {
      const refused = await send(method, { "mcp-protocol-version": "bogus" });
      expect({ method, status: refused.status, session: refused.headers.get("mcp-session-id"), body: await refused.json() }).toEqual({
        method,
        status: 400,
        session: null,
        body: {
          jsonrpc: "2.0",
          id: null,
          error: { code: -32000, message: "Bad Request: unsupported protocol version bogus; send MCP-Protocol-Version as one of the revisions this gateway speaks (2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05, 2024-10-07)." },
        },
      });
    }
    // In a session it is refused as any version sessions do not take, on every method, and the session lives on.
    const opened = await send("POST", {}, initialize);
    await opened.text();
    const session = { "mcp-session-id": opened.headers.get("mcp-session-id")! };
    for (const [method, body] of [["POST", { jsonrpc: "2.0", id: 9, method: "ping" }], ["GET"], ["DELETE"]] as const) {
      const refused = await send(method, { ...session, "mcp-protocol-version": "bogus" }, body);
      expect({ method, status: refused.status, message: ((await refused.json()) as { error: { message: string } }).error.message }).toEqual({
        method,
        status: 400,
        message: "Bad Request: this session uses MCP-Protocol-Version 2025-11-25, and bogus is not one a session takes (2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05, 2024-10-07).",
      });
    }
    expect((await send("DELETE", { ...session, "mcp-protocol-version": "2025-11-25" })).status).toBe(200);
  });

  test("a GET or DELETE naming 2026-07-28 is told the revision has no sessions and what to do instead, not to send the session id of an initialize it cannot send; a later date is an unsupported version", async () => {
    const send = (method: string, version: string) => fetch(url, { method, headers: { authorization: `Bearer ${setup.token}`, accept: "text/event-stream", "mcp-protocol-version": version } });
    for (const method of ["GET", "DELETE"]) {
      const refused = await send(method, "2026-07-28");
      expect({ method, status: refused.status, error: ((await refused.json()) as { error: unknown }).error }).toEqual({
        method,
        status: 400,
        error: { code: -32000, message: `Bad Request: protocol revision 2026-07-28 has no sessions, so no ${method} on the endpoint; POST each request, and subscriptions/listen to hear of list changes.` },
      });
      const later = await send(method, "2027-01-01");
      expect(((await later.json()) as { error: { message: string } }).error.message).toStartWith("Bad Request: unsupported protocol version 2027-01-01; send MCP-Protocol-Version as one of the revisions this gateway speaks (2026-07-28, 2025-11-25,");
      expect(((await (await send(method, "2025-11-25")).json()) as { error: { message: string } }).error.message).toBe("Bad Request: send the Mcp-Session-Id header you got from initialize.");
    }
  });

  test("a message that is not valid JSON-RPC 2.0 is refused as an invalid request (-32600, HTTP 400), as in a session", async () => {
    const headers = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };
    const request = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } };
    // JSON-RPC ids are strings or numbers, never null; and every message says "jsonrpc": "2.0". Before, each of these was answered with the tool list.
    for (const invalid of [{ ...request, id: null }, { ...request, id: {} }, { ...request, id: [1] }, { ...request, id: true }, { ...request, jsonrpc: undefined }, { ...request, jsonrpc: "1.0" }]) {
      const response = await post(invalid, headers);
      expect(response.status).toBe(400);
      // Under the request's id when it is one a reply can carry (JSON-RPC 2.0 §5), null otherwise.
      expect(await response.json()).toMatchObject({ jsonrpc: "2.0", id: invalid.id === 1 ? 1 : null, error: { code: -32600 } });
    }
    expect((await post(request, headers)).status).toBe(200);
  });

  test("a batch is refused with a -32600 that says the revision has no batches, not as an uninitialised session", async () => {
    const request = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } };
    // Named by the header, or by the envelope of a message in it.
    for (const [batch, headers] of [[[request], { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }], [[], { "mcp-protocol-version": "2026-07-28" }], [[request], {}]] as const) {
      const response = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${setup.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
        body: JSON.stringify(batch),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(-32600);
      expect(body.error.message).toContain("batch");
      expect(body.error.message).toContain("2026-07-28");
      expect(response.headers.get("mcp-session-id")).toBeNull();
    }
  });

  test("Content-Type must be JSON, as in a session; Accept is not checked, as the SDK's server for this revision does not", async () => {
    const headers = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };
    const request = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } };
    for (const accept of ["application/json", "*/*", ""]) expect((await post(request, { ...headers, accept })).status).toBe(200);
    const plainText = await post(request, { ...headers, "content-type": "text/plain" });
    expect(plainText.status).toBe(415);
    expect(await plainText.json()).toMatchObject({ id: null, error: { code: -32000, message: expect.stringContaining("Unsupported Media Type") } });
    expect((await post(request, { ...headers, "content-type": "application/json; charset=utf-8" })).status).toBe(200);
  });

  test("a call asked for progress keeps its event stream alive with comments while the upstream is silent", async () => {
    // A gateway of its own with `--keepalive 1s` (the default, 15 s, is the SDK's): silent 1.5 s between progress steps.
    const own = await startConfiguredGateway(CONFIG, { label: "mintgate-modern-keepalive", args: ["--keepalive", "1s"] });
    const response = await fetch(`${own.gateway.url}/mcp/modern`, {
      method: "POST",
      headers: { authorization: `Bearer ${own.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__countdown" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "d__countdown", arguments: { n: 2, intervalMs: 1500 }, _meta: { ...envelope, progressToken: "p" } } }),
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const events = (await response.text()).split("\n\n").filter((e) => e !== "");
    expect(events).toContain(": keepalive");
    const data = events.filter((e) => e.startsWith("event: message\ndata: ")).map((e) => JSON.parse(e.slice("event: message\ndata: ".length)) as { method?: string; id?: number });
    expect(data.map((m) => m.method ?? m.id)).toEqual(["notifications/progress", "notifications/progress", 8]);
    await own.gateway.stop();
  }, 60_000);

  test("a progressToken that is not a string or an integer is refused with -32602 as plain JSON, not answered on an event stream", async () => {
    const headers = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__echo" };
    const call = (progressToken: unknown) => post({ jsonrpc: "2.0", id: 11, method: "tools/call", params: { name: "d__echo", arguments: { text: "hi" }, _meta: { ...envelope, progressToken } } }, headers);
    // Before: each was taken, and the reply came as an event stream carrying the echo.
    for (const [token, given] of [[{}, "an object"], [null, "null"], [true, "a boolean"], [1.5, "1.5"]] as const) {
      const refused = await call(token);
      expect({ token, type: refused.headers.get("content-type"), body: await refused.json() }).toEqual({
        token,
        type: "application/json",
        body: {
          jsonrpc: "2.0",
          id: 11,
          error: { code: -32602, message: `params._meta.progressToken of tools/call must be a string or an integer (up to 2^53 - 1), not ${given}; send one, or leave it out for a reply without progress notifications.` },
        },
      });
    }
    for (const token of ["p", 7]) expect((await call(token)).headers.get("content-type")).toBe("text/event-stream");
  });

  test("calls in flight end when their token is revoked, as calls in sessions do: each gets an error that says why", async () => {
    const created = await runMintgate(["tokens", "create", "--user", "inflight@example.com", "--json", "--data", setup.dataDir]);
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
    // Twenty seconds of countdown each, one answered as plain JSON and one on an event stream (it asks for progress).
    const call = (requestId: number, meta: object) =>
      fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__countdown" },
        body: JSON.stringify({ jsonrpc: "2.0", id: requestId, method: "tools/call", params: { name: "d__countdown", arguments: { n: 100, intervalMs: 200 }, _meta: { ...envelope, ...meta } } }),
      });
    const plain = call(1, {}).then((r) => r.text());
    const streamed = await call(2, { progressToken: "p" });
    const events = reading(streamed.body!.getReader());
    await events.until("notifications/progress");
    expect((await runMintgate(["tokens", "revoke", id, "--data", setup.dataDir])).code).toBe(0);
    // Before, both ran their twenty seconds and handed their results to the revoked token.
    expect(await events.ended()).toBe("ended");
    const reply = events.lastMessage();
    expect(reply.id).toBe(2);
    expect(reply.error?.message).toContain("its access token was revoked");
    // A sessionless client has no session to start again: it is told what it can do.
    expect(reply.error?.message).not.toContain("session");
    expect(reply.error?.message).toContain("sign in again or use a valid token");
    const answer = JSON.parse(await Promise.race([plain, Bun.sleep(8_000).then(() => '"still running"')])) as { id: number; error?: { message: string } };
    expect(answer.id).toBe(1);
    expect(answer.error?.message).toContain("its access token was revoked");
    expect(answer.error?.message).not.toContain("session");
  }, 30_000);

  test("a call in flight of a person a policy change leaves out of the Virtual MCP is answered with why, as a session's is", async () => {
    const created = await runMintgate(["tokens", "create", "--user", "left-out@example.com", "--json", "--data", setup.dataDir]);
    const { token } = JSON.parse(created.stdout) as { token: string };
    const putAccess = async (access: object) => {
      const response = await fetch(`${setup.gateway.url}/admin/api/virtual-mcps/modern/policy`, { method: "PUT", headers: { authorization: `Bearer ${setup.gateway.adminToken()}` }, body: JSON.stringify({ access }) });
      expect(response.status).toBe(200);
    };
    // Twenty seconds of countdown, on an event stream whose first progress shows it running.
    const streamed = await post(
      { jsonrpc: "2.0", id: 41, method: "tools/call", params: { name: "d__countdown", arguments: { n: 100, intervalMs: 200 }, _meta: { ...envelope, progressToken: "p" } } },
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__countdown" },
      token,
    );
    const events = reading(streamed.body!.getReader());
    await events.until("notifications/progress");
    try {
      await putAccess({ users: ["t@example.com"] });
      // Before, it ran its twenty seconds and handed its result to a person the Virtual MCP no longer admits.
      expect(await events.ended()).toBe("ended");
      const reply = events.lastMessage();
      expect(reply.id).toBe(41);
      expect(reply.error?.message).toContain('left-out@example.com lost access to virtual MCP "modern"');
      // A sessionless client has no session to start again.
      expect(reply.error?.message).not.toContain("session");
    } finally {
      await putAccess({ everyone: true });
    }
  });

  test("subscriptions/listen acknowledges and then carries list changes", async () => {
    const response = await post(
      { jsonrpc: "2.0", id: 9, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: envelope } },
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" },
    );
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = response.body!.getReader();
    const stream = reading(reader);
    await stream.until("notifications/subscriptions/acknowledged");
    expect(stream.text).toContain('"toolsListChanged":true');
    const file = join(setup.dataDir, "..", "narrower.yaml");
    writeFileSync(file, withDual(CONFIG.replace("prefix: d }", "prefix: d, include: [echo] }"), dualUrl));
    expect((await runMintgate(["apply", "-f", file, "--data", setup.dataDir])).code).toBe(0);
    await stream.until("notifications/tools/list_changed");
    expect(stream.text).toContain('"io.modelcontextprotocol/subscriptionId":9');
    await reader.cancel();
  });

  test("subscriptions/listen without a filter, or with one of the wrong shape, is refused with -32602, not acknowledged as a stream that carries nothing", async () => {
    const listen = (id: number, params: object) => post({ jsonrpc: "2.0", id, method: "subscriptions/listen", params: { ...params, _meta: envelope } }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" });
    for (const [id, params] of [
      [21, {}],
      [22, { notifications: true }],
      [23, { notifications: { toolsListChanged: "yes" } }],
      [24, { notifications: { resourceSubscriptions: "file:///a" } }],
    ] as const) {
      const refused = await listen(id, params);
      expect(refused.headers.get("content-type")).toContain("application/json");
      const body = (await refused.json()) as { id: number; error: { code: number; message: string } };
      expect(body).toMatchObject({ id, error: { code: -32602 } });
      expect(body.error.message).toContain("params.notifications");
    }
    // A filter naming nothing is one: acknowledged, honouring nothing.
    const empty = await listen(25, { notifications: {} });
    const reader = empty.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"notifications":{}');
    await reader.cancel();
  });

  test("a listen stream hears of changes to what its person sees, not of every change to the configuration", async () => {
    const created = await runMintgate(["tokens", "create", "--user", "lc@example.com", "--json", "--data", setup.dataDir]);
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
    const reader = await listenWith(token);
    const putPolicy = async (slug: string, policy: object) => {
      const response = await fetch(`${setup.gateway.url}/admin/api/virtual-mcps/${slug}/policy`, { method: "PUT", headers: { authorization: `Bearer ${setup.gateway.adminToken()}` }, body: JSON.stringify(policy) });
      expect(response.status).toBe(200);
    };
    // Another Virtual MCP's policy: nothing this person sees here changes. The admin API answers once the gateway applied it.
    await putPolicy("dual", { access: { everyone: true }, tools: { echo: { deny: { users: ["lc@example.com"] } } } });
    // This one's, hiding its one tool from them: a change they see.
    await putPolicy("modern", { access: { everyone: true }, tools: { d__echo: { deny: { users: ["lc@example.com"] } } } });
    // The stream ends once the token is revoked: everything it carried is read by then.
    expect((await runMintgate(["tokens", "revoke", id, "--data", setup.dataDir])).code).toBe(0);
    let carried = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) carried += new TextDecoder().decode(chunk.value);
    expect(carried.split("notifications/tools/list_changed").length - 1).toBe(1);
    await putPolicy("modern", { access: { everyone: true } });
    await putPolicy("dual", { access: { everyone: true } });
  });

  test("a listen stream ends when its token is revoked, as sessions do", async () => {
    const created = await runMintgate(["tokens", "create", "--user", "lis@example.com", "--json", "--data", setup.dataDir]);
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
    const reader = await listenWith(token);
    expect((await runMintgate(["tokens", "revoke", id, "--data", setup.dataDir])).code).toBe(0);
    // The gateway sees the revocation within about a second and closes the stream.
    expect(await reading(reader).ended()).toBe("ended");
  });

  test("a listen stream ends when its token expires; one opened with a token without expiry stays open", async () => {
    const createToken = async (...expiry: string[]) => JSON.parse((await runMintgate(["tokens", "create", "--user", "lis@example.com", ...expiry, "--json", "--data", setup.dataDir])).stdout) as { token: string; expiresAt: string | null };
    const expiring = await createToken("--expires", "3s");
    const lasting = await createToken();
    const listen = async (token: string) => {
      const reader = await listenWith(token);
      const stream = { reader, endedAt: undefined as number | undefined };
      void (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done);
        stream.endedAt = Date.now();
      })();
      return stream;
    };
    const [expiringStream, lastingStream] = [await listen(expiring.token), await listen(lasting.token)];
    await waitFor("the expiring token's listen stream to end", () => expiringStream.endedAt !== undefined, 160, 50);
    expect(expiringStream.endedAt! - Date.parse(expiring.expiresAt!)).toBeLessThan(2_000);
    expect(lastingStream.endedAt).toBeUndefined();
    expect(setup.gateway.output()).toContain("stream ended: its access token expired stream=subscriptions/listen subject=lis@example.com");
    await lastingStream.reader.cancel();
  });

  test("deleting the Virtual MCP answers its calls in flight with why and ends its listen streams", async () => {
    // Before, a call ran on and a listen stream stayed open (keepalives only) for a Virtual MCP that no longer existed.
    const doomed = `${withDual(CONFIG, dualUrl)}  - { slug: doomed, name: Doomed, connectors: [{ connector: demo, prefix: d }], access: { everyone: true } }\n`;
    const file = join(setup.dataDir, "..", "doomed.yaml");
    writeFileSync(file, doomed);
    expect((await runMintgate(["apply", "-f", file, "--data", setup.dataDir])).code).toBe(0);
    const doomedUrl = `${setup.gateway.url}/mcp/doomed`;
    const send = (method: string, params: object, extra: Record<string, string> = {}) =>
      fetch(doomedUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${setup.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": method, ...extra },
        body: JSON.stringify({ jsonrpc: "2.0", id: 5, method, params: { ...params, _meta: envelope } }),
      });
    let call: Promise<string> | undefined;
    await waitFor("the doomed Virtual MCP to take calls", async () => {
      const listed = await (await send("tools/list", {})).text();
      if (!listed.includes("d__countdown")) return false;
      call = send("tools/call", { name: "d__countdown", arguments: { n: 100, intervalMs: 200 } }, { "mcp-name": "d__countdown" }).then((r) => r.text());
      return true;
    });
    const listen = (await send("subscriptions/listen", { notifications: { toolsListChanged: true } })).body!.getReader();
    expect(new TextDecoder().decode((await listen.read()).value)).toContain("notifications/subscriptions/acknowledged");
    writeFileSync(file, withDual(CONFIG, dualUrl));
    expect((await runMintgate(["apply", "-f", file, "--prune", "--data", setup.dataDir])).code).toBe(0);
    const answer = JSON.parse(await Promise.race([call!, Bun.sleep(8_000).then(() => '"still running"')])) as { id: number; error?: { message: string } };
    expect(answer.error?.message).toBe('mintgate ended the call (virtual MCP "doomed" was deleted) before the request finished; ask an administrator which Virtual MCP to use instead.');
    expect(await reading(listen).ended()).toBe("ended");
  });
});

describe("protocol revision 2026-07-28 at shutdown", () => {
  // Before, its calls were not counted as running: SIGTERM stopped the connectors under them at once,
  // and a call that would have finished well within the grace failed as "stopped" (recorded as an error).
  test("SIGTERM lets a sessionless call in flight finish within the grace, then exits 0", async () => {
    const own = await startConfiguredGateway(CONFIG, { label: "mintgate-modern-stop" });
    try {
      const call = { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "d__countdown", arguments: { n: 2, intervalMs: 1500 }, _meta: envelope } };
      const reply = fetch(`${own.gateway.url}/mcp/modern`, {
        method: "POST",
        headers: { authorization: `Bearer ${own.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "d__countdown" },
        body: JSON.stringify(call),
      }).then((response) => response.json() as Promise<{ result?: { content: { text: string }[] }; error?: unknown }>);
      // The call must be running when the signal comes, and nothing shows it arrive: 1 s of its 3 s (well within the
      // 10 s grace), as 300 ms of 1.2 s was little for the request to get there on a loaded machine.
      await Bun.sleep(1000);
      own.gateway.signal("SIGTERM");
      expect(await reply).toMatchObject({ result: { content: [{ text: "counted down from 2" }] } });
      expect(await own.gateway.exited).toBe(0);
      const records = await runMintgate(["audit", "search", "--data", own.dataDir, "--tool", "d__countdown", "--json"]);
      expect((JSON.parse(records.stdout) as { outcome: string }[]).map((r) => r.outcome)).toEqual(["ok"]);
    } finally {
      await own.gateway.stop();
    }
  });

  test("a listen stream is closed with its subscriptions/listen result, which the 2.x client takes as a graceful end, not a dropped connection", async () => {
    const own = await startConfiguredGateway(CONFIG, { label: "mintgate-modern-listen-stop" });
    try {
      const client = await modernClient(`${own.gateway.url}/mcp/modern`, own.token);
      const subscription = await client.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
      own.gateway.signal("SIGTERM");
      expect(await Promise.race([subscription.closed, Bun.sleep(8_000).then(() => "still open")])).toBe("graceful");
      expect(await own.gateway.exited).toBe(0);
    } finally {
      await own.gateway.stop();
    }
  });
});
