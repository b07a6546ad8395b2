export {
  UserDirectory,
  SignInThrottled,
  normaliseEmail,
  MIN_PASSWORD_LENGTH,
  type Role,
  type UserRecord,
  type UserDetails,
  type UserIdentityInfo,
  type ProviderSignIn,
} from "./directory.ts";
export { LoginThrottle } from "./throttle.ts";
