/**
 * Test harness: everything runs for real. The compiled binary in child
 * processes, real data directories in temp folders, real HTTP on 127.0.0.1.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { collectOutput } from "./fixtures/child-output.ts";

export const REPO_ROOT = resolve(import.meta.dir, "..");
export const BINARY = join(REPO_ROOT, "dist", "mintgate");

if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing; run \`make build\` (make test does it for you).`);

const tempDirs: string[] = [];

export function tempDir(label = "mintgate-test"): string {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  tempDirs.push(dir);
  return dir;
}

/** A temp dir holding only a copy of the binary: no node_modules anywhere near it. */
export function isolatedBinary(): { dir: string; binary: string } {
  const dir = tempDir("mintgate-alone");
  const binary = join(dir, "mintgate");
  copyFileSync(BINARY, binary);
  Bun.spawnSync(["chmod", "755", binary]);
  return { dir, binary };
}

/** The environment a child gets: nothing of ours that would change its settings. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("MINTGATE_") && value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runMintgate(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string | Uint8Array; binary?: string } = {},
): Promise<RunResult> {
  const child = Bun.spawn([options.binary ?? BINARY, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdin: options.stdin === undefined ? "ignore" : typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

export interface RunningGateway {
  url: string;
  pid: number;
  dataDir: string;
  adminToken: () => string;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  signal(name: "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGKILL"): void;
  exited: Promise<number>;
  stop(): Promise<number>;
}

const running = new Set<RunningGateway>();

/**
 * Stops every gateway a test left running and removes the temp dirs. Run
 * once after all test files by test/setup.ts (a preload): a hook registered
 * here would belong only to the first file that imports this module.
 */
export async function cleanUpTestResources(): Promise<void> {
  await Promise.all([...running].map((g) => g.stop()));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `mintgate serve` and resolves once it printed its URL; rejects with
 * its output if it exits first.
 */
export async function startGateway(options: {
  dataDir: string;
  args?: string[];
  env?: Record<string, string>;
  binary?: string;
  cwd?: string;
}): Promise<RunningGateway> {
  const child = Bun.spawn([options.binary ?? BINARY, "serve", "--data", options.dataDir, "--port", "0", ...(options.args ?? [])], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const collected = collectOutput(child);
  const output = collected.text;
  const exited = child.exited.then(async (code) => {
    await collected.done;
    return code;
  });

  const url = await new Promise<string>((resolveUrl, reject) => {
    const poll = setInterval(() => {
      // `[^\s"]`: with --log-format json the URL ends the message string of a JSON line.
      const match = output().match(/listening on (https?:\/\/[^\s"]+)/);
      if (match) {
        clearInterval(poll);
        resolveUrl(match[1]!);
      }
    }, 5);
    void exited.then((code) => {
      clearInterval(poll);
      reject(new Error(`mintgate serve exited with ${code} before listening:\n${output()}`));
    });
  });

  const gateway: RunningGateway = {
    url,
    pid: child.pid,
    dataDir: options.dataDir,
    adminToken: () => readFileSync(join(options.dataDir, "admin.token"), "utf8").trim(),
    output,
    signal: (name) => child.kill(name),
    exited,
    async stop() {
      running.delete(gateway);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
  running.add(gateway);
  return gateway;
}

/** The names of the files directly in `dir` (a data directory also holds folders, such as upstream-groups/). */
export function filesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

/** SHA-256 of a file's bytes, to prove a file was not modified. */
export function fileHash(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

/** An official SDK client connected to a Virtual MCP over Streamable HTTP with a bearer token. */
export async function connectMcpClient(url: string, token: string): Promise<import("@modelcontextprotocol/sdk/client/index.js").Client> {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const client = new Client({ name: "mintgate-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

/**
 * A `slow` call (test/fixtures/dynamic-server.ts, logging-server.ts, raw-stdio.ts) and `started`, which settles once
 * the upstream has reported progress 0: the call has reached it and is running. A call that ends first rejects it.
 */
export function startedCall(client: import("@modelcontextprotocol/sdk/client/index.js").Client, name: string, args: Record<string, unknown>) {
  let progressed!: () => void;
  const reported = new Promise<void>((resolve) => (progressed = resolve));
  const result = client.callTool({ name, arguments: args }, undefined, { onprogress: () => progressed() });
  const started = Promise.race([reported, result.then(() => Promise.reject(new Error(`${name} ended before it reported progress`)), (error: Error) => Promise.reject(error))]);
  return { result, started };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `attempts`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, attempts = 300, intervalMs = 50): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`gave up waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** mintgate.yaml for one Virtual MCP `demo` on the builtin demo server, open to everyone, tools under their own names. */
export const DEMO_CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: demo
    name: Demo
    access: { everyone: true }
    connectors: [{ connector: demo, prefix: "" }]
`;

export interface ConfiguredGateway {
  dataDir: string;
  gateway: RunningGateway;
  /** A personal access token for `user`, valid on every virtual MCP. */
  token: string;
  tokenId: string;
}

/**
 * What most end-to-end tests need: a data dir configured from `config`
 * (mintgate.yaml text, or an object written as JSON, which is YAML too) with
 * `mintgate apply`, a token from `mintgate tokens create`, and a running gateway.
 */
export async function startConfiguredGateway(config: string | object, options: { user?: string; label?: string; args?: string[]; env?: Record<string, string>; secrets?: Record<string, string> } = {}): Promise<ConfiguredGateway> {
  const dataDir = await configuredDataDir(config, { label: options.label, secrets: options.secrets });
  const created = await runMintgate(["tokens", "create", "--user", options.user ?? "t@example.com", "--json", "--data", dataDir]);
  if (created.code !== 0) throw new Error(`mintgate tokens create failed: ${created.stderr}`);
  const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
  const gateway = await startGateway({ dataDir, args: options.args, env: options.env });
  return { dataDir, gateway, token, tokenId: id };
}

/**
 * A new data dir configured from `config` (mintgate.yaml text, or an object
 * written as JSON, which is YAML too) with `mintgate apply`, after storing
 * `secrets` (name → value) for its `${secret:NAME}` references, and with local
 * accounts added by `mintgate users add` for `people`.
 */
export async function configuredDataDir(config: string | object, options: { label?: string | undefined; secrets?: Record<string, string> | undefined; people?: { email: string; password: string }[] } = {}): Promise<string> {
  const dataDir = join(tempDir(options.label ?? "mintgate-gateway"), "data");
  const init = await runMintgate(["init", "--data", dataDir]);
  if (init.code !== 0) throw new Error(`mintgate init failed: ${init.stderr}`);
  for (const [name, value] of Object.entries(options.secrets ?? {})) {
    const stored = await runMintgate(["secrets", "set", name, "--data", dataDir], { stdin: value });
    if (stored.code !== 0) throw new Error(`mintgate secrets set failed: ${stored.stderr}`);
  }
  const file = join(dataDir, "..", "mintgate.yaml");
  writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config, null, 2));
  const applied = await runMintgate(["apply", "-f", file, "--data", dataDir]);
  if (applied.code !== 0 || applied.stderr !== "") throw new Error(`mintgate apply failed: ${applied.stderr}`);
  for (const person of options.people ?? []) {
    const added = await runMintgate(["users", "add", person.email, "--data", dataDir], { stdin: `${person.password}\n` });
    if (added.code !== 0) throw new Error(`mintgate users add failed: ${added.stderr}`);
  }
  return dataDir;
}

/** A TCP port free on 127.0.0.1 right now, for servers that must know their URL before they start. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
