/** A signed-in person, as the sign-in pages need them. */
export interface SignedInPerson {
  id: string;
  email: string;
}

/** How people prove who they are: identity providers and local accounts. */
export interface SignInMethods {
  providers(): { name: string; label: string }[];
  begin(provider: string): Promise<{ url: string; pending: unknown }>;
  complete(provider: string, callbackUrl: URL, pending: unknown, ip: string | null): Promise<SignedInPerson>;
  authenticatePassword(email: string, password: string, ip: string | null): Promise<SignedInPerson>;
  /** The person if they exist, are not disabled and their account has not changed since they signed in at `signedInAt` (ms). */
  activePerson(id: string, signedInAt: number): SignedInPerson | undefined;
}
