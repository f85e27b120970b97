/**
 * The Kubernetes manifests of a shardkv cluster, built as typed models (kubernetes-models,
 * checked against the Kubernetes OpenAPI schema by `.validate()`), pure: options in, objects
 * out. deploy/k8s/main.ts (`npm run k8s`) writes them as YAML; deploy/k8s/generated/ holds
 * what the defaults produce, and test/unit/k8s-manifests.test.ts checks that it is current,
 * valid and keeps the invariants below. How to deploy and operate it: docs/operations.md
 * ("Kubernetes").
 *
 * Per Raft group (the controllers, each shard group): a StatefulSet (pod ordinal + 1 = replica
 * id), its headless Service (stable DNS names: --peers; publishNotReadyAddresses, so replicas
 * find each other before they are ready: readiness needs a leader, and a leader needs its
 * peers), a ConfigMap `<set>-members` naming the members (deploy/k8s/replica.sh reads it at
 * every start) and a PodDisruptionBudget with minAvailable = quorum (never maxUnavailable: a
 * drain must never take a group below its majority). Pods: required anti-affinity on the host
 * name (two replicas of a group never share a machine), readiness /readyz and liveness
 * /healthz on the metrics port, a preStop hook that hands Raft leadership away
 * (`shardctl handoff` with the pod's own node certificate), a PersistentVolumeClaim template,
 * mutual TLS from the Secret `<set>-tls` (ca.crt and `<pod>.crt`/`<pod>.key` per pod), a
 * non-root user. Besides: the client Service `shardkv` (the controllers' gRPC port: what
 * clients dial first), the ConfigMap with the two scripts, and the Job that joins every group.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import type { IContainer, IPodSpec } from "kubernetes-models/v1";

/** What `npm run k8s` takes. */
export interface K8sOptions {
  readonly namespace: string;
  /** Shard groups, gids 1..groups. */
  readonly groups: number;
  /** Replicas per shard group. */
  readonly replicas: number;
  /** Controller replicas. */
  readonly controllers: number;
  /** The container image (built from the repository's Dockerfile). */
  readonly image: string;
  /** The cluster's shard count (fixed when the controllers first start). */
  readonly shards: number;
  /** Each replica's volume. */
  readonly storage: string;
  /** Kubernetes' cluster DNS domain. */
  readonly clusterDomain: string;
}

export const k8sDefaults: K8sOptions = {
  namespace: "shardkv", groups: 3, replicas: 3, controllers: 3, image: "shardkv:0.1.0", shards: 64, storage: "10Gi", clusterDomain: "cluster.local",
};

/** gRPC (Raft and the services) and metrics ports of every pod. */
export const grpcPort = 7000;
export const metricsPort = 9180;
/** Where the image holds the repository (bin/, dist/, node_modules/): the Dockerfile's WORKDIR. */
export const appDir = "/app";
/** The image's non-root user and group (node's `node`). */
export const runAsUser = 1000;

/** How long a pod has to stop: the preStop hand-off (at most 5 s) and the daemon's own stop. */
const terminationGraceSeconds = 30;

/** A manifest file: its name in the output directory and its objects, in apply order. */
export interface ManifestFile {
  readonly file: string;
  readonly objects: readonly K8sObject[];
}

export type K8sObject = Namespace | ConfigMap | Service | StatefulSet | PodDisruptionBudget | Job;

/** The majority of `n` voters: what a group needs to elect a leader and commit. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** One Raft group as deployed: the controllers (gid undefined) or shard group `gid`. */
interface GroupSpec {
  readonly set: string;
  readonly component: "controller" | "server";
  readonly replicas: number;
  readonly gid?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const script = (name: string): string => readFileSync(join(here, name), "utf8");

/** The name of group `gid`'s StatefulSet (and headless Service, Secret, ConfigMap prefix). */
export const groupSet = (gid: number): string => `shardkv-g${gid}`;
export const controllerSet = "shardkv-controller";

/** The DNS name of a set's headless Service. */
const serviceDomain = (o: K8sOptions, set: string): string => `${set}.${o.namespace}.svc.${o.clusterDomain}`;

/** The address of replica `id` (pod ordinal id - 1) of a set. */
export function replicaAddress(o: K8sOptions, set: string, id: number): string {
  return `${set}-${id - 1}.${serviceDomain(o, set)}:${grpcPort}`;
}

const addresses = (o: K8sOptions, g: GroupSpec): string[] => Array.from({ length: g.replicas }, (_, i) => replicaAddress(o, g.set, i + 1));

function labels(g: GroupSpec): Record<string, string> {
  return { "app.kubernetes.io/name": "shardkv", "app.kubernetes.io/component": g.component, "app.kubernetes.io/instance": g.set };
}

function selectorLabels(g: GroupSpec): Record<string, string> {
  return { "app.kubernetes.io/name": "shardkv", "app.kubernetes.io/instance": g.set };
}

function membersConfigMap(o: K8sOptions, g: GroupSpec): ConfigMap {
  return new ConfigMap({
    metadata: { name: `${g.set}-members`, namespace: o.namespace, labels: labels(g) },
    data: {
      ids: Array.from({ length: g.replicas }, (_, i) => i + 1).join(","),
      state: "new",
      retired: "",
    },
  });
}

function headlessService(o: K8sOptions, g: GroupSpec): Service {
  return new Service({
    metadata: { name: g.set, namespace: o.namespace, labels: labels(g) },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: selectorLabels(g),
      ports: [{ name: "grpc", port: grpcPort, targetPort: grpcPort }, { name: "metrics", port: metricsPort, targetPort: metricsPort }],
    },
  });
}

/** The replica container: deploy/k8s/replica.sh starts the daemon; probes, hand-off, mounts. */
function replicaContainer(o: K8sOptions, g: GroupSpec): IContainer {
  const env = [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "SHARDKV_KIND", value: g.component },
    { name: "SHARDKV_SET", value: g.set },
    { name: "SHARDKV_SERVICE_DOMAIN", value: serviceDomain(o, g.set) },
    { name: "SHARDKV_PORT", value: String(grpcPort) },
    { name: "SHARDKV_METRICS_PORT", value: String(metricsPort) },
    ...(g.gid === undefined
      ? [{ name: "SHARDKV_SHARDS", value: String(o.shards) }]
      : [{ name: "SHARDKV_GID", value: String(g.gid) }, { name: "SHARDKV_CONTROLLERS", value: addresses(o, controllers(o)).join(",") }]),
  ];
  const tls = "/etc/shardkv/tls";
  return {
    name: g.component,
    image: o.image,
    command: ["/bin/bash", "/etc/shardkv/scripts/replica.sh"],
    env,
    ports: [{ name: "grpc", containerPort: grpcPort }, { name: "metrics", containerPort: metricsPort }],
    readinessProbe: { httpGet: { path: "/readyz", port: metricsPort }, periodSeconds: 5, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: "/healthz", port: metricsPort }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 6 },
    lifecycle: {
      preStop: {
        exec: {
          // The pod's own node certificate may hand leadership off (nodes and admins may).
          command: ["/bin/bash", "-c",
            `${appDir}/bin/shardctl handoff --timeout 5s --tls-ca ${tls}/ca.crt --tls-cert ${tls}/$POD_NAME.crt --tls-key ${tls}/$POD_NAME.key 127.0.0.1:${grpcPort} || true`],
        },
      },
    },
    volumeMounts: [
      { name: "data", mountPath: "/var/lib/shardkv" },
      { name: "tls", mountPath: tls, readOnly: true },
      { name: "members", mountPath: "/etc/shardkv/members", readOnly: true },
      { name: "scripts", mountPath: "/etc/shardkv/scripts", readOnly: true },
    ],
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
}

function podSpec(o: K8sOptions, g: GroupSpec): IPodSpec {
  return {
    securityContext: { runAsNonRoot: true, runAsUser, runAsGroup: runAsUser, fsGroup: runAsUser },
    terminationGracePeriodSeconds: terminationGraceSeconds,
    affinity: {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selectorLabels(g) } }],
      },
    },
    containers: [replicaContainer(o, g)],
    volumes: [
      { name: "tls", secret: { secretName: `${g.set}-tls`, defaultMode: 0o440 } },
      { name: "members", configMap: { name: `${g.set}-members` } },
      { name: "scripts", configMap: { name: "shardkv-scripts", defaultMode: 0o555 } },
    ],
  };
}

function statefulSet(o: K8sOptions, g: GroupSpec): StatefulSet {
  return new StatefulSet({
    metadata: { name: g.set, namespace: o.namespace, labels: labels(g) },
    spec: {
      serviceName: g.set,
      replicas: g.replicas,
      // Every replica starts at once: a group needs a majority running before any is ready.
      podManagementPolicy: "Parallel",
      // One pod at a time, each waiting for the last to be ready again (a rolling restart
      // never takes two replicas of a group down together).
      updateStrategy: { type: "RollingUpdate" },
      selector: { matchLabels: selectorLabels(g) },
      template: { metadata: { labels: labels(g) }, spec: podSpec(o, g) },
      volumeClaimTemplates: [{
        metadata: { name: "data", labels: labels(g) },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: o.storage } } },
      }],
    },
  });
}

function disruptionBudget(o: K8sOptions, g: GroupSpec): PodDisruptionBudget {
  return new PodDisruptionBudget({
    metadata: { name: g.set, namespace: o.namespace, labels: labels(g) },
    spec: { minAvailable: quorum(g.replicas), selector: { matchLabels: selectorLabels(g) } },
  });
}

function groupObjects(o: K8sOptions, g: GroupSpec): K8sObject[] {
  return [membersConfigMap(o, g), headlessService(o, g), statefulSet(o, g), disruptionBudget(o, g)];
}

const controllers = (o: K8sOptions): GroupSpec => ({ set: controllerSet, component: "controller", replicas: o.controllers });
const shardGroup = (o: K8sOptions, gid: number): GroupSpec => ({ set: groupSet(gid), component: "server", replicas: o.replicas, gid });

/** The Service clients dial first: any controller (it names the groups' pods by their DNS names). */
function clientService(o: K8sOptions): Service {
  const g = controllers(o);
  return new Service({
    metadata: { name: "shardkv", namespace: o.namespace, labels: labels(g) },
    spec: { selector: selectorLabels(g), ports: [{ name: "grpc", port: grpcPort, targetPort: grpcPort }] },
  });
}

function scripts(o: K8sOptions): ConfigMap {
  return new ConfigMap({
    metadata: { name: "shardkv-scripts", namespace: o.namespace, labels: { "app.kubernetes.io/name": "shardkv" } },
    data: { "replica.sh": script("replica.sh"), "join.sh": script("join.sh") },
  });
}

function joinJob(o: K8sOptions): Job {
  const groups = Array.from({ length: o.groups }, (_, i) => shardGroup(o, i + 1));
  const spec = groups.map((g) => `${g.gid}=${addresses(o, g).join(",")}`).join(" ");
  return new Job({
    metadata: { name: "shardkv-join", namespace: o.namespace, labels: { "app.kubernetes.io/name": "shardkv", "app.kubernetes.io/component": "join" } },
    spec: {
      backoffLimit: 10,
      template: {
        metadata: { labels: { "app.kubernetes.io/name": "shardkv", "app.kubernetes.io/component": "join" } },
        spec: {
          restartPolicy: "OnFailure",
          securityContext: { runAsNonRoot: true, runAsUser, runAsGroup: runAsUser },
          containers: [{
            name: "join",
            image: o.image,
            command: ["/bin/bash", "/etc/shardkv/scripts/join.sh"],
            env: [
              { name: "SHARDKV_CONTROLLERS", value: addresses(o, controllers(o)).join(",") },
              { name: "SHARDKV_JOIN_GROUPS", value: spec },
            ],
            volumeMounts: [
              { name: "admin", mountPath: "/etc/shardkv/admin", readOnly: true },
              { name: "scripts", mountPath: "/etc/shardkv/scripts", readOnly: true },
            ],
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
          }],
          volumes: [
            { name: "admin", secret: { secretName: "shardkv-admin-tls", defaultMode: 0o440 } },
            { name: "scripts", configMap: { name: "shardkv-scripts", defaultMode: 0o555 } },
          ],
        },
      },
    },
  });
}

/** Every manifest file of a cluster, in the order to apply them. */
export function buildManifests(o: K8sOptions): ManifestFile[] {
  return [
    { file: "00-namespace.yaml", objects: [new Namespace({ metadata: { name: o.namespace } }), scripts(o)] },
    { file: "10-controllers.yaml", objects: [...groupObjects(o, controllers(o)), clientService(o)] },
    ...Array.from({ length: o.groups }, (_, i) => ({ file: `20-group-${i + 1}.yaml`, objects: groupObjects(o, shardGroup(o, i + 1)) })),
    { file: "30-join.yaml", objects: [joinJob(o)] },
  ];
}
