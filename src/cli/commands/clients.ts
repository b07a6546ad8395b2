import { AuthEvents } from "../../auth/events.ts";
import { ClientRegistry, DEFAULT_PRIVATE_USE_SCHEMES } from "../../auth/clients/index.ts";
import { loadSettings } from "../../config/index.ts";
import { OAuthError } from "../../auth/oauth-error.ts";
import { invalid, notFound } from "../../errors/index.ts";
import type { Store } from "../../store/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, type Command, commandGroup, printTable } from "../command.ts";
import { changedTarget, DATA_HELP, withDataDir } from "../data-dir.ts";

/** The same private-use schemes as `serve` (MINTGATE_REDIRECT_SCHEMES), so an admin can add what clients may register. */
const registryOf = (store: Store) =>
  new ClientRegistry({ store, events: new AuthEvents(store), privateUseSchemes: [...DEFAULT_PRIVATE_USE_SCHEMES, ...loadSettings({}).redirectSchemes] });

const addCommand: Command = {
  name: "clients add",
  summary: "Pre-register an OAuth client (e.g. ChatGPT's predefined client); its secret is printed once and stored only as a hash.",
  usage: "mintgate clients add --name NAME --redirect-uri URI [--redirect-uri URI…] [--public] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, name: { type: "string" }, "redirect-uri": { type: "string", multiple: true }, public: { type: "boolean" } },
  optionHelp: {
    "--name NAME": "the name people see on the consent page (required)",
    "--redirect-uri URI": "where the client receives the code; repeat for several (https, http on 127.0.0.1/[::1]/localhost, cursor:// or a scheme in MINTGATE_REDIRECT_SCHEMES)",
    "--public": "a public client (PKCE only, no secret); default: confidential, with a secret for client_secret_basic or client_secret_post",
    ...DATA_HELP,
    "--json": 'print {"clientId":…,"clientSecret":…} as JSON',
  },
  async run(parsed) {
    const name = stringValue(parsed, "name");
    if (!name) throw invalid("`mintgate clients add` needs --name NAME: the name people see when they approve the client.");
    const redirectUris = (parsed.values["redirect-uri"] as unknown as string[] | undefined) ?? [];
    if (redirectUris.length === 0) throw invalid("`mintgate clients add` needs at least one --redirect-uri URI.");
    const created = await withDataDir(parsed, (dir) => {
      try {
        const made = registryOf(dir.store).addStatic({ name, redirectUris, confidential: !parsed.values.public });
        changedTarget(made.clientId);
        return made;
      } catch (error) {
        if (error instanceof OAuthError) throw invalid(error.description);
        throw error;
      }
    });
    if (parsed.values.json) printJson(created);
    else {
      process.stdout.write(`client_id: ${created.clientId}\n`);
      if (created.clientSecret) process.stdout.write(`client_secret: ${created.clientSecret}\n`);
      process.stderr.write(created.clientSecret ? "The secret is shown only now; the client sends it with client_secret_basic or client_secret_post.\n" : "A public client: it uses PKCE and no secret.\n");
    }
    return 0;
  },
};

const listCommand: Command = {
  name: "clients list",
  summary: "List OAuth clients added by an admin (never their secrets).",
  usage: "mintgate clients list [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the list as JSON" },
  async run(parsed) {
    const clients = await withDataDir(parsed, (dir) => registryOf(dir.store).listStatic());
    if (parsed.values.json) printJson(clients);
    else if (clients.length === 0) process.stdout.write("No clients added yet; add one with `mintgate clients add --name NAME --redirect-uri URI`.\n");
    else printTable(["CLIENT ID", "NAME", "TYPE", "REDIRECT URIS", "LAST USED"], clients.map((c) => [c.clientId, c.name, c.confidential ? "confidential" : "public", c.redirectUris.join(" "), c.lastUsedAt ?? "never"]));
    return 0;
  },
};

const removeCommand: Command = {
  name: "clients remove",
  summary: "Remove an OAuth client; its next token request is refused with invalid_client.",
  usage: "mintgate clients remove CLIENT_ID [--data DIR] [--json]",
  args: ["CLIENT_ID"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print {"removed": CLIENT_ID} as JSON' },
  async run(parsed) {
    const [clientId] = parsed.positionals;
    await withDataDir(parsed, (dir) => {
      if (!registryOf(dir.store).remove(clientId!)) throw notFound(`There is no client "${clientId}"; \`mintgate clients list\` shows them.`);
    });
    if (parsed.values.json) printJson({ removed: clientId });
    else process.stdout.write(`Removed client ${clientId}.\n`);
    return 0;
  },
};

export const clientsSubcommands = [addCommand, listCommand, removeCommand];

export const clientsCommand = commandGroup("clients", "Manage OAuth clients added by an admin (AI clients can also register themselves).", clientsSubcommands);
