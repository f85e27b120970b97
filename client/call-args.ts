/**
 * Type checks of the client library's arguments at the call (client/shardkv.ts), for callers
 * in plain JavaScript or with `any`: a key or value that is not a string or Uint8Array is a
 * TypeError naming the argument ("key must be a string or Uint8Array, got number"), never
 * coerced, never sent. Size limits are checked after these, by the library itself.
 */
import { typeName } from "../common/address";

/** Checks that `v` is a string or a Uint8Array (a Buffer is one). */
export function checkBytesArg(field: string, v: unknown): asserts v is string | Uint8Array {
  if (typeof v !== "string" && !(v instanceof Uint8Array)) {
    throw new TypeError(`${field} must be a string or Uint8Array, got ${typeName(v)}`);
  }
}

/** Checks a CAS's expected value: a string, a Uint8Array, or null for "absent". */
export function checkExpectedArg(field: string, v: unknown): asserts v is string | Uint8Array | null {
  if (v !== null && typeof v !== "string" && !(v instanceof Uint8Array)) {
    throw new TypeError(`${field} must be a string, Uint8Array or null (absent), got ${typeName(v)}`);
  }
}

const opTypes = ["get", "put", "append", "delete", "cas"];

/** Checks one op of a batch: a known type and the fields it needs (named "ops[3].key"). */
export function checkBatchOpArg(field: string, op: unknown): void {
  if (op === null || typeof op !== "object") throw new TypeError(`${field} must be an object, got ${typeName(op)}`);
  const o = op as Record<string, unknown>;
  if (typeof o["type"] !== "string" || !opTypes.includes(o["type"])) {
    throw new TypeError(`${field}.type must be one of ${opTypes.join(", ")}, got ${typeof o["type"] === "string" ? JSON.stringify(o["type"]) : typeName(o["type"])}`);
  }
  checkBytesArg(`${field}.key`, o["key"]);
  if (o["type"] === "put" || o["type"] === "append" || o["type"] === "cas") checkBytesArg(`${field}.value`, o["value"]);
  if (o["type"] === "cas") checkExpectedArg(`${field}.expected`, o["expected"]);
}

/** Checks a batch's ops: an array of ops. */
export function checkBatchArg(ops: unknown): void {
  if (!Array.isArray(ops)) throw new TypeError(`ops must be an array, got ${typeName(ops)}`);
  ops.forEach((op, i) => checkBatchOpArg(`ops[${i}]`, op));
}
