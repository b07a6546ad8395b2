/**
 * The TUI's Connectors and Secrets screens (ink-testing-library) against a
 * real running gateway: list, add and edit forms (validation before sending,
 * the server's refusal text, Ctrl-R secret references), test with a spinner
 * and its result, restart, stderr, delete with confirmation; secrets set with
 * a masked value that no frame ever shows.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { render } from "ink-testing-library";
import { join } from "node:path";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import { App } from "../tui/App.tsx";
import { connectorsScreen, ConnectorsScreen } from "../tui/screens/connectors/ConnectorsScreen.tsx";
import { draftOf, problemsOf, specOf, splitArgs, emptyDraft } from "../tui/screens/connectors/model.ts";
import { SecretsScreen } from "../tui/screens/connectors/SecretsScreen.tsx";
import { frameContaining, press } from "./fixtures/ink-keys.ts";
import { configuredDataDir, REPO_ROOT, runMintgate, startGateway, waitFor, type RunningGateway } from "./harness.ts";

const ECHO_STDIO = join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts");
const SECRET_VALUE = "ghp_VeryS3cretValue_shown_nowhere";

const KEY = { enter: "\r", tab: "\t", esc: "\u001B", up: "\u001B[A", down: "\u001B[B", right: "\u001B[C", ctrlS: "\u0013", shiftTab: "\u001B[Z", ctrlT: "\u0014", ctrlR: "\u0012", backspace: "\u007F" };

let gateway: RunningGateway;
let client: AdminClient;

beforeAll(async () => {
  const dataDir = await configuredDataDir({
    connectors: [
      { name: "echo", kind: "stdio", command: process.execPath, args: [ECHO_STDIO] },
      { name: "broken", kind: "stdio", command: "sh", args: ["-c", "echo 'broken: no config file' >&2; exit 2"] },
    ],
    virtualMcps: [{ slug: "tools", name: "Tools", connectors: [{ connector: "echo" }] }],
  }, { label: "mintgate-tui-connectors" });
  gateway = await startGateway({ dataDir });
  client = new AdminClient(locateGateway({ dataDir }));
  await waitFor("echo ready", async () => (await client.get<{ name: string; state: string }[]>("/connectors")).find((c) => c.name === "echo")?.state === "ready");
});
afterAll(() => gateway.stop());



/** Types text one character at a time, as a person does. */
async function type(stdin: { write: (data: string) => void }, text: string): Promise<void> {
  for (const ch of text) {
    stdin.write(ch);
    await Bun.sleep(5);
  }
  await Bun.sleep(20);
}

function screen(Component: typeof ConnectorsScreen, width = 96, height = 20) {
  let capturing = false;
  const view = render(<Component client={client} width={width} height={height} setCapturing={(c) => (capturing = c)} />);
  return { ...view, capturing: () => capturing };
}

/**
 * Deletes the row `name` on a 60-column screen, which the server refuses: the refusal comes wrapped,
 * not cut, so `advice` at the end of its sentence is on screen and no line is wider than 60.
 */
async function refusalWrappedAt60(Component: typeof ConnectorsScreen, path: "/connectors" | "/secrets", name: string, shown: string, mark: string, advice: string) {
  const { lastFrame, stdin, unmount } = screen(Component, 60, 16);
  await frameContaining(lastFrame, shown);
  for (let i = 0; i < (await rowOf(path, name)); i++) await press(stdin, KEY.down);
  await press(stdin, "d", "y");
  const frame = await frameContaining(lastFrame, mark);
  expect(frame.replace(/\s+/g, " ")).toContain(advice);
  for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(60);
  unmount();
}

const connectorNames = async () => (await client.get<{ name: string }[]>("/connectors")).map((c) => c.name);
/** Where a row is on screen: the screens list by name. */
const rowOf = async (path: "/connectors" | "/secrets", name: string) => (await client.get<{ name: string }[]>(path)).map((c) => c.name).sort((a, b) => a.localeCompare(b)).indexOf(name);

describe("the form's model", () => {
  test("args split like a shell line; problems are found before sending", () => {
    expect(splitArgs(`-y "@scope/server x" --flag 'a b' ""`)).toEqual(["-y", "@scope/server x", "--flag", "a b", ""]);
    const draft = { ...emptyDraft(), name: "bad name!", env: ["NOVALUE", "TOKEN=${secret:unknown}", ""] };
    const problems = problemsOf(draft, ["known"], { needName: true }).map((p) => p.field);
    expect(problems).toEqual(["name", "command", "env.0", "env.1"]);
    const http = { ...emptyDraft(), kind: "http" as const, url: "https://x.example/mcp", headers: ["Authorization: Bearer ${secret:known}", ""] };
    expect(problemsOf(http, ["known"], { needName: false })).toEqual([]);
    expect(specOf(http)).toEqual({ kind: "http", url: "https://x.example/mcp", headers: { Authorization: "Bearer ${secret:known}" } });
  });

  test("opening a connector and saving it unchanged sends the same spec: arguments with both kinds of quote, env values with edge spaces", () => {
    const spec = { kind: "stdio" as const, command: "node", args: [`it's "x"`, `a'b"c`, "", "a b", `'`], env: { PAD: " v ", TAB: "\t", EMPTY: "" } };
    const draft = draftOf({ name: "n", kind: "stdio", timeoutMs: 60_000, spec } as unknown as Parameters<typeof draftOf>[0]);
    expect(specOf(draft)).toEqual(spec);
  });

  test("saving unchanged keeps the edge spaces of a command, a cwd and header values; only names are trimmed, as apply refuses them", () => {
    const asStatus = (spec: object) => ({ name: "n", kind: (spec as { kind: string }).kind, timeoutMs: 60_000, spec }) as unknown as Parameters<typeof draftOf>[0];
    const stdio = { kind: "stdio" as const, command: " /opt/my tool ", args: ["a=b", "k: v", "é"], cwd: " /srv/ü ", env: { K_1: "x", "A:B": "=v=", Q: `"q" 'q'`, U: "日本 " } };
    expect(specOf(draftOf(asStatus(stdio)))).toEqual(stdio);
    const blankCwd = { kind: "stdio" as const, command: "node", args: [], cwd: " ", env: {} };
    expect(specOf(draftOf(asStatus(blankCwd)))).toEqual(blankCwd);
    const http = { kind: "http" as const, url: "https://x.example/mcp", headers: { "X-Pad": "  two ", "X-Colon": ": a: b ", "X-Empty": "", "X-Q": `"é", 'x'=1` } };
    const draft = draftOf(asStatus(http));
    expect(problemsOf(draft, [], { needName: false })).toEqual([]);
    expect(specOf(draft)).toEqual(http);
    // What a person types: spaces around a name go, a value is taken as written after "Name: ".
    expect(specOf({ ...emptyDraft(), command: "npx", env: [" KEY = v", ""] })).toMatchObject({ env: { KEY: " v" } });
    expect(specOf({ ...emptyDraft(), kind: "http", url: " https://x.example/mcp ", headers: ["  X-A :b", ""] })).toEqual({ kind: "http", url: "https://x.example/mcp", headers: { "X-A": "b" } });
    expect(problemsOf({ ...emptyDraft(), command: "npx", env: [" =v"] }, [], { needName: false }).map((p) => p.field)).toEqual(["env.0"]);
  });
});

describe("Connectors screen", () => {
  test("lists connectors with state, restarts and last error", async () => {
    const { lastFrame, unmount } = screen(ConnectorsScreen);
    const frame = await frameContaining(lastFrame, /broken .*✗ failed/);
    expect(frame).toContain("NAME");
    expect(frame).toContain("RESTARTS");
    expect(frame).toMatch(/echo\s+stdio\s+● ready/);
    // The last error: the child's exit, or (when the list was read during the first restart) the connection it closed.
    expect(frame).toMatch(/exited with code 2|"broken" is unavailable|"broken": the upstream process/);
    unmount();
  });

  test("at 80 columns the table still fits: cells are cut with …, lines never wrap", async () => {
    const { lastFrame, unmount } = screen(ConnectorsScreen, 76, 18);
    const frame = await frameContaining(lastFrame, "broken");
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(76);
    expect(frame).toContain("…");
    unmount();
  });

  test("the add form at 80×24 and at the smallest screen: the focus on the last field shows it, and every row that fits is shown", async () => {
    for (const [width, height] of [[78, 20], [58, 12]] as const) {
      const { lastFrame, stdin, unmount } = screen(ConnectorsScreen, width, height);
      await frameContaining(lastFrame, "broken");
      await press(stdin, "n");
      await frameContaining(lastFrame, "Add a connector");
      await press(stdin, KEY.ctrlS); // refused before sending: an error under the fields
      await frameContaining(lastFrame, "✗");
      await press(stdin, KEY.shiftTab);
      const frame = await frameContaining(lastFrame, /› timeout/);
      expect(frame.split("\n").length).toBeLessThanOrEqual(height);
      // All 7 rows fit even at 58×12 with the error: the old guessed 6-line reserve showed 4 of them.
      expect(frame).toMatch(/ name +\S/);
      expect(frame).not.toContain("fields ");
      unmount();
    }
  });

  test("a terminal shrunk from 200×60 to 80×24 redraws the list to fit, the selected row still on screen", async () => {
    const { lastFrame, stdin, stdout, unmount } = render(<App client={client} screens={[connectorsScreen]} />);
    const resize = (columns: number, rows: number) => {
      Object.defineProperty(stdout, "columns", { get: () => columns, configurable: true });
      Object.defineProperty(stdout, "rows", { get: () => rows, configurable: true });
      stdout.emit("resize");
    };
    resize(200, 60);
    await frameContaining(lastFrame, "broken");
    const names = await connectorNames();
    const last = names.sort((a, b) => a.localeCompare(b)).at(-1)!;
    for (let i = 0; i < names.length; i++) await press(stdin, KEY.down);
    expect(lastFrame()).toContain("TOOLS"); // wide: every column
    resize(80, 24);
    const frame = await frameContaining(lastFrame, (f: string) => !f.includes("TOOLS"));
    expect(frame).toContain(last);
    expect(frame.split("\n").length).toBeLessThanOrEqual(24);
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    unmount();
  });

  test("Enter shows a stdio connector's last stderr lines", async () => {
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen);
    await frameContaining(lastFrame, "broken");
    await press(stdin, KEY.enter); // by name: broken first
    const frame = await frameContaining(lastFrame, "broken: no config file");
    expect(frame).toContain("Last stderr lines");
    await press(stdin, KEY.esc);
    await frameContaining(lastFrame, "n new");
    unmount();
  });

  test("at 60 columns the details show the last error whole, wrapped: its end (what failed) was cut with …", async () => {
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen, 60, 18);
    await frameContaining(lastFrame, "broken");
    await press(stdin, KEY.enter);
    await frameContaining(lastFrame, "Last stderr lines");
    const flat = (text: string) => text.replace(/\s+/g, " ").trim();
    const frame = await frameContaining(lastFrame, (f) => {
      const lastError = f.match(/last error: ([\s\S]*?)\n\s*Last stderr/)?.[1];
      return lastError !== undefined && !lastError.includes("…");
    });
    const { lastError } = (await client.get<{ name: string; lastError: string | null }[]>("/connectors")).find((c) => c.name === "broken")!;
    // The sentence's end is on screen (it may have been replaced by the next restart's since: compare its last words).
    expect(flat(frame)).toContain(flat(lastError!).split(" ").slice(-3).join(" "));
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(60);
    unmount();
  });

  test("t tests the selected connector: a spinner, then the tools it listed", async () => {
    const { lastFrame, stdin, unmount, frames } = screen(ConnectorsScreen);
    await frameContaining(lastFrame, "echo");
    const echoAt = await rowOf("/connectors", "echo");
    for (let i = 0; i < echoAt; i++) await press(stdin, KEY.down);
    await press(stdin, "t");
    const result = await frameContaining(lastFrame, "✓ test passed");
    expect(result).toContain("echo connected and listed 1 tool");
    expect(result).toContain("echo — Echoes its text.");
    expect(frames.some((f) => f.includes("Testing echo: connecting and listing its tools"))).toBe(true);
    await press(stdin, KEY.esc);
    // The broken one fails with the reason and its stderr.
    await press(stdin, KEY.up, KEY.up, KEY.up);
    await frameContaining(lastFrame, "n new");
    await press(stdin, "t");
    const failed = await frameContaining(lastFrame, "✗ test failed");
    // The reason is the child's exit or the connection it closed, whichever the connector saw first.
    expect(failed).toMatch(/exited with code 2|the upstream process/);
    expect(failed).toContain("broken: no config file");
    await press(stdin, KEY.esc);
    unmount();
  });

  test("text that arrives with Tabs in it (a paste, keys read together over a slow link) fills one row after another", async () => {
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen, 96, 22);
    await frameContaining(lastFrame, "echo");
    await press(stdin, "n");
    await frameContaining(lastFrame, "Add a connector");
    // name, Tab, (kind) Tab, command, Tab, args: as one read. Before, the Tabs were dropped and all of it went into name.
    stdin.write("pasted\t\tsh\t-c 'exit 0'");
    const frame = await frameContaining(lastFrame, /› args +-c 'exit 0'/);
    expect(frame).toMatch(/ name +pasted +│/);
    expect(frame).toMatch(/ kind +\[stdio\]/);
    expect(frame).toMatch(/ command +sh +│/);
    await press(stdin, KEY.esc);
    unmount();
  });

  test("add: checked before sending, Ctrl-R inserts a secret reference, the server's refusal is shown, then it saves", async () => {
    await client.send("PUT", "/secrets/docs-token", { value: SECRET_VALUE });
    await client.send("PUT", "/secrets/doomed", { value: "doomed-value-1234" });
    const { lastFrame, stdin, unmount, frames, capturing } = screen(ConnectorsScreen, 96, 22);
    await frameContaining(lastFrame, "echo");
    await press(stdin, "n");
    await frameContaining(lastFrame, "Add a connector");
    await waitFor("the form to capture keys", () => capturing() === true);

    // Nothing typed: refused here, nothing sent.
    await press(stdin, KEY.ctrlS);
    expect(await frameContaining(lastFrame, "✗ name:")).toContain("use 1 to 32 letters");
    await type(stdin, "docs");
    await press(stdin, KEY.ctrlS);
    expect(await frameContaining(lastFrame, "✗ command:")).toContain("say which program to run");
    expect(await connectorNames()).not.toContain("docs");

    // command, args, then the env row: Ctrl-R picks a secret.
    await type(stdin, process.execPath);
    await press(stdin, KEY.tab);
    await type(stdin, ECHO_STDIO);
    await press(stdin, KEY.tab, KEY.tab); // past cwd, to the env row
    await press(stdin, KEY.ctrlR);
    await frameContaining(lastFrame, "Insert a reference to which secret?");
    // The picker lists names only.
    const picker = await frameContaining(lastFrame, "docs-token");
    expect(picker).toContain("doomed");
    await press(stdin, KEY.enter); // the first: docs-token
    await frameContaining(lastFrame, "DOCS_TOKEN=${secret:docs-token}");
    // A second env row referencing a secret that is deleted before saving: the server refuses.
    await press(stdin, KEY.down, KEY.ctrlR, KEY.down, KEY.enter);
    await frameContaining(lastFrame, "DOOMED=${secret:doomed}");
    await client.send("DELETE", "/secrets/doomed");
    await press(stdin, KEY.ctrlS);
    const refused = await frameContaining(lastFrame, /✗ .*doomed/);
    expect(refused).toContain("Add a connector");
    expect(await connectorNames()).not.toContain("docs");

    // Remove that row (Ctrl-U clears it), test the spec with Ctrl-T, then save.
    await press(stdin, "\u0015");
    await press(stdin, KEY.ctrlT);
    const tested = await frameContaining(lastFrame, "✓ test passed");
    expect(tested).toContain("listed 1 tool");
    expect(frames.some((f) => f.includes("Testing docs"))).toBe(true);
    await press(stdin, KEY.ctrlS);
    await frameContaining(lastFrame, "✓ added docs");
    await waitFor("the form to release keys", () => capturing() === false);
    const saved = (await client.get<{ name: string; spec: { env: Record<string, string> } }[]>("/connectors")).find((c) => c.name === "docs");
    expect(saved?.spec.env).toEqual({ DOCS_TOKEN: "${secret:docs-token}" });
    for (const frame of frames) expect(frame).not.toContain(SECRET_VALUE);
    unmount();
  });

  test("add: a literal credential in an env row is refused with the server's sentence, which says to store it as a secret", async () => {
    const { lastFrame, stdin, unmount, capturing } = screen(ConnectorsScreen, 96, 22);
    await frameContaining(lastFrame, "echo");
    await press(stdin, "n");
    await frameContaining(lastFrame, "Add a connector");
    await waitFor("the form to capture keys", () => capturing() === true);
    await type(stdin, "literal");
    await press(stdin, KEY.tab, KEY.tab); // past the kind (stdio)
    await type(stdin, process.execPath);
    await press(stdin, KEY.tab, KEY.tab, KEY.tab); // past args and cwd, to the env row
    await type(stdin, "GITHUB_TOKEN=ghp_literalvalue12345");
    await press(stdin, KEY.ctrlS);
    const refused = await frameContaining(lastFrame, /✗ env "GITHUB_TOKEN" of connector "literal" holds a literal credential/);
    // Wrapped, not cut: what to do, at the sentence's end, is on screen.
    expect(refused.replace(/[\s│]+/g, " ")).toContain('store it with `mintgate secrets set NAME` and write "${secret:NAME}" instead');
    expect(await connectorNames()).not.toContain("literal");
    unmount();
  });

  test("edit starts from the saved spec; a changed timeout is saved, but not over a change made meanwhile", async () => {
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen, 96, 22);
    await frameContaining(lastFrame, "docs");
    for (let i = 0; i < (await rowOf("/connectors", "docs")); i++) await press(stdin, KEY.down);
    await press(stdin, "e");
    const form = await frameContaining(lastFrame, "Edit connector docs");
    expect(form).toContain("DOCS_TOKEN=${secret:docs-token}");
    expect(form).toContain("[stdio]");
    // Another admin changes it while the form is open: saving is refused with the server's sentence, theirs is kept.
    await client.send("PUT", "/connectors/docs", { kind: "stdio", command: process.execPath, args: [ECHO_STDIO], env: { DOCS_TOKEN: "${secret:docs-token}" }, timeout: "45s" });
    // Shift-Tab from the first row: the timeout (the last row). A bad one is refused here.
    await press(stdin, "\u001B[Z");
    await type(stdin, "soon");
    await press(stdin, KEY.enter);
    expect(await frameContaining(lastFrame, "✗ timeout:")).toContain("between 1s and 60m");
    await press(stdin, "\u0015");
    await type(stdin, "30s");
    await press(stdin, KEY.enter);
    expect(await frameContaining(lastFrame, "was changed since it was loaded")).toContain("Edit connector docs");
    expect((await client.get<{ name: string; timeoutMs: number }[]>("/connectors")).find((c) => c.name === "docs")?.timeoutMs).toBe(45_000);
    // Opened again (the list reloads), the same edit is saved.
    await press(stdin, KEY.esc);
    await frameContaining(lastFrame, "RESTARTS");
    await Bun.sleep(300); // the reload Esc starts
    await press(stdin, "e");
    await frameContaining(lastFrame, "Edit connector docs");
    await press(stdin, "\u001B[Z", "\u0015");
    await type(stdin, "30s");
    await press(stdin, KEY.enter);
    await frameContaining(lastFrame, "✓ saved docs");
    const saved = (await client.get<{ name: string; timeoutMs: number }[]>("/connectors")).find((c) => c.name === "docs");
    expect(saved?.timeoutMs).toBe(30_000);
    unmount();
  });

  test("delete sends the revision shown: a connector changed meanwhile is refused, the list reloaded, and deleted once looked at again", async () => {
    await client.send("PUT", "/connectors/stale", { kind: "builtin", server: "demo" });
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen, 96, 22);
    await frameContaining(lastFrame, "stale");
    for (let i = 0; i < (await rowOf("/connectors", "stale")); i++) await press(stdin, KEY.down);
    await press(stdin, "d");
    expect(await frameContaining(lastFrame, "[y/n]")).toContain("Delete connector stale?");
    // Another admin changes it while the question is open: the deletion is refused, not done over their change.
    await client.send("PUT", "/connectors/stale", { kind: "builtin", server: "demo", timeout: "45s" });
    await press(stdin, "y");
    const refused = await frameContaining(lastFrame, "(reloaded)");
    expect(refused.replace(/\s+/g, " ")).toContain('✗ Connector "stale" was changed since it was loaded');
    expect(await connectorNames()).toContain("stale");
    // Looked at again (the list was reloaded with their change), it is deleted.
    await press(stdin, "d", "y");
    await frameContaining(lastFrame, "✓ deleted stale");
    expect(await connectorNames()).not.toContain("stale");
    unmount();
  });

  test("r restarts; d asks before deleting, n keeps it, y deletes; a refusal shows the server's sentence", async () => {
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen);
    await frameContaining(lastFrame, "docs");
    const before = (await client.get<{ name: string; restarts: number }[]>("/connectors")).find((c) => c.name === "docs")!.restarts;
    for (let i = 0; i < (await rowOf("/connectors", "docs")); i++) await press(stdin, KEY.down);
    await press(stdin, "r");
    await frameContaining(lastFrame, "✓ restarted docs");
    expect((await client.get<{ name: string; restarts: number }[]>("/connectors")).find((c) => c.name === "docs")?.restarts).toBe(before + 1);

    await press(stdin, "d");
    expect(await frameContaining(lastFrame, "[y/n]")).toContain("Delete connector docs?");
    await press(stdin, "n");
    await frameContaining(lastFrame, "n new");
    expect(await connectorNames()).toContain("docs");
    await press(stdin, "d");
    await frameContaining(lastFrame, "[y/n]");
    await press(stdin, "y");
    await frameContaining(lastFrame, "✓ deleted docs");
    expect(await connectorNames()).not.toContain("docs");

    // echo is attached to a Virtual MCP: the server refuses, and says why.
    const echoIndex = await rowOf("/connectors", "echo");
    await press(stdin, KEY.up, KEY.up, KEY.up);
    for (let i = 0; i < echoIndex; i++) await press(stdin, KEY.down);
    await press(stdin, "d", "y");
    expect(await frameContaining(lastFrame, "detach it there first")).toContain('is used by virtual MCP "tools"');
    unmount();
  });

  test("at 60 columns a refusal is wrapped, not cut: what to do, at the end of the server's sentence, is on screen", async () => {
    await refusalWrappedAt60(ConnectorsScreen, "/connectors", "echo", "echo", "✗ Connector", "detach it there first.");
  });
});

describe("Connectors screen, a full list", () => {
  test("the delete question after a message still fits the screen's height: d clears the message, as on Secrets", async () => {
    for (const name of ["b1", "b2", "b3"]) await client.send("PUT", `/connectors/${name}`, { kind: "builtin", server: "demo" });
    const { lastFrame, stdin, unmount } = screen(ConnectorsScreen, 96, 10);
    await frameContaining(lastFrame, "b1");
    await press(stdin, "r");
    await frameContaining(lastFrame, "✓ restarted b1");
    await press(stdin, "d");
    const frame = await frameContaining(lastFrame, "[y/n]");
    expect(frame.split("\n").length).toBeLessThanOrEqual(10);
    await press(stdin, "y");
    await frameContaining(lastFrame, "✓ deleted b1");
    for (const name of ["b2", "b3"]) await client.send("DELETE", `/connectors/${name}`);
    unmount();
  });
});

describe("Secrets screen", () => {
  test("lists names, versions and where they are used", async () => {
    const { lastFrame, unmount } = screen(SecretsScreen as typeof ConnectorsScreen);
    const frame = await frameContaining(lastFrame, "docs-token");
    expect(frame).toContain("values are never shown");
    expect(frame).toContain("VER");
    expect(frame).not.toContain(SECRET_VALUE);
    unmount();
  });

  test("add with a masked value: checked before sending, no frame ever shows the value", async () => {
    const value = "s3cr3t-typed-in-the-tui";
    const { lastFrame, stdin, unmount, frames, capturing } = screen(SecretsScreen as typeof ConnectorsScreen);
    await frameContaining(lastFrame, "docs-token");
    await press(stdin, "n");
    await frameContaining(lastFrame, "Add a secret");
    await waitFor("the form to capture keys", () => capturing() === true);
    await type(stdin, "1bad");
    await press(stdin, KEY.tab);
    await type(stdin, value);
    await press(stdin, KEY.enter);
    expect(await frameContaining(lastFrame, "✗ Name:")).toContain("starting with a letter");
    // Adding under a name in use would silently replace that secret: refused, with the way to do it on purpose.
    await press(stdin, "\u0015");
    await type(stdin, "docs-token");
    await press(stdin, KEY.tab);
    await press(stdin, KEY.enter);
    expect(await frameContaining(lastFrame, "✗ Name: docs-token exists already")).toContain("press e to replace");
    await press(stdin, "\u0015");
    await type(stdin, "new-key");
    await press(stdin, KEY.tab);
    await frameContaining(lastFrame, "•".repeat(value.length));
    await press(stdin, KEY.enter);
    await frameContaining(lastFrame, "✓ stored new-key (version 1)");
    expect((await client.get<{ name: string }[]>("/secrets")).map((s) => s.name)).toContain("new-key");
    for (const frame of frames) {
      expect(frame).not.toContain(value);
      expect(frame).not.toContain("s3cr3t");
    }
    unmount();
  });

  test("a new value for the selected secret (masked), and a value too empty to send", async () => {
    const { lastFrame, stdin, unmount, frames } = screen(SecretsScreen as typeof ConnectorsScreen);
    await frameContaining(lastFrame, "new-key");
    for (let i = 0; i < (await rowOf("/secrets", "new-key")); i++) await press(stdin, KEY.down);
    await press(stdin, KEY.enter);
    await frameContaining(lastFrame, "New value for secret new-key");
    await press(stdin, KEY.enter);
    await frameContaining(lastFrame, "✗ Value: type the value");
    await type(stdin, "rotated-value-999");
    await press(stdin, KEY.ctrlS);
    await frameContaining(lastFrame, "✓ stored new-key (version 2)");
    for (const frame of frames) expect(frame).not.toContain("rotated-value-999");
    unmount();
  });

  test("delete asks first; a secret in use is refused with the server's sentence", async () => {
    const { lastFrame, stdin, unmount } = screen(SecretsScreen as typeof ConnectorsScreen);
    await frameContaining(lastFrame, "new-key");
    await client.send("PUT", "/connectors/uses-it", { kind: "http", url: "http://127.0.0.1:9/mcp", headers: { Authorization: "Bearer ${secret:new-key}" } });
    await press(stdin, "g");
    await frameContaining(lastFrame, "uses-it");
    for (let i = 0; i < (await rowOf("/secrets", "new-key")); i++) await press(stdin, KEY.down);
    await press(stdin, "d");
    expect(await frameContaining(lastFrame, "[y/n]")).toContain("Delete secret new-key?");
    await press(stdin, "y");
    expect(await frameContaining(lastFrame, "✗ Secret")).toContain('used by connector "uses-it"');
    await client.send("DELETE", "/connectors/uses-it");
    await press(stdin, "d");
    await frameContaining(lastFrame, "[y/n]");
    await press(stdin, KEY.esc);
    await frameContaining(lastFrame, "n new");
    await press(stdin, "d", "y");
    await frameContaining(lastFrame, "✓ deleted new-key");
    expect((await client.get<{ name: string }[]>("/secrets")).map((s) => s.name)).not.toContain("new-key");
    unmount();
  });

  test("at 60 columns a refusal is wrapped, not cut: what to do, at the end of the server's sentence, is on screen", async () => {
    await client.send("PUT", "/connectors/uses-it", { kind: "http", url: "http://127.0.0.1:9/mcp", headers: { Authorization: "Bearer ${secret:docs-token}" } });
    await refusalWrappedAt60(SecretsScreen as typeof ConnectorsScreen, "/secrets", "docs-token", "uses-it", "✗ Secret", "remove the reference there first.");
    await client.send("DELETE", "/connectors/uses-it");
  });
});
