/**
 * The acceptance path of sign-in through SSO: a real OIDC provider
 * (oidc-provider on 127.0.0.1, standing in for Okta/Entra/Google) signs the
 * person in, they approve the AI client on mintgate's consent page, and the
 * official MCP SDK client holding the resulting token lists and calls tools.
 * The person's groups show in the admin API and follow the provider on refresh.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { configuredDataDir, freePort, runMintgate, startGateway, type RunningGateway } from "./harness.ts";
import { ScriptedBrowser } from "./fixtures/browser.ts";
import { approveInBrowser, MemoryOAuthProvider } from "./fixtures/oauth-client.ts";
import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import { startOidcIdp, stopAllIdps, type OidcIdp } from "./fixtures/oidc-idp.ts";

const REDIRECT = "http://127.0.0.1:9/callback";
const IDP_SECRET = "idp-client-secret-value-42";
let gateway: RunningGateway;
let idp: OidcIdp;
let dataDir: string;

beforeAll(async () => {
  // The provider needs mintgate's callback URL up front, so mintgate gets a known port.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  idp = await startOidcIdp({
    users: [
      { sub: "okta-00u1", email: "dana@acme.example", name: "Dana", groups: ["engineering", "oncall"], password: "idp password" },
      { sub: "okta-00u2", email: "eve@other.example", name: "Eve", groups: [], password: "idp password" },
      { sub: "okta-00u3", email: "finn@acme.example", name: "Finn", password: "idp password", refusal: "User is not assigned to the client application." },
      { sub: "okta-00u4", email: "gil@acme.example", name: "Gil", groups: ["engineering"], password: "idp password" },
      { sub: "okta-00u5", email: "ivy@acme.example", name: "Ivy", password: "idp password", claims: { email_verified: "false" } },
      { sub: "okta-00u6", email: "jo@acme.example", name: "Jo", groups: ["engineering", "Finance\nPayroll", "Sales\u0085\u2067EU\u2069"], password: "idp password" },
      { sub: "okta-00u7\u001b[2J\u202e", email: "kai@acme.example", name: "\u001b]0;owned\u0007Kai\u001b[2J\u202e\u009b", groups: [], password: "idp password" },
    ],
    clients: [{ client_id: "mintgate-acme", client_secret: IDP_SECRET, redirect_uris: [`${base}/sso/callback/acme`] }],
  });
  dataDir = await configuredDataDir(
    { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "eng", name: "Engineering tools", access: { everyone: true }, connectors: [{ connector: "demo" }], tools: { demo__now: { deny: { groups: ["oncall"] } } } }] },
    { label: "mintgate-sso-flow" },
  );
  const added = await runMintgate(["sso", "add", "acme", "--kind", "oidc", "--issuer", idp.issuer, "--client-id", "mintgate-acme", "--allowed-domains", "acme.example", "--data", dataDir], { stdin: `${IDP_SECRET}\n` });
  expect(added.code, added.stderr).toBe(0);
  gateway = await startGateway({ dataDir, args: ["--port", String(port)] });
});

afterAll(async () => {
  await gateway?.stop();
  await stopAllIdps();
});

/** mintgate's sign-in page → the provider's link → the provider's form → back to mintgate. */
const providerSignIn = (browser: ScriptedBrowser, login: string) => async (page: Awaited<ReturnType<ScriptedBrowser["open"]>>, stopAt: (url: URL) => boolean) => {
  const link = page.html.match(/href="(\/sso\/start\/acme\?flow=[^"]+)"/)?.[1];
  expect(link).toBeDefined();
  const atIdp = await browser.open(new URL(link!.replaceAll("&amp;", "&"), page.url), { stopAt });
  expect(atIdp.url.origin).toBe(idp.issuer);
  return browser.submit(atIdp, { stopAt, button: "Sign in" }, { login, password: "idp password" });
};

describe("sign-in through an OIDC provider", () => {
  test("dana signs in at the provider, approves the client, and the SDK client lists and calls tools; her groups show in the admin API and follow the provider on refresh", async () => {
    const url = new URL(`${gateway.url}/mcp/eng`);
    const provider = new MemoryOAuthProvider(REDIRECT);
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    expect(await new Client({ name: "sso-test", version: "1" }).connect(first).catch((e: unknown) => e)).toBeInstanceOf(UnauthorizedError);
    const browser = new ScriptedBrowser();
    const { callback, sawConsent } = await approveInBrowser(browser, provider.authorizationUrl!, REDIRECT, providerSignIn(browser, "dana@acme.example"));
    expect(sawConsent).toBe(true);
    await first.finishAuth(callback.searchParams.get("code")!);

    const client = new Client({ name: "sso-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("demo__add");
    const sum = await client.callTool({ name: "demo__add", arguments: { a: 20, b: 22 } });
    expect(JSON.stringify(sum.content)).toContain("42");
    // demo__now is denied to oncall, which the provider says dana is in.
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("demo__now");
    let toolsChanged = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void toolsChanged++);

    const admin = { authorization: `Bearer ${gateway.adminToken()}` };
    const people = (await (await fetch(`${gateway.url}/admin/api/users`, { headers: admin })).json()) as { email: string; groups: string[]; identities: { provider: string }[] }[];
    const dana = people.find((p) => p.email === "dana@acme.example")!;
    expect(dana.groups).toEqual(["engineering", "oncall"]);
    expect(dana.identities.map((i) => i.provider)).toEqual(["acme"]);

    // The provider moves dana out of oncall; using mintgate's refresh token re-reads her groups.
    idp.setUser({ sub: "okta-00u1", email: "dana@acme.example", name: "Dana", groups: ["engineering"], password: "idp password" });
    const refreshed = await fetch(`${gateway.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", client_id: provider.clientInformation()!.client_id, refresh_token: provider.tokens()!.refresh_token! }),
    });
    expect(refreshed.status).toBe(200);
    const after = (await (await fetch(`${gateway.url}/admin/api/users`, { headers: admin })).json()) as { email: string; groups: string[] }[];
    expect(after.find((p) => p.email === "dana@acme.example")!.groups).toEqual(["engineering"]);
    // Groups re-read at the refresh apply to her connected session as any group change does: list_changed, and the new list.
    for (let i = 0; i < 50 && toolsChanged === 0; i++) await Bun.sleep(100);
    expect(toolsChanged).toBeGreaterThan(0);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("demo__now");
    await client.close();

    // Disabled through the admin API (in the gateway's own process): her token stops working at once.
    const token = provider.tokens()!.access_token;
    const initialize = () =>
      fetch(`${gateway.url}/mcp/eng`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
      });
    const danaId = (after as unknown as { id: string; email: string }[]).find((p) => p.email === "dana@acme.example")!.id;
    expect((await initialize()).status).toBe(200);
    expect((await fetch(`${gateway.url}/admin/api/users/${danaId}/disable`, { method: "POST", headers: admin })).status).toBe(200);
    expect((await initialize()).status).toBe(401);

    // The provider's client secret never leaves the secret store.
    const everything = JSON.stringify(await (await fetch(`${gateway.url}/admin/api/sso-providers`, { headers: admin })).json()) + gateway.output();
    expect(everything).not.toContain(IDP_SECRET);
  });

  test("someone from a domain the provider is not allowed for is refused with a reason, and nothing is issued", async () => {
    const provider = new MemoryOAuthProvider(REDIRECT);
    const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/eng`), { authProvider: provider });
    await new Client({ name: "sso-test", version: "1" }).connect(transport).catch(() => undefined);
    const browser = new ScriptedBrowser();
    const stopAt = (u: URL) => u.href.startsWith(REDIRECT);
    const page = await browser.open(provider.authorizationUrl!, { stopAt });
    const result = await providerSignIn(browser, "eve@other.example")(page, stopAt);
    expect(result.stopped).toBe(false);
    expect(result.status).toBe(401);
    expect(result.html).toContain("other.example");
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { outcome: string; reason: string | null; provider: string | null }[];
    expect(events.some((e) => e.outcome === "refused" && e.provider === "acme" && (e.reason ?? "").includes("other.example"))).toBe(true);
  });

  test("an email the provider says is not verified, as the string \"false\", is refused", async () => {
    const browser = new ScriptedBrowser();
    const atIdp = await browser.open(`${gateway.url}/sso/start/acme`);
    const result = await browser.submit(atIdp, { button: "Sign in" }, { login: "ivy@acme.example", password: "idp password" });
    expect(result.status).toBe(401);
    expect(result.html).toContain("acme says your email address ivy@acme.example is not verified; verify it at acme (or ask your administrator to), then start again.");
  });

  test("an ID token that the provider's keys did not sign is refused, whatever it claims", async () => {
    // The token endpoint answers with the claims it issued plus a group, signed with a key that is not in the provider's JWKS.
    const strangerKey = (await generateKeyPair("RS256")).privateKey;
    const forging = await startOidcIdp({
      users: [{ sub: "okta-00u9", email: "hal@acme.example", name: "Hal", groups: ["engineering"], password: "idp password" }],
      clients: [{ client_id: "mintgate-forged", client_secret: IDP_SECRET, redirect_uris: [`${gateway.url}/sso/callback/forged`] }],
      rewriteIdToken: async (idToken) => new SignJWT({ ...decodeJwt(idToken), groups: ["engineering", "admins"] }).setProtectedHeader({ alg: "RS256", kid: "test-idp-1" }).sign(strangerKey),
    });
    const admin = { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" };
    const added = await fetch(`${gateway.url}/admin/api/sso-providers`, { method: "POST", headers: admin, body: JSON.stringify({ name: "forged", kind: "oidc", issuer: forging.issuer, clientId: "mintgate-forged", clientSecret: IDP_SECRET }) });
    expect(added.status).toBe(201);
    const browser = new ScriptedBrowser();
    const atIdp = await browser.open(`${gateway.url}/sso/start/forged`);
    expect(atIdp.url.origin).toBe(forging.issuer);
    const result = await browser.submit(atIdp, { button: "Sign in" }, { login: "hal@acme.example", password: "idp password" });
    expect(result.status).toBe(401);
    expect(result.html).toContain("could not be verified");
    const people = (await (await fetch(`${gateway.url}/admin/api/users`, { headers: admin })).json()) as { email: string }[];
    expect(people.map((p) => p.email)).not.toContain("hal@acme.example");
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in`, { headers: admin })).json()) as { outcome: string; reason: string | null; provider: string | null }[];
    expect(events.some((e) => e.outcome === "refused" && e.provider === "forged" && (e.reason ?? "").startsWith("code exchange or ID token check failed"))).toBe(true);
  });

  test("the provider refusing the person (not assigned to the app) shows its reason and what to do, and is in the sign-in record", async () => {
    const provider = new MemoryOAuthProvider(REDIRECT);
    await new Client({ name: "sso-test", version: "1" }).connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/eng`), { authProvider: provider })).catch(() => undefined);
    const browser = new ScriptedBrowser();
    const stopAt = (u: URL) => u.href.startsWith(REDIRECT);
    const result = await providerSignIn(browser, "finn@acme.example")(await browser.open(provider.authorizationUrl!, { stopAt }), stopAt);
    expect(result.stopped).toBe(false);
    expect(result.status).toBe(401);
    expect(result.html).toContain("did not sign you in (access_denied: User is not assigned to the client application.); if you should have access, ask your administrator");
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { outcome: string; reason: string | null; provider: string | null }[];
    expect(events.some((e) => e.outcome === "refused" && e.provider === "acme" && e.reason === "provider error: access_denied: User is not assigned to the client application.")).toBe(true);
  });
});

describe("signed in in several browsers", () => {
  test("signing in through the provider in a second browser leaves the first one signed in", async () => {
    const signedInBrowser = async () => {
      const browser = new ScriptedBrowser();
      const atIdp = await browser.open(`${gateway.url}/sso/start/acme`);
      expect((await browser.submit(atIdp, { button: "Sign in" }, { login: "gil@acme.example", password: "idp password" })).html).toContain("You are signed in as <strong>gil@acme.example</strong>");
      return browser;
    };
    const signedInAs = async (browser: ScriptedBrowser) => (await browser.open(`${gateway.url}/signout`)).html.match(/Signed in as <strong>([^<]*)/)?.[1] ?? "nobody";
    const laptop = await signedInBrowser();
    const desktop = await signedInBrowser();
    expect([await signedInAs(laptop), await signedInAs(desktop)]).toEqual(["gil@acme.example", "gil@acme.example"]);
  });
});

describe("what the person sees when sign-in cannot finish", () => {
  test("a group name holding a control character or a bidi override does not refuse the sign-in: it is stored escaped, and the record says so", async () => {
    const browser = new ScriptedBrowser();
    const atIdp = await browser.open(`${gateway.url}/sso/start/acme`);
    const result = await browser.submit(atIdp, { button: "Sign in" }, { login: "jo@acme.example", password: "idp password" });
    expect(result.status).toBeLessThan(400);
    const admin = { authorization: `Bearer ${gateway.adminToken()}` };
    const people = (await (await fetch(`${gateway.url}/admin/api/users`, { headers: admin })).json()) as { email: string; groups: string[] }[];
    expect(people.find((p) => p.email === "jo@acme.example")?.groups).toEqual(["Finance\\nPayroll", "Sales\\u0085\\u2067EU\\u2069", "engineering"]);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in`, { headers: admin })).json()) as { outcome: string; email: string | null; detail: string | null }[];
    const detail = JSON.parse(events.find((e) => e.outcome === "ok" && e.email === "jo@acme.example")?.detail ?? "{}") as { groupsEscaped?: string };
    expect(detail.groupsEscaped).toBe('2 group names held control or bidirectional characters and are stored escaped: "Finance\\nPayroll", "Sales\\u0085\\u2067EU\\u2069"');
  });

  test("the provider going down between sign-in and the answer's check says it cannot be reached and to try again later, not that the sign-in could not be verified", async () => {
    const flaky = await startOidcIdp({
      users: [{ sub: "okta-00u7", email: "kim@acme.example", name: "Kim", groups: ["engineering"], password: "idp password" }],
      clients: [{ client_id: "mintgate-flaky", client_secret: IDP_SECRET, redirect_uris: [`${gateway.url}/sso/callback/flaky`] }],
    });
    const admin = { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" };
    const added = await fetch(`${gateway.url}/admin/api/sso-providers`, { method: "POST", headers: admin, body: JSON.stringify({ name: "flaky", kind: "oidc", issuer: flaky.issuer, clientId: "mintgate-flaky", clientSecret: IDP_SECRET, label: "Flaky SSO" }) });
    expect(added.status).toBe(201);
    const browser = new ScriptedBrowser();
    const stopAt = (u: URL) => u.pathname === "/sso/callback/flaky";
    const atIdp = await browser.open(`${gateway.url}/sso/start/flaky`, { stopAt });
    const back = await browser.submit(atIdp, { button: "Sign in", stopAt }, { login: "kim@acme.example", password: "idp password" });
    expect(back.stopped).toBe(true);
    await flaky.stop();
    const result = await browser.open(back.url);
    expect(result.status).toBe(401);
    expect(result.html).toContain("Flaky SSO cannot be reached right now (the connection was refused), so your sign-in could not be finished; try again in a few minutes, and if it persists tell your administrator.");
    expect(result.html).not.toContain("could not be verified");
    expect(result.html).not.toContain(back.url.searchParams.get("code")!);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in`, { headers: admin })).json()) as { outcome: string; reason: string | null; provider: string | null }[];
    expect(events.some((e) => e.outcome === "refused" && e.provider === "flaky" && e.reason === "code exchange or ID token check failed: the connection was refused")).toBe(true);
  });

  test("an address whose provider name is not valid percent-encoding is a 400 saying so, and a malformed callback leaves the sign-in it copies able to finish", async () => {
    const start = await fetch(`${gateway.url}/sso/start/%ZZ`, { redirect: "manual" });
    expect(start.status).toBe(400);
    const html = await start.text();
    expect(html).toContain("The address is malformed");
    expect(html).not.toContain("null");

    const browser = new ScriptedBrowser();
    const stopAt = (u: URL) => u.pathname === "/sso/callback/acme";
    const atIdp = await browser.open(`${gateway.url}/sso/start/acme`, { stopAt });
    const back = await browser.submit(atIdp, { button: "Sign in", stopAt }, { login: "gil@acme.example", password: "idp password" });
    expect(back.stopped).toBe(true);
    // The same state and code under a mangled provider name: refused before the waiting sign-in is looked up (and used up).
    const mangled = await browser.open(new URL(`/sso/callback/acme%ZZ${back.url.search}`, gateway.url));
    expect(mangled.status).toBe(400);
    expect(mangled.html).toContain("The address is malformed");
    const done = await browser.open(back.url);
    expect(done.status).toBe(200);
    expect(done.html).toContain("You are signed in as <strong>gil@acme.example</strong>");
  });
});

describe("narrowing or removing a provider", () => {
  test("browsers it signed in are signed out, from the CLI: those of a domain no longer allowed by `sso update`, then all by `sso remove`; they no longer approve new clients without signing in", async () => {
    const leaving = await startOidcIdp({
      users: [
        { sub: "leaving-1", email: "lee@acme.example", password: "idp password" },
        { sub: "leaving-2", email: "max@old.example", password: "idp password" },
      ],
      clients: [{ client_id: "mintgate-leaving", client_secret: IDP_SECRET, redirect_uris: [`${gateway.url}/sso/callback/leaving`] }],
    });
    const mintgate = async (...args: string[]) => {
      const result = await runMintgate([...args, "--data", dataDir], { stdin: `${IDP_SECRET}\n` });
      expect(result.code, result.stderr).toBe(0);
    };
    await mintgate("sso", "add", "leaving", "--kind", "oidc", "--issuer", leaving.issuer, "--client-id", "mintgate-leaving", "--allowed-domains", "acme.example,old.example");
    const signedInBrowser = async (email: string) => {
      const browser = new ScriptedBrowser();
      const atIdp = await browser.open(`${gateway.url}/sso/start/leaving`);
      expect((await browser.submit(atIdp, { button: "Sign in" }, { login: email, password: "idp password" })).html).toContain(`You are signed in as <strong>${email}</strong>`);
      return browser;
    };
    const [lee, max] = [await signedInBrowser("lee@acme.example"), await signedInBrowser("max@old.example")];
    const provider = new MemoryOAuthProvider(REDIRECT);
    await new Client({ name: "sso-test", version: "1" }).connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/eng`), { authProvider: provider })).catch(() => undefined);
    const newClientIn = async (browser: ScriptedBrowser) => {
      const page = await browser.open(provider.authorizationUrl!, { stopAt: (u) => u.href.startsWith(REDIRECT) });
      return page.url.pathname === "/login" ? "sign-in page" : (page.html.match(/Signed in as <strong>([^<]*)/)?.[1] ?? page.url.pathname);
    };
    expect([await newClientIn(lee), await newClientIn(max)]).toEqual(["lee@acme.example", "max@old.example"]);
    await mintgate("sso", "update", "leaving", "--allowed-domains", "acme.example");
    expect([await newClientIn(lee), await newClientIn(max)]).toEqual(["lee@acme.example", "sign-in page"]);
    await mintgate("sso", "remove", "leaving");
    expect(await newClientIn(lee)).toBe("sign-in page");
  });
});

// Last in this file: it uses up this address's sign-in allowance for a minute.
describe("what the provider sends about the person", () => {
  test("a name with control characters (terminal escapes, a C1 CSI) or a bidi override is stored cleaned: `users show` and the TUI print it; a subject holding them is printed escaped", async () => {
    const browser = new ScriptedBrowser();
    const atIdp = await browser.open(`${gateway.url}/sso/start/acme`);
    await browser.submit(atIdp, { button: "Sign in" }, { login: "kai@acme.example", password: "idp password" });
    const people = (await (await fetch(`${gateway.url}/admin/api/users`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { email: string; name: string | null }[];
    expect(people.find((p) => p.email === "kai@acme.example")?.name).toBe("]0;owned Kai [2J");
    // The subject is the provider's key for the person, kept as sent: `users show` prints it escaped, never raw.
    const shown = await runMintgate(["users", "show", "kai@acme.example", "--data", dataDir]);
    expect(shown.stdout).toContain("acme (subject okta-00u7\\u001b[2J\\u202e)");
    expect(shown.stdout).not.toMatch(/[\u001b\u202e]/);
  });
});

describe("flooding /sso/start", () => {
  test("one address cannot start more than 120 sign-ins a minute at the provider, so it cannot push out a sign-in in progress", async () => {
    const person = new ScriptedBrowser();
    const stopAt = (u: URL) => u.pathname.startsWith("/sso/callback/");
    const atIdp = await person.open(`${gateway.url}/sso/start/acme`, { stopAt });
    expect(atIdp.url.origin).toBe(idp.issuer);
    // Each start holds a pending sign-in in memory (at most 20,000, the oldest pushed out first).
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) {
      const response = await fetch(`${gateway.url}/sso/start/acme`, { redirect: "manual" });
      statuses.push(response.status);
      await response.text();
    }
    const firstRefused = statuses.indexOf(429);
    expect(firstRefused).toBeGreaterThan(0);
    expect(firstRefused).toBeLessThanOrEqual(120);
    expect(statuses.slice(firstRefused).every((s) => s === 429)).toBe(true);
    const last = await fetch(`${gateway.url}/sso/start/acme`, { redirect: "manual" });
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await last.text()).toContain("Too many sign-ins were started from this address");
    const back = await person.submit(atIdp, { button: "Sign in" }, { login: "gil@acme.example", password: "idp password" });
    expect(back.status).toBe(200);
    expect(back.html).toContain("You are signed in as <strong>gil@acme.example</strong>");
  });
});
