import { Connector, type ConnectorDeps } from "./connector.ts";
import type { ConnectorDefinition } from "./types.ts";

/** What a test of a connector spec found: its tools, or why it could not connect. */
export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in one sentence (secret values replaced by [secret:NAME]). */
  error?: string | undefined;
  tools: { name: string; description: string | undefined }[];
  prompts: number;
  resources: number;
  durationMs: number;
  /** A stdio child's last stderr lines (redacted). */
  stderr: string[];
}

export const DEFAULT_PROBE_TIMEOUT_MS = 15_000;

/**
 * Starts a temporary connector from `definition`, waits until it has listed
 * its tools (or failed, or `timeoutMs` passed) and stops it again: whatever
 * happens, nothing is left running. It is never added to the pool, only to
 * `running` while it runs.
 */
export async function probeConnector(definition: ConnectorDefinition, deps: ConnectorDeps, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS, running?: Set<Connector>): Promise<ProbeResult> {
  // No automatic restart within a test: one attempt, then the answer.
  const connector = new Connector(definition, { ...deps, backoffFirstMs: 24 * 3_600_000 });
  // `running` holds it while it runs: whoever holds that set can end it (the gateway's shutdown).
  running?.add(connector);
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  let result: ProbeResult;
  try {
    const outcome = await Promise.race([connector.start().then(() => "settled" as const), timedOut]);
    const durationMs = Date.now() - started;
    const state = connector.state;
    if (outcome === "settled" && state.status === "ready") {
      const { catalogue } = connector;
      result = {
        ok: true,
        tools: catalogue.tools.map((t) => ({ name: t.name, description: t.description })),
        prompts: catalogue.prompts.length,
        resources: catalogue.resources.length + catalogue.resourceTemplates.length,
        durationMs,
        stderr: [],
      };
    } else {
      const error =
        outcome === "timeout"
          ? `It did not connect and list its tools within ${timeoutMs / 1000} s.`
          : state.status === "failed"
            ? connector.redact(state.reason)
            : `It ended up ${state.status}.`;
      result = { ok: false, error, tools: [], prompts: 0, resources: 0, durationMs, stderr: [] };
    }
  } finally {
    clearTimeout(timer);
    try {
      await connector.stop();
    } finally {
      running?.delete(connector);
    }
  }
  // After the stop: a child's last words arrive as it exits.
  result.stderr = connector.recentStderr().slice(-20);
  return result;
}
