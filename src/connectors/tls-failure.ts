import { MintgateError } from "../errors/index.ts";

/** OpenSSL's codes, as Bun's fetch gives them, for a certificate that no authority this machine trusts vouches for. */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);

/**
 * A failed TLS handshake with an https upstream, said as one sentence that names the connector, what is
 * wrong and what to do; undefined for any other error. Bun's fetch says these by OpenSSL's wording
 * ("unable to verify the first certificate") or code ("ERR_TLS_CERT_ALTNAME_INVALID fetching …"), which
 * tells an admin neither that it is the certificate nor that NODE_EXTRA_CA_CERTS is the way to trust a
 * company CA.
 */
export function tlsFailure(connector: string, url: URL, error: unknown): MintgateError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || url.protocol !== "https:") return undefined;
  const where = url.host;
  let sentence: string;
  if (UNTRUSTED.has(code)) {
    const why = code === "DEPTH_ZERO_SELF_SIGNED_CERT" ? "it is self-signed" : "no certificate authority this machine trusts signed it";
    sentence = `does not trust the TLS certificate of ${where} (${why}); start the gateway with NODE_EXTRA_CA_CERTS naming a PEM file that holds the CA that signed it (or the certificate itself)`;
  } else if (code === "CERT_HAS_EXPIRED") {
    sentence = `cannot connect because the TLS certificate of ${where} has expired; renew the upstream's certificate`;
  } else if (code === "CERT_NOT_YET_VALID") {
    sentence = `cannot connect because the TLS certificate of ${where} is not valid yet; check the clocks of this machine and the upstream's`;
  } else if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    sentence = `cannot connect because the TLS certificate of ${where} is not issued for ${url.hostname}; set the connector's url to a name the certificate holds, or have it issued for this one`;
  } else if (code === "EPROTO") {
    sentence = `cannot connect because ${where} does not answer in TLS; if it serves plain HTTP, set the connector's url to http://${where}${url.pathname}`;
  } else if (/CERT/.test(code)) {
    sentence = `cannot connect because the TLS certificate of ${where} was refused (${code}); fix the upstream's certificate`;
  } else {
    return undefined;
  }
  return new MintgateError("upstream_failed", `Connector "${connector}" ${sentence}.`);
}
