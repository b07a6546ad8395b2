/**
 * MCP Apps (SEP-1865) through Virtual MCPs: a tool's `_meta` names the `ui://` resource holding its interface, and
 * the host reads that URI back with resources/read. Under a prefix the gateway exposes it as `ui://<prefix>+<rest>`
 * (hosts require the `ui://` scheme of app resources) and rewrites the tool's `_meta` to match.
 *
 * One real upstream on the official SDK (test/fixtures/apps-server.ts, stdio), attached to three Virtual MCPs:
 *   apps   prefix "wx", open to everyone
 *   plain  prefix "", open to everyone (URIs as the upstream names them)
 *   guarded  prefix "wx", newTools: approve
 *   team   prefix "wx", with a policy: the forecast tool only for ada, the radar's interface hidden from her, and
 *          the city interfaces hidden by a key in the form such URIs were exposed in before (`wx+ui://…`)
 *   beside  prefix "" beside the builtin demo, also unprefixed; nearby  both under the prefix "nb"
 * and a second upstream of the same server whose forecast names the interface a file holds (FORECAST_VIEW_FILE), attached to
 *   reviewed  prefix "sh", newTools: approve, its forecast only
 * Reached by SDK Clients over Streamable HTTP with personal access tokens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../src/gateway/curation.ts";
import { configuredDataDir, connectMcpClient, REPO_ROOT, runMintgate, startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";

const APPS_SERVER = join(REPO_ROOT, "test", "fixtures", "apps-server.ts");
const APP_MIME_TYPE = "text/html;profile=mcp-app";
const VIEW_META = { ui: { csp: { connectDomains: ["https://api.weather.example"] }, prefersBorder: true } };

let gateway: RunningGateway;
let dataDir: string;
/** The interface the "shifting" upstream's forecast names. */
let viewFile: string;
const clients: Client[] = [];

beforeAll(async () => {
  viewFile = join(tempDir("mintgate-apps-view"), "view");
  writeFileSync(viewFile, "ui://weather/view.html");
  dataDir = await configuredDataDir(
    {
      connectors: [
        { name: "weather", kind: "stdio", command: process.execPath, args: [APPS_SERVER] },
        { name: "shifting", kind: "stdio", command: process.execPath, args: [APPS_SERVER], env: { FORECAST_VIEW_FILE: viewFile } },
        { name: "demo", kind: "builtin", server: "demo" },
      ],
      virtualMcps: [
        { slug: "apps", name: "Apps", access: { everyone: true }, connectors: [{ connector: "weather", prefix: "wx" }] },
        { slug: "plain", name: "Plain", access: { everyone: true }, connectors: [{ connector: "weather", prefix: "" }] },
        { slug: "beside", name: "Beside", access: { everyone: true }, connectors: [{ connector: "demo", prefix: "" }, { connector: "weather", prefix: "" }] },
        { slug: "nearby", name: "Nearby", access: { everyone: true }, connectors: [{ connector: "demo", prefix: "nb" }, { connector: "weather", prefix: "nb" }] },
        { slug: "guarded", name: "Guarded", newTools: "approve", access: { everyone: true }, connectors: [{ connector: "weather", prefix: "wx" }] },
        { slug: "reviewed", name: "Reviewed", newTools: "approve", access: { everyone: true }, connectors: [{ connector: "shifting", prefix: "sh", include: ["forecast"] }] },
        {
          slug: "team",
          name: "Team",
          access: { everyone: true },
          connectors: [{ connector: "weather", prefix: "wx" }],
          tools: { wx__forecast: { allow: { users: ["ada@example.com"] } } },
          resources: {
            "ui://wx+weather/radar.html": { deny: { users: ["ada@example.com"] } },
            "wx+ui://weather/city/*": { deny: { users: ["ada@example.com"] } },
          },
        },
      ],
    },
    { label: "mintgate-apps" },
  );
  gateway = await startGateway({ dataDir });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

async function clientOf(slug: string, user = "t@example.com"): Promise<Client> {
  const created = await runMintgate(["tokens", "create", "--user", user, "--json", "--data", dataDir]);
  const { token } = JSON.parse(created.stdout) as { token: string };
  const client = await connectMcpClient(`${gateway.url}/mcp/${slug}`, token);
  clients.push(client);
  return client;
}

async function metaOf(client: Client): Promise<Record<string, unknown>> {
  const { tools } = await client.listTools();
  return Object.fromEntries(tools.map((tool) => [tool.name, tool._meta]));
}

const textOf = (result: { contents: unknown[] }) => (result.contents[0] as { text: string }).text;

describe("MCP Apps under a prefix", () => {
  test("tools name their interface by a ui:// URI that resources/read, resources/list and the templates serve", async () => {
    const client = await clientOf("apps");
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === "wx__forecast")).toMatchObject({ description: "Show the forecast.", inputSchema: { type: "object" } });
    // Only the URIs change: every other key of `_meta` (and of `_meta.ui`) is the upstream's.
    expect(await metaOf(client)).toEqual({
      wx__forecast: { ui: { resourceUri: "ui://wx+weather/view.html", visibility: ["model", "app"] } },
      wx__radar: { "ui/resourceUri": "ui://wx+weather/radar.html", "openai/outputTemplate": "ui://wx+weather/radar.html", "openai/widgetAccessible": true },
    });

    const read = await client.readResource({ uri: "ui://wx+weather/view.html" });
    expect(read.contents).toEqual([{ uri: "ui://wx+weather/view.html", mimeType: APP_MIME_TYPE, text: "<!doctype html><h1>Forecast</h1>", _meta: VIEW_META }]);
    expect(textOf(await client.readResource({ uri: "ui://wx+weather/radar.html" }))).toBe("<!doctype html><h1>Radar</h1>");

    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(["ui://wx+weather/radar.html", "ui://wx+weather/view.html", "wx+weather://stations"]);
    expect(resources.find((r) => r.uri === "ui://wx+weather/view.html")).toMatchObject({ mimeType: APP_MIME_TYPE, _meta: VIEW_META });

    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["ui://wx+weather/city/{name}"]);
    const city = await client.readResource({ uri: "ui://wx+weather/city/oslo" });
    expect(city.contents).toEqual([{ uri: "ui://wx+weather/city/oslo", mimeType: APP_MIME_TYPE, text: "<!doctype html><h1>oslo</h1>" }]);
  });

  test("without a prefix, and for any other scheme, URIs map as they always did; a ui:// URI in its former form still reads", async () => {
    const plain = await clientOf("plain");
    expect(await metaOf(plain)).toEqual({
      forecast: { ui: { resourceUri: "ui://weather/view.html", visibility: ["model", "app"] } },
      radar: { "ui/resourceUri": "ui://weather/radar.html", "openai/outputTemplate": "ui://weather/radar.html", "openai/widgetAccessible": true },
    });
    expect((await plain.readResource({ uri: "ui://weather/view.html" })).contents).toEqual([{ uri: "ui://weather/view.html", mimeType: APP_MIME_TYPE, text: "<!doctype html><h1>Forecast</h1>", _meta: VIEW_META }]);
    expect((await plain.listResources()).resources.map((r) => r.uri).sort()).toEqual(["ui://weather/radar.html", "ui://weather/view.html", "weather://stations"]);
    expect((await plain.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(["ui://weather/city/{name}"]);

    const prefixed = await clientOf("apps");
    const stations = await prefixed.readResource({ uri: "wx+weather://stations" });
    expect(stations.contents).toEqual([{ uri: "wx+weather://stations", mimeType: "text/plain", text: "Oslo, Lima" }]);
    // A client that kept a URI from before reaches the same resource, which comes back under its URI of today.
    const former = await prefixed.readResource({ uri: "wx+ui://weather/view.html" });
    expect(former.contents).toMatchObject([{ uri: "ui://wx+weather/view.html", text: "<!doctype html><h1>Forecast</h1>" }]);
  });

  test("connectors attached under the same prefix each serve their own resources and templates", async () => {
    for (const [slug, exposed] of [["beside", (uri: string) => uri], ["nearby", (uri: string) => (uri.startsWith("ui://") ? `ui://nb+${uri.slice(5)}` : `nb+${uri}`)]] as const) {
      const client = await clientOf(slug);
      // Each URI is read from the connector that lists it (or its template), not from the first one under the prefix.
      expect(textOf(await client.readResource({ uri: exposed("ui://weather/view.html") }))).toBe("<!doctype html><h1>Forecast</h1>");
      expect(textOf(await client.readResource({ uri: exposed("ui://weather/city/oslo") }))).toBe("<!doctype html><h1>oslo</h1>");
      expect(textOf(await client.readResource({ uri: exposed("demo://about") }))).toContain("demo server");
      expect(JSON.parse(textOf(await client.readResource({ uri: exposed("demo://numbers/7") })))).toMatchObject({ n: 7, square: 49 });
    }
  });

  test("an approved tool's interface is named by its exposed URI, and the approval holds: it covers the upstream's definition", async () => {
    const pending = async () => {
      const response = await fetch(`${gateway.url}/admin/api/virtual-mcps/guarded`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
      return ((await response.json()) as { pending: { name: string }[] }).pending.map((p) => p.name).sort();
    };
    expect(await waitFor("tools waiting for approval", async () => ((await pending()).length === 2 ? pending() : undefined))).toEqual(["wx__forecast", "wx__radar"]);
    expect((await runMintgate(["approve", "guarded", "wx__forecast", "--data", dataDir])).code).toBe(0);
    const client = await clientOf("guarded");
    await waitFor("the approved tool", async () => (await client.listTools()).tools.length === 1);
    expect(await metaOf(client)).toEqual({ wx__forecast: { ui: { resourceUri: "ui://wx+weather/view.html", visibility: ["model", "app"] } } });
    expect(await pending()).toEqual(["wx__radar"]);
    expect(textOf(await client.readResource({ uri: "ui://wx+weather/view.html" }))).toBe("<!doctype html><h1>Forecast</h1>");
  });
});

describe("MCP Apps under newTools: approve", () => {
  type Pending = { name: string; upstreamName: string; reason: string; hash: string; description?: string; inputSchema: unknown; annotations?: unknown; ui?: Record<string, string>; approved?: { ui?: Record<string, string> } };
  const forecastPending = (reason: "new" | "changed") =>
    waitFor(`the forecast waiting for approval (${reason})`, async () => {
      const response = await fetch(`${gateway.url}/admin/api/virtual-mcps/reviewed`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
      return ((await response.json()) as { pending: Pending[] }).pending.find((p) => p.name === "sh__forecast" && p.reason === reason);
    });
  /** The hash approvals were stored with before they covered a tool's interface. */
  const hashWithoutInterface = (p: Pending) =>
    new Bun.CryptoHasher("sha256").update(canonicalJson({ name: p.upstreamName, description: p.description, inputSchema: p.inputSchema, annotations: p.annotations })).digest("hex");
  const view = (resourceUri: string) => ({ sh__forecast: { ui: { resourceUri, visibility: ["model", "app"] } } });

  test("pointing an approved tool at another interface hides it until approved again; the review shows the interface clients would get", async () => {
    const added = await forecastPending("new");
    expect(added.ui).toEqual({ "ui.resourceUri": "ui://sh+weather/view.html" });
    expect(added.hash).not.toBe(hashWithoutInterface(added));
    const approved = await runMintgate(["approve", "reviewed", "sh__forecast", "--data", dataDir]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toMatch(/^Approved definition [0-9a-f]{12}…: Show the forecast\.\nIts interface: ui:\/\/sh\+weather\/view\.html\n$/);
    const client = await clientOf("reviewed");
    await waitFor("the approved forecast", async () => (await client.listTools()).tools.length === 1);
    expect(await metaOf(client)).toEqual(view("ui://sh+weather/view.html"));

    // A rug pull: the upstream points the approved tool at another interface, which could call its tools.
    writeFileSync(viewFile, "ui://weather/radar.html");
    const changed = await forecastPending("changed");
    expect(await metaOf(client)).toEqual({});
    expect([changed.approved?.ui, changed.ui]).toEqual([{ "ui.resourceUri": "ui://sh+weather/view.html" }, { "ui.resourceUri": "ui://sh+weather/radar.html" }]);
    const status = await runMintgate(["status", "--data", dataDir]);
    expect(status.stdout).toContain(`waiting for approval: reviewed sh__forecast (changed; interface ui://sh+weather/radar.html); \`mintgate approve reviewed sh__forecast --data ${dataDir}\`\n`);
    expect((await runMintgate(["approve", "reviewed", "sh__forecast", "--data", dataDir])).code).toBe(0);
    await waitFor("the forecast on its new interface", async () => (await client.listTools()).tools.length === 1);
    expect(await metaOf(client)).toEqual(view("ui://sh+weather/radar.html"));

    // The URI is the upstream's text: printed raw, an ESC sequence in it would hide what is being approved.
    writeFileSync(viewFile, "ui://weather/\u001b[8mview.html");
    await forecastPending("changed");
    const escaped = "ui://sh+weather/\\u001b[8mview.html";
    expect((await runMintgate(["status", "--data", dataDir])).stdout).toContain(`waiting for approval: reviewed sh__forecast (changed; interface ${escaped}); `);
    const hiding = await runMintgate(["approve", "reviewed", "sh__forecast", "--data", dataDir]);
    expect(hiding.stderr).toEndWith(`\nIts interface: ${escaped}\n`);
    await waitFor("the forecast approved again", async () => (await client.listTools()).tools.length === 1);

    // Naming no interface, a tool hashes as before approvals covered interfaces: approvals stored then still hold.
    writeFileSync(viewFile, "");
    const plain = await forecastPending("changed");
    expect(plain.ui).toBeUndefined();
    expect(plain.hash).toBe(hashWithoutInterface(plain));
  });
});

describe("MCP Apps under a policy", () => {
  test("whoever may call a tool reads its interface unless a rule hides it, and the refusal says so", async () => {
    const ada = await clientOf("team", "ada@example.com");
    // The tool is hers by an allow rule; its interface has no rule of its own, so it is open as every unruled resource is.
    expect((await ada.listTools()).tools.map((t) => t.name).sort()).toEqual(["wx__forecast", "wx__radar"]);
    expect(textOf(await ada.readResource({ uri: "ui://wx+weather/view.html" }))).toBe("<!doctype html><h1>Forecast</h1>");

    await expect(ada.readResource({ uri: "ui://wx+weather/radar.html" })).rejects.toThrow(
      'MCP error -32003: The resource "ui://wx+weather/radar.html" is the interface of the tool "wx__radar", which ada@example.com may call, but the policy of virtual MCP "team" hides the resource from them by one of its rules; ask an admin to allow it to whoever may call the tool.',
    );
    // Nor by the URI's former form.
    await expect(ada.readResource({ uri: "wx+ui://weather/radar.html" })).rejects.toThrow("MCP error -32003");

    // A rule written for the former form (`wx+ui://…`) still decides, in the lists and on reading.
    expect((await ada.listResourceTemplates()).resourceTemplates).toEqual([]);
    expect((await ada.listResources()).resources.map((r) => r.uri).sort()).toEqual(["ui://wx+weather/view.html", "wx+weather://stations"]);
    // As under any other spelling, the sentence names the one the rule decided on.
    await expect(ada.readResource({ uri: "ui://wx+weather/city/oslo" })).rejects.toThrow('MCP error -32003: ada@example.com may not use the resource "wx+ui://weather/city/oslo" in virtual MCP "team" (denied by its policy).');

    // Someone the rules do not name is refused nothing.
    const bob = await clientOf("team", "bob@example.com");
    expect(textOf(await bob.readResource({ uri: "ui://wx+weather/radar.html" }))).toBe("<!doctype html><h1>Radar</h1>");
    expect(textOf(await bob.readResource({ uri: "ui://wx+weather/city/lima" }))).toBe("<!doctype html><h1>lima</h1>");
  });
});
