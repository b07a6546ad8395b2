/**
 * Starts `@modelcontextprotocol/server-everything` as an upstream for
 * conformance comparisons, with Bun (process.execPath).
 *
 * - HTTP: `<entry> streamableHttp`, PORT env, endpoint `/mcp`. The server has
 *   no host option and binds every interface, so it is started with the
 *   `bind-localhost.ts` preload, which pins it to 127.0.0.1 and reports the
 *   port (PORT=0 is used).
 * - stdio: `everythingStdioCommand()` is the argv for a gateway connector.
 *
 * Where the package comes from: env `SERVER_EVERYTHING_ENTRY` (path to its
 * `dist/index.js`), else resolved from this repository.
 */
import { dirname, join } from "node:path";
import { collectOutput } from "../fixtures/child-output.ts";

export interface EverythingServer {
  /** Streamable HTTP endpoint, e.g. http://127.0.0.1:40123/mcp */
  url: string;
  pid: number;
  /** What the server printed so far (stdout + stderr). */
  output(): string;
  stop(): Promise<void>;
}

export function everythingEntryPath(): string {
  const fromEnv = process.env.SERVER_EVERYTHING_ENTRY;
  if (fromEnv) return fromEnv;
  const pkg = Bun.resolveSync("@modelcontextprotocol/server-everything/package.json", import.meta.dir);
  return join(dirname(pkg), "dist", "index.js");
}

/** argv that runs server-everything over stdio. */
export function everythingStdioCommand(): string[] {
  return [process.execPath, everythingEntryPath(), "stdio"];
}

/** Starts server-everything over Streamable HTTP (default) or the legacy HTTP+SSE transport. */
export async function startEverythingServer(timeoutMs = 15_000, mode: "streamableHttp" | "sse" = "streamableHttp"): Promise<EverythingServer> {
  const preload = join(import.meta.dir, "bind-localhost.ts");
  const child = Bun.spawn([process.execPath, "--preload", preload, everythingEntryPath(), mode], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PORT: "0" },
  });

  const log = collectOutput(child).text;

  const deadline = Date.now() + timeoutMs;
  let address: string | undefined;
  while (!address) {
    address = /^MINTGATE_TEST_BOUND (\S+)$/m.exec(log())?.[1];
    if (address) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server-everything did not start (exit ${child.exitCode}):\n${log()}`);
    }
    await Bun.sleep(25);
  }

  return {
    url: mode === "sse" ? `http://${address}/sse` : `http://${address}/mcp`,
    pid: child.pid,
    output: log,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await child.exited;
    },
  };
}
