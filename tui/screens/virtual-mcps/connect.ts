import { CLIENT_NAMES, clientSetupParts, clientSetups, noPublicUrlWarning, plainHttpWarning, signInNote, virtualMcpUrl } from "../../../src/client-setup/index.ts";
import { printable } from "../../../src/terminal/index.ts";
import type { PagerLine } from "../../components/Pager.tsx";
import { columnsOf, fit, wrapText } from "../../components/text.ts";

/** Sentences of the connect view are wrapped into at most this many lines (the last cut with …): the view scrolls anyway. */
const SENTENCE_LINES = 4;

/**
 * What `mintgate connect SLUG` prints, as lines of `width` columns for the TUI: the Virtual MCP's URL (under the
 * gateway's public URL, else the admin API's own, with the CLI's warnings), then each client's steps. Words are
 * wrapped and other lines cut with …, but a JSON block is shown whole or not at all (a cut one cannot be pasted);
 * what does not fit names the `mintgate connect … --client NAME` that prints it whole.
 */
export function connectLines(slug: string, publicUrl: string | null | undefined, adminUrl: string, width: number): PagerLine[] {
  const url = virtualMcpUrl(publicUrl ?? adminUrl, slug);
  const sentence = (text: string, indent = "") => wrapText(text, width - indent.length, SENTENCE_LINES).map((line) => indent + line);
  const lines: PagerLine[] = [fit(`URL ${url}`, width)];
  const warning = publicUrl ? plainHttpWarning(url) : noPublicUrlWarning(url);
  if (warning !== undefined) lines.push(...sentence(`! ${warning}`).map((text) => ({ text, color: "yellow" })));
  const setups = clientSetups({ name: slug, url });
  for (const name of CLIENT_NAMES) {
    lines.push("");
    const cli = `mintgate connect ${slug} --client ${name}`;
    for (const part of clientSetupParts(setups[name])) {
      if (part.kind === "title") lines.push({ text: fit(part.text, width), bold: true });
      else if (part.kind === "steps") lines.push(...sentence(part.text, "  "));
      else lines.push(...copyable(part.text, width, cli, part.kind === "config"));
    }
  }
  lines.push("", ...sentence(signInNote(slug)).map((text) => ({ text, dim: true })));
  return lines;
}

/** A command or JSON block indented by two, as it is when it fits; else cut (a command) or left out (JSON), with where to get it whole. */
function copyable(text: string, width: number, cli: string, whole: boolean): PagerLine[] {
  const lines = text.split("\n").map((line) => `  ${printable(line)}`);
  if (lines.every((line) => columnsOf(line) <= width)) return lines;
  const hint = { text: fit(`  ${whole ? "(too wide to show here" : "(cut to fit"}: \`${cli}\` prints it whole)`, width), dim: true };
  return whole ? [hint] : [...lines.map((line) => fit(line, width)), hint];
}
