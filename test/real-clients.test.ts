/**
 * Real third-party MCP clients against mintgate's sign-in: mcp-remote (from
 * npm) given only the Virtual MCP URL does discovery, registration and PKCE
 * sign-in (its browser step is test/fixtures/browser-cli.ts, started through
 * xdg-open and $BROWSER exactly as on a desktop) and calls a tool through its
 * stdio side; the MCP Inspector CLI lists tools with a bearer token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configuredDataDir, freePort, REPO_ROOT, runMintgate, startGateway, tempDir, type RunningGateway } from "./harness.ts";

const PASSWORD = "correct horse battery staple";
const INSPECTOR_BUILD = join(REPO_ROOT, "node_modules/@modelcontextprotocol/inspector-cli/build");
let gateway: RunningGateway;
let dataDir: string;

beforeAll(async () => {
  const config = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "team", name: "Team tools", access: { everyone: true }, connectors: [{ connector: "demo" }] }] };
  dataDir = await configuredDataDir(config, { label: "mintgate-real-clients", people: [{ email: "cara@example.com", password: PASSWORD }] });
  gateway = await startGateway({ dataDir });
});

afterAll(async () => {
  await gateway?.stop();
});

describe("real MCP clients", () => {
  test("mcp-remote, given only the URL, registers, signs the person in through the browser and calls a tool", async () => {
    const home = tempDir("mintgate-mcp-remote-home");
    const browserLog = join(home, "browser.log");
    const browserScript = join(home, "browser");
    writeFileSync(browserScript, `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, "test/fixtures/browser-cli.ts")}" "$1"\n`);
    chmodSync(browserScript, 0o755);
    const callbackPort = await freePort();
    const transport = new StdioClientTransport({
      command: "node",
      args: [join(REPO_ROOT, "node_modules/mcp-remote/dist/proxy.js"), `${gateway.url}/mcp/team`, String(callbackPort), "--host", "127.0.0.1"],
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        MCP_REMOTE_CONFIG_DIR: join(home, ".mcp-auth"),
        BROWSER: browserScript,
        MINTGATE_TEST_EMAIL: "cara@example.com",
        MINTGATE_TEST_PASSWORD: PASSWORD,
        MINTGATE_TEST_BROWSER_LOG: browserLog,
      },
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: "via-mcp-remote", version: "1.0.0" });
    try {
      await client.connect(transport);
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain("demo__add");
      const sum = await client.callTool({ name: "demo__add", arguments: { a: 2, b: 40 } });
      expect(JSON.stringify(sum.content)).toContain("42");
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- mcp-remote stderr ---\n${stderr}\n--- browser ---\n${existsSync(browserLog) ? readFileSync(browserLog, "utf8") : "(never opened)"}`);
    } finally {
      await client.close();
    }
    expect(readFileSync(browserLog, "utf8")).toContain("approved");
    // The sign-in is on record: a DCR client, consent and a token for cara.
    const events = (await (await fetch(`${gateway.url}/admin/api/auth-events?limit=200`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).json()) as { type: string; email: string | null; outcome: string }[];
    expect(events.some((e) => e.type === "token_issued" && e.outcome === "ok")).toBe(true);
    expect(events.some((e) => e.type === "consent_granted")).toBe(true);
  }, 60_000);

  test("the MCP Inspector CLI lists tools with a bearer token", async () => {
    const created = await runMintgate(["tokens", "create", "--user", "cara@example.com", "--vmcp", "team", "--json", "--data", dataDir]);
    const { token } = JSON.parse(created.stdout) as { token: string };
    const run = Bun.spawn(["node", join(INSPECTOR_BUILD, "index.js"), `${gateway.url}/mcp/team`, "--transport", "http", "--method", "tools/list", "--header", `Authorization: Bearer ${token}`], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("mintgate-inspector-home") },
      // The CLI finds its own package.json relative to the working directory.
      cwd: INSPECTOR_BUILD,
    });
    const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    expect(code, err).toBe(0);
    const listed = JSON.parse(out) as { tools: { name: string }[] };
    expect(listed.tools.map((t) => t.name)).toEqual(expect.arrayContaining(["demo__echo", "demo__add"]));

    const refused = Bun.spawn(["node", join(INSPECTOR_BUILD, "index.js"), `${gateway.url}/mcp/team`, "--transport", "http", "--method", "tools/list", "--header", "Authorization: Bearer mgt_pat_wrong"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("mintgate-inspector-home") },
      // The CLI finds its own package.json relative to the working directory.
      cwd: INSPECTOR_BUILD,
    });
    expect(await refused.exited).not.toBe(0);
  }, 60_000);
});
