import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { CallOutcome, CallRecorder } from "../audit/index.ts";
import type { Principal } from "../auth/index.ts";
import { UpstreamRpcError, type Connector } from "../connectors/index.ts";
import { JSON_RPC, jsonRpcCodeOf, MintgateError, publicMessageOf } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { VERSION } from "../version.ts";
import { routeUri, exposedUri } from "./curation.ts";
import type { VirtualMcpRuntime } from "./virtual-mcp.ts";

type RequestId = string | number;
type Params = Record<string, unknown> | undefined;
/** Where progress notifications for one request go (its SSE stream). */
export type ProgressSink = (notification: JSONRPCMessage) => void;

/** A JSON-RPC error answer with a sentence for a person. */
class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One client session of one Virtual MCP. It answers the client's requests
 * itself (no SDK Server per session: that costs ~2.6× the CPU on this path)
 * and routes calls to the connectors through the pool.
 */
export class GatewaySession {
  private readonly inFlight = new Map<RequestId, AbortController>();
  /** Resource subscriptions by exposed URI, each with the listener it registered upstream. */
  private readonly subscriptions = new Map<string, { connector: Connector; upstreamUri: string; listener: (uri: string) => void }>();
  lastActivity = Date.now();
  protocolVersion: string;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly runtime: VirtualMcpRuntime,
    private readonly transport: Transport,
    private readonly recorder: CallRecorder,
    private readonly versions: { supported: readonly string[]; latest: string },
  ) {
    this.protocolVersion = versions.latest;
    transport.onmessage = (message) => this.receive(message);
  }

  /** Tells the client a list changed (sent on the standalone stream, if the client opened one). */
  notifyListChanged(kind: "tools" | "prompts" | "resources"): void {
    void this.transport.send({ jsonrpc: "2.0", method: `notifications/${kind}/list_changed` }).catch(() => {});
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private shutDown(): Promise<void> {
    for (const abort of this.inFlight.values()) abort.abort("the session ended");
    for (const { connector, upstreamUri, listener } of this.subscriptions.values()) void connector.unsubscribeResource(upstreamUri, listener);
    this.subscriptions.clear();
    return this.transport.close();
  }

  /** Messages that arrive through an SDK transport (initialize, legacy SSE, batches). */
  private receive(message: JSONRPCMessage): void {
    const m = message as { id?: RequestId; method?: string; params?: Params };
    if (m.method === undefined) return; // responses to requests we never send
    if (m.id === undefined) return this.notification(m.method, m.params);
    const id = m.id;
    void this.request(id, m.method, m.params, (progress) => this.transport.send(progress, { relatedRequestId: id }).catch(() => {})).then((reply) => {
      // A cancelled request gets no reply (the spec says so); its response stream just ends.
      if (reply === undefined) return (this.transport as { closeSSEStream?: (requestId: RequestId) => void }).closeSSEStream?.(id);
      return this.transport.send(reply, { relatedRequestId: id }).catch((error: Error) => log.debug("could not send a reply", { session: this.id, error: error.message }));
    });
  }

  /** A client notification; only cancellation needs anything from us. */
  notification(method: string, params: Params): void {
    this.lastActivity = Date.now();
    if (method === "notifications/cancelled") {
      const requestId = (params as { requestId?: RequestId } | undefined)?.requestId;
      if (requestId !== undefined) this.inFlight.get(requestId)?.abort("cancelled by the client");
    }
  }

  /**
   * Answers one client request. Resolves to the reply, or to undefined when
   * the client cancelled the request (which then gets no reply).
   * `sendProgress` carries progress notifications for this request.
   */
  async request(id: RequestId, method: string, params: Params, sendProgress: ProgressSink): Promise<JSONRPCMessage | undefined> {
    this.lastActivity = Date.now();
    // One controller per request: the client's notifications/cancelled aborts it.
    const abort = new AbortController();
    this.inFlight.set(id, abort);
    let reply: JSONRPCMessage;
    try {
      const result = await this.dispatch(method, params, abort.signal, sendProgress);
      reply = { jsonrpc: "2.0", id, result } as JSONRPCMessage;
    } catch (error) {
      reply = { jsonrpc: "2.0", id, error: toRpcError(error) };
    } finally {
      this.inFlight.delete(id);
    }
    return abort.signal.aborted ? undefined : reply;
  }

  private dispatch(method: string, params: Params, signal: AbortSignal, progress: ProgressSink): Promise<Record<string, unknown>> | Record<string, unknown> {
    const catalogue = this.runtime.catalogue;
    switch (method) {
      case "initialize":
        return this.initialize(params);
      case "ping":
        return {};
      case "tools/list":
        return { tools: catalogue.tools.map((t) => t.definition) };
      case "tools/call":
        return this.callTool(params, signal, progress);
      case "prompts/list":
        return { prompts: catalogue.prompts.map((p) => p.definition) };
      case "prompts/get": {
        const prompt = catalogue.promptsByName.get(String(params?.name));
        if (!prompt) throw new RpcError(JSON_RPC.invalidParams, `There is no prompt "${String(params?.name)}" in virtual MCP "${this.runtime.slug}".`);
        return this.forward(progress, signal, prompt.connector, "prompts/get", { ...params, name: prompt.upstreamName });
      }
      case "resources/list":
        return { resources: catalogue.resources };
      case "resources/templates/list":
        return { resourceTemplates: catalogue.resourceTemplates };
      case "resources/read":
        return this.readResource(progress, signal, params);
      case "resources/subscribe":
        return this.subscribe(String(params?.uri));
      case "resources/unsubscribe":
        return this.unsubscribe(String(params?.uri));
      case "completion/complete":
        return this.complete(progress, signal, params);
      case "logging/setLevel":
        return {};
      default:
        throw new RpcError(JSON_RPC.methodNotFound, `mintgate does not support the method "${method}".`);
    }
  }

  private initialize(params: Params): Record<string, unknown> {
    const requested = typeof params?.protocolVersion === "string" ? params.protocolVersion : this.versions.latest;
    this.protocolVersion = this.versions.supported.includes(requested) ? requested : this.versions.latest;
    const definition = this.runtime.definition;
    return {
      protocolVersion: this.protocolVersion,
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true, subscribe: true }, completions: {}, logging: {} },
      serverInfo: { name: `mintgate/${definition.slug}`, title: definition.name, version: VERSION },
      ...(definition.description ? { instructions: definition.description } : {}),
    };
  }

  /** Sends a request to one connector for this caller, with cancellation and progress wired through. */
  private forward(progress: ProgressSink, signal: AbortSignal, connectorName: string, method: string, params: Params): Promise<Record<string, unknown>> {
    const connector = this.runtime.connectorFor(connectorName, this.principal);
    const meta = params?._meta as { progressToken?: string | number } | undefined;
    const progressToken = meta?.progressToken;
    let upstreamParams = params;
    if (meta) {
      const { progressToken: _, ...rest } = meta;
      upstreamParams = { ...params, _meta: rest };
    }
    return connector.request(method, upstreamParams, {
      signal,
      onProgress:
        progressToken === undefined
          ? undefined
          : (update) => progress({ jsonrpc: "2.0", method: "notifications/progress", params: { ...update, progressToken } }),
    });
  }

  private async callTool(params: Params, signal: AbortSignal, progress: ProgressSink): Promise<Record<string, unknown>> {
    const started = performance.now();
    const name = String(params?.name);
    const tool = this.runtime.catalogue.toolsByName.get(name);
    const args = params?.arguments;
    let outcome: CallOutcome = "ok";
    let errorText: string | null = null;
    try {
      if (!tool) {
        // As the SDK's own servers do: a tool result the model can read, not a protocol error.
        outcome = "error";
        errorText = `There is no tool "${name}" in virtual MCP "${this.runtime.slug}".`;
        return { content: [{ type: "text", text: errorText }], isError: true };
      }
      const result = await this.forward(progress, signal, tool.connector, "tools/call", { ...params, name: tool.upstreamName });
      if (result.isError === true) {
        outcome = "error";
        errorText = firstText(result) ?? "the tool reported an error";
      }
      return result;
    } catch (error) {
      const cancelled = signal.aborted;
      outcome = cancelled ? "cancelled" : error instanceof MintgateError && error.kind === "timeout" ? "timeout" : "error";
      errorText = (error as Error).message;
      // A connector that is down or slow is the tool's failure, shown to the model as a tool error.
      if (error instanceof MintgateError && (error.kind === "upstream_failed" || error.kind === "timeout") && !cancelled) {
        return { content: [{ type: "text", text: error.message }], isError: true };
      }
      throw error;
    } finally {
      await this.recorder.record({
        at: Date.now(),
        subject: this.principal.subject,
        tokenId: this.principal.tokenId,
        sessionId: this.id,
        virtualMcp: this.runtime.slug,
        connector: tool?.connector ?? null,
        method: "tools/call",
        exposedName: name,
        upstreamName: tool?.upstreamName ?? null,
        arguments: args,
        outcome,
        error: errorText,
        durationMs: performance.now() - started,
      });
    }
  }

  private async readResource(progress: ProgressSink, signal: AbortSignal, params: Params): Promise<Record<string, unknown>> {
    const uri = String(params?.uri);
    const route = routeUri(this.runtime.definition.connectors, uri);
    if (!route) throw new RpcError(JSON_RPC.invalidParams, `No connector in virtual MCP "${this.runtime.slug}" serves the resource "${uri}".`);
    const result = await this.forward(progress, signal, route.attachment.connector, "resources/read", { ...params, uri: route.upstreamUri });
    const contents = result.contents as { uri: string }[] | undefined;
    if (route.attachment.prefix === "" || !contents) return result;
    return { ...result, contents: contents.map((c) => ({ ...c, uri: exposedUri(route.attachment.prefix, c.uri) })) };
  }

  private async subscribe(uri: string): Promise<Record<string, unknown>> {
    if (this.subscriptions.has(uri)) return {};
    const route = routeUri(this.runtime.definition.connectors, uri);
    if (!route) throw new RpcError(JSON_RPC.invalidParams, `No connector in virtual MCP "${this.runtime.slug}" serves the resource "${uri}".`);
    const connector = this.runtime.connectorFor(route.attachment.connector, this.principal);
    const listener = () => {
      void this.transport.send({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri } }).catch(() => {});
    };
    await connector.subscribeResource(route.upstreamUri, listener);
    this.subscriptions.set(uri, { connector, upstreamUri: route.upstreamUri, listener });
    return {};
  }

  private async unsubscribe(uri: string): Promise<Record<string, unknown>> {
    const subscription = this.subscriptions.get(uri);
    if (subscription) {
      this.subscriptions.delete(uri);
      await subscription.connector.unsubscribeResource(subscription.upstreamUri, subscription.listener);
    }
    return {};
  }

  private complete(progress: ProgressSink, signal: AbortSignal, params: Params): Promise<Record<string, unknown>> {
    const ref = params?.ref as { type?: string; name?: string; uri?: string } | undefined;
    if (ref?.type === "ref/prompt") {
      const prompt = this.runtime.catalogue.promptsByName.get(String(ref.name));
      if (!prompt) throw new RpcError(JSON_RPC.invalidParams, `There is no prompt "${String(ref.name)}" in virtual MCP "${this.runtime.slug}".`);
      return this.forward(progress, signal, prompt.connector, "completion/complete", { ...params, ref: { ...ref, name: prompt.upstreamName } });
    }
    if (ref?.type === "ref/resource") {
      const route = routeUri(this.runtime.definition.connectors, String(ref.uri));
      if (!route) throw new RpcError(JSON_RPC.invalidParams, `No connector serves the resource template "${String(ref.uri)}".`);
      return this.forward(progress, signal, route.attachment.connector, "completion/complete", { ...params, ref: { ...ref, uri: route.upstreamUri } });
    }
    throw new RpcError(JSON_RPC.invalidParams, "completion/complete needs a ref of type ref/prompt or ref/resource.");
  }
}

function firstText(result: Record<string, unknown>): string | undefined {
  const content = result.content as { type?: string; text?: string }[] | undefined;
  return content?.find((c) => c.type === "text")?.text?.slice(0, 500);
}

function toRpcError(error: unknown): { code: number; message: string; data?: unknown } {
  if (error instanceof RpcError) return { code: error.code, message: error.message };
  if (error instanceof UpstreamRpcError) return { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) };
  if (error instanceof MintgateError) return { code: jsonRpcCodeOf(error), message: error.message };
  log.error("unexpected error in a gateway session", { error: (error as Error)?.stack ?? String(error) });
  return { code: JSON_RPC.internalError, message: publicMessageOf(error) };
}

export type { Connector };
