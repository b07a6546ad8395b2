/**
 * Reads a secret value: piped stdin as it is (one trailing newline dropped),
 * or from a terminal without echoing what is typed.
 */
export async function readSecretValue(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await Bun.stdin.text();
    return text.replace(/\r?\n$/, "");
  }
  process.stderr.write(prompt);
  return await new Promise<string>((resolve, reject) => {
    const stdin = process.stdin;
    let value = "";
    const finish = (result: string | Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      result instanceof Error ? reject(result) : resolve(result);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish(value);
        if (char === "\u0003") return finish(new Error("Cancelled; the secret was not changed."));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}
