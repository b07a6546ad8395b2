import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { DEFAULTS, loadSettings } from "../src/config/index.ts";

describe("settings", () => {
  test("defaults: ./.mintgate, 127.0.0.1, port 8080, 4 MiB bodies", () => {
    const settings = loadSettings({}, {});
    expect(settings.dataDir).toBe(resolve(".mintgate"));
    expect(settings.host).toBe("127.0.0.1");
    expect(settings.port).toBe(8080);
    expect(settings.publicUrl).toBeUndefined();
    expect(settings.bodyLimitBytes).toBe(DEFAULTS.bodyLimitBytes);
    expect(settings.keepaliveMs).toBe(15_000);
    expect(settings.sessionIdleTimeoutMs).toBe(3_600_000);
    expect(settings.bodyBudgetBytes).toBe(32 * 1024 * 1024);
    expect(settings.logFormat).toBe("text");
  });

  test("every setting comes from the environment", () => {
    const settings = loadSettings({}, {
      MINTGATE_DATA_DIR: "/srv/mg",
      MINTGATE_HOST: "0.0.0.0",
      MINTGATE_PORT: "9443",
      MINTGATE_PUBLIC_URL: "https://mcp.example.com/",
      MINTGATE_MASTER_KEY: "k",
      MINTGATE_TLS_CERT: "/c.pem",
      MINTGATE_TLS_KEY: "/k.pem",
      MINTGATE_KEEPALIVE: "5s",
      MINTGATE_SESSION_IDLE_TIMEOUT: "10m",
      MINTGATE_BODY_BUDGET: "64MiB",
      MINTGATE_REQUESTS_PER_PERSON: "20",
      MINTGATE_LOG_FORMAT: "JSON",
    });
    expect(settings).toMatchObject({
      dataDir: "/srv/mg",
      host: "0.0.0.0",
      port: 9443,
      publicUrl: "https://mcp.example.com",
      masterKeyFromEnv: "k",
      tlsCert: "/c.pem",
      tlsKey: "/k.pem",
      keepaliveMs: 5000,
      sessionIdleTimeoutMs: 600_000,
      bodyBudgetBytes: 64 * 1024 * 1024,
      requestsPerPerson: 20,
      logFormat: "json",
    });
  });

  test("flags win over the environment", () => {
    const settings = loadSettings(
      { data: "/a", host: "::1", port: "0", "public-url": "https://flag.example" },
      { MINTGATE_DATA_DIR: "/b", MINTGATE_HOST: "0.0.0.0", MINTGATE_PORT: "1", MINTGATE_PUBLIC_URL: "https://env.example" },
    );
    expect(settings).toMatchObject({ dataDir: "/a", host: "::1", port: 0, publicUrl: "https://flag.example" });
  });

  test("errors name the source of the bad value", () => {
    expect(() => loadSettings({}, { MINTGATE_PORT: "http" })).toThrow("MINTGATE_PORT must be a port number");
    expect(() => loadSettings({ port: "-1" }, {})).toThrow("--port must be a port number");
    expect(() => loadSettings({ "public-url": "not a url" }, {})).toThrow("--public-url must be an absolute URL");
    expect(() => loadSettings({}, { MINTGATE_TLS_KEY: "/k.pem" })).toThrow("both --tls-cert and --tls-key");
    expect(() => loadSettings({ keepalive: "0s" }, {})).toThrow("--keepalive must be a duration from 1s to 24h");
    expect(() => loadSettings({}, { MINTGATE_SESSION_IDLE_TIMEOUT: "2d" })).toThrow('MINTGATE_SESSION_IDLE_TIMEOUT must be a duration from 1s to 24h such as 15m or 1h, not "2d".');
    expect(() => loadSettings({ "log-format": "logfmt" }, { MINTGATE_LOG_FORMAT: "json" })).toThrow('--log-format must be text or json, not "logfmt".');
    // Under the 4 MiB body limit, the largest call could never be taken.
    for (const size of ["1MiB", "4194303", "257MiB", "lots"]) {
      expect(() => loadSettings({ "body-budget": size }, {})).toThrow(`--body-budget must be a size from 4MiB (the request body limit, so the largest call fits) to 256MiB such as 32MiB, not "${size}".`);
    }
    expect(loadSettings({ "body-budget": "8192kib" }, {}).bodyBudgetBytes).toBe(8 * 1024 * 1024);
    expect(loadSettings({ "body-budget": "4194304" }, {}).bodyBudgetBytes).toBe(4 * 1024 * 1024);
  });

  test("--allowed-hosts takes host names as a Host header carries them and refuses a URL or a typo", () => {
    expect(loadSettings({ "allowed-hosts": "mcp.internal, mcp.internal:8443,[fd00::1]:80,10.0.0.5" }, {}).allowedHosts).toEqual(["mcp.internal", "mcp.internal:8443", "[fd00::1]:80", "10.0.0.5"]);
    // Before, a URL was kept as the host "https" and every request the proxy sent under its name went on being refused.
    for (const entry of ["https://mcp.internal", "mcp.internal/mcp", "mcp internal"]) {
      expect(() => loadSettings({}, { MINTGATE_ALLOWED_HOSTS: entry })).toThrow(`MINTGATE_ALLOWED_HOSTS must list host names such as mcp.internal or mcp.internal:8080 (no scheme or path), not "${entry}".`);
    }
  });
});
