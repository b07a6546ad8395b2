import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { Catalogue } from "../connectors/index.ts";
import { invisibleTextIn, invisibleTextSaid } from "../connectors/invisible-text.ts";
import type { Decision } from "../policy/index.ts";
import { hasUnprintable } from "../terminal/index.ts";
import { EXPOSED_NAME, PREFIX_SEPARATOR, type ConnectorAttachment, type VirtualMcpDefinition } from "./types.ts";

export interface ExposedTool {
  name: string;
  connector: string;
  /** The attachment's prefix: resources named in the tool's results are exposed under it. */
  prefix: string;
  upstreamName: string;
  /** What clients see: the upstream definition with the exposed name and any description override. */
  definition: Tool;
}

export interface ExposedPrompt {
  name: string;
  connector: string;
  prefix: string;
  upstreamName: string;
  definition: Prompt;
}

export interface PendingTool {
  connector: string;
  /** The attachment's prefix: the interface the tool names is reviewed by its exposed URI. */
  prefix: string;
  upstreamName: string;
  exposedName: string;
  hash: string;
  reason: "new" | "changed";
  definition: Tool;
}

/** What one Virtual MCP shows, computed from its configuration and its connectors' catalogues. */
export interface CuratedCatalogue {
  tools: ExposedTool[];
  toolsByName: Map<string, ExposedTool>;
  prompts: ExposedPrompt[];
  promptsByName: Map<string, ExposedPrompt>;
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** Tools held back by the `approve` policy. */
  pending: PendingTool[];
  /** Tools that could not be exposed (bad or colliding names), one sentence each. */
  problems: string[];
  /** Tools (exposed or waiting for approval), prompts and resources whose definition holds invisible characters (see invisibleTextIn), one sentence each. */
  invisibleText: string[];
  /** Names the configuration gives that match nothing a connector with a known tool list offers (see `unmatchedNames`). */
  unmatched: UnmatchedNames[];
}

/**
 * Names written in a Virtual MCP's configuration that match no tool (a typo, or a tool the upstream
 * has since removed): they have no effect, and nothing else would tell an admin so.
 */
export interface UnmatchedNames {
  /** Where they are written: an attached connector's curation (by key), or the policy (by section). */
  where: { connector: string; keys: Partial<Record<CurationKey, string[]>> } | { policy: "tools" | "prompts" };
  names: string[];
}

type CurationKey = "include" | "exclude" | "rename" | "describe";

/** Approved definition hashes, by connector and upstream tool name. */
export type ApprovalLookup = (connector: string, upstreamName: string) => string | undefined;

export function exposedName(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}${PREFIX_SEPARATOR}${name}`;
}

/**
 * A name that is no valid exposed name, quoted for a problem sentence: cut short (an upstream's name of megabytes
 * would be a log line and an admin status of megabytes) and escaped (a line break would break the TUI's lines).
 */
function quotedUnfitName(name: string): string {
  return JSON.stringify(name.length > UNFIT_NAME_SHOWN ? `${name.slice(0, UNFIT_NAME_SHOWN)}…` : name);
}
const UNFIT_NAME_SHOWN = 100;

/**
 * Whether an exposed prompt name can be offered: MCP gives prompt names no alphabet, and servers use spaces and dots
 * ("code review", "git.commit"). Held to the tool names' alphabet, such a prompt made its connector's Virtual MCPs
 * refuse to apply, with nothing the admin could do (prompts are not renamed). It is looked up by its exact name, as
 * written; only what would break the lists people read (a control character, a bidi override) or a name of pages is refused.
 */
function isPromptName(name: string): boolean {
  return name.length > 0 && name.length <= PROMPT_NAME_MAX && !hasUnprintable(name);
}
const PROMPT_NAME_MAX = 128;

/**
 * Resource URIs get the prefix as a scheme prefix (`ev+file:///x`), which maps back exactly. A `ui://` URI (the
 * interface of an MCP App, SEP-1865) keeps its scheme, which hosts require of app resources: the prefix goes in
 * front of its authority instead (`ui://wx+weather/view.html`; `+` is allowed in a host), which maps back as exactly.
 */
export function exposedUri(prefix: string, uri: string): string {
  if (prefix === "") return uri;
  return uri.startsWith(UI_SCHEME) ? `${UI_SCHEME}${prefix}+${uri.slice(UI_SCHEME.length)}` : `${prefix}+${uri}`;
}

const UI_SCHEME = "ui://";

/**
 * How a prefixed `ui://` URI was exposed before it kept its scheme (`wx+ui://weather/view.html`): policies may
 * name it so, and their rules must keep deciding for it. Undefined for any other URI, which only has one form.
 */
function formerUiUri(prefix: string, upstreamUri: string): string | undefined {
  return prefix !== "" && upstreamUri.startsWith(UI_SCHEME) ? `${prefix}+${upstreamUri}` : undefined;
}

/** The form a policy may still name an exposed `ui://` resource (or template) by, besides its URI (see formerUiUri); undefined for any other. */
export function formerExposedUri(attachments: ConnectorAttachment[], uri: string): string | undefined {
  if (!uri.startsWith(UI_SCHEME)) return undefined;
  const route = routeUri(attachments, uri);
  return route && formerUiUri(route.attachment.prefix, route.upstreamUri);
}

/**
 * Where a tool's `_meta` names the resource holding its MCP App's interface: SEP-1865's `ui.resourceUri`, and
 * the flat keys of its earlier drafts and of OpenAI's Apps SDK.
 */
const FLAT_UI_META_KEYS = ["ui/resourceUri", "openai/outputTemplate"] as const;

/**
 * A tool's `_meta` with the resources holding its interface named by their exposed URIs, so that a host reads
 * them back through the gateway; the same object when it names none. Nothing else of it changes.
 */
function withExposedUiMeta(prefix: string, meta: Tool["_meta"]): Tool["_meta"] {
  if (prefix === "" || meta === undefined) return meta;
  let exposed = meta;
  const ui = meta.ui as { resourceUri?: unknown } | null | undefined;
  if (typeof ui?.resourceUri === "string") exposed = { ...exposed, ui: { ...ui, resourceUri: exposedUri(prefix, ui.resourceUri) } };
  for (const key of FLAT_UI_META_KEYS) {
    const uri = meta[key];
    if (typeof uri === "string") exposed = { ...exposed, [key]: exposedUri(prefix, uri) };
  }
  return exposed;
}

/** The URIs a tool's `_meta` names its interface by, keyed by where it names each: `ui.resourceUri` (nested) and the flat keys. */
export type UiPointers = Partial<Record<"ui.resourceUri" | (typeof FLAT_UI_META_KEYS)[number], string>>;

/** Where a tool's `_meta` names the resources holding its interface (see FLAT_UI_META_KEYS); undefined when it names none. */
export function uiPointersOf(meta: Tool["_meta"]): UiPointers | undefined {
  if (meta === undefined) return undefined;
  const pointers: UiPointers = {};
  const nested = (meta.ui as { resourceUri?: unknown } | null | undefined)?.resourceUri;
  if (typeof nested === "string") pointers["ui.resourceUri"] = nested;
  for (const key of FLAT_UI_META_KEYS) {
    const uri = meta[key];
    if (typeof uri === "string") pointers[key] = uri;
  }
  return Object.keys(pointers).length > 0 ? pointers : undefined;
}

/** `pointers` by the URIs clients get under `prefix` (see exposedUri). */
export function exposedUiPointers(prefix: string, pointers: UiPointers | undefined): UiPointers | undefined {
  if (pointers === undefined) return undefined;
  return Object.fromEntries(Object.entries(pointers).map(([key, uri]) => [key, exposedUri(prefix, uri)]));
}

/** The exposed URIs of the resources a tool's definition names as its interface (see withExposedUiMeta). */
export function uiResourcesOf(tool: Tool): string[] {
  return Object.values(uiPointersOf(tool._meta) ?? {});
}

type ContentBlock = { type?: unknown; uri?: unknown; resource?: { uri?: unknown } } | null | undefined;

/** Why the person may not read a resource, by its exposed URI; undefined when they may. */
export type ReadRefusal = (exposedUri: string) => string | undefined;

/** A link to a resource or an embedded one: its URI is the upstream's, and the client must be given the exposed one. */
const namesResource = (block: ContentBlock) => block?.type === "resource_link" || block?.type === "resource";

/**
 * A block with its resource's exposed URI. An embedded resource the person may not read is replaced by a text
 * saying so: otherwise a tool or prompt they may use handed them, under its exposed URI, what resources/read refuses
 * them (server-everything's resource-prompt embeds any demo://resource/dynamic/text/N). A link is only a name, kept.
 */
function exposedBlock(prefix: string, block: ContentBlock, refusal: ReadRefusal): ContentBlock {
  if (block?.type === "resource_link" && typeof block.uri === "string") return prefix === "" ? block : { ...block, uri: exposedUri(prefix, block.uri) };
  if (block?.type === "resource" && typeof block.resource?.uri === "string") {
    const uri = exposedUri(prefix, block.resource.uri);
    const refused = refusal(uri);
    if (refused !== undefined) return { type: "text", text: `An embedded resource was withheld: ${refused}` } as ContentBlock;
    return prefix === "" ? block : { ...block, resource: { ...block.resource, uri } };
  }
  return block;
}

/**
 * A tool result whose content links to or embeds resources, with their
 * exposed URIs (a client reads them back through the gateway) and without the
 * embedded ones the person may not read; any other result is returned as it
 * is, to be passed on as the upstream sent it.
 */
export function withExposedResourcesOfTool(prefix: string, result: Record<string, unknown>, refusal: ReadRefusal): Record<string, unknown> {
  const content = result.content as ContentBlock[] | undefined;
  if (!Array.isArray(content) || !content.some(namesResource)) return result;
  const blocks = content.map((block) => exposedBlock(prefix, block, refusal));
  return blocks.every((block, i) => block === content[i]) ? result : { ...result, content: blocks };
}

/** A prompt's messages with the resources they embed or link to under their exposed URIs, as for tool results. */
export function withExposedResourcesOfPrompt(prefix: string, result: Record<string, unknown>, refusal: ReadRefusal): Record<string, unknown> {
  const messages = result.messages as { content?: ContentBlock }[] | undefined;
  if (!Array.isArray(messages) || !messages.some((m) => namesResource(m?.content))) return result;
  const exposed = messages.map((m) => (namesResource(m?.content) ? { ...m, content: exposedBlock(prefix, m.content, refusal) } : m));
  return exposed.every((m, i) => m.content === messages[i]?.content) ? result : { ...result, messages: exposed };
}

/** Whether a connector lists a resource, or a template it may be read through, by its upstream URI. */
export type ServesUri = (connector: string, upstreamUri: string) => boolean;

type UriRoute = { attachment: ConnectorAttachment; upstreamUri: string };

/**
 * Which attachment an exposed resource URI belongs to, and the upstream URI. Some exposed URIs could be two
 * connectors' (two attached under one prefix, or `git+ssh://…` of an unprefixed one beside one prefixed "git"):
 * with `serves`, such a URI goes to the connector that lists it, not to the first that might, which would answer
 * for a resource it does not have. One that none lists goes where it always did.
 */
export function routeUri(attachments: ConnectorAttachment[], uri: string, serves?: ServesUri): UriRoute | undefined {
  const unprefixed = (): UriRoute | undefined => {
    const attachment = servingAttachment(attachments, "", uri, serves);
    return attachment && { attachment, upstreamUri: uri };
  };
  const prefixed = prefixedRoute(attachments, uri, serves);
  if (prefixed === undefined) return unprefixed();
  if (serves !== undefined && attachments.some((a) => a.prefix === "") && !serves(prefixed.attachment.connector, prefixed.upstreamUri)) {
    const other = unprefixed();
    if (other !== undefined && serves(other.attachment.connector, uri)) return other;
  }
  return prefixed;
}

/** The route of a URI by the prefix it starts with (see exposedUri), when an attachment has that prefix. */
function prefixedRoute(attachments: ConnectorAttachment[], uri: string, serves: ServesUri | undefined): UriRoute | undefined {
  // `ui://wx+weather/view.html` (see exposedUri); `wx+ui://weather/view.html`, as such URIs were exposed before, still routes below.
  const ui = uri.startsWith(UI_SCHEME);
  const start = ui ? UI_SCHEME.length : 0;
  const plus = uri.indexOf("+", start);
  if (plus <= start) return undefined;
  const upstreamUri = ui ? UI_SCHEME + uri.slice(plus + 1) : uri.slice(plus + 1);
  const attachment = servingAttachment(attachments, uri.slice(start, plus), upstreamUri, serves);
  return attachment && { attachment, upstreamUri };
}

/** Of the attachments under `prefix`, the first whose connector serves `upstreamUri`; the first of them when none does (it may serve URIs it does not list). */
function servingAttachment(attachments: ConnectorAttachment[], prefix: string, upstreamUri: string, serves: ServesUri | undefined): ConnectorAttachment | undefined {
  const under = attachments.filter((a) => a.prefix === prefix);
  if (under.length < 2 || serves === undefined) return under[0];
  return under.find((a) => serves(a.connector, upstreamUri)) ?? under[0];
}

/**
 * Other spellings of an upstream resource URI that an upstream may read as the same resource: as a URL parser
 * reads it (SDK servers look resources up by `new URL(uri)`: the scheme's case, spaces at the ends, tabs inside and
 * `..` segments do not matter there), with its percent-escapes decoded (a server that decodes the path reads
 * `%73ecrets` as `secrets`, and `x/..%2fsecrets`, its dot segments resolved after, as `secrets`), and with runs of
 * slashes in its path made one (a file server reads `////secrets` as `/secrets`). The URI itself is not among them.
 * A policy refusing any of them refuses the URI.
 */
export function otherSpellingsOf(uri: string): string[] {
  const spellings = new Set<string>();
  const parsed = URL.parse(uri)?.href;
  for (const form of parsed === undefined ? [uri] : [uri, parsed]) {
    spellings.add(form);
    const decoded = percentDecoded(form);
    spellings.add(decoded);
    spellings.add(singleSlashes(decoded));
    // Decoded first, its dot segments resolved after: an upstream that does both reads `x/..%2f42` as `42`.
    const resolved = decoded === form ? undefined : URL.parse(decoded)?.href;
    if (resolved !== undefined) {
      spellings.add(resolved);
      spellings.add(singleSlashes(resolved));
    }
  }
  spellings.delete(uri);
  return [...spellings];
}

/**
 * The policy's decision on a resource, as the client wrote its exposed URI and under every other spelling its
 * upstream may read as the same resource (see otherSpellingsOf): a refusal of any of them is the decision, so no
 * spelling reaches what the policy hides. `decideUri` decides one exposed URI; `route` is where `uri` goes. The
 * gateway and `mintgate policy explain` both decide through it, so that they agree.
 */
export function decideEverySpelling(uri: string, route: ReturnType<typeof routeUri>, decideUri: (exposedUri: string) => Decision): Decision {
  const asSent = decideUri(uri);
  if (!asSent.allow || !route) return asSent;
  const { prefix } = route.attachment;
  for (const spelling of [route.upstreamUri, ...otherSpellingsOf(route.upstreamUri)]) {
    // A `ui://` URI is also decided in the form it was exposed in before (and in today's, when sent in that one).
    for (const exposed of [exposedUri(prefix, spelling), formerUiUri(prefix, spelling)]) {
      if (exposed === undefined || exposed === uri) continue;
      const decision = decideUri(exposed);
      if (!decision.allow) return decision;
    }
  }
  return asSent;
}

function percentDecoded(uri: string): string {
  if (!uri.includes("%")) return uri;
  try {
    return decodeURIComponent(uri);
  } catch {
    // A stray % (not followed by two hex digits) spoils the whole: decoded escape by escape instead.
    return uri.replace(/%[0-9A-Fa-f]{2}/g, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)));
  }
}

function singleSlashes(uri: string): string {
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(uri)?.[0] ?? "";
  return authority + uri.slice(authority.length).replace(/\/{2,}/g, "/");
}

/** JSON with sorted keys, so equal definitions hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * What an approval covers: the tool's name, description, input schema and annotations, and the interface its `_meta`
 * names (an MCP App's interface can call tools: pointing an approved tool at another one needs a review too). The
 * interface is covered only when named, so the definition of every other tool hashes as it did before it was covered.
 */
export function approvalCovers(tool: Pick<Tool, "name" | "description" | "inputSchema" | "annotations" | "_meta">): Record<string, unknown> {
  return { name: tool.name, description: tool.description, inputSchema: tool.inputSchema, annotations: tool.annotations, ui: uiPointersOf(tool._meta) };
}

/** The hash of what an approval covers (see approvalCovers), as approvals are stored. */
export function toolDefinitionHash(tool: Tool): string {
  return new Bun.CryptoHasher("sha256").update(canonicalJson(approvalCovers(tool))).digest("hex");
}

/** What is wrong with a tool's input or output schema, where MCP requires a JSON Schema object of type "object", or its `_meta`, an object; undefined when nothing is. */
function unfitSchema(tool: Tool): string | undefined {
  const isObjectSchema = (schema: unknown) => typeof schema === "object" && schema !== null && !Array.isArray(schema) && (schema as { type?: unknown }).type === "object";
  if (!isObjectSchema(tool.inputSchema)) return tool.inputSchema === undefined ? "has no inputSchema" : 'has an inputSchema not of type "object"';
  if (tool.outputSchema !== undefined && !isObjectSchema(tool.outputSchema)) return 'has an outputSchema not of type "object"';
  // Read for its interface (the approval's hash, the exposed URIs): a null one made curating every tool of the Virtual MCP throw.
  const meta: unknown = tool._meta;
  if (meta !== undefined && (typeof meta !== "object" || meta === null || Array.isArray(meta))) return "has a _meta that is not an object";
  return undefined;
}

function isIncluded(attachment: ConnectorAttachment, upstreamName: string): boolean {
  if (attachment.include) return attachment.include.includes(upstreamName);
  if (attachment.exclude) return !attachment.exclude.includes(upstreamName);
  return true;
}

export function curate(
  vmcp: VirtualMcpDefinition,
  catalogueOf: (connector: string) => Catalogue,
  approvedHash: ApprovalLookup,
  /** The tools exposed until now: when an upstream adds a tool whose name is taken, the tool clients were calling keeps it. */
  previous?: ReadonlyMap<string, ExposedTool>,
  /** Whether a connector's tool list is known (not only an empty placeholder): given, names that match nothing are found (`unmatched`). */
  isKnown?: (connector: string) => boolean,
): CuratedCatalogue {
  const result: CuratedCatalogue = {
    tools: [],
    toolsByName: new Map(),
    prompts: [],
    promptsByName: new Map(),
    resources: [],
    resourceTemplates: [],
    pending: [],
    problems: [],
    invisibleText: [],
    unmatched: [],
  };
  /** Says what invisible characters the definition clients get (or would, once approved) holds, if any. */
  const sayInvisibleText = (what: string, definition: object, remedy: string) => {
    const found = invisibleTextIn(definition);
    if (found) result.invisibleText.push(`${what} holds ${invisibleTextSaid(found)}, which AI clients read and terminals do not show; ${remedy}.`);
  };
  const unlessMeant = "if its upstream server does not mean them";
  /** Who holds each exposed name: a tool shown to clients, or one held back for approval. */
  const toolSources = new Map<string, { source: string; exposed?: ExposedTool }>();
  const incumbent = (name: string, connector: string, upstreamName: string) => {
    const before = previous?.get(name);
    return before !== undefined && before.connector === connector && before.upstreamName === upstreamName;
  };
  const promptSources = new Map<string, string>();

  for (const attachment of vmcp.connectors) {
    const catalogue = catalogueOf(attachment.connector);
    for (const tool of catalogue.tools) {
      // A tool that runs only as a task could never be called here: the gateway does not relay tasks (yet).
      if ((tool as { execution?: { taskSupport?: unknown } }).execution?.taskSupport === "required") continue;
      if (!isIncluded(attachment, tool.name)) continue;
      // Own keys only: a tool named like an Object method ("constructor", "valueOf") read the method as its new name and was hidden.
      const renamed = Object.hasOwn(attachment.rename, tool.name) ? attachment.rename[tool.name] : undefined;
      const name = exposedName(attachment.prefix, renamed ?? tool.name);
      const source = `${attachment.connector} tool "${tool.name}"${renamed ? " (renamed)" : ""}`;
      if (!EXPOSED_NAME.test(name)) {
        const unfitSource = `${attachment.connector} tool ${quotedUnfitName(tool.name)}${renamed ? " (renamed)" : ""}`;
        result.problems.push(`${quotedUnfitName(name)} (from ${unfitSource}) is not a valid tool name: at most 64 letters, digits, "_" or "-"; shorten the prefix or rename the tool.`);
        continue;
      }
      // Clients check every tool of a list against the MCP schema: one without an object input schema fails the whole tools/list, every connector's tools with it.
      const unfit = unfitSchema(tool);
      if (unfit) {
        result.problems.push(`"${name}" (from ${source}) ${unfit}, which MCP clients refuse (so it is hidden); exclude the tool or fix it in its upstream server.`);
        continue;
      }
      let pending: PendingTool | undefined;
      if (vmcp.newTools === "approve") {
        const hash = toolDefinitionHash(tool);
        const approved = approvedHash(attachment.connector, tool.name);
        if (approved !== hash) pending = { connector: attachment.connector, prefix: attachment.prefix, upstreamName: tool.name, exposedName: name, hash, reason: approved ? "changed" : "new", definition: tool };
      }
      const earlier = toolSources.get(name);
      if (earlier) {
        result.problems.push(`"${name}" is exposed twice in virtual MCP "${vmcp.slug}": by ${earlier.source} and by ${source}; rename one of them.`);
        // A name taken at run time (an upstream added a tool) stays with the tool clients were calling under it:
        // a tool waiting for approval, or one that was never exposed, must not hide it or take over its calls.
        const takesOver = !pending && (!earlier.exposed || (incumbent(name, attachment.connector, tool.name) && !incumbent(name, earlier.exposed.connector, earlier.exposed.upstreamName)));
        if (!takesOver) {
          if (pending) result.pending.push(pending);
          continue;
        }
        if (earlier.exposed) result.tools.splice(result.tools.indexOf(earlier.exposed), 1);
      }
      if (pending) {
        result.pending.push(pending);
        toolSources.set(name, { source });
        sayInvisibleText(`Tool "${name}" (from ${source}, waiting for approval)`, tool, `${unlessMeant}, do not approve it`);
        continue;
      }
      const description = (Object.hasOwn(attachment.describe, tool.name) ? attachment.describe[tool.name] : undefined) ?? tool.description;
      // An MCP App's interface is read back by the URI its `_meta` gives: the exposed one. The approval's hash stays over the upstream's URIs.
      const meta = withExposedUiMeta(attachment.prefix, tool._meta);
      const definition: Tool = { ...tool, name, ...(description === undefined ? {} : { description }), ...(meta === tool._meta ? {} : { _meta: meta }) };
      sayInvisibleText(`Tool "${name}" (from ${source})`, definition, `${unlessMeant}, exclude the tool or give it a description of your own`);
      const exposed = { name, connector: attachment.connector, prefix: attachment.prefix, upstreamName: tool.name, definition };
      toolSources.set(name, { source, exposed });
      result.tools.push(exposed);
      result.toolsByName.set(name, exposed);
    }

    for (const prompt of catalogue.prompts) {
      const name = exposedName(attachment.prefix, prompt.name);
      const earlier = promptSources.get(name);
      if (earlier || !isPromptName(name)) {
        result.problems.push(
          earlier
            ? `Prompt "${name}" is exposed twice in virtual MCP "${vmcp.slug}": by ${earlier} and by ${attachment.connector}; give one of them another prefix (prompts cannot be renamed).`
            : `Prompt name ${quotedUnfitName(name)} from ${attachment.connector} is not valid: at most ${PROMPT_NAME_MAX} characters, none of them a control character; shorten the prefix, or have the upstream rename the prompt.`,
        );
        continue;
      }
      promptSources.set(name, attachment.connector);
      const exposed = { name, connector: attachment.connector, prefix: attachment.prefix, upstreamName: prompt.name, definition: { ...prompt, name } };
      sayInvisibleText(`Prompt "${name}" (from ${attachment.connector})`, exposed.definition, `${unlessMeant}, have them removed there or detach the connector`);
      result.prompts.push(exposed);
      result.promptsByName.set(name, exposed);
    }

    for (const resource of catalogue.resources) {
      const uri = exposedUri(attachment.prefix, resource.uri);
      result.resources.push({ ...resource, uri });
      sayInvisibleText(`Resource ${quotedUnfitName(uri)} (from ${attachment.connector})`, resource, `${unlessMeant}, have them removed there or detach the connector`);
    }
    for (const template of catalogue.resourceTemplates) {
      const uriTemplate = exposedUri(attachment.prefix, template.uriTemplate);
      result.resourceTemplates.push({ ...template, uriTemplate });
      sayInvisibleText(`Resource template ${quotedUnfitName(uriTemplate)} (from ${attachment.connector})`, template, `${unlessMeant}, have them removed there or detach the connector`);
    }
  }
  if (isKnown) result.unmatched = unmatchedNames(vmcp, catalogueOf, isKnown, result);
  return result;
}

/**
 * The names in `vmcp`'s curation (`include`, `exclude`, `rename`, `describe`: upstream names) that its
 * connector does not offer, for each connector whose tool list is known; and the names in its policy's
 * `tools` and `prompts` (exposed names) that it neither exposes nor holds for approval, once every
 * attached connector's list is known (a name may come from any of them). Resource keys are patterns and
 * templates, not names, and are left alone.
 */
function unmatchedNames(vmcp: VirtualMcpDefinition, catalogueOf: (connector: string) => Catalogue, isKnown: (connector: string) => boolean, curated: CuratedCatalogue): UnmatchedNames[] {
  const unmatched: UnmatchedNames[] = [];
  for (const attachment of vmcp.connectors) {
    if (!isKnown(attachment.connector)) continue;
    const offered = new Set(catalogueOf(attachment.connector).tools.map((t) => t.name));
    const written: Record<CurationKey, string[]> = { include: attachment.include ?? [], exclude: attachment.exclude ?? [], rename: Object.keys(attachment.rename), describe: Object.keys(attachment.describe) };
    const keys: Partial<Record<CurationKey, string[]>> = {};
    for (const [key, names] of Object.entries(written) as [CurationKey, string[]][]) {
      const missing = [...new Set(names.filter((name) => !offered.has(name)))];
      if (missing.length > 0) keys[key] = missing;
    }
    const names = [...new Set(Object.values(keys).flat())].sort();
    if (names.length > 0) unmatched.push({ where: { connector: attachment.connector, keys }, names });
  }
  if (vmcp.policy && vmcp.connectors.every((a) => isKnown(a.connector))) {
    const exposed = { tools: new Set([...curated.tools.map((t) => t.name), ...curated.pending.map((p) => p.exposedName)]), prompts: new Set(curated.prompts.map((p) => p.name)) };
    for (const section of ["tools", "prompts"] as const) {
      const names = Object.keys(vmcp.policy[section] ?? {}).filter((name) => !exposed[section].has(name)).sort();
      if (names.length > 0) unmatched.push({ where: { policy: section }, names });
    }
  }
  return unmatched;
}

/** One sentence about names of `slug` that match nothing, saying what to do. */
export function unmatchedProblem(slug: string, unmatched: UnmatchedNames): string {
  const quoted = (names: string[]) => names.map((name) => JSON.stringify(name)).join(", ");
  const { where } = unmatched;
  if ("policy" in where) {
    const kind = where.policy === "tools" ? "tool" : "prompt";
    return `The policy of virtual MCP "${slug}" names ${kind}s it does not expose, so their rules have no effect: ${quoted(unmatched.names)}; correct or remove them (its ${kind} list shows the names).`;
  }
  const places = (Object.entries(where.keys) as [CurationKey, string[]][]).map(([key, names]) => `${key} ${quoted(names)}`).join(", ");
  return `Connector "${where.connector}" offers no tool named in virtual MCP "${slug}" by ${places}, so those entries have no effect; correct or remove them (its tool list shows the names).`;
}
