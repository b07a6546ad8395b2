/**
 * An OAuth error as RFC 6749 §5.2 / RFC 7591 §3.2.2 define it: a code from the
 * spec, a sentence for people, and the HTTP status. Thrown by the
 * authorization server's parts and turned into JSON (or an error redirect) once, by the routes.
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "temporarily_unavailable"
  | "server_error";

/**
 * An error_description as it may go on the wire: RFC 6749 §4.1.2.1 and §5.2 (and RFC 6750 §3, RFC 7591 §3.2.2)
 * allow only printable ASCII without `"` and `\`. Descriptions quote client names, URIs and values the client
 * sent, so quotes become `'`, a backslash `/`, accented letters lose their accent, and anything else left is `?`.
 */
export function wireDescription(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replaceAll('"', "'")
    .replaceAll("\\", "/")
    .replace(/[^\x20-\x7e]/g, "?");
}

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status: number = code === "invalid_client" ? 401 : code === "server_error" ? 500 : code === "temporarily_unavailable" ? 503 : 400,
    /** Extra response headers, e.g. Retry-After on a rate limit. */
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }

  /** The JSON error response, never cached. */
  toResponse(extraHeaders: Record<string, string> = {}): Response {
    const headers: Record<string, string> = { "cache-control": "no-store", pragma: "no-cache", ...this.headers, ...extraHeaders };
    if (this.status === 401 && this.code === "invalid_client") headers["www-authenticate"] ??= 'Basic realm="mintgate"';
    return Response.json({ error: this.code, error_description: wireDescription(this.description) }, { status: this.status, headers });
  }
}
