/**
 * The SDK's server-side protocol pieces, loaded when the first client
 * initializes rather than at start-up: evaluating the SDK's types module
 * builds hundreds of schemas (about 16 MB), which an idle gateway need not hold.
 */
export type SdkServerProtocol = {
  WebStandardStreamableHTTPServerTransport: typeof import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js").WebStandardStreamableHTTPServerTransport;
  SUPPORTED_PROTOCOL_VERSIONS: readonly string[];
  LATEST_PROTOCOL_VERSION: string;
  /** What the SDK transport requires of an initialize (a message failing it is not taken for one). */
  InitializeRequestSchema: typeof import("@modelcontextprotocol/sdk/types.js").InitializeRequestSchema;
};

let loaded: Promise<SdkServerProtocol> | undefined;

export function loadServerProtocol(): Promise<SdkServerProtocol> {
  loaded ??= Promise.all([import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"), import("@modelcontextprotocol/sdk/types.js")]).then(([server, types]) => ({
    WebStandardStreamableHTTPServerTransport: server.WebStandardStreamableHTTPServerTransport,
    SUPPORTED_PROTOCOL_VERSIONS: types.SUPPORTED_PROTOCOL_VERSIONS,
    LATEST_PROTOCOL_VERSION: types.LATEST_PROTOCOL_VERSION,
    InitializeRequestSchema: types.InitializeRequestSchema,
  }));
  return loaded;
}
