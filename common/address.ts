/** Server addresses ("host:port"), shared by the config model, the daemons and the CLIs. */
import { InvalidArgumentError } from "./errors";

/** Bytes of one server address ("host:port"). */
export const addressBytesMax = 255;

/** Validates one server address: non-empty "host:port" with a port in 1..65535. */
export function validateAddress(field: string, addr: string): void {
  if (addr.length === 0 || Buffer.byteLength(addr) > addressBytesMax) {
    throw new InvalidArgumentError(field, `address must be 1..${addressBytesMax} bytes, got ${JSON.stringify(addr)}`);
  }
  const m = /^(.+):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535) || /[\s,=]/.test(m[1]!)) {
    throw new InvalidArgumentError(field, `want host:port, got ${JSON.stringify(addr)}`);
  }
}
