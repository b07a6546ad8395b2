import { render } from "ink";
import type { AdminClient } from "../src/admin-client/index.ts";
import { App } from "./App.tsx";

/** Runs the admin terminal UI until the person quits; resolves to an exit code. */
export async function runTui(client: AdminClient): Promise<number> {
  const instance = render(<App client={client} />, { exitOnCtrlC: true });
  await instance.waitUntilExit();
  return 0;
}
