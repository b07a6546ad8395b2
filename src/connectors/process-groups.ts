/**
 * The process groups of the stdio upstreams a gateway runs, written down in
 * the data directory so that the next start can end the ones a gateway that
 * died hard (kill -9, the OOM killer) left behind. Most upstreams exit when
 * their stdin ends, but one that does not (or a helper it started) would run
 * on for ever, and a copy more would be started at every restart.
 *
 * One file per group, named by its id (the leader's pid), holding the
 * leader's start time: a pid the system has given to another process since
 * is told apart by it, so only our own processes are ever ended.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log/index.ts";

export class UpstreamProcessGroups {
  private warned = false;

  constructor(private readonly dir: string) {}

  /** Notes a group just started; its leader is `pid`. */
  started(pid: number): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(this.dir, String(pid)), startTimeOf(pid) ?? "", { mode: 0o600 });
    } catch (error) {
      // Not worth failing the upstream for: only a later kill -9 would leave it running.
      if (!this.warned) log.warn("cannot note an upstream process in the data directory; after a crash it may be left running", { dir: this.dir, error: (error as Error).message });
      this.warned = true;
    }
  }

  /** Forgets a group that has been ended. */
  ended(pid: number): void {
    this.forget(String(pid));
  }

  private forget(name: string): void {
    try {
      rmSync(join(this.dir, name), { force: true });
    } catch {
      // Left behind, it is harmless: the next start finds the group gone, or its pid another's, and only forgets it.
    }
  }

  /**
   * SIGKILLs every group noted by an earlier gateway on this data directory
   * that is still ours, and forgets them all. Run while holding the data
   * directory's lock (so that gateway is gone) and before any upstream starts.
   */
  endLeftovers(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    let signalled = 0;
    for (const name of names) {
      const pid = Number(name);
      if (Number.isSafeInteger(pid) && pid > 1 && this.isOurs(pid, notedStartTime(join(this.dir, name)))) {
        try {
          process.kill(-pid, "SIGKILL");
          signalled++;
        } catch {
          // ESRCH: the group is gone already.
        }
      }
      this.forget(name);
    }
    if (signalled > 0) log.warn("killed the upstream process groups a gateway that did not stop cleanly (kill -9, out of memory) left behind", { groups: signalled });
  }

  /**
   * With its leader gone, a group id cannot have been given to anyone else
   * while members are left (POSIX), so what remains is ours; a live leader is
   * ours only if it started when the noted one did.
   */
  private isOurs(pid: number, noted: string): boolean {
    try {
      process.kill(pid, 0);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ESRCH";
    }
    const now = startTimeOf(pid);
    return now !== undefined && noted !== "" && now === noted;
  }
}

function notedStartTime(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** The process's start time since boot, in clock ticks (Linux, /proc); undefined where that cannot be read. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; starttime is field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
