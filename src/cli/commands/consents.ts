import { AuthEvents, OAuthGrants } from "../../auth/index.ts";
import { UserDirectory } from "../../auth/accounts/index.ts";
import { counted } from "../../terminal/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, printTable, requireOptions, stringValue, type Command, commandGroup } from "../command.ts";
import { DATA_HELP, withDataDir } from "../data-dir.ts";
import type { DataDir } from "../../runtime/index.ts";

const grantsOf = (dir: DataDir) => new OAuthGrants({ store: dir.store, events: new AuthEvents(dir.store) });

const listCommand: Command = {
  name: "consents list",
  summary: "List which AI clients each person approved.",
  usage: "mintgate consents list [--user EMAIL|ID] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, user: { type: "string" } },
  optionHelp: { "--user EMAIL|ID": "only this person's approvals", ...DATA_HELP, "--json": "print the list as JSON" },
  async run(parsed) {
    const user = stringValue(parsed, "user");
    const consents = await withDataDir(parsed, (dir) => grantsOf(dir).listConsents(user === undefined ? undefined : new UserDirectory(dir.store).resolve(user).id));
    if (parsed.values.json) printJson(consents);
    else if (consents.length === 0) process.stdout.write("No approvals yet: people approve an AI client the first time it signs them in.\n");
    else printTable(["PERSON", "CLIENT", "SCOPE", "APPROVED"], consents.map((c) => [c.email, c.clientId, c.scope, c.grantedAt]));
    return 0;
  },
};

const revokeCommand: Command = {
  name: "consents revoke",
  summary: "Revoke a person's approval of an AI client, and every token the client holds for them.",
  usage: "mintgate consents revoke --user EMAIL|ID --client CLIENT_ID [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, user: { type: "string" }, client: { type: "string" } },
  optionHelp: { "--user EMAIL|ID": "the person (required)", "--client CLIENT_ID": "the client, as `consents list` shows it (required)", ...DATA_HELP, "--json": "print the result as JSON" },
  async run(parsed) {
    requireOptions(parsed, "consents revoke", { user: "EMAIL", client: "CLIENT_ID" }, "; `mintgate consents list` shows the people and clients");
    const user = stringValue(parsed, "user")!;
    const client = stringValue(parsed, "client")!;
    const result = await withDataDir(parsed, (dir) => grantsOf(dir).revokeConsent(new UserDirectory(dir.store).resolve(user).id, client, "the CLI"));
    if (parsed.values.json) printJson(result);
    else process.stdout.write(`Revoked ${user}'s approval of ${client}${result.grantsRevoked ? ` and ${counted(result.grantsRevoked, "sign-in")} with their tokens` : ""}.\n`);
    return 0;
  },
};

export const consentsSubcommands = [listCommand, revokeCommand];

export const consentsCommand = commandGroup("consents", "See and revoke people's approvals of AI clients.", consentsSubcommands);
