/**
 * gRPC credentials for mutual TLS on a TlsSource (security/tls-files.ts), and the identity of
 * the peer of a call. Both sides require TLS 1.3, present their certificate and verify the
 * other's against the CA certificates in use; the client also checks that the server's
 * certificate is valid for the address it dialled (a node certificate's --addr names). When
 * the TlsSource takes a rotated certificate, key or CA into use, new connections use it at
 * once; open connections keep the certificates they were made with.
 *
 * Security is the one seam every server and client of a process gets its credentials from
 * (docs/design.md#94-secure-by-default).
 */
import * as grpc from "@grpc/grpc-js";
import { isIP, type Socket } from "node:net";
import { type PeerCertificate, type SecureContext, type SecureContextOptions, checkServerIdentity, connect, createSecureContext } from "node:tls";
import type { Logger } from "../common/env";
import { InvalidArgumentError, TlsHandshakeError } from "../common/errors";
import { realClock, wallClockMs } from "../common/real-env";
import { type Identity, NotAnIdentityError, identityOfPeer } from "./identity";
import { clientHandshakeError, connectFailureReason, serverHandshakeReason } from "./tls-errors";
import type { DaemonTls } from "./tls-flags";
import { type TlsFiles, type TlsMaterial, TlsConfigError, TlsSource, type TlsSourceOptions, oneLineSubject, tlsFilesInDir } from "./tls-files";

/** The oldest TLS version either side accepts. */
export const tlsMinVersion = "TLSv1.3" as const;

/**
 * How long a client waits, after its half of the handshake, for the server's session ticket
 * (the sign that the server accepted its certificate) before it goes on without (a server
 * that sends none); a refusal arrives well within it.
 */
export const sessionWaitMs = 2000;

function contextOptions(m: TlsMaterial): SecureContextOptions {
  return { ca: m.ca, cert: m.cert, key: m.key, minVersion: tlsMinVersion };
}

/**
 * Server credentials: TLS 1.3, a client certificate required and verified against the CAs
 * in use, the certificate and CAs of `source`, replaced when it reloads them (grpc-js calls
 * setSecureContext on its server; running connections are not touched).
 */
class ReloadingServerCredentials extends grpc.ServerCredentials {
  constructor(source: TlsSource) {
    super({ requestCert: true, rejectUnauthorized: true, minVersion: tlsMinVersion }, contextOptions(source.current()));
    source.subscribe((m) => this.updateSecureContextOptions(contextOptions(m)));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Server credentials on `source` (see ReloadingServerCredentials). */
export function serverCredentials(source: TlsSource): grpc.ServerCredentials {
  return new ReloadingServerCredentials(source);
}

/** What a connector needs of grpc-js's channel target (experimental.GrpcUri). */
interface Target {
  readonly authority?: string;
  readonly path: string;
}

/**
 * Channel credentials: TLS 1.3 with the certificate and CAs `source` has in use when each
 * connection starts (a channel reconnecting after a rotation uses the new ones), the server
 * verified against those CAs and the dialled host.
 *
 * grpc-js makes a channel's TLS connections through the credentials' secure connector
 * (`_createSecureConnector`, abstract in its ChannelCredentials, the SecureConnector type in
 * its `experimental` exports). This one does what grpc-js's own does (ALPN h2, the server
 * name check) with three differences: the TLS context is the source's current one, made
 * with TLS 1.3 as the minimum; an IP address is not sent as the TLS server name (RFC 6066
 * does not allow it; Node warns on stderr); and a failed handshake is an error that says in
 * the user's terms which certificate was refused and why (security/tls-errors.ts).
 */
class ReloadingChannelCredentials extends grpc.ChannelCredentials {
  private context: { readonly material: TlsMaterial; readonly secure: SecureContext } | undefined;

  constructor(private readonly source: TlsSource) {
    super();
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  /** The TLS context of the source's current material, made once per material. */
  private secureContext(): { material: TlsMaterial; secure: SecureContext } {
    const material = this.source.current();
    if (this.context?.material !== material) this.context = { material, secure: createSecureContext(contextOptions(material)) };
    return this.context;
  }

  override _createSecureConnector(target: Target, options: grpc.ChannelOptions, callCredentials?: grpc.CallCredentials): grpc.experimental.SecureConnector {
    const creds = callCredentials ?? grpc.credentials.createEmpty();
    const hostPort = grpc.experimental.splitHostPort(target.path);
    const host = (options["grpc.ssl_target_name_override"] as string | undefined) ?? hostPort?.host ?? target.path;
    const address = hostPort?.port !== undefined ? `${hostPort.host}:${hostPort.port}` : target.path;
    return {
      connect: (socket: Socket) => this.connect(socket, host, address),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => creds,
      destroy: () => undefined,
    };
  }

  /**
   * The TLS handshake on `socket`. Resolves once the server has accepted this client's
   * certificate: in TLS 1.3 the client finishes its half of the handshake before the server
   * has checked the client's certificate, and a refusal arrives as an alert after that; the
   * server's session ticket, which it sends only once it accepted the client, is the sign.
   */
  private connect(socket: Socket, host: string, address: string): Promise<grpc.experimental.SecureConnectResult> {
    const { material, secure } = this.secureContext();
    return new Promise((resolve, reject) => {
      let verified = false;
      let done = false;
      let identityError: Error | undefined;
      let cancelWait: (() => void) | undefined;
      const finish = (e: Error | undefined) => {
        if (done) return;
        done = true;
        cancelWait?.();
        tls.removeListener("close", onClose);
        tls.removeListener("error", onError);
        tls.removeListener("session", onSession);
        if (e === undefined) {
          resolve({ socket: tls, secure: true });
        } else {
          tls.destroy();
          reject(e);
        }
      };
      const fail = (e: Error | undefined, peer?: PeerCertificate) => {
        finish(clientHandshakeError(e, { address, host, material, verified, nowMs: wallClockMs(), ...(peer?.raw ? { peer } : {}) }));
      };
      const onError = (e: Error) => fail(e);
      const onClose = () => fail(undefined);
      const onSession = () => finish(undefined);
      // rejectUnauthorized is off only so that the refusal below can name the server's
      // certificate (Node destroys the socket first otherwise); nothing unverified is used.
      const tls = connect({
        socket,
        secureContext: secure,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ALPNProtocols: ["h2"],
        rejectUnauthorized: false,
        checkServerIdentity: (_name: string, cert: PeerCertificate) => (identityError = checkServerIdentity(host, cert)),
      }, () => {
        if (!tls.authorized) {
          // authorizationError is OpenSSL's code (a string, though typed as an Error).
          const code = String(tls.authorizationError);
          return fail(identityError ?? Object.assign(new Error(code), { code }), tls.getPeerCertificate());
        }
        verified = true;
        // A server that sends no session ticket (not one of ours) is taken as having accepted.
        cancelWait = realClock.after(sessionWaitMs, () => finish(undefined));
      });
      tls.once("error", onError);
      tls.once("close", onClose);
      tls.once("session", onSession);
    });
  }
}

/** Channel credentials on `source` (see ReloadingChannelCredentials). */
export function channelCredentials(source: TlsSource): grpc.ChannelCredentials {
  return new ReloadingChannelCredentials(source);
}

/** What peerIdentity needs of a call: grpc-js's server calls all have it. */
export interface CallWithAuthContext {
  getAuthContext(): { readonly sslPeerCertificate?: PeerCertificate };
}

/**
 * The identity of the client of `call` (a handler's call object), from the certificate the
 * TLS handshake verified. Throws NotAnIdentityError when the call did not come over a verified
 * TLS connection or the certificate carries no shardkv identity.
 */
export function peerIdentity(call: CallWithAuthContext): Identity {
  const cert = call.getAuthContext().sslPeerCertificate;
  if (cert === undefined) throw new NotAnIdentityError("the call did not come with a verified client certificate (not over TLS)");
  return identityOfPeer(cert);
}

/**
 * How one process secures its gRPC connections: mutual TLS on a TlsSource, or plaintext when
 * the operator asked for it (`--insecure`). Built once per process from its flags and handed
 * to every server bind and every stub or channel it opens; no other module makes credentials
 * (docs/design.md#94-secure-by-default). Channel credentials are one object per process, so
 * grpc-js shares connections between stubs to the same address.
 */
export class Security {
  private channel: grpc.ChannelCredentials | undefined;

  private constructor(
    /** The TLS files in use; undefined: plaintext. */
    readonly source: TlsSource | undefined,
  ) {}

  /** Plaintext, no authentication: only for a network where every host is trusted. */
  static insecure(): Security {
    return new Security(undefined);
  }

  /** Mutual TLS 1.3 on `source`'s certificate, key and CAs, reloaded as they change. */
  static tls(source: TlsSource): Security {
    return new Security(source);
  }

  /** Whether connections use TLS. */
  get secure(): boolean {
    return this.source !== undefined;
  }

  /** Credentials for one server bind (grpc.Server bindAsync). */
  serverCredentials(): grpc.ServerCredentials {
    return this.source === undefined ? grpc.ServerCredentials.createInsecure() : serverCredentials(this.source);
  }

  /** Credentials for every channel and stub of this process. */
  channelCredentials(): grpc.ChannelCredentials {
    this.channel ??= this.source === undefined ? grpc.credentials.createInsecure() : channelCredentials(this.source);
    return this.channel;
  }

  /** Stops watching the TLS files (the process is stopping). */
  close(): void {
    this.source?.close();
  }
}

/**
 * The Security of a process given its TLS files (loaded and watched), or plaintext when there
 * are none (the operator chose --insecure). Files that cannot be used are an
 * InvalidArgumentError naming the file and the problem (a usage error: exit status 2).
 */
export function securityOf(files: TlsFiles | undefined, opts: TlsSourceOptions = {}): Security {
  if (files === undefined) return Security.insecure();
  try {
    return Security.tls(new TlsSource(files, opts));
  } catch (e) {
    if (e instanceof TlsConfigError) throw new InvalidArgumentError("TLS files", e.message);
    throw e;
  }
}

/** The details of a failed call that could not connect (UNAVAILABLE), else undefined. */
function unavailableDetails(e: unknown): string | undefined {
  const details = (e as Partial<grpc.ServiceError> | undefined)?.details;
  return typeof details === "string" && (e as grpc.ServiceError).code === grpc.status.UNAVAILABLE ? details : undefined;
}

/**
 * A failed call's error (grpc-js's) as a TlsHandshakeError when its details prove a TLS
 * problem between this client and `server` ("controller 127.0.0.1:7001"): a handshake of
 * these credentials that failed (a certificate refused, a server without TLS), or a server's
 * refusal alert. Undefined otherwise; for a plaintext client whose connection was closed
 * before the server answered, see tlsFailure.
 */
export function tlsHandshakeFailure(e: unknown, server: string): TlsHandshakeError | undefined {
  const details = unavailableDetails(e);
  const reason = details === undefined ? undefined : connectFailureReason(details, true);
  return reason === undefined ? undefined : new TlsHandshakeError(server, reason);
}

/** How long speaksTls waits for a server's answer to a TLS hello. */
const tlsProbeMs = 2000;

/**
 * Whether the server at `address` ("host:port") answers a TLS hello as a TLS server (its
 * hello, or a TLS alert), rather than closing or answering in plaintext. Verifies nothing and
 * sends no certificate: it only tells a server that requires TLS from one that went away.
 */
export function speaksTls(address: string): Promise<boolean> {
  const hp = grpc.experimental.splitHostPort(address);
  return new Promise((resolve) => {
    let done = false;
    const finish = (yes: boolean): void => {
      if (done) return;
      done = true;
      cancel();
      socket.destroy();
      resolve(yes);
    };
    const host = hp?.host ?? address;
    const socket = connect({ host, port: hp?.port ?? 443, rejectUnauthorized: false, ALPNProtocols: ["h2"], ...(isIP(host) === 0 ? { servername: host } : {}) },
      () => finish(true));
    const cancel = realClock.after(tlsProbeMs, () => finish(false));
    socket.once("error", (e: NodeJS.ErrnoException) => finish(e.code !== undefined && e.code.startsWith("ERR_SSL_") && /_ALERT_/.test(e.code)));
    socket.once("close", () => finish(false));
  });
}

/**
 * tlsHandshakeFailure, and for a plaintext client (`security` without TLS) whose connection
 * was closed before the server answered (grpc-js: "Failed to connect"), a probe of `address`:
 * a server that speaks TLS is one that requires it (a TlsHandshakeError, final), any other is
 * one that went away (undefined: the caller's usual, retryable, error).
 */
export async function tlsFailure(e: unknown, server: string, address: string, security: Security): Promise<TlsHandshakeError | undefined> {
  const proven = tlsHandshakeFailure(e, server);
  if (proven !== undefined || security.secure) return proven;
  const details = unavailableDetails(e);
  const reason = details === undefined ? undefined : connectFailureReason(details, false);
  return reason !== undefined && (await speaksTls(address)) ? new TlsHandshakeError(server, reason.replace(/^the server closed the connection before answering: it may require TLS/, "the server requires TLS")) : undefined;
}

/**
 * The Security of a daemon: its TLS files loaded and watched (each reload and each unusable
 * change logged), or plaintext (logSecurity says which once the daemon runs). Unusable files at start are an
 * InvalidArgumentError (exit status 2) naming the file and the problem.
 */
export function daemonSecurity(tls: DaemonTls, logger: Logger): Security {
  if (tls.insecure) return Security.insecure();
  let files: TlsFiles;
  try {
    files = "dir" in tls ? tlsFilesInDir(tls.dir) : tls.files;
  } catch (e) {
    if (e instanceof TlsConfigError) throw new InvalidArgumentError("--tls-dir", e.message);
    throw e;
  }
  const security = securityOf(files, {
    onReload: (m) => logger.info(`TLS: now using ${m.files.cert} (${oneLineSubject(m.certificate)}, serial ${m.certificate.serialNumber}) and ${m.cas.length} CA certificate(s) of ${m.files.ca}`),
    onReloadError: (m) => logger.warn(m),
  });
  return security;
}

/**
 * Logs, once a daemon has started, how it secures its connections: the certificate it uses,
 * or one warning line that it runs without TLS. (Not before: a daemon that fails to start
 * says only why, in one line.)
 */
export function logSecurity(security: Security, logger: Logger): void {
  const m = security.source?.current();
  if (m === undefined) {
    logger.warn("running INSECURE (--insecure): no TLS, no authentication; anyone who can reach this port can read and change all data");
    return;
  }
  logger.info(`TLS: mutual TLS 1.3 with ${m.files.cert} (${oneLineSubject(m.certificate)}, valid until ${new Date(m.certificate.validTo).toISOString()})`);
}

/** Distinct (client host, reason) pairs a server logs at warn level before it logs them at debug only. */
const refusalsLoggedMax = 1000;

/**
 * Makes `server` (before its first bind) log each TLS handshake it refuses, in one line naming
 * the client's address and why: grpc-js drops such connections with no word (its trace only),
 * so without this an operator sees a client fail but nothing on the server. Each distinct
 * (client host, reason) is a warning once, then debug. Hooks grpc-js's per-server
 * createHttp2Server (not in its typings; checked here, so an upgrade that renames it fails
 * loudly at start, not silently).
 */
export function logRefusedHandshakes(server: grpc.Server, logger: Logger): void {
  const s = server as unknown as { createHttp2Server?: (creds: grpc.ServerCredentials) => unknown };
  const create = s.createHttp2Server;
  if (typeof create !== "function") throw new Error("grpc-js Server has no createHttp2Server: update security/credentials.ts logRefusedHandshakes");
  const seen = new Set<string>();
  s.createHttp2Server = (creds: grpc.ServerCredentials) => {
    const http2Server = create.call(server, creds) as { on(event: "tlsClientError", f: (e: Error, socket: Socket) => void): void };
    if (creds._isSecure()) {
      http2Server.on("tlsClientError", (e, socket) => {
        const reason = serverHandshakeReason(e);
        if (reason === undefined) return;
        const line = `refused a TLS handshake from ${socket.remoteAddress ?? "an unknown address"}: ${reason}`;
        const key = `${socket.remoteAddress}|${reason}`;
        if (seen.has(key)) return logger.debug(line);
        if (seen.size >= refusalsLoggedMax) seen.clear();
        seen.add(key);
        logger.warn(line);
      });
    }
    return http2Server;
  };
}
