import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { isolatedBinary, runMintgate, startGateway } from "./harness.ts";
import { openTerminal } from "./fixtures/terminal.ts";

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

  test("a secret typed at a terminal: Ctrl-D ends it, Ctrl-C cancels with exit 130 and changes nothing, Enter alone asks to type a value", async () => {
    const { dir, binary } = isolatedBinary();
    expect((await runMintgate(["init", "--data", "d"], { cwd: dir, binary })).code).toBe(0);
    const screen = openTerminal({ command: `cd ${dir} && ./mintgate secrets set TYPED --data d; echo "set exited with $?"; ./mintgate secrets set GONE --data d; echo "cancel exited with $?"; ./mintgate secrets set BLANK --data d; echo "blank exited with $?"; sleep 30`, width: 140, height: 20 });
    try {
      await screen.waitFor("Value for TYPED (input hidden):");
      screen.type("typed-value");
      screen.keys("C-d");
      await screen.waitFor("set exited with 0");
      await screen.waitFor("Value for GONE (input hidden):");
      screen.type("half");
      screen.keys("C-c");
      const shown = await screen.waitFor("cancel exited with 130");
      expect(shown).toContain("mintgate: Cancelled; nothing was changed.");
      expect(shown).not.toContain("unexpected failure");
      expect(shown).not.toContain("typed-value");
      await screen.waitFor("Value for BLANK (input hidden):");
      screen.keys("Enter");
      // At a prompt there is nothing to pipe: the advice is to type the value.
      expect(await screen.waitFor("blank exited with 2")).toContain('The value for secret "BLANK" is empty; run the command again and type the value at the prompt.');
    } finally {
      screen.kill();
    }
    const names = JSON.parse((await runMintgate(["secrets", "list", "--json", "--data", "d"], { cwd: dir, binary })).stdout) as { name: string }[];
    expect(names.map((n) => n.name)).toEqual(["TYPED"]);
  });

  for (const [width, height, noColor] of [[80, 24, false], [160, 48, true]] as const) {
    test(`the TUI runs in a real ${width}×${height} terminal${noColor ? " with NO_COLOR" : ""} and quits on q`, async () => {
      const { dir, binary } = isolatedBinary();
      const gateway = await startGateway({ dataDir: join(dir, "d"), binary, cwd: dir });
      const env = noColor ? "NO_COLOR=1 " : "";
      const screen = openTerminal({ command: `cd ${dir} && ${env}./mintgate tui --data d; echo "tui exited with $?"; sleep 30`, width, height });
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
