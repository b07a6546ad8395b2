import { runCli } from "./cli/index.ts";

process.exitCode = await runCli(process.argv.slice(2));
await flushed(process.stdout);
await flushed(process.stderr);
// Commands end by returning; exit explicitly so no stray timer keeps the process up.
process.exit();

/**
 * Ends `stream` once its reader has taken everything: Bun's process.exit dropped what a pipe had not taken yet
 * (`secrets list --json | jq` got the first 64 KiB). A reader that went away (`| head`) has what it wanted; any
 * other failure (a full disk behind `> file`) is said, where it was lost without a word.
 */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once("error", (error: NodeJS.ErrnoException) => {
      if (stream === process.stdout && error.code !== "EPIPE") {
        process.stderr.write(`mintgate: The output could not be written (${error.message}); it is incomplete.\n`);
        process.exitCode ||= 1;
      }
      resolve();
    });
    stream.end(() => resolve());
  });
}
