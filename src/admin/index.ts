import { unauthorized } from "../errors/index.ts";
import type { SecretStore } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";
import { VERSION } from "../version.ts";

import { hashToken } from "../secrets/index.ts";

export { issueAdminToken } from "./tokens.ts";

/** last_used_at is refreshed at most this often, so admin reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

export interface GatewayStatus {
  version: string;
  uptimeSeconds: number;
  startedAt: string;
  dataDir: string;
  schemaVersion: number;
  secrets: { count: number };
}

/** The admin operations behind the admin HTTP API, the CLI and the TUI. */
export class AdminService {
  constructor(
    private readonly deps: {
      store: Store;
      secrets: SecretStore;
      dataDir: string;
      startedAt: number;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Checks an `Authorization: Bearer …` value; throws `unauthorized` with a reason. */
  authenticate(authorization: string | null | undefined): { tokenId: string; name: string } {
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match) {
      throw unauthorized("This endpoint needs the admin token: send `Authorization: Bearer <token>` (the token is in DATA_DIR/admin.token).");
    }
    const row = this.deps.store.adminTokens.findByHash(hashToken(match[1]!));
    if (!row) throw unauthorized("The admin token is not valid; use the one in DATA_DIR/admin.token.");
    const now = this.now();
    if (row.lastUsedAt === null || now - row.lastUsedAt > TOUCH_INTERVAL_MS) {
      this.deps.store.adminTokens.touch(row.id, now);
    }
    return { tokenId: row.id, name: row.name };
  }

  status(): GatewayStatus {
    const now = this.now();
    return {
      version: VERSION,
      uptimeSeconds: Math.floor((now - this.deps.startedAt) / 1000),
      startedAt: new Date(this.deps.startedAt).toISOString(),
      dataDir: this.deps.dataDir,
      schemaVersion: this.deps.store.schemaVersion,
      secrets: { count: this.deps.secrets.count() },
    };
  }
}
