/**
 * OAuth client registration (src/auth/clients): DCR, CIMD with SSRF
 * protection, pinned vendor documents, static clients (CLI), redirect URI
 * matching and client authentication. Real SQLite in a temp dir; CIMD
 * documents are served over real TLS by test servers on 127.0.0.1 under a
 * made-up name, with a resolver and CA passed to a test-only fetcher. The
 * refusal tests use the fetcher the gateway uses (no options).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { AuthEvents } from "../src/auth/events.ts";
import { sweepAuthRows } from "../src/auth/index.ts";
import { ClientRegistry, isCimdClientId, isPublicAddress, matchRedirectUri, SafeFetcher, SafeFetchError } from "../src/auth/clients/index.ts";
import { OAuthError } from "../src/auth/oauth-error.ts";
import { openStore, type Store } from "../src/store/index.ts";
import { runMintgate, tempDir } from "./harness.ts";

const HOST = "client.test";
let store: Store;
let events: AuthEvents;
let ca: string;
let server: ReturnType<typeof Bun.serve>;
let base: string;
/** Path → handler for the TLS test server. */
const routes = new Map<string, (request: Request) => Response>();
const hits = new Map<string, number>();

/** A fetcher that may reach the 127.0.0.1 test server under the name client.test (never used by the gateway). */
const testFetcher = () => new SafeFetcher({ resolve: async () => ["127.0.0.1"], isAllowedAddress: () => true, ca, timeoutMs: 3000 });
const registry = (options: Partial<ConstructorParameters<typeof ClientRegistry>[0]> = {}) => new ClientRegistry({ store, events, fetcher: testFetcher(), ...options });

function certificate(dir: string): { cert: string; key: string } {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${HOST}`, "-addext", `subjectAltName=DNS:${HOST}`]);
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

/** Serves `document` as JSON at `path`, counting fetches. */
function serve(path: string, document: unknown, headers: Record<string, string> = {}): string {
  routes.set(path, () => new Response(JSON.stringify(document), { headers: { "content-type": "application/json", ...headers } }));
  return `${base}${path}`;
}

function cimdDocument(url: string, extra: Record<string, unknown> = {}) {
  return { client_id: url, client_name: "Test App", redirect_uris: ["https://app.example.com/callback"], token_endpoint_auth_method: "none", ...extra };
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OAuthError) return error;
    throw error;
  }
  throw new Error("expected an OAuthError");
}

beforeAll(() => {
  const dir = tempDir("mintgate-oauth-clients");
  store = openStore(join(dir, "mintgate.db"), { create: true });
  events = new AuthEvents(store);
  const tls = certificate(dir);
  ca = tls.cert;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls,
    fetch(request) {
      const path = new URL(request.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const handler = routes.get(path);
      return handler ? handler(request) : new Response("not found", { status: 404 });
    },
  });
  base = `https://${HOST}:${server.port}`;
});

afterAll(() => {
  server?.stop(true);
  store?.close();
});

describe("dynamic client registration (RFC 7591)", () => {
  test("201 with integer timestamps, defaults, echoed metadata; unknown metadata ignored", async () => {
    const answer = await registry().register(
      { client_name: "mcp-remote", redirect_uris: ["http://localhost:3334/oauth/callback"], software_id: "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d", software_version: "0.15.1", resource: "https://x.example/mcp", made_up_field: { nested: true } },
      "203.0.113.5",
    );
    expect(answer.status).toBe(201);
    const body = answer.body;
    expect(body.client_id).toMatch(/^mgc_/);
    expect(Number.isInteger(body.client_id_issued_at)).toBe(true);
    expect(body).toMatchObject({
      client_name: "mcp-remote",
      redirect_uris: ["http://localhost:3334/oauth/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      software_id: "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
    });
    expect(body).not.toHaveProperty("client_secret");
    expect(body).not.toHaveProperty("made_up_field");
    expect(body).not.toHaveProperty("resource");
    const reg = registry();
    const client = await reg.resolve(body.client_id);
    expect(client).toMatchObject({ kind: "dcr", name: "mcp-remote", tokenEndpointAuthMethod: "none" });
    // Anyone could have registered it: /authorize errors are not redirected to it before the person acts (RFC 9700 §4.11.2).
    expect(reg.redirectUrisVouchedFor(client)).toBe(false);
    expect(events.list({ type: "client_registered", clientId: body.client_id as string })[0]).toMatchObject({ outcome: "ok", ip: "203.0.113.5" });
  });

  test("client names lose what could disguise them on the consent page: bidi overrides, invisible and control characters", async () => {
    const answer = await registry().register({ client_name: "Evil\u202Eedualc\u200b \u0085Corp\u2028X\u0007", redirect_uris: ["https://app.example.com/cb"] }, "203.0.113.8");
    expect(answer.status).toBe(201);
    expect(answer.body.client_name).toBe("Eviledualc  Corp X");
    // The cap counts characters: an emoji at the limit is kept whole or dropped, never cut into a lone surrogate.
    const long = await registry().register({ client_name: "a".repeat(99) + "\u{1F600}b", redirect_uris: ["https://app.example.com/cb"] }, "203.0.113.8");
    expect(long.body.client_name).toBe("a".repeat(99) + "\u{1F600}");
  });

  test("a confidential registration gets a secret once, an integer client_secret_expires_at of 0, and only its hash is stored", async () => {
    const answer = await registry().register({ redirect_uris: ["https://app.example.com/cb"], token_endpoint_auth_method: "client_secret_post", application_type: "web" }, "203.0.113.6");
    expect(answer.status).toBe(201);
    expect(answer.body.client_secret).toMatch(/^mgcs_/);
    expect(answer.body.client_secret_expires_at).toBe(0);
    expect(answer.body.client_name).toBe("Client at app.example.com");
    const row = store.oauthClients.find(answer.body.client_id as string)!;
    expect(row.secretHash).not.toContain(answer.body.client_secret as string);
    expect(JSON.stringify(row)).not.toContain(answer.body.client_secret as string);
  });

  test("redirect URI shapes: https, loopback on any port, cursor://; application_type native accepted", async () => {
    const answer = await registry().register(
      { redirect_uris: ["https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/", "http://[::1]:9000/cb", "http://localhost/callback", "cursor://anysphere.cursor-mcp/oauth/callback"], application_type: "native" },
      "203.0.113.7",
    );
    expect(answer.status).toBe(201);
  });

  test("bad redirect URIs are refused with invalid_redirect_uri", async () => {
    const bad = [
      "javascript:alert(1)",
      "data:text/html,hi",
      "file:///etc/passwd",
      "https://app.example.com/cb#frag",
      "https://*.example.com/cb",
      "https://user:pw@app.example.com/cb",
      "http://app.example.com/cb",
      "vscode://some/cb",
      "relative/cb",
      "https://app.example.com/c b",
    ];
    for (const uri of bad) {
      const answer = await registry().register({ redirect_uris: [uri] }, "203.0.113.8");
      expect(answer.status, uri).toBe(400);
      expect(answer.body.error, uri).toBe("invalid_redirect_uri");
    }
    for (const body of [{}, { redirect_uris: [] }, { redirect_uris: "https://a.example/cb" }]) {
      expect((await registry().register(body, "203.0.113.8")).body.error).toBe("invalid_redirect_uri");
    }
    expect(events.list({ type: "client_registered" }).some((e) => e.outcome === "refused" && e.ip === "203.0.113.8")).toBe(true);
  });

  test("bad metadata is refused with invalid_client_metadata", async () => {
    const cases: unknown[] = [
      "not an object",
      [1, 2],
      { redirect_uris: ["https://a.example/cb"], token_endpoint_auth_method: "client_secret_jwt" },
      { redirect_uris: ["https://a.example/cb"], grant_types: ["client_credentials"] },
      { redirect_uris: ["https://a.example/cb"], response_types: ["token"] },
      { redirect_uris: ["https://a.example/cb"], application_type: "desktop" },
      { redirect_uris: ["https://a.example/cb"], token_endpoint_auth_method: "private_key_jwt" },
    ];
    for (const body of cases) {
      const answer = await registry().register(body, "203.0.113.9");
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error, JSON.stringify(body)).toBe("invalid_client_metadata");
    }
  });

  test("registrations are rate-limited per IP with 429 and Retry-After; other IPs are not affected", async () => {
    const limited = registry({ registrationLimit: { max: 3, windowMs: 60_000 } });
    const body = { redirect_uris: ["https://a.example/cb"] };
    for (let i = 0; i < 3; i++) expect((await limited.register(body, "198.51.100.1")).status).toBe(201);
    const refused = await limited.register(body, "198.51.100.1");
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe("temporarily_unavailable");
    expect(Number(refused.headers!["retry-after"])).toBeGreaterThan(0);
    expect((await limited.register(body, "198.51.100.2")).status).toBe(201);
  });

  test("the default limit is generous: 30 registrations a minute from one address", async () => {
    const fresh = registry();
    for (let i = 0; i < 30; i++) expect((await fresh.register({ redirect_uris: ["https://a.example/cb"] }, "198.51.100.3")).status).toBe(201);
    expect((await fresh.register({ redirect_uris: ["https://a.example/cb"] }, "198.51.100.3")).status).toBe(429);
  });

  test("refusals by the per-address limit are recorded once a minute per address, the next record counting those left out", async () => {
    let clock = Date.now();
    // A window longer than a minute, so the address is still refused when the next record is due.
    const limited = registry({ registrationLimit: { max: 30, windowMs: 3_600_000 }, now: () => clock });
    const body = { redirect_uris: ["https://a.example/cb"] };
    const refused = () => events.list({ type: "client_registered", limit: 10_000 }).filter((e) => e.outcome === "refused");
    const refusalsOf = (ip: string) => refused().filter((e) => e.ip === ip);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await limited.register(body, "198.51.100.4")).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    expect(refusalsOf("198.51.100.4")).toHaveLength(1);
    expect(JSON.parse(refusalsOf("198.51.100.4")[0]!.detail!)).toMatchObject({ refusedUnrecorded: 0 });
    // Another address over its limit is recorded on its own.
    for (let i = 0; i < 31; i++) await limited.register(body, "198.51.100.5");
    expect(refusalsOf("198.51.100.5")).toHaveLength(1);
    // Bad metadata is still recorded each time.
    const before = refused().length;
    for (let i = 0; i < 3; i++) expect((await limited.register({ redirect_uris: ["https://a.example/cb"], grant_types: ["implicit"] }, "198.51.100.6")).status).toBe(400);
    expect(refused().length).toBe(before + 3);

    clock += 61_000;
    expect((await limited.register(body, "198.51.100.4")).status).toBe(429);
    const recorded = refusalsOf("198.51.100.4");
    expect(recorded).toHaveLength(2);
    expect(recorded.map((e) => JSON.parse(e.detail!).refusedUnrecorded).sort()).toEqual([0, 9]);
  });
});

describe("the cap on registered clients that have not signed in", () => {
  test("past it, /register answers 429 with Retry-After, recorded once a minute; once the sweep deleted them, registrations are accepted again", async () => {
    // A store of its own: the other tests' registrations would count.
    const own = openStore(join(tempDir("mintgate-pending-cap"), "mintgate.db"), { create: true });
    const ownEvents = new AuthEvents(own);
    let clock = Date.now();
    const capped = new ClientRegistry({ store: own, events: ownEvents, maxPendingRegistrations: 3, now: () => clock });
    const body = { redirect_uris: ["https://a.example/cb"] };
    // From addresses of their own, so the per-address limit is not what refuses them.
    for (let i = 0; i < 3; i++) expect((await capped.register(body, `192.0.2.${i}`)).status).toBe(201);
    for (let i = 3; i < 6; i++) {
      const refused = await capped.register(body, `192.0.2.${i}`);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ error: "temporarily_unavailable", error_description: expect.stringContaining("retry in a few minutes") });
      expect(Number(refused.headers!["retry-after"])).toBeGreaterThan(0);
    }
    expect(own.oauthClients.list("dcr")).toHaveLength(3);
    const refusals = () => ownEvents.list({ type: "client_registered" }).filter((e) => e.outcome === "refused");
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]!.reason).toContain("3 registered clients have not signed in yet (the cap is 3)");

    // A day later the hourly sweep deletes them; the registry counts again (at most once a minute) and lets clients in.
    clock += 2 * 86_400_000;
    expect((await sweepAuthRows(own, { now: clock })).clients).toBe(3);
    expect((await capped.register(body, "192.0.2.9")).status).toBe(201);
    own.close();
  });
});

describe("client ID metadata documents", () => {
  test("what counts as a CIMD client_id", () => {
    expect(isCimdClientId("https://app.example.com/client.json")).toBe(true);
    for (const id of ["http://app.example.com/client.json", "https://app.example.com", "https://app.example.com/", "https://app.example.com/a#f", "https://u@app.example.com/c", "https://app.example.com/a/../c", "https://APP.example.com/c", "https://app.example.com:443/c", "https://app.example.com/%2e%2e/c"]) {
      expect(isCimdClientId(id), id).toBe(false);
    }
  });

  test("a valid document is fetched, stored as kind cimd, cached by max-age and recorded", async () => {
    const url = serve("/good.json", cimdDocument(`${base}/good.json`), { "cache-control": "max-age=600" });
    const reg = registry();
    const client = await reg.resolve(url);
    expect(client).toMatchObject({ clientId: url, kind: "cimd", name: "Test App", redirectUris: ["https://app.example.com/callback"], tokenEndpointAuthMethod: "none" });
    expect(reg.redirectUrisVouchedFor(client)).toBe(false);
    expect(store.oauthClients.find(url)?.kind).toBe("cimd");
    await reg.resolve(url);
    // A second registry (another process) finds the fresh copy in the store.
    await registry().resolve(url);
    expect(hits.get("/good.json")).toBe(1);
    expect(events.list({ type: "client_registered", clientId: url })[0]?.outcome).toBe("ok");
  });

  test("no-store documents are fetched every time; failures are never cached", async () => {
    const url = serve("/nostore.json", cimdDocument(`${base}/nostore.json`), { "cache-control": "no-store" });
    const reg = registry();
    await reg.resolve(url);
    await reg.resolve(url);
    expect(hits.get("/nostore.json")).toBe(2);

    let healthy = false;
    routes.set("/flaky.json", () => (healthy ? Response.json(cimdDocument(`${base}/flaky.json`)) : new Response("busy", { status: 503 })));
    const flaky = `${base}/flaky.json`;
    expect((await refusal(reg.resolve(flaky))).code).toBe("invalid_client");
    healthy = true;
    expect((await reg.resolve(flaky)).name).toBe("Test App");
  });

  test("documents with the wrong client_id, no client_name or redirect_uris, or a shared-secret method are refused", async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["/wrong-id.json", { client_id: `${base}/other.json` }, /client_id/],
      ["/no-name.json", { client_name: undefined }, /client_name/],
      ["/no-redirects.json", { redirect_uris: [] }, /redirect_uris/],
      ["/secret.json", { token_endpoint_auth_method: "client_secret_basic" }, /shared secret/],
      ["/jwt-no-keys.json", { token_endpoint_auth_method: "private_key_jwt" }, /jwks/],
    ];
    for (const [path, extra, reason] of cases) {
      const url = `${base}${path}`;
      serve(path, cimdDocument(url, extra));
      const error = await refusal(registry().resolve(url));
      expect(error.code, path).toBe("invalid_client");
      expect(error.status).toBe(401);
      expect(error.description, path).toMatch(reason);
    }
  });

  test("redirects, non-JSON, non-200 and oversize documents are refused", async () => {
    routes.set("/redirect.json", () => new Response(null, { status: 302, headers: { location: `${base}/good.json` } }));
    routes.set("/html.json", () => new Response("<html></html>", { headers: { "content-type": "text/html" } }));
    routes.set("/big.json", () => Response.json({ ...cimdDocument(`${base}/big.json`), padding: "x".repeat(20_000) }));
    routes.set("/big-chunked.json", () => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(`{"pad":"${"x".repeat(40_000)}`)); c.close(); } }), { headers: { "content-type": "application/json" } }));
    const expectations: [string, RegExp][] = [
      ["/redirect.json", /redirect/],
      ["/html.json", /application\/json/],
      ["/missing.json", /404/],
      ["/big.json", /larger than/],
      ["/big-chunked.json", /larger than/],
    ];
    for (const [path, reason] of expectations) {
      const error = await refusal(registry().resolve(`${base}${path}`));
      expect(error.code, path).toBe("invalid_client");
      expect(error.description, path).toMatch(reason);
    }
  });

  test("a server that never answers, or drips its body, hits the time cap", async () => {
    routes.set("/hang.json", () => new Promise<Response>(() => {}) as unknown as Response);
    routes.set("/drip.json", () => new Response(new ReadableStream({ async pull(c) { await Bun.sleep(100); c.enqueue(new TextEncoder().encode(" ")); } }), { headers: { "content-type": "application/json" } }));
    const impatient = new SafeFetcher({ resolve: async () => ["127.0.0.1"], isAllowedAddress: () => true, ca, timeoutMs: 500 });
    for (const path of ["/hang.json", "/drip.json"]) await expect(impatient.fetchJson(`${base}${path}`), path).rejects.toThrow(/took longer than 500 ms/);
  });

  test("SSRF: the gateway's own fetcher refuses loopback, link-local (cloud metadata) and private addresses, by literal or by name", async () => {
    const production = new SafeFetcher();
    for (const url of ["https://127.0.0.1/client.json", "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/c.json", "https://[::1]/c.json", "https://[::ffff:127.0.0.1]/c.json", "https://2130706433/c.json", "https://0x7f.1/c.json"]) {
      await expect(production.fetchJson(url), url).rejects.toThrow(/not a public address/);
    }
    // A name that resolves to 127.0.0.1 or 169.254.169.254 (here by an injected resolver, so no real DNS is needed).
    for (const address of ["127.0.0.1", "169.254.169.254", "100.64.1.1", "fd00::1", "fe80::1"]) {
      const fetcher = new SafeFetcher({ resolve: async () => [address] });
      await expect(fetcher.fetchJson("https://metadata.example/c.json"), address).rejects.toThrow(/not a public address/);
    }
    // A name with one public and one private answer is refused too (no choosing the good one).
    await expect(new SafeFetcher({ resolve: async () => ["93.184.216.34", "127.0.0.1"] }).fetchJson("https://mixed.example/c.json")).rejects.toThrow(/127\.0\.0\.1/);
    await expect(production.fetchJson("http://app.example.com/c.json")).rejects.toThrow(/https/);
    await expect(production.fetchJson("https://u:p@app.example.com/c.json")).rejects.toThrow(/user name/);
    // Through the registry: a CIMD client_id at 127.0.0.1 is invalid_client, and the refusal is recorded.
    const reg = new ClientRegistry({ store, events });
    const error = await refusal(reg.resolve("https://127.0.0.1/client.json"));
    expect(error.code).toBe("invalid_client");
    expect(error.description).toMatch(/not a public address/);
    expect(events.list({ type: "client_registered", clientId: "https://127.0.0.1/client.json" })[0]?.outcome).toBe("refused");
    await expect(refusal(reg.resolve("https://169.254.169.254/latest/meta-data/iam"))).resolves.toMatchObject({ code: "invalid_client" });
  });

  test("isPublicAddress", () => {
    for (const a of ["8.8.8.8", "93.184.216.34", "2606:4700::1111"]) expect(isPublicAddress(a), a).toBe(true);
    for (const a of ["0.0.0.0", "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "fc00::1", "fe80::1", "ff02::1", "2002:7f00:1::1", "64:ff9b::7f00:1", "not an ip"]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });

  test("fetching documents counts against the address's registration limit; a vendor's pinned copy is used past it", async () => {
    const limited = registry({ registrationLimit: { max: 3, windowMs: 60_000 } });
    const urls = [1, 2, 3, 4].map((n) => serve(`/limited-${n}.json`, cimdDocument(`${base}/limited-${n}.json`), { "cache-control": "no-store" }));
    for (const url of urls.slice(0, 3)) expect((await limited.resolve(url, "198.51.100.20")).name).toBe("Test App");
    const refused = await refusal(limited.resolve(urls[3]!, "198.51.100.20"));
    expect(refused.code).toBe("invalid_client");
    expect(refused.description).toMatch(/^The client metadata document could not be used: Too many new clients from this address; retry in \d+ s\.$/);
    // Refused before any fetch: a flood of made-up URLs makes no request to anyone's host.
    expect(hits.get("/limited-4.json")).toBeUndefined();
    expect(events.list({ type: "client_registered", clientId: urls[3]!, limit: 10 })[0]).toMatchObject({ outcome: "refused", ip: "198.51.100.20" });
    // Another address has its own budget.
    expect((await limited.resolve(urls[3]!, "198.51.100.21")).name).toBe("Test App");
    // A vendor's client stays usable from a busy address (Claude's servers exchange every code): its pinned copy, unfetched.
    const claude = await limited.resolve("https://claude.ai/oauth/mcp-oauth-client-metadata", "198.51.100.20");
    expect(claude).toMatchObject({ kind: "cimd", pinned: true });
  });

  test("pinned vendor documents are used when the fetch fails", async () => {
    // The vendor hosts "resolve" to nothing here: the fetch fails without touching the network.
    const offline = new ClientRegistry({ store, events, fetcher: new SafeFetcher({ resolve: async () => { throw new Error("offline"); } }) });
    const claude = await offline.resolve("https://claude.ai/oauth/mcp-oauth-client-metadata");
    expect(claude).toMatchObject({ kind: "cimd", pinned: true, tokenEndpointAuthMethod: "none", redirectUris: ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"] });
    // A vendor's client (pinned copy or its live document) is vouched for by the copy shipped in the binary.
    expect(offline.redirectUrisVouchedFor(claude)).toBe(true);
    const code = await offline.resolve("https://claude.ai/oauth/claude-code-client-metadata");
    expect(offline.redirectUriAllowed(code, "http://localhost:53123/callback")).toBe(true);
    expect(offline.redirectUriAllowed(code, "http://127.0.0.1:53123/callback")).toBe(true);
    expect(offline.redirectUriAllowed(code, "http://localhost:53123/other")).toBe(false);
    const chatgpt = await offline.resolve("https://chatgpt.com/oauth/client.json");
    expect(chatgpt).toMatchObject({ tokenEndpointAuthMethod: "private_key_jwt", jwksUri: "https://chatgpt.com/oauth/jwks.json" });
    expect(chatgpt.acceptedAuthMethods.sort()).toEqual(["none", "private_key_jwt"]);
    expect(offline.redirectUriAllowed(chatgpt, "https://chatgpt.com/connector_platform_oauth_redirect")).toBe(true);
    expect(offline.redirectUriAllowed(chatgpt, "https://chatgpt.com/connector/oauth/abc_DEF-123")).toBe(true);
    expect(offline.redirectUriAllowed(chatgpt, "https://chatgpt.com/connector/oauth/abc/../../evil")).toBe(false);
    expect(offline.redirectUriAllowed(chatgpt, "https://chatgpt.com/connector/oauth/")).toBe(false);
    expect(offline.redirectUriAllowed(chatgpt, "https://chatgpt.com/connector/oauth/a?x=1")).toBe(false);
    expect(offline.redirectUriAllowed(chatgpt, "https://chatgpt.com.evil.example/connector/oauth/abc")).toBe(false);
    const vscode = await offline.resolve("https://vscode.dev/oauth/client-metadata.json");
    for (const uri of ["http://127.0.0.1:33418/", "http://127.0.0.1:40000/", "http://127.0.0.1/", "https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect"]) {
      expect(offline.redirectUriAllowed(vscode, uri), uri).toBe(true);
    }
    // Other documents get no fallback.
    expect((await refusal(offline.resolve("https://unknown.example/client.json"))).code).toBe("invalid_client");
  });
});

describe("redirect URI matching", () => {
  const registered = ["https://app.example.com/cb", "http://127.0.0.1/callback", "http://localhost:3334/oauth/callback", "http://[::1]/cb", "cursor://anysphere.cursor-mcp/oauth/callback"];
  test("exact matches and loopback with any port", () => {
    for (const uri of ["https://app.example.com/cb", "http://127.0.0.1:5555/callback", "http://127.0.0.1/callback", "http://localhost:9999/oauth/callback", "http://[::1]:8080/cb", "cursor://anysphere.cursor-mcp/oauth/callback"]) {
      expect(matchRedirectUri(registered, uri), uri).toBe(true);
    }
  });
  test("a loopback URI without a path is the one with /, on any port (VS Code 1.102 and 1.103 registered and sent http://127.0.0.1:PORT)", () => {
    for (const [list, uri] of [
      [["http://127.0.0.1:33418"], "http://127.0.0.1:51234"],
      [["http://127.0.0.1:33418"], "http://127.0.0.1:51234/"],
      [["http://127.0.0.1:33418/"], "http://127.0.0.1:51234"],
      [["http://127.0.0.1:33418/"], "http://127.0.0.1:33418"],
      [["http://localhost"], "http://localhost:8000"],
    ] as const) {
      expect(matchRedirectUri(list, uri), `${uri} for ${list[0]}`).toBe(true);
    }
    // Still the root alone: not another path, a query, a fragment or a user name.
    for (const uri of ["http://127.0.0.1:51234/x", "http://127.0.0.1:51234?x=1", "http://127.0.0.1:51234#", "http://u@127.0.0.1:51234", "HTTP://127.0.0.1:51234"]) {
      expect(matchRedirectUri(["http://127.0.0.1:33418"], uri), uri).toBe(false);
    }
  });
  test("tricks are refused", () => {
    for (const uri of [
      "https://app.example.com/cb/",
      "https://app.example.com/cb?x=1",
      "https://app.example.com/cb#x",
      "https://APP.example.com/cb",
      "https://app.example.com@evil.example/cb",
      "https://evil.example/cb",
      "https://app.example.com/cb/../cb",
      "https://app.example.com/cb%2F..%2Fevil",
      "https://app.example.com/cb/..;/evil",
      "http://app.example.com/cb",
      "http://127.0.0.1:5555/callback/..;/x",
      "http://127.0.0.1:5555/callback%2F..",
      "http://127.0.0.1:5555/other",
      "http://127.0.0.1:5555@evil.example/callback",
      "http://localhost:80@evil.example/oauth/callback",
      "http://127.0.0.1:5555\\@evil.example/callback",
      "http://localhost.evil.example:3334/oauth/callback",
      "http://127.0.0.1:5555/callback?x=1",
      "http://localhost:3334/oauth/callback#f",
      "https://127.0.0.1:5555/callback",
      "cursor://anysphere.cursor-mcp/oauth/callback/x",
      "",
    ]) {
      expect(matchRedirectUri(registered, uri), uri).toBe(false);
    }
  });
});

describe("client authentication at /token", () => {
  const tokenUrl = "https://gw.example.com/token";
  const form = (fields: Record<string, string>) => new URLSearchParams(fields);
  const basic = (id: string, secret: string) => new Headers({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}` });

  test("none: a public client by client_id alone", async () => {
    const reg = registry();
    const { body } = await reg.register({ redirect_uris: ["https://a.example/cb"] }, "192.0.2.1");
    const client = await reg.authenticate(form({ client_id: body.client_id as string, grant_type: "authorization_code" }), new Headers(), tokenUrl);
    expect(client.clientId).toBe(body.client_id as string);
    // A public client that sends a secret anyway is refused (it has none).
    expect((await refusal(reg.authenticate(form({ client_id: body.client_id as string, client_secret: "x" }), new Headers(), tokenUrl))).code).toBe("invalid_client");
  });

  test("client_secret_basic and client_secret_post for a static confidential client; wrong secrets and no secret are 401", async () => {
    const reg = registry();
    const { clientId, clientSecret } = reg.addStatic({ name: "Predefined", redirectUris: ["https://a.example/cb"] });
    expect((await reg.authenticate(form({}), basic(clientId, clientSecret!), tokenUrl)).kind).toBe("static");
    expect(reg.redirectUrisVouchedFor(await reg.resolve(clientId))).toBe(true);
    expect((await reg.authenticate(form({ client_id: clientId, client_secret: clientSecret! }), new Headers(), tokenUrl)).kind).toBe("static");
    for (const [f, h] of [
      [form({}), basic(clientId, "wrong")],
      [form({ client_id: clientId, client_secret: "wrong" }), new Headers()],
      [form({ client_id: clientId }), new Headers()],
    ] as const) {
      const error = await refusal(reg.authenticate(f, h, tokenUrl));
      expect(error.code).toBe("invalid_client");
      expect(error.status).toBe(401);
      expect(error.toResponse().headers.get("www-authenticate")).toContain("Basic");
    }
    // Both at once is a malformed request.
    expect((await refusal(reg.authenticate(form({ client_id: clientId, client_secret: clientSecret! }), basic(clientId, clientSecret!), tokenUrl))).code).toBe("invalid_request");
  });

  test("an unknown or removed client is 401 invalid_client", async () => {
    const reg = registry();
    for (const id of ["mgc_nope", "https://127.0.0.1/nope.json"]) {
      const error = await refusal(reg.authenticate(form({ client_id: id }), new Headers(), tokenUrl));
      expect(error.code).toBe("invalid_client");
      expect(error.status).toBe(401);
    }
    const { clientId } = reg.addStatic({ name: "Gone soon", redirectUris: ["https://a.example/cb"], confidential: false });
    expect(reg.remove(clientId)).toBe(true);
    expect((await refusal(reg.authenticate(form({ client_id: clientId }), new Headers(), tokenUrl))).status).toBe(401);
  });

  test("private_key_jwt: a CIMD client's assertion is checked against its jwks_uri; replays, wrong audience, wrong key and HMAC are refused", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    serve("/jwks.json", { keys: [jwk] });
    const url = serve("/jwt-client.json", cimdDocument(`${base}/jwt-client.json`, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: `${base}/jwks.json` }));
    const reg = registry();
    const assertion = (claims: Record<string, unknown> = {}, key: CryptoKey | Uint8Array = privateKey, alg = "RS256") =>
      new SignJWT({ jti: crypto.randomUUID(), ...claims })
        .setProtectedHeader({ alg, kid: "k1" })
        .setIssuer(url)
        .setSubject(url)
        .setAudience((claims.aud as string) ?? tokenUrl)
        .setIssuedAt()
        .setExpirationTime("2m")
        .sign(key);
    const request = (jwt: string) => form({ client_id: url, client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: jwt });

    const jwt = await assertion();
    expect((await reg.authenticate(request(jwt), new Headers(), tokenUrl)).clientId).toBe(url);
    // The issuer as audience is accepted too; client_id may come from the assertion alone.
    const byIssuer = await assertion({ aud: "https://gw.example.com" });
    expect((await reg.authenticate(form({ client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: byIssuer }), new Headers(), tokenUrl)).clientId).toBe(url);

    expect((await refusal(reg.authenticate(request(jwt), new Headers(), tokenUrl))).description).toMatch(/already used/);
    expect((await refusal(reg.authenticate(request(await assertion({ aud: "https://other.example/token" })), new Headers(), tokenUrl))).code).toBe("invalid_client");
    const other = await generateKeyPair("RS256");
    expect((await refusal(reg.authenticate(request(await assertion({}, other.privateKey)), new Headers(), tokenUrl))).code).toBe("invalid_client");
    expect((await refusal(reg.authenticate(request(await assertion({}, new TextEncoder().encode("a".repeat(32)), "HS256")), new Headers(), tokenUrl))).code).toBe("invalid_client");
    // The document says private_key_jwt: no authentication at all is refused.
    expect((await refusal(reg.authenticate(form({ client_id: url }), new Headers(), tokenUrl))).code).toBe("invalid_client");
  });
});

describe("static clients through the CLI", () => {
  test("clients add / list / remove, with --json, --help and one-sentence errors", async () => {
    const dataDir = join(tempDir("mintgate-clients-cli"), "data");
    expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);

    const help = await runMintgate(["clients", "add", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--redirect-uri");

    const added = await runMintgate(["clients", "add", "--name", "ChatGPT predefined", "--redirect-uri", "https://chatgpt.com/connector_platform_oauth_redirect", "--redirect-uri", "http://127.0.0.1/cb", "--json", "--data", dataDir]);
    expect(added.code).toBe(0);
    const created = JSON.parse(added.stdout) as { clientId: string; clientSecret: string };
    expect(created.clientSecret).toMatch(/^mgcs_/);

    const pub = await runMintgate(["clients", "add", "--name", "Public one", "--redirect-uri", "cursor://anysphere.cursor-mcp/oauth/callback", "--public", "--data", dataDir]);
    expect(pub.code).toBe(0);
    expect(pub.stdout).toContain("client_id: mgc_");
    expect(pub.stdout).not.toContain("client_secret");
    // --json has the same keys for a public client: no secret is null, not a missing key.
    const pubJson = await runMintgate(["clients", "add", "--name", "Public two", "--redirect-uri", "http://127.0.0.1/cb", "--public", "--json", "--data", dataDir]);
    expect(Object.keys(JSON.parse(pubJson.stdout))).toEqual(Object.keys(created));
    expect(JSON.parse(pubJson.stdout).clientSecret).toBeNull();

    const listed = JSON.parse((await runMintgate(["clients", "list", "--json", "--data", dataDir])).stdout) as { clientId: string; name: string; confidential: boolean }[];
    expect(listed.map((c) => [c.name, c.confidential])).toEqual([["ChatGPT predefined", true], ["Public one", false], ["Public two", false]]);
    expect(JSON.stringify(listed)).not.toContain(created.clientSecret);

    // The secret works against the same store.
    const dirStore = openStore(join(dataDir, "mintgate.db"));
    try {
      const reg = new ClientRegistry({ store: dirStore, events: new AuthEvents(dirStore) });
      const client = await reg.authenticate(new URLSearchParams({ client_id: created.clientId, client_secret: created.clientSecret }), new Headers(), "https://gw.example.com/token");
      expect(client.name).toBe("ChatGPT predefined");
      // Added from the CLI: no request, so no address (the admin API's carries one: test/trusted-proxies.test.ts).
      expect(new AuthEvents(dirStore).list({ type: "client_registered", clientId: created.clientId })[0]).toMatchObject({ outcome: "ok", ip: null });
    } finally {
      dirStore.close();
    }

    const bad = await runMintgate(["clients", "add", "--name", "Bad", "--redirect-uri", "javascript:alert(1)", "--data", dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("not allowed");
    const noName = await runMintgate(["clients", "add", "--redirect-uri", "https://a.example/cb", "--data", dataDir]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("--name");

    expect((await runMintgate(["clients", "remove", created.clientId, "--data", dataDir])).code).toBe(0);
    const again = await runMintgate(["clients", "remove", created.clientId, "--data", dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("There is no client");
    expect((await runMintgate(["clients", "list", "--data", dataDir])).stdout).not.toContain("ChatGPT predefined");
  });
});
