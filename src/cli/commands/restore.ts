import { statSync } from "node:fs";
import { resolve } from "node:path";
import { cliActor, recordAdminChange } from "../../audit/index.ts";
import { loadSettings } from "../../config/index.ts";
import { invalid } from "../../errors/index.ts";
import { restoreDatabase } from "../../runtime/index.ts";
import { checkBackup } from "../../store/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, type Command } from "../command.ts";
import { DATA_HELP } from "../data-dir.ts";

export const restoreCommand: Command = {
  name: "restore",
  summary: "Put a copy made by `mintgate backup` in place of the database; the gateway must be stopped.",
  usage: "mintgate restore FILE [--data DIR] [--json]",
  args: ["FILE"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print {restoredFrom, previous, schemaVersion, auditRecords} as JSON" },
  details:
    "The copy is checked first (SQLite's integrity check, its schema, and that the data directory's master\n" +
    "key fits its secrets); nothing changes if a check fails. The current database is moved aside as\n" +
    "mintgate.db.before-restore-<time>, never deleted. The restore is recorded in the restored audit trail.\n" +
    "The admin token stays the one in DATA_DIR/admin.token.",
  async run(parsed) {
    const [file] = parsed.positionals;
    const settings = loadSettings({ data: stringValue(parsed, "data") });
    const source = resolve(file!);
    // SQLite would say only "unable to open database file" or "disk I/O error" for these.
    const kind = statSync(source, { throwIfNoEntry: false });
    if (!kind) throw invalid(`There is no file ${source}; check the path to the copy \`mintgate backup -o FILE\` wrote (nothing was changed).`);
    if (kind.isDirectory()) throw invalid(`${source} is a directory; give the file \`mintgate backup -o FILE\` wrote (nothing was changed).`);
    let check;
    try {
      check = checkBackup(source);
    } catch (error) {
      throw invalid(`${source} is not a usable mintgate backup (${(error as Error).message.replace(/\.$/, "")}); nothing was changed.`);
    }
    const { previous, dir } = restoreDatabase(settings, source);
    try {
      recordAdminChange(dir.store, { actor: cliActor(), action: "restore", target: source, outcome: "ok", error: null, detail: { command: "mintgate restore", previous: previous ?? null } });
    } finally {
      dir.close();
    }
    const report = { restoredFrom: source, previous: previous ?? null, schemaVersion: check.schemaVersion, auditRecords: check.auditRecords };
    if (parsed.values.json) printJson(report);
    else {
      process.stdout.write(
        `Restored the database of ${settings.dataDir} from ${source} (${check.auditRecords} audit records).\n` +
          (previous ? `The database it replaced is at ${previous}; delete it once the gateway runs as it should.\n` : ""),
      );
    }
    return 0;
  },
};
