import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { randomUUID } from "node:crypto";
import type { Principal } from "../auth/index.ts";
import { resultText } from "../connectors/index.ts";
import { log } from "../log/index.ts";
import type { Gateway } from "./index.ts";
import { GatewaySession } from "./session.ts";
import type { VirtualMcpRuntime } from "./virtual-mcp.ts";
import { loadServerProtocol, type SdkServerProtocol } from "./protocol.ts";
import { claimsModernRevision, handleModernRequest } from "./modern.ts";

/** A session idle this long is closed; clients re-initialise on the 404 that follows. */
const SESSION_IDLE_MS = 60 * 60_000;
const LEGACY_KEEPALIVE_MS = 25_000;
/** Open sessions per person, and in all: past these the least recently active one is closed. */
const SESSIONS_PER_SUBJECT = 256;
const SESSIONS_IN_ALL = 20_000;

function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}

/** Whose a session is: the person's id for OAuth tokens (two people may share an email), else the token's subject. */
const ownerOf = (principal: Principal) => principal.userId ?? principal.subject;

const sessionNotFound = () => jsonRpcError(404, -32001, "Session not found; start a new session with initialize.");

interface Entry {
  session: GatewaySession;
  /** Present for Streamable HTTP sessions. */
  streamable?: WebStandardStreamableHTTPServerTransport;
  legacy?: LegacySseTransport;
}

/**
 * The client-facing MCP endpoints of every Virtual MCP: Streamable HTTP at
 * /mcp/<slug> (the SDK's web-standard transport, one per session) and the
 * legacy HTTP+SSE pair at /sse/<slug> and /messages/<slug>.
 */
export class McpEndpoint {
  private readonly entries = new Map<string, Entry>();
  /** Set once the first session loaded the SDK's server side. */
  private protocol: SdkServerProtocol | undefined;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly gateway: Gateway,
    private readonly options: { bodyLimitBytes: number },
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), 60_000);
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.entries.size;
  }

  /** Handles one Streamable HTTP request for an authenticated principal. */
  async handleStreamable(runtime: VirtualMcpRuntime, request: Request, principal: Principal): Promise<Response> {
    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId !== null) {
      const entry = this.entries.get(sessionId);
      // Another person's session id is treated as unknown: sessions are bound to who opened them.
      if (!entry?.streamable || ownerOf(entry.session.principal) !== ownerOf(principal) || !runtime.sessions.has(sessionId)) return sessionNotFound();
      entry.session.lastActivity = Date.now();
      if (request.method === "POST") return this.handleSessionPost(entry.session, entry.streamable, request);
      return entry.streamable.handleRequest(request);
    }
    if (request.method !== "POST") {
      return jsonRpcError(400, -32000, "Bad Request: send the Mcp-Session-Id header you got from initialize.");
    }
    // A 2026-07-28 request names its revision in its own envelope; it needs no session.
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      return jsonRpcError(400, -32700, "Parse error: the body is not valid JSON.");
    }
    if (typeof body === "object" && body !== null && !Array.isArray(body) && claimsModernRevision(body as Record<string, never>)) {
      return handleModernRequest(runtime, principal, this.gateway.recorder, request, body as Record<string, never>);
    }
    const protocol = await loadServerProtocol();
    this.protocol = protocol;
    const transport: WebStandardStreamableHTTPServerTransport = new protocol.WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        const session = new GatewaySession(id, principal, runtime, transport, this.gateway.recorder, versionsOf(protocol));
        this.register(id, runtime, { session, streamable: transport });
      },
      onsessionclosed: (id) => this.unregister(id),
      maxRequestBodySize: this.options.bodyLimitBytes,
    } as ConstructorParameters<SdkServerProtocol["WebStandardStreamableHTTPServerTransport"]>[0]);
    transport.onclose = () => {
      if (transport.sessionId) this.unregister(transport.sessionId);
    };
    return transport.handleRequest(request, { parsedBody: body });
  }

  /**
   * The per-call hot path: a POST in an established session is parsed once
   * and answered here, without the SDK transport's per-message schema
   * validation and SSE framing. The reply is plain JSON unless the request
   * asked for progress, which needs an SSE stream; batches are answered here
   * too. A second initialize, an unsupported protocol version or a malformed
   * message goes to the SDK transport, which answers those.
   */
  private async handleSessionPost(session: GatewaySession, transport: WebStandardStreamableHTTPServerTransport, request: Request): Promise<Response> {
    const version = request.headers.get("mcp-protocol-version");
    if (version !== null && !this.protocol!.SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return transport.handleRequest(request);
    let message: unknown;
    try {
      message = JSON.parse(await request.text());
    } catch {
      return jsonRpcError(400, -32700, "Parse error: the body is not valid JSON.");
    }
    if (Array.isArray(message) && message.length > 0 && message.every(isPlainMessage) && !message.some((m) => m.method === "initialize")) {
      return this.answerBatch(session, message);
    }
    const m = message as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    if (!isPlainMessage(message) || m.method === "initialize") return transport.handleRequest(request, { parsedBody: message });
    if (typeof m.method !== "string") return new Response(null, { status: 202 }); // a response to us: we send no requests
    const params = m.params as Record<string, unknown> | undefined;
    if (m.id === undefined) {
      session.notification(m.method, params);
      return new Response(null, { status: 202 });
    }
    const id = m.id as string | number;
    const headers = { "mcp-session-id": session.id };
    const progressToken = (params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (progressToken === undefined) {
      const reply = await session.request(id, m.method, params, () => {});
      // A cancelled request gets no JSON-RPC reply; the HTTP exchange just ends.
      if (reply === undefined) return new Response(null, { status: 202, headers });
      return new Response(serializeReply(reply), { headers: { ...headers, "content-type": "application/json" } });
    }
    return sseReply(session, id, m.method, params, headers);
  }

  /**
   * A JSON-RPC batch (2025-03-26 clients): each message is handled as if sent
   * alone, and the replies go back together. Cancelled requests simply have no reply.
   */
  private async answerBatch(session: GatewaySession, batch: PlainMessage[]): Promise<Response> {
    const replies = await Promise.all(
      batch.map((m) => {
        if (typeof m.method !== "string") return undefined; // a response to us: we send no requests
        if (m.id === undefined) return session.notification(m.method, m.params);
        return session.request(m.id, m.method, m.params, () => {});
      }),
    );
    const answered = replies.filter((reply): reply is JSONRPCMessage => reply !== undefined);
    const headers = { "mcp-session-id": session.id };
    if (answered.length === 0) return new Response(null, { status: 202, headers });
    return new Response(`[${answered.map(serializeReply).join(",")}]`, { headers: { ...headers, "content-type": "application/json" } });
  }

  /** GET /sse/<slug>: opens a legacy HTTP+SSE session. */
  async openLegacy(runtime: VirtualMcpRuntime, principal: Principal): Promise<Response> {
    const protocol = await loadServerProtocol();
    const id = randomUUID();
    const transport = new LegacySseTransport(`/messages/${runtime.slug}?sessionId=${id}`, () => this.unregister(id));
    const session = new GatewaySession(id, principal, runtime, transport, this.gateway.recorder, versionsOf(protocol));
    this.register(id, runtime, { session, legacy: transport });
    return new Response(transport.stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform", connection: "keep-alive", "x-accel-buffering": "no" },
    });
  }

  /** POST /messages/<slug>?sessionId=…: one message of a legacy session. */
  async postLegacy(runtime: VirtualMcpRuntime, sessionId: string | null, request: Request, principal: Principal): Promise<Response> {
    const entry = sessionId === null ? undefined : this.entries.get(sessionId);
    if (!entry?.legacy || ownerOf(entry.session.principal) !== ownerOf(principal) || !runtime.sessions.has(sessionId!)) return sessionNotFound();
    let message: JSONRPCMessage;
    try {
      message = (await request.json()) as JSONRPCMessage;
    } catch {
      return jsonRpcError(400, -32700, "Parse error: the body is not valid JSON.");
    }
    entry.session.lastActivity = Date.now();
    entry.legacy.deliver(message);
    return new Response("Accepted", { status: 202 });
  }

  /** Lets running calls finish (up to `graceMs`), then closes every session and its streams. */
  async closeAll(graceMs = 0): Promise<void> {
    clearInterval(this.sweeper);
    const deadline = Date.now() + graceMs;
    const busy = () => [...this.entries.values()].some((e) => e.session.busy);
    while (Date.now() < deadline && busy()) await Bun.sleep(20);
    const sessions = [...this.entries.values()].map((e) => e.session);
    await Promise.all(sessions.map((session) => session.close()));
    // Calls cut off by the close still finish (as cancelled) and leave their record.
    const settled = Date.now() + 2000;
    while (Date.now() < settled && sessions.some((session) => session.busy)) await Bun.sleep(10);
    this.entries.clear();
  }

  private register(id: string, runtime: VirtualMcpRuntime, entry: Entry): void {
    this.evictIfFull(ownerOf(entry.session.principal));
    this.entries.set(id, entry);
    runtime.sessions.set(id, entry.session);
    log.debug("session opened", { session: id, virtualMcp: runtime.slug, subject: entry.session.principal.subject });
  }

  /** Forgets a session and closes it: its calls are cancelled and its subscriptions released. */
  private unregister(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    for (const runtime of this.gateway.virtualMcps()) runtime.sessions.delete(id);
    void entry.session.close();
  }

  /** Makes room for one more session: one person cannot hold the gateway's memory. */
  private evictIfFull(owner: string): void {
    let oldestOfSubject: [string, Entry] | undefined;
    let oldest: [string, Entry] | undefined;
    let ofSubject = 0;
    for (const item of this.entries) {
      const session = item[1].session;
      if (!oldest || session.lastActivity < oldest[1].session.lastActivity) oldest = item;
      if (ownerOf(session.principal) !== owner) continue;
      ofSubject++;
      if (!oldestOfSubject || session.lastActivity < oldestOfSubject[1].session.lastActivity) oldestOfSubject = item;
    }
    const victim = ofSubject >= SESSIONS_PER_SUBJECT ? oldestOfSubject : this.entries.size >= SESSIONS_IN_ALL ? oldest : undefined;
    if (victim) {
      log.info("session limit reached; closing the least recently active session", { subject: victim[1].session.principal.subject });
      this.unregister(victim[0]);
    }
  }

  private closeIdle(): void {
    const cutoff = Date.now() - SESSION_IDLE_MS;
    for (const [id, entry] of this.entries) {
      if (entry.session.lastActivity < cutoff) this.unregister(id);
    }
  }
}

type PlainMessage = { jsonrpc: "2.0"; id?: string | number; method?: unknown; params?: Record<string, unknown> };

/** A single JSON-RPC 2.0 message of the shape the fast path handles itself. */
function isPlainMessage(value: unknown): value is PlainMessage {
  const m = value as { jsonrpc?: unknown; id?: unknown; params?: unknown };
  return (
    typeof m === "object" &&
    m !== null &&
    !Array.isArray(m) &&
    m.jsonrpc === "2.0" &&
    (m.id === undefined || typeof m.id === "string" || typeof m.id === "number") &&
    (m.params === undefined || (typeof m.params === "object" && m.params !== null))
  );
}

function versionsOf(protocol: SdkServerProtocol) {
  return { supported: protocol.SUPPORTED_PROTOCOL_VERSIONS, latest: protocol.LATEST_PROTOCOL_VERSION };
}

/** A reply as JSON text; an upstream result passed on unchanged is not serialised again. */
function serializeReply(reply: JSONRPCMessage): string {
  const { id, result } = reply as { id: string | number; result?: object };
  const text = result && resultText.get(result);
  return text === undefined ? JSON.stringify(reply) : `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${text}}`;
}

/** A request's progress notifications, then its reply, as one SSE stream. */
function sseReply(session: GatewaySession, id: string | number, method: string, params: Record<string, unknown> | undefined, headers: Record<string, string>): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (message: JSONRPCMessage) => {
        try {
          controller.enqueue(encoder.encode(`event: message\ndata: ${serializeReply(message)}\n\n`));
        } catch {
          // the client went away; the call still completes and is recorded
        }
      };
      void session.request(id, method, params, write).then((reply) => {
        if (reply) write(reply);
        try {
          controller.close();
        } catch {
          // already closed
        }
      });
    },
  });
  return new Response(stream, { headers: { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" } });
}

/**
 * The server side of the 2024-11-05 HTTP+SSE transport: the first event
 * names the POST URL; replies go out as `message` events on the stream.
 */
class LegacySseTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly encoder = new TextEncoder();
  private keepalive: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    endpoint: string,
    private readonly onEnd: () => void,
  ) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        controller.enqueue(this.encoder.encode(`event: endpoint\ndata: ${endpoint}\n\n`));
        this.keepalive = setInterval(() => this.write(": keepalive\n\n"), LEGACY_KEEPALIVE_MS);
      },
      cancel: () => void this.close(),
    });
  }

  async start(): Promise<void> {}

  deliver(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    try {
      this.controller.close();
    } catch {
      // already closed by the client
    }
    this.onEnd();
    this.onclose?.();
  }

  private write(text: string): void {
    if (this.closed) return;
    try {
      this.controller.enqueue(this.encoder.encode(text));
    } catch {
      void this.close();
    }
  }
}
