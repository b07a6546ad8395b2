import { keepLoopbackOffProxies } from "../connectors/proxy-env.ts";
import { closestName, isDatabaseBusy, isDatabaseDamaged, isStorageFull, MintgateError, publicMessageOf } from "../errors/index.ts";
import { log, logLevelOf, statusLine } from "../log/index.ts";
import { printable, shellWord } from "../terminal/index.ts";
import { VERSION } from "../version.ts";
import { helpText, parseCommandArgs, type Command } from "./command.ts";
import { initCommand } from "./commands/init.ts";
import { secretsCommand, secretsSubcommands } from "./commands/secrets.ts";
import { serveCommand } from "./commands/serve.ts";
import { statusCommand } from "./commands/status.ts";
import { tuiCommand } from "./commands/tui.ts";
import { tokensCommand, tokensSubcommands } from "./commands/tokens.ts";
import { clientsCommand, clientsSubcommands } from "./commands/clients.ts";
import { groupsCommand, groupsSubcommands, usersCommand, usersSubcommands } from "./commands/users.ts";
import { ssoCommand, ssoSubcommands } from "./commands/sso.ts";
import { consentsCommand, consentsSubcommands } from "./commands/consents.ts";
import { applyCommand, exportCommand } from "./commands/config-file.ts";
import { approveCommand } from "./commands/approve.ts";
import { connectCommand } from "./commands/connect.ts";
import { policyCommand, policySubcommands } from "./commands/policy.ts";
import { versionCommand } from "./commands/version.ts";
import { backupCommand } from "./commands/backup.ts";
import { restoreCommand } from "./commands/restore.ts";
import { auditCommand, auditSubcommands } from "./commands/audit.ts";
import { setRunningCommand } from "./data-dir.ts";
import { statsCommand } from "./commands/stats.ts";

const TOP_LEVEL: Command[] = [serveCommand, initCommand, statusCommand, applyCommand, exportCommand, approveCommand, connectCommand, policyCommand, statsCommand, tokensCommand, clientsCommand, usersCommand, groupsCommand, ssoCommand, consentsCommand, secretsCommand, auditCommand, backupCommand, restoreCommand, tuiCommand, versionCommand];
const ALL: Command[] = [...TOP_LEVEL, ...policySubcommands, ...auditSubcommands, ...secretsSubcommands, ...tokensSubcommands, ...clientsSubcommands, ...usersSubcommands, ...groupsSubcommands, ...ssoSubcommands, ...consentsSubcommands];

function mainHelp(): string {
  return [
    `mintgate ${VERSION} — a self-hosted gateway for the Model Context Protocol.`,
    "",
    "Usage: mintgate [command] [options]     (no command means `serve`)",
    "",
    "Commands:",
    ...TOP_LEVEL.map((c) => `  ${c.name.padEnd(10)}${c.summary}`),
    "",
    "Run `mintgate <command> --help` for a command's options.",
  ].join("\n") + "\n";
}

/** Finds the longest command name that the arguments start with ("secrets set" before "secrets"). */
function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const words = argv.filter((a) => !a.startsWith("-"));
  for (const length of [2, 1]) {
    const name = words.slice(0, length).join(" ");
    const command = ALL.find((c) => c.name === name);
    if (command && argv.slice(0, length).join(" ") === name) return { command, rest: argv.slice(length) };
  }
  return undefined;
}

/** "did you mean `mintgate tokens`" for a name one or two typos away from a command, as mintgate.yaml's unknown keys get. */
function didYouMean(typed: string, names: string[], prefix = ""): string | undefined {
  const guess = closestName(typed, names);
  return guess && `did you mean \`mintgate ${prefix}${guess}\`?`;
}

/**
 * `mintgate --data d tokens list`: options before a command made it `serve`'s argument, and the error blamed
 * `serve`. Returns the arguments with the command moved first, or undefined when no command follows the options.
 */
function commandAfterOptions(argv: string[]): string[] | undefined {
  const at = argv.findIndex((arg, i) => !arg.startsWith("-") && !takesValue(argv[i - 1]));
  const found = at < 0 ? undefined : findCommand(argv.slice(at));
  if (!found) return undefined;
  const words = argv.length - at - found.rest.length;
  return [...argv.slice(at, at + words), ...argv.slice(0, at), ...found.rest];
}

/** Whether a `serve` option (as written, `--port` but not `--port=1`) takes the next argument as its value. */
function takesValue(arg: string | undefined): boolean {
  return arg !== undefined && arg.startsWith("--") && !arg.includes("=") && serveCommand.options[arg.slice(2)]?.type === "string";
}

/** Exit codes: 0 success, 1 the work failed, 2 the command line was wrong. */
export async function runCli(argv: string[]): Promise<number> {
  // `help tokens create` is `tokens create --help`, an unknown name included (the same usage error).
  if (argv[0] === "help" && argv[1] !== undefined && !argv[1].startsWith("-")) argv = [...argv.slice(1), "--help"];
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    process.stdout.write(mainHelp());
    return 0;
  }
  // The same as `mintgate version`, options included (`--version --json`).
  if (argv[0] === "--version") argv = ["version", ...argv.slice(1)];
  const misplaced = argv[0]?.startsWith("-") ? commandAfterOptions(argv) : undefined;
  if (misplaced) {
    // Quoted as a shell needs (`--name 'My App'`), so the line can be pasted as it is.
    process.stderr.write(`mintgate: options go after the command; run \`mintgate ${printable(misplaced.map(shellWord).join(" "))}\`.\n`);
    return 2;
  }
  const found = argv.length === 0 || argv[0]!.startsWith("-") ? { command: serveCommand, rest: argv } : findCommand(argv);
  if (!found) {
    process.stderr.write(`mintgate: unknown command "${printable(argv[0]!)}"; ${didYouMean(argv[0]!, TOP_LEVEL.map((c) => c.name)) ?? "run `mintgate --help` for the list."}\n`);
    return 2;
  }
  const { command, rest } = found;
  keepLoopbackOffProxies();
  const level = process.env.MINTGATE_LOG_LEVEL;
  if (level !== undefined && logLevelOf(level) === undefined) {
    process.stderr.write(`mintgate: MINTGATE_LOG_LEVEL is "${level}"; set it to debug, info, warn or error, or unset it.\n`);
    return 2;
  }
  // A command's own output says what it did; the services' info lines (auth events, connector states) are for a gateway's log.
  if (command !== serveCommand && level === undefined) log.setLevel("warn");
  const isGroup = ALL.some((c) => c.name.startsWith(`${command.name} `));
  if (isGroup && rest[0] !== undefined && !rest[0].startsWith("-")) {
    const subcommands = ALL.filter((c) => c.name.startsWith(`${command.name} `)).map((c) => c.name.slice(command.name.length + 1));
    const guess = didYouMean(rest[0], subcommands, `${command.name} `);
    process.stderr.write(`mintgate: unknown command "${command.name} ${printable(rest[0])}"; ${guess ?? `run \`mintgate ${command.name} --help\` for the list.`}\n`);
    return 2;
  }
  try {
    const parsed = parseCommandArgs(command, rest);
    if (parsed.values.help) {
      process.stdout.write(helpText(command));
      return 0;
    }
    setRunningCommand(command.name, parsed);
    return await command.run(parsed);
  } catch (error) {
    // A full disk, a database another process keeps locked or a damaged one is no internal error: it is said in one sentence (publicMessageOf), without a stack trace.
    const unexpected = !(error instanceof MintgateError) && !isStorageFull(error) && !isDatabaseBusy(error) && !isDatabaseDamaged(error);
    if (unexpected) log.error("unexpected failure", { command: command.name, error: (error as Error)?.stack ?? String(error) });
    // The log is this command's own stderr, just above: "see the gateway log" would send the person looking for another.
    const sentence = unexpected ? "Internal error; the \"unexpected failure\" line above has the details." : publicMessageOf(error);
    // With serve's JSON log format this last line is a JSON record too; for every other command it is the sentence as it is.
    process.stderr.write(statusLine("error", `mintgate: ${sentence}`));
    return error instanceof MintgateError && error.kind === "invalid" ? 2 : 1;
  }
}
