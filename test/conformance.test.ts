/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance,
 * `server` scenarios, active suite) as a DIFFERENTIAL test of the gateway.
 *
 * server-everything is not the suite's own fixture server (that one is not
 * published), so it fails many scenarios on its own (see
 * test/conformance/NOTES.md). What we check is that putting the gateway in
 * front of it changes nothing: the same scenarios pass and fail.
 *
 *   direct      the suite -> server-everything (Streamable HTTP, 127.0.0.1)
 *   via-http    the suite -> header-proxy (adds the bearer token) -> mintgate
 *               /mcp/via-http -> `http` connector, prefix "" -> the same server
 *   via-stdio   the suite -> header-proxy -> mintgate /mcp/via-stdio -> `stdio`
 *               connector, prefix "" -> server-everything in stdio mode
 *
 * The reference for via-stdio is also `direct` (HTTP): the suite can only talk
 * to a URL, so a stdio server cannot be run "directly". server-everything's
 * stdio and Streamable HTTP modes build the same server (same tools, prompts
 * and resources registration); only the transport differs. As a further check,
 * via-stdio must give exactly the verdicts of via-http.
 *
 *   modern      conformance-next (0.2 alpha) at --requirements 2026-07-28, directly
 *               against test/conformance/modern-fixture.ts and through header-proxy
 *               -> mintgate /mcp/modern -> `http` connector, prefix "" -> the fixture
 *
 * Each run writes the suite's per-scenario checks (`-o DIR`), which the tests
 * read to pin the cause of every expected divergence and to compare details.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { everythingStdioCommand, startEverythingServer, type EverythingServer } from "./conformance/everything-server.ts";
import { startHeaderProxy, type HeaderProxy } from "./conformance/header-proxy.ts";
import { startModernFixture, type ModernFixture } from "./conformance/modern-fixture.ts";
import { conformanceNextCliPath, runConformance, type ConformanceResult } from "./conformance/run-suite.ts";
import { startConfiguredGateway, tempDir, type RunningGateway } from "./harness.ts";

type Verdict = "passed" | "failed" | "missing";

interface Run extends ConformanceResult {
  outputDir: string;
}

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
  details?: Record<string, unknown>;
}

/**
 * Scenarios that test the HTTP server the suite talks to, which through the
 * gateway is mintgate's own listener and not the upstream: left out of the
 * comparison.
 *
 * - dns-rebinding-protection: sends Host/Origin `evil.example.com` and expects
 *   a 4xx, then its own Host/Origin and expects a 2xx. Directly it tests
 *   server-everything (no Host/Origin checks: fails); through the gateway it
 *   tests mintgate's /mcp/<slug> route (header-proxy forwards the evil
 *   Host/Origin unchanged and rewrites its own to the gateway's), which checks
 *   both (src/http/origin-policy.ts). Not a comparison of like with like, so
 *   the gateway's result is asserted separately below: it must pass.
 */
const GATEWAY_OWN_HTTP: Record<string, string> = {
  "dns-rebinding-protection": "tests the Host/Origin validation of mintgate's own HTTP listener, not of the upstream",
};

/**
 * Scenarios whose verdict may differ through the gateway, each with its
 * investigated cause. Empty: unknown tools are answered as the SDK's servers
 * do (an isError result) and resources/subscribe is passed through, which
 * were the two divergences the suite found. The test requires the set of
 * differing scenarios to be exactly this one.
 */
const KNOWN_DIVERGENCES: Record<string, { direct: Verdict; gateway: Verdict; cause: RegExp; why: string }> = {};

/**
 * tools-list details: which tools server-everything offers depends on the
 * *client's* capabilities. The suite's client declares sampling + elicitation
 * (forms); mintgate connects upstream declaring roots, sampling and elicitation
 * in both modes (upstream-session.ts), on behalf of every client, so through the
 * gateway the roots tool and the URL-elicitation tool are present too (a client
 * that takes no URL elicitation is told so when it calls it). Not curation.
 * simulate-research-query runs only as a task (execution.taskSupport "required"),
 * which the gateway does not relay, so it is not exposed.
 */
const TOOLS_ONLY_DIRECT = ["simulate-research-query"];
const TOOLS_ONLY_VIA_GATEWAY = ["get-roots-list", "trigger-url-elicitation"];

/** The revision conformance-next's `--requirements` runs (see the last describe block). */
const MODERN = "2026-07-28";

let upstream: EverythingServer;
let modernUpstream: ModernFixture;
let gateway: RunningGateway;
let token: string;
const proxies: HeaderProxy[] = [];
const runs: Record<"direct" | "viaHttp" | "viaStdio" | "modernDirect" | "modernViaGateway", Run> = {} as never;

function verdict(run: ConformanceResult, scenario: string): Verdict {
  if (run.passed.includes(scenario)) return "passed";
  if (run.failed.includes(scenario)) return "failed";
  return "missing";
}

/** The checks the suite wrote for one scenario (`-o DIR` gives `server-<scenario>-<timestamp>/checks.json`). */
function checksOf(run: Run, scenario: string): Check[] {
  const dirs = readdirSync(run.outputDir).filter((d) => d.startsWith(`server-${scenario}-`) && /-\d{4}-\d\d-\d\dT/.test(d.slice(`server-${scenario}`.length)));
  if (dirs.length !== 1) throw new Error(`expected one checks dir for ${scenario} in ${run.outputDir}, found ${JSON.stringify(dirs)}`);
  return JSON.parse(readFileSync(join(run.outputDir, dirs[0]!, "checks.json"), "utf8")) as Check[];
}

function failureMessages(run: Run, scenario: string): string {
  return checksOf(run, scenario)
    .filter((c) => c.status === "FAILURE")
    .map((c) => c.errorMessage ?? "")
    .join("\n");
}

/** Which scenarios differ between two runs, leaving out the gateway's own HTTP scenarios. */
function differing(a: ConformanceResult, b: ConformanceResult): string[] {
  const all = new Set([...a.passed, ...a.failed, ...b.passed, ...b.failed]);
  return [...all].filter((s) => !(s in GATEWAY_OWN_HTTP) && verdict(a, s) !== verdict(b, s)).sort();
}

/** A readable account of a difference, for assertion messages. */
function explain(reference: Run, gatewayRun: Run, scenarios: string[]): string {
  return scenarios
    .map((s) => `${s}: direct ${verdict(reference, s)}, gateway ${verdict(gatewayRun, s)}\n  direct: ${failureMessages(reference, s) || "-"}\n  gateway: ${failureMessages(gatewayRun, s) || "-"}`)
    .join("\n");
}

async function run(name: string, url: string, options: { cli?: string; requirements?: string } = {}): Promise<Run> {
  const outputDir = tempDir(`mintgate-conformance-${name}`);
  const result = await runConformance(url, { outputDir, timeoutMs: 60_000, ...options });
  return { ...result, outputDir };
}

beforeAll(async () => {
  upstream = await startEverythingServer();
  modernUpstream = startModernFixture();

  const [command, ...args] = everythingStdioCommand();
  const config = {
    connectors: [
      { name: "ev-http", kind: "http", url: upstream.url },
      { name: "ev-stdio", kind: "stdio", command, args },
      { name: "modern-fixture", kind: "http", url: modernUpstream.url },
    ],
    virtualMcps: [
      // One connector each, with an EMPTY prefix: names and URIs pass through unchanged.
      { slug: "via-http", name: "Conformance over http", access: { everyone: true }, connectors: [{ connector: "ev-http", prefix: "" }] },
      { slug: "via-stdio", name: "Conformance over stdio", access: { everyone: true }, connectors: [{ connector: "ev-stdio", prefix: "" }] },
      { slug: "modern", name: "Conformance at 2026-07-28", access: { everyone: true }, connectors: [{ connector: "modern-fixture", prefix: "" }] },
    ],
  };
  ({ gateway, token } = await startConfiguredGateway(config, { label: "mintgate-conformance" }));

  // Wait (bounded) until each connector is ready and has taken in the tool server-everything
  // registers after initialize (get-roots-list): then its catalogue is final.
  const readyWhen: Record<string, string[]> = { "via-http": ["echo", "get-roots-list"], "via-stdio": ["echo", "get-roots-list"], modern: ["test_simple_text"] };
  for (const [slug, wanted] of Object.entries(readyWhen)) {
    const client = new Client({ name: "conformance-wait", version: "0.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/${slug}`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const deadline = Date.now() + 45_000;
    for (;;) {
      const names = (await client.listTools()).tools.map((t) => t.name);
      if (wanted.every((name) => names.includes(name))) break;
      if (Date.now() > deadline) throw new Error(`virtual MCP ${slug} never listed its tools (got ${JSON.stringify(names)})\n${gateway.output()}`);
      await Bun.sleep(50);
    }
    await client.close();
  }

  const proxyFor = async (slug: string) => {
    const proxy = await startHeaderProxy({ target: `${gateway.url}/mcp/${slug}`, headers: { Authorization: `Bearer ${token}` } });
    proxies.push(proxy);
    return proxy.url;
  };
  // One after another: the runs share the upstream.
  runs.direct = await run("direct", upstream.url);
  runs.viaHttp = await run("via-http", await proxyFor("via-http"));
  runs.viaStdio = await run("via-stdio", await proxyFor("via-stdio"));
  // Side by side: the fixture is stateless, and most of each run (~6 s) is server-stateless waiting for list
  // changes the fixture never makes.
  const next = { cli: conformanceNextCliPath(), requirements: MODERN };
  const modernProxy = await proxyFor("modern");
  [runs.modernDirect, runs.modernViaGateway] = await Promise.all([run("modern-direct", modernUpstream.url, next), run("modern-via-gateway", modernProxy, next)]);
}, 120_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await gateway?.stop();
  await upstream?.stop();
  await modernUpstream?.stop();
});

describe("conformance suite: direct vs through the gateway", () => {
  test("the direct baseline ran every active scenario", () => {
    const direct = runs.direct;
    expect(direct.passed.length + direct.failed.length).toBeGreaterThanOrEqual(30);
    // server-everything passes the protocol basics on its own (NOTES.md); if these fail, the
    // comparison below would be meaningless.
    for (const scenario of ["server-initialize", "ping", "tools-list", "prompts-list", "resources-list"]) {
      expect(verdict(direct, scenario)).toBe("passed");
    }
  });

  test("http connector (prefix \"\"): same verdicts as direct, except the investigated divergences", () => {
    const diff = differing(runs.direct, runs.viaHttp);
    expect(diff, explain(runs.direct, runs.viaHttp, diff)).toEqual(Object.keys(KNOWN_DIVERGENCES).sort());
    for (const [scenario, known] of Object.entries(KNOWN_DIVERGENCES)) {
      expect(verdict(runs.direct, scenario)).toBe(known.direct);
      expect(verdict(runs.viaHttp, scenario)).toBe(known.gateway);
      expect(failureMessages(runs.viaHttp, scenario)).toMatch(known.cause);
    }
  });

  test("stdio connector (prefix \"\"): same verdicts as direct HTTP, except the investigated divergences", () => {
    const diff = differing(runs.direct, runs.viaStdio);
    expect(diff, explain(runs.direct, runs.viaStdio, diff)).toEqual(Object.keys(KNOWN_DIVERGENCES).sort());
    for (const [scenario, known] of Object.entries(KNOWN_DIVERGENCES)) {
      expect(verdict(runs.direct, scenario)).toBe(known.direct);
      expect(verdict(runs.viaStdio, scenario)).toBe(known.gateway);
      expect(failureMessages(runs.viaStdio, scenario)).toMatch(known.cause);
    }
  });

  test("stdio and http connectors give exactly the same verdicts (no exceptions)", () => {
    expect(runs.viaStdio.passed.slice().sort()).toEqual(runs.viaHttp.passed.slice().sort());
    expect(runs.viaStdio.failed.slice().sort()).toEqual(runs.viaHttp.failed.slice().sort());
  });

  test("dns-rebinding-protection passes against a Virtual MCP (Host and Origin checks)", () => {
    // Host/Origin evil.example.com is refused (403) even with a valid bearer token; the
    // gateway's own Host/Origin is accepted (200).
    for (const gatewayRun of [runs.viaHttp, runs.viaStdio]) {
      expect(verdict(gatewayRun, "dns-rebinding-protection"), failureMessages(gatewayRun, "dns-rebinding-protection")).toBe("passed");
      const checks = checksOf(gatewayRun, "dns-rebinding-protection");
      expect(checks.find((c) => c.id === "localhost-host-rebinding-rejected")).toMatchObject({ status: "SUCCESS", details: { statusCode: 403 } });
      expect(checks.find((c) => c.id === "localhost-host-valid-accepted")).toMatchObject({ status: "SUCCESS", details: { statusCode: 200 } });
    }
  });
});

describe("conformance details: what the list scenarios saw", () => {
  const listed = (run: Run, scenario: string, key: string) => {
    const check = checksOf(run, scenario)[0]!;
    return ((check.details?.[key] as string[] | undefined) ?? []).slice().sort();
  };

  test("http connector: the same prompts and resources as direct; tools differ only by client capabilities", () => {
    expect(listed(runs.viaHttp, "prompts-list", "prompts")).toEqual(listed(runs.direct, "prompts-list", "prompts"));
    expect(listed(runs.viaHttp, "resources-list", "resources")).toEqual(listed(runs.direct, "resources-list", "resources"));
    expect(listed(runs.direct, "prompts-list", "prompts").length).toBeGreaterThan(0);
    expect(listed(runs.direct, "resources-list", "resources").length).toBeGreaterThan(0);
    const expectedTools = [...listed(runs.direct, "tools-list", "tools").filter((t) => !TOOLS_ONLY_DIRECT.includes(t)), ...TOOLS_ONLY_VIA_GATEWAY].sort();
    expect(listed(runs.viaHttp, "tools-list", "tools")).toEqual(expectedTools);
  });

  test("stdio connector: tools differ from direct only by client capabilities", () => {
    const expectedTools = [...listed(runs.direct, "tools-list", "tools").filter((t) => !TOOLS_ONLY_DIRECT.includes(t)), ...TOOLS_ONLY_VIA_GATEWAY].sort();
    expect(listed(runs.viaStdio, "tools-list", "tools")).toEqual(expectedTools);
  });

  // The list scenarios only check shape, so compare what was listed: a start-up race once
  // left the stdio connector with no prompts or resources.
  test("stdio connector: the same prompts and resources as direct", () => {
    const prompts = listed(runs.viaStdio, "prompts-list", "prompts");
    const resources = listed(runs.viaStdio, "resources-list", "resources");
    expect(prompts).toEqual(listed(runs.direct, "prompts-list", "prompts"));
    expect(resources).toEqual(listed(runs.direct, "resources-list", "resources"));
  });
});

/**
 * The 0.2 alpha suite (@modelcontextprotocol/conformance-next) at `--requirements 2026-07-28`: every scenario
 * that revision requires, at its sessionless wire, plus the extension and pending ones it runs unscored.
 * The reference is test/conformance/modern-fixture.ts, the official 2.x server holding the names the scenarios
 * look for; through the gateway it sits behind Virtual MCP `modern` (http connector, prefix "").
 */
/** What the fixture passes on its own, and so the gateway in front of it: the content and protocol scenarios. */
const MODERN_PASSING = [
  "caching", "completion-complete", "http-header-validation", "input-required-result-ignore-extra-params", "input-required-result-missing-input-response",
  "input-required-result-unsupported-methods", "input-required-result-validate-input", "prompts-get-embedded-resource", "prompts-get-simple",
  "prompts-get-with-args", "prompts-get-with-image", "resources-list", "resources-read-binary", "resources-read-text", "resources-templates-read",
  "sep-2164-resource-not-found", "server-sse-multiple-streams", "tools-call-audio", "tools-call-embedded-resource", "tools-call-error",
  "tools-call-image", "tools-call-mixed-content", "tools-call-simple-text", "tools-call-with-progress", "tools-list",
  // An extension scenario that makes no check without a task-capable tool: it passes with nothing tested.
  "tasks-status-notifications",
].sort();

/** Every check of a run as `scenario check-id STATUS`, leaving out the scenarios that test the gateway's own listener. */
function checkStatuses(run: Run): string[] {
  return [...run.passed, ...run.failed]
    .filter((scenario) => !(scenario in GATEWAY_OWN_HTTP))
    .flatMap((scenario) => checksOf(run, scenario).map((c) => `${scenario} ${c.id} ${c.status}`))
    .sort();
}

describe("conformance-next at 2026-07-28: direct vs through the gateway", () => {
  test("the direct baseline passes the content scenarios, so the comparison means something", () => {
    expect(runs.modernDirect.passed.filter((s) => s !== "dns-rebinding-protection").sort()).toEqual(MODERN_PASSING);
    expect(runs.modernDirect.passed.length + runs.modernDirect.failed.length).toBeGreaterThanOrEqual(37);
  });

  test("through the gateway every check of every scenario has the direct run's status", () => {
    // Check by check, not only verdicts: an unknown tool answered as a tool result (the 2025 way) still
    // failed server-stateless either way, but read there as the tool having run.
    expect(checkStatuses(runs.modernViaGateway)).toEqual(checkStatuses(runs.modernDirect));
    expect(runs.modernViaGateway.passed.filter((s) => s !== "dns-rebinding-protection").sort()).toEqual(MODERN_PASSING);
  });

  test("an unknown tool is an invalid-params error at 2026-07-28, not a tool result", () => {
    const probe = checksOf(runs.modernViaGateway, "server-stateless").find((c) => c.id === "sep-2575-server-rejects-undeclared-capability");
    expect(probe?.details?.response).toMatchObject({ error: { code: -32602 } });
  });

  test("dns-rebinding-protection passes against the Virtual MCP at 2026-07-28", () => {
    expect(verdict(runs.modernViaGateway, "dns-rebinding-protection"), failureMessages(runs.modernViaGateway, "dns-rebinding-protection")).toBe("passed");
  });
});
