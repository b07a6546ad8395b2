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
