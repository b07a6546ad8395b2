/**
 * A full disk under the data directory, for real: each test mounts a small
 * tmpfs (root only), puts the data directory on it and fills it, with the
 * gateway's own calls (their audit records) and with a filler file. Skipped,
 * saying why, where tmpfs cannot be mounted.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CONFIG, connectMcpClient, runMintgate, startGateway, waitFor, type RunningGateway } from "./harness.ts";

/** Why tmpfs cannot be mounted here, or undefined when it can. */
function mountRefusal(): string | undefined {
  if (process.platform !== "linux") return "tmpfs is Linux's";
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const probe = mkdtempSync(join(tmpdir(), "mintgate-mount-probe-"));
  try {
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stderr: "pipe" });
    if (mounted.exitCode !== 0) return `mount -t tmpfs failed: ${mounted.stderr.toString().trim()}`;
    Bun.spawnSync(["umount", probe]);
    return undefined;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const refusal = mountRefusal();
if (refusal) console.warn(`disk-full tests skipped: ${refusal}`);

const mounts: string[] = [];
const gateways: RunningGateway[] = [];

afterEach(async () => {
  // Gateways first: a file system in use cannot be unmounted.
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
  for (const dir of mounts.splice(0)) {
    if (Bun.spawnSync(["umount", dir]).exitCode !== 0) Bun.spawnSync(["umount", "-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A tmpfs of `mib` MiB, unmounted after the test. */
function smallDisk(mib: number): string {
  const dir = mkdtempSync(join(tmpdir(), "mintgate-small-disk-"));
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${mib}m,mode=0700`, "tmpfs", dir], { stderr: "pipe" });
  if (mounted.exitCode !== 0) throw new Error(`mount failed: ${mounted.stderr.toString()}`);
  mounts.push(dir);
  return dir;
}

/** Writes `path` until the disk is full (or `bytes`, when given), leaving `leavePages` pages of 4 KiB free. */
function fillDisk(path: string, options: { bytes?: number; leavePages?: number } = {}): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(65536, 1);
  try {
    let written = 0;
    try {
      while (options.bytes === undefined || written < options.bytes) written += writeSync(fd, chunk, 0, Math.min(chunk.length, (options.bytes ?? Infinity) - written));
    } catch {
      // ENOSPC: the rest in single pages.
      try {
        for (;;) writeSync(fd, chunk, 0, 4096);
      } catch {
        // full
      }
    }
    if (options.leavePages) ftruncateSync(fd, Math.max(0, fstatSync(fd).size - options.leavePages * 4096));
  } finally {
    closeSync(fd);
  }
}

/** A data directory on `disk` with the demo Virtual MCP and a token for ada@example.com. */
async function dataDirOn(disk: string): Promise<{ dataDir: string; token: string; config: string }> {
  const dataDir = join(disk, "data");
  expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
  const config = join(disk, "mintgate.yaml");
  writeFileSync(config, DEMO_CONFIG);
  expect((await runMintgate(["apply", "-f", config, "--data", dataDir])).code).toBe(0);
  const created = await runMintgate(["tokens", "create", "--user", "ada@example.com", "--json", "--data", dataDir]);
  expect(created.code).toBe(0);
  return { dataDir, config, token: (JSON.parse(created.stdout) as { token: string }).token };
}

async function start(dataDir: string): Promise<RunningGateway> {
  const gateway = await startGateway({ dataDir });
  gateways.push(gateway);
  return gateway;
}

const BIG = "x".repeat(15_000);
const DISK_FULL = -32011;
const lines = (output: string, text: string) => output.split("\n").filter((line) => line.includes(text));

describe.skipIf(refusal !== undefined)("a full disk under the data directory", () => {
  test("calls get a JSON-RPC error and are not run unrecorded, the rest keeps answering, one log line says what to do, and calls work again once there is room", async () => {
    const disk = smallDisk(12);
    const filler = join(disk, "filler");
    fillDisk(filler, { bytes: 8 * 1024 * 1024 });
    const { dataDir, token } = await dataDirOn(disk);
    const gateway = await start(dataDir);
    const client = await connectMcpClient(`${gateway.url}/mcp/demo`, token);
    const call = (text: string, options: { onprogress?: () => void } = {}) =>
      client.callTool({ name: "echo", arguments: { text } }, undefined, { timeout: 15_000, ...options });

    // The audit trail fills the disk: each call stores 15 KB of arguments and as much result.
    let answered = 0;
    let failure: { code?: number; message: string } | undefined;
    for (let i = 0; i < 400 && !failure; i++) {
      try {
        await call(`${i}:${BIG}`);
        answered++;
      } catch (error) {
        failure = error as { code?: number; message: string };
      }
    }
    expect(answered).toBeGreaterThan(10);
    // The call that could not be recorded: a JSON-RPC error that says why (it was a 500 page before).
    expect(failure?.code).toBe(DISK_FULL);
    expect(failure?.message).toContain("could not record this request because the disk holding its data is full");
    expect(failure?.message).toContain("free space on that disk");
    // From then on calls are refused before they reach the upstream, rather than run and left unrecorded.
    const refused = await call(`refused:${BIG}`).catch((error: { code?: number; message: string }) => error);
    expect(refused).toMatchObject({ code: DISK_FULL });
    expect((refused as Error).message).toContain("refused this request without running it");
    // A call answered on an event stream (it asked for progress) is answered too: it hung before, its stream left open.
    const streamed = await call(`streamed:${BIG}`, { onprogress: () => {} }).catch((error: { code?: number }) => error);
    expect(streamed).toMatchObject({ code: DISK_FULL });

    // Everything that needs no write keeps answering.
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    const admin = { authorization: `Bearer ${gateway.adminToken()}` };
    expect((await fetch(`${gateway.url}/admin/api/status`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${gateway.url}/admin/api/audit?limit=1`, { headers: admin })).status).toBe(200);

    // The checkpoint thread cannot copy the WAL into the database either, and says so once.
    await waitFor("the checkpoint thread's warning", () => gateway.output().includes("WAL checkpoints fail: the disk holding the data directory is full"), 100, 100);
    // The database is whole, and so is the chain.
    const reader = new Database(join(dataDir, "mintgate.db"), { readonly: true });
    try {
      expect(reader.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    } finally {
      reader.close();
    }
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).code).toBe(0);

    // Space is freed: calls are answered again, by the same process.
    rmSync(filler);
    await waitFor("a call to be answered again", async () => {
      await call(`again:${BIG}`);
      answered++;
      return true;
    }, 60, 250);
    for (let i = 0; i < 3; i++) {
      await call(`after:${i}`);
      answered++;
    }
    await waitFor("the checkpoint thread to recover", () => gateway.output().includes("WAL checkpoints succeed again"), 100, 100);

    // Every answered call has its record, and no call that failed has one that says it succeeded.
    const records = new Database(join(dataDir, "mintgate.db"), { readonly: true });
    try {
      const ok = records.query("SELECT count(*) AS n FROM audit_records WHERE method = 'tools/call' AND outcome = 'ok'").get() as { n: number };
      expect(ok.n).toBe(answered);
    } finally {
      records.close();
    }
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).code).toBe(0);

    const output = gateway.output();
    // One line when the disk filled, one when there was room again; no line per request, no stack trace.
    expect(lines(output, "the disk holding the data directory is full: audit records cannot be written")).toHaveLength(1);
    expect(lines(output, "free at least")).toHaveLength(1);
    expect(lines(output, "has room again")).toHaveLength(1);
    expect(lines(output, "WAL checkpoints fail")).toHaveLength(1);
    expect(output).not.toContain("request failed");
    expect(output).not.toContain("unexpected error");
    expect(output).not.toMatch(/\n\s+at /);
    await client.close();
  }, 90_000);

  test("on a full disk, SIGTERM still stops the gateway at once and cleanly", async () => {
    const disk = smallDisk(8);
    const { dataDir, token } = await dataDirOn(disk);
    const gateway = await start(dataDir);
    const client = await connectMcpClient(`${gateway.url}/mcp/demo`, token);
    fillDisk(join(disk, "filler"));
    let failed = false;
    for (let i = 0; i < 400 && !failed; i++) failed = await client.callTool({ name: "echo", arguments: { text: `${i}:${BIG}` } }).then(() => false, () => true);
    expect(failed).toBe(true);
    const stopping = Date.now();
    gateway.signal("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(gateway.output()).toContain("stopped");
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).code).toBe(0);
  }, 60_000);

  /**
   * A disk with no room left in the WAL either: the WAL is emptied (TRUNCATE
   * checkpoint) before the disk is filled, so the very next write fails.
   */
  function fillLeavingNoRoomInTheWal(dataDir: string, filler: string, leavePages = 0): void {
    rmSync(filler, { force: true });
    const db = new Database(join(dataDir, "mintgate.db"));
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      expect(db.query("PRAGMA wal_checkpoint(TRUNCATE)").get()).toMatchObject({ busy: 0 });
    } finally {
      db.close();
    }
    fillDisk(filler, { leavePages });
  }

  test("a token's first use and the admin API's reads work on a full disk: noting when a token was last used is no reason to refuse it", async () => {
    const disk = smallDisk(8);
    const { dataDir, token } = await dataDirOn(disk);
    const gateway = await start(dataDir);
    fillLeavingNoRoomInTheWal(dataDir, join(disk, "filler"));
    // The token was never used: its first use is written down, and that write fails. It was refused with 401 (a sign-in loop).
    const initialize = await fetch(`${gateway.url}/mcp/demo`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    expect(initialize.status).toBe(200);
    expect(await initialize.text()).toContain(`"error":{"code":${DISK_FULL},"message":"mintgate could not record this request because the disk holding its data is full`);
    // The admin token's first use, likewise (it was a 500).
    const admin = { authorization: `Bearer ${gateway.adminToken()}` };
    const status = await fetch(`${gateway.url}/admin/api/status`, { headers: admin });
    expect(status.status).toBe(200);
    // A change through the admin API fails with 507 and a sentence.
    const put = await fetch(`${gateway.url}/admin/api/secrets/NEW_SECRET`, { method: "PUT", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ value: "v" }) });
    expect(put.status).toBe(507);
    expect(await put.json()).toEqual({ error: "insufficient_storage", message: "The disk holding mintgate's data is full, so nothing was saved; free space on it and try again." });
    expect(gateway.output()).not.toContain("request failed");
    expect(gateway.output()).not.toMatch(/\n\s+at /);
  }, 60_000);

  test("secrets set, users add, tokens create and apply on a full disk fail with one sentence and change nothing, and a change is never kept without its record", async () => {
    const disk = smallDisk(8);
    const { dataDir, config } = await dataDirOn(disk);
    const filler = join(disk, "filler");
    // Beside a running gateway, as an admin would run them.
    const gateway = await start(dataDir);
    fillLeavingNoRoomInTheWal(dataDir, filler);
    const sentence = `mintgate: The disk holding ${dataDir} is full, so nothing was changed; free space on it and run the command again.\n`;
    const secret = await runMintgate(["secrets", "set", "FULL_DISK", "--data", dataDir], { stdin: "value" });
    expect(secret).toMatchObject({ code: 1, stderr: sentence });
    const token = await runMintgate(["tokens", "create", "--user", "bob@example.com", "--data", dataDir]);
    expect(token).toMatchObject({ code: 1, stderr: sentence, stdout: "" });
    writeFileSync(config, DEMO_CONFIG.replace("name: Demo", "name: Renamed"));
    const apply = await runMintgate(["apply", "-f", config, "--data", dataDir]);
    expect(apply).toMatchObject({ code: 1, stderr: sentence });
    rmSync(filler);
    expect((await runMintgate(["secrets", "list", "--data", dataDir])).stdout).not.toContain("FULL_DISK");
    expect((await runMintgate(["tokens", "list", "--data", dataDir])).stdout).not.toContain("bob@example.com");
    expect((await runMintgate(["export", "--data", dataDir])).stdout).toContain("name: Demo\n");

    // With a little room (a few pages), a change may fit where its record does not: both are kept, or neither.
    // A secret was kept without its record (exit 0) with 3 to 6 pages free; a local account (users add) with 7.
    const db = new Database(join(dataDir, "mintgate.db"), { readonly: true });
    const count = (sql: string, value: string) => (db.query(sql).get(value) as { n: number }).n;
    const walkFreePages = async (command: string[], target: (pages: number) => string, table: string, stdin: string) => {
      for (let pages = 0; pages <= 10; pages++) {
        fillLeavingNoRoomInTheWal(dataDir, filler, pages);
        const run = await runMintgate([...command, target(pages), "--data", dataDir], { stdin });
        rmSync(filler);
        const kept = count(table, target(pages));
        const recorded = count(`SELECT count(*) AS n FROM audit_records WHERE kind = 'admin' AND method = '${command.join(".")}' AND exposed_name = ? AND outcome = 'ok'`, target(pages));
        expect({ command, pages, exit: run.code, kept, recorded }).toEqual({ command, pages, exit: kept === 1 ? 0 : 1, kept, recorded: kept });
        if (run.code !== 0) expect(run.stderr).toBe(sentence);
      }
    };
    try {
      await walkFreePages(["secrets", "set"], (pages) => `ROOM_${pages}`, "SELECT count(*) AS n FROM secrets WHERE name = ?", "value");
      await walkFreePages(["users", "add"], (pages) => `room${pages}@example.com`, "SELECT count(*) AS n FROM users WHERE email = ?", "a long enough password\n");
    } finally {
      db.close();
    }
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).code).toBe(0);
    expect(gateway.output()).not.toMatch(/\n\s+at /);
  }, 90_000);
  test("with no gateway running, a command and serve on a full disk say so in one sentence: the WAL index cannot even be made ('disk I/O error' before)", async () => {
    const disk = smallDisk(4);
    const { dataDir } = await dataDirOn(disk);
    // Closed cleanly, so the WAL index file is gone and opening the database must make it again.
    fillDisk(join(disk, "filler"));
    const verify = await runMintgate(["audit", "verify", "--data", dataDir]);
    expect(verify).toMatchObject({ code: 1, stderr: `mintgate: The disk holding ${dataDir} is full, so the database could not be opened and nothing was changed; free space on it and run the command again.\n` });
    const serve = await runMintgate(["serve", "--data", dataDir, "--port", "0"]);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toBe(`mintgate: The disk holding ${dataDir} is full, so mintgate cannot start; free space on it and start it again.\n`);
    rmSync(join(disk, "filler"));
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).code).toBe(0);
  }, 60_000);
});
