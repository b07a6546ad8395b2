export { AccessTokenService, MissingToken, ownerOf, parseLifetime, type AccessTokenInfo, type Principal } from "./access-tokens.ts";
export {
  AuthorizationServer,
  AuthorizationRedirectError,
  BASELINE_SCOPE,
  SUPPORTED_SCOPES,
  grantedScope,
  isTargeted,
  issuesRefreshTokens,
  type AuthorizationClient,
  type AuthorizationRequest,
  type ClientLookup,
  type GroupRefresher,
  type TargetedAuthorizationRequest,
  type VirtualMcpAudience,
} from "./authorization-server.ts";
export { OAuthGrants, type ConsentInfo, type GrantInfo } from "./grants.ts";
export { sweepAuthRows, type AuthSweepReport } from "./housekeeping.ts";
export { AUTH_EVENT_TYPES, AuthEvents, type AuthEvent, type AuthEventType } from "./events.ts";
export { OAuthError, wireDescription, type OAuthErrorCode } from "./oauth-error.ts";
export { PublicUrls, type McpEndpointKind } from "./public-urls.ts";
export { SIGN_OUT_FORM, SignInFlows } from "./sign-in-flow.ts";
export { WindowLimiter } from "./rate-limit.ts";
export type { SignedInPerson, SignInMethods } from "./sign-in-methods.ts";
export { createAuthServices, type AuthServices } from "./services.ts";
