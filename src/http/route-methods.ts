/**
 * Which methods a path is served under, read from the app's route table (Elysia's `app.routes`), so a
 * request with a method its path does not take is answered 405 with an `Allow` header that cannot drift
 * from the routes: nothing lists them by hand.
 */
export class RouteMethods {
  private readonly routes: { method: string; pattern: RegExp }[];

  constructor(routes: readonly { method: string; path: string }[]) {
    this.routes = routes.map((route) => ({ method: route.method.toUpperCase(), pattern: patternOf(route.path) }));
  }

  /** The methods some route serves `path` under, in a stable order; HEAD wherever GET is (Bun answers HEAD with the GET route). */
  methodsServing(path: string): string[] {
    const methods = new Set(this.routes.filter((route) => route.pattern.test(path)).map((route) => route.method));
    if (methods.has("GET")) methods.add("HEAD");
    return METHOD_ORDER.filter((method) => methods.has(method)).concat([...methods].filter((method) => !METHOD_ORDER.includes(method)).sort());
  }
}

const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/** A route path as Elysia matches it: `:name` is one non-empty segment, `*` the rest; a trailing slash is tolerated. */
function patternOf(path: string): RegExp {
  const body = path
    .replace(/\/+$/, "")
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment === "*" ? ".*" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`);
}
