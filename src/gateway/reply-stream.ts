import { log } from "../log/index.ts";
import { EventStream } from "./event-stream.ts";

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
  /** A request for the client (an upstream's elicitation or sampling, or its cancellation): never dropped, a person waits on it. */
  send(data: string): void;
  /** The reply (none for a cancelled call), after which the stream ends. */
  end(data?: string): void;
}

/**
 * A request's progress notifications, then its reply, as one SSE stream (commented on while the call is
 * silent, so that a proxy does not cut a long call before its reply). `run` starts the call; a client that
 * goes away does not stop it: it still completes and is recorded.
 */
export function replyEventStream(headers: Record<string, string>, run: (events: ReplyEvents) => void): Response {
  const stream = new EventStream();
  let dropped = 0;
  run({
    progress(data) {
      if (stream.unread > PROGRESS_UNREAD_LIMIT) {
        dropped++;
        return;
      }
      stream.write(`event: message\ndata: ${data}\n\n`);
    },
    send(data) {
      stream.write(`event: message\ndata: ${data}\n\n`);
    },
    end(data) {
      if (dropped > 0) log.info("progress notifications dropped: the client was not reading its call's event stream", { dropped, limitBytes: PROGRESS_UNREAD_LIMIT });
      if (data !== undefined) stream.write(`event: message\ndata: ${data}\n\n`);
      stream.close();
    },
  });
  return new Response(stream.body, { headers: { ...headers, "content-type": "text/event-stream" } });
}
