import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { join } from "node:path";
import { LATEST_SCHEMA_VERSION, openStore, inspectStore } from "../src/store/index.ts";
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
