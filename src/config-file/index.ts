/**
 * mintgate.yaml, the configuration-as-code file read by `mintgate apply -f` and written
 * by `mintgate export`. Pure: bytes or text in, config out (and back); no database, no I/O.
 */
export type { GatewayConfig, GatewayConfigFile, ParseConfigFileOptions } from "./gateway-config.ts";
export { decodeConfigFile } from "./decode.ts";
export { parseConfigFile, parseConfigFileSections, parseVirtualMcpText } from "./parse.ts";
export { serializeConfigFile, serializeConfigFileJson } from "./serialize.ts";
export { parsePolicyText } from "./policy.ts";
export { SECRET_REFERENCE, secretReferencesIn } from "../secrets/references.ts";
