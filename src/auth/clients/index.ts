/**
 * OAuth clients of mintgate's authorization server: Client ID Metadata
 * Documents (fetched with SSRF protection, pinned vendor copies as fallback),
 * open Dynamic Client Registration and clients added by an admin; redirect URI
 * rules; client authentication at /token and /revoke.
 */
export { ClientRegistry, isCimdClientId, type ClientRegistryOptions, type OAuthClient, type RegistrationResponse, type StaticClientInfo, type TokenEndpointAuthMethod } from "./registry.ts";
export { DEFAULT_PRIVATE_USE_SCHEMES, LOOPBACK_HOSTS, matchRedirectUri, redirectUriProblem } from "./redirect-uris.ts";
export { isPublicAddress, SafeFetcher, SafeFetchError, type SafeFetchOptions } from "./safe-fetch.ts";
export { PINNED_CLIENTS } from "./pinned.ts";
