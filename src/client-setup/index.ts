import { LOOPBACK_HOSTS } from "../auth/clients/redirect-uris.ts";
import { shellWord } from "../terminal/index.ts";

/**
 * What a person does in each AI client to add one Virtual MCP by its URL: the steps the README lists,
 * printed by `mintgate connect` and (with the demo's token) by `serve --demo`, so the two never differ.
 * Only what the README says of each client; no deep links or flags nobody here has checked.
 */

/** The names `mintgate connect --client` takes, in the order the README lists the clients. */
export const CLIENT_NAMES = ["claude", "chatgpt", "claude-code", "cursor", "vscode", "mcp-remote"] as const;
export type ClientName = (typeof CLIENT_NAMES)[number];

export interface ClientSetup {
  /** The client as people know it. */
  title: string;
  /** What to do, with the URL in it, when it is done in the client's own screens or after the command. */
  steps?: string;
  /** A command line to paste into a shell, quoted as a POSIX shell needs. */
  command?: string;
  /** The file a configuration goes in, and the object to put there (merged with what the file holds already). */
  configFile?: string;
  config?: Record<string, unknown>;
}

export interface VirtualMcpEndpoint {
  /** The name the client shows for it: the Virtual MCP's slug. */
  name: string;
  /** `<public URL>/mcp/<slug>`. */
  url: string;
  /** A personal access token sent as `Authorization: Bearer …`; without one the client signs the person in (OAuth). */
  bearerToken?: string | undefined;
}

/** The Streamable HTTP endpoint of a Virtual MCP under a gateway's base URL, as the gateway names it to clients. */
export function virtualMcpUrl(baseUrl: string, slug: string): string {
  return `${baseUrl.replace(/\/$/, "")}/mcp/${encodeURIComponent(slug)}`;
}

/** Every client's setup for one Virtual MCP. */
export function clientSetups(endpoint: VirtualMcpEndpoint): Record<ClientName, ClientSetup> {
  const { name, url, bearerToken } = endpoint;
  const header = bearerToken === undefined ? undefined : `Authorization: Bearer ${bearerToken}`;
  // The entry Cursor's and VS Code's mcp.json take (Streamable HTTP).
  const entry = { type: "http", url, ...(bearerToken === undefined ? {} : { headers: { Authorization: `Bearer ${bearerToken}` } }) };
  const signIn = bearerToken === undefined ? "; the person signs in in the browser" : "";
  return {
    claude: { title: "Claude.ai / Claude Desktop", steps: `Settings → Connectors → Add custom connector, with the URL ${url}${signIn}.` },
    chatgpt: { title: "ChatGPT (developer mode)", steps: `Add a connector with the URL ${url}; it registers itself through its client metadata document${signIn}.` },
    "claude-code": {
      title: "Claude Code",
      command: ["claude", "mcp", "add", "--transport", "http", name, url, ...(header ? ["--header", header] : [])].map(shellWord).join(" "),
      ...(bearerToken === undefined ? { steps: "Then run /mcp in Claude Code to sign in." } : {}),
    },
    cursor: { title: "Cursor", configFile: "~/.cursor/mcp.json", config: { mcpServers: { [name]: entry } } },
    vscode: {
      title: "VS Code",
      configFile: ".vscode/mcp.json",
      config: { servers: { [name]: entry } },
      command: ["code", "--add-mcp", JSON.stringify({ name, ...entry })].map(shellWord).join(" "),
    },
    // Given the URL alone, it signs the person in; the README documents no way to hand it a token.
    "mcp-remote": { title: "Clients that only speak stdio", command: ["npx", "mcp-remote", url].map(shellWord).join(" "), steps: "The person signs in in the browser." },
  };
}

/** One part of a client's setup: its title line, the configuration (JSON), a command line, or steps in words. */
export interface ClientSetupPart {
  kind: "title" | "config" | "command" | "steps";
  text: string;
}

/** One client's setup in the order it is printed; the TUI lays the parts out itself (JSON kept whole, words wrapped). */
export function clientSetupParts(setup: ClientSetup): ClientSetupPart[] {
  const parts: ClientSetupPart[] = [{ kind: "title", text: setup.configFile ? `${setup.title} (${setup.configFile})` : setup.title }];
  if (setup.config) parts.push({ kind: "config", text: JSON.stringify(setup.config, null, 2) });
  if (setup.command) parts.push({ kind: "command", text: setup.config ? `or run: ${setup.command}` : setup.command });
  if (setup.steps) parts.push({ kind: "steps", text: setup.steps });
  return parts;
}

/** One client's setup as text: its title, then each part indented by two spaces (JSON stays valid to paste). */
export function clientSetupText(setup: ClientSetup): string {
  const indent = (text: string) => text.replace(/^/gm, "  ");
  return clientSetupParts(setup).map((part) => (part.kind === "title" ? part.text : indent(part.text))).join("\n") + "\n";
}

/** Why a Virtual MCP URL under the gateway's listen URL is no good to other people, and what fixes it. */
export function noPublicUrlWarning(url: string): string {
  return `the gateway has no public URL, so ${url} (its listen URL) works only on this machine; start the gateway with --public-url set to the URL people use (e.g. https://mcp.example.com).`;
}

/**
 * Why sign-in at `url` fails, when it is plain http to a host other than this machine's loopback names: OAuth 2.1 wants
 * https for its endpoints, and the MCP SDK's clients (mcp-remote, the Inspector) refuse to send the sign-in's code to
 * an http token endpoint outside localhost, 127.0.0.1 and ::1, after the person has signed in in the browser.
 */
export function plainHttpWarning(url: string): string | undefined {
  const { protocol, hostname } = new URL(url);
  if (protocol !== "http:" || LOOPBACK_HOSTS.has(hostname)) return undefined;
  return `${url} is plain http, and AI clients refuse to finish a sign-in over http anywhere but localhost; serve the gateway behind HTTPS and start it with --public-url https://… (or give each person a personal access token).`;
}

/** The command that gives one person a personal access token for a Virtual MCP. */
export function personalTokenCommand(slug: string): string {
  return `mintgate tokens create --user EMAIL --vmcp ${shellWord(slug)}`;
}

/** What follows the clients' steps: none of it is secret, and what to do for clients that cannot sign in. */
export function signInNote(slug: string): string {
  return `Nothing above is secret: each person signs in in the browser (OAuth). For scripts or clients without sign-in, create a personal access token with \`${personalTokenCommand(slug)}\` and send it as \`Authorization: Bearer TOKEN\`.`;
}
