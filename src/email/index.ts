/**
 * People's emails as mintgate keeps and compares them. An email is a person's
 * identity everywhere (accounts, SSO identities, tokens, policies, groups, the
 * audit trail), so it is put in one form where it enters, and compared as is
 * after that: the per-call policy decision does no case or Unicode work.
 */

/**
 * The one form of an email: trimmed, lower-case, and Unicode NFC, so that
 * "josé" typed with a precomposed é (U+00E9) and the same name sent by an SSO
 * provider or a Mac keyboard as e + U+0301 are one person. NFC after
 * lower-casing: lower-casing can leave a letter and its accent apart.
 */
export function canonicalEmail(email: string): string {
  return email.trim().toLowerCase().normalize("NFC");
}
