import { hashPassword, MIN_PASSWORD_LENGTH, UserDirectory, type UserDetails } from "../../auth/accounts/index.ts";
import { invalid } from "../../errors/index.ts";
import { counted, printableLines } from "../../terminal/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, type Command, commandGroup, printTable } from "../command.ts";
import { changedNothing, checkInDataDir, DATA_HELP, requireDataDir, withDataDir } from "../data-dir.ts";
import { readSecretValue } from "../prompt.ts";

/** The password from stdin: its first line, or typed without echo on a terminal. `command` is named in the hint when none is given; hashPassword checks its length. */
async function readPassword(email: string, command: "users add" | "users set-password"): Promise<string> {
  const text = await readSecretValue(`Password for ${email} (at least ${MIN_PASSWORD_LENGTH} characters): `);
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password.length === 0) throw invalid(`No password given: pipe it on standard input, for example \`printf '%s\\n' "$PW" | mintgate ${command} ${email}\`.`);
  return password;
}

function describe(user: UserDetails): string {
  const lines = [
    `${user.email}${user.name ? ` (${user.name})` : ""}`,
    `  id:         ${user.id}`,
    `  role:       ${user.role}`,
    `  state:      ${user.disabled ? `disabled since ${user.disabledAt}` : "active"}`,
    `  signs in:   ${user.identities.map((i) => (i.provider === "local" ? "local password" : `${i.provider} (subject ${i.subject})`)).join(", ") || "nowhere yet"}`,
    `  groups:     ${user.groupSources.map((g) => `${g.group}${g.source === "manual" ? "" : ` (from ${g.source})`}`).join(", ") || "none"}`,
    `  last login: ${user.lastSignInAt ?? "never"}`,
  ];
  const overage = user.identities.find((i) => i.claims?.groupsOverage);
  if (overage) lines.push(`  note:       ${overage.provider} sent too many groups to fit in its token (overage); only its roles were used.`);
  // Okta cuts a groups claim off at about 100 without saying so: a group a policy denies may be among those left out.
  const truncated = user.identities.find((i) => i.claims?.groupsPossiblyTruncated);
  if (truncated) {
    const count = Array.isArray(truncated.claims?.groups) ? truncated.claims.groups.length : "100 or more";
    lines.push(`  note:       ${truncated.provider} sent ${count} groups, as many as Okta puts in a token; any past them are missing: have Okta send only the groups mintgate's policies use (a groups claim filter).`);
  }
  return lines.join("\n") + "\n";
}

const addCommand: Command = {
  name: "users add",
  summary: "Add a local account; the password is read from standard input.",
  usage: "mintgate users add EMAIL [--admin] [--name NAME] [--data DIR] [--json]",
  args: ["EMAIL"],
  options: { ...DATA_OPTION, ...JSON_OPTION, admin: { type: "boolean" }, name: { type: "string" } },
  optionHelp: {
    "--admin": "the person may use the admin API and pages (default: member)",
    "--name NAME": "the name shown on pages",
    ...DATA_HELP,
    "--json": "print the new person as JSON",
  },
  details: `The password is the first line of standard input (or typed without echo on a terminal), at least ${MIN_PASSWORD_LENGTH} characters; it is stored as an argon2id hash.`,
  async run(parsed) {
    const [email] = parsed.positionals;
    requireDataDir(parsed);
    // Hashed first: the account and its audit record are then written in one transaction.
    const password = await hashPassword(await readPassword(email!, "users add"));
    const user = await withDataDir(parsed, (dir) =>
      new UserDirectory(dir.store).addLocalHashed({ email: email!, password, role: parsed.values.admin ? "admin" : "member", name: stringValue(parsed, "name") }),
    );
    if (parsed.values.json) printJson(user);
    else process.stdout.write(`Added ${user.role} ${user.email} (id ${user.id}).\n`);
    return 0;
  },
};

const listCommand: Command = {
  name: "users list",
  summary: "List people: local accounts and everyone who signed in through SSO.",
  usage: "mintgate users list [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the list as JSON (with groups and identities)" },
  async run(parsed) {
    const users = await withDataDir(parsed, (dir) => new UserDirectory(dir.store).list());
    if (parsed.values.json) printJson(users);
    else if (users.length === 0) process.stdout.write("No people yet; add one with `mintgate users add EMAIL --admin`.\n");
    else {
      printTable(
        ["EMAIL", "ROLE", "STATE", "SIGNS IN WITH", "GROUPS", "LAST SIGN-IN", "ID"],
        users.map((u) => [u.email, u.role, u.disabled ? "disabled" : "active", u.identities.map((i) => i.provider).join(",") || "-", u.groups.join(",") || "-", u.lastSignInAt ?? "never", u.id]),
      );
    }
    return 0;
  },
};

const showCommand: Command = {
  name: "users show",
  summary: "Show one person: role, state, identities and groups with their sources.",
  usage: "mintgate users show EMAIL|ID [--data DIR] [--json]",
  args: ["EMAIL|ID"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the person as JSON" },
  async run(parsed) {
    const [ref] = parsed.positionals;
    const user = await withDataDir(parsed, (dir) => {
      const users = new UserDirectory(dir.store);
      return users.get(users.resolve(ref!).id);
    });
    if (parsed.values.json) printJson(user);
    // A provider's subject is its own text, kept as sent: an ESC sequence in it would drive the admin's terminal.
    else process.stdout.write(printableLines(describe(user)));
    return 0;
  },
};

function stateCommand(verb: "disable" | "enable"): Command {
  return {
    name: `users ${verb}`,
    summary: verb === "disable" ? "Disable a person: sign-in is refused and their OAuth tokens stop working at once." : "Enable a disabled person again.",
    usage: `mintgate users ${verb} EMAIL|ID [--data DIR] [--json]`,
    args: ["EMAIL|ID"],
    options: { ...DATA_OPTION, ...JSON_OPTION },
    optionHelp: { ...DATA_HELP, "--json": "print the person as JSON" },
    async run(parsed) {
      const [ref] = parsed.positionals;
      const { user, already } = await withDataDir(parsed, (dir) => {
        const users = new UserDirectory(dir.store);
        const wasDisabled = users.resolve(ref!).disabledAt !== null;
        const user = verb === "disable" ? users.disable(ref!, { by: "cli" }) : users.enable(ref!);
        return { user, already: wasDisabled === (verb === "disable") };
      });
      if (parsed.values.json) printJson(user);
      else if (already) process.stdout.write(`${user.email} was already ${verb}d; nothing changed.\n`);
      else process.stdout.write(`${verb === "disable" ? "Disabled" : "Enabled"} ${user.email}.\n`);
      return 0;
    },
  };
}

const setPasswordCommand: Command = {
  name: "users set-password",
  summary: "Set a local account's password, read from standard input; the person's AI clients must sign in again.",
  usage: "mintgate users set-password EMAIL|ID [--data DIR] [--json]",
  args: ["EMAIL|ID"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print {"user": EMAIL, "signInsEnded": N} as JSON' },
  details: `The password is the first line of standard input (or typed without echo on a terminal), at least ${MIN_PASSWORD_LENGTH} characters. The person's AI client sign-ins (OAuth grants) end, so a client signed in with a stolen password is out; personal access tokens stay.`,
  async run(parsed) {
    const [ref] = parsed.positionals;
    // The person must exist and have a local account before their new password is asked for.
    checkInDataDir(parsed, (dir) => new UserDirectory(dir.store).checkLocalAccount(ref!));
    // Hashed first: the change and its audit record are then written in one transaction.
    const password = await hashPassword(await readPassword(ref!, "users set-password"));
    const { email, signInsEnded } = await withDataDir(parsed, (dir) => {
      const users = new UserDirectory(dir.store);
      return { email: users.resolve(ref!).email, ...users.setPasswordHashed(ref!, password) };
    });
    if (parsed.values.json) {
      printJson({ user: email, signInsEnded });
      return 0;
    }
    const ended = signInsEnded === 0 ? "" : ` and ended ${counted(signInsEnded, "AI client sign-in")}`;
    process.stdout.write(`Set the password of ${ref}${ended}.\n`);
    return 0;
  },
};

const setRoleCommand: Command = {
  name: "users set-role",
  summary: "Make a person an admin or a member.",
  usage: "mintgate users set-role EMAIL|ID admin|member [--data DIR] [--json]",
  args: ["EMAIL|ID", "ROLE"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print the person as JSON, with "changed": false when they had that role already' },
  async run(parsed) {
    const [ref, role] = parsed.positionals;
    if (role !== "admin" && role !== "member") throw invalid(`"${role}" is not a role: use admin or member.`);
    const { user, changed } = await withDataDir(parsed, (dir) => {
      const users = new UserDirectory(dir.store);
      const changed = users.resolve(ref!).role !== role;
      if (!changed) changedNothing();
      return { user: users.setRole(ref!, role), changed };
    });
    const article = user.role === "admin" ? "an admin" : "a member";
    if (parsed.values.json) printJson({ ...user, changed });
    else if (changed) process.stdout.write(`${user.email} is now ${article}.\n`);
    else process.stdout.write(`${user.email} was already ${article}; nothing changed.\n`);
    return 0;
  },
};

export const usersSubcommands = [addCommand, listCommand, showCommand, stateCommand("disable"), stateCommand("enable"), setPasswordCommand, setRoleCommand];

export const usersCommand = commandGroup("users", "Manage people: local accounts, roles, disabling.", usersSubcommands);

function groupChangeCommand(verb: "add" | "remove"): Command {
  return {
    name: `groups ${verb}`,
    summary: verb === "add" ? "Put a person in a group by hand (kept beside the groups from SSO)." : "Take a person out of a group assigned by hand.",
    usage: `mintgate groups ${verb} EMAIL|ID GROUP [--data DIR] [--json]`,
    args: ["EMAIL|ID", "GROUP"],
    options: { ...DATA_OPTION, ...JSON_OPTION },
    optionHelp: { ...DATA_HELP, "--json": "print the person as JSON" },
    details:
      verb === "add"
        ? "Adding a person to a group they are in by hand already changes nothing and exits 0."
        : "Removing a person from a group they are not in (or a group no one is in) changes nothing and exits 0;\n" +
          "an unknown person is an error (exit 1), and so is a group only their SSO provider gives (change it there).",
    async run(parsed) {
      const [ref, group] = parsed.positionals;
      const change = await withDataDir(parsed, (dir) => {
        const directory = new UserDirectory(dir.store);
        if (verb === "add") {
          const { user, group: name, added, fromProviders } = directory.assignGroup(ref!, group!);
          return { user, name, changed: added, fromProviders };
        }
        const { user, group: name, removed, fromProviders } = directory.unassignGroup(ref!, group!);
        return { user, name, changed: removed, fromProviders };
      });
      const { user, name, changed, fromProviders } = change;
      if (parsed.values.json) {
        printJson(user);
        return 0;
      }
      const groups = user.groups.length ? `; groups: ${user.groups.join(", ")}` : "";
      const providers = fromProviders.join(" and ");
      let message: string;
      if (verb === "add") {
        if (!changed) message = `${user.email} was already in "${name}"; nothing changed${groups}`;
        else if (fromProviders.length) message = `${user.email} is now in "${name}" by hand as well as through ${providers}${groups}`;
        else message = `${user.email} is now in "${name}"${groups}`;
      } else {
        if (!changed) message = `${user.email} was not in "${name}"; nothing changed${groups}`;
        else if (fromProviders.length) message = `${user.email} is no longer in "${name}" by hand, but still through ${providers} (change it there)${groups}`;
        else message = `${user.email} is no longer in "${name}"${groups}`;
      }
      process.stdout.write(`${message}.\n`);
      return 0;
    },
  };
}

const groupsListCommand: Command = {
  name: "groups list",
  summary: "List groups and their members, from SSO and assigned by hand.",
  usage: "mintgate groups list [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print [{"group":…,"members":[{"email":…,"id":…,"source":…}]}] as JSON' },
  async run(parsed) {
    const users = await withDataDir(parsed, (dir) => new UserDirectory(dir.store).list());
    const groups = new Map<string, { email: string; id: string; source: string }[]>();
    for (const user of users) for (const g of user.groupSources) groups.set(g.group, [...(groups.get(g.group) ?? []), { email: user.email, id: user.id, source: g.source }]);
    const list = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([group, members]) => ({ group, members }));
    if (parsed.values.json) printJson(list);
    else if (list.length === 0) process.stdout.write("No groups yet; they come from SSO sign-ins or `mintgate groups add EMAIL GROUP`.\n");
    else printTable(["GROUP", "MEMBERS"], list.map((g) => [g.group, g.members.map((m) => `${m.email}${m.source === "manual" ? "" : ` (${m.source})`}`).join(", ")]));
    return 0;
  },
};

export const groupsSubcommands = [groupChangeCommand("add"), groupChangeCommand("remove"), groupsListCommand];

export const groupsCommand = commandGroup("groups", "Assign people to groups by hand and list group members.", groupsSubcommands);
