import { dlopen, FFIType } from "bun:ffi";
import { readFileSync } from "node:fs";
import { log } from "../log/index.ts";

/** Linux's madvise advice that reclaims the given pages now (clean file pages are dropped; dirty ones need swap, else stay). */
const MADV_PAGEOUT = 21;
/** How long without a request counts as quiet. */
const QUIET_MS = 1_000;
const CHECK_EVERY_MS = 250;
/** Reclaimed per turn of the event loop: about 2 ms of the kernel's time each. */
const TRIM_SLICE_BYTES = 4n * 1024n * 1024n;

type Madvise = (address: bigint, length: bigint, advice: number) => number;

/**
 * Gives memory back once the gateway goes quiet. The executable is about
 * 110 MB of Bun runtime and bundled code; start-up and the first requests
 * touch pages of it (migrations, config loading, the SDK's schemas) that stay
 * counted in the resident set although they are not needed again. After a
 * quiet second, once per quiet period, the gateway tells the kernel to
 * reclaim its executable's clean pages (what is still used comes back on the
 * next access, from the page cache) and runs a full garbage collection.
 * Linux with glibc only; elsewhere nothing is done.
 */
export class IdleMemoryTrim {
  private activity = 0;
  private seenActivity = -1;
  private quietSince = Date.now();
  private trimmed = false;
  private stopped = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly madvise: Madvise | undefined;
  private readonly close: () => void = () => {};

  constructor() {
    if (process.platform !== "linux") return;
    try {
      const libc = dlopen("libc.so.6", { madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
      this.madvise = libc.symbols.madvise as unknown as Madvise;
      this.close = () => libc.close();
    } catch (error) {
      log.debug("memory trimming is not available", { error: (error as Error).message });
    }
  }

  /** Called for every request: a counter, so the hot path pays an increment. */
  noteActivity(): void {
    this.activity++;
  }

  start(): void {
    if (!this.madvise || this.timer) return;
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    this.close();
  }

  private check(): void {
    const now = Date.now();
    if (this.activity !== this.seenActivity) {
      this.seenActivity = this.activity;
      this.quietSince = now;
      this.trimmed = false;
      return;
    }
    if (this.trimmed || now - this.quietSince < QUIET_MS) return;
    this.trimmed = true;
    void this.trim();
  }

  /**
   * Reclaims the executable's pages a slice at a time, one slice per turn of
   * the event loop, so a request that arrives meanwhile waits for one slice
   * at most (a few ms), and stops there; then collects garbage. Resolves to
   * the bytes advised.
   */
  async trim(): Promise<number> {
    if (!this.madvise || this.stopped) return 0;
    const activity = this.activity;
    let advised = 0;
    try {
      for (const region of executableRegions()) {
        for (let start = region.start; start < region.end; start += TRIM_SLICE_BYTES) {
          if (this.activity !== activity || this.stopped) return advised;
          const length = region.end - start < TRIM_SLICE_BYTES ? region.end - start : TRIM_SLICE_BYTES;
          if (this.madvise(start, length, MADV_PAGEOUT) === 0) advised += Number(length);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (error) {
      log.debug("could not trim memory", { error: (error as Error).message });
    }
    if (this.activity === activity) Bun.gc(true);
    return advised;
  }
}

/** The address ranges where this process's own executable is mapped. */
function executableRegions(): { start: bigint; end: bigint }[] {
  const regions: { start: bigint; end: bigint }[] = [];
  const self = process.execPath;
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    // "start-end perms offset dev inode path"
    const pathAt = line.indexOf("/");
    if (pathAt === -1 || line.slice(pathAt) !== self) continue;
    const dash = line.indexOf("-");
    const space = line.indexOf(" ");
    regions.push({ start: BigInt(`0x${line.slice(0, dash)}`), end: BigInt(`0x${line.slice(dash + 1, space)}`) });
  }
  return regions;
}
