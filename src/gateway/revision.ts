/** The sessionless protocol revision (src/gateway/modern.ts serves it); sessions and the endpoint tell it apart by this. */
export const MODERN_VERSION = "2026-07-28";

/**
 * Whether an MCP-Protocol-Version value has a revision's form, a date (YYYY-MM-DD). Revisions are compared as text
 * (as the SDK does), where a value of another form sorts anywhere: "bogus" came after every date, so it was taken
 * for 2026-07-28 or later.
 */
export const isDatedRevision = (version: string) => /^\d{4}-\d{2}-\d{2}$/.test(version);
