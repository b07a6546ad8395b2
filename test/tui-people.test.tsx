/**
 * Component tests of the People and access and SSO settings screens against a
 * real running gateway (the compiled binary): frames asserted, keys sent as a
 * person types them, every change checked through the admin API afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { render } from "ink-testing-library";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import type { AccessTokenInfo } from "../src/auth/access-tokens.ts";
import type { UserDetails } from "../src/auth/accounts/index.ts";
import type { ProviderInfo } from "../src/auth/sso/index.ts";
import { App } from "../tui/App.tsx";
import { PeopleScreen, peopleScreen } from "../tui/screens/PeopleScreen.tsx";
import { SsoScreen } from "../tui/screens/SsoScreen.tsx";
import { wrapText } from "../tui/components/text.ts";
import { approveInBrowser, localSignIn, MemoryOAuthProvider } from "./fixtures/oauth-client.ts";
import { ScriptedBrowser } from "./fixtures/browser.ts";
import { startOidcIdp, stopAllIdps, type OidcIdp } from "./fixtures/oidc-idp.ts";
import { frameContaining, press } from "./fixtures/ink-keys.ts";
import { configuredDataDir, startGateway, waitFor, type RunningGateway } from "./harness.ts";

const CONFIG = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "alpha", name: "Alpha", access: { everyone: true }, connectors: [{ connector: "demo" }] }] };
const PASSWORD = "correct horse battery staple";
const REDIRECT = "http://127.0.0.1:9/callback";
export const KEY = { enter: "\r", tab: "\t", shiftTab: "\u001b[Z", esc: "\u001b", down: "\u001b[B", up: "\u001b[A", backspace: "\u007f", left: "\u001b[D", end: "\u001b[F", save: "\u0013" };

type Rendered = ReturnType<typeof render>;

/** Sends keys one at a time, as a person types (a terminal delivers each key on its own). */

/**
 * Moves a form's focus up to the field labelled `label`, one key at a time,
 * checking the frame: a key sent while the form re-subscribes to input (just
 * after the server answered) would otherwise be lost.
 */
async function focusField(ui: Rendered, label: string): Promise<void> {
  const focused = new RegExp(`› ${label}\\s`);
  for (let i = 0; i < 20 && !focused.test(ui.lastFrame() ?? ""); i++) await press(ui.stdin, KEY.up);
  await frameContaining(ui.lastFrame, focused);
}


/** Fills the focused form field by field: each value typed, then Tab (Enter after the last submits). */
async function fill(ui: Rendered, values: string[]): Promise<void> {
  for (const [i, value] of values.entries()) {
    if (value) await press(ui.stdin, value);
    await press(ui.stdin, i === values.length - 1 ? KEY.enter : KEY.tab);
  }
}

let gateway: RunningGateway;
let client: AdminClient;
let idp: OidcIdp;
let capturing = false;
const setCapturing = (value: boolean) => void (capturing = value);

beforeAll(async () => {
  const dataDir = await configuredDataDir(CONFIG, { label: "mintgate-tui-people", people: [{ email: "ann@example.com", password: PASSWORD }, { email: "bob@example.com", password: PASSWORD }] });
  gateway = await startGateway({ dataDir });
  client = new AdminClient(locateGateway({ dataDir }));
  idp = await startOidcIdp({ users: [{ sub: "u1", email: "cy@example.com", groups: ["eng"] }], clients: [{ client_id: "mintgate", client_secret: "idp-client-secret-1", redirect_uris: [`${gateway.url}/sso/callback/corp`] }] });
});

afterAll(async () => {
  await stopAllIdps();
  await gateway?.stop();
});

const person = async (email: string) => (await client.get<UserDetails[]>("/users")).find((u) => u.email === email)!;
const people = (width = 100, height = 26) => render(<PeopleScreen client={client} width={width} height={height} setCapturing={setCapturing} />);
const sso = (width = 100, height = 26) => render(<SsoScreen client={client} width={width} height={height} setCapturing={setCapturing} />);

describe("People and access", () => {
  test("lists people with role, state, groups and how they sign in; Tab moves between the lists", async () => {
    const ui = people();
    const frame = await frameContaining(ui.lastFrame, "bob@example.com");
    expect(frame).toContain("[People]");
    expect(frame).toMatch(/ann@example\.com\s+member\s+active\s+-\s+local/);
    await press(ui.stdin, KEY.tab);
    expect(await frameContaining(ui.lastFrame, "[Access tokens]")).toContain("No personal access tokens");
    await press(ui.stdin, KEY.tab);
    expect(await frameContaining(ui.lastFrame, "[OAuth consents]")).toContain("Nobody has approved");
    await press(ui.stdin, KEY.tab);
    expect(await frameContaining(ui.lastFrame, "[OAuth sign-ins]")).toContain("No AI client has signed in");
    await press(ui.stdin, KEY.tab);
    await frameContaining(ui.lastFrame, "[People]");
    ui.unmount();
  });

  test("a group whose name holds a comma is quoted in the list, so the column reads back as the groups the person is in", async () => {
    const bob = await person("bob@example.com");
    const groups = ["CN=eng,OU=people", "plain"];
    for (const group of groups) await client.send("POST", `/users/${bob.id}/groups`, { group });
    const ui = people();
    try {
      // Joined with ", " alone, this read as three groups: "CN=eng", "OU=people" and "plain".
      expect(await frameContaining(ui.lastFrame, /bob@example\.com.*active/)).toMatch(/bob@example\.com\s+member\s+active\s+"CN=eng,OU=people", plain\s+local/);
    } finally {
      ui.unmount();
      for (const group of groups) await client.send("DELETE", `/users/${bob.id}/groups/${encodeURIComponent(group)}`);
    }
  });

  test("disabling and enabling a person asks first; n cancels; the state changes in the list and on the gateway", async () => {
    const ui = people();
    await frameContaining(ui.lastFrame, "bob@example.com");
    await press(ui.stdin, KEY.down, "d");
    expect(await frameContaining(ui.lastFrame, "Disable bob@example.com?")).toContain("[y/n]");
    await waitFor("the form to capture keys", () => capturing === true);
    await press(ui.stdin, "n");
    await frameContaining(ui.lastFrame, "Cancelled; nothing changed.");
    await waitFor("the form to release keys", () => capturing === false);
    expect((await person("bob@example.com")).disabled).toBe(false);

    await press(ui.stdin, "d");
    await frameContaining(ui.lastFrame, "Disable bob@example.com?");
    await press(ui.stdin, "y");
    expect(await frameContaining(ui.lastFrame, /bob@example\.com\s+member\s+disabled/)).toContain("✓ Disabled bob@example.com");
    expect((await person("bob@example.com")).disabled).toBe(true);

    await press(ui.stdin, "d");
    await frameContaining(ui.lastFrame, "Enable bob@example.com?");
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, /bob@example\.com\s+member\s+active/);
    expect((await person("bob@example.com")).disabled).toBe(false);
    ui.unmount();
  });

  test("switching the role asks first", async () => {
    const ui = people();
    await frameContaining(ui.lastFrame, "ann@example.com");
    await press(ui.stdin, "r");
    await frameContaining(ui.lastFrame, "Make ann@example.com an admin (now member)?");
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, /ann@example\.com\s+admin\s+active/);
    expect((await person("ann@example.com")).role).toBe("admin");
    await press(ui.stdin, "r");
    await frameContaining(ui.lastFrame, "Make ann@example.com a member (now admin)?");
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, /ann@example\.com\s+member\s+active/);
    ui.unmount();
  });

  test("groups: the form validates before sending; removal picks a group assigned here and asks first", async () => {
    const ui = people();
    await frameContaining(ui.lastFrame, "ann@example.com");
    await press(ui.stdin, "g");
    await frameContaining(ui.lastFrame, "Add ann@example.com to a group");
    await press(ui.stdin, KEY.enter);
    await frameContaining(ui.lastFrame, "✗ Group: type a group name");
    expect((await person("ann@example.com")).groups).toEqual([]);
    await press(ui.stdin, "eng", KEY.enter);
    await frameContaining(ui.lastFrame, '✓ Added ann@example.com to "eng".');
    expect(await frameContaining(ui.lastFrame, /ann@example\.com\s+member\s+active\s+eng/)).toBeTruthy();

    await press(ui.stdin, KEY.enter);
    expect(await frameContaining(ui.lastFrame, "Groups: eng (manual)")).toContain("Signs in via local as ann@example.com");
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, "Remove ann@example.com from which group?");
    await press(ui.stdin, KEY.enter);
    await frameContaining(ui.lastFrame, 'Remove ann@example.com from the group "eng"?');
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, "Groups: none");
    expect((await person("ann@example.com")).groups).toEqual([]);
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, "✗ ann@example.com is in no group.");
    ui.unmount();
  });

  test("the add-group form stays on the person it was opened for when a refresh puts someone else at that row", async () => {
    /** Knows which /users loads have answered, so the test waits for one that started after a change. */
    class UsersLoads extends AdminClient {
      started = 0;
      answered = 0;
      override get<T>(path: string): Promise<T> {
        if (path !== "/users") return super.get<T>(path);
        const id = ++this.started;
        return super.get<T>(path).then((value) => ((this.answered = Math.max(this.answered, id)), value));
      }
    }
    const loads = new UsersLoads(locateGateway({ dataDir: gateway.dataDir }));
    await client.send("POST", "/users", { email: "moved-b@example.com", password: PASSWORD });
    const ui = render(<PeopleScreen client={loads} width={100} height={26} setCapturing={setCapturing} />);
    await frameContaining(ui.lastFrame, "ann@example.com");
    await press(ui.stdin, "/", "moved-", KEY.enter);
    await frameContaining(ui.lastFrame, "Filter moved- · 1 of");
    await press(ui.stdin, "g");
    await frameContaining(ui.lastFrame, "Add moved-b@example.com to a group");
    // Someone who sorts above appears (a sign-in, another admin) while the form is open; the screen polls.
    await client.send("POST", "/users", { email: "moved-a@example.com", password: PASSWORD });
    const startedBefore = loads.started;
    await waitFor("a refresh after the new person", () => loads.answered > startedBefore, 400);
    await press(ui.stdin, "ops", KEY.enter);
    await frameContaining(ui.lastFrame, "✓ Added");
    expect(ui.lastFrame()).toContain('✓ Added moved-b@example.com to "ops".');
    expect((await person("moved-b@example.com")).groups).toEqual(["ops"]);
    expect((await person("moved-a@example.com")).groups).toEqual([]);
    ui.unmount();
  });

  test("adding a local account: validation first, the server's refusal shown, the password never on screen", async () => {
    const secret = "a-very-long-password-1";
    const ui = people();
    await frameContaining(ui.lastFrame, "ann@example.com");
    await press(ui.stdin, "n");
    await frameContaining(ui.lastFrame, "Add a local account");
    await waitFor("the form to capture keys", () => capturing === true);
    await fill(ui, ["not-an-email", "", "", "short", "short"]);
    await frameContaining(ui.lastFrame, "✗ Email: enter an email address");
    // Fix the email, keep the short password: refused before sending.
    await focusField(ui, "Email");
    for (let i = 0; i < "not-an-email".length; i++) await press(ui.stdin, KEY.backspace);
    // Role is a choice: typed text changes nothing, → picks admin.
    await press(ui.stdin, "ann@example.com", KEY.tab, KEY.tab, "superuser");
    await frameContaining(ui.lastFrame, /› Role\s+\[member\]  admin/);
    await press(ui.stdin, "\u001b[C");
    await frameContaining(ui.lastFrame, /› Role\s+member  \[admin\]/);
    await press(ui.stdin, KEY.tab, KEY.save);
    await frameContaining(ui.lastFrame, "✗ Password: use at least 12 characters");
    for (let i = 0; i < 5; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, secret, KEY.tab);
    for (let i = 0; i < 5; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, secret + "x", KEY.enter);
    await frameContaining(ui.lastFrame, "✗ Again: the two passwords differ");
    await press(ui.stdin, KEY.backspace, KEY.enter);
    // ann has a local account already: the server says so, in its words.
    await frameContaining(ui.lastFrame, "✗ A local account for ann@example.com exists already");
    await focusField(ui, "Email");
    for (let i = 0; i < "ann@example.com".length; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, "dee@example.com", KEY.tab, "Dee", KEY.tab, KEY.tab, KEY.tab, KEY.enter);
    await frameContaining(ui.lastFrame, "✓ Added dee@example.com (admin).");
    await frameContaining(ui.lastFrame, /dee@example\.com\s+Dee\s+admin\s+active/);
    await waitFor("the form to release keys", () => capturing === false);
    const dee = await person("dee@example.com");
    expect(dee).toMatchObject({ name: "Dee", role: "admin", hasPassword: true });
    for (const frame of ui.frames) expect(frame).not.toContain(secret.slice(0, 6));
    // The change is on the audit trail as an admin change, the password redacted.
    const records = await client.get<{ method: string; detail: string | null }[]>("/audit?kind=admin&limit=50");
    const added = records.find((r) => r.method === "POST /users" && r.detail?.includes("dee@example.com"))!;
    expect(added.detail).toContain("[redacted]");
    expect(JSON.stringify(records)).not.toContain(secret);
    ui.unmount();
  });

  test("a personal access token: created for the selected person, shown once, revoked after asking", async () => {
    const ui = people();
    await frameContaining(ui.lastFrame, "bob@example.com");
    await press(ui.stdin, KEY.down, KEY.tab, "n");
    // The person selected in the list is filled in.
    await frameContaining(ui.lastFrame, /Person \(email\) bob@example\.com/);
    await press(ui.stdin, KEY.tab, "nope", KEY.tab, "3 days", KEY.enter);
    await frameContaining(ui.lastFrame, "✗ Expires after: use a number with s, m, h or d");
    for (let i = 0; i < "3 days".length; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, "30d", KEY.enter);
    await frameContaining(ui.lastFrame, '✗ There is no virtual MCP "nope"');
    await press(ui.stdin, KEY.up);
    for (let i = 0; i < 4; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, "alpha", KEY.tab, KEY.enter);
    const shown = await frameContaining(ui.lastFrame, "It is shown only now");
    const token = /mgt_pat_[A-Za-z0-9_-]{43}/.exec(shown)?.[0];
    expect(token).toBeDefined();
    // The token works, for alpha.
    const mcp = new Client({ name: "t", version: "1" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/alpha`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    await mcp.close();
    await press(ui.stdin, KEY.enter);
    const listed = await frameContaining(ui.lastFrame, /bob@example\.com\s+alpha\s+active/);
    expect(listed).not.toContain("mgt_pat_");
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, /Revoke token [0-9a-f]{8} of bob@example\.com\?/);
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, /bob@example\.com\s+alpha\s+revoked/);
    const answer = await fetch(`${gateway.url}/mcp/alpha`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
    expect(answer.status).toBe(401);
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, "is revoked already");
    ui.unmount();
  });

  test("a token the gateway would refuse today is still made, with the reason under it (the admin API says it too)", async () => {
    // No access rule: admins only, and bob is a member.
    await client.send("PUT", "/virtual-mcps/closed", { slug: "closed", name: "Closed", connectors: [{ connector: "demo" }] });
    try {
      const ui = people();
      await frameContaining(ui.lastFrame, "bob@example.com");
      await press(ui.stdin, KEY.down, KEY.tab, "n");
      await frameContaining(ui.lastFrame, /Person \(email\) bob@example\.com/);
      await press(ui.stdin, KEY.tab, "closed", KEY.tab, KEY.enter);
      const shown = await frameContaining(ui.lastFrame, "It is shown only now");
      expect(shown.replace(/\s+/g, " ")).toContain('! bob@example.com may not use virtual MCP "closed" today (rule: closed: no access rule, so admins only)');
      await press(ui.stdin, KEY.enter);
      ui.unmount();
      const api = await client.send<{ subject: string; warnings: string[] }>("POST", "/tokens", { user: "bob@example.com", vmcp: "alpha" });
      expect(api.warnings).toEqual([]);
    } finally {
      await client.send("DELETE", "/virtual-mcps/closed");
    }
  });

  test("OAuth consents and sign-ins of an AI client: listed with the client's name, revoked after asking", async () => {
    // ann signs an AI client in with the official SDK (sign-in and consent in a scripted browser).
    const url = new URL(`${gateway.url}/mcp/alpha`);
    const provider = new MemoryOAuthProvider(REDIRECT, { client_name: "Claude Test" });
    const browser = new ScriptedBrowser();
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await new Client({ name: "t", version: "1" }).connect(first).catch(() => undefined);
    const { callback } = await approveInBrowser(browser, provider.authorizationUrl!, REDIRECT, localSignIn(browser, "ann@example.com", PASSWORD));
    await first.finishAuth(callback.searchParams.get("code")!);

    const ui = people(140, 30);
    await frameContaining(ui.lastFrame, "ann@example.com");
    await press(ui.stdin, KEY.tab, KEY.tab, KEY.tab);
    await frameContaining(ui.lastFrame, /ann@example\.com\s+Claude Test\s+alpha\s+active/);
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, "Revoke the sign-in of Claude Test for ann@example.com?");
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, /ann@example\.com\s+Claude Test\s+alpha\s+revoked/);

    await press(ui.stdin, KEY.left);
    await frameContaining(ui.lastFrame, "[OAuth consents]");
    await frameContaining(ui.lastFrame, /ann@example\.com\s+Claude Test/);
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, "Revoke ann@example.com's approval of Claude Test?");
    await press(ui.stdin, "y");
    await frameContaining(ui.lastFrame, "Nobody has approved an AI client yet.");
    await frameContaining(ui.lastFrame, "✓ Revoked ann@example.com's approval of Claude Test");
    ui.unmount();
  });

  test("a failed refresh under a full list still fits the screen's height: the list gives up the room for the sentence", async () => {
    for (let i = 0; i < 20; i++) await client.send("POST", "/tokens", { user: "bob@example.com", vmcp: "alpha" });
    let down = false;
    const flaky = new Proxy(client, {
      get(target, property) {
        if (property === "get" && down) return async () => Promise.reject(new Error("Cannot reach the gateway at http://127.0.0.1:18731 (ECONNREFUSED: Unable to connect. Is the computer able to access the url?); is `mintgate serve` running?"));
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const ui = render(<PeopleScreen client={flaky} width={78} height={20} setCapturing={setCapturing} />);
    await frameContaining(ui.lastFrame, "Access tokens");
    await press(ui.stdin, KEY.tab);
    await frameContaining(ui.lastFrame, /of \d+/);
    down = true;
    await press(ui.stdin, "R");
    const frame = await frameContaining(ui.lastFrame, "running?");
    expect(frame.split("\n").length).toBeLessThanOrEqual(20);
    expect(frame).toContain("ID ");
    ui.unmount();
  });

  test("at 78 columns a refused change is wrapped, not cut: the server's sentence is read whole, within the height", async () => {
    const group = "contractors-emea-north-region-after-the-2026-reorganisation";
    const ann = await person("ann@example.com");
    await client.send("POST", `/users/${ann.id}/groups`, { group });
    const ui = people(78, 20);
    await frameContaining(ui.lastFrame, "ann@example.com");
    const row = (await client.get<UserDetails[]>("/users")).findIndex((u) => u.id === ann.id);
    for (let i = 0; i < row; i++) await press(ui.stdin, KEY.down);
    await press(ui.stdin, "x");
    await frameContaining(ui.lastFrame, "from which group?");
    for (let i = 0; i < 10 && !ui.lastFrame()!.includes(`› ${group}`); i++) await press(ui.stdin, KEY.down);
    await press(ui.stdin, KEY.enter);
    await frameContaining(ui.lastFrame, "[y/n]");
    // Another admin takes ann out of the group meanwhile: the gateway refuses the removal.
    await client.send("DELETE", `/users/${ann.id}/groups/${encodeURIComponent(group)}`);
    await press(ui.stdin, "y");
    const frame = await frameContaining(ui.lastFrame, "✗ ");
    expect(frame.replace(/\s+/g, " ")).toContain(`✗ ann@example.com is not in the group "${group}".`);
    const lines = frame.split("\n");
    expect(lines.length).toBeLessThanOrEqual(20);
    for (const line of lines) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(78);
    ui.unmount();
  });

  test("/ filters each list as it is typed; d and x act on the row shown selected, not on the row at that place in the whole list", async () => {
    // Before, People had no filter: among 500 people and 200 tokens one was found by paging, and typed letters were keys (d disables).
    for (const email of ["zed-a@example.com", "zed-b@example.com", "zed-c@example.com"]) await client.send("POST", "/users", { email, password: PASSWORD });
    const users = await client.get<UserDetails[]>("/users");
    const zeds = users.filter((u) => u.email.startsWith("zed-"));
    const [first, second, third] = zeds as [UserDetails, UserDetails, UserDetails];
    // A token of someone else first, then one of the first zed and two of the third: the filter leaves the third's two.
    for (const user of ["ann@example.com", first.email, third.email, third.email]) await client.send("POST", "/tokens", { user, vmcp: "alpha" });
    const tokens = await client.get<AccessTokenInfo[]>("/tokens");
    const target = tokens.filter((t) => t.subject === third.email).at(-1)!;
    const revokedBefore = tokens.filter((t) => t.revokedAt).map((t) => t.id);
    // Row 1 of the filtered people and the last of the filtered tokens are other rows in the whole lists.
    expect(users[1]!.id).not.toBe(second.id);
    expect(tokens.findIndex((t) => t.id === target.id)).not.toBe(1);

    const ui = people(100, 26);
    try {
      expect(await frameContaining(ui.lastFrame, "ann@example.com")).toContain("/ filter");
      await press(ui.stdin, "/", "zed", KEY.enter);
      let frame = await frameContaining(ui.lastFrame, `Filter zed · 3 of ${users.length}`);
      for (const zed of zeds) expect(frame).toContain(zed.email);
      expect(frame).not.toContain("ann@example.com");
      await press(ui.stdin, KEY.down, "d");
      await frameContaining(ui.lastFrame, `Disable ${second.email}?`);
      await press(ui.stdin, "y");
      await frameContaining(ui.lastFrame, `✓ Disabled ${second.email}`);
      const disabled = (await client.get<UserDetails[]>("/users")).filter((u) => u.disabled).map((u) => u.email);
      expect(disabled).toEqual([second.email]);
      // Esc clears the filter: the whole list again.
      await press(ui.stdin, KEY.esc);
      frame = await frameContaining(ui.lastFrame, (f) => f.includes("ann@example.com") && !f.includes("Filter zed"));

      // The tokens have their own filter, of words that must all appear; End goes to the last row it leaves.
      await press(ui.stdin, KEY.tab);
      await frameContaining(ui.lastFrame, "[Access tokens]");
      await press(ui.stdin, "/", `${third.email.split("@")[0]} alpha`, KEY.enter);
      frame = await frameContaining(ui.lastFrame, `Filter ${third.email.split("@")[0]} alpha · 2 of ${tokens.length}`);
      const rows = frame.split("\n").filter((line) => /^[0-9a-f]{8} /.test(line));
      expect(rows.map((row) => row.slice(0, 8))).toEqual(tokens.filter((t) => t.subject === third.email).map((t) => t.id.slice(0, 8)));
      await press(ui.stdin, KEY.end, "x");
      await frameContaining(ui.lastFrame, `Revoke token ${target.id.slice(0, 8)} of ${third.email}?`);
      await press(ui.stdin, "y");
      await frameContaining(ui.lastFrame, `✓ Revoked token ${target.id.slice(0, 8)} of ${third.email}.`);
      const revokedNow = (await client.get<AccessTokenInfo[]>("/tokens")).filter((t) => t.revokedAt && !revokedBefore.includes(t.id)).map((t) => t.id);
      expect(revokedNow).toEqual([target.id]);
    } finally {
      ui.unmount();
      await client.send("POST", `/users/${encodeURIComponent(second.id)}/enable`);
    }
    expect(peopleScreen.help.join(" ")).toContain("/ filters the list shown");
  });

  test("in the app, keys go to an open form: q types rather than quits", async () => {
    const ui = render(<App client={client} />);
    await frameContaining(ui.lastFrame, "p People");
    await press(ui.stdin, "p");
    await frameContaining(ui.lastFrame, "ann@example.com");
    await press(ui.stdin, "g", "qa");
    const frame = await frameContaining(ui.lastFrame, /Group\s+qa/);
    expect(frame).toContain("Add ann@example.com to a group");
    await press(ui.stdin, KEY.esc);
    await frameContaining(ui.lastFrame, "Enter details");
    await Bun.sleep(200); // the app takes its keys back after the screen's effect runs
    await press(ui.stdin, "i");
    await frameContaining(ui.lastFrame, "SSO settings");
    ui.unmount();
  });
});

describe("SSO settings", () => {
  test("adding an oidc provider: fields validated before sending, the secret masked in every frame, the callback URL on its own line, the test passes", async () => {
    const ui = sso();
    await frameContaining(ui.lastFrame, "No sign-in providers yet");
    await press(ui.stdin, "n");
    await frameContaining(ui.lastFrame, "which kind?");
    await waitFor("the form to capture keys", () => capturing === true);
    await press(ui.stdin, "4");
    await frameContaining(ui.lastFrame, "New Generic OpenID Connect provider");
    await fill(ui, ["Corp!", "idp.example.com", "", "", "", "", "", ""]);
    await frameContaining(ui.lastFrame, "✗ Name: 1–63 lower-case letters");
    await focusField(ui, "Name");
    for (let i = 0; i < 5; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, "corp", KEY.save);
    await frameContaining(ui.lastFrame, "✗ Issuer URL: enter the issuer URL");
    for (let i = 0; i < "idp.example.com".length; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, "http://example.com", KEY.save);
    await frameContaining(ui.lastFrame, "✗ Issuer URL: use https");
    for (let i = 0; i < "http://example.com".length; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, idp.issuer, KEY.save);
    await frameContaining(ui.lastFrame, "✗ Client id: paste the client");
    await press(ui.stdin, "mintgate", KEY.tab, KEY.save);
    await frameContaining(ui.lastFrame, "✗ Client secret: paste the client secret");
    await press(ui.stdin, "idp-client-secret-1", KEY.tab, "example.com, bad_domain", KEY.save);
    await frameContaining(ui.lastFrame, '✗ Allowed domains: "bad_domain" is not an email domain');
    for (let i = 0; i < ", bad_domain".length; i++) await press(ui.stdin, KEY.backspace);
    expect(await client.get<ProviderInfo[]>("/sso-providers")).toEqual([]);
    await press(ui.stdin, KEY.tab, "Corp SSO", KEY.save);
    await frameContaining(ui.lastFrame, "✓ Added corp");
    await waitFor("the form to release keys", () => capturing === false);
    const callbackUrl = `${gateway.url}/sso/callback/corp`;
    // The message comes first; the list shows the new provider once it has loaded again.
    const added = await frameContaining(ui.lastFrame, (frame) => frame.includes("✓ Added corp") && frame.includes(callbackUrl));
    expect(added.split("\n").map((line) => line.trim())).toContain(callbackUrl);
    expect(added).toContain("stored as sso.corp.client-secret (never shown)");
    for (const frame of ui.frames) expect(frame).not.toContain("idp-client-secret");
    const [stored] = await client.get<ProviderInfo[]>("/sso-providers");
    expect(stored).toMatchObject({ name: "corp", kind: "oidc", issuer: idp.issuer, clientId: "mintgate", allowedDomains: ["example.com"], label: "Corp SSO" });

    await press(ui.stdin, "t");
    const passed = await frameContaining(ui.lastFrame, "✓ Test passed");
    expect(passed).toContain(`Token          ${idp.issuer}`);
    expect(passed).toMatch(/JWKS .*\(1 key\)/);
    expect(passed).toContain("PKCE S256 yes");

    // Whether its emails are trusted without an email_verified claim: no unless said, and only yes or no.
    expect(stored!.assumeEmailVerified).toBe(false);
    expect(passed).toContain("Emails: must carry email_verified: true");
    await press(ui.stdin, "e");
    await frameContaining(ui.lastFrame, "Edit corp");
    // A choice between no and yes: typed text changes nothing, ← or → changes it.
    await press(ui.stdin, KEY.tab, KEY.tab, KEY.tab, KEY.tab, KEY.tab, "maybe");
    await frameContaining(ui.lastFrame, /› Trust emails\s+\[no\]  yes/);
    await press(ui.stdin, KEY.left);
    await frameContaining(ui.lastFrame, /› Trust emails\s+no  \[yes\]/);
    await press(ui.stdin, KEY.enter);
    await frameContaining(ui.lastFrame, (frame) => frame.includes("✓ Saved corp.") && frame.includes("Emails: taken as verified"));
    expect((await client.get<ProviderInfo[]>("/sso-providers"))[0]!.assumeEmailVerified).toBe(true);
    ui.unmount();
  });

  test("editing keeps the secret unless a new one is typed; the server's refusal is shown; removal asks first", async () => {
    await client.send("POST", "/sso-providers", { name: "gws", kind: "google", clientId: "g-id", clientSecret: "google-secret-0", allowedDomains: ["example.com"] });
    const ui = sso();
    await frameContaining(ui.lastFrame, "gws");
    await press(ui.stdin, KEY.down, "e");
    await frameContaining(ui.lastFrame, "Edit gws");
    expect(ui.lastFrame()).toContain("kind and issuer cannot change");
    expect(ui.lastFrame()).not.toContain("Groups claim"); // google has no groups claim
    // Google needs at least one domain: refused before sending.
    await press(ui.stdin, KEY.tab, KEY.tab);
    for (let i = 0; i < "example.com".length; i++) await press(ui.stdin, KEY.backspace);
    await press(ui.stdin, KEY.tab, KEY.enter);
    await frameContaining(ui.lastFrame, "✗ Allowed domains: list your Workspace domains");
    await press(ui.stdin, "example.org", KEY.tab, KEY.enter);
    await frameContaining(ui.lastFrame, "✓ Saved gws.");
    const gws = (await client.get<ProviderInfo[]>("/sso-providers")).find((p) => p.name === "gws")!;
    expect(gws.allowedDomains).toEqual(["example.org"]);

    await press(ui.stdin, "e");
    await frameContaining(ui.lastFrame, "Edit gws");
    await press(ui.stdin, KEY.tab, "new-google-secret-2", KEY.tab, KEY.tab, KEY.enter);
    await frameContaining(ui.lastFrame, "✓ Saved gws (new client secret stored).");
    for (const frame of ui.frames) expect(frame).not.toContain("google-secret");

    // Removed behind the screen's back: the server's answer is shown.
    await press(ui.stdin, "e");
    await frameContaining(ui.lastFrame, "Edit gws");
    await client.send("DELETE", "/sso-providers/gws");
    await press(ui.stdin, KEY.enter, KEY.enter, KEY.enter, KEY.enter);
    await frameContaining(ui.lastFrame, '✗ There is no sign-in provider "gws"');
    await press(ui.stdin, KEY.esc);
    await frameContaining(ui.lastFrame, "n add");

    await client.send("POST", "/sso-providers", { name: "okta", kind: "okta", domain: "example.okta.com", clientId: "o", clientSecret: "okta-secret-0" });
    await press(ui.stdin, "R");
    await frameContaining(ui.lastFrame, "example.okta.com");
    await press(ui.stdin, KEY.down, "x");
    await frameContaining(ui.lastFrame, "Remove the sign-in provider okta");
    await press(ui.stdin, "n");
    await frameContaining(ui.lastFrame, "Cancelled; nothing changed.");
    await press(ui.stdin, "x", "y");
    await frameContaining(ui.lastFrame, "✓ Removed okta.");
    expect((await client.get<ProviderInfo[]>("/sso-providers")).map((p) => p.name)).toEqual(["corp"]);
    ui.unmount();
  });

  test("the fields each kind needs, checked before sending; a name taken meanwhile is refused by the server", async () => {
    const ui = sso(90, 26);
    await frameContaining(ui.lastFrame, "corp");
    await press(ui.stdin, "n", "1");
    let frame = await frameContaining(ui.lastFrame, "New Okta provider");
    expect(frame).toContain("Okta domain");
    expect(frame).toContain("Auth server");
    await fill(ui, ["o2", "not a domain", "", "", "id", "s", "", ""]);
    await frameContaining(ui.lastFrame, "✗ Okta domain: enter your Okta domain");
    await press(ui.stdin, KEY.esc);

    await press(ui.stdin, "n", KEY.down, KEY.down, KEY.enter);
    frame = await frameContaining(ui.lastFrame, "New Microsoft Entra ID provider");
    expect(frame).toContain("Tenant id");
    await fill(ui, ["ent", "common", "id", "s", "", ""]);
    await frameContaining(ui.lastFrame, "✗ Tenant id: the directory (tenant) id, a GUID");
    await press(ui.stdin, KEY.esc);

    await press(ui.stdin, "n", "2");
    await frameContaining(ui.lastFrame, "New Google Workspace provider");
    await fill(ui, ["gg", "id", "s", "", ""]);
    await frameContaining(ui.lastFrame, "✗ Allowed domains: list your Workspace domains");
    // Someone adds "gg" meanwhile: the server refuses, in its words.
    await client.send("POST", "/sso-providers", { name: "gg", kind: "google", clientId: "x", clientSecret: "y", allowedDomains: ["example.com"] });
    await press(ui.stdin, "example.com", KEY.save);
    await frameContaining(ui.lastFrame, '✗ A sign-in provider named "gg" exists already');
    await press(ui.stdin, KEY.esc);
    await client.send("DELETE", "/sso-providers/gg");
    ui.unmount();
  });

  test("a failing test says why", async () => {
    await client.send("POST", "/sso-providers", { name: "down", kind: "oidc", issuer: "http://127.0.0.1:9", clientId: "x", clientSecret: "y" });
    const ui = sso(80, 20);
    await frameContaining(ui.lastFrame, "down");
    await press(ui.stdin, KEY.down, "t");
    const frame = await frameContaining(ui.lastFrame, "✗ Test failed");
    expect(frame.replace(/\s+/g, " ")).toContain("the connection was refused");
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    // The request succeeded; its admin record says, as an auditor reads it, that the test failed and why.
    const [record] = await client.get<{ method: string; outcome: string; error: string | null }[]>("/audit?kind=admin&limit=1");
    expect(record).toMatchObject({ method: "POST /sso-providers/down/test", outcome: "error" });
    expect(record!.error).toContain("the connection was refused");
    await client.send("DELETE", "/sso-providers/down");
    ui.unmount();
  });

  test("a callback URL wider than the screen is shown whole, broken across lines with nothing added, ready to copy", async () => {
    const name = `corp-${"x".repeat(58)}`;
    await client.send("POST", "/sso-providers", { name, kind: "oidc", issuer: "http://127.0.0.1:9", clientId: "x", clientSecret: "y" });
    const ui = sso(78, 22);
    await frameContaining(ui.lastFrame, "corp-xxx");
    for (let i = 0; i < 5 && !/Callback URL for corp-x/.test(ui.lastFrame() ?? ""); i++) await press(ui.stdin, KEY.down);
    const frame = await frameContaining(ui.lastFrame, /Callback URL for corp-x/);
    const url = `${gateway.url}/sso/callback/${name}`;
    const lines = frame.split("\n");
    const first = lines.findIndex((line) => line.startsWith(`${gateway.url}/sso/callback/`));
    expect(lines.slice(first, first + 2).join("")).toBe(url);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(78);
    await client.send("DELETE", `/sso-providers/${name}`);
    ui.unmount();
  });

  test("at 78×20 (an 80×24 terminal) what to do next is wrapped, not cut: after adding a provider, after creating a token", async () => {
    const whole = (frame: string) => frame.replace(/\s+/g, " ");
    const fits = (frame: string) => {
      expect(frame.split("\n").length).toBeLessThanOrEqual(20);
      for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(78);
    };
    const ui = sso(78, 20);
    await frameContaining(ui.lastFrame, /n add/);
    await press(ui.stdin, "n", "4");
    await frameContaining(ui.lastFrame, "New Generic OpenID Connect provider");
    await fill(ui, ["narrow", "http://127.0.0.1:9", "", "x", "y", "", "", ""]);
    // Before, the notice was cut at "then t…".
    const added = await frameContaining(ui.lastFrame, (frame) => whole(frame).includes("then t tests it."));
    fits(added);
    await client.send("DELETE", "/sso-providers/narrow");
    ui.unmount();

    const list = people(78, 20);
    await frameContaining(list.lastFrame, "ann@example.com");
    await press(list.stdin, KEY.tab, "n");
    await frameContaining(list.lastFrame, /Person \(email\) ann@example\.com/);
    await press(list.stdin, KEY.enter, KEY.enter, KEY.enter);
    // Before, the line ended "(it cannot be…".
    const shown = await frameContaining(list.lastFrame, (frame) => whole(frame).includes("(it cannot be shown again)."));
    fits(shown);
    list.unmount();
  });

  test("every form keeps to the screen's height: with an error shown and the focus on the last field, that field is on screen", async () => {
    // 78×20 is the screen an 80×24 terminal leaves; 58×12 the smallest the app allows, where an oidc form with an error overflowed.
    for (const [width, height] of [[78, 20], [58, 12]] as const) {
      const forms: [Rendered, string[], string][] = [
        [sso(width, height), ["n", "4"], "Trust emails"],
        [people(width, height), ["n"], "Again"],
      ];
      for (const [ui, open, last] of forms) {
        await frameContaining(ui.lastFrame, /n add/);
        await press(ui.stdin, ...open);
        await waitFor("the form to capture keys", () => capturing === true);
        await press(ui.stdin, KEY.save); // refused before sending: an error under the fields
        await frameContaining(ui.lastFrame, "✗");
        await press(ui.stdin, KEY.shiftTab);
        const frame = await frameContaining(ui.lastFrame, new RegExp(`› ${last}\\s`));
        expect(frame.split("\n").length, `${last} at ${width}×${height}`).toBeLessThanOrEqual(height);
        ui.unmount();
      }
    }
  });

  test("wrapText keeps sentences whole within the width and cuts the last line with …", () => {
    expect(wrapText("one two three four", 9)).toEqual(["one two", "  three", "  four"]);
    const cut = wrapText("a ".repeat(50).trim(), 10, 2);
    expect(cut).toHaveLength(2);
    expect(cut[1]!.endsWith("…")).toBe(true);
    expect(wrapText("one two three four five six seven", 14, 2)).toEqual(["one two three", "  four five s…"]); // no run of spaces where lines were joined
  });
});
