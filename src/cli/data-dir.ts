import { cliActor, recordAdminChange } from "../audit/index.ts";
import { loadSettings } from "../config/index.ts";
import { checkInitialised, openDataDir, type DataDir } from "../runtime/index.ts";
import { stringValue, type ParsedArgs } from "./command.ts";

/**
 * The command that is running, set by runCli: commands that change things
 * leave an admin record in the audit trail (who: the OS user; what: the
 * command, its arguments and options; never a secret, which is only ever
 * read from standard input).
 */
let running: { name: string; parsed: ParsedArgs } | undefined;

export function setRunningCommand(name: string, parsed: ParsedArgs): void {
  running = { name, parsed };
}

/** Subcommands that change state, or copy it out (backup), and leave an audit record here (apply and approve record their own before/after). */
const CHANGING = /^(secrets (set|delete)|tokens (create|revoke)|clients (add|remove)|users (add|disable|enable|remove|delete|role|password|set-password|set-role)|groups (add|remove)|sso (add|remove|update)|consents revoke|backup)$/;

function recordCliChange(dir: DataDir, outcome: "ok" | "error", error?: unknown): void {
  if (!running || !CHANGING.test(running.name)) return;
  const { name, parsed } = running;
  const options = Object.fromEntries(Object.entries(parsed.values).filter(([key, value]) => key !== "data" && key !== "json" && value !== undefined));
  try {
    recordAdminChange(dir.store, {
      actor: cliActor(),
      action: name.replace(" ", "."),
      target: parsed.positionals.join(" ") || null,
      outcome,
      error: error === undefined ? null : String((error as Error)?.message ?? error),
      detail: { command: `mintgate ${name}`, options },
    });
  } catch {
    // The store may be the very thing that failed; the command's own error is what matters.
  }
}

/** Refuses at once, before a value is asked for, when the --data directory was never initialised. */
export function requireDataDir(parsed: ParsedArgs): void {
  checkInitialised(loadSettings({ data: stringValue(parsed, "data") }));
}

/** Opens the --data directory (it must exist) for the length of `use`. */
export function withDataDir<T>(parsed: ParsedArgs, use: (dir: DataDir) => T | Promise<T>): Promise<T> {
  const dir = openDataDir(loadSettings({ data: stringValue(parsed, "data") }), { initialise: false });
  return Promise.resolve()
    .then(() => use(dir))
    .then(
      (value) => {
        recordCliChange(dir, "ok");
        return value;
      },
      (error: unknown) => {
        recordCliChange(dir, "error", error);
        throw error;
      },
    )
    .finally(() => dir.close());
}

export const DATA_HELP = { "--data DIR": "data directory (env MINTGATE_DATA_DIR, default ./.mintgate)" };
