/**
 * The official conformance suite's authorization-server scenarios
 * (@modelcontextprotocol/conformance 0.2 pre-release, installed as
 * `@modelcontextprotocol/conformance-next`, command `authorization`) against
 * mintgate's issuer, end to end:
 *
 * - authorization-server-metadata-endpoint: the metadata document;
 * - authorization-code-grant: the CLI prints an /authorize URL and waits for
 *   the redirect to its own callback server on 127.0.0.1; a scripted browser
 *   signs a local account in and approves, then delivers the redirect; the
 *   CLI exchanges the code itself (public client, PKCE S256, `resource`).
 *
 * The CLI uses `none` whenever the server advertises it, so the client is a
 * public one added with `mintgate clients add --public`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ScriptedBrowser } from "./fixtures/browser.ts";
import { collectOutput } from "./fixtures/child-output.ts";
import { approveInBrowser, localSignIn } from "./fixtures/oauth-client.ts";
import { runMintgate, startGateway, tempDir, type RunningGateway } from "./harness.ts";

const EMAIL = "conformance@example.com";
const PASSWORD = "correct horse battery staple";
let gateway: RunningGateway;
let clientId: string;

beforeAll(async () => {
  const dataDir = join(tempDir("mintgate-conformance-auth"), "data");
  expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
  const file = join(dataDir, "..", "mintgate.yaml");
  writeFileSync(file, "connectors:\n  - { name: demo, kind: builtin, server: demo }\nvirtualMcps:\n  - { slug: tools, name: Tools, connectors: [ { connector: demo } ], access: { everyone: true } }\n");
  expect((await runMintgate(["apply", "-f", file, "--data", dataDir])).code).toBe(0);
  const user = await runMintgate(["users", "add", EMAIL, "--data", dataDir], { stdin: `${PASSWORD}\n` });
  expect(user.code, user.stderr).toBe(0);
  const client = await runMintgate(["clients", "add", "--name", "Conformance suite", "--redirect-uri", "http://127.0.0.1/callback", "--public", "--json", "--data", dataDir]);
  expect(client.code, client.stderr).toBe(0);
  clientId = (JSON.parse(client.stdout) as { clientId: string }).clientId;
  gateway = await startGateway({ dataDir });
});

afterAll(() => gateway?.stop());

/** A port that was free a moment ago, for the CLI's callback server. */
function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

test("authorization-server-metadata-endpoint and authorization-code-grant pass against mintgate's issuer", async () => {
  const cli = join(dirname(Bun.resolveSync("@modelcontextprotocol/conformance-next/package.json", import.meta.dir)), "dist", "index.js");
  const issuer = gateway.url;
  const port = freePort();
  const outputDir = tempDir("mintgate-conformance-auth-out");
  const child = Bun.spawn([process.execPath, cli, "authorization", "--url", issuer, "--client-id", clientId, "--resource", `${issuer}/mcp/tools`, "-p", String(port), "-o", outputDir], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  const collected = collectOutput(child);
  const output = collected.text;
  try {
    // The CLI prints the URL a person would open, then waits for its callback.
    const deadline = Date.now() + 30_000;
    let authorizeUrl: string | undefined;
    while (!authorizeUrl) {
      authorizeUrl = output().split("\n").find((line) => line.startsWith(`${issuer}/authorize?`))?.trim();
      if (!authorizeUrl) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the CLI printed no authorization URL:\n${output()}`);
        await Bun.sleep(20);
      }
    }
    const browser = new ScriptedBrowser();
    const { callback } = await approveInBrowser(browser, new URL(authorizeUrl), `http://127.0.0.1:${port}/callback`, localSignIn(browser, EMAIL, PASSWORD));
    expect(callback.searchParams.get("iss")).toBe(issuer);
    // The browser lands on the CLI's callback server; the CLI then exchanges the code.
    expect((await fetch(callback)).status).toBe(200);
    const code = await child.exited;
    await collected.done;
    expect(code, output()).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill();
  }
  const checksOf = (scenario: string) => {
    const [dir] = readdirSync(outputDir).filter((d) => d.startsWith(`authorization-server-${scenario}-`));
    return (JSON.parse(readFileSync(join(outputDir, dir!, "checks.json"), "utf8")) as { id: string; status: string; errorMessage?: string }[]).map((c) => [c.id, c.status, c.errorMessage]);
  };
  expect(checksOf("authorization-server-metadata-endpoint")).toEqual([
    ["authorization-server-metadata", "SUCCESS", undefined],
    ["authorization-server-metadata-cimd", "SUCCESS", undefined],
  ]);
  expect(checksOf("authorization-code-grant")).toEqual([["authorization-code-grant", "SUCCESS", undefined]]);
}, 60_000);
