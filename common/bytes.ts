/**
 * Byte helpers for hot paths.
 */

/**
 * `b` as a latin1 string, one char per byte: a Map key for byte strings. Reads `b` in place
 * (`Buffer.from(b)` would copy it first).
 */
export function byteKey(b: Uint8Array): string {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString("latin1");
}
