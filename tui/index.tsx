import { render } from "ink";
import type { AdminClient } from "../src/admin-client/index.ts";
import { App } from "./App.tsx";

/** Runs the admin terminal UI until the person quits; resolves to an exit code. */
export async function runTui(client: AdminClient): Promise<number> {
  // Interactive whenever stdout is a terminal: Ink would otherwise go blank when a CI variable is set.
  const instance = render(<App client={client} />, { exitOnCtrlC: true, interactive: Boolean(process.stdout.isTTY) });
  await instance.waitUntilExit();
  return 0;
}
