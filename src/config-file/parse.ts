/**
 * mintgate.yaml -> GatewayConfig. The whole file is checked before anything is
 * returned; every problem is reported as `mintgate.yaml:LINE: reason`, one per line,
 * in one `invalid` error.
 */
import { isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import {
  CONNECTOR_NAME,
  DEFAULT_CALL_TIMEOUT_MS,
  type ConnectorDefinition,
  type ConnectorKind,
  type ConnectorSpec,
} from "../connectors/types.ts";
import { closestName, invalid } from "../errors/index.ts";
import {
  EXPOSED_NAME,
  PREFIX_SEPARATOR,
  VIRTUAL_MCP_SLUG,
  type ConnectorAttachment,
  type NewToolPolicy,
  type VirtualMcpDefinition,
} from "../gateway/types.ts";
import { unwritableCharacterIn } from "../terminal/index.ts";
import { readTimeout } from "./duration.ts";
import { readPolicy } from "./policy.ts";
import {
  ATTACHMENT_KEYS,
  CONNECTOR_KEYS,
  KIND_KEYS,
  PREFIX,
  TOP_LEVEL_KEYS,
  VIRTUAL_MCP_KEYS,
  type GatewayConfig,
  type GatewayConfigFile,
  type ParseConfigFileOptions,
} from "./gateway-config.ts";
import { isCredentialName, literalCredentialIn, URL_CREDENTIALS_ADVICE, urlHoldsCredentials } from "../secrets/literal-credentials.ts";
import { malformedSecretReferencesIn, REFERENCE_OPENING, secretReferencesIn } from "../secrets/references.ts";
import { syntaxProblems, YamlReader, type Field, type Problem, type StringEntry, type StringItem, type ValueNode } from "./yaml-reader.ts";

const DEFAULT_FILE_NAME = "mintgate.yaml";
const KINDS: readonly ConnectorKind[] = ["stdio", "http", "sse", "builtin"];
const NEW_TOOL_POLICIES: readonly NewToolPolicy[] = ["auto", "approve"];
/** An HTTP field name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The whole configuration a file declares, a section it leaves out read as empty. */
export function parseConfigFile(text: string, options: ParseConfigFileOptions): GatewayConfig {
  const sections = parseConfigFileSections(text, options);
  return { connectors: sections.connectors ?? [], virtualMcps: sections.virtualMcps ?? [] };
}

/** The sections a file lists, each as a whole; one it leaves out is undefined (`apply` leaves that part alone). */
export function parseConfigFileSections(text: string, options: ParseConfigFileOptions): GatewayConfigFile {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  const lines = new LineCounter();
  // Duplicate keys are found by the reader, so that they are reported with everything else.
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  const syntax = syntaxProblems(document, lines);
  // The document is not well-formed YAML; checking its meaning would only add noise.
  if (syntax.length > 0) throw invalid(formatProblems(fileName, syntax));
  const reader = new YamlReader(document, lines);
  const config = new ConfigFileReader(reader, options.knownSecrets, [], options.stored).read(document.contents, options.prune ?? false);
  if (reader.problems.length > 0) throw invalid(formatProblems(fileName, reader.problems));
  return config;
}

/**
 * One Virtual MCP on its own (the admin API's PUT body): the mapping a
 * `virtualMcps` entry of mintgate.yaml holds, as YAML or JSON, checked exactly
 * like the file; `knownConnectors` stand in for the file's `connectors`.
 * `slug` (the URL's) is its slug when the mapping has none, checked as one written there.
 */
export function parseVirtualMcpText(text: string, options: ParseConfigFileOptions & { knownConnectors: readonly string[]; slug?: string }): VirtualMcpDefinition {
  const fileName = options.fileName ?? "request";
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  const syntax = syntaxProblems(document, lines);
  if (syntax.length > 0) throw invalid(formatProblems(fileName, syntax));
  const reader = new YamlReader(document, lines);
  const root = reader.resolve(document.contents);
  if (reader.isEmpty(root)) throw invalid(`${fileName}:1: send the virtual MCP as a mapping with at least "slug" and "name"`);
  const definition = new ConfigFileReader(reader, options.knownSecrets, options.knownConnectors, options.stored).readOne(root, reader.lineOf(root, 1), options.slug);
  if (reader.problems.length > 0 || !definition) throw invalid(formatProblems(fileName, reader.problems));
  return definition;
}

function formatProblems(fileName: string, problems: readonly Problem[]): string {
  return [...problems]
    .sort((a, b) => a.line - b.line)
    .map((problem) => `${fileName}:${problem.line}: ${problem.reason}`)
    .join("\n");
}

/** One statically known tool name exposed by a Virtual MCP, and where it comes from. */
interface Exposure {
  name: string;
  /** e.g. `everything tool "get-sum" (renamed)` */
  source: string;
  line: number;
}

class ConfigFileReader {
  /** Connector name -> line of its definition, for every connector with a usable name. */
  private readonly connectorLines = new Map<string, number>();
  /**
   * Where the attached connectors come from, for the sentence about one that is missing: the file's own section, the
   * gateway's (a file without that section), or the gateway's for one Virtual MCP sent alone (the admin API), which
   * has no section to define one in.
   */
  private attachable: "file" | "stored" | "alone" = "file";

  constructor(
    private readonly reader: YamlReader,
    private readonly knownSecrets: ReadonlySet<string>,
    /** Connectors defined elsewhere (the store), for a Virtual MCP read on its own. */
    knownConnectors: readonly string[] = [],
    private readonly stored?: GatewayConfig | undefined,
  ) {
    for (const name of knownConnectors) this.connectorLines.set(name, 0);
  }

  /** One Virtual MCP mapping on its own; `slug`, when given, is its slug if the mapping has none. */
  readOne(node: ValueNode, line: number, slug?: string): VirtualMcpDefinition | undefined {
    this.attachable = "alone";
    return this.readVirtualMcp(node, line, 0, new Map(), slug);
  }

  read(contents: unknown, prune: boolean): GatewayConfigFile {
    const reader = this.reader;
    const root = reader.resolve(contents);
    const config: GatewayConfigFile = {};
    // Pruning by a file that lists no section would change nothing: far likelier an empty input than a wish.
    const listsNothing =
      'the file lists neither connectors nor virtualMcps, so there is nothing to prune by (an empty input?); to empty the gateway on purpose, apply "connectors: []" and "virtualMcps: []"';
    // Without --prune too: "No changes" with exit 0 would hide an input that never came (`curl … | mintgate apply -f -`).
    const nothing = prune ? listsNothing : 'the file is empty, so there is nothing to apply (an empty input?); a file lists "connectors" and "virtualMcps"';
    if (reader.isEmpty(root)) {
      reader.report(1, nothing);
      return config;
    }
    const problemsBefore = reader.problems.length;
    const fields = reader.fields(
      root,
      reader.lineOf(root, 1),
      "at the top level",
      TOP_LEVEL_KEYS,
      'the file must be a mapping with the lists "connectors" and "virtualMcps"',
    );
    if (!fields) return config;
    // Unknown keys alone are said as such; without --prune, "empty" would only add noise to them.
    if (fields.size === 0 && (prune || reader.problems.length === problemsBefore)) reader.report(reader.lineOf(root, 1), nothing);
    const sectionItems = (key: (typeof TOP_LEVEL_KEYS)[number], what: string) => {
      const field = fields.get(key);
      if (!field) return undefined;
      // A key with nothing after it is how a file cut short ends: with pruning, it would delete the whole section.
      if (prune && reader.isEmpty(field.value)) {
        reader.report(field.keyLine, `"${key}" has no value, and pruning would delete every ${what}; write "${key}: []" to do that, or leave the key out to keep them`);
      }
      return reader.listItems(field, `"${key}" must be a list of ${what}s`) ?? [];
    };

    const connectorItems = sectionItems("connectors", "connector");
    if (connectorItems) config.connectors = [];
    // Without a connectors section, the file's Virtual MCPs attach the gateway's connectors, which it leaves as they are.
    else {
      this.attachable = "stored";
      for (const connector of this.stored?.connectors ?? []) this.connectorLines.set(connector.name, 0);
    }
    connectorItems?.forEach((item, index) => {
      const connector = this.readConnector(item.node, item.line, index);
      if (connector) config.connectors!.push(connector);
    });

    const virtualMcpItems = sectionItems("virtualMcps", "virtual MCP");
    if (virtualMcpItems) config.virtualMcps = [];
    const slugLines = new Map<string, number>();
    virtualMcpItems?.forEach((item, index) => {
      const virtualMcp = this.readVirtualMcp(item.node, item.line, index, slugLines);
      if (virtualMcp) config.virtualMcps!.push(virtualMcp);
    });
    return config;
  }

  // ── connectors ──────────────────────────────────────────────────────────────

  private readConnector(node: ValueNode, line: number, index: number): ConnectorDefinition | undefined {
    const reader = this.reader;
    const problemsBefore = reader.problems.length;
    const peekedName = reader.peekText(node, "name");
    const label = peekedName === undefined ? `connector #${index + 1}` : `connector "${peekedName}"`;
    const fields = reader.fields(
      node,
      line,
      `in ${label}`,
      CONNECTOR_KEYS,
      `${label} must be a mapping with at least "name" and "kind"`,
    );
    if (!fields) return undefined;

    const name = this.readConnectorName(fields, line, label);
    const kind = this.readKind(fields, line, label);
    if (kind !== undefined) {
      const applicable: readonly string[] = ["name", "kind", "timeout", ...KIND_KEYS[kind]];
      for (const field of fields.values()) {
        if (!applicable.includes(field.key)) {
          reader.report(
            field.keyLine,
            `"${field.key}" does not apply to ${kind} ${label}; a ${kind} connector takes: ${applicable.join(", ")}`,
          );
        }
      }
    }
    const spec = kind === undefined ? undefined : this.readSpec(kind, fields, line, label);
    const timeoutMs = this.readConnectorTimeout(fields.get("timeout"), label);

    if (reader.problems.length > problemsBefore || name === undefined || spec === undefined) return undefined;
    return { name, spec, timeoutMs };
  }

  private readConnectorName(fields: Map<string, Field>, line: number, label: string): string | undefined {
    const reader = this.reader;
    const field = fields.get("name");
    if (!field) {
      reader.report(line, `${label} has no "name"`);
      return undefined;
    }
    const name = reader.text(field, `the name of ${label}`);
    if (name === undefined) return undefined;
    if (!CONNECTOR_NAME.test(name)) {
      reader.report(field.valueLine, `connector name "${name}" must be 1 to 32 letters, digits, "_" or "-"`);
      return undefined;
    }
    const firstLine = this.connectorLines.get(name);
    if (firstLine !== undefined) {
      reader.report(field.valueLine, `connector name "${name}" is already used by the connector on line ${firstLine}`);
      return undefined;
    }
    this.connectorLines.set(name, line);
    return name;
  }

  private readKind(fields: Map<string, Field>, line: number, label: string): ConnectorKind | undefined {
    const reader = this.reader;
    const field = fields.get("kind");
    const expected = `expected ${KINDS.slice(0, -1).join(", ")} or ${KINDS.at(-1)}`;
    if (!field) {
      reader.report(line, `${label} has no "kind"; ${expected}`);
      return undefined;
    }
    const kind = reader.text(field, `the kind of ${label}`);
    if (kind === undefined) return undefined;
    if (!(KINDS as readonly string[]).includes(kind)) {
      reader.report(field.valueLine, `${label} has kind "${kind}"; ${expected}`);
      return undefined;
    }
    return kind as ConnectorKind;
  }

  private readSpec(kind: ConnectorKind, fields: Map<string, Field>, line: number, label: string): ConnectorSpec | undefined {
    switch (kind) {
      case "stdio":
        return this.readStdioSpec(fields, line, label);
      case "http":
      case "sse":
        return this.readHttpSpec(kind, fields, line, label);
      case "builtin":
        return this.readBuiltinSpec(fields, line, label);
    }
  }

  private readStdioSpec(fields: Map<string, Field>, line: number, label: string): ConnectorSpec | undefined {
    const reader = this.reader;
    const commandField = fields.get("command");
    let command: string | undefined;
    if (!commandField) reader.report(line, `stdio ${label} has no "command"`);
    else if (isSeq(commandField.value)) {
      reader.report(commandField.valueLine, `the command of ${label} must be a string: put the program in "command" and the rest in "args"`);
    } else {
      command = reader.text(commandField, `the command of ${label}`);
      if (command !== undefined) this.forbidSecretReference(command, commandField.valueLine, `the command of ${label}`);
    }

    const argsField = fields.get("args");
    let args: StringItem[] | undefined = [];
    if (argsField && isScalar(argsField.value) && typeof argsField.value.value === "string") {
      const example = argsField.value.value.split(/\s+/).filter((arg) => arg !== "").map((arg) => JSON.stringify(arg)).join(", ");
      reader.report(argsField.valueLine, `"args" of ${label} must be a list of strings, one per argument: args: [${example}]`);
      args = undefined;
    } else if (argsField) {
      args = reader.textList(argsField, `"args" of ${label}`, (i) => `argument #${i + 1} of ${label}`, { emptyIsList: true });
      for (const [i, arg] of (args ?? []).entries()) {
        this.forbidSecretReference(arg.value, arg.line, `argument #${i + 1} of ${label}`);
      }
    }

    const cwdField = fields.get("cwd");
    let cwd: string | undefined;
    if (cwdField) {
      cwd = reader.text(cwdField, `"cwd" of ${label}`);
      if (cwd !== undefined) this.forbidSecretReference(cwd, cwdField.valueLine, `"cwd" of ${label}`);
    }

    const envField = fields.get("env");
    let env: StringEntry[] | undefined = [];
    if (envField) {
      env = reader.textMap(envField, `"env" of ${label}`, (key) => `env "${key}" of ${label}`);
      for (const entry of env ?? []) {
        if (entry.key === "" || entry.key.includes("=") || entry.key.includes("\0")) {
          reader.report(entry.keyLine, `environment variable name "${entry.key}" of ${label} must be non-empty, without "="`);
        } else if (entry.key !== entry.key.trim()) {
          // No program looks up " KEY"; the TUI trims names it is given, so the file refuses what it could never show.
          reader.report(entry.keyLine, `environment variable name "${entry.key}" of ${label} starts or ends with a space; remove it`);
        }
        this.forbidSecretReference(entry.key, entry.keyLine, `the environment variable name "${entry.key}" of ${label}`);
        this.checkSecretValue(entry, `env "${entry.key}"`, label);
      }
    }

    if (command === undefined || args === undefined || env === undefined || (cwdField && cwd === undefined)) return undefined;
    return {
      kind: "stdio",
      command,
      args: args.map((arg) => arg.value),
      ...(cwd === undefined ? {} : { cwd }),
      env: Object.fromEntries(env.map((entry) => [entry.key, entry.value])),
    };
  }

  private readHttpSpec(kind: "http" | "sse", fields: Map<string, Field>, line: number, label: string): ConnectorSpec | undefined {
    const reader = this.reader;
    const urlField = fields.get("url");
    let url: string | undefined;
    if (!urlField) reader.report(line, `${kind} ${label} has no "url"`);
    else {
      url = reader.text(urlField, `the url of ${label}`);
      if (url !== undefined) {
        if (url.includes(REFERENCE_OPENING)) {
          this.forbidSecretReference(url, urlField.valueLine, `the url of ${label}`);
          url = undefined;
        } else if (url !== url.trim()) {
          reader.report(urlField.valueLine, `the url of ${label} starts or ends with a space; remove it`);
          url = undefined;
        } else if (urlHoldsCredentials(url)) {
          // Kept in plain text and shown like the rest of the configuration; never quoted here either.
          reader.report(urlField.valueLine, `the url of ${label} holds a user name or password, which would be kept in plain text and shown by export, the admin API and the TUI; ${URL_CREDENTIALS_ADVICE}`);
          url = undefined;
        } else if (!isHttpUrl(url)) {
          reader.report(urlField.valueLine, `the url of ${label} must be an http:// or https:// URL, not "${url}"`);
          url = undefined;
        }
      }
    }

    const headersField = fields.get("headers");
    let headers: StringEntry[] | undefined = [];
    if (headersField) {
      headers = reader.textMap(headersField, `"headers" of ${label}`, (key) => `header "${key}" of ${label}`);
      // Header names are case-insensitive: Authorization and authorization would both be sent, as one joined value.
      const firstOf = new Map<string, StringEntry>();
      for (const entry of headers ?? []) {
        if (!HEADER_NAME.test(entry.key)) {
          reader.report(entry.keyLine, `"${entry.key}" in "headers" of ${label} is not a valid HTTP header name`);
        }
        const first = firstOf.get(entry.key.toLowerCase());
        if (first) {
          reader.report(entry.keyLine, `header "${entry.key}" of ${label} is "${first.key}" again (first on line ${first.keyLine}): header names ignore case; keep one`);
        } else firstOf.set(entry.key.toLowerCase(), entry);
        if (/[\r\n\0]/.test(entry.value)) {
          reader.report(entry.valueLine, `header "${entry.key}" of ${label} must be a single line`);
        }
        this.checkSecretValue(entry, `header "${entry.key}"`, label);
      }
    }

    if (url === undefined || headers === undefined) return undefined;
    return { kind, url, headers: Object.fromEntries(headers.map((entry) => [entry.key, entry.value])) };
  }

  private readBuiltinSpec(fields: Map<string, Field>, line: number, label: string): ConnectorSpec | undefined {
    const reader = this.reader;
    const field = fields.get("server");
    if (!field) {
      reader.report(line, `builtin ${label} has no "server"; the only built-in server is "demo"`);
      return undefined;
    }
    const server = reader.text(field, `the server of ${label}`);
    if (server === undefined) return undefined;
    if (server !== "demo") {
      reader.report(field.valueLine, `builtin ${label} has server "${server}"; the only built-in server is "demo"`);
      return undefined;
    }
    return { kind: "builtin", server };
  }

  private readConnectorTimeout(field: Field | undefined, label: string): number {
    if (!field) return DEFAULT_CALL_TIMEOUT_MS;
    const reader = this.reader;
    const value = field.value;
    const raw = value !== null && "value" in value ? value.value : undefined;
    if (typeof raw !== "string" && typeof raw !== "number") {
      reader.report(field.valueLine, `the timeout of ${label} must be a duration like 500ms, 30s or 2m, or a whole number of milliseconds`);
      return DEFAULT_CALL_TIMEOUT_MS;
    }
    const timeout = readTimeout(raw);
    if (timeout.ok) return timeout.ms;
    reader.report(
      field.valueLine,
      timeout.problem === "format"
        ? `the timeout of ${label} is "${raw}"; write a duration like 500ms, 30s or 2m, or a whole number of milliseconds`
        : `the timeout of ${label} is "${raw}"; it must be between 1s and 1h${/^\d+$/.test(String(raw).trim()) ? ` (a number without a unit is milliseconds: write ${String(raw).trim()}s for seconds)` : ""}`,
    );
    return DEFAULT_CALL_TIMEOUT_MS;
  }

  /**
   * An env or header value: its `${secret:NAME}` references well-formed and naming a secret that exists, and a
   * credential (by its name, see CREDENTIAL_WORDS) held only as references. The value is never quoted.
   */
  private checkSecretValue(entry: StringEntry, what: string, label: string): void {
    const reader = this.reader;
    const { key, value, valueLine: line } = entry;
    const malformed = malformedSecretReferencesIn(value);
    for (const excerpt of malformed) {
      reader.report(
        line,
        `malformed secret reference "${excerpt}" in ${what} of ${label}; write \${secret:NAME}, where NAME starts with a letter and has only letters, digits, "_", "." or "-"`,
      );
    }
    const literal = malformed.length === 0 && isCredentialName(key) ? literalCredentialIn(value) : undefined;
    if (literal) {
      const reference = literal.scheme === undefined ? "${secret:NAME}" : `${literal.scheme} \${secret:NAME}`;
      reader.report(line, `${what} of ${label} holds a literal credential; store it with \`mintgate secrets set NAME\` and write "${reference}" instead`);
    }
    for (const name of secretReferencesIn(value)) {
      if (!this.knownSecrets.has(name)) {
        reader.report(
          line,
          `unknown secret "${name}" referenced by ${label}; set it with \`mintgate secrets set ${name}\``,
        );
      }
    }
  }

  /** Secret references are resolved only in env values and headers; anywhere else they would be sent as written. */
  private forbidSecretReference(value: string, line: number, what: string): void {
    if (!value.includes(REFERENCE_OPENING)) return;
    this.reader.report(
      line,
      `${what} contains a secret reference, but secrets are resolved only in "env" and "headers" values`,
    );
  }

  /**
   * Text people read on terminals (the CLI, the TUI) and AI clients in tool lists: an ESC sequence would drive an
   * admin's terminal, a bidi override would show other text than is there. Reports the first such character and
   * says whether there is none; the text stored already in this place (`stored`) is taken back as it is.
   */
  private writable(value: string, line: number, what: string, options: { lines: boolean; stored: string | undefined }): boolean {
    if (value === options.stored) return true;
    const character = unwritableCharacterIn(value, { lines: options.lines });
    if (character === undefined) return true;
    const rule = options.lines
      ? "it may hold line breaks and tabs, but no other control characters and no bidirectional controls"
      : "it must be one line, without control characters or bidirectional controls";
    this.reader.report(line, `${what} contains ${character}; remove it: ${rule}`);
    return false;
  }

  // ── virtual MCPs ────────────────────────────────────────────────────────────

  private readVirtualMcp(
    node: ValueNode,
    line: number,
    index: number,
    slugLines: Map<string, number>,
    /** The slug when the mapping has none (the URL's, for one Virtual MCP put alone). */
    impliedSlug?: string,
  ): VirtualMcpDefinition | undefined {
    const reader = this.reader;
    const problemsBefore = reader.problems.length;
    const peekedSlug = reader.peekText(node, "slug") ?? impliedSlug;
    const label = peekedSlug === undefined ? `virtual MCP #${index + 1}` : `virtual MCP "${peekedSlug}"`;
    const storedVirtualMcp = this.stored?.virtualMcps.find((v) => v.slug === peekedSlug);
    const fields = reader.fields(
      node,
      line,
      `in ${label}`,
      VIRTUAL_MCP_KEYS,
      `${label} must be a mapping with at least "slug" and "name"`,
    );
    if (!fields) return undefined;

    let slug: string | undefined;
    const slugField = fields.get("slug");
    if (!slugField && impliedSlug === undefined) reader.report(line, `${label} has no "slug"`);
    else {
      slug = slugField ? reader.text(slugField, `the slug of ${label}`) : impliedSlug;
      const slugLine = slugField?.valueLine ?? line;
      if (slug !== undefined && !VIRTUAL_MCP_SLUG.test(slug)) {
        reader.report(
          slugLine,
          `virtual MCP slug "${slug}" must be 1 to 63 lowercase letters, digits or "-", starting with a letter or digit`,
        );
        slug = undefined;
      } else if (slug !== undefined) {
        const firstLine = slugLines.get(slug);
        if (firstLine !== undefined) {
          reader.report(slugLine, `virtual MCP slug "${slug}" is already used by the virtual MCP on line ${firstLine}`);
          slug = undefined;
        } else slugLines.set(slug, line);
      }
    }

    let name: string | undefined;
    const nameField = fields.get("name");
    if (!nameField) reader.report(line, `${label} has no "name"`);
    else {
      name = reader.text(nameField, `the name of ${label}`);
      // Shown as one line by the TUI, `mintgate status` and AI clients (serverInfo.title).
      if (name !== undefined && !this.writable(name, nameField.valueLine, `the name of ${label}`, { lines: false, stored: storedVirtualMcp?.name })) {
        name = undefined;
      } else if (name !== undefined && name !== name.trim()) {
        // The TUI trims a name it is given, so the file refuses edge spaces rather than keep a name the TUI would change.
        reader.report(nameField.valueLine, `the name of ${label} starts or ends with a space; remove it`);
        name = undefined;
      }
    }

    const descriptionField = fields.get("description");
    let description = descriptionField
      ? reader.text(descriptionField, `the description of ${label}`, { allowEmpty: true })
      : "";
    if (descriptionField && description !== undefined) {
      const what = `the description of ${label}`;
      if (!this.writable(description, descriptionField.valueLine, what, { lines: true, stored: storedVirtualMcp?.description })) description = undefined;
    }

    let newTools: NewToolPolicy | undefined = "auto";
    const newToolsField = fields.get("newTools");
    if (newToolsField && isScalar(newToolsField.value) && typeof newToolsField.value.value === "boolean") {
      // `newTools: true` reads like "approve new tools?": quoting it ("true") would not help, so name the two values.
      reader.report(newToolsField.valueLine, `"newTools" of ${label} is ${String(newToolsField.value.value)}; expected auto or approve`);
      newTools = undefined;
    } else if (newToolsField) {
      const policy = reader.text(newToolsField, `"newTools" of ${label}`);
      if (policy !== undefined && !(NEW_TOOL_POLICIES as readonly string[]).includes(policy)) {
        reader.report(newToolsField.valueLine, `"newTools" of ${label} is "${policy}"; expected auto or approve`);
        newTools = undefined;
      } else newTools = policy as NewToolPolicy | undefined;
    }

    const connectors: ConnectorAttachment[] = [];
    const connectorsField = fields.get("connectors");
    const items = connectorsField
      ? (reader.listItems(connectorsField, `"connectors" of ${label} must be a list of connector attachments`) ?? [])
      : [];
    const attachedLines = new Map<string, number>();
    const exposures: Exposure[] = [];
    items.forEach((item, attachmentIndex) => {
      const attachment = this.readAttachment(item.node, item.line, attachmentIndex, label, attachedLines, exposures, storedVirtualMcp);
      if (attachment) connectors.push(attachment);
    });
    this.checkExposedNamesAreUnique(exposures, label);
    const policy = readPolicy(reader, fields, label);

    if (
      reader.problems.length > problemsBefore ||
      slug === undefined ||
      name === undefined ||
      description === undefined ||
      newTools === undefined
    ) {
      return undefined;
    }
    return { slug, name, description, newTools, connectors, ...(policy ? { policy } : {}) };
  }

  private readAttachment(
    node: ValueNode,
    line: number,
    index: number,
    virtualMcpLabel: string,
    attachedLines: Map<string, number>,
    exposures: Exposure[],
    storedVirtualMcp: VirtualMcpDefinition | undefined,
  ): ConnectorAttachment | undefined {
    const reader = this.reader;
    const problemsBefore = reader.problems.length;
    const peekedConnector = reader.peekText(node, "connector");
    const label =
      peekedConnector === undefined
        ? `attachment #${index + 1} of ${virtualMcpLabel}`
        : `connector "${peekedConnector}" in ${virtualMcpLabel}`;
    // `connectors: [demo]` is the likeliest slip: show the mapping it stands for.
    const shorthand = isScalar(node) && typeof node.value === "string" ? `; write { connector: ${node.value} }` : "";
    const fields = reader.fields(
      node,
      line,
      `in ${label}`,
      ATTACHMENT_KEYS,
      `${label} must be a mapping with at least "connector"${shorthand}`,
    );
    if (!fields) return undefined;

    // Which connector; a connector attached twice adds no exposures of its own.
    let connector: string | undefined;
    let repeated = false;
    const connectorField = fields.get("connector");
    if (!connectorField) reader.report(line, `${label} has no "connector"`);
    else {
      connector = reader.text(connectorField, `the connector of ${label}`);
      if (connector !== undefined) {
        if (!this.connectorLines.has(connector)) {
          const where =
            this.attachable === "file" ? 'which is not defined under "connectors"'
            : this.attachable === "stored" ? 'which the gateway does not have (this file has no "connectors" section to define it in)'
            : "which the gateway does not have";
          const guess = closestName(connector, [...this.connectorLines.keys()]);
          const advice = guess !== undefined ? `; did you mean "${guess}"?` : this.attachable === "alone" ? "; add the connector first, or attach one it has" : "";
          reader.report(connectorField.valueLine, `${virtualMcpLabel} attaches connector "${connector}", ${where}${advice}`);
        }
        const firstLine = attachedLines.get(connector);
        if (firstLine !== undefined) {
          reader.report(
            connectorField.valueLine,
            `connector "${connector}" is attached twice to ${virtualMcpLabel} (first on line ${firstLine}); merge the two`,
          );
          repeated = true;
        } else attachedLines.set(connector, line);
      }
    }

    const prefix = this.readPrefix(fields.get("prefix"), connector, connectorField, label, virtualMcpLabel);
    const include = this.readToolList(fields.get("include"), label);
    const exclude = this.readToolList(fields.get("exclude"), label);
    const includeField = fields.get("include");
    const excludeField = fields.get("exclude");
    if (includeField && excludeField) {
      reader.report(
        Math.max(includeField.keyLine, excludeField.keyLine),
        `${label} has both "include" and "exclude"; use one of them`,
      );
    }

    const renameField = fields.get("rename");
    const rename = renameField
      ? reader.textMap(renameField, `"rename" of ${label}`, (key) => `the new name for "${key}" in ${label}`)
      : [];
    for (const entry of rename ?? []) {
      if (entry.key === "") reader.report(entry.keyLine, `"rename" of ${label} has an empty tool name`);
      if (!EXPOSED_NAME.test(entry.value)) {
        reader.report(
          entry.valueLine,
          `the new name "${entry.value}" for tool "${entry.key}" in ${label} must be 1 to 64 letters, digits, "_" or "-"`,
        );
      }
    }
    const describeField = fields.get("describe");
    const describe = describeField
      ? reader.textMap(describeField, `"describe" of ${label}`, (key) => `the description of "${key}" in ${label}`)
      : [];
    const storedDescribe = storedVirtualMcp?.connectors.find((a) => a.connector === connector)?.describe;
    for (const entry of describe ?? []) {
      if (entry.key === "") reader.report(entry.keyLine, `"describe" of ${label} has an empty tool name`);
      const stored = storedDescribe && Object.hasOwn(storedDescribe, entry.key) ? storedDescribe[entry.key] : undefined;
      this.writable(entry.value, entry.valueLine, `the description of "${entry.key}" in ${label}`, { lines: true, stored });
    }

    // rename/describe entries that can never apply are most likely typos.
    const included = include ? new Set(include.map((item) => item.value)) : undefined;
    const excluded = exclude ? new Set(exclude.map((item) => item.value)) : undefined;
    for (const [key, entries] of [
      ["rename", rename],
      ["describe", describe],
    ] as const) {
      for (const entry of entries ?? []) {
        if (included && !included.has(entry.key)) {
          reader.report(entry.keyLine, `"${key}" of tool "${entry.key}" has no effect: ${label} does not include it`);
        } else if (excluded?.has(entry.key)) {
          reader.report(entry.keyLine, `"${key}" of tool "${entry.key}" has no effect: ${label} excludes it`);
        }
      }
    }

    if (connector !== undefined && prefix !== undefined && rename !== undefined && !repeated) {
      this.collectExposures(connector, prefix, include, rename, excluded, label, exposures);
    }

    if (
      reader.problems.length > problemsBefore ||
      connector === undefined ||
      prefix === undefined ||
      rename === undefined ||
      describe === undefined ||
      (includeField && include === undefined) ||
      (excludeField && exclude === undefined)
    ) {
      return undefined;
    }
    return {
      connector,
      prefix,
      ...(include === undefined ? {} : { include: include.map((item) => item.value) }),
      ...(exclude === undefined ? {} : { exclude: exclude.map((item) => item.value) }),
      rename: Object.fromEntries(rename.map((entry) => [entry.key, entry.value])),
      describe: Object.fromEntries(describe.map((entry) => [entry.key, entry.value])),
    };
  }

  private readPrefix(
    field: Field | undefined,
    connector: string | undefined,
    connectorField: Field | undefined,
    label: string,
    virtualMcpLabel: string,
  ): string | undefined {
    const reader = this.reader;
    if (!field) {
      if (connector === undefined) return undefined;
      if (connector.includes(PREFIX_SEPARATOR)) {
        reader.report(
          connectorField?.valueLine ?? 1,
          `connector name "${connector}" contains "${PREFIX_SEPARATOR}", so it cannot be the tool prefix in ${virtualMcpLabel}; set "prefix" on this attachment`,
        );
        return undefined;
      }
      return connector;
    }
    // "prefix:" with nothing after it is more likely a slip than a wish to drop the prefix: that is written "".
    if (reader.isEmpty(field.value)) {
      reader.report(field.valueLine, `the prefix of ${label} has no value; write prefix: "" to expose the upstream names unchanged, or remove the key to use the connector's name`);
      return undefined;
    }
    const prefix = reader.text(field, `the prefix of ${label}`, { allowEmpty: true });
    if (prefix === undefined) return undefined;
    if (!PREFIX.test(prefix)) {
      reader.report(field.valueLine, `the prefix "${prefix}" of ${label} must be at most 32 letters, digits, "_" or "-"`);
      return undefined;
    }
    if (prefix.includes(PREFIX_SEPARATOR)) {
      reader.report(
        field.valueLine,
        `the prefix "${prefix}" of ${label} must not contain "${PREFIX_SEPARATOR}", which separates the prefix from the tool name`,
      );
      return undefined;
    }
    return prefix;
  }

  private readToolList(field: Field | undefined, label: string): StringItem[] | undefined {
    if (!field) return undefined;
    const reader = this.reader;
    const items = reader.textList(
      field,
      `"${field.key}" of ${label}`,
      (i) => `tool #${i + 1} in "${field.key}" of ${label}`,
      { emptyIsList: false },
    );
    if (items === undefined) return undefined;
    let ok = true;
    for (const item of items) {
      if (item.value === "") {
        reader.report(item.line, `"${field.key}" of ${label} has an empty tool name`);
        ok = false;
      }
    }
    return ok ? items : undefined;
  }

  /**
   * The exposed names that can be known without asking the upstream server: the
   * include list, or else the tools named by rename (those not excluded).
   */
  private collectExposures(
    connector: string,
    prefix: string,
    include: StringItem[] | undefined,
    rename: StringEntry[],
    excluded: ReadonlySet<string> | undefined,
    label: string,
    exposures: Exposure[],
  ): void {
    const renames = new Map(rename.map((entry) => [entry.key, entry]));
    const upstream: StringItem[] = include
      ? include
      : rename.filter((entry) => !excluded?.has(entry.key)).map((entry) => ({ value: entry.key, line: entry.valueLine }));
    const seen = new Set<string>();
    for (const tool of upstream) {
      if (seen.has(tool.value)) continue;
      seen.add(tool.value);
      const renamed = renames.get(tool.value);
      if (renamed && !EXPOSED_NAME.test(renamed.value)) continue; // already reported
      const base = renamed ? renamed.value : tool.value;
      const name = prefix === "" ? base : `${prefix}${PREFIX_SEPARATOR}${base}`;
      const line = renamed ? renamed.valueLine : tool.line;
      if (!EXPOSED_NAME.test(name)) {
        this.reader.report(
          line,
          `tool "${tool.value}" of ${label} would be exposed as "${name}", which is not 1 to 64 letters, digits, "_" or "-"; ${
            renamed ? "choose a shorter name or prefix" : "rename it or shorten the prefix"
          }`,
        );
        continue;
      }
      exposures.push({ name, source: `${connector} tool "${tool.value}"${renamed ? " (renamed)" : ""}`, line });
    }
  }

  private checkExposedNamesAreUnique(exposures: Exposure[], virtualMcpLabel: string): void {
    const first = new Map<string, Exposure>();
    for (const exposure of [...exposures].sort((a, b) => a.line - b.line)) {
      const earlier = first.get(exposure.name);
      if (!earlier) {
        first.set(exposure.name, exposure);
        continue;
      }
      this.reader.report(
        exposure.line,
        `"${exposure.name}" is exposed twice in ${virtualMcpLabel}: by ${earlier.source} and by ${exposure.source}`,
      );
    }
  }
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
}
