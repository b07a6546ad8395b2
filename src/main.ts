import { runCli } from "./cli/index.ts";

process.exitCode = await runCli(process.argv.slice(2));
// Commands end by returning; exit explicitly so no stray timer keeps the process up.
process.exit();
