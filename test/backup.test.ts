/**
 * `mintgate backup`: a consistent copy of the database taken while the
 * gateway serves calls, restorable into a new data directory with the same
 * master key. The real binary, SQLite files and an official SDK client.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectMcpClient, DEMO_CONFIG, runMintgate, startConfiguredGateway, startGateway, tempDir, type ConfiguredGateway } from "./harness.ts";

let configured: ConfiguredGateway | undefined;
let backupFile = "";
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
    backupFile = out;
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
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("mintgate: `mintgate backup` needs -o FILE: the new file to write the copy to.\n");

    const taken = join(tempDir("mintgate-backup-taken"), "taken.db");
    writeFileSync(taken, "keep me");
    const exists = await runMintgate(["backup", "-o", taken, "--data", data]);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toBe(`mintgate: ${taken} exists already; give a new file name (a backup never overwrites a file).\n`);
    expect(readFileSync(taken, "utf8")).toBe("keep me");

    const nowhere = join(tempDir("mintgate-backup-nowhere"), "no", "such", "dir", "copy.db");
    const noDir = await runMintgate(["backup", "-o", nowhere, "--data", data]);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain("check that its directory exists and is writable");
    expect(existsSync(nowhere)).toBe(false);

    const help = await runMintgate(["backup", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("To restore: stop the gateway, then `mintgate restore FILE`.");
  });

  test("restored into a data directory made by init (the machine was lost): the directory's admin.token opens the admin API, the lost one does not", async () => {
    const source = await startConfiguredGateway(DEMO_CONFIG, { label: "mintgate-backup-lost" });
    await source.gateway.stop();
    const { dataDir, token } = source;
    const copy = join(tempDir("mintgate-backup-lost-copy"), "copy.db");
    expect((await runMintgate(["backup", "-o", copy, "--data", dataDir])).code).toBe(0);
    const lostAdminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();

    // As the refusal for a directory without a database says: init, put the master key that goes with the copy in place, restore.
    const fresh = join(tempDir("mintgate-backup-new-machine"), "data");
    expect((await runMintgate(["init", "--data", fresh])).code).toBe(0);
    writeFileSync(join(fresh, "master.key"), readFileSync(join(dataDir, "master.key")), { mode: 0o600 });
    const restored = await runMintgate(["restore", copy, "--data", fresh]);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);

    const gateway = await startGateway({ dataDir: fresh });
    try {
      const status = await runMintgate(["status", "--data", fresh]);
      expect(status.stderr).toBe("");
      expect(status.code).toBe(0);
      const audit = (bearer: string) => fetch(`${gateway.url}/admin/api/audit?kind=admin`, { headers: { authorization: `Bearer ${bearer}` } });
      expect((await audit(gateway.adminToken())).status).toBe(200);
      expect((await audit(lostAdminToken)).status).toBe(401);
      // Everything else came back with the copy: the personal access token still calls tools.
      const restoredClient = await connectMcpClient(`${gateway.url}/mcp/demo`, token);
      expect(JSON.stringify(await restoredClient.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toContain("5");
      await restoredClient.close();
    } finally {
      await gateway.stop();
    }
  });

  test("restore puts the copy back in place of the database: refused while the gateway runs, for a damaged file or another master key", async () => {
    const data = configured!.dataDir;
    const exportBefore = (await runMintgate(["export", "--data", data])).stdout;
    expect((await runMintgate(["secrets", "set", "after-backup", "--data", data], { stdin: "later\n" })).code).toBe(0);

    const whileServing = await runMintgate(["restore", backupFile, "--data", data]);
    expect(whileServing.code).toBe(1);
    expect(whileServing.stderr).toBe(`mintgate: A gateway is serving from ${data} at ${configured!.gateway.url}; stop it first (SIGTERM), then restore.\n`);
    await client?.close();
    client = undefined;
    await configured!.gateway.stop();

    const damaged = join(tempDir("mintgate-restore-bad"), "damaged.db");
    writeFileSync(damaged, "not a database at all ".repeat(500));
    const bad = await runMintgate(["restore", damaged, "--data", data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toStartWith(`mintgate: ${damaged} is not a usable mintgate backup (`);
    expect(bad.stderr).toEndWith("nothing was changed.\n");
    const notOurs = join(tempDir("mintgate-restore-foreign-sqlite"), "notes.db");
    const notes = new Database(notOurs);
    notes.exec("CREATE TABLE notes (body TEXT)");
    notes.close();
    const foreignSqlite = await runMintgate(["restore", notOurs, "--data", data]);
    expect(foreignSqlite.code).toBe(2);
    expect(foreignSqlite.stderr).toBe(`mintgate: ${notOurs} is not a usable mintgate backup (it is an SQLite database, but not one mintgate wrote); nothing was changed.\n`);

    const other = join(tempDir("mintgate-restore-other"), "data");
    expect((await runMintgate(["init", "--data", other])).code).toBe(0);
    const foreign = join(tempDir("mintgate-restore-other-copy"), "other.db");
    expect((await runMintgate(["backup", "-o", foreign, "--data", other])).code).toBe(0);
    const wrongKey = await runMintgate(["restore", foreign, "--data", data]);
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr).toContain("does not fit this backup (its secrets are encrypted under key version 1); put the master.key that goes with it in place and try again. Nothing was changed.");
    expect((await runMintgate(["secrets", "list", "--data", data])).stdout).toContain("after-backup");

    const restored = await runMintgate(["restore", backupFile, "--json", "--data", data]);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    const report = JSON.parse(restored.stdout) as { restoredFrom: string; previous: string };
    expect(report.restoredFrom).toBe(backupFile);
    expect(existsSync(report.previous)).toBe(true);
    expect(existsSync(join(data, "mintgate.db.restoring"))).toBe(false);
    const secrets = (await runMintgate(["secrets", "list", "--data", data])).stdout;
    expect(secrets).toContain("backup-check");
    expect(secrets).not.toContain("after-backup");
    expect((await runMintgate(["export", "--data", data])).stdout).toBe(exportBefore);
    const verify = await runMintgate(["audit", "verify", "--data", data]);
    expect(verify.code).toBe(0);
    const search = JSON.parse((await runMintgate(["audit", "search", "--kind", "admin", "--json", "--data", data])).stdout) as { method: string; exposedName: string | null }[];
    expect(search[0]!.method).toBe("restore");

    // The gateway serves from the restored database.
    const again = await startGateway({ dataDir: data });
    try {
      const restoredClient = await connectMcpClient(`${again.url}/mcp/demo`, configured!.token);
      const answer = await restoredClient.callTool({ name: "add", arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(answer)).toContain("5");
      await restoredClient.close();
    } finally {
      await again.stop();
    }
  });

  test("a database restored with its write-ahead log beside it (one a killed gateway left, moved aside by an earlier restore) keeps the commits still in that log", async () => {
    const data = join(tempDir("mintgate-restore-wal"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    for (const name of ["kept", "deleted-in-log"]) expect((await runMintgate(["secrets", "set", name, "--data", data], { stdin: `value-of-${name}\n` })).code).toBe(0);
    const source = join(tempDir("mintgate-restore-wal-source"), "killed.db");
    copyFileSync(join(data, "mintgate.db"), source);
    // A writer killed before any checkpoint: its last commit is in killed.db-wal only, as a gateway's newest records are after SIGKILL.
    const writer = Bun.spawn([process.execPath, "-e", `
      const db = new (require("bun:sqlite").Database)(${JSON.stringify(source)});
      db.exec("PRAGMA journal_mode = WAL"); db.exec("PRAGMA wal_autocheckpoint = 0");
      db.exec("DELETE FROM secrets WHERE name = 'deleted-in-log'");
      process.kill(process.pid, "SIGKILL");`]);
    await writer.exited;
    expect(statSync(`${source}-wal`).size).toBeGreaterThan(0);

    const restored = await runMintgate(["restore", source, "--data", data]);
    expect([restored.code, restored.stderr]).toEqual([0, ""]);
    const secrets = (await runMintgate(["secrets", "list", "--json", "--data", data])).stdout;
    expect((JSON.parse(secrets) as { name: string }[]).map((s) => s.name)).toEqual(["kept"]);
    expect((await runMintgate(["audit", "verify", "--data", data])).code).toBe(0);
  });

  test("a restore cut off between moving the database aside and putting the copy in place: serve refuses instead of starting on a new empty database", async () => {
    const data = join(tempDir("mintgate-restore-cut"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const database = join(data, "mintgate.db");
    copyFileSync(database, `${database}.restoring`);
    renameSync(database, `${database}.before-restore-2026-11-28T09-00-00-000Z`);
    const serve = await runMintgate(["serve", "--data", data, "--port", "0"]);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(`A restore into ${data} was interrupted: the checked copy is ${database}.restoring`);
    expect(existsSync(database)).toBe(false);
    // Following the sentence finishes the restore.
    renameSync(`${database}.restoring`, database);
    expect((await runMintgate(["secrets", "list", "--data", data])).code).toBe(0);
  });

  test("a database file that is not an intact database says to restore a backup, not 'Internal error' with SQLite's stack trace; restore then works", async () => {
    const data = join(tempDir("mintgate-damaged"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const copy = join(data, "..", "copy.db");
    expect((await runMintgate(["backup", "-o", copy, "--data", data])).code).toBe(0);
    writeFileSync(join(data, "mintgate.db"), "not a database, only text written over it".repeat(200));
    const sentence = "mintgate: mintgate.db in the data directory is not an intact SQLite database (replaced, cut short or damaged); stop mintgate and put the latest backup in its place with `mintgate restore FILE`.\n";
    expect(await runMintgate(["tokens", "list", "--data", data])).toEqual({ code: 1, stdout: "", stderr: sentence });
    const serve = await runMintgate(["serve", "--data", data, "--port", "0"]);
    expect([serve.code, serve.stderr.endsWith(sentence), serve.stderr.includes("SQLiteError")]).toEqual([1, true, false]);
    expect((await runMintgate(["restore", copy, "--data", data])).code).toBe(0);
    expect((await runMintgate(["tokens", "list", "--data", data])).code).toBe(0);
  });

  test("a database file emptied in a directory that was set up, or another program's SQLite file, is refused and left as it is, not started afresh over", async () => {
    const data = join(tempDir("mintgate-emptied"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const copy = join(data, "..", "copy.db");
    expect((await runMintgate(["backup", "-o", copy, "--data", data])).code).toBe(0);
    const database = join(data, "mintgate.db");
    const adminToken = readFileSync(join(data, "admin.token"), "utf8");
    // A `cp` onto a full disk, or `> mintgate.db`: SQLite takes an empty file for a new database.
    writeFileSync(database, "");
    const emptied = `mintgate: ${database} is empty, though this data directory was set up before (its admin.token is there), so its configuration, people and audit trail are gone; put the latest backup in its place with \`mintgate restore FILE\`, or delete ${database} to start an empty gateway.\n`;
    expect(await runMintgate(["tokens", "list", "--data", data])).toEqual({ code: 1, stdout: "", stderr: emptied });
    const serve = await runMintgate(["serve", "--data", data, "--port", "0"]);
    expect([serve.code, serve.stdout, serve.stderr.endsWith(emptied)]).toEqual([1, "", true]);
    // Nothing was written: no tables, and the admin token is the one the directory had.
    expect([statSync(database).size, readFileSync(join(data, "admin.token"), "utf8")]).toEqual([0, adminToken]);
    expect((await runMintgate(["restore", copy, "--data", data])).code).toBe(0);
    expect((await runMintgate(["tokens", "list", "--data", data])).code).toBe(0);

    // --data pointed at a directory whose mintgate.db another program wrote: its tables must not get mintgate's beside them.
    const other = join(tempDir("mintgate-other-db"), "data");
    mkdirSync(other, { mode: 0o700 });
    const foreign = new Database(join(other, "mintgate.db"));
    foreign.exec("CREATE TABLE notes (body TEXT)");
    foreign.close();
    const refused = await runMintgate(["serve", "--data", other, "--port", "0"]);
    expect([refused.code, refused.stdout, refused.stderr.endsWith(`mintgate: ${join(other, "mintgate.db")} is an SQLite database without mintgate's schema version (another program's, or a copy made with the sqlite3 shell's .dump); point --data at mintgate's data directory, or put a copy \`mintgate backup\` made in its place with \`mintgate restore FILE\`.\n`)]).toEqual([1, "", true]);
    const tables = new Database(join(other, "mintgate.db"), { readonly: true });
    expect(tables.query("SELECT name FROM sqlite_master").all()).toEqual([{ name: "notes" }]);
    tables.close();
  });
});
