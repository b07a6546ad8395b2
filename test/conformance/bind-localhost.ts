/**
 * Preload for servers that call `listen(port)` with no host (server-everything
 * does `app.listen(PORT)`, which binds every interface): forces 127.0.0.1 and
 * reports the bound address on stderr as `MINTGATE_TEST_BOUND 127.0.0.1:<port>`,
 * so PORT=0 works. Used as `bun --preload ./bind-localhost.ts <server>`.
 */
import http from "node:http";
import net from "node:net";

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
const PATCHED = Symbol.for("mintgate.test.bind-localhost");

function patch(proto: { listen: Listen }): void {
  const original = proto.listen;
  if ((original as unknown as Record<symbol, boolean>)[PATCHED]) return;
  const listen: Listen = function (this: net.Server, ...args: unknown[]) {
    const first = args[0];
    const isPort = typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first));
    if (isPort && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
    this.once("listening", () => {
      const address = this.address();
      if (address && typeof address === "object") process.stderr.write(`MINTGATE_TEST_BOUND ${address.address}:${address.port}\n`);
    });
    return original.apply(this, args);
  };
  (listen as unknown as Record<symbol, boolean>)[PATCHED] = true;
  proto.listen = listen;
}

patch(net.Server.prototype as unknown as { listen: Listen });
// Under Bun, http.Server does not inherit net.Server's listen.
patch(http.Server.prototype as unknown as { listen: Listen });
