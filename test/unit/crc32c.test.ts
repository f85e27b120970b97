import { describe, expect, it } from "vitest";
import { crc32c } from "../../common/crc32c";

const ascii = (s: string) => new TextEncoder().encode(s);

/** The definition, one bit at a time: what the table-driven code must agree with. */
function bitwise(data: Uint8Array, prior = 0): number {
  let c = ~prior >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe("crc32c", () => {
  it.each([
    // RFC 3720 (iSCSI) B.4 and the common check value.
    ["123456789", ascii("123456789"), 0xe3069283],
    ["empty", new Uint8Array(0), 0x00000000],
    ["32 zero bytes", new Uint8Array(32), 0x8a9136aa],
    ["32 bytes of 0xff", new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ["32 ascending bytes", Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ["32 descending bytes", Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    ["single 'a'", ascii("a"), 0xc1d04330],
    ["quick brown fox", ascii("The quick brown fox jumps over the lazy dog"), 0x22620404],
  ])("%s", (_name, data, want) => {
    expect(crc32c(data)).toBe(want);
  });

  it("chains: crc32c(b, crc32c(a)) == crc32c(a ++ b)", () => {
    const all = ascii("The quick brown fox jumps over the lazy dog");
    for (let cut = 0; cut <= all.length; cut++) {
      expect(crc32c(all.subarray(cut), crc32c(all.subarray(0, cut)))).toBe(0x22620404);
    }
  });

  it("detects every single-bit flip of a record", () => {
    const data = ascii("entry 17 of term 3");
    const good = crc32c(data);
    for (let bit = 0; bit < data.length * 8; bit++) {
      const bad = Uint8Array.from(data);
      bad[bit >> 3] ^= 1 << (bit & 7);
      expect(crc32c(bad)).not.toBe(good);
    }
  });

  it("agrees with the bit-at-a-time definition for every length 0..200 at every offset 0..7 (the unaligned head, the 16-byte word steps, the 8-byte steps and the tail)", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const buf = Uint8Array.from({ length: 210 }, rand);
    for (let off = 0; off < 8; off++) {
      for (let len = 0; len + off <= buf.length && len <= 200; len++) {
        const d = buf.subarray(off, off + len);
        expect(crc32c(d)).toBe(bitwise(d));
        expect(crc32c(d, 0xdeadbeef)).toBe(bitwise(d, 0xdeadbeef));
      }
    }
    const big = Uint8Array.from({ length: 100_003 }, rand);
    expect(crc32c(big)).toBe(bitwise(big));
    expect(crc32c(big.subarray(3))).toBe(bitwise(big.subarray(3)));
  });

  it("reads a view by its own bytes, not its buffer's neighbours (a Buffer from the shared pool)", () => {
    const pooled = Buffer.from("the record's payload, long enough for the word loop: 0123456789abcdef");
    const alone = Uint8Array.from(pooled);
    expect(pooled.byteOffset % 4 !== 0 || pooled.buffer.byteLength > pooled.length).toBe(true);
    expect(crc32c(pooled)).toBe(bitwise(alone));
    expect(crc32c(pooled.subarray(5, 70))).toBe(bitwise(alone.subarray(5, 70)));
  });
});
