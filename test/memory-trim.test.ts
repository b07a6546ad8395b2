import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isolatedBinary, runMintgate, startGateway, waitFor } from "./harness.ts";

/** The resident pages of a process that are mapped from files (its executable, mostly), in KiB. */
function residentFileKiB(pid: number): number {
  return Number(/RssFile:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

// Linux only (the trim uses madvise). A copy of the binary, so its pages are this gateway's alone: the kernel
// does not reclaim pages another running process (another test's gateway) also maps.
test.skipIf(process.platform !== "linux")("a quiet gateway gives back the pages of its executable that start-up touched, and still answers after", async () => {
  const { dir, binary } = isolatedBinary();
  const dataDir = join(dir, "data");
  expect((await runMintgate(["init", "--data", dataDir], { binary })).code).toBe(0);
  const gateway = await startGateway({ dataDir, binary, args: ["--demo"] });
  try {
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    const busy = residentFileKiB(gateway.pid);
    // After a quiet second the trim runs; allow for a loaded machine.
    const quiet = await waitFor("the executable's pages to be reclaimed", () => {
      const now = residentFileKiB(gateway.pid);
      return now < busy / 2 ? now : undefined;
    }, 200, 100);
    expect(quiet).toBeLessThan(busy / 2);
    // The pages come back as they are needed.
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  } finally {
    await gateway.stop();
  }
});
