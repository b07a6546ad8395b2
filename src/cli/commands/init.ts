import { loadSettings } from "../../config/index.ts";
import { openDataDir } from "../../runtime/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, type Command } from "../command.ts";

export const initCommand: Command = {
  name: "init",
  summary: "Create the data directory, database, master key and admin token. Safe to run again.",
  usage: "mintgate init [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: {
    "--data DIR": "data directory (env MINTGATE_DATA_DIR, default ./.mintgate)",
    "--json": "print what was created as JSON",
  },
  details:
    "Creates DIR (mode 0700), DIR/mintgate.db, a 32-byte DIR/master.key (0600) unless\n" +
    "MINTGATE_MASTER_KEY is set, and an admin API token written once to DIR/admin.token (0600).\n" +
    "Back up master.key apart from the database: without it the secrets cannot be read.",
  async run(parsed) {
    const settings = loadSettings({ data: stringValue(parsed, "data") });
    const dir = openDataDir(settings, { initialise: true });
    dir.close();
    for (const warning of dir.warnings) process.stderr.write(`mintgate: warning: ${warning}\n`);
    if (parsed.values.json) {
      printJson({ dataDir: dir.dataDir, created: dir.created, changed: dir.created.length > 0 });
    } else if (dir.created.length === 0) {
      process.stdout.write(`mintgate is already initialised in ${dir.dataDir}; nothing changed.\n`);
    } else {
      process.stdout.write(`Initialised mintgate in ${dir.dataDir}:\n${dir.created.map((c) => `  created ${c}\n`).join("")}`);
    }
    return 0;
  },
};
