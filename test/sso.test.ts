/**
 * Upstream SSO: mintgate as an OpenID relying party, against a real
 * oidc-provider on 127.0.0.1 (test/fixtures/oidc-idp.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import * as oidc from "openid-client";
import { ScriptedBrowser } from "./fixtures/browser.ts";
import { startOidcIdp, stopAllIdps } from "./fixtures/oidc-idp.ts";

afterAll(stopAllIdps);

describe("the test IdP", () => {
  test("issues an ID token with groups to a code+PKCE client, and refreshes it", async () => {
    const redirectUri = "http://127.0.0.1:9/callback";
    const idp = await startOidcIdp({
      users: [{ sub: "u-alice", email: "alice@example.com", name: "Alice", groups: ["eng", "ops"], password: "correct horse" }],
      clients: [{ client_id: "mintgate", client_secret: "s3cret", redirect_uris: [redirectUri] }],
    });
    const config = await oidc.discovery(new URL(idp.issuer), "mintgate", undefined, oidc.ClientSecretBasic("s3cret"), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid email profile offline_access",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      nonce,
      state,
    });
    const browser = new ScriptedBrowser();
    const stopAt = (u: URL) => u.href.startsWith(redirectUri);
    const login = await browser.open(url, { stopAt });
    expect(login.status).toBe(200);
    expect(login.forms[0]!.submitLabels).toEqual(["Sign in"]);

    const wrong = await browser.submit(login, { stopAt }, { login: "alice@example.com", password: "nope" });
    expect(wrong.stopped).toBe(false);
    expect(wrong.html).toContain("wrong password");

    const back = await browser.submit(wrong, { stopAt, button: "Sign in" }, { login: "alice@example.com", password: "correct horse" });
    expect(back.stopped).toBe(true);
    expect(browser.lastRedirect?.href).toBe(back.url.href);
    expect(back.url.searchParams.get("state")).toBe(state);
    expect(idp.logins).toEqual([{ login: "alice@example.com", ok: false }, { login: "alice@example.com", ok: true }]);

    const tokens = await oidc.authorizationCodeGrant(config, back.url, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state });
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(idp.issuer);
    expect(claims.aud).toBe("mintgate");
    expect(claims.sub).toBe("u-alice");
    expect(claims.groups).toEqual(["eng", "ops"]);
    expect(claims.email).toBe("alice@example.com");
    expect(typeof tokens.refresh_token).toBe("string");

    idp.setUser({ sub: "u-alice", email: "alice@example.com", groups: ["eng"] });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()!.groups).toEqual(["eng"]);
  });
});

// ---- mintgate's relying party (SsoService) against the test IdP, in-process on a real data dir ----
import { join } from "node:path";
import { UserDirectory } from "../src/auth/accounts/index.ts";
import { PublicUrls } from "../src/auth/public-urls.ts";
import { SsoService } from "../src/auth/sso/index.ts";
import { loadSettings } from "../src/config/index.ts";
import { openDataDir, type DataDir } from "../src/runtime/index.ts";
import { runMintgate, tempDir } from "./harness.ts";

const PUBLIC = "http://127.0.0.1:9";
const SECRET = "idp-client-secret-value-1234";

interface Rig {
  dir: DataDir;
  users: UserDirectory;
  sso: SsoService;
  signIn(provider: string, login: string, tamper?: (url: URL) => URL, pending?: (p: { state: string; nonce: string }) => void): Promise<import("../src/auth/accounts/index.ts").UserRecord>;
}

const opened: DataDir[] = [];
afterAll(() => {
  for (const dir of opened.splice(0)) dir.close();
});

function rig(): Rig {
  const dataDir = join(tempDir("mintgate-sso"), "data");
  const dir = openDataDir(loadSettings({ data: dataDir }), { initialise: true });
  opened.push(dir);
  const users = new UserDirectory(dir.store);
  const sso = new SsoService({ store: dir.store, secrets: dir.secrets, users, urls: new PublicUrls(PUBLIC) });
  return {
    dir,
    users,
    sso,
    async signIn(provider, login, tamper, editPending) {
      const { url, pending } = await sso.begin(provider);
      if (editPending) editPending(pending);
      const browser = new ScriptedBrowser();
      const stopAt = (u: URL) => u.origin === PUBLIC;
      const page = await browser.open(url, { stopAt });
      const back = await browser.submit(page, { stopAt }, { login, password: "pw" });
      expect(back.stopped).toBe(true);
      return sso.complete(provider, tamper ? tamper(back.url) : back.url, pending, "192.0.2.7");
    },
  };
}

const callback = (name: string) => `${PUBLIC}/sso/callback/${name}`;

describe("SSO sign-in through a real OIDC provider", () => {
  test("signs a person in with their groups, keyed by provider and subject; groups follow the IdP", async () => {
    const idp = await startOidcIdp({
      users: [{ sub: "okta-1", email: "Alice@Example.com", name: "Alice", groups: ["eng", "ops"] }],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }],
    });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET, allowedDomains: ["example.com"] });
    const { url } = await r.sso.begin("corp");
    const start = new URL(url);
    expect(start.searchParams.get("code_challenge_method")).toBe("S256");
    expect(start.searchParams.get("scope")).toBe("openid email profile offline_access");
    expect(start.searchParams.get("redirect_uri")).toBe(callback("corp"));
    expect(start.searchParams.has("resource")).toBe(false);

    const alice = await r.signIn("corp", "okta-1");
    expect(alice.email).toBe("alice@example.com");
    expect(alice.role).toBe("member");
    expect(alice.groups).toEqual(["eng", "ops"]);
    r.users.addGroup(alice.id, "manual-one");

    // Groups are replaced at the next sign-in; hand-assigned ones stay; the same person.
    idp.setUser({ sub: "okta-1", email: "alice@example.com", groups: ["eng", "security"] });
    const again = await r.signIn("corp", "okta-1");
    expect(again.id).toBe(alice.id);
    expect(again.groups).toEqual(["eng", "manual-one", "security"]);

    // And at a refresh, with the IdP's refresh token kept encrypted at sign-in.
    idp.setUser({ sub: "okta-1", email: "alice@example.com", groups: ["ops"] });
    expect(await r.sso.refreshGroups(alice.id)).toEqual([{ ok: true, provider: "corp", groups: ["ops"] }]);
    expect(r.users.get(alice.id).groups).toEqual(["manual-one", "ops"]);

    const events = r.dir.store.authEvents.list({ type: "sign_in" });
    expect(events[0]).toMatchObject({ outcome: "ok", provider: "corp", userId: alice.id, ip: "192.0.2.7" });
  });

  test("refuses a wrong state or nonce, a disallowed domain, an unverified email, a disabled person", async () => {
    const idp = await startOidcIdp({
      users: [
        { sub: "u-ok", email: "ok@example.com", groups: ["g"] },
        { sub: "u-other", email: "eve@elsewhere.org" },
        { sub: "u-unverified", email: "un@example.com", email_verified: false },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }],
    });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET, allowedDomains: ["example.com"] });

    const stateTampered = (u: URL) => {
      const copy = new URL(u);
      copy.searchParams.set("state", "not-the-state");
      return copy;
    };
    await expect(r.signIn("corp", "u-ok", stateTampered)).rejects.toThrow(/does not belong to the sign-in you started/);
    await expect(r.signIn("corp", "u-ok", undefined, (p) => (p.nonce = "another-nonce"))).rejects.toThrow(/could not be verified/);
    await expect(r.signIn("corp", "u-other")).rejects.toThrow(/Accounts of elsewhere.org cannot sign in here/);
    await expect(r.signIn("corp", "u-unverified")).rejects.toThrow(/un@example.com is not verified; verify it at corp \(or ask your administrator to\), then start again/);
    await expect(r.sso.complete("corp", new URL(`${callback("corp")}?code=x&state=y`), { provider: "other" })).rejects.toThrow(/not started here/);

    const ok = await r.signIn("corp", "u-ok");
    r.users.disable(ok.id);
    await expect(r.signIn("corp", "u-ok")).rejects.toThrow(/disabled/);

    const reasons = r.dir.store.authEvents.list({ type: "sign_in" }).filter((e) => e.outcome === "refused").map((e) => e.reason);
    expect(reasons).toContain("state mismatch");
    expect(reasons.some((x) => x?.startsWith("code exchange or ID token check failed"))).toBe(true);
    expect(reasons).toContain("email domain elsewhere.org not allowed");
    expect(reasons).toContain("email not verified");
    expect(reasons).toContain("account disabled");
    expect(r.users.list().map((u) => u.email)).toEqual(["ok@example.com"]);
  });

  test("an email the provider does not vouch for is refused, so it cannot reach the grants of the person who owns it; an admin can vouch for an oidc provider that never says", async () => {
    const idp = await startOidcIdp({
      users: [
        // Policies name people by email: this one claims the admin's, and the provider says nothing about it.
        { sub: "u-mallory", email: "boss@example.com", email_verified: null },
        { sub: "u-okta", email: "okta@example.com", email_verified: null },
        { sub: "u-plain", email: "plain@example.com", email_verified: null },
        { sub: "u-text", email: "text@example.com", claims: { email_verified: "true" } },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp"), callback("okta")] }],
    });
    const r = rig();
    const boss = await r.users.addLocal({ email: "boss@example.com", password: "a long enough password", role: "admin" });
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET, allowedDomains: ["example.com"] });
    await expect(r.signIn("corp", "u-mallory")).rejects.toThrow("corp did not say whether your email address boss@example.com is verified, so mintgate cannot use it; ask your administrator to check the provider's email_verified claim.");
    expect(r.users.findByEmail("boss@example.com").map((u) => u.id)).toEqual([boss.id]);
    const refused = r.dir.store.authEvents.list({ type: "sign_in" }).find((e) => e.outcome === "refused")!;
    expect(refused.reason).toBe("no email_verified claim (if this provider gives out only verified addresses, run: mintgate sso update corp --assume-email-verified yes)");
    // A verified flag sent as the string "true" counts, as "false" is refused.
    expect((await r.signIn("corp", "u-text")).email).toBe("text@example.com");

    // Okta always sends the claim with the email scope: without it, refused too, and the setting is not offered.
    r.sso.add({ name: "okta", kind: "okta", domain: "example.okta.com", clientId: "mg", clientSecret: SECRET });
    r.dir.store.identityProviders.update("okta", { issuer: idp.issuer, updatedAt: Date.now() + 1 });
    await expect(r.signIn("okta", "u-okta")).rejects.toThrow(/did not say whether your email address okta@example.com is verified/);
    expect(() => r.sso.update("okta", { assumeEmailVerified: true })).toThrow(/applies to oidc providers only/);

    r.sso.update("corp", { assumeEmailVerified: true });
    expect(r.sso.get("corp").assumeEmailVerified).toBe(true);
    expect((await r.signIn("corp", "u-plain")).email).toBe("plain@example.com");
    // An explicit "not verified" is refused whatever the setting.
    idp.setUser({ sub: "u-plain", email: "plain@example.com", email_verified: false });
    await expect(r.signIn("corp", "u-plain")).rejects.toThrow(/plain@example.com is not verified/);
  });

  test("allowed domains are checked on the verified address, in lower case, whole: two @, a trailing dot, a look-alike letter or a Kelvin sign do not pass", async () => {
    const idp = await startOidcIdp({
      users: [
        { sub: "d-upper", email: "Up@EXAMPLE.com" },
        { sub: "d-two-at", email: "a@evil.com@example.com" },
        { sub: "d-dot", email: "dot@example.com." },
        { sub: "d-sub", email: "sub@example.com.evil.org" },
        { sub: "d-look", email: "look@ex\u0430mple.com" },
        { sub: "d-kelvin", email: "\u212Aate@example.com" },
        { sub: "d-accent-apart", email: "Jose\u0301@example.com" },
        { sub: "d-unverified", email: "un@example.com", email_verified: null },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }],
    });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET, allowedDomains: ["Example.COM"] });
    expect((await r.signIn("corp", "d-upper")).email).toBe("up@example.com");
    await expect(r.signIn("corp", "d-two-at")).rejects.toThrow('corp sent "a@evil.com@example.com" as your email address, which mintgate cannot use; ask your administrator to check the email claim.');
    await expect(r.signIn("corp", "d-dot")).rejects.toThrow(/Accounts of example.com. cannot sign in here/);
    await expect(r.signIn("corp", "d-sub")).rejects.toThrow(/Accounts of example.com.evil.org cannot sign in here/);
    await expect(r.signIn("corp", "d-look")).rejects.toThrow(/Accounts of ex\u0430mple.com cannot sign in here/);
    await expect(r.signIn("corp", "d-kelvin")).rejects.toThrow(/which mintgate cannot use/);
    // An accent sent apart (e + U+0301, as macOS writes it) is the letter é: the person is kept as the precomposed address
    // an admin types, so `users show`, tokens and policies naming josé@example.com find them.
    const jose = await r.signIn("corp", "d-accent-apart");
    expect(jose.email).toBe("jos\u00e9@example.com");
    expect(r.users.resolve("JOS\u00c9@example.com").id).toBe(jose.id);
    // In the allowed domain but not vouched for: refused before the domain is looked at.
    await expect(r.signIn("corp", "d-unverified")).rejects.toThrow(/did not say whether your email address un@example.com is verified/);
    expect(r.users.list().map((u) => u.email)).toEqual(["jos\u00e9@example.com", "up@example.com"]);
  });

  test("groups the provider sends: one string is one group; a value that is not a string, or more than 1000 groups, refuses the sign-in with what to do", async () => {
    const idp = await startOidcIdp({
      users: [
        { sub: "g-one", email: "one@example.com", claims: { groups: "eng" } },
        { sub: "g-num", email: "num@example.com", claims: { groups: ["eng", 42] } },
        { sub: "g-obj", email: "obj@example.com", claims: { groups: { eng: true } } },
        { sub: "g-many", email: "many@example.com", groups: Array.from({ length: 1001 }, (_, i) => `g${i}`) },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }],
    });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET });
    expect((await r.signIn("corp", "g-one")).groups).toEqual(["eng"]);
    // Dropped silently, a group that a policy denies would let the person past that deny.
    await expect(r.signIn("corp", "g-num")).rejects.toThrow("corp sent a group mintgate cannot use (42: group names must be text); ask your administrator to rename that group or leave it out of the groups sent to mintgate, then start again.");
    await expect(r.signIn("corp", "g-obj")).rejects.toThrow("corp sent the groups claim as an object, not a list of group names; ask your administrator to check the claim mintgate reads groups from, then start again.");
    await expect(r.signIn("corp", "g-many")).rejects.toThrow("corp sent 1001 groups, more than the 1000 mintgate takes; ask your administrator to send mintgate only the groups its policies use (a group filter at the provider), then start again.");
    const reasons = r.dir.store.authEvents.list({ type: "sign_in" }).filter((e) => e.outcome === "refused").map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["groups claim is not a list (an object)", "too many groups (1001)", "unusable group name 42 (number)"]));
    expect(r.users.list().map((u) => u.email)).toEqual(["one@example.com"]);
  });

  test("a token endpoint that quotes the client secret in its refusal: the auth event and the log name the secret, never its value", async () => {
    const idp = await startOidcIdp({
      users: [{ sub: "u-1", email: "quoted@example.com" }],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }],
      refuseTokenQuoting: true,
    });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET, allowedDomains: ["example.com"] });
    const logged: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => logged.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      await expect(r.signIn("corp", "quoted@example.com")).rejects.toThrow("could not be verified");
    } finally {
      process.stderr.write = write;
    }
    const [event] = r.dir.store.authEvents.list({ type: "sign_in" });
    expect(event!.outcome).toBe("refused");
    // The provider's sentence is kept (it says why), with the secret by name: sent as client_secret_basic, the header carries it in base64.
    expect(event!.reason).toContain('the provider\'s token endpoint answered "invalid_client": client authentication failed: authorization=Basic [secret:sso.corp.client-secret]');
    const seen = [JSON.stringify(event), ...logged].join("\n");
    expect(seen).toContain("sso code exchange failed");
    for (const form of [SECRET, Buffer.from(`mg:${SECRET}`).toString("base64")]) expect(seen).not.toContain(form);
    await idp.stop();
  });

  test("a token endpoint that quotes the person's refresh token when refusing a group refresh: the reason names it, never its value", async () => {
    const idp = await startOidcIdp({
      users: [{ sub: "u-1", email: "refreshed@example.com" }],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }],
    });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mg", clientSecret: SECRET, allowedDomains: ["example.com"] });
    const person = await r.signIn("corp", "u-1");
    const refreshSecret = `sso.corp.refresh.${person.id}`;
    const refreshToken = r.dir.secrets.resolveSecret(refreshSecret);
    idp.setRefuseTokenQuoting(true);
    const [refresh] = await r.sso.refreshGroups(person.id);
    expect(refresh).toMatchObject({ ok: false, provider: "corp", revoked: false });
    const reason = (refresh as { reason: string }).reason;
    expect(reason).toContain(`body=refresh_token=[secret:${refreshSecret}]&grant_type=refresh_token`);
    expect(reason).not.toContain(refreshToken);
    await idp.stop();
  });

  test("the same email from two providers is two people", async () => {
    const idpA = await startOidcIdp({ users: [{ sub: "a-1", email: "sam@example.com", groups: ["a"] }], clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("one")] }] });
    const idpB = await startOidcIdp({ users: [{ sub: "a-1", email: "sam@example.com", groups: ["b"] }], clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("two")] }] });
    const r = rig();
    r.sso.add({ name: "one", kind: "oidc", issuer: idpA.issuer, clientId: "mg", clientSecret: SECRET });
    r.sso.add({ name: "two", kind: "oidc", issuer: idpB.issuer, clientId: "mg", clientSecret: SECRET });
    const one = await r.signIn("one", "a-1");
    const two = await r.signIn("two", "a-1");
    expect(one.id).not.toBe(two.id);
    expect(one.groups).toEqual(["a"]);
    expect(two.groups).toEqual(["b"]);
    expect(r.users.findByEmail("sam@example.com")).toHaveLength(2);
  });

  test("a provider removed and added again under the same name does not hand its people to another issuer's subjects", async () => {
    // Subjects are unique only within one issuer: many providers number their people 1, 2, 3…
    const before = await startOidcIdp({ users: [{ sub: "1", email: "root@example.com" }], clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }] });
    const after = await startOidcIdp({ users: [{ sub: "1", email: "stranger@example.com" }], clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("corp")] }] });
    const r = rig();
    r.sso.add({ name: "corp", kind: "oidc", issuer: before.issuer, clientId: "mg", clientSecret: SECRET });
    const root = await r.signIn("corp", "1");
    r.users.setRole(root.id, "admin");
    r.sso.remove("corp");
    r.sso.add({ name: "corp", kind: "oidc", issuer: after.issuer, clientId: "mg", clientSecret: SECRET });
    const stranger = await r.signIn("corp", "1");
    expect(stranger.id).not.toBe(root.id);
    expect(stranger.role).toBe("member");
    const kept = r.users.get(root.id);
    expect(kept).toMatchObject({ email: "root@example.com", role: "admin" });
    // Still shown on the person, under a name no provider can have.
    expect(kept.identities.map((i) => i.provider)).toEqual([expect.stringMatching(/^corp \(removed /)]);
    // Their mintgate sign-ins end at the next refresh, as for any removed provider.
    expect(await r.sso.refreshGroups(root.id)).toEqual([{ ok: false, provider: kept.identities[0]!.provider, reason: "the provider was removed", revoked: true }]);
  });

  test("Entra-like claims: tid:oid is the key, the tenant is checked, an overage is reported, no email_verified is needed but xms_edov false is refused", async () => {
    const tenant = "11111111-2222-3333-4444-555555555555";
    // Entra ID sends no email_verified claim; xms_edov only where the app registration asks for it.
    const idp = await startOidcIdp({
      users: [
        { sub: "pairwise-1", email: "e@contoso.com", email_verified: null, tid: tenant, oid: "aaaaaaaa-0000-0000-0000-000000000001", groups: ["g-1"], claims: { roles: ["Gateway.User"] } },
        { sub: "pairwise-2", email: "f@contoso.com", email_verified: null, tid: tenant, oid: "aaaaaaaa-0000-0000-0000-000000000002", claims: { xms_edov: true, roles: ["Gateway.Admin"], _claim_names: { groups: "src1" }, _claim_sources: { src1: { endpoint: "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } } } },
        { sub: "pairwise-3", email: "g@fabrikam.com", email_verified: null, tid: "99999999-2222-3333-4444-555555555555", oid: "aaaaaaaa-0000-0000-0000-000000000003" },
        { sub: "pairwise-4", email: "ceo@contoso.com", email_verified: null, tid: tenant, oid: "aaaaaaaa-0000-0000-0000-000000000004", claims: { xms_edov: false } },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("entra")] }],
    });
    const r = rig();
    // An Entra provider's issuer is derived from the tenant; point this one at the test IdP by writing the row's issuer.
    r.sso.add({ name: "entra", kind: "entra", tenant, clientId: "mg", clientSecret: SECRET });
    expect(r.sso.get("entra").issuer).toBe(`https://login.microsoftonline.com/${tenant}/v2.0`);
    r.dir.store.identityProviders.update("entra", { issuer: idp.issuer, updatedAt: Date.now() + 1 });
    expect(new URL((await r.sso.begin("entra")).url).searchParams.get("scope")).toBe("openid email profile offline_access");

    const e = await r.signIn("entra", "pairwise-1");
    expect(e.groups).toEqual(["Gateway.User", "g-1"]);
    expect(r.users.get(e.id).identities[0]!.subject).toBe(`${tenant}:aaaaaaaa-0000-0000-0000-000000000001`);

    const f = await r.signIn("entra", "pairwise-2");
    expect(f.groups).toEqual(["Gateway.Admin"]);
    expect(r.users.get(f.id).identities[0]!.claims).toMatchObject({ groupsOverage: true });
    const okEvent = r.dir.store.authEvents.list({ type: "sign_in", userId: f.id })[0]!;
    expect(JSON.parse(okEvent.detail!).groupsOverage).toContain("overage");
    expect((await runMintgate(["users", "show", "f@contoso.com", "--data", r.dir.dataDir])).stdout).toContain("  note:       entra sent too many groups to fit in its token (overage); only its roles were used.\n");

    await expect(r.signIn("entra", "pairwise-3")).rejects.toThrow(/another Entra tenant than the one this mintgate trusts; sign in with your account in your organisation's tenant, or ask your administrator/);
    await expect(r.signIn("entra", "pairwise-4")).rejects.toThrow(/ceo@contoso.com is not verified/);
    expect(r.dir.store.authEvents.list({ type: "sign_in" }).some((ev) => ev.reason === "email domain not verified by the tenant (xms_edov false)")).toBe(true);
  });

  test("Okta: the groups scope is asked for where the server has one; a groups claim of 100 or more may have been cut off by Okta, and the sign-in record and `users show` say so", async () => {
    const numbered = (n: number) => Array.from({ length: n }, (_, i) => `team-${String(i).padStart(3, "0")}`);
    const idp = await startOidcIdp({
      users: [
        { sub: "00u-many", email: "many@example.com", groups: numbered(100) },
        { sub: "00u-fewer", email: "fewer@example.com", groups: numbered(99) },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("okta")] }],
    });
    const r = rig();
    r.sso.add({ name: "okta", kind: "okta", domain: "example.okta.com", clientId: "mg", clientSecret: SECRET });
    r.dir.store.identityProviders.update("okta", { issuer: idp.issuer, updatedAt: Date.now() + 1 });
    // An Okta custom authorization server releases its groups claim with the `groups` scope, when it has one.
    expect(new URL((await r.sso.begin("okta")).url).searchParams.get("scope")).toBe("openid email profile offline_access groups");

    // Okta sends at most about 100 groups and drops the rest without a word: a policy denying one of those could be skipped.
    const many = await r.signIn("okta", "00u-many");
    expect(many.groups).toHaveLength(100);
    expect(r.users.get(many.id).identities[0]!.claims).toMatchObject({ groupsPossiblyTruncated: true });
    expect(JSON.parse(r.dir.store.authEvents.list({ type: "sign_in", userId: many.id })[0]!.detail!).groupsPossiblyTruncated).toContain("truncates");
    const fewer = await r.signIn("okta", "00u-fewer");
    expect(r.users.get(fewer.id).identities[0]!.claims?.groupsPossiblyTruncated).toBeUndefined();

    const show = (email: string) => runMintgate(["users", "show", email, "--data", r.dir.dataDir]);
    expect((await show("many@example.com")).stdout).toContain("  note:       okta sent 100 groups, as many as Okta puts in a token; any past them are missing: have Okta send only the groups mintgate's policies use (a groups claim filter).\n");
    expect((await show("fewer@example.com")).stdout).not.toContain("note:");
  });

  test("Google: the hd claim must be an allowed domain; no groups, and says so", async () => {
    const idp = await startOidcIdp({
      users: [
        { sub: "g-1", email: "w@corp.example", hd: "corp.example" },
        { sub: "g-2", email: "someone@gmail.com" },
      ],
      clients: [{ client_id: "mg", client_secret: SECRET, redirect_uris: [callback("google")] }],
    });
    const r = rig();
    expect(() => r.sso.add({ name: "google", kind: "google", clientId: "mg", clientSecret: SECRET })).toThrow(/needs --allowed-domains/);
    r.sso.add({ name: "google", kind: "google", clientId: "mg", clientSecret: SECRET, allowedDomains: ["corp.example"] });
    expect(r.sso.get("google").groups).toContain("groups from the Google Directory API are not supported yet");
    r.dir.store.identityProviders.update("google", { issuer: idp.issuer, updatedAt: Date.now() + 1 });
    const start = new URL((await r.sso.begin("google")).url);
    expect(start.searchParams.get("access_type")).toBe("offline");
    expect(start.searchParams.get("prompt")).toBe("consent");
    expect(start.searchParams.get("hd")).toBe("corp.example");
    expect(start.searchParams.get("scope")).toBe("openid email profile");
    const w = await r.signIn("google", "g-1");
    expect(w.groups).toEqual([]);
    await expect(r.signIn("google", "g-2")).rejects.toThrow(/Sign in with a Google account of corp.example/);
  });
});

describe("mintgate sso add and update", () => {
  const initialised = async () => {
    const data = join(tempDir("mintgate-sso-cli"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    return data;
  };

  test("an issuer carrying a user name or password is refused without repeating it", async () => {
    const data = await initialised();
    const withCredentials = await runMintgate(["sso", "add", "corp", "--kind", "oidc", "--issuer", "https://admin:hunter2@idp.example.com", "--client-id", "mg", "--data", data], { stdin: `${SECRET}\n` });
    expect(withCredentials.code).toBe(2);
    expect(withCredentials.stderr).toContain("The issuer must not contain a user name or password");
    expect(withCredentials.stderr + withCredentials.stdout).not.toContain("hunter2");
    expect(JSON.parse((await runMintgate(["sso", "list", "--json", "--data", data])).stdout)).toEqual([]);
  });

  test("what can be checked without the client secret is checked before it is asked for", async () => {
    const data = await initialised();
    // No secret on standard input: each answer below comes before the read, which would otherwise say "No client secret given".
    const sso = (...args: string[]) => runMintgate(["sso", ...args, "--data", data]);
    expect(await sso("add", "okta", "--kind", "okta", "--client-id", "mg")).toEqual({ code: 2, stdout: "", stderr: "mintgate: An Okta provider needs --domain with your Okta domain, such as example.okta.com.\n" });
    expect((await runMintgate(["sso", "add", "okta", "--kind", "okta", "--domain", "acme.okta.com", "--client-id", "mg", "--data", data], { stdin: `${SECRET}\n` })).code).toBe(0);
    expect(await sso("add", "okta", "--kind", "okta", "--domain", "acme.okta.com", "--client-id", "mg")).toEqual({ code: 1, stdout: "", stderr: 'mintgate: A sign-in provider named "okta" exists already; remove it first or choose another name.\n' });
    expect(await sso("update", "nope", "--rotate-secret")).toEqual({ code: 1, stdout: "", stderr: 'mintgate: There is no sign-in provider "nope"; `mintgate sso list` shows them.\n' });
    expect(await sso("update", "okta", "--rotate-secret", "--groups-claim", "a b")).toEqual({ code: 2, stdout: "", stderr: 'mintgate: "a b" is not a claim name.\n' });
  });

  test("an empty label goes back to the default, as in sso add, not a blank button on the sign-in page", async () => {
    const data = await initialised();
    const added = await runMintgate(["sso", "add", "okta", "--kind", "okta", "--domain", "acme.okta.com", "--client-id", "mg", "--label", "Acme Okta", "--data", data], { stdin: `${SECRET}\n` });
    expect(added.code, added.stderr).toBe(0);
    const cleared = await runMintgate(["sso", "update", "okta", "--label", "", "--json", "--data", data]);
    expect(cleared.code, cleared.stderr).toBe(0);
    const [okta] = JSON.parse((await runMintgate(["sso", "list", "--json", "--data", data])).stdout) as { label: string }[];
    expect(okta!.label).toBe("Okta");
  });
});
