/**
 * TLS failures in the user's terms: which certificate was refused, by whom, and why, in one
 * line, instead of OpenSSL's error stack. clientHandshakeError is made by the client's
 * connector (security/credentials.ts) when a handshake fails; connectFailureReason finds the
 * reason again in the details of the gRPC error a call then fails with (grpc-js reports
 * "No connection established. Last error: ..."), also for connections made without these
 * credentials (a plaintext client, a client without a certificate).
 */
import type { PeerCertificate } from "node:tls";
import { oneLineSubject, type TlsMaterial } from "./tls-files";

/** What the connector knows when a handshake fails. */
export interface HandshakeContext {
  /** "host:port" dialled. */
  readonly address: string;
  /** The name the server's certificate must be valid for. */
  readonly host: string;
  /** The files and certificates this client used. */
  readonly material: TlsMaterial;
  /** Whether this client had verified the server (its half of the handshake was done). */
  readonly verified: boolean;
  /** The server's certificate, when it sent one. */
  readonly peer?: PeerCertificate;
  /** Now, ms since the epoch (to tell an expired client certificate). */
  readonly nowMs: number;
}

/** The start of every handshake error's message, which connectFailureReason looks for. */
const marker = "TLS handshake with ";

const untrusted = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT", "CERT_SIGNATURE_FAILURE", "CERT_UNTRUSTED",
]);

/** Not TLS on the other side: what OpenSSL says when the first bytes back are not a TLS record. */
const notTls = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "ERR_SSL_HTTP_REQUEST", "ERR_SSL_RECORD_LAYER_FAILURE"]);

function sans(peer: PeerCertificate | undefined): string {
  return peer?.subjectaltname ? peer.subjectaltname.replace(/IP Address:/g, "IP:") : "no subjectAltName";
}

function subjectOf(peer: PeerCertificate | undefined): string {
  if (!peer?.subject) return "";
  return ` (${Object.entries(peer.subject).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`).join(", ")})`;
}

/** OpenSSL's "Dec  5 23:11:24 2027 GMT" as ISO 8601 (as `shardctl certs show` prints dates). */
function isoDate(s: string | undefined): string {
  const ms = s === undefined ? NaN : Date.parse(s);
  return Number.isNaN(ms) ? (s ?? "an unknown date") : new Date(ms).toISOString();
}

/** Why the server refused this client's certificate, as far as the client can tell. */
function refusedReason(ctx: HandshakeContext, code: string | undefined): string {
  const c = ctx.material.certificate;
  const what = `the server refused this client's certificate ${ctx.material.files.cert} (${oneLineSubject(c)})`;
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  if (code === "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED" || ctx.nowMs >= to) return `${what}: it expired on ${new Date(to).toISOString()}; issue a new one`;
  if (ctx.nowMs < from) return `${what}: it is not valid before ${new Date(from).toISOString()} (is a clock wrong?)`;
  if (code === "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE") return `${what}: it is not for client authentication`;
  return `${what}: it is not signed by a CA the server trusts, or has expired by the server's clock`;
}

/** The reason a handshake failed, without the "TLS handshake with ADDRESS failed: " start. */
function reason(e: Error | undefined, ctx: HandshakeContext): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const server = `the server's certificate${subjectOf(ctx.peer)}`;
  if (ctx.verified) return refusedReason(ctx, code);
  if (code !== undefined && code.startsWith("ERR_SSL_") && code.includes("_ALERT_") && /CERTIFICATE|UNKNOWN_CA|DECRYPT_ERROR/.test(code)) {
    return refusedReason(ctx, code);
  }
  if (e === undefined) return "the server closed the connection during the handshake (does it run with TLS?)";
  if (code !== undefined && notTls.has(code)) return "the server does not speak TLS (is it running without TLS?)";
  if (code === "CERT_HAS_EXPIRED") return `${server} expired on ${isoDate(ctx.peer?.valid_to)}`;
  if (code === "CERT_NOT_YET_VALID") return `${server} is not valid before ${isoDate(ctx.peer?.valid_from)} (is a clock wrong?)`;
  if (code !== undefined && untrusted.has(code)) return `${server} is not signed by a CA in ${ctx.material.files.ca}`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `${server} is not valid for ${ctx.host} (it is for ${sans(ctx.peer)})`;
  if (code === "INVALID_PURPOSE") return `${server} is not for server authentication (not a node certificate)`;
  if (code === "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" || code === "ERR_SSL_UNSUPPORTED_PROTOCOL") return "the server does not accept TLS 1.3";
  return (e.message.split("\n")[0] ?? "").trim() || String(code);
}

/** The error a client's failed TLS handshake with `ctx.address` rejects with; its message is one line. */
export function clientHandshakeError(e: Error | undefined, ctx: HandshakeContext): Error {
  return new Error(`${marker}${ctx.address} failed: ${reason(e, ctx)}`);
}

/** OpenSSL's alert texts (in grpc-js's details) for a client that used no credentials of ours. */
const alerts: readonly (readonly [RegExp, string])[] = [
  [/alert certificate required/, "the server requires a client certificate, and this client sent none (set $SHARDKV_TLS_CERT and $SHARDKV_TLS_KEY)"],
  [/alert unknown ca/, "the server refused this client's certificate: it is not signed by a CA the server trusts"],
  [/alert certificate expired/, "the server refused this client's certificate: it has expired"],
  [/alert bad certificate/, "the server refused this client's certificate"],
];

/**
 * The one-line reason a gRPC call failed to connect, in the user's terms, when its details
 * (a ServiceError's) show a TLS problem; undefined otherwise. `secure`: whether the channel
 * used TLS: for a plaintext one, a server that closes the connection before answering is
 * probably one that requires TLS.
 */
export function connectFailureReason(details: string, secure: boolean): string | undefined {
  const at = details.indexOf(marker);
  if (at >= 0) return details.slice(at).split(/\. Resolution note:|\n/)[0]!.replace(/\.$/, "");
  for (const [re, text] of alerts) if (re.test(details)) return `TLS handshake failed: ${text}`;
  if (!secure && /Last error: Failed to connect/.test(details)) {
    return "the server closed the connection before answering: it may require TLS (this client connects without TLS; set $SHARDKV_TLS_CA, $SHARDKV_TLS_CERT and $SHARDKV_TLS_KEY)";
  }
  return undefined;
}

/**
 * Why a server's TLS handshake with a client failed, in the user's terms (one line), from the
 * error Node reports for it (tls.Server 'tlsClientError'); undefined for a client that just
 * went away (nothing to tell the operator).
 */
export function serverHandshakeReason(e: Error): string | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_SSL_SSL_HANDSHAKE_TIMEOUT") return undefined;
  if (code !== undefined && notTls.has(code)) return "the client does not speak TLS (is it running without TLS?)";
  if (code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") return "the client sent no certificate (it needs one of the cluster CA)";
  if (code === "ERR_SSL_CERTIFICATE_VERIFY_FAILED") return "the client's certificate is not signed by a CA this server trusts, or has expired";
  if (code !== undefined && /_ALERT_/.test(code)) return `the client refused this server's certificate (${code.replace(/^ERR_SSL_(SSLV3_|TLSV1_)?ALERT_/, "").toLowerCase().replace(/_/g, " ")})`;
  if (code === "ERR_SSL_UNSUPPORTED_PROTOCOL" || code === "ERR_SSL_NO_PROTOCOLS_AVAILABLE") return "the client does not offer TLS 1.3";
  return (e.message.split("\n")[0] ?? "").trim() || String(code);
}
