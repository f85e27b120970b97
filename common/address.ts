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

/**
 * Validates a list of server addresses given to a library (ShardKV.connect, ControllerClient)
 * exactly as the command lines' parseAddressList does: at least one, each "host:port", none
 * listed twice. A value that is not an array of strings is a TypeError naming `field`; a
 * malformed list an InvalidArgumentError naming `field` and the address.
 */
export function validateAddressList(field: string, addrs: unknown): asserts addrs is readonly string[] {
  if (!Array.isArray(addrs)) throw new TypeError(`${field} must be an array of "host:port" strings, got ${typeName(addrs)}`);
  if (addrs.length === 0) throw new InvalidArgumentError(field, "empty address list");
  for (const [i, a] of addrs.entries()) {
    if (typeof a !== "string") throw new TypeError(`${field}[${i}] must be a "host:port" string, got ${typeName(a)}`);
    validateAddress(field, a);
  }
  const dup = addrs.find((a, i) => addrs.indexOf(a) !== i);
  if (dup !== undefined) throw new InvalidArgumentError(field, `${JSON.stringify(dup)} is listed twice`);
}

/** The type of a value, for TypeError messages: "number", "null", "undefined", "object (Map)". */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  const ctor = (v as object).constructor?.name;
  return Array.isArray(v) ? "array" : ctor && ctor !== "Object" ? `object (${ctor})` : "object";
}
