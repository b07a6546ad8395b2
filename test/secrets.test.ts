import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { loadSettings } from "../src/config/index.ts";
import { openDataDir } from "../src/runtime/index.ts";
import { BINARY, cleanEnv, fileHash, filesIn, runMintgate, startGateway, tempDir } from "./harness.ts";

async function initDir(): Promise<string> {
  const dir = join(tempDir(), "d");
  expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
  return dir;
}

/** Resolves a secret the way the gateway will: through the runtime and resolveSecret. */
function resolveInProcess(dir: string, name: string, env: Record<string, string | undefined> = {}): string {
  const dataDir = openDataDir(loadSettings({ data: dir }, env), { initialise: false });
  try {
    return dataDir.secrets.resolveSecret(name);
  } finally {
    dataDir.close();
  }
}

/** Stores many secrets in one transaction: thousands of `secrets set` processes would take minutes. */
function setManyInProcess(dir: string, count: number): string[] {
  const dataDir = openDataDir(loadSettings({ data: dir }, {}), { initialise: false });
  try {
    const names = Array.from({ length: count }, (_, i) => `SECRET_${String(i).padStart(5, "0")}`);
    dataDir.store.transaction(() => {
      for (const name of names) dataDir.secrets.set(name, `value-of-${name}`);
    });
    return names;
  } finally {
    dataDir.close();
  }
}

function rawBytesContain(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle, "utf8");
  return filesIn(dir).filter((file) => readFileSync(join(dir, file)).includes(bytes));
}

describe("mintgate secrets", () => {
  test("set reads stdin, list shows names/versions/dates only, delete removes", async () => {
    const dir = await initDir();
    const value = "ghp_" + crypto.randomUUID();
    const set = await runMintgate(["secrets", "set", "GITHUB_TOKEN", "--data", dir], { stdin: value + "\n" });
    expect(set.code).toBe(0);
    expect(set.stdout).toBe("Stored secret GITHUB_TOKEN (version 1).\n");
    expect((await runMintgate(["secrets", "set", "GITHUB_TOKEN", "--data", dir, "--json"], { stdin: value })).stdout).toContain('"version": 2');

    const list = await runMintgate(["secrets", "list", "--data", dir, "--json"]);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: "GITHUB_TOKEN", version: 2, keyVersion: 1 });
    expect(Object.keys(rows[0]).sort()).toEqual(["createdAt", "keyVersion", "name", "updatedAt", "version"]);
    const table = await runMintgate(["secrets", "list", "--data", dir]);
    expect(table.stdout).toContain("GITHUB_TOKEN");
    for (const output of [set.stdout, set.stderr, list.stdout, table.stdout]) expect(output).not.toContain(value);

    // The trailing newline from `echo` is not part of the value.
    expect(resolveInProcess(dir, "GITHUB_TOKEN")).toBe(value);

    const del = await runMintgate(["secrets", "delete", "GITHUB_TOKEN", "--data", dir]);
    expect(del.code).toBe(0);
    expect(JSON.parse((await runMintgate(["secrets", "list", "--data", dir, "--json"])).stdout)).toEqual([]);
    const again = await runMintgate(["secrets", "delete", "GITHUB_TOKEN", "--data", dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('There is no secret named "GITHUB_TOKEN"');
  });

  test("a list longer than a pipe's buffer reaches a reader of the pipe whole (it was cut at 64 KiB when the process exited); one that cannot be written is said", async () => {
    const dir = await initDir();
    const names = setManyInProcess(dir, 2000);
    // Through a shell pipe to a reader that starts late (`| less`, a busy `| jq`): the pipe fills, the rest waits in the process.
    const readLate = async (args: string[]) => {
      const child = Bun.spawn(["sh", "-c", '"$0" "$@" | { sleep 1; cat; }', BINARY, ...args], { env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "inherit" });
      const [stdout] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      return { stdout };
    };
    const list = await readLate(["secrets", "list", "--data", dir, "--json"]);
    expect(list.stdout.length).toBeGreaterThan(4 * 64 * 1024);
    expect(JSON.parse(list.stdout).map((row: { name: string }) => row.name)).toEqual(names);
    const table = await readLate(["secrets", "list", "--data", dir]);
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(names.length + 1);

    // Output that cannot be written at all (a full disk behind `> file`) is said, not lost with exit code 0.
    const full = Bun.spawnSync(["sh", "-c", '"$0" "$@" > /dev/full', BINARY, "secrets", "list", "--data", dir], { env: cleanEnv() });
    expect(full.exitCode).toBe(1);
    expect(full.stderr.toString()).toBe("mintgate: The output could not be written (ENOSPC: no space left on device, write); it is incomplete.\n");
  });

  test("bad names and empty values are refused", async () => {
    const dir = await initDir();
    const badName = await runMintgate(["secrets", "set", "has space", "--data", dir], { stdin: "x" });
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("is not a valid secret name");
    const empty = await runMintgate(["secrets", "set", "EMPTY", "--data", dir], { stdin: "" });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('mintgate: The value for secret "EMPTY" is empty; pipe the value on standard input.\n');
  });

  test("a piped value is stored byte for byte, or refused: bytes that are not UTF-8 and NUL are never altered silently", async () => {
    const dir = await initDir();
    const text = "café 🔑\nsecond line\n";
    expect((await runMintgate(["secrets", "set", "TEXT", "--data", dir], { stdin: text })).code).toBe(0);
    expect(resolveInProcess(dir, "TEXT")).toBe("café 🔑\nsecond line");
    // FF FE used to be read as a UTF-16 byte order mark, other invalid bytes as U+FFFD.
    for (const bytes of [[0xff, 0xfe, 0x00, 0x61, 0x62], [0x63, 0x61, 0x66, 0xe9]]) {
      const binary = await runMintgate(["secrets", "set", "BINARY", "--data", dir], { stdin: new Uint8Array(bytes) });
      expect(binary.code).toBe(2);
      expect(binary.stderr).toBe("mintgate: The value on standard input is not UTF-8 text; encode a binary secret first (for example with base64) and pipe that.\n");
    }
    const nul = await runMintgate(["secrets", "set", "NUL", "--data", dir], { stdin: "tok\0en" });
    expect(nul.code).toBe(2);
    expect(nul.stderr).toContain('The value for secret "NUL" contains a NUL character');
    expect(nul.stderr).not.toContain("tok");
    expect(JSON.parse((await runMintgate(["secrets", "list", "--data", dir, "--json"])).stdout).map((s: { name: string }) => s.name)).toEqual(["TEXT"]);
  });

  test("a piped value over the limit is refused once the limit is passed, not after reading all of it", async () => {
    const dir = await initDir();
    const child = Bun.spawn([BINARY, "secrets", "set", "ENDLESS", "--data", dir], { env: cleanEnv(), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let exited = false;
    void child.exited.then(() => (exited = true));
    // Like `< /dev/zero` by mistake, but bounded: up to 16 MiB while the command still reads.
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let written = 0;
    while (!exited && written < 16 * 1024 * 1024) {
      try {
        child.stdin.write(chunk);
        await child.stdin.flush();
      } catch {
        break;
      }
      written += chunk.length;
    }
    try {
      await child.stdin.end();
    } catch {}
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toBe("mintgate: The value on standard input is longer than 65536 bytes, the limit for a secret; nothing was stored.\n");
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });

  test("plaintext never reaches the raw bytes of the data dir or the logs, across set, rotate and restart", async () => {
    const dir = await initDir();
    const value = "plaintext-canary-" + crypto.randomUUID();
    const logs: string[] = [];
    const set = await runMintgate(["secrets", "set", "CANARY", "--data", dir], { stdin: value });
    logs.push(set.stdout, set.stderr);
    let gateway = await startGateway({ dataDir: dir });
    const status = await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    logs.push(await status.text());
    await gateway.stop();
    logs.push(gateway.output());
    expect(rawBytesContain(dir, value)).toEqual([]);

    const rotate = await runMintgate(["secrets", "rotate-key", "--data", dir]);
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toStartWith("Re-encrypted 1 secret with key version 2;");
    logs.push(rotate.stdout, rotate.stderr);
    expect(rawBytesContain(dir, value)).toEqual([]);

    gateway = await startGateway({ dataDir: dir });
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    expect(await gateway.stop()).toBe(0);
    logs.push(gateway.output());
    expect(rawBytesContain(dir, value)).toEqual([]);
    for (const log of logs) expect(log).not.toContain(value);

    // Still decrypts after rotate-key and a restart.
    expect(resolveInProcess(dir, "CANARY")).toBe(value);
  });

  test("rotate-key re-encrypts every secret under a new key and keeps the old key file", async () => {
    const dir = await initDir();
    for (const name of ["A", "B", "C"]) await runMintgate(["secrets", "set", name, "--data", dir], { stdin: `value-of-${name}` });
    const oldKey = fileHash(join(dir, "master.key"));
    const rotate = await runMintgate(["secrets", "rotate-key", "--data", dir, "--json"]);
    expect(rotate.code).toBe(0);
    expect(JSON.parse(rotate.stdout)).toMatchObject({ keyVersion: 2, reencrypted: 3 });
    expect(fileHash(join(dir, "master.key.old"))).toBe(oldKey);
    expect(fileHash(join(dir, "master.key"))).not.toBe(oldKey);
    const rows = JSON.parse((await runMintgate(["secrets", "list", "--data", dir, "--json"])).stdout);
    expect(rows.map((r: { keyVersion: number }) => r.keyVersion)).toEqual([2, 2, 2]);
    for (const name of ["A", "B", "C"]) expect(resolveInProcess(dir, name)).toBe(`value-of-${name}`);

    // The old key no longer opens this database.
    const oldKeyHex = readFileSync(join(dir, "master.key.old")).toString("hex");
    expect(() => resolveInProcess(dir, "A", { MINTGATE_MASTER_KEY: oldKeyHex })).toThrow("does not match");

    // A second rotation waits until the person has dealt with master.key.old.
    const second = await runMintgate(["secrets", "rotate-key", "--data", dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("master.key.old from an earlier rotation is still there");
  });

  test("a rotation interrupted between the database commit and the key swap is finished on the next start", async () => {
    const dir = await initDir();
    await runMintgate(["secrets", "set", "TOKEN", "--data", dir], { stdin: "survives" });
    expect((await runMintgate(["secrets", "rotate-key", "--data", dir])).code).toBe(0);
    // Put the key files back as they were just before the swap.
    renameSync(join(dir, "master.key"), join(dir, "master.key.new"));
    renameSync(join(dir, "master.key.old"), join(dir, "master.key"));

    const gateway = await startGateway({ dataDir: dir });
    expect(await gateway.stop()).toBe(0);
    expect(gateway.output()).toContain("finished an interrupted key rotation");
    expect(existsSync(join(dir, "master.key.new"))).toBe(false);
    expect(existsSync(join(dir, "master.key.old"))).toBe(true);
    expect(resolveInProcess(dir, "TOKEN")).toBe("survives");
  });

  test("a rotation interrupted between the two renames of the key swap is finished on the next command", async () => {
    const dir = await initDir();
    await runMintgate(["secrets", "set", "TOKEN", "--data", dir], { stdin: "survives" });
    expect((await runMintgate(["secrets", "rotate-key", "--data", dir])).code).toBe(0);
    // master.key was already moved to master.key.old; master.key.new not yet renamed.
    renameSync(join(dir, "master.key"), join(dir, "master.key.new"));

    const list = await runMintgate(["secrets", "list", "--data", dir], { env: { MINTGATE_LOG_LEVEL: "warn" } });
    expect(list.stderr).toContain("finished an interrupted key rotation");
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("TOKEN");
    expect(existsSync(join(dir, "master.key.new"))).toBe(false);
    expect(existsSync(join(dir, "master.key.old"))).toBe(true);
    expect(resolveInProcess(dir, "TOKEN")).toBe("survives");
  });

  test("a gateway running while a rotation stops between the database commit and the key swap goes on with master.key.new", async () => {
    const dir = await initDir();
    await runMintgate(["secrets", "set", "TOKEN", "--data", dir], { stdin: "before-rotation" });
    const gateway = await startGateway({ dataDir: dir });
    try {
      expect((await runMintgate(["secrets", "rotate-key", "--data", dir])).code).toBe(0);
      // The key files as a rotate-key killed just after its commit leaves them; the gateway reads the key again.
      renameSync(join(dir, "master.key"), join(dir, "master.key.new"));
      renameSync(join(dir, "master.key.old"), join(dir, "master.key"));
      const set = await fetch(`${gateway.url}/admin/api/secrets/TOKEN`, {
        method: "PUT",
        headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" },
        body: JSON.stringify({ value: "set-through-the-api" }),
      });
      expect({ status: set.status, body: await set.json() }).toMatchObject({ status: 200, body: { name: "TOKEN", version: 2, keyVersion: 2 } });
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
    expect(gateway.output()).not.toContain("set-through-the-api");
    expect(resolveInProcess(dir, "TOKEN")).toBe("set-through-the-api");
  });

  test("with MINTGATE_MASTER_KEY, rotate-key writes master.key.new and the old key is then refused", async () => {
    const dir = join(tempDir(), "d");
    const oldEnv = { MINTGATE_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") };
    await runMintgate(["init", "--data", dir], { env: oldEnv });
    await runMintgate(["secrets", "set", "TOKEN", "--data", dir], { env: oldEnv, stdin: "env-keyed" });
    const rotate = await runMintgate(["secrets", "rotate-key", "--data", dir], { env: oldEnv });
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toContain("Set MINTGATE_MASTER_KEY to the new key");

    const stale = await runMintgate(["serve", "--data", dir, "--port", "0"], { env: oldEnv });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("MINTGATE_MASTER_KEY holds the key from before `secrets rotate-key`");

    const newEnv = { MINTGATE_MASTER_KEY: readFileSync(join(dir, "master.key.new")).toString("base64") };
    expect(resolveInProcess(dir, "TOKEN", newEnv)).toBe("env-keyed");
  });

  test("rotate-key --json has the same keys with a key file and with MINTGATE_MASTER_KEY", async () => {
    const fileKeyed = JSON.parse((await runMintgate(["secrets", "rotate-key", "--data", await initDir(), "--json"])).stdout);
    const dir = join(tempDir(), "d");
    const env = { MINTGATE_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") };
    await runMintgate(["init", "--data", dir], { env });
    const envKeyed = JSON.parse((await runMintgate(["secrets", "rotate-key", "--data", dir, "--json"], { env })).stdout);
    expect(Object.keys(envKeyed)).toEqual(Object.keys(fileKeyed));
    expect(envKeyed).toMatchObject({ newKeyFile: join(dir, "master.key.new"), oldKeyFile: null });
  });

  test("a ciphertext moved to another name does not decrypt", async () => {
    const dir = await initDir();
    await runMintgate(["secrets", "set", "FIRST", "--data", dir], { stdin: "first-value" });
    await runMintgate(["secrets", "set", "SECOND", "--data", dir], { stdin: "second-value" });
    const sqlite = new Database(join(dir, "mintgate.db"));
    sqlite.exec("UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'FIRST'), ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'FIRST') WHERE name = 'SECOND'");
    sqlite.close();
    expect(resolveInProcess(dir, "FIRST")).toBe("first-value");
    expect(() => resolveInProcess(dir, "SECOND")).toThrow('The secret "SECOND" cannot be decrypted');
  });

  test("every write uses a fresh nonce", async () => {
    const dir = await initDir();
    for (const name of ["N1", "N2"]) await runMintgate(["secrets", "set", name, "--data", dir], { stdin: "same value" });
    await runMintgate(["secrets", "set", "N1", "--data", dir], { stdin: "same value" });
    const sqlite = new Database(join(dir, "mintgate.db"), { readonly: true });
    const rows = sqlite.query("SELECT hex(nonce) AS nonce, hex(ciphertext) AS ct FROM secrets").all() as { nonce: string; ct: string }[];
    sqlite.close();
    expect(new Set(rows.map((r) => r.nonce)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.ct)).size).toBe(rows.length);
  });
});
