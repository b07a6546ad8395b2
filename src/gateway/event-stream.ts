import { DEFAULTS } from "../config/index.ts";
import { log } from "../log/index.ts";

let keepaliveMs: number = DEFAULTS.keepaliveMs;

/**
 * How often a silent event stream of the MCP endpoint (a call's reply, the standalone or `subscriptions/listen`
 * stream, the legacy HTTP+SSE stream) gets a comment line: `serve --keepalive`, set once at start for the process.
 */
export function setKeepaliveInterval(ms: number): void {
  keepaliveMs = ms;
}

/**
 * Bytes a client may leave unread on a stream that carries only notifications (the standalone GET stream, a
 * `subscriptions/listen` stream) before the stream is closed. Notifications are hints and the client opens the
 * stream again; held, a client that kept the connection but stopped reading grew the gateway without end.
 */
export const NOTIFICATION_UNREAD_LIMIT = 1024 * 1024;

/**
 * Keepalive intervals in a row a stream the gateway ended may sit with bytes its client takes none of, before they are
 * dropped and the connection cut. Event streams have no idle timeout: a client that stopped reading kept what was
 * queued (up to 16 MiB of a legacy session's replies) held for as long as it kept the connection, after its session had
 * ended, and again for every session it opened after.
 */
const UNREAD_AFTER_END_INTERVALS = 4;

const KEEPALIVE_COMMENT = new TextEncoder().encode(": keepalive\n\n");
const encoder = new TextEncoder();

interface EventStreamOptions {
  /** Written first (a comment, or the legacy endpoint event). */
  first?: string | Uint8Array;
  /**
   * Past this many unread bytes the next write drops what is queued and ends the stream with an error (the
   * connection is cut) and `overflowed` is called instead of `cancelled`. Without it, the owner decides from `unread`.
   */
  limitBytes?: number;
  overflowed?: () => void;
  /** The client went away (called once, not for an end of ours). */
  cancelled?: () => void;
}

/**
 * An SSE stream whose queue is counted in bytes, so `unread` says how many its client has not taken yet: the one
 * mechanism by which every event stream of the MCP endpoint bounds what a client that stops reading can make the
 * gateway hold. While nothing is queued it comments every keepalive interval, as the SDK transport does on its
 * streams: a proxy's read timeout (nginx: 60 s) would otherwise cut a silent stream. A stream that is behind gets
 * no comment: it would wait behind the bytes already queued, which keep the connection busy enough.
 */
export class EventStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly keepalive: ReturnType<typeof setInterval>;
  private ended = false;

  constructor(private readonly options: EventStreamOptions = {}) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        cancel: () => {
          if (this.finish()) options.cancelled?.();
        },
      },
      { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    if (options.first !== undefined) this.write(options.first);
    this.keepalive = setInterval(() => {
      if (this.unread === 0) this.write(KEEPALIVE_COMMENT);
    }, keepaliveMs);
  }

  /** Bytes queued that the client has not read. */
  get unread(): number {
    return -(this.controller.desiredSize ?? 0);
  }

  get open(): boolean {
    return !this.ended;
  }

  /** Queues one event (or comment) as written; nothing once the stream ended. */
  write(chunk: string | Uint8Array): void {
    if (this.ended) return;
    const { limitBytes } = this.options;
    if (limitBytes !== undefined && this.unread > limitBytes) {
      this.finish();
      // Erroring, unlike closing, drops what is queued at once.
      this.controller.error(new Error(`the client left more than ${limitBytes} bytes unread`));
      this.options.overflowed?.();
      return;
    }
    try {
      this.controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    } catch {
      if (this.finish()) this.options.cancelled?.();
    }
  }

  /** Ends the stream once the client has read what is queued; what it takes none of for a while is dropped (see UNREAD_AFTER_END_INTERVALS). */
  close(): void {
    if (!this.finish()) return;
    try {
      this.controller.close();
    } catch {
      return; // already closed by the client
    }
    if (this.unread > 0) this.dropUnreadIfNotTaken();
  }

  /** Watches a closed stream's queue until its client has taken it, or has taken nothing of it for UNREAD_AFTER_END_INTERVALS. */
  private dropUnreadIfNotTaken(): void {
    let left = this.unread;
    let stalled = 0;
    const watch = setInterval(() => {
      const unread = this.unread;
      stalled = unread > 0 && unread >= left ? stalled + 1 : 0;
      left = unread;
      if (unread === 0 || stalled >= UNREAD_AFTER_END_INTERVALS) clearInterval(watch);
      if (stalled < UNREAD_AFTER_END_INTERVALS) return;
      log.info("event stream cut: its client read nothing of what was left after it ended", { unreadBytes: unread, waitedMs: stalled * keepaliveMs });
      // Erroring, unlike closing, drops what is queued at once.
      this.controller.error(new Error(`the client read nothing of the ${unread} bytes left`));
    }, keepaliveMs);
    watch.unref();
  }

  /** True the first time: the stream ends once, whichever way. */
  private finish(): boolean {
    if (this.ended) return false;
    this.ended = true;
    clearInterval(this.keepalive);
    return true;
  }
}
