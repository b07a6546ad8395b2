/**
 * An AI client signed in with OAuth, over the lifetime of its tokens: this gateway issues 3-second access
 * tokens, so a session outlives several of them. The official SDK client (its own refresh on 401, its own
 * reconnection of the standalone GET stream) and raw HTTP, against the real binary.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { configuredDataDir, runMintgate, startGateway, waitFor, type RunningGateway } from "./harness.ts";
import { ScriptedBrowser } from "./fixtures/browser.ts";
import { approveInBrowser, localSignIn, MemoryOAuthProvider } from "./fixtures/oauth-client.ts";

const CONFIG = {
  connectors: [{ name: "demo", kind: "builtin", server: "demo" }],
  virtualMcps: [{ slug: "alpha", name: "Alpha tools", access: { everyone: true }, connectors: [{ connector: "demo" }] }],
};
const PASSWORD = "correct horse battery staple";
const REDIRECT = "http://127.0.0.1:9/callback";
const TTL_MS = 3000;

let gateway: RunningGateway;

beforeAll(async () => {
  const dataDir = await configuredDataDir(CONFIG, { label: "mintgate-oauth-lifetime", people: ["ann", "bob", "cat", "dan", "eve", "fay"].map((name) => ({ email: `${name}@example.com`, password: PASSWORD })) });
  gateway = await startGateway({ dataDir, args: ["--access-token-ttl", `${TTL_MS / 1000}s`] });
});

afterAll(async () => {
  await gateway?.stop();
});

/** One HTTP exchange the client made, as the gateway answered it. */
interface Exchange {
  method: string;
  url: string;
  status: number;
  bearer: string | undefined;
  session: string | null;
  body: string | undefined;
  challenge: string | null;
  /** For an event stream: when it ended, whichever side ended it. */
  endedAt?: number;
}

/** A fetch that records every exchange (event streams: when they end too), for the SDK's transport and its auth(). */
function recordingFetch(exchanges: Exchange[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const response = await fetch(input, init);
    const exchange: Exchange = {
      method: init?.method ?? "GET",
      url: String(input),
      status: response.status,
      bearer: headers.get("authorization")?.replace(/^Bearer /, ""),
      session: headers.get("mcp-session-id"),
      body: typeof init?.body === "string" || init?.body instanceof URLSearchParams ? String(init.body) : undefined,
      challenge: response.headers.get("www-authenticate"),
    };
    exchanges.push(exchange);
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream") || response.body === null) return response;
    // Passed through unchanged; its end is noted.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    void response.body
      .pipeTo(writable)
      .catch(() => {})
      .finally(() => (exchange.endedAt ??= Date.now()));
    return new Response(readable, { status: response.status, statusText: response.statusText, headers: response.headers });
  }) as typeof fetch;
}

/** The SDK's OAuth sign-in for `email`, then a connected client whose every exchange is recorded. */
async function signedInSdkClient(email: string) {
  const url = new URL(`${gateway.url}/mcp/alpha`);
  const provider = new MemoryOAuthProvider(REDIRECT);
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const failed = await new Client({ name: "lifetime-test", version: "1.0.0" }).connect(first).then(() => undefined, (error: unknown) => error);
  expect(failed).toBeInstanceOf(UnauthorizedError);
  const browser = new ScriptedBrowser();
  const { callback } = await approveInBrowser(browser, provider.authorizationUrl!, REDIRECT, localSignIn(browser, email, PASSWORD));
  await first.finishAuth(callback.searchParams.get("code")!);
  const issuedAt = Date.now();
  const exchanges: Exchange[] = [];
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: recordingFetch(exchanges) });
  const client = new Client({ name: "lifetime-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport, provider, exchanges, issuedAt };
}

/** A GET of the MCP endpoint itself (the standalone stream), not one of the SDK's discovery requests. */
const isStreamGet = (e: Exchange) => e.method === "GET" && new URL(e.url).pathname === "/mcp/alpha";

const adminHeaders = () => ({ authorization: `Bearer ${gateway.adminToken()}` });

interface AuditRow {
  method: string;
  exposedName: string | null;
  person: string | null;
  tokenId: string | null;
  clientId: string | null;
  sessionId: string | null;
  outcome: string;
  error: string | null;
}

async function auditOf(person: string): Promise<AuditRow[]> {
  const response = await fetch(`${gateway.url}/admin/api/audit?kind=mcp&user=${encodeURIComponent(person)}&limit=1000`, { headers: adminHeaders() });
  expect(response.status).toBe(200);
  return (await response.json()) as AuditRow[];
}

interface GrantRow {
  id: string;
  clientId: string;
  email: string;
  revokedAt: string | null;
  revokedReason: string | null;
}

async function grantsOf(email: string): Promise<GrantRow[]> {
  const response = await fetch(`${gateway.url}/admin/api/oauth-grants`, { headers: adminHeaders() });
  expect(response.status).toBe(200);
  return ((await response.json()) as GrantRow[]).filter((g) => g.email === email);
}

describe("an access token expiring mid-session", () => {
  test("the SDK client's next POST gets 401 invalid_token with resource_metadata, it refreshes and carries on in the same session; the GET stream ends at expiry and reopens with the refreshed token; the calls are audited under the grant and client", async () => {
    const { client, transport, provider, exchanges, issuedAt } = await signedInSdkClient("ann@example.com");
    const firstToken = provider.tokens()!.access_token;
    const clientId = provider.clientInformation()!.client_id;
    const sessionId = transport.sessionId!;
    expect(sessionId).toBeTruthy();
    const echo = async (text: string) => JSON.stringify((await client.callTool({ name: "demo__echo", arguments: { text } })).content);
    expect(await echo("before expiry")).toContain("before expiry");
    const firstGet = await waitFor("the standalone GET stream to open", () => exchanges.find((e) => isStreamGet(e) && e.status === 200));
    expect(firstGet.bearer).toBe(firstToken);

    // The GET stream ends when its token does, not an hour later at the idle sweep.
    await waitFor("the GET stream to end at expiry", () => firstGet.endedAt, 200, 25);
    expect(firstGet.endedAt! - issuedAt).toBeGreaterThan(TTL_MS - 500);
    expect(firstGet.endedAt! - issuedAt).toBeLessThan(TTL_MS + 1500);

    // The next call: 401 with the challenge, a refresh_token grant, the same call again in the same session.
    expect(await echo("after expiry")).toContain("after expiry");
    const refused = exchanges.find((e) => e.method === "POST" && e.status === 401);
    expect(refused?.bearer).toBe(firstToken);
    expect(refused?.session).toBe(sessionId);
    expect(refused?.challenge).toContain('error="invalid_token"');
    expect(refused?.challenge).toContain(`resource_metadata="${gateway.url}/.well-known/oauth-protected-resource/mcp/alpha"`);
    const refresh = exchanges.find((e) => e.url.endsWith("/token"));
    expect(new URLSearchParams(refresh?.body).get("grant_type")).toBe("refresh_token");
    expect(refresh?.status).toBe(200);
    const secondToken = provider.tokens()!.access_token;
    expect(secondToken).not.toBe(firstToken);
    const retried = exchanges.findLast((e) => e.method === "POST" && e.body?.includes("after expiry"));
    expect(retried).toMatchObject({ status: 200, bearer: secondToken, session: sessionId });
    // No second initialize: the session carried on.
    expect(exchanges.filter((e) => e.body?.includes('"method":"initialize"'))).toHaveLength(1);

    // The SDK reconnects its GET stream; the refreshed token opens it in the same session.
    const reopened = await waitFor("the GET stream to reopen", () => exchanges.find((e) => isStreamGet(e) && e.status === 200 && e !== firstGet), 100, 50);
    expect(reopened.session).toBe(sessionId);
    expect(reopened.bearer).not.toBe(firstToken);
    expect(gateway.output()).toContain(`stream ended: its access token expired stream="standalone GET" session=${sessionId} subject=ann@example.com`);

    // Both calls, before and after the refresh, are recorded under the one grant, the client and the session.
    const [grant] = await grantsOf("ann@example.com");
    expect(grant?.clientId).toBe(clientId);
    const calls = (await auditOf("ann@example.com")).filter((r) => r.method === "tools/call");
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(call).toMatchObject({ tokenId: grant!.id, clientId, sessionId, outcome: "ok" });
    await client.close();
  });
});

async function token(form: Record<string, string>) {
  const response = await fetch(`${gateway.url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/** A client registered and signed in as `email` through raw HTTP: its id and the token endpoint's answer, and when that came. */
async function signedInRaw(email: string): Promise<{ clientId: string; tokens: Record<string, string>; issuedAt: number }> {
  const registered = await fetch(`${gateway.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: "Raw client", redirect_uris: [REDIRECT] }) });
  const clientId = ((await registered.json()) as { client_id: string }).client_id;
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const url = new URL(`${gateway.url}/authorize`);
  const params = { response_type: "code", client_id: clientId, redirect_uri: REDIRECT, state: "s", resource: `${gateway.url}/mcp/alpha`, code_challenge: new Bun.CryptoHasher("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256" };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const browser = new ScriptedBrowser();
  const { callback } = await approveInBrowser(browser, url, REDIRECT, localSignIn(browser, email, PASSWORD));
  const issued = await token({ grant_type: "authorization_code", client_id: clientId, code: callback.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT });
  expect(issued.status).toBe(200);
  return { clientId, tokens: issued.body, issuedAt: Date.now() };
}

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** An initialized Streamable HTTP session opened with `accessToken`; `post` sends one message in it with whichever token it is given. */
async function rawSession(accessToken: string) {
  const initialize = await fetch(`${gateway.url}/mcp/alpha`, {
    method: "POST",
    headers: { ...JSON_HEADERS, authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  expect(initialize.status).toBe(200);
  await initialize.body?.cancel();
  const id = initialize.headers.get("mcp-session-id")!;
  const headers = (bearer: string) => ({ ...JSON_HEADERS, authorization: `Bearer ${bearer}`, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" });
  const post = (bearer: string, message: object) => fetch(`${gateway.url}/mcp/alpha`, { method: "POST", headers: headers(bearer), body: JSON.stringify(message) });
  expect((await post(accessToken, { jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202);
  const openStream = async (bearer: string) => watchStream(await fetch(`${gateway.url}/mcp/alpha`, { headers: { ...headers(bearer), accept: "text/event-stream" } }));
  return { id, post, openStream };
}

/** Reads an event stream in the background: its text so far, and when it ended, whichever side ended it. */
function watchStream(response: Response): { status: number; text: string; endedAt: number | undefined } {
  const watched = { status: response.status, text: "", endedAt: undefined as number | undefined };
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body!) watched.text += decoder.decode(chunk, { stream: true });
    } catch {
      // a connection cut ends the stream too
    }
    watched.endedAt = Date.now();
  })();
  return watched;
}

/** A legacy HTTP+SSE session opened and initialized with `accessToken`: its event stream, and `post` to send one message in it with whichever token it is given. */
async function legacySession(accessToken: string) {
  const stream = watchStream(await fetch(`${gateway.url}/sse/alpha`, { headers: { authorization: `Bearer ${accessToken}`, accept: "text/event-stream" } }));
  const endpoint = await waitFor("the endpoint event", () => stream.text.match(/^data: (\/messages\S+)$/m)?.[1]);
  const post = (bearer: string, message: object) => fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(message) });
  expect((await post(accessToken, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "legacy", version: "1" } } })).status).toBe(202);
  expect((await post(accessToken, { jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202);
  return { stream, post };
}

/** The JSON-RPC messages on an SSE stream's text. */
const eventsOf = (text: string) => [...text.matchAll(/^data: (\{.+)$/gm)].map((m) => JSON.parse(m[1]!) as { id?: number; method?: string; result?: { content: { text: string }[]; isError?: boolean }; error?: { message: string } });

/** A countdown that runs `ms`: long enough to be in flight when something happens to its token. */
const countdown = (id: number, ms: number, progressToken?: string) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "demo__countdown", arguments: { n: Math.ceil(ms / 100), intervalMs: 100 }, ...(progressToken === undefined ? {} : { _meta: { progressToken } }) },
});

describe("refresh token rotation", () => {
  test("an old refresh token used again revokes the grant: its session, its GET stream and its call in flight end at once, well before the access token would expire", async () => {
    const { clientId, tokens, issuedAt } = await signedInRaw("bob@example.com");
    const session = await rawSession(tokens.access_token!);
    const stream = await session.openStream(tokens.access_token!);
    expect(stream.status).toBe(200);
    const inFlight = session.post(tokens.access_token!, countdown(1, 10_000)).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { message: string }; result?: unknown } }));

    const second = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: tokens.refresh_token! });
    const third = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: second.body.refresh_token! });
    expect([second.status, third.status]).toEqual([200, 200]);
    expect((await session.post(third.body.access_token!, { jsonrpc: "2.0", id: 2, method: "ping" })).status).toBe(200);

    const replayedAt = Date.now();
    const replay = await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: tokens.refresh_token! });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    expect(replay.body.error_description).toContain("every token of this sign-in is revoked");

    await waitFor("the GET stream to end", () => stream.endedAt, 100, 20);
    const call = await inFlight;
    expect(Date.now() - issuedAt).toBeLessThan(TTL_MS);
    expect(stream.endedAt! - replayedAt).toBeLessThan(1000);
    expect(call.status).toBe(200);
    expect(call.body.error?.message).toContain("its sign-in was revoked");
    expect(gateway.output()).toContain(`session ended: access revoked session=${session.id} subject=bob@example.com reason="its sign-in was revoked"`);
    // Every token of the family is dead: the latest access token, the latest refresh token.
    expect((await session.post(third.body.access_token!, { jsonrpc: "2.0", id: 3, method: "ping" })).status).toBe(401);
    expect((await token({ grant_type: "refresh_token", client_id: clientId, refresh_token: third.body.refresh_token! })).body.error).toBe("invalid_grant");
    const [grant] = await grantsOf("bob@example.com");
    expect(grant).toMatchObject({ clientId, revokedReason: "refresh token replayed" });
  });
});

describe("a session's GET stream reopened with another sign-in's token", () => {
  test("ends at once when that sign-in is revoked, though the session's own is not", async () => {
    const first = await signedInRaw("eve@example.com");
    const session = await rawSession(first.tokens.access_token!);
    // The person signed the client in again (its refresh token was lost): a new grant, the same session.
    const second = await signedInRaw("eve@example.com");
    const stream = await session.openStream(second.tokens.access_token!);
    expect(stream.status).toBe(200);
    const grant = (await grantsOf("eve@example.com")).find((g) => g.clientId === second.clientId)!;
    const revokedAt = Date.now();
    expect((await fetch(`${gateway.url}/admin/api/oauth-grants/${grant.id}`, { method: "DELETE", headers: adminHeaders() })).status).toBe(200);
    await waitFor("the GET stream to end", () => stream.endedAt, 50, 20);
    expect(stream.endedAt! - revokedAt).toBeLessThan(1000);
    expect((await session.post(first.tokens.access_token!, { jsonrpc: "2.0", id: 1, method: "ping" })).status).toBe(200);
    // Pruning the Virtual MCP away would end the sign-ins still held on it: a dry run counts them with what goes.
    const dryRun = await fetch(`${gateway.url}/admin/api/config?prune=true&dryRun=true`, { method: "PUT", headers: adminHeaders(), body: "virtualMcps: []\n" });
    expect(dryRun.status).toBe(200);
    expect(((await dryRun.json()) as { changes: string[] }).changes.join("\n")).toMatch(/^would delete virtual MCP alpha \(with its .*\b\d+ OAuth sign-ins?\)$/m);
  });
});

describe("a session's GET stream reopened twice with the same other token", () => {
  test("the stream that took the first one's place still ends when that token's sign-in is revoked", async () => {
    const first = await signedInRaw("fay@example.com");
    const session = await rawSession(first.tokens.access_token!);
    const second = await signedInRaw("fay@example.com");
    const replaced = await session.openStream(second.tokens.access_token!);
    // Reopened (the client thought the first dead): it takes the first one's place, whose end comes after.
    const stream = await session.openStream(second.tokens.access_token!);
    expect(stream.status).toBe(200);
    await waitFor("the replaced GET stream to end", () => replaced.endedAt, 50, 20);
    const grant = (await grantsOf("fay@example.com")).find((g) => g.clientId === second.clientId)!;
    expect((await fetch(`${gateway.url}/admin/api/oauth-grants/${grant.id}`, { method: "DELETE", headers: adminHeaders() })).status).toBe(200);
    await waitFor("the GET stream to end", () => stream.endedAt, 50, 20);
    expect((await session.post(first.tokens.access_token!, { jsonrpc: "2.0", id: 1, method: "ping" })).status).toBe(200);
  });
});

describe("a call in flight when its token expires", () => {
  test("completes normally, its JSON reply and its SSE reply with progress alike; only the GET stream ends at expiry", async () => {
    const { clientId, tokens, issuedAt } = await signedInRaw("cat@example.com");
    const session = await rawSession(tokens.access_token!);
    const stream = await session.openStream(tokens.access_token!);
    const runFor = TTL_MS + 1000 - (Date.now() - issuedAt);
    const asJson = session.post(tokens.access_token!, countdown(1, runFor)).then(async (r) => ({ status: r.status, body: (await r.json()) as ReturnType<typeof eventsOf>[number] }));
    const asSse = session.post(tokens.access_token!, countdown(2, runFor, "p")).then((r) => watchStream(r));

    await waitFor("the GET stream to end at expiry", () => stream.endedAt, 200, 25);
    const json = await asJson;
    const finishedAt = Date.now();
    expect(finishedAt - issuedAt).toBeGreaterThan(TTL_MS);
    expect(json.status).toBe(200);
    expect(json.body.result?.isError).toBeUndefined();
    expect(json.body.result?.content[0]?.text).toMatch(/^counted down from \d+$/);
    const sse = await asSse;
    await waitFor("the SSE reply to end", () => sse.endedAt, 100, 20);
    const events = eventsOf(sse.text);
    expect(events.filter((e) => e.method === "notifications/progress").length).toBeGreaterThan(10);
    expect(events.at(-1)?.result?.content[0]?.text).toMatch(/^counted down from \d+$/);
    const calls = (await auditOf("cat@example.com")).filter((r) => r.method === "tools/call");
    expect(calls.map((c) => c.outcome)).toEqual(["ok", "ok"]);
    for (const call of calls) expect(call.clientId).toBe(clientId);
  });

  test("on the legacy HTTP+SSE transport too: the event stream stays open until the call's reply is out, taking no new request, then ends", async () => {
    const { tokens, issuedAt } = await signedInRaw("dan@example.com");
    const { stream, post } = await legacySession(tokens.access_token!);
    expect((await post(tokens.access_token!, countdown(1, TTL_MS + 1500 - (Date.now() - issuedAt), "p"))).status).toBe(202);

    // Past expiry, with the call still running: a refreshed token reaches the session, but it takes no new request.
    await waitFor("the token to expire", () => Date.now() - issuedAt > TTL_MS + 300, 200, 25);
    expect(stream.endedAt).toBeUndefined();
    const { tokens: later } = await signedInRaw("dan@example.com");
    const refused = await post(later.access_token!, { jsonrpc: "2.0", id: 2, method: "ping" });
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("GET /sse/alpha");

    await waitFor("the event stream to end", () => stream.endedAt, 200, 25);
    // Before, the call was cut at expiry: "mintgate ended this session (its access token expired ...) before the request finished".
    const replies = eventsOf(stream.text).filter((e) => e.id === 1);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.error).toBeUndefined();
    expect(replies[0]!.result?.content[0]?.text).toMatch(/^counted down from \d+$/);
    expect(eventsOf(stream.text).filter((e) => e.method === "notifications/progress").length).toBeGreaterThan(10);
    expect((await auditOf("dan@example.com")).filter((r) => r.method === "tools/call").map((r) => r.outcome)).toEqual(["ok"]);
  });
});

/** A personal access token of `email`, created while the gateway runs. */
async function personalToken(email: string): Promise<{ id: string; token: string }> {
  const created = await runMintgate(["tokens", "create", "--user", email, "--json", "--data", gateway.dataDir]);
  expect(created.code).toBe(0);
  return JSON.parse(created.stdout) as { id: string; token: string };
}

/** What a call is answered with when the personal access token that sent it is revoked. */
const CUT_OFF_BY_REVOCATION = "mintgate ended the call (its access token was revoked) before the request finished; sign in again or use a valid token, then send the request again.";

const echo = (id: number, text: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "demo__echo", arguments: { text } } });

describe("a session's call sent with another token of the same person's", () => {
  test("is recorded under that token, and revoking it cuts that call off while the session, opened with the first token, carries on", async () => {
    const person = "fay@example.com";
    const first = await personalToken(person);
    const second = await personalToken(person);
    const session = await rawSession(first.token);

    const echoed = await session.post(second.token, echo(1, "sent with the second token"));
    expect(echoed.status).toBe(200);
    expect(JSON.stringify(await echoed.json())).toContain("sent with the second token");
    // Before, the call was recorded under the token that opened the session.
    const records = await auditOf(person);
    expect(records.find((r) => r.method === "initialize")).toMatchObject({ tokenId: first.id, sessionId: session.id });
    expect(records.filter((r) => r.method === "tools/call")).toEqual([expect.objectContaining({ tokenId: second.id, sessionId: session.id, outcome: "ok" })]);

    // A call in flight (its progress shows it running) loses its token.
    const running = watchStream(await session.post(second.token, countdown(2, 10_000, "p")));
    await waitFor("the countdown's first progress", () => eventsOf(running.text).some((e) => e.method === "notifications/progress"));
    expect((await runMintgate(["tokens", "revoke", second.id, "--data", gateway.dataDir])).code).toBe(0);
    await waitFor("the call to be cut off", () => running.endedAt, 100, 100);
    const reply = eventsOf(running.text).find((e) => e.id === 2);
    // Before, it ran its ten seconds and handed its result to the revoked token.
    expect(reply?.error?.message).toBe(CUT_OFF_BY_REVOCATION);
    expect(gateway.output()).toContain(`call ended: access revoked session=${session.id} subject=${person}`);

    // The session, opened with the first token, still works with it; the revoked one is refused.
    const after = await session.post(first.token, echo(3, "still here"));
    expect(after.status).toBe(200);
    expect(JSON.stringify(await after.json())).toContain("still here");
    expect((await session.post(second.token, echo(4, "revoked"))).status).toBe(401);
    const calls = (await auditOf(person)).filter((r) => r.method === "tools/call");
    expect(calls.map((c) => [c.tokenId, c.outcome]).sort()).toEqual([[first.id, "ok"], [second.id, "cancelled"], [second.id, "ok"]].sort());
  });

  test("on the legacy HTTP+SSE transport too: the POST's own token is recorded, and its revocation cuts off its call alone", async () => {
    const person = "gus@example.com";
    const first = await personalToken(person);
    const second = await personalToken(person);
    const { stream, post } = await legacySession(first.token);
    const replyTo = (id: number) => waitFor(`the reply to ${id}`, () => eventsOf(stream.text).find((e) => e.id === id), 100, 100);

    expect((await post(second.token, echo(1, "sent with the second token"))).status).toBe(202);
    expect((await replyTo(1)).result?.content[0]?.text).toContain("sent with the second token");
    expect((await post(second.token, countdown(2, 10_000, "p"))).status).toBe(202);
    await waitFor("the countdown's first progress", () => eventsOf(stream.text).some((e) => e.method === "notifications/progress"));
    expect((await runMintgate(["tokens", "revoke", second.id, "--data", gateway.dataDir])).code).toBe(0);
    expect((await replyTo(2)).error?.message).toBe(CUT_OFF_BY_REVOCATION);

    expect((await post(first.token, echo(3, "still here"))).status).toBe(202);
    expect((await replyTo(3)).result?.content[0]?.text).toContain("still here");
    expect(stream.endedAt).toBeUndefined();
    const calls = (await auditOf(person)).filter((r) => r.method === "tools/call");
    expect(calls.map((c) => [c.tokenId, c.outcome]).sort()).toEqual([[first.id, "ok"], [second.id, "cancelled"], [second.id, "ok"]].sort());
  });
});
