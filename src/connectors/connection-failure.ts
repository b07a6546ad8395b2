import { certificateFailureOf, MintgateError } from "../errors/index.ts";
import { proxyVariableFor, proxyVariableOf } from "./proxy-env.ts";

/** Codes of a connection nobody took: the upstream is down or restarting, or the address is wrong. */
export const UPSTREAM_GONE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * A connection to an http or sse upstream that failed before any answer (nothing listens there, no route, a
 * refused TLS certificate or handshake; with `beforeFirstAnswer`, a plain-http connection closed unanswered, as a
 * TLS server does), said as one sentence that names the connector, what is wrong and what to do; undefined for any
 * other error. Bun's own wording ("Unable to connect. Is the computer able to access the url?", "unable to verify
 * the first certificate", "The socket connection was closed unexpectedly") names neither the address nor the fix.
 */
export function connectionFailure(connector: string, url: URL, error: unknown, { beforeFirstAnswer = false } = {}): MintgateError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  // A TLS server sent plain HTTP closes the connection without a word (Bun's server: no alert, no HTTP 400); an upstream
  // that has answered over plain HTTP before is not one, so only a connection that never got an answer is said so.
  if (code === "ECONNRESET" && beforeFirstAnswer && url.protocol === "http:") {
    return new MintgateError(
      "upstream_failed",
      `Connector "${connector}" cannot connect to ${url.host}: the upstream closed the connection before answering (ECONNRESET), perhaps because it expects HTTPS; if it does, set the connector's url to https://${url.host}${url.pathname}${url.search}, otherwise check the upstream's log.`,
    );
  }
  if (code === "ERR_PROXY_TUNNEL") {
    // Bun's "Proxy refused to open a tunnel: 407 …" names neither the proxy's variable nor what to set; its URL is not said, it may hold a password.
    const { status, statusText } = error as { status?: number; statusText?: string };
    const variable = proxyVariableFor(url.protocol);
    const advice = status === 407 ? `it wants credentials: ${proxyCredentialsAdvice(variable)}` : `check the proxy's log and that it lets the gateway reach ${url.host}`;
    return new MintgateError("upstream_failed", `Connector "${connector}" cannot reach ${url.host}: the proxy in ${variable} refused to open a tunnel to it (HTTP ${status ?? "?"}${statusText ? ` ${statusText}` : ""}); ${advice}.`);
  }
  if (typeof code === "string" && UPSTREAM_GONE.has(code)) {
    const why = code === "ECONNREFUSED" ? "nothing accepts connections there" : "the network has no route to it";
    // Bun says ECONNREFUSED alike when the proxy refused the connection; its URL is not said, it may hold a password.
    const proxy = code === "ECONNREFUSED" ? proxyVariableOf(url) : undefined;
    const check = proxy ? `that the upstream server is running (and, if the request goes through the proxy in ${proxy}, that the proxy is)` : "that the upstream server is running";
    return new MintgateError("upstream_failed", `Connector "${connector}" cannot connect to ${url.host}: ${why} (${code}); check ${check} and the connector's url.`);
  }
  const failure = url.protocol === "https:" ? certificateFailureOf(error) : undefined;
  if (!failure) return undefined;
  const where = url.host;
  const sentence = {
    "self-signed": `does not trust the TLS certificate of ${where} (it is self-signed); start the gateway with NODE_EXTRA_CA_CERTS naming a PEM file that holds the CA that signed it (or the certificate itself)`,
    untrusted: `does not trust the TLS certificate of ${where} (no certificate authority this machine trusts signed it); start the gateway with NODE_EXTRA_CA_CERTS naming a PEM file that holds the CA that signed it (or the certificate itself)`,
    expired: `cannot connect because the TLS certificate of ${where} has expired; renew the upstream's certificate`,
    "not-yet-valid": `cannot connect because the TLS certificate of ${where} is not valid yet; check the clocks of this machine and the upstream's`,
    "wrong-name": `cannot connect because the TLS certificate of ${where} is not issued for ${url.hostname}; set the connector's url to a name the certificate holds, or have it issued for this one`,
    // EPROTO: Bun says only that the handshake failed, alike for a server without TLS and one asking for a client certificate.
    handshake: `cannot connect because the TLS handshake with ${where} failed (EPROTO): it does not speak TLS there, or it asks for a client certificate, which the gateway does not send; if it serves plain HTTP, set the connector's url to http://${where}${url.pathname}`,
    other: `cannot connect because the TLS certificate of ${where} was refused (${failure.code}); fix the upstream's certificate`,
  }[failure.kind];
  return new MintgateError("upstream_failed", `Connector "${connector}" ${sentence}.`);
}

/** A connection the upstream closed before its reply was complete (it crashed, restarted, or a proxy dropped it), said alike whichever client carried it. */
export function connectionReset(): Error {
  return Object.assign(new Error("ECONNRESET: the upstream closed the connection before the reply was complete"), { code: "ECONNRESET" });
}

/** `error`, or connectionReset for Bun's fetch's reset, whose words give advice on fetch's own options ("pass `verbose: true` …") to the person reading them. */
export function resetSaid(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code === "ECONNRESET" ? connectionReset() : error;
}

/**
 * An http or sse upstream that refused a request with an error status, said with what to check: the status alone (or
 * the SDK's "Non-200 status code (401)") does not say whether the credentials, the url or the upstream is at fault.
 * `when`: which request it refused, if not the one the person sent (" when its event stream was opened");
 * `said`: what the body said, already redacted and cut short (" saying \"…\"", " with an HTML page titled …").
 */
export function refusedByUpstream(connector: string, status: number, { when = "", said = "" }: { when?: string; said?: string } = {}): string {
  const advice =
    status === 401 || status === 403 ? "the upstream refused the connector's credentials; check its headers and the secrets they use"
    // Only a proxy answers 407: plain-http requests go to it as they are (an https one fails opening its tunnel instead).
    : status === 407 ? `the proxy in ${proxyVariableFor("http:")} wants credentials; ${proxyCredentialsAdvice(proxyVariableFor("http:"))}`
    : status === 404 ? "nothing serves MCP there; check the connector's url"
    : "check the upstream's log";
  return `Connector "${connector}" answered HTTP ${status}${when}${said}: ${advice}.`;
}

const proxyCredentialsAdvice = (variable: string) => `put its user name and password in ${variable} (http://user:password@host:port) and restart the gateway`;

/**
 * An http or sse upstream that answered a redirect, which is never followed: the request carries the connector's
 * credential headers, and Bun's fetch would send them on to wherever it points, another origin included. Said with
 * where it points (resolved against `url`), so a person who trusts that address can configure it instead.
 * `when` as for refusedByUpstream.
 */
export function redirectRefused(connector: string, url: URL, status: number, location: string, { when = "" } = {}): string {
  // Without user name and password: a location may carry credentials of its own, and this sentence is shown to people.
  const parsed = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
  if (parsed) parsed.username = parsed.password = "";
  const target = parsed?.href ?? location.slice(0, 200);
  return `Connector "${connector}" answered HTTP ${status} redirecting to ${target}${when}; redirects are not followed, since they would carry the connector's credentials there: set the connector's url to that address if you trust it.`;
}

/** The SDK's words for a legacy sse upstream whose `endpoint` event names another origin; the origin follows them. */
const ENDPOINT_ELSEWHERE = "Endpoint origin does not match connection origin: ";

/**
 * A legacy sse upstream whose `endpoint` event names another origin than the connector's url: the SDK refuses to POST
 * there (the messages would carry the connector's credentials) and says so in its own words, which name neither the
 * connector nor what to do. Said as a sentence that does; undefined for any other error.
 */
export function endpointElsewhere(connector: string, url: URL, error: Error): string | undefined {
  if (!error.message.startsWith(ENDPOINT_ELSEWHERE)) return undefined;
  const origin = error.message.slice(ENDPOINT_ELSEWHERE.length, ENDPOINT_ELSEWHERE.length + 200);
  return `Connector "${connector}" was told by its upstream to send messages to ${origin}, another origin than its url's (${url.origin}); they are not sent there, since they would carry the connector's credentials: have the upstream name an endpoint on ${url.origin}, or set the connector's url to ${origin} if you trust it.`;
}
