import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { appendToChain, AuditFeed, CallRecorder, DEFAULT_CAPTURE_LIMIT, exportAudit, MAX_STORED_ARGUMENTS, parseTime, readInThread, Redactor, searchAudit, verifyChain } from "../src/audit/index.ts";
import { GENESIS_HASH, legacyAuditHash, openReader, openStore, type AuditFilter, type AuditRow, type NewAuditRow } from "../src/store/index.ts";
import { READS } from "../src/audit/reads.ts";
import { tempDir } from "./harness.ts";

const base = { at: 1, subject: "ada@example.com", tokenId: null, sessionId: null, virtualMcp: "v", connector: "c", method: "tools/call", exposedName: "c__t", upstreamName: "t", outcome: "ok" as const, error: null, durationMs: 1 };

describe("call records", () => {
  test("are committed before record() resolves; small arguments are stored exactly, large ones cut at the limit", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const recorder = new CallRecorder(store);
    const small = { query: "x", n: 2, nested: [true, null, { k: "é\"" }] };
    await Promise.all([recorder.record({ ...base, arguments: small }), recorder.record({ ...base, arguments: { text: "y".repeat(100_000) } }), recorder.record({ ...base, arguments: undefined })]);
    const [none, large, exact] = store.callRecords.recent(3);
    expect(exact!.arguments).toBe(JSON.stringify(small));
    expect(large!.arguments!.startsWith('{"text":"yyyy')).toBe(true);
    expect(large!.arguments!.endsWith(`...[cut at ${MAX_STORED_ARGUMENTS} characters]`)).toBe(true);
    expect(large!.arguments!.length).toBeLessThan(MAX_STORED_ARGUMENTS + 64);
    expect(none!.arguments).toBeNull();
    store.close();
  });
});

describe("call records' size", () => {
  test("arguments whose JSON text is longer than their characters (escapes) are cut at the limit of JSON text too; the chain still verifies", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const recorder = new CallRecorder(store);
    // A control character is six characters of JSON (\u0001), a quote two; an emoji is two UTF-16 units the cut must not split.
    const texts = ["\u0001".repeat(100_000), '"'.repeat(100_000), `${"x".repeat(MAX_STORED_ARGUMENTS - 20)}${"😀\n".repeat(100)}`];
    await Promise.all(texts.map((text) => recorder.record({ ...base, arguments: { text } })));
    for (const row of store.callRecords.recent(3)) {
      expect(row.arguments!.endsWith(`...[cut at ${MAX_STORED_ARGUMENTS} characters]`)).toBe(true);
      expect(row.arguments!.length).toBeLessThan(MAX_STORED_ARGUMENTS + 64);
    }
    expect(verifyChain(store, undefined)).toMatchObject({ ok: true, records: 3 });
    store.close();
  });
});

describe("call records' errors", () => {
  test("a tool's error text is stored with its secret-looking keys hidden, as the result it comes from is", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const recorder = new CallRecorder(store);
    // The gateway records an error result's first text as the call's error.
    const text = JSON.stringify({ error: "login refused", password: "pw-visible-if-leaked" });
    await recorder.record({ ...base, outcome: "error", error: text, arguments: {}, result: { content: [{ type: "text", text }], isError: true } });
    const row = store.audit.get(store.audit.lastId())!;
    expect(row.result).not.toContain("pw-visible-if-leaked");
    expect(row.error).toBe(JSON.stringify({ error: "login refused", password: "[redacted]" }));
    store.close();
  });
});

/** The columns of audit_records under the repository's names. */
const STORED_COLUMNS =
  "id, at, kind, person, user_id AS userId, client_id AS clientId, token_id AS tokenId, ip, session_id AS sessionId, virtual_mcp AS virtualMcp, connector, method, " +
  "exposed_name AS exposedName, upstream_name AS upstreamName, arguments, result, result_size AS resultSize, outcome, error, duration_ms AS durationMs, detail, prev_hash AS prevHash";

describe("the hash chain's record format", () => {
  const row = (args: string, result: string): NewAuditRow => ({
    at: 1, kind: "mcp", person: "ada@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: "v", connector: "c",
    method: "tools/call", exposedName: "c__t", upstreamName: "t", arguments: args, result, resultSize: result.length, outcome: "ok", error: null, durationMs: 1, detail: null,
  });
  const open = () => {
    const path = join(tempDir(), "mintgate.db");
    return { path, store: openStore(path, { create: true }) };
  };

  test("moving text between payload columns breaks the hash, though the joined text is the same", () => {
    const { path, store } = open();
    appendToChain(store, [row('{"a":"xy"}', '{"r":1}'), row('{"a":"z"}', '{"r":2}')]);
    expect(verifyChain(store, undefined).ok).toBe(true);
    store.close();
    const db = new Database(path);
    db.exec(`UPDATE audit_records SET arguments = '{"a":"x', result = 'y"}{"r":1}' WHERE id = 1`);
    db.close();
    const reopened = openStore(path);
    expect(verifyChain(reopened, undefined)).toMatchObject({ ok: false, broken: { id: 1 } });
    reopened.close();
  });

  test("verify beside a gateway that goes on recording: a record committed while the chain is walked is not taken for one deleted from the end", () => {
    const { path, store } = open();
    appendToChain(store, [row('{"a":1}', '{"r":1}'), row('{"a":2}', '{"r":2}')]);
    // `mintgate audit verify` (this connection) while the gateway (another) commits a call's record.
    const gateway = openStore(path);
    let appended = false;
    const audit = Object.create(store.audit, {
      page: {
        value: (...args: Parameters<typeof store.audit.page>) => {
          const page = store.audit.page(...args);
          if (page.length === 0 && !appended) {
            appended = true;
            appendToChain(gateway, [row('{"a":3}', '{"r":3}')]);
          }
          return page;
        },
      },
    }) as typeof store.audit;
    expect(verifyChain({ ...store, audit }, undefined)).toMatchObject({ ok: true, records: 2, lastId: 2 });
    expect(appended).toBe(true);
    expect(verifyChain(store, undefined)).toMatchObject({ ok: true, records: 3 });
    gateway.close();
    store.close();
  });

  test("the gateway's verify (admin API) walks a snapshot of its own, yielding between pages: records the gateway commits meanwhile are neither counted nor taken for deleted ones", async () => {
    const { path, store } = open();
    // Three pages of the walk.
    for (let i = 0; i < 3; i++) appendToChain(store, Array.from({ length: 5_000 }, (_, j) => row(`{"a":${i * 5_000 + j}}`, "{}")));
    // The read the reader thread runs, on a read-only connection as it opens one.
    const reader = openReader(path, { snapshot: true });
    const verified = READS.auditVerify(reader, undefined);
    // Between pages: the gateway's next commit.
    await new Promise((resolve) => setTimeout(resolve, 0));
    appendToChain(store, [row('{"a":"during"}', "{}")]);
    expect(await verified).toMatchObject({ ok: true, records: 15_000, lastId: 15_000 });
    reader.close();
    store.audit.sqlite.exec("UPDATE audit_records SET arguments = '{\"a\":-1}' WHERE id = 7000");
    // On the reader thread itself.
    expect(await readInThread(store, "auditVerify", undefined)).toMatchObject({ ok: false, broken: { id: 7000 } });
    store.close();
  });

  test("records sealed in format 1 (before payloads were hashed as their own text) still verify", () => {
    const { path, store } = open();
    appendToChain(store, [row('{"a":1}', '{"r":1}'), row('{"a":2}', '{"r":2}')]);
    store.close();
    // Re-seal the chain as format 1 would have.
    const db = new Database(path);
    let prevHash = GENESIS_HASH;
    for (const stored of db.query(`SELECT ${STORED_COLUMNS} FROM audit_records ORDER BY id`).all() as AuditRow[]) {
      const sealed = { ...stored, prevHash };
      const hash = legacyAuditHash(sealed);
      db.query("UPDATE audit_records SET prev_hash = ?, hash = ? WHERE id = ?").run(prevHash, hash, sealed.id);
      prevHash = hash;
    }
    db.close();
    const reopened = openStore(path);
    expect(verifyChain(reopened, undefined)).toMatchObject({ ok: true, records: 2 });
    // The next record follows on from the format 1 head.
    appendToChain(reopened, [row('{"a":3}', '{"r":3}')]);
    expect(verifyChain(reopened, undefined)).toMatchObject({ ok: true, records: 3 });
    reopened.close();
  });
});

describe("redaction of secret values", () => {
  test("a multi-line secret (a PEM key) is replaced whole, and line by line where a log carries it a line at a time", () => {
    const redactor = new Redactor([]);
    const pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END KEY-----";
    redactor.addSecret("key1", pem);
    expect(redactor.text(`env SECRET=${pem}`)).toBe("env SECRET=[secret:key1]");
    const lines = pem.split("\n").map((line) => redactor.text(line));
    expect(lines).toEqual(["[secret:key1]", "[secret:key1]", "[secret:key1]", "[secret:key1]"]);
    // Short lines are not searched for: they would match ordinary text.
    redactor.addSecret("short", "abc\nx\nlonger-line");
    expect(redactor.text("x marks longer-line")).toBe("x marks [secret:short]");
  });

  test("a secret is replaced where an upstream echoes it JSON-escaped, URL-encoded or in base64, not only as written", () => {
    const redactor = new Redactor([]);
    const value = 'k3y"with\\back/slash+sp ce&ü☃';
    redactor.addSecret("tok", value);
    const echoes = [
      // A body quoting the request's headers as JSON (a stderr line, a tool's text, an error's data).
      `you sent ${JSON.stringify({ authorization: `Bearer ${value}` })}`,
      // The same from Python's json.dumps, which writes non-ASCII as \uXXXX.
      'you sent {"authorization": "Bearer k3y\\"with\\\\back/slash+sp ce&\\u00fc\\u2603"}',
      // A redirect's Location, and a form body, carrying it as a query value.
      `redirecting to https://up.example/login?auth=${encodeURIComponent(value)}`,
      `body ${new URLSearchParams({ client_secret: value })}`,
      // A Basic-style credential or a token handed on in base64, padded or URL-safe.
      `x-echo: ${Buffer.from(value).toString("base64")}`,
      `x-echo: ${Buffer.from(value).toString("base64url")}`,
    ];
    for (const echo of echoes) {
      const redacted = redactor.text(echo);
      expect(redacted).toContain("[secret:tok]");
      for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), Buffer.from(value).toString("base64").replace(/=+$/, "")]) expect(redacted).not.toContain(form);
    }
    // In a stored payload, the JSON text of a string that itself holds JSON.
    const stored = redactor.capture({ content: [{ type: "text", text: JSON.stringify({ env: { KEY: value } }) }] }, 10_000).json!;
    expect(stored).toContain("[secret:tok]");
    expect(stored).not.toContain("k3y");
  });

  test("a secret holding a slash is replaced where an upstream echoes it with the slash escaped (PHP's json_encode writes \\/)", () => {
    const redactor = new Redactor([]);
    const value = "c2VjcmV0/a2V5+dmFsdWU/ü";
    redactor.addSecret("tok", value);
    for (const echo of ['{"headers":{"authorization":"Bearer c2VjcmV0\\/a2V5+dmFsdWU\\/ü"}}', '{"headers":{"authorization":"Bearer c2VjcmV0\\/a2V5+dmFsdWU\\/\\u00fc"}}']) {
      expect(redactor.text(echo)).toBe('{"headers":{"authorization":"Bearer [secret:tok]"}}');
    }
  });

  test("secret-looking keys are hidden in JSON text inside a string (a tool's result), also in a value the 16 KiB cut ends inside", () => {
    const redactor = new Redactor();
    const tokenJson = JSON.stringify({ access_token: "at-visible-if-leaked", nested: { Password: 424242424242 }, expires_in: 3600 }, null, 2);
    const stored = redactor.capture({ content: [{ type: "text", text: tokenJson }] }, DEFAULT_CAPTURE_LIMIT).json!;
    expect(stored).not.toContain("at-visible-if-leaked");
    expect(stored).not.toContain("424242424242");
    const text = (JSON.parse(stored) as { content: { text: string }[] }).content[0]!.text;
    expect(JSON.parse(text)).toEqual({ access_token: "[redacted]", nested: { Password: "[redacted]" }, expires_in: 3600 });

    const cutInside = { body: `${"x".repeat(DEFAULT_CAPTURE_LIMIT - 40)}{"client_secret":"cs-${"v".repeat(100)}"}` };
    const cut = redactor.captureJson(cutInside, DEFAULT_CAPTURE_LIMIT)!;
    // The cut counts the JSON text as stored: the escaped quote after the value is past it.
    expect(cut).toEndWith(`{\\"client_secret\\":\\"[redacted]...[cut at ${DEFAULT_CAPTURE_LIMIT} characters]`);
    expect(cut).not.toContain("cs-v");
  });

  test("secret-looking keys are hidden in JSON text held in a string of JSON text (an HTTP tool's response with its body as a string), also when the cut ends inside it", () => {
    const redactor = new Redactor();
    const body = JSON.stringify({ access_token: "at-visible-if-leaked", scope: "read", nested: JSON.stringify({ password: "pw-visible-if-leaked" }) });
    const response = JSON.stringify({ status: 200, headers: { "content-type": "application/json" }, body });
    const stored = redactor.capture({ content: [{ type: "text", text: response }] }, DEFAULT_CAPTURE_LIMIT).json!;
    expect(stored).not.toContain("visible-if-leaked");
    const text = (JSON.parse(stored) as { content: { text: string }[] }).content[0]!.text;
    const hidden = JSON.parse(JSON.parse(text).body);
    expect(hidden).toEqual({ access_token: "[redacted]", scope: "read", nested: JSON.stringify({ password: "[redacted]" }) });

    const cutInside = { text: `${"x".repeat(DEFAULT_CAPTURE_LIMIT - 60)}${JSON.stringify({ body: JSON.stringify({ refresh_token: `rt-${"v".repeat(100)}` }) })}` };
    const cut = redactor.captureJson(cutInside, DEFAULT_CAPTURE_LIMIT)!;
    expect(cut).not.toContain("rt-v");
    expect(cut).toEndWith(`...[cut at ${DEFAULT_CAPTURE_LIMIT} characters]`);
  });

  test("secret-looking keys are hidden in JSON text written with a space before the colon (Jackson's pretty printer)", () => {
    const redactor = new Redactor();
    const jackson = '{\n  "user" : "ada",\n  "password" : "pw-visible-if-leaked",\n  "apiKey" : 424242424242\n}';
    const stored = redactor.capture({ content: [{ type: "text", text: jackson }] }, DEFAULT_CAPTURE_LIMIT).json!;
    expect(stored).not.toContain("pw-visible-if-leaked");
    expect(stored).not.toContain("424242424242");
    const text = (JSON.parse(stored) as { content: { text: string }[] }).content[0]!.text;
    expect(JSON.parse(text)).toEqual({ user: "ada", password: "[redacted]", apiKey: "[redacted]" });
  });

  test("a list or object under a secret-looking key in JSON text is hidden whole, as it is in an object, also when the cut ends inside it", () => {
    const redactor = new Redactor();
    // A browser tool's cookies ({name, value} with names that look like nothing) and a list of keys, as a tool's text.
    const result = { cookies: [{ name: "sid", value: "ck-visible-if-leaked", domain: "example.com" }], api_keys: ["ak-visible-if-leaked", 42], credentials: { user: "ada", pass: "cr-visible-if-leaked" }, page: { title: "[ok] {x}" } };
    const stored = redactor.capture({ content: [{ type: "text", text: JSON.stringify(result, null, 2) }] }, DEFAULT_CAPTURE_LIMIT).json!;
    for (const leaked of ["ck-visible", "ak-visible", "cr-visible"]) expect(stored).not.toContain(leaked);
    const text = (JSON.parse(stored) as { content: { text: string }[] }).content[0]!.text;
    // Hidden as the object itself would be (see "the default keys hide plurals and credentials").
    expect(JSON.parse(text)).toEqual(JSON.parse(redactor.capture(result, DEFAULT_CAPTURE_LIMIT).json!));

    const cutInside = { body: `${"x".repeat(DEFAULT_CAPTURE_LIMIT - 40)}{"cookies":[{"name":"sid","value":"ck-${"v".repeat(100)}"}]}` };
    const cut = redactor.captureJson(cutInside, DEFAULT_CAPTURE_LIMIT)!;
    expect(cut).toEndWith(`{\\"cookies\\":\\"[redacted]\\"...[cut at ${DEFAULT_CAPTURE_LIMIT} characters]`);
    expect(cut).not.toContain("ck-v");
  });

  test("a value held beside the secret-looking name it belongs to (a header list, a form field) is hidden too", () => {
    const redactor = new Redactor();
    const request = { headers: [{ name: "Authorization", value: "Bearer hl-visible-if-leaked" }, { name: "Accept", value: "application/json" }], fields: [{ key: "password", value: "pw-visible-if-leaked" }], item: { name: "max_tokens", value: 12 } };
    const stored = JSON.parse(redactor.capture(request, DEFAULT_CAPTURE_LIMIT).json!);
    expect(stored).toEqual({ headers: [{ name: "Authorization", value: "[redacted]" }, { name: "Accept", value: "application/json" }], fields: [{ key: "password", value: "[redacted]" }], item: { name: "max_tokens", value: 12 } });
  });

  test("a value beside a secret-looking name is hidden in JSON text too (a browser tool's network log as its text), also when the cut ends inside it", () => {
    const redactor = new Redactor();
    const request = { headers: [{ name: "Authorization", value: "Bearer hl-visible-if-leaked" }, { name: "Accept", value: "application/json" }], fields: [{ value: "pw-visible-if-leaked", key: "password" }], item: { name: "max_tokens", value: 12 } };
    const stored = redactor.capture({ content: [{ type: "text", text: JSON.stringify(request, null, 2) }] }, DEFAULT_CAPTURE_LIMIT).json!;
    expect(stored).not.toContain("visible-if-leaked");
    const text = (JSON.parse(stored) as { content: { text: string }[] }).content[0]!.text;
    expect(JSON.parse(text)).toEqual(JSON.parse(redactor.capture(request, DEFAULT_CAPTURE_LIMIT).json!));

    const cutInside = { body: `${"x".repeat(DEFAULT_CAPTURE_LIMIT - 60)}[{"name":"Cookie","value":"sid=ck-${"v".repeat(100)}"}]` };
    const cut = redactor.captureJson(cutInside, DEFAULT_CAPTURE_LIMIT)!;
    expect(cut).toEndWith(`{\\"name\\":\\"Cookie\\",\\"value\\":\\"[redacted]\\"...[cut at ${DEFAULT_CAPTURE_LIMIT} characters]`);
    expect(cut).not.toContain("ck-v");
  });

  test("a word after an acronym is a word of its own: APIToken, DBPassword and AWSSecretAccessKey are hidden, MAXTokens is not", () => {
    const redactor = new Redactor();
    const payload = { APIToken: "at", DBPassword: "pw", AWSSecretAccessKey: "sk", JWTToken: "jw", MAXTokens: 100, OAuthScopes: "read" };
    const stored = JSON.parse(redactor.capture(payload, 10_000).json!) as Record<string, unknown>;
    expect(stored).toEqual({ APIToken: "[redacted]", DBPassword: "[redacted]", AWSSecretAccessKey: "[redacted]", JWTToken: "[redacted]", MAXTokens: 100, OAuthScopes: "read" });
    const inText = JSON.parse(JSON.parse(redactor.capture({ text: JSON.stringify({ SMTPPassword: "smtp-visible-if-leaked" }) }, 10_000).json!).text);
    expect(inText).toEqual({ SMTPPassword: "[redacted]" });
  });

  test("the default keys hide plurals and credentials, and leave token counts alone", () => {
    const redactor = new Redactor();
    const payload = { apiKeys: ["k1"], client_secrets: "s", private_key: "pem", credentials: { u: "p" }, passwords: "p", Cookies: "c", passphrase: "pp", max_tokens: 100, total_tokens: 7, keyword: "kw" };
    const stored = JSON.parse(redactor.capture(payload, 10_000).json!) as Record<string, unknown>;
    for (const key of ["apiKeys", "client_secrets", "private_key", "credentials", "passwords", "Cookies", "passphrase"]) expect(stored[key]).toBe("[redacted]");
    expect(stored).toMatchObject({ max_tokens: 100, total_tokens: 7, keyword: "kw" });
  });
});

describe("times in searches and exports", () => {
  test("a time window holds its start and not its end, as usage stats count", () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const at = (t: number): NewAuditRow => ({
      at: t, kind: "mcp", person: "ada@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: "v", connector: "c",
      method: "tools/call", exposedName: "c__t", upstreamName: "t", arguments: null, result: null, resultSize: null, outcome: "ok", error: null, durationMs: 1, detail: null,
    });
    appendToChain(store, [at(1_000), at(2_000), at(3_000)]);
    expect(searchAudit(store, { since: 2_000, until: 3_000 }).map((r) => r.at)).toEqual([new Date(2_000).toISOString()]);
    store.close();
  });

  test("a window's records are found by time, not by id: a long call committed after later ones is in its window's search and export", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const at = (t: number, virtualMcp = "v"): NewAuditRow => ({
      at: t, kind: "mcp", person: "ada@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp, connector: "c",
      method: "tools/call", exposedName: "c__t", upstreamName: "t", arguments: null, result: null, resultSize: null, outcome: "ok", error: null, durationMs: 1, detail: null,
    });
    // Ids 1–5; the call that started at 1 500 finished (and was recorded) last.
    appendToChain(store, [at(1_000), at(2_000, "w"), at(3_000), at(4_000), at(1_500)]);
    const window = { since: 1_200, until: 3_500 };
    expect(searchAudit(store, window).map((r) => r.id)).toEqual([5, 3, 2]);
    expect(searchAudit(store, { ...window, virtualMcp: "v" }).map((r) => r.id)).toEqual([5, 3]);
    expect(searchAudit(store, { ...window, virtualMcp: "v" }, 1, 5).map((r) => r.id)).toEqual([3]);
    const exported = async (filter: AuditFilter) => (await Array.fromAsync(exportAudit(store.audit, "jsonl", filter))).join("").split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { id: number }).id);
    expect(await exported(window)).toEqual([2, 3, 5]);
    expect(await exported({ ...window, virtualMcp: "w" })).toEqual([2]);
    // A Virtual MCP with few records is read through its index on (virtual_mcp, at), in time order: pages still follow the ids.
    expect(await exported({ ...window, virtualMcp: "v" })).toEqual([3, 5]);
    const idsOfPages = (afterId: number): number[] => {
      const page = store.audit.page(afterId, 1, { virtualMcp: "v" });
      return page.length === 0 ? [] : [page[0]!.id, ...idsOfPages(page[0]!.id)];
    };
    expect(idsOfPages(0)).toEqual([1, 3, 4, 5]);
    expect(await exported({ since: 5_000 })).toEqual([]);
    expect(searchAudit(store, { until: 1_000 })).toEqual([]);
    store.close();
  });

  test("digits are Unix ms, four of them a year, nine or ten (Unix seconds) none; ages count back from now; anything else is no time", () => {
    const now = Date.UTC(2026, 10, 28, 12);
    expect(parseTime("0", now)).toBe(0);
    expect(parseTime("86400000", now)).toBe(86_400_000);
    expect(parseTime("1700000000000", now)).toBe(1_700_000_000_000);
    // Unix seconds (`date +%s`) would be a day of 1970 as ms: refused, so the sentence asks for ms or an ISO time.
    expect(parseTime("1700000000", now)).toBeNaN();
    expect(parseTime("999999999", now)).toBeNaN();
    expect(parseTime("2025", now)).toBe(Date.UTC(2025, 0, 1));
    expect(parseTime("2025-02-01T00:00:00Z", now)).toBe(Date.UTC(2025, 1, 1));
    expect(parseTime("7d", now)).toBe(now - 7 * 86_400_000);
    expect(parseTime("2w", now)).toBe(now - 14 * 86_400_000);
    // Without a zone: UTC, as every time mintgate shows.
    expect(parseTime("2026-11-28T02:00", now)).toBe(Date.UTC(2026, 10, 28, 2));
    expect(parseTime("2026-11-28T07:15:14+05:30", now)).toBe(Date.UTC(2026, 10, 28, 1, 45, 14));
    expect(parseTime("2026-11-28t07:15:14-0800", now)).toBe(Date.UTC(2026, 10, 28, 15, 15, 14));
    expect(parseTime("2024-02-29", now)).toBe(Date.UTC(2024, 1, 29));
    // Not ISO 8601 is no time: Date.parse read "-5" as May 2001, a day past the month's end as one of the next month,
    // and "Nov 28 2026" in the machine's zone.
    for (const text of ["-5", "2025-02-30", "2025-02-29", "2025-04-31T10:00:00Z", "Nov 28 2026", "2026-11-28T25:00:00Z", "28/11/2026"]) expect(parseTime(text, now)).toBeNaN();
    expect(parseTime("soon", now)).toBeNaN();
    expect(parseTime(undefined, now)).toBeUndefined();
  });
});

describe("the live feed", () => {
  test("a reader that fell behind is told how many records it lost, not how many lines: comments in its queue are no records", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const feed = new AuditFeed(store, { buffer: 3 });
    const reader = feed.stream().getReader();
    const row = (i: number): NewAuditRow => ({
      at: i, kind: "admin", person: "cli:test", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: null, connector: null,
      method: "test", exposedName: String(i), upstreamName: null, arguments: null, result: null, resultSize: null, outcome: "ok", error: null, durationMs: null, detail: null,
    });
    // Unread: the ": connected" comment and two records fill the buffer of 3; the third record drops them, the rest queue.
    appendToChain(store, [1, 2, 3, 4, 5].map(row));
    await new Promise((resolve) => setImmediate(resolve));
    const text = new TextDecoder().decode((await reader.read()).value);
    expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([4, 5]);
    expect((JSON.parse(/event: dropped\ndata: (.*)\n/.exec(text)![1]!) as { dropped: number }).dropped).toBe(3);
    await reader.cancel();
    feed.close();
    store.close();
  });
});
