import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { randomUUID } from "node:crypto";
import type { CallRecorder } from "../audit/index.ts";
import type { Principal } from "../auth/index.ts";
import { JSON_RPC } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { VERSION } from "../version.ts";
import { jsonReply } from "./json-reply.ts";
import { EventStream, NOTIFICATION_UNREAD_LIMIT } from "./event-stream.ts";
import { replyEventStream } from "./reply-stream.ts";
import { CALL_ENDING, GatewaySession, RpcError, GONE_CALL_ENDING, isProgressToken, NO_STREAM, recordFailure, requestWithoutCall, type Ending, type ProgressSink } from "./session.ts";
import { ownerOf } from "../auth/index.ts";
import { QuestionRounds, ROUND_METHODS, sameRequest, type HeldCalls, type Question } from "./input-rounds.ts";
import type { VirtualMcpRuntime } from "./virtual-mcp.ts";
import type { RequestsPerPerson } from "./requests-per-person.ts";
import { isDatedRevision, MODERN_VERSION } from "./revision.ts";
import { recordTransportRefusal, Refusal } from "./refusals.ts";

/**
 * The sessionless 2026-07-28 revision. There is no initialize and no session:
 * every request carries its protocol version and the client's capabilities in
 * `params._meta`, repeated in the MCP-Protocol-Version, Mcp-Method and
 * Mcp-Name headers, and is answered on its own. List changes reach clients
 * through a `subscriptions/listen` stream. Older revisions never send these
 * envelopes, so the two coexist on one endpoint.
 */
export { MODERN_VERSION };
const META_VERSION = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO = "io.modelcontextprotocol/serverInfo";
const META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId";
/**
 * The envelope's keys: they describe the client's request to the gateway (its revision, capabilities, name, log
 * level), not the gateway's request to the upstream, which goes over the connector's own 2025 session.
 */
const ENVELOPE_KEYS = [META_VERSION, META_CAPABILITIES, "io.modelcontextprotocol/clientInfo", "io.modelcontextprotocol/logLevel"];

/** Codes the 2026-07-28 revision adds. */
const HEADER_MISMATCH = -32020;
const UNSUPPORTED_VERSION = -32022;

const METHODS = new Set(["server/discover", "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list", "resources/templates/list", "resources/read", "completion/complete", "subscriptions/listen"]);
/** Results a client may cache: they carry ttlMs and cacheScope. */
const CACHEABLE = new Set(["server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"]);
type Message = { id?: string | number; method?: string; params?: Record<string, unknown> };

/**
 * True when the request is one of the sessionless revision's: its envelope (or, in a batch, any
 * message's) names a version, or its MCP-Protocol-Version header names 2026-07-28 or later (compared
 * as the SDK does: one that is no date sorts after them all, and is refused here as an unsupported version). Such a request with its envelope missing, or a batch, is refused as that revision
 * says, not answered as an uninitialised 2025 session.
 */
export function claimsModernRevision(body: unknown, versionHeader: string | null): boolean {
  if (versionHeader !== null && versionHeader >= MODERN_VERSION) return true;
  return Array.isArray(body) ? body.some(carriesEnvelope) : carriesEnvelope(body);
}

function carriesEnvelope(message: unknown): boolean {
  const meta = (message as Message | null | undefined)?.params?._meta as Record<string, unknown> | null | undefined;
  return typeof meta === "object" && meta !== null && META_VERSION in meta;
}

/** Batches left MCP with revision 2025-06-18 (the SDK refuses batches naming this revision too): each request is a POST of its own. */
export const NO_BATCHES = `protocol revision ${MODERN_VERSION} has no JSON-RPC batches; send each request in a POST of its own`;

function error(status: number, id: Message["id"], code: number, message: string, data?: unknown): Response {
  return Response.json({ jsonrpc: "2.0", id: id ?? null, error: { code, message, ...(data === undefined ? {} : { data }) } }, { status });
}

/** `=?base64?…?=` carries names that are not plain ASCII. */
function decodeHeaderValue(value: string | null): string | null {
  const encoded = value?.trim().match(/^=\?base64\?(.*)\?=$/);
  return encoded ? Buffer.from(encoded[1]!, "base64").toString("utf8") : (value?.trim() ?? null);
}

/** UnsupportedProtocolVersionError, with the versions a request without a session may name and the one it named. */
function unsupportedVersion(requested: string): Refusal {
  return new Refusal(400, UNSUPPORTED_VERSION, `Unsupported protocol version ${requested}.`, { data: { supported: [MODERN_VERSION], requested } });
}

/** The checks every modern request must pass before it is dispatched; a Refusal when it fails. */
function refusal(request: Request, message: Message): Refusal | undefined {
  // A header that is no revision's date ("bogus", "v999.0.0") sorts after every date and so came here; it is no
  // revision at all, said as this revision says an unsupported one (an initialize was told it named 2026-07-28 or later).
  const header = request.headers.get("mcp-protocol-version");
  if (header !== null && !isDatedRevision(header)) return unsupportedVersion(header);
  const meta = message.params?._meta as Record<string, unknown> | null | undefined;
  if (typeof meta !== "object" || meta === null || !(META_VERSION in meta)) {
    // Only a modern MCP-Protocol-Version header brings a request without the envelope here.
    if (message.method === "initialize") return new Refusal(400, HEADER_MISMATCH, "An initialize request must not name protocol revision 2026-07-28 or later in its MCP-Protocol-Version header.");
    return new Refusal(400, JSON_RPC.invalidParams, `The MCP-Protocol-Version header names a sessionless revision, so params._meta must carry "${META_VERSION}" and "${META_CAPABILITIES}".`);
  }
  const version = meta[META_VERSION];
  if (typeof version !== "string") return new Refusal(400, JSON_RPC.invalidParams, `params._meta["${META_VERSION}"] must be a string.`);
  const capabilities = meta[META_CAPABILITIES];
  if (typeof capabilities !== "object" || capabilities === null) {
    return new Refusal(400, JSON_RPC.invalidParams, `params._meta["${META_CAPABILITIES}"] must be an object.`);
  }
  // The headers are checked against the body before the version is: a supported header over another version in the body is a mismatch.
  if (header !== version) {
    return new Refusal(400, HEADER_MISMATCH, "The MCP-Protocol-Version header must equal the request's protocol version.");
  }
  if (message.method !== undefined && request.headers.get("mcp-method") !== message.method) {
    return new Refusal(400, HEADER_MISMATCH, "The Mcp-Method header must equal the request's method.");
  }
  if (version !== MODERN_VERSION) return unsupportedVersion(version);
  const named = message.method === "tools/call" || message.method === "prompts/get" ? message.params?.name : message.method === "resources/read" ? message.params?.uri : undefined;
  if (named !== undefined && decodeHeaderValue(request.headers.get("mcp-name")) !== named) {
    return new Refusal(400, HEADER_MISMATCH, "The Mcp-Name header must equal the request's tool, prompt or resource name.");
  }
  return undefined;
}

/** A per-request session has no channel of its own besides the request's reply. */
class NoSessionChannel implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  async start(): Promise<void> {}
  async send(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Answers one modern request for an authenticated principal. */
/**
 * Where the open `subscriptions/listen` streams are kept (the endpoint's
 * registry): `add` is told a stream's owner and how to end it, and answers
 * the function that forgets it once it ends on its own.
 */
export interface ListenStreams {
  add(principal: Principal, end: () => void): () => void;
}

/**
 * Where the calls in flight are kept (the endpoint's registry), so that revocation ends them as it
 * ends sessions: `add` is told a call's owner and how to end it with a reason, and answers the
 * function that forgets it once it is answered.
 */
export interface CallsInFlight {
  add(principal: Principal, end: (reason: string, ending?: Ending) => void): () => void;
}

/**
 * A sessionless call answered in rounds: its upstream asked its client something, which went out in an input_required
 * result; the client's retry answers it and waits for what the upstream does next.
 */
export interface CallInRounds {
  readonly session: GatewaySession;
  readonly rounds: QuestionRounds;
  /** The call's reply, under its first round's id. */
  readonly reply: Promise<JSONRPCMessage | undefined>;
  readonly firstId: string | number;
  /** Where the call's progress goes now: the event stream of the round waiting on it, when that round asked for progress. */
  progress: ProgressSink;
}

export async function handleModernRequest(
  runtime: VirtualMcpRuntime,
  principal: Principal,
  recorder: CallRecorder,
  request: Request,
  message: Message,
  listeners: ListenStreams,
  calls: CallsInFlight,
  running: RequestsPerPerson,
  held: HeldCalls<CallInRounds>,
): Promise<Response> {
  if (message.id === undefined || message.method === undefined) return new Response(null, { status: 202 });
  const { id, method } = message;
  const refused = refusal(request, message) ?? (METHODS.has(method) ? undefined : new Refusal(404, JSON_RPC.methodNotFound, `The method "${method}" does not exist in protocol revision ${MODERN_VERSION}.`));
  if (refused) {
    // On the record before it is answered, as the endpoint's refusals are: the request never reached a session that would record it.
    await recordTransportRefusal(recorder, principal, runtime, request, refused, null, message);
    return error(refused.status, id, refused.code, refused.message, refused.extra.data);
  }
  const serverInfo = { name: `mintgate/${runtime.slug}`, title: runtime.definition.name, version: VERSION };
  const encode = (reply: JSONRPCMessage, resultType: "complete" | "input_required" = "complete"): string => {
    const r = reply as { result?: Record<string, unknown>; error?: { code: number } };
    if (r.error) {
      if (r.error.code === -32002) r.error.code = JSON_RPC.invalidParams; // "resource not found" is an invalid-params error now
      return JSON.stringify(reply);
    }
    const result = r.result ?? {};
    return JSON.stringify({
      ...reply,
      result: {
        ...result,
        resultType,
        ...(CACHEABLE.has(method) && resultType === "complete" ? { ttlMs: 0, cacheScope: "private" } : {}),
        _meta: { ...(result._meta as object | undefined), [META_SERVER_INFO]: serverInfo },
      },
    });
  };
  if (method === "server/discover") {
    // The sessionless revision's counterpart of initialize: on the record like it.
    try {
      await recorder.record(requestWithoutCall(principal, runtime.slug, method, { outcome: "ok", error: null, sessionId: null }));
    } catch (failure) {
      return jsonReply(encode({ jsonrpc: "2.0", id, error: recordFailure(failure, method) } as JSONRPCMessage));
    }
    const result = {
      supportedVersions: [MODERN_VERSION],
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true }, completions: {} },
      ...(runtime.definition.description ? { instructions: runtime.definition.description } : {}),
    };
    return new Response(encode({ jsonrpc: "2.0", id, result } as JSONRPCMessage), { headers: { "content-type": "application/json" } });
  }
  if (method === "subscriptions/listen") {
    const unfit = filterProblem(message.params?.notifications);
    if (unfit !== undefined) {
      // Acknowledged, it was a stream that never carried anything, its client none the wiser.
      const refused = new Refusal(200, JSON_RPC.invalidParams, unfit);
      await recordTransportRefusal(recorder, principal, runtime, request, refused, null, message);
      return jsonReply(JSON.stringify({ jsonrpc: "2.0", id, error: { code: refused.code, message: refused.message } }));
    }
    return listen(runtime, principal, id, message.params, serverInfo, (end) => {
      const forgetHere = listeners.add(principal, end);
      const forgetThere = runtime.endsWithIt(end);
      return () => {
        forgetHere();
        forgetThere();
      };
    });
  }

  const progressToken = (message.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
  /** `question` of `call` put to this request's client: the input_required result, under a requestState for this caller and request. */
  const holdFor = (call: CallInRounds, question: Question) =>
    held.hold({ owner: ownerOf(principal), tokenId: principal.tokenId, virtualMcp: runtime.slug, method, request: sameRequest(message.params), question, call }, call.reply);
  /** Answers this request with the call's next round: its reply (under this request's id), or the upstream's next question. */
  const answerRound = (call: CallInRounds): Promise<Response> | Response => {
    // The client cancels by closing its request; once this round is answered, closing it cancels nothing.
    const cancel = () => call.session.notification("notifications/cancelled", { requestId: call.firstId });
    request.signal.addEventListener("abort", cancel, { once: true });
    const answered = call.rounds.next(call.reply).then(
      (next): string | undefined => {
        request.signal.removeEventListener("abort", cancel);
        call.progress = NO_STREAM;
        if ("reply" in next) return next.reply && encode({ ...next.reply, id } as JSONRPCMessage);
        return encode({ jsonrpc: "2.0", id, result: holdFor(call, next.question) } as JSONRPCMessage, "input_required");
      },
    );
    if (!isProgressToken(progressToken)) return answered.then((text) => (text === undefined ? new Response(null, { status: 202 }) : jsonReply(text)));
    return replyEventStream({}, (events) => {
      call.progress = (progress) => events.progress(JSON.stringify({ ...progress, params: { ...(progress as { params?: object }).params, progressToken } }));
      void answered.then((text) => events.end(text));
    });
  };
  const capabilities = (message.params?._meta as Record<string, unknown>)[META_CAPABILITIES] as Record<string, unknown>;
  if (ROUND_METHODS.has(method) && message.params?.requestState !== undefined) {
    const resumed = held.take(message.params.requestState, principal, runtime.slug, method, sameRequest(message.params));
    if (typeof resumed === "string") {
      const fromStart = `send the ${method} request again from the start, without requestState and inputResponses`;
      const why =
        resumed === "unknown"
          ? `This requestState is unknown, expired, already used or not yours; ${fromStart}.`
          : `This requestState was given for another request; send it with the same params (name, arguments, uri) as the request it answered, or ${fromStart}.`;
      const refused = new Refusal(200, JSON_RPC.invalidParams, why);
      await recordTransportRefusal(recorder, principal, runtime, request, refused, null, message);
      return jsonReply(JSON.stringify({ jsonrpc: "2.0", id, error: { code: refused.code, message: refused.message } }));
    }
    const { call, question } = resumed;
    const responses = message.params.inputResponses;
    const given = typeof responses === "object" && responses !== null ? (responses as Record<string, unknown>)[question.key] : undefined;
    if (given === undefined) {
      // A retry without the answer is asked the same question again, in a new round (SEP-2322: re-request, not an error): the client may have lost it.
      return jsonReply(encode({ jsonrpc: "2.0", id, result: holdFor(call, question) } as JSONRPCMessage, "input_required"));
    }
    const answer = await readAnswer(question, given, method);
    if (typeof answer === "string") {
      // The upstream hears it cannot have its answer, and the call ends: the client starts again with a right one.
      question.answer.reject(new RpcError(JSON_RPC.invalidParams, `The client did not answer ${question.method}.`));
      // Once the question's record has its outcome (an error, not a cancelled question): nobody waits for the call now.
      setTimeout(() => call.session.notification("notifications/cancelled", { requestId: call.firstId }), 0);
      return jsonReply(JSON.stringify({ jsonrpc: "2.0", id, error: { code: JSON_RPC.invalidParams, message: answer } }));
    }
    // What the client may take in later rounds is what this request declares.
    call.session.takeQuestionsInRounds(method, capabilities, call.rounds);
    question.answer.resolve(answer);
    return answerRound(call);
  }

  const params = withoutEnvelope(message.params);
  const session = new GatewaySession(`stateless-${randomUUID()}`, principal, runtime, new NoSessionChannel(), recorder, { supported: [MODERN_VERSION], latest: MODERN_VERSION }, running);
  const rounds = new QuestionRounds();
  session.takeQuestionsInRounds(method, capabilities, rounds);
  // A revoked token or a disabled person loses its calls in flight, as it loses its sessions: each is answered with the reason.
  const forgetCall = calls.add(principal, (reason, ending = CALL_ENDING) => void session.end(reason, ending));
  // Deleting the Virtual MCP ends its calls too: otherwise they ran on, answering for a Virtual MCP that no longer exists.
  const forgetHere = runtime.endsWithIt((reason) => void session.end(reason, GONE_CALL_ENDING));
  // A change that leaves its person out of the Virtual MCP ends them as it ends that person's sessions: they ran on to the end.
  const forgetAccess = runtime.onListChanged((changed) => session.refreshAccess(changed));
  const forget = () => {
    forgetCall();
    forgetHere();
    forgetAccess();
  };
  if (ROUND_METHODS.has(method)) {
    // Its upstream may ask the client things: the call outlives this request, each question a round of its own.
    let call!: CallInRounds;
    const reply = session.request(id, method, params, principal, (progress) => call.progress(progress)).finally(forget);
    call = { session, rounds, reply, firstId: id, progress: NO_STREAM };
    return answerRound(call);
  }
  // The client cancels by closing its request.
  request.signal.addEventListener("abort", () => session.notification("notifications/cancelled", { requestId: id }), { once: true });
  // Without a valid token, the reply is plain JSON: the session refuses a token of another kind (-32602).
  if (!isProgressToken((params?._meta as { progressToken?: unknown } | undefined)?.progressToken)) {
    const reply = await session.request(id, method, params, principal, NO_STREAM).finally(forget);
    if (reply === undefined) return new Response(null, { status: 202 });
    return jsonReply(encode(reply));
  }
  return replyEventStream({}, (events) => {
    void session
      .request(id, method, params, principal, (progress) => events.progress(JSON.stringify(progress)))
      .finally(forget)
      .then((reply) => events.end(reply && encode(reply)));
  });
}

/**
 * The client's answer to `question` (its entry in a retry's inputResponses), as it gave it (the upstream gets it so, as
 * a relayed answer), when it is one the upstream's SDK can read; otherwise the sentence the client is told.
 */
async function readAnswer(question: Question, response: unknown, method: string): Promise<Record<string, unknown> | string> {
  const again = `send the ${method} request again from the start`;
  const { CreateMessageResultSchema, CreateMessageResultWithToolsSchema, ElicitResultSchema } = await import("@modelcontextprotocol/sdk/types.js");
  // A model offered tools may answer by using one (tool_use blocks), as the SDK's client reads such a request's result.
  const offersTools = question.params?.tools !== undefined || question.params?.toolChoice !== undefined;
  const schema = question.method === "elicitation/create" ? ElicitResultSchema : offersTools ? CreateMessageResultWithToolsSchema : CreateMessageResultSchema;
  if (!schema.safeParse(response).success) return `inputResponses["${question.key}"] is not a ${question.method} result; ${again}.`;
  return response as Record<string, unknown>;
}

/**
 * A request's params without its envelope, as the session forwards them upstream (other `_meta`, such as a progress
 * token or trace context, stays). Passed on, the envelope claimed 2026-07-28 inside the connector's 2025 session: the
 * official 2.x server refuses that as a header mismatch (-32020), so every call, read, prompt and completion of a
 * sessionless client failed on such an upstream.
 */
function withoutEnvelope(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  if (meta === undefined) return params;
  const rest = { ...meta };
  for (const key of ENVELOPE_KEYS) delete rest[key];
  return { ...params, _meta: rest };
}

/** The boolean fields of a subscriptions/listen filter, each the list whose list_changed notifications it opts in to. */
const LIST_KINDS = { toolsListChanged: "tools", promptsListChanged: "prompts", resourcesListChanged: "resources" } as const;

/** Why `notifications` is not the subscription filter subscriptions/listen requires (SubscriptionFilter), or undefined. */
function filterProblem(notifications: unknown): string | undefined {
  const example = 'such as {"toolsListChanged": true}';
  if (typeof notifications !== "object" || notifications === null || Array.isArray(notifications)) {
    return `params.notifications must be an object naming the notifications this stream is to carry, ${example}.`;
  }
  const filter = notifications as Record<string, unknown>;
  const notBoolean = Object.keys(LIST_KINDS).find((field) => filter[field] !== undefined && typeof filter[field] !== "boolean");
  if (notBoolean !== undefined) return `params.notifications.${notBoolean} must be true or false, ${example}.`;
  const uris = filter.resourceSubscriptions;
  if (uris !== undefined && !(Array.isArray(uris) && uris.every((uri) => typeof uri === "string"))) {
    return "params.notifications.resourceSubscriptions must be an array of resource URIs.";
  }
  return undefined;
}

/**
 * subscriptions/listen: an SSE stream that first acknowledges which list
 * notifications it will carry, then carries them (each tagged with the
 * listen request's id) until the client closes it. One the gateway ends (its
 * person's access gone, shutdown) ends with the request's result, the
 * revision's sign of a subscription ended on purpose rather than a dropped connection.
 */
function listen(
  runtime: VirtualMcpRuntime,
  principal: Principal,
  id: string | number,
  params: Record<string, unknown> | undefined,
  serverInfo: Record<string, unknown>,
  register: (end: () => void) => () => void,
): Response {
  const wanted = params!.notifications as Record<string, unknown>;
  const honoured = Object.fromEntries(Object.keys(LIST_KINDS).filter((k) => wanted[k] === true).map((k) => [k, true]));
  let stop = () => {};
  const stream = new EventStream({
    limitBytes: NOTIFICATION_UNREAD_LIMIT,
    overflowed: () => {
      log.info("listen stream closed: its client stopped reading", { subject: principal.subject, virtualMcp: runtime.slug, limitBytes: NOTIFICATION_UNREAD_LIMIT });
      stop();
    },
    cancelled: () => stop(),
  });
  const send = (method: string, extra: Record<string, unknown> = {}) =>
    stream.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", method, params: { ...extra, _meta: { [META_SUBSCRIPTION]: id } } })}\n\n`);
  send("notifications/subscriptions/acknowledged", { notifications: honoured });
  /** Ends the stream from the gateway's side (see above). */
  const end = () => {
    const result = { resultType: "complete", _meta: { [META_SUBSCRIPTION]: id, [META_SERVER_INFO]: serverInfo } };
    stream.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, result })}\n\n`);
    stop();
    stream.close();
  };
  /** What the person sees, to tell them (as a session does) only of changes to it: any change to the configuration reaches here. */
  let seen = runtime.viewFor(runtime.subjects.subjectOf(principal)).names;
  const unsubscribe = runtime.onListChanged((changed) => {
    // Every access change is told here: a person who may no longer reach the Virtual MCP loses the stream, as a session.
    const view = runtime.viewFor(runtime.subjects.subjectOf(principal));
    if (!view.reachable) {
      log.info("listen stream ended: access lost", { subject: principal.subject, virtualMcp: runtime.slug });
      end();
      return;
    }
    const before = seen;
    seen = view.names;
    for (const [key, kind] of Object.entries(LIST_KINDS)) {
      if (honoured[key] && (changed.has(kind) || before[kind] !== seen[kind])) send(`notifications/${kind}/list_changed`);
    }
  });
  // Registered, so that revocation, the per-person limit and shutdown can end it.
  const forget = register(end);
  stop = () => {
    unsubscribe();
    forget();
  };
  return new Response(stream.body, { headers: { "content-type": "text/event-stream" } });
}
