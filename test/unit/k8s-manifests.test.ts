/**
 * The Kubernetes manifests (deploy/k8s/): the committed files in deploy/k8s/generated are what
 * `npm run k8s` writes with its defaults, every object passes kubernetes-models' validate()
 * (the Kubernetes OpenAPI schema), and the invariants the design asks for hold in the files
 * themselves (read back as YAML): per StatefulSet a headless Service that publishes pods before
 * they are ready, a PodDisruptionBudget with minAvailable = quorum and never maxUnavailable,
 * required anti-affinity on the host name, /readyz and /healthz probes on the metrics port, a
 * preStop hand-off, a volume claim template mounted as the data directory, TLS from a Secret,
 * a non-root user; a Job joining every group.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { repoRoot } from "../../deploy/local/process";
import {
  type K8sOptions, buildManifests, controllerSet, grpcPort, groupSet, k8sDefaults, metricsPort, quorum, replicaAddress, runAsUser,
} from "../../deploy/k8s/manifests";
import { renderManifests, validateObject } from "../../deploy/k8s/render";

const generatedDir = join(repoRoot, "deploy", "k8s", "generated");

type Obj = any;

/** Every document of the files, parsed back from YAML. */
function objectsOf(files: ReadonlyMap<string, string>): Obj[] {
  return [...files.values()].flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o !== null));
}

/** Paths (a.b[2].c) of every key named `key`, anywhere in `v`. */
function keyPaths(v: unknown, key: string, at = ""): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => keyPaths(x, key, `${at}[${i}]`));
  if (v === null || typeof v !== "object") return [];
  return Object.entries(v).flatMap(([k, x]) => [...(k === key ? [`${at}.${k}`] : []), ...keyPaths(x, key, `${at}.${k}`)]);
}

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The invariants of one cluster's objects (see the file comment); `o` is the shape generated. */
function checkInvariants(objs: Obj[], o: K8sOptions): void {
  expect(keyPaths(objs, "maxUnavailable"), "no maxUnavailable anywhere").toEqual([]);
  const sets = objs.filter((x) => x.kind === "StatefulSet");
  expect(sets.map((s) => s.metadata.name)).toEqual([controllerSet, ...Array.from({ length: o.groups }, (_, i) => groupSet(i + 1))]);
  for (const s of sets) {
    const name = s.metadata.name as string;
    const n = s.spec.replicas as number;
    expect(n).toBe(name === controllerSet ? o.controllers : o.replicas);
    const podLabels = s.spec.template.metadata.labels;
    expect(matches(s.spec.selector.matchLabels, podLabels), `${name}: its selector selects its pods`).toBe(true);

    const pdbs = objs.filter((x) => x.kind === "PodDisruptionBudget" && matches(x.spec.selector.matchLabels, podLabels));
    expect(pdbs.length, `${name}: one PodDisruptionBudget`).toBe(1);
    expect(pdbs[0].spec.minAvailable, `${name}: minAvailable is the quorum of ${n}`).toBe(Math.floor(n / 2) + 1);

    const svc = objs.find((x) => x.kind === "Service" && x.metadata.name === s.spec.serviceName);
    expect(svc, `${name}: its headless Service`).toBeDefined();
    expect(svc.spec.clusterIP).toBe("None");
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    expect(matches(svc.spec.selector, podLabels)).toBe(true);
    expect(s.spec.podManagementPolicy).toBe("Parallel");

    const pod = s.spec.template.spec;
    const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(anti.length, `${name}: required anti-affinity`).toBe(1);
    expect(anti[0].topologyKey).toBe("kubernetes.io/hostname");
    expect(matches(anti[0].labelSelector.matchLabels, podLabels), `${name}: anti-affinity against its own pods`).toBe(true);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(runAsUser);

    expect(pod.containers.length).toBe(1);
    const c = pod.containers[0];
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: metricsPort });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: metricsPort });
    expect(c.ports).toEqual(expect.arrayContaining([{ name: "metrics", containerPort: metricsPort }, { name: "grpc", containerPort: grpcPort }]));
    expect(c.lifecycle.preStop.exec.command.join(" ")).toMatch(/bin\/shardctl handoff .*127\.0\.0\.1:7000/);

    expect(s.spec.volumeClaimTemplates.length, `${name}: a volume claim template`).toBe(1);
    const claim = s.spec.volumeClaimTemplates[0];
    expect(claim.spec.accessModes).toEqual(["ReadWriteOnce"]);
    expect(c.volumeMounts.find((m: Obj) => m.name === claim.metadata.name)?.mountPath).toBe("/var/lib/shardkv");
    const tls = pod.volumes.find((v: Obj) => v.name === "tls");
    expect(tls.secret.secretName).toBe(`${name}-tls`);
    expect(c.volumeMounts.find((m: Obj) => m.name === "tls")?.readOnly).toBe(true);
    const members = objs.find((x) => x.kind === "ConfigMap" && x.metadata.name === `${name}-members`);
    expect(members.data).toEqual({ ids: Array.from({ length: n }, (_, i) => i + 1).join(","), state: "new", retired: "" });
  }

  const client = objs.find((x) => x.kind === "Service" && x.metadata.name === "shardkv");
  expect(client.spec.clusterIP).toBeUndefined();
  expect(matches(client.spec.selector, sets[0].spec.template.metadata.labels), "the client Service selects the controllers").toBe(true);

  const jobs = objs.filter((x) => x.kind === "Job");
  expect(jobs.length).toBe(1);
  const env = Object.fromEntries(jobs[0].spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
  expect(env.SHARDKV_JOIN_GROUPS.split(" ").map((g: string) => g.split("=")[0])).toEqual(Array.from({ length: o.groups }, (_, i) => String(i + 1)));
  expect(env.SHARDKV_JOIN_GROUPS.split(" ")[0]).toBe(`1=${Array.from({ length: o.replicas }, (_, i) => replicaAddress(o, groupSet(1), i + 1)).join(",")}`);
}

describe("Kubernetes manifests", () => {
  it("the committed files are what `npm run k8s` generates with its defaults", () => {
    const want = renderManifests(k8sDefaults);
    const committed = new Map(readdirSync(generatedDir).filter((f) => f.endsWith(".yaml")).sort().map((f) => [f, readFileSync(join(generatedDir, f), "utf8")]));
    expect([...committed.keys()], "run `npm run k8s` and commit deploy/k8s/generated").toEqual([...want.keys()].sort());
    for (const [f, text] of want) expect(committed.get(f), `deploy/k8s/generated/${f} is stale: run \`npm run k8s\``).toBe(text);
  });

  it("every object is valid against the Kubernetes schema, and the committed files keep the invariants", () => {
    for (const f of buildManifests(k8sDefaults)) for (const o of f.objects) expect(() => o.validate(), `${o.kind} ${o.metadata?.name}`).not.toThrow();
    const files = new Map(readdirSync(generatedDir).filter((f) => f.endsWith(".yaml")).map((f) => [f, readFileSync(join(generatedDir, f), "utf8")]));
    checkInvariants(objectsOf(files), k8sDefaults);
  });

  it("other shapes keep them too: the budget is always the quorum (5 -> 3, 4 -> 3, 1 -> 1)", () => {
    for (const shape of [{ replicas: 5, controllers: 5, groups: 2 }, { replicas: 4, controllers: 1, groups: 1 }]) {
      const o: K8sOptions = { ...k8sDefaults, ...shape, namespace: "kv-test", image: "registry.example/shardkv:1" };
      checkInvariants(objectsOf(renderManifests(o)), o);
    }
    expect([1, 2, 3, 4, 5, 7].map(quorum)).toEqual([1, 2, 2, 3, 3, 4]);
  });

  it("validation is real: an object the schema refuses is reported with its kind and name", () => {
    const bad = new StatefulSet({ metadata: { name: "broken" }, spec: { replicas: "three" as unknown as number, serviceName: "x", selector: {}, template: {} } });
    expect(() => validateObject(bad)).toThrow(/^StatefulSet broken is not a valid Kubernetes object: /);
  });
});
