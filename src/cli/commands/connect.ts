import { CLIENT_NAMES, clientSetups, clientSetupText, noPublicUrlWarning, personalTokenCommand, plainHttpWarning, signInNote, virtualMcpUrl, type ClientName } from "../../client-setup/index.ts";
import { parsePublicUrl } from "../../config/index.ts";
import { closestName, invalid, notFound } from "../../errors/index.ts";
import { printable, shellWord } from "../../terminal/index.ts";
import { JSON_OPTION, printJson, stringValue, type Command } from "../command.ts";
import { ADMIN_TARGET_HELP, ADMIN_TARGET_OPTIONS, adminClientFor } from "./status.ts";

export const connectCommand: Command = {
  name: "connect",
  summary: "Print how to add a virtual MCP to each AI client (Claude, ChatGPT, Claude Code, Cursor, VS Code, mcp-remote).",
  usage: "mintgate connect SLUG [--client NAME] [--public-url URL] [--url URL] [--token-file F] [--data DIR] [--json]",
  args: ["SLUG"],
  options: { ...ADMIN_TARGET_OPTIONS, ...JSON_OPTION, client: { type: "string" }, "public-url": { type: "string" } },
  optionHelp: {
    "--client NAME": `only this client's steps: ${CLIENT_NAMES.join(", ")}`,
    "--public-url URL": "the gateway's URL people use (default: the running gateway's --public-url, else its listen URL)",
    ...ADMIN_TARGET_HELP,
    "--json": 'print {"virtualMcp", "url", "clients": {NAME: {title, steps, command, configFile, config}}, "personalToken"} as JSON',
  },
  details:
    "Talks to the running gateway: it checks that SLUG exists and reads the public URL the gateway was\n" +
    "started with (--public-url or MINTGATE_PUBLIC_URL). Without one, the URL is the gateway's listen URL,\n" +
    "which AI clients on other machines cannot use; a warning on stderr says so.\n" +
    "Each person signs in in the browser (OAuth) when their client first connects, so nothing printed here\n" +
    "is secret. For scripts and clients without sign-in, give the person a personal access token instead\n" +
    "(`mintgate tokens create --user EMAIL --vmcp SLUG`), sent as `Authorization: Bearer TOKEN`.",
  async run(parsed) {
    const [slug] = parsed.positionals as [string];
    const only = stringValue(parsed, "client");
    // Checked before the gateway is asked: a typo in the command line is a usage error, whatever the gateway says.
    if (only !== undefined && !isClientName(only)) throw invalid(`--client must be one of ${CLIENT_NAMES.join(", ")}, not "${printable(only)}".`);
    const given = stringValue(parsed, "public-url");
    const givenUrl = given === undefined ? undefined : parsePublicUrl(given, "--public-url");
    const client = adminClientFor(parsed);
    const [status, virtualMcps] = await Promise.all([client.status(), client.virtualMcps()]);
    const vmcp = virtualMcps.find((v) => v.slug === slug);
    if (!vmcp) throw notFound(unknownSlug(slug, virtualMcps.map((v) => v.slug)));
    // What the gateway names to clients in its OAuth metadata: a client given another URL refuses that metadata.
    const gatewayUrl = status.publicUrl ?? client.url;
    if (givenUrl !== undefined && givenUrl !== gatewayUrl) {
      process.stderr.write(`mintgate: warning: the gateway names ${gatewayUrl} to AI clients, not ${givenUrl}; their sign-in fails until the gateway is started with --public-url ${shellWord(givenUrl)}.\n`);
    }
    const url = virtualMcpUrl(givenUrl ?? gatewayUrl, slug);
    const insecure = plainHttpWarning(url);
    if (givenUrl === undefined && !status.publicUrl) {
      process.stderr.write(`mintgate: warning: ${noPublicUrlWarning(url)}\n`);
    } else if (insecure !== undefined) {
      process.stderr.write(`mintgate: warning: ${insecure}\n`);
    }
    const setups = clientSetups({ name: slug, url });
    const chosen = only === undefined ? CLIENT_NAMES : [only];
    const personalToken = personalTokenCommand(slug);
    if (parsed.values.json) {
      printJson({ virtualMcp: slug, url, clients: Object.fromEntries(chosen.map((name) => [name, setups[name]])), personalToken });
      return 0;
    }
    if (only !== undefined) {
      process.stdout.write(clientSetupText(setups[only]));
      return 0;
    }
    process.stdout.write(
      `Virtual MCP "${slug}" (${printable(vmcp.name)}): ${url}\n\n` +
        chosen.map((name) => clientSetupText(setups[name])).join("\n") +
        `\n${signInNote(slug)}\n`,
    );
    return 0;
  },
};

function isClientName(name: string): name is ClientName {
  return (CLIENT_NAMES as readonly string[]).includes(name);
}

/** The closest slug when one is a typo away, else the ones there are. */
function unknownSlug(slug: string, known: string[]): string {
  const missing = `There is no virtual MCP "${printable(slug)}"`;
  const guess = closestName(slug, known);
  if (guess) return `${missing}; did you mean "${guess}"?`;
  if (known.length === 0) return `${missing}; this gateway has none yet: add one with \`mintgate apply -f mintgate.yaml\` or in \`mintgate tui\`.`;
  return `${missing}; this gateway has ${known.map((k) => `"${k}"`).join(", ")}.`;
}
