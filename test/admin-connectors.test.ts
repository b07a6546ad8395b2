/**
 * The admin API behind the TUI's Connectors and Secrets screens, against the
 * real binary: one connector put at a time (checked like mintgate.yaml), a
 * test that never leaves anything running, restart, a stdio connector's
 * stderr (secret values replaced), secrets by name with the value nowhere in
 * an answer or an admin record.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { REPO_ROOT, startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";

const ECHO_STDIO = join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts");
const SECRET_VALUE = "sk-live-7f3a9c2e-never-shown";
/** The name `serve` gives the admin token it creates in a new data directory. */
const ADMIN_TOKEN_NAME = "local admin";
/** A stdio server that says its token on stderr (as careless servers do), then $LINES more lines, then serves. */
const NOISY_SCRIPT = `echo "noisy: starting with token $API_TOKEN" >&2; i=0; while [ $i -lt "\${LINES:-0}" ]; do echo "noisy line $i" >&2; i=$((i+1)); done; exec "$0" "$1"`;
const noisySpec = (lines: number) => ({ kind: "stdio", command: "sh", args: ["-c", NOISY_SCRIPT, process.execPath, ECHO_STDIO], env: { API_TOKEN: "${secret:api-token}", LINES: String(lines) } });
const connectorState = async (name: string) => ((await api("GET", "/connectors")).json as { name: string; state: string }[]).find((c) => c.name === name)?.state;

let gateway: RunningGateway;
let api: (method: string, path: string, body?: unknown) => Promise<{ status: number; text: string; json: any }>;

beforeAll(async () => {
  gateway = await startGateway({ dataDir: join(tempDir("mintgate-admin-connectors"), "d") });
  api = async (method, path, body) => {
    const response = await fetch(`${gateway.url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${gateway.adminToken()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  };
});
afterAll(() => gateway.stop());

/** Every admin record's text, for "the value is nowhere". */
function auditText(): string {
  const db = new Database(join(gateway.dataDir, "mintgate.db"), { readonly: true });
  try {
    return JSON.stringify(db.query("SELECT * FROM audit_records WHERE kind = 'admin'").all());
  } finally {
    db.close();
  }
}

function adminRecords(): { method: string; exposed_name: string | null; detail: string | null; outcome: string; error: string | null; ip: string | null }[] {
  const db = new Database(join(gateway.dataDir, "mintgate.db"), { readonly: true });
  try {
    return db.query("SELECT method, exposed_name, detail, outcome, error, ip FROM audit_records WHERE kind = 'admin' ORDER BY id").all() as never;
  } finally {
    db.close();
  }
}

describe("secrets by name", () => {
  test("set, list and delete; the value is in no answer and no admin record", async () => {
    const set = await api("PUT", "/secrets/api-token", { value: SECRET_VALUE });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ name: "api-token", version: 1, usedBy: [] });
    expect(set.text).not.toContain(SECRET_VALUE);

    const again = await api("PUT", "/secrets/api-token", { value: SECRET_VALUE + "-2" });
    expect(again.json.version).toBe(2);
    expect(again.text).not.toContain(SECRET_VALUE);

    const listed = await api("GET", "/secrets");
    expect(listed.status).toBe(200);
    expect(listed.json.map((s: { name: string }) => s.name)).toContain("api-token");
    const entry = listed.json.find((s: { name: string }) => s.name === "api-token");
    expect(Object.keys(entry).sort()).toEqual(["createdAt", "keyVersion", "name", "updatedAt", "usedBy", "version"]);
    expect(listed.text).not.toContain(SECRET_VALUE);

    await api("PUT", "/secrets/throwaway", { value: "throwaway-value-123" });
    const deleted = await api("DELETE", "/secrets/throwaway");
    expect(deleted.status).toBe(200);
    expect(deleted.json).toEqual({ deleted: "throwaway" });
    expect((await api("GET", "/secrets")).json.map((s: { name: string }) => s.name)).not.toContain("throwaway");
    expect((await api("DELETE", "/secrets/throwaway")).status).toBe(404);

    const records = adminRecords().filter((r) => r.method.startsWith("secret."));
    expect(records.map((r) => `${r.method} ${r.exposed_name}`)).toEqual(["secret.create api-token", "secret.update api-token", "secret.create throwaway", "secret.delete throwaway"]);
    // Where each change came from: the admin API's client (the secrets service records its own changes).
    expect(records.map((r) => r.ip)).toEqual(records.map(() => "127.0.0.1"));
    const audit = auditText();
    expect(audit).not.toContain(SECRET_VALUE);
    expect(audit).not.toContain("throwaway-value-123");
    // Not recorded twice (the generic request hook would keep the body).
    expect(adminRecords().some((r) => r.method.startsWith("PUT /secrets"))).toBe(false);
  });

  test("refusals name the problem without the value", async () => {
    const bad = await api("PUT", "/secrets/9bad", { value: SECRET_VALUE });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain('"9bad" is not a valid secret name');
    expect(bad.text).not.toContain(SECRET_VALUE);
    const empty = await api("PUT", "/secrets/empty", { value: "" });
    expect(empty.status).toBe(400);
    const notString = await api("PUT", "/secrets/x", { value: 42 });
    expect(notString.status).toBe(400);
    expect(notString.json.message).toContain('{"value"');
    const notJson = await api("PUT", "/secrets/x", `{"value": "${SECRET_VALUE}"`);
    expect(notJson.status).toBe(400);
    expect(notJson.text).not.toContain(SECRET_VALUE);
    expect(auditText()).not.toContain(SECRET_VALUE);
  });

  test("a value sent to a path no route takes (misspelt, doubled slash, percent-encoded) is in no record; the attempt is", async () => {
    for (const path of ["/secret/missed", "//secrets/missed", "/%73ecrets/missed"]) {
      const missed = await api("PUT", path, { value: SECRET_VALUE });
      expect(missed.status).toBe(404);
    }
    expect(auditText()).not.toContain(SECRET_VALUE);
    const attempts = adminRecords().filter((r) => r.exposed_name?.endsWith("missed"));
    expect(attempts.map((r) => `${r.method} ${r.outcome}`)).toEqual(["PUT /secret/missed error", "PUT //secrets/missed error", "PUT /%73ecrets/missed error"]);
  });
});

describe("connectors one at a time", () => {
  test("a stdio connector put by the API runs; its stderr is kept (last 200 lines) with the secret value replaced", async () => {
    const spec = noisySpec(230);
    const put = await api("PUT", "/connectors/noisy", spec);
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ created: true, changes: ["created connector noisy"] });

    const ready = await waitFor("noisy ready", async () => {
      const list = (await api("GET", "/connectors")).json as { name: string; state: string; tools: number; spec: unknown; timeoutMs: number }[];
      const noisy = list.find((c) => c.name === "noisy");
      return noisy?.state === "ready" && noisy;
    });
    expect(ready.tools).toBe(1);
    expect(ready.spec).toEqual(spec);
    expect(ready.timeoutMs).toBe(60_000);

    // 232 lines written: the last 200 are kept.
    const logs = await waitFor("the last stderr line", async () => {
      const { json } = await api("GET", "/connectors/noisy/logs");
      return json.lines.at(-1) === "echo-stdio: ready" && json;
    });
    expect(logs.kind).toBe("stdio");
    expect(logs.lines).toHaveLength(200);
    expect(logs.lines[0]).toBe("noisy line 31");
    expect(logs.lines.at(-2)).toBe("noisy line 229");

    // Fewer lines: the token line stays, with the secret's value replaced by its name.
    expect((await api("PUT", "/connectors/noisy", noisySpec(2))).json.changes).toEqual(["updated connector noisy"]);
    await waitFor("ready after the edit", async () => (await connectorState("noisy")) === "ready");
    const quiet = await waitFor("the new child's lines", async () => {
      const { json } = await api("GET", "/connectors/noisy/logs");
      return json.lines.at(-1) === "echo-stdio: ready" && json;
    });
    expect(quiet.lines).toEqual(["noisy: starting with token [secret:api-token]", "noisy line 0", "noisy line 1", "echo-stdio: ready"]);

    // A restart keeps the earlier child's lines before the new one's.
    const restarted = await api("POST", "/connectors/noisy/restart");
    expect(restarted.status).toBe(200);
    // The PUT that changed its env restarted it once already: the count goes on across a new definition.
    expect(restarted.json).toMatchObject({ name: "noisy", restarts: 2 });
    await waitFor("ready again", async () => (await connectorState("noisy")) === "ready");
    // The log says why the connector went down and up again, not only that it did.
    expect(gateway.output()).toContain('info  connector restarting connector=noisy reason="an administrator restarted it"');
    const after = await waitFor("both children's lines", async () => {
      const { json } = await api("GET", "/connectors/noisy/logs");
      return json.lines.length === 8 && (json as { lines: string[] });
    });
    expect(after.lines.filter((l) => l === "noisy: starting with token [secret:api-token]")).toHaveLength(2);
    expect(JSON.stringify(after)).not.toContain(SECRET_VALUE);
    // The gateway's own log lines for the child's stderr are redacted too.
    expect(gateway.output()).toContain("[secret:api-token]");
    expect(gateway.output()).not.toContain(SECRET_VALUE);

    // The restart left an admin record; the put left the connector's own before/after.
    const methods = adminRecords().map((r) => `${r.method} ${r.exposed_name}`);
    expect(methods).toContain("connector.create noisy");
    expect(methods).toContain("connector.update noisy");
    expect(methods).toContain("POST /connectors/noisy/restart noisy/restart");
    expect(auditText()).not.toContain(SECRET_VALUE);

    // Referenced: the secret cannot be deleted; a new value reconnects the connector.
    const refused = await api("DELETE", "/secrets/api-token");
    expect(refused.status).toBe(409);
    expect(refused.json.message).toContain('used by connector "noisy"');
    const listed = (await api("GET", "/secrets")).json.find((s: { name: string }) => s.name === "api-token");
    expect(listed.usedBy).toEqual(["noisy"]);
  });

  test("put validates like mintgate.yaml and says what is wrong", async () => {
    const noCommand = await api("PUT", "/connectors/broken", { kind: "stdio", args: [] });
    expect(noCommand.status).toBe(400);
    expect(noCommand.json.message).toBe('stdio connector "broken" has no "command"');
    const unknownSecret = await api("PUT", "/connectors/broken", { kind: "http", url: "http://127.0.0.1:1/mcp", headers: { Authorization: "Bearer ${secret:nope}" } });
    expect(unknownSecret.status).toBe(400);
    expect(unknownSecret.json.message).toContain("nope");
    const badUrl = await api("PUT", "/connectors/broken", { kind: "sse", url: "ftp://x" });
    expect(badUrl.status).toBe(400);
    expect(badUrl.json.message).toContain("must be an http:// or https:// URL");
    const renamed = await api("PUT", "/connectors/broken", { name: "other", kind: "builtin", server: "demo" });
    expect(renamed.status).toBe(400);
    expect(renamed.json.message).toContain("cannot be renamed");
    const badName = await api("PUT", "/connectors/bad.name", { kind: "builtin", server: "demo" });
    expect(badName.status).toBe(400);
    expect((await api("GET", "/connectors")).json.map((c: { name: string }) => c.name)).not.toContain("broken");
  });

  test("a literal credential in headers or env is refused like any invalid field, its value nowhere in the answer; references and settings pass", async () => {
    const literal = "sk-live-abc123def456";
    const header = await api("PUT", "/connectors/literal", { kind: "http", url: "http://127.0.0.1:1/mcp", headers: { Authorization: `Bearer ${literal}` } });
    expect(header.status).toBe(400);
    expect(header.json.message).toBe('header "Authorization" of connector "literal" holds a literal credential; store it with `mintgate secrets set NAME` and write "Bearer ${secret:NAME}" instead');
    const env = await api("PUT", "/connectors/literal", { kind: "stdio", command: "npx", env: { GITHUB_TOKEN: literal } });
    expect(env.status).toBe(400);
    expect(env.json.message).toBe('env "GITHUB_TOKEN" of connector "literal" holds a literal credential; store it with `mintgate secrets set NAME` and write "${secret:NAME}" instead');
    const inUrl = await api("PUT", "/connectors/literal", { kind: "sse", url: `https://ada:${literal}@mcp.example.com/sse` });
    expect([inUrl.status, inUrl.json.message]).toEqual([
      400,
      'the url of connector "literal" holds a user name or password, which would be kept in plain text and shown by export, the admin API and the TUI; remove them from the url, store base64 of "user:password" with `mintgate secrets set NAME` and add the header Authorization: "Basic ${secret:NAME}"',
    ]);
    for (const refused of [header, env, inUrl]) expect(refused.text).not.toContain(literal);
    expect(auditText()).not.toContain(literal);
    expect((await api("GET", "/connectors")).json.map((c: { name: string }) => c.name)).not.toContain("literal");

    expect((await api("PUT", "/secrets/literal-test-token", { value: SECRET_VALUE })).status).toBe(200);
    const referenced = await api("PUT", "/connectors/literal", {
      kind: "http",
      url: "http://127.0.0.1:1/mcp",
      headers: { Authorization: "Bearer ${secret:literal-test-token}", "X-Token-File": "/run/secrets/literal-test-token", "X-Use-Api-Key": "true" },
    });
    expect(referenced.status).toBe(200);
    expect((await api("DELETE", "/connectors/literal")).status).toBe(200);
    expect((await api("DELETE", "/secrets/literal-test-token")).status).toBe(200);
  });

  test("an edit replaces just that connector; delete removes it", async () => {
    expect((await api("PUT", "/connectors/demo", { kind: "builtin", server: "demo" })).json.created).toBe(true);
    const edited = await api("PUT", "/connectors/demo", { kind: "builtin", server: "demo", timeout: "30s" });
    expect(edited.json).toMatchObject({ created: false, changes: ["updated connector demo"] });
    // With a trailing slash it is the same change, recorded once (by the connector's own record, headers redacted).
    const before = adminRecords().length;
    expect((await api("PUT", "/connectors/demo/", { kind: "builtin", server: "demo", timeout: "45s" })).status).toBe(200);
    expect(adminRecords().slice(before).map((r) => [r.method, r.ip])).toEqual([["connector.update", "127.0.0.1"]]);
    const list = (await api("GET", "/connectors")).json as { name: string; timeoutMs: number; state: string; revision: string }[];
    expect(list.find((c) => c.name === "demo")?.timeoutMs).toBe(45_000);
    expect(list.find((c) => c.name === "noisy")?.state).toBe("ready");
    // One connector alone, as a Virtual MCP is got alone: as the list has it, its revision the ETag.
    const one = await fetch(`${gateway.url}/admin/api/connectors/demo`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    const listed = list.find((c) => c.name === "demo")!;
    expect([one.status, one.headers.get("etag"), await one.json()]).toEqual([200, `"${listed.revision}"`, listed]);
    expect((await api("DELETE", "/connectors/demo")).status).toBe(200);
    expect([(await api("GET", "/connectors/demo")).status, (await api("GET", "/connectors/demo")).json.message]).toEqual([404, 'There is no connector "demo".']);
    expect((await api("GET", "/connectors")).json.map((c: { name: string }) => c.name)).toEqual(["noisy"]);
  });

  test("a put based on what was loaded: a change made meanwhile is refused (409), not overwritten; If-None-Match: * never replaces", async () => {
    const put = (name: string, body: unknown, precondition: Record<string, string>) =>
      fetch(`${gateway.url}/admin/api/connectors/${name}`, { method: "PUT", headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json", ...precondition }, body: JSON.stringify(body) });
    const revisionOf = async (name: string) => ((await api("GET", "/connectors")).json as { name: string; revision: string }[]).find((c) => c.name === name)?.revision;
    expect((await put("twin", { kind: "builtin", server: "demo" }, { "if-none-match": "*" })).status).toBe(200);
    const loaded = await revisionOf("twin");
    expect(loaded).toMatch(/^[0-9a-f]{20}$/);
    // Another admin adds a connector of the same name: the TUI's "add" is refused rather than replacing theirs.
    const added = await put("twin", { kind: "builtin", server: "demo", timeout: "5s" }, { "if-none-match": "*" });
    expect([added.status, ((await added.json()) as { message: string }).message]).toEqual([409, 'A connector named "twin" exists already; choose another name, or edit that one.']);
    // Two edits from the same load: the first wins, the second is told to reload.
    expect((await put("twin", { kind: "builtin", server: "demo", timeout: "10s" }, { "if-match": `"${loaded}"` })).status).toBe(200);
    const stale = await put("twin", { kind: "builtin", server: "demo", timeout: "20s" }, { "if-match": `"${loaded}"` });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { message: string }).message).toContain('Connector "twin" was changed since it was loaded');
    expect(((await api("GET", "/connectors")).json as { name: string; timeoutMs: number }[]).find((c) => c.name === "twin")?.timeoutMs).toBe(10_000);
    expect(await revisionOf("twin")).not.toBe(loaded);
    expect((await put("twin", { kind: "builtin", server: "demo", timeout: "20s" }, { "if-match": `"${await revisionOf("twin")}"` })).status).toBe(200);
    // A DELETE with If-Match is held to it too (it was ignored): a stale one is refused and deletes nothing.
    const remove = (path: string, precondition: Record<string, string>) => fetch(`${gateway.url}/admin/api${path}`, { method: "DELETE", headers: { authorization: `Bearer ${gateway.adminToken()}`, ...precondition } });
    expect((await remove("/connectors/twin", { "if-match": `"${loaded}"` })).status).toBe(409);
    expect((await remove("/connectors/twin", { "if-none-match": "*" })).status).toBe(400);
    expect(await revisionOf("twin")).toBeDefined();
    expect((await remove("/connectors/twin", { "if-match": `"${await revisionOf("twin")}"` })).status).toBe(200);
    expect((await put("twin", { kind: "builtin", server: "demo" }, { "if-match": `"${loaded}"` })).status).toBe(409);
    // The same for a Virtual MCP.
    expect((await api("PUT", "/connectors/twin", { kind: "builtin", server: "demo" })).status).toBe(200);
    expect((await api("PUT", "/virtual-mcps/pair", { slug: "pair", name: "Pair", connectors: [{ connector: "twin" }] })).status).toBe(200);
    const pairLoaded = (await api("GET", "/virtual-mcps/pair")).json.revision as string;
    expect((await api("PUT", "/virtual-mcps/pair", { slug: "pair", name: "Pair, renamed", connectors: [{ connector: "twin" }] })).status).toBe(200);
    expect((await remove("/virtual-mcps/pair", { "if-match": `"${pairLoaded}"` })).status).toBe(409);
    expect((await api("GET", "/virtual-mcps/pair")).status).toBe(200);
    expect((await remove("/virtual-mcps/pair", { "if-match": `"${(await api("GET", "/virtual-mcps/pair")).json.revision}"` })).status).toBe(200);
    expect((await api("DELETE", "/connectors/twin")).status).toBe(200);
  });

  test("restart and logs of an unknown connector are 404", async () => {
    expect((await api("POST", "/connectors/ghost/restart")).status).toBe(404);
    expect((await api("GET", "/connectors/ghost/logs")).status).toBe(404);
  });
});

describe("testing a connector spec", () => {
  test("a good spec lists its tools and leaves nothing running", async () => {
    const result = await api("POST", "/connectors/test", noisySpec(1));
    expect(result.status).toBe(200);
    expect(result.json).toMatchObject({ ok: true, tools: [{ name: "echo", description: "Echoes its text." }] });
    expect(result.json.stderr).toContain("noisy: starting with token [secret:api-token]");
    expect(result.text).not.toContain(SECRET_VALUE);
    expect((await api("GET", "/connectors")).json.map((c: { name: string }) => c.name)).toEqual(["noisy"]);
    // Its child is gone by the time the answer came.
    const pidFile = join(tempDir("mintgate-probe"), "pid");
    const probed = await api("POST", "/connectors/test", { kind: "stdio", command: "sh", args: ["-c", `echo $$ > ${pidFile}; exec "$0" "$1"`, process.execPath, ECHO_STDIO] });
    expect(probed.json.ok).toBe(true);
    const pid = Number(await Bun.file(pidFile).text());
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(adminRecords().filter((r) => r.method === "POST /connectors/test").at(-1)).toMatchObject({ outcome: "ok", error: null });
  });

  test("a command that does not exist: a clear error, not a hang", async () => {
    const result = await api("POST", "/connectors/test", { kind: "stdio", command: "no-such-mcp-server-xyz" });
    expect(result.status).toBe(200);
    expect(result.json.ok).toBe(false);
    expect(result.json.error).toContain('cannot start "no-such-mcp-server-xyz": not found on PATH');
    // The request succeeded, the probe did not: its admin record says so, with the reason.
    const record = adminRecords().at(-1)!;
    expect(record).toMatchObject({ method: "POST /connectors/test", outcome: "error" });
    expect(record.error).toContain('cannot start "no-such-mcp-server-xyz"');
  });

  test("a server that dies at start: the error and its last stderr lines", async () => {
    const result = await api("POST", "/connectors/test", { kind: "stdio", command: "sh", args: ["-c", 'echo "boom: missing $API_TOKEN config" >&2; exit 3'], env: { API_TOKEN: "${secret:api-token}" } });
    expect(result.json.ok).toBe(false);
    expect(result.json.error).toMatch(/exited with code 3|closed|ended/);
    expect(result.json.stderr).toContain("boom: missing [secret:api-token] config");
    expect(result.text).not.toContain(SECRET_VALUE);
  });

  test("an invalid spec is refused before anything starts", async () => {
    const result = await api("POST", "/connectors/test", { kind: "carrier-pigeon" });
    expect(result.status).toBe(400);
    expect(result.json.message).toContain('kind "carrier-pigeon"; expected stdio, http, sse or builtin');
    // The test's URL names no connector: a name that is no string is said to be one, not a rename of "test".
    const numbered = await api("POST", "/connectors/test", { name: 5, kind: "builtin", server: "demo" });
    expect([numbered.status, numbered.json.message]).toEqual([400, expect.stringContaining("the name of connector #1 must be a string")]);
  });

  test("an unreachable http server times out or fails within the limit", async () => {
    const started = Date.now();
    const result = await api("POST", "/connectors/test?timeoutMs=3000", { kind: "http", url: "http://127.0.0.1:1/mcp" });
    expect(result.json.ok).toBe(false);
    expect(result.json.error.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

/*
 * Findings of a review that sent the admin API wrong types, bad encodings and
 * out-of-range values: each is a 400 (or 409) with a sentence, and nothing changes.
 */
describe("admin API input", () => {
  test("wrong types are refused, not coerced: a token is never widened, a role never guessed", async () => {
    for (const body of [{ user: "ada@example.com", expires: 30 }, { user: "ada@example.com", vmcp: 5 }, { user: "ada@example.com", vmcp: ["v"] }]) {
      const refused = await api("POST", "/tokens", body);
      expect({ body, status: refused.status }).toEqual({ body, status: 400 });
    }
    expect((await api("POST", "/tokens", { user: "ada@example.com", expires: 30 })).json.message).toBe("expires must be a string.");
    // Nor an empty value (a script's unset variable): "" was read as "never expires" and as "every virtual MCP", where the CLI refuses both.
    const empties: [object, string][] = [
      [{ user: "ada@example.com", expires: "" }, '"" is not a lifetime: use a number with s, m, h or d, such as 30d (at most 3650d).'],
      [{ user: "ada@example.com", expires: "  " }, '"  " is not a lifetime: use a number with s, m, h or d, such as 30d (at most 3650d).'],
      [{ user: "ada@example.com", vmcp: "" }, "The virtual MCP (--vmcp) is empty; give its slug, or leave it out for a token good on every virtual MCP."],
      [{ user: "ada@example.com", vmcp: " " }, "The virtual MCP (--vmcp) is empty; give its slug, or leave it out for a token good on every virtual MCP."],
      [{ user: "x\u001b[31m@example.com" }, '"x\u001b[31m@example.com" is not an email address; tokens are issued to a person (--user EMAIL).'],
    ];
    for (const [body, message] of empties) expect(await api("POST", "/tokens", body)).toMatchObject({ status: 400, json: { message } });
    expect((await api("GET", "/tokens")).json).toEqual([]);

    expect((await api("POST", "/users", { email: { toString: "x" }, password: "correct horse battery" })).status).toBe(400);
    const superadmin = await api("POST", "/users", { email: "carol@example.com", password: "correct horse battery", role: "superadmin" });
    expect(superadmin).toMatchObject({ status: 400, json: { message: '"superadmin" is not a role: use admin or member.' } });
    expect((await api("POST", "/users", { email: "dave@example.com", password: "correct horse battery", extra: 1 })).json.message).toContain('There is no field "extra"');
    expect((await api("POST", "/users", { email: "ada@example.com", password: "correct horse battery" })).status).toBe(201);
    // A name is printed by `users list|show` and the TUI: an ESC sequence in it would drive the admin's terminal.
    // A C1 control (CSI) or a bidi override would drive or reorder it too: refused, naming the character.
    const refusedNames: [string, string][] = [
      ["Mallory\u001b]0;owned\u0007", "the control character U+001B"],
      ["a\nb", "the line break U+000A"],
      ["Mallory\u009b2J", "the control character U+009B"],
      ["\u2067yrollaM\u2069", "the bidirectional control U+2067"],
    ];
    for (const [name, character] of refusedNames) {
      const refused = await api("POST", "/users", { email: "mallory@example.com", password: "correct horse battery", name });
      expect({ status: refused.status, message: refused.json?.message }).toEqual({ status: 400, message: `A person's name cannot hold ${character}; remove it: a name is one line, without control characters or bidirectional controls.` });
    }
    const long = await api("POST", "/users", { email: "mallory@example.com", password: "correct horse battery", name: "n".repeat(257) });
    expect({ status: long.status, message: long.json?.message }).toEqual({ status: 400, message: "A person's name must be at most 256 printable characters, without line breaks or control characters." });
    expect((await api("POST", "/users", { email: "mallory@example.com", password: "correct horse battery", name: "Mallory Ünïcode 李 🙂" })).status).toBe(201);
    const reordered = await api("POST", "/users/mallory@example.com/groups", { group: "admins\u202e" });
    expect({ status: reordered.status, message: reordered.json?.message }).toEqual({ status: 400, message: 'The group name "admins\\u202e" contains the bidirectional control U+202E; remove it: a group name is one line, without control characters or bidirectional controls.' });
    expect((await api("POST", "/users/mallory@example.com/groups", { group: "C1\u0085" })).status).toBe(400);
    expect((await api("POST", "/users/mallory@example.com/groups", { group: "إدارة 🛠" })).json.groups).toEqual(["إدارة 🛠"]);
    expect((await api("POST", "/users/ada@example.com/role", { role: ["admin"] })).status).toBe(400);
    expect((await api("POST", "/users/ada@example.com/groups", { group: 5 })).status).toBe(400);
    const ada = (await api("GET", "/users/ada@example.com")).json;
    expect({ role: ada.role, groups: ada.groups }).toEqual({ role: "member", groups: [] });
    expect((await api("POST", "/clients", { name: "x", redirectUris: ["https://a.example/cb"], confidential: "no" })).status).toBe(400);
  });

  test("a virtual MCP put alone that attaches a connector the gateway lacks says so (it has no connectors section to define one in), with the likely one meant; nothing is made", async () => {
    expect((await api("PUT", "/connectors/search-api", { kind: "builtin", server: "demo" })).status).toBe(200);
    const typo = await api("PUT", "/virtual-mcps/lookup", { slug: "lookup", name: "Lookup", connectors: [{ connector: "serach-api" }] });
    expect([typo.status, typo.json.message]).toEqual([400, 'request:1: virtual MCP "lookup" attaches connector "serach-api", which the gateway does not have; did you mean "search-api"?']);
    const unknown = await api("PUT", "/virtual-mcps/lookup", { slug: "lookup", name: "Lookup", connectors: [{ connector: "ghost" }] });
    expect([unknown.status, unknown.json.message]).toEqual([400, 'request:1: virtual MCP "lookup" attaches connector "ghost", which the gateway does not have; add the connector first, or attach one it has']);
    expect((await api("GET", "/virtual-mcps/lookup")).status).toBe(404);
    expect((await api("DELETE", "/connectors/search-api")).status).toBe(200);
  });

  test("a virtual MCP put without a slug takes the URL's, as a connector put without a name does; a slug that differs, or a URL slug that is no slug, is refused", async () => {
    const created = await api("PUT", "/virtual-mcps/slugless", { name: "Slugless" });
    expect([created.status, created.json.changes]).toEqual([200, ["created virtual MCP slugless"]]);
    expect((await api("GET", "/virtual-mcps/slugless")).json.definition).toMatchObject({ slug: "slugless", name: "Slugless" });
    // YAML too: the body is a mintgate.yaml entry.
    const edited = await api("PUT", "/virtual-mcps/slugless", "name: Slugless again\n");
    expect([edited.status, edited.json.changes]).toEqual([200, ["updated virtual MCP slugless"]]);
    const other = await api("PUT", "/virtual-mcps/slugless", { slug: "other", name: "Other" });
    expect([other.status, other.json.message]).toEqual([400, 'The definition\'s slug "other" is not the "slugless" of the URL; a slug cannot be changed (create the new one, then delete the old).']);
    const badUrl = await api("PUT", "/virtual-mcps/Not_A_Slug", { name: "Bad" });
    expect([badUrl.status, badUrl.json.message]).toEqual([400, 'request:1: virtual MCP slug "Not_A_Slug" must be 1 to 63 lowercase letters, digits or "-", starting with a letter or digit']);
    expect([(await api("GET", "/virtual-mcps/other")).status, (await api("GET", "/virtual-mcps/slugless")).json.definition.name]).toEqual([404, "Slugless again"]);
    expect((await api("DELETE", "/virtual-mcps/slugless")).status).toBe(200);
  });

  test("a virtual MCP's name or description holding a control character or a bidi override is a 400 that names the field; any script and emoji are kept", async () => {
    const escaped = await api("PUT", "/virtual-mcps/shown", { slug: "shown", name: "Shown", description: "Clears\u001b[2J the screen" });
    expect([escaped.status, escaped.json.message]).toEqual([400, 'request:1: the description of virtual MCP "shown" contains the control character U+001B; remove it: it may hold line breaks and tabs, but no other control characters and no bidirectional controls']);
    const reversed = await api("PUT", "/virtual-mcps/shown", { slug: "shown", name: "Shown\u2067", description: "" });
    expect([reversed.status, reversed.json.message]).toEqual([400, 'request:1: the name of virtual MCP "shown" contains the bidirectional control U+2067; remove it: it must be one line, without control characters or bidirectional controls']);
    expect((await api("GET", "/virtual-mcps/shown")).status).toBe(404);
    const international = { slug: "shown", name: "チーム 🚀", description: "日本語の説明 😀\nCafé, naïve, Ελληνικά\tעברית" };
    expect((await api("PUT", "/virtual-mcps/shown", international)).status).toBe(200);
    expect((await api("GET", "/virtual-mcps/shown")).json).toMatchObject({ name: international.name, description: international.description });
    // Stored by an older version, the text is sent back as it is by an edit of something else (the TUI puts the whole definition): kept, not refused.
    const db = new Database(join(gateway.dataDir, "mintgate.db"));
    db.run("UPDATE virtual_mcps SET description = ? WHERE slug = 'shown'", ["Old\u001b[31m"]);
    db.close();
    const renamed = await api("PUT", "/virtual-mcps/shown", { slug: "shown", name: "Renamed", description: "Old\u001b[31m" });
    expect([renamed.status, renamed.json.changes]).toEqual([200, ["updated virtual MCP shown"]]);
    expect((await api("PUT", "/virtual-mcps/shown", { slug: "shown", name: "Renamed", description: "New\u001b[31m" })).status).toBe(400);
    expect((await api("DELETE", "/virtual-mcps/shown")).status).toBe(200);
  });

  test("a body is JSON whatever its Content-Type: a form is refused (its record could not say what changed); a bad body without the token is a 401", async () => {
    const send = (path: string, body: string, contentType: string, token: string | null = gateway.adminToken()) =>
      fetch(`${gateway.url}/admin/api${path}`, { method: "POST", headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), "content-type": contentType }, body });
    expect((await api("POST", "/users", { email: "erin@example.com", password: "correct horse battery" })).status).toBe(201);
    // curl -d's default type, and a multipart form: refused, nothing changed.
    const form = await send("/users/erin@example.com/role", "role=admin", "application/x-www-form-urlencoded");
    expect([form.status, ((await form.json()) as { message: string }).message]).toEqual([400, "The request body could not be parsed; send valid JSON."]);
    const multipart = await send("/users/erin@example.com/role", '--x\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--x--\r\n', "multipart/form-data; boundary=x");
    expect(multipart.status).toBe(400);
    expect((await api("GET", "/users/erin@example.com")).json.role).toBe("member");
    // JSON under curl -d's type or fetch's text/plain is read as JSON, not as one form field named after the whole body.
    expect((await send("/users/erin@example.com/groups", '{"group":"eng"}', "application/x-www-form-urlencoded")).status).toBe(200);
    expect((await send("/users/erin@example.com/groups", '{"group":"ops"}', "text/plain;charset=UTF-8")).status).toBe(200);
    expect((await api("GET", "/users/erin@example.com")).json.groups).toEqual(["eng", "ops"]);
    // An empty body stays no body, whatever its type.
    expect((await send("/users/erin@example.com/disable", "", "text/plain")).status).toBe(200);
    // Without the token, a body that is not JSON says nothing about the route: 401, as for a path that does not exist.
    for (const token of [null, "mgt_admin_wrong"]) {
      const refused = await send("/users", "{bad", "application/json", token);
      expect([refused.status, refused.headers.get("www-authenticate")]).toEqual([401, 'Bearer realm="mintgate-admin"']);
    }
  });

  test("a body that is not UTF-8 is refused, whatever its route and type, as PUT /config refuses it: never stored with its bytes turned into U+FFFD; without the token it is a 401", async () => {
    const send = (method: string, path: string, text: string, contentType: string, token: string | null = gateway.adminToken()) =>
      fetch(`${gateway.url}/admin/api${path}`, { method, headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), "content-type": contentType }, body: Buffer.from(text, "latin1") });
    expect((await api("PUT", "/virtual-mcps/latin", { name: "Latin" })).status).toBe(200);
    const notUtf8 = "The request body is not UTF-8 text; send it as UTF-8.";
    // The routes that read mintgate.yaml's text say it as PUT /config does, with the line.
    const notUtf8Line = "request:1: the line is not UTF-8 text (the file may be Latin-1 or Windows-1252); save the file as UTF-8";
    const refusals: [Response, string][] = [
      [await send("PUT", "/secrets/latin-key", '{"value":"caf\xe9-s3cret"}', "application/json"), notUtf8],
      [await send("PUT", "/secrets/latin-key", '{"value":"caf\xe9-s3cret"}', "text/plain"), notUtf8],
      [await send("PUT", "/connectors/latin", '{"kind":"stdio","command":"caf\xe9"}', "application/json"), notUtf8],
      [await send("PUT", "/virtual-mcps/latin", '{"name":"Caf\xe9"}', "application/json"), notUtf8Line],
      [await send("PUT", "/virtual-mcps/latin/policy", '{"access":{"users":["caf\xe9@example.com"]}}', "application/json"), notUtf8Line],
    ];
    for (const [refused, message] of refusals) expect([refused.status, ((await refused.json()) as { message: string }).message]).toEqual([400, message]);
    expect(((await api("GET", "/secrets")).json as { name: string }[]).map((s) => s.name)).not.toContain("latin-key");
    expect(((await api("GET", "/connectors")).json as { name: string }[]).map((c) => c.name)).not.toContain("latin");
    const latin = (await api("GET", "/virtual-mcps/latin")).json;
    expect([latin.name, latin.definition.access]).toEqual(["Latin", undefined]);
    const anonymous = await send("PUT", "/secrets/latin-key", '{"value":"caf\xe9"}', "application/json", null);
    expect(anonymous.status).toBe(401);
    expect((await api("DELETE", "/virtual-mcps/latin")).status).toBe(200);
  });

  test("a method a path does not take is a 405 whose Allow lists the ones it does (after the token check); a path nothing serves stays 404", async () => {
    const asAdmin = { authorization: `Bearer ${gateway.adminToken()}` };
    const cases = [
      ["PATCH", "/connectors/x", "GET, HEAD, PUT, DELETE"],
      ["DELETE", "/users", "GET, HEAD, POST"],
      // A static route beside a parameter one: GET, PUT and DELETE would take "test" as a connector's name.
      ["PATCH", "/connectors/test", "GET, HEAD, POST, PUT, DELETE"],
      ["DELETE", "/virtual-mcps/x/policy/", "GET, HEAD, PUT"],
      ["HEAD", "/connectors/x/restart", "POST"],
    ] as const;
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${gateway.url}/admin/api${path}`, { method, headers: asAdmin });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get("allow")).toBe(allow);
      if (method !== "HEAD") {
        const list = allow.split(", ");
        expect(await response.json()).toEqual({ error: "method_not_allowed", message: `/admin/api${path} does not take ${method}; use ${list.slice(0, -1).join(", ")} or ${list.at(-1)}.` });
      }
      // Without the token nothing says which routes exist.
      const anonymous = await fetch(`${gateway.url}/admin/api${path}`, { method });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("allow")).toBeNull();
    }
    expect((await fetch(`${gateway.url}/admin/api/users`, { method: "HEAD", headers: asAdmin })).status).toBe(200);
    expect((await api("PATCH", "/nothing/here")).status).toBe(404);
    // OPTIONS is as it was: the admin API offers no CORS, so it is served nowhere.
    const options = await fetch(`${gateway.url}/admin/api/users`, { method: "OPTIONS", headers: asAdmin });
    expect(options.status).toBe(404);
    expect(options.headers.get("allow")).toBeNull();
  });

  test("a refused change leaves one record of the attempt, marked as an error and without its body, whichever route it went to", async () => {
    const before = adminRecords().length;
    const refusals: [string, string, unknown][] = [
      ["PUT", "/connectors/refused", { kind: "stdio", command: "x", env: { TOKEN: SECRET_VALUE }, bogus: 1 }],
      ["PUT", "/secrets/refused", { value: SECRET_VALUE, extra: 1 }],
      ["PUT", "/virtual-mcps/refused", { slug: "refused", name: "R", connectors: [{ connector: "nowhere" }] }],
      ["PUT", "/config", "connectors: [{ name: refused }]"],
      ["DELETE", "/connectors/refused", undefined],
      ["POST", "/users/nobody@example.com/role", { role: "admin" }],
      // A password under a misspelt key: redaction by key cannot know it, so a refused body is never kept.
      ["POST", "/users", { email: "frank@example.com", pasword: SECRET_VALUE }],
      ["PATCH", "/sso-providers/nowhere", { client_secret: SECRET_VALUE }],
    ];
    for (const [method, path, body] of refusals) expect((await api(method, path, body)).status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
    const records = adminRecords().slice(before);
    expect(records.map((r) => `${r.method} ${r.outcome} ${r.ip}`)).toEqual(refusals.map(([method, path]) => `${method} ${path} error 127.0.0.1`));
    // No body is kept (a secret's value, a whole config, a misspelt password); nothing was changed.
    expect(records.map((r) => r.detail)).toEqual(refusals.map(() => null));
    expect(auditText()).not.toContain(SECRET_VALUE);
    expect((await api("GET", "/connectors")).json.map((c: { name: string }) => c.name)).not.toContain("refused");
    expect((await api("GET", "/secrets")).json.map((s: { name: string }) => s.name)).not.toContain("refused");
    expect((await api("GET", "/virtual-mcps/refused")).status).toBe(404);
  });

  test("every change through the admin API is in the log with who made it, from where and its status, never its body; a request without the token is no change", async () => {
    const from = gateway.output().length;
    expect((await api("PUT", "/secrets/logged", { value: SECRET_VALUE })).status).toBe(200);
    expect((await api("POST", "/connectors/nowhere/restart")).status).toBe(404);
    expect((await api("DELETE", "/secrets/logged")).status).toBe(200);
    expect((await fetch(`${gateway.url}/admin/api/secrets/logged`, { method: "PUT", headers: { authorization: "Bearer not-the-token" }, body: "{}" })).status).toBe(401);
    const logged = gateway.output().slice(from);
    expect(logged.split("\n").filter((line) => line.includes(" admin change")).map((line) => line.replace(/^\S+ info  /, ""))).toEqual([
      `admin change actor="admin token ${ADMIN_TOKEN_NAME}" ip=127.0.0.1 method=PUT path=/admin/api/secrets/logged status=200`,
      `admin change refused actor="admin token ${ADMIN_TOKEN_NAME}" ip=127.0.0.1 method=POST path=/admin/api/connectors/nowhere/restart status=404`,
      `admin change actor="admin token ${ADMIN_TOKEN_NAME}" ip=127.0.0.1 method=DELETE path=/admin/api/secrets/logged status=200`,
    ]);
    expect(logged).not.toContain(SECRET_VALUE);
  });

  test("unknown fields are refused: a misspelt hash never approves a tool unchecked, a secret body says what it takes", async () => {
    expect((await api("PUT", "/connectors/approvable", { name: "approvable", kind: "builtin", server: "demo" })).status).toBe(200);
    const vmcp = { slug: "guarded", name: "Guarded", newTools: "approve", connectors: [{ connector: "approvable", prefix: "g" }] };
    expect((await api("PUT", "/virtual-mcps/guarded", vmcp)).status).toBe(200);
    await waitFor("echo pending", async () => (await api("GET", "/virtual-mcps/guarded")).json.pending.some((p: { name: string }) => p.name === "g__echo"));

    const misspelt = await api("POST", "/virtual-mcps/guarded/approvals", { tool: "g__echo", hsh: "0000" });
    expect(misspelt).toMatchObject({ status: 400, json: { message: 'There is no field "hsh" in an approval; did you mean "hash"?' } });
    expect((await api("GET", "/virtual-mcps/guarded")).json.pending.map((p: { name: string }) => p.name)).toContain("g__echo");
    expect((await api("POST", "/virtual-mcps/guarded/approvals", { tool: "g__echo", hash: 5 })).status).toBe(400);

    const extra = await api("PUT", "/secrets/with-extra", { value: "v", vaule: "w" });
    expect(extra).toMatchObject({ status: 400, json: { message: 'There is no field "vaule" in a secret; did you mean "value"?' } });
    expect((await api("GET", "/secrets")).json.map((s: { name: string }) => s.name)).not.toContain("with-extra");
    expect((await api("DELETE", "/virtual-mcps/guarded")).status).toBe(200);
  });


  test("prototype keys are unknown fields like any other; a body nested thousands deep is a 400 at once, not a 500 after seconds; nothing is stored", async () => {
    for (const key of ["__proto__", "constructor", "toString"]) {
      const sent = await api("POST", "/users", `{"${key}":{"role":"admin"},"email":"proto@example.com","password":"long enough password"}`);
      expect(sent).toMatchObject({ status: 400, json: { message: `There is no field "${key}" in a new account; the fields are email, password, role, name.` } });
    }
    expect(({} as { role?: string }).role).toBeUndefined();
    const deep = '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000);
    for (const [method, path] of [["PUT", "/connectors/deep"], ["POST", "/connectors/test"], ["POST", "/users"]] as const) {
      expect(await api(method, path, deep)).toMatchObject({ status: 400, json: { message: "The request body nests deeper than 64 levels; send a flatter JSON value." } });
    }
    expect((await api("GET", "/users")).json.map((u: { email: string }) => u.email)).not.toContain("proto@example.com");
    expect((await api("GET", "/connectors")).json.map((c: { name: string }) => c.name)).not.toContain("deep");
  });
  test("names in the URL are decoded once; bad percent-encoding is a 400, never a 500", async () => {
    expect((await api("GET", "/users/%ZZ")).status).toBe(400);
    expect((await api("DELETE", "/connectors/%ZZ")).status).toBe(400);
    expect((await api("DELETE", "/secrets/%25")).status).toBe(404);
    // Decoded twice, %2541 would be "A", a valid name: once, it is "pct%41", which is not one.
    const put = await api("PUT", "/secrets/pct%2541", { value: "v" });
    expect(put.status).toBe(400);
    expect(put.json.message).toContain('"pct%41"');
    expect((await api("GET", "/secrets")).json.map((s: { name: string }) => s.name)).not.toContain("pctA");
  });

  test("a change refused for bad percent-encoding is still recorded, as sent", async () => {
    expect((await api("POST", "/users/%E0%A4%A/disable")).status).toBe(400);
    expect((await api("DELETE", "/tokens/%ZZ")).status).toBe(400);
    const attempts = adminRecords().filter((r) => r.method === "POST /users/%E0%A4%A/disable" || r.method === "DELETE /tokens/%ZZ");
    expect(attempts.map((r) => `${r.method} ${r.exposed_name} ${r.outcome}`)).toEqual(["POST /users/%E0%A4%A/disable %E0%A4%A/disable error", "DELETE /tokens/%ZZ %ZZ error"]);
  });

  test("query values out of range are refused: limits, times, switches, outcomes", async () => {
    for (const path of ["/audit?limit=2.5", "/audit?limit=-1", "/calls?limit=abc", "/auth-events?limit=2.5", "/auth-events?since=garbage", "/auth-events?type=signin", "/audit?outcome=bogus", "/audit?kind=bogus", "/stats?last=999999999d", "/stats?since=99999999999999999", "/stats/timeline?last=999999999d&step=9999999d"]) {
      const answer = await api("GET", path);
      expect({ path, status: answer.status, error: answer.json?.error }).toEqual({ path, status: 400, error: "invalid_request" });
    }
    const config = (await api("GET", "/config")).text;
    expect((await api("PUT", "/config?dryRun=yes", config)).status).toBe(400);
  });

  test("a query parameter a route does not read is refused with the closest name, never ignored: a misspelt dryRun does not apply", async () => {
    const config = (await api("GET", "/config")).text;
    const before = adminRecords().length;
    const misspelt = await api("PUT", "/config?dryrun=true", config.replace("connectors:", "connectors:\n  - name: not-a-dry-run\n    kind: builtin\n    server: demo"));
    expect(misspelt).toMatchObject({ status: 400, json: { message: 'There is no query parameter "dryrun" in PUT /admin/api/config; did you mean "dryRun"?' } });
    expect(((await api("GET", "/connectors")).json as { name: string }[]).map((c) => c.name)).not.toContain("not-a-dry-run");
    expect(adminRecords().slice(before)).toMatchObject([{ method: "PUT /config", outcome: "error", error: "HTTP 400" }]);
    const refusals: [string, string, string][] = [
      ["GET", "/audit?limt=5", 'There is no query parameter "limt" in GET /admin/api/audit; did you mean "limit"?'],
      ["GET", "/audit/export?limit=5", 'There is no query parameter "limit" in GET /admin/api/audit/export; the query parameters are since, until, user, vmcp, tool, outcome, kind, format.'],
      ["GET", "/users?role=admin", 'There is no query parameter "role" in GET /admin/api/users; it takes no query parameters.'],
      ["GET", "/stats?bye=tool", 'There is no query parameter "bye" in GET /admin/api/stats; did you mean "by"?'],
      ["DELETE", "/consents?usr=u&client=c", 'There is no query parameter "usr" in DELETE /admin/api/consents; did you mean "user"?'],
    ];
    for (const [method, path, message] of refusals) expect({ path, ...(await api(method, path)) }).toMatchObject({ path, status: 400, json: { message } });
    // Every parameter the routes read is still taken (HEAD as GET), and an accepted change's record keeps its query.
    for (const path of ["/audit?since=1h&until=0h&user=a&vmcp=demo&tool=t&outcome=ok&kind=mcp&limit=5&before=9", "/audit/count?kind=admin", "/audit/export?format=csv&since=1h", "/calls?limit=1", "/stats?by=tool&last=1h", "/stats/timeline?last=5m&step=5s", "/auth-events?type=sign_in&user=u&client=c&since=1h&limit=1", "/consents?user=u", "/oauth-grants?user=u&active=true"]) {
      expect({ path, status: (await api("GET", path)).status }).toEqual({ path, status: 200 });
    }
    expect((await fetch(`${gateway.url}/admin/api/calls?limt=1`, { method: "HEAD", headers: { authorization: `Bearer ${gateway.adminToken()}` } })).status).toBe(400);
    const tested = adminRecords().length;
    expect((await api("POST", "/connectors/test?timeoutMs=5000", { kind: "builtin", server: "demo" })).status).toBe(200);
    expect(adminRecords().slice(tested).map((r) => r.method)).toEqual(["POST /connectors/test?timeoutMs=5000"]);
  });

  test("a POST or DELETE that reads no body refuses one rather than ignore it; {} and none pass", async () => {
    const added = await api("POST", "/users", { email: "bodiless@example.com", password: "long enough password" });
    expect(added.status).toBe(201);
    const refused = await api("POST", `/users/${added.json.id}/disable`, { revokeTokens: false });
    expect(refused).toMatchObject({ status: 400, json: { message: "POST /admin/api/users/:id/disable takes no request body; send none (or {})." } });
    expect((await api("GET", `/users/${added.json.id}`)).json.disabled).toBe(false);
    expect((await api("POST", `/users/${added.json.id}/disable`, {})).json.disabled).toBe(true);
    expect((await api("POST", `/users/${added.json.id}/enable`)).json.disabled).toBe(false);
    expect((await api("DELETE", "/connectors/noisy", { force: true })).status).toBe(400);
    expect(((await api("GET", "/connectors")).json as { name: string }[]).map((c) => c.name)).toContain("noisy");
  });

  test("a secret a sign-in provider owns, or a connector borrows, is not deleted from under it", async () => {
    const added = await api("POST", "/sso-providers", { name: "corp", kind: "oidc", issuer: "https://login.example.com", clientId: "abc", clientSecret: "provider-secret-value" });
    expect(added.status).toBe(201);
    const secretName = added.json.clientSecretName as string;
    expect(((await api("GET", "/secrets")).json as { name: string; usedBy: string[] }[]).find((s) => s.name === secretName)?.usedBy).toEqual(["sso:corp"]);
    const owned = await api("DELETE", `/secrets/${secretName}`);
    expect(owned.status).toBe(409);
    expect(owned.json.message).toContain('belongs to the sign-in provider "corp"');

    expect((await api("PUT", "/connectors/borrower", { kind: "stdio", command: process.execPath, args: [ECHO_STDIO], env: { S: `\${secret:${secretName}}` } })).status).toBe(200);
    const borrowed = await api("DELETE", "/sso-providers/corp");
    expect(borrowed.status).toBe(409);
    expect(borrowed.json.message).toBe(`The provider's client secret "${secretName}" is used by connector "borrower"; remove the reference there first.`);
    expect((await api("PUT", "/connectors/co-borrower", { kind: "stdio", command: process.execPath, args: [ECHO_STDIO], env: { S: `\${secret:${secretName}}` } })).status).toBe(200);
    const twice = await api("DELETE", "/sso-providers/corp");
    expect([twice.status, twice.json.message]).toEqual([409, `The provider's client secret "${secretName}" is used by connectors "borrower" and "co-borrower"; remove the references there first.`]);
    expect((await api("DELETE", "/connectors/co-borrower")).status).toBe(200);
    expect((await api("DELETE", "/connectors/borrower")).status).toBe(200);
    expect((await api("DELETE", "/sso-providers/corp")).status).toBe(200);
  });

  test("a refusal naming several users of a secret or a connector lists them in English: \"a\" and \"b\", \"a\", \"b\" and \"c\"", async () => {
    expect((await api("PUT", "/secrets/shared-key", { value: "v" })).status).toBe(200);
    const users = ["user-a", "user-b", "user-c"];
    for (const name of users) expect((await api("PUT", `/connectors/${name}`, { kind: "stdio", command: process.execPath, args: [ECHO_STDIO], env: { KEY: "${secret:shared-key}" } })).status).toBe(200);
    const three = await api("DELETE", "/secrets/shared-key");
    expect([three.status, three.json.message]).toEqual([409, 'Secret "shared-key" is used by connectors "user-a", "user-b" and "user-c"; remove the references there first.']);
    expect((await api("DELETE", "/connectors/user-c")).status).toBe(200);
    expect((await api("DELETE", "/secrets/shared-key")).json.message).toBe('Secret "shared-key" is used by connectors "user-a" and "user-b"; remove the references there first.');
    expect((await api("DELETE", "/connectors/user-b")).status).toBe(200);
    expect((await api("DELETE", "/secrets/shared-key")).json.message).toBe('Secret "shared-key" is used by connector "user-a"; remove the reference there first.');

    for (const slug of ["vm-one", "vm-two"]) expect((await api("PUT", `/virtual-mcps/${slug}`, { slug, name: slug, connectors: [{ connector: "user-a" }] })).status).toBe(200);
    const attached = await api("DELETE", "/connectors/user-a");
    expect([attached.status, attached.json.message]).toEqual([409, 'Connector "user-a" is used by virtual MCPs "vm-one" and "vm-two"; detach it there first.']);
    for (const slug of ["vm-one", "vm-two"]) expect((await api("DELETE", `/virtual-mcps/${slug}`)).status).toBe(200);
    expect((await api("DELETE", "/connectors/user-a")).status).toBe(200);
    expect((await api("DELETE", "/secrets/shared-key")).status).toBe(200);
  });

  test("PUT /config?prune=true with a body that lists nothing is refused like `apply --prune`, not a wipe; a section it leaves out is left alone", async () => {
    expect((await api("PUT", "/connectors/keep-me", { kind: "builtin", server: "demo" })).status).toBe(200);
    for (const body of ["", "# connectors: []\n", "{}"]) {
      const refused = await api("PUT", "/config?prune=true", body);
      expect({ body, status: refused.status }).toEqual({ body, status: 400 });
      expect(refused.json.message).toContain("request:1: the file lists neither connectors nor virtualMcps");
    }
    expect(((await api("GET", "/connectors")).json as { name: string }[]).map((c) => c.name)).toContain("keep-me");
    // A section the body leaves out is left alone: connectors: [] cannot take keep-me from under keep-vm, and
    // virtualMcps: [] would delete Virtual MCPs only, each named.
    expect((await api("PUT", "/config", "virtualMcps:\n  - { slug: keep-vm, name: Keep, connectors: [{ connector: keep-me }] }\n")).status).toBe(200);
    const detached = await api("PUT", "/config?prune=true", "connectors: []\n");
    expect([detached.status, detached.json.message]).toEqual([409, expect.stringContaining('Connector "keep-me" would be deleted, but virtual MCP "keep-vm" attaches it;')]);
    // A dry run's changes say what would happen, as `apply --dry-run` prints them; nothing is deleted.
    const dry = await api("PUT", "/config?prune=true&dryRun=true", "virtualMcps: []\n");
    expect((dry.json.changes as string[]).filter((c) => !c.startsWith("would delete virtual MCP "))).toEqual([]);
    expect(dry.json.changes).toContain("would delete virtual MCP keep-vm");
    const added = await api("PUT", "/config?dryRun=true", "connectors:\n  - { name: dry-only, kind: builtin, server: demo }\n");
    expect(added.json).toEqual({ changes: ["would create connector dry-only"] });
    expect(((await api("GET", "/connectors")).json as { name: string }[]).map((c) => c.name)).not.toContain("dry-only");
    expect(((await api("GET", "/virtual-mcps")).json as { slug: string }[]).map((v) => v.slug)).toContain("keep-vm");
    expect((await api("DELETE", "/virtual-mcps/keep-vm")).status).toBe(200);
    expect((await api("DELETE", "/connectors/keep-me")).status).toBe(200);
  });

  test("a connector named test is recorded once per change, like any other", async () => {
    const before = adminRecords().length;
    expect((await api("PUT", "/connectors/test", { kind: "builtin", server: "demo" })).status).toBe(200);
    expect((await api("DELETE", "/connectors/test")).status).toBe(200);
    const added = adminRecords().slice(before);
    expect(added.map((r) => r.method)).toEqual(["connector.create", "connector.delete"]);
  });
});
