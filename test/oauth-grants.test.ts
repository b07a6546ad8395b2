import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../src/store/index.ts";
import { runMintgate, tempDir } from "./harness.ts";

/**
 * The replay check of a refresh: a rotated refresh token may come back once (a client that lost the answer) while
 * its successor is unused. A code exchange and the first refresh in one millisecond issued the token in the very
 * millisecond it was rotated, and its own rotation was taken for the successor's use: the retry revoked the family
 * (seen as a rare 400 in oauth-flow's refresh tests under load). Checked on the real store of an initialised gateway.
 */
test("a refresh token rotated in the millisecond it was issued is not taken for its successor's use; the successor's use still is", async () => {
  const dataDir = join(tempDir("mintgate-grants"), "data");
  expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
  const file = join(dataDir, "..", "c.yaml");
  writeFileSync(file, JSON.stringify({ connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "alpha", name: "Alpha", connectors: [{ connector: "demo" }] }] }));
  expect((await runMintgate(["apply", "-f", file, "--data", dataDir])).code).toBe(0);
  expect((await runMintgate(["users", "add", "ann@example.com", "--data", dataDir], { stdin: "a long enough password\n" })).code).toBe(0);

  const store = openStore(join(dataDir, "mintgate.db"));
  try {
    const userId = store.users.findByEmail("ann@example.com")[0]!.id;
    const virtualMcpId = store.gatewayConfig.listVirtualMcps().find((v) => v.slug === "alpha")!.id;
    const grants = store.oauthGrants;
    const t = 1_700_000_000_000;
    grants.addGrant({ id: "g1", clientId: "c1", userId, virtualMcpId, scope: "mcp", refreshable: 1, createdAt: t });
    const refresh = (tokenHash: string) => grants.addToken({ tokenHash, grantId: "g1", kind: "refresh", createdAt: t, expiresAt: t + 60_000 });
    // a, issued at t by the code exchange, rotated at t by the first refresh, which issued b at t too.
    refresh("a");
    expect(grants.rotateToken("a", t)).toBe(true);
    refresh("b");
    expect(grants.refreshUsedSince("g1", t, "a")).toBe(false);
    // Once b is exchanged, a coming back is a replay.
    expect(grants.rotateToken("b", t)).toBe(true);
    expect(grants.refreshUsedSince("g1", t, "a")).toBe(true);
  } finally {
    store.close();
  }
});
