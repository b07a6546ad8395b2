/**
 * The Connectors screen's data: the admin API's shapes, and the form's text
 * fields to and from a connector spec (a mintgate.yaml `connectors` entry).
 */
import type { ConnectorStatus } from "../../../src/admin/index.ts";

export type { ConnectorStatus };

export interface SecretListing {
  name: string;
  version: number;
  keyVersion: number;
  createdAt: string;
  updatedAt: string;
  usedBy: string[];
}

export interface ProbeResult {
  ok: boolean;
  error?: string;
  tools: { name: string; description: string | undefined }[];
  prompts: number;
  resources: number;
  durationMs: number;
  stderr: string[];
}

export type EditableKind = "stdio" | "http" | "sse";
export const EDITABLE_KINDS: EditableKind[] = ["stdio", "http", "sse"];

/** What the form edits, as text. env and headers are one row each, plus an empty row to add one. */
export interface ConnectorDraft {
  name: string;
  kind: EditableKind;
  command: string;
  args: string;
  cwd: string;
  env: string[];
  url: string;
  headers: string[];
  timeout: string;
}

export const CONNECTOR_NAME = /^[a-zA-Z0-9_-]{1,32}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DURATION = /^(\d+)(ms|s|m)?$/;
const SECRET_REFERENCE = /\$\{secret:([A-Za-z][A-Za-z0-9_.-]{0,127})\}/g;
export const DEFAULT_TIMEOUT_MS = 60_000;

export function formatTimeout(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Arguments as a person types them: split on spaces, "double" or 'single' quotes keep spaces. */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  let current = "";
  let quote: string | undefined;
  let started = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (ch === " " || ch === "\t") {
      if (started) args.push(current);
      current = "";
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

/**
 * The inverse of splitArgs. An argument holding both kinds of quote is written as
 * adjacent quoted runs ("it's "'"'"x") , which splitArgs joins back into one.
 */
export function joinArgs(args: string[]): string {
  const quoted = (a: string) => (!a.includes('"') ? `"${a}"` : !a.includes("'") ? `'${a}'` : a.split('"').map((run) => `"${run}"`).join(`'"'`));
  return args.map((a) => (a === "" || /[\s"']/.test(a) ? quoted(a) : a)).join(" ");
}

export function emptyDraft(): ConnectorDraft {
  return { name: "", kind: "stdio", command: "", args: "", cwd: "", env: [""], url: "", headers: [""], timeout: "" };
}

export function draftOf(connector: ConnectorStatus): ConnectorDraft {
  const draft = emptyDraft();
  draft.name = connector.name;
  draft.timeout = connector.timeoutMs === DEFAULT_TIMEOUT_MS ? "" : formatTimeout(connector.timeoutMs);
  const spec = connector.spec;
  if (spec.kind === "stdio") {
    Object.assign(draft, { kind: "stdio", command: spec.command, args: joinArgs(spec.args), cwd: spec.cwd ?? "", env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), ""] });
  } else if (spec.kind === "http" || spec.kind === "sse") {
    Object.assign(draft, { kind: spec.kind, url: spec.url, headers: [...Object.entries(spec.headers).map(([k, v]) => `${k}: ${v}`), ""] });
  }
  return draft;
}

/** A connector's spec as the admin API takes it (PUT /connectors/:name, POST /connectors/test). */
export function bodyOf(connector: ConnectorStatus): Record<string, unknown> {
  return { name: connector.name, ...connector.spec, ...(connector.timeoutMs === DEFAULT_TIMEOUT_MS ? {} : { timeout: formatTimeout(connector.timeoutMs) }) };
}

/** The rows that say something: blank rows go, the others are kept as typed (a value's own edge spaces included). */
const rows = (list: string[]) => list.filter((r) => r.trim() !== "");

/** A header row's value: what follows the colon, less the one space draftOf puts after it ("Name: value"). */
const headerValue = (row: string) => {
  const value = row.slice(row.indexOf(":") + 1);
  return value.startsWith(" ") ? value.slice(1) : value;
};

/** Everything wrong with the draft, in the order of the form; an empty list when it can be sent. */
export function problemsOf(draft: ConnectorDraft, secrets: readonly string[], options: { needName: boolean }): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  const known = new Set(secrets);
  const checkReferences = (field: string, value: string, label: string) => {
    for (const match of value.matchAll(SECRET_REFERENCE)) {
      if (!known.has(match[1]!)) add(field, `${label} references the secret "${match[1]}", which is not set; set it on the Secrets screen first.`);
    }
    if (value.replace(SECRET_REFERENCE, "").includes("${secret:")) add(field, `${label} has a malformed secret reference; write \${secret:NAME} (Ctrl-R picks one).`);
  };
  if (options.needName && !CONNECTOR_NAME.test(draft.name)) add("name", "use 1 to 32 letters, digits, _ or -.");
  if (draft.kind === "stdio") {
    if (draft.command.trim() === "") add("command", "say which program to run (e.g. npx).");
    if (draft.command.includes("${secret:") || draft.args.includes("${secret:") || draft.cwd.includes("${secret:")) add("command", "secret references belong in env values, not in the command, arguments or cwd.");
    rows(draft.env).forEach((row, i) => {
      const eq = row.indexOf("=");
      const name = eq === -1 ? "" : row.slice(0, eq).trim();
      if (name === "") add(`env.${i}`, `env row "${row}" must be KEY=value.`);
      else checkReferences(`env.${i}`, row.slice(eq + 1), `env ${name}`);
    });
  } else {
    if (!/^https?:\/\/[^\s/]+/.test(draft.url.trim())) add("url", "must be an http:// or https:// URL.");
    rows(draft.headers).forEach((row, i) => {
      const colon = row.indexOf(":");
      const name = colon === -1 ? "" : row.slice(0, colon).trim();
      if (!HEADER_NAME.test(name)) add(`headers.${i}`, `header row "${row}" must be Name: value.`);
      else checkReferences(`headers.${i}`, headerValue(row), `header ${name}`);
    });
  }
  if (draft.timeout.trim() !== "") {
    const match = DURATION.exec(draft.timeout.trim());
    const ms = match ? Number(match[1]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[(match[2] ?? "ms") as "ms" | "s" | "m"] : NaN;
    if (!(ms >= 1000 && ms <= 3_600_000)) add("timeout", "write a duration between 1s and 60m, e.g. 30s or 2m.");
  }
  return problems;
}

/** The draft as the admin API's JSON body. */
export function specOf(draft: ConnectorDraft): Record<string, unknown> {
  const timeout = draft.timeout.trim() === "" ? {} : { timeout: draft.timeout.trim() };
  if (draft.kind === "stdio") {
    // Values are sent as draftOf showed them, edge spaces included: in an env value, a command or a cwd path they
    // can matter. A name's edge spaces cannot be meant: they are trimmed here, and apply refuses them in the file.
    const env = Object.fromEntries(rows(draft.env).map((row) => [row.slice(0, row.indexOf("=")).trim(), row.slice(row.indexOf("=") + 1)]));
    return { kind: "stdio", command: draft.command, args: splitArgs(draft.args), ...(draft.cwd === "" ? {} : { cwd: draft.cwd }), env, ...timeout };
  }
  const headers = Object.fromEntries(rows(draft.headers).map((row) => [row.slice(0, row.indexOf(":")).trim(), headerValue(row)]));
  return { kind: draft.kind, url: draft.url.trim(), headers, ...timeout };
}

/** A state as a symbol and a word (NO_COLOR shows the same), with a colour that only helps. */
export function stateLabel(state: string): { text: string; color: string | undefined } {
  switch (state) {
    case "ready":
      return { text: "● ready", color: "green" };
    case "failed":
      return { text: "✗ failed", color: "red" };
    case "starting":
      return { text: "… starting", color: "yellow" };
    default:
      return { text: `○ ${state}`, color: undefined };
  }
}

/** An env variable name from a secret name: api-token → API_TOKEN. */
export function envNameFor(secret: string): string {
  return secret.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}
