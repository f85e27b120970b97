/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, one byte per step.
 * The checksum the log store keeps beside every record (same polynomial as RocksDB, LevelDB,
 * iSCSI and ext4 metadata), so a flipped bit or a torn record is detected on read.
 *
 * Check value (RFC 3720 B.4): crc32c("123456789") = 0xE3069283.
 */

const castagnoliReflected = 0x82f63b78;

/** table[b] = CRC of the single byte b (without the pre/post inversion). */
const table: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ castagnoliReflected : c >>> 1;
    t[b] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC-32C of `data`, as an unsigned 32-bit integer.
 *
 * `prior` continues a checksum: `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)` (the same
 * chaining as zlib's `crc32(crc, buf)`), so a record's checksum can cover several buffers
 * without concatenating them. Default 0 = start of a new checksum.
 */
export function crc32c(data: Uint8Array, prior = 0): number {
  let c = ~prior >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
