/**
 * Access policies end to end: the compiled binary, real SDK clients, people
 * and groups from the CLI, server-everything as an upstream that reports the
 * arguments it received, and the records read from the SQLite file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError, PromptListChangedNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { everythingStdioCommand } from "./conformance/everything-server.ts";
import { configuredDataDir, connectMcpClient, runMintgate, startGateway, waitFor, type RunningGateway } from "./harness.ts";

const [evCommand, ...evArgs] = everythingStdioCommand();

/**
 * `eng` sees add; `ops` does not see now or the greeting; only `eng` reads demo://about and the numbers template; `ops` reads no ev text resource.
 * `evEnv`: environment variables for server-everything (other ones redefine the connector, which restarts it).
 */
function config(addGroups = "[eng]", evEnv?: Record<string, string>): string {
  return `connectors:
  - { name: demo, kind: builtin, server: demo }
  - name: ev
    kind: stdio
    command: ${JSON.stringify(evCommand)}
    args: ${JSON.stringify(evArgs)}
${evEnv ? `    env: ${JSON.stringify(evEnv)}\n` : ""}virtualMcps:
  - slug: team
    name: Team
    connectors:
      - { connector: demo, prefix: demo }
      - { connector: ev, prefix: ev, include: [echo, get-resource-reference] }
    access: { groups: [eng, ops] }
    tools:
      demo__add:
        allow: { groups: ${addGroups} }
        arguments:
          a: { max: 100 }
          b: { allowed: [1, 2, 3] }
      demo__now:
        deny: { groups: [ops] }
        arguments:
          token: { pin: sk-pinned-by-policy, onMismatch: refuse }
      demo__echo:
        arguments:
          text: { pattern: "^[a-z ]+$", maxLength: 10 }
          api_key: { pattern: "^pk_" }
          mood: { maxLength: 3 }
      demo__countdown:
        arguments:
          n: { pin: 1, onMismatch: refuse }
          intervalMs: { required: true }
      ev__echo:
        arguments:
          message: { pin: pinned by policy }
    prompts:
      demo__greeting: { deny: { groups: [ops] } }
    resources:
      "demo+demo://about": { allow: { groups: [eng] } }
      "demo+demo://numbers/{n}": { allow: { groups: [eng] } }
      "demo+demo://numbers/4*": { deny: { users: [ada@example.com] } }
      "ev+demo://resource/dynamic/text/{resourceId}": { deny: { groups: [ops] } }
  - slug: closed
    name: Closed
    connectors: [{ connector: demo, prefix: demo }]
  - slug: plain
    name: Plain names
    connectors: [{ connector: demo, prefix: "", rename: { echo: constructor } }]
    # José as a Mac keyboard or an SSO provider may write him: e + U+0301, and capitals.
    access: { users: [ada@example.com, "JOSE\u0301@Example.com"] }
    tools:
      add:
        arguments: { b: { pin: 1 } }
`;
}

/**
 * config() and a virtual MCP "watch" for resource subscriptions: server-everything's switch for its
 * updates (on, it sends one for every subscribed resource at once), with its first text resource denied to `denied`.
 */
function withWatch(denied: string, { prefix = "ev", evEnv }: { prefix?: string; evEnv?: Record<string, string> } = {}): string {
  return `${config(undefined, evEnv)}  - slug: watch
    name: Watch
    connectors: [{ connector: ev, prefix: ${prefix}, include: [toggle-subscriber-updates] }]
    access: { groups: [eng, ops] }
    resources:
      "ev+demo://resource/dynamic/text/1": { deny: { users: [${denied}] } }
`;
}

let dir: string;
let gateway: RunningGateway;
const tokens: Record<string, string> = {};
const clients: Client[] = [];

async function mintgate(...args: string[]) {
  const result = await runMintgate([...args, "--data", dir]);
  if (result.code !== 0) throw new Error(`mintgate ${args.join(" ")} failed: ${result.stderr}`);
  return result;
}

async function apply(yaml: string) {
  const file = join(dir, "..", `policy-${crypto.randomUUID()}.yaml`);
  writeFileSync(file, yaml);
  return mintgate("apply", "-f", file);
}

async function client(who: string, slug = "team"): Promise<Client> {
  const c = await connectMcpClient(`${gateway.url}/mcp/${slug}`, tokens[who]!);
  clients.push(c);
  return c;
}

const toolNames = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();
const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0]?.text ?? "";

interface Row {
  person: string;
  session: string | null;
  method: string;
  name: string;
  arguments: string | null;
  outcome: string;
  error: string | null;
  ip: string | null;
}

function hasAuditTrail(): boolean {
  const db = new Database(join(dir, "mintgate.db"), { readonly: true });
  try {
    return db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'").get() !== null;
  } finally {
    db.close();
  }
}

/** Every MCP request record, from the database file (audit_records once the audit trail is in, else call_records). */
function records(): Row[] {
  const db = new Database(join(dir, "mintgate.db"), { readonly: true });
  try {
    const audit = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'").get();
    const sql = audit
      ? "SELECT person, session_id AS session, method, exposed_name AS name, arguments, outcome, error, ip FROM audit_records WHERE kind = 'mcp' ORDER BY id"
      : "SELECT subject AS person, session_id AS session, method, exposed_name AS name, arguments, outcome, error, NULL AS ip FROM call_records ORDER BY id";
    return db.query(sql).all() as Row[];
  } finally {
    db.close();
  }
}

/** What server-everything logged (through the gateway's log) of the resources/subscribe and resources/unsubscribe requests it got for `uri`. */
const upstreamSubscribesOf = (uri: string) => gateway.output().split("\n").filter((line) => line.includes(`Received Subscribe Resource request for URI: ${uri} `));
const upstreamUnsubscribesOf = (uri: string) => gateway.output().split("\n").filter((line) => line.includes(`Received Unsubscribe Resource request: ${uri} `));
const droppedSubscriptions = () => gateway.output().split("\n").filter((line) => line.includes("resource subscription dropped: access lost"));
/** The gateway's log lines saying `connector` (re)connected. */
const readyLinesOf = (connector: string) => gateway.output().split("\n").filter((line) => line.includes("connector ready") && line.includes(`connector=${connector} `));

/** The URIs of the resources/updated notifications `c` gets from now on. */
function updatesTo(c: Client): string[] {
  const uris: string[] = [];
  c.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void uris.push(n.params.uri));
  return uris;
}

/** Flips server-everything's update switch (through the watch virtual MCP); says which way. */
const toggleUpdates = async (c: Client) => textOf(await c.callTool({ name: "ev__toggle-subscriber-updates", arguments: {} }));

/** One round of updates: switched on by `c` (one for each subscribed resource, in the order first subscribed), off again once `arrived`. */
async function updateOnce(c: Client, arrived: () => boolean): Promise<void> {
  expect(await toggleUpdates(c)).toStartWith("Started");
  await waitFor("the updates", arrived);
  expect(await toggleUpdates(c)).toStartWith("Stopped");
}

/** An event stream opened with raw HTTP by `who` (a POST when given a body), which must be open. */
async function open(who: string, path: string, post?: { body: object; headers: Record<string, string> }): Promise<Response> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: post ? "POST" : "GET",
    headers: { authorization: `Bearer ${tokens[who]}`, accept: "application/json, text/event-stream", "content-type": "application/json", ...post?.headers },
    body: post && JSON.stringify(post.body),
  });
  expect(response.status).toBe(200);
  return response;
}

/** What an open event stream carries, and whether the gateway ended it. */
function streamOf(response: Response): { ended: boolean; text: () => string } {
  let text = "";
  const stream = { ended: false, text: () => text };
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
    stream.ended = true;
  })();
  return stream;
}

async function refusalOf(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    return error as McpError;
  }
  throw new Error("expected the request to be refused");
}

beforeAll(async () => {
  dir = await configuredDataDir(config(), {
    label: "mintgate-policy",
    people: ["ada@example.com", "bob@example.com", "carol@example.com", "root@example.com"].map((email) => ({ email, password: "correct horse battery" })),
  });
  await mintgate("groups", "add", "ada@example.com", "eng");
  await mintgate("groups", "add", "bob@example.com", "ops");
  await mintgate("users", "set-role", "root@example.com", "admin");
  for (const who of ["ada", "bob", "carol", "root"]) {
    tokens[who] = (JSON.parse((await mintgate("tokens", "create", "--user", `${who}@example.com`, "--json")).stdout) as { token: string }).token;
  }
  gateway = await startGateway({ dataDir: dir });
  // server-everything takes a moment to list its tools.
  const probe = await client("ada");
  await waitFor("ev__echo", async () => (await toolNames(probe)).includes("ev__echo"));
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await gateway?.stop();
});

describe("listing and calling", () => {
  test("two people in different groups see different tools, prompts and resources", async () => {
    const ada = await client("ada");
    const bob = await client("bob");
    expect(await toolNames(ada)).toEqual(["demo__add", "demo__countdown", "demo__echo", "demo__now", "ev__echo", "ev__get-resource-reference"]);
    expect(await toolNames(bob)).toEqual(["demo__countdown", "demo__echo", "ev__echo", "ev__get-resource-reference"]);
    expect((await ada.listPrompts()).prompts.map((p) => p.name)).toContain("demo__greeting");
    expect((await bob.listPrompts()).prompts.map((p) => p.name)).not.toContain("demo__greeting");
    expect((await ada.listResources()).resources.map((r) => r.uri)).toContain("demo+demo://about");
    expect((await bob.listResources()).resources.map((r) => r.uri)).not.toContain("demo+demo://about");
  });

  test("a direct call, get or read of a hidden item is a JSON-RPC error and recorded as denied", async () => {
    const bob = await client("bob");
    const call = await refusalOf(bob.callTool({ name: "demo__add", arguments: { a: 1, b: 2 } }));
    expect(call).toBeInstanceOf(McpError);
    expect(call.code).toBe(-32003);
    expect(call.message).toContain('bob@example.com may not use the tool "demo__add" in virtual MCP "team"');
    const get = await refusalOf(bob.getPrompt({ name: "demo__greeting", arguments: { name: "x" } }));
    expect(get.code).toBe(-32003);
    const read = await refusalOf(bob.readResource({ uri: "demo+demo://about" }));
    expect(read.code).toBe(-32003);
    const denied = records().filter((r) => r.person === "bob@example.com" && r.outcome === "denied");
    expect(denied.map((r) => `${r.method} ${r.name}`)).toEqual(["tools/call demo__add", "prompts/get demo__greeting", "resources/read demo+demo://about"]);
    expect(denied[0]!.error).toContain("may not use the tool");
    // The allowed person calls the same tool.
    const ada = await client("ada");
    expect(textOf(await ada.callTool({ name: "demo__add", arguments: { a: 40, b: 2 } }))).toBe("42");
  });

  test("completing a hidden prompt's arguments or subscribing to a hidden resource is refused and recorded as denied", async () => {
    const bob = await client("bob");
    const complete = await refusalOf(bob.complete({ ref: { type: "ref/prompt", name: "demo__greeting" }, argument: { name: "name", value: "" } }));
    expect(complete.code).toBe(-32003);
    const subscribe = await refusalOf(bob.subscribeResource({ uri: "demo+demo://about" }));
    expect(subscribe.code).toBe(-32003);
    const denied = records().filter((r) => r.person === "bob@example.com" && r.outcome === "denied").slice(-2);
    expect(denied.map((r) => `${r.method} ${r.name}`)).toEqual(["completion/complete demo__greeting", "resources/subscribe demo+demo://about"]);
    expect(denied[0]!.error).toContain('may not use the prompt "demo__greeting"');
  });

  test("a tool or prompt the person may use does not hand them, embedded, a resource they may not read", async () => {
    // server-everything's resource-prompt and get-resource-reference embed demo://resource/dynamic/text/N, which bob may not read.
    const bob = await client("bob");
    expect((await refusalOf(bob.readResource({ uri: "ev+demo://resource/dynamic/text/1" }))).code).toBe(-32003);
    const prompt = await bob.getPrompt({ name: "ev__resource-prompt", arguments: { resourceType: "Text", resourceId: "1" } });
    const tool = await bob.callTool({ name: "ev__get-resource-reference", arguments: { resourceType: "Text", resourceId: 1 } });
    const blocks = [...prompt.messages.map((m) => m.content), ...(tool.content as { type: string; text?: string }[])] as { type: string; text?: string }[];
    expect(blocks.filter((b) => b.type === "resource")).toEqual([]);
    const withheld = blocks.filter((b) => b.type === "text" && b.text!.startsWith("An embedded resource was withheld"));
    expect(withheld.map((b) => b.text)).toEqual(Array(2).fill('An embedded resource was withheld: bob@example.com may not use the resource "ev+demo://resource/dynamic/text/1" in virtual MCP "team" (denied by its policy).'));
    // ada may read it: she gets it embedded, under its exposed URI; a blob resource nobody is denied reaches bob too.
    const ada = await client("ada");
    const hers = await ada.getPrompt({ name: "ev__resource-prompt", arguments: { resourceType: "Text", resourceId: "1" } });
    expect(hers.messages[1]!.content).toMatchObject({ type: "resource", resource: { uri: "ev+demo://resource/dynamic/text/1" } });
    const blob = await bob.callTool({ name: "ev__get-resource-reference", arguments: { resourceType: "Blob", resourceId: 1 } });
    expect(blob.content).toContainEqual(expect.objectContaining({ type: "resource", resource: expect.objectContaining({ uri: "ev+demo://resource/dynamic/blob/1" }) }));
  });

  test("a rule on a resource template covers the resources read through it, not only its line in the list", async () => {
    const bob = await client("bob");
    expect((await bob.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).not.toContain("demo+demo://numbers/{n}");
    const read = await refusalOf(bob.readResource({ uri: "demo+demo://numbers/7" }));
    expect(read.code).toBe(-32003);
    // The sentence names the URI asked for, not the policy key that covers it.
    expect(read.message).toContain('bob@example.com may not use the resource "demo+demo://numbers/7" in virtual MCP "team"');
    expect(records().filter((r) => r.person === "bob@example.com" && r.name === "demo+demo://numbers/7").map((r) => r.outcome)).toEqual(["denied"]);
    const ada = await client("ada");
    expect((await ada.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toContain("demo+demo://numbers/{n}");
    expect(JSON.parse(((await ada.readResource({ uri: "demo+demo://numbers/7" })).contents[0] as { text: string }).text)).toMatchObject({ n: 7, square: 49 });
    // A prefix key that fixes more of the URI than the template decides for the URIs under it: ada is denied those.
    const under = await refusalOf(ada.readResource({ uri: "demo+demo://numbers/42" }));
    expect(under.code).toBe(-32003);
    expect(under.message).toContain('ada@example.com may not use the resource "demo+demo://numbers/42"');
    expect(under.message).not.toContain("4*");
    // Also under the spelling an upstream reads that decodes the path (%2f is /) and then resolves its dot segments.
    expect((await refusalOf(ada.readResource({ uri: "demo+demo://numbers/x/..%2f42" }))).code).toBe(-32003);
  });

  test("a hidden resource stays hidden under another spelling of its URI that the upstream reads as the same URL", async () => {
    // SDK servers look resources up by new URL(uri): the scheme's case, spaces at the ends and tabs inside do not matter to them.
    const bob = await client("bob");
    // An upstream that decodes the path reads %61 as a; a file server reads //// as /.
    for (const uri of ["demo+DEMO://about", "demo+ demo://about", "demo+demo://about ", "demo+demo://ab\tout", "demo+Demo://numbers/7", "demo+demo://%61bout", "demo+demo://numbers/%37", "demo+demo://numbers//7", "demo+demo://numbers/%"]) {
      const read = await refusalOf(bob.readResource({ uri }));
      expect(read.code).toBe(-32003);
    }
    // Completing a hidden template's arguments is decided the same way.
    for (const uri of ["demo+demo://numbers/{n}", "demo+DEMO://numbers/{n}", "demo+ demo://numbers/{n}"]) {
      const complete = await refusalOf(bob.complete({ ref: { type: "ref/resource", uri }, argument: { name: "n", value: "" } }));
      expect(complete.code).toBe(-32003);
    }
    expect(records().filter((r) => r.person === "bob@example.com" && r.name === "demo+DEMO://about").map((r) => r.outcome)).toEqual(["denied"]);
    const ada = await client("ada");
    expect(((await ada.readResource({ uri: "demo+DEMO://about" })).contents[0] as { text: string }).text).toContain("demo server");
  });

  test("a tool named like an Object method (constructor) has no rule unless one is written, and is called as any other", async () => {
    const ada = await client("ada", "plain");
    expect(await toolNames(ada)).toContain("constructor");
    const result = await ada.callTool({ name: "constructor", arguments: { text: "hello" } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain("hello");
    expect(textOf(await ada.callTool({ name: "add", arguments: { a: 2, b: 5 } }))).toBe("3");
  });

  test("default deny: a virtual MCP without an access rule is for admins only; others get 403 and a denied record", async () => {
    const root = await client("root", "closed");
    expect(await toolNames(root)).toContain("demo__add");
    const refused = await fetch(`${gateway.url}/mcp/closed`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.carol}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toContain('Virtual MCP "closed" has no access rule, so only admins may use it');
    // The SDK client's connect fails with the sentence.
    const sdk = await connectMcpClient(`${gateway.url}/mcp/closed`, tokens.ada!).then(
      () => "connected",
      (error: Error) => error.message,
    );
    expect(sdk).toContain('Virtual MCP \\"closed\\" has no access rule, so only admins may use it');
    // A person with no matching group cannot reach "team" either.
    expect((await connectMcpClient(`${gateway.url}/mcp/team`, tokens.carol!).catch((error: Error) => error)) instanceof Error).toBe(true);
    // A call refused at the door (as after access was taken from a connected person) names the tool it was for and its connector,
    // so stats and /metrics count it under that tool rather than as a call to no tool.
    const call = (name: string) =>
      fetch(`${gateway.url}/mcp/closed`, {
        method: "POST",
        headers: { authorization: `Bearer ${tokens.carol}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: { a: 1, b: 2 } } }),
      });
    expect((await call("demo__add")).status).toBe(403);
    expect((await call("demo__nothing")).status).toBe(403);
    const denied = records().filter((r) => r.person === "carol@example.com" && r.outcome === "denied");
    expect(denied.map((r) => [r.method, r.name])).toEqual([["initialize", ""], ["initialize", ""], ["tools/call", "demo__add"], ["tools/call", "demo__nothing"]]);
    expect(JSON.parse(denied[2]!.arguments!)).toEqual({ a: 1, b: 2 });
    const stats = JSON.parse((await mintgate("stats", "--by", "tool", "--json")).stdout) as { rows: { virtualMcp: string; tool: string; connector: string; calls: number; denied: number }[] };
    expect(stats.rows.filter((r) => r.virtualMcp === "closed" && r.denied > 0).map(({ tool, connector, calls, denied }) => ({ tool, connector, calls, denied }))).toEqual([
      { tool: "demo__add", connector: "demo", calls: 1, denied: 1 },
      { tool: "demo__nothing", connector: "", calls: 1, denied: 1 },
    ]);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('mintgate_tool_calls_total{virtual_mcp="closed",tool="demo__add",connector="demo",outcome="denied"} 1\n');
    expect(metrics).toContain('mintgate_tool_calls_total{virtual_mcp="closed",tool="(unknown)",connector="",outcome="denied"} 1\n');
    // Source addresses are stored once the audit trail's table is there.
    if (hasAuditTrail()) expect(denied[0]!.ip).toBe("127.0.0.1");
  });
});

describe("argument rules", () => {
  test("a pinned argument reaches the upstream with the pinned value whatever the client sent", async () => {
    const ada = await client("ada");
    expect(textOf(await ada.callTool({ name: "ev__echo", arguments: { message: "exfiltrate this" } }))).toBe("Echo: pinned by policy");
    expect(textOf(await ada.callTool({ name: "ev__echo", arguments: {} }))).toBe("Echo: pinned by policy");
    const last = records().filter((r) => r.name === "ev__echo").at(-1)!;
    expect(JSON.parse(last.arguments!)).toEqual({ message: "pinned by policy" });
  });

  test("refuse-mode pins, allowed values, patterns, max and maxLength refuse with clear errors", async () => {
    const ada = await client("ada");
    const refused = async (name: string, args: Record<string, unknown>) => {
      const result = await ada.callTool({ name, arguments: args });
      expect(result.isError).toBe(true);
      return textOf(result);
    };
    expect(await refused("demo__countdown", { n: 5 })).toBe('The argument "n" of tool "demo__countdown" must be 1 (fixed by policy); leave it out or send that value.');
    expect(textOf(await ada.callTool({ name: "demo__countdown", arguments: { intervalMs: 0 } }))).toBe("counted down from 1");
    expect(await refused("demo__add", { a: 1, b: 7 })).toBe('The argument "b" of tool "demo__add" must be one of 1, 2, 3, not 7.');
    expect(await refused("demo__add", { a: 1000, b: 1 })).toBe('The argument "a" of tool "demo__add" must be at most 100, not 1000.');
    expect(await refused("demo__echo", { text: "Hello" })).toBe('The argument "text" of tool "demo__echo" must match /^[a-z ]+$/; "Hello" does not.');
    expect(await refused("demo__echo", { text: "far too long" })).toBe('The argument "text" of tool "demo__echo" must be at most 10 characters long, not 12.');
    // The length cap is checked before the pattern: the regular expression never runs on more than the cap allows.
    expect(await refused("demo__echo", { text: "FAR TOO LONG".repeat(1000) })).toBe('The argument "text" of tool "demo__echo" must be at most 10 characters long, not 12000.');
    expect(textOf(await ada.callTool({ name: "demo__echo", arguments: { text: "fine" } }))).toBe("fine");
    // maxLength counts characters as people (and JSON Schema) do: an emoji is one, not two UTF-16 units.
    expect(textOf(await ada.callTool({ name: "demo__echo", arguments: { text: "fine", mood: "😀😀😀" } }))).toBe("fine");
    expect(await refused("demo__echo", { text: "fine", mood: "😀😀😀😀" })).toBe('The argument "mood" of tool "demo__echo" must be at most 3 characters long, not 4.');
    const denied = records().filter((r) => r.person === "ada@example.com" && r.outcome === "denied" && r.method === "tools/call");
    expect(denied.map((r) => r.name)).toEqual(["demo__countdown", "demo__add", "demo__add", "demo__echo", "demo__echo", "demo__echo", "demo__echo"]);
  });

  test("a required argument left out (or null) is refused before it reaches the upstream, whose default would apply; sent, it passes", async () => {
    const ada = await client("ada");
    // The upstream reports progress as it counts, so a call that reached it would show some.
    const progress: number[] = [];
    const onprogress = (p: { progress: number }) => void progress.push(p.progress);
    for (const args of [{}, { n: 1 }, { intervalMs: null }]) {
      const result = await ada.callTool({ name: "demo__countdown", arguments: args }, undefined, { onprogress });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe('The argument "intervalMs" of tool "demo__countdown" is required by policy; send it with a value.');
    }
    expect(progress).toEqual([]);
    const denied = records().filter((r) => r.person === "ada@example.com" && r.name === "demo__countdown").slice(-3);
    expect(denied.map((r) => [r.outcome, r.error])).toEqual(Array(3).fill(["denied", 'The argument "intervalMs" of tool "demo__countdown" is required by policy; send it with a value.']));
    const sent = await ada.callTool({ name: "demo__countdown", arguments: { intervalMs: 0 } }, undefined, { onprogress });
    expect([sent.isError ?? false, textOf(sent)]).toEqual([false, "counted down from 1"]);
    expect(progress).toEqual([1]);
    expect(records().filter((r) => r.name === "demo__countdown").at(-1)!.outcome).toBe("ok");
    expect((await mintgate("policy", "explain", "--user", "ada@example.com", "--vmcp", "team", "--tool", "demo__countdown")).stdout).toContain('\n  calls:  its arguments are checked by rules on "n", "intervalMs" (required) (tools["demo__countdown"].arguments)\n');
  });

  test("export then apply round-trips a required argument; a bad required value, or required beside pin, is refused with its line", async () => {
    const exported = (await mintgate("export")).stdout;
    expect(exported).toContain("      demo__countdown:\n        arguments:\n          n:\n            pin: 1\n            onMismatch: refuse\n          intervalMs:\n            required: true\n");
    expect((await apply(exported)).stdout).toBe("No changes: the configuration already matches the file.\n");
    const refusedFile = async (rule: string) => {
      const yaml = config().replace("intervalMs: { required: true }", `intervalMs: ${rule}`);
      const file = join(dir, "..", `bad-${crypto.randomUUID()}.yaml`);
      writeFileSync(file, yaml);
      const line = yaml.split("\n").findIndex((l) => l.includes("intervalMs:")) + 1;
      const result = await runMintgate(["apply", "-f", file, "--data", dir]);
      expect(result.code).not.toBe(0);
      return result.stderr.replace(`${basename(file)}:${line}:`, "FILE:LINE:");
    };
    const label = 'of argument "intervalMs" of tool "demo__countdown" in virtual MCP "team"';
    expect(await refusedFile("{ required: yes-please }")).toBe(`mintgate: FILE:LINE: "required" ${label} must be true or false\n`);
    expect(await refusedFile("{ pin: 5, required: true }")).toBe(`mintgate: FILE:LINE: "required" ${label} has no effect beside "pin", whose value is sent when a call leaves the argument out; remove "required"\n`);
    // A pin its own checks refuse would refuse every call.
    expect(await refusedFile("{ pin: 1, allowed: [2] }")).toBe(`mintgate: FILE:LINE: "pin" ${label} would refuse every call, as its own "allowed" says the pinned value must be one of 2, not 1; change the pin or remove "allowed"\n`);
    // Nothing changed: the rule is still the required one.
    expect((await mintgate("export")).stdout).toBe(exported);
  });

  test("a refusal of an argument whose name looks secret quotes neither the value sent nor the pinned one, to the caller or in the record", async () => {
    const ada = await client("ada");
    const sent = "sk_live_sent-by-the-client";
    const refusedKey = await ada.callTool({ name: "demo__echo", arguments: { text: "fine", api_key: sent } });
    expect(refusedKey.isError).toBe(true);
    expect(textOf(refusedKey)).toBe('The argument "api_key" of tool "demo__echo" must match /^pk_/; [redacted] does not.');
    const refusedPin = await ada.callTool({ name: "demo__now", arguments: { token: "a guess" } });
    expect(textOf(refusedPin)).toBe('The argument "token" of tool "demo__now" must be the value fixed by policy; leave it out or send that value.');
    const denied = records().filter((r) => r.person === "ada@example.com" && r.outcome === "denied").slice(-2);
    expect(denied.map((r) => r.name)).toEqual(["demo__echo", "demo__now"]);
    for (const row of denied) {
      expect(`${row.arguments} ${row.error}`).not.toContain(sent);
      expect(`${row.arguments} ${row.error}`).not.toContain("sk-pinned-by-policy");
      expect(row.error).toContain("of tool");
    }
  });

  test("a refusal quotes no value under a secret-looking key inside an object argument, nor the allowed values' ones, to the caller or in the record", async () => {
    const ada = await client("ada");
    const nested = "hunter2-nested-in-an-object";
    const pattern = await ada.callTool({ name: "demo__echo", arguments: { text: { mode: "x", password: nested } } });
    expect(textOf(pattern)).toBe('The argument "text" of tool "demo__echo" must be a string of at most 10 characters, not {"mode":"x","password":"[redacted]"}.');
    const allowed = await ada.callTool({ name: "demo__add", arguments: { a: 1, b: [{ api_key: nested }] } });
    expect(textOf(allowed)).toBe('The argument "b" of tool "demo__add" must be one of 1, 2, 3, not [{"api_key":"[redacted]"}].');
    const denied = records().filter((r) => r.person === "ada@example.com" && r.outcome === "denied").slice(-2);
    expect(denied.map((r) => r.name)).toEqual(["demo__echo", "demo__add"]);
    for (const row of denied) expect(`${row.arguments} ${row.error}`).not.toContain(nested);
  });

  test("a cap on a number refuses Infinity and -Infinity (1e999 in the request's JSON), which would go upstream as null", async () => {
    const headers = { authorization: `Bearer ${tokens.ada}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const url = `${gateway.url}/mcp/team`;
    const init = await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }) });
    const session = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id")! };
    await init.text();
    for (const [id, a] of [["neg", "-1e999"], ["inf", "1e999"]]) {
      const reply = await fetch(url, { method: "POST", headers: session, body: `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"demo__add","arguments":{"a":${a},"b":1}}}` });
      const { result } = (await reply.json()) as { result: { isError?: boolean; content: { text: string }[] } };
      expect(result.isError).toBe(true);
      expect(result.content[0]!.text).toBe(`The argument "a" of tool "demo__add" must be a number no larger than 100, not ${a === "1e999" ? "Infinity" : "-Infinity"}.`);
    }
  });
});

describe("records", () => {
  test("every kind of request leaves exactly one record", async () => {
    const ada = await client("ada");
    await ada.listTools();
    await ada.listPrompts();
    await ada.listResources();
    await ada.listResourceTemplates();
    await ada.callTool({ name: "demo__now", arguments: {} });
    await ada.getPrompt({ name: "demo__greeting", arguments: { name: "Ada" } });
    await ada.readResource({ uri: "demo+demo://about" });
    const session = records().filter((r) => r.method === "resources/read" && r.person === "ada@example.com").at(-1)!.session;
    const mine = records().filter((r) => r.session === session);
    expect(mine.map((r) => `${r.method} ${r.outcome}`)).toEqual([
      "initialize ok",
      "tools/list ok",
      "prompts/list ok",
      "resources/list ok",
      "resources/templates/list ok",
      "tools/call ok",
      "prompts/get ok",
      "resources/read ok",
    ]);
    expect(mine.every((r) => r.ip === null || r.ip === "127.0.0.1")).toBe(true);
    // Requests without arguments store none (SQL NULL), not the JSON text "null".
    expect(mine.filter((r) => r.method !== "tools/call" && r.method !== "prompts/get").map((r) => r.arguments)).toEqual(Array(6).fill(null));
    expect(mine.find((r) => r.method === "prompts/get")!.arguments).toBe('{"name":"Ada"}');
  });
});

describe("mintgate policy explain", () => {
  test("prints the decision and the rule that made it, as text and JSON", async () => {
    const text = await mintgate("policy", "explain", "--user", "bob@example.com", "--vmcp", "team", "--tool", "demo__now");
    expect(text.stdout).toContain('virtual MCP "team": allowed\n  rule:   team: access.groups["ops"]');
    expect(text.stdout).toContain('tool "demo__now": denied\n  rule:   team: tools["demo__now"].deny.groups["ops"]');
    expect(text.stdout).toEndWith("Decision: denied\n");
    const json = JSON.parse((await mintgate("policy", "explain", "--user", "ada@example.com", "--vmcp", "team", "--tool", "demo__add", "--json")).stdout);
    expect(json).toMatchObject({ allow: true, subject: { email: "ada@example.com", role: "member", groups: ["eng"] }, virtualMcp: { allow: true, rule: 'team: access.groups["eng"]' }, tool: { name: "demo__add", allow: true, rule: 'team: tools["demo__add"].allow.groups["eng"]' } });
    // A tool's argument rules are part of what decides its calls; a name the virtual MCP does not expose (a typo) is said to be one.
    expect(json.tool).toMatchObject({ exposed: true, arguments: { a: { max: 100 }, b: { allowed: [1, 2, 3] } } });
    expect((await mintgate("policy", "explain", "--user", "ada@example.com", "--vmcp", "team", "--tool", "demo__add")).stdout).toContain('\n  calls:  its arguments are checked by rules on "a", "b" (tools["demo__add"].arguments)\n');
    const typo = await mintgate("policy", "explain", "--user", "ada@example.com", "--vmcp", "team", "--tool", "demo_add");
    expect(typo.stdout).toContain('\n  note:   virtual MCP "team" exposes no tool "demo_add" (by its connectors\' last known lists)');
    expect(JSON.parse((await mintgate("policy", "explain", "--user", "ada@example.com", "--vmcp", "team", "--prompt", "greeting", "--json")).stdout).prompt).toMatchObject({ name: "greeting", exposed: false });
    const closed = JSON.parse((await mintgate("policy", "explain", "--user", "nobody@example.com", "--vmcp", "closed", "--json")).stdout);
    expect(closed).toMatchObject({ allow: false, subject: { role: null, groups: [] }, virtualMcp: { allow: false, rule: "closed: no access rule, so admins only" } });
    // A disabled person is denied whatever the policy says (erin's group would admit her): the gateway refuses her before reading it.
    expect((await runMintgate(["users", "add", "erin@example.com", "--data", dir], { stdin: "correct horse battery\n" })).code).toBe(0);
    await mintgate("groups", "add", "erin@example.com", "eng");
    await mintgate("users", "disable", "erin@example.com");
    expect((await mintgate("policy", "explain", "--user", "erin@example.com", "--vmcp", "team")).stdout).toBe(
      "erin@example.com (disabled)\n  The gateway refuses a disabled person whatever the policy says; `mintgate users enable erin@example.com` lets them back in.\nDecision: denied\n",
    );
    expect(JSON.parse((await mintgate("policy", "explain", "--user", "erin@example.com", "--vmcp", "team", "--json")).stdout)).toMatchObject({ allow: false, disabled: true, virtualMcp: { slug: "team" } });
    const usage = await runMintgate(["policy", "explain", "--vmcp", "team", "--data", dir]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("mintgate: `mintgate policy explain` needs --user EMAIL.\n");
  });
});

describe("mintgate policy explain agrees with the gateway", () => {
  test("a resource is decided under the other spellings of its URI too, as the gateway reads it", async () => {
    const ada = await client("ada");
    // demo+demo://numbers/4* denies ada; %34 is 4 and the scheme's case does not matter to the upstream.
    for (const uri of ["demo+demo://numbers/%34", "demo+DEMO://numbers/4"]) {
      expect((await refusalOf(ada.readResource({ uri }))).code).toBe(-32003);
      const explained = await mintgate("policy", "explain", "--user", "ada@example.com", "--vmcp", "team", "--resource", uri);
      expect(explained.stdout).toContain('  rule:   team: resources["demo+demo://numbers/4*"].deny.users["ada@example.com"]\n');
      expect(explained.stdout).toEndWith("Decision: denied\n");
    }
  });
});

describe("an email written in another Unicode form", () => {
  test("é as e + U+0301 is the same person as the precomposed é: one account, and the policy, token, gateway and audit search all find him", async () => {
    const precomposed = "jos\u00e9@example.com";
    const apart = "jose\u0301@example.com";
    expect((await runMintgate(["users", "add", precomposed, "--data", dir], { stdin: "correct horse battery\n" })).code).toBe(0);
    const again = await runMintgate(["users", "add", ` JOSE\u0301@EXAMPLE.com`, "--data", dir], { stdin: "correct horse battery\n" });
    expect([again.code, again.stderr]).toEqual([1, `mintgate: A local account for ${precomposed} exists already; use \`mintgate users set-password ${precomposed}\` to change its password.\n`]);
    // The policy lists him as "JOSE\u0301@Example.com": kept, and exported, in the one form.
    expect((await mintgate("export")).stdout).toContain(`    access:\n      users: [ada@example.com, ${precomposed}]\n`);
    for (const typed of [precomposed, apart]) {
      expect((await mintgate("policy", "explain", "--user", typed, "--vmcp", "plain")).stdout).toBe(`${precomposed} (member; groups: none)\nvirtual MCP "plain": allowed\n  rule:   plain: access.users["${precomposed}"]\nDecision: allowed\n`);
    }
    const created = await runMintgate(["tokens", "create", "--user", apart, "--vmcp", "plain", "--json", "--data", dir]);
    expect([created.code, created.stderr]).toEqual([0, ""]);
    const { token, subject } = JSON.parse(created.stdout) as { token: string; subject: string };
    expect(subject).toBe(precomposed);
    tokens.jose = token;
    const jose = await client("jose", "plain");
    expect(await jose.callTool({ name: "add", arguments: { a: 1, b: 5 } })).toMatchObject({ content: [{ type: "text", text: "2" }] });
    const records = JSON.parse((await mintgate("audit", "search", "--user", `JOSE\u0301@example.com`, "--kind", "mcp", "--json")).stdout) as { person: string }[];
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) expect(record.person).toBe(precomposed);
  });
});

describe("mintgate tokens create", () => {
  test("warns on stderr when the person may not use the virtual MCP today, naming the rule; the token is made and stdout stays the token or valid JSON", async () => {
    const create = (...args: string[]) => runMintgate(["tokens", "create", ...args, "--data", dir]);
    const warning = (email: string, slug: string, rule: string) =>
      `mintgate: warning: ${email} may not use virtual MCP "${slug}" today (rule: ${rule}), so the gateway refuses this token until its policy admits them; \`mintgate policy explain --user ${email} --vmcp ${slug}\` says why.\n`;

    // carol is in neither group the access rule names.
    const carol = await create("--user", "carol@example.com", "--vmcp", "team", "--json");
    expect(carol.code).toBe(0);
    expect(JSON.parse(carol.stdout)).toMatchObject({ subject: "carol@example.com", virtualMcp: "team", token: expect.stringMatching(/^mgt_pat_/) });
    expect(carol.stderr).toBe(warning("carol@example.com", "team", "team: access (carol@example.com is not listed)"));
    // Without --json the token alone is on stdout; the warning follows the line about the token.
    const plain = await create("--user", "carol@example.com", "--vmcp", "team");
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^mgt_pat_\S+\n$/);
    expect(plain.stderr).toEndWith(`It is shown only now.\n${warning("carol@example.com", "team", "team: access (carol@example.com is not listed)")}`);
    // No access rule: admins only.
    const closed = await create("--user", "ada@example.com", "--vmcp", "closed", "--json");
    expect([closed.code, closed.stderr]).toEqual([0, warning("ada@example.com", "closed", "closed: no access rule, so admins only")]);
    // A token good on every virtual MCP, for someone no virtual MCP admits.
    const anywhere = await create("--user", "carol@example.com", "--json");
    expect(anywhere.code).toBe(0);
    expect(anywhere.stderr).toBe('mintgate: warning: carol@example.com may not use any virtual MCP today (none of "closed", "plain", "team" admits them), so the gateway refuses this token until a policy does; `mintgate policy explain --user carol@example.com --vmcp closed` says why.\n');
    // A disabled person's token is refused whatever the policy says.
    expect((await runMintgate(["users", "add", "dora@example.com", "--data", dir], { stdin: "correct horse battery\n" })).code).toBe(0);
    await mintgate("groups", "add", "dora@example.com", "eng");
    await mintgate("users", "disable", "dora@example.com");
    const disabled = await create("--user", "dora@example.com", "--vmcp", "team", "--json");
    expect([disabled.code, disabled.stderr]).toEqual([0, "mintgate: warning: dora@example.com is disabled, so the gateway refuses this token until `mintgate users enable dora@example.com`.\n"]);

    // Whoever the policy admits gets no warning: a group member, an admin on a virtual MCP without an access rule, a token for every virtual MCP.
    for (const args of [["--user", "ada@example.com", "--vmcp", "team"], ["--user", "root@example.com", "--vmcp", "closed"], ["--user", "bob@example.com"]]) {
      const quiet = await create(...args, "--json");
      expect([quiet.code, quiet.stderr], args.join(" ")).toEqual([0, ""]);
    }
  });
});

describe("the admin API", () => {
  test("GET and PUT a virtual MCP's policy; a bad policy names its line and changes nothing", async () => {
    const admin = (path: string, init: RequestInit = {}) => fetch(`${gateway.url}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    const policy = (await (await admin("/virtual-mcps/team/policy")).json()) as { access: unknown; tools: Record<string, unknown> };
    expect(policy.access).toEqual({ groups: ["eng", "ops"] });
    expect(Object.keys(policy.tools)).toContain("ev__echo");
    const bad = await admin("/virtual-mcps/closed/policy", { method: "PUT", body: "access:\n  everyone: yes please\n" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe('request:2: "everyone" in "access" of the policy of virtual MCP "closed" must be true or false');
    const badRequired = await admin("/virtual-mcps/closed/policy", { method: "PUT", body: 'access: { everyone: true }\ntools:\n  demo__echo:\n    arguments:\n      text: { required: "yes" }\n' });
    expect(badRequired.status).toBe(400);
    expect(((await badRequired.json()) as { message: string }).message).toBe('request:5: "required" of argument "text" of tool "demo__echo" in the policy of virtual MCP "closed" must be true or false');
    const unknownTool = await admin("/virtual-mcps/closed/policy", { method: "PUT", body: JSON.stringify({ access: { everyone: true }, tools: { demo__nope: { deny: { groups: ["x"] } } } }) });
    expect(unknownTool.status).toBe(400);
    expect(((await unknownTool.json()) as { message: string }).message).toContain('names the tool "demo__nope", which it does not expose');
    const put = await admin("/virtual-mcps/closed/policy", { method: "PUT", body: JSON.stringify({ access: { users: ["carol@example.com"] } }) });
    expect(put.status).toBe(200);
    // A PUT without a policy (no body, null, a comment) is refused: read as {}, it took everyone's access away.
    for (const body of [undefined, "", "null", "# nothing\n"]) {
      const empty = await admin("/virtual-mcps/closed/policy", { method: "PUT", ...(body === undefined ? {} : { body }) });
      expect([empty.status, ((await empty.json()) as { message: string }).message], String(body)).toEqual([400, "request:1: the policy is empty; send it as JSON or YAML, or {} to leave the virtual MCP to admins only"]);
    }
    expect(await (await admin("/virtual-mcps/closed/policy")).json()).toEqual({ access: { users: ["carol@example.com"] } });
    expect(((await put.json()) as { changes: string[] }).changes).toEqual(["updated virtual MCP closed"]);
    const carol = await client("carol", "closed");
    expect(await toolNames(carol)).toContain("demo__echo");
    const exported = await (await admin("/config")).text();
    expect(exported).toContain("    access:\n      users: [carol@example.com]");
  });
});

describe("changes reach connected sessions", () => {
  test("changing a group's rule (mintgate apply from another process) sends list_changed; the next list reflects it", async () => {
    const ada = await client("ada");
    const bob = await client("bob");
    expect(await toolNames(bob)).not.toContain("demo__add");
    let adaNotified = 0;
    let bobNotified = 0;
    ada.setNotificationHandler(ToolListChangedNotificationSchema, async () => void adaNotified++);
    bob.setNotificationHandler(ToolListChangedNotificationSchema, async () => void bobNotified++);
    expect((await apply(config("[ops]"))).stdout).toContain("updated virtual MCP team");
    await waitFor("list_changed for both", () => adaNotified > 0 && bobNotified > 0);
    expect(await toolNames(bob)).toContain("demo__add");
    expect(await toolNames(ada)).not.toContain("demo__add");
    await apply(config());
    await waitFor("list_changed again", () => adaNotified > 1 && bobNotified > 1);
    expect(await toolNames(ada)).toContain("demo__add");
  });

  test("changing a person's groups (mintgate groups add/remove) does the same", async () => {
    const bob = await client("bob");
    let tools = 0;
    let prompts = 0;
    bob.setNotificationHandler(ToolListChangedNotificationSchema, async () => void tools++);
    bob.setNotificationHandler(PromptListChangedNotificationSchema, async () => void prompts++);
    expect(await toolNames(bob)).toEqual(["demo__countdown", "demo__echo", "ev__echo", "ev__get-resource-reference"]);
    await bob.listPrompts();
    await mintgate("groups", "add", "bob@example.com", "eng");
    await waitFor("tools list_changed", () => tools > 0);
    // bob is in eng and ops now: allow (eng) gives add; deny (ops) still hides now and the greeting.
    expect(await toolNames(bob)).toEqual(["demo__add", "demo__countdown", "demo__echo", "ev__echo", "ev__get-resource-reference"]);
    await mintgate("groups", "remove", "bob@example.com", "ops");
    await waitFor("prompts list_changed", () => prompts > 0);
    expect(await toolNames(bob)).toEqual(["demo__add", "demo__countdown", "demo__echo", "demo__now", "ev__echo", "ev__get-resource-reference"]);
    expect((await bob.listPrompts()).prompts.map((p) => p.name)).toContain("demo__greeting");
    // Streams already open when bob loses the virtual MCP: a legacy one and a sessionless subscriptions/listen.
    const legacy = streamOf(await open("bob", "/sse/team"));
    const listen = streamOf(
      await open("bob", "/mcp/team", {
        body: { jsonrpc: "2.0", id: 1, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true }, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } },
        headers: { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" },
      }),
    );
    await mintgate("groups", "remove", "bob@example.com", "eng");
    // In neither group now: bob may not reach the virtual MCP at all.
    const refused = await waitFor("bob refused", () => bob.listTools().then((): false => false, (error: Error) => error));
    expect(refused.message).toContain('may not use virtual MCP \\"team\\"');
    // His sessions ended with their streams, as for a revoked token: they no longer carry list changes to him.
    await waitFor("bob's streams ended", () => legacy.ended && listen.ended);
    // A group change is no revocation: the sessions end as lost access.
    expect(gateway.output()).toMatch(/session ended: access lost session=\S+ subject=bob@example\.com virtualMcp=team\n/);
    expect(legacy.text()).toStartWith("event: endpoint");
    expect(legacy.text()).not.toContain("list_changed");
    expect(listen.text()).toContain("notifications/subscriptions/acknowledged");
    expect(listen.text()).not.toContain("list_changed");
    // Admitted again, his old session is gone: the client starts a new one.
    await mintgate("groups", "add", "bob@example.com", "ops");
    const gone = await waitFor("bob admitted again", () => bob.listTools().then((): false => false, (error: Error) => !error.message.includes("may not use") && error));
    expect(gone.message).toContain("Session not found: it was closed because bob@example.com lost access to virtual MCP");
  });

  test("disabling a person whose group admits them ends their sessions with the revocation's reason, not as lost access", async () => {
    expect((await runMintgate(["users", "add", "frank@example.com", "--data", dir], { stdin: "correct horse battery\n" })).code).toBe(0);
    await mintgate("groups", "add", "frank@example.com", "eng");
    tokens.frank = (JSON.parse((await mintgate("tokens", "create", "--user", "frank@example.com", "--json")).stdout) as { token: string }).token;
    const frank = await client("frank");
    expect(await toolNames(frank)).toContain("demo__add");
    const legacy = streamOf(await open("frank", "/sse/team"));
    await mintgate("users", "disable", "frank@example.com");
    // The disable reaches the gateway as a store change: the group view and the revocation sweep both see it; the view used to say "lost access" first.
    await waitFor("frank's streams ended", () => legacy.ended);
    const frankLines = () => gateway.output().split("\n").filter((line) => line.includes("session ended") && line.includes("subject=frank@example.com"));
    await waitFor("frank's sessions ended", () => frankLines().length >= 2);
    for (const line of frankLines()) expect(line).toContain('session ended: access revoked session=');
    for (const line of frankLines()) expect(line).toEndWith(' subject=frank@example.com reason="the account was disabled"');
  });

  test("a resource denied to a subscriber (mintgate apply) stops its updates to that person and no one else; the upstream subscription ends with its last subscriber", async () => {
    await mintgate("groups", "add", "bob@example.com", "ops");
    await apply(withWatch("nobody@example.com"));
    const [first, second] = ["ev+demo://resource/dynamic/text/1", "ev+demo://resource/dynamic/text/2"];
    const upstreamUnsubscribes = () => upstreamUnsubscribesOf("demo://resource/dynamic/text/1");
    // The gateway takes the change from another process a moment later.
    const ada = await waitFor("the watch virtual MCP", () => client("ada", "watch").catch((): false => false));
    const bob = await client("bob", "watch");
    const toAda = updatesTo(ada);
    const toBob = updatesTo(bob);
    await ada.subscribeResource({ uri: first });
    await ada.subscribeResource({ uri: second });
    await bob.subscribeResource({ uri: first });
    await updateOnce(bob, () => toAda.includes(first) && toAda.includes(second) && toBob.includes(first));

    await apply(withWatch("ada@example.com"));
    await waitFor("the new policy", () => ada.readResource({ uri: first }).then((): false => false, (error: McpError) => error.code === -32003));
    // Dropped when the policy changed, not only when an update comes: one line says so.
    await waitFor("ada's subscription dropped", () => droppedSubscriptions().length > 0);
    expect(droppedSubscriptions()).toHaveLength(1);
    expect(droppedSubscriptions()[0]).toContain(`subject=ada@example.com virtualMcp=watch uri=${first} reason="denied by watch: resources[\\"${first}\\"].deny.users[\\"ada@example.com\\"]"`);
    toAda.length = 0;
    toBob.length = 0;
    // The upstream sends the first resource's update before the second's: once ada has the second, she would have had the first.
    await updateOnce(bob, () => toAda.includes(second) && toBob.includes(first));
    expect(toAda).toEqual([second]);
    // bob still holds the upstream subscription.
    expect(upstreamUnsubscribes()).toEqual([]);
    expect((await refusalOf(ada.subscribeResource({ uri: first }))).code).toBe(-32003);

    await bob.unsubscribeResource({ uri: first });
    await waitFor("the upstream subscription released", () => upstreamUnsubscribes().length === 1);
  });

  test("a subscription no connector serves any more (the prefix changed) is dropped, and the upstream one with its last subscriber", async () => {
    await apply(withWatch("nobody@example.com"));
    const third = "ev+demo://resource/dynamic/text/3";
    const ada = await waitFor("the watch virtual MCP", () => client("ada", "watch").catch((): false => false));
    await ada.subscribeResource({ uri: third });
    await apply(withWatch("nobody@example.com", { prefix: "moved" }));
    await waitFor("the upstream subscription released", () => upstreamUnsubscribesOf("demo://resource/dynamic/text/3").length === 1);
    expect(droppedSubscriptions().filter((line) => line.includes(`uri=${third} `))).toEqual([expect.stringContaining('reason="no connector of the virtual MCP serves it any more"')]);
  });

  test("a subscription follows its connector when it is redefined (apply with another env restarts it): updates arrive again, and unsubscribing releases the new upstream's", async () => {
    await apply(withWatch("nobody@example.com"));
    const fourth = "ev+demo://resource/dynamic/text/4";
    const ada = await client("ada", "watch");
    const toAda = updatesTo(ada);
    // Refused until the gateway takes the change (the prefix ev again) from another process.
    await waitFor("the ev prefix", () => ada.subscribeResource({ uri: fourth }).then(() => true));
    const readyBefore = readyLinesOf("ev").length;
    await apply(withWatch("nobody@example.com", { evEnv: { MINTGATE_TEST_REDEFINED: "1" } }));
    await waitFor("ev ready again with its new spec", () => readyLinesOf("ev").length > readyBefore);
    await updateOnce(ada, () => toAda.includes(fourth));
    expect(upstreamUnsubscribesOf("demo://resource/dynamic/text/4")).toEqual([]);
    await ada.unsubscribeResource({ uri: fourth });
    await waitFor("the upstream subscription released", () => upstreamUnsubscribesOf("demo://resource/dynamic/text/4").length === 1);
    // Logged before the unsubscribe: one subscribe for each server-everything process, none twice.
    expect(upstreamSubscribesOf("demo://resource/dynamic/text/4")).toHaveLength(2);
  });
});
