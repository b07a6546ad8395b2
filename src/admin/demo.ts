import { randomBytes } from "node:crypto";
import { recordAdminChange } from "../audit/index.ts";
import type { AccessTokenService } from "../auth/index.ts";
import type { UserDirectory } from "../auth/accounts/index.ts";
import { DEFAULT_CALL_TIMEOUT_MS, type ConnectorDefinition } from "../connectors/index.ts";
import type { VirtualMcpDefinition } from "../gateway/index.ts";
import type { Store } from "../store/index.ts";
import { clientSetups, virtualMcpUrl } from "../client-setup/index.ts";
import type { GatewayConfigService } from "./gateway-config.ts";

const DEMO_SLUG = "demo";
const demoConnector = (name: string): ConnectorDefinition => ({ name, spec: { kind: "builtin", server: "demo" }, timeoutMs: DEFAULT_CALL_TIMEOUT_MS });
const demoVirtualMcp = (connector: string): VirtualMcpDefinition => ({
  slug: DEMO_SLUG,
  name: "mintgate demo",
  description: "Demo tools built into mintgate: echo, add, now and countdown.",
  newTools: "auto",
  connectors: [{ connector, prefix: "demo", rename: {}, describe: {} }],
  // The demo token's email has no person record: the demo is open to everyone signed in.
  policy: { access: { everyone: true } },
});

/**
 * The name the demo's built-in connector has, or gets: "demo", unless a connector of the user's own has that name (the
 * demo Virtual MCP, open to everyone signed in, would then have exposed it to everyone), then the first free of
 * "mintgate-demo", "mintgate-demo-2"…
 */
function demoConnectorName(connectors: readonly ConnectorDefinition[]): string {
  const usable = (name: string) => {
    const found = connectors.find((c) => c.name === name);
    return found === undefined || (found.spec.kind === "builtin" && found.spec.server === "demo");
  };
  if (usable("demo")) return "demo";
  for (let n = 1; ; n++) {
    const name = n === 1 ? "mintgate-demo" : `mintgate-demo-${n}`;
    if (usable(name)) return name;
  }
}
const DEMO_SUBJECT = "demo@mintgate.localhost";
const DEMO_TOKEN_LIFETIME_MS = 7 * 86_400_000;

export interface DemoSetup {
  slug: string;
  token: string;
  subject: string;
  /** Set when this start created the demo account (only while nobody else exists): its password, shown once. */
  password?: string | undefined;
  /** The demo account was made by an earlier start and can still sign in: its password can be set anew. */
  accountExists?: boolean;
}

/**
 * `serve --demo`: makes sure the demo Virtual MCP exists (never touching a
 * user's own "demo" definitions), issues a fresh week-long token for it, and
 * on a gateway with no people yet adds a local admin account so AI clients
 * can also try signing in with OAuth. The token and the account are admin
 * changes like any other, recorded in the audit trail under "gateway" (an
 * admin account with a password must not appear without a trace).
 */
export async function prepareDemo(store: Store, config: GatewayConfigService, tokens: AccessTokenService, users: UserDirectory): Promise<DemoSetup> {
  const current = config.current();
  // A demo Virtual MCP already there (the demo's own, or the user's) is left as it is, with its connector.
  if (!current.virtualMcps.some((v) => v.slug === DEMO_SLUG)) {
    const connector = demoConnectorName(current.connectors);
    const connectors = current.connectors.some((c) => c.name === connector) ? [] : [demoConnector(connector)];
    await config.apply({ connectors, virtualMcps: [demoVirtualMcp(connector)] });
  }
  const command = "mintgate serve --demo";
  const { id, token, info } = tokens.create({ subject: DEMO_SUBJECT, virtualMcp: DEMO_SLUG, lifetimeMs: DEMO_TOKEN_LIFETIME_MS });
  recordAdminChange(store, { actor: "gateway", action: "tokens.create", target: id, detail: { command, user: DEMO_SUBJECT, virtualMcp: DEMO_SLUG, expiresAt: info.expiresAt } });
  const people = users.list();
  let password: string | undefined;
  if (people.length === 0) {
    password = randomBytes(12).toString("base64url");
    const person = await users.addLocal({ email: DEMO_SUBJECT, password, role: "admin", name: "Demo admin" });
    recordAdminChange(store, { actor: "gateway", action: "users.add", target: DEMO_SUBJECT, detail: { command, id: person.id, role: "admin" } });
  }
  const accountExists = people.some((p) => p.email === DEMO_SUBJECT && !p.disabled && p.identities.some((i) => i.provider === "local"));
  return { slug: DEMO_SLUG, token, subject: DEMO_SUBJECT, password, accountExists };
}

/** What `make run` prints: the endpoint, the token and a client configuration to paste (as `mintgate connect` gives it, with the token). */
export function demoInstructions(baseUrl: string, demo: DemoSetup): string {
  const url = virtualMcpUrl(baseUrl, demo.slug);
  const setups = clientSetups({ name: "mintgate-demo", url, bearerToken: demo.token });
  return [
    "",
    `Demo virtual MCP "${demo.slug}" (built-in tools echo, add, now, countdown):`,
    `  endpoint  ${url}`,
    `  token     ${demo.token}`,
    `            (for ${demo.subject}, valid 7 days; \`mintgate tokens list\` and \`tokens revoke\` manage it)`,
    "",
    `Client configuration (Streamable HTTP; Claude Code .mcp.json, Cursor mcp.json; VS Code's mcp.json takes the same entry under "servers"; \`mintgate connect ${demo.slug}\` shows every client's steps):`,
    JSON.stringify(setups.cursor.config, null, 2),
    "",
    `Or give an OAuth client only the endpoint (e.g. \`${setups["mcp-remote"].command}\`) and sign in in the browser` +
      (demo.password
        ? ` as ${demo.subject} with the password ${demo.password} (shown only now; \`mintgate users set-password\` changes it).`
        : demo.accountExists
          ? ` as ${demo.subject} with the password shown at its first start (lost it? \`mintgate users set-password ${demo.subject}\` sets a new one), or with an account from \`mintgate users add\`.`
          : " with an account from `mintgate users add`."),
    "",
  ].join("\n");
}
