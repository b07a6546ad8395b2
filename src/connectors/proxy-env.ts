/** This machine's loopback names and ranges as NO_PROXY entries (Bun's fetch takes CIDR ranges there). */
const LOOPBACK_NO_PROXY = ["localhost", "127.0.0.0/8", "[::1]"];

/** True when the environment routes plain-http requests through a proxy, which only fetch honours. */
export function proxyConfigured(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.HTTP_PROXY || env.http_proxy || env.ALL_PROXY || env.all_proxy);
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
  if (!proxyConfigured(env) && !env.HTTPS_PROXY && !env.https_proxy) return;
  const listed = [env.NO_PROXY, env.no_proxy].flatMap((list) => (list ?? "").split(",").map((entry) => entry.trim()).filter(Boolean));
  const merged = [...new Set([...listed, ...LOOPBACK_NO_PROXY])].join(",");
  env.NO_PROXY = env.no_proxy = merged;
}

const proxyVariables = (protocol: string) => (protocol === "https:" ? ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"] : ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]);

/** The variable that names the proxy a request to a `protocol` ("http:", "https:") URL goes through, as people set it (upper case when none is set). */
export function proxyVariableFor(protocol: string, env: Record<string, string | undefined> = process.env): string {
  const names = proxyVariables(protocol);
  return names.find((name) => env[name]) ?? names[0]!;
}

/**
 * The variable naming the proxy a request to `url` goes through, or undefined when it goes direct: no variable is
 * set for its scheme, its host is this machine's loopback, or NO_PROXY covers it (Bun's fetch reads it on each request).
 */
export function proxyVariableOf(url: URL, env: Record<string, string | undefined> = process.env): string | undefined {
  const variable = proxyVariables(url.protocol).find((name) => env[name]);
  if (!variable || isLoopbackHost(url.hostname)) return undefined;
  const entries = (env.no_proxy || env.NO_PROXY || "").split(",").map((entry) => entry.trim().toLowerCase()).filter(Boolean);
  return entries.some((entry) => noProxyCovers(entry, url.hostname)) ? undefined : variable;
}

/** Whether a NO_PROXY entry ("*", a domain with or without a leading "." or "*.", an address, an IPv4 range "10.0.0.0/8") covers `hostname`. */
function noProxyCovers(entry: string, hostname: string): boolean {
  if (entry === "*") return true;
  const range = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(entry);
  if (range) {
    const address = ipv4Number(hostname);
    const shift = 32 - Number(range[2]);
    return address !== undefined && shift >= 0 && (shift === 32 || address >>> shift === ipv4Number(range[1]!)! >>> shift);
  }
  const domain = entry.replace(/^\*?\./, "");
  return hostname === domain || hostname.endsWith(`.${domain}`);
}

const ipv4Number = (text: string): number | undefined =>
  /^\d{1,3}(\.\d{1,3}){3}$/.test(text) ? text.split(".").reduce((sum, part) => sum * 256 + Number(part), 0) : undefined;
