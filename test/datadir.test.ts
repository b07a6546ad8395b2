import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LATEST_SCHEMA_VERSION } from "../src/store/migrations.ts";
import { cleanEnv, fileHash, filesIn, isolatedBinary, runMintgate, startGateway, tempDir } from "./harness.ts";

const mode = (path: string) => statSync(path).mode & 0o777;

/** A data dir with one secret in it, so that a key is really needed. */
async function dataDirWithSecret(env: Record<string, string> = {}): Promise<string> {
  const dir = join(tempDir(), "d");
  expect((await runMintgate(["init", "--data", dir], { env })).code).toBe(0);
  expect((await runMintgate(["secrets", "set", "API_KEY", "--data", dir], { env, stdin: "s3cret-value" })).code).toBe(0);
  return dir;
}

describe("mintgate init", () => {
  test("creates the data dir, database, master key and admin token with tight permissions", async () => {
    const dir = join(tempDir(), "d");
    const result = await runMintgate(["init", "--data", dir]);
    expect(result.code).toBe(0);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, "master.key"))).toBe(0o600);
    expect(readFileSync(join(dir, "master.key")).length).toBe(32);
    expect(mode(join(dir, "admin.token"))).toBe(0o600);
    expect(readFileSync(join(dir, "admin.token"), "utf8")).toMatch(/^mgt_admin_[A-Za-z0-9_-]{43}\n$/);
    expect(mode(join(dir, "mintgate.db"))).toBe(0o600);
    expect(result.stdout).toContain("created master key");
    expect(result.stderr).toBe("");
  });

  test("a data directory made beforehand that other users can open gets a warning from init and serve, and keeps its mode", async () => {
    const dir = join(tempDir(), "shared");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const init = await runMintgate(["init", "--data", dir, "--json"]);
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ changed: true });
    const warning = `The data directory ${dir} is open to other users (mode 0755); \`chmod 700 ${dir}\` keeps it to this user.`;
    expect(init.stderr).toBe(`mintgate: warning: ${warning}\n`);
    expect(mode(dir)).toBe(0o755);
    const gateway = await startGateway({ dataDir: dir });
    await gateway.stop();
    expect(gateway.output()).toContain(`warn  ${warning}\n`);
  });

  test("an admin.token or master.key other users can read gets a warning from init and serve, in one sentence each; other commands say nothing of it", async () => {
    const dir = join(tempDir(), "d");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const token = join(dir, "admin.token");
    const key = join(dir, "master.key");
    chmodSync(token, 0o644);
    chmodSync(key, 0o644);
    const keyWarning = `The master key file ${key} can be read by other users (mode 0644), and it decrypts every secret; \`chmod 600 ${key}\` keeps it to this user.`;
    const tokenWarning = `The admin token file ${token} can be read by other users (mode 0644), and it gives full admin access; \`chmod 600 ${token}\` keeps it to this user.`;
    expect((await runMintgate(["init", "--data", dir])).stderr).toBe(`mintgate: warning: ${keyWarning}\nmintgate: warning: ${tokenWarning}\n`);
    // A log line on every command before (\`tokens list\` in a script's output included); init and serve say it.
    expect(await runMintgate(["tokens", "list", "--data", dir])).toMatchObject({ code: 0, stderr: "" });
    const gateway = await startGateway({ dataDir: dir });
    await gateway.stop();
    expect(gateway.output()).toContain(`warn  ${keyWarning}\n`);
    expect(gateway.output()).toContain(`warn  ${tokenWarning}\n`);
    expect([mode(token), mode(key)]).toEqual([0o644, 0o644]);
  });

  test("running it twice changes nothing and says so", async () => {
    const dir = join(tempDir(), "d");
    await runMintgate(["init", "--data", dir]);
    const before = ["master.key", "admin.token", "mintgate.db"].map((f) => fileHash(join(dir, f)));
    const again = await runMintgate(["init", "--data", dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already initialised");
    expect(again.stdout).toContain("nothing changed");
    expect(["master.key", "admin.token", "mintgate.db"].map((f) => fileHash(join(dir, f)))).toEqual(before);
    const json = await runMintgate(["init", "--data", dir, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ changed: false, created: [] });
  });

  test("a lost admin.token is replaced by init; the new token works and the lost one no longer does", async () => {
    const dir = join(tempDir(), "d");
    await runMintgate(["init", "--data", dir]);
    const lost = readFileSync(join(dir, "admin.token"), "utf8").trim();
    rmSync(join(dir, "admin.token"));
    const again = await runMintgate(["init", "--data", dir]);
    expect(again.stdout).toContain("created admin token");
    const gateway = await startGateway({ dataDir: dir });
    const status = await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(status.status).toBe(200);
    // The lost token stops working: a copy of it may be anywhere.
    expect((await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: `Bearer ${lost}` } })).status).toBe(401);
    await gateway.stop();
  });

  test("with MINTGATE_MASTER_KEY set, no key file is written", async () => {
    const dir = join(tempDir(), "d");
    const env = { MINTGATE_MASTER_KEY: randomBytes(32).toString("hex") };
    expect((await runMintgate(["init", "--data", dir], { env })).code).toBe(0);
    expect(existsSync(join(dir, "master.key"))).toBe(false);
    const gateway = await startGateway({ dataDir: dir, env });
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    expect(await gateway.stop()).toBe(0);
  });

  test("a MINTGATE_MASTER_KEY of 32 characters of text still opens what it encrypted, with a warning to move to a full-strength key", async () => {
    const dir = join(tempDir(), "d");
    // Half a hex key: 128 random bits, taken as the key's 32 raw bytes.
    const env = { MINTGATE_MASTER_KEY: randomBytes(16).toString("hex") };
    const warning = "MINTGATE_MASTER_KEY is not 64 hex characters or base64 but text used as the key's raw bytes";
    const init = await runMintgate(["init", "--data", dir], { env });
    expect(init.code).toBe(0);
    expect(init.stderr).toContain(warning);
    expect((await runMintgate(["secrets", "set", "K", "--data", dir], { env, stdin: "value" })).code).toBe(0);
    const gateway = await startGateway({ dataDir: dir, env });
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    expect(await gateway.stop()).toBe(0);
    expect(gateway.output()).toContain(warning);
    expect(gateway.output()).toContain("mintgate secrets rotate-key");
    expect(gateway.output()).not.toContain(env.MINTGATE_MASTER_KEY);
  });

  test("a malformed MINTGATE_MASTER_KEY is refused with a sentence", async () => {
    const dir = join(tempDir(), "d");
    const result = await runMintgate(["init", "--data", dir], { env: { MINTGATE_MASTER_KEY: "too-short" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("MINTGATE_MASTER_KEY is not 32 bytes");
    expect(result.stderr).toContain("openssl rand -hex 32");
    // Nothing is created: a second try with a good key starts from scratch, not from an empty directory.
    expect(existsSync(dir)).toBe(false);
  });
});

describe("serve refuses a wrong or missing master key without touching the database", () => {
  test("a MINTGATE_MASTER_KEY left set over a directory whose master.key fits says to unset it", async () => {
    const dir = await dataDirWithSecret();
    const db = join(dir, "mintgate.db");
    const before = fileHash(db);
    const result = await runMintgate(["serve", "--data", dir, "--port", "0"], { env: { MINTGATE_MASTER_KEY: randomBytes(32).toString("hex") } });
    // Before, it said to restore MINTGATE_MASTER_KEY from a backup, though the right key was beside the database.
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `mintgate: The master key from MINTGATE_MASTER_KEY does not match this database's key, but ${join(dir, "master.key")} (which the variable takes precedence over) does; unset MINTGATE_MASTER_KEY (the database was not modified).\n`,
    });
    expect(fileHash(db)).toBe(before);
  });

  test("wrong MINTGATE_MASTER_KEY", async () => {
    const env = { MINTGATE_MASTER_KEY: randomBytes(32).toString("base64") };
    const dir = await dataDirWithSecret(env);
    const db = join(dir, "mintgate.db");
    const before = fileHash(db);
    const result = await runMintgate(["serve", "--data", dir, "--port", "0"], { env: { MINTGATE_MASTER_KEY: randomBytes(32).toString("base64") } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("The master key from MINTGATE_MASTER_KEY does not match");
    expect(result.stderr).toContain("the database was not modified");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(fileHash(db)).toBe(before);
  });

  test("wrong master.key file", async () => {
    const dir = await dataDirWithSecret();
    const db = join(dir, "mintgate.db");
    const before = fileHash(db);
    writeFileSync(join(dir, "master.key"), randomBytes(32), { mode: 0o600 });
    const result = await runMintgate(["serve", "--data", dir, "--port", "0"]);
    expect(result.code).toBe(1);
    // It names what the key locks away: the admin knows what a lost key costs before deciding what to do.
    expect(result.stderr).toBe(`mintgate: The master key from ${join(dir, "master.key")} does not match the key this database was encrypted with, and without it its secret API_KEY cannot be read; restore the right master.key from your backup (the database was not modified).\n`);
    expect(fileHash(db)).toBe(before);
  });

  test("missing master.key", async () => {
    const dir = await dataDirWithSecret();
    for (const name of ["B_KEY", "C_KEY", "D_KEY", "E_KEY", "F_KEY"]) expect((await runMintgate(["secrets", "set", name, "--data", dir], { stdin: "another-value" })).code).toBe(0);
    const db = join(dir, "mintgate.db");
    const before = fileHash(db);
    rmSync(join(dir, "master.key"));
    const result = await runMintgate(["serve", "--data", dir, "--port", "0"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `mintgate: No master key: ${join(dir, "master.key")} is missing and MINTGATE_MASTER_KEY is not set, but this database was set up with one, and without it its 6 secrets API_KEY, B_KEY, C_KEY, D_KEY and 2 more cannot be read; restore master.key from your backup or set MINTGATE_MASTER_KEY.\n`,
    );
    expect(fileHash(db)).toBe(before);
    expect(existsSync(join(dir, "master.key"))).toBe(false);
  });

  test("a database from a newer mintgate is refused, untouched", async () => {
    const dir = await dataDirWithSecret();
    const db = join(dir, "mintgate.db");
    const sqlite = new Database(db);
    sqlite.exec("PRAGMA user_version = 999");
    sqlite.close();
    const before = fileHash(db);
    const files = filesIn(dir).sort();
    for (const command of [["serve", "--port", "0"], ["export"], ["tokens", "list"]]) {
      const result = await runMintgate([...command, "--data", dir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `mintgate: The database ${db} has schema version 999, newer than this mintgate understands (${LATEST_SCHEMA_VERSION}); run the newer mintgate release or restore a backup of the data directory.\n`,
      );
      expect(fileHash(db)).toBe(before);
      // Not even an empty write-ahead log and its index beside it (serve.lock is the lock every serve takes first).
      expect(filesIn(dir).filter((f) => f !== "serve.lock").sort()).toEqual(files);
    }
  });
});

describe("one gateway per data directory", () => {
  test("a second serve is refused while the first runs, restore stays refused once server.url is gone, and kill -9 leaves no stale lock", async () => {
    const dir = join(tempDir(), "d");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const copy = join(tempDir(), "copy.db");
    expect((await runMintgate(["backup", "-o", copy, "--data", dir])).code).toBe(0);
    const first = await startGateway({ dataDir: dir });

    const second = await startGateway({ dataDir: dir }).then(
      async (gateway) => `it served too, at ${gateway.url} (exit ${await gateway.stop()})`,
      (error: Error) => error.message,
    );
    expect(second).toBe(
      `mintgate serve exited with 1 before listening:\nmintgate: A gateway is already serving from ${dir} at ${first.url}; stop it first (SIGTERM), or give this one another --data directory.\n`,
    );
    expect(readFileSync(join(dir, "server.url"), "utf8")).toStartWith(`${first.url}\n`);

    // Without server.url (a second gateway used to remove it on exit) the running one is still found.
    rmSync(join(dir, "server.url"));
    const restore = await runMintgate(["restore", copy, "--data", dir]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toBe(`mintgate: A gateway is serving from ${dir}; stop it first (SIGTERM), then restore.\n`);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

    first.signal("SIGKILL");
    await first.exited;
    const next = await startGateway({ dataDir: dir });
    expect((await fetch(`${next.url}/readyz`)).status).toBe(200);
    expect(await next.stop()).toBe(0);
    expect((await runMintgate(["restore", copy, "--data", dir])).code).toBe(0);
  });
});

describe("a data directory holding a directory where a file goes", () => {
  // Before, each was an internal error with a stack trace: server.url's only after the gateway had started its
  // upstreams, and an admin.token directory let serve start with no token for the CLI and TUI to read.
  test("serve refuses it in one sentence naming the path, before it starts anything", async () => {
    const dir = join(tempDir(), "d");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    for (const name of ["mintgate.db", "master.key", "admin.token", "server.url", "serve.lock", "mintgate.db-wal"]) {
      const path = join(dir, name);
      const kept = `${path}.kept`;
      if (existsSync(path)) renameSync(path, kept);
      mkdirSync(path);
      const result = await runMintgate(["serve", "--data", dir, "--port", "0"]);
      expect(result).toEqual({ code: 1, stdout: "", stderr: `mintgate: ${path} in the data directory ${dir} is a directory, where mintgate keeps a file; move it out of the data directory and start again.\n` });
      rmSync(path, { recursive: true });
      if (existsSync(kept)) renameSync(kept, path);
    }
    const groups = join(dir, "upstream-groups");
    rmSync(groups, { recursive: true, force: true });
    writeFileSync(groups, "");
    expect(await runMintgate(["serve", "--data", dir, "--port", "0"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `mintgate: ${groups} in the data directory ${dir} is a file, where mintgate keeps a directory; move it out of the data directory and start again.\n`,
    });
    rmSync(groups);
    const gateway = await startGateway({ dataDir: dir });
    expect(await gateway.stop()).toBe(0);
  });
});

describe("a data directory this user may not use", () => {
  /** Runs the binary as `uid` (root only: setpriv drops to it), or as this user when `uid` is undefined. */
  async function runAs(uid: number | undefined, binary: string, args: string[]) {
    const argv = uid === undefined ? [binary, ...args] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", binary, ...args];
    const child = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv() });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { code, stdout, stderr };
  }

  // Before, SQLite's "unable to open database file" came out as an internal error with a stack trace, and a
  // directory this user could not enter looked empty to the CLI ("There is no database …; run init").
  test("serve and the CLI refuse it in one sentence that names the owner and the fix, not an internal error", async () => {
    const { dir: base, binary } = isolatedBinary();
    const dir = join(base, "d");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) {
      // This user owns it, but its mode keeps this user out.
      chmodSync(dir, 0o500);
      try {
        for (const args of [["serve", "--data", dir, "--port", "0"], ["secrets", "list", "--data", dir]]) {
          expect(await runAs(undefined, binary, args)).toEqual({ code: 1, stdout: "", stderr: `mintgate: The data directory ${dir} cannot be read and written by this user, its owner (mode 0500); \`chmod -R u+rwX ${dir}\` gives it back.\n` });
        }
      } finally {
        chmodSync(dir, 0o700);
      }
      return;
    }
    // Root: another user (65534, nobody) runs the binary on root's directory, then on its own directory holding root's master.key.
    chmodSync(base, 0o755);
    const other = 65534;
    for (const args of [["serve", "--data", dir, "--port", "0"], ["secrets", "list", "--data", dir]]) {
      expect(await runAs(other, binary, args)).toEqual({
        code: 1,
        stdout: "",
        stderr: `mintgate: The data directory ${dir} belongs to uid 0, and this user (uid ${other}) may not read and write it; run mintgate as the user that owns the data directory (systemd's User=, or \`sudo -u\`), or give it to this user (\`chown -R ${other} ${dir}\`).\n`,
      });
    }
    Bun.spawnSync(["chown", "-R", String(other), dir]);
    Bun.spawnSync(["chown", "0", join(dir, "master.key")]);
    const serve = await runAs(other, binary, ["serve", "--data", dir, "--port", "0"]);
    expect(serve).toEqual({
      code: 1,
      stdout: "",
      stderr: `mintgate: ${join(dir, "master.key")} in the data directory ${dir} belongs to uid 0, and this user (uid ${other}) may not use it; run mintgate as the user that owns the data directory (systemd's User=, or \`sudo -u\`), or give it to this user (\`chown -R ${other} ${dir}\`).\n`,
    });
  });
});
