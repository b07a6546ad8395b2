/** Which of a Virtual MCP's endpoints: Streamable HTTP (/mcp) or the legacy HTTP+SSE pair (/sse, /messages). */
export type McpEndpointKind = "streamable" | "legacy";

/**
 * The URLs AI clients see: the issuer, each Virtual MCP's resource and their
 * metadata documents. They come from --public-url, or from the listen address
 * once the server knows its port, so the base is set after listening.
 */
export class PublicUrls {
  private baseUrl: string | undefined;

  constructor(configured: string | undefined) {
    this.baseUrl = configured;
  }

  /** Sets the base when none was configured (the listen URL, known after start). */
  useListenUrlIfUnset(listenUrl: string): void {
    this.baseUrl ??= listenUrl.replace(/\/$/, "");
  }

  /** The public URL without a trailing slash, e.g. `https://mcp.example.com`. */
  get base(): string {
    if (this.baseUrl === undefined) throw new Error("The public URL is not known before the server listens.");
    return this.baseUrl;
  }

  /** The issuer: the bare origin, no path and no trailing slash (checklist §3). */
  get issuer(): string {
    return new URL(this.base).origin;
  }

  /** Whether the public URL is https (cookies then get `Secure` and the `__Host-` prefix). */
  get secure(): boolean {
    return this.base.startsWith("https:");
  }

  /** The protected resource a Virtual MCP is: byte-equal to the URL people type. */
  resource(slug: string): string {
    return `${this.base}/mcp/${encodeURIComponent(slug)}`;
  }

  /**
   * The legacy HTTP+SSE endpoint of a Virtual MCP, as a protected resource of
   * its own: clients given this URL accept metadata only when its `resource`
   * is this URL (RFC 9728 §3.3; the SDK checks it). Tokens for it and for
   * `resource(slug)` are tokens for the same Virtual MCP.
   */
  legacyResource(slug: string): string {
    return `${this.base}/sse/${encodeURIComponent(slug)}`;
  }

  /** RFC 9728 path-suffixed metadata URL of a Virtual MCP (of its legacy HTTP+SSE endpoint with `legacy`). */
  resourceMetadata(slug: string, endpoint: McpEndpointKind = "streamable"): string {
    const path = new URL(endpoint === "legacy" ? this.legacyResource(slug) : this.resource(slug)).pathname;
    return `${this.issuer}/.well-known/oauth-protected-resource${path}`;
  }

  /** The page an IdP redirects back to after sign-in. */
  ssoCallback(provider: string): string {
    return `${this.issuer}/sso/callback/${encodeURIComponent(provider)}`;
  }

  /** Absolute URL of a path on the issuer's origin. */
  at(path: string): string {
    return `${this.issuer}${path}`;
  }
}
