/**
 * mintgate's authorization server end to end: the official MCP SDK client
 * discovers, registers, sends the person's browser (a ScriptedBrowser) through
 * sign-in and consent, exchanges the code and calls tools; then each way a
 * request must be refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { configuredDataDir, runMintgate, startGateway, type RunningGateway } from "./harness.ts";
import { ScriptedBrowser, type Page } from "./fixtures/browser.ts";
import { approveInBrowser, localSignIn, MemoryOAuthProvider } from "./fixtures/oauth-client.ts";

const CONFIG = {
  connectors: [{ name: "demo", kind: "builtin", server: "demo" }],
  virtualMcps: [
    // cat may use alpha alone, dan none: what a client that names no Virtual MCP gets depends on it.
    { slug: "alpha", name: "Alpha tools", access: { users: ["ann@example.com", "bob@example.com", "cat@example.com"] }, connectors: [{ connector: "demo" }] },
    { slug: "beta", name: "Beta tools", access: { users: ["ann@example.com", "bob@example.com"] }, connectors: [{ connector: "demo" }] },
    { slug: "gamma", name: "Gamma tools", access: { users: ["bob@example.com"] }, connectors: [{ connector: "demo" }] },
  ],
};
const PASSWORD = "correct horse battery staple";
const REDIRECT = "http://127.0.0.1:9/callback";

let gateway: RunningGateway;
let dataDir: string;

beforeAll(async () => {
  dataDir = await configuredDataDir(CONFIG, { label: "mintgate-oauth", people: ["ann", "bob", "cat", "dan"].map((name) => ({ email: `${name}@example.com`, password: PASSWORD })) });
  gateway = await startGateway({ dataDir, args: ["--access-token-ttl", "3s"] });
});

afterAll(async () => {
  await gateway?.stop();
});

/** The SDK's OAuth dance for one person; returns the connected client and its provider. */
async function signInWithSdk(slug: string, email: string, options: { browser?: ScriptedBrowser; provider?: MemoryOAuthProvider; on?: RunningGateway } = {}) {
  const on = options.on ?? gateway;
  const url = new URL(`${on.url}/mcp/${slug}`);
  const provider = options.provider ?? new MemoryOAuthProvider(REDIRECT);
  const browser = options.browser ?? new ScriptedBrowser();
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const client = new Client({ name: "oauth-test", version: "1.0.0" });
  const failed = await client.connect(first).then(() => undefined, (error: unknown) => error);
  expect(failed).toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrl).toBeDefined();
  const { callback, sawConsent } = await approveInBrowser(browser, provider.authorizationUrl!, provider.redirectUrl, localSignIn(browser, email, PASSWORD));
  expect(callback.searchParams.get("iss")).toBe(new URL(on.url).origin);
  expect(callback.searchParams.get("state")).toBe(provider.authorizationUrl!.searchParams.get("state"));
  await first.finishAuth(callback.searchParams.get("code")!);
  const connected = new Client({ name: "oauth-test", version: "1.0.0" });
  await connected.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { client: connected, provider, browser, sawConsent };
}

/** POSTs to /token; a list of pairs sends a parameter more than once. */
async function token(form: Record<string, string> | [string, string][], headers: Record<string, string> = {}) {
  const response = await fetch(`${gateway.url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

async function registerClient(redirectUri = REDIRECT, name = "Raw test client"): Promise<string> {
  const response = await fetch(`${gateway.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: name, redirect_uris: [redirectUri] }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { client_id: string }).client_id;
}

/** A client an admin added (`mintgate clients add`), whose redirect URI the gateway trusts; added once, on first use. */
let adminAdded: Promise<string> | undefined;
const adminClient = () =>
  (adminAdded ??= runMintgate(["clients", "add", "--name", "Admin-added client", "--redirect-uri", REDIRECT, "--public", "--json", "--data", dataDir]).then((added) => {
    expect(added.code, added.stderr).toBe(0);
    return (JSON.parse(added.stdout) as { clientId: string }).clientId;
  }));

function pkce() {
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const challenge = new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

function authorizeUrl(clientId: string, params: Record<string, string | undefined>): URL {
  const url = new URL(`${gateway.url}/authorize`);
  const all: Record<string, string | undefined> = { response_type: "code", client_id: clientId, redirect_uri: REDIRECT, state: "s-1", resource: `${gateway.url}/mcp/alpha`, ...params };
  for (const [key, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(key, value);
  return url;
}

/** The /authorize URL of a client that sends no `resource`, as 2025-03-26 clients and mcp-remote --disable-resource-parameter do. */
const withoutResource = (clientId: string, challenge: string, params: Record<string, string> = {}) =>
  authorizeUrl(clientId, { resource: undefined, code_challenge: challenge, code_challenge_method: "S256", ...params });

/** The Virtual MCPs a consent page lets the person choose from (none when it names the one being approved). */
const choicesOn = (page: Page) => [...page.html.matchAll(/<input type="radio" name="virtual_mcp" value="([^"]*)"/g)].map((match) => match[1]);

const reachedClient = (url: URL) => url.href.startsWith(REDIRECT);

/** Signs a person (ann unless told) in through raw HTTP (no SDK) and returns the code sent back to the client. */
async function codeFor(clientId: string, challenge: string, browser = new ScriptedBrowser(), email = "ann@example.com"): Promise<string> {
  const { callback } = await approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256" }), REDIRECT, localSignIn(browser, email, PASSWORD));
  return callback.searchParams.get("code")!;
}

/** A newly registered client signed in as `email`: its id and the token endpoint's answer. */
async function signedInClient(email: string): Promise<{ clientId: string; tokens: Record<string, unknown> }> {
  const clientId = await registerClient();
  const { verifier, challenge } = pkce();
  const code = await codeFor(clientId, challenge, new ScriptedBrowser(), email);
  const issued = await token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT });
  return { clientId, tokens: issued.body };
}

const mcpStatus = async (slug: string, accessToken: string) =>
  (
    await fetch(`${gateway.url}/mcp/${slug}`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
    })
  ).status;

describe("signing in an AI client", () => {
  test("the SDK client discovers, registers, signs ann in, gets her consent and calls a tool; the next sign-in skips consent", async () => {
    const browser = new ScriptedBrowser();
    const { client, provider, sawConsent } = await signInWithSdk("alpha", "ann@example.com", { browser });
    expect(sawConsent).toBe(true);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain("demo__echo");
    const result = await client.callTool({ name: "demo__echo", arguments: { text: "hi from ann" } });
    expect(JSON.stringify(result.content)).toContain("hi from ann");
    expect(provider.tokens()?.refresh_token).toMatch(/^mgt_rt_/);
    await client.close();

    // Same person, same client, a new sign-in: approved before, so no consent page this time.
    const again = await signInWithSdk("alpha", "ann@example.com", { browser, provider: new MemoryOAuthProvider(REDIRECT) });
    // A new provider registers a new client (as Claude does), so consent is asked again for it...
    expect(again.sawConsent).toBe(true);
    await again.client.close();
    // ...but the same client signing in again goes straight back.
    const same = await approveInBrowser(browser, authorizeUrl(provider.clientInformation()!.client_id, { ...(() => { const p = pkce(); return { code_challenge: p.challenge, code_challenge_method: "S256" }; })() }), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    expect(same.sawConsent).toBe(false);
  });

  test("clients named by their metadata document (Claude Code, VS Code) sign in through the SDK's CIMD path on a loopback port of their own, as public clients, and call a tool", async () => {
    // The vendors' hosts do not resolve here, so the copies built into the binary stand in for the live documents.
    // A gateway of its own: each request naming a document fetches it again (a failure is never cached), and those
    // fetches count against the address's registration budget, which the other tests here use up.
    const own = await startGateway({ dataDir: await configuredDataDir(CONFIG, { label: "mintgate-oauth-cimd", people: [{ email: "ann@example.com", password: PASSWORD }] }) });
    try {
      for (const [clientMetadataUrl, redirect, name] of [
        ["https://claude.ai/oauth/claude-code-client-metadata", "http://localhost:53117/callback", "Claude Code"],
        ["https://vscode.dev/oauth/client-metadata.json", "http://127.0.0.1:53118/", "Visual Studio Code"],
      ] as const) {
        const provider = new MemoryOAuthProvider(redirect, {}, { clientMetadataUrl });
        const { client, sawConsent } = await signInWithSdk("alpha", "ann@example.com", { provider, on: own });
        expect(sawConsent).toBe(true);
        // No registration: the document's URL is the client id.
        expect(provider.clientInformation()).toMatchObject({ client_id: clientMetadataUrl });
        expect(provider.authorizationUrl!.searchParams.get("client_id")).toBe(clientMetadataUrl);
        const result = await client.callTool({ name: "demo__echo", arguments: { text: `hi from ${name}` } });
        expect(JSON.stringify(result.content)).toContain(`hi from ${name}`);
        expect(provider.tokens()?.refresh_token).toMatch(/^mgt_rt_/);
        await client.close();
      }
    } finally {
      await own.stop();
    }
  });

  test("a legacy HTTP+SSE client given /sse/<slug> (mcp-remote --transport sse-only) signs in and calls a tool", async () => {
    // The SDK accepts protected resource metadata only when its resource is the URL it was given (or a prefix of it).
    const url = new URL(`${gateway.url}/sse/alpha`);
    const provider = new MemoryOAuthProvider(REDIRECT);
    const first = new SSEClientTransport(url, { authProvider: provider });
    const failed = await new Client({ name: "oauth-test", version: "1.0.0" }).connect(first).then(() => undefined, (error: unknown) => error);
    expect(failed).toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl?.searchParams.get("resource")).toBe(`${gateway.url}/sse/alpha`);
    const browser = new ScriptedBrowser();
    const { callback } = await approveInBrowser(browser, provider.authorizationUrl!, REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    await first.finishAuth(callback.searchParams.get("code")!);
    const client = new Client({ name: "oauth-test", version: "1.0.0" });
    await client.connect(new SSEClientTransport(url, { authProvider: provider }));
    const result = await client.callTool({ name: "demo__echo", arguments: { text: "over sse" } });
    expect(JSON.stringify(result.content)).toContain("over sse");
    await client.close();
    // The token is for the Virtual MCP alpha, whichever of its endpoints named it: Streamable HTTP takes it too, beta does not.
    expect(await mcpStatus("alpha", provider.tokens()!.access_token)).toBe(200);
    expect(await mcpStatus("beta", provider.tokens()!.access_token)).toBe(401);
  });

  test("a wrong password shows the sign-in page again with the reason and issues nothing", async () => {
    const clientId = await registerClient();
    const browser = new ScriptedBrowser();
    const { challenge } = pkce();
    const page = await browser.open(authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256" }));
    const after = await browser.submit(page, { match: (f) => f.action.endsWith("/login") }, { email: "ann@example.com", password: "not the password" });
    expect(after.status).toBe(401);
    expect(after.html).toContain("The email or password is not right.");
    expect(browser.redirectsSeen.some((u) => u.href.startsWith(REDIRECT))).toBe(false);
  });
});

describe("refused at /authorize", () => {
  test("a self-registered client's bad request is shown on the gateway's page, not redirected (RFC 9700 §4.11.2); an admin-added client's goes back with iss; a bad redirect URI or client is a page for both", async () => {
    // Anyone may register a client whose redirect URI is their phishing site, then send people /authorize links meant to fail.
    const PHISHING = "https://phish.example/cb";
    const phishing = await registerClient(PHISHING, "Totally Claude");
    const added = await adminClient();
    const { challenge } = pkce();
    const s256 = { code_challenge: challenge, code_challenge_method: "S256" };
    const cases: [Record<string, string | undefined>, string, string][] = [
      [{}, "invalid_request", "PKCE is required"],
      [{ code_challenge: challenge, code_challenge_method: "plain" }, "invalid_request", "S256"],
      // Sent empty is not sent (RFC 6749 §3.1): no method is plain, no response_type a missing parameter (§4.1.2.1).
      [{ code_challenge: challenge, code_challenge_method: "" }, "invalid_request", "plain"],
      [{ ...s256, response_type: undefined }, "invalid_request", "has no response_type"],
      [{ ...s256, response_type: "" }, "invalid_request", "has no response_type"],
      [{ ...s256, state: undefined }, "invalid_request", "has no state"],
      [{ ...s256, response_type: "token" }, "unsupported_response_type", "response_type=code"],
      [{ ...s256, resource: "https://elsewhere.example/mcp/x" }, "invalid_target", "not a virtual MCP"],
      [{ ...s256, prompt: "none" }, "login_required", "Nobody is signed in"],
    ];
    for (const [params, error, expected] of cases) {
      const shown = await fetch(authorizeUrl(phishing, { redirect_uri: PHISHING, ...params }), { redirect: "manual" });
      expect([shown.status, shown.headers.get("location")], expected).toEqual([400, null]);
      expect(shown.headers.get("content-type")).toContain("text/html");
      // The page names the client and the problem, and leads nowhere: no link, not even the redirect URI's address.
      const html = await shown.text();
      expect(html).toContain(`&quot;Totally Claude&quot; (${phishing})`);
      expect(html).toContain(expected);
      expect(html).not.toContain("phish.example");
      expect(html).not.toMatch(/<a\s|href=|http-equiv/i);

      const back = await fetch(authorizeUrl(added, params), { redirect: "manual" });
      expect(back.status, expected).toBe(303);
      const location = new URL(back.headers.get("location")!);
      expect(location.origin + location.pathname).toBe(REDIRECT);
      expect(location.searchParams.get("error")).toBe(error);
      expect(location.searchParams.get("error_description")).toContain(expected);
      expect(location.searchParams.get("state")).toBe(params.state === undefined && "state" in params ? null : "s-1");
      expect(location.searchParams.get("iss")).toBe(new URL(gateway.url).origin);
    }
    // A program asking for JSON (not a browser that could be sent on) still gets the OAuth error code.
    const asJson = await fetch(authorizeUrl(phishing, { redirect_uri: PHISHING, ...s256, response_type: "token" }), { redirect: "manual", headers: { accept: "application/json" } });
    expect([asJson.status, asJson.headers.get("location"), ((await asJson.json()) as Record<string, string>).error]).toEqual([400, null, "unsupported_response_type"]);
    for (const params of [{ redirect_uri: "https://attacker.example/cb" }, { client_id: "mgc_unknown" }, { redirect_uri: "http://127.0.0.1:9/other" }]) {
      const response = await fetch(authorizeUrl(added, { code_challenge: challenge, code_challenge_method: "S256", ...params }), { redirect: "manual" });
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.get("content-type")).toContain("text/html");
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
  });

  test("a program asking for JSON (mcp-remote checking a cached client) gets the OAuth error as JSON; a removed client is told to register again", async () => {
    const clientId = await registerClient();
    expect((await runMintgate(["clients", "remove", clientId, "--data", dataDir])).code).toBe(0);
    const { challenge } = pkce();
    const asJson = { redirect: "manual" as const, headers: { accept: "application/json" } };
    const removed = await fetch(authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256" }), asJson);
    expect(removed.status).toBe(401);
    expect(removed.headers.get("location")).toBeNull();
    const body = (await removed.json()) as Record<string, string>;
    expect(body.error).toBe("invalid_client");
    expect(body.registration_endpoint).toBe(`${gateway.url}/register`);
    // What mcp-remote's stale-registration check matches before it registers anew.
    expect(body.error_description).toMatch(/\bclient(?:\s+id)?\b\s+(?:['"][^'"]+['"]\s+)?is\s+not[\s-]+registered\b/i);
    // A bad redirect URI is never followed, in JSON too.
    const badRedirect = await fetch(authorizeUrl(await registerClient(), { code_challenge: challenge, code_challenge_method: "S256", redirect_uri: "https://attacker.example/cb" }), asJson);
    expect(badRedirect.status).toBe(400);
    expect(badRedirect.headers.get("location")).toBeNull();
    expect(((await badRedirect.json()) as Record<string, string>).error).toBe("invalid_request");
    // A browser still gets the page.
    const browser = await fetch(authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256" }), { redirect: "manual", headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" } });
    expect(browser.status).toBe(400);
    expect(browser.headers.get("content-type")).toContain("text/html");
  });
});

/** RFC 6749 §4.1.2.1 / §5.2: an error_description is printable ASCII without `"` and `\`. */
const RFC6749_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

describe("parameters sent more than once at /authorize", () => {
  test("several resources for different Virtual MCPs go back to the client as invalid_target; the same one twice is taken; other repeats are invalid_request", async () => {
    // An admin-added client: a self-registered one would get these on the gateway's page (see "refused at /authorize").
    const clientId = await adminClient();
    const { challenge } = pkce();
    const authorize = async (extra: [string, string][]) => {
      const url = authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256", resource: undefined });
      for (const [name, value] of extra) url.searchParams.append(name, value);
      const response = await fetch(url, { redirect: "manual" });
      expect(response.status).toBe(303);
      return new URL(response.headers.get("location")!, gateway.url);
    };
    // RFC 8707 allows several resources; a token here is for one Virtual MCP, so the client is told.
    const two = await authorize([["resource", `${gateway.url}/mcp/alpha`], ["resource", `${gateway.url}/mcp/beta`]]);
    expect(reachedClient(two)).toBe(true);
    expect(two.searchParams.get("error")).toBe("invalid_target");
    expect(two.searchParams.get("state")).toBe("s-1");
    expect(two.searchParams.get("iss")).toBe(new URL(gateway.url).origin);
    // One Virtual MCP named twice (with and without a trailing slash) is one audience: on to sign-in.
    const same = await authorize([["resource", `${gateway.url}/mcp/alpha`], ["resource", `${gateway.url}/mcp/alpha/`]]);
    expect(same.pathname).toBe("/login");
    // A repeated PKCE method (S256 then plain) is refused, not read as its first value.
    const methods = await authorize([["resource", `${gateway.url}/mcp/alpha`], ["code_challenge_method", "plain"]]);
    expect(reachedClient(methods)).toBe(true);
    expect(methods.searchParams.get("error")).toBe("invalid_request");
    expect(methods.searchParams.get("error_description")).toContain("code_challenge_method");
    // The description quotes what the client sent; on the wire it keeps to RFC 6749's characters.
    const odd = await authorize([["resource", `https://elsewhere.example/mcp/"caf\u00e9"\\x`]]);
    expect(odd.searchParams.get("error")).toBe("invalid_target");
    expect(odd.searchParams.get("error_description")).toMatch(RFC6749_DESCRIPTION);
    expect(odd.searchParams.get("error_description")).toContain("'cafe'/x");
  });
});

describe("refused at /token", () => {
  test("a wrong code_verifier; a reused code, which also revokes the tokens it issued; an unknown client gets 401 invalid_client", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const code = await codeFor(clientId, challenge);
    const wrong = await token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: pkce().verifier, redirect_uri: REDIRECT });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe("invalid_grant");
    expect(wrong.headers.get("cache-control")).toBe("no-store");

    const code2 = await codeFor(clientId, challenge);
    const good = await token({ grant_type: "authorization_code", client_id: clientId, code: code2, code_verifier: verifier, redirect_uri: REDIRECT, resource: `${gateway.url}/mcp/alpha` });
    expect(good.status).toBe(200);
    expect(good.body.token_type).toBe("Bearer");
    expect(await mcpStatus("alpha", good.body.access_token as string)).toBe(200);
    const reused = await token({ grant_type: "authorization_code", client_id: clientId, code: code2, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe("invalid_grant");
    expect(await mcpStatus("alpha", good.body.access_token as string)).toBe(401);
    const refreshAfterReuse = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: good.body.refresh_token as string });
    expect(refreshAfterReuse.body.error).toBe("invalid_grant");

    const unknown = await token({ grant_type: "authorization_code", client_id: "mgc_no_such_client", code: "x", code_verifier: verifier });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe("invalid_client");
    // Descriptions that quote what was sent keep to RFC 6749's characters (no `"`).
    const password = await token({ grant_type: "password", client_id: clientId });
    expect(password.body.error).toBe("unsupported_grant_type");
    expect(password.body.error_description).toMatch(RFC6749_DESCRIPTION);
    expect(password.body.error_description).toContain("'password'");
  });

  test("a wrong Basic secret at /token and /revoke is recorded naming the client it claimed to be, and the guessed secret is kept nowhere", async () => {
    // A confidential client an admin added: it authenticates with client_secret_basic, and adds nothing to the registration limit.
    const added = await runMintgate(["clients", "add", "--name", "Confidential client", "--redirect-uri", REDIRECT, "--json", "--data", dataDir]);
    expect(added.code, added.stderr).toBe(0);
    const { clientId } = JSON.parse(added.stdout) as { clientId: string };
    const guess = `mgcs_guess_${crypto.randomUUID()}`;
    const basic = { authorization: `Basic ${Buffer.from(`${clientId}:${guess}`).toString("base64")}` };
    const refused = await token({ grant_type: "refresh_token", refresh_token: "mgt_rt_unknown" }, basic);
    expect([refused.status, refused.body.error]).toEqual([401, "invalid_client"]);
    const revoke = await fetch(`${gateway.url}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...basic }, body: new URLSearchParams({ token: "mgt_at_unknown" }) });
    expect(revoke.status).toBe(401);

    const response = await fetch(`${gateway.url}/admin/api/auth-events?type=token_refused&client=${encodeURIComponent(clientId)}`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    const text = await response.text();
    const events = JSON.parse(text) as { clientId: string | null; reason: string | null; detail: string | null }[];
    expect(events.map((e) => [e.reason, e.detail && JSON.parse(e.detail).endpoint])).toEqual([
      ["The client secret is not valid.", "/revoke"],
      ["The client secret is not valid.", null],
    ]);
    expect(text).not.toContain(guess);
    expect(gateway.output()).toContain(clientId);
    expect(gateway.output()).not.toContain(guess);
    for (const name of readdirSync(dataDir, { recursive: true, encoding: "utf8" })) {
      const path = join(dataDir, name);
      if (statSync(path).isFile()) expect(readFileSync(path).includes(guess), name).toBe(false);
    }
  });

  test("a code exchange without the redirect_uri used at /authorize is invalid_request (RFC 6749 §4.1.3) and leaves the code usable", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const code = await codeFor(clientId, challenge);
    const without = await token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier });
    expect([without.status, without.body.error]).toEqual([400, "invalid_request"]);
    expect(without.body.error_description).toContain("redirect_uri");
    expect((await token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT })).status).toBe(200);
  });

  test("a code issued just before a password reset, an approval's revocation or a disable is not exchanged after it: no sign-in outlives the revocation, nor comes back on enable", async () => {
    const clientId = await adminClient();
    const exchange = (code: string, verifier: string) => token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT });
    const revokedBefore = async (email: string, revoke: string[], stdin?: string) => {
      const { verifier, challenge } = pkce();
      const code = await codeFor(clientId, challenge, new ScriptedBrowser(), email);
      const revoked = await runMintgate([...revoke, "--data", dataDir], { stdin });
      expect(revoked.code, revoked.stderr).toBe(0);
      return exchange(code, verifier);
    };
    // A thief's code, taken with the stolen password a moment before the reset.
    const afterReset = await revokedBefore("ann@example.com", ["users", "set-password", "ann@example.com"], `${PASSWORD}\n`);
    expect([afterReset.status, afterReset.body.error, afterReset.body.error_description]).toEqual([400, "invalid_grant", "The authorization code has expired; start the sign-in again."]);
    const afterConsentRevoked = await revokedBefore("cat@example.com", ["consents", "revoke", "--user", "cat@example.com", "--client", clientId]);
    expect([afterConsentRevoked.status, afterConsentRevoked.body.error]).toEqual([400, "invalid_grant"]);
    const afterDisable = await revokedBefore("cat@example.com", ["users", "disable", "cat@example.com"]);
    expect([afterDisable.status, afterDisable.body.error]).toEqual([400, "invalid_grant"]);
    expect((await runMintgate(["users", "enable", "cat@example.com", "--data", dataDir])).code).toBe(0);
    // Codes of other people and clients are left alone: the next sign-in's code is exchanged as usual.
    const { verifier, challenge } = pkce();
    expect((await exchange(await codeFor(clientId, challenge, new ScriptedBrowser(), "cat@example.com"), verifier)).status).toBe(200);
  });

  test("a parameter sent empty counts as not sent (RFC 6749 §3.2): a public client's empty client_secret is no secret, an empty redirect_uri a missing one", async () => {
    // The admin-added public client (this file's registrations are near the per-address limit already), approved by cat,
    // whom no other test signs in to it: ann and bob must still see its consent page.
    const clientId = await adminClient();
    const { verifier, challenge } = pkce();
    const code = await codeFor(clientId, challenge, new ScriptedBrowser(), "cat@example.com");
    // Form encoders that write every field of a client's record send `client_secret=` for a public client.
    const empty = { client_secret: "", client_assertion: "", client_assertion_type: "" };
    const noRedirect = await token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: "", ...empty });
    expect([noRedirect.status, noRedirect.body.error]).toEqual([400, "invalid_request"]);
    expect(noRedirect.body.error_description).toContain("no redirect_uri");
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT, ...empty });
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    const revoked = await fetch(`${gateway.url}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: clientId, token: issued.body.access_token as string, token_type_hint: "", ...empty }) });
    expect(revoked.status).toBe(200);
    expect(await mcpStatus("alpha", issued.body.access_token as string)).toBe(401);
  });

  test("a resource other than the one granted is invalid_target (RFC 8707), at the code exchange and at refresh, and costs nothing; the granted one may be repeated, as at /authorize, different ones may not", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const code = await codeFor(clientId, challenge);
    const exchange = { grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT };
    const alpha = `${gateway.url}/mcp/alpha`;
    const beta = `${gateway.url}/mcp/beta`;
    const otherAtExchange = await token({ ...exchange, resource: beta });
    expect([otherAtExchange.status, otherAtExchange.body.error]).toEqual([400, "invalid_target"]);
    expect(otherAtExchange.body.error_description).toContain("differs from the one the code was issued for");
    const severalAtExchange = await token([...Object.entries(exchange), ["resource", alpha], ["resource", beta]]);
    expect([severalAtExchange.status, severalAtExchange.body.error, severalAtExchange.body.error_description]).toEqual([400, "invalid_target", "A token is for one virtual MCP; send one resource (its URL) per sign-in."]);
    // One Virtual MCP named twice (with and without a trailing slash) is one audience.
    const issued = await token([...Object.entries(exchange), ["resource", alpha], ["resource", `${alpha}/`]]);
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    const refresh = { grant_type: "refresh_token", client_id: clientId, refresh_token: issued.body.refresh_token as string };
    const otherAtRefresh = await token({ ...refresh, resource: beta });
    expect([otherAtRefresh.status, otherAtRefresh.body.error]).toEqual([400, "invalid_target"]);
    const elsewhere = await token({ ...refresh, resource: "https://other-gateway.example/mcp/alpha" });
    expect(elsewhere.body.error).toBe("invalid_target");
    const severalAtRefresh = await token([...Object.entries(refresh), ["resource", alpha], ["resource", beta]]);
    expect([severalAtRefresh.body.error, severalAtRefresh.body.error_description]).toEqual(["invalid_target", "A token is for one virtual MCP; send one resource (its URL) per sign-in."]);
    // Any other parameter sent twice is still refused: which one would count?
    const twice = await token([...Object.entries(refresh), ["refresh_token", "mgt_rt_other"]]);
    expect([twice.status, twice.body.error, twice.body.error_description]).toEqual([400, "invalid_request", "The parameter refresh_token was sent more than once."]);
    // The refresh token was not used up by the refusals.
    expect((await token([...Object.entries(refresh), ["resource", alpha], ["resource", alpha]])).status).toBe(200);
  });

  test("refresh tokens rotate; an old one coming back after its successor was used revokes the whole family", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const first = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge), code_verifier: verifier, redirect_uri: REDIRECT });
    const a = first.body.refresh_token as string;
    const second = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: a, resource: `${gateway.url}/mcp/alpha` });
    expect(second.status).toBe(200);
    const b = second.body.refresh_token as string;
    expect(b).not.toBe(a);
    // A retry of `a` right away (the client lost the answer) is tolerated while `b` is unused; `b` is abandoned for its answer.
    const retry = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: a });
    expect([retry.status, retry.body.error_description]).toEqual([200, undefined]);
    const third = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: retry.body.refresh_token as string });
    expect(third.status).toBe(200);
    const replay = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: a });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    expect(String(replay.body.error_description)).toContain("revoked");
    expect(await mcpStatus("alpha", third.body.access_token as string)).toBe(401);
    const afterFamily = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: third.body.refresh_token as string });
    expect(afterFamily.body.error).toBe("invalid_grant");
  });

  test("a retried refresh abandons the earlier answer: that token coming back (a forked family) revokes the whole sign-in", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const first = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge), code_verifier: verifier, redirect_uri: REDIRECT });
    const a = first.body.refresh_token as string;
    const b = (await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: a })).body.refresh_token as string;
    const c = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: a });
    expect(c.status).toBe(200);
    // Two holders of one family: whoever presents the abandoned token ends it for both.
    const forked = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: b });
    expect(forked.body.error).toBe("invalid_grant");
    expect(String(forked.body.error_description)).toContain("replaced by a retried refresh");
    expect((await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: c.body.refresh_token as string })).body.error).toBe("invalid_grant");
    expect(await mcpStatus("alpha", c.body.access_token as string)).toBe(401);
    expect((await token({ client_id: clientId, refresh_token: a })).body.error).toBe("invalid_request");
  });
});

describe("the browser and the approval", () => {
  test("a sign-in form posted from another browser (login CSRF) is refused: the flow belongs to the browser that started it", async () => {
    const clientId = await registerClient();
    const attacker = new ScriptedBrowser();
    const page = await attacker.open(authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256" }));
    const flow = new URL(attacker.redirectsSeen.at(-1) ?? page.url).searchParams.get("flow");
    expect(flow).toBeTruthy();
    // The victim's browser posts the attacker's flow and credentials (a cross-site form carries no SameSite=Lax cookie).
    const forged = await fetch(`${gateway.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: new URLSearchParams({ flow: flow!, email: "bob@example.com", password: PASSWORD }),
    });
    expect(forged.status).toBe(400);
    expect(forged.headers.get("set-cookie")).toBeNull();
    expect(await forged.text()).toContain("in another browser");
  });

  test("an approval is per Virtual MCP, and prompt=consent asks again; one revoked, then given for another Virtual MCP, does not approve the first again", async () => {
    const clientId = await registerClient();
    const browser = new ScriptedBrowser();
    const signIn = (params: Record<string, string>) => approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256", ...params }), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    const first = await signIn({});
    expect(first.sawConsent).toBe(true);
    // The code must be exchanged for the approval to count (the grant is made then).
    expect((await token({ grant_type: "authorization_code", client_id: clientId, code: first.callback.searchParams.get("code")!, code_verifier: "x".repeat(43), redirect_uri: REDIRECT })).status).toBe(400);
    const { verifier, challenge } = pkce();
    const approved = await approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256" }), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    expect((await token({ grant_type: "authorization_code", client_id: clientId, code: approved.callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT })).status).toBe(200);
    expect((await signIn({})).sawConsent).toBe(false);
    expect((await signIn({ prompt: "consent" })).sawConsent).toBe(true);
    // Approved for alpha is not approved for beta.
    expect((await signIn({ resource: `${gateway.url}/mcp/beta` })).sawConsent).toBe(true);

    // Revoked, then approved for beta: the alpha sign-in from before the revocation approves nothing now.
    const signInTo = async (slug: string) => {
      const { verifier, challenge } = pkce();
      const resource = `${gateway.url}/mcp/${slug}`;
      const { callback, sawConsent } = await signIn({ code_challenge: challenge, resource });
      const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT, resource });
      expect(issued.status).toBe(200);
      return sawConsent;
    };
    const dropped = await runMintgate(["consents", "revoke", "--user", "ann@example.com", "--client", clientId, "--data", dataDir]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(await signInTo("beta")).toBe(true);
    expect(await signInTo("alpha")).toBe(true);
    // Both approved since: neither asks again.
    expect(await signInTo("alpha")).toBe(false);
    expect(await signInTo("beta")).toBe(false);
  });

  test("the approval page says the client stays signed in exactly when it will get a refresh token; an approval without it is none with it", async () => {
    const browser = new ScriptedBrowser();
    /** Signs ann in: whether the approval page said the client stays signed in ("" when none was shown), and whether it did get a refresh token. */
    const signIn = async (clientId: string, scope: string | undefined): Promise<[string, boolean]> => {
      const { verifier, challenge } = pkce();
      let approval: string = "";
      const { callback } = await approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256", scope }), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD), (page) => {
        approval = page.html.includes("stay signed in") ? "stays" : "leaves";
        return {};
      });
      const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT });
      return [approval, typeof issued.body.refresh_token === "string"];
    };
    const seen: [string, boolean][] = [];
    let withoutRefreshGrant = "";
    for (const [grantTypes, scope] of [[undefined, undefined], [["authorization_code"], undefined], [["authorization_code"], "mcp offline_access"]] as const) {
      const registered = await fetch(`${gateway.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT], grant_types: grantTypes }) });
      const clientId = ((await registered.json()) as { client_id: string }).client_id;
      if (grantTypes && !scope) withoutRefreshGrant = clientId;
      seen.push(await signIn(clientId, scope));
    }
    // Registered with the refresh_token grant (the DCR default), without it, and without it but asking for offline_access.
    expect(seen).toEqual([["stays", true], ["leaves", false], ["stays", true]]);
    // Approved as leaving ann signed out, the client asking for offline_access is asked about again, then approved for both.
    expect(await signIn(withoutRefreshGrant, "mcp offline_access")).toEqual(["stays", true]);
    expect(await signIn(withoutRefreshGrant, "mcp offline_access")).toEqual(["", true]);
    expect(await signIn(withoutRefreshGrant, undefined)).toEqual(["", false]);
  });

  test("the approval page names the host the approval goes to, and warns when it is this computer (anyone may claim a loopback client's name)", async () => {
    // Clients an admin added: the file's other tests use up most of this address's registrations a minute.
    // prompt=consent shows the page even where another test approved the client already.
    const added = await runMintgate(["clients", "add", "--name", "Claude", "--redirect-uri", "https://claude.ai/api/mcp/auth_callback", "--public", "--json", "--data", dataDir]);
    expect(added.code, added.stderr).toBe(0);
    const approvalPageFor = async (clientId: string, redirectUri: string) => {
      const browser = new ScriptedBrowser();
      let approval = "";
      const url = authorizeUrl(clientId, { redirect_uri: redirectUri, code_challenge: pkce().challenge, code_challenge_method: "S256", prompt: "consent" });
      await approveInBrowser(browser, url, redirectUri, localSignIn(browser, "cat@example.com", PASSWORD), (page) => {
        approval = page.html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
        return {};
      });
      return approval;
    };
    const loopback = await approvalPageFor(await adminClient(), REDIRECT);
    expect(loopback).toContain("Sends you back to 127.0.0.1:9 ");
    expect(loopback).toContain('receives the approval on your own computer (127.0.0.1:9). Any program on this computer could claim to be "Admin-added client"');
    const hosted = await approvalPageFor((JSON.parse(added.stdout) as { clientId: string }).clientId, "https://claude.ai/api/mcp/auth_callback");
    expect(hosted).toContain("Sends you back to claude.ai ");
    expect(hosted).not.toContain("your own computer");
  });

  test("scopes a client asks for that the gateway does not know (mcp-remote's fallback openid email profile) are left out, not refused", async () => {
    const clientId = await adminClient();
    const { verifier, challenge } = pkce();
    const browser = new ScriptedBrowser();
    const { callback } = await approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256", scope: "openid email profile" }), REDIRECT, localSignIn(browser, "cat@example.com", PASSWORD));
    expect(callback.searchParams.get("error")).toBeNull();
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(issued.body.scope).toBe("mcp");
    expect(await mcpStatus("alpha", issued.body.access_token as string)).toBe(200);
  });

  test("someone the Virtual MCP's policy does not admit is sent back with access_denied, before any approval page or token", async () => {
    const clientId = await registerClient();
    const browser = new ScriptedBrowser();
    const { callback, sawConsent } = await approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256", resource: `${gateway.url}/mcp/gamma` }), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    expect(sawConsent).toBe(false);
    expect(callback.searchParams.get("code")).toBeNull();
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("error_description")).toContain("gamma");
    expect(callback.searchParams.get("state")).toBe("s-1");
    // Signed in already, she did nothing this time: the refusal to a self-registered client stays on the gateway's page.
    const again = await browser.open(authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256", resource: `${gateway.url}/mcp/gamma` }), { stopAt: reachedClient });
    expect([again.stopped, again.status]).toEqual([false, 403]);
    expect(again.html).toContain("gamma");
  });

  test("declining the approval sends access_denied back even to a self-registered client; prompt=none for a client she never approved does not", async () => {
    const clientId = await registerClient();
    const browser = new ScriptedBrowser();
    const request = () => authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256" });
    const consent = await localSignIn(browser, "ann@example.com", PASSWORD)(await browser.open(request(), { stopAt: reachedClient }), reachedClient);
    const declined = await browser.submit(consent, { button: "Deny", stopAt: reachedClient });
    expect(declined.stopped).toBe(true);
    expect(declined.url.searchParams.get("error")).toBe("access_denied");
    expect(declined.url.searchParams.get("state")).toBe("s-1");
    const silent = await browser.open(new URL(`${request().href}&prompt=none`), { stopAt: reachedClient });
    expect([silent.stopped, silent.status]).toEqual([false, 400]);
    expect(silent.html).toContain("has not approved this client");
  });

  test("removing a client revokes its sign-ins at once; an endpoint URL with a trailing slash still gets the 401 challenge", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge), code_verifier: verifier, redirect_uri: REDIRECT });
    expect(await mcpStatus("alpha", issued.body.access_token as string)).toBe(200);
    const removed = await runMintgate(["clients", "remove", clientId, "--data", dataDir]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await mcpStatus("alpha", issued.body.access_token as string)).toBe(401);

    const slash = await fetch(`${gateway.url}/mcp/alpha/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(slash.status).toBe(401);
    expect(slash.headers.get("www-authenticate")).toContain("resource_metadata=");
  });
});

describe("a client that sends no resource, on a gateway with several Virtual MCPs", () => {
  test("the person picks one of those they may use; the code and token are for it alone, and an approved client is asked again", async () => {
    const clientId = await registerClient();
    const browser = new ScriptedBrowser();
    const signInChoosing = async (slug: string) => {
      const { verifier, challenge } = pkce();
      let offered: (string | undefined)[] = [];
      const { callback, sawConsent } = await approveInBrowser(browser, withoutResource(clientId, challenge), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD), (page) => {
        offered = choicesOn(page);
        return { virtual_mcp: slug };
      });
      expect(sawConsent).toBe(true);
      // gamma admits bob alone, so ann is not offered it.
      expect(offered).toEqual(["alpha", "beta"]);
      // Nor does the token request name a resource: the code carries the choice.
      const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT });
      expect(issued.status).toBe(200);
      return issued.body.access_token as string;
    };
    const forBeta = await signInChoosing("beta");
    expect(await mcpStatus("beta", forBeta)).toBe(200);
    expect(await mcpStatus("alpha", forBeta)).toBe(401);
    // Approved and signed in already, yet asked again: nothing else says which Virtual MCP this token is for.
    const forAlpha = await signInChoosing("alpha");
    expect(await mcpStatus("alpha", forAlpha)).toBe(200);
    expect(await mcpStatus("beta", forAlpha)).toBe(401);
    // prompt=none may show no choice; nor, before the person acts, may a self-registered client's error leave the gateway.
    const silent = await browser.open(withoutResource(clientId, pkce().challenge, { prompt: "none" }), { stopAt: reachedClient });
    expect([silent.stopped, silent.status]).toEqual([false, 400]);
    expect(silent.html).toContain("must choose a virtual MCP");
  });

  test("a Virtual MCP the person may not use, posted as the choice, is refused with a page: no code, no redirect", async () => {
    const choose = async (email: string, slug: string) => {
      const browser = new ScriptedBrowser();
      const consent = await localSignIn(browser, email, PASSWORD)(await browser.open(withoutResource(await registerClient(), pkce().challenge), { stopAt: reachedClient }), reachedClient);
      return { offered: choicesOn(consent), chosen: await browser.submit(consent, { button: "Allow", stopAt: reachedClient }, { virtual_mcp: slug }) };
    };
    // gamma is a real choice for bob...
    const bob = await choose("bob@example.com", "gamma");
    expect(bob.offered).toEqual(["alpha", "beta", "gamma"]);
    expect(bob.chosen.stopped).toBe(true);
    expect(bob.chosen.url.searchParams.get("code")).toBeTruthy();
    // ...and a forged one for ann.
    const ann = await choose("ann@example.com", "gamma");
    expect(ann.offered).toEqual(["alpha", "beta"]);
    expect(ann.chosen.stopped).toBe(false);
    expect(ann.chosen.status).toBe(403);
    expect(ann.chosen.html).toContain("not one you may use");
  });

  test("the one Virtual MCP a person may use is taken without asking which; someone who may use none gets a page, never a redirect", async () => {
    const clientId = await registerClient();
    const browser = new ScriptedBrowser();
    const { verifier, challenge } = pkce();
    let consentPage: Page | undefined;
    const { callback } = await approveInBrowser(browser, withoutResource(clientId, challenge), REDIRECT, localSignIn(browser, "cat@example.com", PASSWORD), (page) => {
      consentPage = page;
      return {};
    });
    // A new client still needs cat's approval, for alpha by name, with nothing to choose.
    expect(consentPage?.html).toContain("Alpha tools");
    // A name the client gave itself is said to be unchecked: anyone may register a "Claude" that redirects elsewhere.
    expect(consentPage?.html).toContain("It registered itself under this name, which nobody has checked: trust the address below, not the name.");
    expect(choicesOn(consentPage!)).toEqual([]);
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(await mcpStatus("alpha", issued.body.access_token as string)).toBe(200);
    expect(await mcpStatus("beta", issued.body.access_token as string)).toBe(401);
    // Approved for alpha, which is again the only one: straight back.
    expect((await approveInBrowser(browser, withoutResource(clientId, pkce().challenge), REDIRECT, localSignIn(browser, "cat@example.com", PASSWORD))).sawConsent).toBe(false);

    const nobody = new ScriptedBrowser();
    const refused = await localSignIn(nobody, "dan@example.com", PASSWORD)(await nobody.open(withoutResource(clientId, pkce().challenge), { stopAt: reachedClient }), reachedClient);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain("dan@example.com may not use any virtual MCP");
    expect(nobody.redirectsSeen.some(reachedClient)).toBe(false);
  });
});

describe("signing out of a shared browser", () => {
  const formPaths = (page: Page) => page.forms.map((f) => new URL(f.action, gateway.url).pathname);
  const signOutEvents = async () =>
    (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_out`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { email: string; clientId: string | null; ip: string }[];

  // Clients an admin added: this file registers as many clients as one address may in a minute already.
  test("\"Not you?\" on the consent page ends ann's browser sign-in and carries the same request on to the sign-in page, where bob approves it", async () => {
    const clientId = await adminClient();
    const browser = new ScriptedBrowser();
    const open = (state: string) => browser.open(authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256", state }), { stopAt: reachedClient });
    await localSignIn(browser, "ann@example.com", PASSWORD)(await open("ann's"), reachedClient);
    // Ann leaves without answering; the next person who connects this client in the browser arrives as her.
    const consent = await open("carried");
    expect(consent.html).toContain("Signed in as <strong>ann@example.com</strong>");
    expect(formPaths(consent)).toEqual(["/signout", "/consent"]);
    // Security headers as on every sign-in page: nothing may frame the button (clickjacking into a sign-out).
    expect(consent.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");

    // A form from elsewhere, without this page's token, signs nobody out.
    const forged = await browser.submit(consent, { button: "Not you? Sign in as someone else" }, { csrf: "forged" });
    expect(forged.status).toBe(403);
    expect((await browser.open(consent.url, { stopAt: reachedClient })).html).toContain("Signed in as <strong>ann@example.com</strong>");

    const login = await browser.submit(consent, { button: "Not you? Sign in as someone else", stopAt: reachedClient });
    expect([login.url.pathname, login.url.searchParams.get("flow")]).toEqual(["/login", consent.forms[1]!.fields.flow!]);
    expect(login.html).toContain("Admin-added client");
    const asBob = await localSignIn(browser, "bob@example.com", PASSWORD)(login, reachedClient);
    expect(asBob.html).toContain("Signed in as <strong>bob@example.com</strong>");
    const back = await browser.submit(asBob, { button: "Allow", stopAt: reachedClient });
    expect([back.stopped, back.url.searchParams.get("state")]).toEqual([true, "carried"]);
    expect((await signOutEvents()).some((e) => e.email === "ann@example.com" && e.clientId === clientId && e.ip === "127.0.0.1")).toBe(true);
  });

  test("signing in again in the same browser ends its earlier session on the gateway, not only in the browser", async () => {
    const browser = new ScriptedBrowser();
    const clientId = await adminClient();
    await codeFor(clientId, pkce().challenge, browser);
    const annCookies = Object.entries(browser.cookiesFor(gateway.url)).map(([k, v]) => `${k}=${v}`).join("; ");
    // prompt=login: the sign-in page, though ann is signed in; bob signs in over her session.
    const login = await browser.open(authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256", prompt: "login" }), { stopAt: reachedClient });
    expect(login.url.pathname).toBe("/login");
    expect((await localSignIn(browser, "bob@example.com", PASSWORD)(login, reachedClient)).html).toContain("Signed in as <strong>bob@example.com</strong>");
    // Her cookie, copied before, signs nobody in now.
    expect(await (await fetch(`${gateway.url}/signout`, { headers: { cookie: annCookies } })).text()).toContain("Nobody is signed in to mintgate in this browser.");
  });

  test("a client ann approved goes straight back while she is signed in; after she signs out at /signout, the next person gets the sign-in page", async () => {
    const browser = new ScriptedBrowser();
    const clientId = await adminClient();
    const { verifier, challenge } = pkce();
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge, browser), code_verifier: verifier, redirect_uri: REDIRECT });
    expect(issued.status).toBe(200);
    const again = () => browser.open(authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256" }), { stopAt: reachedClient });
    expect((await again()).stopped).toBe(true);

    const signOutPage = await browser.open(`${gateway.url}/signout`);
    expect(signOutPage.html).toContain("Signed in as <strong>ann@example.com</strong>");
    expect(signOutPage.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(signOutPage.headers.get("x-frame-options")).toBe("DENY");
    const cookies = Object.entries(browser.cookiesFor(gateway.url)).map(([k, v]) => `${k}=${v}`).join("; ");
    // A cross-site POST carries the cookie (a top-level form) but not the token.
    const forged = await fetch(`${gateway.url}/signout`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookies }, body: "" });
    expect(forged.status).toBe(403);
    expect((await again()).stopped).toBe(true);

    const signedOut = await browser.submit(signOutPage, { button: "Sign out" });
    expect([signedOut.status, signedOut.html.includes("You are signed out of mintgate in this browser")]).toEqual([200, true]);
    expect(browser.cookiesFor(gateway.url).mintgate_session).toBeUndefined();
    const next = await again();
    expect([next.stopped, next.url.pathname]).toEqual([false, "/login"]);
    expect((await browser.open(`${gateway.url}/signout`)).html).toContain("Nobody is signed in to mintgate in this browser.");
    // Ended on the gateway, not only forgotten by this browser: the old cookie, kept somewhere, signs nobody in.
    expect(await (await fetch(`${gateway.url}/signout`, { headers: { cookie: cookies } })).text()).toContain("Nobody is signed in to mintgate in this browser.");
    // The approved client keeps its sign-in: signing the browser out is not revoking the client.
    expect(await mcpStatus("alpha", issued.body.access_token as string)).toBe(200);
    expect((await signOutEvents()).some((e) => e.email === "ann@example.com" && e.clientId === null)).toBe(true);
  });
});

describe("refused at /mcp", () => {
  test("a token for alpha on beta; an expired token; a revoked token; a disabled person's token, at once", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge), code_verifier: verifier, redirect_uri: REDIRECT });
    const accessToken = issued.body.access_token as string;
    expect(issued.body.expires_in).toBe(3);
    expect(await mcpStatus("alpha", accessToken)).toBe(200);
    const onBeta = await fetch(`${gateway.url}/mcp/beta`, { method: "POST", headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" }, body: "{}" });
    expect(onBeta.status).toBe(401);
    expect(onBeta.headers.get("www-authenticate")).toContain('error="invalid_token"');

    // Revocation through /revoke (RFC 7009) is immediate.
    const fresh = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: issued.body.refresh_token as string });
    const revoke = await fetch(`${gateway.url}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: clientId, token: fresh.body.access_token as string }) });
    expect(revoke.status).toBe(200);
    expect(await mcpStatus("alpha", fresh.body.access_token as string)).toBe(401);

    // Expiry (this gateway issues 3-second tokens).
    await Bun.sleep(3200);
    expect(await mcpStatus("alpha", accessToken)).toBe(401);

    // A disabled person: a token that worked a moment ago stops working, refresh too.
    const { clientId: bobClient, tokens: bob } = await signedInClient("bob@example.com");
    expect(await mcpStatus("alpha", bob.access_token as string)).toBe(200);
    const bobPat = (JSON.parse((await runMintgate(["tokens", "create", "--user", "bob@example.com", "--json", "--data", dataDir])).stdout) as { token: string }).token;
    expect(await mcpStatus("alpha", bobPat)).toBe(200);
    const disabled = await runMintgate(["users", "disable", "bob@example.com", "--data", dataDir]);
    expect(disabled.code).toBe(0);
    expect(await mcpStatus("alpha", bob.access_token as string)).toBe(401);
    expect(await mcpStatus("alpha", bobPat)).toBe(401);
    const bobRefresh = await token({ grant_type: "refresh_token", client_id: bobClient, refresh_token: bob.refresh_token as string });
    expect(bobRefresh.body.error).toBe("invalid_grant");
    // Enabling him again does not bring the AI client's sign-in back (a stolen laptop's tokens stay dead);
    // his personal access token, which an admin issued, works again.
    expect((await runMintgate(["users", "enable", "bob@example.com", "--data", dataDir])).code).toBe(0);
    expect(await mcpStatus("alpha", bob.access_token as string)).toBe(401);
    expect(await mcpStatus("alpha", bobPat)).toBe(200);
  });

  test("a password set by an admin ends the person's AI client sign-ins and browser sign-in at once; her personal access token stays", async () => {
    const { clientId: annClient, tokens: ann } = await signedInClient("ann@example.com");
    expect(await mcpStatus("alpha", ann.access_token as string)).toBe(200);
    const annPat = (JSON.parse((await runMintgate(["tokens", "create", "--user", "ann@example.com", "--json", "--data", dataDir])).stdout) as { token: string }).token;
    // A browser signed in as ann goes straight to the approval page of any new client, without her password.
    const browser = new ScriptedBrowser();
    await codeFor(annClient, pkce().challenge, browser);
    const otherClient = await registerClient();
    const newClientPage = () => browser.open(authorizeUrl(otherClient, { code_challenge: pkce().challenge, code_challenge_method: "S256" }), { stopAt: reachedClient });
    expect((await newClientPage()).forms.map((f) => new URL(f.action, gateway.url).pathname)).toEqual(["/signout", "/consent"]);
    const reset = await runMintgate(["users", "set-password", "ann@example.com", "--data", dataDir], { stdin: `${PASSWORD}\n` });
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/^Set the password of ann@example\.com and ended \d+ AI client sign-ins?\.\n$/);
    expect(await mcpStatus("alpha", ann.access_token as string)).toBe(401);
    expect((await token({ grant_type: "refresh_token", client_id: annClient, refresh_token: ann.refresh_token as string })).body.error).toBe("invalid_grant");
    expect(await mcpStatus("alpha", annPat)).toBe(200);
    // The CLI is another process, yet the gateway's browser sign-in of ann ends too: whoever held it must know the new password.
    expect((await newClientPage()).forms.map((f) => new URL(f.action, gateway.url).pathname)).toEqual(["/login"]);
  });

  test("an admin revokes a person's approval or one sign-in from the CLI; the running gateway refuses the tokens at once", async () => {
    const clientId = await registerClient();
    const { verifier, challenge } = pkce();
    const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge), code_verifier: verifier, redirect_uri: REDIRECT });
    const accessToken = issued.body.access_token as string;
    expect(await mcpStatus("alpha", accessToken)).toBe(200);

    const consents = JSON.parse((await runMintgate(["consents", "list", "--user", "ann@example.com", "--json", "--data", dataDir])).stdout) as { clientId: string; email: string }[];
    expect(consents.some((c) => c.clientId === clientId && c.email === "ann@example.com")).toBe(true);
    const listed = JSON.parse((await runMintgate(["tokens", "list", "--json", "--data", dataDir])).stdout) as { oauth: { id: string; clientId: string; revokedAt: string | null }[] };
    const grant = listed.oauth.find((g) => g.clientId === clientId && g.revokedAt === null)!;
    expect(grant).toBeDefined();
    expect(JSON.stringify(listed)).not.toMatch(/mgt_(at|rt)_/);

    const revoked = await runMintgate(["tokens", "revoke", grant.id, "--data", dataDir]);
    expect(revoked.code).toBe(0);
    expect(await mcpStatus("alpha", accessToken)).toBe(401);

    // Revoking the approval ends every sign-in of that client for ann, and the next sign-in asks again.
    const second = await token({ grant_type: "authorization_code", client_id: clientId, code: await codeFor(clientId, challenge), code_verifier: verifier, redirect_uri: REDIRECT });
    expect(await mcpStatus("alpha", second.body.access_token as string)).toBe(200);
    const dropped = await runMintgate(["consents", "revoke", "--user", "ann@example.com", "--client", clientId, "--data", dataDir]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toBe(`Revoked ann@example.com's approval of ${clientId} and 1 sign-in with their tokens.\n`);
    expect(await mcpStatus("alpha", second.body.access_token as string)).toBe(401);
    const browser = new ScriptedBrowser();
    const { sawConsent } = await approveInBrowser(browser, authorizeUrl(clientId, { code_challenge: challenge, code_challenge_method: "S256" }), REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    expect(sawConsent).toBe(true);
    const again = await runMintgate(["consents", "revoke", "--user", "ann@example.com", "--client", "mgc_never_approved", "--data", dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("has not approved");
  });

  test("every sign-in, consent and token event is recorded", async () => {
    const response = await fetch(`${gateway.url}/admin/api/auth-events?limit=500`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(response.status).toBe(200);
    const events = (await response.json()) as { type: string; outcome: string; reason: string | null }[];
    const kinds = new Set(events.map((e) => `${e.type}:${e.outcome}`));
    for (const kind of ["sign_in:ok", "sign_in:refused", "sign_out:ok", "consent_granted:ok", "client_registered:ok", "token_issued:ok", "token_refreshed:ok", "token_revoked:ok", "token_refused:refused", "user_disabled:ok"]) {
      expect(kinds).toContain(kind);
    }
    // Tokens refused at /mcp are on record too, with the reason.
    expect(events.some((e) => e.type === "token_refused" && e.reason === 'The access token is for virtual MCP "alpha", not "beta".')).toBe(true);
    expect(events.some((e) => e.type === "token_refused" && e.reason === "The account is disabled; ask an admin.")).toBe(true);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
    expect(JSON.stringify(events)).not.toMatch(/mgt_(at|rt|ac)_/);
  });
});

// Last in this file: it uses up this address's sign-in allowance for a minute.
describe("flooding /authorize", () => {
  test("one address cannot start more than 120 sign-ins a minute (each holds memory until it expires)", async () => {
    const clientId = await registerClient();
    const url = authorizeUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256" });
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) {
      const response = await fetch(url, { redirect: "manual" });
      statuses.push(response.status);
      await response.text();
    }
    // Earlier tests here used part of this minute's allowance: the refusals start at the 120th at the latest, and none comes before a success.
    const firstRefused = statuses.indexOf(429);
    expect(firstRefused).toBeGreaterThan(0);
    expect(firstRefused).toBeLessThanOrEqual(120);
    expect(new Set(statuses.slice(0, firstRefused)).size).toBe(1);
    expect(statuses.slice(firstRefused).every((s) => s === 429)).toBe(true);
    const last = await fetch(url, { redirect: "manual" });
    expect(last.status).toBe(429);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await last.text()).toContain("Too many sign-ins");
  });
});
