/** Preloaded by bun test (bunfig.toml): cleans up after the whole run, whichever files ran. */
import { afterAll } from "bun:test";
import { cleanUpTestResources } from "./harness.ts";

afterAll(cleanUpTestResources);
