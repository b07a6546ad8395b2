import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { isolatedBinary, runMintgate, startGateway } from "./harness.ts";

/** Runs a command inside tmux (a real terminal) and reads the screen until `until` shows. */
async function tmuxScreen(options: { socket: string; command: string; width: number; height: number; env?: Record<string, string> }) {
  const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", options.socket, ...args], { env: { ...process.env, ...options.env } });
  const started = tmux("new-session", "-d", "-s", "t", "-x", String(options.width), "-y", String(options.height), options.command);
  expect(started.exitCode).toBe(0);
  return {
    async waitFor(text: string, attempts = 200): Promise<string> {
      let screen = "";
      for (let i = 0; i < attempts; i++) {
        screen = tmux("capture-pane", "-p", "-t", "t").stdout.toString();
        if (screen.includes(text)) return screen;
        await Bun.sleep(50);
      }
      throw new Error(`"${text}" never appeared; the screen was:\n${screen}`);
    },
    keys: (...keys: string[]) => tmux("send-keys", "-t", "t", ...keys),
    kill: () => tmux("kill-server"),
  };
}

describe("the binary alone in an empty directory", () => {
  test("every command works with no node_modules in sight", async () => {
    const { dir, binary } = isolatedBinary();
    const run = (args: string[], stdin?: string) => runMintgate(args, { cwd: dir, binary, ...(stdin === undefined ? {} : { stdin }) });

    expect((await run(["version"])).stdout).toMatch(/^mintgate \d/);
    expect((await run(["init", "--data", "d"])).code).toBe(0);
    expect((await run(["secrets", "set", "ONE", "--data", "d"], "one-value")).code).toBe(0);
    expect((await run(["secrets", "list", "--data", "d"])).stdout).toContain("ONE");
    expect((await run(["secrets", "rotate-key", "--data", "d"])).code).toBe(0);
    expect((await run(["secrets", "delete", "ONE", "--data", "d"])).code).toBe(0);

    const gateway = await startGateway({ dataDir: "d", binary, cwd: dir });
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    const status = await run(["status", "--data", "d", "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ dataDir: join(dir, "d"), secrets: { count: 0 } });
    expect(await gateway.stop()).toBe(0);
  });

  for (const [width, height, noColor] of [[80, 24, false], [160, 48, true]] as const) {
    test(`the TUI runs in a real ${width}×${height} terminal${noColor ? " with NO_COLOR" : ""} and quits on q`, async () => {
      const { dir, binary } = isolatedBinary();
      const gateway = await startGateway({ dataDir: join(dir, "d"), binary, cwd: dir });
      const socket = `mintgate-test-${process.pid}-${width}`;
      const env = noColor ? "NO_COLOR=1 " : "";
      const screen = await tmuxScreen({ socket, command: `cd ${dir} && ${env}./mintgate tui --data d; echo "tui exited with $?"; sleep 30`, width, height });
      try {
        const shown = await screen.waitFor("healthy");
        expect(shown).toContain("Overview");
        expect(shown).toContain(gateway.url);
        expect(shown).not.toContain("react-devtools-core");
        screen.keys("q");
        await screen.waitFor("tui exited with 0");
      } finally {
        screen.kill();
        await gateway.stop();
      }
    });
  }
});
