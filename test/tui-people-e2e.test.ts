/**
 * The People and SSO screens end to end: the compiled `mintgate tui` in a real
 * terminal (tmux) at 80×24 and 160×48, with and without colour, against a
 * running gateway and a local OpenID provider (panva's oidc-provider).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import type { UserDetails } from "../src/auth/accounts/index.ts";
import type { ProviderInfo } from "../src/auth/sso/index.ts";
import { openTerminal, saveScreen, type Terminal } from "./fixtures/terminal.ts";
import { startOidcIdp, stopAllIdps, type OidcIdp } from "./fixtures/oidc-idp.ts";
import { BINARY, configuredDataDir, startGateway, type RunningGateway } from "./harness.ts";

const CONFIG = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "alpha", name: "Alpha", access: { everyone: true }, connectors: [{ connector: "demo" }] }] };
const PASSWORD = "correct horse battery staple";
const SECRET = "idp-client-secret-e2e";

let idp: OidcIdp;
beforeAll(async () => {
  idp = await startOidcIdp({ users: [{ sub: "u1", email: "cy@example.com" }], clients: [{ client_id: "mintgate", client_secret: SECRET, redirect_uris: ["http://127.0.0.1:9/sso/callback/corp"] }] });
});
afterAll(() => stopAllIdps());

/** A gateway with two local people, and the TUI running against it in tmux. */
async function setUp(width: number, height: number, noColor: boolean): Promise<{ gateway: RunningGateway; client: AdminClient; screen: Terminal }> {
  const dataDir = await configuredDataDir(CONFIG, { label: "mintgate-tui-people-e2e", people: [{ email: "ann@example.com", password: PASSWORD }, { email: "bob@example.com", password: PASSWORD }] });
  const gateway = await startGateway({ dataDir });
  const client = new AdminClient(locateGateway({ dataDir }));
  const env = noColor ? "NO_COLOR=1 " : "";
  const screen = openTerminal({ command: `${env}${BINARY} tui --data ${dataDir}; echo "tui exited with $?"; sleep 30`, width, height });
  return { gateway, client, screen };
}

/** Keys one at a time, as a person presses them (a terminal delivers each on its own). */
async function press(screen: Terminal, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    screen.keys(key);
    await Bun.sleep(80);
  }
}

async function type(screen: Terminal, text: string): Promise<void> {
  screen.type(text);
  await Bun.sleep(80);
}

function fitsWidth(shown: string, width: number): void {
  for (const line of shown.split("\n")) expect(line.length).toBeLessThanOrEqual(width);
}

describe("People and SSO screens in a real terminal", () => {
  for (const [width, height, noColor] of [[80, 24, false], [160, 48, false], [80, 24, true], [160, 48, true]] as const) {
    test(`${width}×${height}${noColor ? " with NO_COLOR" : ""}: disable a person, add an oidc provider and see its test pass`, async () => {
      const { gateway, client, screen } = await setUp(width, height, noColor);
      try {
        await screen.waitFor("p People");
        await press(screen, "p");
        await screen.waitFor("bob@example.com");
        await press(screen, "Down", "d");
        await screen.waitFor("Disable bob@example.com?");
        await press(screen, "y");
        const disabled = await screen.waitFor(/bob@example\.com\s+member\s+disabled/);
        expect(disabled).toContain("✓ Disabled bob@example.com");
        fitsWidth(disabled, width);
        expect((await client.get<UserDetails[]>("/users")).find((u) => u.email === "bob@example.com")!.disabled).toBe(true);

        await press(screen, "i");
        await screen.waitFor("No sign-in providers yet");
        await press(screen, "n");
        await screen.waitFor("which kind?");
        await press(screen, "4");
        await screen.waitFor("New Generic OpenID Connect provider");
        await type(screen, "corp");
        await press(screen, "Tab");
        await type(screen, idp.issuer);
        await press(screen, "Tab", "Tab");
        await type(screen, "mintgate");
        await press(screen, "Tab");
        await type(screen, SECRET);
        const masked = await screen.waitFor("•".repeat(SECRET.length));
        expect(masked).not.toContain(SECRET);
        // Past allowed domains, button label and trust emails: Enter on the last field adds.
        await press(screen, "Tab", "Tab", "Tab", "Enter");
        const callbackUrl = `${gateway.url}/sso/callback/corp`;
        // The list is read again after the "Added" line shows: the URL comes with it.
        const added = await screen.waitFor(callbackUrl);
        expect(added).toContain("Added corp");
        // The callback URL stands alone on its line, whole: ready to select and copy.
        expect(added.split("\n").map((line) => line.trim())).toContain(callbackUrl);
        expect(added).not.toContain(SECRET);
        fitsWidth(added, width);
        await press(screen, "t");
        const passed = await screen.waitFor("✓ Test passed");
        expect(passed).toContain("PKCE S256 yes");
        expect(passed).not.toContain(SECRET);
        fitsWidth(passed, width);
        expect((await client.get<ProviderInfo[]>("/sso-providers")).map((p) => p.name)).toEqual(["corp"]);

        await press(screen, "q");
        await screen.waitFor("tui exited with 0");
      } finally {
        screen.kill();
        await gateway.stop();
      }
    });
  }

  test("captured panes of both screens at 100×30 for the README", async () => {
    const { gateway, client, screen } = await setUp(100, 30, true);
    try {
      const ann = (await client.get<UserDetails[]>("/users")).find((u) => u.email === "ann@example.com")!;
      await client.send("POST", `/users/${ann.id}/groups`, { group: "platform" });
      await client.send("POST", `/users/${ann.id}/role`, { role: "admin" });
      await client.send("POST", "/users", { email: "dee@example.com", name: "Dee", password: PASSWORD });
      await client.send("POST", "/users/bob@example.com/disable");
      await client.send("POST", "/tokens", { user: "ann@example.com", vmcp: "alpha", expires: "30d" });
      await client.send("POST", "/sso-providers", { name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mintgate", clientSecret: SECRET, allowedDomains: ["example.com"], label: "Corp SSO" });
      await client.send("POST", "/sso-providers", { name: "okta", kind: "okta", domain: "example.okta.com", authServer: "default", clientId: "0oa1b2c3d4", clientSecret: "okta-secret" });

      await screen.waitFor("p People");
      await press(screen, "p");
      const people = await screen.waitFor("dee@example.com");
      await press(screen, "i");
      await screen.waitFor("corp");
      await press(screen, "t");
      const sso = await screen.waitFor("✓ Test passed");
      saveScreen("people", people);
      saveScreen("sso", sso);
      expect(sso).not.toContain(SECRET);
      await press(screen, "q");
      await screen.waitFor("tui exited with 0");
    } finally {
      screen.kill();
      await gateway.stop();
    }
  });
});
