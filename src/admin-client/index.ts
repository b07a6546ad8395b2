import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dataPaths } from "../config/index.ts";
import { certificateFailureOf, configError, invalid, MintgateError, unauthorized, type ErrorKind } from "../errors/index.ts";
import type { GatewayStatus, VirtualMcpStatus, VirtualMcpSummary } from "../admin/index.ts";

export type { GatewayStatus, VirtualMcpStatus, VirtualMcpSummary };

/** How to reach a gateway's admin API: explicit, or found through a local data dir. */
export interface AdminTarget {
  url: string;
  token: string;
  /** The instance id the local gateway wrote beside its URL; checked before the token is sent. */
  instance?: string | undefined;
  /** The key the local gateway wrote after it: its /healthz proves it holds it (see instanceProof). */
  instanceKey?: string | undefined;
  /** Reads the target again (server.url may name a restarted gateway); absent when the URL was given. */
  relocate?: (() => AdminTarget | undefined) | undefined;
}

export function locateGateway(options: { dataDir: string; url?: string | undefined; tokenFile?: string | undefined }): AdminTarget {
  const paths = dataPaths(options.dataDir);
  let url = options.url;
  if (url !== undefined && !/^https?:\/\//i.test(url)) {
    // A bare host:port gets its own fix (http:// before it); one with another scheme (ftp://x) would be told http://ftp://x.
    const example = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || url === "" ? "http://127.0.0.1:8080" : `http://${url.replace(/^\/+/, "")}`;
    throw invalid(`--url must be a full URL such as ${example}, not "${url}".`);
  }
  let instance: string | undefined;
  let instanceKey: string | undefined;
  if (!url) {
    const serverUrl = readLocalFile(paths.serverUrl, () => configError(`No gateway is running from ${options.dataDir}; start it with \`mintgate serve\` or pass --url.`));
    [url, instance, instanceKey] = serverUrl.trim().split("\n");
  }
  const tokenFile = options.tokenFile ?? paths.adminToken;
  const token = readLocalFile(tokenFile, () => configError(`The admin token file ${tokenFile} does not exist; run \`mintgate init\` or pass --token-file.`));
  const relocate = options.url
    ? undefined
    : () => {
        try {
          return locateGateway(options);
        } catch {
          return undefined; // not running now: the caller's error stands
        }
      };
  return { url: url!.replace(/\/$/, ""), token: token.trim(), instance, instanceKey, relocate };
}

/**
 * The answer to a /healthz `challenge` that only the gateway holding `key` (the last line of the server.url it wrote)
 * can give: the instance id is public, and a program that read it could repeat it once it held the port.
 */
export function instanceProof(key: string, challenge: string): string {
  return createHmac("sha256", key).update(challenge).digest("base64url");
}

/**
 * A file of the gateway's data directory, or `missing()` when there is none. One this user may not read
 * (the gateway runs as its own user) is said so: it was an internal error, and a directory this user
 * cannot enter looked as if no gateway were running.
 */
function readLocalFile(path: string, missing: () => MintgateError): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw missing();
    if (code !== "EACCES" && code !== "EPERM") throw error;
    throw configError(`This user (uid ${process.getuid?.()}) may not read ${path}; run the command as the gateway's user (\`sudo -u\`), or pass --url and --token-file.`);
  }
}

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict" };

/** A certificate problem is not a stopped gateway: said as what it is and what to do, or the advice would be wrong. */
function certificateError(url: string, error: unknown): MintgateError | undefined {
  const failure = url.startsWith("https:") ? certificateFailureOf(error) : undefined;
  if (!failure) return undefined;
  const hostname = new URL(url).hostname;
  const sentence = {
    "self-signed": `answers with a self-signed TLS certificate this machine does not trust; point NODE_EXTRA_CA_CERTS at that certificate and try again`,
    untrusted: `answers with a TLS certificate this machine does not trust (${(error as Error).message}); point NODE_EXTRA_CA_CERTS at the CA that signed it (or the certificate itself) and try again`,
    expired: `answers with an expired TLS certificate; renew the certificate given to \`mintgate serve --tls-cert\` and restart the gateway`,
    "not-yet-valid": `answers with a TLS certificate that is not valid yet; check the clocks of this machine and the gateway's`,
    "wrong-name": `answers with a TLS certificate not issued for ${hostname}; use a --url with a name the certificate holds`,
    handshake: `fails the TLS handshake (EPROTO): it does not speak TLS there, or something in front of it asks for a client certificate, which mintgate does not send; if the gateway serves plain HTTP, use http:// in --url`,
    other: `answers with a TLS certificate this machine refused (${failure.code}); fix the gateway's certificate`,
  }[failure.kind];
  return configError(`The gateway at ${url} ${sentence}.`);
}

/** A typed client of /admin/api, used by the CLI and the TUI. */
export class AdminClient {
  constructor(private target: AdminTarget) {}

  get url(): string {
    return this.target.url;
  }

  /** The instance check running now: requests made meanwhile share it, and each later request makes its own. */
  private checking: Promise<void> | undefined;

  /**
   * The local gateway restarted (perhaps on another port, with port 0), or its admin.token was replaced
   * (`init` after a lost one): follow what the data dir says now. True when the target changed, so the
   * caller retries once.
   */
  private followRestart(): boolean {
    const next = this.target.relocate?.();
    if (!next || (next.url === this.target.url && next.instance === this.target.instance && next.token === this.target.token)) return false;
    this.target = next;
    return true;
  }

  /**
   * A gateway that crashed leaves server.url behind; another program may hold
   * the port now. Before every request, not once (a client left running, such as
   * the TUI, would send its next one to whatever took the port since), its /healthz
   * (no token needed) must show the instance id the gateway wrote and answer a fresh
   * challenge with the key written after it (a gateway older than the key shows the
   * id alone), or the admin token is not sent.
   */
  private verifyInstance(): Promise<void> {
    this.checking ??= this.checkInstance().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkInstance(): Promise<void> {
    const expected = this.target.instance;
    if (!expected) return;
    const key = this.target.instanceKey;
    const challenge = randomBytes(32).toString("base64url");
    const { health, answered } = await fetch(`${this.target.url}/healthz?challenge=${challenge}`, { signal: AbortSignal.timeout(5_000) }).then(
      async (response) => ({ health: (await response.json().catch(() => ({}))) as { instance?: string; proof?: string }, answered: true }),
      (error: unknown) => {
        const refused = certificateError(this.target.url, error);
        if (refused) throw refused;
        return { health: {} as { instance?: string; proof?: string }, answered: false };
      },
    );
    if (health?.instance === expected && (key === undefined || health.proof === instanceProof(key, challenge))) return;
    if (this.followRestart()) return this.checkInstance();
    const found = answered ? `another server answers at ${this.target.url}` : `nothing answers at ${this.target.url}`;
    throw configError(`The gateway that wrote server.url stopped or crashed (${found}); start \`mintgate serve\` again.`);
  }

  /**
   * fetch() of /admin/api<path> with the admin token, after the instance
   * check. A gateway that cannot be reached may have restarted elsewhere
   * (server.url says), and one that refuses the token may have a new one
   * (admin.token says): that one is asked instead, once.
   */
  private async fetchAdmin(path: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }, retried = false): Promise<Response> {
    await this.verifyInstance();
    let response: Response;
    try {
      response = await fetch(`${this.target.url}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${this.target.token}`, ...init.headers } });
    } catch (error) {
      const refused = certificateError(this.target.url, error);
      if (refused) throw refused;
      if (!retried && this.followRestart()) return this.fetchAdmin(path, init, true);
      // The code alone (ECONNREFUSED): Bun's message adds sentences of its own ("Unable to connect. Is the computer able to access the url?").
      const code = (error as NodeJS.ErrnoException).code;
      throw new MintgateError("upstream_failed", `Cannot reach the gateway at ${this.target.url} (${code ?? (error as Error).message}); is \`mintgate serve\` running?`);
    }
    // Refused after admin.token was replaced while the gateway ran: a TUI open since kept sending the old token.
    if (response.status === 401 && !retried && this.followRestart()) {
      await response.body?.cancel();
      return this.fetchAdmin(path, init, true);
    }
    return response;
  }

  private async request<T>(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
    const response = await this.fetchAdmin(path, {
      method: init.method ?? "GET",
      headers: { ...(init.body === undefined ? {} : { "content-type": "application/json" }), ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json().catch(() => undefined)) as { message?: unknown } | null | undefined;
    // Every admin API answer, error or not, is a JSON value (errors: an object with a message). Anything else came from
    // another server at this address (a proxy's page, another program): read as {}, it was a status of nothing, exit 0 with --json.
    if (body === undefined) throw this.notTheAdminApi(response, path);
    if (!response.ok) throw this.refusal(response, path, body);
    return body as T;
  }

  /** The error for a refused answer: the admin API's own sentence, or, when it holds none, that another server answered. */
  private refusal(response: Response, path: string, body: { message?: unknown } | null | undefined): MintgateError {
    const message = body?.message;
    if (typeof message !== "string") return this.notTheAdminApi(response, path);
    if (response.status === 401) return unauthorized(`The gateway refused the admin token: ${message}`);
    return new MintgateError(KIND_BY_STATUS[response.status] ?? "upstream_failed", message);
  }

  private notTheAdminApi(response: Response, path: string): MintgateError {
    const type = response.headers.get("content-type")?.split(";")[0] || "no content type";
    return new MintgateError(
      "upstream_failed",
      `${this.target.url} answered /admin/api${path.split("?")[0]} with HTTP ${response.status} (${type}), not mintgate's admin API; check that --url is the gateway's own address and that it runs there.`,
    );
  }

  /** GET /admin/api<path> as JSON. */
  get<T>(path: string): Promise<T> {
    return this.request<T>(path);
  }

  /**
   * POST, PUT, PATCH or DELETE /admin/api<path> with an optional JSON body; the JSON answer.
   * `expect`: the revision the change is based on (If-Match), or null for "must not exist yet"
   * (If-None-Match: *); a change someone made meanwhile is then refused with a conflict.
   */
  send<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown, options: { expect?: string | null } = {}): Promise<T> {
    const headers: Record<string, string> | undefined = options.expect === undefined ? undefined : options.expect === null ? { "if-none-match": "*" } : { "if-match": `"${options.expect}"` };
    return this.request<T>(path, { method, body, ...(headers ? { headers } : {}) });
  }

  /**
   * A Server-Sent Events stream under /admin/api (the live feed): yields
   * `open` once connected, then each event's name and data until the stream
   * ends or `signal` aborts.
   */
  async *events(path: string, signal: AbortSignal): AsyncGenerator<{ event: string; data: string }> {
    const response = await this.fetchAdmin(path, { headers: { accept: "text/event-stream" }, signal });
    if (response.status === 401) throw unauthorized("The gateway refused the admin token.");
    if (!response.ok || !response.body) throw new MintgateError("upstream_failed", `The gateway answered ${response.status} to ${path}.`);
    // The stream is open (the feed's first bytes are only a comment): readers can say they are connected.
    yield { event: "open", data: "" };
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(line[5] === " " ? 6 : 5);
        }
        if (data !== "" || event !== "message") yield { event, data };
      }
    }
  }

  /**
   * Streams GET /admin/api<path> into `write` chunk by chunk (audit exports),
   * calling `onProgress` with the bytes received so far.
   */
  async download(path: string, write: (chunk: Uint8Array) => void | Promise<void>, onProgress?: (bytes: number) => void): Promise<number> {
    const response = await this.fetchAdmin(path, {});
    if (!response.ok || !response.body) throw this.refusal(response, path, (await response.json().catch(() => undefined)) as { message?: unknown } | undefined);
    let bytes = 0;
    for await (const chunk of response.body) {
      await write(chunk);
      bytes += chunk.byteLength;
      onProgress?.(bytes);
    }
    return bytes;
  }

  status(): Promise<GatewayStatus> {
    return this.request<GatewayStatus>("/status");
  }

  virtualMcps(): Promise<VirtualMcpSummary[]> {
    return this.request<VirtualMcpSummary[]>("/virtual-mcps");
  }

  virtualMcp(slug: string): Promise<VirtualMcpStatus> {
    return this.request<VirtualMcpStatus>(`/virtual-mcps/${encodeURIComponent(slug)}`);
  }

  approveTool(slug: string, tool: string, hash: string): Promise<{ connector: string; tool: string; hash: string }> {
    return this.request(`/virtual-mcps/${encodeURIComponent(slug)}/approvals`, { method: "POST", body: { tool, hash } });
  }
}
