import { MintgateError } from "../../src/errors/index.ts";

/**
 * A change the gateway refused because what it was based on is out of date: someone else changed or
 * deleted it since the screen showed it (409 on If-Match). The screen then loads what is there now.
 */
export function isStaleRefusal(error: unknown): boolean {
  return error instanceof MintgateError && error.kind === "conflict";
}

/** A refusal's sentence; after a stale refusal, said together with the reload that followed it, so the admin looks again. */
export function refusalText(error: unknown): string {
  return `${(error as Error).message}${isStaleRefusal(error) ? " (reloaded)" : ""}`;
}
