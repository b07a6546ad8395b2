/**
 * The Virtual MCPs screen end to end: the compiled `mintgate tui` in a real
 * terminal (tmux) against a running gateway that has the builtin demo
 * connector and no Virtual MCP. Keys create a Virtual MCP, attach the demo
 * connector, open it to everyone and switch one tool off; a connected
 * official SDK client sees the change.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { openTerminal, saveScreen } from "./fixtures/terminal.ts";
import { BINARY, configuredDataDir, connectMcpClient, runMintgate, startGateway, waitFor } from "./harness.ts";


async function gatewayWithDemoConnector() {
  const dataDir = await configuredDataDir({ connectors: [{ name: "demo", kind: "builtin", server: "demo" }] }, { label: "mintgate-tui-vmcps" });
  const created = await runMintgate(["tokens", "create", "--user", "t@example.com", "--json", "--data", dataDir]);
  if (created.code !== 0) throw new Error(created.stderr);
  const { token } = JSON.parse(created.stdout) as { token: string };
  return { dataDir, token, gateway: await startGateway({ dataDir }) };
}

const CASES = [
  { width: 80, height: 24, noColor: false },
  { width: 160, height: 48, noColor: false },
  { width: 80, height: 24, noColor: true },
  { width: 100, height: 30, noColor: true, save: true },
] as const;

describe("TUI Virtual MCPs end to end", () => {
  for (const c of CASES) {
    test(`${c.width}×${c.height}${c.noColor ? " with NO_COLOR=1" : ""}: create, attach the demo connector, open it to everyone, disable a tool; an SDK client sees it`, async () => {
      const { dataDir, token, gateway } = await gatewayWithDemoConnector();
      const env = c.noColor ? "NO_COLOR=1 " : "";
      const term = openTerminal({ command: `${env}${BINARY} tui --data ${dataDir}; echo "tui exited with $?"; sleep 30`, width: c.width, height: c.height });
      /** One key at a time, as a person types: keys sent together arrive as one chunk. */
      const press = async (...keys: string[]) => {
        for (const key of keys) {
          term.keys(key);
          await Bun.sleep(80);
        }
      };
      try {
        await term.waitFor("healthy");
        term.keys("v");
        await term.waitFor("No virtual MCPs yet");

        // Create: slug, name, then Enter through to the last field, which saves.
        term.keys("n");
        await term.waitFor("New virtual MCP");
        term.type("team");
        await term.waitFor("endpoint /mcp/team");
        await press("Enter");
        term.type("Team tools");
        await term.waitFor("Team tools");
        await press("Enter", "Enter", "Enter");
        await term.waitFor("No connectors attached");
        expect(term.screen()).toContain("access: admins only");

        // Attach the builtin connector; its name is offered, the prefix defaults to it.
        term.keys("n");
        let shown = await term.waitFor("Attach a connector to team");
        expect(shown).toContain("available: demo");
        term.keys("Enter");
        await term.waitFor("tool names keep 58 of 64");
        term.keys("Enter");
        shown = await term.waitFor(/demo__countdown/);
        expect(shown).toContain("Connectors: demo (prefix demo, ready)");
        expect(shown).toMatch(/✓ on\s+demo__add/);

        // Let token holders in: everyone.
        term.keys("w");
        await term.waitFor("Who may use team");
        await press("Right");
        await term.waitFor(/Everyone\s+no\s+\[yes\]/);
        await press("Enter", "Enter", "Enter");
        await term.waitFor("access: everyone");

        const client = await connectMcpClient(`${gateway.url}/mcp/team`, token);
        let changed = 0;
        client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++);
        expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["demo__add", "demo__countdown", "demo__echo", "demo__now"]);

        // Disable demo__add (the second row) with space.
        await term.waitFor(/✓ on\s+demo__echo/);
        await press("Down", "Space");
        shown = await term.waitFor(/✗ off\s+demo__add/);
        expect(shown).toContain("✓ updated virtual MCP team");
        if (c.noColor) {
          // No colour, but the selected row is still shown (inverse): tmux's own resets to the default colours (39, 49) aside, no colour is set.
          const params = [...term.styled().matchAll(/\u001b\[([0-9;]*)m/g)].flatMap((m) => m[1]!.split(";").map(Number));
          expect(params).toContain(7);
          expect(params.filter((n) => (n >= 30 && n <= 48 && n !== 39) || (n >= 90 && n <= 107))).toEqual([]);
        }
        await waitFor("tools/list_changed", () => changed > 0);
        expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["demo__countdown", "demo__echo", "demo__now"]);
        const refused = await client.callTool({ name: "demo__add", arguments: { a: 1, b: 2 } }).then(
          (r) => JSON.stringify(r),
          (e: Error) => e.message,
        );
        expect(refused).toMatch(/demo__add/);
        expect((await client.callTool({ name: "demo__echo", arguments: { text: "still here" } })).content).toEqual([{ type: "text", text: "still here" }]);
        await client.close();

        for (const line of term.screen().split("\n")) expect(line.length).toBeLessThanOrEqual(c.width);
        if ("save" in c) {
          saveScreen("vmcps", term.screen());
        }

        // How to connect it: the URL (the listen URL, with the warning: no --public-url), scrolled to the last client.
        term.keys("C");
        shown = await term.waitFor("Connect an AI client to team");
        expect(shown).toContain(`URL ${gateway.url}/mcp/team`);
        expect(shown).toContain("! the gateway has no public URL");
        saveScreen(`vmcps-connect-${c.width}x${c.height}`, shown);
        await press("PageDown", "PageDown", "PageDown");
        shown = await term.waitFor("npx mcp-remote");
        for (const line of shown.split("\n")) expect(line.length).toBeLessThanOrEqual(c.width);
        saveScreen(`vmcps-connect-end-${c.width}x${c.height}`, shown);
        term.keys("Escape");
        await term.waitFor(/✗ off\s+demo__add/);
        term.keys("Escape");
        await term.waitFor(/team\s+Team tools/);
        term.keys("q");
        await term.waitFor("tui exited with 0");
      } finally {
        term.kill();
        await gateway.stop();
      }
    });
  }
});

describe("TUI Virtual MCPs with another admin at work", () => {
  test("a change applied elsewhere since the screen loaded is not overwritten: the save is refused, the screen reloads, and redoing it keeps both", async () => {
    const config = {
      connectors: [{ name: "demo", kind: "builtin", server: "demo" }],
      virtualMcps: [{ slug: "team", name: "Team", access: { everyone: true }, connectors: [{ connector: "demo" }] }],
    };
    const dataDir = await configuredDataDir(config, { label: "mintgate-tui-vmcps-two" });
    const gateway = await startGateway({ dataDir });
    const term = openTerminal({ command: `${BINARY} tui --data ${dataDir}; echo "tui exited with $?"; sleep 30`, width: 80, height: 24 });
    try {
      await term.waitFor("healthy");
      term.keys("v");
      await term.waitFor(/team\s+Team/);
      term.keys("Enter");
      await term.waitFor(/✓ on\s+demo__countdown/);

      // Another admin renames echo with `mintgate apply` while this screen shows the old definition.
      const file = join(dataDir, "..", "other-admin.yaml");
      writeFileSync(file, JSON.stringify({ ...config, virtualMcps: [{ ...config.virtualMcps[0], connectors: [{ connector: "demo", rename: { echo: "shout" } }] }] }));
      const applied = await runMintgate(["apply", "-f", file, "--data", dataDir]);
      expect(applied.stdout).toContain("updated virtual MCP team");

      // This admin switches demo__add off from the screen it still has.
      term.keys("Down");
      await Bun.sleep(80);
      term.keys("Space");
      let shown = await term.waitFor(/✗ .*changed since it was loaded/);
      shown = await term.waitFor(/demo__shout/);
      expect(shown).toMatch(/✓ on\s+demo__add/);
      const exported = (await runMintgate(["export", "--data", dataDir])).stdout;
      expect(exported).toContain("echo: shout");
      expect(exported).not.toContain("exclude");

      // Redone on what is there now, both changes stay.
      await term.waitFor(/demo__add/);
      term.keys("Space");
      shown = await term.waitFor(/✗ off\s+demo__add/);
      expect(shown).toContain("✓ updated virtual MCP team");
      const both = (await runMintgate(["export", "--data", dataDir])).stdout;
      expect(both).toContain("echo: shout");
      expect(both).toContain("exclude: [add]");
      for (const line of term.screen().split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    } finally {
      term.kill();
      await gateway.stop();
    }
  });
});
