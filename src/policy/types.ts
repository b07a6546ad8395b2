/**
 * Access policies: who may reach a Virtual MCP, and which of its tools,
 * prompts and resources each person may see and use. Stored with the Virtual
 * MCP (mintgate.yaml `access`, `tools`, `prompts`, `resources`).
 */

/** People by email (in canonical form, as canonicalEmail makes it where a policy enters) and groups by name. */
export interface PeopleMatch {
  users?: string[] | undefined;
  groups?: string[] | undefined;
}

/** Who may reach a Virtual MCP at all. Absent: admins only (default deny). */
export interface AccessRule extends PeopleMatch {
  /** Every signed-in person (and every personal access token holder). */
  everyone?: boolean | undefined;
}

/** Allow or deny one tool, prompt or resource; deny wins. With `allow`, only those it names. */
export interface ItemRule {
  allow?: PeopleMatch | undefined;
  deny?: PeopleMatch | undefined;
}

export type PinMismatch = "replace" | "refuse";

/**
 * Checks on one argument of a tool call, applied to what is sent upstream. Without `pin` or `required`,
 * a call that leaves the argument out is not checked: it goes upstream without it, and the upstream's default applies.
 */
export interface ArgumentRule {
  /** The value sent upstream whatever the client sent (see `onMismatch`). */
  pin?: unknown;
  /** What to do when the client sent another value than `pin`: replace it (default) or refuse the call. */
  onMismatch?: PinMismatch | undefined;
  /** A call must send the argument (left out or `null`: refused), checked before the others. Not with `pin`, which supplies it. */
  required?: boolean | undefined;
  /** The value must equal one of these. */
  allowed?: unknown[] | undefined;
  /** The value must be a string matching this regular expression (JavaScript syntax, unanchored unless written with ^ and $). */
  pattern?: string | undefined;
  /** The value must be a number no larger than this. */
  max?: number | undefined;
  /** The value must be a string of at most this many characters. */
  maxLength?: number | undefined;
}

export interface ToolRule extends ItemRule {
  /** By argument name. */
  arguments?: Record<string, ArgumentRule> | undefined;
}

export interface VirtualMcpPolicy {
  access?: AccessRule | undefined;
  /** By exposed tool name. */
  tools?: Record<string, ToolRule> | undefined;
  /** By exposed prompt name. */
  prompts?: Record<string, ItemRule> | undefined;
  /** By exposed resource URI or URI template (which covers every URI it expands to); a key ending in `*` covers every URI starting with what comes before it. Where several cover a URI, the exact key decides, else the one that fixes more of its start. */
  resources?: Record<string, ItemRule> | undefined;
}

/** Who is asking, as the policy sees them. */
export interface Subject {
  userId: string | null;
  email: string;
  /** null for a personal access token whose email has no person record: such a holder counts as a member with no groups. */
  role: "admin" | "member" | null;
  groups: string[];
}

export type ItemKind = "tool" | "prompt" | "resource";

export type Action =
  /** Reach the Virtual MCP (every request to it). */
  | { kind: "reach"; virtualMcp: string; policy: VirtualMcpPolicy }
  /** See and use one tool, prompt or resource (listing and calling alike). */
  | { kind: ItemKind; virtualMcp: string; policy: VirtualMcpPolicy; name: string }
  /** The arguments of a tool call, checked and pinned. */
  | {
      kind: "arguments";
      virtualMcp: string;
      policy: VirtualMcpPolicy;
      tool: string;
      arguments: Record<string, unknown> | undefined;
      /** Arguments whose values a refusal must not quote (names that look secret: the audit trail keeps the reason, and redacts only the arguments). */
      isSecret?: ((argument: string) => boolean) | undefined;
    };

export type Decision =
  | { allow: true; rule: string; /** For `arguments`: what goes upstream (pins applied). */ arguments?: Record<string, unknown> | undefined }
  | { allow: false; reason: string; rule: string };
