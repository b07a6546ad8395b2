import { JSON_OPTION, printJson, type Command } from "../command.ts";
import { ADMIN_TARGET_HELP, ADMIN_TARGET_OPTIONS, adminClientFor } from "./status.ts";

export const approveCommand: Command = {
  name: "approve",
  summary: "Approve a tool held back by a virtual MCP's `approve` policy (new, or changed since approval).",
  usage: "mintgate approve SLUG TOOL [--url URL] [--token-file F] [--data DIR] [--json]",
  args: ["SLUG", "TOOL"],
  options: { ...ADMIN_TARGET_OPTIONS, ...JSON_OPTION },
  optionHelp: { ...ADMIN_TARGET_HELP, "--json": "print what was approved as JSON" },
  details: "Without TOOL names to hand, `mintgate status` and the TUI list what is pending.\nTalks to the running gateway: it knows each tool's current definition.",
  async run(parsed) {
    const [slug, tool] = parsed.positionals;
    const approved = await adminClientFor(parsed).approveTool(slug!, tool!);
    if (parsed.values.json) printJson(approved);
    else process.stdout.write(`Approved ${approved.connector} tool "${approved.tool}" as ${tool} in virtual MCP ${slug}.\n`);
    return 0;
  },
};
