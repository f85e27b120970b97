/**
 * The clients' TLS settings (security/tls-flags.ts clientTls): flags first, else
 * $SHARDKV_TLS_*; --insecure ignores the environment and refuses TLS flags; an incomplete set
 * is one usage line naming what is missing. And the NATS options a tls:// URL gets
 * (security/tls-files.ts natsTls). The daemons' settings: test/unit/daemon-args.test.ts.
 */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../common/cli-args";
import { clientTls } from "../../security/tls-flags";
import { natsTls } from "../../security/tls-files";

const env = { SHARDKV_TLS_CA: "e/ca.crt", SHARDKV_TLS_CERT: "e/c.crt", SHARDKV_TLS_KEY: "e/c.key" };
const files = { ca: "ca.crt", cert: "c.crt", key: "c.key" };

function usageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("clientTls", () => {
  it("none given anywhere: no TLS; the environment; a flag wins over its variable", () => {
    expect(clientTls({}, {})).toBeUndefined();
    expect(clientTls({}, env)).toEqual({ ca: "e/ca.crt", cert: "e/c.crt", key: "e/c.key" });
    expect(clientTls({ "tls-cert": "mine.crt" }, env)).toEqual({ ca: "e/ca.crt", cert: "mine.crt", key: "e/c.key" });
    expect(clientTls({ "tls-ca": "ca.crt", "tls-cert": "c.crt", "tls-key": "c.key" }, {})).toEqual(files);
  });

  it("--insecure ignores the environment, and refuses TLS flags", () => {
    expect(clientTls({ insecure: true }, env)).toBeUndefined();
    expect(usageOf(() => clientTls({ insecure: true, "tls-ca": "ca.crt" }, {}))).toBe("invalid --insecure: cannot be combined with --tls-ca");
  });

  it("an incomplete set names what is missing, in one line", () => {
    expect(usageOf(() => clientTls({ "tls-cert": "c.crt" }, {})))
      .toBe("invalid TLS settings: $SHARDKV_TLS_CA and $SHARDKV_TLS_KEY are not set (a client needs the CA certificate, its own certificate and its key)");
  });
});

describe("natsTls", () => {
  it("a tls:// URL connects with the process's files; nats:// and a process without files add nothing", () => {
    expect(natsTls("tls://n:4443", files)).toEqual({ tls: { caFile: "ca.crt", certFile: "c.crt", keyFile: "c.key" } });
    expect(natsTls("nats://n:4222", files)).toEqual({});
    expect(natsTls("tls://n:4443", undefined)).toEqual({});
  });
});
