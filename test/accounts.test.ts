/** Local accounts, groups and sign-in providers: the UserDirectory and the users/groups/sso CLI, on real data dirs. */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { SignInThrottled, UserDirectory } from "../src/auth/accounts/index.ts";
import { loadSettings } from "../src/config/index.ts";
import { openDataDir, type DataDir } from "../src/runtime/index.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ScriptedBrowser } from "./fixtures/browser.ts";
import { approveInBrowser, localSignIn, MemoryOAuthProvider } from "./fixtures/oauth-client.ts";
import { startOidcIdp, stopAllIdps } from "./fixtures/oidc-idp.ts";
import { configuredDataDir, DEMO_CONFIG, runMintgate, startGateway, tempDir } from "./harness.ts";

const opened: DataDir[] = [];
afterAll(async () => {
  for (const dir of opened.splice(0)) dir.close();
  await stopAllIdps();
});

function openDir(): DataDir {
  const dir = openDataDir(loadSettings({ data: join(tempDir("mintgate-accounts"), "data") }), { initialise: true });
  opened.push(dir);
  return dir;
}

const PASSWORD = "correct horse battery staple";

describe("UserDirectory", () => {
  test("local accounts: argon2id hashes, one sentence for unknown email and wrong password, disabled refused", async () => {
    const dir = openDir();
    const users = new UserDirectory(dir.store);
    const alice = await users.addLocal({ email: " Alice@Example.COM ", password: PASSWORD, role: "admin" });
    expect(alice.email).toBe("alice@example.com");
    expect(dir.store.users.get(alice.id)!.passwordHash).toStartWith("$argon2id$");
    await expect(users.addLocal({ email: "alice@example.com", password: PASSWORD })).rejects.toThrow(/exists already/);
    await expect(users.addLocal({ email: "bob@example.com", password: "short" })).rejects.toThrow(/at least 12/);
    await expect(users.addLocal({ email: "not-an-email", password: PASSWORD })).rejects.toThrow(/not an email address/);

    const signedIn = await users.authenticatePassword("ALICE@example.com", PASSWORD, "198.51.100.1");
    expect(signedIn.id).toBe(alice.id);
    expect(signedIn.lastSignInAt).not.toBeNull();
    const unknown = await users.authenticatePassword("nobody@example.com", PASSWORD, "198.51.100.1").catch((e: Error) => e.message);
    const wrong = await users.authenticatePassword("alice@example.com", "wrong password!", "198.51.100.1").catch((e: Error) => e.message);
    expect(unknown).toBe(wrong);

    users.disable("alice@example.com");
    await expect(users.authenticatePassword("alice@example.com", PASSWORD, "198.51.100.1")).rejects.toThrow(/disabled/);
    users.enable(alice.id);
    await users.setPassword(alice.id, "another long password");
    await expect(users.authenticatePassword("alice@example.com", PASSWORD, "198.51.100.1")).rejects.toThrow(/not right/);
    expect((await users.authenticatePassword("alice@example.com", "another long password", null)).id).toBe(alice.id);

    const events = dir.store.authEvents.list();
    expect(events.map((e) => [e.type, e.outcome, e.reason])).toEqual([
      ["sign_in", "ok", null],
      ["sign_in", "refused", "wrong password"],
      ["sign_in", "refused", "account disabled"],
      ["user_disabled", "ok", null],
      ["sign_in", "refused", "wrong password"],
      ["sign_in", "refused", "unknown account"],
      ["sign_in", "ok", null],
    ]);
  });

  test("throttling: 5 failures lock the account (even for the right password) and say when to retry; IPs have their own limit", async () => {
    const dir = openDir();
    let now = 1_800_000_000_000;
    const users = new UserDirectory(dir.store, { now: () => now });
    await users.addLocal({ email: "t@example.com", password: PASSWORD });
    for (let i = 0; i < 5; i++) await expect(users.authenticatePassword("t@example.com", "not the password", `203.0.113.${i}`)).rejects.toThrow(/not right/);
    const locked = await users.authenticatePassword("t@example.com", PASSWORD, "203.0.113.99").catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(SignInThrottled);
    expect((locked as Error).message).toBe("Too many failed sign-ins for this account; try again in 30 seconds.");
    now += 31_000;
    // One more failure doubles the lockout.
    await expect(users.authenticatePassword("t@example.com", "not the password", "203.0.113.1")).rejects.toThrow(/not right/);
    await expect(users.authenticatePassword("t@example.com", PASSWORD, "203.0.113.1")).rejects.toThrow(/try again in 60 seconds/);
    now += 61_000;
    expect((await users.authenticatePassword("t@example.com", PASSWORD, "203.0.113.1")).email).toBe("t@example.com");

    // One address guessing many accounts is stopped after 20 failures.
    for (let i = 0; i < 20; i++) await users.authenticatePassword(`guess${i}@example.com`, "x", "192.0.2.66").catch(() => {});
    await expect(users.authenticatePassword("t@example.com", PASSWORD, "192.0.2.66")).rejects.toThrow(/for this address; try again/);
    expect(dir.store.authEvents.list({ limit: 1 })[0]!.reason).toBe("throttled: too many failed sign-ins for this address");
  });

  test("SSO people: keyed by provider and subject; provider groups replaced, manual ones kept", () => {
    const dir = openDir();
    const users = new UserDirectory(dir.store);
    const first = users.upsertFromProvider({ provider: "okta", subject: "00u1", email: "Pat@Example.com", name: "Pat", groups: ["a", "b"] });
    users.addGroup(first.id, "by-hand");
    const again = users.upsertFromProvider({ provider: "okta", subject: "00u1", email: "pat.new@example.com", name: "Pat N", groups: ["b", "c"] });
    expect(again.id).toBe(first.id);
    expect(again.email).toBe("pat.new@example.com");
    expect(again.groups).toEqual(["b", "by-hand", "c"]);
    // Same email, another subject: another person, never merged by email.
    const other = users.upsertFromProvider({ provider: "okta", subject: "00u2", email: "pat.new@example.com", groups: [] });
    expect(other.id).not.toBe(first.id);
    expect(() => users.resolve("pat.new@example.com")).toThrow(/2 people have the email/);
    expect(() => users.removeGroup(first.id, "b")).toThrow(/through the provider okta/);
    users.disable(first.id);
    expect(() => users.upsertFromProvider({ provider: "okta", subject: "00u1", email: "pat.new@example.com", groups: [] })).toThrow(/disabled/);
    // Nor does a disabled person come back as a new person with the same email, from this provider or another.
    expect(() => users.upsertFromProvider({ provider: "google", subject: "g-1", email: "Pat.New@example.com", groups: [] })).toThrow(/disabled/);
    expect(users.findByEmail("pat.new@example.com")).toHaveLength(2);
  });

  test("a disabled local account cannot come back through SSO", async () => {
    const dir = openDir();
    const users = new UserDirectory(dir.store);
    await users.addLocal({ email: "ann@example.com", password: PASSWORD });
    users.disable("ann@example.com");
    expect(() => users.upsertFromProvider({ provider: "okta", subject: "00u9", email: "ann@example.com", groups: [] })).toThrow("Your mintgate account is disabled; ask an administrator of this mintgate.");
    expect(users.findByEmail("ann@example.com")).toHaveLength(1);
  });
});

describe("the sign-in page", () => {
  test("guesses sent all at once get no more tries than one after another: 5 are checked, the rest are told to wait", async () => {
    const dataDir = await configuredDataDir(DEMO_CONFIG, { label: "mintgate-guesses", people: [{ email: "ann@example.com", password: PASSWORD }] });
    const gateway = await startGateway({ dataDir });
    const redirect = "http://127.0.0.1:9/callback";
    const provider = new MemoryOAuthProvider(redirect);
    await new Client({ name: "guesser", version: "1" }).connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/demo`), { authProvider: provider })).catch(() => undefined);
    const browser = new ScriptedBrowser();
    const stopAt = (url: URL) => url.href.startsWith(redirect);
    const page = await browser.open(provider.authorizationUrl!, { stopAt });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => localSignIn(browser, "ann@example.com", `guess number ${i}`)(page, stopAt)));
    const alerts = answers.map((answer) => answer.html.match(/role="alert">([^<]*)</)?.[1] ?? `(no alert, status ${answer.status})`);
    expect(alerts.filter((alert) => alert === "The email or password is not right.")).toHaveLength(5);
    expect(alerts.filter((alert) => alert.startsWith("Too many failed sign-ins for this account; try again in "))).toHaveLength(25);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in&limit=100`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { reason: string | null }[];
    expect(events.filter((e) => e.reason === "wrong password")).toHaveLength(5);
    await gateway.stop();
  });

  test("a locked account hammered with guesses: the log says 50 refusals a minute and counts the rest, the auth events keep every one; its events name the person by email, with the client address", async () => {
    const dataDir = await configuredDataDir(DEMO_CONFIG, { label: "mintgate-hammer", people: [{ email: "ann@example.com", password: PASSWORD }, { email: "bob@example.com", password: PASSWORD }] });
    const gateway = await startGateway({ dataDir, args: ["--log-format", "json"] });
    const redirect = "http://127.0.0.1:9/callback";
    const provider = new MemoryOAuthProvider(redirect);
    const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/demo`), { authProvider: provider });
    await new Client({ name: "guesser", version: "1" }).connect(transport).catch(() => undefined);
    const browser = new ScriptedBrowser();
    const stopAt = (url: URL) => url.href.startsWith(redirect);
    const { callback } = await approveInBrowser(browser, provider.authorizationUrl!, redirect, localSignIn(browser, "bob@example.com", PASSWORD));
    await transport.finishAuth(callback.searchParams.get("code")!);
    const guesser = new ScriptedBrowser();
    const page = await guesser.open(provider.authorizationUrl!, { stopAt });
    for (let i = 0; i < 200; i++) await localSignIn(guesser, "ann@example.com", `guess number ${i}`)(page, stopAt);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in&limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { email: string | null; outcome: string }[];
    expect(events.filter((e) => e.email === "ann@example.com" && e.outcome === "refused")).toHaveLength(200);
    // A search of the trail for Bob finds his approval of the client and its token, not only his sign-in.
    const bobsRecords = (await (await fetch(`${gateway.url}/admin/api/audit?kind=auth&user=bob@example.com`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { method: string }[];
    expect(bobsRecords.map((r) => r.method).sort()).toEqual(["consent_granted", "sign_in", "token_issued"]);
    expect(await gateway.stop()).toBe(0);
    const lines = gateway.output().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.msg === "auth event refused")).toHaveLength(50);
    expect(lines.filter((line) => line.msg === "auth events refused: lines not logged, too many").map((line) => line.lines)).toEqual([150]);
    const bobs = lines.filter((line) => line.msg === "auth event").map(({ type, subject, ip, virtualMcp }) => ({ type, subject, ip, virtualMcp }));
    expect(bobs).toEqual([
      { type: "client_registered", subject: undefined, ip: "127.0.0.1", virtualMcp: undefined },
      { type: "sign_in", subject: "bob@example.com", ip: "127.0.0.1", virtualMcp: undefined },
      { type: "consent_granted", subject: "bob@example.com", ip: "127.0.0.1", virtualMcp: "demo" },
      { type: "token_issued", subject: "bob@example.com", ip: "127.0.0.1", virtualMcp: "demo" },
    ]);
  });

  test("an address locked out and hammered with made-up emails records 30 refusals a minute, not one per request; guesses at a real account are all recorded", async () => {
    const dataDir = await configuredDataDir(DEMO_CONFIG, { label: "mintgate-made-up-emails", people: [{ email: "ann@example.com", password: PASSWORD }] });
    const gateway = await startGateway({ dataDir });
    const redirect = "http://127.0.0.1:9/callback";
    const provider = new MemoryOAuthProvider(redirect);
    await new Client({ name: "guesser", version: "1" }).connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/demo`), { authProvider: provider })).catch(() => undefined);
    const guesser = new ScriptedBrowser();
    const stopAt = (url: URL) => url.href.startsWith(redirect);
    const page = await guesser.open(provider.authorizationUrl!, { stopAt });
    // 20 failures lock the address; each sign-in after that is refused at once, costing its sender one request.
    const alerts: string[] = [];
    for (let i = 0; i < 100; i++) {
      const answer = await localSignIn(guesser, `nobody${i}@example.com`, "a guess")(page, stopAt);
      alerts.push(answer.html.match(/role="alert">([^<]*)</)?.[1] ?? `(no alert, status ${answer.status})`);
    }
    expect(alerts.filter((alert) => alert.startsWith("Too many failed sign-ins for this address"))).toHaveLength(80);
    for (let i = 0; i < 5; i++) await localSignIn(guesser, "ann@example.com", `guess number ${i}`)(page, stopAt);
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?type=sign_in&limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { email: string | null; reason: string | null }[];
    expect(events.filter((e) => e.email?.startsWith("nobody"))).toHaveLength(30);
    expect(events.filter((e) => e.email === "ann@example.com" && e.reason === "throttled: too many failed sign-ins for this address")).toHaveLength(5);
    expect(await gateway.stop()).toBe(0);
  });

  test("a password with é signs in however é is typed (U+00E9 or e + U+0301); a hash made before from an e + U+0301 password still signs in", async () => {
    const precomposed = "correct horse caf\u00e9 staple";
    const apart = "correct horse cafe\u0301 staple";
    const dataDir = await configuredDataDir(DEMO_CONFIG, { label: "mintgate-unicode-password", people: [{ email: "ann@example.com", password: PASSWORD }, { email: "bo@example.com", password: PASSWORD }] });
    expect((await runMintgate(["users", "set-password", "ann@example.com", "--data", dataDir], { stdin: `${precomposed}\n` })).code).toBe(0);
    // Bo's password was set, before passwords were normalised, as typed: e + U+0301.
    const dir = openDataDir(loadSettings({ data: dataDir }), { initialise: false });
    const bo = dir.store.users.findByEmail("bo@example.com")[0]!;
    dir.store.users.update(bo.id, { passwordHash: await Bun.password.hash(apart, { algorithm: "argon2id" }) });
    dir.close();

    const gateway = await startGateway({ dataDir });
    const redirect = "http://127.0.0.1:9/callback";
    /** The sign-in page of a fresh browser (no mintgate session yet) and its answer to `password`, tried `times` times. */
    const signIn = async (email: string, password: string, times = 1) => {
      const provider = new MemoryOAuthProvider(redirect);
      await new Client({ name: "typist", version: "1" }).connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/demo`), { authProvider: provider })).catch(() => undefined);
      const browser = new ScriptedBrowser();
      const stopAt = (url: URL) => url.href.startsWith(redirect);
      const page = await browser.open(provider.authorizationUrl!, { stopAt });
      const answers = [];
      for (let i = 0; i < times; i++) answers.push(await localSignIn(browser, email, password)(page, stopAt));
      return answers.map((answer) => answer.html.match(/role="alert">([^<]*)</)?.[1] ?? (answer.stopped || answer.forms.some((f) => f.action.endsWith("/consent")) ? "signed in" : `(status ${answer.status})`));
    };
    expect(await signIn("ann@example.com", apart)).toEqual(["signed in"]);
    expect(await signIn("ann@example.com", precomposed)).toEqual(["signed in"]);
    expect(await signIn("bo@example.com", apart)).toEqual(["signed in"]);
    // A wrong password typed apart is checked twice (normalised, then as typed) but counts as one failure: 4 leave Bo in.
    expect(await signIn("bo@example.com", "wrong horse cafe\u0301 staple", 4)).toEqual(Array(4).fill("The email or password is not right."));
    expect(await signIn("bo@example.com", apart)).toEqual(["signed in"]);
    await gateway.stop();
  });
});

describe("CLI", () => {
  test("users and groups: add with the password on stdin, list, show, disable, groups", async () => {
    const data = join(tempDir("mintgate-users-cli"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const short = await runMintgate(["users", "add", "a@example.com", "--data", data], { stdin: "short\n" });
    expect(short.code).toBe(2);
    expect(short.stderr).toBe("mintgate: The password is too short: use at least 12 characters.\n");
    // Counted in characters after normalisation: 11 é typed as e + U+0301 are 11, not 22.
    const shortApart = await runMintgate(["users", "add", "a@example.com", "--data", data], { stdin: `${"e\u0301".repeat(11)}\n` });
    expect([shortApart.code, shortApart.stderr]).toEqual([2, "mintgate: The password is too short: use at least 12 characters.\n"]);
    const none = await runMintgate(["users", "add", "a@example.com", "--data", data], { stdin: "" });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("No password given");

    const added = await runMintgate(["users", "add", "A@Example.com", "--admin", "--name", "Ann", "--json", "--data", data], { stdin: `${PASSWORD}\n` });
    expect(added.code).toBe(0);
    const ann = JSON.parse(added.stdout);
    expect(ann).toMatchObject({ email: "a@example.com", role: "admin", name: "Ann", disabled: false, groups: [], hasPassword: true });
    expect(added.stdout).not.toContain("argon2");

    expect((await runMintgate(["groups", "add", "a@example.com", "eng", "--data", data])).stdout).toBe('a@example.com is now in "eng"; groups: eng.\n');
    const groups = JSON.parse((await runMintgate(["groups", "list", "--json", "--data", data])).stdout);
    expect(groups).toEqual([{ group: "eng", members: [{ email: "a@example.com", id: ann.id, source: "manual" }] }]);
    expect((await runMintgate(["users", "disable", "a@example.com", "--data", data])).stdout).toBe("Disabled a@example.com.\n");
    expect((await runMintgate(["users", "disable", "a@example.com", "--data", data])).stdout).toBe("a@example.com was already disabled; nothing changed.\n");
    const list = JSON.parse((await runMintgate(["users", "list", "--json", "--data", data])).stdout);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ disabled: true, groups: ["eng"], identities: [{ provider: "local", subject: "a@example.com" }] });
    const table = await runMintgate(["users", "list", "--data", data]);
    expect(table.stdout).toMatch(/^EMAIL\s+ROLE\s+STATE/);
    expect(table.stdout).toContain("disabled");
    expect((await runMintgate(["users", "set-password", "a@example.com", "--data", data], { stdin: "a new long password\n" })).code).toBe(0);
    expect((await runMintgate(["users", "show", "nobody@example.com", "--data", data])).stderr).toBe("mintgate: There is no person \"nobody@example.com\"; `mintgate users list` shows them.\n");
    for (const args of [["users"], ["users", "add"], ["groups", "add"], ["sso"], ["sso", "add"], ["sso", "test"]]) {
      const help = await runMintgate([...args, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("Usage: mintgate");
    }
  });

  test("users set-role to the role a person has already says nothing changed and leaves no audit record", async () => {
    const data = join(tempDir("mintgate-role-cli"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    expect((await runMintgate(["users", "add", "a@example.com", "--data", data], { stdin: `${PASSWORD}\n` })).code).toBe(0);
    const setRole = (...args: string[]) => runMintgate(["users", "set-role", "a@example.com", ...args, "--data", data]);
    const roleRecords = async () => {
      const records = JSON.parse((await runMintgate(["audit", "search", "--kind", "admin", "--json", "--data", data])).stdout) as { method: string }[];
      return records.filter((r) => r.method === "users.set-role").length;
    };

    expect(await setRole("admin")).toEqual({ code: 0, stdout: "a@example.com is now an admin.\n", stderr: "" });
    expect(await roleRecords()).toBe(1);
    expect(await setRole("admin")).toEqual({ code: 0, stdout: "a@example.com was already an admin; nothing changed.\n", stderr: "" });
    const json = await setRole("admin", "--json");
    expect([json.code, json.stderr]).toEqual([0, ""]);
    expect(JSON.parse(json.stdout)).toMatchObject({ email: "a@example.com", role: "admin", changed: false });
    expect(await roleRecords()).toBe(1);
    expect(JSON.parse((await setRole("member", "--json")).stdout)).toMatchObject({ role: "member", changed: true });
    expect(await roleRecords()).toBe(2);
  });

  test("users set-password says an unknown person or one without a local account before it asks for the password", async () => {
    const data = join(tempDir("mintgate-password-cli"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const dir = openDataDir(loadSettings({ data }), { initialise: false });
    try {
      new UserDirectory(dir.store).upsertFromProvider({ provider: "okta", subject: "00u9", email: "pat@example.com", groups: [] });
    } finally {
      dir.close();
    }
    // No password on standard input: without the check first, both would be told "No password given".
    expect(await runMintgate(["users", "set-password", "nobody@example.com", "--data", data])).toEqual({ code: 1, stdout: "", stderr: 'mintgate: There is no person "nobody@example.com"; `mintgate users list` shows them.\n' });
    const ssoOnly = await runMintgate(["users", "set-password", "pat@example.com", "--data", data]);
    expect(ssoOnly.code).toBe(2);
    expect(ssoOnly.stderr).toContain("signs in through SSO only and has no local account");
  });

  test("groups add/remove are idempotent for scripts: repeating one exits 0 and says nothing changed; an unknown person is an error", async () => {
    const data = join(tempDir("mintgate-groups-cli"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    expect((await runMintgate(["users", "add", "a@example.com", "--data", data], { stdin: `${PASSWORD}\n` })).code).toBe(0);
    const groups = (...args: string[]) => runMintgate(["groups", ...args, "--data", data]);

    expect(await groups("add", "a@example.com", "eng")).toEqual({ code: 0, stdout: 'a@example.com is now in "eng"; groups: eng.\n', stderr: "" });
    expect(await groups("add", "a@example.com", "eng")).toEqual({ code: 0, stdout: 'a@example.com was already in "eng"; nothing changed; groups: eng.\n', stderr: "" });
    expect(await groups("remove", "a@example.com", "eng")).toEqual({ code: 0, stdout: 'a@example.com is no longer in "eng".\n', stderr: "" });
    // Removing it again, or a group no one is in, changes nothing and is no failure (it used to exit 1).
    expect(await groups("remove", "a@example.com", "eng")).toEqual({ code: 0, stdout: 'a@example.com was not in "eng"; nothing changed.\n', stderr: "" });
    expect(await groups("remove", "a@example.com", "no-such-group")).toEqual({ code: 0, stdout: 'a@example.com was not in "no-such-group"; nothing changed.\n', stderr: "" });
    const json = await groups("remove", "a@example.com", "eng", "--json");
    expect([json.code, json.stderr]).toEqual([0, ""]);
    expect(JSON.parse(json.stdout)).toMatchObject({ email: "a@example.com", groups: [] });
    // What cannot be done still fails: an unknown person (exit 1), a name that is no group name (a usage error).
    expect(await groups("remove", "nobody@example.com", "eng")).toEqual({ code: 1, stdout: "", stderr: 'mintgate: There is no person "nobody@example.com"; `mintgate users list` shows them.\n' });
    expect((await groups("remove", "a@example.com", " ")).code).toBe(2);

    // A group an SSO provider gives: removing the hand assignment says the person is still in it; with none, it is
    // refused (exit 1: the command line was right, the group belongs to the provider), not a usage error (exit 2).
    const dir = openDataDir(loadSettings({ data }), { initialise: false });
    try {
      new UserDirectory(dir.store).upsertFromProvider({ provider: "okta", subject: "00u9", email: "pat@example.com", groups: ["sales"] });
    } finally {
      dir.close();
    }
    expect(await groups("add", "pat@example.com", "sales")).toEqual({ code: 0, stdout: 'pat@example.com is now in "sales" by hand as well as through okta; groups: sales.\n', stderr: "" });
    expect(await groups("remove", "pat@example.com", "sales")).toEqual({ code: 0, stdout: 'pat@example.com is no longer in "sales" by hand, but still through okta (change it there); groups: sales.\n', stderr: "" });
    expect(await groups("remove", "pat@example.com", "sales")).toEqual({ code: 1, stdout: "", stderr: 'mintgate: pat@example.com is in "sales" through the provider okta, not by hand; change it there.\n' });
  });

  test("disabling a person stops their personal access tokens whatever the case of the email they were created for", async () => {
    const data = await configuredDataDir(DEMO_CONFIG, { label: "mintgate-token-case", people: [{ email: "ann@example.com", password: PASSWORD }] });
    const created = await runMintgate(["tokens", "create", "--user", "Ann@Example.com", "--json", "--data", data]);
    expect(created.code).toBe(0);
    const fresh = JSON.parse(created.stdout) as { id: string; subject: string; token: string };
    // Stored as people's emails are: one person is one subject (audit trail, stats, the disabled check).
    expect(fresh.subject).toBe("ann@example.com");
    // A token made before subjects were stored lower-case keeps the case it was typed in.
    const older = JSON.parse((await runMintgate(["tokens", "create", "--user", "ann@example.com", "--json", "--data", data])).stdout) as { id: string; token: string };
    const db = new Database(join(data, "mintgate.db"));
    try {
      db.run("UPDATE access_tokens SET subject = 'ANN@example.com' WHERE id = ?", [older.id]);
    } finally {
      db.close();
    }
    const gateway = await startGateway({ dataDir: data });
    try {
      const initialize = (token: string) =>
        fetch(`${gateway.url}/mcp/demo`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
        });
      for (const token of [fresh.token, older.token]) expect((await initialize(token)).status).toBe(200);
      expect((await runMintgate(["users", "disable", "ann@example.com", "--data", data])).code).toBe(0);
      // The mixed-case token used to go on working for the disabled person.
      for (const token of [fresh.token, older.token]) {
        const refused = await initialize(token);
        expect(refused.status).toBe(401);
        expect(await refused.text()).toContain("The account is disabled");
      }
    } finally {
      await gateway.stop();
    }
  });

  test("sso update: client id, domains, label and a rotated secret change in place; bad input is refused and changes nothing", async () => {
    const data = join(tempDir("mintgate-sso-update"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const added = await runMintgate(["sso", "add", "corp", "--kind", "okta", "--domain", "example.okta.com", "--client-id", "first-id", "--data", data], { stdin: "first-secret\n" });
    expect(added.code).toBe(0);

    const updated = await runMintgate(["sso", "update", "corp", "--client-id", "second-id", "--allowed-domains", "Example.com, @example.org", "--label", "Corp SSO", "--json", "--data", data]);
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ name: "corp", kind: "okta", issuer: "https://example.okta.com", clientId: "second-id", allowedDomains: ["example.com", "example.org"], label: "Corp SSO" });

    const rotated = await runMintgate(["sso", "update", "corp", "--rotate-secret", "--data", data], { stdin: "second-secret\n" });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toStartWith("Updated sign-in provider corp (new client secret stored).\n");
    expect(rotated.stdout + rotated.stderr).not.toContain("second-secret");
    const dir = openDataDir(loadSettings({ data }), { initialise: false });
    try {
      expect(dir.secrets.resolveSecret("sso.corp.client-secret")).toBe("second-secret");
    } finally {
      dir.close();
    }

    const refusals: [string[], string, string][] = [
      [["sso", "update", "corp"], "", "mintgate: Nothing to change: give --client-id, --rotate-secret, --allowed-domains, --groups-claim, --assume-email-verified or --label.\n"],
      [["sso", "update", "corp", "--rotate-secret"], "", "mintgate: No client secret given: pipe it on standard input"],
      [["sso", "update", "corp", "--allowed-domains", "not a domain"], "", 'mintgate: "not a domain" is not an email domain such as example.com.\n'],
      [["sso", "update", "nobody", "--label", "x"], "", "nobody"],
      [["sso", "update", "corp", "--assume-email-verified", "yes"], "", "mintgate: --assume-email-verified applies to oidc providers only"],
      [["sso", "update", "corp", "--assume-email-verified", "maybe"], "", 'mintgate: --assume-email-verified takes yes or no, not "maybe".\n'],
    ];
    for (const [args, stdin, message] of refusals) {
      const refused = await runMintgate([...args, "--data", data], { stdin });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(message);
    }
    const after = JSON.parse((await runMintgate(["sso", "list", "--json", "--data", data])).stdout);
    expect(after[0]).toMatchObject({ clientId: "second-id", allowedDomains: ["example.com", "example.org"], label: "Corp SSO" });
    expect((await runMintgate(["sso", "update", "--help"])).stdout).toContain("--rotate-secret");
    // A generic provider that never sends email_verified: the admin vouches for its emails, and can take it back.
    const vouched = await runMintgate(["sso", "add", "plain", "--kind", "oidc", "--issuer", "http://127.0.0.1:9", "--client-id", "x", "--assume-email-verified", "yes", "--data", data], { stdin: "s\n" });
    expect(vouched.stdout).toContain("emails:          taken as verified when the provider does not say (--assume-email-verified yes)");
    const unvouched = await runMintgate(["sso", "update", "plain", "--assume-email-verified", "no", "--json", "--data", data]);
    expect(JSON.parse(unvouched.stdout)).toMatchObject({ name: "plain", assumeEmailVerified: false });

    // The admin API: the same change, and bodies of the wrong shape get a 400 that says what is wrong.
    const gateway = await startGateway({ dataDir: data });
    const headers = { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" };
    const patch = (body: unknown) => fetch(`${gateway.url}/admin/api/sso-providers/corp`, { method: "PATCH", headers, body: JSON.stringify(body) });
    const ok = await patch({ label: "Corp", allowedDomains: ["example.com"], groupsClaim: null });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ label: "Corp", allowedDomains: ["example.com"], clientId: "second-id" });
    const bad: [unknown, string][] = [
      [{ allowedDomains: "example.com" }, 'allowedDomains must be a list of email domains such as ["example.com"].'],
      [{ label: 7 }, "label must be a string."],
      [{ assumeEmailVerified: "yes" }, "assumeEmailVerified must be true or false."],
      [{ allowed_domains: ["example.com"] }, 'There is no field "allowed_domains" in a sign-in provider change'],
      [{}, "Nothing to change"],
      [["label"], "Send a sign-in provider change as a JSON object."],
      [{ clientSecret: "" }, "The new client secret must not be empty."],
    ];
    for (const [body, message] of bad) {
      const refused = await patch(body);
      expect(refused.status).toBe(400);
      expect(JSON.stringify(await refused.json())).toContain(message.replaceAll('"', '\\"'));
    }
    const badAdd = await fetch(`${gateway.url}/admin/api/sso-providers`, { method: "POST", headers, body: JSON.stringify({ name: "x", kind: "okta", domain: "example.okta.com", clientId: "c", clientSecret: "s", allowedDomains: [1] }) });
    expect(badAdd.status).toBe(400);
    // A missing name or kind is named as missing, not quoted back as "undefined".
    for (const [body, message] of [
      [{ kind: "okta", domain: "example.okta.com", clientId: "c", clientSecret: "s" }, 'A provider needs a name: 1–63 lower-case letters, digits and "-", starting with a letter (it becomes part of the callback URL).'],
      [{ name: "x", clientId: "c", clientSecret: "s" }, "A provider needs a kind: use okta, google, entra, oidc."],
    ] as const) {
      const missing = await fetch(`${gateway.url}/admin/api/sso-providers`, { method: "POST", headers, body: JSON.stringify(body) });
      expect([missing.status, ((await missing.json()) as { message: string }).message]).toEqual([400, message]);
    }
    expect((await (await fetch(`${gateway.url}/admin/api/sso-providers`, { headers })).json()) as unknown[]).toHaveLength(2);
    await gateway.stop();
  });

  test("sso add|list|test|remove: discovery facts, a dead issuer, and the secret never shown", async () => {
    const idp = await startOidcIdp({ users: [], clients: [{ client_id: "mg", client_secret: "x", redirect_uris: ["http://127.0.0.1:9/sso/callback/corp"] }] });
    const data = join(tempDir("mintgate-sso-cli"), "data");
    expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    const secret = "very-secret-client-secret-42";
    const flagged = await runMintgate(["sso", "add", "corp", "--kind", "oidc", "--issuer", idp.issuer, "--client-id", "mg", "--client-secret", secret, "--data", data]);
    expect(flagged.code).toBe(2);
    const add = await runMintgate(["sso", "add", "corp", "--kind", "oidc", "--issuer", idp.issuer, "--client-id", "mg", "--allowed-domains", "example.com", "--data", data], { stdin: `${secret}\n` });
    expect(add.code).toBe(0);
    expect(add.stdout).toContain("<public URL>/sso/callback/corp");
    const dead = await runMintgate(["sso", "add", "dead", "--kind", "oidc", "--issuer", "http://127.0.0.1:1", "--client-id", "mg", "--data", data], { stdin: `${secret}\n` });
    expect(dead.code).toBe(0);
    const badKind = await runMintgate(["sso", "add", "x", "--kind", "saml", "--client-id", "mg", "--data", data], { stdin: `${secret}\n` });
    expect(badKind.stderr).toBe('mintgate: --kind must be okta, google, entra or oidc, not "saml".\n');
    const httpIssuer = await runMintgate(["sso", "add", "x", "--kind", "oidc", "--issuer", "http://idp.example.com", "--client-id", "mg", "--data", data], { stdin: `${secret}\n` });
    expect(httpIssuer.stderr).toContain("must use https");

    const list = await runMintgate(["sso", "list", "--json", "--public-url", "https://mcp.example.com", "--data", data]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(secret);
    const providers = JSON.parse(list.stdout);
    expect(providers.map((p: { name: string; callbackUrl: string }) => [p.name, p.callbackUrl])).toEqual([
      ["corp", "https://mcp.example.com/sso/callback/corp"],
      ["dead", "https://mcp.example.com/sso/callback/dead"],
    ]);
    expect(providers[0].clientSecretName).toBe("sso.corp.client-secret");

    const tested = await runMintgate(["sso", "test", "corp", "--json", "--data", data]);
    expect(tested.code).toBe(0);
    const report = JSON.parse(tested.stdout);
    expect(report).toMatchObject({ ok: true, issuer: idp.issuer, authorizationEndpoint: `${idp.issuer}/auth`, tokenEndpoint: `${idp.issuer}/token`, pkceS256: true, offlineAccess: true, jwksKeys: 1 });
    expect(report.scopesSupported).toContain("openid");
    const text = await runMintgate(["sso", "test", "corp", "--data", data]);
    expect(text.stdout).toContain("PKCE S256:              yes");
    const failed = await runMintgate(["sso", "test", "dead", "--data", data]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("dead: FAILED. Discovery at http://127.0.0.1:1/.well-known/openid-configuration failed: the connection was refused.\n");

    // Through the admin API of a running gateway: listed, tested, never the secret; nor in its logs.
    const gateway = await startGateway({ dataDir: data });
    const auth = { authorization: `Bearer ${gateway.adminToken()}` };
    const api = await (await fetch(`${gateway.url}/admin/api/sso-providers`, { headers: auth })).text();
    expect(api).not.toContain(secret);
    expect(JSON.parse(api)[0].callbackUrl).toBe(`${gateway.url}/sso/callback/corp`);
    const apiTest = await fetch(`${gateway.url}/admin/api/sso-providers/dead/test`, { method: "POST", headers: auth });
    expect(((await apiTest.json()) as { error: string }).error).toContain("connection was refused");
    const created = await fetch(`${gateway.url}/admin/api/sso-providers`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: "viaapi", kind: "okta", domain: "example.okta.com", clientId: "c", clientSecret: secret }) });
    expect(created.status).toBe(201);
    const body = await created.text();
    expect(body).not.toContain(secret);
    expect(JSON.parse(body).issuer).toBe("https://example.okta.com");
    expect((await fetch(`${gateway.url}/admin/api/sso-providers/viaapi`, { method: "DELETE", headers: auth })).status).toBe(200);
    expect((await fetch(`${gateway.url}/admin/api/users`, { headers: auth })).status).toBe(200);
    await gateway.stop();
    expect(gateway.output()).not.toContain(secret);

    expect((await runMintgate(["sso", "remove", "dead", "--data", data])).stdout).toBe("Removed sign-in provider dead.\n");
    const secrets = await runMintgate(["secrets", "list", "--json", "--data", data]);
    expect(secrets.stdout).toContain("sso.corp.client-secret");
    expect(secrets.stdout).not.toContain("sso.dead.client-secret");
  });
});
