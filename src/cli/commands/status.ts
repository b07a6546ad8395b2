import { AdminClient, locateGateway } from "../../admin-client/index.ts";
import { loadSettings } from "../../config/index.ts";
import type { UiPointers } from "../../gateway/index.ts";
import { printable, shellWord } from "../../terminal/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, type Command } from "../command.ts";

export const ADMIN_TARGET_OPTIONS = { ...DATA_OPTION, url: { type: "string" }, "token-file": { type: "string" } } as const;
export const ADMIN_TARGET_HELP = {
  "--data DIR": "find the local gateway through this data directory (default ./.mintgate)",
  "--url URL": "the gateway's URL (default: the one the local gateway wrote to DIR/server.url)",
  "--token-file F": "file holding the admin token (default DIR/admin.token)",
};

export function adminClientFor(parsed: Parameters<Command["run"]>[0]): AdminClient {
  const settings = loadSettings({ data: stringValue(parsed, "data") });
  return new AdminClient(
    locateGateway({ dataDir: settings.dataDir, url: stringValue(parsed, "url"), tokenFile: stringValue(parsed, "token-file") }),
  );
}

/** The interface a tool waiting for approval names (an MCP App's), each URI once: its keys often name the same one. */
export function interfaceSaid(ui: UiPointers): string {
  return [...new Set(Object.values(ui))].join(", ");
}

/** The targeting flags this command was given, to repeat in a command it suggests (` --data /srv/mg`). */
function sameTarget(parsed: Parameters<Command["run"]>[0]): string {
  return (["data", "url", "token-file"] as const)
    .map((flag) => [flag, stringValue(parsed, flag)] as const)
    .filter(([, value]) => value !== undefined)
    .map(([flag, value]) => ` --${flag} ${shellWord(value!)}`)
    .join("");
}

export const statusCommand: Command = {
  name: "status",
  summary: "Show a running gateway's status through its admin API.",
  usage: "mintgate status [--url URL] [--token-file F] [--data DIR] [--json]",
  options: { ...ADMIN_TARGET_OPTIONS, ...JSON_OPTION },
  optionHelp: { ...ADMIN_TARGET_HELP, "--json": "print the status as JSON" },
  async run(parsed) {
    const client = adminClientFor(parsed);
    const status = await client.status();
    if (parsed.values.json) {
      printJson(status);
    } else {
      process.stdout.write(
        `mintgate ${status.version} at ${client.url}\n` +
          `  up ${status.uptimeSeconds}s since ${status.startedAt}\n` +
          // The URL AI clients are given; a gateway older than this CLI does not say (undefined), one without --public-url says null.
          (status.publicUrl === undefined ? "" : `  public URL ${status.publicUrl ?? `none (clients are given ${client.url}; set --public-url)`}\n`) +
          `  data dir ${status.dataDir} (schema ${status.schemaVersion})\n` +
          `  secrets ${status.secrets.count}\n` +
          `  connectors ${status.connectors.ready} of ${status.connectors.total} ready, virtual MCPs ${status.virtualMcps}, sessions ${status.sessions}\n` +
          // A gateway older than this CLI sends no notReady; the reason is upstream text, so it is made printable.
          (status.connectors.notReady ?? []).map((c) => `  ${printable(`connector ${c.name}: ${c.state}${c.reason ? ` (${c.reason})` : ""}`)}\n`).join("") +
          // The suggested command quotes a tool name a shell would split; the line is made printable like the problems below.
          status.pendingApprovals.map((p) => `  ${printable(`waiting for approval: ${p.virtualMcp} ${p.tool} (${p.reason}${p.ui ? `; interface ${interfaceSaid(p.ui)}` : ""}); \`mintgate approve ${shellWord(p.virtualMcp)} ${shellWord(p.tool)}${sameTarget(parsed)}\``)}\n`).join("") +
          // Problems quote names from the configuration and upstream tool lists, so they are made printable too.
          (status.problems ?? []).map((p) => `  ${printable(`problem in ${p.virtualMcp}: ${p.problem}`)}\n`).join(""),
      );
    }
    return 0;
  },
};
