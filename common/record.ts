/**
 * The one framing of every record stored through the storage seam (common/kv-store.ts): the
 * Raft log store's records (raft/storage/rocks-log-store.ts) and every value of the state
 * machines (common/checked-kv.ts). A record is a payload and the CRC-32C of the record's KEY
 * followed by the payload, so a flipped bit, a truncated value and a value read under the
 * wrong key all fail to verify. (A value truncated to nothing reads as an empty payload with
 * checksum 0, which a checksum of the payload alone would accept; covering the key, it fails
 * unless CRC-32C(key) happens to be 0.)
 *
 * The bytes are those of the protobuf message `StoredRecord { bytes payload = 1; fixed32
 * crc32c = 2; }` (proto/raft.proto) as protobufjs writes it: 0x0A, the payload's length as a
 * varint, the payload, 0x15, the CRC as 4 bytes little-endian (a field that is empty or 0
 * left out). Encoding and decoding by hand
 * keeps common/ free of the generated code and the apply path free of a protobuf writer; the
 * decoder accepts any valid encoding of the message (fields in any order or absent).
 */
import { crc32c } from "./crc32c";

const payloadTag = 0x0a; // field 1, length-delimited
const crcTag = 0x15; // field 2, fixed32

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** The record stored under `key` for `payload` (a new buffer). */
export function encodeRecord(key: Uint8Array, payload: Uint8Array): Buffer {
  const crc = crc32c(payload, crc32c(key));
  // As protobufjs writes proto3: a field with its default value (empty, 0) is left out.
  const payloadBytes = payload.length === 0 ? 0 : 1 + varintBytes(payload.length) + payload.length;
  const out = Buffer.allocUnsafe(payloadBytes + (crc === 0 ? 0 : 5));
  let at = 0;
  if (payload.length > 0) {
    out[at++] = payloadTag;
    let n = payload.length;
    for (; n >= 0x80; n = Math.floor(n / 128)) out[at++] = (n & 0x7f) | 0x80;
    out[at++] = n;
    out.set(payload, at);
    at += payload.length;
  }
  if (crc !== 0) {
    out[at] = crcTag;
    out.writeUInt32LE(crc, at + 1);
  }
  return out;
}

/** A record's payload (a view into the stored value), or why it does not verify. */
export type Verified = { readonly ok: true; readonly payload: Uint8Array } | { readonly ok: false; readonly reason: string };

/** Decodes the record stored under `key` and checks its CRC. */
export function verifyRecord(key: Uint8Array, value: Uint8Array): Verified {
  let payload: Uint8Array = value.subarray(0, 0);
  let crc = 0;
  const bad = (why: string): Verified => ({ ok: false, reason: `undecodable record (${value.length} bytes): ${why}` });
  for (let at = 0; at < value.length;) {
    const tag = value[at++]!;
    if (tag === crcTag) {
      if (at + 4 > value.length) return bad("truncated checksum");
      crc = (value[at]! | (value[at + 1]! << 8) | (value[at + 2]! << 16) | (value[at + 3]! << 24)) >>> 0;
      at += 4;
    } else if (tag === payloadTag) {
      let len = 0;
      let scale = 1;
      for (;;) {
        if (at >= value.length || scale > 2 ** 35) return bad("truncated length");
        const b = value[at++]!;
        len += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) break;
      }
      if (at + len > value.length) return bad(`payload of ${len} bytes past the end`);
      payload = value.subarray(at, at + len);
      at += len;
    } else {
      return bad(`unexpected byte 0x${tag.toString(16).padStart(2, "0")} at ${at - 1}`);
    }
  }
  if (crc !== crc32c(payload, crc32c(key))) return { ok: false, reason: "checksum mismatch" };
  return { ok: true, payload };
}

/** The payload of the record stored under `key` (a Buffer view), or undefined when it does not verify. */
export function recordPayload(key: Uint8Array, value: Uint8Array): Buffer | undefined {
  const rec = verifyRecord(key, value);
  return rec.ok ? Buffer.from(rec.payload.buffer, rec.payload.byteOffset, rec.payload.byteLength) : undefined;
}
