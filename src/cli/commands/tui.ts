import { invalid } from "../../errors/index.ts";
import type { Command } from "../command.ts";
import { ADMIN_TARGET_HELP, ADMIN_TARGET_OPTIONS, adminClientFor } from "./status.ts";

export const tuiCommand: Command = {
  name: "tui",
  summary: "Open the admin terminal UI for a running gateway.",
  usage: "mintgate tui [--url URL] [--token-file F] [--data DIR]",
  options: { ...ADMIN_TARGET_OPTIONS },
  optionHelp: { ...ADMIN_TARGET_HELP },
  details: "Keys: q quits.",
  async run(parsed) {
    if (!process.stdin.isTTY) throw invalid("`mintgate tui` needs an interactive terminal; use `mintgate status --json` in scripts.");
    const client = adminClientFor(parsed);
    await client.status(); // fail fast, with a clear sentence, before taking over the screen
    // NO_COLOR (no-color.org) is honoured by runTui, which takes colour out of the output but keeps bold and inverse.
    // Loaded here so that Ink and React cost nothing to the other commands' start-up.
    const { runTui } = await import("../../../tui/index.tsx");
    return runTui(client);
  },
};
