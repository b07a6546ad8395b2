const ERROR_CODE_BY_STATUS: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  429: "too_many_requests",
  500: "internal_error",
  502: "upstream_failed",
  503: "unavailable",
  504: "timeout",
  507: "insufficient_storage",
};

/** Every error the HTTP layer sends has this one JSON shape. */
export function jsonError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json(
    { error: ERROR_CODE_BY_STATUS[status] ?? "error", message },
    { status, headers: { "cache-control": "no-store", ...headers } },
  );
}

