import { isIP } from "node:net";
import { resolve, join } from "node:path";
import { invalid } from "../errors/index.ts";
import { LOG_FORMATS, type LogFormat } from "../log/index.ts";

/** Who may read /metrics (src/metrics/access.ts): only this machine, only token holders, or nobody. */
export type MetricsMode = "off" | "loopback" | "token";
const METRICS_MODES: readonly MetricsMode[] = ["off", "loopback", "token"];

/** Every setting of a running gateway, from flags, then MINTGATE_* env, then defaults. */
export interface Settings {
  dataDir: string;
  host: string;
  port: number;
  /** The URL people and AI clients type; defaults to the listen address. */
  publicUrl: string | undefined;
  /** Master key material from MINTGATE_MASTER_KEY, if set (else the key file is used). */
  masterKeyFromEnv: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** Browser origins allowed on /mcp/* beside the gateway's own and the defaults (src/http/origin-policy.ts). */
  allowedOrigins: string[];
  /** Host names accepted on /mcp/* beside the public and listen hosts (e.g. the name a reverse proxy sends). */
  allowedHosts: string[];
  /** Private-use redirect URI schemes OAuth clients may register, beside `cursor` (e.g. `windsurf`). */
  redirectSchemes: string[];
  /** Reverse proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client (src/http/client-address.ts). */
  trustedProxies: string[];
  bodyLimitBytes: number;
  /** Request-body bytes one person may have in flight on the MCP endpoints (at least bodyLimitBytes); past it, 429. */
  bodyBudgetBytes: number;
  shutdownGraceMs: number;
  /** How often a silent event stream of the MCP endpoint gets a comment line (proxies cut streams idle too long). */
  keepaliveMs: number;
  /** How long OAuth access tokens issued to AI clients live. */
  accessTokenTtlMs: number;
  /** An MCP session without a request this long (and none running) is closed; its client starts a new one. */
  sessionIdleTimeoutMs: number;
  /** Requests one person may have running at once on the MCP endpoints (each holds a call, and often a connection); past it, 429. */
  requestsPerPerson: number;
  /** Keys whose values the audit trail replaces in arguments and results (matched against the key's words). */
  auditRedactKeys: string[];
  /** Audit records older than this are deleted daily, leaving a signed checkpoint. */
  auditRetentionDays: number;
  /** Who may read /metrics; "loopback" also admits holders of the metrics token when one is set. */
  metricsMode: MetricsMode;
  /** File holding the bearer token for /metrics (read when serving starts). */
  metricsTokenFile: string | undefined;
  /** The bearer token for /metrics from MINTGATE_METRICS_TOKEN, if set (the file wins). */
  metricsTokenFromEnv: string | undefined;
  /** How log lines are written: `time level message key=value…` for people, or one JSON object per line for log shippers. */
  logFormat: LogFormat;
}

/** Flag values as the CLI parsed them; undefined means "not given". */
export interface SettingFlags {
  data?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  "public-url"?: string | undefined;
  "tls-cert"?: string | undefined;
  "tls-key"?: string | undefined;
  "allowed-origins"?: string | undefined;
  "allowed-hosts"?: string | undefined;
  "redirect-schemes"?: string | undefined;
  "trusted-proxies"?: string | undefined;
  "access-token-ttl"?: string | undefined;
  keepalive?: string | undefined;
  "session-idle-timeout"?: string | undefined;
  "body-budget"?: string | undefined;
  "requests-per-person"?: string | undefined;
  "audit-redact-keys"?: string | undefined;
  "audit-retention-days"?: string | undefined;
  metrics?: string | undefined;
  "metrics-token-file"?: string | undefined;
  "log-format"?: string | undefined;
}

export const DEFAULTS = {
  dataDir: ".mintgate",
  host: "127.0.0.1",
  port: 8080,
  bodyLimitBytes: 4 * 1024 * 1024,
  // Eight calls of the largest body at once.
  bodyBudgetBytes: 32 * 1024 * 1024,
  // Request-body bytes in flight on the MCP endpoints across everyone (503 past it); also the largest --body-budget.
  bodyBytesInFlightCap: 256 * 1024 * 1024,
  shutdownGraceMs: 10_000,
  // As often as the SDK's transport comments on its own event streams (DEFAULT_SSE_KEEP_ALIVE_MS).
  keepaliveMs: 15_000,
  accessTokenTtlMs: 3_600_000,
  sessionIdleTimeoutMs: 3_600_000,
  // Far above what one person's AI clients fan out to, far below the descriptors (and memory) one person could then hold.
  requestsPerPerson: 100,
  auditRetentionDays: 365,
  // Plurals are listed, not derived: "tokens" would also hide counts such as max_tokens.
  auditRedactKeys: ["password", "passwords", "passwd", "passphrase", "secret", "secrets", "token", "authorization", "api_key", "api_keys", "apikey", "apikeys", "cookie", "cookies", "credential", "credentials", "private_key"],
  metricsMode: "loopback",
  logFormat: "text",
} as const;

/** The environment variables mintgate reads, for --help and the README. */
export const ENVIRONMENT = {
  MINTGATE_DATA_DIR: "data directory (default ./.mintgate)",
  MINTGATE_HOST: "address to listen on (default 127.0.0.1)",
  MINTGATE_PORT: "port to listen on; 0 picks a free one (default 8080)",
  MINTGATE_PUBLIC_URL: "the URL clients use to reach the gateway (default: the listen URL)",
  MINTGATE_MASTER_KEY: "32-byte master key as 64 hex characters or base64 (default: DATA_DIR/master.key)",
  MINTGATE_TLS_CERT: "PEM certificate file; serves HTTPS together with MINTGATE_TLS_KEY",
  MINTGATE_TLS_KEY: "PEM private key file for MINTGATE_TLS_CERT",
  MINTGATE_ALLOWED_ORIGINS: "comma-separated browser origins allowed on /mcp/* besides the public URL's (always allowed: https://claude.ai, https://chatgpt.com, the Inspector at http://localhost:6274)",
  MINTGATE_ALLOWED_HOSTS: "comma-separated Host names accepted on /mcp/* besides the public and listen hosts (e.g. a reverse proxy's upstream name)",
  MINTGATE_REDIRECT_SCHEMES: "comma-separated private-use redirect URI schemes OAuth clients may register, besides cursor (e.g. windsurf)",
  MINTGATE_TRUSTED_PROXIES: "comma-separated addresses or CIDR ranges of reverse proxies in front of the gateway; requests from them are attributed to the client in X-Forwarded-For (default none)",
  MINTGATE_ACCESS_TOKEN_TTL: "lifetime of OAuth access tokens for AI clients, e.g. 15m (default 1h)",
  MINTGATE_KEEPALIVE: "how often a silent event stream gets a comment line, 1s to 24h (default 15s)",
  MINTGATE_SESSION_IDLE_TIMEOUT: "how long an MCP session may go without a request before it is closed, 1s to 24h; its client then starts a new one (default 1h)",
  MINTGATE_BODY_BUDGET: "request-body bytes one person may have in flight on /mcp/* and /messages/*, 4MiB to 256MiB; past it a call gets 429 (default 32MiB)",
  MINTGATE_REQUESTS_PER_PERSON: "requests one person may have running at once on /mcp/* and /messages/*, 1 to 10000; past it a request gets 429 (default 100)",
  MINTGATE_AUDIT_REDACT_KEYS: `comma-separated keys whose values the audit trail replaces in arguments and results (default ${DEFAULTS.auditRedactKeys.join(",")})`,
  MINTGATE_AUDIT_RETENTION_DAYS: "days audit records are kept; older ones are deleted daily, leaving a signed checkpoint (default 365)",
  MINTGATE_METRICS: "who may read /metrics: loopback (this machine, or anyone with the metrics token), token (token holders only) or off (default loopback)",
  MINTGATE_METRICS_TOKEN_FILE: "file holding the bearer token that lets Prometheus scrape /metrics from elsewhere",
  MINTGATE_METRICS_TOKEN: "the bearer token for /metrics itself (MINTGATE_METRICS_TOKEN_FILE wins)",
  MINTGATE_LOG_LEVEL: "debug, info, warn or error (default info)",
  MINTGATE_LOG_FORMAT: "text, or json for one JSON object per line that log shippers parse (default text)",
} as const;

type Env = Record<string, string | undefined>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function parsePort(raw: string, source: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw invalid(`${source} must be a port number from 0 to 65535, not "${raw}".`);
  }
  return port;
}

/**
 * The address to listen on. An IPv6 address may be written as in a URL (`[::1]`, as `--public-url` has it): Bun
 * listened on it, and every URL built from it (server.url, the OAuth metadata) read `http://[[::1]]:8080`.
 */
function parseHost(raw: string, source: string): string {
  const bracketed = /^\[(.*)\]$/.exec(raw);
  if (bracketed === null) return raw;
  if (isIP(bracketed[1]!) !== 6) throw invalid(`${source} must be an address or host name such as 127.0.0.1, ::1 or mcp.internal, not "${raw}".`);
  return bracketed[1]!;
}

/** `45s`, `15m`, `1h`: between a second and a day. */
function parseDuration(raw: string, source: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(raw.trim());
  const ms = match ? Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"] : NaN;
  if (!(ms >= 1000 && ms <= 86_400_000)) throw invalid(`${source} must be a duration from 1s to 24h such as 15m or 1h, not "${raw}".`);
  return ms;
}

/** A public URL as the gateway keeps it (no trailing slash), or a sentence naming `source` when it is none. */
export function parsePublicUrl(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${source} must be an absolute URL such as https://mcp.example.com, not "${raw}".`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(`${source} must start with https:// or http://, not "${url.protocol}".`);
  }
  // Not quoted: the sentence would put the password in the log. The listening and `started` lines printed it, and every OAuth URL carried it.
  if (url.username !== "" || url.password !== "") {
    throw invalid(`${source} holds a user name or password, which every client would be shown; give the URL without them, such as https://mcp.example.com (people sign in through the gateway).`);
  }
  // Resource and endpoint URLs are the public URL and a path: after a query or fragment they would be neither.
  if (/[?#]/.test(url.href)) throw invalid(`${source} must have no query or fragment (? or #), such as https://mcp.example.com, not "${raw}".`);
  // Kept without a trailing slash so resource URLs built from it are byte-exact.
  return url.href.replace(/\/$/, "");
}

export function loadSettings(flags: SettingFlags, env: Env = process.env): Settings {
  const pick = (flag: string | undefined, envName: Exclude<keyof typeof ENVIRONMENT, "MINTGATE_LOG_LEVEL" | "MINTGATE_METRICS_TOKEN">) => {
    const fromFlag = nonEmpty(flag);
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${flagNameOf(envName)}` };
    const fromEnv = nonEmpty(env[envName]);
    return fromEnv === undefined ? undefined : { value: fromEnv, source: envName };
  };

  // `--data "$DIR"` with DIR unset: falling back to ./.mintgate would act on whatever data directory is there.
  if (flags.data === "") throw invalid("--data is empty; give the data directory's path, or leave --data out to use MINTGATE_DATA_DIR or ./.mintgate.");
  const host = pick(flags.host, "MINTGATE_HOST");
  const port = pick(flags.port, "MINTGATE_PORT");
  const publicUrl = pick(flags["public-url"], "MINTGATE_PUBLIC_URL");
  const tlsCert = pick(flags["tls-cert"], "MINTGATE_TLS_CERT");
  const tlsKey = pick(flags["tls-key"], "MINTGATE_TLS_KEY");
  const accessTokenTtl = pick(flags["access-token-ttl"], "MINTGATE_ACCESS_TOKEN_TTL");
  const keepalive = pick(flags.keepalive, "MINTGATE_KEEPALIVE");
  const sessionIdleTimeout = pick(flags["session-idle-timeout"], "MINTGATE_SESSION_IDLE_TIMEOUT");
  const bodyBudget = pick(flags["body-budget"], "MINTGATE_BODY_BUDGET");
  const requestsPerPerson = pick(flags["requests-per-person"], "MINTGATE_REQUESTS_PER_PERSON");
  const metrics = pick(flags.metrics, "MINTGATE_METRICS");
  const metricsTokenFile = pick(flags["metrics-token-file"], "MINTGATE_METRICS_TOKEN_FILE");
  const logFormat = pick(flags["log-format"], "MINTGATE_LOG_FORMAT");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw invalid("HTTPS needs both --tls-cert and --tls-key (or MINTGATE_TLS_CERT and MINTGATE_TLS_KEY); only one was given.");
  }

  return {
    dataDir: resolve(pick(flags.data, "MINTGATE_DATA_DIR")?.value ?? DEFAULTS.dataDir),
    host: host === undefined ? DEFAULTS.host : parseHost(host.value, host.source),
    port: port === undefined ? DEFAULTS.port : parsePort(port.value, port.source),
    publicUrl: publicUrl === undefined ? undefined : parsePublicUrl(publicUrl.value, publicUrl.source),
    masterKeyFromEnv: nonEmpty(env.MINTGATE_MASTER_KEY),
    tlsCert: tlsCert && resolve(tlsCert.value),
    tlsKey: tlsKey && resolve(tlsKey.value),
    allowedOrigins: parseOrigins(pick(flags["allowed-origins"], "MINTGATE_ALLOWED_ORIGINS")),
    allowedHosts: parseHosts(pick(flags["allowed-hosts"], "MINTGATE_ALLOWED_HOSTS")),
    redirectSchemes: parseSchemes(pick(flags["redirect-schemes"], "MINTGATE_REDIRECT_SCHEMES")),
    trustedProxies: parseTrustedProxies(pick(flags["trusted-proxies"], "MINTGATE_TRUSTED_PROXIES")),
    bodyLimitBytes: DEFAULTS.bodyLimitBytes,
    bodyBudgetBytes: bodyBudget === undefined ? DEFAULTS.bodyBudgetBytes : parseBodyBudget(bodyBudget.value, bodyBudget.source),
    shutdownGraceMs: DEFAULTS.shutdownGraceMs,
    keepaliveMs: keepalive === undefined ? DEFAULTS.keepaliveMs : parseDuration(keepalive.value, keepalive.source),
    sessionIdleTimeoutMs: sessionIdleTimeout === undefined ? DEFAULTS.sessionIdleTimeoutMs : parseDuration(sessionIdleTimeout.value, sessionIdleTimeout.source),
    requestsPerPerson: requestsPerPerson === undefined ? DEFAULTS.requestsPerPerson : parseRequestsPerPerson(requestsPerPerson.value, requestsPerPerson.source),
    auditRedactKeys: parseRedactKeys(pick(flags["audit-redact-keys"], "MINTGATE_AUDIT_REDACT_KEYS")),
    auditRetentionDays: parseRetentionDays(pick(flags["audit-retention-days"], "MINTGATE_AUDIT_RETENTION_DAYS")),
    accessTokenTtlMs: accessTokenTtl === undefined ? DEFAULTS.accessTokenTtlMs : parseDuration(accessTokenTtl.value, accessTokenTtl.source),
    metricsMode: metrics === undefined ? DEFAULTS.metricsMode : parseMetricsMode(metrics.value, metrics.source),
    metricsTokenFile: metricsTokenFile && resolve(metricsTokenFile.value),
    metricsTokenFromEnv: nonEmpty(env.MINTGATE_METRICS_TOKEN)?.trim(),
    logFormat: logFormat === undefined ? DEFAULTS.logFormat : parseLogFormat(logFormat.value, logFormat.source),
  };
}

const SIZE_UNITS = { "": 1, kib: 1024, mib: 1024 ** 2 } as const;

/** `32MiB`, `8192KiB` or a number of bytes: from the body limit (one largest call must fit) to the gateway-wide cap. */
function parseBodyBudget(raw: string, source: string): number {
  const match = /^(\d+)\s*(kib|mib)?$/i.exec(raw.trim());
  const bytes = match ? Number(match[1]) * SIZE_UNITS[(match[2]?.toLowerCase() ?? "") as keyof typeof SIZE_UNITS] : NaN;
  if (!(bytes >= DEFAULTS.bodyLimitBytes && bytes <= DEFAULTS.bodyBytesInFlightCap)) {
    throw invalid(`${source} must be a size from 4MiB (the request body limit, so the largest call fits) to 256MiB such as 32MiB, not "${raw}".`);
  }
  return bytes;
}

function parseRequestsPerPerson(raw: string, source: string): number {
  const count = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || count < 1 || count > 10_000) throw invalid(`${source} must be a whole number of requests from 1 to 10000 such as 100, not "${raw}".`);
  return count;
}

function parseMetricsMode(raw: string, source: string): MetricsMode {
  const mode = raw.trim().toLowerCase() as MetricsMode;
  if (!METRICS_MODES.includes(mode)) throw invalid(`${source} must be loopback, token or off, not "${raw}".`);
  return mode;
}

function parseLogFormat(raw: string, source: string): LogFormat {
  const format = raw.trim().toLowerCase() as LogFormat;
  if (!LOG_FORMATS.includes(format)) throw invalid(`${source} must be text or json, not "${raw}".`);
  return format;
}

function parseRedactKeys(setting: { value: string; source: string } | undefined): string[] {
  if (setting === undefined) return [...DEFAULTS.auditRedactKeys];
  const keys = listOf(setting.value);
  for (const key of keys) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key)) throw invalid(`${setting.source} must list key names such as password,api_key (letters, digits, _ . -), not "${key}".`);
  }
  return keys;
}

/** Days audit records are kept, from a flag or MINTGATE_AUDIT_RETENTION_DAYS (`source` names which, for the error). */
export function parseRetentionDays(setting: { value: string; source: string } | undefined): number {
  if (setting === undefined) return DEFAULTS.auditRetentionDays;
  const days = Number(setting.value);
  if (!/^\d+$/.test(setting.value.trim()) || days < 1 || days > 36_500) throw invalid(`${setting.source} must be a whole number of days from 1 to 36500, not "${setting.value}".`);
  return days;
}

/** One `--trusted-proxies` entry: an address, or a CIDR range such as 10.0.0.0/8 or fd00::/8. */
export function parseAddressRange(entry: string): { address: string; prefix: number | undefined; family: "ipv4" | "ipv6" } {
  const slash = entry.indexOf("/");
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
  const family = version === 4 ? "ipv4" : "ipv6";
  if (slash === -1) return { address, prefix: undefined, family };
  const raw = entry.slice(slash + 1);
  const prefix = Number(raw);
  if (!/^\d{1,3}$/.test(raw) || prefix > (version === 4 ? 32 : 128)) throw new Error(`"${entry}" has a prefix length that does not fit an ${version === 4 ? "IPv4" : "IPv6"} address`);
  return { address, prefix, family };
}

function parseTrustedProxies(setting: { value: string; source: string } | undefined): string[] {
  const entries = listOf(setting?.value);
  for (const entry of entries) {
    try {
      parseAddressRange(entry);
    } catch (error) {
      throw invalid(`${setting!.source} must list proxy addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8,::1; ${(error as Error).message}.`);
    }
  }
  return entries;
}

/**
 * Host names as a Host header carries them (a port is allowed, and ignored): a URL was taken as the host "https"
 * and a typo with a space as itself, so the proxy's requests went on being refused with no word at start.
 */
function parseHosts(setting: { value: string; source: string } | undefined): string[] {
  const entries = listOf(setting?.value);
  for (const entry of entries) {
    if (isIP(entry) === 0 && !/^[a-z0-9_.-]+(:\d{1,5})?$/i.test(entry) && !/^\[[0-9a-f:.]+\](:\d{1,5})?$/i.test(entry)) {
      throw invalid(`${setting!.source} must list host names such as mcp.internal or mcp.internal:8080 (no scheme or path), not "${entry}".`);
    }
  }
  return entries;
}

function listOf(raw: string | undefined): string[] {
  return raw === undefined ? [] : raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

/** Schemes a browser hands to an app (RFC 8252 §7.1); never ones that run or read something in the browser itself. */
const NOT_PRIVATE_USE = new Set(["http", "https", "javascript", "data", "file", "blob", "about", "vbscript", "ftp", "ws", "wss", "chrome", "view-source"]);

function parseSchemes(setting: { value: string; source: string } | undefined): string[] {
  return listOf(setting?.value).map((item) => {
    const scheme = item.toLowerCase().replace(/:(\/\/)?$/, "");
    if (!/^[a-z][a-z0-9+.-]*$/.test(scheme) || NOT_PRIVATE_USE.has(scheme)) {
      throw invalid(`${setting!.source} must list private-use URI schemes such as windsurf (not http, https, javascript, data or file), not "${item}".`);
    }
    return scheme;
  });
}

/** Origins are scheme://host[:port], nothing else (a path would never match a browser's Origin header). */
function parseOrigins(setting: { value: string; source: string } | undefined): string[] {
  return listOf(setting?.value).map((item) => {
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== item.replace(/\/$/, "").toLowerCase()) {
      throw invalid(`${setting!.source} must list origins such as https://app.example.com (scheme, host and port only), not "${item}".`);
    }
    return url.origin;
  });
}

function flagNameOf(envName: string): string {
  return envName === "MINTGATE_DATA_DIR"
    ? "data"
    : envName.slice("MINTGATE_".length).toLowerCase().replaceAll("_", "-");
}

/** Where each file lives inside the data directory. */
export function dataPaths(dataDir: string) {
  return {
    database: join(dataDir, "mintgate.db"),
    masterKey: join(dataDir, "master.key"),
    masterKeyOld: join(dataDir, "master.key.old"),
    masterKeyNew: join(dataDir, "master.key.new"),
    adminToken: join(dataDir, "admin.token"),
    /** Written while serving so the local CLI and TUI can find the gateway. */
    serverUrl: join(dataDir, "server.url"),
    /** Locked by the serving gateway (and by a restore), so only one uses the directory. */
    serveLock: join(dataDir, "serve.lock"),
    /** The process groups of the stdio upstreams running now, for the next start to end after a crash. */
    upstreamGroups: join(dataDir, "upstream-groups"),
  };
}
