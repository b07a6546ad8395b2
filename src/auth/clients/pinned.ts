/**
 * Pinned copies of the big vendors' Client ID Metadata Documents, shipped in
 * the binary. They are used only when fetching the live document fails: from
 * datacenter addresses claude.ai often answers the fetch with a bot challenge
 * (checklist §4.1, rule 15). A successful fetch always wins.
 *
 * Contents as documented in ../shared/reference/mcp-auth-checklist.md §4.1 and §10.
 */

export interface PinnedClient {
  document: Record<string, unknown>;
  /** Redirect URIs allowed by prefix (one path segment after it), beside the exact ones. */
  redirectUriPrefixes?: string[];
  /** Token endpoint auth methods accepted beside the document's own. */
  alsoAcceptedAuthMethods?: string[];
}

const CLAUDE = "https://claude.ai/oauth/mcp-oauth-client-metadata";
const CLAUDE_CODE = "https://claude.ai/oauth/claude-code-client-metadata";
const CHATGPT = "https://chatgpt.com/oauth/client.json";
const VSCODE = "https://vscode.dev/oauth/client-metadata.json";

export const PINNED_CLIENTS: Readonly<Record<string, PinnedClient>> = {
  [CLAUDE]: {
    document: {
      client_id: CLAUDE,
      client_name: "Claude",
      client_uri: "https://claude.ai",
      redirect_uris: ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    },
  },
  [CLAUDE_CODE]: {
    document: {
      client_id: CLAUDE_CODE,
      client_name: "Claude Code",
      client_uri: "https://claude.ai",
      redirect_uris: ["http://localhost/callback", "http://127.0.0.1/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    },
  },
  [CHATGPT]: {
    document: {
      client_id: CHATGPT,
      client_name: "ChatGPT",
      client_uri: "https://chatgpt.com/",
      redirect_uris: ["https://chatgpt.com/connector_platform_oauth_redirect"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_signing_alg: "RS256",
      jwks_uri: "https://chatgpt.com/oauth/jwks.json",
    },
    // One callback per connector, not known in advance (checklist §10, ChatGPT).
    redirectUriPrefixes: ["https://chatgpt.com/connector/oauth/"],
    // ChatGPT falls back to a public client when private_key_jwt is not possible.
    alsoAcceptedAuthMethods: ["none"],
  },
  [VSCODE]: {
    document: {
      client_id: VSCODE,
      client_name: "Visual Studio Code",
      client_uri: "https://code.visualstudio.com",
      redirect_uris: ["http://127.0.0.1:33418/", "http://127.0.0.1/", "https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    },
  },
};
