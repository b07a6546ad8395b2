import type { Store } from "../store/index.ts";
import { onAppend } from "./chain.ts";
import { viewOf } from "./query.ts";

/** Events a subscriber may hold unread before the oldest are dropped (with a notice). */
export const FEED_BUFFER = 1000;
const KEEPALIVE_MS = 15_000;
/** How often commits by other processes (a CLI beside the gateway) are looked for. */
const POLL_MS = 250;
const READ_BATCH = 500;

interface Subscriber {
  queue: string[];
  dropped: number;
  wake: (() => void) | undefined;
  closed: boolean;
  end?: () => void;
}

/**
 * The live feed behind GET /admin/api/events: new audit records, as they
 * commit, to every subscriber. One reader tails the table by id for all of
 * them; each subscriber has a bounded queue, so a slow reader loses events
 * (and is told how many) instead of growing the gateway's memory.
 */
export class AuditFeed {
  private readonly subscribers = new Set<Subscriber>();
  private lastId: number;
  private seenVersion: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopListening: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: { buffer?: number; keepaliveMs?: number } = {},
  ) {
    this.lastId = store.audit.lastId();
    this.seenVersion = store.dataVersion();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private start(): void {
    if (this.timer) return;
    this.lastId = this.store.audit.lastId();
    this.stopListening = onAppend(this.store, () => this.read());
    this.timer = setInterval(() => {
      const version = this.store.dataVersion();
      if (version !== this.seenVersion) {
        this.seenVersion = version;
        this.read();
      }
    }, POLL_MS);
    this.timer.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopListening?.();
  }

  private read(): void {
    if (!this.store.isReady()) return;
    for (;;) {
      const rows = this.store.audit.page(this.lastId, READ_BATCH);
      if (rows.length === 0) return;
      this.lastId = rows[rows.length - 1]!.id;
      for (const row of rows) this.publish(`id: ${row.id}\nevent: record\ndata: ${JSON.stringify(viewOf(row))}\n\n`, true);
      if (rows.length < READ_BATCH) return;
    }
  }

  /** Queues for one subscriber the records after `afterId` up to what the others were sent (this.lastId), newest `buffer` at most. */
  private replay(subscriber: Subscriber, afterId: number): void {
    if (!this.store.isReady()) return;
    const limit = this.options.buffer ?? FEED_BUFFER;
    const rows = this.store.audit.search({}, limit, this.lastId + 1).filter((row) => row.id > afterId);
    if (rows.length === 0) return;
    if (rows.length === limit) subscriber.dropped = this.store.audit.countInIdRange(afterId, rows[rows.length - 1]!.id);
    for (let i = rows.length - 1; i >= 0; i--) subscriber.queue.push(`id: ${rows[i]!.id}\nevent: record\ndata: ${JSON.stringify(viewOf(rows[i]!))}\n\n`);
  }

  private publish(event: string, droppable: boolean): void {
    const limit = this.options.buffer ?? FEED_BUFFER;
    for (const s of this.subscribers) {
      if (droppable && s.queue.length >= limit) {
        // The reader is too slow: drop what it has not read; it is told when it catches up. The count is of
        // records (this one and those queued): the queue also holds comments (connected, keepalives), which are none.
        s.dropped += s.queue.reduce((records, queued) => (queued.startsWith("id: ") ? records + 1 : records), 1);
        s.queue = [];
        continue;
      }
      s.queue.push(event);
      s.wake?.();
    }
  }

  /**
   * A Server-Sent Events body; ends when the client goes away. With
   * `afterId` (a reconnecting client's Last-Event-ID) the records committed
   * since that one come first, so a reconnect leaves no gap: at most a
   * buffer's worth, the newest, after a `dropped` notice for the rest.
   * `allowed` is asked before each delivery: once it says no (the admin
   * token that opened the stream was revoked), the stream ends unsent.
   */
  stream(afterId?: number, allowed?: () => boolean): ReadableStream<Uint8Array> {
    const subscriber: Subscriber = { queue: [": connected\n\n"], dropped: 0, wake: undefined, closed: false };
    const encoder = new TextEncoder();
    let keepalive: ReturnType<typeof setInterval> | undefined;
    const close = () => {
      if (subscriber.closed) return;
      subscriber.closed = true;
      clearInterval(keepalive);
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.stop();
      subscriber.wake?.();
    };
    subscriber.end = close;
    this.start();
    this.subscribers.add(subscriber);
    if (afterId !== undefined && afterId < this.lastId) this.replay(subscriber, afterId);
    keepalive = setInterval(() => {
      subscriber.queue.push(": keepalive\n\n");
      subscriber.wake?.();
    }, this.options.keepaliveMs ?? KEEPALIVE_MS);
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          while (subscriber.queue.length === 0 && subscriber.dropped === 0 && !subscriber.closed) {
            await new Promise<void>((resolve) => (subscriber.wake = resolve));
            subscriber.wake = undefined;
          }
          if (!subscriber.closed && allowed && !allowed()) close();
          if (subscriber.closed) return controller.close();
          let text = "";
          if (subscriber.dropped > 0) {
            text += `event: dropped\ndata: ${JSON.stringify({ dropped: subscriber.dropped, reason: "the reader fell behind; fetch the gap from /admin/api/audit" })}\n\n`;
            subscriber.dropped = 0;
          }
          text += subscriber.queue.join("");
          subscriber.queue = [];
          controller.enqueue(encoder.encode(text));
        },
        cancel: close,
      },
      { highWaterMark: 0 },
    );
  }

  close(): void {
    for (const s of [...this.subscribers]) s.end?.();
    this.stop();
  }
}
