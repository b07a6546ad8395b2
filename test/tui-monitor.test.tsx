import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { render } from "ink-testing-library";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import { appendToChain } from "../src/audit/index.ts";
import type { AuditRecordView } from "../src/audit/query.ts";
import { openStore, type NewAuditRow } from "../src/store/index.ts";
import { App } from "../tui/App.tsx";
import { progressText } from "../tui/components/ProgressBar.tsx";
import { recordLines } from "../tui/components/RecordDetail.tsx";
import { recordSubject } from "../tui/components/recordSubject.ts";
import { auditScreen, searchQuery, DEFAULT_SEARCH, SEARCH_FIELDS } from "../tui/screens/Audit.tsx";
import { liveCallsScreen, matches, parseFilter, Ring, RING_SIZE } from "../tui/screens/LiveCalls.tsx";
import { byTool, Overview, percent, sparkline, sparklinePoints } from "../tui/screens/Overview.tsx";
import type { ScreenProps } from "../tui/screens/types.ts";
import { frameContaining, press } from "./fixtures/ink-keys.ts";
import { connectMcpClient, REPO_ROOT, startConfiguredGateway, startGateway, tempDir, waitFor, type ConfiguredGateway } from "./harness.ts";

/**
 * The TUI's monitoring screens: Overview, Live calls and Audit, rendered
 * with ink-testing-library, driven with keys, against a real gateway with
 * the builtin demo connector and calls made by an official SDK client.
 */

const DOWN = "\u001B[B";
const RIGHT = "\u001B[C";
const ESC = "\u001B";
const ENTER = "\r";
const TAB = "\t";
const CTRL_S = "\u0013";



function record(id: number, over: Partial<AuditRecordView> = {}): AuditRecordView {
  return {
    id, at: new Date().toISOString(), kind: "mcp", person: "alice@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: "ops", connector: "demo",
    method: "tools/call", exposedName: "demo__echo", upstreamName: "echo", arguments: '{"text":"hi"}', result: '{"content":[{"type":"text","text":"hi"}]}', resultSize: 40, outcome: "ok", error: null, durationMs: 1.5,
    detail: null, prevHash: "", hash: "", ...over,
  };
}

describe("pieces", () => {
  test("the sparkline scales to the window's peak; none is the lowest bar", () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe("▁▃▄▅█");
    expect(sparkline([0, 0])).toBe("▁▁");
  });

  test("a rate reads 0% or 100% only when it is exactly that", () => {
    expect([percent(0, 0), percent(0, 5), percent(5, 5), percent(199, 200), percent(1, 3000), percent(2999, 3000), percent(1, 3), percent(1, 20), percent(19, 20)]).toEqual(["0%", "0%", "100%", "99.5%", "<0.1%", ">99.9%", "33%", "5.0%", "95.0%"]);
  });

  test("the progress bar shows done/total without colour", () => {
    expect(progressText(5, 10, 16)).toBe("█████░░░░░  50%");
    expect(progressText(0, 0, 16)).toBe("░░░░░░░░░░   0%");
  });

  test("the ring keeps the newest records and merges fetched ones (an older backlog, a gap) in id order without duplicates", () => {
    const ring = new Ring<{ id: number }>(3);
    for (let id = 10; id <= 14; id++) ring.push({ id });
    expect(ring.newestFirst().map((r) => r.id)).toEqual([14, 13, 12]);
    const big = new Ring<{ id: number }>(5);
    for (let id = 10; id <= 12; id++) big.push({ id });
    big.merge([{ id: 11 }, { id: 9 }, { id: 8 }]);
    expect(big.newestFirst().map((r) => r.id)).toEqual([12, 11, 10, 9, 8]);
    const gap = new Ring<{ id: number }>(5);
    for (const id of [1, 2, 6]) gap.push({ id });
    gap.merge([{ id: 6 }, { id: 5 }, { id: 4 }, { id: 3 }]);
    expect(gap.newestFirst().map((r) => r.id)).toEqual([6, 5, 4, 3, 2]);
    expect(gap.newestId()).toBe(6);
    for (let id = 13; id <= 2000; id++) big.push({ id });
    expect(big.length).toBe(5);
  });

  test("inline filters: person:, vmcp:, tool:, outcome: and bare words", () => {
    const echo = record(1);
    const failed = record(2, { person: "bob@example.com", exposedName: "demo__add", outcome: "error" });
    expect(matches(echo, parseFilter("person:ALICE"))).toBe(true);
    expect(matches(failed, parseFilter("person:alice"))).toBe(false);
    expect(matches(failed, parseFilter("tool:add outcome:err"))).toBe(true);
    expect(matches(echo, parseFilter("v:ops echo"))).toBe(true);
    expect(matches(echo, parseFilter("nothing-like-it"))).toBe(false);
  });

  test("an upstream's question reads as the question and the tool it was asked during, not as a second call of that tool", () => {
    const question = record(3, { method: "elicitation/create", exposedName: "demo__ask", durationMs: 42_000 });
    expect(recordSubject(question)).toBe("elicitation/create for demo__ask");
    expect(recordSubject(record(4, { method: "sampling/createMessage", exposedName: "demo__ask" }))).toBe("sampling/createMessage for demo__ask");
    expect(recordSubject(record(5))).toBe("demo__echo");
    expect(recordSubject(record(6, { kind: "admin", method: "virtual-mcp.update", exposedName: "ops" }))).toBe("virtual-mcp.update ops");
    expect(matches(question, parseFilter("tool:elicitation"))).toBe(true);
    expect(matches(question, parseFilter("tool:ask"))).toBe(true);
  });

  test("a record's detail shows its arguments and result as stored, long lines broken rather than cut", () => {
    const lines = recordLines(record(7, { result: JSON.stringify({ text: "x".repeat(200) }) }), 60);
    expect(lines.join("\n")).toContain('"text": "hi"');
    expect(lines.every((l) => l.length <= 60)).toBe(true);
    expect(lines.join("").replaceAll("↪", "")).toContain("x".repeat(200));
  });

  test("top tools: one row per tool, summed over Virtual MCPs, busiest first", () => {
    const row = (virtualMcp: string, tool: string, calls: number, errors: number, denied: number) => ({ virtualMcp, tool, connector: "demo", calls, ok: calls - errors - denied, errors, timeouts: 0, denied, cancelled: 0, p50Ms: 1, p95Ms: 2, p99Ms: 3 });
    expect(byTool([row("a", "echo", 3, 1, 0), row("a", "add", 4, 0, 0), row("b", "echo", 2, 0, 1)])).toEqual([
      { tool: "echo", calls: 5, errors: 1, denied: 1 },
      { tool: "add", calls: 4, errors: 0, denied: 0 },
    ]);
  });

  test("the audit search becomes the admin API's query", () => {
    expect(searchQuery(DEFAULT_SEARCH)).toBe("since=24h");
    expect(searchQuery({ ...DEFAULT_SEARCH, since: "", person: "a@b.c", tool: "demo__add", outcome: "error" })).toBe("user=a%40b.c&tool=demo__add&outcome=error");
  });
});

describe("Overview (rendered)", () => {
  const status = { version: "9.9.9", uptimeSeconds: 3725, startedAt: "2026-01-01T00:00:00.000Z", dataDir: "/srv/mintgate", schemaVersion: 2, secrets: { count: 4 }, connectors: { total: 2, ready: 1 }, virtualMcps: 1, sessions: 5, pendingApprovals: [] };
  const timeline = (points: number) => ({
    stepMs: 5000,
    buckets: Array.from({ length: points }, (_, i) => ({ at: i * 5000, calls: i === points - 2 ? 50 : i % 3, errors: 0, denied: 0 })),
    total: { calls: 0, ok: 0, errors: 0, denied: 0, p50Ms: null, p95Ms: null },
  });
  const data = {
    hour: { calls: 200, ok: 176, errors: 20, denied: 4, p50Ms: 3.2, p95Ms: 41 },
    tools: [{ virtualMcp: "ops", tool: "demo__add", connector: "demo", calls: 150, ok: 140, errors: 10, timeouts: 0, denied: 0, cancelled: 0, p50Ms: 2, p95Ms: 9, p99Ms: 12 }],
    people: [{ person: "alice@example.com", calls: 120, ok: 110, errors: 10, timeouts: 0, denied: 4, cancelled: 0, p50Ms: 2, p95Ms: 9, p99Ms: 12 }],
    connectors: [
      { name: "demo", kind: "builtin", state: "ready", restarts: 0, lastError: undefined, tools: 4, prompts: 0, resources: 0 },
      { name: "github", kind: "stdio", state: "failed", reason: "spawn npx ENOENT", restarts: 3, lastError: "spawn npx ENOENT", tools: 0, prompts: 0, resources: 0 },
    ] as never,
  };

  for (const [width, height] of [[78, 20], [98, 28], [60, 24]] as const) {
    test(`health, calls/s sparkline, rates, latency, top tools and people, connector states at ${width + 2} columns`, () => {
      const points = sparklinePoints(width - 2);
      const { lastFrame } = render(<Overview url="http://127.0.0.1:8080" status={status} error={undefined} width={width} height={height} timeline={timeline(points)} {...data} />);
      const frame = lastFrame()!;
      for (const text of ["● healthy", "mintgate 9.9.9", "up 1h 2m", "Connectors 1/2 ready", "Sessions 5"]) expect(frame).toContain(text);
      expect(frame).toMatch(new RegExp(`Calls/s +[▁▂▃▄▅▆▇█]{${points}} now 10/s`));
      if (width >= 78) {
        expect(frame).toContain("Secrets 4");
        expect(frame).toContain(`peak 10/s · ${Math.round((points * 5) / 60)} min`);
        expect(frame).toContain("200 calls · errors 10% · denied 2.0% · p50 3.2 ms · p95 41 ms");
      } else {
        // Too narrow for the tables side by side: one above the other.
        expect(frame).toMatch(/Top tools · last hour\n(.*\n){2}\s*Top people/);
      }
      expect(frame).toContain("● demo ready");
      expect(frame).toContain("✗ github failed (3 restarts)");
      expect(frame).toContain("✗ github: spawn npx ENOENT");
      expect(frame).toContain("Top tools · last hour");
      expect(frame).toMatch(/demo__add +150 +6\.7% +0/);
      expect(frame).toMatch(/alice@example\.c\S* +120 +8\.3% +4/);
      for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(width + 2);
    });
  }

  test("nothing called yet: the tables say so", () => {
    const { lastFrame } = render(<Overview url="u" status={status} error={undefined} tools={[]} people={[]} connectors={[]} />);
    expect(lastFrame()).toContain("No tool calls in the last hour.");
    expect(lastFrame()).toContain("no connectors");
  });

  test("one of a thing is said in the singular: 1 call, 1 restart", () => {
    const hour = { ...data.hour, calls: 1, ok: 1, errors: 0, denied: 0 };
    const connectors = [{ name: "github", kind: "stdio", state: "failed", reason: "spawn npx ENOENT", restarts: 1, lastError: "spawn npx ENOENT", tools: 0, prompts: 0, resources: 0 }] as never;
    const frame = render(<Overview url="u" status={status} error={undefined} width={98} height={28} timeline={timeline(sparklinePoints(96))} {...data} hour={hour} connectors={connectors} />).lastFrame()!;
    expect(frame).toContain("1 call · errors 0%");
    expect(frame).toContain("✗ github failed (1 restart)");
  });
});

describe("Live calls keeps up with 200 calls/s", () => {
  test("a ring of 1000 records and at most ~10 renders a second", async () => {
    let sent = 0;
    const fake = {
      url: "http://fake",
      async *events(_path: string, signal: AbortSignal) {
        while (!signal.aborted && sent < 600) {
          for (let i = 0; i < 20; i++) {
            sent++;
            yield { event: "record", data: JSON.stringify(record(sent, { exposedName: `tool_${sent}` })) };
          }
          await Bun.sleep(100);
        }
        await new Promise((resolve) => signal.addEventListener("abort", resolve));
      },
      get: async () => [],
    };
    const Screen = liveCallsScreen.Component;
    const props: ScreenProps = { client: fake as never, width: 98, height: 26, setCapturing: () => {} };
    const { lastFrame, frames, unmount } = render(<Screen {...props} />);
    const startFrames = frames.length;
    const started = Date.now();
    await frameContaining(lastFrame, "tool_600", 300);
    const seconds = (Date.now() - started) / 1000;
    const renders = frames.length - startFrames;
    console.log(`600 records in ${seconds.toFixed(1)} s: ${renders} frames written`);
    expect(renders).toBeLessThanOrEqual(Math.ceil(seconds * 12) + 5);
    expect(lastFrame()).toContain(`600 shown · 600/${RING_SIZE} kept`);
    unmount();
  });
});

describe("Audit export progress", () => {
  test("a bar of records written against the gateway's count while the export streams; a server refusal is shown", async () => {
    let refuse = false;
    const fake = {
      url: "http://fake",
      get: async (path: string) => (path.startsWith("/audit/count") ? { count: 30 } : []),
      async download(_path: string, write: (chunk: Uint8Array) => Promise<void>, onProgress: (bytes: number) => void) {
        if (refuse) throw new Error("format must be jsonl or csv, not \"xml\".");
        let bytes = 0;
        for (let part = 0; part < 3; part++) {
          const chunk = new TextEncoder().encode(Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: part * 10 + i + 1 }) + "\n").join(""));
          await write(chunk);
          bytes += chunk.byteLength;
          onProgress(bytes);
          await Bun.sleep(400);
        }
        return bytes;
      },
    };
    const Screen = auditScreen.Component;
    const { lastFrame, stdin, unmount } = render(<Screen client={fake as never} width={78} height={20} setCapturing={() => {}} />);
    await frameContaining(lastFrame, "No records match");
    const path = join(tempDir("tui-export-progress"), "slow.jsonl");
    await press(stdin, "e");
    await frameContaining(lastFrame, "Export the audit trail");
    stdin.write(path);
    await Bun.sleep(30);
    await press(stdin, TAB, ENTER);
    const during = await frameContaining(lastFrame, "10/30 records");
    expect(during).toMatch(/Exporting █+░+ +33% 10\/30 records · 91 B/);
    await frameContaining(lastFrame, "20/30 records");
    expect(await frameContaining(lastFrame, "✓ Exported 30 records")).toContain(path.slice(0, 20));
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(30);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    refuse = true;
    await press(stdin, "e");
    await frameContaining(lastFrame, "Export the audit trail");
    stdin.write(path + ".2");
    await Bun.sleep(30);
    await press(stdin, TAB, ENTER);
    expect(await frameContaining(lastFrame, "✗ Export failed")).toContain('✗ Export failed: format must be jsonl or csv, not "xml".');
    expect(existsSync(path + ".2")).toBe(false);
    unmount();
  });
});

const CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: ops
    name: Ops
    connectors: [{ connector: demo }]
    access: { everyone: true }
`;

describe("against a running gateway", () => {
  let configured: ConfiguredGateway;
  let admin: AdminClient;
  let mcp: Client;
  beforeAll(async () => {
    configured = await startConfiguredGateway(CONFIG, { user: "alice@example.com", label: "tui-monitor" });
    admin = new AdminClient(locateGateway({ dataDir: configured.dataDir }));
    await waitFor("the demo connector", async () => (await admin.get<{ state: string }[]>("/connectors"))[0]?.state === "ready");
    mcp = await connectMcpClient(`${configured.gateway.url}/mcp/ops`, configured.token);
    for (let i = 0; i < 3; i++) await mcp.callTool({ name: "demo__add", arguments: { a: i, b: 1 } });
    await mcp.callTool({ name: "demo__echo", arguments: { text: "hello from the test" } });
    await mcp.callTool({ name: "demo__missing", arguments: {} });
  });
  afterAll(async () => {
    await mcp?.close();
    await configured?.gateway.stop();
  });

  test("the admin API behind them: /stats/timeline buckets and totals, /audit/count, refusals in a sentence", async () => {
    const timeline = await admin.get<{ stepMs: number; buckets: { calls: number; errors: number }[]; total: { calls: number; errors: number; p50Ms: number | null } }>("/stats/timeline?last=5m&step=5s");
    expect(timeline.stepMs).toBe(5000);
    expect(timeline.buckets).toHaveLength(60);
    expect(timeline.buckets.reduce((sum, b) => sum + b.calls, 0)).toBe(5);
    expect(timeline.buckets.reduce((sum, b) => sum + b.errors, 0)).toBe(1);
    expect(timeline.total).toMatchObject({ calls: 5, errors: 1 });
    expect(timeline.total.p50Ms).not.toBeNull();
    expect((await admin.get<{ count: number }>("/audit/count?tool=demo__add&kind=mcp")).count).toBe(3);
    await expect(admin.get("/stats/timeline?last=1d&step=1s")).rejects.toThrow("more than 1000 buckets");
    await expect(admin.get("/audit/count?since=yesterday-ish")).rejects.toThrow("since must be an ISO 8601 time");
    // Every outcome and kind the audit search offers is one the API takes ("any" sends none).
    for (const name of ["outcome", "kind"]) {
      const choices = SEARCH_FIELDS.find((f) => f.name === name)!.choices!;
      for (const choice of choices.filter((c) => c !== "any")) {
        const search = { ...DEFAULT_SEARCH, [name]: choice };
        expect((await admin.get<{ count: number }>(`/audit/count?${searchQuery(search)}`)).count).toBeGreaterThanOrEqual(0);
      }
      expect(choices).toContain("any");
    }
  });

  test("Overview: health, calls in the sparkline and the last hour, top tools and people, connector states", async () => {
    const { lastFrame, unmount } = render(<App client={admin} />);
    const frame = await frameContaining(lastFrame, (f) => f.includes("demo__add") && f.includes("alice@example.com") && f.includes("● demo ready"));
    expect(frame).toContain("● healthy");
    expect(frame).toMatch(/Last hour +5 calls · errors 20% · denied 0%/);
    expect(frame).toMatch(/demo__add +3 +0% +0/);
    expect(frame).toMatch(/alice@example\.com +5 +20% +0/);
    expect(frame).toMatch(/Calls\/s +▁*[▂▃▄▅▆▇█]/);
    unmount();
  });

  test("Live calls: a new call appears with its outcome; filter, pause and resume, open a call", async () => {
    const { lastFrame, stdin, unmount } = render(<App client={admin} />);
    await frameContaining(lastFrame, "healthy");
    await press(stdin, "l");
    // The backlog of calls made before the screen opened.
    await frameContaining(lastFrame, (f) => f.includes("● live") && f.includes("demo__missing"));
    await mcp.callTool({ name: "demo__echo", arguments: { text: "live one" } });
    let frame = await frameContaining(lastFrame, (f) => (f.match(/demo__echo/g) ?? []).length >= 2);
    expect(frame).toMatch(/alice@example\.com +ops +demo__echo +✓ ok/);
    expect(frame).toMatch(/demo__missing +✗ error/);

    // Inline filter: the screen captures keys ("o" would otherwise open the Overview).
    await press(stdin, "/", ..."tool:missing o:error");
    frame = await frameContaining(lastFrame, (f) => !f.includes("demo__echo") && f.includes("demo__missing"));
    expect(frame).toContain("Filter › tool:missing o:error");
    await press(stdin, ENTER);
    frame = await frameContaining(lastFrame, "Filter tool:missing o:error");
    expect(frame).toContain("1 shown");
    await press(stdin, ESC);
    await frameContaining(lastFrame, "No filter");

    // Pause: new calls are counted, not shown; resume shows them.
    await press(stdin, " ");
    await frameContaining(lastFrame, "‖ paused");
    await mcp.callTool({ name: "demo__add", arguments: { a: 40, b: 2 } });
    frame = await frameContaining(lastFrame, "1 new");
    expect(frame.match(/demo__add/g)?.length).toBe(3);
    await press(stdin, " ");
    frame = await frameContaining(lastFrame, (f) => f.includes("● live") && (f.match(/demo__add/g) ?? []).length === 4);

    // Open the newest call: its arguments and result as stored.
    await press(stdin, DOWN, ENTER);
    frame = await frameContaining(lastFrame, "Arguments (as stored, redacted):");
    expect(frame).toContain('"a": 40');
    expect(frame).toContain("Result (as stored, redacted):");
    expect(frame).toContain("✓ ok");
    await press(stdin, " ");
    expect(await frameContaining(lastFrame, "lines 8–")).toContain('"text": "42"');
    await press(stdin, ESC);
    await frameContaining(lastFrame, "● live");
    unmount();
  });

  test("Audit: search with validation, verify the chain, export to a file with progress", async () => {
    const Screen = auditScreen.Component;
    let capturing = false;
    const { lastFrame, stdin, unmount } = render(<Screen client={admin} width={98} height={30} setCapturing={(c) => (capturing = c)} />);
    let frame = await frameContaining(lastFrame, "demo__missing");
    expect(frame).toContain("Search since 24h");
    expect(frame).toMatch(/mcp +alice@example\.com +ops +demo__echo +✓ ok/);

    // Search: a wrong time is refused before anything is sent; outcome and kind are picked from what the API takes.
    await press(stdin, "f");
    frame = await frameContaining(lastFrame, "Search the audit trail");
    expect(frame).toMatch(/Outcome +\[any\] +ok +error +denied +timeout +cancelled +refused/);
    expect(frame).toMatch(/Kind +\[any\] +mcp +auth +admin/);
    await waitFor("the form to capture keys", () => capturing === true);
    await press(stdin, "\u0015", ..."soon", TAB, TAB, TAB, TAB, ..."demo__add", TAB, RIGHT, CTRL_S);
    await frameContaining(lastFrame, "✗ Since: use an age such as 15m");
    expect(frame).not.toContain("tool demo__add");
    await press(stdin, "\u0015", ..."24h", CTRL_S);
    frame = await frameContaining(lastFrame, "tool demo__add · outcome ok");
    expect(frame).not.toContain("kind");
    await waitFor("the form to release keys", () => capturing === false);
    frame = await frameContaining(lastFrame, (f) => !f.includes("demo__echo") && f.includes("demo__add"));
    expect(frame).toMatch(/\d+ records/);

    // Verify the chain.
    await press(stdin, "V");
    frame = await frameContaining(lastFrame, "✓ Chain intact");
    const report = await admin.get<{ records: number }>("/audit/verify");
    expect(frame).toMatch(/✓ Chain intact: \d+ records/);
    expect(report.records).toBeGreaterThan(5);

    // Export the search: an existing file is refused, a new one written.
    const dir = tempDir("tui-export");
    const path = join(dir, "calls.jsonl");
    await Bun.write(join(dir, "taken.jsonl"), "x");
    await press(stdin, "e");
    await frameContaining(lastFrame, "Export the audit trail to a file");
    stdin.write(join(dir, "taken.jsonl"));
    await Bun.sleep(30);
    await press(stdin, TAB, ENTER);
    await frameContaining(lastFrame, "already exists; choose a new file");
    await press(stdin, "\u001B[A", "\u0015");
    stdin.write(path);
    await Bun.sleep(30);
    await press(stdin, TAB, ENTER);
    frame = await frameContaining(lastFrame, "✓ Exported");
    expect(existsSync(path)).toBe(true);
    const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as AuditRecordView);
    const expected = await admin.get<{ count: number }>(`/audit/count?${searchQuery({ ...DEFAULT_SEARCH, tool: "demo__add", outcome: "ok" })}`);
    expect(lines.length).toBe(expected.count);
    expect(lines.every((r) => r.exposedName === "demo__add" && r.outcome === "ok")).toBe(true);
    expect(frame).toContain(`✓ Exported ${expected.count} records`);
    expect(frame).toContain(path.slice(0, 20));

    // Enter opens the selected record.
    await press(stdin, ENTER);
    frame = await frameContaining(lastFrame, "Arguments (as stored, redacted):");
    expect(frame).toContain('"a":');
    await press(stdin, ESC);
    await frameContaining(lastFrame, "V verify chain");
    unmount();
  });

  test("Audit export of everything as csv: the progress bar's total is the record count", async () => {
    const Screen = auditScreen.Component;
    const { lastFrame, stdin, unmount } = render(<Screen client={admin} width={78} height={20} setCapturing={() => {}} />);
    await frameContaining(lastFrame, "demo__missing");
    await press(stdin, "f", "\u0015", ENTER, ENTER, ENTER, ENTER, ENTER, ENTER, ENTER);
    await frameContaining(lastFrame, "Search all time");
    const path = join(tempDir("tui-export-csv"), "all.csv");
    const frame = await exportCsv(stdin, lastFrame, path);
    const rows = readFileSync(path, "utf8").trim().split("\n");
    expect(rows[0]).toStartWith("id,at,kind,person");
    expect(frame).toContain(`✓ Exported ${rows.length - 1} records`);
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(78);
    unmount();
  });

  test("Live calls under 200 calls/s from SDK clients: every call arrives, about 10 redraws a second", async () => {
    const Screen = liveCallsScreen.Component;
    const { lastFrame, frames, unmount } = render(<Screen client={admin} width={98} height={20} setCapturing={() => {}} />);
    await frameContaining(lastFrame, "● live");
    const extra = await Promise.all(Array.from({ length: 3 }, () => connectMcpClient(`${configured.gateway.url}/mcp/ops`, configured.token)));
    await Bun.sleep(300);
    const start = frames.length;
    const started = Date.now();
    // 400 calls at 200 a second: 20 every 100 ms over four clients.
    const calls: Promise<unknown>[] = [];
    for (let tick = 0; tick < 20; tick++) {
      for (let i = 0; i < 20; i++) calls.push([mcp, ...extra][i % 4]!.callTool({ name: "demo__add", arguments: { a: tick, b: i } }));
      await Bun.sleep(100);
    }
    await Promise.all(calls);
    const all = (await admin.get<{ count: number }>("/audit/count?kind=mcp")).count;
    await frameContaining(lastFrame, `${all} shown`);
    const seconds = (Date.now() - started) / 1000;
    const redraws = frames.length - start;
    console.log(`400 calls at 200/s: all on screen after ${seconds.toFixed(1)} s, ${redraws} frames written (${(redraws / seconds).toFixed(1)}/s)`);
    expect(redraws / seconds).toBeLessThanOrEqual(13);
    for (const client of extra) await client.close();
    unmount();
  });

  test("Audit: a search with more than a page of records loads older pages as the selection moves past the last one", async () => {
    // 1,100 calls from two days ago, appended to the running gateway's chain by a second writer (as a CLI command would).
    const store = openStore(join(configured.dataDir, "mintgate.db"));
    const at = Date.now() - 2 * 86_400_000;
    const rows: NewAuditRow[] = Array.from({ length: 1100 }, (_, i) => ({
      at: at + i, kind: "mcp", person: "bulk@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: "ops", connector: "demo",
      method: "tools/call", exposedName: "bulk__tool", upstreamName: "tool", arguments: `{"n":${i}}`, result: null, resultSize: null, outcome: "ok", error: null, durationMs: 1, detail: null,
    }));
    try {
      appendToChain(store, rows);
    } finally {
      store.close();
    }
    await expect(admin.get("/audit?before=soon")).rejects.toThrow("before must be the id of a record");

    const Screen = auditScreen.Component;
    const { lastFrame, stdin, unmount } = render(<Screen client={admin} width={98} height={20} setCapturing={() => {}} />);
    await frameContaining(lastFrame, /\d+ records/);
    await press(stdin, "f", "\u0015", ..."3d", TAB, TAB, TAB, TAB, ..."bulk__tool", CTRL_S);
    let frame = await frameContaining(lastFrame, "500+ records");
    expect(frame).toContain("1–14 of 500");
    await press(stdin, ENTER);
    expect(await frameContaining(lastFrame, "Arguments (as stored, redacted):")).toContain('"n": 1099');
    await press(stdin, ESC);
    await frameContaining(lastFrame, "V verify chain");
    // PgDn to the end of the first page: the second page loads, and the selection can go on into it.
    for (let i = 0; i < 45 && !lastFrame()!.includes("1000+ records"); i++) await press(stdin, "\u001B[6~");
    frame = await frameContaining(lastFrame, "1000+ records");
    for (let i = 0; i < 90 && !lastFrame()!.includes("1100 records"); i++) await press(stdin, "\u001B[6~");
    frame = await frameContaining(lastFrame, "1100 records");
    expect(frame).not.toContain("1100+ records");
    for (let i = 0; i < 20 && !lastFrame()!.includes("–1100 of 1100"); i++) await press(stdin, "\u001B[6~");
    frame = await frameContaining(lastFrame, "–1100 of 1100");
    // PgDn stops at the last record; past it nothing more loads.
    await press(stdin, "\u001B[6~", DOWN);
    expect(lastFrame()).toContain("1100 records");
    await press(stdin, ENTER);
    frame = await frameContaining(lastFrame, "Arguments (as stored, redacted):");
    expect(frame).toContain('"n": 0');
    unmount();
  }, 60_000);
});

/** In the Audit screen: e, the file name, → to csv, Enter; the frame that says it is done. */
async function exportCsv(stdin: { write(data: string): void }, lastFrame: () => string | undefined, path: string): Promise<string> {
  await press(stdin, "e");
  await frameContaining(lastFrame, "Export the audit trail");
  stdin.write(path);
  await Bun.sleep(30);
  await press(stdin, TAB, "\u001b[C", ENTER);
  return frameContaining(lastFrame, "✓ Exported");
}

/** A gateway of its own (it is restarted) and the Live calls screen on it, found through its data dir as the TUI does. */
async function liveCallsOnNewGateway(label: string) {
  const configured = await startConfiguredGateway(CONFIG, { user: "alice@example.com", label });
  const admin = new AdminClient(locateGateway({ dataDir: configured.dataDir }));
  const Screen = liveCallsScreen.Component;
  return { configured, admin, ...render(<Screen client={admin} width={98} height={30} setCapturing={() => {}} />) };
}

describe("Live calls across a gateway restart", () => {
  test("calls committed while the feed reconnected are shown, not silently skipped", async () => {
    const { configured, admin, lastFrame, unmount } = await liveCallsOnNewGateway("tui-live-restart");
    let gateway = configured.gateway;
    try {
      const before = await connectMcpClient(`${gateway.url}/mcp/ops`, configured.token);
      await before.callTool({ name: "demo__echo", arguments: { text: "before" } });
      await before.close();
      await frameContaining(lastFrame, (f) => f.includes("● live") && f.includes("demo__echo"));

      // The gateway restarts; calls are made before the screen's feed is back.
      await gateway.stop();
      gateway = await startGateway({ dataDir: configured.dataDir, args: ["--port", new URL(gateway.url).port] });
      const after = await connectMcpClient(`${gateway.url}/mcp/ops`, configured.token);
      for (let i = 0; i < 3; i++) await after.callTool({ name: "demo__add", arguments: { a: i, b: 1 } });
      await after.close();

      const frame = await frameContaining(lastFrame, (f) => f.includes("● live") && (f.match(/demo__add/g) ?? []).length === 3);
      // Both sessions' initialize, the echo and the three adds: every MCP record in the trail.
      const all = (await admin.get<{ count: number }>("/audit/count?kind=mcp")).count;
      expect(frame).toContain(`${all} shown`);
      expect(frame).not.toContain("dropped");
    } finally {
      unmount();
      await gateway.stop();
    }
  });
});

describe("Live calls after a gateway restart on another port", () => {
  test("the feed follows server.url to the new gateway, as the other screens do", async () => {
    const { configured, admin, lastFrame, unmount } = await liveCallsOnNewGateway("tui-live-moved");
    let gateway = configured.gateway;
    try {
      await frameContaining(lastFrame, "● live");
      await gateway.stop();
      await frameContaining(lastFrame, "◌");
      // Port 0: the restarted gateway listens elsewhere, and says where in server.url.
      gateway = await startGateway({ dataDir: configured.dataDir });
      const mcp = await connectMcpClient(`${gateway.url}/mcp/ops`, configured.token);
      await mcp.callTool({ name: "demo__echo", arguments: { text: "after the move" } });
      await mcp.close();
      const frame = await frameContaining(lastFrame, (f) => f.includes("● live") && f.includes("demo__echo"));
      expect(frame).toMatch(/alice@example\.com +ops +demo__echo +✓ ok/);
    } finally {
      unmount();
      await gateway.stop();
    }
  });
});

describe("Audit export of tool errors that span lines", () => {
  test("as csv, the records counted are the records, not the lines", async () => {
    const config = `connectors:
  - { name: echo, kind: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts"))}] }
virtualMcps:
  - slug: ops
    name: Ops
    connectors: [{ connector: echo }]
    access: { everyone: true }
`;
    const configured = await startConfiguredGateway(config, { user: "alice@example.com", label: "tui-export-lines" });
    const admin = new AdminClient(locateGateway({ dataDir: configured.dataDir }));
    try {
      await waitFor("the echo connector", async () => (await admin.get<{ state: string }[]>("/connectors"))[0]?.state === "ready");
      const mcp = await connectMcpClient(`${configured.gateway.url}/mcp/ops`, configured.token);
      // A tool error of three lines, as a stack trace or a validation report would be.
      const failed = await mcp.callTool({ name: "echo__echo", arguments: { text: "line one\nline two\nline three", fail: true } });
      expect(failed.isError).toBe(true);
      await mcp.close();

      const Screen = auditScreen.Component;
      const { lastFrame, stdin, unmount } = render(<Screen client={admin} width={98} height={20} setCapturing={() => {}} />);
      await frameContaining(lastFrame, "echo__echo");
      const path = join(tempDir("tui-export-lines"), "errors.csv");
      const frame = await exportCsv(stdin, lastFrame, path);
      const { count } = await admin.get<{ count: number }>("/audit/count?since=24h");
      expect(readFileSync(path, "utf8")).toContain('"line one\nline two\nline three"');
      expect(frame).toContain(`✓ Exported ${count} records`);
      unmount();
    } finally {
      await configured.gateway.stop();
    }
  });
});

describe("Live calls with no gateway", () => {
  test("why the feed is down is wrapped at 60 columns, not cut: what to do is at the end", async () => {
    const client = new AdminClient({ url: "http://127.0.0.1:9", token: "mgt_admin_unused" });
    const Screen = liveCallsScreen.Component;
    const { lastFrame, unmount } = render(<Screen client={client} width={60} height={16} setCapturing={() => {}} />);
    const frame = await frameContaining(lastFrame, "disconnected");
    expect(frame.replace(/\s+/g, " ")).toContain("is `mintgate serve` running?");
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(60);
    expect(frame.split("\n").length).toBeLessThanOrEqual(16);
    unmount();
  });
});

describe("Audit with no gateway", () => {
  test("at 80×24 why the search and the export failed is wrapped, not cut: what to do is at the end", async () => {
    const client = new AdminClient({ url: "http://127.0.0.1:9", token: "mgt_admin_unused" });
    const { lastFrame, stdin, stdout, unmount } = render(<App client={client} />);
    Object.defineProperty(stdout, "columns", { get: () => 80, configurable: true });
    Object.defineProperty(stdout, "rows", { get: () => 24, configurable: true });
    stdout.emit("resize");
    await press(stdin, "a");
    const fits = (frame: string) => frame.split("\n").length <= 24 && frame.split("\n").every((line) => Bun.stringWidth(line) <= 80);
    const searched = await frameContaining(lastFrame, "✗ Cannot reach");
    expect(searched.replace(/\s+/g, " ")).toContain("is `mintgate serve` running?");
    expect(fits(searched), searched).toBe(true);
    const path = join(tempDir(), "audit.jsonl");
    await press(stdin, "e", path, CTRL_S);
    const exported = await frameContaining(lastFrame, "✗ Export failed");
    expect(exported.replace(/\s+/g, " ")).toMatch(/✗ Export failed: Cannot reach .* is `mintgate serve` running\? \(/);
    expect(fits(exported), exported).toBe(true);
    unmount();
  });
});
