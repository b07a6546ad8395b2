import { closeSync, constants, openSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { configError, conflict, invalid } from "../../errors/index.ts";
import { checkBackup } from "../../store/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, unwritablePath, type Command } from "../command.ts";
import { DATA_HELP, withDataDir } from "../data-dir.ts";

/** Creates `path` for the copy: new (never overwriting a file), readable by its owner only. */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw conflict(`${path} exists already; give a new file name (a backup never overwrites a file).`);
    throw unwritablePath("create", path, error);
  }
}

const MB = 1_000_000;

export const backupCommand: Command = {
  name: "backup",
  summary: "Write a consistent copy of the database to a new file, also while the gateway runs.",
  usage: "mintgate backup -o FILE [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, output: { type: "string", short: "o" } },
  optionHelp: {
    "-o, --output FILE": "the new file to write (required; it must not exist)",
    ...DATA_HELP,
    "--json": "print {path, bytes, seconds, schemaVersion, keyVersion, auditRecords} as JSON",
  },
  details:
    "The copy is one snapshot of everything: configuration, people, tokens, encrypted secrets and the audit\n" +
    "trail. Requests keep flowing while it is written. It is checked by reading it back, and only its owner\n" +
    "can read it. The secrets in it need the master key of the version printed: back up master.key\n" +
    "separately (not next to the copy). To restore: stop the gateway, then `mintgate restore FILE`.",
  async run(parsed) {
    const output = stringValue(parsed, "output");
    if (!output) throw invalid("`mintgate backup` needs -o FILE: the new file to write the copy to.");
    const path = resolve(output);
    const started = performance.now();
    // Read back before the command's audit record is written: a copy removed for failing it is recorded as an error, not ok.
    const check = await withDataDir(parsed, (dir) => {
      createPrivateFile(path);
      try {
        dir.store.backupTo(path);
      } catch (error) {
        rmSync(path, { force: true });
        throw configError(`The backup to ${path} failed (${(error as Error).message}); nothing was kept.`);
      }
      try {
        return checkBackup(path);
      } catch (error) {
        rmSync(path, { force: true });
        throw configError(`The backup was written but did not read back (${(error as Error).message}); it was removed, try again.`);
      }
    });
    const report = { path, bytes: statSync(path).size, seconds: Number(((performance.now() - started) / 1000).toFixed(3)), ...check };
    if (parsed.values.json) printJson(report);
    else {
      process.stdout.write(
        `Backed up the database to ${path}: ${(report.bytes / MB).toFixed(1)} MB, schema ${report.schemaVersion}, ${report.auditRecords} audit records, in ${report.seconds.toFixed(1)} s.\n` +
          `Its secrets need master key version ${report.keyVersion ?? "(none yet)"}: keep a copy of master.key apart from this file.\n`,
      );
    }
    return 0;
  },
};
