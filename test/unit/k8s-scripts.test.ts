/**
 * The pod scripts of deploy/k8s/ run by bash against stand-ins for the commands they start
 * (each prints its arguments): replica.sh turns pod ordinal and the members ConfigMap into the
 * daemon's command line (a member bootstraps or restarts with --peers naming the members; a
 * replica not yet a member joins; a retired one runs only a health endpoint; a member with an empty data
 * directory once the cluster exists refuses, in one line, exit 2); join.sh joins only the
 * groups the latest config lacks, so running it again changes nothing.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../deploy/local/process";

const scriptsDir = join(repoRoot, "deploy", "k8s");
const domain = "shardkv-g1.shardkv.svc.cluster.local";

describe("deploy/k8s pod scripts", () => {
  let root: string;
  let bin: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "shardkv-k8s-scripts-"));
    bin = join(root, "bin");
    mkdirSync(bin);
    // Stand-ins: print the command and its arguments, one per line.
    for (const name of ["shardkv-server", "shardkv-controller", "node"]) {
      writeFileSync(join(bin, name), `#!/bin/bash\necho ${name}; printf '%s\\n' "$@"\n`);
      chmodSync(join(bin, name), 0o755);
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function replica(pod: string, members: { ids: string; state: string; retired?: string }, opts: { data?: boolean } = {}) {
    const dir = mkdtempSync(join(root, "pod-"));
    mkdirSync(join(dir, "members"));
    for (const [k, v] of Object.entries(members)) writeFileSync(join(dir, "members", k), `${v}\n`);
    mkdirSync(join(dir, "data"));
    if (opts.data) writeFileSync(join(dir, "data", "identity.json"), "{}");
    const r = spawnSync("/bin/bash", [join(scriptsDir, "replica.sh")], {
      encoding: "utf8",
      env: {
        PATH: `${bin}:/usr/bin:/bin`, POD_NAME: pod, SHARDKV_KIND: "server", SHARDKV_SET: "shardkv-g1", SHARDKV_SERVICE_DOMAIN: domain,
        SHARDKV_PORT: "7000", SHARDKV_METRICS_PORT: "9180", SHARDKV_GID: "1", SHARDKV_CONTROLLERS: "c-0:7000",
        SHARDKV_MEMBERS_DIR: join(dir, "members"), SHARDKV_DATA_DIR: join(dir, "data"), SHARDKV_BIN_DIR: bin, SHARDKV_TLS_DIR: "/tls",
      },
    });
    return { code: r.status, args: r.stdout.trim().split("\n"), stderr: r.stderr };
  }
  const addr = (id: number): string => `${id}=shardkv-g1-${id - 1}.${domain}:7000`;
  const flagOf = (args: string[], f: string): string | undefined => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);

  it("a member starts with --peers naming the members, its id from its ordinal, its own certificate", () => {
    const r = replica("shardkv-g1-1", { ids: "1,2,3", state: "new" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.args[0]).toBe("shardkv-server");
    expect(flagOf(r.args, "--gid")).toBe("1");
    expect(flagOf(r.args, "--id")).toBe("2");
    expect(flagOf(r.args, "--peers")).toBe([1, 2, 3].map(addr).join(","));
    expect(r.args).not.toContain("--join");
    expect(flagOf(r.args, "--tls-cert")).toBe("/tls/shardkv-g1-1.crt");
    expect(flagOf(r.args, "--tls-key")).toBe("/tls/shardkv-g1-1.key");
    expect(flagOf(r.args, "--listen")).toBe("0.0.0.0:7000");
    expect(flagOf(r.args, "--metrics-listen")).toBe("0.0.0.0:9180");
    expect(flagOf(r.args, "--controllers")).toBe("c-0:7000");
  });

  it("after a replacement the members' ids come from the ConfigMap (a restart with its data names them)", () => {
    const r = replica("shardkv-g1-0", { ids: "1,3,4", state: "existing", retired: "2" }, { data: true });
    expect(r.code, r.stderr).toBe(0);
    expect(flagOf(r.args, "--peers")).toBe([1, 3, 4].map(addr).join(","));
  });

  it("a replica not yet a member joins, naming the members and itself", () => {
    const r = replica("shardkv-g1-3", { ids: "1,2,3", state: "existing" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.args).toContain("--join");
    expect(flagOf(r.args, "--id")).toBe("4");
    expect(flagOf(r.args, "--peers")).toBe([1, 2, 3, 4].map(addr).join(","));
  });

  it("a retired replica runs no replica, only a health endpoint (alive, never ready)", () => {
    const r = replica("shardkv-g1-1", { ids: "1,3,4", state: "existing", retired: "2" });
    expect(r.code).toBe(0);
    expect(r.args[0]).toBe("node");
    expect(r.args.at(-1)).toBe("9180");
    expect(r.args.join(" ")).toMatch(/"\/healthz" \? 200 : 503/);
    expect(r.stderr).toBe("replica.sh: replica 2 (shardkv-g1-1) is retired (shardkv-g1-members: retired=2); running nothing\n");
  });

  it("a member whose data is gone once the cluster exists refuses to start under its old id: one line, exit 2", () => {
    const r = replica("shardkv-g1-1", { ids: "1,2,3", state: "existing" });
    expect(r.code).toBe(2);
    expect(r.args).toEqual([""]);
    expect(r.stderr.split("\n").length).toBe(2);
    expect(r.stderr).toMatch(/^replica\.sh: replica 2 \(shardkv-g1-1\) is a member but its data directory .* is empty: its data was lost\. .*Replace it by a new replica/);
  });

  it("join.sh joins only the groups the latest config lacks; run again, it joins nothing", () => {
    const state = join(root, "joined.json");
    writeFileSync(state, JSON.stringify({ num: 2, shards: [], groups: { "1": ["a:1"] } }));
    const calls = join(root, "calls");
    writeFileSync(calls, "");
    // Its own directory: the replica tests' stand-in `node` must not shadow the real one here.
    const joinBin = join(root, "join-bin");
    mkdirSync(joinBin);
    // A shardctl stand-in over a JSON file: `--json query` prints it, `join GID=...` adds the group.
    writeFileSync(join(joinBin, "shardctl"), `#!/bin/bash
echo "$*" >> ${calls}
case " $* " in
  *" query "*) cat ${state} ;;
  *" join "*) spec=\${@: -1}; gid=\${spec%%=*}; node -e 'const f=process.argv[1]; const c=JSON.parse(require("fs").readFileSync(f)); c.groups[process.argv[2]]=["x"]; require("fs").writeFileSync(f, JSON.stringify(c))' ${state} "$gid" ;;
esac
`);
    chmodSync(join(joinBin, "shardctl"), 0o755);
    const run = () => spawnSync("/bin/bash", [join(scriptsDir, "join.sh")], {
      encoding: "utf8",
      env: { PATH: `${joinBin}:${process.env.PATH}`, SHARDKV_BIN_DIR: joinBin, SHARDKV_ADMIN_TLS_DIR: "/admin", SHARDKV_JOIN_GROUPS: "1=a:1 2=b:1,b:2" },
    });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe("group 1 is joined\ngroup 2 is joined\n");
    expect(readFileSync(calls, "utf8").split("\n").filter((l) => l.includes("join "))).toEqual(["--timeout 1m join --wait-servers 0 2=b:1,b:2"]);
    writeFileSync(calls, "");
    const again = run();
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(calls, "utf8").split("\n").filter((l) => l.includes("join "))).toEqual([]);
  });
});
