import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { GatewayConfigService } from "../../admin/gateway-config.ts";
import { invalid } from "../../errors/index.ts";
import { DATA_OPTION, FORCE_HELP, FORCE_OPTION, JSON_OPTION, outputFileOption, printJson, writeOutputFile, type Command } from "../command.ts";
import { DATA_HELP, withDataDir } from "../data-dir.ts";

export const applyCommand: Command = {
  name: "apply",
  summary: "Create or update connectors and virtual MCPs from a mintgate.yaml file, all or nothing.",
  usage: "mintgate apply -f FILE [--prune] [--dry-run] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, file: { type: "string", short: "f", multiple: true }, prune: { type: "boolean" }, "dry-run": { type: "boolean" } },
  optionHelp: {
    "-f, --file FILE": "the configuration file (- for standard input)",
    "--prune": "also delete, in each section the file has, the items it does not list (see below)",
    "--dry-run": "validate and show what would change, without writing",
    ...DATA_HELP,
    "--json": "print the list of changes as JSON",
  },
  details:
    "The whole file is checked first; on any problem nothing changes and every problem is\n" +
    "listed as FILE:LINE: reason. A running gateway picks the change up within a second.\n" +
    "\n" +
    "--prune works per top-level section (connectors, virtualMcps): a section the file\n" +
    "leaves out is left as it is; a section it has, even empty ([]), is the whole of it,\n" +
    "and what it does not list is deleted (a virtual MCP with its policy, tool approvals,\n" +
    "access tokens and OAuth sign-ins). Each deletion is printed; with --dry-run, each one\n" +
    "that would be made. Refused with --prune: a file with no section, a section key with\n" +
    "no value (write [] to empty it), and deleting a connector a kept virtual MCP attaches.",
  async run(parsed) {
    // Taken as a list so that a second -f is refused, not silently the only file applied (`-f connectors.yaml -f vmcps.yaml`).
    const files = (parsed.values.file as unknown as string[] | undefined) ?? [];
    if (files.length > 1) throw invalid(`\`mintgate apply\` reads one file, and -f was given ${files.length} times (${files.map((f) => JSON.stringify(f)).join(", ")}); apply them one at a time.`);
    const file = files[0];
    if (!file) throw invalid("`mintgate apply` needs -f FILE (or -f - for standard input).");
    // Bytes: the service refuses a file that is not UTF-8, where decoding here would turn "é" into "�".
    const bytes = file === "-" ? await Bun.stdin.bytes() : readConfigFile(file);
    const report = await withDataDir(parsed, async (dir) => {
      const service = new GatewayConfigService({ store: dir.store, secrets: dir.secrets });
      // With --prune, a file that lists no section (a failed `cat … |`) or a section key with no value is refused.
      const config = await service.parse(bytes, file === "-" ? "stdin" : basename(file), { prune: parsed.values.prune === true });
      return service.apply(config, { prune: parsed.values.prune === true, dryRun: parsed.values["dry-run"] === true });
    });
    if (parsed.values.json) printJson(report);
    else if (report.changes.length === 0) process.stdout.write("No changes: the configuration already matches the file.\n");
    // A dry run's lines already say what applying would do ("would delete virtual MCP sales").
    else process.stdout.write(report.changes.map((c) => `${c}\n`).join(""));
    return 0;
  },
};

function readConfigFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (error) {
    throw invalid(`Cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path.`);
  }
}

export const exportCommand: Command = {
  name: "export",
  summary: "Print the current connectors and virtual MCPs as a mintgate.yaml file (never secret values).",
  usage: "mintgate export [-o FILE [--force]] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, ...FORCE_OPTION, output: { type: "string", short: "o" } },
  optionHelp: {
    "-o, --output FILE": "write to FILE instead of standard output (whole or not at all)",
    ...FORCE_HELP,
    ...DATA_HELP,
    "--json": "the same file as JSON instead of YAML, which apply reads too (to FILE with -o)",
  },
  async run(parsed) {
    const output = outputFileOption(parsed);
    // --json chooses the format, -o where it goes: `-o FILE --json` writes the JSON to FILE.
    const text = await withDataDir(parsed, async (dir) => {
      const service = new GatewayConfigService({ store: dir.store, secrets: dir.secrets });
      return service.export(parsed.values.json ? "json" : "yaml");
    });
    if (output === undefined) process.stdout.write(text);
    else await writeOutputFile(output, parsed, 0o666, (fd) => writeFileSync(fd, text));
    return 0;
  },
};
