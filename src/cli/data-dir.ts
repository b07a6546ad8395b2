import { cliActor, recordAdminChange } from "../audit/index.ts";
import { loadSettings, type Settings } from "../config/index.ts";
import { checkInitialised, openDataDir, type DataDir } from "../runtime/index.ts";
import { isDatabaseBusy, publicMessageOf, sayingStorageFull } from "../errors/index.ts";
import { stringValue, type ParsedArgs } from "./command.ts";

/**
 * The command that is running, set by runCli: commands that change things
 * leave an admin record in the audit trail (who: the OS user; what: the
 * command, its arguments and options; never a secret, which is only ever
 * read from standard input).
 */
let running: { name: string; parsed: ParsedArgs; changedNothing?: boolean; target?: string } | undefined;

export function setRunningCommand(name: string, parsed: ParsedArgs): void {
  running = { name, parsed };
}

/** Said by a command (inside `withDataDir`) that found its change made already: a repeat changes nothing, so it leaves no record. */
export function changedNothing(): void {
  if (running) running.changedNothing = true;
}

/**
 * Said by a command (inside `withDataDir`) whose change made something with a new id (a token, a client): its record
 * names that id, as the record of the command that later revokes or removes it does by its argument.
 */
export function changedTarget(target: string): void {
  if (running) running.target = target;
}

/** Subcommands that change state, or copy it out (backup), and leave an audit record here (apply and approve record their own before/after). */
const CHANGING = /^(secrets (set|delete)|tokens (create|revoke)|clients (add|remove)|users (add|disable|enable|remove|delete|role|password|set-password|set-role)|groups (add|remove)|sso (add|remove|update)|consents revoke|backup)$/;

/** Copies out rather than changes, and cannot run inside a transaction (VACUUM INTO). */
const COPYING = /^backup$/;

const isChanging = () => running !== undefined && CHANGING.test(running.name);

function writeCliChange(dir: DataDir, outcome: "ok" | "error", error?: unknown): void {
  if (!running || running.changedNothing) return;
  const { name, parsed } = running;
  const options = Object.fromEntries(Object.entries(parsed.values).filter(([key, value]) => key !== "data" && key !== "json" && value !== undefined));
  recordAdminChange(dir.store, {
    actor: cliActor(),
    action: name.replace(" ", "."),
    target: running.target ?? (parsed.positionals.join(" ") || null),
    outcome,
    error: error === undefined ? null : String((error as Error)?.message ?? error),
    detail: { command: `mintgate ${name}`, options },
  });
}

/** The record of a command that failed: the command's own error is what matters, so a record that cannot be written is let go. */
function recordCliFailure(dir: DataDir, error: unknown): void {
  // A write lock held elsewhere would hold the record up another 5 s, only to fail the same way.
  if (!isChanging() || isDatabaseBusy(error)) return;
  try {
    writeCliChange(dir, "error", error);
  } catch {
    // The store may be the very thing that failed.
  }
}

/** Refuses at once, before a value is asked for, when the --data directory was never initialised. */
export function requireDataDir(parsed: ParsedArgs): void {
  checkInitialised(loadSettings({ data: stringValue(parsed, "data") }));
}

/**
 * Opens the --data directory (it must exist) for the length of `use`. A
 * command that changes something and does so at once (not after an await)
 * runs in one transaction with its audit record: both are written or
 * neither, so a change is never left without its record (a full disk fails
 * the record after the change fitted). A command whose change comes after
 * an await (a password hash) is recorded after it, and says so when that
 * record cannot be written.
 */
export function withDataDir<T>(parsed: ParsedArgs, use: (dir: DataDir) => T | Promise<T>): Promise<T> {
  const settings = loadSettings({ data: stringValue(parsed, "data") });
  let dir: DataDir;
  try {
    dir = openExisting(settings);
  } catch (error) {
    return Promise.reject(error);
  }
  const atomic = isChanging() && !COPYING.test(running!.name);
  return Promise.resolve()
    .then(() => {
      if (!atomic) return use(dir);
      let recordAfter = false;
      const value = dir.store.transaction(() => {
        const value = use(dir);
        if (value instanceof Promise) recordAfter = true;
        else writeCliChange(dir, "ok");
        return value;
      });
      return recordAfter ? Promise.resolve(value).then((done) => (recordLate(dir), done)) : value;
    })
    .then(
      (value) => {
        if (!atomic) recordCliChangeOk(dir);
        return value;
      },
      (error: unknown) => {
        recordCliFailure(dir, error);
        throw sayingStorageFull(error, `The disk holding ${settings.dataDir} is full, so nothing was changed; free space on it and run the command again.`);
      },
    )
    .finally(() => dir.close());
}

/**
 * Opens the --data directory (it must exist) for what a command checks
 * before it asks for a secret (the person or provider exists, the options
 * fit): no one types a secret for a command that then fails. Nothing
 * changes here, so only a failure is recorded, as `withDataDir` would.
 */
export function checkInDataDir(parsed: ParsedArgs, check: (dir: DataDir) => unknown): void {
  const dir = openExisting(loadSettings({ data: stringValue(parsed, "data") }));
  try {
    check(dir);
  } catch (error) {
    recordCliFailure(dir, error);
    throw error;
  } finally {
    dir.close();
  }
}

function openExisting(settings: Settings): DataDir {
  try {
    return openDataDir(settings, { initialise: false });
  } catch (error) {
    throw sayingStorageFull(error, `The disk holding ${settings.dataDir} is full, so the database could not be opened and nothing was changed; free space on it and run the command again.`);
  }
}

/** The record of a command that is not run in one transaction with it (a copy out: backup). */
function recordCliChangeOk(dir: DataDir): void {
  if (!isChanging()) return;
  try {
    writeCliChange(dir, "ok");
  } catch (error) {
    process.stderr.write(`mintgate: warning: the command's audit record could not be written (${publicMessageOf(error)})\n`);
  }
}

/** The record of a change made after an await: the change is made, so a record that cannot be written is a warning, not a failure. */
function recordLate(dir: DataDir): void {
  try {
    writeCliChange(dir, "ok");
  } catch (error) {
    process.stderr.write(`mintgate: warning: the change was made, but its audit record could not be written (${publicMessageOf(error)})\n`);
  }
}

export const DATA_HELP = { "--data DIR": "data directory (env MINTGATE_DATA_DIR, default ./.mintgate)" };
