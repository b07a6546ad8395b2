import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { appendToChain } from "../src/audit/index.ts";
import { LATEST_SCHEMA_VERSION, moveCheckpointsToThread, openStore, inspectStore, type NewAuditRow } from "../src/store/index.ts";
import * as schema from "../src/store/schema.ts";
import { fileHash, tempDir } from "./harness.ts";

describe("store", () => {
  test("a new database is migrated, in WAL mode, with foreign keys and a busy timeout", () => {
    const path = join(tempDir(), "mintgate.db");
    const store = openStore(path, { create: true });
    expect(store.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(store.isReady()).toBe(true);
    store.close();
    expect(store.isReady()).toBe(false);

    const sqlite = new Database(path);
    expect(sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(sqlite.query("PRAGMA user_version").get()).toEqual({ user_version: LATEST_SCHEMA_VERSION });
    sqlite.close();
  });

  test("the drizzle schema matches the tables the migrations create", () => {
    const path = join(tempDir(), "mintgate.db");
    openStore(path, { create: true }).close();
    const sqlite = new Database(path, { readonly: true });
    for (const table of Object.values(schema) as SQLiteTable[]) {
      const config = getTableConfig(table);
      const actual = sqlite.query(`PRAGMA table_info(${config.name})`).all() as { name: string; notnull: number; pk: number }[];
      expect(actual.map((c) => c.name).sort()).toEqual(config.columns.map((c) => c.name).sort());
      for (const column of config.columns) {
        const row = actual.find((c) => c.name === column.name)!;
        expect({ table: config.name, column: column.name, notNull: row.notnull === 1 || row.pk === 1 }).toEqual({
          table: config.name,
          column: column.name,
          notNull: column.notNull,
        });
      }
    }
    sqlite.close();
  });

  test("foreign keys are enforced", () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    expect(() => store.secrets.put("X", 42, { nonce: new Uint8Array(12), ciphertext: new Uint8Array(17) }, Date.now())).toThrow(/FOREIGN KEY/);
    store.close();
  });

  test("a failing transaction leaves nothing behind", () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    store.secrets.addKeyVersion(1, { nonce: new Uint8Array(12), ciphertext: new Uint8Array(17) }, 1);
    expect(() =>
      store.transaction(() => {
        store.secrets.put("A", 1, { nonce: new Uint8Array(12), ciphertext: new Uint8Array(17) }, 1);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(store.secrets.count()).toBe(0);
    store.close();
  });

  test("opening an existing database twice does not rewrite it", () => {
    const path = join(tempDir(), "mintgate.db");
    openStore(path, { create: true }).close();
    const before = fileHash(path);
    openStore(path).close();
    expect(inspectStore(path).schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(fileHash(path)).toBe(before);
  });

  test("a missing database is an error unless asked to create it", () => {
    expect(() => openStore(join(tempDir(), "absent.db"))).toThrow("run `mintgate init` first");
  });

  test("a newer schema is refused by both the read-only check and the open", () => {
    const path = join(tempDir(), "mintgate.db");
    openStore(path, { create: true }).close();
    const sqlite = new Database(path);
    sqlite.exec(`PRAGMA user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    sqlite.close();
    expect(() => inspectStore(path)).toThrow("newer than this mintgate understands");
    expect(() => openStore(path)).toThrow("newer than this mintgate understands");
  });
});

/** A new store whose WAL the checkpoint thread keeps under `walLimitBytes`. */
async function storeWithCheckpointThread(walLimitBytes: number) {
  const path = join(tempDir(), "mintgate.db");
  const store = openStore(path, { create: true });
  return { path, store, stop: await moveCheckpointsToThread(store, { walLimitBytes }) };
}

/** A small call record, as the gateway commits one per call. */
const row = (): NewAuditRow => ({
  at: Date.now(), kind: "mcp", person: "ada@example.com", userId: null, clientId: null, tokenId: "t", ip: "127.0.0.1", sessionId: "s", virtualMcp: "v", connector: "c",
  method: "tools/call", exposedName: "c__echo", upstreamName: "echo", arguments: '{"text":"hello"}', result: '{"content":[]}', resultSize: 14, outcome: "ok", error: null, durationMs: 1, detail: null,
});

describe("the write-ahead log under sustained writes", () => {
  test("the checkpoint thread starts it over past its limit, so it stays bounded while commits go on", async () => {
    const { path, store, stop } = await storeWithCheckpointThread(1024 * 1024);
    // The WAL header counts how often the log was started over (its checkpoint sequence number, bytes 12–15).
    const restarts = () => {
      const header = Buffer.alloc(16);
      const fd = openSync(`${path}-wal`, "r");
      try {
        readSync(fd, header, 0, 16, 0);
      } finally {
        closeSync(fd);
      }
      return header.readUInt32BE(12);
    };
    let largest = 0;
    let before: number | undefined;
    // A commit a row, without a quiet moment: a passive checkpoint alone never gets the WAL started over, so it only grows.
    const until = Date.now() + 3_500;
    for (let i = 0; Date.now() < until; i++) {
      appendToChain(store, [row()]);
      before ??= restarts();
      if (i % 20 === 0) largest = Math.max(largest, statSync(`${path}-wal`).size);
      // Between commits the write lock is free, as between a gateway's group commits.
      await Bun.sleep(1);
    }
    const after = restarts();
    await stop();
    store.close();
    // Started over about once a second; without that it grows by every commit (tens of MB in these seconds).
    expect(after - before!).toBeGreaterThanOrEqual(2);
    expect(largest).toBeLessThan(32 * 1024 * 1024);
  });

  test("a long reader (a backup, an export, a sqlite3 shell) does not hold commits up while the WAL is past its limit", async () => {
    const { path, store, stop } = await storeWithCheckpointThread(256 * 1024);
    const commitFor = async (ms: number) => {
      let slowest = 0;
      for (const until = Date.now() + ms; Date.now() < until; ) {
        const started = performance.now();
        appendToChain(store, [row()]);
        slowest = Math.max(slowest, performance.now() - started);
        await Bun.sleep(1);
      }
      return slowest;
    };
    await commitFor(500);
    // Another connection keeps one snapshot open (this thread holds it, so a commit that waits for it waits for good).
    const reader = new Database(path, { readonly: true });
    reader.exec("BEGIN");
    reader.query("SELECT count(*) FROM audit_records").get();
    let slowest: number;
    try {
      slowest = await commitFor(2_500);
    } finally {
      reader.exec("COMMIT");
      reader.close();
    }
    await stop();
    store.close();
    // Starting the WAL over under that reader held every commit until the 5 s busy timeout gave up ("database is locked").
    expect(slowest).toBeLessThan(1_000);
  });
});
