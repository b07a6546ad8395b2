import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { cleanEnv, REPO_ROOT, tempDir } from "./harness.ts";

/** PATH without any directory that holds a `bun`, as on a fresh machine. */
function pathWithoutBun(): string {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "" && !existsSync(join(dir, "bun")))
    .join(delimiter);
}

describe("make run", () => {
  test("with no bun on PATH it starts the gateway and serves /healthz", async () => {
    const dataDir = join(tempDir(), "data");
    const make = Bun.spawn(["make", "--no-print-directory", "run"], {
      cwd: REPO_ROOT,
      env: cleanEnv({ PATH: pathWithoutBun(), MINTGATE_DATA_DIR: dataDir, MINTGATE_PORT: "0" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    let output = "";
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of make.stdout) {
        output += decoder.decode(chunk, { stream: true });
        if (/listening on http:\/\/127\.0\.0\.1:\d+/.test(output)) return;
      }
    })();
    await Promise.race([reading, make.exited]);
    try {
      const url = output.match(/listening on (http:\/\/\S+)/)?.[1];
      if (!url) throw new Error(`make run printed no URL:\n${output}\n${await new Response(make.stderr).text()}`);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(existsSync(join(dataDir, "master.key"))).toBe(true);
    } finally {
      // make runs the binary as its child; end that child, then make ends too.
      Bun.spawnSync(["pkill", "-TERM", "-P", String(make.pid)]);
      await make.exited;
    }
  });
});
