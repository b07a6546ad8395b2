/**
 * The compiled `dist/mintgate tui` in a real terminal (tmux) against a
 * running gateway, driven with keys: add a secret with masked input (its
 * value never on screen), add a connector that references it, test it, save
 * it; at 80×24, at 160×48, and with NO_COLOR=1. Also saves the 100×30 panes
 * of both screens for the README (written when MINTGATE_SCREENS_DIR is set).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openTerminal, saveScreen, type Terminal } from "./fixtures/terminal.ts";
import { BINARY, configuredDataDir, REPO_ROOT, startGateway, waitFor } from "./harness.ts";

const ECHO_STDIO = join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts");

async function gatewayWithEcho(label: string) {
  const dataDir = await configuredDataDir({ connectors: [{ name: "echo", kind: "stdio", command: process.execPath, args: [ECHO_STDIO] }] }, { label });
  const gateway = await startGateway({ dataDir });
  const admin = async <T>(path: string) => (await (await fetch(`${gateway.url}/admin/api${path}`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as T;
  await waitFor("echo ready", async () => (await admin<{ name: string; state: string }[]>("/connectors")).find((c) => c.name === "echo")?.state === "ready");
  return { dataDir, gateway, admin };
}

function tui(dataDir: string, width: number, height: number, noColor: boolean): Terminal {
  const env = noColor ? "NO_COLOR=1 " : "";
  return openTerminal({ command: `${env}${BINARY} tui --data ${dataDir}; echo "tui exited with $?"; sleep 30`, width, height, env: noColor ? { NO_COLOR: "1" } : {} });
}

/** Moves the focus with `keys` and waits until the field labelled `label` has it (a person looks before typing on). */
async function focusOn(screen: Terminal, label: string, ...keys: string[]): Promise<void> {
  if (keys.length) screen.keys(...keys);
  await screen.waitFor(new RegExp(`› ${label}\\b`));
}

/** Types `text` and waits until it is on screen (or its last characters, when the field scrolls). */
async function typeIn(screen: Terminal, text: string): Promise<void> {
  screen.type(text);
  await screen.waitFor(text.slice(-12));
}

/** The screen never shows `secret`, however often it is looked at. */
function neverShows(screen: Terminal, secret: string): void {
  const shown = screen.screen();
  expect(shown).not.toContain(secret);
  expect(shown).not.toContain(secret.slice(0, 8));
}

describe("Connectors and Secrets in a real terminal", () => {
  for (const [width, height, noColor] of [[80, 24, false], [160, 48, false], [80, 24, true]] as const) {
    test(`${width}×${height}${noColor ? " with NO_COLOR=1" : ""}: a masked secret, a connector referencing it, tested and saved`, async () => {
      const { dataDir, gateway, admin } = await gatewayWithEcho("mintgate-tui-conn-e2e");
      const secret = `tok-${width}x${height}-${noColor ? "nc" : "c"}-Zq81vPp0`;
      const screen = tui(dataDir, width, height, noColor);
      try {
        await screen.waitFor("healthy");
        // Secrets: n, a name, Tab, the value (typed, shown as •), Enter.
        screen.keys("s");
        await screen.waitFor("values are never shown");
        screen.keys("n");
        await screen.waitFor("Add a secret");
        await focusOn(screen, "Name");
        await typeIn(screen, "e2e-token");
        await focusOn(screen, "Value", "Tab");
        screen.type(secret);
        await screen.waitFor("•".repeat(secret.length));
        neverShows(screen, secret);
        screen.keys("Enter");
        await screen.waitFor("✓ stored e2e-token (version 1)");
        neverShows(screen, secret);
        expect(screen.screen()).toContain("e2e-token");

        // Connectors: n, name, kind (stdio), command, args, cwd, env ← Ctrl-R picks the secret.
        screen.keys("c");
        await screen.waitFor("● ready");
        screen.keys("n");
        await screen.waitFor("Add a connector");
        await focusOn(screen, "name");
        await typeIn(screen, "e2e");
        await focusOn(screen, "kind", "Tab");
        await focusOn(screen, "command", "Tab");
        await typeIn(screen, process.execPath);
        await focusOn(screen, "args", "Tab");
        await typeIn(screen, ECHO_STDIO);
        await focusOn(screen, "cwd", "Tab");
        await focusOn(screen, "env", "Tab");
        screen.keys("C-r");
        await screen.waitFor("Insert a reference to which secret?");
        screen.keys("Enter");
        await screen.waitFor("E2E_TOKEN=${secret:e2e-token}");
        // Test the unsaved spec, then save it.
        screen.keys("C-t");
        const tested = await screen.waitFor("✓ test passed");
        expect(tested).toContain("listed 1 tool");
        neverShows(screen, secret);
        screen.keys("C-s");
        await screen.waitFor("✓ added e2e");
        // The list is read again after the save: the new row follows the notice.
        const saved = await screen.waitFor(/e2e\s+stdio/);
        for (const line of saved.split("\n")) expect(line.length).toBeLessThanOrEqual(width);
        neverShows(screen, secret);
        // It runs with the secret: ready in the gateway.
        await waitFor("e2e ready", async () => (await admin<{ name: string; state: string }[]>("/connectors")).find((c) => c.name === "e2e")?.state === "ready");
        await screen.waitFor(/e2e\s+stdio\s+● ready/);

        // Test the saved one from the list: t.
        screen.keys("t");
        await screen.waitFor("e2e connected and listed 1 tool");
        screen.keys("Escape");
        // (Esc and q sent together would read as Alt-q.)
        await screen.waitFor("n new");
        screen.keys("q");
        await screen.waitFor("tui exited with 0");
        expect(gateway.output()).not.toContain(secret);
      } finally {
        screen.kill();
        await gateway.stop();
      }
    });
  }

  test("captured panes at 100×30 for the README", async () => {
    const { dataDir, gateway } = await gatewayWithEcho("mintgate-tui-conn-shots");
    const put = (path: string, body: unknown) => fetch(`${gateway.url}/admin/api${path}`, { method: "PUT", headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    await put("/secrets/github-token", { value: "ghp_example_never_shown_0000" });
    await put("/secrets/linear-api-key", { value: "lin_example_never_shown_000" });
    await put("/connectors/github", { kind: "stdio", command: process.execPath, args: [ECHO_STDIO], env: { GITHUB_TOKEN: "${secret:github-token}" } });
    await put("/connectors/linear", { kind: "http", url: "http://127.0.0.1:9/mcp", headers: { Authorization: "Bearer ${secret:linear-api-key}" } });
    await put("/connectors/demo", { kind: "builtin", server: "demo" });
    const screen = tui(dataDir, 100, 30, true);
    try {
      await screen.waitFor("healthy");
      screen.keys("c");
      await screen.waitFor(/linear\s+http\s+✗ failed/);
      await screen.waitFor(/github\s+stdio\s+● ready/);
      saveScreen("connectors", screen.screen());
      screen.keys("s");
      await screen.waitFor("linear-api-key");
      const secrets = screen.screen();
      expect(secrets).not.toContain("never_shown");
      saveScreen("secrets", secrets);
      screen.keys("q");
      await screen.waitFor("tui exited with 0");
    } finally {
      screen.kill();
      await gateway.stop();
    }
  });
});
