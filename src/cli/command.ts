import { closeSync, constants, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync, statSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closestName, configError, conflict, invalid, MintgateError } from "../errors/index.ts";
import { printable } from "../terminal/index.ts";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** One CLI command: its help text is generated from the same spec it parses with. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Names of the positional arguments it takes, in order (none when absent). */
  args?: string[];
  /** Help lines per option, keyed by option name. */
  optionHelp: Record<string, string>;
  /** Extra help paragraphs shown after the options. */
  details?: string;
  /** A command group's subcommands (`set`, `list`…): options given to the group itself belong to one of them. */
  subcommands?: string[];
  /**
   * What to say instead of "see --help" when an option other commands take is refused here on purpose, keyed by
   * its name: `audit export` streams with --format and has no --json.
   */
  refusedOptionHints?: Record<string, string>;
  run(parsed: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export const HELP_OPTION: OptionSpec = { help: { type: "boolean", short: "h" } };
export const JSON_OPTION: OptionSpec = { json: { type: "boolean" } };
export const DATA_OPTION: OptionSpec = { data: { type: "string" } };

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  // Help wins over the other options (`tokens --json --help`, `help tokens --json`): it describes the command, which they do not change.
  if (asksForHelp(argv)) return { values: { help: true }, positionals: [] };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, ...HELP_OPTION },
      allowPositionals: true,
      strict: true,
    });
    const parsed = { values: values as ParsedArgs["values"], positionals };
    if (!parsed.values.help) checkPositionals(command, positionals);
    return parsed;
  } catch (error) {
    if (error instanceof MintgateError) throw error;
    if (command.subcommands) {
      throw invalid(`\`mintgate ${command.name}\` needs a subcommand before its options (${command.subcommands.join(", ")}); see \`mintgate ${command.name} --help\`.`);
    }
    const guess = optionMeant(error as Error & { code?: string }, command);
    const hint = refusedOptionHint(error as Error & { code?: string }, command);
    const next = hint ?? (guess ? `did you mean --${guess}?` : `see \`mintgate ${command.name} --help\`.`);
    throw invalid(`${describeParseError(error as Error & { code?: string }, command, argv)} for \`mintgate ${command.name}\`; ${next}`);
  }
}

/** node:util's parse errors are long and quote oddly; say the one thing that matters. */
function describeParseError(error: Error & { code?: string }, command: Command, argv: string[]): string {
  // The option as quoted: '--limit', '--limit <value>' or '-o, --output <value>' (its short name, without the comma).
  const option = error.message.match(/'(-[^'\s,]+)/)?.[1] ?? error.message.match(/"(-[^"\s]+)"/)?.[1];
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `Unknown option ${option ?? ""}`.trim();
  if (error.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) {
    if (error.message.includes("does not take an argument")) return `Option ${longName(option, command)} takes no value (give it alone)`;
    // "ambiguous": what follows the option starts with "-"; unless it is an option itself, it may be the value meant (--limit -1).
    const at = error.message.includes("ambiguous") ? argv.indexOf(option) : -1;
    const next = at >= 0 ? argv[at + 1] : undefined;
    if (next !== undefined && !isOption(next, command)) return `Option ${option} needs a value, and "${next}" looks like an option (write ${longName(option, command)}=${next} if it is the value)`;
    return `Option ${option} needs a value`;
  }
  return error.message.split("\n")[0]!.replace(/\.$/, "");
}

/** The option meant by an unknown long one a typo or two away (--lst for --last), as an unknown command's name is guessed. */
function optionMeant(error: Error & { code?: string }, command: Command): string | undefined {
  const option = unknownLongOption(error);
  return option === undefined ? undefined : closestName(option, Object.keys({ ...command.options, ...HELP_OPTION }));
}

/** The command's own sentence for an unknown option it refuses on purpose. */
function refusedOptionHint(error: Error & { code?: string }, command: Command): string | undefined {
  const option = unknownLongOption(error);
  return option === undefined ? undefined : command.refusedOptionHints?.[option];
}

/** The name of the unknown long option node:util refused (`lst` for '--lst=3'), if that is the error. */
function unknownLongOption(error: Error & { code?: string }): string | undefined {
  if (error.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") return undefined;
  return error.message.match(/'--([^'\s,=]+)/)?.[1];
}

/** Whether -h or --help is among the options (not after `--`, where it is an argument). */
function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

/** The long name of an option node:util named by its short one (-o for --output): only the long one takes =VALUE. */
function longName(option: string, command: Command): string {
  if (option.startsWith("--")) return option;
  const entry = Object.entries({ ...command.options, ...HELP_OPTION }).find(([, spec]) => spec.short === option.slice(1));
  return entry ? `--${entry[0]}` : option;
}

function isOption(arg: string, command: Command): boolean {
  const options = { ...command.options, ...HELP_OPTION };
  if (arg.startsWith("--")) return arg.slice(2).split("=")[0]! in options;
  return Object.values(options).some((spec) => spec.short === arg.slice(1, 2));
}

/** The declared positionals (a name ending in ? may be left out), or a usage error naming what is expected. */
function checkPositionals(command: Command, positionals: string[]): void {
  const names = command.args ?? [];
  const required = names.filter((n) => !n.endsWith("?")).length;
  if (positionals.length < required || positionals.length > names.length) {
    const expected = names.length === 0 ? "no arguments" : names.map((n) => (n.endsWith("?") ? `[${n.slice(0, -1)}]` : `<${n}>`)).join(" ");
    const got = positionals.length === 0 ? "none" : positionals.map((p) => `"${p}"`).join(" ");
    throw invalid(`\`mintgate ${command.name}\` takes ${expected}, got ${got}; usage: ${command.usage}`);
  }
}

export function helpText(command: Command): string {
  const lines = [`${command.summary}`, "", `Usage: ${command.usage}`];
  const rows: [string, string][] = [...Object.entries(command.optionHelp), ["-h, --help", "show this help"]];
  const width = Math.max(...rows.map(([name]) => name.length));
  lines.push("", "Options:", ...rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`));
  if (command.details) lines.push("", command.details);
  return lines.join("\n") + "\n";
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** A command that only gathers subcommands (`mintgate tokens`): it prints their list. */
export function commandGroup(name: string, summary: string, subcommands: Command[]): Command {
  const width = Math.max(...subcommands.map((c) => c.name.length)) + 2;
  const group: Command = {
    name,
    summary,
    usage: `mintgate ${name} <${subcommands.map((c) => c.name.slice(name.length + 1)).join("|")}> [options]`,
    options: {},
    optionHelp: {},
    details: subcommands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n"),
    subcommands: subcommands.map((c) => c.name.slice(name.length + 1)),
    // Without a subcommand nothing was done: the list goes to stderr and the exit code says so (`--help` prints it with 0).
    async run() {
      process.stderr.write(`mintgate ${name} needs a subcommand.\n\n${helpText(group)}`);
      return 2;
    },
  };
  return group;
}

/** Prints rows as aligned columns under a header (the human form of `--json` output); cells carry text others chose, so they are made printable. */
export function printTable(header: string[], rows: string[][]): void {
  const cells = [header, ...rows].map((row) => row.map(printable));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  for (const row of cells) process.stdout.write(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd() + "\n");
}

/** `--force` for a command that writes `-o FILE`: without it an existing file is refused, not overwritten. */
export const FORCE_OPTION: OptionSpec = { force: { type: "boolean" } };
export const FORCE_HELP = { "--force": "replace FILE if it exists (without it, an existing FILE is refused)" };

/**
 * The `-o FILE` a command writes to, or undefined for standard output. Checked before any work is done: an empty
 * value (an unset shell variable) is refused rather than taken as "no -o", a directory is named as one, and an
 * existing file needs --force.
 */
export function outputFileOption(parsed: ParsedArgs): string | undefined {
  const path = stringValue(parsed, "output");
  if (path === undefined) return undefined;
  if (path === "") throw invalid("-o is empty; give the file to write, or leave -o out to write to standard output.");
  let existing: Stats | undefined;
  try {
    existing = statSync(path);
  } catch {
    // Nothing there yet (or not reachable): creating the file says what is wrong, if anything is.
  }
  if (existing?.isDirectory()) throw unwritablePath("write", path, { code: "EISDIR" });
  if (existing && parsed.values.force !== true) throw alreadyThere(path);
  return path;
}

const alreadyThere = (path: string) => conflict(`${path} exists already; give a new file name, or add --force to replace it.`);

/**
 * Writes a command's `-o FILE` whole or not at all: `write` fills a new temporary file beside it, which is synced and
 * renamed into place once complete. A failed, interrupted (SIGINT, SIGTERM) or refused write removes it, so FILE
 * is never left half written and an earlier FILE stays as it was. Without --force a FILE that appeared meanwhile is
 * still not replaced.
 */
export async function writeOutputFile(path: string, parsed: ParsedArgs, mode: number, write: (fd: number) => Promise<void> | void): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  let fd: number;
  try {
    fd = openSync(temporary, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, mode);
  } catch (error) {
    throw unwritablePath("write", path, error);
  }
  const removeTemporary = () => rmSync(temporary, { force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    removeTemporary();
    process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    try {
      await write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (parsed.values.force === true) renameSync(temporary, path);
    else {
      // link() fails when FILE exists, where rename() would replace it.
      try {
        linkSync(temporary, path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") throw alreadyThere(path);
        // A file system without hard links: checked, then renamed (a file appearing in between would be replaced).
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw unwritablePath("write", path, error);
        if (existsSync(path)) throw alreadyThere(path);
        renameSync(temporary, path);
      }
    }
  } finally {
    removeTemporary();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The one sentence for a file a command cannot `verb` ("write", "create") at `path`: what went wrong and what to do. */
export function unwritablePath(verb: string, path: string, error: unknown): MintgateError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EISDIR") return configError(`Cannot ${verb} ${path}: it is a directory; give a file name in it.`);
  return configError(`Cannot ${verb} ${path} (${code ?? (error as Error).message}); check that its directory exists and is writable.`);
}

export function stringValue(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

/** Refuses a command missing required options, naming only those missing (told it needs both, one who gave the first looks for a typo in it). */
export function requireOptions(parsed: ParsedArgs, command: string, options: Record<string, string>, after = ""): void {
  const missing = Object.entries(options).filter(([name]) => !stringValue(parsed, name)).map(([name, value]) => `--${name} ${value}`);
  if (missing.length > 0) throw invalid(`\`mintgate ${command}\` needs ${missing.join(" and ")}${after}.`);
}
