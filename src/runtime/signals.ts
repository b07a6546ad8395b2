import { readFileSync } from "node:fs";

const SIGNAL_NUMBERS = { SIGHUP: 1 } as const;

/**
 * Whether this process was started with `signal` ignored (by nohup, or a daemon tool), read from
 * Linux's /proc/self/status: call it before a handler of ours replaces what it inherited. Elsewhere false.
 */
export function ignoredAtStart(signal: keyof typeof SIGNAL_NUMBERS): boolean {
  let mask: string | undefined;
  try {
    mask = readFileSync("/proc/self/status", "utf8").match(/^SigIgn:\s*([0-9a-fA-F]+)$/m)?.[1];
  } catch {
    return false;
  }
  return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(SIGNAL_NUMBERS[signal] - 1)) & 1n) === 1n;
}
