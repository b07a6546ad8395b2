import { existsSync, readFileSync, statSync } from "node:fs";
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { Settings } from "../config/index.ts";
import { invalid, unusableFile } from "../errors/index.ts";
import { log } from "../log/index.ts";

/** A certificate this close to its end gets a warning at start: the files are read once, so a renewal needs a restart. */
const CERT_EXPIRY_WARNING_MS = 14 * 86_400_000;

/**
 * Checks the --tls-cert / --tls-key pair as Bun will read it, before `serve` opens the data directory or
 * starts a connector: a wrong file is a usage error (exit 2) in one sentence naming it, not an OpenSSL code
 * after a migration and a round of upstream children. Warns about a certificate every client would refuse
 * (expired, not yet valid) or soon will, and about a key file every user may read.
 */
export function checkTlsFiles(settings: Pick<Settings, "tlsCert" | "tlsKey">): void {
  const { tlsCert: certFile, tlsKey: keyFile } = settings;
  if (!certFile || !keyFile) return;
  for (const [flag, file] of [["--tls-cert", certFile], ["--tls-key", keyFile]] as const) {
    if (!existsSync(file)) throw invalid(`The file ${file} (${flag}) does not exist; check the path.`);
  }
  let certificate: X509Certificate;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    certificate = new X509Certificate(readFileSync(certFile));
  } catch (error) {
    throw unusableFile("--tls-cert", certFile, error, "a PEM certificate");
  }
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (error) {
    throw unusableFile("--tls-key", keyFile, error, "a PEM private key without a passphrase");
  }
  if (!certificate.checkPrivateKey(key)) {
    throw invalid(`The key in ${keyFile} (--tls-key) is not the private key of the certificate in ${certFile} (--tls-cert); give the key that was made with it.`);
  }
  const notAfter = Date.parse(certificate.validTo);
  const notBefore = Date.parse(certificate.validFrom);
  const now = Date.now();
  if (notAfter <= now) {
    log.warn(`The --tls-cert certificate in ${certFile} expired on ${new Date(notAfter).toISOString()}; clients refuse it. Put a renewed certificate and key in place and restart mintgate.`);
  } else if (notBefore > now) {
    log.warn(`The --tls-cert certificate in ${certFile} is not valid before ${new Date(notBefore).toISOString()}; clients refuse it until then (check this machine's clock).`);
  } else if (notAfter - now < CERT_EXPIRY_WARNING_MS) {
    log.warn(`The --tls-cert certificate in ${certFile} expires on ${new Date(notAfter).toISOString()}; the files are read at start, so restart mintgate once it is renewed.`);
  }
  // Group access is the usual way to share a key with a service user (root:ssl-cert 0640); any user is not.
  const keyMode = statSync(keyFile).mode & 0o777;
  if (keyMode & 0o004) {
    log.warn(`The private key in ${keyFile} (--tls-key) can be read by every user of this machine (mode ${keyMode.toString(8).padStart(4, "0")}); \`chmod 600\` it (or 640 for a group the gateway's user is in).`);
  }
}
