/** The sessionless protocol revision (src/gateway/modern.ts serves it); sessions and the endpoint tell it apart by this. */
export const MODERN_VERSION = "2026-07-28";
