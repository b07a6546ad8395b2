import { loadSettings } from "../config/index.ts";
import { openDataDir, type DataDir } from "../runtime/index.ts";
import { stringValue, type ParsedArgs } from "./command.ts";

/** Opens the --data directory (it must exist) for the length of `use`. */
export function withDataDir<T>(parsed: ParsedArgs, use: (dir: DataDir) => T | Promise<T>): Promise<T> {
  const dir = openDataDir(loadSettings({ data: stringValue(parsed, "data") }), { initialise: false });
  return Promise.resolve()
    .then(() => use(dir))
    .finally(() => dir.close());
}

export const DATA_HELP = { "--data DIR": "data directory (env MINTGATE_DATA_DIR, default ./.mintgate)" };
