import { resolve, join } from "node:path";
import { invalid } from "../errors/index.ts";

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
  bodyLimitBytes: number;
  shutdownGraceMs: number;
}

/** Flag values as the CLI parsed them; undefined means "not given". */
export interface SettingFlags {
  data?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  "public-url"?: string | undefined;
  "tls-cert"?: string | undefined;
  "tls-key"?: string | undefined;
}

export const DEFAULTS = {
  dataDir: ".mintgate",
  host: "127.0.0.1",
  port: 8080,
  bodyLimitBytes: 4 * 1024 * 1024,
  shutdownGraceMs: 10_000,
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
  MINTGATE_LOG_LEVEL: "debug, info, warn or error (default info)",
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

function parsePublicUrl(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${source} must be an absolute URL such as https://mcp.example.com, not "${raw}".`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(`${source} must start with https:// or http://, not "${url.protocol}".`);
  }
  // Kept without a trailing slash so resource URLs built from it are byte-exact.
  return url.href.replace(/\/$/, "");
}

export function loadSettings(flags: SettingFlags, env: Env = process.env): Settings {
  const pick = (flag: string | undefined, envName: Exclude<keyof typeof ENVIRONMENT, "MINTGATE_LOG_LEVEL">) => {
    const fromFlag = nonEmpty(flag);
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${flagNameOf(envName)}` };
    const fromEnv = nonEmpty(env[envName]);
    return fromEnv === undefined ? undefined : { value: fromEnv, source: envName };
  };

  const port = pick(flags.port, "MINTGATE_PORT");
  const publicUrl = pick(flags["public-url"], "MINTGATE_PUBLIC_URL");
  const tlsCert = pick(flags["tls-cert"], "MINTGATE_TLS_CERT");
  const tlsKey = pick(flags["tls-key"], "MINTGATE_TLS_KEY");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw invalid("HTTPS needs both --tls-cert and --tls-key (or MINTGATE_TLS_CERT and MINTGATE_TLS_KEY); only one was given.");
  }

  return {
    dataDir: resolve(pick(flags.data, "MINTGATE_DATA_DIR")?.value ?? DEFAULTS.dataDir),
    host: pick(flags.host, "MINTGATE_HOST")?.value ?? DEFAULTS.host,
    port: port === undefined ? DEFAULTS.port : parsePort(port.value, port.source),
    publicUrl: publicUrl === undefined ? undefined : parsePublicUrl(publicUrl.value, publicUrl.source),
    masterKeyFromEnv: nonEmpty(env.MINTGATE_MASTER_KEY),
    tlsCert: tlsCert && resolve(tlsCert.value),
    tlsKey: tlsKey && resolve(tlsKey.value),
    bodyLimitBytes: DEFAULTS.bodyLimitBytes,
    shutdownGraceMs: DEFAULTS.shutdownGraceMs,
  };
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
  };
}
