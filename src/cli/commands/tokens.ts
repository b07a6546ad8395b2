import { AccessTokenService, AuthEvents, OAuthGrants, parseLifetime } from "../../auth/index.ts";
import { invalid } from "../../errors/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, printTable, stringValue, type Command, commandGroup } from "../command.ts";
import { changedTarget, DATA_HELP, withDataDir } from "../data-dir.ts";

const createCommand: Command = {
  name: "tokens create",
  summary: "Create a personal access token for /mcp/*; it is printed once and stored only as a hash.",
  usage: "mintgate tokens create --user EMAIL [--vmcp SLUG] [--expires 30d] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, user: { type: "string" }, vmcp: { type: "string" }, expires: { type: "string" } },
  optionHelp: {
    "--user EMAIL": "the person the token acts for (required)",
    "--vmcp SLUG": "only this virtual MCP accepts the token (default: every one)",
    "--expires AGE": "lifetime such as 90m, 12h or 30d (default: no expiry)",
    ...DATA_HELP,
    "--json": 'print the token record with its "token" (id, subject, virtualMcp, expiresAt, …) as JSON',
  },
  details:
    "The token is created even when it would be refused today (the person is disabled, or the virtual MCP's\n" +
    "access policy leaves them out); a warning on stderr says so and which rule decides.",
  async run(parsed) {
    const user = stringValue(parsed, "user");
    if (!user) throw invalid("`mintgate tokens create` needs --user EMAIL: the person the token acts for.");
    const expires = stringValue(parsed, "expires");
    const lifetimeMs = expires === undefined ? undefined : parseLifetime(expires);
    const vmcp = stringValue(parsed, "vmcp");
    const created = await withDataDir(parsed, (dir) => {
      const made = new AccessTokenService(dir.store).create({ subject: user, virtualMcp: vmcp, lifetimeMs });
      changedTarget(made.id);
      return made;
    });
    if (parsed.values.json) printJson({ ...created.info, token: created.token });
    else {
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(
        `Token ${created.id} for ${created.info.subject}${created.info.virtualMcp ? ` on virtual MCP ${created.info.virtualMcp}` : ""}${created.info.expiresAt ? `, expires ${created.info.expiresAt}` : ""}. It is shown only now.\n`,
      );
    }
    // On stderr, with --json too: stdout stays the token (or valid JSON) for scripts.
    for (const warning of created.warnings) process.stderr.write(`mintgate: warning: ${warning}\n`);
    return 0;
  },
};

const listCommand: Command = {
  name: "tokens list",
  summary: "List personal access tokens and AI clients' sign-ins (never the tokens themselves).",
  usage: "mintgate tokens list [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print {"personal": […], "oauth": […]} as JSON' },
  async run(parsed) {
    const { personal, oauth } = await withDataDir(parsed, (dir) => ({
      personal: new AccessTokenService(dir.store).list(),
      oauth: new OAuthGrants({ store: dir.store, events: new AuthEvents(dir.store) }).listGrants(),
    }));
    if (parsed.values.json) {
      printJson({ personal, oauth });
      return 0;
    }
    if (personal.length === 0 && oauth.length === 0) {
      process.stdout.write("No tokens yet; create one with `mintgate tokens create --user EMAIL`, or sign in from an AI client.\n");
      return 0;
    }
    const rows = [
      ...personal.map((t) => [t.id, "personal", t.subject, t.virtualMcp ?? "*", t.revokedAt ? "revoked" : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? "expired" : "active", t.expiresAt ?? "never", t.lastUsedAt ?? "never"]),
      ...oauth.map((g) => [g.id, "oauth", g.email, g.virtualMcp, g.revokedAt ? `revoked (${g.revokedReason ?? ""})` : "active", `client ${g.clientId}`, g.createdAt]),
    ];
    printTable(["ID", "KIND", "USER", "VMCP", "STATE", "EXPIRES / CLIENT", "LAST USED / SIGNED IN"], rows);
    return 0;
  },
};

const revokeCommand: Command = {
  name: "tokens revoke",
  summary: "Revoke a personal access token or an AI client's sign-in; the next request with it is refused.",
  usage: "mintgate tokens revoke ID [--data DIR] [--json]",
  args: ["ID"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print {"revoked": ID, "changed": false when it was revoked already} as JSON' },
  async run(parsed) {
    const [id] = parsed.positionals;
    const outcome = await withDataDir(parsed, (dir) => {
      const grants = new OAuthGrants({ store: dir.store, events: new AuthEvents(dir.store) });
      return grants.isGrant(id!) ? grants.revokeGrant(id!, "the CLI") : new AccessTokenService(dir.store).revoke(id!);
    });
    if (parsed.values.json) printJson({ revoked: id, changed: outcome === "revoked" });
    else process.stdout.write(outcome === "revoked" ? `Revoked token ${id}.\n` : `Token ${id} was revoked already; nothing changed.\n`);
    return 0;
  },
};

export const tokensSubcommands = [createCommand, listCommand, revokeCommand];

export const tokensCommand = commandGroup("tokens", "Manage personal access tokens for AI clients and scripts.", tokensSubcommands);
