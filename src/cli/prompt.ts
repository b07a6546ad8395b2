import { invalid, MintgateError } from "../errors/index.ts";
import { MAX_SECRET_BYTES } from "../secrets/index.ts";

/** A byte order mark and a CRLF beyond the limit are still a value within it. */
const MAX_PIPED_BYTES = MAX_SECRET_BYTES + 5;

/**
 * Standard input up to just past the limit: a value too long is refused
 * without holding it all (`< /dev/zero` by mistake would never end).
 */
async function readPipedBytes(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = Bun.stdin.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    if (length > MAX_PIPED_BYTES) {
      void reader.cancel();
      throw invalid(`The value on standard input is longer than ${MAX_SECRET_BYTES} bytes, the limit for a secret; nothing was stored.`);
    }
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a secret value: piped stdin as it is (one trailing newline dropped),
 * or from a terminal without echoing what is typed. On a terminal, Enter or
 * Ctrl-D ends the value; Ctrl-C cancels the command (exit 130, as a shell
 * reports an interrupted program), before anything was changed.
 */
export async function readSecretValue(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    // Decoded strictly: a lenient decode stores other bytes than were piped (U+FFFD for invalid
    // bytes; a UTF-16 reading after FF FE), and the connector would get that silently.
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(await readPipedBytes());
    } catch (error) {
      if (error instanceof MintgateError) throw error;
      throw invalid("The value on standard input is not UTF-8 text; encode a binary secret first (for example with base64) and pipe that.");
    }
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
