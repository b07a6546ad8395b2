import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CallRecorder, MAX_STORED_ARGUMENTS } from "../src/audit/index.ts";
import { openStore } from "../src/store/index.ts";
import { tempDir } from "./harness.ts";

const base = { at: 1, subject: "ada@example.com", tokenId: null, sessionId: null, virtualMcp: "v", connector: "c", method: "tools/call", exposedName: "c__t", upstreamName: "t", outcome: "ok" as const, error: null, durationMs: 1 };

describe("call records", () => {
  test("are committed before record() resolves; small arguments are stored exactly, large ones cut at the limit", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const recorder = new CallRecorder(store);
    const small = { query: "x", n: 2, nested: [true, null, { k: "é\"" }] };
    await Promise.all([recorder.record({ ...base, arguments: small }), recorder.record({ ...base, arguments: { text: "y".repeat(100_000) } }), recorder.record({ ...base, arguments: undefined })]);
    const [none, large, exact] = store.callRecords.recent(3);
    expect(exact!.arguments).toBe(JSON.stringify(small));
    expect(large!.arguments!.startsWith('{"text":"yyyy')).toBe(true);
    expect(large!.arguments!.endsWith(`…[cut at ${MAX_STORED_ARGUMENTS} characters]`)).toBe(true);
    expect(large!.arguments!.length).toBeLessThan(MAX_STORED_ARGUMENTS + 64);
    expect(none!.arguments).toBeNull();
    store.close();
  });
});
