import { existsSync, readFileSync } from "node:fs";
import { dataPaths } from "../config/index.ts";
import { configError, MintgateError, unauthorized, type ErrorKind } from "../errors/index.ts";
import type { GatewayStatus, VirtualMcpStatus } from "../admin/index.ts";

export type { GatewayStatus, VirtualMcpStatus };

/** How to reach a gateway's admin API: explicit, or found through a local data dir. */
export interface AdminTarget {
  url: string;
  token: string;
}

export function locateGateway(options: { dataDir: string; url?: string | undefined; tokenFile?: string | undefined }): AdminTarget {
  const paths = dataPaths(options.dataDir);
  let url = options.url;
  if (!url) {
    if (!existsSync(paths.serverUrl)) {
      throw configError(`No gateway is running from ${options.dataDir}; start it with \`mintgate serve\` or pass --url.`);
    }
    url = readFileSync(paths.serverUrl, "utf8").trim();
  }
  const tokenFile = options.tokenFile ?? paths.adminToken;
  if (!existsSync(tokenFile)) {
    throw configError(`The admin token file ${tokenFile} does not exist; run \`mintgate init\` or pass --token-file.`);
  }
  return { url: url.replace(/\/$/, ""), token: readFileSync(tokenFile, "utf8").trim() };
}

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict" };

/** A typed client of /admin/api, used by the CLI and the TUI. */
export class AdminClient {
  constructor(private readonly target: AdminTarget) {}

  get url(): string {
    return this.target.url;
  }

  private async request<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.target.url}/admin/api${path}`, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${this.target.token}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new MintgateError("upstream_failed", `Cannot reach the gateway at ${this.target.url} (${(error as Error).message}); is \`mintgate serve\` running?`);
    }
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    if (response.status === 401) throw unauthorized(`The gateway refused the admin token: ${body.message ?? "unauthorized"}`);
    if (!response.ok) {
      throw new MintgateError(KIND_BY_STATUS[response.status] ?? "upstream_failed", body.message ?? `The gateway answered ${response.status}.`);
    }
    return body as T;
  }

  status(): Promise<GatewayStatus> {
    return this.request<GatewayStatus>("/status");
  }

  virtualMcp(slug: string): Promise<VirtualMcpStatus> {
    return this.request<VirtualMcpStatus>(`/virtual-mcps/${encodeURIComponent(slug)}`);
  }

  approveTool(slug: string, tool: string): Promise<{ connector: string; tool: string }> {
    return this.request(`/virtual-mcps/${encodeURIComponent(slug)}/approvals`, { method: "POST", body: { tool } });
  }
}
