import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { LATEST_SCHEMA_VERSION } from "../src/store/index.ts";
import { configuredDataDir, DEMO_CONFIG, runMintgate, startConfiguredGateway, startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";

describe("HTTP server", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ dataDir: join(tempDir(), "d") });
  });
  afterAll(() => gateway.stop());

  test("the log's start-up line says what this gateway runs with: version, data directory, URLs, TLS, metrics, SSO, how many connectors and Virtual MCPs", () => {
    const started = gateway.output().split("\n").find((line) => line.includes(" info  started "));
    expect(started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  started version=\d+\.\d+\.\d+ /);
    expect(started).toContain(` dataDir=${gateway.dataDir} url=${gateway.url} publicUrl="(none: the listen URL)" tls=off metrics=loopback sso=none connectors=0 virtualMcps=0 logFormat=text`);
  });

  test("/healthz and /readyz", async () => {
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", instance: expect.any(String) });
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  test("unknown routes get a JSON 404, never HTML; a known path under another method a JSON 405 naming its methods", async () => {
    for (const [method, path] of [["GET", "/nope"], ["POST", "/nope"], ["GET", "/admin"]] as const) {
      const response = await fetch(`${gateway.url}${path}`, { method });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toStartWith("application/json");
      expect(await response.json()).toMatchObject({ error: "not_found" });
    }
    const wrongMethod = await fetch(`${gateway.url}/healthz`, { method: "POST" });
    expect([wrongMethod.status, wrongMethod.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    expect(wrongMethod.headers.get("content-type")).toStartWith("application/json");
  });

  test("bodies over 4 MiB get a JSON 413, declared or chunked", async () => {
    const big = new Uint8Array(4 * 1024 * 1024 + 1);
    const declared = await fetch(`${gateway.url}/healthz`, { method: "POST", body: big });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: "payload_too_large" });

    const chunks = (function* () {
      for (let i = 0; i < 5; i++) yield new Uint8Array(1024 * 1024);
    })();
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.next();
        next.done ? controller.close() : controller.enqueue(next.value);
      },
    });
    const chunked = await fetch(`${gateway.url}/healthz`, { method: "POST", body: stream });
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: "payload_too_large" });

    // Just under the limit is not refused for its size.
    const fits = await fetch(`${gateway.url}/healthz`, { method: "POST", body: new Uint8Array(4 * 1024 * 1024) });
    expect(fits.status).toBe(405);
  });

  test("/admin/api/status needs the admin token", async () => {
    const none = await fetch(`${gateway.url}/admin/api/status`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.json()).toMatchObject({ error: "unauthorized" });

    const wrong = await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: "Bearer mgt_admin_wrong" } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toContain("not valid");
    // The log says who was refused from where, never the token; a burst of guesses is held to 5 lines a minute.
    expect(gateway.output()).toContain('warn  admin API request refused: no valid admin token method=GET path=/admin/api/status ip=127.0.0.1 reason="The admin token is not valid; use the one in DATA_DIR/admin.token."');
    for (let i = 0; i < 8; i++) await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: "Bearer mgt_admin_wrong" } });
    expect(gateway.output().split("admin API request refused").length - 1).toBe(5);
    expect(gateway.output()).not.toContain("mgt_admin_wrong");

    const right = await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(right.status).toBe(200);
    const status = (await right.json()) as { version: string; uptimeSeconds: number };
    expect(status).toMatchObject({ dataDir: gateway.dataDir, schemaVersion: LATEST_SCHEMA_VERSION, secrets: { count: 0 } });
    expect(status.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  test("every reply says nosniff and no-referrer and is not stored (the discovery documents are public); no Strict-Transport-Security over plain http", async () => {
    const admin = { authorization: `Bearer ${gateway.adminToken()}` };
    const replies: [string, Response, string?][] = [
      ["/healthz", await fetch(`${gateway.url}/healthz`)],
      ["/readyz", await fetch(`${gateway.url}/readyz`)],
      ["/metrics", await fetch(`${gateway.url}/metrics`)],
      ["AS metadata", await fetch(`${gateway.url}/.well-known/oauth-authorization-server`), "public, max-age=300"],
      ["404", await fetch(`${gateway.url}/nope`)],
      ["405", await fetch(`${gateway.url}/healthz`, { method: "POST" })],
      ["413", await fetch(`${gateway.url}/healthz`, { method: "POST", body: new Uint8Array(4 * 1024 * 1024 + 1) })],
      ["admin 401", await fetch(`${gateway.url}/admin/api/status`)],
      ["admin JSON", await fetch(`${gateway.url}/admin/api/status`, { headers: admin })],
      ["admin people", await fetch(`${gateway.url}/admin/api/users`, { headers: admin })],
      ["admin YAML", await fetch(`${gateway.url}/admin/api/config`, { headers: admin })],
      ["admin live feed", await fetch(`${gateway.url}/admin/api/events`, { method: "HEAD", headers: admin }), "no-store, no-transform"],
    ];
    for (const [what, response, cacheControl] of replies) {
      await response.body?.cancel();
      expectEveryReplyHeaders(what, response, { cacheControl });
    }
    const noHost = await rawExchange(gateway.url, "GET /healthz HTTP/1.0\r\n\r\n");
    expect(noHost.toLowerCase()).toContain("\r\nx-content-type-options: nosniff\r\n");
    expect(noHost.toLowerCase()).toContain("\r\ncache-control: no-store\r\n");
  });

  test("a request without Host gets a JSON 400, not a 500 and an error in the log", async () => {
    for (const path of ["/metrics", "/mcp/demo", "/authorize", "/nope"]) {
      const answer = await rawExchange(gateway.url, `GET ${path} HTTP/1.0\r\n\r\n`);
      expect(answer).toStartWith("HTTP/1.1 400 ");
      expect(answer).toContain('"error":"invalid_request"');
    }
    expect(gateway.output()).not.toContain("request failed");
  });

  test("unknown admin routes are 401 without a token and JSON 404 with one", async () => {
    expect((await fetch(`${gateway.url}/admin/api/nothing`)).status).toBe(401);
    const found = await fetch(`${gateway.url}/admin/api/nothing`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(found.status).toBe(404);
  });

  test("a change sent to an unknown admin route is refused without a stack dump in the log, with or without the token", async () => {
    for (const authorization of ["Bearer mgt_admin_wrong", `Bearer ${gateway.adminToken()}`]) {
      const answer = await fetch(`${gateway.url}/admin/api/nothing`, { method: "POST", headers: { authorization, "content-type": "application/json" }, body: '{"a":1}' });
      expect(answer.status).toBe(authorization.endsWith("wrong") ? 401 : 404);
    }
    // The unread copy of the body fails as its connection is reused or closed: give it the time to.
    await Bun.sleep(200);
    expect(gateway.output()).not.toContain("AbortError");
  });
});

describe("HTTPS", () => {
  test("serves HTTPS with a certificate and key", async () => {
    const dir = tempDir();
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const openssl = Bun.spawnSync([
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    expect(openssl.exitCode).toBe(0);
    const gateway = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", cert, "--tls-key", key] });
    expect(gateway.url).toStartWith("https://127.0.0.1:");
    expect(gateway.output()).toContain(` url=${gateway.url} publicUrl="(none: the listen URL)" tls=on `);
    const response = await fetch(`${gateway.url}/healthz`, { tls: { ca: readFileSync(cert, "utf8") } });
    expect(response.status).toBe(200);
    // The listen URL names this machine: HSTS would bind localhost on every port (src/http/response-headers.ts).
    expect(response.headers.get("strict-transport-security")).toBeNull();
    // The CLI finds it through server.url; it must trust the certificate, and is told how when it does not.
    const untrusted = await runMintgate(["status", "--data", join(dir, "d")], { env: { NODE_EXTRA_CA_CERTS: "" } });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toBe(`mintgate: The gateway at ${gateway.url} answers with a self-signed TLS certificate this machine does not trust; point NODE_EXTRA_CA_CERTS at that certificate and try again.\n`);
    expect((await runMintgate(["status", "--data", join(dir, "d")], { env: { NODE_EXTRA_CA_CERTS: cert } })).code).toBe(0);
    // Plain HTTP to the TLS port is not served.
    await expect(fetch(gateway.url.replace("https:", "http:") + "/healthz")).rejects.toThrow();
    expect(await gateway.stop()).toBe(0);
    expect(gateway.output()).not.toContain("can be read by every user");
    // A private key every user can read is served all the same, with a warning that says how to close it.
    chmodSync(key, 0o644);
    const open = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", cert, "--tls-key", key] });
    expect(await open.stop()).toBe(0);
    expect(open.output()).toContain(`warn  The private key in ${key} (--tls-key) can be read by every user of this machine (mode 0644); \`chmod 600\` it (or 640 for a group the gateway's user is in).`);
  });
});

describe("Strict-Transport-Security", () => {
  test("served over TLS for a public name, every reply says so; over plain http to a public name, none", async () => {
    const dir = tempDir();
    const { cert, key } = selfSigned(dir, "gateway", { days: 1 });
    const tls = await startGateway({ dataDir: join(dir, "tls"), args: ["--tls-cert", cert, "--tls-key", key, "--public-url", "https://mcp.example.com"] });
    const plain = await startGateway({ dataDir: join(dir, "plain"), args: ["--public-url", "http://mcp.example.com"] });
    try {
      for (const path of ["/healthz", "/nope", "/.well-known/oauth-authorization-server"]) {
        const response = await fetch(`${tls.url}${path}`, { tls: { ca: readFileSync(cert, "utf8") } });
        expect([path, response.headers.get("strict-transport-security")]).toEqual([path, "max-age=31536000"]);
        expect([path, (await fetch(`${plain.url}${path}`)).headers.get("strict-transport-security")]).toEqual([path, null]);
      }
    } finally {
      await Promise.all([tls.stop(), plain.stop()]);
    }
  });
});

describe("behind a TLS proxy (an https --public-url on a plain http listener)", () => {
  test("MCP answers, event streams, OAuth answers and the sign-in pages carry the headers every reply does, Strict-Transport-Security too", async () => {
    const { gateway, token } = await startConfiguredGateway(DEMO_CONFIG, { args: ["--public-url", "https://mcp.example.com"] });
    const strictTransport = "max-age=31536000";
    const mcp = `${gateway.url}/mcp/demo`;
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    const streams = new AbortController();
    try {
      const started = await fetch(mcp, { method: "POST", headers, body: initialize });
      const session = { "mcp-session-id": started.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-06-18" };
      const replies: [string, Response, string?][] = [
        ["MCP initialize (SSE)", started, "no-store, no-transform"],
        ["MCP tools/list (JSON)", await fetch(mcp, { method: "POST", headers: { ...headers, ...session }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) })],
        ["MCP GET stream", await fetch(mcp, { headers: { authorization: headers.authorization, accept: "text/event-stream", ...session }, signal: streams.signal }), "no-store, no-transform"],
        // The gateway's own event stream (a call that asked for progress), not the SDK transport's.
        ["MCP tools/call (SSE)", await fetch(mcp, { method: "POST", headers: { ...headers, ...session }, body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "hi" }, _meta: { progressToken: "p" } } }) }), "no-store, no-transform"],
        ["MCP 401", await fetch(mcp, { method: "POST", headers: { ...headers, authorization: "" }, body: initialize })],
        ["MCP 415", await fetch(mcp, { method: "POST", headers: { ...headers, "content-type": "text/plain" }, body: initialize })],
        ["legacy /sse", await fetch(`${gateway.url}/sse/demo`, { headers: { authorization: headers.authorization, accept: "text/event-stream" }, signal: streams.signal }), "no-store, no-transform"],
        ["/token error", await fetch(`${gateway.url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=password" })],
        ["/authorize error page", await fetch(`${gateway.url}/authorize?client_id=nobody`)],
      ];
      for (const [what, response, cacheControl] of replies) expectEveryReplyHeaders(what, response, { cacheControl, strictTransport });
      expect(replies.map(([what, response]) => [what, response.status])).toEqual([
        ["MCP initialize (SSE)", 200], ["MCP tools/list (JSON)", 200], ["MCP GET stream", 200], ["MCP tools/call (SSE)", 200], ["MCP 401", 401], ["MCP 415", 415], ["legacy /sse", 200], ["/token error", 400], ["/authorize error page", 400],
      ]);
      expect(replies.at(-2)![1].headers.get("pragma")).toBe("no-cache");
      const page = replies.at(-1)![1];
      expect([page.headers.get("content-type"), page.headers.get("x-frame-options"), page.headers.get("content-security-policy")]).toEqual(["text/html; charset=utf-8", "DENY", expect.stringContaining("frame-ancestors 'none'")]);
      for (const [, response] of replies) if (!response.headers.get("content-type")?.startsWith("text/event-stream")) await response.body?.cancel();
    } finally {
      streams.abort();
      await gateway.stop();
    }
  });

  test("the sign-in cookies are __Host-, Secure, HttpOnly and SameSite=Lax: no other site or subdomain can plant or read a person's sign-in", async () => {
    const email = "ann@example.com";
    const password = "correct horse battery staple";
    const gateway = await startGateway({ dataDir: await configuredDataDir(DEMO_CONFIG, { people: [{ email, password }] }), args: ["--public-url", "https://mcp.example.com"] });
    try {
      const redirectUri = "http://127.0.0.1:9/callback";
      const registered = await fetch(`${gateway.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [redirectUri] }) });
      const { client_id } = (await registered.json()) as { client_id: string };
      const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
      const authorize = new URL(`${gateway.url}/authorize`);
      for (const [name, value] of Object.entries({ response_type: "code", client_id, redirect_uri: redirectUri, state: "s", code_challenge: new Bun.CryptoHasher("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256" })) {
        authorize.searchParams.set(name, value);
      }
      const started = await fetch(authorize, { redirect: "manual" });
      expect(started.status).toBe(303);
      const browserCookie = started.headers.getSetCookie();
      expect(browserCookie).toEqual([expect.stringMatching(/^__Host-mintgate_browser=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/)]);
      const flow = new URL(started.headers.get("location")!, gateway.url).searchParams.get("flow")!;
      const signedIn = await fetch(`${gateway.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: browserCookie[0]!.split(";")[0]! },
        body: new URLSearchParams({ flow, email, password }),
      });
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-mintgate_session=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/)]);
    } finally {
      await gateway.stop();
    }
  });
});

/** Checks the headers every reply carries (src/http/response-headers.ts); `what` names the reply in a failure. */
/** Event streams, as `cacheControl` says (see withResponseHeaders), also tell nginx not to buffer them. */
function expectEveryReplyHeaders(what: string, response: Response, expected: { cacheControl?: string | undefined; strictTransport?: string }): void {
  const got = ["x-content-type-options", "referrer-policy", "cache-control", "strict-transport-security", "x-accel-buffering"].map((name) => response.headers.get(name));
  const eventStream = expected.cacheControl === "no-store, no-transform";
  expect([what, ...got]).toEqual([what, "nosniff", "no-referrer", expected.cacheControl ?? "no-store", expected.strictTransport ?? null, eventStream ? "no" : null]);
}

/** A self-signed EC pair in `dir` named after `name`; openssl's own options (-days, or -startdate/-enddate through `ca`) set its dates. */
function selfSigned(dir: string, name: string, dates: { days: number } | { start: string; end: string }): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const subject = ["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"];
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key];
  if ("days" in dates) {
    expect(Bun.spawnSync(["openssl", "req", "-x509", ...newKey, "-out", cert, "-days", String(dates.days), ...subject]).exitCode).toBe(0);
    return { cert, key };
  }
  // `req -x509` cannot make a certificate that has already expired; `ca -selfsign` takes both dates.
  const csr = join(dir, `${name}.csr`);
  expect(Bun.spawnSync(["openssl", "req", "-new", ...newKey, "-out", csr, ...subject]).exitCode).toBe(0);
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "ca.cnf"), `[ca]\ndefault_ca=x\n[x]\ndatabase=${join(dir, "index.txt")}\nserial=${join(dir, "serial")}\nnew_certs_dir=${dir}\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n`);
  writeFileSync(join(dir, "serial"), "01\n");
  const signed = Bun.spawnSync(["openssl", "ca", "-batch", "-config", join(dir, "ca.cnf"), "-selfsign", "-keyfile", key, "-in", csr, "-startdate", dates.start, "-enddate", dates.end, "-out", cert]);
  expect(signed.exitCode).toBe(0);
  return { cert, key };
}

describe("TLS files", () => {
  test("a key of another certificate, or a file that is not PEM, is one sentence naming the file; nothing listens", async () => {
    const dir = tempDir();
    const one = selfSigned(dir, "one", { days: 30 });
    const two = selfSigned(dir, "two", { days: 30 });
    const notPem = join(dir, "notes.txt");
    writeFileSync(notPem, "not a certificate\n", { mode: 0o600 });
    const cases = [
      [one.cert, two.key, `mintgate: The key in ${two.key} (--tls-key) is not the private key of the certificate in ${one.cert} (--tls-cert); give the key that was made with it.`],
      [notPem, one.key, `mintgate: The file ${notPem} (--tls-cert) does not hold a PEM certificate; check the file.`],
      [one.cert, notPem, `mintgate: The file ${notPem} (--tls-key) does not hold a PEM private key without a passphrase; check the file.`],
    ] as const;
    for (const [cert, key, sentence] of cases) {
      const run = await runMintgate(["serve", "--data", join(dir, "d"), "--port", "0", "--tls-cert", cert, "--tls-key", key]);
      expect(run.code).toBe(2);
      expect(run.stdout).not.toContain("listening on");
      // Said before anything else is done: no data directory created, no connector started.
      expect(run.stderr).toBe(`${sentence}\n`);
      expect(existsSync(join(dir, "d"))).toBe(false);
    }
  });

  test("an expired certificate, or one about to expire, is served with a warning that says to renew and restart", async () => {
    const dir = tempDir();
    const expired = selfSigned(dir, "expired", { start: "20200101000000Z", end: "20200201000000Z" });
    const old = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", expired.cert, "--tls-key", expired.key] });
    expect(await old.stop()).toBe(0);
    expect(old.output()).toContain(`warn  The --tls-cert certificate in ${expired.cert} expired on 2020-02-01T00:00:00.000Z; clients refuse it. Put a renewed certificate and key in place and restart mintgate.`);
    const soon = selfSigned(dir, "soon", { days: 3 });
    const ending = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", soon.cert, "--tls-key", soon.key] });
    expect(await ending.stop()).toBe(0);
    expect(ending.output()).toMatch(new RegExp(`warn  The --tls-cert certificate in ${soon.cert} expires on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; the files are read at start, so restart mintgate once it is renewed\\.`));
    const fresh = selfSigned(dir, "fresh", { days: 90 });
    const fine = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", fresh.cert, "--tls-key", fresh.key] });
    expect(await fine.stop()).toBe(0);
    expect(fine.output()).not.toContain("--tls-cert certificate");
  });
});

describe("the metrics token file", () => {
  test("a missing, empty or too short --metrics-token-file is a usage error naming the file, said before the data directory is opened", async () => {
    const dir = tempDir();
    const empty = join(dir, "empty.token");
    writeFileSync(empty, "\n", { mode: 0o600 });
    const short = join(dir, "short.token");
    writeFileSync(short, "short\n", { mode: 0o600 });
    const absent = join(dir, "absent.token");
    const cases = [
      [absent, `mintgate: The file ${absent} (--metrics-token-file) does not exist; check the path.`],
      [dir, `mintgate: ${dir} (--metrics-token-file) is a directory; give the path of the file holding the metrics token.`],
      [empty, `mintgate: The file ${empty} (--metrics-token-file) is empty; put a long random token in it (e.g. \`openssl rand -hex 32 > ${empty}\`).`],
      [short, `mintgate: The metrics token in ${short} (--metrics-token-file) is shorter than 16 characters; use a long random value (e.g. \`openssl rand -hex 32\`).`],
    ] as const;
    for (const [file, sentence] of cases) {
      const run = await runMintgate(["serve", "--data", join(dir, "d"), "--port", "0", "--metrics-token-file", file]);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`${sentence}\n`);
      expect(existsSync(join(dir, "d"))).toBe(false);
    }
  });
});

describe("listening on every interface", () => {
  test("without --public-url a warning says the advertised URL is unreachable; with it, none", async () => {
    const bare = await startGateway({ dataDir: join(tempDir(), "d"), args: ["--host", "0.0.0.0"] });
    const port = new URL(bare.url).port;
    expect(await bare.stop()).toBe(0);
    expect(bare.output()).toContain(`warn  No --public-url: the OAuth metadata and the 401 challenge name http://0.0.0.0:${port}, which no client can reach; set --public-url to the URL clients use (https://mcp.example.com).`);
    const named = await startGateway({ dataDir: join(tempDir(), "d"), args: ["--host", "0.0.0.0", "--public-url", "https://mcp.example.com"] });
    expect(await named.stop()).toBe(0);
    expect(named.output()).not.toContain("No --public-url");
  });
});

describe("a plain http --public-url", () => {
  test("on another machine's name gets a warning that sign-in would cross the network unencrypted; on this machine's, none", async () => {
    const remote = await startGateway({ dataDir: join(tempDir(), "d"), args: ["--public-url", "http://mcp.example.com"] });
    expect(await remote.stop()).toBe(0);
    expect(remote.output()).toContain(
      "warn  --public-url http://mcp.example.com is plain http on another machine's name: people's passwords, sign-in codes and tokens would cross the network unencrypted; serve HTTPS (--tls-cert and --tls-key, or a proxy such as Caddy) and give its https:// URL.",
    );
    for (const local of ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "https://mcp.example.com"]) {
      const gateway = await startGateway({ dataDir: join(tempDir(), "d"), args: ["--public-url", local] });
      expect(await gateway.stop()).toBe(0);
      expect(gateway.output()).not.toContain("plain http");
    }
  });
});

/** Writes `request` as it is on a new connection and returns everything read until the server closes it. */
function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
  let received = "";
  return new Promise<string>((resolve, reject) => {
    socket.on("data", (data) => (received += data.toString()));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

/** A POST whose chunked body slowRequest sends in two parts: `headers` are extra header lines, each ending in CRLF. */
interface SlowPost {
  path: string;
  headers?: string;
  body: [first: string, rest: string];
}

const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

/**
 * On one kept-alive connection: a GET /healthz, then a chunked POST whose body arrives in two parts.
 * `response`: everything received until the server closed the connection (both replies).
 */
function slowRequest(url: string, post: SlowPost = { path: "/admin/api/status", body: ["first", "last"] }): { sendRest(): void; response: Promise<string>; headersSent: Promise<void> } {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let received = "";
  let healthReplied = () => {};
  const response = new Promise<string>((resolve, reject) => {
    socket.on("data", (data) => {
      received += data.toString();
      if (received.includes('"status":"ok"')) healthReplied();
    });
    socket.on("end", () => resolve(received));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
  const headersSent = new Promise<void>((resolve) => {
    healthReplied = () => {
      healthReplied = () => {};
      socket.write(`POST ${post.path} HTTP/1.1\r\nHost: ${hostname}\r\n${post.headers ?? ""}Transfer-Encoding: chunked\r\n\r\n${chunk(post.body[0])}`, () => resolve());
    };
    socket.on("connect", () => socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`));
  });
  return { sendRest: () => socket.write(`${chunk(post.body[1])}0\r\n\r\n`), response, headersSent };
}

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} during a slow request lets it finish, then exits 0`, async () => {
      const gateway = await startGateway({ dataDir: join(tempDir(), "d") });
      const request = slowRequest(gateway.url);
      await request.headersSent;
      // Wait until the server is reading this request's body, then signal.
      await Bun.sleep(200);
      gateway.signal(signal);
      // The listener is closed for new connections while the old request runs (its body is still held back here):
      // waited for, as a fixed pause after the signal could end before a loaded machine had closed it.
      await waitFor("the listener to close", () => fetch(`${gateway.url}/healthz`).then(() => false, () => true));
      request.sendRest();
      // The connection is closed by the server once the reply is out (the promise waits for that), and the reply
      // says so beforehand: a client reusing the connection would otherwise get ECONNRESET. The reply before the drain did not.
      const [beforeDrain, duringDrain] = (await request.response).split(/(?=HTTP\/1\.1 )/);
      expect(beforeDrain).toStartWith("HTTP/1.1 200");
      expect(beforeDrain!.toLowerCase()).not.toContain("connection: close");
      expect(duringDrain).toStartWith("HTTP/1.1 401");
      expect(duringDrain).toContain('"error":"unauthorized"');
      expect(duringDrain!.toLowerCase()).toContain("connection: close");
      expect(await gateway.exited).toBe(0);
      expect(gateway.output()).toContain("shutting down");
      expect(gateway.output()).toContain("stopped");
    });
  }

  test("an admin API call running at SIGTERM is answered from the store, which stays open and the data directory locked until its reply is out", async () => {
    const dataDir = join(tempDir(), "d");
    const gateway = await startGateway({ dataDir });
    const request = slowRequest(gateway.url, {
      path: "/admin/api/tokens",
      headers: `Authorization: Bearer ${gateway.adminToken()}\r\nContent-Type: application/json\r\n`,
      body: ['{"user":', '"ada@example.com"}'],
    });
    await request.headersSent;
    // Wait until the server is reading this request's body, then signal.
    await Bun.sleep(200);
    gateway.signal("SIGTERM");
    await waitFor("the listener to close", () => fetch(`${gateway.url}/healthz`).then(() => false, () => true));
    // Before, the store closed (and the lock was released) as soon as no MCP call ran: a gateway started now served
    // too, and the first one's exit then removed the server.url that named it.
    const second = await startGateway({ dataDir }).then(
      async (started) => `it served too, at ${started.url} (exit ${await started.stop()})`,
      (error: Error) => error.message,
    );
    expect(second).toBe(
      `mintgate serve exited with 1 before listening:\nmintgate: A gateway is already serving from ${dataDir} at ${gateway.url}; stop it first (SIGTERM), or give this one another --data directory.\n`,
    );
    request.sendRest();
    // Before, the reply was a 500 ("Cannot use a closed database" in the log) and no token was made.
    const duringDrain = (await request.response).split(/(?=HTTP\/1\.1 )/)[1]!;
    expect(duringDrain).toStartWith("HTTP/1.1 201");
    const { id } = JSON.parse(duringDrain.slice(duringDrain.indexOf("\r\n\r\n") + 4)) as { id: string };
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).not.toContain("request failed");
    expect(existsSync(join(dataDir, "server.url"))).toBe(false);
    const listed = await runMintgate(["tokens", "list", "--json", "--data", dataDir]);
    expect((JSON.parse(listed.stdout) as { personal: { id: string }[] }).personal.map((token) => token.id)).toEqual([id]);
  });
});
