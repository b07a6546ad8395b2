import { UserDirectory } from "../../auth/accounts/index.ts";
import { PublicUrls } from "../../auth/public-urls.ts";
import { PROVIDER_KINDS, SsoService, type DiscoveryReport, type ProviderInfo, type ProviderKind, type ProviderPatch } from "../../auth/sso/index.ts";
import { loadSettings } from "../../config/index.ts";
import { invalid } from "../../errors/index.ts";
import type { DataDir } from "../../runtime/index.ts";
import { counted, printable } from "../../terminal/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, stringValue, type Command, type ParsedArgs, commandGroup } from "../command.ts";
import { checkInDataDir, DATA_HELP, withDataDir } from "../data-dir.ts";
import { readSecretValue } from "../prompt.ts";

const PUBLIC_URL_OPTION = { "public-url": { type: "string" as const } };
const PUBLIC_URL_HELP = { "--public-url URL": "the gateway's public URL, to print full callback URLs (env MINTGATE_PUBLIC_URL)" };

function service(dir: DataDir, parsed: ParsedArgs): SsoService {
  const publicUrl = loadSettings({ data: stringValue(parsed, "data"), "public-url": stringValue(parsed, "public-url") }).publicUrl;
  return new SsoService({ store: dir.store, secrets: dir.secrets, users: new UserDirectory(dir.store), urls: publicUrl ? new PublicUrls(publicUrl) : undefined });
}

/** The provider settings both `sso add` and `sso update` take. */
const PROVIDER_OPTIONS = {
  ...DATA_OPTION,
  ...JSON_OPTION,
  ...PUBLIC_URL_OPTION,
  "client-id": { type: "string" as const },
  "allowed-domains": { type: "string" as const },
  "groups-claim": { type: "string" as const },
  label: { type: "string" as const },
  "assume-email-verified": { type: "string" as const },
};
const PROVIDER_TAIL_HELP = { "--label TEXT": "the button text on the sign-in page", ...PUBLIC_URL_HELP, ...DATA_HELP, "--json": "print the provider as JSON" };

const ASSUME_EMAIL_VERIFIED_HELP = {
  "--assume-email-verified yes|no": "oidc: the provider sends no email_verified claim but gives out only addresses it has verified; without yes, its people are refused",
};

/** `--assume-email-verified yes|no` as a boolean, undefined when absent. */
function assumeEmailVerifiedOf(parsed: ParsedArgs): boolean | undefined {
  const value = stringValue(parsed, "assume-email-verified")?.trim().toLowerCase();
  if (value === undefined) return undefined;
  if (value === "yes" || value === "true") return true;
  if (value === "no" || value === "false") return false;
  throw invalid(`--assume-email-verified takes yes or no, not "${value}".`);
}

const domainsOf = (parsed: ParsedArgs) => stringValue(parsed, "allowed-domains")?.split(",").map((d) => d.trim()).filter(Boolean);

function describe(p: ProviderInfo): string {
  return [
    `${p.name} (${p.kind}, shown as "${p.label}")`,
    `  issuer:          ${p.issuer}`,
    `  client id:       ${p.clientId}`,
    `  client secret:   in the secret store as ${p.clientSecretName}`,
    `  allowed domains: ${p.allowedDomains.join(", ") || "any"}`,
    ...(p.kind === "oidc" ? [`  emails:          ${p.assumeEmailVerified ? "taken as verified when the provider does not say (--assume-email-verified yes)" : "must carry email_verified: true"}`] : []),
    `  groups:          ${p.groups}`,
    `  callback URL:    ${p.callbackUrl ?? `<public URL>${p.callbackPath}  (pass --public-url to see it in full)`}`,
  ].join("\n");
}

/** The option that says where a provider of each kind is (google needs none). */
const LOCATION_OPTIONS: Record<string, ProviderKind> = { issuer: "oidc", domain: "okta", "auth-server": "okta", tenant: "entra" };

const addCommand: Command = {
  name: "sso add",
  summary: "Add a sign-in provider (Okta, Google, Entra ID or any OIDC provider); the client secret is read from standard input.",
  usage:
    "mintgate sso add NAME --kind okta|google|entra|oidc [--issuer URL | --domain DOMAIN [--auth-server ID] | --tenant ID] --client-id ID [--allowed-domains a.com,b.com] [--groups-claim CLAIM] [--assume-email-verified yes|no] [--label TEXT] [--public-url URL] [--data DIR] [--json]",
  args: ["NAME"],
  options: {
    ...PROVIDER_OPTIONS,
    kind: { type: "string" },
    issuer: { type: "string" },
    domain: { type: "string" },
    "auth-server": { type: "string" },
    tenant: { type: "string" },
  },
  optionHelp: {
    "--kind KIND": "okta, google, entra or oidc (required)",
    "--issuer URL": "oidc: the provider's issuer URL",
    "--domain DOMAIN": "okta: your Okta domain, such as example.okta.com",
    "--auth-server ID": "okta: a custom authorization server id, such as default",
    "--tenant ID": "entra: the directory (tenant) id, a GUID",
    "--client-id ID": "the client (application) id the provider gave mintgate (required)",
    "--allowed-domains LIST": "comma-separated email domains allowed to sign in (required for google)",
    "--groups-claim CLAIM": "okta/oidc: the ID token claim with the groups (default groups)",
    ...ASSUME_EMAIL_VERIFIED_HELP,
    ...PROVIDER_TAIL_HELP,
  },
  details:
    "NAME becomes part of the callback URL <public URL>/sso/callback/NAME: register that URL at the provider.\nThe client secret is read from standard input (never a flag) and kept in the encrypted secret store.\nGoogle: groups from the Directory API are not supported yet; the ID token's hd claim is checked against --allowed-domains.",
  async run(parsed) {
    const [name] = parsed.positionals;
    const kind = stringValue(parsed, "kind");
    if (!kind) throw invalid(`\`mintgate sso add\` needs --kind: one of ${PROVIDER_KINDS.join(", ")}.`);
    if (!PROVIDER_KINDS.includes(kind as ProviderKind)) throw invalid(`--kind must be ${PROVIDER_KINDS.slice(0, -1).join(", ")} or ${PROVIDER_KINDS.at(-1)}, not "${kind}".`);
    // Each kind is located by its own option; another kind's would be dropped without a word (--domain on an oidc provider).
    for (const [option, owner] of Object.entries(LOCATION_OPTIONS)) {
      if (owner !== kind && stringValue(parsed, option) !== undefined) throw invalid(`--${option} applies to ${owner} providers only; leave it out for --kind ${kind}.`);
    }
    const clientId = stringValue(parsed, "client-id");
    if (!clientId) throw invalid("`mintgate sso add` needs --client-id: the client (application) id the provider gave mintgate.");
    const provider = {
      name: name!,
      kind: kind as ProviderKind,
      issuer: stringValue(parsed, "issuer"),
      domain: stringValue(parsed, "domain"),
      authServer: stringValue(parsed, "auth-server"),
      tenant: stringValue(parsed, "tenant"),
      clientId,
      allowedDomains: domainsOf(parsed),
      groupsClaim: stringValue(parsed, "groups-claim"),
      label: stringValue(parsed, "label"),
      assumeEmailVerified: assumeEmailVerifiedOf(parsed),
    };
    checkInDataDir(parsed, (dir) => service(dir, parsed).checkNew(provider));
    const secret = (await readSecretValue(`Client secret for ${name}: `)).split(/\r?\n/)[0] ?? "";
    if (!secret) throw invalid(`No client secret given: pipe it on standard input, for example \`printf '%s\\n' "$SECRET" | mintgate sso add ${name} …\`.`);
    const info = await withDataDir(parsed, (dir) => service(dir, parsed).add({ ...provider, clientSecret: secret }));
    if (parsed.values.json) printJson(info);
    else process.stdout.write(`Added sign-in provider ${info.name}.\n${describe(info)}\nCheck it with \`mintgate sso test ${info.name}\`.\n`);
    return 0;
  },
};

const listCommand: Command = {
  name: "sso list",
  summary: "List sign-in providers with the callback URL to register at each (never their secrets).",
  usage: "mintgate sso list [--public-url URL] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, ...PUBLIC_URL_OPTION },
  optionHelp: { ...PUBLIC_URL_HELP, ...DATA_HELP, "--json": "print the list as JSON" },
  async run(parsed) {
    const list = await withDataDir(parsed, (dir) => service(dir, parsed).list());
    if (parsed.values.json) printJson(list);
    else if (list.length === 0) process.stdout.write("No sign-in providers yet; add one with `mintgate sso add NAME --kind …`. People can still sign in with local accounts (`mintgate users add`).\n");
    else process.stdout.write(list.map(describe).join("\n\n") + "\n");
    return 0;
  },
};

function describeReport(r: DiscoveryReport): string {
  if (!r.ok && r.error) return `${r.provider}: FAILED. ${r.error}\n`;
  const yes = (v: boolean | string | undefined) => (v === true ? "yes" : v === false ? "no" : (v ?? "unknown"));
  return [
    `${r.provider}: ${r.ok ? "OK" : "PROBLEMS"} (${r.kind})`,
    `  issuer:                 ${r.issuer}`,
    `  authorization endpoint: ${r.authorizationEndpoint ?? "missing"}`,
    `  token endpoint:         ${r.tokenEndpoint ?? "missing"}`,
    `  JWKS:                   ${r.jwksUri ?? "missing"}${r.jwksKeys !== undefined ? ` (${counted(r.jwksKeys, "key")})` : ""}`,
    `  PKCE S256:              ${yes(r.pkceS256)}`,
    `  refresh tokens:         ${r.kind === "google" ? "access_type=offline" : yes(r.offlineAccess)}`,
    `  scopes:                 ${r.scopesSupported?.join(" ") ?? "not advertised"}`,
    `  groups:                 ${r.groups}${r.groupsClaimAdvertised === true ? " (advertised)" : ""}`,
    ...r.warnings.map((w) => `  note: ${w}`),
    "  (the client secret is checked only at the first sign-in)",
  ].join("\n") + "\n";
}

const testCommand: Command = {
  name: "sso test",
  summary: "Run OpenID discovery for a provider and report what it offers, or why it fails.",
  usage: "mintgate sso test NAME [--data DIR] [--json]",
  args: ["NAME"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": "print the report as JSON" },
  async run(parsed) {
    const [name] = parsed.positionals;
    const report = await withDataDir(parsed, (dir) => service(dir, parsed).test(name!));
    if (parsed.values.json) printJson(report);
    else process.stdout.write(describeReport(report));
    // The reason is in the report just printed (JSON too); stderr says that the test failed and what to do next.
    if (!report.ok) process.stderr.write(`mintgate: the provider ${printable(name!)} is not usable yet; fix what the report on stdout names and run the test again.\n`);
    return report.ok ? 0 : 1;
  },
};

const updateCommand: Command = {
  name: "sso update",
  summary: "Change a sign-in provider's client id, client secret, allowed domains, groups claim, email trust or label; its people keep their accounts.",
  usage: "mintgate sso update NAME [--client-id ID] [--rotate-secret] [--allowed-domains a.com,b.com] [--groups-claim CLAIM] [--assume-email-verified yes|no] [--label TEXT] [--data DIR] [--json]",
  args: ["NAME"],
  options: { ...PROVIDER_OPTIONS, "rotate-secret": { type: "boolean" } },
  optionHelp: {
    "--client-id ID": "a new client (application) id",
    "--rotate-secret": "read a new client secret from standard input (e.g. before the old one expires)",
    "--allowed-domains LIST": "comma-separated email domains allowed to sign in (replaces the list; google needs one or more)",
    "--groups-claim CLAIM": "okta/oidc: the ID token claim with the groups",
    ...ASSUME_EMAIL_VERIFIED_HELP,
    ...PROVIDER_TAIL_HELP,
  },
  details: "Only what you give changes. The kind and issuer cannot change: remove the provider and add it again.\nA running gateway uses the change at the next sign-in.",
  async run(parsed) {
    const [name] = parsed.positionals;
    const patch: ProviderPatch = {
      clientId: stringValue(parsed, "client-id"),
      allowedDomains: domainsOf(parsed),
      groupsClaim: stringValue(parsed, "groups-claim"),
      label: stringValue(parsed, "label"),
      assumeEmailVerified: assumeEmailVerifiedOf(parsed),
    };
    const rotateSecret = parsed.values["rotate-secret"] === true;
    if (!rotateSecret && Object.values(patch).every((value) => value === undefined)) {
      throw invalid("Nothing to change: give --client-id, --rotate-secret, --allowed-domains, --groups-claim, --assume-email-verified or --label.");
    }
    if (rotateSecret) {
      checkInDataDir(parsed, (dir) => service(dir, parsed).checkChange(name!, patch));
      patch.clientSecret = (await readSecretValue(`New client secret for ${name}: `)).split(/\r?\n/)[0] ?? "";
      if (!patch.clientSecret) throw invalid(`No client secret given: pipe it on standard input, for example \`printf '%s\\n' "$SECRET" | mintgate sso update ${name} --rotate-secret\`.`);
    }
    const info = await withDataDir(parsed, (dir) => service(dir, parsed).update(name!, patch));
    if (parsed.values.json) printJson(info);
    else process.stdout.write(`Updated sign-in provider ${info.name}${patch.clientSecret ? " (new client secret stored)" : ""}.\n${describe(info)}\n`);
    return 0;
  },
};

const removeCommand: Command = {
  name: "sso remove",
  summary: "Remove a sign-in provider and its client secret; its people stay, without the groups it gave them, and sign in as new people if it is added again.",
  usage: "mintgate sso remove NAME [--data DIR] [--json]",
  args: ["NAME"],
  options: { ...DATA_OPTION, ...JSON_OPTION },
  optionHelp: { ...DATA_HELP, "--json": 'print {"removed": NAME} as JSON' },
  async run(parsed) {
    const [name] = parsed.positionals;
    await withDataDir(parsed, (dir) => service(dir, parsed).remove(name!));
    if (parsed.values.json) printJson({ removed: name });
    else process.stdout.write(`Removed sign-in provider ${name}.\n`);
    return 0;
  },
};

export const ssoSubcommands = [addCommand, listCommand, updateCommand, testCommand, removeCommand];

export const ssoCommand = commandGroup("sso", "Manage sign-in providers (Okta, Google, Entra ID, OIDC) people sign in through.", ssoSubcommands);
