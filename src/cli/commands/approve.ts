import { notFound } from "../../errors/index.ts";
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
    const client = adminClientFor(parsed);
    // Approve exactly the definition shown here: if the upstream changes it meanwhile, the gateway refuses.
    const pending = (await client.virtualMcp(slug!)).pending.find((p) => p.name === tool);
    if (!pending) throw notFound(`No tool "${tool}" is waiting for approval in virtual MCP "${slug}"; \`mintgate status\` or the admin API lists what is pending.`);
    const approved = await client.approveTool(slug!, tool!, pending.hash);
    if (parsed.values.json) printJson({ ...approved, description: pending.description });
    else {
      process.stdout.write(`Approved ${approved.connector} tool "${approved.tool}" as ${tool} in virtual MCP ${slug}.\n`);
      process.stderr.write(`Approved definition ${pending.hash.slice(0, 12)}…: ${pending.description ?? "(no description)"}\n`);
    }
    return 0;
  },
};
