import { Elysia } from "elysia";
import {
  AuthorizationRedirectError,
  OAuthError,
  type AuthEvents,
  type AuthorizationRequest,
  type AuthorizationServer,
  isTargeted,
  issuesRefreshTokens,
  type OAuthGrants,
  type PublicUrls,
  type SignedInPerson,
  type SignInFlows,
  type SignInMethods,
  SIGN_OUT_FORM,
  type TargetedAuthorizationRequest,
  type VirtualMcpAudience,
  WindowLimiter,
  wireDescription,
} from "../auth/index.ts";
import { consentPage, errorPage, signedInPage, signedOutPage, signInPage, signOutPage } from "../auth/pages/index.ts";
import { MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { clientAddressOf } from "./client-address.ts";

export interface AuthRouteDeps {
  urls: PublicUrls;
  events: AuthEvents;
  authorization: AuthorizationServer;
  grants: OAuthGrants;
  flows: SignInFlows;
  signIn: SignInMethods;
  /** Why the person may not use the Virtual MCP (its access policy), or undefined when they may. */
  reachRefusal?: (person: SignedInPerson, slug: string) => string | undefined;
}

/** A signed-in browser: its session cookie's id and who it is. */
interface BrowserSession {
  sessionId: string;
  person: SignedInPerson;
}

function cookieOf(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Reads an x-www-form-urlencoded body; a parameter given twice is refused unless `repeatable` names it, one given
 * empty is left out, as if not sent (RFC 6749 §3.1, §3.2): a public client's `client_secret=` is no secret, an empty
 * `redirect_uri` a missing one.
 */
async function formOf(request: Request, repeatable: readonly string[] = []): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    throw new OAuthError("invalid_request", "Send the parameters as application/x-www-form-urlencoded.");
  }
  const form = new URLSearchParams();
  const seen = new Set<string>();
  for (const [key, value] of new URLSearchParams(await request.text())) {
    if (seen.has(key) && !repeatable.includes(key)) throw new OAuthError("invalid_request", `The parameter ${key} was sent more than once.`);
    seen.add(key);
    if (value !== "") form.append(key, value);
  }
  return form;
}

/** Whether the caller is a program asking for JSON (Accept names application/json, not text/html), not a browser. */
function wantsJson(request: Request): boolean {
  const accept = (request.headers.get("accept") ?? "").toLowerCase();
  return accept.includes("application/json") && !accept.includes("text/html");
}

const redirect = (location: string, headers: Record<string, string> = {}) =>
  new Response(null, { status: 303, headers: { location, "cache-control": "no-store", ...headers } });

/**
 * The authorization server's endpoints and the browser pages of sign-in:
 * /authorize → /login (or /sso/start → identity provider → /sso/callback) → /consent → back to the client with a code;
 * then /token and /revoke. Each route checks its input and calls one service.
 */
/** Sign-ins started per client address per minute: far above what people click, far below filling the pending map. */
const SIGN_IN_START_LIMIT = { max: 120, windowMs: 60_000 };

export function authRoutes(deps: AuthRouteDeps) {
  const { urls, events, authorization, grants, flows, signIn } = deps;
  const sessionCookie = () => (urls.secure ? "__Host-mintgate_session" : "mintgate_session");
  const ssoCookie = () => (urls.secure ? "__Host-mintgate_sso" : "mintgate_sso");
  const browserCookie = () => (urls.secure ? "__Host-mintgate_browser" : "mintgate_browser");
  const browserOf = (request: Request) => cookieOf(request, browserCookie());
  const cookie = (name: string, value: string, maxAge: number) =>
    `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${urls.secure ? "; Secure" : ""}`;

  const sessionOf = (request: Request): BrowserSession | undefined => {
    const sessionId = cookieOf(request, sessionCookie());
    const session = flows.session(sessionId);
    const person = session ? signIn.activePerson(session.userId, session.openedAt) : undefined;
    return person && sessionId ? { sessionId, person } : undefined;
  };

  const loginPage = (flow: string, request: AuthorizationRequest, extra: { error?: string; email?: string; status?: number } = {}) =>
    signInPage({ flow, clientName: request.client.name, virtualMcpName: request.virtualMcp?.name, providers: signIn.providers(), redirectUri: request.redirectUri, ...extra });

  const expiredFlow = () => errorPage(400, "Sign-in expired", "This sign-in was started more than 10 minutes ago, in another browser, or before the gateway restarted; start again from your AI application.");

  /** The Virtual MCPs this person may use: each one's access policy, decided as at /mcp. */
  const reachableBy = (person: SignedInPerson): VirtualMcpAudience[] => authorization.virtualMcps().filter((v) => deps.reachRefusal?.(person, v.slug) === undefined);

  const askConsent = (flow: string, request: AuthorizationRequest, session: BrowserSession, virtualMcps: VirtualMcpAudience[]): Response =>
    consentPage({
      flow,
      csrf: flows.csrfToken(session.sessionId, flow),
      email: session.person.email,
      clientName: request.client.name,
      clientId: request.client.clientId,
      clientKind: request.client.kind,
      redirectUri: request.redirectUri,
      virtualMcps: virtualMcps.map((v) => ({ slug: v.slug, name: v.name, resource: urls.resource(v.slug) })),
      staysSignedIn: issuesRefreshTokens(request.client, request.scope),
    });

  /**
   * An error about the request: back to the client, or shown on this gateway's page when the person has not acted here
   * yet and nobody vouches for the client's redirect URI (the authorization server decides, RFC 9700 §4.11.2).
   */
  const refuse = (request: AuthorizationRequest, error: string, description: string, personActed: boolean, headers: Record<string, string> = {}): Response => {
    const refusal = authorization.refusal(request, error, description, personActed);
    if ("redirectTo" in refusal) return redirect(refusal.redirectTo, headers);
    const page = errorPage(error === "access_denied" ? 403 : 400, "This sign-in cannot continue", refusal.shownHere);
    for (const [name, value] of Object.entries(headers)) page.headers.append(name, value);
    return page;
  };

  /**
   * After sign-in: on to the Virtual MCP the client named, or to the person's choice when it named none.
   * `personActed`: they signed in on this request, rather than arriving signed in already.
   */
  const continueFlow = (flow: string, request: AuthorizationRequest, session: BrowserSession, personActed: boolean, headers: Record<string, string> = {}): Response =>
    isTargeted(request) ? continueTargeted(flow, request, session, personActed, headers) : continueWithoutResource(flow, request, session, personActed, headers);

  /**
   * A client that sent no `resource` while the gateway serves several Virtual MCPs: the person's access decides
   * when it admits exactly one; else they choose on the consent page, even for a client they approved before
   * (nothing else says which Virtual MCP its token is for).
   */
  const continueWithoutResource = (flow: string, request: AuthorizationRequest, session: BrowserSession, personActed: boolean, headers: Record<string, string>): Response => {
    const reachable = reachableBy(session.person);
    if (reachable.length === 1) return continueTargeted(flow, { ...request, virtualMcp: reachable[0]! }, session, personActed, headers);
    if (reachable.length === 0) {
      // A page, not a redirect: the client named no Virtual MCP, so it has nothing to retry with; only an admin can help.
      flows.endFlow(flow);
      const page = errorPage(403, "No virtual MCP for you", `${session.person.email} may not use any virtual MCP of this gateway; ask an admin for access.`);
      for (const [name, value] of Object.entries(headers)) page.headers.append(name, value);
      return page;
    }
    if (request.prompt.has("none")) {
      flows.endFlow(flow);
      return refuse(request, "interaction_required", "The person must choose a virtual MCP; send resource=<the virtual MCP URL> to name one.", personActed);
    }
    if (Object.keys(headers).length) return redirect(`/consent?flow=${encodeURIComponent(flow)}`, headers);
    return askConsent(flow, request, session, reachable);
  };

  /** Straight back to the client if the person approved it for this Virtual MCP before, else the consent page. */
  const continueTargeted = (flow: string, request: TargetedAuthorizationRequest, session: BrowserSession, personActed: boolean, headers: Record<string, string>): Response => {
    // Someone the Virtual MCP's policy does not admit gets no approval page and no token (each call would be a 403).
    const refused = deps.reachRefusal?.(session.person, request.virtualMcp.slug);
    if (refused !== undefined) {
      flows.endFlow(flow);
      return refuse(request, "access_denied", refused, personActed, headers);
    }
    const approval = { userId: session.person.id, clientId: request.client.clientId, virtualMcpId: request.virtualMcp.id, scope: request.scope };
    if (!request.prompt.has("consent") && grants.hasConsent(approval, (scope) => issuesRefreshTokens(request.client, scope))) {
      flows.endFlow(flow);
      return redirect(authorization.issueCode(request, session.person.id), headers);
    }
    if (request.prompt.has("none")) {
      flows.endFlow(flow);
      return refuse(request, "consent_required", "The person has not approved this client for this virtual MCP.", personActed);
    }
    if (Object.keys(headers).length) return redirect(`/consent?flow=${encodeURIComponent(flow)}`, headers);
    return askConsent(flow, request, session, [request.virtualMcp]);
  };

  /**
   * A new browser session for `person`. The browser's earlier one (someone else's, on a shared computer, or their own)
   * ends on the gateway too: its cookie is replaced here, and a copy of it kept elsewhere must not sign anyone in.
   */
  const signedIn = (request: Request, person: SignedInPerson) => {
    const earlier = cookieOf(request, sessionCookie());
    if (earlier) flows.endSession(earlier);
    const sessionId = flows.openSession(person.id);
    return { session: { sessionId, person }, setCookie: cookie(sessionCookie(), sessionId, flows.sessionMaxAgeSeconds) };
  };

  /**
   * Ends this browser's session (a shared computer: the next person must not go through as this one) and
   * records it like a sign-in; `clientId` is the client whose sign-in goes on as someone else.
   */
  const signOut = (request: Request, session: BrowserSession, clientId: string | undefined) => {
    flows.endSession(session.sessionId);
    events.record({ type: "sign_out", outcome: "ok", userId: session.person.id, email: session.person.email, clientId, ip: clientAddressOf(request) });
  };
  const clearSession = () => ({ "set-cookie": cookie(sessionCookie(), "", 0) });

  /** The form a page posted, or an error page titled `title` saying why it could not be read. */
  const pageForm = async (request: Request, title: string): Promise<URLSearchParams | Response> => {
    try {
      return await formOf(request);
    } catch (error) {
      return errorPage(400, title, (error as Error).message);
    }
  };

  /** A form posted by one of the sign-in pages, and the sign-in it continues. */
  const postedFlow = async (request: Request): Promise<{ form: URLSearchParams; flow: string; pending: AuthorizationRequest } | Response> => {
    const form = await pageForm(request, "This sign-in cannot continue");
    if (form instanceof Response) return form;
    const flow = form.get("flow");
    const pending = flows.flow(flow, browserOf(request));
    return pending ? { form, flow: flow!, pending } : expiredFlow();
  };

  const oauthJson = (body: unknown) => Response.json(body, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
  /**
   * Each /authorize and each /sso/start holds a pending sign-in in memory (at most 20,000 of each):
   * one address must not push everyone else's out. Both share one budget per address.
   */
  const startLimit = new WindowLimiter(SIGN_IN_START_LIMIT);
  /** The page refusing one more sign-in from this address, or undefined while it is within the limit. */
  const tooManyStarts = (request: Request): Response | undefined => {
    const retryAfter = startLimit.hit(clientAddressOf(request) ?? "unknown");
    if (retryAfter === undefined) return undefined;
    const page = errorPage(429, "Too many sign-ins", `Too many sign-ins were started from this address; try again in ${retryAfter} s.`);
    page.headers.set("retry-after", String(retryAfter));
    return page;
  };

  return new Elysia()
    // A path segment that is not valid percent-encoding (/sso/start/%ZZ) reaches the routes as null: refused here for
    // every route, before a callback could use up the sign-in its state names, and never shown as a provider "null".
    .onBeforeHandle(({ params }) => {
      if (Object.values(params ?? {}).some((value) => typeof value !== "string")) {
        return errorPage(400, "Malformed address", "The address is malformed (part of it is not valid percent-encoding); check the link you followed.");
      }
    })
    .get("/authorize", async ({ request }) => {
      const refused = tooManyStarts(request);
      if (refused) return refused;
      let checked: AuthorizationRequest;
      try {
        checked = await authorization.checkAuthorizationRequest(new URL(request.url).searchParams, clientAddressOf(request));
      } catch (error) {
        if (error instanceof AuthorizationRedirectError) {
          return redirect(authorization.redirectWith(error.redirectUri, { error: error.error, error_description: error.description, state: error.state }));
        }
        // A bad client or redirect URI (checklist §5), or any problem of a client nobody vouches for: shown here, never redirected.
        if (error instanceof OAuthError) {
          // mcp-remote fetches /authorize with Accept: application/json before opening the browser when it reuses a
          // cached registration: only a JSON invalid_client (with registration_endpoint) makes it register again, where
          // a page would leave the person at a dead end (a pruned client, a reset data directory).
          if (wantsJson(request)) {
            const body: Record<string, string> = { error: error.code, error_description: wireDescription(error.description) };
            if (error.code === "invalid_client") body.registration_endpoint = urls.at("/register");
            return Response.json(body, { status: error.status, headers: { "cache-control": "no-store", pragma: "no-cache" } });
          }
          return errorPage(error.status === 401 ? 400 : error.status, "This sign-in cannot continue", error.description);
        }
        throw error;
      }
      // The flow belongs to this browser (cookie), so a sign-in posted from another page cannot use it.
      let browser = browserOf(request);
      const setBrowser: Record<string, string> = {};
      if (!browser) {
        browser = flows.newBrowserKey();
        setBrowser["set-cookie"] = `${browserCookie()}=${browser}; Path=/; HttpOnly; SameSite=Lax${urls.secure ? "; Secure" : ""}`;
      }
      const flow = flows.startFlow(checked, browser);
      const session = checked.prompt.has("login") ? undefined : sessionOf(request);
      if (!session && checked.prompt.has("none")) {
        flows.endFlow(flow);
        return refuse(checked, "login_required", "Nobody is signed in to mintgate in this browser.", false);
      }
      const next = session ? continueFlow(flow, checked, session, false) : redirect(`/login?flow=${encodeURIComponent(flow)}`);
      if (setBrowser["set-cookie"]) next.headers.append("set-cookie", setBrowser["set-cookie"]);
      return next;
    })
    .get("/login", ({ request }) => {
      const flow = new URL(request.url).searchParams.get("flow");
      const pending = flows.flow(flow, browserOf(request));
      if (!pending) return expiredFlow();
      return loginPage(flow!, pending);
    })
    .post(
      "/login",
      async ({ request }) => {
        const posted = await postedFlow(request);
        if (posted instanceof Response) return posted;
        const { form, flow, pending } = posted;
        const email = form.get("email") ?? "";
        try {
          const person = await signIn.authenticatePassword(email, form.get("password") ?? "", clientAddressOf(request));
          const { session, setCookie } = signedIn(request, person);
          return continueFlow(flow, pending, session, true, { "set-cookie": setCookie });
        } catch (error) {
          if (!(error instanceof MintgateError)) throw error;
          return loginPage(flow, pending, { error: error.message, email, status: error.kind === "unauthorized" ? 401 : 400 });
        }
      },
      { parse: "none" },
    )
    .get("/sso/start/:provider", async ({ params, request }) => {
      const refused = tooManyStarts(request);
      if (refused) return refused;
      const flow = new URL(request.url).searchParams.get("flow") ?? undefined;
      if (flow !== undefined && !flows.flow(flow, browserOf(request))) return expiredFlow();
      let started: { url: string; pending: unknown };
      try {
        started = await signIn.begin(params.provider);
      } catch (error) {
        if (!(error instanceof MintgateError)) throw error;
        return errorPage(error.kind === "not_found" ? 404 : 502, "Sign-in is not available", error.message);
      }
      const state = new URL(started.url).searchParams.get("state");
      if (!state) throw new Error("The identity provider's sign-in URL has no state.");
      flows.awaitProvider(state, { flow, provider: params.provider, pending: started.pending });
      // The state is also bound to this browser: a callback from another browser is refused.
      return new Response(null, { status: 302, headers: { location: started.url, "cache-control": "no-store", "set-cookie": cookie(ssoCookie(), state, flows.ssoMaxAgeSeconds) } });
    })
    .get("/sso/callback/:provider", async ({ params, request }) => {
      const url = new URL(request.url);
      const state = url.searchParams.get("state");
      const waiting = state && cookieOf(request, ssoCookie()) === state ? flows.takeProvider(state) : undefined;
      if (!waiting || waiting.provider !== params.provider) {
        return errorPage(400, "Sign-in expired", "This sign-in answer does not belong to a sign-in started in this browser in the last 10 minutes.");
      }
      // Rebuilt on the public origin: the provider redirected to exactly this URL, whatever address we listen on.
      const callbackUrl = new URL(urls.ssoCallback(params.provider) + url.search);
      let person: SignedInPerson;
      try {
        person = await signIn.complete(params.provider, callbackUrl, waiting.pending, clientAddressOf(request));
      } catch (error) {
        if (!(error instanceof MintgateError)) throw error;
        return errorPage(401, "Sign-in refused", error.message);
      }
      const { session, setCookie } = signedIn(request, person);
      const clearSso = cookie(ssoCookie(), "", 0);
      const pending = flows.flow(waiting.flow, browserOf(request));
      if (!waiting.flow || !pending) {
        const done = signedInPage(person.email);
        done.headers.append("set-cookie", setCookie);
        done.headers.append("set-cookie", clearSso);
        return done;
      }
      const next = continueFlow(waiting.flow, pending, session, true, { "set-cookie": setCookie });
      next.headers.append("set-cookie", clearSso);
      return next;
    })
    .get("/consent", ({ request }) => {
      const flow = new URL(request.url).searchParams.get("flow");
      const pending = flows.flow(flow, browserOf(request));
      if (!pending) return expiredFlow();
      const session = sessionOf(request);
      if (!session) return redirect(`/login?flow=${encodeURIComponent(flow!)}`);
      // Reached by the redirect after signing in, whose continueFlow already sent any error back; none is redirected from here.
      return continueFlow(flow!, pending, session, false);
    })
    .post(
      "/consent",
      async ({ request }) => {
        const posted = await postedFlow(request);
        if (posted instanceof Response) return posted;
        const { form, flow, pending } = posted;
        const session = sessionOf(request);
        if (!session) return redirect(`/login?flow=${encodeURIComponent(flow)}`);
        if (!flows.csrfValid(session.sessionId, flow, form.get("csrf"))) {
          return errorPage(403, "This approval cannot be accepted", "The form did not come from this sign-in; start again from your AI application.");
        }
        flows.endFlow(flow);
        if (form.get("decision") !== "approve") {
          return refuse(pending, "access_denied", "The person denied access.", true);
        }
        // Without `resource`, the posted choice is the audience: only a Virtual MCP the person may use, checked afresh.
        const virtualMcp = pending.virtualMcp ?? reachableBy(session.person).find((v) => v.slug === form.get("virtual_mcp"));
        if (!virtualMcp) {
          return errorPage(403, "This approval cannot be accepted", "The chosen virtual MCP is not one you may use; start again from your AI application.");
        }
        grants.grantConsent({ userId: session.person.id, clientId: pending.client.clientId, scope: pending.scope, virtualMcp: virtualMcp.slug, ip: clientAddressOf(request) });
        return redirect(authorization.issueCode({ ...pending, virtualMcp }, session.person.id));
      },
      { parse: "none" },
    )
    .get("/signout", ({ request }) => {
      const session = sessionOf(request);
      return signOutPage(session && { email: session.person.email, csrf: flows.csrfToken(session.sessionId, SIGN_OUT_FORM) });
    })
    .post(
      "/signout",
      async ({ request }) => {
        const form = await pageForm(request, "Sign-out failed");
        if (form instanceof Response) return form;
        // From the consent page ("Not you?"), bound to its sign-in; else from the sign-out page.
        const flow = form.get("flow");
        const session = sessionOf(request);
        if (session) {
          if (!flows.csrfValid(session.sessionId, flow ?? SIGN_OUT_FORM, form.get("csrf"))) {
            return errorPage(403, "This sign-out cannot be accepted", "The form did not come from this gateway's page; open /signout in this browser and sign out there.");
          }
          const pending = flows.flow(flow, browserOf(request));
          signOut(request, session, pending?.client.clientId);
        }
        // The same sign-in goes on at the sign-in page, as prompt=login would have it, so the client's attempt is not lost.
        if (flow !== null && flows.flow(flow, browserOf(request))) return redirect(`/login?flow=${encodeURIComponent(flow)}`, clearSession());
        return signedOutPage(clearSession());
      },
      { parse: "none" },
    )
    .post(
      "/token",
      async ({ request }) => {
        try {
          // RFC 8707 §2 lets a client send resource more than once; the authorization server checks they name one Virtual MCP.
          return oauthJson(await authorization.exchange(await formOf(request, ["resource"]), request.headers, clientAddressOf(request)));
        } catch (error) {
          if (error instanceof OAuthError) return error.toResponse();
          log.error("token request failed", { error: String(error) });
          return new OAuthError("server_error", "The token could not be issued; try again.").toResponse();
        }
      },
      { parse: "none" },
    )
    .post(
      "/revoke",
      async ({ request }) => {
        try {
          await authorization.revoke(await formOf(request), request.headers, clientAddressOf(request));
          return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
        } catch (error) {
          if (error instanceof OAuthError) return error.toResponse();
          throw error;
        }
      },
      { parse: "none" },
    );
}
