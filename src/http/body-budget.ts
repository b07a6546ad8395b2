import { LineBudget, log } from "../log/index.ts";

/** Which limit a reservation would have passed: the person's budget, or the gateway-wide cap. */
export type BodyBudgetRefusal = "person" | "gateway";

/**
 * Request-body bytes in flight on the MCP endpoints, per person and in all.
 * A POST reserves its body's size (declared, or read when chunked) once it is
 * authenticated, before the body is read, and releases it when its answer is
 * ready (or its handler failed, the client's disconnect included): one person's
 * concurrent large calls, or many people's together, cannot make the gateway
 * hold request bodies without bound. Each refusal burst of a person (until
 * their bytes in flight fall to zero) is logged once, at most 10 lines a minute.
 */
export class BodyBudget {
  /** Bytes in flight per person; a person with none has no entry. */
  private readonly held = new Map<string, number>();
  private total = 0;
  /** People refused since their bytes in flight last fell to zero (their burst is logged already). */
  private readonly refusing = new Set<string>();
  private refusingAll = false;
  private readonly refusalLines = new LineBudget({ lines: 10, windowMs: 60_000, fields: {}, notLoggedMessage: "request bodies refused: more refusal lines not logged, too many" });

  constructor(
    /** Bytes one person may have in flight (at least the body limit, so one call always fits). */
    readonly perPerson: number,
    /** Bytes all people together may have in flight. */
    readonly inAll: number,
  ) {}

  /** Bytes reserved now, across everyone (the `mintgate_request_body_bytes_in_flight` gauge). */
  get bytesInFlight(): number {
    return this.total;
  }

  /** Reserves `bytes` for `person` (`subject`: who they are in the log), or says which limit refused them (nothing reserved then). */
  reserve(person: string, bytes: number, subject: string): BodyBudgetRefusal | undefined {
    const held = (this.held.get(person) ?? 0) + bytes;
    if (held > this.perPerson) return this.refused(person, subject, "person", held - bytes);
    if (this.total + bytes > this.inAll) return this.refused(person, subject, "gateway", held - bytes);
    this.held.set(person, held);
    this.total += bytes;
    return undefined;
  }

  /** Gives back what `reserve(person, bytes)` took. */
  release(person: string, bytes: number): void {
    const held = this.held.get(person)! - bytes;
    this.total -= bytes;
    if (held !== 0) {
      this.held.set(person, held);
      return;
    }
    this.held.delete(person);
    if (this.refusing.size !== 0) this.refusing.delete(person);
    if (this.total === 0) this.refusingAll = false;
  }

  /** `answer`, with what `reserve(person, bytes)` took given back once it settles, answered or failed. */
  releaseWhenSettled(answer: Promise<Response>, person: string, bytes: number): Promise<Response> {
    return answer.finally(() => this.release(person, bytes));
  }

  private refused(person: string, subject: string, limit: BodyBudgetRefusal, held: number): BodyBudgetRefusal {
    if (limit === "person" && !this.refusing.has(person)) {
      this.refusing.add(person);
      this.refusalLines.write("warn", "request bodies refused (429): one person has too much request data in flight; their further refusals until their calls finish are not logged", { subject, bytesInFlight: held, budget: this.perPerson });
    } else if (limit === "gateway" && !this.refusingAll) {
      this.refusingAll = true;
      log.warn("request bodies refused (503): too much request data is in flight across everyone; further refusals until it drains are not logged", { bytesInFlight: this.total, cap: this.inAll });
    }
    return limit;
  }
}
