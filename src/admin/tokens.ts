import { randomBytes, randomUUID } from "node:crypto";
import { hashToken } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";

const ADMIN_TOKEN_PREFIX = "mgt_admin_";

/** Creates an admin API token; only its hash is stored, the token is returned once. */
export function issueAdminToken(store: Store, name: string, now = Date.now()): string {
  const token = ADMIN_TOKEN_PREFIX + randomBytes(32).toString("base64url");
  store.adminTokens.add({ id: randomUUID(), name, tokenHash: hashToken(token), createdAt: now });
  return token;
}
