import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { render } from "ink-testing-library";
import { join } from "node:path";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import { App } from "../tui/App.tsx";
import { Overview } from "../tui/screens/Overview.tsx";
import { frameContaining } from "./fixtures/ink-keys.ts";
import { startGateway, tempDir, type RunningGateway } from "./harness.ts";


describe("Overview screen", () => {
  const status = { version: "9.9.9", uptimeSeconds: 3725, startedAt: "2026-01-01T00:00:00.000Z", dataDir: "/srv/mintgate", schemaVersion: 2, secrets: { count: 4 }, connectors: { total: 3, ready: 2 }, virtualMcps: 1, sessions: 5, pendingApprovals: [] };

  test("shows health, version, uptime and counts", () => {
    const { lastFrame } = render(<Overview url="http://127.0.0.1:8080" status={status} error={undefined} />);
    const frame = lastFrame()!;
    expect(frame).toContain("healthy");
    expect(frame).toContain("mintgate 9.9.9");
    expect(frame).toContain("up 1h 2m");
    expect(frame).toContain("Secrets 4");
    expect(frame).toContain("Connectors 2/3 ready");
    expect(frame).toContain("Virtual MCPs 1");
    expect(frame).toContain("Sessions 5");
  });

  test("shows the error sentence when the gateway cannot be reached", () => {
    const { lastFrame } = render(<Overview url="http://127.0.0.1:1" status={undefined} error="Cannot reach the gateway" />);
    expect(lastFrame()).toContain("✗ Cannot reach the gateway");
    expect(lastFrame()).not.toContain("healthy");
  });
});

describe("TUI app against a running gateway", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ dataDir: join(tempDir(), "d") });
  });
  afterAll(() => gateway.stop());

  test("loads the status over the admin API and quits on q", async () => {
    const client = new AdminClient(locateGateway({ dataDir: gateway.dataDir }));
    const { lastFrame, stdin, unmount } = render(<App client={client} />);
    const frame = await frameContaining(lastFrame, "healthy");
    expect(frame).toContain(gateway.url);
    expect(frame).toContain("q quit");
    stdin.write("q");
    unmount();
  });

  test("a wrong token shows the server's refusal", async () => {
    const client = new AdminClient({ url: gateway.url, token: "mgt_admin_wrong" });
    const { lastFrame, unmount } = render(<App client={client} />);
    expect(await frameContaining(lastFrame, "refused the admin token")).toContain("✗");
    unmount();
  });
});
