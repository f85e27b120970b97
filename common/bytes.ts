/**
 * Byte helpers for hot paths.
 */

/**
 * `b` as a latin1 string, one char per byte: a Map key for byte strings. Reads `b` in place
 * (`Buffer.from(b)` would copy it first).
 */
export function byteKey(b: Uint8Array): string {
  return asBuffer(b).toString("latin1");
}

/** `b` as a Buffer over the same memory (no copy). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
