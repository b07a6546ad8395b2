import { Elysia } from "elysia";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { AdminService } from "../admin/index.ts";
import { DEFAULTS, type Settings } from "../config/index.ts";
import { configError, httpStatusOf, invalid, isStorageFull, MintgateError, notFound, publicMessageOf } from "../errors/index.ts";
import { LineBudget, log } from "../log/index.ts";
import { jsonError } from "./json-error.ts";
import { providerInputOf, providerPatchOf } from "../auth/sso/index.ts";
import { mcpRoutes, type McpRouteDeps } from "./mcp-routes.ts";
import { BodyBudget } from "./body-budget.ts";
import { AUTH_EVENT_TYPES, OAuthError, parseLifetime, type AuthServices } from "../auth/index.ts";
import { discoveryRoutes } from "./discovery-routes.ts";
import { OriginPolicy, pathOf } from "./origin-policy.ts";
import { authRoutes } from "./auth-routes.ts";
import type { GatewayMetrics, MetricsAccess } from "../metrics/index.ts";
import { serveMetrics } from "./metrics-route.ts";
import { RouteMethods } from "./route-methods.ts";
import { servesThisMachineOnly, wantsStrictTransport, withResponseHeaders } from "./response-headers.ts";
import { ClientAddresses, clientAddressOf, noteClientAddress } from "./client-address.ts";
import type { UsageAnalytics } from "../analytics/index.ts";
import { adminChangeRow, AUDIT_KINDS, AUDIT_OUTCOMES, auditPagesInThread, type AdminActor, exportStream, parseChainAnchor, parseTime, readInThread, searchAuditInThread, SEARCH_LIMIT_MAX, type AuditFeed, type AuditLog } from "../audit/index.ts";
import { bodyFields, checkBodyDepth, checkNoBody, checkQueryNames, expectedRevisionOf, NOT_UTF8_BODY, switchParam, utf8TextOf, wholeNumberParam } from "./admin-input.ts";
import { decide } from "../policy/index.ts";
import { virtualMcpFilterOf } from "../gateway/index.ts";

export { jsonError };
export { checkTlsFiles } from "./tls-files.ts";

export interface HttpDeps {
  settings: Settings;
  admin: AdminService;
  mcp: McpRouteDeps;
  /** Sign-in: people and SSO, OAuth clients, the authorization server, its pages and public URLs. */
  auth: AuthServices;
  /** Why the gateway is not ready for traffic yet (a sentence), or undefined once it is: the store open and migrated, its connectors past their first start. */
  notReady: () => string | undefined;
  /** Random per process; /healthz shows it, so anyone can tell a restart. */
  instanceId: string;
  /**
   * The answer to a /healthz challenge only this process can give (a keyed hash under server.url's key): the instance id
   * is public, so a program that read it could answer with it once it held the port, and be sent the admin token.
   */
  proveInstance: (challenge: string) => string;
  /** /metrics: what to count and expose, and who may read it (absent: not served). */
  metrics?: { metrics: GatewayMetrics; access: MetricsAccess } | undefined;
  /** Usage analytics over the audit trail (GET /admin/api/stats). */
  analytics: UsageAnalytics;
  /** The audit trail: its writer (admin changes made through this API) and the live feed (GET /admin/api/events). */
  audit?: { log: AuditLog; feed: AuditFeed } | undefined;
  /** Told of every request (the idle memory trim waits for quiet). */
  activity?: { noteActivity(): void } | undefined;
}

/** A time in a query: ISO 8601, Unix milliseconds, or an age such as 24h. */
function timeParam(raw: string | undefined, name: string): number | undefined {
  const time = parseTime(raw);
  if (Number.isNaN(time)) throw invalid(`${name} must be an ISO 8601 time, Unix milliseconds, or an age such as 24h or 7d, not "${raw}".`);
  return time;
}

const AUDIT_FILTER = ["since", "until", "user", "vmcp", "tool", "outcome", "kind"];
/** The query parameters each admin route reads, by "METHOD path" as declared below; a route not listed reads none. */
const ADMIN_QUERY_PARAMETERS: Record<string, readonly string[]> = {
  "PUT /admin/api/config": ["prune", "dryRun"],
  "POST /admin/api/connectors/test": ["timeoutMs"],
  "GET /admin/api/audit": [...AUDIT_FILTER, "limit", "before"],
  "GET /admin/api/audit/export": [...AUDIT_FILTER, "format"],
  "GET /admin/api/audit/count": AUDIT_FILTER,
  "GET /admin/api/audit/verify": ["anchor"],
  "GET /admin/api/calls": ["limit"],
  "GET /admin/api/stats": ["by", "last", "since", "until"],
  "GET /admin/api/stats/timeline": ["last", "step"],
  "GET /admin/api/auth-events": ["type", "user", "client", "since", "limit"],
  "GET /admin/api/consents": ["user"],
  "DELETE /admin/api/consents": ["user", "client"],
  "GET /admin/api/oauth-grants": ["user", "active"],
};

/** The POSTs that read no body (nor does any DELETE): one sent (`{"revokeTokens": false}` to /disable) is refused, not ignored. */
const BODILESS_POSTS = new Set(["/admin/api/users/:id/disable", "/admin/api/users/:id/enable", "/admin/api/connectors/:name/restart", "/admin/api/sso-providers/:name/test"]);


/** A query value that must be one of `allowed` when given: a typo would otherwise match nothing and look like an empty trail. */
function oneOfParam(raw: string | undefined, name: string, allowed: readonly string[]): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!allowed.includes(raw)) throw invalid(`${name} must be one of ${allowed.join(", ")}, not "${raw}".`);
  return raw;
}

/** The audit filters of a query string (since, until, user, vmcp, tool, outcome, kind), or a 400. */
function auditFilterOf(query: Record<string, string | undefined>) {
  const since = timeParam(query.since, "since");
  const until = timeParam(query.until, "until");
  // As /stats answers: an empty list would read as "nothing happened".
  if (since !== undefined && until !== undefined && !(since < until)) {
    throw invalid(`The window is empty: since (${new Date(since).toISOString()}) must be before until (${new Date(until).toISOString()}).`);
  }
  return {
    since,
    until,
    person: query.user,
    virtualMcp: virtualMcpFilterOf(query.vmcp, "vmcp"),
    tool: query.tool,
    outcome: oneOfParam(query.outcome, "outcome", AUDIT_OUTCOMES),
    kind: oneOfParam(query.kind, "kind", AUDIT_KINDS),
  };
}

/**
 * Admin API changes whose service records its own before/after (config, a connector's PUT and DELETE, Virtual MCPs,
 * approvals, policies) — and secrets, whose request body (the value) must never be recorded. Only their refusals are
 * recorded here, without the body. A connector's restart and test are recorded here.
 */
const SELF_RECORDING = /^\/admin\/api\/(config|virtual-mcps\/|secrets\/)/;
/** PUT and DELETE of a connector record themselves (whatever its name, "test" too); POST /connectors/test is a trial, not a change. */
const selfRecording = (method: string, path: string) => SELF_RECORDING.test(path) || (method !== "POST" && /^\/admin\/api\/connectors\/[^/]+\/?$/.test(path));
const ADMIN_BODY_LIMIT = 16 * 1024;
/** A /healthz challenge longer than this gets no proof: the CLI's are 43 characters. */
const MAX_CHALLENGE_LENGTH = 256;
const NO_BODY = Promise.resolve("");

/** Who made an admin API change, as admin records and approvals name them. */
const adminActor = (token: { name: string }) => `admin token ${token.name}`;

/**
 * Every other change made through the admin API leaves an admin record:
 * who (the admin token's name) and from where (`ip`: the client address, as
 * resolved for --trusted-proxies), what (method and path), the request body
 * (redacted: passwords and client secrets never stored) and the outcome.
 * A refused request changed nothing and its body is unknown input (a password
 * under a misspelt key, which redaction by key cannot know; a secret's value
 * PUT to a misspelt path): its record keeps the method, path and status, never the body.
 */
async function recordAdminRequest(deps: HttpDeps, request: Request, actor: string, ip: string | null, body: Promise<string>, response: Response): Promise<void> {
  const audit = deps.audit;
  if (!audit) return;
  const path = pathOf(request.url);
  const ok = response.status < 400;
  // A trial (an SSO provider's or a connector's test) answers 200 whether it passed or not: its record says how the trial went.
  const trial = trialOutcomes.get(request);
  let sent: unknown;
  try {
    const text = ok ? (await body).slice(0, ADMIN_BODY_LIMIT) : "";
    sent = text === "" ? undefined : JSON.parse(text);
  } catch {
    sent = "(not JSON)";
  }
  // A path that is not valid percent-encoding (refused with a 400) is recorded as sent: decoding it would throw and lose the record.
  const rawTarget = path.split("/").slice(4).join("/");
  let target: string;
  try {
    target = decodeURIComponent(rawTarget);
  } catch {
    target = rawTarget;
  }
  // What a change was made to may be in its query (DELETE /consents?user=&client=): only the parameters its route reads
  // get this far, so an accepted request's query is kept; a refused one's may be anything and is not.
  const query = ok ? new URL(request.url).search : "";
  try {
    await audit.log.enqueue(
      adminChangeRow(
        { actor, ip, action: `${request.method} ${path.slice("/admin/api".length)}${query}`, target: target || null, after: sent, ...(ok ? (trial ?? { outcome: "ok", error: null }) : { outcome: "error", error: `HTTP ${response.status}` }) },
        audit.log.redactor,
      ),
    );
  } catch (error) {
    log.error("could not record an admin change", { path, error: String(error) });
  }
}

/**
 * Who sent an admin request that was answered, by its admin token's name, for its record and its log line; undefined
 * when its token is no admin token (a 401: logged and limited as a refusal instead).
 */
function adminActorOf(deps: HttpDeps, request: Request, response: Response): string | undefined {
  if (response.status === 401) return undefined;
  try {
    return adminActor(deps.admin.authenticate(request.headers.get("authorization")));
  } catch {
    return undefined;
  }
}

/**
 * An admin API change in the log, beside what it did there (a connector restarting, a Virtual MCP removed): who made
 * it and from where, so the log alone says who changed the configuration. Method, path and status only: a body may
 * hold a secret's value or a password.
 */
function logAdminChange(request: Request, actor: string, ip: string | null, path: string, response: Response): void {
  const fields = { actor, ip: ip ?? undefined, method: request.method, path, status: response.status };
  if (response.status < 400) log.info("admin change", fields);
  else log.info("admin change refused", fields);
}

/** How a trial run by an admin request went, noted by its route for the request's admin record: the request succeeds either way. */
const trialOutcomes = new WeakMap<Request, { outcome: "ok" | "error"; error: string | null }>();

/** Notes a trial's result (`ok`, and `error` or `warnings` saying why not) as its admin record's outcome; returns the result. */
function notingTrial<T extends { ok: boolean; error?: string | undefined; warnings?: string[] }>(request: Request, result: T): T {
  const why = result.error ?? (result.warnings?.length ? result.warnings.join(" ") : "The test failed.");
  trialOutcomes.set(request, result.ok ? { outcome: "ok", error: null } : { outcome: "error", error: why });
  return result;
}

/** An OAuth refusal from an admin route, as the admin API's JSON error. */
const adminOAuthError = (error: unknown) => {
  if (error instanceof OAuthError) return jsonError(error.status === 401 ? 400 : error.status, error.description);
  throw error;
};

const ADMIN_CHALLENGE = { "www-authenticate": 'Bearer realm="mintgate-admin"' };

/** The routes; thin: each calls one service method. */
export function createHttpApp(deps: HttpDeps) {
  const { admin } = deps;
  const { clients, users, sso } = deps.auth;
  /** Roles and groups feed the access policy: connected sessions see the change at once. */
  const accessChanged = <T>(result: T): T => {
    deps.mcp.gateway.accessChanged();
    return result;
  };
  /** The admin API's and the other routes by path, for a 405's Allow header; read from the app below once every route is declared. */
  let adminRoutes: RouteMethods | undefined;
  let publicRoutes: RouteMethods | undefined;
  // Nothing refused here is normal traffic (admin tokens do not expire): a stale CLI config or someone guessing. A few
  // lines a minute say who from where; a flood of guesses is counted, not written.
  const adminRefusals = new LineBudget({ lines: 5, windowMs: 60_000, fields: {}, notLoggedMessage: "admin API requests refused: lines not logged, too many" });
  const refuseAdmin = (request: Request, refusal: unknown) => {
    const message = publicMessageOf(refusal);
    adminRefusals.write("warn", "admin API request refused: no valid admin token", { method: request.method, path: new URL(request.url).pathname, ip: clientAddressOf(request) ?? undefined, reason: message });
    return jsonError(401, message, ADMIN_CHALLENGE);
  };
  const app = new Elysia()
    .onError(({ code, error, request }) => {
      // Without the admin token, nothing under /admin/api says which routes exist: not a 404, nor a body refused (parsed before the token is checked).
      if (code === "NOT_FOUND" || code === "PARSE") {
        const path = new URL(request.url).pathname;
        if (path.startsWith("/admin/api/")) {
          try {
            admin.authenticate(request.headers.get("authorization"));
          } catch (refusal) {
            return refuseAdmin(request, refusal);
          }
        }
        if (code === "PARSE") return jsonError(400, "The request body could not be parsed; send valid JSON.");
        // A path served under other methods is a 405 naming them, not a 404: a client probing /token or /register with GET or
        // HEAD would read a 404 as "no such endpoint". OPTIONS is left as it was (CORS is answered before routing where offered).
        const routes = path.startsWith("/admin/api/") ? adminRoutes : publicRoutes;
        const allowed = request.method !== "OPTIONS" ? (routes?.methodsServing(path) ?? []) : [];
        if (allowed.length > 0) {
          return jsonError(405, `${path} does not take ${request.method}; use ${allowed.slice(0, -1).join(", ")}${allowed.length > 1 ? " or " : ""}${allowed.at(-1)}.`, { allow: allowed.join(", ") });
        }
        return jsonError(404, `Nothing is served at ${request.method} ${path}.`);
      }
      if (code === "VALIDATION") return jsonError(400, "The request is not valid: " + error.message);
      if (error instanceof MintgateError) {
        const status = httpStatusOf(error);
        if (status === 401 && new URL(request.url).pathname.startsWith("/admin/api/")) return refuseAdmin(request, error);
        return jsonError(status, publicMessageOf(error), status === 401 ? ADMIN_CHALLENGE : {});
      }
      if (isStorageFull(error)) {
        // One line, no stack: what failed and what to do.
        log.warn("a request could not be saved: the disk holding the data directory is full; free space on it", { method: request.method, path: new URL(request.url).pathname });
        return jsonError(httpStatusOf(error), publicMessageOf(error));
      }
      log.error("request failed", { method: request.method, path: new URL(request.url).pathname, error: String(error) });
      return jsonError(500, publicMessageOf(error));
    })
    .use(
      authRoutes({
        ...deps.auth,
        reachRefusal: (person, slug) => {
          const runtime = deps.mcp.gateway.virtualMcp(slug);
          if (!runtime) return undefined;
          // Read afresh: the sign-in that just happened may have changed the person's groups.
          const caller = { subject: person.email, userId: person.id };
          runtime.subjects.forget(caller);
          const subject = runtime.subjects.subjectOf(caller);
          const reach = decide(subject, { kind: "reach", virtualMcp: slug, policy: runtime.policy });
          return reach.allow ? undefined : reach.reason;
        },
      }),
    )
    .get("/healthz", ({ request }) => {
      const challenge = new URL(request.url).searchParams.get("challenge");
      const proof = challenge && challenge.length <= MAX_CHALLENGE_LENGTH ? { proof: deps.proveInstance(challenge) } : {};
      return { status: "ok", instance: deps.instanceId, ...proof };
    })
    .get("/readyz", () => {
      const why = deps.notReady();
      return why === undefined ? { status: "ready" } : jsonError(503, why);
    })
    .use(discoveryRoutes({ urls: deps.auth.urls, clients, virtualMcps: () => deps.mcp.gateway.virtualMcps().map((v) => ({ slug: v.definition.slug, name: v.definition.name })) }))
    .group("/admin/api", (api) =>
      api
        .resolve(({ request, params, body, query, route }) => {
          const adminToken = admin.authenticate(request.headers.get("authorization"));
          // HEAD is answered by the GET route.
          const declared = `${request.method === "HEAD" ? "GET" : request.method} ${route}`;
          checkQueryNames(query, ADMIN_QUERY_PARAMETERS[declared] ?? [], declared);
          if (request.method === "DELETE" || (request.method === "POST" && BODILESS_POSTS.has(route))) checkNoBody(body, declared);
          if (body === NOT_UTF8_BODY) throw invalid("The request body is not UTF-8 text; send it as UTF-8.");
          checkBodyDepth(body);
          // A path segment that is not valid percent-encoding reaches the routes as null.
          if (Object.values(params ?? {}).some((value) => typeof value !== "string")) throw invalid("A name in the URL is not valid percent-encoding; encode % as %25.");
          // Who, and from where (as the admin API's own records have it), for the services that record their changes.
          const actor: AdminActor = { name: adminActor(adminToken), ip: clientAddressOf(request) };
          return { adminToken, actor };
        })
        // These three read their body themselves, as JSON or YAML text: they come before the hook below, which would take it.
        // One Virtual MCP's mintgate.yaml entry as JSON (or YAML): created or replaced, checked like the file.
        .put("/virtual-mcps/:slug", async ({ params, request, actor }) => admin.putVirtualMcp(params.slug, await request.bytes(), actor, expectedRevisionOf(request.headers)), { parse: "none" })
        // An access policy (src/policy) as JSON or YAML, validated like mintgate.yaml.
        .put("/virtual-mcps/:slug/policy", async ({ params, request, actor }) => {
          const expected = expectedRevisionOf(request.headers);
          if (expected === null) throw invalid("A policy belongs to an existing virtual MCP: send If-Match with its revision, not If-None-Match.");
          return admin.setPolicy(params.slug, await request.bytes(), actor, expected);
        }, { parse: "none" })
        // A whole mintgate.yaml (same checks as `mintgate apply`).
        .put("/config", async ({ request, query, actor }) => admin.applyConfig(await request.bytes(), { prune: switchParam(query.prune, "prune"), dryRun: switchParam(query.dryRun, "dryRun"), actor }), { parse: "none" })
        // Every other body is JSON, whatever its Content-Type says (curl -d sends a form type, fetch text/plain): read as a
        // form, `role=admin` would change a role while its admin record (the body as JSON) could not say to what.
        // Bytes that are not UTF-8 would be read with each bad one as U+FFFD (a secret's value too): marked here, refused
        // once the token is checked (NOT_UTF8_BODY).
        .onParse(async ({ request, contentType }) => {
          const text = utf8TextOf(await request.clone().bytes());
          if (text === undefined) return NOT_UTF8_BODY;
          if (/^application\/json\b/i.test(contentType)) return undefined; // Elysia's own JSON parser
          return text.trim() === "" ? null : (JSON.parse(text) as unknown); // not JSON: a PARSE error, "send valid JSON"
        })
        .get("/status", () => admin.status())
        // People and groups (src/auth/accounts); :id is a person's id or their email.
        .get("/users", () => users.list())
        .get("/users/:id", ({ params }) => users.get(users.resolve(params.id).id))
        // A local account that signs in with a password (the password is redacted from the admin record).
        .post("/users", async ({ body, set }) => {
          const input = bodyFields(body, { email: "string", password: "string", role: "string", name: "string" }, "a new account");
          if (input.role !== undefined && input.role !== "admin" && input.role !== "member") throw invalid(`"${input.role}" is not a role: use admin or member.`);
          const created = await users.addLocal({ email: input.email ?? "", password: input.password ?? "", role: input.role ?? "member", name: input.name?.trim() || undefined });
          set.status = 201;
          return accessChanged(created);
        })
        .post("/users/:id/role", ({ params, body }) => accessChanged(users.setRole(params.id, (bodyFields(body, { role: "string" }, "a role change").role ?? "") as "admin" | "member")))
        .post("/users/:id/disable", ({ params, actor }) => accessChanged(users.disable(params.id, { by: actor.name, ip: actor.ip ?? undefined })))
        .post("/users/:id/enable", ({ params }) => accessChanged(users.enable(params.id)))
        .post("/users/:id/groups", ({ params, body }) => accessChanged(users.addGroup(params.id, bodyFields(body, { group: "string" }, "a group").group ?? "")))
        .delete("/users/:id/groups/:group", ({ params }) => accessChanged(users.removeGroup(params.id, params.group)))
        // Sign-in providers (src/auth/sso); the client secret goes in, never comes out.
        .get("/sso-providers", () => sso.list())
        .post("/sso-providers", ({ body, set }) => {
          const created = sso.add(providerInputOf(body));
          set.status = 201;
          return created;
        })
        .delete("/sso-providers/:name", ({ params }) => {
          sso.remove(params.name);
          return { removed: params.name };
        })
        .post("/sso-providers/:name/test", async ({ params, request }) => notingTrial(request, await sso.test(params.name)))
        // Client id, secret (optional: absent keeps it), allowed domains, groups claim, label.
        .patch("/sso-providers/:name", ({ params, body }) => sso.update(params.name, providerPatchOf(body)))
        .get("/connectors", () => admin.connectors())
        // Its revision is the ETag, as a Virtual MCP's.
        .get("/connectors/:name", ({ params, set }) => {
          const connector = admin.connector(params.name);
          set.headers.etag = `"${connector.revision}"`;
          return connector;
        })
        .delete("/connectors/:name", ({ params, actor, request }) => admin.deleteConnector(params.name, actor, expectedRevisionOf(request.headers)))
        // One connector (a mintgate.yaml `connectors` entry as JSON, checked like the file); a test runs a temporary
        // one (never left running, never added); restart; a stdio connector's last stderr lines (secret values replaced).
        // Its `revision` (GET /connectors) as If-Match: refused (409) when someone changed it meanwhile; If-None-Match: * adds only a new one.
        .put("/connectors/:name", ({ params, body, actor, request }) => admin.connectorsAndSecrets.put(params.name, body, actor, expectedRevisionOf(request.headers)))
        .post("/connectors/test", async ({ body, query, request }) => notingTrial(request, await admin.connectorsAndSecrets.test(body, wholeNumberParam(query.timeoutMs, "timeoutMs", 1, 600_000))))
        .post("/connectors/:name/restart", ({ params }) => admin.connectorsAndSecrets.restart(params.name))
        .get("/connectors/:name/logs", ({ params }) => admin.connectorsAndSecrets.logs(params.name))
        // Secrets by name: a value goes in (PUT {value}) and never comes out, nor into an admin record.
        .get("/secrets", () => admin.connectorsAndSecrets.secrets())
        .put("/secrets/:name", ({ params, body, actor }) => admin.connectorsAndSecrets.setSecret(params.name, body, actor))
        .delete("/secrets/:name", ({ params, actor }) => admin.connectorsAndSecrets.deleteSecret(params.name, actor))
        .get("/virtual-mcps", () => admin.virtualMcps())
        // Its revision is the ETag: a PUT with If-Match is refused (409) when someone changed it meanwhile.
        .get("/virtual-mcps/:slug", ({ params, set }) => {
          const status = admin.virtualMcp(params.slug);
          set.headers.etag = `"${status.revision}"`;
          return status;
        })
        .delete("/virtual-mcps/:slug", ({ params, actor, request }) => admin.deleteVirtualMcp(params.slug, actor, expectedRevisionOf(request.headers)))
        // Access policies (src/policy): GET the policy as JSON (PUT above).
        .get("/virtual-mcps/:slug/policy", ({ params, set }) => {
          const { policy, revision } = admin.policy(params.slug);
          set.headers.etag = `"${revision}"`;
          return policy;
        })
        // A misspelt "hash" must not turn into an approval of whatever the tool is now: unknown fields are refused.
        .post("/virtual-mcps/:slug/approvals", ({ params, body, actor }) => admin.approveTool(params.slug, bodyFields(body, { tool: "string", hash: "string" }, "an approval"), actor))
        .get("/config", async () => new Response(await admin.exportConfig(), { headers: { "content-type": "application/yaml; charset=utf-8" } }))
        // The audit trail (src/audit): search (newest first), streaming export, verify, and the live feed of new records. Their
        // reads run on the audit reader thread: a filter few records match walks the whole trail, which held every request.
        .get("/audit", ({ query }) => {
          const filter = auditFilterOf(query);
          // Paging, newest first: `before` is the id of the last record of the previous page.
          const before = query.before === undefined ? undefined : Number(query.before);
          if (before !== undefined && !(Number.isSafeInteger(before) && before > 0)) throw invalid("before must be the id of a record (a positive whole number), the last one of the previous page.");
          return searchAuditInThread(admin.store, filter, wholeNumberParam(query.limit, "limit", 1, SEARCH_LIMIT_MAX) ?? 100, before);
        })
        .get("/audit/export", ({ query }) => {
          const format = query.format ?? "jsonl";
          if (format !== "jsonl" && format !== "csv") throw invalid(`format must be jsonl or csv, not "${format}".`);
          const filter = auditFilterOf(query);
          return new Response(exportStream(auditPagesInThread(admin.store), format, filter), {
            headers: { "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8", "cache-control": "no-store", "content-disposition": `attachment; filename="mintgate-audit.${format}"` },
          });
        })
        .get("/audit/verify", ({ query }) => admin.verifyAudit(query.anchor === undefined ? undefined : parseChainAnchor(query.anchor, "anchor")))
        // How many records a search or export would cover (the TUI's export progress bar).
        .get("/audit/count", async ({ query }) => ({ count: await readInThread(admin.store, "auditCount", auditFilterOf(query)) }))
        .get("/events", ({ request, adminToken }) => {
          if (!deps.audit) throw notFound("This gateway has no live audit feed.");
          // A reconnecting EventSource sends the id of the last record it got: resume after it, not from now.
          const lastEventId = request.headers.get("last-event-id")?.trim();
          // A stream outlives its request: it ends once its admin token is revoked (a new `init` token), not on the next request.
          const stillValid = () => admin.store.adminTokens.has(adminToken.tokenId);
          const headers = { "content-type": "text/event-stream; charset=utf-8" };
          // HEAD: the headers alone. A stream no one reads would never end, and neither would the answer.
          if (request.method === "HEAD") return new Response(null, { headers });
          return new Response(deps.audit.feed.stream(lastEventId && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined, stillValid), { headers });
        })
        .get("/calls", ({ query }) => admin.recentCalls(wholeNumberParam(query.limit, "limit", 1, 1000) ?? 100))
        // Usage per vmcp|tool|connector|person over ?last=24h or ?since=&until= (src/analytics).
        .get("/stats", ({ query }) => deps.analytics.reportInThread({ by: query.by, last: query.last, since: query.since, until: query.until }))
        // Tool calls per step over ?last=5m&step=5s, with totals and p50/p95 (the TUI Overview's sparkline).
        .get("/stats/timeline", ({ query }) => deps.analytics.timelineInThread({ last: query.last, step: query.step }))
        // Sign-in records, people's approvals of AI clients, and the clients' sign-ins (token families).
        .get("/auth-events", ({ query }) =>
          // A misspelt type would match nothing and read as "no such events". On the reader thread, as the audit search.
          readInThread(admin.store, "authEvents", { type: oneOfParam(query.type, "type", AUTH_EVENT_TYPES), userId: query.user, clientId: query.client, since: timeParam(query.since, "since"), limit: wholeNumberParam(query.limit, "limit", 1, 10_000) }),
        )
        .get("/consents", ({ query }) => deps.auth.grants.listConsents(query.user))
        .delete("/consents", ({ query, actor }) => {
          if (!query.user || !query.client) throw invalid("Say whose approval to revoke: ?user=USER_ID&client=CLIENT_ID.");
          return deps.auth.grants.revokeConsent(query.user, query.client, actor.name);
        })
        // Personal access tokens (src/auth/access-tokens.ts): the token itself is in the answer to POST only.
        .get("/tokens", () => deps.mcp.tokens.list())
        .post("/tokens", ({ body, set }) => {
          // A wrong type or an empty value must not widen the token: `"expires": 30` or `""` is refused, not read as "never",
          // and `"vmcp": ""` (an unset variable) is not every virtual MCP; the fields are checked as the CLI's options are.
          const input = bodyFields(body, { user: "string", vmcp: "string", expires: "string" }, "a token");
          const expires = input.expires === undefined ? undefined : parseLifetime(input.expires);
          const created = deps.mcp.tokens.create({ subject: input.user ?? "", virtualMcp: input.vmcp, lifetimeMs: expires });
          set.status = 201;
          // Made even when the gateway would refuse it today (policies change); `warnings` says why it would.
          return { ...created.info, token: created.token, warnings: created.warnings };
        })
        .delete("/tokens/:id", ({ params }) => {
          deps.mcp.tokens.revoke(params.id);
          return { revoked: params.id };
        })
        .get("/oauth-grants", ({ query }) => deps.auth.grants.listGrants({ userId: query.user, activeOnly: switchParam(query.active, "active") }))
        .delete("/oauth-grants/:id", ({ params, actor }) => {
          deps.auth.grants.revokeGrant(params.id, actor.name);
          return { revoked: params.id };
        })
        // OAuth clients (src/auth/clients): list every kind, add and remove admin-added ones.
        .get("/clients", () => clients.listAll())
        .post("/clients", ({ body, set, actor }) => {
          const input = bodyFields(body, { name: "string", redirectUris: "string[]", confidential: "boolean" }, "an OAuth client");
          try {
            const created = clients.addStatic({ name: input.name ?? "", redirectUris: input.redirectUris ?? [], confidential: input.confidential !== false }, actor);
            set.status = 201;
            return created;
          } catch (error) {
            return adminOAuthError(error);
          }
        })
        .delete("/clients/:clientId", ({ params }) => {
          if (!clients.remove(params.clientId)) throw notFound(`There is no client "${params.clientId}".`);
          // Its sign-ins were revoked with it: tokens verified before are checked again, and its sessions end.
          deps.mcp.tokens.forgetVerified();
          return { removed: params.clientId };
        }),
    );
  adminRoutes = new RouteMethods(app.routes.filter((route) => route.path.startsWith("/admin/api/")));
  publicRoutes = new RouteMethods(app.routes.filter((route) => !route.path.startsWith("/admin/api/")));
  return app;
}

const tooLargeReason = (limit: number) => `The request body is larger than the limit of ${limit} bytes.`;
const tooLarge = (limit: number) => jsonError(413, tooLargeReason(limit), { connection: "close" });

/**
 * Bytes of chunked bodies being read right now, across all requests. They are
 * read before routing (so before authentication), so their total is capped:
 * unauthenticated clients cannot make the gateway hold more than this.
 */
const CHUNKED_BODIES_CAP = 32 * 1024 * 1024;
let chunkedBytesHeld = 0;

/** A chunked body (no Content-Length) is read up to the limit before routing; `bytes`: its size. `overLimit` answers one past it. */
async function bufferChunkedBody(request: Request, limit: number, overLimit: () => Response | Promise<Response>): Promise<{ request: Request; bytes: number } | Response> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of request.body!) {
      size += chunk.byteLength;
      chunkedBytesHeld += chunk.byteLength;
      if (size > limit) return overLimit();
      if (chunkedBytesHeld > CHUNKED_BODIES_CAP) {
        return jsonError(503, "Too many bodies without Content-Length are being received; retry shortly, or send Content-Length.", { connection: "close", "retry-after": "1" });
      }
      chunks.push(chunk);
    }
  } finally {
    chunkedBytesHeld -= size;
  }
  const headers = new Headers(request.headers);
  headers.delete("transfer-encoding");
  return { request: new Request(request, { body: Buffer.concat(chunks), headers }), bytes: size };
}

/** `/mcp/<slug>`, `/sse/<slug>` or `/messages/<slug>`: the route and the slug, else undefined. */
function mcpRouteOf(url: string): { route: "mcp" | "sse" | "messages"; slug: string } | undefined {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?", pathStart);
  const path = queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
  // A trailing slash is tolerated: a URL pasted as /mcp/demo/ must reach demo, not a 404 that SDK clients read as "try SSE".
  const match = /^\/(mcp|sse|messages)\/([^/]+)\/?$/.exec(path);
  if (!match) return undefined;
  try {
    return { route: match[1] as "mcp" | "sse" | "messages", slug: decodeURIComponent(match[2]!) };
  } catch {
    return undefined; // not valid percent-encoding: no such route (a JSON 404)
  }
}

const SLASH = "/".charCodeAt(0);

/** The methods each MCP route serves (the Allow header of its 405s). */
const MCP_ROUTE_METHODS = { mcp: "GET, POST, DELETE", sse: "GET", messages: "POST" } as const;

/** Bun's own cap, far above ours, so that our JSON 413 is what people see. */
const TRANSPORT_BODY_CAP = 1024 ** 3;

/**
 * Refuses an address the gateway cannot listen on before anything else starts: the upstreams start before the server
 * listens, so a restart loop (systemd's) against a taken port, an address this machine does not have (an interface
 * not up yet at boot) or a name that does not resolve spawned every stdio upstream, npx and all, and stopped it
 * again, each attempt. The port is let go at once; the server takes it a moment later. A name is resolved here, as
 * Bun says no code for one it cannot resolve (and its listen said EAI codes, EINVAL or EAGAIN by turns); a failure
 * Bun names no code for is left to that listen, which says it in its own words.
 */
export async function checkCanListen(settings: Settings): Promise<void> {
  if (isIP(settings.host) === 0) {
    try {
      await lookup(settings.host);
    } catch (error) {
      if ((error as { code?: string }).code === "ENOTFOUND") throw listenError(error, settings);
    }
  }
  try {
    Bun.listen({ hostname: settings.host, port: settings.port, socket: { data() {} } }).stop(true);
  } catch (error) {
    if ((error as { code?: string }).code !== undefined) throw listenError(error, settings);
  }
}

/** Turns Bun's listen failures into one sentence that says what to do. */
function listenError(error: unknown, settings: Settings): Error {
  const code = (error as { code?: string }).code;
  const where = `${settings.host.includes(":") ? `[${settings.host}]` : settings.host}:${settings.port}`;
  if (code === "EADDRINUSE") return configError(`Port ${settings.port} on ${settings.host} is already in use; stop the other process or choose another with --port or MINTGATE_PORT.`, error);
  if (code === "EACCES") return configError(`Not allowed to listen on ${where}; use a port above 1023 or run with the needed privilege.`, error);
  if (code === "ENOENT" || code === "ENOTFOUND") return configError(`${settings.host} is not an address and does not resolve to one; fix --host.`, error);
  if (code === "EADDRNOTAVAIL") return configError(`${settings.host} is not an address of this machine; fix --host.`, error);
  return configError(`Cannot listen on ${where} (${(error as Error).message}); check --host, --port and the TLS files.`, error);
}

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish within the grace period, then closes the rest. */
  stop(): Promise<void>;
}

/** How long after the shutdown grace the server still lets replies out before it closes connections. */
const CUT_OFF_REPLY_MS = 1000;

export function startHttpServer(deps: HttpDeps): RunningServer {
  const { settings } = deps;
  // Compile the routes now rather than on the first request, which would otherwise pay ~10 ms.
  const app = createHttpApp(deps).compile();
  const bodyBudget = new BodyBudget(settings.bodyBudgetBytes, DEFAULTS.bodyBytesInFlightCap);
  deps.metrics?.metrics.readRequestBodiesFrom(() => bodyBudget.bytesInFlight);
  const mcp = mcpRoutes(deps.mcp, deps.auth.urls, bodyBudget);
  const origins = new OriginPolicy({ urls: deps.auth.urls, allowedOrigins: settings.allowedOrigins, allowedHosts: settings.allowedHosts });
  const limit = settings.bodyLimitBytes;
  /** Everything but the MCP endpoints: Elysia, with CORS preflights and headers on the public OAuth paths. */
  const other = (request: Request, ip: string | null): Response | Promise<Response> => {
    noteClientAddress(request, ip);
    const path = pathOf(request.url);
    if (path === "/metrics" && deps.metrics?.access.served) {
      // A trusted proxy on this machine is loopback too, but it speaks for clients elsewhere (with or without X-Forwarded-For).
      const peer = server.requestIP(request)?.address;
      return serveMetrics(deps.metrics.metrics, deps.metrics.access, origins, request, peer !== undefined && addresses.isProxy(peer) ? undefined : peer);
    }
    if (path.startsWith("/admin/api/") && request.method !== "GET" && request.method !== "HEAD" && request.method !== "OPTIONS") {
      if (selfRecording(request.method, path)) {
        // Its service recorded a change it made; a refusal made none, so its attempt is recorded here, as every other
        // refused admin request is: method, path and status, never the body (a secret's value, a whole config).
        return Promise.resolve(app.handle(request)).then(async (response) => {
          const actor = adminActorOf(deps, request, response);
          if (actor === undefined) return response;
          if (response.status >= 400) await recordAdminRequest(deps, request, actor, ip, NO_BODY, response);
          logAdminChange(request, actor, ip, path, response);
          return response;
        });
      }
      // The change is recorded (committed) before its answer leaves. A refused request's body is never read (a 401, a 404):
      // its copy then fails when the connection closes, which unhandled would dump a stack to stderr for anyone who asks.
      const body = request.clone().text().catch(() => "");
      return Promise.resolve(app.handle(request)).then(async (response) => {
        const actor = adminActorOf(deps, request, response);
        if (actor === undefined) return response;
        await recordAdminRequest(deps, request, actor, ip, body, response);
        logAdminChange(request, actor, ip, path, response);
        return response;
      });
    }
    if (!origins.isOpenCorsPath(path)) return app.handle(request);
    if (request.method === "OPTIONS") return origins.preflight(request, path, false)!;
    return app.handle(request).then((response) => origins.withCors(response, "*"));
  };
  /** A body over the limit, refused unread before routing: on an MCP endpoint, recorded for the person whose token it carries. */
  const refuseTooLarge = (request: Request, ip: string | null): Response | Promise<Response> => {
    const target = mcpRouteOf(request.url);
    return target ? mcp.refusedUnread(target.slug, request, ip, tooLarge(limit), tooLargeReason(limit)) : tooLarge(limit);
  };
  /** The MCP endpoints are matched here, ahead of Elysia: they carry every tool call. */
  const route = (request: Request, ip: string | null, bytes: number): Response | Promise<Response> => {
    const target = mcpRouteOf(request.url);
    if (!target) return other(request, ip);
    return countHttp ? countHttp(target.slug, answerMcp(target, request, ip, bytes)) : answerMcp(target, request, ip, bytes);
  };
  /** Counts each MCP endpoint response by Virtual MCP and status class, when metrics are on. */
  const metrics = deps.metrics?.access.served ? deps.metrics.metrics : undefined;
  const countHttp =
    metrics &&
    ((slug: string, answer: Response | Promise<Response>): Response | Promise<Response> => {
      if (answer instanceof Response) {
        metrics.countHttpResponse(slug, answer.status);
        return answer;
      }
      return answer.then((response) => {
        metrics.countHttpResponse(slug, response.status);
        return response;
      });
    });
  /** `bytes`: the body's size, reserved against its person's budget once they are known (src/http/body-budget.ts). */
  const answerMcp = (target: { route: "mcp" | "sse" | "messages"; slug: string }, request: Request, ip: string | null, bytes: number): Response | Promise<Response> => {
    // Host and Origin checks (DNS rebinding, browsers): two header lookups.
    const refused = origins.checkMcpRequest(request);
    if (refused) return refused;
    const origin = request.headers.get("origin");
    if (origin === null) return routeMcp(target, request, ip, bytes);
    if (request.method === "OPTIONS") return origins.preflight(request, "", true)!;
    const answer = routeMcp(target, request, ip, bytes);
    return answer instanceof Response ? origins.withCors(answer, origin) : answer.then((response) => origins.withCors(response, origin));
  };
  const routeMcp = (target: { route: "mcp" | "sse" | "messages"; slug: string }, request: Request, ip: string | null, bytes: number): Response | Promise<Response> => {
    const { route: kind, slug } = target;
    if (kind === "mcp" && (request.method === "POST" || request.method === "GET" || request.method === "DELETE")) return mcp.streamable(slug, request, ip, bytes);
    if (kind === "sse" && request.method === "GET") return mcp.openLegacy(slug, request, ip);
    if (kind === "messages" && request.method === "POST") return mcp.postLegacy(slug, request, ip, bytes);
    if (request.method === "OPTIONS") return origins.preflight(request, "", true)!;
    // Reachability probes (HEAD, as GET minus the body) meet the GET's sign-in gate: without a token, the 401 and its
    // challenge, never a 404 that reads as "no MCP server here". Past it, and for any other method, a 405 naming those served.
    const allow = MCP_ROUTE_METHODS[kind];
    if (request.method === "HEAD" && kind !== "messages") return mcp.probe(slug, kind === "sse" ? "legacy" : "streamable", request, ip, allow);
    return jsonError(405, `${pathOf(request.url)} does not take ${request.method}; use ${allow}.`, { allow });
  };
  const tls = settings.tlsCert && settings.tlsKey
    ? { cert: Bun.file(settings.tlsCert), key: Bun.file(settings.tlsKey) }
    : undefined;
  const activity = deps.activity;
  const addresses = new ClientAddresses(settings.trustedProxies);
  /** Set when the shutdown drain begins (stop()). */
  let draining = false;
  /** Set once listening, before the first request: the public URL may be the listen URL. */
  let strictTransport = false;
  /**
   * Every reply passes here when it is ready, so one to a request that began before the drain is covered too; here it
   * gets the headers every reply carries (src/http/response-headers.ts).
   * Event streams (the MCP GET stream, a tool call's SSE reply, legacy /sse, the admin live feed) may be silent far
   * longer than Bun's idle timeout (10 s by default), which would cut them: a call running over 10 s without progress
   * then never gets its answer, a legacy session is lost and list changes are missed. Their connections have no idle
   * timeout; the streams end when their session or reader does.
   * During the drain Bun closes a kept-alive connection once its reply is out: a client reusing it for its next request
   * at that moment got ECONNRESET. `Connection: close` tells it to open a new connection instead.
   */
  const finished = (request: Request, response: Response): Response => {
    const eventStream = response.headers.get("content-type")?.startsWith("text/event-stream") === true;
    if (eventStream && response.body !== null) server.timeout(request, 0);
    withResponseHeaders(response, eventStream, strictTransport);
    if (draining) response.headers.set("connection", "close");
    return response;
  };
  const replied = (request: Request, answer: Response | Promise<Response>): Response | Promise<Response> =>
    answer instanceof Response ? finished(request, answer) : answer.then((response) => finished(request, response));
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: settings.host,
      port: settings.port,
      maxRequestBodySize: TRANSPORT_BODY_CAP,
      // Bun's default, said here because it is what frees a connection that sends nothing, or its headers a byte a
      // second (slowloris): 2,000 idle and 500 such connections were all closed after 10–12 s, others answered meanwhile.
      idleTimeout: 10,
      tls,
      fetch(request, server) {
        activity?.noteActivity();
        // Without a Host header Bun hands over a relative URL, which no route can read: refused here, not a 500 and an error line each.
        if (request.url.charCodeAt(0) === SLASH) return replied(request, jsonError(400, "The request has no Host header; HTTP/1.1 requires one.", { connection: "close" }));
        // Where the request came from: for the records and the per-IP limits.
        const ip = addresses.of(request, server.requestIP(request)?.address ?? null);
        // Bun refuses a Content-Length that is not a number (400) before this runs.
        const declared = request.headers.get("content-length");
        if (declared !== null) {
          const bytes = Number(declared);
          return replied(request, bytes > limit ? refuseTooLarge(request, ip) : route(request, ip, bytes));
        }
        if (!request.body) return replied(request, route(request, ip, 0));
        return replied(request, bufferChunkedBody(request, limit, () => refuseTooLarge(request, ip)).then((checked) => (checked instanceof Response ? checked : route(checked.request, ip, checked.bytes))));
      },
      error: (error) => {
        // A request that failed during the drain asks for its connection's close as every other reply does.
        const headers: Record<string, string> = draining ? { connection: "close" } : {};
        if (isStorageFull(error)) {
          log.warn("a request could not be saved: the disk holding the data directory is full; free space on it");
          return withResponseHeaders(jsonError(httpStatusOf(error), publicMessageOf(error), headers), false, strictTransport);
        }
        log.error("request failed", { error: String(error) });
        return withResponseHeaders(jsonError(500, publicMessageOf(error), headers), false, strictTransport);
      },
    });
  } catch (error) {
    throw listenError(error, settings);
  }
  const scheme = tls ? "https" : "http";
  const host = settings.host.includes(":") ? `[${settings.host}]` : settings.host;
  const url = `${scheme}://${host}:${server.port}`;
  // Before any request is handled: the issuer and resources need the base URL.
  deps.auth.urls.useListenUrlIfUnset(url);
  strictTransport = wantsStrictTransport(deps.auth.urls.issuer);
  if (!settings.publicUrl && (settings.host === "0.0.0.0" || settings.host === "::")) {
    log.warn(`No --public-url: the OAuth metadata and the 401 challenge name ${url}, which no client can reach; set --public-url to the URL clients use (https://mcp.example.com).`);
  }
  if (settings.publicUrl !== undefined && !servesThisMachineOnly(settings.publicUrl) && settings.publicUrl.startsWith("http:")) {
    log.warn(`--public-url ${settings.publicUrl} is plain http on another machine's name: people's passwords, sign-in codes and tokens would cross the network unencrypted; serve HTTPS (--tls-cert and --tls-key, or a proxy such as Caddy) and give its https:// URL.`);
  }
  origins.setListenUrl(url);
  return {
    url,
    port: server.port ?? settings.port,
    async stop() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      draining = true;
      const graceful = server.stop(false);
      // Connections are cut a little after the grace: the MCP endpoint first answers calls it cut off at the grace, saying why.
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), settings.shutdownGraceMs + CUT_OFF_REPLY_MS);
      });
      const outcome = await Promise.race([graceful.then(() => "done" as const), deadline]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        log.warn("requests still running after the grace period; closing them", { graceMs: settings.shutdownGraceMs });
        await server.stop(true);
      }
    },
  };
}
