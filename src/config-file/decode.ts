/**
 * The bytes of mintgate.yaml as text. A file saved in another encoding (Latin-1, UTF-16) is refused
 * with the line that is not UTF-8: decoded leniently, each such byte would become U+FFFD, and a name
 * like "Café" would be stored, served and exported as "Caf�".
 */
import { invalid } from "../errors/index.ts";

export function decodeConfigFile(bytes: Uint8Array, fileName: string): string {
  // With its byte order mark, or without one: a first character of one byte is then beside a 0 byte, which no
  // YAML text starts with (read as UTF-8, it said the file was no mapping).
  const byteOrderMark = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  if (byteOrderMark || (bytes.length >= 2 && (bytes[0] === 0) !== (bytes[1] === 0))) {
    throw invalid(`${fileName}:1: the file is UTF-16 text; save it as UTF-8`);
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    // A line feed byte is never part of a longer UTF-8 sequence, so each line decodes on its own.
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      try {
        decoder.decode(bytes.subarray(start, end === -1 ? bytes.length : end));
      } catch {
        throw invalid(`${fileName}:${line}: the line is not UTF-8 text (the file may be Latin-1 or Windows-1252); save the file as UTF-8`);
      }
      if (end === -1) throw invalid(`${fileName}: the file is not UTF-8 text; save it as UTF-8`);
      start = end + 1;
    }
  }
}
