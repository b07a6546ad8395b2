import { parseArgs, type ParseArgsConfig } from "node:util";
import { invalid } from "../errors/index.ts";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** One CLI command: its help text is generated from the same spec it parses with. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Help lines per option, keyed by option name. */
  optionHelp: Record<string, string>;
  /** Extra help paragraphs shown after the options. */
  details?: string;
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
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, ...HELP_OPTION },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0]!.replace(/\.?$/, "");
    throw invalid(`${reason} for \`mintgate ${command.name}\`; see \`mintgate ${command.name} --help\`.`);
  }
}

export function helpText(command: Command): string {
  const lines = [`${command.summary}`, "", `Usage: ${command.usage}`];
  const names = Object.keys(command.optionHelp);
  if (names.length > 0) {
    lines.push("", "Options:");
    const width = Math.max(...names.map((n) => n.length)) + 2;
    for (const name of names) lines.push(`  ${name.padEnd(width)}  ${command.optionHelp[name]}`);
  }
  lines.push(`  ${"-h, --help".padEnd(Math.max(...names.map((n) => n.length), 8) + 2)}  show this help`);
  if (command.details) lines.push("", command.details);
  return lines.join("\n") + "\n";
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

export function stringValue(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

/** Exactly `count` positionals, or a usage error naming what is missing. */
export function expectPositionals(parsed: ParsedArgs, command: Command, names: string[]): string[] {
  if (parsed.positionals.length !== names.length) {
    const expected = names.length === 0 ? "no arguments" : names.map((n) => `<${n}>`).join(" ");
    throw invalid(`\`mintgate ${command.name}\` takes ${expected}; usage: ${command.usage}`);
  }
  return parsed.positionals;
}
