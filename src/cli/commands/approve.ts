import { invalid, MintgateError, notFound } from "../../errors/index.ts";
import { printable } from "../../terminal/index.ts";
import { JSON_OPTION, printJson, type Command } from "../command.ts";
import { ADMIN_TARGET_HELP, ADMIN_TARGET_OPTIONS, adminClientFor, interfaceSaid } from "./status.ts";

export const approveCommand: Command = {
  name: "approve",
  summary: "Approve a tool held back by a virtual MCP's `approve` policy (new, or changed since approval).",
  usage: "mintgate approve SLUG TOOL | SLUG --all [--url URL] [--token-file F] [--data DIR] [--json]",
  args: ["SLUG", "TOOL?"],
  options: { ...ADMIN_TARGET_OPTIONS, ...JSON_OPTION, all: { type: "boolean" } },
  optionHelp: { "--all": "approve every tool waiting in SLUG (each as shown now; printed one by one)", ...ADMIN_TARGET_HELP, "--json": 'print what was approved as JSON ("changed": false when TOOL was approved already)' },
  details: "Without TOOL names to hand, `mintgate status` and the TUI list what is pending. A TOOL approved already with its current definition changes nothing and exits 0.\nTalks to the running gateway: it knows each tool's current definition.",
  async run(parsed) {
    const [slug, tool] = parsed.positionals;
    const all = parsed.values.all === true;
    if (all === (tool !== undefined)) throw invalid("Name one TOOL to approve, or give --all for every tool waiting in SLUG (not both).");
    const client = adminClientFor(parsed);
    const vmcp = await client.virtualMcp(slug!).catch((error: unknown) => {
      // The admin API's answer names the slug; the person also needs to know where the slugs are (a 404 from something else stays as it is).
      if (error instanceof MintgateError && error.kind === "not_found" && error.message.startsWith("There is no virtual MCP")) throw notFound(`There is no virtual MCP "${slug}"; \`mintgate export\` lists them.`);
      throw error;
    });
    const pending = vmcp.pending.filter((p) => all || p.name === tool);
    if (pending.length === 0) {
      // Nothing left to approve is the state --all asks for (a cron job runs it again and again): not a failure.
      if (all) {
        if (parsed.values.json) printJson([]);
        else process.stdout.write(`No tool is waiting for approval in virtual MCP "${slug}"; nothing changed.\n`);
        return 0;
      }
      // Approving a tool shown with its current definition again is the state asked for (a script re-run), like --all with nothing waiting.
      const exposed = vmcp.tools.find((t) => t.name === tool);
      if (!exposed) throw notFound(`Virtual MCP "${slug}" has no tool "${tool}", approved or waiting; \`mintgate tui\` (Virtual MCPs) or the admin API (GET /admin/api/virtual-mcps/${slug}) lists its tools.`);
      if (parsed.values.json) printJson({ connector: exposed.connector, tool: exposed.upstreamName, exposedName: exposed.name, description: exposed.description, changed: false });
      else if (vmcp.newTools === "approve") process.stdout.write(`Tool "${tool}" in virtual MCP "${slug}" is already approved with its current definition; nothing changed.\n`);
      else process.stdout.write(`Tool "${tool}" needs no approval: virtual MCP "${slug}" shows new tools at once (newTools: ${vmcp.newTools}); nothing changed.\n`);
      return 0;
    }
    const approvals = [];
    for (const item of pending) {
      // Approve exactly the definition shown here: if the upstream changes it meanwhile, the gateway refuses.
      const approved = await client.approveTool(slug!, item.name, item.hash);
      approvals.push({ ...approved, exposedName: item.name, description: item.description, changed: true });
      if (!parsed.values.json) {
        // The upstream's tool name and description are its own text: an ESC sequence in them would hide what is being approved.
        process.stdout.write(`Approved ${approved.connector} tool "${printable(approved.tool)}" as ${item.name} in virtual MCP ${slug}.\n`);
        process.stderr.write(`Approved definition ${item.hash.slice(0, 12)}…: ${printable(item.description ?? "(no description)")}\n`);
        // An MCP App's interface can call tools: the approval covers which one, named as clients get it.
        if (item.ui) process.stderr.write(`Its interface: ${printable(interfaceSaid(item.ui))}\n`);
      }
    }
    if (parsed.values.json) printJson(all ? approvals : approvals[0]);
    return 0;
  },
};
