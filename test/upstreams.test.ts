/**
 * End to end through real upstream MCP servers: the compiled gateway in a
 * child process, configured with `mintgate apply`, reached by the official
 * SDK Client over Streamable HTTP and over the legacy HTTP+SSE transport.
 *
 * One virtual MCP ("team") holds five connectors, each with its own prefix:
 *   ev     stdio  @modelcontextprotocol/server-everything (stdio mode)
 *   mem    stdio  @modelcontextprotocol/server-memory (MEMORY_FILE_PATH in a temp dir)
 *   fs     stdio  @modelcontextprotocol/server-filesystem (one temp dir allowed)
 *   evh    http   server-everything in Streamable HTTP mode, started here on 127.0.0.1
 *   probe  stdio  test/fixtures/cancel-probe-stdio.ts, which logs every
 *                 notifications/cancelled it receives (the proof that cancellation
 *                 reaches an upstream)
 *
 * A second virtual MCP ("race") holds test/fixtures/list-race-stdio.ts, the
 * deterministic reproduction of a start-up race (see the regression tests at the end).
 * A third ("steady") holds a second cancel-probe, whose settings the tests change
 * while it runs.
 *
 * No timing assertions: every wait is a bounded poll with a generous deadline.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { everythingEntryPath, startEverythingServer, type EverythingServer } from "./conformance/everything-server.ts";
import { startRawSseUpstream, type RawSseUpstream } from "./fixtures/raw-sse-upstream.ts";
import { REPO_ROOT, runMintgate, startConfiguredGateway, tempDir, type RunningGateway } from "./harness.ts";

const SLUG = "team";
const RACE_SLUG = "race";
const STEADY_SLUG = "steady";
const CANCEL_PROBE = join(import.meta.dir, "fixtures", "cancel-probe-stdio.ts");
const PREFIXES = { everything: "ev", memory: "mem", files: "fs", everythingHttp: "evh", probe: "probe" } as const;
/** Tools that must be listed before the tests start: one per connector, plus the ones the tests call. */
const EXPECTED_TOOLS = [
  "ev__echo",
  "ev__trigger-long-running-operation",
  "mem__create_entities",
  "mem__read_graph",
  "fs__read_text_file",
  "evh__echo",
  "evh__trigger-long-running-operation",
  "probe__slow",
  "probe__ping",
];
const FILE_TEXT = "hello from the files connector\nsecond line\n";
/** One of server-everything's static resources, and its text (the file it serves). */
const STATIC_DOC_URI = "demo://resource/static/document/features.md";
const staticDocText = () => readFileSync(join(dirname(everythingEntryPath()), "docs", "features.md"), "utf8");

/** The JS entry a package's bin names, to run with Bun (process.execPath). */
function binEntry(pkg: string): string {
  const manifestPath = Bun.resolveSync(`${pkg}/package.json`, REPO_ROOT);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === "string" ? manifest.bin : Object.values(manifest.bin)[0]!;
  return join(dirname(manifestPath), bin);
}

/** Polls `check` until it returns a value, or throws with `context()` after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, context: () => string = () => "", timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}\n${context()}`);
    }
    await Bun.sleep(50);
  }
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content
    .filter((c) => c.type === "text")
    .map((c) => c.text ?? "")
    .join("\n");
}

interface ProbeEvent {
  event: "started" | "notification" | "aborted" | "finished";
  tag?: string;
  requestId?: string | number;
  reason?: string;
  pid?: number;
}

let gateway: RunningGateway;
let httpUpstream: EverythingServer;
let token: string;
let filesDir: string;
let memoryFile: string;
let probeLog: string;
let steadyLog: string;
const clients: Client[] = [];
/** What the cancellation test observed, checked again by the regression tests. */
const cancelled: { audit?: AuditRecord; clientErrors?: string[] } = {};
/** The race VMCP's catalogue after the held tools/list was answered. */
const race: { after?: { tools: string[]; prompts: string[]; resources: string[] } } = {};

interface AuditRecord {
  exposed_name: string;
  outcome: string;
  error: string | null;
  arguments: string | null;
}

/** The gateway's audit records for one exposed tool, read from its SQLite file (read-only). */
function auditRecordsFor(exposedName: string): AuditRecord[] {
  const db = new Database(join(gateway.dataDir, "mintgate.db"), { readonly: true });
  try {
    return db.query<AuditRecord, [string]>("SELECT exposed_name, outcome, error, arguments FROM call_records WHERE exposed_name = ?").all(exposedName);
  } finally {
    db.close();
  }
}

function probeEvents(logFile = probeLog): ProbeEvent[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as ProbeEvent);
}

/** The "steady" connector's entry (mintgate.yaml or the admin API's body), with `change` on top. */
function steadyConnector(change: { env?: Record<string, string>; timeout?: string } = {}) {
  const { env, ...settings } = change;
  return { name: "steady", kind: "stdio", command: process.execPath, args: [CANCEL_PROBE], env: { CANCEL_PROBE_LOG: steadyLog, ...env }, ...settings };
}

async function adminApi(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${gateway.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${gateway.adminToken()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

async function connectStreamable(slug = SLUG): Promise<Client> {
  const client = new Client({ name: "upstreams-test", version: "0.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/${slug}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  const work = tempDir("mintgate-upstreams");
  // Real paths: server-filesystem compares resolved paths against its allowed directories.
  filesDir = realpathSync(tempDir("mintgate-files"));
  writeFileSync(join(filesDir, "hello.txt"), FILE_TEXT);
  memoryFile = join(realpathSync(tempDir("mintgate-memory")), "memory.jsonl");
  probeLog = join(work, "cancel-probe.jsonl");
  steadyLog = join(work, "steady-probe.jsonl");

  httpUpstream = await startEverythingServer();

  const bun = process.execPath;
  // JSON is YAML too, so the file is written with JSON.stringify: no quoting surprises in paths.
  const config = {
    connectors: [
      { name: "everything", kind: "stdio", command: bun, args: [everythingEntryPath(), "stdio"] },
      { name: "memory", kind: "stdio", command: bun, args: [binEntry("@modelcontextprotocol/server-memory")], env: { MEMORY_FILE_PATH: memoryFile } },
      { name: "files", kind: "stdio", command: bun, args: [binEntry("@modelcontextprotocol/server-filesystem"), filesDir] },
      { name: "everything-http", kind: "http", url: httpUpstream.url },
      { name: "probe", kind: "stdio", command: bun, args: [CANCEL_PROBE], env: { CANCEL_PROBE_LOG: probeLog } },
      { name: "race", kind: "stdio", command: bun, args: [join(import.meta.dir, "fixtures", "list-race-stdio.ts")] },
      steadyConnector(),
    ],
    virtualMcps: [
      {
        slug: SLUG,
        name: "Team",
        access: { everyone: true },
        connectors: [
          { connector: "everything", prefix: PREFIXES.everything },
          { connector: "memory", prefix: PREFIXES.memory },
          { connector: "files", prefix: PREFIXES.files },
          { connector: "everything-http", prefix: PREFIXES.everythingHttp },
          { connector: "probe", prefix: PREFIXES.probe },
        ],
      },
      { slug: RACE_SLUG, name: "List race reproduction", access: { everyone: true }, connectors: [{ connector: "race", prefix: "race" }] },
      { slug: STEADY_SLUG, name: "Settings changed while running", access: { everyone: true }, connectors: [{ connector: "steady", prefix: "steady" }] },
    ],
  };
  ({ gateway, token } = await startConfiguredGateway(config, { label: "mintgate-upstreams" }));

  // Every connector starts in the background; wait until all their tools are listed.
  const client = await connectStreamable();
  await waitFor(
    "every connector's tools to be listed",
    async () => {
      const names = new Set((await client.listTools()).tools.map((t) => t.name));
      return EXPECTED_TOOLS.every((name) => names.has(name)) ? true : undefined;
    },
    () => `gateway output:\n${gateway.output()}`,
    45_000,
  );
  const raceClient = await connectStreamable(RACE_SLUG);
  await waitFor(
    "the list-race connector's tools to be listed",
    async () => ((await raceClient.listTools()).tools.some((t) => t.name === "race__release") ? true : undefined),
    () => `gateway output:\n${gateway.output()}`,
    45_000,
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await gateway?.stop();
  await httpUpstream?.stop();
});

describe("one virtual MCP over four real upstreams and a probe", () => {
  test("tools/list shows every connector's tools under its own prefix", async () => {
    const client = await connectStreamable();
    const tools = (await client.listTools()).tools;
    const names = tools.map((t) => t.name);
    for (const prefix of Object.values(PREFIXES)) {
      expect(names.some((n) => n.startsWith(`${prefix}__`))).toBe(true);
    }
    // Nothing unprefixed leaks through, and no name is listed twice.
    expect(names.every((n) => Object.values(PREFIXES).some((p) => n.startsWith(`${p}__`)))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    // The same upstream over stdio and over HTTP offers the same base tool set.
    const base = (prefix: string) => names.filter((n) => n.startsWith(`${prefix}__`)).map((n) => n.slice(prefix.length + 2)).sort();
    expect(base("evh")).toEqual(base("ev"));
    // Definitions pass through with only the name changed.
    const echo = tools.find((t) => t.name === "ev__echo")!;
    expect(echo.description).toBe("Echoes back the input string");
    expect(echo.inputSchema.properties).toHaveProperty("message");
  });

  test("a tool call reaches each connector", async () => {
    const client = await connectStreamable();

    expect(textOf(await client.callTool({ name: "ev__echo", arguments: { message: "over stdio" } }))).toBe("Echo: over stdio");
    expect(textOf(await client.callTool({ name: "evh__echo", arguments: { message: "over http" } }))).toBe("Echo: over http");

    const created = await client.callTool({
      name: "mem__create_entities",
      arguments: { entities: [{ name: "Ada Lovelace", entityType: "person", observations: ["wrote the first program"] }] },
    });
    expect(created.isError).toBeFalsy();
    const graph = textOf(await client.callTool({ name: "mem__read_graph", arguments: {} }));
    expect(graph).toContain("Ada Lovelace");
    expect(graph).toContain("wrote the first program");
    // The connector's env reached the child: the graph was written where MEMORY_FILE_PATH says.
    expect(readFileSync(memoryFile, "utf8")).toContain("Ada Lovelace");

    const file = await client.callTool({ name: "fs__read_text_file", arguments: { path: join(filesDir, "hello.txt") } });
    expect(file.isError).toBeFalsy();
    expect(textOf(file)).toBe(FILE_TEXT);
    // And the allowed-directory argument holds: outside it is refused by the upstream.
    const outside = await client.callTool({ name: "fs__read_text_file", arguments: { path: memoryFile } });
    expect(outside.isError).toBe(true);

    expect(textOf(await client.callTool({ name: "probe__ping", arguments: { text: "hi" } }))).toBe("pong: hi");
  });

  test("completion: prompt argument completions come from the upstream, context included", async () => {
    const client = await connectStreamable();
    const departments = await client.complete({ ref: { type: "ref/prompt", name: "evh__completable-prompt" }, argument: { name: "department", value: "S" } });
    expect(departments.completion.values).toEqual(["Sales", "Support"]);
    const people = await client.complete({
      ref: { type: "ref/prompt", name: "evh__completable-prompt" },
      argument: { name: "name", value: "" },
      context: { arguments: { department: "Engineering" } },
    });
    expect(people.completion.values).toEqual(["Alice", "Bob", "Charlie"]);
    await expect(client.complete({ ref: { type: "ref/prompt", name: "nope__prompt" }, argument: { name: "x", value: "" } })).rejects.toThrow('There is no prompt "nope__prompt"');
  });

  test("prompts: listed with the prefix and fetched from the upstream", async () => {
    const client = await connectStreamable();
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toContain("evh__simple-prompt");
    expect(prompts).toContain("evh__args-prompt");
    // Only connectors with prompts contribute; the prefix is on every name.
    expect(prompts.every((name) => name.startsWith("evh__") || name.startsWith("ev__"))).toBe(true);

    // Checked on the everything HTTP connector (evh); the stdio one (ev) once lost its prompts to a
    // start-up race, now covered by the list-race regression test below.
    const simple = await client.getPrompt({ name: "evh__simple-prompt" });
    expect(simple.messages[0]?.content).toEqual({ type: "text", text: "This is a simple prompt without arguments." });
    const withArgs = await client.getPrompt({ name: "evh__args-prompt", arguments: { city: "Lyon", state: "Rhône" } });
    expect(withArgs.messages[0]?.content).toEqual({ type: "text", text: "What's weather in Lyon, Rhône?" });
  });

  test("resources: read through the namespaced URI the gateway lists", async () => {
    const client = await connectStreamable();
    const resources = (await client.listResources()).resources.map((r) => r.uri);
    // curation.ts: an exposed URI is `<prefix>+<upstream URI>` (a scheme prefix), routed back by the part before "+".
    const exposed = `${PREFIXES.everythingHttp}+${STATIC_DOC_URI}`;
    expect(resources).toContain(exposed);
    // server-memory's resource is namespaced the same way.
    expect(resources).toContain("mem+memory://knowledge-graph");
    const read = await client.readResource({ uri: exposed });
    expect(read.contents).toHaveLength(1);
    expect(read.contents[0]!.uri).toBe(exposed);
    expect((read.contents[0] as { text: string }).text).toBe(staticDocText());

    // Templates are namespaced the same way, and a URI made from one routes back.
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toContain("evh+demo://resource/dynamic/text/{resourceId}");
    const dynamic = await client.readResource({ uri: "evh+demo://resource/dynamic/text/7" });
    expect(dynamic.contents[0]!.uri).toBe("evh+demo://resource/dynamic/text/7");
    expect((dynamic.contents[0] as { text: string }).text).toContain("7");

    // An unknown prefix is refused by the gateway, not sent upstream.
    await expect(client.readResource({ uri: "nope+demo://resource/dynamic/text/7" })).rejects.toThrow();
  });

  test("resources a tool links to or embeds, or a prompt embeds, are named by their exposed URIs and read back through them", async () => {
    const client = await connectStreamable();
    const links = await client.callTool({ name: "ev__get-resource-links", arguments: { count: 2 } });
    const linked = (links.content as { type: string; uri?: string }[]).filter((c) => c.type === "resource_link").map((c) => c.uri!);
    expect(linked).toEqual(["ev+demo://resource/dynamic/blob/1", "ev+demo://resource/dynamic/text/2"]);
    // The link is one the client can follow: it routes back to the connector that made it.
    const followed = await client.readResource({ uri: linked[1]! });
    expect((followed.contents[0] as { text: string }).text).toContain("Resource 2");

    const reference = await client.callTool({ name: "evh__get-resource-reference", arguments: { resourceType: "Text", resourceId: 4 } });
    const embedded = (reference.content as { type: string; resource?: { uri: string } }[]).find((c) => c.type === "resource")!;
    expect(embedded.resource!.uri).toBe("evh+demo://resource/dynamic/text/4");

    const prompt = await client.getPrompt({ name: "evh__resource-prompt", arguments: { resourceType: "Text", resourceId: "3" } });
    const inPrompt = prompt.messages.map((m) => m.content).find((c) => c.type === "resource") as { resource: { uri: string } };
    expect(inPrompt.resource.uri).toBe("evh+demo://resource/dynamic/text/3");
  });

  test("progress notifications from a long-running tool reach the client (stdio and http upstreams)", async () => {
    const client = await connectStreamable();
    for (const prefix of [PREFIXES.everything, PREFIXES.everythingHttp]) {
      const progress: Progress[] = [];
      const result = await client.callTool(
        { name: `${prefix}__trigger-long-running-operation`, arguments: { duration: 1, steps: 4 } },
        undefined,
        { onprogress: (p) => progress.push(p), timeout: 30_000 },
      );
      expect(textOf(result)).toContain("Long running operation completed");
      expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
      expect(progress.every((p) => p.total === 4)).toBe(true);
    }
  });

  test("cancellation: aborting a call sends notifications/cancelled to the upstream", async () => {
    const client = await connectStreamable();
    const clientErrors: string[] = [];
    client.onerror = (error) => clientErrors.push(error.message);
    const tag = `cancel-${crypto.randomUUID()}`;
    const abort = new AbortController();
    const call = client.callTool({ name: "probe__slow", arguments: { tag, seconds: 60 } }, undefined, { signal: abort.signal, timeout: 90_000 });
    const settled = call.then(
      () => "resolved",
      (error: Error) => `rejected: ${error.message}`,
    );

    const started = await waitFor("the slow call to start upstream", () => probeEvents().find((e) => e.event === "started" && e.tag === tag), () => gateway.output());
    abort.abort("the test gave up");
    expect(await settled).toMatch(/^rejected: /);

    // The upstream got notifications/cancelled for exactly the request it was running...
    const notification = await waitFor(
      "notifications/cancelled at the upstream",
      () => probeEvents().find((e) => e.event === "notification" && e.requestId === started.requestId),
      () => `probe log:\n${JSON.stringify(probeEvents(), null, 1)}\ngateway output:\n${gateway.output()}`,
    );
    expect(notification.requestId).toBe(started.requestId!);
    // ...and the SDK there aborted the handler (the process is still alive, unlike a close).
    await waitFor("the handler to be aborted", () => probeEvents().find((e) => e.event === "aborted" && e.tag === tag));
    expect(probeEvents().some((e) => e.event === "finished" && e.tag === tag)).toBe(false);
    expect(textOf(await client.callTool({ name: "probe__ping", arguments: { text: "still here" } }))).toBe("pong: still here");

    // Every call leaves one audit record; keep it (and what the client saw) for the regression tests below.
    cancelled.audit = await waitFor("the audit record of the cancelled call", () => auditRecordsFor("probe__slow").find((r) => r.arguments?.includes(tag)));
    cancelled.clientErrors = clientErrors;
  });
});

/** A legacy HTTP+SSE client transport to the Virtual MCP, with the token on the event stream and on every POST. */
function legacySseTransport(): SSEClientTransport {
  const authorization = `Bearer ${token}`;
  return new SSEClientTransport(new URL(`${gateway.url}/sse/${SLUG}`), {
    requestInit: { headers: { Authorization: authorization } },
    eventSourceInit: {
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        headers.set("Authorization", authorization);
        return fetch(url, { ...init, headers });
      },
    },
  });
}

describe("legacy HTTP+SSE transport", () => {
  test("/sse/<slug> lists tools and calls one", async () => {
    // Without the token the stream is refused, as /mcp/<slug> is.
    const refused = await fetch(`${gateway.url}/sse/${SLUG}`);
    expect(refused.status).toBe(401);
    await refused.body?.cancel();

    const client = new Client({ name: "upstreams-test-sse", version: "0.0.0" });
    await client.connect(legacySseTransport());
    clients.push(client);

    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const name of EXPECTED_TOOLS) expect(names).toContain(name);
    expect(textOf(await client.callTool({ name: "ev__echo", arguments: { message: "over legacy sse" } }))).toBe("Echo: over legacy sse");
    expect(textOf(await client.callTool({ name: "evh__echo", arguments: { message: "sse to http" } }))).toBe("Echo: sse to http");
  });
});

// Bun closes a connection after 10 s without bytes (its default idleTimeout). The event streams
// are silent while a tool runs: a call of over 10 s without progress lost its answer (ECONNRESET
// on a Streamable HTTP SSE reply; on legacy HTTP+SSE the reply, and the session, were gone).
describe("a call that runs past Bun's idle timeout without sending anything", () => {
  test("gets its answer over Streamable HTTP (SSE reply) and over legacy HTTP+SSE", async () => {
    const legacy = new Client({ name: "upstreams-test-sse-quiet", version: "0.0.0" });
    await legacy.connect(legacySseTransport());
    clients.push(legacy);
    const streamable = await connectStreamable();
    // One step of 13 s: the only progress notification comes with the answer.
    const quiet = { name: "evh__trigger-long-running-operation", arguments: { duration: 13, steps: 1 } };
    const progress: Progress[] = [];
    const [overStreamable, overLegacy] = await Promise.all([
      streamable.callTool(quiet, undefined, { onprogress: (p) => progress.push(p), timeout: 60_000 }),
      legacy.callTool(quiet, undefined, { timeout: 60_000 }),
    ]);
    expect(textOf(overStreamable)).toContain("Long running operation completed");
    expect(progress.map((p) => p.progress)).toEqual([1]);
    expect(textOf(overLegacy)).toContain("Long running operation completed");
    // The legacy session is still there.
    expect(textOf(await legacy.callTool({ name: "ev__echo", arguments: { message: "still here" } }))).toBe("Echo: still here");
  }, 90_000);
});

describe("an upstream that announces tools/list_changed during start-up (list-race fixture)", () => {
  test("the held refresh is released and the new tool shows up", async () => {
    const client = await connectStreamable(RACE_SLUG);
    const snapshot = async () => ({
      tools: (await client.listTools()).tools.map((t) => t.name).sort(),
      prompts: (await client.listPrompts()).prompts.map((p) => p.name),
      resources: (await client.listResources()).resources.map((r) => r.uri),
    });
    // Before the refresh is answered, the catalogue from connect() is complete.
    const before = await snapshot();
    expect(before).toEqual({ tools: ["race__ping", "race__release"], prompts: ["race__greeting"], resources: ["race+race://doc"] });
    expect((await client.getPrompt({ name: "race__greeting" })).messages[0]?.content).toEqual({ type: "text", text: "hello from list-race" });

    expect(textOf(await client.callTool({ name: "race__release", arguments: {} }))).toMatch(/^released [1-9]/);
    race.after = await waitFor("the refreshed tool list", async () => {
      const now = await snapshot();
      return now.tools.includes("race__late-tool") ? now : undefined;
    });
    expect(race.after.tools).toEqual(["race__late-tool", "race__ping", "race__release"]);
    // What happened to prompts and resources is checked by the regression test below.
  });
});

describe("changing a running connector's settings", () => {
  /** Runs steady's slow tool for `seconds` and returns its answer with the pid of the process that ran it. */
  async function steadySlow(client: Client, seconds: number): Promise<{ result: Awaited<ReturnType<Client["callTool"]>>; pid: number | undefined }> {
    const tag = `steady-${crypto.randomUUID()}`;
    const result = await client.callTool({ name: "steady__slow", arguments: { tag, seconds } }, undefined, { timeout: 60_000 });
    return { result, pid: probeEvents(steadyLog).find((e) => e.event === "started" && e.tag === tag)?.pid };
  }

  /** Waits until steady's slow tool runs in a process other than `pid` (the connector restarted), and returns that process's pid. */
  function restartedFrom(client: Client, pid: number): Promise<number> {
    return waitFor(
      `steady's child to be replaced (it was ${pid})`,
      async () => {
        const { result, pid: now } = await steadySlow(client, 0);
        return !result.isError && now !== undefined && now !== pid ? now : undefined;
      },
      () => gateway.output(),
    );
  }

  const steadyListing = async () => ((await adminApi("GET", "/connectors")).json as { name: string; state: string; restarts: number; timeoutMs: number }[]).find((c) => c.name === "steady");

  test("a new timeout alone: the same child goes on, a call in flight finishes, the next call gets the new timeout", async () => {
    const client = await connectStreamable(STEADY_SLUG);
    await waitFor("steady's tools", async () => ((await client.listTools()).tools.some((t) => t.name === "steady__slow") ? true : undefined), () => gateway.output(), 45_000);

    const tag = `in-flight-${crypto.randomUUID()}`;
    let settled = false;
    const inFlight = client.callTool({ name: "steady__slow", arguments: { tag, seconds: 3 } }, undefined, { timeout: 60_000 }).finally(() => (settled = true));
    const started = await waitFor("the slow call to start upstream", () => probeEvents(steadyLog).find((e) => e.event === "started" && e.tag === tag), () => gateway.output());

    // The admin API's PUT answers once the running gateway has taken the change.
    const put = await adminApi("PUT", "/connectors/steady", steadyConnector({ timeout: "1s" }));
    expect(put.json).toMatchObject({ created: false, changes: ["updated connector steady"] });
    const settledBeforeTheChange = settled;
    // Three seconds, past the new timeout: it started under the old one, and its process was left running.
    expect(textOf(await inFlight)).toBe(`slow ${tag} finished`);
    expect(settledBeforeTheChange).toBe(false);

    const next = await steadySlow(client, 10);
    expect(next.result.isError).toBe(true);
    expect(textOf(next.result)).toBe('Connector "steady" did not answer tools/call within 1 s.');
    expect(next.pid).toBe(started.pid!);
    expect(await steadyListing()).toMatchObject({ state: "ready", restarts: 0, timeoutMs: 1000 });
    expect(gateway.output()).toMatch(/info  connector settings changed; applied without a restart connector=steady timeoutMs=1000 previousTimeoutMs=60000\n/);
  }, 60_000);

  test("a new env, through `mintgate apply`, or a new value of a secret it references: the child is restarted, and a call cut off says it can be sent again", async () => {
    const client = await connectStreamable(STEADY_SLUG);
    const { pid: first } = await waitFor("a slow call on steady", async () => {
      const call = await steadySlow(client, 0);
      return call.result.isError ? undefined : call;
    });

    expect((await adminApi("PUT", "/secrets/steady-key", { value: "first-value" })).status).toBe(200);
    const file = join(tempDir("mintgate-steady"), "steady.json");
    // A timeout long enough for a call to be in flight when the secret changes below.
    writeFileSync(file, JSON.stringify({ connectors: [steadyConnector({ env: { STEADY_KEY: "${secret:steady-key}" }, timeout: "30s" })] }));
    const applied = await runMintgate(["apply", "-f", file, "--data", gateway.dataDir]);
    expect(applied).toEqual({ code: 0, stdout: "updated connector steady\n", stderr: "" });
    const second = await restartedFrom(client, first!);

    // A call in flight is cut off by the restart: it said 'Connector "steady" is unavailable: it was stopped during tools/call.'
    const tag = `cut-off-${crypto.randomUUID()}`;
    const inFlight = client.callTool({ name: "steady__slow", arguments: { tag, seconds: 20 } }, undefined, { timeout: 60_000 });
    await waitFor("the call to start upstream", () => probeEvents(steadyLog).find((e) => e.event === "started" && e.tag === tag), () => gateway.output());
    // The PUT answers once the replacement is starting. It keeps listing the same tools meanwhile, so a call
    // made at once waits for it rather than being refused as "starting" while the tool is listed.
    expect((await adminApi("PUT", "/secrets/steady-key", { value: "second-value" })).status).toBe(200);
    const cutOff = 'Connector "steady" restarted during tools/call (a secret it uses changed), so the call did not complete; send it again in a moment.';
    expect(textOf(await inFlight)).toBe(cutOff);
    expect(auditRecordsFor("steady__slow").filter((r) => r.arguments?.includes(tag)).map((r) => [r.outcome, r.error])).toEqual([["error", cutOff]]);
    const atOnce = await steadySlow(client, 0);
    expect(textOf(atOnce.result)).toStartWith("slow steady-");
    expect(atOnce.pid).not.toBe(second);
    expect(gateway.output()).not.toContain("second-value");
  }, 90_000);
});

describe("sse connectors on a misbehaving legacy HTTP+SSE upstream (test/fixtures/raw-sse-upstream.ts)", () => {
  const own: { gateways: RunningGateway[]; upstreams: RawSseUpstream[] } = { gateways: [], upstreams: [] };
  afterAll(async () => {
    await Promise.all(own.gateways.map((g) => g.stop()));
    await Promise.all(own.upstreams.map((u) => u.stop()));
  });

  /** A gateway of its own whose Virtual MCP "legacy" holds one sse connector per upstream, named by `names`. */
  async function behind(upstreams: Record<string, RawSseUpstream>) {
    own.upstreams.push(...Object.values(upstreams));
    const names = Object.keys(upstreams);
    const started = await startConfiguredGateway(
      {
        connectors: names.map((name) => ({ name, kind: "sse", url: upstreams[name]!.url, headers: { "X-Api-Key": "${secret:sse-key}" } })),
        virtualMcps: [{ slug: "legacy", name: "Legacy", access: { everyone: true }, connectors: names.map((connector) => ({ connector })) }],
      },
      { label: "mintgate-raw-sse", secrets: { "sse-key": "k3y-value" } },
    );
    own.gateways.push(started.gateway);
    const state = async (name: string) => ((await fetch(`${started.gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${started.gateway.adminToken()}` } }).then((r) => r.json())) as { name: string; state: string; reason?: string }[]).find((c) => c.name === name);
    const client = new Client({ name: "upstreams-test", version: "0.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${started.gateway.url}/mcp/legacy`), { requestInit: { headers: { Authorization: `Bearer ${started.token}` } } }));
    clients.push(client);
    const call = async (name: string) => {
      const result = await client.callTool({ name, arguments: {} }, undefined, { timeout: 20_000 });
      return { isError: result.isError === true, text: textOf(result) };
    };
    return { gateway: started.gateway, state, call };
  }

  test("a refused POST fails the call with a sentence saying what to check, as the http connector says it: an HTML error page by its title, not its markup", async () => {
    const { state, call } = await behind({ ls: startRawSseUpstream() });
    await waitFor("connector ls ready", async () => ((await state("ls"))?.state === "ready" ? true : undefined));
    // It said the SDK's 'Connector "ls" is unavailable: Error POSTing to endpoint (HTTP 401): Unauthorized.', with nothing to check.
    expect(await call("ls__page")).toEqual({ isError: true, text: 'Connector "ls" answered HTTP 502 with an HTML page titled "502 Bad Gateway": check the upstream\'s log.' });
    expect(await call("ls__locked")).toEqual({
      isError: true,
      text: 'Connector "ls" answered HTTP 401 saying "Unauthorized": the upstream refused the connector\'s credentials; check its headers and the secrets they use.',
    });
    expect(await call("ls__ok")).toEqual({ isError: false, text: "ok" });
  });

  test("an event over the 10 MiB limit fails the call in flight with a sentence saying so, and the connector reconnects", async () => {
    const upstream = startRawSseUpstream();
    const { state, call } = await behind({ ls: upstream });
    await waitFor("connector ls ready", async () => ((await state("ls"))?.state === "ready" ? true : undefined));
    expect(await call("ls__huge")).toEqual({
      isError: true,
      text: 'Connector "ls" is unavailable: the upstream\'s event stream failed (an event from the upstream is longer than 10 MiB) during tools/call.',
    });
    await waitFor("a call to succeed again", async () => ((await call("ls__ok")).isError ? undefined : true));
    expect(upstream.streamsOpened()).toBe(2);
  });

  test("an endpoint event naming another origin gets no POST, nor does a redirect to another origin get the event stream's GET or a POST, and the connector's failure says why, as it does for a refused event stream; a relative endpoint is taken from the stream's URL", async () => {
    let farPort = 0;
    // localhost is another origin than the 127.0.0.1 the connector is configured with, though the same server.
    const far = startRawSseUpstream({ endpoint: (id) => `http://localhost:${farPort}/messages?sessionId=${id}` });
    farPort = Number(new URL(far.url).port);
    // Redirects to another origin, of the event stream and of a POST: taken to `collector`, they would hand it the X-Api-Key header.
    const collected: string[] = [];
    const collector = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => (collected.push(`${request.method} ${request.headers.get("x-api-key")}`), new Response("no")) });
    const collectorUrl = `http://127.0.0.1:${collector.port}/sse`;
    const moved = startRawSseUpstream({ streamMovedTo: collectorUrl });
    const near = startRawSseUpstream({ endpoint: (id) => `messages?sessionId=${id}`, movedTo: collectorUrl });
    // An upstream refusing the event stream itself (a wrong or expired credential): said as the http connector says a refusal, with what to check.
    const locked = startRawSseUpstream({ streamStatus: 401 });
    const { state, call } = await behind({ far, near, locked, moved });
    await waitFor("connector near ready", async () => ((await state("near"))?.state === "ready" ? true : undefined));
    expect(await call("near__ok")).toEqual({ isError: false, text: "ok" });
    const failed = await waitFor("connector far to fail", async () => ((await state("far"))?.reason ? await state("far") : undefined));
    expect(failed).toMatchObject({
      state: "failed",
      reason: `Connector "far" was told by its upstream to send messages to http://localhost:${farPort}, another origin than its url's (http://127.0.0.1:${farPort}); they are not sent there, since they would carry the connector's credentials: have the upstream name an endpoint on http://127.0.0.1:${farPort}, or set the connector's url to http://localhost:${farPort} if you trust it.`,
    });
    expect(await waitFor("connector locked to fail", async () => ((await state("locked"))?.reason ? await state("locked") : undefined))).toMatchObject({
      state: "failed",
      reason: 'Connector "locked" answered HTTP 401 when its event stream was opened: the upstream refused the connector\'s credentials; check its headers and the secrets they use.',
    });
    expect(await waitFor("connector moved to fail", async () => ((await state("moved"))?.reason ? await state("moved") : undefined))).toMatchObject({
      state: "failed",
      reason: `Connector "moved" answered HTTP 307 redirecting to ${collectorUrl} when its event stream was opened; redirects are not followed, since they would carry the connector's credentials there: set the connector's url to that address if you trust it.`,
    });
    expect(await call("near__moved")).toEqual({
      isError: true,
      text: `Connector "near" answered HTTP 307 redirecting to ${collectorUrl}; redirects are not followed, since they would carry the connector's credentials there: set the connector's url to that address if you trust it.`,
    });
    expect(collected).toEqual([]);
    await collector.stop(true);
    expect(far.apiKeys()).toEqual([]);
    expect(near.apiKeys()).toContain("k3y-value");
  });
});

describe("regressions found by these tests", () => {
  // A tools/list_changed that arrives while the connector is still fetching its first
  // catalogue once wiped prompts and resources (list-race-stdio.ts forces that order).
  test("a tools/list_changed during start-up does not wipe prompts and resources", () => {
    expect(race.after).toBeDefined();
    expect(race.after!.prompts).toEqual(["race__greeting"]);
    expect(race.after!.resources).toEqual(["race+race://doc"]);
  });

  // A client-cancelled call was once recorded as a timeout and answered anyway.
  test("a cancelled call is recorded as 'cancelled'", () => {
    expect(cancelled.audit).toBeDefined();
    expect(cancelled.audit!.outcome).toBe("cancelled");
    // It said "The request was cancelled.", as for a call cut off by its client closing the session.
    expect(cancelled.audit!.error).toBe("The client cancelled the request before it finished, so no answer was sent (MCP sends none to a cancelled request).");
  });

  test("no response is sent for a request the client cancelled", () => {
    expect(cancelled.clientErrors).toBeDefined();
    expect(cancelled.clientErrors!.filter((m) => m.includes("unknown message ID"))).toEqual([]);
  });
});
