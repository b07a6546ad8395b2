import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openTerminal, saveScreen, type Terminal } from "./fixtures/terminal.ts";
import { BINARY, connectMcpClient, startConfiguredGateway, tempDir, waitFor, type ConfiguredGateway } from "./harness.ts";

/**
 * The monitoring screens of the compiled `dist/mintgate tui` in a real
 * terminal (tmux) against a running gateway, driven with keys: a call made
 * by an SDK client appears in Live calls (the delay is measured), the audit
 * is verified and exported to a file from the Audit screen. At 80×24,
 * 160×48, and with NO_COLOR=1.
 */

const SIZES = [
  { width: 80, height: 24, noColor: false, slug: "tiny" },
  { width: 160, height: 48, noColor: false, slug: "wide" },
  { width: 80, height: 24, noColor: true, slug: "plain" },
] as const;

const CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
${[...SIZES.map((s) => s.slug), "shot", "tone"]
  .map((slug) => `  - slug: ${slug}
    name: ${slug}
    connectors: [{ connector: demo }]
    access: { everyone: true }
    tools:
      demo__now: { deny: { users: [alice@example.com] } }
`)
  .join("")}`;

let configured: ConfiguredGateway;
const clients = new Map<string, Client>();

beforeAll(async () => {
  configured = await startConfiguredGateway(CONFIG, { user: "alice@example.com", label: "tui-monitor-e2e" });
  const admin = (path: string) => fetch(`${configured.gateway.url}/admin/api${path}`, { headers: { authorization: `Bearer ${configured.gateway.adminToken()}` } });
  await waitFor("the demo connector", async () => ((await (await admin("/connectors")).json()) as { state: string }[])[0]?.state === "ready");
  for (const slug of [...SIZES.map((s) => s.slug), "shot", "tone"]) clients.set(slug, await connectMcpClient(`${configured.gateway.url}/mcp/${slug}`, configured.token));
});

afterAll(async () => {
  for (const client of clients.values()) await client.close();
  await configured?.gateway.stop();
});

function tui(size: { width: number; height: number; noColor?: boolean }): Terminal {
  const env = size.noColor ? "NO_COLOR=1 " : "";
  return openTerminal({ command: `${env}${BINARY} tui --data ${configured.dataDir}; echo "tui exited with $?"; sleep 30`, width: size.width, height: size.height });
}

/** Keys one at a time, as a person presses them (tmux would otherwise hand Ink several in one read). */
async function press(screen: Terminal, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    await Bun.sleep(80);
    screen.keys(key);
  }
  await Bun.sleep(80);
}

/** The lines of the screen that show a call to `tool` through Virtual MCP `slug`. */
const rowsOf = (screen: string, slug: string, tool: string) => screen.split("\n").filter((line) => line.includes(` ${slug} `) && line.includes(tool));

async function adminJson<T>(path: string): Promise<T> {
  const response = await fetch(`${configured.gateway.url}/admin/api${path}`, { headers: { authorization: `Bearer ${configured.gateway.adminToken()}` } });
  return (await response.json()) as T;
}

describe("mintgate tui: Live calls and Audit in a real terminal", () => {
  for (const size of SIZES) {
    test(`${size.width}×${size.height}${size.noColor ? " with NO_COLOR=1" : ""}: a call appears in Live calls within a second; the audit is verified and exported`, async () => {
      const screen = tui(size);
      const mcp = clients.get(size.slug)!;
      try {
        await screen.waitFor("healthy");
        await press(screen, "l");
        await screen.waitFor("● live");
        expect(rowsOf(screen.screen(), size.slug, "demo__echo")).toHaveLength(0);

        // An SDK client's call: poll the screen until its row is there.
        const started = performance.now();
        await mcp.callTool({ name: "demo__echo", arguments: { text: `seen in ${size.slug}` } });
        const answered = performance.now();
        let delay = -1;
        for (let i = 0; i < 500; i++) {
          if (rowsOf(screen.screen(), size.slug, "demo__echo").length === 1) {
            delay = performance.now() - started;
            break;
          }
          await Bun.sleep(10);
        }
        console.log(`${size.width}×${size.height}${size.noColor ? " NO_COLOR" : ""}: the call was on screen ${delay.toFixed(0)} ms after it was made (${(answered - started).toFixed(0)} ms of that was the call itself)`);
        expect(delay).toBeGreaterThan(0);
        const row = rowsOf(screen.screen(), size.slug, "demo__echo")[0]!;
        expect(row).toContain("✓ ok");
        expect(row).toContain("alice@example");

        // Outcomes read without colour: an error and a denial.
        await mcp.callTool({ name: "demo__missing", arguments: {} });
        await mcp.callTool({ name: "demo__now", arguments: {} }).catch(() => {});
        await screen.waitFor(/demo__missing +✗ error/);
        await screen.waitFor(/demo__now +⊘ denied/);

        // Open the echo call: its arguments as stored.
        await press(screen, "/");
        screen.type(`vmcp:${size.slug} tool:echo`);
        await press(screen, "Enter");
        await screen.waitFor(`Filter vmcp:${size.slug} tool:echo`);
        await press(screen, "Down", "Enter");
        const detail = await screen.waitFor("Arguments (as stored, redacted):");
        expect(detail).toContain(`"text": "seen in ${size.slug}"`);
        await press(screen, "Escape");
        await screen.waitFor("● live");

        // Audit: verify, then export the last 24 hours to a file typed in the form.
        await press(screen, "a");
        await screen.waitFor(" · V verify");
        await press(screen, "V");
        const verified = await screen.waitFor("✓ Chain intact");
        expect(verified).toMatch(/✓ Chain intact: \d+ records/);
        const file = join(tempDir("tui-e2e-export"), `audit-${size.slug}.jsonl`);
        await press(screen, "e");
        await screen.waitFor("Export the audit trail to a file");
        screen.type(file);
        await press(screen, "Tab", "Enter");
        const exported = await screen.waitFor(/✓ Exported \d+ records/);
        expect(existsSync(file)).toBe(true);
        const lines = readFileSync(file, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as { id: number; virtualMcp: string | null; exposedName: string | null; arguments: string | null });
        expect(exported).toContain(`✓ Exported ${lines.length} records`);
        // Oldest first, without gaps: every record up to the newest exported.
        const ids = lines.map((l) => l.id);
        expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => ids[0]! + i));
        expect(ids[0]).toBe(1);
        const echo = lines.find((l) => l.virtualMcp === size.slug && l.exposedName === "demo__echo")!;
        expect(JSON.parse(echo.arguments!)).toEqual({ text: `seen in ${size.slug}` });

        for (const line of screen.screen().split("\n")) expect(line.length).toBeLessThanOrEqual(size.width);
        await press(screen, "q");
        await screen.waitFor("tui exited with 0");
      } finally {
        screen.kill();
      }
    });
  }

  test("80×24: a call holding emoji with skin tones opens in a box that keeps to the terminal's width and height", async () => {
    // Ink pads a box's rows by string-width, which counts 👋🏽 as 2 columns; tmux draws the emoji and its tone in 4.
    await clients.get("tone")!.callTool({ name: "demo__echo", arguments: { text: "wave 👋🏽 from 🧑🏽‍🤝‍🧑🏿" } });
    const screen = tui({ width: 80, height: 24 });
    try {
      await screen.waitFor("healthy");
      await press(screen, "l");
      await screen.waitFor("● live");
      await press(screen, "/");
      screen.type("vmcp:tone tool:echo");
      await press(screen, "Enter");
      await screen.waitFor("Filter vmcp:tone tool:echo");
      await press(screen, "Down", "Enter");
      const detail = (await screen.waitFor("Arguments (as stored, redacted):")).split("\n");
      const argument = detail.find((line) => line.includes("wave"))!;
      expect(argument.trimEnd()).toEndWith("│");
      expect(detail.filter((line) => line.trim() === "│")).toEqual([]);
      // A frame taller than the terminal leaves its first line behind: the next screen would show two headers.
      await press(screen, "Escape", "a");
      const audit = await screen.waitFor(" · V verify");
      expect(audit.match(/ mintgate /g)).toHaveLength(1);
      await press(screen, "q");
      await screen.waitFor("tui exited with 0");
    } finally {
      screen.kill();
    }
  });

  test("captured panes of Overview, Live calls and Audit at 100×30 (for the README)", async () => {
    const mcp = clients.get("shot")!;
    for (let i = 0; i < 6; i++) await mcp.callTool({ name: "demo__add", arguments: { a: i, b: 2 } });
    await mcp.callTool({ name: "demo__echo", arguments: { text: "hello" } });
    await mcp.callTool({ name: "demo__now", arguments: {} }).catch(() => {});
    const screen = tui({ width: 100, height: 30 });
    try {
      await screen.waitFor(/demo__add +\d+/);
      await screen.waitFor("● demo ready");
      const overview = screen.screen();
      await press(screen, "l");
      await screen.waitFor(/● live.*\n(.*\n)*.*demo__add/);
      await mcp.callTool({ name: "demo__add", arguments: { a: 40, b: 2 } });
      await Bun.sleep(300);
      const live = screen.screen();
      await press(screen, "a");
      await screen.waitFor(" · V verify");
      await press(screen, "V");
      await screen.waitFor("✓ Chain intact");
      const audit = screen.screen();
      for (const [name, text] of [["overview", overview], ["live", live], ["audit", audit]] as const) saveScreen(name, text);
      expect(overview).toContain("Top tools · last hour");
      expect(live).toContain("demo__add");
      expect(audit).toContain("✓ Chain intact");
      await press(screen, "q");
      await screen.waitFor("tui exited with 0");
    } finally {
      screen.kill();
    }
  });
});
