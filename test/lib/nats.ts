/**
 * Finding the NATS server that tests needing one use (the machine's NATS with JetStream at
 * 127.0.0.1:4222; .ci/run starts it when it is down). Tests that need NATS call
 * `requireNats()` and fail with a clear message when it is absent: never skipped, never
 * silently passed.
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

function notReachableMessage(): string {
  return `NATS not reachable at ${natsHost}:${natsPort}; start it with \`${natsStartCommand}\` (or run \`bash .ci/run\`, which does)`;
}

/** Throws a clear error unless NATS accepts connections at 127.0.0.1:4222. */
export async function requireNats(timeoutMs = 1000): Promise<void> {
  if (!(await isNatsReachable(timeoutMs))) throw new Error(notReachableMessage());
}

