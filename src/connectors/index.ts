import { log } from "../log/index.ts";
import { Connector, type ConnectorDeps } from "./connector.ts";
import type { ConnectorDefinition } from "./types.ts";
import { probeConnector, type ProbeResult } from "./probe.ts";

export { Connector, EMPTY_CATALOGUE, type Catalogue, type ResourceListener } from "./connector.ts";
export { resultText, UpstreamRpcError, type ClientRequestHandler, type HeldElicitation, type UrlElicitationClient } from "./upstream-session.ts";
export { UpstreamProcessGroups } from "./process-groups.ts";
export { NESTING_LIMIT, nestsTooDeeply } from "./nesting.ts";
export { probeConnector, DEFAULT_PROBE_TIMEOUT_MS, type ProbeResult } from "./probe.ts";
export * from "./types.ts";

/** Who a call is made for; the pool picks the upstream client by it. */
export interface CallerIdentity {
  subject: string;
}

/**
 * Every connector's upstream clients. Today each connector has one client
 * shared by everyone (the gateway's own credentials). The key is
 * (connector, credential scope) so that a connector with per-person
 * credentials can hold one client per person without a redesign; a call is
 * only ever routed through the client of its own scope.
 */
export class ConnectorPool {
  private readonly clients = new Map<string, Connector>();
  /** What each running client's upstream was started from: its spec and the versions of the secrets it references. */
  private readonly upstreamIdentities = new WeakMap<Connector, string>();
  /**
   * The temporary connectors of tests running now: stopped and killed with the rest. A test may wait up to ten minutes
   * for its upstream, and the process exit leaves a stdio child running (it has a process group of its own).
   */
  private readonly probes = new Set<Connector>();
  private stopped = false;

  constructor(private readonly deps: ConnectorDeps) {}

  /** A temporary connector from `definition`, its catalogue listed and stopped again, on this pool's secrets and process record. */
  async probe(definition: ConnectorDefinition, timeoutMs?: number): Promise<ProbeResult> {
    const cutShort = { ok: false, error: PROBE_STOPPED, tools: [], prompts: 0, resources: 0, durationMs: 0, stderr: [] };
    if (this.stopped) return cutShort;
    const result = await probeConnector(definition, this.deps, timeoutMs, this.probes);
    return this.stopped && !result.ok ? { ...result, error: PROBE_STOPPED } : result;
  }

  private static key(name: string, scope: string): string {
    return `${name}\u0000${scope}`;
  }

  /** The credential scope of a caller for a connector: "shared" until per-person credentials exist. */
  private scopeFor(_definition: ConnectorDefinition, _caller: CallerIdentity): string {
    return "shared";
  }

  /**
   * Adds or replaces a connector. One whose upstream is started the same way
   * keeps its running client, taking any new call-time settings (the timeout)
   * in place; `credentials` (the versions of the secrets it references) is part
   * of what must be unchanged, so a rotated upstream key restarts it.
   */
  async upsert(definition: ConnectorDefinition, credentials = ""): Promise<Connector> {
    const key = ConnectorPool.key(definition.name, "shared");
    const upstreamIdentity = canonicalJson(definition.spec) + credentials;
    const existing = this.clients.get(key);
    if (existing && this.upstreamIdentities.get(existing) === upstreamIdentity) {
      if (!sameConnectorDefinition(existing.definition, definition)) existing.applySettings(definition);
      return existing;
    }
    // Only the credentials changed (a rotated secret): the same server comes back with the same tools, so clients keep
    // seeing them while it restarts, rather than losing them and getting them back (two list_changed, tools gone meanwhile).
    const sameServer = existing !== undefined && sameUpstreamSpec(existing.definition, definition);
    // Its replacement takes the same name, so a call cut off can be sent again.
    const why = sameServer ? "a secret it uses changed" : "its settings changed";
    // Said before the stop, which can take seconds: the log shows why the connector's calls are cut off meanwhile.
    if (existing) log.info("connector restarting", { connector: definition.name, reason: why });
    else log.info("connector added", { connector: definition.name, kind: definition.spec.kind });
    if (existing) await existing.retire({ restart: why });
    const connector = new Connector(definition, this.deps, sameServer ? existing.catalogue : undefined);
    // The replacement is this connector restarted: its count goes on (mintgate_connector_restarts_total is a counter,
    // and one that fell back to 0 on a config change would read to Prometheus as a gateway restart).
    if (existing) connector.restarts = existing.restarts + 1;
    this.clients.set(key, connector);
    this.upstreamIdentities.set(connector, upstreamIdentity);
    // Connecting runs in the background: a slow upstream must not hold up the gateway.
    void connector.start();
    return connector;
  }

  async remove(name: string): Promise<void> {
    for (const [key, connector] of [...this.clients]) {
      if (connector.name === name) {
        this.clients.delete(key);
        log.info("connector removed", { connector: name });
        await connector.retire("removed");
      }
    }
  }

  /** The shared client: its catalogue defines what a connector offers. */
  get(name: string): Connector | undefined {
    return this.clients.get(ConnectorPool.key(name, "shared"));
  }

  /** The client that carries this caller's call to this connector. */
  clientFor(name: string, caller: CallerIdentity): Connector | undefined {
    const shared = this.get(name);
    if (!shared) return undefined;
    return this.clients.get(ConnectorPool.key(name, this.scopeFor(shared.definition, caller)));
  }

  list(): Connector[] {
    return [...this.clients.values()];
  }

  /** For a second signal: SIGKILL every upstream process group right away, without waiting. */
  killAllNow(): void {
    for (const connector of [...this.clients.values(), ...this.probes]) connector.killNow();
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.clients.values(), ...this.probes].map((c) => c.retire()));
    this.clients.clear();
  }
}

/** What a connector test the gateway's shutdown cut short answers. */
const PROBE_STOPPED = "The gateway is shutting down, so the test was stopped; run it again once the gateway is back.";

/** Whether two definitions describe the same connector (key order in env and headers does not count). */
function sameConnectorDefinition(a: ConnectorDefinition, b: ConnectorDefinition): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Whether two definitions start or reach their upstream the same way (secret values aside): then only call-time settings differ, if anything. */
export function sameUpstreamSpec(a: ConnectorDefinition, b: ConnectorDefinition): boolean {
  return a.name === b.name && canonicalJson(a.spec) === canonicalJson(b.spec);
}

/** JSON with object keys sorted: two definitions that differ only in key order (env, headers) are the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
