export {
  UserDirectory,
  SignInThrottled,
  normaliseEmail,
  hashPassword,
  MIN_PASSWORD_LENGTH,
  type Role,
  type UserRecord,
  type UserDetails,
  type UserIdentityInfo,
  type ProviderSignIn,
  type HashedPassword,
} from "./directory.ts";
export { LoginThrottle } from "./throttle.ts";
