/**
 * `bin/shardctl certs` as a user runs it (the built bundle, which loads the X.509 code from
 * node_modules only for this command): init writes the CA with private modes and refuses to
 * overwrite one; issue writes a node, admin or client certificate, its key (0600) and the CA
 * certificate, and never prints a key; show prints one block (or JSON) and refuses what is not
 * a certificate; every refusal is one line on stderr with exit 2 (usage) or 3 (refused).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliRun, runShardctl } from "../lib/run-cli";

const root = mkdtempSync(join(tmpdir(), "shardkv-certs-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (p: string): number => statSync(p).mode & 0o777;
const ca = join(root, "ca");

/** A run that failed: its exit code and its one stderr line. */
function failed(r: CliRun, code: number): string {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe("");
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^shardctl: /);
  return lines[0]!;
}

describe("shardctl certs", () => {
  it("init makes a private CA directory and refuses to overwrite it", async () => {
    const r = await runShardctl(["certs", "init", "--ca-dir", ca, "--name", "Test CA", "--days", "30"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^created CA "Test CA" in .*, valid until \d{4}-/);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    expect(readdirSync(ca).sort()).toEqual(["ca.crt", "ca.key"]);
    expect(mode(ca)).toBe(0o700);
    expect(mode(join(ca, "ca.key"))).toBe(0o600);
    expect(readFileSync(join(ca, "ca.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    const before = readFileSync(join(ca, "ca.key"));
    expect(failed(await runShardctl(["certs", "init", "--ca-dir", ca]), 3)).toBe(
      `shardctl: ${ca} already holds a CA (ca.crt, ca.key); refusing to overwrite it (every certificate it issued would stop being trusted): ` +
      "choose another --ca-dir, or remove the old CA first");
    expect(readFileSync(join(ca, "ca.key")).equals(before)).toBe(true);
  });

  it("issue writes the certificate, its key (0600) and the CA certificate; show reads them back", async () => {
    const out = join(root, "n1");
    const r = await runShardctl(["certs", "issue", "node", "--ca-dir", ca, "--out", out, "--name", "n1", "--addr", "localhost,127.0.0.1", "--days", "10"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^issued node n1 for localhost, 127\.0\.0\.1, valid until \d{4}-/);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    expect(readdirSync(out).sort()).toEqual(["ca.crt", "n1.crt", "n1.key"]);
    expect(mode(out)).toBe(0o700);
    expect(mode(join(out, "n1.key"))).toBe(0o600);
    expect(readFileSync(join(out, "ca.crt"), "utf8")).toBe(readFileSync(join(ca, "ca.crt"), "utf8"));

    const show = await runShardctl(["certs", "show", join(out, "n1.crt")]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^subject: +O=shardkv, OU=node, CN=n1\nrole: +node\nname: +n1\nprefix: +-\naddresses: +localhost, 127\.0\.0\.1\nissuer: +O=shardkv, CN=Test CA\n/);
    expect(show.stdout).toMatch(/\nvalidity: +valid, expires in 9 days\nserial: +[0-9a-f]+\nfingerprint: +SHA256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\n$/);
  });

  it("a client certificate carries its prefix; show --json prints it", async () => {
    const out = join(root, "clients");
    const r = await runShardctl(["certs", "issue", "client", "--ca-dir", ca, "--out", out, "--name", "alice", "--prefix", "users/alice/", "--days", "7"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^issued client alice \(keys with prefix "users\/alice\/"\), valid until/);
    const show = await runShardctl(["certs", "show", "--json", join(out, "alice.crt")]);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      subject: "O=shardkv, OU=client, CN=alice", role: "client", name: "alice", prefix: "users/alice/",
      prefixHex: Buffer.from("users/alice/").toString("hex"), addresses: [], validity: "valid, expires in 6 days",
    });
  });

  it("refuses bad input with one line: usage errors exit 2, refusals exit 3", async () => {
    expect(failed(await runShardctl(["certs", "issue", "node", "--ca-dir", ca, "--out", join(root, "x"), "--name", "n2"]), 2))
      .toBe("shardctl: invalid --addr: missing (required for node certificates: the host names and IP addresses clients dial the node by; gRPC checks them)");
    expect(failed(await runShardctl(["certs", "issue", "admin", "--ca-dir", join(root, "nope"), "--out", join(root, "x"), "--name", "ops"]), 3))
      .toBe(`shardctl: CA certificate ${join(root, "nope", "ca.crt")} does not exist (make a CA with: shardctl certs init --ca-dir ${join(root, "nope")})`);
    expect(failed(await runShardctl(["certs", "issue", "admin", "--ca-dir", ca, "--out", join(root, "x"), "--name", "ops", "--days", "60"]), 3))
      .toMatch(/^shardctl: invalid --days: 60 days would outlive the CA, which expires on \S+ \(at most 29 days\)$/);
    expect(failed(await runShardctl(["certs", "show", join(ca, "ca.key")]), 3))
      .toBe(`shardctl: ${join(ca, "ca.key")} is not a certificate: it holds a private key (want a PEM "CERTIFICATE" block, e.g. a .crt file)`);
    expect(failed(await runShardctl(["certs", "show", join(root, "missing.crt")]), 3)).toBe(`shardctl: cannot read ${join(root, "missing.crt")}: no such file`);
    expect(failed(await runShardctl(["certs", "frobnicate"]), 2)).toBe('shardctl: unknown certs command "frobnicate" (init, issue, show; see shardctl certs --help)');
  });

  it("is listed in shardctl --help and has its own --help", async () => {
    const top = await runShardctl(["--help"]);
    expect(top.stdout).toMatch(/\n {2}certs init\|issue\|show\n/);
    const help = await runShardctl(["certs", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: shardctl certs COMMAND \[options\]\n/);
  });
});
