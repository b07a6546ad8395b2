import { readFileSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";
import type { MetricsMode } from "../config/index.ts";
import { invalid, unusableFile } from "../errors/index.ts";

/**
 * Who may read /metrics:
 * - `loopback` (the default): clients on this machine, connecting directly;
 *   with a metrics token set, anyone else presenting it too.
 * - `token`: only clients presenting the metrics token, loopback included.
 * - `off`: /metrics is not served.
 */
export type { MetricsMode };

/** Tokens shorter than this are refused: a scrape token is a password sent on every scrape. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export type MetricsDecision = { allowed: true } | { allowed: false; status: 401 | 403 | 404; message: string };

/**
 * Headers a reverse proxy adds. A request carrying one came through a proxy,
 * so its loopback peer address says nothing about the client: it needs the token.
 */
const FORWARDING_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip"];

/** 127.0.0.0/8, ::1 and the IPv4-mapped forms of 127.0.0.0/8. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const ip = address.toLowerCase();
  if (ip === "::1" || ip === "0:0:0:0:0:0:0:1") return true;
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export class MetricsAccess {
  private readonly tokenBytes: Buffer | undefined;

  constructor(
    readonly mode: MetricsMode,
    token: string | undefined,
  ) {
    this.tokenBytes = token === undefined ? undefined : Buffer.from(token);
  }

  /**
   * From the settings: the token file (read now) or MINTGATE_METRICS_TOKEN. `serve` calls it before the data
   * directory is opened or a connector started, so a wrong setting is a usage error (exit 2) in one sentence
   * naming the file or variable and what to do, like a wrong --tls-cert / --tls-key file.
   */
  static fromSettings(settings: { metricsMode: MetricsMode; metricsTokenFile: string | undefined; metricsTokenFromEnv: string | undefined }): MetricsAccess {
    let token = settings.metricsTokenFromEnv;
    let source = "MINTGATE_METRICS_TOKEN";
    const file = settings.metricsTokenFile;
    if (file !== undefined) {
      source = `${file} (--metrics-token-file)`;
      try {
        token = readFileSync(file, "utf8").trim();
      } catch (error) {
        throw unusableFile("--metrics-token-file", file, error, "the metrics token");
      }
      if (token === "") throw invalid(`The file ${file} (--metrics-token-file) is empty; put a long random token in it (e.g. \`openssl rand -hex 32 > ${file}\`).`);
    }
    if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
      throw invalid(`The metrics token in ${source} is shorter than ${MIN_METRICS_TOKEN_LENGTH} characters; use a long random value (e.g. \`openssl rand -hex 32\`).`);
    }
    if (settings.metricsMode === "token" && token === undefined) {
      throw invalid("--metrics token needs a token: set --metrics-token-file F or MINTGATE_METRICS_TOKEN.");
    }
    return new MetricsAccess(settings.metricsMode, token);
  }

  get served(): boolean {
    return this.mode !== "off";
  }

  /**
   * Whether this request may read /metrics; `peer` is the TCP peer's address, `hostIsOurs` whether its Host
   * names this gateway (a DNS-rebinding page in a browser on this machine connects from loopback too, under its own name).
   */
  decide(request: Request, peer: string | undefined, hostIsOurs: boolean): MetricsDecision {
    if (this.mode === "off") return { allowed: false, status: 404, message: "Nothing is served at /metrics: metrics are turned off (--metrics off)." };
    const authorization = request.headers.get("authorization");
    if (authorization !== null && this.tokenBytes) {
      return this.tokenMatches(authorization) ? { allowed: true } : { allowed: false, status: 401, message: "The metrics token is not valid." };
    }
    if (this.mode === "loopback" && isLoopbackAddress(peer) && !FORWARDING_HEADERS.some((h) => request.headers.has(h))) {
      if (hostIsOurs) return { allowed: true };
      if (!this.tokenBytes) {
        return { allowed: false, status: 403, message: `The Host "${request.headers.get("host")}" is not this gateway's, so /metrics is not served to it; scrape 127.0.0.1 or localhost, or add the name to --allowed-hosts.` };
      }
    }
    if (this.tokenBytes) {
      return { allowed: false, status: 401, message: "/metrics needs the metrics token: send `Authorization: Bearer <token>`." };
    }
    return {
      allowed: false,
      status: 403,
      message: "/metrics is only served to clients on this machine; to scrape from elsewhere set a metrics token (--metrics-token-file or MINTGATE_METRICS_TOKEN).",
    };
  }

  private tokenMatches(authorization: string): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return false;
    const given = Buffer.from(match[1]!);
    const expected = this.tokenBytes!;
    // timingSafeEqual needs equal lengths; compare against itself to spend the same time either way.
    return given.length === expected.length ? timingSafeEqual(given, expected) : !timingSafeEqual(expected, expected);
  }
}
