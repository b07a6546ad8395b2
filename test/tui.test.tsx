import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Text } from "ink";
import { render } from "ink-testing-library";
import { useEffect, useState } from "react";
import { join } from "node:path";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import { App } from "../tui/App.tsx";
import { Form } from "../tui/components/Form.tsx";
import { Picker } from "../tui/components/Picker.tsx";
import { useKeys } from "../tui/components/useKeys.ts";
import { SCREENS, type ScreenDefinition, type ScreenProps } from "../tui/screens/index.ts";
import { Overview } from "../tui/screens/Overview.tsx";
import { SecretsScreen } from "../tui/screens/connectors/SecretsScreen.tsx";
import { SsoScreen } from "../tui/screens/SsoScreen.tsx";
import { frameContaining, press } from "./fixtures/ink-keys.ts";
import { startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";


describe("Overview screen", () => {
  const status = { version: "9.9.9", uptimeSeconds: 3725, startedAt: "2026-01-01T00:00:00.000Z", dataDir: "/srv/mintgate", schemaVersion: 2, secrets: { count: 4 }, connectors: { total: 3, ready: 2 }, virtualMcps: 1, sessions: 5, pendingApprovals: [] };

  test("shows health, version, uptime and counts", () => {
    const { lastFrame } = render(<Overview url="http://127.0.0.1:8080" status={status} error={undefined} />);
    const frame = lastFrame()!;
    expect(frame).toContain("healthy");
    expect(frame).toContain("mintgate 9.9.9");
    expect(frame).toContain("up 1h 2m");
    expect(frame).toContain("Secrets 4");
    expect(frame).toContain("Connectors 2/3 ready");
    expect(frame).toContain("Virtual MCPs 1");
    expect(frame).toContain("Sessions 5");
  });

  test("shows the error sentence when the gateway cannot be reached", () => {
    const { lastFrame } = render(<Overview url="http://127.0.0.1:1" status={undefined} error="Cannot reach the gateway" />);
    expect(lastFrame()).toContain("✗ Cannot reach the gateway");
    expect(lastFrame()).not.toContain("healthy");
  });

  test("a long error is wrapped at 80 columns, not cut: what to do is at its end", () => {
    const error = "Cannot reach the gateway at http://127.0.0.1:45777 (ECONNREFUSED: Unable to connect. Is the computer able to access the url?); is `mintgate serve` running?";
    const { lastFrame, unmount } = render(<Overview url="http://127.0.0.1:45777" status={undefined} error={error} width={78} />);
    const frame = lastFrame()!;
    expect(frame.replace(/\s+/g, " ")).toContain("is `mintgate serve` running?");
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(78);
    unmount();
  });
});

describe("TUI app against a running gateway", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ dataDir: join(tempDir(), "d") });
  });
  afterAll(() => gateway.stop());

  test("loads the status over the admin API and quits on q", async () => {
    const client = new AdminClient(locateGateway({ dataDir: gateway.dataDir }));
    const { lastFrame, stdin, unmount } = render(<App client={client} />);
    const frame = await frameContaining(lastFrame, "healthy");
    expect(frame).toContain(gateway.url);
    expect(frame).toContain("q quit");
    stdin.write("q");
    unmount();
  });

  test("R reloads on every screen that loads (all but Live calls, a live feed), and each says so in its help", async () => {
    /** Counts what the screen asks the gateway for. */
    class CountingClient extends AdminClient {
      asked = 0;
      override get<T>(path: string): Promise<T> {
        this.asked++;
        return super.get<T>(path);
      }
    }
    for (const screen of SCREENS.filter((s) => s.key !== "l")) {
      expect(screen.help.join(" "), screen.title).toMatch(/\bR\s+reload/);
      const client = new CountingClient(locateGateway({ dataDir: gateway.dataDir }));
      const Screen = screen.Component;
      const { stdin, unmount } = render(<Screen client={client} width={100} height={28} setCapturing={() => {}} />);
      // Loaded, and settled: the next periodic load is seconds away.
      await waitFor(`${screen.title} loaded`, () => client.asked > 0);
      await Bun.sleep(150);
      const before = client.asked;
      await press(stdin, "R");
      await waitFor(`${screen.title} reloaded on R`, () => client.asked > before, 20, 20);
      unmount();
    }
  });

  test("at 80×24 and 200×60 every screen's key hints are shown whole, and nothing runs past the edge", async () => {
    // The last key each screen's hint line names: cut at 80 columns, the line lost it.
    const lastHint: Record<string, RegExp> = { l: /Esc clear/, v: /d delete/, c: /d delete/, s: /d delete/, p: /Tab (next )?list/, i: /x remove/, a: /x reset/ };
    const client = new AdminClient(locateGateway({ dataDir: gateway.dataDir }));
    const { lastFrame, stdin, stdout, unmount } = render(<App client={client} />);
    for (const [columns, rows] of [[80, 24], [200, 60]] as const) {
      Object.defineProperty(stdout, "columns", { get: () => columns, configurable: true });
      Object.defineProperty(stdout, "rows", { get: () => rows, configurable: true });
      stdout.emit("resize");
      const fits = (frame: string) => frame.split("\n").length <= rows && frame.split("\n").every((line) => Bun.stringWidth(line) <= columns);
      // A screen's keys, then its form's (Audit's search with its choice rows, a new connector).
      const views: [string, string[], RegExp][] = [...SCREENS.map((s): [string, string[], RegExp] => [s.title, [s.key], lastHint[s.key] ?? /q quit/]), ["Audit search", ["a", "f"], /Esc cancel/], ["New connector", ["c", "n"], /Esc cancel/]];
      for (const [title, keys, last] of views) {
        await press(stdin, ...keys);
        const frame = await frameContaining(lastFrame, (f) => last.test(f) && !f.includes("Loading"));
        expect(fits(frame), `${title} at ${columns}×${rows}:\n${frame}`).toBe(true);
        expect(frame.split("\n").filter((line) => / · .*…$/.test(line.trimEnd())), `${title} at ${columns}×${rows}`).toEqual([]);
        if (keys.length > 1) await press(stdin, "\u001b");
      }
    }
    unmount();
  });

  test("Secrets moves as the other lists do: ↓ over no secrets leaves the selection on the first row, so e acts on the one that comes", async () => {
    const client = new AdminClient(locateGateway({ dataDir: gateway.dataDir }));
    const { lastFrame, stdin, unmount } = render(<SecretsScreen client={client} width={100} height={28} setCapturing={() => {}} />);
    await frameContaining(lastFrame, "No secrets yet");
    await press(stdin, "\u001b[B");
    await client.send("PUT", "/secrets/arrived", { value: "value-1234567890" });
    await press(stdin, "R");
    await frameContaining(lastFrame, "arrived");
    await press(stdin, "e");
    await frameContaining(lastFrame, "New value for secret arrived");
    unmount();
    await client.send("DELETE", "/secrets/arrived");
  });

  test("SSO settings: ↓ over no providers leaves the selection on the first row, so e acts on the one that comes", async () => {
    const client = new AdminClient(locateGateway({ dataDir: gateway.dataDir }));
    const { lastFrame, stdin, unmount } = render(<SsoScreen client={client} width={100} height={28} setCapturing={() => {}} />);
    await frameContaining(lastFrame, "No sign-in providers yet");
    await press(stdin, "\u001b[B");
    await client.send("POST", "/sso-providers", { name: "arrived", kind: "oidc", issuer: "https://login.example.com", clientId: "abc", clientSecret: "provider-secret-value" });
    await press(stdin, "R");
    await frameContaining(lastFrame, "arrived");
    await press(stdin, "e");
    await frameContaining(lastFrame, /Edit .*arrived/);
    unmount();
    await client.send("DELETE", "/sso-providers/arrived");
  });

  test("a wrong token shows the server's refusal", async () => {
    const client = new AdminClient({ url: gateway.url, token: "mgt_admin_wrong" });
    const { lastFrame, unmount } = render(<App client={client} />);
    expect(await frameContaining(lastFrame, "refused the admin token")).toContain("✗");
    unmount();
  });
});

describe("Picker", () => {
  test("↓ before the items arrived leaves the selection on the first, so Enter picks it once they show", async () => {
    const picked: string[] = [];
    const picker = (items: string[]) => <Picker title="Pick a secret" items={items} onPick={(item) => picked.push(item)} onCancel={() => {}} width={40} empty="Loading…" />;
    const { lastFrame, stdin, rerender, unmount } = render(picker([]));
    await frameContaining(lastFrame, "Loading…");
    await press(stdin, "\u001b[B");
    rerender(picker(["first", "second"]));
    await frameContaining(lastFrame, "› first");
    await press(stdin, "\r");
    expect(picked).toEqual(["first"]);
    unmount();
  });
});

describe("the shell's keys and size", () => {
  const client = { url: "http://127.0.0.1:9" } as AdminClient;
  /** A screen with a form, as Virtual MCPs, Connectors or SSO have: it takes the keyboard while open. */
  function FormScreen(props: ScreenProps) {
    const [open, setOpen] = useState(false);
    useEffect(() => props.setCapturing(open), [open]);
    useKeys((input) => input === "n" && setOpen(true), { isActive: !open });
    return open ? <Form title="New thing" fields={[{ name: "name", label: "Name" }]} width={props.width} height={props.height} onCancel={() => setOpen(false)} onSubmit={async () => setOpen(false)} /> : <Text>form screen, n opens</Text>;
  }
  const screens: ScreenDefinition[] = [
    { key: "f", title: "Form screen", short: "Form", help: [], Component: FormScreen },
    { key: "s", title: "Secrets", short: "Secr", help: [], Component: () => <Text>secrets screen</Text> },
  ];
  const resize = (stdout: NodeJS.EventEmitter, columns: number) => {
    Object.defineProperty(stdout, "columns", { get: () => columns, configurable: true });
    stdout.emit("resize");
  };

  test("Ctrl-S is not the screen key s: pressed after a form closed, it moved to Secrets", async () => {
    const { lastFrame, stdin, unmount } = render(<App client={client} screens={screens} />);
    await frameContaining(lastFrame, "form screen");
    await press(stdin, "\u0013");
    expect(lastFrame()).toContain("form screen");
    await press(stdin, "s");
    await frameContaining(lastFrame, "secrets screen");
    // Esc typed fast before a letter arrives as one chunk (Ink reads it as Alt-letter): the letter still counts.
    await press(stdin, "\u001bf");
    await frameContaining(lastFrame, "form screen");
    unmount();
  });

  test("while a form holds the keyboard the footer says Esc goes back, not that q quits (q is typed into the form)", async () => {
    const { lastFrame, stdin, unmount } = render(<App client={client} screens={screens} />);
    expect(await frameContaining(lastFrame, "form screen")).toContain("q quit");
    await press(stdin, "n");
    const open = await frameContaining(lastFrame, "New thing");
    expect(open).toContain("Esc back · the screen keys, ? help and q quit work again from there");
    expect(open).not.toContain("s Secrets");
    await press(stdin, "q");
    expect(await frameContaining(lastFrame, "New thing")).toContain("q");
    await press(stdin, "\u001b");
    expect(await frameContaining(lastFrame, "form screen")).toContain("q quit");
    unmount();
  });

  test("the header follows the client to a gateway that restarted on another port", async () => {
    const moving = { url: "http://127.0.0.1:41001" };
    const { lastFrame, unmount } = render(<App client={moving as AdminClient} screens={screens} />);
    await frameContaining(lastFrame, "127.0.0.1:41001");
    moving.url = "http://127.0.0.1:41002";
    await frameContaining(lastFrame, "127.0.0.1:41002");
    unmount();
  });

  test("a terminal made too small says what to do whole, and an open form keeps what was typed when it grows back", async () => {
    const { lastFrame, stdin, stdout, unmount } = render(<App client={client} screens={screens} />);
    await frameContaining(lastFrame, "form screen");
    await press(stdin, "n", "k", "e", "e", "p");
    await frameContaining(lastFrame, "keep");
    resize(stdout, 50);
    const small = await frameContaining(lastFrame, "needs at least");
    expect(small.replace(/\s+/g, " ")).toContain("Enlarge it, or q quits.");
    for (const line of small.split("\n")) expect(line.length).toBeLessThanOrEqual(50);
    await press(stdin, "x"); // the hidden form hears nothing
    resize(stdout, 100);
    const back = await frameContaining(lastFrame, "New thing");
    expect(back).toContain("keep");
    expect(back).not.toContain("keepx");
    unmount();
  });
});
