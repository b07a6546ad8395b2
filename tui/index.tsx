import { render } from "ink";
import type { AdminClient } from "../src/admin-client/index.ts";
import { App } from "./App.tsx";

/**
 * SGR sequences without their colour parameters (30–49, 90–107 and the
 * 38/48 extended forms); bold, dim and inverse stay. NO_COLOR (no-color.org)
 * is about colour only: without inverse, the selected row and the cursor of a
 * text field were not shown at all.
 */
export function stripColour(text: string): string {
  return text.replace(/\u001b\[([0-9;]*)m/g, (sequence, params: string) => {
    if (params === "") return sequence;
    const kept: string[] = [];
    const parts = params.split(";");
    for (let i = 0; i < parts.length; i++) {
      const n = Number(parts[i]);
      if (n === 38 || n === 48) i += parts[i + 1] === "5" ? 2 : parts[i + 1] === "2" ? 4 : 0;
      else if (!((n >= 30 && n <= 49) || (n >= 90 && n <= 107))) kept.push(parts[i]!);
    }
    return kept.length > 0 ? `\u001b[${kept.join(";")}m` : "";
  });
}

/** The terminal, with colour taken out of everything written to it. */
function withoutColour(stdout: NodeJS.WriteStream): NodeJS.WriteStream {
  return new Proxy(stdout, {
    get(target, property) {
      if (property === "write") return (chunk: unknown, ...rest: unknown[]) => (target.write as (...args: unknown[]) => boolean)(typeof chunk === "string" ? stripColour(chunk) : chunk, ...rest);
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Runs the admin terminal UI until the person quits; resolves to an exit code. */
export async function runTui(client: AdminClient): Promise<number> {
  const stdout = process.env.NO_COLOR ? withoutColour(process.stdout) : process.stdout;
  // Interactive whenever stdout is a terminal: Ink would otherwise go blank when a CI variable is set.
  const instance = render(<App client={client} />, { stdout, exitOnCtrlC: true, interactive: Boolean(process.stdout.isTTY) });
  await instance.waitUntilExit();
  return 0;
}
