/**
 * `mintgate backup`: a consistent copy of the database taken while the
 * gateway serves calls, restorable into a new data directory with the same
 * master key. The real binary, SQLite files and an official SDK client.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectMcpClient, DEMO_CONFIG, runMintgate, startConfiguredGateway, tempDir, type ConfiguredGateway } from "./harness.ts";

let configured: ConfiguredGateway | undefined;
let client: Client | undefined;
afterAll(async () => {
  await client?.close().catch(() => {});
  await configured?.gateway.stop();
});

describe("mintgate backup", () => {
  test("a copy taken under load restores into a new data directory: configuration, secrets and a verifying audit chain", async () => {
    configured = await startConfiguredGateway(DEMO_CONFIG, { label: "mintgate-backup" });
    const data = configured.dataDir;
    expect((await runMintgate(["secrets", "set", "backup-check", "--data", data], { stdin: "the-value\n" })).code).toBe(0);
    client = await connectMcpClient(`${configured.gateway.url}/mcp/demo`, configured.token);

    // Calls keep flowing while the copy is written.
    let calling = true;
    let calls = 0;
    const load = (async () => {
      while (calling) {
        await client!.callTool({ name: "add", arguments: { a: calls, b: 1 } });
        calls++;
      }
    })();
    const out = join(tempDir("mintgate-backup-out"), "copy.db");
    const backup = await runMintgate(["backup", "-o", out, "--json", "--data", data]);
    calling = false;
    await load;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const report = JSON.parse(backup.stdout) as { path: string; bytes: number; schemaVersion: number; keyVersion: number; auditRecords: number };
    expect(report.path).toBe(out);
    expect(report.bytes).toBe(statSync(out).size);
    expect(report.keyVersion).toBe(1);
    expect(report.auditRecords).toBeGreaterThan(0);
    expect(calls).toBeGreaterThan(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    // Restore: the copy as mintgate.db of a new data directory, with the master key kept apart.
    const restored = join(tempDir("mintgate-restored"), "data");
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(out, join(restored, "mintgate.db"));
    writeFileSync(join(restored, "master.key"), readFileSync(join(data, "master.key")), { mode: 0o600 });
    const verify = await runMintgate(["audit", "verify", "--json", "--data", restored]);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, records: report.auditRecords });
    expect((await runMintgate(["export", "--data", restored])).stdout).toBe((await runMintgate(["export", "--data", data])).stdout);
    expect((await runMintgate(["secrets", "list", "--data", restored])).stdout).toContain("backup-check");

    // The backup itself is in the audit trail (who took a copy of everything, and where to).
    const records = (await (await fetch(`${configured.gateway.url}/admin/api/audit?kind=admin`, { headers: { authorization: `Bearer ${configured.gateway.adminToken()}` } })).json()) as { method: string; detail: string | null }[];
    expect(records.some((r) => r.method === "backup" && (r.detail ?? "").includes(out))).toBe(true);
  });

  test("refusals: no -o, a file that exists (left as it was), a directory that does not exist", async () => {
    const data = configured!.dataDir;
    const missing = await runMintgate(["backup", "--data", data]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe("mintgate: `mintgate backup` needs -o FILE: the new file to write the copy to.\n");

    const taken = join(tempDir("mintgate-backup-taken"), "taken.db");
    writeFileSync(taken, "keep me");
    const exists = await runMintgate(["backup", "-o", taken, "--data", data]);
    expect(exists.code).not.toBe(0);
    expect(exists.stderr).toBe(`mintgate: ${taken} exists already; give a new file name (a backup never overwrites a file).\n`);
    expect(readFileSync(taken, "utf8")).toBe("keep me");

    const nowhere = join(tempDir("mintgate-backup-nowhere"), "no", "such", "dir", "copy.db");
    const noDir = await runMintgate(["backup", "-o", nowhere, "--data", data]);
    expect(noDir.code).not.toBe(0);
    expect(noDir.stderr).toContain("check that its directory exists and is writable");
    expect(existsSync(nowhere)).toBe(false);

    const help = await runMintgate(["backup", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("To restore: stop the gateway");
  });
});
