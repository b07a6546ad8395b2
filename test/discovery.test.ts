/**
 * The discovery surface as AI clients see it, against the real binary:
 * protected resource metadata, authorization server metadata, POST /register,
 * the 401 challenge, Origin/Host checks and CORS. One test per cross-client
 * rule of the checklist (§10, rules 1–15) that these parts cover.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runMintgate, startGateway, tempDir, type RunningGateway } from "./harness.ts";

const PUBLIC_URL = "https://mcp.example.com";

async function configuredDataDir(config: string): Promise<{ dataDir: string; token: string }> {
  const dataDir = join(tempDir("mintgate-discovery"), "data");
  expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
  const file = join(dataDir, "..", "mintgate.yaml");
  writeFileSync(file, config);
  const applied = await runMintgate(["apply", "-f", file, "--data", dataDir]);
  if (applied.code !== 0) throw new Error(applied.stderr);
  const created = await runMintgate(["tokens", "create", "--user", "ada@example.com", "--json", "--data", dataDir]);
  return { dataDir, token: (JSON.parse(created.stdout) as { token: string }).token };
}

const ONE = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - { slug: tools, name: Team tools, connectors: [ { connector: demo } ], access: { everyone: true } }
`;
const TWO = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - { slug: alpha, name: Alpha, connectors: [ { connector: demo } ], access: { everyone: true } }
  - { slug: beta, name: Beta, connectors: [ { connector: demo } ], access: { everyone: true } }
`;

const INITIALIZE = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

let one: RunningGateway;
let oneToken: string;
let two: RunningGateway;
let local: RunningGateway;

beforeAll(async () => {
  const a = await configuredDataDir(ONE);
  oneToken = a.token;
  one = await startGateway({ dataDir: a.dataDir, args: ["--public-url", PUBLIC_URL, "--allowed-origins", "https://app.example.org", "--allowed-hosts", "mintgate-internal", "--redirect-schemes", "windsurf"] });
  const b = await configuredDataDir(TWO);
  two = await startGateway({ dataDir: b.dataDir });
  // No --public-url: everything is derived from the listen URL.
  local = await startGateway({ dataDir: (await configuredDataDir(ONE)).dataDir });
});

afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop(), local?.stop()]);
});

const getJson = async (url: string, init?: RequestInit) => {
  const response = await fetch(url, init);
  expect(response.headers.get("content-type")).toStartWith("application/json");
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
};

describe("cross-client rules (checklist §10)", () => {
  test("1. PRM is served at the path-suffixed and the root URL with identical content", async () => {
    const suffixed = await getJson(`${one.url}/.well-known/oauth-protected-resource/mcp/tools`);
    const root = await getJson(`${one.url}/.well-known/oauth-protected-resource`);
    // Derived from a URL pasted with a trailing slash (`/mcp/tools/` reaches the endpoint too).
    const slashed = await getJson(`${one.url}/.well-known/oauth-protected-resource/mcp/tools/`);
    expect(suffixed.status).toBe(200);
    expect(root.status).toBe(200);
    expect(slashed.status).toBe(200);
    expect(root.body).toEqual(suffixed.body);
    expect(slashed.body).toEqual(suffixed.body);
  });

  test("2. resource is byte-equal to the MCP URL people type (the public URL + /mcp/<slug>)", async () => {
    const { body } = await getJson(`${one.url}/.well-known/oauth-protected-resource/mcp/tools`);
    expect(body).toEqual({
      resource: `${PUBLIC_URL}/mcp/tools`,
      authorization_servers: [PUBLIC_URL],
      scopes_supported: ["mcp"],
      bearer_methods_supported: ["header"],
      resource_name: "Team tools",
    });
    // Without --public-url, the listen URL is the public one.
    const derived = await getJson(`${local.url}/.well-known/oauth-protected-resource/mcp/tools`);
    expect(derived.body.resource).toBe(`${local.url}/mcp/tools`);
    expect(derived.body.authorization_servers).toEqual([local.url]);
  });

  test("3. the issuer is the bare origin and equals authorization_servers[0]", async () => {
    for (const gateway of [one, local]) {
      const prm = await getJson(`${gateway.url}/.well-known/oauth-protected-resource/mcp/tools`);
      const as = await getJson(`${gateway.url}/.well-known/oauth-authorization-server`);
      const issuer = as.body.issuer as string;
      expect(issuer).toBe(new URL(issuer).origin);
      expect(issuer.endsWith("/")).toBe(false);
      expect((prm.body.authorization_servers as string[])[0]).toBe(issuer);
    }
  });

  test("4. AS metadata at oauth-authorization-server and openid-configuration (and path-inserted forms), the same JSON", async () => {
    const a = await getJson(`${one.url}/.well-known/oauth-authorization-server`);
    expect(a.status).toBe(200);
    for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/mcp/tools", "/.well-known/openid-configuration/mcp/tools"]) {
      const other = await getJson(`${one.url}${path}`);
      expect(other.status, path).toBe(200);
      expect(other.body, path).toEqual(a.body);
    }
    expect(a.body).toMatchObject({
      issuer: PUBLIC_URL,
      authorization_endpoint: `${PUBLIC_URL}/authorize`,
      token_endpoint: `${PUBLIC_URL}/token`,
      registration_endpoint: `${PUBLIC_URL}/register`,
      revocation_endpoint: `${PUBLIC_URL}/revoke`,
      response_types_supported: ["code"],
      response_modes_supported: ["query"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      authorization_response_iss_parameter_supported: true,
    });
  });

  test("5. root /authorize, /token, /register and /revoke exist (never a 404)", async () => {
    for (const [method, path] of [["GET", "/authorize"], ["POST", "/token"], ["POST", "/register"], ["POST", "/revoke"]] as const) {
      const response = await fetch(`${one.url}${path}`, { method, ...(method === "POST" ? { body: "", headers: { "content-type": "application/x-www-form-urlencoded" } } : {}) });
      expect(response.status, path).not.toBe(404);
      expect(response.status, path).toBeLessThan(500);
    }
  });

  test("5b. GET, HEAD or PUT on /token, /register and /revoke is a JSON 405 naming POST, not a 404 that reads as no endpoint", async () => {
    for (const path of ["/token", "/register", "/revoke"]) {
      for (const method of ["GET", "HEAD", "PUT"]) {
        const response = await fetch(`${one.url}${path}`, { method });
        expect([path, method, response.status, response.headers.get("allow")]).toEqual([path, method, 405, "POST"]);
        expect(response.headers.get("content-type")).toStartWith("application/json");
      }
    }
  });

  test("6. code_challenge_methods_supported is [S256]", async () => {
    expect((await getJson(`${one.url}/.well-known/oauth-authorization-server`)).body.code_challenge_methods_supported).toEqual(["S256"]);
  });

  test("7. none and CIMD are both advertised (Claude uses CIMD only with both)", async () => {
    const { body } = await getJson(`${one.url}/.well-known/oauth-authorization-server`);
    expect(body.client_id_metadata_document_supported).toBe(true);
    expect(body.token_endpoint_auth_methods_supported).toEqual(["none", "client_secret_post", "client_secret_basic", "private_key_jwt"]);
    expect(body.revocation_endpoint_auth_methods_supported).toEqual(["none", "client_secret_post", "client_secret_basic", "private_key_jwt"]);
  });

  test("8. loopback on any port (127.0.0.1, [::1], localhost) and cursor:// register", async () => {
    const { status, body } = await getJson(`${one.url}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "Cursor", redirect_uris: ["cursor://anysphere.cursor-mcp/oauth/callback", "http://127.0.0.1:33418/", "http://[::1]:1234/cb", "http://localhost:3334/oauth/callback"] }),
    });
    expect(status).toBe(201);
    expect(body.redirect_uris).toHaveLength(4);
  });

  test("8b. more private-use schemes only when configured (--redirect-schemes); javascript: can never be one", async () => {
    const register = (gateway: RunningGateway) =>
      fetch(`${gateway.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: ["windsurf://codeium.windsurf/oauth/callback"] }) });
    expect((await register(one)).status).toBe(201);
    const refused = await register(local);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe("invalid_redirect_uri");
    const bad = await runMintgate(["serve", "--redirect-schemes", "javascript", "--data", tempDir("mintgate-bad-schemes")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("--redirect-schemes");
  });

  test("9. open DCR with integer timestamps, unknown metadata ignored, rate-limited", async () => {
    const { status, body } = await getJson(`${one.url}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "mcp-remote", redirect_uris: ["http://localhost:3334/oauth/callback"], token_endpoint_auth_method: "client_secret_basic", software_id: "x", resource: "ignored", whatever: [1] }),
    });
    expect(status).toBe(201);
    expect(Number.isInteger(body.client_id_issued_at)).toBe(true);
    expect(body.client_secret_expires_at).toBe(0);
    expect(body).not.toHaveProperty("whatever");
    // The limit (30 a minute per address) is hit from one address, as a JSON 429.
    let last: Response | undefined;
    for (let i = 0; i < 40 && last?.status !== 429; i++) {
      last = await fetch(`${two.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: ["https://a.example/cb"] }) });
    }
    expect(last!.status).toBe(429);
    expect(last!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await last!.json()) as { error: string }).error).toBe("temporarily_unavailable");
  });

  test("10. an unknown client at /token is 401 invalid_client", async () => {
    const { status, body } = await getJson(`${one.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", client_id: "mgc_unknown", code: "x", code_verifier: "y".repeat(43), redirect_uri: "http://localhost/cb" }),
    });
    expect(status).toBe(401);
    expect(body.error).toBe("invalid_client");
  });

  test("11. offline_access is advertised", async () => {
    expect((await getJson(`${one.url}/.well-known/oauth-authorization-server`)).body.scopes_supported).toEqual(["mcp", "offline_access"]);
  });

  test("12. JSON errors only: unknown well-known paths, bad registrations, unknown slugs", async () => {
    const cases: [string, RequestInit | undefined, number][] = [
      ["/.well-known/nothing", undefined, 404],
      ["/.well-known/oauth-protected-resource/mcp/nope", undefined, 404],
      ["/register", { method: "GET" }, 405],
      ["/register", { method: "POST", body: "not json", headers: { "content-type": "application/json" } }, 400],
      ["/register", { method: "POST", body: JSON.stringify({ redirect_uris: ["javascript:alert(1)"] }), headers: { "content-type": "application/json" } }, 400],
      ["/token", { method: "GET" }, 405],
    ];
    for (const [path, init, status] of cases) {
      const response = await getJson(`${one.url}${path}`, init);
      expect(response.status, path).toBe(status);
    }
    expect((await getJson(`${one.url}/register`, cases[4]![1])).body.error).toBe("invalid_redirect_uri");
  });

  test("13. CORS preflight (204, before auth) on PRM, AS metadata, /register, /token, /revoke and /mcp; none on /authorize", async () => {
    const origin = "http://localhost:6274";
    const preflight = (path: string) =>
      fetch(`${one.url}${path}`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, mcp-protocol-version" } });
    for (const path of ["/.well-known/oauth-protected-resource/mcp/tools", "/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/register", "/token", "/revoke", "/mcp/tools"]) {
      const response = await preflight(path);
      expect(response.status, path).toBe(204);
      expect(response.headers.get("access-control-allow-origin"), path).toBe(path === "/mcp/tools" ? origin : "*");
      expect(response.headers.get("access-control-allow-headers"), path).toBe("Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name");
      expect(response.headers.get("access-control-allow-methods"), path).toBe("GET, POST, DELETE, OPTIONS");
    }
    // Actual responses carry the headers too, so a browser can read them (and WWW-Authenticate).
    const metadata = await fetch(`${one.url}/.well-known/oauth-authorization-server`, { headers: { origin } });
    expect(metadata.headers.get("access-control-allow-origin")).toBe("*");
    const token = await fetch(`${one.url}/token`, { method: "POST", headers: { origin }, body: new URLSearchParams({ grant_type: "x" }) });
    expect(token.headers.get("access-control-allow-origin")).toBe("*");
    const mcp = await fetch(`${one.url}/mcp/tools`, { method: "POST", headers: { ...MCP_HEADERS, origin }, body: INITIALIZE });
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get("access-control-allow-origin")).toBe(origin);
    expect(mcp.headers.get("access-control-expose-headers")).toBe("WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version");
    // /authorize is a top-level navigation: no CORS.
    const authorize = await fetch(`${one.url}/authorize`, { method: "OPTIONS", headers: { origin } });
    expect(authorize.headers.get("access-control-allow-origin")).toBeNull();
    expect((await fetch(`${one.url}/authorize?client_id=x`, { headers: { origin } })).headers.get("access-control-allow-origin")).toBeNull();
  });

  // 14 (reachable for vendor egress: IPv4, port 443, no bot rules) is a deployment matter; README says so.
  // 15 (pinned vendor CIMD documents) is tested in oauth-clients.test.ts ("pinned vendor documents…").
});

describe("protected resource metadata with several virtual MCPs", () => {
  test("each slug has its own document and resource; the root is a JSON 404 naming the per-slug URLs", async () => {
    for (const slug of ["alpha", "beta"]) {
      const { status, body } = await getJson(`${two.url}/.well-known/oauth-protected-resource/mcp/${slug}`);
      expect(status).toBe(200);
      expect(body.resource).toBe(`${two.url}/mcp/${slug}`);
    }
    const root = await getJson(`${two.url}/.well-known/oauth-protected-resource`);
    expect(root.status).toBe(404);
    expect(root.body.message).toContain("/.well-known/oauth-protected-resource/mcp/<slug>");
  });
});

describe("the 401 challenge on /mcp/<slug>", () => {
  test("the very first initialize without a token gets 401 with an absolute resource_metadata and scope", async () => {
    const response = await fetch(`${one.url}/mcp/tools`, { method: "POST", headers: MCP_HEADERS, body: INITIALIZE });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/tools", scope="mcp"`);
    expect(response.headers.get("content-type")).toStartWith("application/json");
  });

  test("a bad token adds error=invalid_token; the legacy SSE routes challenge the same way", async () => {
    const bad = await fetch(`${one.url}/mcp/tools`, { method: "POST", headers: { ...MCP_HEADERS, authorization: "Bearer mgt_pat_nope" }, body: INITIALIZE });
    expect(bad.status).toBe(401);
    const challenge = bad.headers.get("www-authenticate")!;
    expect(challenge).toStartWith(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/tools", scope="mcp", error="invalid_token", error_description="`);
    // A client given the legacy URL gets the metadata of that URL: its resource must be the URL the client was given.
    for (const legacy of [fetch(`${one.url}/sse/tools`), fetch(`${one.url}/messages/tools?sessionId=x`, { method: "POST", body: "{}" })]) {
      const response = await legacy;
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/sse/tools", scope="mcp"`);
    }
    const { status, body } = await getJson(`${one.url}/.well-known/oauth-protected-resource/sse/tools`);
    expect(status).toBe(200);
    expect(body.resource).toBe(`${PUBLIC_URL}/sse/tools`);
    expect(body.authorization_servers).toEqual([PUBLIC_URL]);
  });

  test("a HEAD probe gets the GET's 401 challenge without a token and a 405 with one; other methods a 405 naming those served", async () => {
    const probe = await fetch(`${one.url}/mcp/tools`, { method: "HEAD" });
    expect(probe.status).toBe(401);
    expect(probe.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/tools", scope="mcp"`);
    const legacy = await fetch(`${one.url}/sse/tools`, { method: "HEAD" });
    expect(legacy.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/sse/tools", scope="mcp"`);
    const signedIn = await fetch(`${one.url}/mcp/tools`, { method: "HEAD", headers: { authorization: `Bearer ${oneToken}` } });
    expect([signedIn.status, signedIn.headers.get("allow")]).toEqual([405, "GET, POST, DELETE"]);
    for (const [method, path, allow] of [["PUT", "/mcp/tools", "GET, POST, DELETE"], ["PATCH", "/mcp/tools/", "GET, POST, DELETE"], ["POST", "/sse/tools", "GET"], ["GET", "/messages/tools", "POST"]]) {
      const response = await fetch(`${one.url}${path}`, { method, headers: { authorization: `Bearer ${oneToken}` } });
      expect([method, path, response.status, response.headers.get("allow")]).toEqual([method, path, 405, allow]);
      expect(response.headers.get("content-type")).toStartWith("application/json");
    }
  });

  test("tokens in the query string are refused even beside a valid header", async () => {
    const response = await fetch(`${one.url}/mcp/tools?access_token=${oneToken}`, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${oneToken}` }, body: INITIALIZE });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_request"');
    expect(((await response.json()) as { message: string }).message).toContain("Authorization: Bearer");
  });

  test("a valid token still works (no Origin, IP Host)", async () => {
    const response = await fetch(`${one.url}/mcp/tools`, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${oneToken}` }, body: INITIALIZE });
    expect(response.status).toBe(200);
  });

  test("an open session's id without a token gets the 401 challenge on POST, GET and DELETE: the session authenticates nothing, and lives on", async () => {
    const opened = await fetch(`${one.url}/mcp/tools`, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${oneToken}` }, body: INITIALIZE });
    await opened.body?.cancel();
    const session = { "mcp-session-id": opened.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-11-25" };
    const listTools = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    for (const method of ["POST", "GET", "DELETE"]) {
      const response = await fetch(`${one.url}/mcp/tools`, { method, headers: { ...MCP_HEADERS, ...session }, ...(method === "POST" ? { body: listTools } : {}) });
      expect([method, response.status, response.headers.get("www-authenticate")]).toEqual([method, 401, `Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/tools", scope="mcp"`]);
      await response.body?.cancel();
    }
    const withToken = await fetch(`${one.url}/mcp/tools`, { method: "POST", headers: { ...MCP_HEADERS, ...session, authorization: `Bearer ${oneToken}` }, body: listTools });
    expect(withToken.status).toBe(200);
    await withToken.body?.cancel();
  });
});

describe("Origin and Host checks on /mcp/<slug>", () => {
  const post = (headers: Record<string, string>) => fetch(`${one.url}/mcp/tools`, { method: "POST", headers: { ...MCP_HEADERS, authorization: `Bearer ${oneToken}`, ...headers }, body: INITIALIZE });

  test("an Origin not allowed is 403 JSON, even with a valid token", async () => {
    for (const origin of ["https://evil.example", "null", "https://claude.ai.evil.example", "http://localhost:9999"]) {
      const response = await post({ origin });
      expect(response.status, origin).toBe(403);
      expect(((await response.json()) as { error: string }).error).toBe("forbidden");
    }
  });

  test("the public origin, the defaults and --allowed-origins are allowed", async () => {
    for (const origin of [PUBLIC_URL, "https://claude.ai", "https://chatgpt.com", "http://localhost:6274", "https://app.example.org"]) {
      const response = await post({ origin });
      expect(response.status, origin).toBe(200);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      await response.body?.cancel();
    }
  });

  test("a Host that is not the gateway's (DNS rebinding) is 403; the public host and localhost are fine", async () => {
    expect((await post({ host: "evil.example.com" })).status).toBe(403);
    expect((await post({ host: "evil.example.com", origin: "http://evil.example.com" })).status).toBe(403);
    for (const host of ["mcp.example.com", `localhost:${new URL(one.url).port}`, "mintgate-internal:8080", "[::1]:8080"]) {
      const response = await post({ host });
      expect(response.status, host).toBe(200);
      await response.body?.cancel();
    }
  });
});

describe("Origin and Host checks on the legacy SSE routes and on preflights", () => {
  test("/sse/<slug> and /messages/<slug> refuse a foreign Origin or Host before authentication; a foreign preflight is 403", async () => {
    expect((await fetch(`${one.url}/sse/tools`, { headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect((await fetch(`${one.url}/messages/tools?sessionId=x`, { method: "POST", headers: { host: "evil.example.com" }, body: "{}" })).status).toBe(403);
    const preflight = await fetch(`${one.url}/mcp/tools`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("admin API: /admin/api/clients", () => {
  test("add, list and remove clients with the admin token", async () => {
    const headers = { authorization: `Bearer ${one.adminToken()}`, "content-type": "application/json" };
    expect((await fetch(`${one.url}/admin/api/clients`)).status).toBe(401);
    const added = await fetch(`${one.url}/admin/api/clients`, { method: "POST", headers, body: JSON.stringify({ name: "Predefined", redirectUris: ["https://app.example.com/cb"] }) });
    expect(added.status).toBe(201);
    const { clientId, clientSecret } = (await added.json()) as { clientId: string; clientSecret: string };
    expect(clientSecret).toMatch(/^mgcs_/);
    const listed = (await (await fetch(`${one.url}/admin/api/clients`, { headers })).json()) as { clientId: string; kind: string }[];
    expect(listed.find((c) => c.clientId === clientId)?.kind).toBe("static");
    expect(JSON.stringify(listed)).not.toContain(clientSecret);
    const bad = await fetch(`${one.url}/admin/api/clients`, { method: "POST", headers, body: JSON.stringify({ name: "Bad", redirectUris: ["http://evil.example/cb"] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain("https");
    expect((await fetch(`${one.url}/admin/api/clients/${clientId}`, { method: "DELETE", headers })).status).toBe(200);
    expect((await fetch(`${one.url}/admin/api/clients/${clientId}`, { method: "DELETE", headers })).status).toBe(404);
  });
});

describe("conformance suite 0.2 (conformance-next): authorization server scenarios", () => {
  // authorization-code-grant needs a person to sign in (it prints the /authorize URL and waits for
  // a browser), which test/oauth-flow.test.ts does with its own browser stand-in. The metadata scenario needs only discovery.
  test("authorization-server-metadata-endpoint passes against the issuer", async () => {
    const cli = join(dirname(Bun.resolveSync("@modelcontextprotocol/conformance-next/package.json", import.meta.dir)), "dist", "index.js");
    const issuer = (await getJson(`${local.url}/.well-known/oauth-authorization-server`)).body.issuer as string;
    const outputDir = tempDir("mintgate-conformance-as");
    const child = Bun.spawn([process.execPath, cli, "authorization", "--url", issuer, "--scenario", "authorization-server-metadata-endpoint", "-o", outputDir], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(code, stdout + stderr).toBe(0);
    const [dir] = readdirSync(outputDir).filter((d) => d.startsWith("authorization-server-authorization-server-metadata-endpoint-"));
    const checks = JSON.parse(readFileSync(join(outputDir, dir!, "checks.json"), "utf8")) as { id: string; status: string }[];
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ["authorization-server-metadata", "SUCCESS"],
      ["authorization-server-metadata-cimd", "SUCCESS"],
    ]);
  });
});
