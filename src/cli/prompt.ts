/**
 * Reads a secret value: piped stdin as it is (one trailing newline dropped),
 * or from a terminal without echoing what is typed. On a terminal, Enter or
 * Ctrl-D ends the value; Ctrl-C cancels the command (exit 130, as a shell
 * reports an interrupted program), before anything was changed.
 */
export async function readSecretValue(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await Bun.stdin.text();
    return text.replace(/\r?\n$/, "");
  }
  process.stderr.write(prompt);
  return await new Promise<string>((resolve) => {
    const stdin = process.stdin;
    let value = "";
    /** `undefined`: cancelled. */
    const finish = (result: string | undefined) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (result !== undefined) return resolve(result);
      process.stderr.write("mintgate: Cancelled; nothing was changed.\n");
      process.exit(130);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish(value);
        if (char === "\u0003") return finish(undefined);
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}
