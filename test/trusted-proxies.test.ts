/**
 * --trusted-proxies: behind a reverse proxy, the client is the address in
 * X-Forwarded-For, for the audit trail and the per-IP limits; from anyone
 * else the header is ignored. Unit checks of the resolver, then the real
 * binary over HTTP.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { WindowLimiter } from "../src/auth/rate-limit.ts";
import { loadSettings } from "../src/config/index.ts";
import { ClientAddresses } from "../src/http/client-address.ts";
import { configuredDataDir, DEMO_CONFIG as DEMO, runMintgate, startGateway, type RunningGateway } from "./harness.ts";

const request = (forwardedFor?: string) => new Request("http://gateway.test/mcp/demo", { headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor } });

describe("ClientAddresses", () => {
  const behindProxy = new ClientAddresses(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);

  test("without trusted proxies the peer is the client, whatever the header says", () => {
    expect(new ClientAddresses([]).of(request("203.0.113.7"), "127.0.0.1")).toBe("127.0.0.1");
  });

  test("a peer that is not a trusted proxy is the client", () => {
    expect(behindProxy.of(request("203.0.113.7"), "198.51.100.20")).toBe("198.51.100.20");
  });

  test("from a trusted proxy, the nearest untrusted hop is the client; entries further left could be forged", () => {
    expect(behindProxy.of(request("203.0.113.7"), "127.0.0.1")).toBe("203.0.113.7");
    expect(behindProxy.of(request("198.51.100.1, 203.0.113.7"), "127.0.0.1")).toBe("203.0.113.7");
    expect(behindProxy.of(request("198.51.100.1, 203.0.113.7, 10.2.3.4"), "127.0.0.1")).toBe("203.0.113.7");
    expect(behindProxy.of(request("2001:db8::5, fd12::1"), "::ffff:127.0.0.1")).toBe("2001:db8::5");
    // Entries with a port, as some load balancers write them.
    expect(behindProxy.of(request("203.0.113.7:41234"), "127.0.0.1")).toBe("203.0.113.7");
    expect(behindProxy.of(request("[2001:db8::9]:443, 10.1.1.1:80"), "127.0.0.1")).toBe("2001:db8::9");
  });

  test("a proxy that sent no header, only trusted hops, or a hop that is not an address", () => {
    expect(behindProxy.of(request(), "127.0.0.1")).toBe("127.0.0.1");
    expect(behindProxy.of(request("10.9.9.9, 10.1.1.1"), "127.0.0.1")).toBe("10.9.9.9");
    expect(behindProxy.of(request("203.0.113.7, unknown, 10.1.1.1"), "127.0.0.1")).toBe("10.1.1.1");
  });

  test("the setting is checked entry by entry, naming the bad one", () => {
    expect(loadSettings({ "trusted-proxies": " 127.0.0.1 , 10.0.0.0/8,::1" }, {}).trustedProxies).toEqual(["127.0.0.1", "10.0.0.0/8", "::1"]);
    expect(loadSettings({}, { MINTGATE_TRUSTED_PROXIES: "fd00::/8" }).trustedProxies).toEqual(["fd00::/8"]);
    expect(() => loadSettings({ "trusted-proxies": "10.0.0.0/33" }, {})).toThrow('--trusted-proxies must list proxy addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8,::1; "10.0.0.0/33" has a prefix length that does not fit an IPv4 address.');
    expect(() => loadSettings({}, { MINTGATE_TRUSTED_PROXIES: "proxy.internal" })).toThrow('MINTGATE_TRUSTED_PROXIES must list proxy addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8,::1; "proxy.internal" is not an IP address or CIDR range.');
  });
});

describe("WindowLimiter (per-IP limits on sign-ins and registrations)", () => {
  test("a flood from ever new addresses costs each request the same, and an address over its limit is still refused", () => {
    let now = 0;
    const limiter = new WindowLimiter({ max: 2, windowMs: 60_000 }, () => now);
    // Behind a trusted proxy, or over IPv6, each request may come from a new address. Every one of these
    // requests used to scan all windows once there were 10,000: 30,000 took seconds of the event loop.
    const started = performance.now();
    for (let i = 0; i < 30_000; i++) limiter.hit(`2001:db8::${i.toString(16)}`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(limiter.hit("203.0.113.7")).toBeUndefined();
    expect(limiter.hit("203.0.113.7")).toBeUndefined();
    expect(limiter.hit("203.0.113.7")).toBe(60);
    now += 30_000;
    expect(limiter.hit("203.0.113.7")).toBe(30);
    // The window over, the address starts again.
    now += 30_000;
    expect(limiter.hit("203.0.113.7")).toBeUndefined();
  });
});


const running: RunningGateway[] = [];
afterAll(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop()));
});

async function gatewayWith(args: string[]): Promise<{ gateway: RunningGateway; token: string; dataDir: string }> {
  const dataDir = await configuredDataDir(DEMO, { label: "mintgate-proxies" });
  const created = await runMintgate(["tokens", "create", "--user", "p@example.com", "--json", "--data", dataDir]);
  expect(created.code).toBe(0);
  const gateway = await startGateway({ dataDir, args });
  running.push(gateway);
  return { gateway, token: (JSON.parse(created.stdout) as { token: string }).token, dataDir };
}

/** One tools/call of `echo` in a fresh session, every request carrying `forwardedFor`. */
async function callThrough(gateway: RunningGateway, token: string, text: string, forwardedFor: string): Promise<void> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json", "x-forwarded-for": forwardedFor };
  const post = (body: object, extra: Record<string, string> = {}) => fetch(`${gateway.url}/mcp/demo`, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "proxied", version: "1" } } });
  expect(init.status).toBe(200);
  const session = { "mcp-session-id": init.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-11-25" };
  await init.text();
  expect((await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session)).status).toBe(202);
  const call = await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text } } }, session);
  expect(await call.text()).toContain(text);
}

async function recordedIpOf(gateway: RunningGateway, text: string): Promise<string | null> {
  const records = (await (await fetch(`${gateway.url}/admin/api/audit?tool=echo&kind=mcp`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { arguments: string | null; ip: string | null }[];
  const record = records.find((r) => r.arguments?.includes(text));
  expect(record).toBeDefined();
  return record!.ip;
}

/**
 * One admin change on the generic path (a client added) and one whose service records it (a secret set),
 * each sent with `forwardedFor`: the addresses their admin records keep, and the one of the added client's auth event.
 */
async function adminChangeIps(gateway: RunningGateway, forwardedFor: string): Promise<{ generic: string | null; selfRecorded: string | null; clientEvent: string | null }> {
  const headers = { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json", "x-forwarded-for": forwardedFor };
  const client = await fetch(`${gateway.url}/admin/api/clients`, { method: "POST", headers, body: JSON.stringify({ name: "proxied admin", redirectUris: ["https://x.example.com/cb"] }) });
  expect(client.status).toBe(201);
  const { clientId } = (await client.json()) as { clientId: string };
  expect((await fetch(`${gateway.url}/admin/api/secrets/proxied`, { method: "PUT", headers, body: JSON.stringify({ value: "proxied-value" }) })).status).toBe(200);
  const records = (await (await fetch(`${gateway.url}/admin/api/audit?kind=admin`, { headers: { authorization: headers.authorization } })).json()) as { method: string; ip: string | null }[];
  const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=client_registered&limit=1000`, { headers: { authorization: headers.authorization } })).json()) as { clientId: string | null; ip: string | null }[];
  const clientEvent = events.find((e) => e.clientId === clientId);
  expect(clientEvent).toBeDefined();
  return { generic: records.find((r) => r.method === "POST /clients")?.ip ?? null, selfRecorded: records.find((r) => r.method === "secret.create")?.ip ?? null, clientEvent: clientEvent!.ip };
}

const register = (gateway: RunningGateway, forwardedFor: string) =>
  fetch(`${gateway.url}/register`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
    body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/callback"], client_name: "proxied" }),
  });

/** The addresses the auth events of client registrations recorded. */
async function registrationIps(gateway: RunningGateway): Promise<(string | null)[]> {
  const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=client_registered&limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { ip: string | null }[];
  expect(events.length).toBeGreaterThan(0);
  return events.map((e) => e.ip);
}

describe("mintgate serve --trusted-proxies", () => {
  test("the audit trail records the client behind the proxy, not the proxy, and not what the client claims further left", async () => {
    const { gateway, token, dataDir } = await gatewayWith(["--trusted-proxies", "127.0.0.1,::1"]);
    await callThrough(gateway, token, "via-proxy", "203.0.113.7");
    expect(await recordedIpOf(gateway, "via-proxy")).toBe("203.0.113.7");
    await callThrough(gateway, token, "forged-left", "198.51.100.66, 203.0.113.8");
    expect(await recordedIpOf(gateway, "forged-left")).toBe("203.0.113.8");
    // Admin changes too, whether the HTTP layer or the service records them.
    expect(await adminChangeIps(gateway, "198.51.100.66, 203.0.113.9")).toEqual({ generic: "203.0.113.9", selfRecorded: "203.0.113.9", clientEvent: "203.0.113.9" });
    // A revoked personal access token's refusal on /mcp too: it recorded no address at all.
    const revoked = JSON.parse((await runMintgate(["tokens", "create", "--user", "r@example.com", "--json", "--data", dataDir])).stdout) as { id: string; token: string };
    expect((await runMintgate(["tokens", "revoke", revoked.id, "--data", dataDir])).code).toBe(0);
    const refused = await fetch(`${gateway.url}/mcp/demo`, {
      method: "POST",
      headers: { authorization: `Bearer ${revoked.token}`, accept: "application/json, text/event-stream", "content-type": "application/json", "x-forwarded-for": "198.51.100.66, 203.0.113.12" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(refused.status).toBe(401);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=token_refused`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { email: string | null; reason: string | null; ip: string | null }[];
    expect(events.filter((e) => e.email === "r@example.com").map((e) => [e.reason, e.ip])).toEqual([["The access token was revoked.", "203.0.113.12"]]);
  });

  test("registrations are limited per client behind the proxy: one client's 30 a minute do not lock out another", async () => {
    const { gateway } = await gatewayWith(["--trusted-proxies", "127.0.0.0/8"]);
    for (let i = 0; i < 30; i++) expect((await register(gateway, "203.0.113.10")).status).toBe(201);
    const refused = await register(gateway, "203.0.113.10");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect((await register(gateway, "203.0.113.11")).status).toBe(201);
    expect(await registrationIps(gateway)).toContain("203.0.113.11");
  });

  test("a flood of /token requests with a made-up client records 30 refusals a minute per client address, not one per request", async () => {
    const { gateway } = await gatewayWith(["--trusted-proxies", "127.0.0.0/8"]);
    const bogus = (forwardedFor: string) =>
      fetch(`${gateway.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": forwardedFor },
        body: "grant_type=authorization_code&code=made-up&code_verifier=x&client_id=nobody",
      });
    for (let i = 0; i < 200; i++) expect((await bogus("203.0.113.40")).status).toBe(401);
    expect((await bogus("203.0.113.41")).status).toBe(401);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=token_refused&limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { ip: string | null }[];
    expect(events.filter((e) => e.ip === "203.0.113.40")).toHaveLength(30);
    expect(events.filter((e) => e.ip === "203.0.113.41")).toHaveLength(1);
    expect(gateway.output().split("\n").filter((line) => line.includes("auth event refused"))).toHaveLength(31);
  });

  test("a flood of /token requests naming made-up client metadata documents records one refused document a minute per client address, not one per request", async () => {
    const { gateway } = await gatewayWith(["--trusted-proxies", "127.0.0.0/8"]);
    // Each client_id is a metadata document URL the gateway refuses to fetch (not a public address): no fetch leaves the machine.
    const bogus = (forwardedFor: string, i: number) =>
      fetch(`${gateway.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": forwardedFor },
        body: `grant_type=authorization_code&code=made-up&code_verifier=x&client_id=${encodeURIComponent(`https://127.0.0.1/made-up-${i}.json`)}`,
      });
    for (let i = 0; i < 100; i++) expect((await bogus("203.0.113.50", i)).status).toBe(401);
    expect((await bogus("203.0.113.51", 0)).status).toBe(401);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=client_registered&limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as {
      ip: string | null;
      outcome: string;
      detail: string | null;
    }[];
    const refused = events.filter((e) => e.outcome === "refused");
    expect(refused.map((e) => e.ip).sort()).toEqual(["203.0.113.50", "203.0.113.51"]);
    expect(JSON.parse(refused.find((e) => e.ip === "203.0.113.50")!.detail!)).toMatchObject({ kind: "cimd", refusedUnrecorded: 0 });
  });

  test("without the setting X-Forwarded-For is ignored: the peer is recorded and limited", async () => {
    const { gateway, token } = await gatewayWith([]);
    await callThrough(gateway, token, "no-trust", "203.0.113.7");
    expect(await recordedIpOf(gateway, "no-trust")).toBe("127.0.0.1");
    for (let i = 0; i < 30; i++) expect((await register(gateway, `203.0.113.${20 + i}`)).status).toBe(201);
    expect((await register(gateway, "203.0.113.99")).status).toBe(429);
    expect(await adminChangeIps(gateway, "203.0.113.7")).toEqual({ generic: "127.0.0.1", selfRecorded: "127.0.0.1", clientEvent: "127.0.0.1" });
    // Registrations, refused or not, and the client the admin added: the peer every time.
    expect(new Set(await registrationIps(gateway))).toEqual(new Set(["127.0.0.1"]));
  });

  test("a bad entry stops serve with a sentence naming it", async () => {
    const dataDir = await configuredDataDir(DEMO, { label: "mintgate-proxies" });
    const result = await runMintgate(["serve", "--data", dataDir, "--port", "0", "--trusted-proxies", "10.0.0.0/40"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('"10.0.0.0/40" has a prefix length that does not fit an IPv4 address');
  });
});
