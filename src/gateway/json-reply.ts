/**
 * Bun.serve corks a response's writes in uWS's 16 KiB buffer. A response that
 * is ready only after an await (every proxied call) and does not fit that
 * buffer goes out uncorked instead: the status line and each piece of each
 * header in a syscall and a TCP segment of its own, about 20 per reply. That
 * made a 64 KiB reply cost the gateway ~100 µs of CPU instead of ~30, and the
 * client as many reads. A body stream written in one go is sent as the head
 * plus one chunk (chunked transfer coding instead of Content-Length).
 */
const CORKED_BODY_BYTES = 15_000;

/** A JSON-RPC reply (or batch) as an HTTP response. */
export function jsonReply(text: string, headers: Record<string, string> = {}): Response {
  const init = { headers: { ...headers, "content-type": "application/json" } };
  // A UTF-16 unit takes 1 to 3 UTF-8 bytes: only a text between those bounds needs its bytes counted (which, for a
  // 64 KiB reply built around an upstream's result, first copies it into one piece: about 10 µs).
  const fits = text.length * 3 <= CORKED_BODY_BYTES || (text.length <= CORKED_BODY_BYTES && Buffer.byteLength(text) <= CORKED_BODY_BYTES);
  if (fits) return new Response(text, init);
  const body = new ReadableStream({
    type: "direct",
    pull(controller) {
      controller.write(text);
      controller.close();
    },
  });
  return new Response(body, init);
}
