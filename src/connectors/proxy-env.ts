/** This machine's loopback names and ranges as NO_PROXY entries (Bun's fetch takes CIDR ranges there). */
const LOOPBACK_NO_PROXY = ["localhost", "127.0.0.0/8", "[::1]"];

/** The variables naming the proxy for a `protocol` ("http:", "https:") URL, in the order Bun's fetch reads them. */
const proxyVariables = (protocol: string) => (protocol === "https:" ? ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"] : ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]);

/** True when the environment routes plain-http requests through a proxy, which only fetch honours. */
export function proxyConfigured(env: Record<string, string | undefined> = process.env): boolean {
  return proxyVariables("http:").some((name) => env[name]);
}

/** Whether `hostname` (as URL.hostname gives it) names this machine's loopback interface. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Keeps requests to this machine's own loopback addresses off HTTP_PROXY, HTTPS_PROXY and ALL_PROXY, as Go's
 * net/http does: a proxy elsewhere reaches its own loopback, not ours, and would be handed the request's
 * credentials on the way (the CLI's admin token to the local gateway, a connector's headers to a server beside
 * it). Bun's fetch proxies 127.0.0.1 unless NO_PROXY names it, and reads NO_PROXY on each request, so the
 * loopback entries are added to whatever NO_PROXY (or no_proxy) already lists.
 */
export function keepLoopbackOffProxies(env: Record<string, string | undefined> = process.env): void {
  // The https list holds every proxy variable (the http ones too).
  if (!proxyVariables("https:").some((name) => env[name])) return;
  const listed = [env.NO_PROXY, env.no_proxy].flatMap((list) => (list ?? "").split(",").map((entry) => entry.trim()).filter(Boolean));
  const merged = [...new Set([...listed, ...LOOPBACK_NO_PROXY])].join(",");
  env.NO_PROXY = env.no_proxy = merged;
}

/** The variable that names the proxy a request to a `protocol` ("http:", "https:") URL goes through, as people set it (upper case when none is set). */
export function proxyVariableFor(protocol: string, env: Record<string, string | undefined> = process.env): string {
  const names = proxyVariables(protocol);
  return names.find((name) => env[name]) ?? names[0]!;
}

/**
 * The variable naming the proxy a request to `url` may go through, or undefined when none can: no variable is set for
 * its scheme, or its host is this machine's loopback (kept off proxies). NO_PROXY is not read here (Bun's fetch applies
 * its own rules to it), so a sentence using this says "if it goes through" rather than that it does.
 */
export function proxyVariableOf(url: URL, env: Record<string, string | undefined> = process.env): string | undefined {
  if (isLoopbackHost(url.hostname)) return undefined;
  return proxyVariables(url.protocol).find((name) => env[name]);
}
