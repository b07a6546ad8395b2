import { VERSION } from "../../version.ts";
import { JSON_OPTION, printJson, type Command } from "../command.ts";

export const versionCommand: Command = {
  name: "version",
  summary: "Print the mintgate version.",
  usage: "mintgate version [--json]",
  options: { ...JSON_OPTION },
  optionHelp: { "--json": "print {version, bun, platform} as JSON" },
  async run(parsed) {
    if (parsed.values.json) printJson({ version: VERSION, bun: Bun.version, platform: `${process.platform}-${process.arch}` });
    else process.stdout.write(`mintgate ${VERSION}\n`);
    return 0;
  },
};
