import { Box, Text } from "ink";
import { useEffect, useState } from "react";
import { usePoll } from "../components/usePoll.ts";
import type { DiscoveryReport, ProviderInfo, ProviderKind } from "../../src/auth/sso/index.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form, type FormField } from "../components/Form.tsx";
import { Spinner } from "../components/Spinner.tsx";
import { Table } from "../components/Table.tsx";
import { counted, fit, takeColumns, wrapText } from "../components/text.ts";
import type { ScreenDefinition, ScreenProps } from "./types.ts";
import { useKeys } from "../components/useKeys.ts";
import { Problem } from "../components/Problem.tsx";
import { KeyHints } from "../components/KeyHints.tsx";

export const KINDS: { kind: ProviderKind; title: string }[] = [
  { kind: "okta", title: "Okta" },
  { kind: "google", title: "Google Workspace" },
  { kind: "entra", title: "Microsoft Entra ID" },
  { kind: "oidc", title: "Generic OpenID Connect" },
];

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const CLAIM = /^[A-Za-z0-9_:./-]{1,128}$/;
const REFRESH_MS = 10_000;

const domainsOf = (text: string) => text.split(/[\s,]+/).map((d) => d.trim().toLowerCase().replace(/^@/, "")).filter(Boolean);

function checkDomains(text: string, required: boolean): string | undefined {
  const domains = domainsOf(text);
  if (required && domains.length === 0) return "list your Workspace domains (comma-separated): without them any Google account could sign in";
  const bad = domains.find((d) => !DOMAIN.test(d));
  return bad ? `"${bad}" is not an email domain such as example.com` : undefined;
}

function checkIssuer(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return "enter the issuer URL, such as https://idp.example.com";
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname))) return "use https (plain http only on 127.0.0.1 or localhost)";
  if (url.search || url.hash) return "no query or fragment";
  return undefined;
}

/** oidc: whether the provider's emails are taken as verified when it sends no email_verified claim (the CLI's --assume-email-verified). */
const ASSUME_VERIFIED: FormField = {
  name: "assumeEmailVerified",
  label: "Trust emails",
  choices: ["no", "yes"],
  hint: (v) => (v === "yes" ? "yes: the provider sends no email_verified but verifies every address" : "no: an email counts only with email_verified: true"),
};

const optionalClaim = (v: string) => (v.trim() === "" || CLAIM.test(v.trim()) ? undefined : "letters, digits and _ : . / - only");

/** The fields a kind needs when a provider is added: okta domain (+ auth server), entra tenant, google domains, oidc issuer (+ groups claim). */
export function addFields(kind: ProviderKind, taken: string[]): FormField[] {
  const name: FormField = {
    name: "name",
    label: "Name",
    placeholder: "e.g. corp (part of the callback URL)",
    validate: (v) => (!NAME.test(v.trim()) ? "1–63 lower-case letters, digits and -, starting with a letter" : ["local", "manual"].includes(v.trim()) ? `"${v.trim()}" is reserved` : taken.includes(v.trim()) ? `a provider named "${v.trim()}" exists already` : undefined),
  };
  const specific: Record<ProviderKind, FormField[]> = {
    okta: [
      { name: "domain", label: "Okta domain", placeholder: "example.okta.com", validate: (v) => (DOMAIN.test(v.trim().replace(/^https:\/\//, "").replace(/\/$/, "")) ? undefined : "enter your Okta domain, such as example.okta.com") },
      { name: "authServer", label: "Auth server", placeholder: "optional, e.g. default", validate: (v) => (v.trim() === "" || /^[A-Za-z0-9_-]{1,64}$/.test(v.trim()) ? undefined : "an authorization server id such as default") },
      { name: "groupsClaim", label: "Groups claim", placeholder: "optional (default groups)", validate: optionalClaim },
    ],
    google: [],
    entra: [{ name: "tenant", label: "Tenant id", placeholder: "directory (tenant) GUID", validate: (v) => (GUID.test(v.trim()) ? undefined : "the directory (tenant) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47") }],
    oidc: [
      { name: "issuer", label: "Issuer URL", placeholder: "https://idp.example.com", validate: checkIssuer },
      { name: "groupsClaim", label: "Groups claim", placeholder: "optional (default groups)", validate: optionalClaim },
    ],
  };
  return [
    name,
    ...specific[kind],
    { name: "clientId", label: "Client id", validate: (v) => (v.trim() === "" ? "paste the client (application) id the provider gave mintgate" : v.trim().length > 512 ? "at most 512 characters" : undefined) },
    { name: "clientSecret", label: "Client secret", mask: true, validate: (v) => (v === "" ? "paste the client secret (it is stored in the secret store, never shown)" : undefined) },
    {
      name: "allowedDomains",
      label: "Allowed domains",
      placeholder: kind === "google" ? "required, e.g. example.com" : "optional, e.g. example.com",
      validate: (v) => checkDomains(v, kind === "google"),
    },
    { name: "label", label: "Button label", placeholder: "optional" },
    ...(kind === "oidc" ? [ASSUME_VERIFIED] : []),
  ];
}

/** What can change on an existing provider (kind, issuer, domain and tenant cannot: remove and add again). */
export function editFields(provider: ProviderInfo): FormField[] {
  return [
    { name: "clientId", label: "Client id", validate: (v) => (v.trim() === "" ? "the client id must not be empty" : v.trim().length > 512 ? "at most 512 characters" : undefined) },
    { name: "clientSecret", label: "Client secret", mask: true, placeholder: "empty: keep the stored secret" },
    ...(provider.kind === "okta" || provider.kind === "oidc" ? [{ name: "groupsClaim", label: "Groups claim", placeholder: "groups", validate: optionalClaim }] : []),
    { name: "allowedDomains", label: "Allowed domains", placeholder: provider.kind === "google" ? "required" : "optional", validate: (v) => checkDomains(v, provider.kind === "google") },
    { name: "label", label: "Button label" },
    ...(provider.kind === "oidc" ? [ASSUME_VERIFIED] : []),
  ];
}

/** A URL to copy, whole: broken at the width with nothing added (a … or ↪ in it would be copied along and break it). */
export function urlLines(url: string, width: number): string[] {
  const lines: string[] = [];
  for (let rest = url; rest !== ""; ) {
    const piece = takeColumns(rest, Math.max(1, width)) || [...rest][0]!;
    lines.push(piece);
    rest = rest.slice(piece.length);
  }
  return lines;
}

/** The discovery report as lines: what was found, or why it failed. */
export function reportLines(report: DiscoveryReport): { text: string; bad?: boolean; good?: boolean }[] {
  if (!report.ok && report.error) return [{ text: `✗ Test failed: ${report.error}`, bad: true }, ...report.warnings.map((w) => ({ text: `! ${w}` }))];
  const yesNo = (v: boolean | string | undefined) => (v === true ? "yes" : v === false ? "no" : (v ?? "-"));
  return [
    report.ok ? { text: `✓ Test passed: discovery at ${report.discoveryUrl} works`, good: true } : { text: `✗ Test failed: the provider's configuration cannot be used for sign-in`, bad: true },
    { text: `Authorization  ${report.authorizationEndpoint ?? "-"}` },
    { text: `Token          ${report.tokenEndpoint ?? "-"}` },
    { text: `JWKS           ${report.jwksUri ?? "-"} (${counted(report.jwksKeys ?? 0, "key")})` },
    { text: `PKCE S256 ${yesNo(report.pkceS256)} · refresh (offline_access) ${yesNo(report.offlineAccess)} · groups claim listed ${yesNo(report.groupsClaimAdvertised)}` },
    ...report.warnings.map((w) => ({ text: `! ${w}` })),
  ];
}

type Overlay =
  | { kind: "pick-kind"; index: number }
  | { kind: "add"; providerKind: ProviderKind }
  | { kind: "edit"; provider: ProviderInfo }
  | { kind: "confirm-remove"; provider: ProviderInfo }
  | undefined;

export function SsoScreen(props: ScreenProps) {
  const { client, width, height, setCapturing } = props;
  const [selected, setSelected] = useState(0);
  const [overlay, setOverlay] = useState<Overlay>();
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<{ ok: boolean; text: string }>();
  const [reports, setReports] = useState<Record<string, DiscoveryReport>>({});
  const { value: providers, error: loadError, reload, alive: mounted } = usePoll(() => client.get<ProviderInfo[]>("/sso-providers"), REFRESH_MS, [client]);
  useEffect(() => {
    setCapturing(overlay !== undefined);
    return () => setCapturing(false);
  }, [overlay, setCapturing]);

  const index = Math.min(selected, Math.max(0, (providers?.length ?? 0) - 1));
  const provider = providers?.[index];

  const runTest = (target: ProviderInfo) => {
    setBusy(`Testing ${target.name}: discovery at ${target.issuer}…`);
    setNotice(undefined);
    client.send<DiscoveryReport>("POST", `/sso-providers/${encodeURIComponent(target.name)}/test`).then(
      (report) => mounted.current && (setBusy(undefined), setReports((r) => ({ ...r, [target.name]: report }))),
      (error: Error) => mounted.current && (setBusy(undefined), setNotice({ ok: false, text: error.message })),
    );
  };

  useKeys(
    (input, key) => {
      if (key.upArrow || input === "k") return setSelected(Math.max(0, index - 1));
      // Never below the first row: ↓ over no providers made it -1, and the first to come was not selected (e did nothing).
      if (key.downArrow || input === "j") return setSelected(Math.max(0, Math.min((providers?.length ?? 0) - 1, index + 1)));
      if (input === "R") return void reload();
      if (!providers || busy) return;
      if (input === "n" || input === "e" || input === "t" || input === "x" || key.return) setNotice(undefined);
      if (input === "n") return setOverlay({ kind: "pick-kind", index: 0 });
      if (!provider) return;
      if (input === "e" || key.return) return setOverlay({ kind: "edit", provider });
      if (input === "t") return runTest(provider);
      if (input === "x") return setOverlay({ kind: "confirm-remove", provider });
    },
    { isActive: overlay === undefined },
  );

  useKeys(
    (input, key) => {
      if (overlay?.kind !== "pick-kind") return;
      if (key.escape) return setOverlay(undefined);
      if (key.upArrow || key.leftArrow) return setOverlay({ kind: "pick-kind", index: (overlay.index + KINDS.length - 1) % KINDS.length });
      if (key.downArrow || key.rightArrow || key.tab) return setOverlay({ kind: "pick-kind", index: (overlay.index + 1) % KINDS.length });
      const digit = Number(input);
      if (digit >= 1 && digit <= KINDS.length) return setOverlay({ kind: "add", providerKind: KINDS[digit - 1]!.kind });
      if (key.return) return setOverlay({ kind: "add", providerKind: KINDS[overlay.index]!.kind });
    },
    { isActive: overlay?.kind === "pick-kind" },
  );

  const formWidth = Math.min(width, 100);
  // Wrapped, not cut: what to do next (or what is wrong) is at the end of the sentence.
  const noticeLines = notice ? wrapText(`${notice.ok ? "✓" : "✗"} ${notice.text}`, width, 3) : [];
  let body;
  if (overlay?.kind === "pick-kind") {
    body = (
      <Box flexDirection="column" borderStyle="round" paddingX={1}>
        <Text bold>Add a sign-in provider: which kind?</Text>
        {KINDS.map((k, i) => (
          <Text key={k.kind} inverse={i === overlay.index}>
            {fit(`${i === overlay.index ? "› " : "  "}${i + 1} ${k.kind.padEnd(7)} ${k.title}`, width - 4)}
          </Text>
        ))}
        <Text dimColor>{fit("↑↓ or 1–4 choose · Enter continue · Esc cancel", width - 4)}</Text>
      </Box>
    );
  } else if (overlay?.kind === "add") {
    const kind = overlay.providerKind;
    body = (
      <Form
        title={`New ${KINDS.find((k) => k.kind === kind)!.title} provider`}
        fields={addFields(kind, (providers ?? []).map((p) => p.name))}
        width={formWidth}
        height={height - 1}
        submitLabel="add"
        onCancel={() => setOverlay(undefined)}
        onSubmit={async (v) => {
          const created = await client.send<ProviderInfo>("POST", "/sso-providers", {
            name: v.name!.trim(),
            kind,
            clientId: v.clientId!.trim(),
            clientSecret: v.clientSecret,
            ...(v.issuer?.trim() ? { issuer: v.issuer.trim() } : {}),
            ...(v.domain?.trim() ? { domain: v.domain.trim() } : {}),
            ...(v.authServer?.trim() ? { authServer: v.authServer.trim() } : {}),
            ...(v.tenant?.trim() ? { tenant: v.tenant.trim() } : {}),
            ...(v.groupsClaim?.trim() ? { groupsClaim: v.groupsClaim.trim() } : {}),
            ...(v.label?.trim() ? { label: v.label.trim() } : {}),
            ...(v.assumeEmailVerified === "yes" ? { assumeEmailVerified: true } : {}),
            allowedDomains: domainsOf(v.allowedDomains ?? ""),
          });
          if (!mounted.current) return;
          setOverlay(undefined);
          setNotice({ ok: true, text: `Added ${created.name}; register its callback URL (shown above) at the provider, then t tests it.` });
          await reload();
          setSelected(Math.max(0, (await client.get<ProviderInfo[]>("/sso-providers")).findIndex((p) => p.name === created.name)));
        }}
      />
    );
  } else if (overlay?.kind === "edit") {
    const p = overlay.provider;
    body = (
      <Box flexDirection="column">
        <Text dimColor>{fit(`${p.name} (${p.kind}) · issuer ${p.issuer} · kind and issuer cannot change: remove and add again`, width)}</Text>
        <Form
          title={`Edit ${p.name}`}
          fields={editFields(p)}
          initial={{ clientId: p.clientId, groupsClaim: p.kind === "okta" || p.kind === "oidc" ? (p.groupsClaim ?? "") : "", allowedDomains: p.allowedDomains.join(", "), label: p.label, ...(p.kind === "oidc" ? { assumeEmailVerified: p.assumeEmailVerified ? "yes" : "no" } : {}) }}
          width={formWidth}
          height={height - 2}
          onCancel={() => setOverlay(undefined)}
          onSubmit={async (v) => {
            const patch: Record<string, unknown> = { clientId: v.clientId!.trim(), allowedDomains: domainsOf(v.allowedDomains ?? ""), label: v.label ?? "" };
            if (v.clientSecret) patch.clientSecret = v.clientSecret;
            if (v.groupsClaim?.trim()) patch.groupsClaim = v.groupsClaim.trim();
            if (p.kind === "oidc") patch.assumeEmailVerified = v.assumeEmailVerified === "yes";
            await client.send<ProviderInfo>("PATCH", `/sso-providers/${encodeURIComponent(p.name)}`, patch);
            if (!mounted.current) return;
            setOverlay(undefined);
            setReports(({ [p.name]: _dropped, ...rest }) => rest);
            setNotice({ ok: true, text: `Saved ${p.name}${v.clientSecret ? " (new client secret stored)" : ""}.` });
            void reload();
          }}
        />
      </Box>
    );
  } else if (overlay?.kind === "confirm-remove") {
    const p = overlay.provider;
    body = (
      <Confirm
        message={`Remove the sign-in provider ${p.name} and its client secret? People who signed in through it stay, without its groups.`}
        onYes={() => {
          setOverlay(undefined);
          setBusy(`Removing ${p.name}…`);
          client.send("DELETE", `/sso-providers/${encodeURIComponent(p.name)}`).then(
            () => mounted.current && (setBusy(undefined), setNotice({ ok: true, text: `Removed ${p.name}.` }), void reload()),
            (error: Error) => mounted.current && (setBusy(undefined), setNotice({ ok: false, text: error.message })),
          );
        }}
        onNo={() => {
          setOverlay(undefined);
          setNotice({ ok: true, text: "Cancelled; nothing changed." });
        }}
      />
    );
  } else if (!providers) {
    body = loadError ? <Problem text={`✗ ${loadError}`} width={width} /> : <Spinner label="Loading sign-in providers…" />;
  } else {
    const wide = width >= 120;
    const report = provider ? reports[provider.name] : undefined;
    const detailLines = 6;
    const reportLinesShown = report ? reportLines(report) : [];
    const reportHeight = reportLinesShown.reduce((n, line) => n + wrapText(line.text, width, line.bad || line.text.startsWith("!") ? 3 : 1).length, 0);
    const callback = provider ? urlLines(provider.callbackUrl ?? provider.callbackPath, width) : [];
    const tableHeight = Math.max(1, Math.min(providers.length || 1, height - 5 - detailLines - reportHeight - Math.max(0, callback.length - 1) - Math.max(0, noticeLines.length - 1)));
    body = (
      <Box flexDirection="column">
        <Table
          columns={[{ title: "NAME", width: 14 }, { title: "KIND", width: 6 }, ...(wide ? [{ title: "LABEL", width: 20 }] : []), { title: "ISSUER", middle: true }, { title: "CLIENT ID", width: wide ? 28 : 14 }, { title: "DOMAINS", width: wide ? 24 : 12 }]}
          rows={providers.map((p) => [p.name, p.kind, ...(wide ? [p.label] : []), p.issuer, p.clientId, p.allowedDomains.join(", ") || "any"])}
          width={width}
          height={tableHeight}
          selected={index}
          empty="No sign-in providers yet: n adds Okta, Google, Entra ID or any OpenID Connect provider."
        />
        {provider ? (
          <Box flexDirection="column" marginTop={1}>
            <Text bold>{fit(`Callback URL for ${provider.name} (register it at the provider as the redirect URI):`, width)}</Text>
            {callback.map((line, i) => (
              <Text key={`url.${i}`}>{line}</Text>
            ))}
            {provider.callbackUrl ? null : <Text dimColor>{fit("The public URL is not known: start the gateway with --public-url to get the full URL.", width)}</Text>}
            <Text>{fit(`Groups: ${provider.groups}`, width)}</Text>
            <Text>{fit(`Client secret: stored as ${provider.clientSecretName} (never shown) · allowed domains: ${provider.allowedDomains.join(", ") || "any"}`, width)}</Text>
            {provider.kind === "oidc" ? <Text>{fit(`Emails: ${provider.assumeEmailVerified ? "taken as verified when the provider does not say (e edits)" : "must carry email_verified: true (e: trust this provider's emails)"}`, width)}</Text> : null}
            {reportLinesShown.flatMap((line, i) =>
              wrapText(line.text, width, line.bad || line.text.startsWith("!") ? 3 : 1).map((text, j) => (
                <Text key={`${i}.${j}`} color={line.bad ? "red" : line.good ? "green" : line.text.startsWith("!") ? "yellow" : undefined}>
                  {text}
                </Text>
              )),
            )}
          </Box>
        ) : null}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      {body}
      {busy ? <Spinner label={fit(busy, width - 2)} /> : notice ? noticeLines.map((line, i) => <Text key={i} color={notice.ok ? "green" : "red"}>{line}</Text>) : loadError && providers ? <Problem text={`✗ ${loadError}`} width={width} /> : null}
      {overlay ? null : <KeyHints width={width} hints={["n add", "e/Enter edit", { text: "t test discovery", short: "t test" }, "x remove", { text: "↑↓ select", optional: true }, { text: "R reload", optional: true }, { text: "? help", optional: true }]} />}
    </Box>
  );
}

export const ssoScreen: ScreenDefinition = {
  key: "i",
  title: "SSO settings",
  short: "SSO",
  help: [
    "Sign-in providers (identity providers) people use to sign in: Okta, Google, Entra ID, any OpenID Connect.",
    "↑ ↓ (or j k) select · R reload (also every 10 s).",
    "n add: choose the kind, then the fields it needs (okta: domain and optional auth server; entra: tenant id;",
    "  google: allowed domains; oidc: issuer and optional groups claim). The client secret is typed masked and",
    "  kept in the secret store; it is never shown again.",
    "e or Enter edit: client id, secret (empty keeps it), allowed domains, groups claim, label.",
    "t test: runs discovery and shows the endpoints and keys found, or why it failed.",
    "x remove (asks first). The callback URL under the list is what to register at the provider.",
  ],
  Component: SsoScreen,
};
