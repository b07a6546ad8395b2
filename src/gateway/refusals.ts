import { MAX_STORED_NAME, type CallRecorder, type McpRequestEntry } from "../audit/index.ts";
import type { Principal } from "../auth/index.ts";
import { isStorageFull } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { requestWithoutCall } from "./session.ts";
import type { VirtualMcpRuntime } from "./virtual-mcp.ts";

/**
 * A request the gateway will not take for its form, as its client hears it: the HTTP status, and the JSON-RPC error
 * code, sentence and data. `body`: the message, when it was read as JSON (its record names the method). `id`: the
 * request's, when it is one whose id could be read (the error answers it); null otherwise, as JSON-RPC says.
 */
export class Refusal {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly message: string,
    readonly extra: { data?: unknown; body?: unknown; id?: string | number } = {},
  ) {}
}

/** What a refused request asked for, as its record names it. */
export interface Asked {
  /** The (first) message's JSON-RPC method, or `HTTP <verb>` when the body names none (not JSON, no method, never read). */
  method: string;
  params: unknown;
}

/** What `body` (a parsed message or batch, if any) asked for; the method is cut as stored names are, since the client chose it. */
export function askedIn(request: Request, body: unknown): Asked {
  const first = (Array.isArray(body) ? body[0] : body) as { method?: unknown; params?: unknown } | null | undefined;
  if (typeof first?.method !== "string") return { method: `HTTP ${request.method}`, params: undefined };
  return { method: first.method.slice(0, MAX_STORED_NAME), params: first.params };
}

/** What a refused request asked for, its body read for it when nobody has read it yet. Only ever on a refusal's path. */
export async function readAsked(request: Request): Promise<Asked> {
  if (request.method !== "POST" || request.bodyUsed) return askedIn(request, undefined);
  try {
    return askedIn(request, JSON.parse(await request.text()));
  } catch {
    return askedIn(request, undefined);
  }
}

/**
 * The record of a request refused for its form before any session took it (Accept, Content-Type, a body that is no
 * JSON-RPC message or is too large, an unknown session): an error of the client's, not the access policy's denial.
 * Its error is the sentence the client got with the HTTP status; nothing of its body is kept but the method it named.
 * A status of null: a message of a batch, answered with its error among the batch's replies (the HTTP status is the batch's).
 */
export function transportRefusal(principal: Principal, runtime: VirtualMcpRuntime, method: string, refusal: { status: number | null; message: string; sessionId: string | null }): McpRequestEntry {
  // A session id is the client's to make up: one a few MB long is cut as other names it sends are.
  const sessionId = refusal.sessionId === null ? null : refusal.sessionId.slice(0, MAX_STORED_NAME);
  const userId = principal.userId ?? runtime.subjects.subjectOf(principal).userId;
  // No duration: nothing ran, and a zero would pull the calls' latency percentiles (stats, /metrics) down.
  return { ...requestWithoutCall(principal, runtime.slug, method, { outcome: "error", error: refusal.status === null ? refusal.message : `HTTP ${refusal.status}: ${refusal.message}`, sessionId, userId }), durationMs: null };
}

/**
 * Commits the record of a request refused for its form (`refusal`: the status and the sentence its client gets), under
 * the method `body` names; a body nobody has read is read for it here. Called on refusals only.
 */
export async function recordTransportRefusal(
  recorder: CallRecorder,
  principal: Principal,
  runtime: VirtualMcpRuntime,
  request: Request,
  refusal: { status: number; message: string },
  sessionId: string | null,
  body?: unknown,
): Promise<void> {
  const { method } = body === undefined ? await readAsked(request) : askedIn(request, body);
  await recordRefusal(recorder, transportRefusal(principal, runtime, method, { status: refusal.status, message: refusal.message, sessionId }));
}

/**
 * Commits the record of a refused request before the refusal is answered. One that cannot be committed is logged (a full
 * disk is said once by the audit trail) and the person is refused all the same: there is nothing a refusal could withhold.
 */
export async function recordRefusal(recorder: CallRecorder, entry: McpRequestEntry): Promise<void> {
  try {
    await recorder.record(entry);
  } catch (error) {
    if (!isStorageFull(error)) log.error("could not record a refused request", { virtualMcp: entry.virtualMcp, error: String(error) });
  }
}
