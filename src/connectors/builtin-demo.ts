import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { McpError, ReadResourceRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { VERSION } from "../version.ts";

/** MCP's "Resource not found" (2025-11-25); the SDK's ErrorCode has no name for it. */
const RESOURCE_NOT_FOUND = -32002;

/**
 * The demo MCP server compiled into the binary, for `make run` and for trying
 * mintgate without installing anything. Its tools are small but real.
 */
function createDemoServer(): McpServer {
  const server = new McpServer(
    { name: "mintgate-demo", version: VERSION },
    { instructions: "Demo tools built into mintgate: echo text, add numbers, read the clock." },
  );
  server.registerTool(
    "echo",
    {
      title: "Echo",
      description: "Return the given text unchanged.",
      inputSchema: { text: z.string().describe("The text to return") },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  server.registerTool(
    "add",
    {
      title: "Add",
      description: "Add two numbers and return the sum.",
      inputSchema: { a: z.number(), b: z.number() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }], structuredContent: { sum: a + b } }),
  );
  server.registerTool(
    "now",
    {
      title: "Current time",
      description: "Return the gateway's current time in ISO 8601 (UTC).",
      inputSchema: {},
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => ({ content: [{ type: "text", text: new Date().toISOString() }] }),
  );
  server.registerTool(
    "countdown",
    {
      title: "Countdown",
      description: "Count down from n to 1, one step every `intervalMs`, reporting progress; stops early when cancelled.",
      inputSchema: { n: z.number().int().min(1).max(100), intervalMs: z.number().int().min(0).max(10_000).default(100) },
    },
    async ({ n, intervalMs }, extra) => {
      for (let i = 1; i <= n; i++) {
        if (extra.signal.aborted) return { content: [{ type: "text", text: `cancelled at ${i - 1}/${n}` }], isError: true };
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        const token = extra._meta?.progressToken;
        if (token !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: i, total: n, message: `${n - i} to go` } });
        }
      }
      return { content: [{ type: "text", text: `counted down from ${n}` }] };
    },
  );
  server.registerPrompt(
    "greeting",
    { title: "Greeting", description: "A short greeting for someone.", argsSchema: { name: z.string() } },
    ({ name }) => ({ messages: [{ role: "user", content: { type: "text", text: `Say hello to ${name} in one friendly sentence.` } }] }),
  );
  const ABOUT = "demo://about";
  const about = server.registerResource(
    "about",
    ABOUT,
    { title: "About mintgate", description: "What this demo server is.", mimeType: "text/plain" },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: `mintgate ${VERSION} demo server: tools echo, add, now, countdown.` }] }),
  );
  const numbers = server.registerResource(
    "number",
    new ResourceTemplate("demo://numbers/{n}", { list: undefined }),
    { title: "A number", description: "Facts about a whole number.", mimeType: "application/json" },
    async (uri, { n }) => {
      const value = Number(n);
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ n: value, even: value % 2 === 0, square: value * value }) }] };
    },
  );
  // Replaces McpServer's own read handler, which answers an unknown URI with -32602 and no data: MCP asks for
  // -32002 with data.uri, the URI asked for (SEP-2164; the conformance suite warns without it).
  server.server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    // A URI that is no URL is one the demo does not have either (new URL threw, answered as an internal error).
    const uri = URL.parse(request.params.uri);
    if (uri !== null) {
      if (uri.href === ABOUT) return about.readCallback(uri, extra);
      const variables = numbers.resourceTemplate.uriTemplate.match(uri.href);
      if (variables) return numbers.readCallback(uri, variables, extra);
    }
    throw new McpError(RESOURCE_NOT_FOUND, `Resource ${request.params.uri} not found`, { uri: request.params.uri });
  });
  return server;
}

/** Starts a fresh in-process demo server and returns the client end of its transport. */
export async function connectBuiltinDemo(): Promise<{ transport: Transport; close(): Promise<void> }> {
  const server = createDemoServer();
  const [clientEnd, serverEnd] = InMemoryTransport.createLinkedPair();
  await server.connect(serverEnd);
  return { transport: clientEnd, close: () => server.close() };
}
