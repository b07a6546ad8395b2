/**
 * Elicitation and sampling requests an upstream makes during a call reach the client whose call caused them, through
 * mintgate, over a stdio and a Streamable HTTP connector: real SDK servers and clients, a real gateway and audit trail.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitationCompleteNotificationSchema, ElicitRequestSchema, McpError, type ClientCapabilities, type CreateMessageResult, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { REPO_ROOT, runMintgate, startConfiguredGateway, waitFor, type ConfiguredGateway } from "./harness.ts";
import { askingServer, startAskingHttpUpstream, type AskingHttpUpstream } from "./fixtures/asking-server.ts";
import { CLIENT_ANSWER_TIMEOUT_MS, UpstreamSession, type ClientRequestHandler } from "../src/connectors/upstream-session.ts";
import { unansweredOutcome } from "../src/gateway/session.ts";
import { HeldCalls, QuestionRounds } from "../src/gateway/input-rounds.ts";
import { parseExposition, sampleValue } from "./fixtures/prometheus-text.ts";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";

const ASKING_SERVER = join(REPO_ROOT, "test", "fixtures", "asking-server.ts");
/** The connectors' call timeout: a person answering takes longer, and the call must outlive it. */
const TIMEOUT_MS = 1000;
const SIGNATURE_SECRET = "sig-5ecret-value-42";

let upstream: AskingHttpUpstream;
let setup: ConfiguredGateway;
let otherToken: string;

beforeAll(async () => {
  upstream = startAskingHttpUpstream();
  setup = await startConfiguredGateway(`connectors:
  - { name: askio, kind: stdio, command: ${process.execPath}, args: ["${ASKING_SERVER}"], timeout: ${TIMEOUT_MS / 1000}s }
  - { name: asksigned, kind: stdio, command: ${process.execPath}, args: ["${ASKING_SERVER}"], env: { SIGNATURE: "\${secret:SIGNATURE}" } }
  - { name: askweb, kind: http, url: "${upstream.url}", timeout: ${TIMEOUT_MS / 1000}s }
virtualMcps:
  - slug: asking
    name: Asking
    access: { everyone: true }
    connectors: [{ connector: askio, prefix: io }, { connector: askweb, prefix: web }, { connector: asksigned, prefix: signed }]
`, { secrets: { SIGNATURE: SIGNATURE_SECRET } });
  const created = await runMintgate(["tokens", "create", "--user", "other@example.com", "--json", "--data", setup.dataDir]);
  otherToken = (JSON.parse(created.stdout) as { token: string }).token;
});

afterAll(async () => {
  await setup?.gateway.stop();
  await upstream?.stop();
});

interface Answers {
  elicit?: (params: ElicitParams, signal: AbortSignal) => ElicitResult | Promise<ElicitResult>;
  sample?: () => CreateMessageResult;
}
type ElicitParams = { message: string; requestedSchema?: unknown; mode?: string; url?: string; elicitationId?: string };

/**
 * An SDK client on the Virtual MCP declaring `capabilities`, answering the upstreams' requests with `answers`; what it was
 * asked is in `asked`. `legacy`: over the 2024-11-05 HTTP+SSE transport (/sse) instead of Streamable HTTP.
 */
async function askedClient(capabilities: ClientCapabilities, answers: Answers, token = setup.token, legacy = false) {
  const client = new Client({ name: "asked", version: "1.0.0" }, { capabilities });
  const asked: ElicitParams[] = [];
  if (capabilities.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => {
      asked.push(request.params as ElicitParams);
      return answers.elicit!(request.params as ElicitParams, extra.signal);
    });
  }
  if (capabilities.sampling) client.setRequestHandler(CreateMessageRequestSchema, () => answers.sample!());
  const requestInit = { headers: { Authorization: `Bearer ${token}` } };
  await client.connect(legacy ? new SSEClientTransport(new URL(`${setup.gateway.url}/sse/asking`), { requestInit }) : new StreamableHTTPClientTransport(new URL(`${setup.gateway.url}/mcp/asking`), { requestInit }));
  return { client, asked };
}

const textOf = (result: unknown) => ((result as { content: { text: string }[] }).content[0]!.text);

/** A client taking URL-mode elicitations (it accepts each); the elicitationIds whose completion it heard are in `completed`, in order. */
async function browsingClient(token = setup.token, legacy = false) {
  const { client, asked } = await askedClient({ elicitation: { url: {} } }, { elicit: () => ({ action: "accept" }) }, token, legacy);
  const completed: string[] = [];
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => void completed.push(notification.params.elicitationId));
  return { client, asked, completed };
}

/** Has `prefix`'s upstream send a URL elicitation to `browser` and complete it, and waits until `browser` heard so. */
async function browseTo(browser: Awaited<ReturnType<typeof browsingClient>>, prefix: string, elicitationId: string) {
  expect(textOf(await browser.client.callTool({ name: `${prefix}__browse`, arguments: { elicitationId, url: `https://auth.example.com/${elicitationId}` } }))).toBe("browse: accept");
  await waitFor(`the completion of ${elicitationId}`, () => browser.completed.includes(elicitationId) || undefined);
}

/**
 * Waits until a question asked on the connector under `prefix` reaches its caller's client again: after a call there was
 * given up on (cancelled, its session closed), a stdio upstream's questions are held back for the connector's timeout.
 */
async function untilQuestionsPass(prefix: string) {
  const { client } = await askedClient({ elicitation: { form: {} } }, { elicit: () => ({ action: "accept", content: { colour: "again" } }) });
  await waitFor(`questions on ${prefix} to pass again`, async () => textOf(await client.callTool({ name: `${prefix}__ask`, arguments: { message: "Again?" } })).startsWith("accept") || undefined);
  await client.close();
}

interface AuditRecord {
  method: string;
  connector: string | null;
  person: string;
  sessionId: string | null;
  outcome: string;
  arguments: string | null;
  result: string | null;
}

async function auditRecords(dataDir = setup.dataDir): Promise<AuditRecord[]> {
  const found = await runMintgate(["audit", "search", "--kind", "mcp", "--json", "--data", dataDir]);
  return JSON.parse(found.stdout) as AuditRecord[];
}

for (const [prefix, connector] of [["io", "askio"], ["web", "askweb"]] as const) {
  describe(`through the ${connector === "askio" ? "stdio" : "http"} connector`, () => {
    test("the form reaches the client, and what the person accepts reaches the tool and the audit trail", async () => {
      const { client, asked } = await askedClient({ elicitation: { form: {} } }, { elicit: () => ({ action: "accept", content: { colour: "green", password: "hunter2" } }) });
      const result = await client.callTool({ name: `${prefix}__ask`, arguments: { message: `Which colour (${prefix})?` } });
      expect(textOf(result)).toBe('accept: {"colour":"green","password":"hunter2"}');
      expect(asked).toHaveLength(1);
      expect(asked[0]!.message).toBe(`Which colour (${prefix})?`);
      expect(asked[0]!.requestedSchema).toEqual({ type: "object", properties: { colour: { type: "string" } }, required: ["colour"] });
      const record = await waitFor("the elicitation's audit record", async () => (await auditRecords()).find((r) => r.method === "elicitation/create" && r.arguments?.includes(`(${prefix})`)));
      expect(record).toMatchObject({ connector, person: "t@example.com", outcome: "ok", sessionId: client.transport!.sessionId! });
      expect(record.result).toContain('"colour":"green"');
      // The person's answer is recorded as tool arguments are: secret-looking keys hidden.
      expect(record.result).not.toContain("hunter2");
      await client.close();
    });

    test("a declined form is passed on as declined", async () => {
      const { client } = await askedClient({ elicitation: {} }, { elicit: () => ({ action: "decline" }) });
      expect(textOf(await client.callTool({ name: `${prefix}__ask`, arguments: { message: "Which colour?" } }))).toBe("decline: null");
      await client.close();
    });

    test("sampling reaches the client's model, its answer the tool, and the count /metrics", async () => {
      const { client } = await askedClient({ sampling: {} }, { sample: () => ({ role: "assistant", model: "test-model", content: { type: "text", text: "hello there" } }) });
      expect(textOf(await client.callTool({ name: `${prefix}__sample`, arguments: { prompt: "Say hello" } }))).toBe("model test-model said: hello there");
      const metrics = parseExposition(await (await fetch(`${setup.gateway.url}/metrics`)).text());
      expect(sampleValue(metrics, "mintgate_mcp_requests_total", { virtual_mcp: "asking", method: "sampling/createMessage", outcome: "ok" })).toBeGreaterThanOrEqual(1);
      await client.close();
    });

    test("a sampling request offering the model tools reaches only a client that declared sampling.tools", async () => {
      const sample = () => ({ role: "assistant" as const, model: "tool-model", content: { type: "text" as const, text: "looked up" } });
      const { client: plain } = await askedClient({ sampling: {} }, { sample });
      const refused = await plain.callTool({ name: `${prefix}__sample`, arguments: { prompt: "Look it up", withTools: true } });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toContain("it did not declare sampling with tools (capabilities.sampling.tools)");
      await plain.close();
      const { client: withTools } = await askedClient({ sampling: { tools: {} } }, { sample });
      expect(textOf(await withTools.callTool({ name: `${prefix}__sample`, arguments: { prompt: "Look it up", withTools: true } }))).toBe("model tool-model said: looked up");
      await withTools.close();
    });

    test("a client that did not declare elicitation gets an error naming it", async () => {
      const { client } = await askedClient({ sampling: {} }, { sample: () => ({ role: "assistant", model: "m", content: { type: "text", text: "x" } }) });
      const result = await client.callTool({ name: `${prefix}__ask`, arguments: { message: "Which colour?" } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("it did not declare the elicitation capability");
      await client.close();
    });

    test("a person answering after the connector's timeout still gets the call through", async () => {
      const { client } = await askedClient({ elicitation: { form: {} } }, { elicit: async () => (await Bun.sleep(TIMEOUT_MS * 2.5), { action: "accept", content: { colour: "slow blue" } }) });
      const result = await client.callTool({ name: `${prefix}__ask`, arguments: { message: "Take your time" } });
      expect(textOf(result)).toBe('accept: {"colour":"slow blue"}');
      await client.close();
    });

    test("a URL-mode elicitation reaches its client, then its completion, once; no other session hears either", async () => {
      const first = await browsingClient();
      const second = await browsingClient(otherToken);
      const id = `sign-in-${crypto.randomUUID()}`;
      await browseTo(first, prefix, id);
      expect(first.asked).toEqual([{ mode: "url", message: "Sign in there, please.", url: `https://auth.example.com/${id}`, elicitationId: id }]);
      // Told once, then forgotten; an id never given out goes nowhere either.
      await first.client.callTool({ name: `${prefix}__complete`, arguments: { elicitationId: id } });
      await first.client.callTool({ name: `${prefix}__complete`, arguments: { elicitationId: "never-given" } });
      // Each session's notifications come in order on its stream: had one of the completions above reached it, it would come before its own.
      const next = `next-${crypto.randomUUID()}`;
      await browseTo(first, prefix, next);
      expect(first.completed).toEqual([id, next]);
      const own = `own-${crypto.randomUUID()}`;
      await browseTo(second, prefix, own);
      expect(second.completed).toEqual([own]);
      expect(second.asked.map((asked) => asked.elicitationId)).toEqual([own]);
      await first.client.close();
      await second.client.close();
    });

    test("URLs a call was refused for (-32042) complete to its client, whoever's call the upstream sends it in", async () => {
      const first = await browsingClient();
      const second = await browsingClient(otherToken);
      const id = `authorize-${crypto.randomUUID()}`;
      const refused = await first.client.callTool({ name: `${prefix}__needsBrowsing`, arguments: { elicitationIds: [id] } }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(McpError);
      expect((refused as McpError).code).toBe(-32042);
      expect((refused as McpError).data).toEqual({ elicitations: [{ mode: "url", message: "Authorize first.", url: `https://auth.example.com/${id}`, elicitationId: id }] });
      await second.client.callTool({ name: `${prefix}__complete`, arguments: { elicitationId: id } });
      await waitFor("the completion", () => first.completed.length > 0 || undefined);
      expect(first.completed).toEqual([id]);
      const own = `own-${crypto.randomUUID()}`;
      await browseTo(second, prefix, own);
      expect(second.completed).toEqual([own]);
      await first.client.close();
      await second.client.close();
    });

    test("a client that declared forms only is not sent a URL: the tool is told it did not declare URL mode", async () => {
      const { client, asked } = await askedClient({ elicitation: { form: {} } }, { elicit: () => ({ action: "accept" }) });
      const result = await client.callTool({ name: `${prefix}__browse`, arguments: { elicitationId: "formsOnly", url: "https://auth.example.com/formsOnly" } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("it did not declare elicitation in url mode (capabilities.elicitation.url)");
      expect(asked).toEqual([]);
      await client.close();
    });

    test("cancelling the call while the client holds the form ends the form too", async () => {
      let formEnded = false;
      let formShown!: () => void;
      const shown = new Promise<void>((resolve) => (formShown = resolve));
      const { client } = await askedClient(
        { elicitation: { form: {} } },
        {
          elicit: (_, signal) =>
            new Promise((resolve) => {
              formShown();
              signal.addEventListener("abort", () => {
                formEnded = true;
                resolve({ action: "cancel" });
              });
            }),
        },
      );
      const call = new AbortController();
      const result = client.callTool({ name: `${prefix}__ask`, arguments: { message: "Cancel me" } }, undefined, { signal: call.signal }).catch((error: Error) => error);
      await shown;
      call.abort("changed my mind");
      expect(await result).toBeInstanceOf(Error);
      await waitFor("the client to be told its form is cancelled", () => formEnded);
      const record = await waitFor("the cancelled form's record", async () => (await auditRecords()).find((r) => r.method === "elicitation/create" && r.arguments?.includes("Cancel me")));
      expect(record.outcome).toBe("cancelled");
      await client.close();
      await untilQuestionsPass(prefix);
    });
  });
}

test("an upstream withdrawing its question ends the client's form, and the call's timeout runs again", async () => {
  let formEnded = false;
  const { client } = await askedClient(
    { elicitation: { form: {} } },
    { elicit: (_, signal) => new Promise((resolve) => signal.addEventListener("abort", () => ((formEnded = true), resolve({ action: "cancel" })))) },
  );
  // The tool gives up on its question after 200 ms and works on for 5 s, past the connector's 1 s timeout.
  const result = await client.callTool({ name: "io__ask", arguments: { message: "Withdrawn?", giveUpAfterMs: 200 } });
  expect(textOf(result)).toBe(`Connector "askio" did not answer tools/call within ${TIMEOUT_MS / 1000} s.`);
  expect(formEnded).toBe(true);
  const record = await waitFor("the withdrawn form's record", async () => (await auditRecords()).find((r) => r.method === "elicitation/create" && r.arguments?.includes("Withdrawn?")));
  expect(record.outcome).toBe("cancelled");
  await client.close();
  await untilQuestionsPass("io");
});

test("a client closing its session while it holds a form ends the form and the call, and the record says so", async () => {
  const shown = Promise.withResolvers<void>();
  const { client } = await askedClient({ elicitation: { form: {} } }, { elicit: () => (shown.resolve(), new Promise<ElicitResult>(() => {})) });
  const call = client.callTool({ name: "io__ask", arguments: { message: "Close me" } }).catch((error: Error) => error);
  await shown.promise;
  await (client.transport as StreamableHTTPClientTransport).terminateSession();
  const record = await waitFor("the closed form's record", async () => (await auditRecords()).find((r) => r.method === "elicitation/create" && r.arguments?.includes("Close me")));
  expect(record.outcome).toBe("cancelled");
  await client.close();
  await call;
  await untilQuestionsPass("io");
});

/** A sessionless (2026-07-28) request to the Virtual MCP declaring `capabilities`, sent with `token` (to the gateway at `gatewayUrl`); its JSON-RPC reply. */
async function sessionless(method: string, params: Record<string, unknown>, capabilities: ClientCapabilities, token = setup.token, gatewayUrl = setup.gateway.url) {
  const reply = await fetch(`${gatewayUrl}/mcp/asking`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": method, "mcp-name": String(params.name) },
    body: JSON.stringify({ jsonrpc: "2.0", id: crypto.randomUUID(), method, params: { ...params, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": capabilities } } }),
  });
  return (await reply.json()) as { result?: Record<string, unknown> & { requestState?: string; inputRequests?: Record<string, { method: string; params: ElicitParams }> }; error?: { code: number; message: string } };
}

/** The official 2.x client pinned to 2026-07-28: it answers input_required rounds with its handlers and sends the call again. */
async function modernClient(answers: Answers) {
  const client = new ModernClient({ name: "modern-asked", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } }, capabilities: { elicitation: { form: {} }, sampling: {} } });
  const asked: ElicitParams[] = [];
  client.setRequestHandler("elicitation/create", async (request) => (asked.push(request.params as ElicitParams), answers.elicit!(request.params as ElicitParams, new AbortController().signal)));
  client.setRequestHandler("sampling/createMessage", async () => answers.sample!());
  const withToken = (input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization: `Bearer ${setup.token}` } });
  await client.connect(new ModernTransport(new URL(`${setup.gateway.url}/mcp/asking`), { fetch: withToken }));
  return { client, asked };
}

for (const [prefix, connector] of [["io", "askio"], ["web", "askweb"]] as const) {
  describe(`a sessionless (2026-07-28) client, through the ${connector === "askio" ? "stdio" : "http"} connector`, () => {
    test("gets the upstream's form as an input_required round, and its retry with the answer gets the tool's result", async () => {
      const message = `Rounds (${prefix}) ${crypto.randomUUID()}?`;
      const first = await sessionless("tools/call", { name: `${prefix}__ask`, arguments: { message } }, { elicitation: {} });
      expect(first.result!.resultType).toBe("input_required");
      const [[key, question]] = Object.entries(first.result!.inputRequests!) as [[string, { method: string; params: ElicitParams }]];
      expect(question).toEqual({ method: "elicitation/create", params: { message, mode: "form", requestedSchema: { type: "object", properties: { colour: { type: "string" } }, required: ["colour"] } } });
      // Opaque and unguessable: at least 128 random bits, and nothing of the call in it.
      expect(Buffer.from(first.result!.requestState!, "base64url").length).toBeGreaterThanOrEqual(16);
      expect(first.result!.requestState).not.toContain(prefix);
      const retry = { name: `${prefix}__ask`, arguments: { message }, inputResponses: { [key]: { action: "accept", content: { colour: "indigo" } } }, requestState: first.result!.requestState };
      // Another person's token cannot take the call over, nor does trying use the state up.
      const foreign = await sessionless("tools/call", retry, { elicitation: {} }, otherToken);
      expect(foreign.error).toMatchObject({ code: -32602, message: expect.stringContaining("send the tools/call request again from the start") });
      const done = await sessionless("tools/call", retry, { elicitation: {} });
      expect(done.result!.resultType).toBe("complete");
      expect(textOf(done.result)).toBe('accept: {"colour":"indigo"}');
      // Used once.
      expect((await sessionless("tools/call", retry, { elicitation: {} })).error).toMatchObject({ code: -32602, message: expect.stringContaining("already used") });
      const record = await waitFor("the round's question on the record", async () => (await auditRecords()).find((r) => r.method === "elicitation/create" && r.arguments?.includes(message)));
      expect(record).toMatchObject({ connector, person: "t@example.com", outcome: "ok" });
      expect(record.result).toContain("indigo");
      expect(record.result).not.toContain(first.result!.requestState!);
    });

    test("the official 2.x client answers two rounds of forms, and a sampling round, and gets each tool's result", async () => {
      const colours = ["amber", "jade"];
      const { client, asked } = await modernClient({
        elicit: () => ({ action: "accept", content: { colour: colours[asked.length - 1]! } }),
        sample: () => ({ role: "assistant", model: "modern-model", content: { type: "text", text: "hi from 2026" } }),
      });
      const twice = await client.callTool({ name: `${prefix}__askTwice`, arguments: { message: "First colour?" } });
      expect(textOf(twice)).toBe('accept: {"colour":"amber"}; accept: {"colour":"jade"}');
      expect(asked.map((form) => form.message)).toEqual(["First colour?", "And another?"]);
      expect(textOf(await client.callTool({ name: `${prefix}__sample`, arguments: { prompt: "Say hi" } }))).toBe("model modern-model said: hi from 2026");
      await client.close();
    });

    test("a retry naming another tool, or other arguments, than its held call is refused, and does not use the state up", async () => {
      const call = { name: `${prefix}__ask`, arguments: { message: "Same request?" } };
      const first = await sessionless("tools/call", call, { elicitation: {} });
      const key = Object.keys(first.result!.inputRequests!)[0]!;
      const answers = { inputResponses: { [key]: { action: "accept", content: { colour: "ochre" } } }, requestState: first.result!.requestState };
      for (const other of [{ name: `${prefix}__sample`, arguments: { prompt: "Same request?" } }, { ...call, arguments: { message: "Another request?" } }]) {
        const refused = await sessionless("tools/call", { ...other, ...answers }, { elicitation: {}, sampling: {} });
        expect(refused.error).toMatchObject({ code: -32602, message: expect.stringContaining("This requestState was given for another request") });
      }
      // The same request with its keys in another order is the same.
      const done = await sessionless("tools/call", { arguments: call.arguments, name: call.name, ...answers }, { elicitation: {} });
      expect(textOf(done.result)).toBe('accept: {"colour":"ochre"}');
    });

    test("two retries racing with one requestState: one resumes the call, the other is refused", async () => {
      const call = { name: `${prefix}__ask`, arguments: { message: "Raced?" } };
      const first = await sessionless("tools/call", call, { elicitation: {} });
      const key = Object.keys(first.result!.inputRequests!)[0]!;
      const retry = { ...call, inputResponses: { [key]: { action: "accept", content: { colour: "cyan" } } }, requestState: first.result!.requestState };
      const replies = await Promise.all([sessionless("tools/call", retry, { elicitation: {} }), sessionless("tools/call", retry, { elicitation: {} })]);
      expect(replies.map((reply) => (reply.result ? textOf(reply.result) : reply.error!.code)).sort()).toEqual([-32602, 'accept: {"colour":"cyan"}']);
    });

    test("a made-up requestState is refused, a retry missing its answer is asked again, and one whose answer is no result fails the call with a sentence", async () => {
      const madeUp = await sessionless("tools/call", { name: `${prefix}__ask`, arguments: { message: "x" }, inputResponses: {}, requestState: "not-one-of-ours" }, { elicitation: {} });
      expect(madeUp.error).toMatchObject({ code: -32602, message: expect.stringContaining("This requestState is unknown, expired, already used or not yours") });
      const call = { name: `${prefix}__ask`, arguments: { message: "Answer missing?" } };
      const first = await sessionless("tools/call", call, { elicitation: {} });
      // SEP-2322: the same question again, in a new round under a new state (the first one is used up).
      const missing = await sessionless("tools/call", { ...call, inputResponses: { wrong: { action: "accept" } }, requestState: first.result!.requestState }, { elicitation: {} });
      expect(missing.result!.resultType).toBe("input_required");
      expect(missing.result!.inputRequests).toEqual(first.result!.inputRequests);
      expect(missing.result!.requestState).not.toBe(first.result!.requestState);
      expect((await sessionless("tools/call", { ...call, inputResponses: {}, requestState: first.result!.requestState }, { elicitation: {} })).error).toMatchObject({ code: -32602 });
      const [key] = Object.keys(missing.result!.inputRequests!);
      const malformed = await sessionless("tools/call", { ...call, inputResponses: { [key!]: { action: 42 } }, requestState: missing.result!.requestState }, { elicitation: {} });
      expect(malformed.error).toMatchObject({ code: -32602, message: expect.stringContaining("is not a elicitation/create result") });
      const record = await waitFor("the unanswered question's record", async () => (await auditRecords()).find((r) => r.method === "elicitation/create" && r.arguments?.includes("Answer missing?")));
      expect(record.outcome).toBe("error");
      // The failed call was given up on: a stdio upstream's questions are held back for a while after.
      await untilQuestionsPass(prefix);
    });

    test("a sampling request offering the model tools is a round only for a client that declared sampling.tools", async () => {
      const call = { name: `${prefix}__sample`, arguments: { prompt: "Look it up", withTools: true } };
      const refused = await sessionless("tools/call", call, { sampling: {} });
      expect(refused.result!.resultType).toBe("complete");
      expect(textOf(refused.result)).toContain("it did not declare sampling with tools (capabilities.sampling.tools)");
      const round = await sessionless("tools/call", call, { sampling: { tools: {} } });
      expect(round.result!.resultType).toBe("input_required");
      const [[key, question]] = Object.entries(round.result!.inputRequests!) as [[string, { method: string; params: unknown }]];
      expect(question.params).toMatchObject({ tools: [{ name: "lookup" }] });
      // The model asks to use the tool offered: a sampling result with tools, not one of text.
      const answer = { role: "assistant", model: "tool-model", content: [{ type: "tool_use", id: "use-1", name: "lookup", input: { word: "gateway" } }], stopReason: "toolUse" };
      const done = await sessionless("tools/call", { ...call, inputResponses: { [key]: answer }, requestState: round.result!.requestState }, { sampling: { tools: {} } });
      expect(textOf(done.result)).toBe("model tool-model said: tool_use");
    });

    test("a client that declared no elicitation gets the tool's refusal, not a round", async () => {
      const reply = await sessionless("tools/call", { name: `${prefix}__ask`, arguments: { message: "Stateless?" } }, { sampling: {} });
      expect(reply.result!.resultType).toBe("complete");
      expect(textOf(reply.result)).toContain("it did not declare the elicitation capability");
    });

    test("an envelope declaring elicitation as null is read as not declaring it: the tool's refusal, not an internal error", async () => {
      const reply = await sessionless("tools/call", { name: `${prefix}__ask`, arguments: { message: "Null?" } }, { elicitation: null } as unknown as ClientCapabilities);
      expect(reply.result!.resultType).toBe("complete");
      expect(textOf(reply.result)).toContain("it did not declare the elicitation capability");
    });
  });
}

test("a sessionless call held for its question does not count against its person's limit when its retry answers it", async () => {
  const limited = await startConfiguredGateway(`connectors:
  - { name: askweb, kind: http, url: "${upstream.url}" }
virtualMcps:
  - { slug: asking, name: Asking, access: { everyone: true }, connectors: [{ connector: askweb, prefix: web }] }
`, { label: "mintgate-held-limit", args: ["--requests-per-person", "1"] });
  try {
    const call = { name: "web__ask", arguments: { message: "One at a time?" } };
    const first = await sessionless("tools/call", call, { elicitation: {} }, limited.token, limited.gateway.url);
    const key = Object.keys(first.result!.inputRequests!)[0]!;
    // Only a retry of a method with rounds passes: another request carrying a requestState is refused as any other past the limit.
    const listing = await fetch(`${limited.gateway.url}/mcp/asking`, {
      method: "POST",
      headers: { authorization: `Bearer ${limited.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { requestState: first.result!.requestState, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }),
    });
    expect(listing.status).toBe(429);
    expect(listing.headers.get("retry-after")).toBe("1");
    const done = await sessionless("tools/call", { ...call, inputResponses: { [key]: { action: "accept", content: { colour: "lime" } } }, requestState: first.result!.requestState }, { elicitation: {} }, limited.token, limited.gateway.url);
    expect(textOf(done.result)).toBe('accept: {"colour":"lime"}');
  } finally {
    await limited.gateway.stop();
  }
});

test("a sessionless client closing its request while its call runs (a round waiting) cancels the call", async () => {
  const message = `Closed ${crypto.randomUUID()}?`;
  const closing = new AbortController();
  const reply = await fetch(`${setup.gateway.url}/mcp/asking`, {
    method: "POST",
    signal: closing.signal,
    headers: { authorization: `Bearer ${setup.token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "web__ask" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "web__ask", arguments: { message, afterMs: 300 }, _meta: { progressToken: "p", "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } } } }),
  });
  // The tool's first progress says the call arrived; it asks only 300 ms later.
  const reader = reply.body!.getReader();
  let seen = "";
  while (!seen.includes("notifications/progress")) seen += new TextDecoder().decode((await reader.read()).value);
  closing.abort();
  const record = await waitFor("the closed call's record", async () => (await auditRecords()).find((r) => r.method === "tools/call" && r.arguments?.includes(message)));
  expect(record.outcome).toBe("cancelled");
});

test("a sessionless call whose upstream withdrew its question and worked on gives its retry the call's result", async () => {
  // A connector timeout longer than the tool works on after giving up its question (5 s).
  const patient = await startConfiguredGateway(`connectors:
  - { name: askweb, kind: http, url: "${upstream.url}", timeout: 30s }
virtualMcps:
  - { slug: asking, name: Asking, access: { everyone: true }, connectors: [{ connector: askweb, prefix: web }] }
`, { label: "mintgate-withdrawn-round" });
  try {
    const call = { name: "web__ask", arguments: { message: "Withdrawn round?", giveUpAfterMs: 100 } };
    const first = await sessionless("tools/call", call, { elicitation: {} }, patient.token, patient.gateway.url);
    const key = Object.keys(first.result!.inputRequests!)[0]!;
    await waitFor("the question withdrawn", async () => (await auditRecords(patient.dataDir)).find((r) => r.method === "elicitation/create" && r.outcome === "cancelled"));
    const retry = { ...call, inputResponses: { [key]: { action: "accept", content: { colour: "late" } } }, requestState: first.result!.requestState };
    const done = await sessionless("tools/call", retry, { elicitation: {} }, patient.token, patient.gateway.url);
    expect(textOf(done.result)).toBe("went on without an answer");
    // The call ended: its state with it.
    expect((await sessionless("tools/call", retry, { elicitation: {} }, patient.token, patient.gateway.url)).error).toMatchObject({ code: -32602 });
  } finally {
    await patient.gateway.stop();
  }
});

test("a legacy (/sse) client gets the form on its event stream and answers it by POST", async () => {
  const { client, asked } = await askedClient({ elicitation: {} }, { elicit: () => ({ action: "accept", content: { colour: "sepia" } }) }, setup.token, true);
  expect(textOf(await client.callTool({ name: "web__ask", arguments: { message: "Old school?" } }))).toBe('accept: {"colour":"sepia"}');
  expect(asked.map((form) => form.message)).toEqual(["Old school?"]);
  await client.close();
});

test("a legacy (/sse) client hears its URL elicitation's completion on its event stream", async () => {
  const browser = await browsingClient(setup.token, true);
  const id = `legacy-${crypto.randomUUID()}`;
  await browseTo(browser, "web", id);
  expect(browser.completed).toEqual([id]);
  await browser.client.close();
});

test("what an upstream asks a person never shows its connector's secret values", async () => {
  const { client, asked } = await askedClient({ elicitation: { form: {} } }, { elicit: () => ({ action: "accept", content: { colour: "plum" } }) });
  expect(textOf(await client.callTool({ name: "signed__ask", arguments: { message: "Which colour?" } }))).toBe('accept: {"colour":"plum"}');
  expect(asked[0]!.message).toStartWith("Which colour? (from ");
  expect(asked[0]!.message).not.toContain(SIGNATURE_SECRET);
  await client.close();
});

test("a session holds the 256 newest URL elicitations it was given: the completion of an older one goes nowhere", async () => {
  const browser = await browsingClient();
  const ids = Array.from({ length: 257 }, (_, i) => `many-${i}`);
  expect(await browser.client.callTool({ name: "io__needsBrowsing", arguments: { elicitationIds: ids } }).catch((error: McpError) => error.code)).toBe(-32042);
  await browser.client.callTool({ name: "io__complete", arguments: { elicitationId: ids[0]! } });
  await browser.client.callTool({ name: "io__complete", arguments: { elicitationId: ids[1]! } });
  await waitFor("the newer completion", () => browser.completed.length > 0 || undefined);
  // In order on the stream: the oldest's would have come first.
  expect(browser.completed).toEqual([ids[1]!]);
  await browser.client.close();
});

test("a JSON-RPC batch's call cannot take the upstream's form: the tool is told why", async () => {
  const headers = { authorization: `Bearer ${setup.token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  const opened = await fetch(`${setup.gateway.url}/mcp/asking`, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: { elicitation: {} }, clientInfo: { name: "batcher", version: "1" } } }),
  });
  const session = { ...headers, "mcp-session-id": opened.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-03-26" };
  await opened.text();
  await fetch(`${setup.gateway.url}/mcp/asking`, { method: "POST", headers: session, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  const reply = await fetch(`${setup.gateway.url}/mcp/asking`, {
    method: "POST",
    headers: session,
    body: JSON.stringify([{ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "io__ask", arguments: { message: "In a batch?" } } }]),
  });
  const [answer] = (await reply.json()) as { id: number; result: unknown }[];
  expect(answer!.id).toBe(2);
  expect(textOf(answer!.result)).toContain("the call came in a JSON-RPC batch, whose reply carries no requests");
  await fetch(`${setup.gateway.url}/mcp/asking`, { method: "DELETE", headers: session });
});

test("an upstream gets at most 100 of its questions to people held at once: the 101st is refused saying so", async () => {
  // Every form is held until the upstream tells (as progress) that one was refused, so the 101st comes while 100 are out.
  const refusedOne = Promise.withResolvers<void>();
  const { client, asked } = await askedClient({ elicitation: { form: {} } }, { elicit: async () => (await refusedOne.promise, { action: "accept", content: { colour: "grey" } }) });
  const result = await client.callTool({ name: "io__askMany", arguments: { count: 101 } }, undefined, { onprogress: () => refusedOne.resolve() });
  const { accepted, refused } = JSON.parse(textOf(result)) as { accepted: number; refused: string[] };
  expect(accepted).toBe(100);
  expect(refused).toHaveLength(1);
  expect(refused[0]).toContain("mintgate already holds 100 of this server's elicitation/create requests for people to answer; send it again once some are answered.");
  expect(asked).toHaveLength(100);
  await client.close();
});

describe("two people calling at once", () => {
  /** Each person's client answers with their own colour, holding the form until the other's call ended or form came, so the calls overlap. */
  async function bothAsk(prefix: string) {
    const ended: Promise<unknown>[] = [];
    const shown = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    const people = await Promise.all(
      [
        { token: setup.token, colour: "red" },
        { token: otherToken, colour: "teal" },
      ].map(async ({ token, colour }, i) => {
        const asked = await askedClient(
          { elicitation: { form: {} } },
          {
            elicit: async () => {
              shown[i]!.resolve();
              await Promise.race([ended[1 - i], shown[1 - i]!.promise, Bun.sleep(3000)]);
              return { action: "accept", content: { colour } };
            },
          },
          token,
        );
        return { ...asked, colour };
      }),
    );
    const results = people.map(({ client, colour }) => client.callTool({ name: `${prefix}__ask`, arguments: { message: `for ${colour}` } }));
    ended.push(...results.map((r) => r.catch(() => undefined)));
    const texts = (await Promise.all(results)).map(textOf);
    for (const person of people) await person.client.close();
    return { people, texts };
  }

  test("on a stdio connector each gets only their own form, or an error saying mintgate cannot tell whose it is", async () => {
    const { people, texts } = await bothAsk("io");
    for (const [i, { asked, colour }] of people.entries()) {
      for (const form of asked) expect(form.message).toBe(`for ${colour}`);
      if (asked.length === 0) expect(texts[i]).toContain("cannot tell which of several callers");
      else expect(texts[i]).toBe(`accept: {"colour":"${colour}"}`);
    }
    // The calls overlapped: the second form had two possible callers.
    expect(texts.some((text) => text.includes("cannot tell which of several callers"))).toBe(true);
  });

  test("on a stdio connector a person whose client takes no forms is not answered by another person's client", async () => {
    const otherEnded = Promise.withResolvers<void>();
    const taker = await askedClient({ elicitation: { form: {} } }, { elicit: async () => (await Promise.race([otherEnded.promise, Bun.sleep(3000)]), { action: "accept", content: { colour: "red" } }) });
    const other = await askedClient({ sampling: {} }, { sample: () => ({ role: "assistant", model: "m", content: { type: "text", text: "x" } }) }, otherToken);
    const taken = taker.client.callTool({ name: "io__ask", arguments: { message: "for red" } });
    // Sent once the first is in flight upstream (its form is out): the other's question then has two possible callers.
    await waitFor("the first form", () => taker.asked.length > 0 || undefined);
    const refused = other.client.callTool({ name: "io__ask", arguments: { message: "for teal" } });
    void refused.finally(() => otherEnded.resolve());
    expect(textOf(await refused)).toContain("cannot tell which of several callers");
    expect(textOf(await taken)).toBe('accept: {"colour":"red"}');
    expect(taker.asked.map((form) => form.message)).toEqual(["for red"]);
    await taker.client.close();
    await other.client.close();
  });

  test("on a stdio connector a question from a call its person cancelled does not reach another person's client", async () => {
    const secondForm = Promise.withResolvers<void>();
    let forms = 0;
    // Holds its form until a second one comes (the bug) or well after the cancelled call's tool asked.
    const holder = await askedClient({ elicitation: { form: {} } }, { elicit: async () => (++forms > 1 ? secondForm.resolve() : await Promise.race([secondForm.promise, Bun.sleep(1500)]), { action: "accept", content: { colour: "red" } }) });
    const taken = holder.client.callTool({ name: "io__ask", arguments: { message: "for red" } });
    await waitFor("the first form", () => holder.asked.length > 0 || undefined);
    const other = await askedClient({ elicitation: { form: {} } }, { elicit: () => ({ action: "accept", content: { colour: "teal" } }) }, otherToken);
    const cancel = new AbortController();
    const running = Promise.withResolvers<void>();
    // The upstream tool goes on after the cancellation, and asks its question once the call is gone from the gateway.
    const cancelled = other.client
      .callTool({ name: "io__ask", arguments: { message: "for teal only", afterMs: 200 } }, undefined, { signal: cancel.signal, onprogress: () => running.resolve() })
      .catch((error: Error) => error);
    await running.promise;
    cancel.abort("changed my mind");
    expect(await cancelled).toBeInstanceOf(Error);
    expect(textOf(await taken)).toBe('accept: {"colour":"red"}');
    expect(holder.asked.map((form) => form.message)).toEqual(["for red"]);
    expect(other.asked).toEqual([]);
    await holder.client.close();
    await other.client.close();
    await untilQuestionsPass("io");
  });

  test("on an http connector each gets their own form: the reply it came in says whose call it is", async () => {
    const { people, texts } = await bothAsk("web");
    for (const [i, { asked, colour }] of people.entries()) {
      expect(asked.map((form) => form.message)).toEqual([`for ${colour}`]);
      expect(texts[i]).toBe(`accept: {"colour":"${colour}"}`);
    }
  });
});

/**
 * The 10-minute bound cannot be waited out through the gateway: a real UpstreamSession on the asking server, in this process
 * under fake timers, with a client whose person never answers, shows why each wait ends and how its record calls that.
 */
/** Runs `check` on a real UpstreamSession connected in this process to the asking server, under fake timers. */
async function withAskingSessionUnderFakeTimers(check: (session: UpstreamSession) => Promise<void>) {
  jest.useFakeTimers();
  const [ours, theirs] = InMemoryTransport.createLinkedPair();
  const session = new UpstreamSession("asking", ours);
  try {
    await askingServer().connect(theirs);
    await session.connect(5000);
    await check(session);
  } finally {
    await session.close();
    jest.useRealTimers();
  }
}

describe("a question nobody answers", () => {
  for (const ending of ["the 10-minute bound", "the call's cancellation"] as const) {
    test(`ended by ${ending}, it is recorded as ${ending === "the 10-minute bound" ? "timeout" : "cancelled"}`, () =>
      withAskingSessionUnderFakeTimers(async (session) => {
        const waiting = Promise.withResolvers<AbortSignal>();
        const silentPerson: ClientRequestHandler = {
          clientSession: { holdElicitation: () => false, elicitationCompleted: () => {} },
          refusal: () => undefined,
          ask: (_method, _params, signal) => (waiting.resolve(signal), new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))),
        };
        const call = new AbortController();
        const result = session.request("tools/call", { name: "ask", arguments: { message: "Anyone?" } }, { timeoutMs: 5000, signal: call.signal, clientRequests: silentPerson }).catch((error: Error) => error);
        const signal = await waiting.promise;
        if (ending === "the 10-minute bound") jest.advanceTimersByTime(CLIENT_ANSWER_TIMEOUT_MS);
        else call.abort();
        expect(signal.aborted).toBe(true);
        expect(unansweredOutcome(signal.reason)).toBe(ending === "the 10-minute bound" ? "timeout" : "cancelled");
        if (ending === "the 10-minute bound") expect(textOf(await result)).toContain("The client did not answer elicitation/create within 10 minutes");
      }));
  }

  test("held for a sessionless client's round, the bound ends it: the upstream hears so and its requestState stops working", () =>
    withAskingSessionUnderFakeTimers(async (session) => {
      const rounds = new QuestionRounds();
      const held = new HeldCalls<string>();
      // As a sessionless call's session asks: the question waits in the call's rounds until a retry answers it or the relay gives up.
      const roundsClient: ClientRequestHandler = {
        clientSession: { holdElicitation: () => false, elicitationCompleted: () => {} },
        refusal: () => undefined,
        ask: (method, params, signal) => {
          const answer = Promise.withResolvers<Record<string, unknown>>();
          signal.addEventListener("abort", () => answer.reject(signal.reason));
          rounds.ask({ key: "q", method, params, answer });
          return answer.promise;
        },
      };
      const result = session.request("tools/call", { name: "ask", arguments: { message: "Coming back?" } }, { timeoutMs: 5000, clientRequests: roundsClient }).catch((error: Error) => error);
      const next = await rounds.next(result);
      if (!("question" in next)) throw new Error("the upstream's question never came");
      const caller = { subject: "t@example.com", tokenId: "token-1", virtualMcp: null, expiresAt: null };
      const { requestState } = held.hold({ owner: caller.subject, tokenId: caller.tokenId, virtualMcp: "asking", method: "tools/call", request: "{}", question: next.question, call: "the call" }, result);
      jest.advanceTimersByTime(CLIENT_ANSWER_TIMEOUT_MS);
      expect(textOf(await result)).toContain("The client did not answer elicitation/create within 10 minutes");
      expect(held.take(requestState, caller, "asking", "tools/call", "{}")).toBe("unknown");
    }));
});

test("a legacy (/sse) client whose initialize declares elicitation as null is told it did not declare it, and the tool is answered", async () => {
  // The legacy transport's initialize is not checked against the schema: a malformed capability must not break the relay.
  for (const prefix of ["io", "web"]) {
    const { client } = await askedClient({ elicitation: null } as unknown as ClientCapabilities, {}, setup.token, true);
    const result = await client.callTool({ name: `${prefix}__ask`, arguments: { message: "Null?" } });
    expect(textOf(result)).toContain("it did not declare the elicitation capability");
    await client.close();
  }
});
