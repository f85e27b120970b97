/**
 * Finding the NATS server that tests needing one use (the machine's NATS with JetStream at
 * 127.0.0.1:4222; .ci/run starts it when it is down). Tests that need NATS call
 * `natsAvailable()` (skip when absent, fail when SHARDKV_REQUIRE_NATS=1) or `requireNats()`
 * (always fail when absent), so that a missing server is reported, never silently passed.
 */
import { connect } from "node:net";

export const natsHost = "127.0.0.1";
export const natsPort = 4222;
export const natsUrl = `nats://${natsHost}:${natsPort}`;

/** The command .ci/run uses to start the server. */
export const natsStartCommand =
  "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- " +
  "-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log";

/** Whether a TCP connection to 127.0.0.1:4222 opens within `timeoutMs` (default 1000). */
export function isNatsReachable(timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: natsHost, port: natsPort });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    // Socket idle timeout (covers the connect phase); not a global timer.
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Whether the run requires NATS (set by .ci/run): then a missing server fails the test. */
export function natsRequired(): boolean {
  return process.env["SHARDKV_REQUIRE_NATS"] === "1";
}

function notReachableMessage(): string {
  return `NATS not reachable at ${natsHost}:${natsPort}; start it with \`${natsStartCommand}\` (or run \`bash .ci/run\`, which does)`;
}

/** Throws a clear error unless NATS accepts connections at 127.0.0.1:4222. */
export async function requireNats(timeoutMs = 1000): Promise<void> {
  if (!(await isNatsReachable(timeoutMs))) throw new Error(notReachableMessage());
}

/**
 * For `describe.skipIf(!(await natsAvailable()))`: true when NATS is reachable; false (with a
 * note on stderr saying why tests are skipped) when it is not and the run does not require it;
 * throws when it is not and SHARDKV_REQUIRE_NATS=1.
 */
export async function natsAvailable(timeoutMs = 1000): Promise<boolean> {
  if (await isNatsReachable(timeoutMs)) return true;
  if (natsRequired()) throw new Error(`${notReachableMessage()} [SHARDKV_REQUIRE_NATS=1]`);
  process.stderr.write(`skipping NATS tests: ${notReachableMessage()}\n`);
  return false;
}
