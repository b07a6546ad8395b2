import { randomBytes, randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { AdminService } from "../../admin/index.ts";
import { instanceProof } from "../../admin-client/index.ts";
import { demoInstructions, prepareDemo } from "../../admin/demo.ts";
import { GatewayConfigService } from "../../admin/gateway-config.ts";
import { AuditFeed, AuditLog, CHECKPOINT_KEY_PURPOSE, pruneAuditTrailGradually, Redactor } from "../../audit/index.ts";
import { AccessTokenService, createAuthServices, sweepAuthRows } from "../../auth/index.ts";
import { ConnectorPool, literalCredentialsOf, UpstreamProcessGroups } from "../../connectors/index.ts";
import { Gateway, McpEndpoint, setKeepaliveInterval } from "../../gateway/index.ts";
import { moveCheckpointsToThread, watchStore } from "../../store/index.ts";
import { DEFAULTS, ENVIRONMENT, loadSettings } from "../../config/index.ts";
import { checkCanListen, checkTlsFiles, startHttpServer } from "../../http/index.ts";
import { log, reportAllNotLogged, statusLine } from "../../log/index.ts";
import { sayingStorageFull } from "../../errors/index.ts";
import { createGatewayMetrics, MetricsAccess } from "../../metrics/index.ts";
import { UsageAnalytics } from "../../analytics/index.ts";
import { IdleMemoryTrim, ignoredAtStart, openDataDir } from "../../runtime/index.ts";
import { VERSION } from "../../version.ts";
import { DATA_OPTION, stringValue, type Command } from "../command.ts";
import { URL_CREDENTIALS_ADVICE, urlHoldsCredentials } from "../../secrets/literal-credentials.ts";

/** The longest variable name and two spaces: every description starts in one column. */
const ENV_NAME_WIDTH = Math.max(...Object.keys(ENVIRONMENT).map((name) => name.length)) + 2;

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the gateway (the default command). Creates the data directory on first start.",
  usage: "mintgate serve [--data DIR] [--host H] [--port N] [--public-url URL] [--tls-cert F --tls-key F]",
  options: {
    ...DATA_OPTION,
    host: { type: "string" },
    port: { type: "string" },
    "public-url": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "allowed-origins": { type: "string" },
    "allowed-hosts": { type: "string" },
    "redirect-schemes": { type: "string" },
    "trusted-proxies": { type: "string" },
    "access-token-ttl": { type: "string" },
    keepalive: { type: "string" },
    "session-idle-timeout": { type: "string" },
    "body-budget": { type: "string" },
    "requests-per-person": { type: "string" },
    "audit-redact-keys": { type: "string" },
    "audit-retention-days": { type: "string" },
    metrics: { type: "string" },
    "metrics-token-file": { type: "string" },
    "log-format": { type: "string" },
    demo: { type: "boolean" },
  },
  optionHelp: {
    "--data DIR": "data directory (env MINTGATE_DATA_DIR, default ./.mintgate)",
    "--host H": "address to listen on (env MINTGATE_HOST, default 127.0.0.1)",
    "--port N": "port to listen on, 0 for any free port (env MINTGATE_PORT, default 8080)",
    "--public-url URL": "URL clients use to reach the gateway (env MINTGATE_PUBLIC_URL)",
    "--tls-cert F": "PEM certificate; with --tls-key serves HTTPS (env MINTGATE_TLS_CERT)",
    "--tls-key F": "PEM private key (env MINTGATE_TLS_KEY)",
    "--allowed-origins LIST": "comma-separated browser origins allowed on /mcp/* (env MINTGATE_ALLOWED_ORIGINS)",
    "--allowed-hosts LIST": "comma-separated extra Host names accepted on /mcp/* (env MINTGATE_ALLOWED_HOSTS)",
    "--redirect-schemes LIST": "comma-separated private-use redirect URI schemes clients may register besides cursor (env MINTGATE_REDIRECT_SCHEMES)",
    "--trusted-proxies LIST": "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client (env MINTGATE_TRUSTED_PROXIES)",
    "--access-token-ttl D": "lifetime of OAuth access tokens, 1s to 24h (env MINTGATE_ACCESS_TOKEN_TTL, default 1h)",
    "--keepalive D": "how often a silent event stream gets a comment line, 1s to 24h; lower it when a proxy cuts idle streams sooner (env MINTGATE_KEEPALIVE, default 15s)",
    "--session-idle-timeout D": "how long an MCP session may go without a request before it is closed, 1s to 24h (env MINTGATE_SESSION_IDLE_TIMEOUT, default 1h)",
    "--body-budget SIZE": "request-body bytes one person may have in flight on the MCP endpoints, 4MiB to 256MiB; past it a call gets 429 (env MINTGATE_BODY_BUDGET, default 32MiB)",
    "--requests-per-person N": "requests one person may have running at once on the MCP endpoints, 1 to 10000; past it a request gets 429 (env MINTGATE_REQUESTS_PER_PERSON, default 100)",
    "--metrics MODE": "who may read /metrics: loopback, token or off (env MINTGATE_METRICS, default loopback)",
    "--metrics-token-file F": "file holding the bearer token for scraping /metrics from elsewhere (env MINTGATE_METRICS_TOKEN_FILE)",
    "--audit-redact-keys LIST": `comma-separated keys whose values the audit trail replaces (env MINTGATE_AUDIT_REDACT_KEYS, default ${DEFAULTS.auditRedactKeys.join(",")})`,
    "--audit-retention-days N": "days audit records are kept; pruned daily with a signed checkpoint (env MINTGATE_AUDIT_RETENTION_DAYS, default 365)",
    "--log-format F": "text, or json for one JSON object per log line (env MINTGATE_LOG_FORMAT, default text)",
    "--demo": "add the demo virtual MCP if missing and print its URL, a fresh token and a client config",
  },
  details:
    "Environment (flags win):\n" +
    Object.entries(ENVIRONMENT).map(([name, text]) => `  ${name.padEnd(ENV_NAME_WIDTH)}${text}`).join("\n") +
    "\n\nPrints one line with the URL it listens on. SIGTERM, SIGINT or SIGHUP (unless started under nohup)\n" +
    "stops accepting, lets running requests finish (up to 10 s), closes the store and exits 0;\n" +
    "a second signal kills the upstream processes and exits 130.",
  async run(parsed) {
    // Signals are handled from the first line: one that arrives while the gateway starts is kept, and acted on once
    // it has started, so no start-up phase leaves upstream children or server.url behind (the default action would
    // end the process at once, with status 143). A second signal means "now": every upstream process group is killed
    // and we exit.
    let signalled: (signal: string) => void = () => {};
    const stopSignal = new Promise<string>((resolve) => (signalled = resolve));
    let signals = 0;
    /** What a second signal does to the gateway once it has one to cut off; until then it only exits. */
    let cutOff: ((signal: string) => void) | undefined;
    const exitNow = () => {
      reportAllNotLogged();
      process.exit(130);
    };
    const onSignal = (signal: string) => {
      signals++;
      if (signals === 1) return signalled(signal);
      if (signals > 2 || cutOff === undefined) return exitNow();
      cutOff(signal);
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
    // A closed terminal (ssh session) sends SIGHUP: by default it would end the process at once,
    // leaving the upstream children (in process groups of their own) running and server.url behind.
    // Started under nohup, SIGHUP stays ignored: a handler would replace that, and logging out stopped the gateway.
    if (!ignoredAtStart("SIGHUP")) process.on("SIGHUP", () => onSignal("SIGHUP"));
    const settings = loadSettings({
      data: stringValue(parsed, "data"),
      host: stringValue(parsed, "host"),
      port: stringValue(parsed, "port"),
      "public-url": stringValue(parsed, "public-url"),
      "tls-cert": stringValue(parsed, "tls-cert"),
      "tls-key": stringValue(parsed, "tls-key"),
      "allowed-origins": stringValue(parsed, "allowed-origins"),
      "allowed-hosts": stringValue(parsed, "allowed-hosts"),
      "redirect-schemes": stringValue(parsed, "redirect-schemes"),
      "trusted-proxies": stringValue(parsed, "trusted-proxies"),
      "access-token-ttl": stringValue(parsed, "access-token-ttl"),
      keepalive: stringValue(parsed, "keepalive"),
      "session-idle-timeout": stringValue(parsed, "session-idle-timeout"),
      "body-budget": stringValue(parsed, "body-budget"),
      "requests-per-person": stringValue(parsed, "requests-per-person"),
      "audit-redact-keys": stringValue(parsed, "audit-redact-keys"),
      "audit-retention-days": stringValue(parsed, "audit-retention-days"),
      metrics: stringValue(parsed, "metrics"),
      "metrics-token-file": stringValue(parsed, "metrics-token-file"),
      "log-format": stringValue(parsed, "log-format"),
    });
    log.setFormat(settings.logFormat);
    // Before the data directory is touched or a connector started: a bad TLS file or metrics token setting stops the start here.
    checkTlsFiles(settings);
    const metricsAccess = MetricsAccess.fromSettings(settings);
    const startedAt = Date.now();
    const instanceId = randomUUID();
    const instanceKey = randomBytes(32).toString("base64url");
    let dir: ReturnType<typeof openDataDir>;
    try {
      dir = openDataDir(settings, { initialise: true, serving: true });
    } catch (error) {
      throw sayingStorageFull(error, `The disk holding ${settings.dataDir} is full, so mintgate cannot start; free space on it and start it again.`);
    }
    for (const item of dir.created) log.info(`created ${item}`);
    for (const warning of dir.warnings) log.warn(warning);
    // Saved before configuration refused them, so still running: said at every start until they are moved.
    for (const connector of dir.store.gatewayConfig.connectors()) {
      for (const entry of literalCredentialsOf(connector.spec)) {
        log.warn(
          `${entry} of connector "${connector.name}" holds a literal credential, kept in plain text and shown by export, the admin API and the TUI; store it with \`mintgate secrets set NAME\`, write \${secret:NAME} in its place and apply again`,
        );
      }
      if ((connector.spec.kind === "http" || connector.spec.kind === "sse") && urlHoldsCredentials(connector.spec.url)) {
        log.warn(`the url of connector "${connector.name}" holds a user name or password, kept in plain text and shown by export, the admin API and the TUI; ${URL_CREDENTIALS_ADVICE}, then apply again`);
      }
    }
    if (dir.newAdminToken) log.info("the admin token for the CLI and TUI is in the admin.token file", { path: dir.paths.adminToken });

    // Every secret value handed to a connector (or SSO) is replaced wherever it shows up in an audit record.
    const redactor = new Redactor(settings.auditRedactKeys);
    dir.secrets.onResolved((name, value) => redactor.addSecret(name, value));
    // Bench only (bench/audit.ts measures the gateway with and without its audit trail): never in production.
    const auditOff = process.env.MINTGATE_BENCH_UNSAFE_AUDIT_OFF === "1";
    if (auditOff) log.warn("MINTGATE_BENCH_UNSAFE_AUDIT_OFF=1: MCP requests are NOT recorded (benchmark baseline only)");
    // Bun's fetch honours it as Node does, and says nothing: every https connector and SSO provider would be taken on any certificate.
    if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === "0") {
      log.warn("NODE_TLS_REJECT_UNAUTHORIZED=0 is set, so no certificate is checked on the gateway's HTTPS connections (connectors, SSO providers); unset it, and trust a company or self-signed CA with NODE_EXTRA_CA_CERTS instead.");
    }
    if (settings.trustedProxies.length > 0) log.info("client addresses come from X-Forwarded-For on requests from trusted proxies", { proxies: settings.trustedProxies.join(",") });
    const audit = new AuditLog(dir.store, { redactor, enabled: !auditOff });
    // WAL checkpoints run on a thread of their own, off the request path.
    const onDiskFull = (full: boolean) => {
      if (full) log.warn("WAL checkpoints fail: the disk holding the data directory is full, so the write-ahead log cannot be copied into the database and grows instead; free space on that disk", { dir: settings.dataDir });
      else log.info("WAL checkpoints succeed again", { dir: settings.dataDir });
    };
    const stopCheckpointThread = await moveCheckpointsToThread(dir.store, { onDiskFull }).catch((error: Error) => {
      log.warn("WAL checkpoints stay on the main thread", { error: error.message });
      return async () => {};
    });
    const auditFeed = new AuditFeed(dir.store);
    // The lock is ours, so any gateway before us on this directory is gone: end the upstreams it left running.
    const processGroups = new UpstreamProcessGroups(dir.paths.upstreamGroups);
    processGroups.endLeftovers();
    const tokens = new AccessTokenService(dir.store);
    const gateway = new Gateway(dir.store, new ConnectorPool({ resolveSecret: (name) => dir.secrets.resolveSecret(name), processGroups }), audit, (principal) => tokens.revocationOf(principal));
    // Retention: shortly after start, then daily. Deleting runs in chunks with requests served between them.
    let shuttingDown = false;
    const prune = async () => {
      try {
        const key = () => dir.secrets.derivedKey(CHECKPOINT_KEY_PURPOSE);
        const report = await pruneAuditTrailGradually(dir.store, { retentionDays: settings.auditRetentionDays, key, actor: "gateway (retention)", stopped: () => shuttingDown });
        if (report.deleted > 0) log.info("audit retention: deleted old records, left a signed checkpoint", { deleted: report.deleted, throughId: report.throughId ?? undefined, cutoff: report.cutoff });
      } catch (error) {
        log.error("audit retention failed; will retry tomorrow", { error: String(error) });
      }
    };
    // Expired OAuth codes and tokens, replaced sign-ins, unused self-registered clients and long-ended personal tokens: hourly, as DCR lets anyone add clients.
    const sweep = async () => {
      try {
        const report = await sweepAuthRows(dir.store, { stopped: () => shuttingDown });
        if (Object.values(report).some((n) => n > 0)) log.info("deleted auth rows nothing can use any more", { ...report });
      } catch (error) {
        log.error("the OAuth housekeeping sweep failed; will retry in an hour", { error: String(error) });
      }
    };
    // A few seconds in: after the connectors' first start and the clients' reconnects, and before a gateway restarted
    // often (a crash loop, frequent deploys) would never get to it. Chunks yield to requests either way.
    const firstPrune = setTimeout(() => void prune().then(sweep), 3_000);
    const dailyPrune = setInterval(() => void prune(), 86_400_000);
    const hourlySweep = setInterval(() => void sweep(), 3_600_000);
    firstPrune.unref();
    dailyPrune.unref();
    hourlySweep.unref();
    const metrics = metricsAccess.served ? createGatewayMetrics(gateway, gateway.recorder, startedAt) : undefined;
    const config = new GatewayConfigService({ store: dir.store, secrets: dir.secrets, gateway });
    // Deleting a virtual MCP deletes its tokens too (in this process, unseen by data_version).
    gateway.onSynced(() => tokens.forgetVerified());
    setKeepaliveInterval(settings.keepaliveMs);
    const endpoint = new McpEndpoint(gateway, { bodyLimitBytes: settings.bodyLimitBytes, sessionIdleMs: settings.sessionIdleTimeoutMs, requestsPerPerson: settings.requestsPerPerson });
    // A revoked token or grant, or a disabled person, loses the sessions and streams it already holds.
    tokens.onAccessChanged(() => endpoint.endRevoked((principal) => tokens.revocationOf(principal)));
    /** Ends the MCP sessions and upstreams, then, once `httpStopped` has the last replies out, the store and the lock. */
    const shutDownGateway = async (httpStopped?: Promise<void>) => {
      shuttingDown = true;
      const drain = await endpoint.closeAll(settings.shutdownGraceMs);
      await gateway.close();
      clearTimeout(firstPrune);
      clearInterval(dailyPrune);
      clearInterval(hourlySweep);
      // Its streams never end by themselves: the HTTP server's stop would wait for them until its deadline.
      auditFeed.close();
      // Requests that are no MCP call (the admin API, OAuth, sign-in) were not waited for above, and use the store.
      await httpStopped;
      await gateway.recorder.flush();
      await stopCheckpointThread();
      // Removed while the lock is held: a gateway started once it is released writes its own.
      rmSync(dir.paths.serverUrl, { force: true });
      dir.close();
      return drain;
    };
    /** The HTTP server's graceful stop, once the first signal began it: it settles when the last reply is out. */
    let stopping: Promise<void> | undefined;
    cutOff = (signal) => {
      log.warn("second signal: killing upstream processes, cutting off running calls and exiting now", { signal });
      gateway.pool.killAllNow();
      rmSync(dir.paths.serverUrl, { force: true });
      // The calls cut off are answered with why and leave their audit record (every call leaves one) before
      // the exit: that takes a few event-loop turns once the upstreams are dead, and never more than a second.
      setTimeout(exitNow, 1000);
      void endpoint
        .closeAll(0)
        .then(() => gateway.recorder.flush())
        .then(() => stopping)
        .finally(exitNow);
    };
    let server;
    const memoryTrim = new IdleMemoryTrim();
    let demo;
    let ssoProviders = "";
    try {
      await checkCanListen(settings);
      const auth = createAuthServices({
        store: dir.store,
        secrets: dir.secrets,
        tokens,
        publicUrl: settings.publicUrl,
        accessTokenTtlMs: settings.accessTokenTtlMs,
        redirectSchemes: settings.redirectSchemes,
        onGroupsChanged: () => gateway.accessChanged(),
      });
      ssoProviders = auth.sso.providers().map((provider) => `${provider.name}(${provider.kind})`).join(",");
      if (parsed.values.demo) demo = await prepareDemo(dir.store, config, tokens, auth.users);
      await gateway.sync();
      const admin = new AdminService({
        store: dir.store,
        secrets: dir.secrets,
        dataDir: dir.dataDir,
        publicUrl: settings.publicUrl,
        startedAt,
        gateway: { gateway, config, tokens, sessions: () => endpoint.sessionCount },
      });
      server = startHttpServer({ settings, admin, notReady: () => readiness(dir.store, gateway), mcp: { gateway, endpoint, tokens }, auth, instanceId, proveInstance: (challenge) => instanceProof(instanceKey, challenge), metrics: metrics && { metrics, access: metricsAccess }, analytics: new UsageAnalytics(dir.store), audit: { feed: auditFeed, log: audit }, activity: memoryTrim });
    } catch (error) {
      await shutDownGateway();
      throw error;
    }
    // Configuration written by other processes (`mintgate apply`) takes effect here.
    const stopWatching = watchStore(dir.store, () => void gateway.sync());
    memoryTrim.start();
    writeFileSync(dir.paths.serverUrl, `${server.url}\n${instanceId}\n${instanceKey}\n`, { mode: 0o600 });
    // Stdout's "listening on" line is for whoever started us; the log (journald, a shipper) gets what this gateway serves
    // with, in one line, so a log read later says which version, data and features it ran with.
    log.info("started", {
      version: VERSION,
      dataDir: dir.dataDir,
      url: server.url,
      publicUrl: settings.publicUrl ?? "(none: the listen URL)",
      tls: settings.tlsCert ? "on" : "off",
      metrics: settings.metricsMode + (settings.metricsTokenFile !== undefined || settings.metricsTokenFromEnv !== undefined ? "+token" : ""),
      sso: ssoProviders || "none",
      // What it serves, beside each one's "connector added" and "virtual MCP loaded" lines above.
      connectors: gateway.pool.list().length,
      virtualMcps: gateway.virtualMcps().length,
      logFormat: settings.logFormat,
    });
    // One write: whoever waits for the "listening on" line finds the demo text with it.
    const listening = statusLine("info", `mintgate ${VERSION} listening on ${server.url}${settings.publicUrl ? ` (public URL ${settings.publicUrl})` : ""}`, { version: VERSION, url: server.url, publicUrl: settings.publicUrl });
    process.stdout.write(listening + (demo ? demoInstructions(settings.publicUrl ?? server.url, demo) : ""));

    const signal = await stopSignal;
    log.info("shutting down: no new connections; waiting for running requests", { signal, running: endpoint.requestsRunning, graceMs: settings.shutdownGraceMs });
    stopWatching();
    memoryTrim.stop();
    stopping = server.stop();
    const drain = await shutDownGateway(stopping);
    // Counts of lines held back (a flood of refusals, an upstream's noisy stderr) whose window has not ended: said now, or lost.
    reportAllNotLogged();
    // What the drain did: how many of the requests it waited for finished, and how many the grace's end cut off.
    log.info("stopped", { ...drain });
    return 0;
  },
};

/**
 * Why the gateway should not get traffic yet, for /readyz: the store is not open and migrated, or connectors
 * are still in their first start (a load balancer then waits for the tool lists rather than sending clients
 * that would see empty ones). A connector that failed does not hold readiness up, nor one past the wait cap.
 */
function readiness(store: { isReady(): boolean }, gateway: Gateway): string | undefined {
  if (!store.isReady()) return "The store is not open yet; wait a moment and ask again.";
  const starting = gateway.connectorsStarting();
  if (starting.length > 0) return `Connectors are still starting (${starting.join(", ")}); wait a moment and ask again.`;
  return undefined;
}
