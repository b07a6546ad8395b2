import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { LATEST_SCHEMA_VERSION } from "../src/store/index.ts";
import { startGateway, tempDir, type RunningGateway } from "./harness.ts";

describe("HTTP server", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ dataDir: join(tempDir(), "d") });
  });
  afterAll(() => gateway.stop());

  test("/healthz and /readyz", async () => {
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", instance: expect.any(String) });
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  test("unknown routes get a JSON 404, never HTML", async () => {
    for (const [method, path] of [["GET", "/nope"], ["POST", "/healthz"], ["GET", "/admin"]] as const) {
      const response = await fetch(`${gateway.url}${path}`, { method });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toStartWith("application/json");
      expect(await response.json()).toMatchObject({ error: "not_found" });
    }
  });

  test("bodies over 4 MiB get a JSON 413, declared or chunked", async () => {
    const big = new Uint8Array(4 * 1024 * 1024 + 1);
    const declared = await fetch(`${gateway.url}/healthz`, { method: "POST", body: big });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: "payload_too_large" });

    const chunks = (function* () {
      for (let i = 0; i < 5; i++) yield new Uint8Array(1024 * 1024);
    })();
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.next();
        next.done ? controller.close() : controller.enqueue(next.value);
      },
    });
    const chunked = await fetch(`${gateway.url}/healthz`, { method: "POST", body: stream });
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: "payload_too_large" });

    // Just under the limit is not refused for its size.
    const fits = await fetch(`${gateway.url}/healthz`, { method: "POST", body: new Uint8Array(4 * 1024 * 1024) });
    expect(fits.status).toBe(404);
  });

  test("/admin/api/status needs the admin token", async () => {
    const none = await fetch(`${gateway.url}/admin/api/status`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.json()).toMatchObject({ error: "unauthorized" });

    const wrong = await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: "Bearer mgt_admin_wrong" } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toContain("not valid");

    const right = await fetch(`${gateway.url}/admin/api/status`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(right.status).toBe(200);
    const status = (await right.json()) as { version: string; uptimeSeconds: number };
    expect(status).toMatchObject({ dataDir: gateway.dataDir, schemaVersion: LATEST_SCHEMA_VERSION, secrets: { count: 0 } });
    expect(status.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  test("a request without Host gets a JSON 400, not a 500 and an error in the log", async () => {
    for (const path of ["/metrics", "/mcp/demo", "/authorize", "/nope"]) {
      const answer = await rawExchange(gateway.url, `GET ${path} HTTP/1.0\r\n\r\n`);
      expect(answer).toStartWith("HTTP/1.1 400 ");
      expect(answer).toContain('"error":"invalid_request"');
    }
    expect(gateway.output()).not.toContain("request failed");
  });

  test("unknown admin routes are 401 without a token and JSON 404 with one", async () => {
    expect((await fetch(`${gateway.url}/admin/api/nothing`)).status).toBe(401);
    const found = await fetch(`${gateway.url}/admin/api/nothing`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(found.status).toBe(404);
  });
});

describe("HTTPS", () => {
  test("serves HTTPS with a certificate and key", async () => {
    const dir = tempDir();
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const openssl = Bun.spawnSync([
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    expect(openssl.exitCode).toBe(0);
    const gateway = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", cert, "--tls-key", key] });
    expect(gateway.url).toStartWith("https://127.0.0.1:");
    const response = await fetch(`${gateway.url}/healthz`, { tls: { ca: readFileSync(cert, "utf8") } });
    expect(response.status).toBe(200);
    // Plain HTTP to the TLS port is not served.
    await expect(fetch(gateway.url.replace("https:", "http:") + "/healthz")).rejects.toThrow();
    expect(await gateway.stop()).toBe(0);
    expect(gateway.output()).not.toContain("--tls-key file");
    // A private key every user can read is served all the same, with a warning that says how to close it.
    chmodSync(key, 0o644);
    const open = await startGateway({ dataDir: join(dir, "d"), args: ["--tls-cert", cert, "--tls-key", key] });
    expect(await open.stop()).toBe(0);
    expect(open.output()).toContain(`warn  The --tls-key file ${key} can be read by every user of this machine (mode 0644); \`chmod 600\` it (or 640 for a group the gateway's user is in).`);
  });
});

/** Writes `request` as it is on a new connection and returns everything read until the server closes it. */
function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
  let received = "";
  return new Promise<string>((resolve, reject) => {
    socket.on("data", (data) => (received += data.toString()));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

/** Sends a chunked POST whose body arrives in two parts, and returns the raw response. */
function slowRequest(url: string): { sendRest(): void; response: Promise<string>; headersSent: Promise<void> } {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let received = "";
  const response = new Promise<string>((resolve, reject) => {
    socket.on("data", (data) => (received += data.toString()));
    socket.on("end", () => resolve(received));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
  const headersSent = new Promise<void>((resolve) =>
    socket.on("connect", () => {
      socket.write(`POST /admin/api/status HTTP/1.1\r\nHost: ${hostname}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nfirst\r\n`, () => resolve());
    }),
  );
  return { sendRest: () => socket.write("4\r\nlast\r\n0\r\n\r\n"), response, headersSent };
}

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} during a slow request lets it finish, then exits 0`, async () => {
      const gateway = await startGateway({ dataDir: join(tempDir(), "d") });
      const request = slowRequest(gateway.url);
      await request.headersSent;
      // Wait until the server is reading this request's body, then signal.
      await Bun.sleep(200);
      gateway.signal(signal);
      await Bun.sleep(300);
      // The listener is closed for new connections while the old request runs.
      await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
      request.sendRest();
      const raw = await request.response;
      expect(raw).toStartWith("HTTP/1.1 401");
      expect(raw).toContain('"error":"unauthorized"');
      expect(await gateway.exited).toBe(0);
      expect(gateway.output()).toContain("shutting down");
      expect(gateway.output()).toContain("stopped");
    });
  }
});
