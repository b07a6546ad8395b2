/**
 * Figures for the upper end of a small team's configuration, on a real gateway:
 * 60 stdio connectors of 40 tools each (test/fixtures/many-tools-stdio.ts),
 * 30 Virtual MCPs attaching 5–20 connectors with include/exclude/rename and
 * group policies, 300 people in 40 groups, 1,000 personal access tokens and
 * 200 OAuth clients registered through POST /register. Prints timings of
 * apply/export, start to ready, tools/list and tools/call (against a tiny
 * configuration too), idle RSS, the list commands and the admin API's lists.
 * Never fails on a number. `bun bench/scale.ts` after `make build`.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Subprocess } from "bun";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, percentile, readMemory, removeDir, required, ROOT, runMintgate, startListening, stopAll, tempDir, warnings } from "./measure.ts";

const FIXTURE = join(ROOT, "test", "fixtures", "many-tools-stdio.ts");
const CONNECTORS = 60;
const TOOLS_PER_CONNECTOR = 40;
const VMCPS = 30;
const PEOPLE = Number(process.env.SCALE_PEOPLE ?? 300);
const GROUPS = 40;
const TOKENS = 1000;
const CLIENTS = 200;
const CALLS = 200;

const figures: [string, string][] = [];
function report(label: string, value: string): void {
  figures.push([label, value]);
  process.stdout.write(`${label.padEnd(52)} ${value}\n`);
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

function toolNames(count: number): string[] {
  const verbs = ["list", "get", "create", "update", "delete", "search", "archive", "export"];
  const nouns = ["issue", "repo", "branch", "commit", "release", "label", "milestone", "comment", "review", "workflow"];
  return Array.from({ length: count }, (_, i) => {
    const round = Math.floor(i / (verbs.length * nouns.length));
    return `${verbs[i % verbs.length]}_${nouns[Math.floor(i / verbs.length) % nouns.length]}${round === 0 ? "" : `_${round}`}`;
  });
}

/** The whole mintgate.yaml; Virtual MCP v00 is the biggest (20 connectors). */
function configYaml(connectors: number, vmcps: number): string {
  const names = toolNames(TOOLS_PER_CONNECTOR);
  const lines = ["connectors:"];
  for (let c = 0; c < connectors; c++) {
    lines.push(`  - name: c${String(c).padStart(2, "0")}`, "    kind: stdio", `    command: ${JSON.stringify(process.execPath)}`, `    args: [${JSON.stringify(FIXTURE)}]`, `    env: { TOOL_COUNT: "${TOOLS_PER_CONNECTOR}" }`);
  }
  lines.push("virtualMcps:");
  for (let v = 0; v < vmcps; v++) {
    const slug = `v${String(v).padStart(2, "0")}`;
    const size = Math.min(v === 0 ? 20 : 5 + (v % 16), connectors);
    lines.push(`  - slug: ${slug}`, `    name: Team ${v}`, `    description: Tools for team ${v}`, `    access: { groups: [g${v % GROUPS}, g${(v + 1) % GROUPS}] }`, "    connectors:");
    for (let k = 0; k < size; k++) {
      const c = `c${String((v * 7 + k) % connectors).padStart(2, "0")}`;
      lines.push(`      - connector: ${c}`);
      if (k % 3 === 0) lines.push(`        exclude: [${names.slice(30, 34).join(", ")}]`);
      else if (k % 3 === 1) lines.push(`        include: [${names.slice(0, 25).join(", ")}]`, `        rename: { ${names[0]}: ${names[0]}_renamed }`);
    }
    // Tool rules by exposed name: the first connector keeps all but four of its tools.
    const first = `c${String((v * 7) % connectors).padStart(2, "0")}`;
    lines.push("    tools:", `      ${first}__${names[1]}: { allow: { groups: [g${v % GROUPS}] } }`, `      ${first}__${names[4]}: { deny: { users: [p0@example.com] } }`);
  }
  return lines.join("\n") + "\n";
}

async function mintgate(args: string[]): Promise<[string, number]> {
  return await timed(() => runMintgate(BINARY, args, { timeoutMs: 600_000 }));
}

async function serve(data: string): Promise<{ url: string; pid: number; proc: Subprocess }> {
  const { started, match } = await startListening(
    [BINARY, "serve", "--data", data, "--host", "127.0.0.1", "--port", "0", "--trusted-proxies", "127.0.0.1"],
    /listening on (http:\/\/127\.0\.0\.1:\d+)/m,
    "mintgate serve",
    { timeoutMs: 60_000 },
  );
  return { url: match[1]!, pid: started.proc.pid, proc: started.proc };
}

async function waitReady(url: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/readyz`).catch(() => null);
    if (response?.status === 200) return;
    await Bun.sleep(20);
  }
}

async function admin(url: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(`${url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Opens a session on `slug`, lists tools twice and calls `tool` CALLS times; answers the timings. */
async function session(url: string, token: string, slug: string, tool: string) {
  const client = new Client({ name: "scale-bench", version: "0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp/${slug}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const [first, firstMs] = await timed(() => client.listTools());
  const later: number[] = [];
  for (let i = 0; i < 5; i++) later.push((await timed(() => client.listTools()))[1]);
  const calls: number[] = [];
  for (let i = 0; i < 20; i++) await client.callTool({ name: tool, arguments: { owner: "acme", project: "api" } });
  for (let i = 0; i < CALLS; i++) calls.push((await timed(() => client.callTool({ name: tool, arguments: { owner: "acme", project: "api", id: i + 1 } })))[1]);
  await client.close();
  calls.sort((a, b) => a - b);
  later.sort((a, b) => a - b);
  return { tools: first.tools.length, firstMs, laterMs: percentile(later, 50), p50: percentile(calls, 50), p95: percentile(calls, 95) };
}

async function main(): Promise<void> {
  if (!required(BINARY, "make build")) process.exit(1);
  const work = tempDir("mintgate-scale-");
  const data = join(work, "data");
  const file = join(work, "mintgate.yaml");
  try {
    await mintgate(["init", "--data", data]);
    writeFileSync(file, configYaml(CONNECTORS, VMCPS));
    report("apply, whole file (no gateway yet)", ms((await mintgate(["apply", "-f", file, "--data", data]))[1]));

    const startAt = performance.now();
    const gateway = await serve(data);
    const listenMs = performance.now() - startAt;
    await waitReady(gateway.url);
    report("serve: start to listening", ms(listenMs));
    report(`serve: start to /readyz (${CONNECTORS} connectors ready)`, ms(performance.now() - startAt));
    const adminToken = readFileSync(join(data, "admin.token"), "utf8").trim();
    const status = (await (await admin(gateway.url, adminToken, "GET", "/status")).json()) as { connectors: { ready: number; total: number } };
    report("connectors ready / total", `${status.connectors.ready} / ${status.connectors.total}`);

    report("apply again, no change (gateway running)", ms((await mintgate(["apply", "-f", file, "--data", data]))[1]));
    writeFileSync(file, readFileSync(file, "utf8").replace("description: Tools for team 3\n", "description: Tools for team three\n"));
    report("apply, one-line change (gateway running)", ms((await mintgate(["apply", "-f", file, "--data", data]))[1]));
    const [exported, exportMs] = await mintgate(["export", "--data", data]);
    report("export", `${ms(exportMs)} (${exported.length} bytes)`);

    // People, groups, tokens, OAuth clients.
    const [, usersMs] = await timed(async () => {
      for (let p = 0; p < PEOPLE; p++) {
        const response = await admin(gateway.url, adminToken, "POST", "/users", { email: `p${p}@example.com`, password: "correct horse battery" });
        if (response.status !== 201) throw new Error(`POST /users: ${response.status} ${await response.text()}`);
        for (const g of new Set([p % GROUPS, (p * 7 + 3) % GROUPS])) await admin(gateway.url, adminToken, "POST", `/users/p${p}@example.com/groups`, { group: `g${g}` });
      }
    });
    report(`${PEOPLE} people (POST /users) + 2 groups each`, `${ms(usersMs)} total, ${ms(usersMs / PEOPLE)} each`);
    const cliUser = Bun.spawn([BINARY, "users", "add", "cli@example.com", "--data", data], { stdin: new TextEncoder().encode("correct horse battery\n"), stdout: "ignore", stderr: "pipe" });
    const cliStart = performance.now();
    await cliUser.exited;
    report("one more by `users add` (CLI)", ms(performance.now() - cliStart));

    const tokens: string[] = [];
    const [, tokensMs] = await timed(async () => {
      for (let t = 0; t < TOKENS; t++) {
        const response = await admin(gateway.url, adminToken, "POST", "/tokens", { user: `p${t % PEOPLE}@example.com`, vmcp: `v${String(t % VMCPS).padStart(2, "0")}` });
        tokens.push(((await response.json()) as { token: string }).token);
      }
    });
    report(`${TOKENS} tokens (POST /admin/api/tokens)`, `${ms(tokensMs)} total, ${ms(tokensMs / TOKENS)} each`);
    const [, clientsMs] = await timed(async () => {
      for (let c = 0; c < CLIENTS; c++) {
        const response = await fetch(`${gateway.url}/register`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": `10.0.${Math.floor(c / 20)}.${c % 20}` },
          body: JSON.stringify({ client_name: `Client ${c}`, redirect_uris: [`http://127.0.0.1:${9000 + c}/callback`], token_endpoint_auth_method: "none" }),
        });
        if (response.status !== 201) throw new Error(`POST /register: ${response.status} ${await response.text()}`);
      }
    });
    report(`${CLIENTS} OAuth clients (POST /register)`, `${ms(clientsMs)} total, ${ms(clientsMs / CLIENTS)} each`);

    // CLI lists.
    for (const args of [["users", "list"], ["tokens", "list"], ["clients", "list"], ["status"], ["policy", "explain", "--user", "p0@example.com", "--vmcp", "v00", "--tool", "c00__get_issue"], ["export"]]) {
      const [out, took] = await mintgate([...args, "--data", data]);
      report(`mintgate ${args.slice(0, 2).join(" ")}`, `${ms(took)} (${out.split("\n").length} lines)`);
    }

    // Admin API lists.
    for (const path of ["/status", "/connectors", "/virtual-mcps", "/virtual-mcps/v00", "/users", "/tokens", "/clients", "/oauth-grants", "/consents", "/secrets", "/config", "/calls", "/audit"]) {
      await admin(gateway.url, adminToken, "GET", path);
      const [response, took] = await timed(() => admin(gateway.url, adminToken, "GET", path));
      const text = await response.text();
      let count = "";
      try {
        const body = JSON.parse(text) as unknown;
        if (Array.isArray(body)) count = `${body.length} items`;
      } catch {}
      report(`GET /admin/api${path}`, `${ms(took)} ${response.status} ${text.length} bytes ${count}`);
    }

    // The biggest Virtual MCP, by a member of its group (p0 is in g0).
    const big = await session(gateway.url, tokens[0]!, "v00", "c00__list_issue");
    report("v00 tools/list first (tools)", `${ms(big.firstMs)} (${big.tools})`);
    report("v00 tools/list later (p50 of 5)", ms(big.laterMs));
    report(`v00 tools/call p50 / p95 (${CALLS} calls)`, `${ms(big.p50)} / ${ms(big.p95)}`);
    await Bun.sleep(3000);
    const memory = readMemory(gateway.pid);
    report("gateway RSS idle (after the above)", memory ? `${(memory.rssKiB / 1024).toFixed(1)} MiB` : "unknown");
    gateway.proc.kill("SIGTERM");
    await stopAll();

    // A tiny configuration: one connector, one Virtual MCP.
    const tinyData = join(work, "tiny");
    const tinyFile = join(work, "tiny.yaml");
    await mintgate(["init", "--data", tinyData]);
    writeFileSync(tinyFile, configYaml(1, 1).replace(/access: \{ groups: \[[^\]]*\] \}/, "access: { everyone: true }"));
    report("tiny: apply", ms((await mintgate(["apply", "-f", tinyFile, "--data", tinyData]))[1]));
    const tiny = await serve(tinyData);
    await waitReady(tiny.url);
    const tinyToken = JSON.parse((await mintgate(["tokens", "create", "--user", "p0@example.com", "--vmcp", "v00", "--data", tinyData, "--json"]))[0]).token as string;
    const small = await session(tiny.url, tinyToken, "v00", "c00__list_issue");
    report("tiny: tools/list first (tools)", `${ms(small.firstMs)} (${small.tools})`);
    report(`tiny: tools/call p50 / p95 (${CALLS} calls)`, `${ms(small.p50)} / ${ms(small.p95)}`);
    const tinyMemory = readMemory(tiny.pid);
    report("tiny: gateway RSS", tinyMemory ? `${(tinyMemory.rssKiB / 1024).toFixed(1)} MiB` : "unknown");
  } finally {
    await stopAll();
    if (!process.argv.includes("--keep")) removeDir(work);
    else process.stdout.write(`kept ${work}\n`);
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  }
}

await main();
