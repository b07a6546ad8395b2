import { Box, Text } from "ink";
import { useEffect, useRef, useState } from "react";
import { usePoll } from "../components/usePoll.ts";
import type { AccessTokenInfo } from "../../src/auth/access-tokens.ts";
import type { UserDetails } from "../../src/auth/accounts/index.ts";
import type { ConsentInfo, GrantInfo } from "../../src/auth/grants.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form, type FormField } from "../components/Form.tsx";
import { Spinner } from "../components/Spinner.tsx";
import { Table, type Column } from "../components/Table.tsx";
import { counted, fit, formatTime, wrapText } from "../components/text.ts";
import type { ScreenDefinition, ScreenProps } from "./types.ts";
import { useKeys } from "../components/useKeys.ts";
import { Problem, problemExtraLines } from "../components/Problem.tsx";
import { KeyHints, type KeyHint } from "../components/KeyHints.tsx";
import { FilterLine, filterLines, filtered, useListFilter, type ListFilter } from "../components/ListFilter.tsx";
import { MOVE_HINT, movedSelection } from "../components/listKeys.ts";
import { listText } from "./virtual-mcps/model.ts";

/** Everything the screen shows, loaded together from the admin API. */
export interface PeopleData {
  users: UserDetails[];
  tokens: AccessTokenInfo[];
  consents: ConsentInfo[];
  grants: GrantInfo[];
  /** OAuth client names by id, to show names rather than ids. */
  clients: Record<string, string>;
}

const TABS = ["people", "tokens", "consents", "sign-ins"] as const;
type Tab = (typeof TABS)[number];
const TAB_TITLES: Record<Tab, string> = { people: "People", tokens: "Access tokens", consents: "OAuth consents", "sign-ins": "OAuth sign-ins" };
/** The rows of each list, as its filter leaves them: what the table shows and what the keys act on. */
type Lists = { people: UserDetails[]; tokens: AccessTokenInfo[]; consents: ConsentInfo[]; "sign-ins": GrantInfo[] };
const FILTER_WORDS: Record<Tab, string> = { people: "email, name, role, state, group or sign-in words", tokens: "id, person, virtual MCP or state words", consents: "person, client or scope words", "sign-ins": "person, client, virtual MCP or state words" };
const REFRESH_MS = 5000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LIFETIME = /^\d+[smhd]$/;
export const MIN_PASSWORD_LENGTH = 12;

type Overlay =
  | { kind: "confirm"; message: string; busy: string; run: () => Promise<string> }
  // The person a form acts for, fixed when it opens: the list polls, and a person who appeared above moved another under the selection.
  | { kind: "form"; which: "add-person" | "add-group" | "create-token"; person?: UserDetails | undefined }
  | { kind: "pick-group"; person: UserDetails; groups: string[]; index: number }
  | { kind: "token"; token: string; subject: string; warnings: string[] }
  | undefined;

/** A token's state in words; a disabled person's tokens are refused ("blocked") until they are enabled. */
const tokenState = (t: AccessTokenInfo, users?: UserDetails[]) =>
  t.revokedAt ? "revoked" : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? "expired" : users?.some((u) => u.email === t.subject && u.disabled) ? "blocked" : "active";
const via = (u: UserDetails) => u.identities.map((i) => i.provider).join(", ") || "-";
const manualGroups = (u: UserDetails) => [...new Set(u.groupSources.filter((g) => g.source === "manual").map((g) => g.group))].sort();

export async function loadPeople(client: ScreenProps["client"]): Promise<PeopleData> {
  const [users, tokens, consents, grants, clients] = await Promise.all([
    client.get<UserDetails[]>("/users"),
    client.get<AccessTokenInfo[]>("/tokens"),
    client.get<ConsentInfo[]>("/consents"),
    client.get<GrantInfo[]>("/oauth-grants"),
    client.get<{ clientId: string; name: string }[]>("/clients").catch(() => []),
  ]);
  return { users, tokens, consents, grants, clients: Object.fromEntries(clients.map((c) => [c.clientId, c.name])) };
}

/** A person's details: groups with where they came from, sign-in identities, tokens and sign-ins. */
function PersonDetails(props: { person: UserDetails; data: PeopleData; width: number; height: number }) {
  const { person: p, data, width } = props;
  const tokens = data.tokens.filter((t) => t.subject === p.email);
  const grants = data.grants.filter((g) => g.userId === p.id);
  const consents = data.consents.filter((c) => c.userId === p.id);
  const lines: string[] = [
    `${p.email}${p.name ? ` (${p.name})` : ""}`,
    `Id ${p.id}`,
    `Role ${p.role} · ${p.disabled ? `DISABLED since ${formatTime(p.disabledAt ?? "")}` : "active"} · password ${p.hasPassword ? "set" : "none"} · since ${formatTime(p.createdAt)}`,
    `Groups: ${p.groupSources.length ? p.groupSources.map((g) => `${g.group} (${g.source})`).join(", ") : "none"}`,
    ...p.identities.map((i) => `Signs in via ${i.provider} as ${i.subject} · last ${i.lastSignInAt ? formatTime(i.lastSignInAt) : "never"}`),
    `Access tokens: ${tokens.filter((t) => tokenState(t, data.users) === "active").length} active of ${tokens.length}`,
    ...tokens.slice(0, 3).map((t) => `  ${t.id.slice(0, 8)} ${t.virtualMcp ?? "every Virtual MCP"} · ${tokenState(t, data.users)} · last used ${t.lastUsedAt ? formatTime(t.lastUsedAt) : "never"}`),
    `OAuth consents: ${consents.length ? consents.map((c) => data.clients[c.clientId] ?? c.clientId).join(", ") : "none"}`,
    `OAuth sign-ins: ${grants.filter((g) => !g.revokedAt).length} active of ${grants.length}`,
  ];
  return (
    <Box flexDirection="column">
      {lines.slice(0, Math.max(1, props.height)).map((line, i) => (
        <Text key={i} bold={i === 0}>
          {fit(line, width)}
        </Text>
      ))}
    </Box>
  );
}

export function PeopleScreen(props: ScreenProps) {
  const { client, width, height, setCapturing } = props;
  const [tab, setTab] = useState<Tab>("people");
  const [selected, setSelected] = useState<Record<Tab, number>>({ people: 0, tokens: 0, consents: 0, "sign-ins": 0 });
  const [details, setDetails] = useState(false);
  const [overlay, setOverlay] = useState<Overlay>();
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<{ ok: boolean; text: string }>();
  // Rows the table shows, from the last render: a page for PgUp PgDn.
  const page = useRef(1);
  const { value: data, error: loadError, reload, alive: mounted } = usePoll(() => loadPeople(client), REFRESH_MS, [client]);
  // Each list keeps its own filter (a new text selects its first row): Tab back to the tokens finds them as filtered.
  const firstRowOf = (t: Tab) => () => setSelected((s) => ({ ...s, [t]: 0 }));
  const filters: Record<Tab, ListFilter> = {
    people: useListFilter(firstRowOf("people")),
    tokens: useListFilter(firstRowOf("tokens")),
    consents: useListFilter(firstRowOf("consents")),
    "sign-ins": useListFilter(firstRowOf("sign-ins")),
  };
  const filter = filters[tab];
  useEffect(() => {
    setCapturing(overlay !== undefined || filter.editing);
    return () => setCapturing(false);
  }, [overlay, filter.editing, setCapturing]);

  const clientName = (id: string) => data?.clients[id] ?? id;
  const all: Lists | undefined = data && { people: data.users, tokens: data.tokens, consents: data.consents, "sign-ins": data.grants };
  const lists: Lists | undefined = data && {
    people: filtered(data.users, filters.people.text, (u) => [u.email, u.name ?? "", u.role, u.disabled ? "disabled" : "active", listText(u.groups), via(u)]),
    tokens: filtered(data.tokens, filters.tokens.text, (t) => [t.id.slice(0, 8), t.subject, t.virtualMcp ?? "*", tokenState(t, data.users)]),
    consents: filtered(data.consents, filters.consents.text, (c) => [c.email, clientName(c.clientId), c.scope]),
    "sign-ins": filtered(data.grants, filters["sign-ins"].text, (g) => [g.email, clientName(g.clientId), g.virtualMcp, g.revokedAt ? "revoked" : "active"]),
  };
  const rowsOf = (t: Tab): number => lists?.[t].length ?? 0;
  const index = Math.min(selected[tab], Math.max(0, rowsOf(tab) - 1));
  const person = tab === "people" ? lists?.people[index] : undefined;
  /** The person last selected in the People list (as filtered): new tokens are for them unless changed. */
  const lastPerson = lists?.people[Math.min(selected.people, Math.max(0, rowsOf("people") - 1))];

  /** Runs a change in the background: spinner meanwhile, then the outcome in words and a reload. */
  const act = (label: string, run: () => Promise<string>) => {
    setBusy(label);
    setNotice(undefined);
    run().then(
      (text) => mounted.current && (setBusy(undefined), setNotice({ ok: true, text })),
      (error: Error) => mounted.current && (setBusy(undefined), setNotice({ ok: false, text: error.message })),
    ).finally(() => void reload());
  };
  const confirm = (message: string, label: string, run: () => Promise<string>) => setOverlay({ kind: "confirm", message, busy: label, run });
  const userPath = (u: UserDetails) => `/users/${encodeURIComponent(u.id)}`;

  useKeys(
    (input, key) => {
      if (key.tab || key.rightArrow || key.leftArrow) {
        const step = key.leftArrow || (key.tab && key.shift) ? TABS.length - 1 : 1;
        setTab((t) => TABS[(TABS.indexOf(t) + step) % TABS.length]!);
        setDetails(false);
        return;
      }
      // Over the list only: a person's details stay theirs (a new filter would select another row under them).
      if (!details && filter.takes(input, key)) return;
      const to = movedSelection(input, key, index, rowsOf(tab), page.current);
      if (to !== undefined) return setSelected((s) => ({ ...s, [tab]: to }));
      if (key.escape) return setDetails(false);
      if (input === "R") return void reload();
      if (!data || busy) return;
      setNotice(undefined);
      if (tab === "people") {
        if (input === "n") return setOverlay({ kind: "form", which: "add-person" });
        if (!person) return;
        if (key.return) return setDetails((d) => !d);
        if (input === "d") {
          return person.disabled
            ? confirm(`Enable ${person.email}? They can sign in and use their tokens again.`, `Enabling ${person.email}…`, () => client.send("POST", `${userPath(person)}/enable`).then(() => `Enabled ${person.email}: state active.`))
            : confirm(`Disable ${person.email}? They are signed out and their tokens stop working at once.`, `Disabling ${person.email}…`, () => client.send("POST", `${userPath(person)}/disable`).then(() => `Disabled ${person.email}: state disabled.`));
        }
        if (input === "r") {
          const role = person.role === "admin" ? "member" : "admin";
          return confirm(`Make ${person.email} ${role === "admin" ? "an admin" : "a member"} (now ${person.role})?`, `Setting the role of ${person.email}…`, () => client.send("POST", `${userPath(person)}/role`, { role }).then(() => `${person.email} is now ${role === "admin" ? "an admin" : "a member"}.`));
        }
        if (input === "g") return setOverlay({ kind: "form", which: "add-group", person });
        if (input === "x") {
          const groups = manualGroups(person);
          if (groups.length === 0) {
            setNotice({ ok: false, text: person.groups.length ? `${person.email}'s groups come from their sign-in provider; change them there.` : `${person.email} is in no group.` });
            return;
          }
          return setOverlay({ kind: "pick-group", person, groups, index: 0 });
        }
      }
      if (tab === "tokens") {
        if (input === "n") return setOverlay({ kind: "form", which: "create-token", person: lastPerson });
        const token = lists?.tokens[index];
        if (input === "x" && token) {
          if (token.revokedAt) return setNotice({ ok: false, text: `Token ${token.id.slice(0, 8)} is revoked already.` });
          return confirm(`Revoke token ${token.id.slice(0, 8)} of ${token.subject}? Requests with it are refused at once.`, "Revoking the token…", () => client.send("DELETE", `/tokens/${encodeURIComponent(token.id)}`).then(() => `Revoked token ${token.id.slice(0, 8)} of ${token.subject}.`));
        }
      }
      if (tab === "consents") {
        const consent = lists?.consents[index];
        if (input === "x" && consent) {
          const name = clientName(consent.clientId);
          return confirm(`Revoke ${consent.email}'s approval of ${name}? Its sign-ins for them end too.`, "Revoking the consent…", () =>
            client.send<{ grantsRevoked: number }>("DELETE", `/consents?user=${encodeURIComponent(consent.userId)}&client=${encodeURIComponent(consent.clientId)}`).then((r) => `Revoked ${consent.email}'s approval of ${name} (${counted(r.grantsRevoked, "sign-in")} ended).`),
          );
        }
      }
      if (tab === "sign-ins") {
        const grant = lists?.["sign-ins"][index];
        if (input === "x" && grant) {
          if (grant.revokedAt) return setNotice({ ok: false, text: "That sign-in is revoked already." });
          return confirm(`Revoke the sign-in of ${clientName(grant.clientId)} for ${grant.email}? Its tokens stop working at once.`, "Revoking the sign-in…", () => client.send("DELETE", `/oauth-grants/${encodeURIComponent(grant.id)}`).then(() => `Revoked the sign-in of ${clientName(grant.clientId)} for ${grant.email}.`));
        }
      }
    },
    { isActive: overlay === undefined && !filter.editing },
  );

  useKeys(
    (_input, key) => {
      if (overlay?.kind === "pick-group") {
        if (key.escape) return setOverlay(undefined);
        if (key.upArrow) return setOverlay({ ...overlay, index: Math.max(0, overlay.index - 1) });
        if (key.downArrow) return setOverlay({ ...overlay, index: Math.min(overlay.groups.length - 1, overlay.index + 1) });
        if (key.return) {
          const group = overlay.groups[overlay.index]!;
          const target = overlay.person;
          return confirm(`Remove ${target.email} from the group "${group}"?`, `Removing ${target.email} from ${group}…`, () => client.send("DELETE", `${userPath(target)}/groups/${encodeURIComponent(group)}`).then(() => `Removed ${target.email} from "${group}".`));
        }
      }
      if (overlay?.kind === "token" && (key.return || key.escape)) setOverlay(undefined);
    },
    { isActive: overlay?.kind === "pick-group" || overlay?.kind === "token" },
  );

  const tabs = (
    <Text>
      {fit(
        TABS.map((t) => (t === tab ? `[${TAB_TITLES[t]}]` : ` ${TAB_TITLES[t]} `)).join(" "),
        width,
      )}
    </Text>
  );

  // A refusal, or a failed refresh over a list still shown, takes up to three lines under it (where a one-line message goes): the
  // list gives up the rest. Cut to one line, the server's reason (and what to do, at its end) was lost at 80 columns.
  const problem = busy ? undefined : notice ? (notice.ok ? undefined : notice.text) : data ? loadError : undefined;
  // The lines the list gives up: those, and the filter's line over it (none over a form or a question).
  const taken = problemExtraLines(problem && `✗ ${problem}`, width) + (overlay ? 0 : filterLines(filter));
  let body;
  if (overlay?.kind === "confirm") {
    body = (
      <Confirm
        message={overlay.message}
        onYes={() => {
          setOverlay(undefined);
          act(overlay.busy, overlay.run);
        }}
        onNo={() => {
          setOverlay(undefined);
          setNotice({ ok: true, text: "Cancelled; nothing changed." });
        }}
      />
    );
  } else if (overlay?.kind === "pick-group") {
    body = (
      <Box flexDirection="column" borderStyle="round" paddingX={1}>
        <Text bold>{fit(`Remove ${overlay.person.email} from which group?`, width - 4)}</Text>
        {overlay.groups.map((g, i) => (
          <Text key={g} inverse={i === overlay.index}>
            {fit(`${i === overlay.index ? "› " : "  "}${g}`, width - 4)}
          </Text>
        ))}
        <KeyHints width={width - 4} hints={["↑↓ choose", { text: "Enter remove (asks first)", short: "Enter remove" }, "Esc cancel", { text: "groups from a provider change there", optional: true }]} />
      </Box>
    );
  } else if (overlay?.kind === "token") {
    body = (
      <Box flexDirection="column">
        <Text bold>{fit(`✓ Token created for ${overlay.subject}. It is shown only now: copy it.`, width)}</Text>
        {overlay.warnings.map((warning) => (
          <Text key={warning} color="yellow" wrap="wrap">{`! ${warning}`}</Text>
        ))}
        <Text> </Text>
        <Text wrap="truncate-end">{overlay.token}</Text>
        <Text> </Text>
        {/* Wrapped, not cut: at 80 columns the cut fell on "it cannot be shown again". */}
        {wrapText("Send it as `Authorization: Bearer <token>`. Enter or Esc closes (it cannot be shown again).", width, 2).map((line, i) => (
          <Text key={i} dimColor>
            {line}
          </Text>
        ))}
      </Box>
    );
  } else if (overlay?.kind === "form") {
    body = <PeopleForm which={overlay.which} person={overlay.person && (data?.users.find((u) => u.id === overlay.person!.id) ?? overlay.person)} width={width} height={height - 2} client={client} onDone={(result) => {
      setOverlay(result?.token ? { kind: "token", token: result.token, subject: result.subject ?? "", warnings: result.warnings ?? [] } : undefined);
      if (result?.notice) setNotice({ ok: true, text: result.notice });
      void reload();
    }} />;
  } else if (!data || !lists) {
    body = loadError ? <Problem text={`✗ ${loadError}`} width={width} /> : <Spinner label="Loading people…" />;
  } else if (details && person) {
    body = <PersonDetails person={person} data={data} width={width} height={height - 4 - taken} />;
  } else if (tab === "people" && person && height - 5 - taken - lists.people.length >= 12) {
    // Room to spare: the selected person's details under the list.
    page.current = lists.people.length;
    body = (
      <Box flexDirection="column">
        <PeopleTable tab={tab} data={data} lists={lists} filtering={filter.text !== ""} width={width} height={lists.people.length} selected={index} />
        <Text> </Text>
        <PersonDetails person={person} data={data} width={width} height={height - 6 - taken - lists.people.length} />
      </Box>
    );
  } else {
    page.current = Math.max(1, height - 5 - taken);
    body = <PeopleTable tab={tab} data={data} lists={lists} filtering={filter.text !== ""} width={width} height={page.current} selected={index} />;
  }

  // At 80 columns x -group gives way (? help lists it), so that / filter and Tab list fit.
  const hints: Record<Tab, KeyHint[]> = {
    people: [...(details ? ["Esc list"] : ["Enter details", "n add"]), { text: "d disable/enable", short: "d dis/enable" }, "r role", { text: "g add group", short: "g +group" }, { text: "x remove group", short: "x -group", optional: true }],
    tokens: ["n create token", "x revoke"],
    consents: ["x revoke approval"],
    "sign-ins": ["x revoke sign-in"],
  };
  return (
    <Box flexDirection="column">
      {tabs}
      {overlay || !lists || !all ? null : <FilterLine filter={filter} width={width} shown={lists[tab].length} total={all[tab].length} placeholder={FILTER_WORDS[tab]} />}
      {body}
      {busy ? <Spinner label={fit(busy, width - 2)} /> : problem ? <Problem text={`✗ ${problem}`} width={width} /> : notice ? <Text color="green">{fit(`✓ ${notice.text}`, width)}</Text> : null}
      {overlay ? null : <KeyHints width={width} hints={[...hints[tab], ...(details ? [] : ["/ filter"]), { text: "Tab next list", short: "Tab list" }, MOVE_HINT, { text: "R reload", optional: true }, { text: "? help", optional: true }]} />}
    </Box>
  );
}

function PeopleTable(props: { tab: Tab; data: PeopleData; lists: Lists; filtering: boolean; width: number; height: number; selected: number }) {
  const { tab, data, lists, width } = props;
  const wide = width >= 120;
  const named = width >= 90;
  const name = (id: string) => data.clients[id] ?? id;
  let columns: Column[];
  let rows: string[][];
  let empty: string;
  if (tab === "people") {
    columns = [{ title: "EMAIL" }, ...(named ? [{ title: "NAME", width: 18 }] : []), { title: "ROLE", width: 6 }, { title: "STATE", width: 8 }, { title: "GROUPS" }, { title: "VIA", width: wide ? 16 : 10 }, ...(wide ? [{ title: "LAST SIGN-IN", width: 16 }] : [])];
    rows = lists.people.map((u) => [u.email, ...(named ? [u.name ?? ""] : []), u.role, u.disabled ? "disabled" : "active", listText(u.groups) || "-", via(u), ...(wide ? [u.lastSignInAt ? formatTime(u.lastSignInAt) : "never"] : [])]);
    empty = props.filtering ? "No person matches the filter." : "No people yet: n adds a local account; people who sign in through SSO appear here.";
  } else if (tab === "tokens") {
    columns = [{ title: "ID", width: 8 }, { title: "PERSON" }, { title: "VIRTUAL MCP", width: wide ? 20 : 12 }, { title: "STATE", width: 7 }, { title: "EXPIRES", width: 16 }, ...(wide ? [{ title: "LAST USED", width: 16 }] : [])];
    rows = lists.tokens.map((t) => [t.id.slice(0, 8), t.subject, t.virtualMcp ?? "*", tokenState(t, data.users), t.expiresAt ? formatTime(t.expiresAt) : "never", ...(wide ? [t.lastUsedAt ? formatTime(t.lastUsedAt) : "never"] : [])]);
    empty = props.filtering ? "No token matches the filter." : "No personal access tokens: n creates one.";
  } else if (tab === "consents") {
    columns = [{ title: "PERSON" }, { title: "CLIENT" }, { title: "SCOPE", width: wide ? 30 : 12 }, { title: "GRANTED", width: 16 }];
    rows = lists.consents.map((c) => [c.email, name(c.clientId), c.scope, formatTime(c.grantedAt)]);
    empty = props.filtering ? "No consent matches the filter." : "Nobody has approved an AI client yet.";
  } else {
    columns = [{ title: "PERSON" }, { title: "CLIENT" }, { title: "VIRTUAL MCP", width: wide ? 20 : 12 }, { title: "STATE", width: wide ? 24 : 8 }, { title: "SIGNED IN", width: 16 }];
    rows = lists["sign-ins"].map((g) => [g.email, name(g.clientId), g.virtualMcp, g.revokedAt ? (wide && g.revokedReason ? `revoked: ${g.revokedReason}` : "revoked") : "active", formatTime(g.createdAt)]);
    empty = props.filtering ? "No sign-in matches the filter." : "No AI client has signed in yet.";
  }
  return <Table columns={columns} rows={rows} width={width} height={props.height} selected={props.selected} empty={empty} />;
}

/** The three forms of this screen; each validates before sending and shows the server's refusal. */
function PeopleForm(props: { which: "add-person" | "add-group" | "create-token"; person: UserDetails | undefined; width: number; height: number; client: ScreenProps["client"]; onDone: (result?: { notice?: string; token?: string; subject?: string; warnings?: string[] }) => void }) {
  const { client, person, onDone, height } = props;
  const width = Math.min(props.width, 100);
  if (props.which === "add-person") {
    const fields: FormField[] = [
      { name: "email", label: "Email", validate: (v) => (EMAIL.test(v.trim()) ? undefined : "enter an email address such as ada@example.com") },
      { name: "name", label: "Name", placeholder: "optional" },
      { name: "role", label: "Role", choices: ["member", "admin"] },
      { name: "password", label: "Password", mask: true, validate: (v) => (v.length >= MIN_PASSWORD_LENGTH ? undefined : `use at least ${MIN_PASSWORD_LENGTH} characters`) },
      { name: "again", label: "Again", mask: true, validate: (v, all) => (v === all.password ? undefined : "the two passwords differ") },
    ];
    return (
      <Form
        title="Add a local account (signs in with a password)"
        fields={fields}
        width={width}
        height={height}
        submitLabel="add"
        onCancel={() => onDone()}
        onSubmit={async (v) => {
          const created = await client.send<UserDetails>("POST", "/users", { email: v.email!.trim(), name: v.name!.trim() || undefined, role: v.role, password: v.password });
          onDone({ notice: `Added ${created.email} (${created.role}).` });
        }}
      />
    );
  }
  if (props.which === "add-group") {
    if (!person) return null;
    return (
      <Form
        title={`Add ${person.email} to a group`}
        fields={[{ name: "group", label: "Group", validate: (v) => (v.trim() === "" ? "type a group name" : v.trim().length > 256 ? "use at most 256 characters" : person.groups.includes(v.trim()) ? `${person.email} is in "${v.trim()}" already` : undefined) }]}
        width={width}
        height={height}
        submitLabel="add"
        onCancel={() => onDone()}
        onSubmit={async (v) => {
          await client.send("POST", `/users/${encodeURIComponent(person.id)}/groups`, { group: v.group!.trim() });
          onDone({ notice: `Added ${person.email} to "${v.group!.trim()}".` });
        }}
      />
    );
  }
  return (
    <Form
      title="Create a personal access token (shown once)"
      initial={{ user: person?.email ?? "" }}
      fields={[
        { name: "user", label: "Person (email)", validate: (v) => (/^[^\s@]+@[^\s@]+$/.test(v.trim()) ? undefined : "enter the email of the person the token acts for") },
        { name: "vmcp", label: "Virtual MCP", placeholder: "empty: every Virtual MCP" },
        { name: "expires", label: "Expires after", placeholder: "e.g. 30d, 12h; empty: never", validate: (v) => (v.trim() === "" || LIFETIME.test(v.trim()) ? undefined : "use a number with s, m, h or d, such as 30d") },
      ]}
      width={width}
      height={height}
      submitLabel="create"
      onCancel={() => onDone()}
      onSubmit={async (v) => {
        const created = await client.send<AccessTokenInfo & { token: string; warnings?: string[] }>("POST", "/tokens", { user: v.user!.trim(), vmcp: v.vmcp!.trim() || undefined, expires: v.expires!.trim() || undefined });
        onDone({ token: created.token, subject: created.subject, warnings: created.warnings });
      }}
    />
  );
}

export const peopleScreen: ScreenDefinition = {
  key: "p",
  title: "People and access",
  short: "People",
  help: [
    "Tab / ← → switch between People, Access tokens, OAuth consents and OAuth sign-ins.",
    "↑ ↓ (or j k) select · PgUp PgDn a page · Home End the first and last · Enter a person's details · R reload (also every 5 s).",
    "/ filters the list shown as you type (each list its own; words that must all appear): Enter keeps it, Esc clears it;",
    "  keys act on the row shown selected.",
    "People: n add a local account · d disable or enable (asks first) · r switch role admin/member (asks first)",
    "        g add to a group · x remove from a group assigned here (groups from SSO change at the provider).",
    "Access tokens: n create (the token is shown once) · x revoke (asks first).",
    "OAuth consents: x revoke a person's approval of an AI client (its sign-ins end too; asks first).",
    "OAuth sign-ins: x revoke one AI client sign-in: its tokens stop working at once (asks first).",
  ],
  Component: PeopleScreen,
};
