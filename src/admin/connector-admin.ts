import { recordAdminChange, type AdminActor } from "../audit/index.ts";
import { DEFAULT_PROBE_TIMEOUT_MS, secretsReferencedBy, type ConnectorDefinition, type ProbeResult } from "../connectors/index.ts";
import { conflict, invalid, MintgateError, notFound, unknownName } from "../errors/index.ts";
import type { Gateway } from "../gateway/index.ts";
import type { SecretInfo, SecretStore } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";
import { joinedWithAnd } from "../terminal/index.ts";
import type { ApplyReport, GatewayConfigService } from "./gateway-config.ts";

/** A secret as the admin API shows it: never its value; with the connectors that reference it and the sign-in provider (sso:NAME) that owns it. */
export interface SecretListing extends SecretInfo {
  usedBy: string[];
}

/** How long a connector test may take at most, whatever the request asks. */
const MAX_PROBE_TIMEOUT_MS = 60_000;

/**
 * Connectors and secrets through the admin API (the TUI's Connectors and
 * Secrets screens): one connector created or replaced at a time (validated
 * like mintgate.yaml, through GatewayConfigService.apply), tested without
 * being added, restarted, its stderr read; secrets set and deleted by name.
 * A secret's value goes in and never comes out: not in answers, errors or
 * admin records.
 */
export class ConnectorAdmin {
  constructor(
    private readonly deps: {
      store: Store;
      secrets: SecretStore;
      running: () => { gateway: Gateway; config: GatewayConfigService };
    },
  ) {}

  /**
   * The JSON body of PUT /connectors/:name or POST /connectors/test (a
   * `connectors` entry of mintgate.yaml, `name` optional) as a definition,
   * checked by the file's own reader; problems come back one per line. `urlName`: the URL's name for it, which the
   * body's must match; without one (a test), the body's name is checked like the file's, "test" when it has none.
   */
  async definitionOf(urlName: string | undefined, body: unknown): Promise<ConnectorDefinition> {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw invalid('Send the connector as a JSON object, e.g. {"kind": "stdio", "command": "npx", "args": ["-y", "server"], "env": {"TOKEN": "${secret:NAME}"}}.');
    }
    const { name: named, ...spec } = body as Record<string, unknown>;
    if (urlName !== undefined && named !== undefined && named !== urlName) throw invalid(`The body names connector "${String(named)}" but the URL names "${urlName}"; a connector cannot be renamed (add the new one, then delete the old).`);
    const text = JSON.stringify({ connectors: [{ name: urlName ?? named ?? "test", ...spec }] }, null, 2);
    try {
      const config = await this.deps.running().config.parse(text, "request");
      return config.connectors![0]!;
    } catch (error) {
      // The file reader's "request:LINE: " prefixes mean nothing for a JSON body.
      if (error instanceof MintgateError) throw new MintgateError(error.kind, error.message.replace(/^request:\d+: /gm, ""));
      throw error;
    }
  }

  /**
   * PUT /connectors/:name: creates or replaces that connector alone; the others keep running.
   * `expectedRevision`: the revision it must still have (If-Match), or null if it must not exist yet (If-None-Match: *).
   */
  async put(name: string, body: unknown, actor: AdminActor, expectedRevision?: string | null): Promise<ApplyReport & { created: boolean }> {
    const definition = await this.definitionOf(name, body);
    const { config } = this.deps.running();
    const created = !config.current().connectors.some((c) => c.name === name);
    const expected = expectedRevision === undefined ? undefined : { of: "connector" as const, name, revision: expectedRevision };
    const report = await config.apply({ connectors: [definition], virtualMcps: [] }, { actor, expected });
    return { ...report, created };
  }

  /** POST /connectors/test: a temporary connector from the spec, its tools listed, stopped again. */
  async test(body: unknown, timeoutMs: number | undefined): Promise<ProbeResult> {
    const definition = await this.definitionOf(undefined, body);
    const timeout = timeoutMs !== undefined && Number.isFinite(timeoutMs) && timeoutMs > 0 ? Math.min(timeoutMs, MAX_PROBE_TIMEOUT_MS) : DEFAULT_PROBE_TIMEOUT_MS;
    // The pool's own secrets and process record: a stdio probe cut off by a kill -9 is ended at the next start like any upstream.
    return this.deps.running().gateway.pool.probe(definition, timeout);
  }

  private connector(name: string) {
    const connector = this.deps.running().gateway.pool.get(name);
    if (!connector) throw notFound(`There is no connector "${name}".`);
    return connector;
  }

  /** POST /connectors/:name/restart: stopped and started again now. */
  async restart(name: string): Promise<{ name: string; state: string; restarts: number }> {
    const connector = this.connector(name);
    await connector.restart();
    return { name, state: connector.state.status, restarts: connector.restarts };
  }

  /** GET /connectors/:name/logs: a stdio connector's last stderr lines (secret values replaced). */
  logs(name: string): { name: string; kind: string; lines: string[] } {
    const connector = this.connector(name);
    return { name, kind: connector.definition.spec.kind, lines: connector.recentStderr() };
  }

  /** Who uses each secret: connector names, and `sso:NAME` for a sign-in provider's own secrets (refused for deletion alike). */
  private references(): Map<string, string[]> {
    const users = connectorSecretReferences(this.deps.store);
    const providers = this.deps.store.identityProviders.list();
    for (const info of this.deps.secrets.list()) {
      const provider = providers.find((p) => providerOwns(p, info.name));
      if (provider) users.set(info.name, [...(users.get(info.name) ?? []), `sso:${provider.name}`]);
    }
    return users;
  }

  secrets(): SecretListing[] {
    const users = this.references();
    return this.deps.secrets.list().map((info) => ({ ...info, usedBy: users.get(info.name) ?? [] }));
  }

  /** PUT /secrets/:name {value}: stored encrypted; connectors that use it reconnect with the new value. */
  async setSecret(name: string, body: unknown, actor: AdminActor): Promise<SecretListing> {
    // A misspelt key (beside the value or instead of it) is a mistake to point out, not to store the value regardless.
    const unknown = typeof body === "object" && body !== null && !Array.isArray(body) ? Object.keys(body).find((key) => key !== "value") : undefined;
    if (unknown !== undefined) throw unknownName(unknown, "field", "a secret", ["value"]);
    const value = (body as { value?: unknown } | null)?.value;
    if (typeof value !== "string") throw invalid('Send {"value": "<the secret>"}: the value must be a string.');
    const existed = this.deps.store.secrets.get(name) !== undefined;
    let info!: SecretInfo;
    this.deps.store.transaction(() => {
      info = this.deps.secrets.set(name, value);
      // The name and version only: the value is never recorded.
      recordAdminChange(this.deps.store, { actor: actor.name, ip: actor.ip, action: existed ? "secret.update" : "secret.create", target: name, after: { version: info.version } });
    });
    // A connector referencing it has a new credential version: sync reconnects it.
    await this.deps.running().gateway.sync();
    return { ...info, usedBy: this.references().get(name) ?? [] };
  }

  /** DELETE /secrets/:name: refused while a connector references it or a sign-in provider owns it. */
  deleteSecret(name: string, actor: AdminActor): { deleted: string } {
    const info = this.deps.secrets.info(name);
    refuseToDeleteUsedSecret(this.deps.store, name);
    this.deps.store.transaction(() => {
      this.deps.secrets.delete(name);
      recordAdminChange(this.deps.store, { actor: actor.name, ip: actor.ip, action: "secret.delete", target: name, before: { version: info.version } });
    });
    return { deleted: name };
  }
}

/** The connectors whose env or headers reference each secret, by secret name. */
function connectorSecretReferences(store: Store): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const connector of store.gatewayConfig.connectors()) {
    for (const secret of secretsReferencedBy(connector.spec)) users.set(secret, [...(users.get(secret) ?? []), connector.name]);
  }
  return users;
}

/**
 * Refuses to delete a secret that something still needs: a connector that
 * references it, or the sign-in provider whose client secret (or stored
 * refresh token) it is. The admin API and `mintgate secrets delete` both ask.
 */
export function refuseToDeleteUsedSecret(store: Store, name: string): void {
  const connectors = connectorSecretReferences(store).get(name) ?? [];
  if (connectors.length === 1) throw conflict(`Secret "${name}" is used by connector "${connectors[0]}"; remove the reference there first.`);
  if (connectors.length > 1) throw conflict(`Secret "${name}" is used by connectors ${joinedWithAnd(connectors.map((c) => `"${c}"`))}; remove the references there first.`);
  const provider = store.identityProviders.list().find((p) => providerOwns(p, name));
  if (provider) {
    throw conflict(`Secret "${name}" belongs to the sign-in provider "${provider.name}"; \`mintgate sso update ${provider.name} --rotate-secret\` replaces it and \`mintgate sso remove ${provider.name}\` deletes it.`);
  }
}

/** A sign-in provider's own secrets: its client secret and the refresh tokens it stores per person. */
function providerOwns(provider: { name: string; clientSecretName: string }, secret: string): boolean {
  return provider.clientSecretName === secret || secret.startsWith(`sso.${provider.name}.`);
}
