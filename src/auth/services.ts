import type { SecretStore } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";
import type { AccessTokenService } from "./access-tokens.ts";
import { UserDirectory } from "./accounts/index.ts";
import { AuthorizationServer } from "./authorization-server.ts";
import { ClientRegistry, DEFAULT_PRIVATE_USE_SCHEMES } from "./clients/index.ts";
import { AuthEvents } from "./events.ts";
import { OAuthGrants } from "./grants.ts";
import { PublicUrls } from "./public-urls.ts";
import { SignInFlows } from "./sign-in-flow.ts";
import type { SignInMethods } from "./sign-in-methods.ts";
import { SsoService } from "./sso/index.ts";

export interface AuthServices {
  urls: PublicUrls;
  events: AuthEvents;
  flows: SignInFlows;
  users: UserDirectory;
  sso: SsoService;
  clients: ClientRegistry;
  grants: OAuthGrants;
  authorization: AuthorizationServer;
  signIn: SignInMethods;
}

/**
 * Everything sign-in needs in a running gateway, wired together: people and
 * SSO, OAuth clients, the authorization server and its browser flows. Every
 * revocation in this process clears the bearer-token cache of `tokens`, so a
 * revoked token or a disabled person is refused on the next request.
 */
export function createAuthServices(options: {
  store: Store;
  secrets: SecretStore;
  tokens: AccessTokenService;
  publicUrl: string | undefined;
  accessTokenTtlMs: number;
  redirectSchemes: readonly string[];
  /** A provider changed someone's groups in this process: access policies must see the new ones (the gateway's `accessChanged`). */
  onGroupsChanged?: (() => void) | undefined;
}): AuthServices {
  const { store, secrets, tokens } = options;
  const urls = new PublicUrls(options.publicUrl);
  const events = new AuthEvents(store);
  const flows = new SignInFlows();
  const forgetVerified = () => tokens.forgetVerified();
  const users = new UserDirectory(store, {
    events,
    onSignInsEnded: (userId) => {
      forgetVerified();
      flows.endSessionsOf(userId);
    },
    onGroupsChanged: options.onGroupsChanged,
  });
  const sso = new SsoService({ store, secrets, users, urls, events });
  const clients = new ClientRegistry({ store, events, privateUseSchemes: [...DEFAULT_PRIVATE_USE_SCHEMES, ...options.redirectSchemes] });
  const grants = new OAuthGrants({ store, events, onRevoked: forgetVerified });
  const authorization = new AuthorizationServer({
    store,
    clients,
    grants,
    urls,
    events,
    accessTokenTtlMs: options.accessTokenTtlMs,
    onRevoked: forgetVerified,
    // Each refresh re-reads the person's groups from their provider; a provider that ended their session ends this one.
    refreshGroups: async (userId) => {
      const ended = (await sso.refreshGroups(userId)).find((result) => !result.ok && result.revoked);
      if (ended && !ended.ok) throw new Error(`${ended.provider}: ${ended.reason}`);
    },
  });
  const signIn: SignInMethods = {
    providers: () => sso.providers(),
    begin: (provider) => sso.begin(provider),
    complete: (provider, callbackUrl, pending, ip) => sso.complete(provider, callbackUrl, pending, ip),
    authenticatePassword: (email, password, ip) => users.authenticatePassword(email, password, ip),
    activePerson: (id, signedInAt) => users.activeSince(id, signedInAt),
  };
  return { urls, events, flows, users, sso, clients, grants, authorization, signIn };
}
