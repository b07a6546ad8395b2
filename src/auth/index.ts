export { AccessTokenService, MissingToken, parseLifetime, type AccessTokenInfo, type Principal } from "./access-tokens.ts";
