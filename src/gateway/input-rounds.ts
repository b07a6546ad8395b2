import type { InputRequest, InputRequiredResult } from "@modelcontextprotocol/client";
import { randomBytes } from "node:crypto";
import { ownerOf, type Principal } from "../auth/index.ts";
import { canonicalJson } from "./curation.ts";

/**
 * MCP 2026-07-28 has no requests from server to client: a server that needs input answers the call with an
 * input_required result listing its questions (`inputRequests`) and an opaque `requestState`, and the client sends
 * the call again with its answers (`inputResponses`) and that state (multi round-trip requests). Upstreams speak an
 * earlier revision and ask during the call instead: mintgate holds the call with its upstream question, answers the
 * client with an input_required round, and passes the answer on when the client comes back.
 */

/** The methods whose results may be input_required. */
export const ROUND_METHODS = new Set(["tools/call", "prompts/get", "resources/read"]);

/** A question an upstream asked during a held call, and the promise its answer settles (the relay waits on it). */
export interface Question {
  /** Its key in inputRequests and inputResponses. */
  readonly key: string;
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly answer: PromiseWithResolvers<Record<string, unknown>>;
}

/** One sessionless call's questions, in the order its upstream asked them; each is put to the client in a round of its own. */
export class QuestionRounds {
  private readonly waiting: Question[] = [];
  private asked: (() => void) | undefined;

  /** An upstream question of this call: put to the client in the next round. One answered or given up on (the relay's bound) leaves the queue. */
  ask(question: Question): void {
    this.waiting.push(question);
    const leave = () => {
      const at = this.waiting.indexOf(question);
      if (at >= 0) this.waiting.splice(at, 1);
    };
    question.answer.promise.then(leave, leave);
    this.asked?.();
  }

  /** What comes first: the call's reply, or a question to put to its client. */
  async next<T>(reply: Promise<T>): Promise<{ reply: T } | { question: Question }> {
    for (;;) {
      const question = this.waiting.shift();
      if (question !== undefined) return { question };
      const asked = Promise.withResolvers<void>();
      this.asked = asked.resolve;
      const first = await Promise.race([reply.then((settled) => ({ reply: settled })), asked.promise.then(() => undefined)]);
      this.asked = undefined;
      if (first !== undefined) return first;
    }
  }
}

/** A call held while its client answers `question`: who may resume it (the token and Virtual MCP it was sent to, by the same request), and the call. */
export interface Held<Call> {
  readonly owner: string;
  readonly tokenId: string;
  readonly virtualMcp: string;
  readonly method: string;
  /** The call's params as sent (see sameRequest): a retry sends the same request again, or it would get another's result. */
  readonly request: string;
  readonly question: Question;
  readonly call: Call;
}

/**
 * The held calls of the sessionless revision, by their requestState: random (256 bits, so never guessed), bound to
 * the token and Virtual MCP that were sent it, and used once. A state is forgotten when its call ends (answered, cut
 * off, or given up on while its client was away): a question given up on while the call runs on (its upstream withdrew
 * it, the relay's bound) leaves the state to the retry, which then gets what the call does next.
 */
export class HeldCalls<Call> {
  private readonly byState = new Map<string, Held<Call>>();

  /** The input_required result putting `held`'s question to its client, under a new requestState that works until `callEnded` settles. */
  hold(held: Held<Call>, callEnded: Promise<unknown>): InputRequiredResult {
    const requestState = randomBytes(32).toString("base64url");
    this.byState.set(requestState, held);
    const forget = () => void this.byState.delete(requestState);
    callEnded.then(forget, forget);
    const { key, method, params } = held.question;
    return { resultType: "input_required", inputRequests: { [key]: { method, params } as InputRequest }, requestState };
  }

  /**
   * The call `requestState` holds for this caller's `request` (see sameRequest), taken (a state is used once); "unknown"
   * when it is unknown, used, given up on or another's, "another request" (not taken) when the retry is not the held call's.
   */
  take(requestState: unknown, principal: Principal, virtualMcp: string, method: string, request: string): Held<Call> | "unknown" | "another request" {
    if (typeof requestState !== "string") return "unknown";
    const held = this.byState.get(requestState);
    if (held === undefined || held.owner !== ownerOf(principal) || held.tokenId !== principal.tokenId || held.virtualMcp !== virtualMcp) return "unknown";
    if (held.method !== method || held.request !== request) return "another request";
    this.byState.delete(requestState);
    return held;
  }
}

/** What a request asks (its params without `_meta` and a retry's inputResponses and requestState), whatever its key order: a retry's must be its first round's. */
export function sameRequest(params: Record<string, unknown> | undefined): string {
  const { _meta, inputResponses, requestState, ...asked } = params ?? {};
  return canonicalJson(asked);
}
