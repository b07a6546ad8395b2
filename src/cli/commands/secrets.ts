import { refuseToDeleteUsedSecret } from "../../admin/index.ts";
import { shortSecretWarning } from "../../audit/index.ts";
import { invalid } from "../../errors/index.ts";
import { rotateMasterKey } from "../../runtime/index.ts";
import { assertSecretName } from "../../secrets/index.ts";
import { counted } from "../../terminal/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, type Command, commandGroup } from "../command.ts";
import { DATA_HELP, requireDataDir, withDataDir } from "../data-dir.ts";
import { readSecretValue } from "../prompt.ts";

const setCommand: Command = {
  name: "secrets set",
  args: ["NAME"],
  summary: "Store a secret, encrypted. The value is read from standard input, never from the command line.",
  usage: "mintgate secrets set NAME [--data DIR] [--json]   (e.g. printf %s \"$TOKEN\" | mintgate secrets set GITHUB_TOKEN)",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the stored secret's name and version as JSON" },
  details: "One trailing newline of piped input is dropped. On a terminal the value is typed without echo.",
  async run(parsed) {
    const [name] = parsed.positionals;
    assertSecretName(name!);
    requireDataDir(parsed);
    const value = await readSecretValue(`Value for ${name} (input hidden): `);
    // The store's own sentence cannot know how the value came; here the advice fits what the admin did.
    if (value === "") {
      const advice = process.stdin.isTTY ? "run the command again and type the value at the prompt" : "pipe the value on standard input";
      throw invalid(`The value for secret "${name}" is empty; ${advice}.`);
    }
    const info = await withDataDir(parsed, (dir) => dir.secrets.set(name!, value));
    const warning = shortSecretWarning(name!, value);
    if (warning) process.stderr.write(`mintgate: warning: ${warning}\n`);
    if (parsed.values.json) printJson(info);
    else process.stdout.write(`Stored secret ${info.name} (version ${info.version}).\n`);
    return 0;
  },
};

const listCommand: Command = {
  name: "secrets list",
  summary: "List secrets: names, versions and dates, never values.",
  usage: "mintgate secrets list [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the list as JSON" },
  async run(parsed) {
    const secrets = await withDataDir(parsed, (dir) => dir.secrets.list());
    if (parsed.values.json) {
      printJson(secrets);
    } else if (secrets.length === 0) {
      process.stdout.write("No secrets yet; add one with `mintgate secrets set NAME`.\n");
    } else {
      const width = Math.max(4, ...secrets.map((s) => s.name.length));
      process.stdout.write(`${"NAME".padEnd(width)}  VERSION  KEY  UPDATED\n`);
      for (const s of secrets) {
        process.stdout.write(`${s.name.padEnd(width)}  ${String(s.version).padEnd(7)}  ${String(s.keyVersion).padEnd(3)}  ${s.updatedAt}\n`);
      }
    }
    return 0;
  },
};

const deleteCommand: Command = {
  name: "secrets delete",
  args: ["NAME"],
  summary: "Delete a secret.",
  usage: "mintgate secrets delete NAME [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print {"deleted": NAME} as JSON' },
  async run(parsed) {
    const [name] = parsed.positionals;
    await withDataDir(parsed, (dir) => {
      refuseToDeleteUsedSecret(dir.store, name!);
      dir.secrets.delete(name!);
    });
    if (parsed.values.json) printJson({ deleted: name });
    else process.stdout.write(`Deleted secret ${name}.\n`);
    return 0;
  },
};

const rotateKeyCommand: Command = {
  name: "secrets rotate-key",
  summary: "Generate a new master key and re-encrypt every secret with it, in one transaction.",
  usage: "mintgate secrets rotate-key [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the new key version and file names as JSON" },
  details:
    "The old key is kept as DIR/master.key.old: it still decrypts backups taken before the rotation.\n" +
    "Move it to your backups or delete it; rotate-key refuses to run while it is there.\n" +
    "With MINTGATE_MASTER_KEY set, the new key is written to DIR/master.key.new for you to move into that variable.",
  async run(parsed) {
    const result = await withDataDir(parsed, (dir) => rotateMasterKey(dir));
    if (parsed.values.json) {
      printJson(result);
    } else {
      process.stdout.write(`Re-encrypted ${counted(result.reencrypted, "secret")} with key version ${result.keyVersion}; the new key is in ${result.newKeyFile}.\n`);
      if (result.oldKeyFile) process.stdout.write(`The old key is kept as ${result.oldKeyFile} for older backups; remove it when you no longer need them.\n`);
      else process.stdout.write(`Set MINTGATE_MASTER_KEY to the new key (base64 -w0 ${result.newKeyFile}), restart, then delete that file.\n`);
    }
    return 0;
  },
};

export const secretsSubcommands = [setCommand, listCommand, deleteCommand, rotateKeyCommand];

export const secretsCommand = commandGroup("secrets", "Manage the encrypted secret store (API keys and tokens the connectors use).", secretsSubcommands);
