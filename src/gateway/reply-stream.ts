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

export function keepaliveInterval(): number {
  return keepaliveMs;
}

const KEEPALIVE_COMMENT = new TextEncoder().encode(": keepalive\n\n");
/**
 * Bytes of a call's event stream its client may leave unread before further progress notifications are
 * dropped. Progress is advisory; the reply always goes out. An upstream reporting progress as fast as it
 * could to a client that never read its stream held it all: 200 MB of progress took the gateway to 400 MB.
 */
export const PROGRESS_UNREAD_LIMIT = 1024 * 1024;

/** What a call writes on its event stream: `data` is one JSON-RPC message's JSON text. */
export interface ReplyEvents {
  /** A progress notification; dropped while the client leaves more than PROGRESS_UNREAD_LIMIT bytes unread. */
  progress(data: string): void;
  /** The reply (none for a cancelled call), after which the stream ends. */
  end(data?: string): void;
}

/**
 * A request's progress notifications, then its reply, as one SSE stream. While the call is silent it
 * comments on the stream, as the SDK transport does on the streams it answers: a proxy's read timeout
 * (nginx: 60 s) or a client's would otherwise cut a long call before its reply. `run` starts the call.
 */
export function replyEventStream(headers: Record<string, string>, run: (events: ReplyEvents) => void): Response {
  const encoder = new TextEncoder();
  let dropped = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const enqueue = (bytes: Uint8Array) => {
          try {
            controller.enqueue(bytes);
          } catch {
            // the client went away; the call still completes and is recorded
          }
        };
        const unread = () => -(controller.desiredSize ?? 0);
        const keepalive = setInterval(() => {
          if (unread() <= PROGRESS_UNREAD_LIMIT) enqueue(KEEPALIVE_COMMENT);
        }, keepaliveMs);
        run({
          progress(data) {
            if (unread() > PROGRESS_UNREAD_LIMIT) {
              dropped++;
              return;
            }
            enqueue(encoder.encode(`event: message\ndata: ${data}\n\n`));
          },
          end(data) {
            clearInterval(keepalive);
            if (dropped > 0) log.info("progress notifications dropped: the client was not reading its call's event stream", { dropped, limitBytes: PROGRESS_UNREAD_LIMIT });
            if (data !== undefined) enqueue(encoder.encode(`event: message\ndata: ${data}\n\n`));
            try {
              controller.close();
            } catch {
              // already closed
            }
          },
        });
      },
    },
    // Counted in bytes, so desiredSize says how many the client has not taken yet.
    { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
  );
  return new Response(stream, { headers: { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" } });
}
