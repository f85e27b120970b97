/**
 * `npm run k8s -- [--out DIR] [--namespace NS] [--groups N] [--replicas N] [--controllers N]
 * [--image IMG] [--shards N] [--storage SIZE] [--cluster-domain D]`: writes the Kubernetes
 * manifests of a cluster (deploy/k8s/manifests.ts) as YAML files into DIR (default
 * deploy/k8s/generated, which holds what the defaults produce), replacing the generated files
 * there. A bad flag is one line, exit 2.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError, exitUsage, flag, oneLine, parseCommandLine } from "../../common/cli-args";
import { type K8sOptions, k8sDefaults } from "./manifests";
import { renderManifests } from "./render";

const defaultOut = join(dirname(fileURLToPath(import.meta.url)), "generated");

export const usageText = `usage: npm run k8s -- [--out DIR] [--namespace NS] [--groups N] [--replicas N] [--controllers N]
                      [--image IMG] [--shards N] [--storage SIZE] [--cluster-domain D]

Writes the Kubernetes manifests of a shardkv cluster into DIR (docs/operations.md, "Kubernetes").

  --out DIR            where to write (default deploy/k8s/generated); its *.yaml files are replaced
  --namespace NS       namespace of every object (default ${k8sDefaults.namespace})
  --groups N           shard groups, gids 1..N (default ${k8sDefaults.groups})
  --replicas N         replicas per shard group (default ${k8sDefaults.replicas})
  --controllers N      controller replicas (default ${k8sDefaults.controllers})
  --image IMG          the image built from the Dockerfile (default ${k8sDefaults.image})
  --shards N           the cluster's shard count, fixed at its creation (default ${k8sDefaults.shards})
  --storage SIZE       each replica's volume (default ${k8sDefaults.storage})
  --cluster-domain D   the cluster's DNS domain (default ${k8sDefaults.clusterDomain})
`;

const dnsLabel = (field: string, s: string): string => {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s)) throw new UsageError(`invalid ${field}: want a DNS label (a-z, 0-9, '-', at most 63), got ${JSON.stringify(s)}`);
  return s;
};
const nonEmpty = (field: string, s: string): string => {
  if (s.trim() === "" || /\s/.test(s)) throw new UsageError(`invalid ${field}: want a non-empty value without spaces, got ${JSON.stringify(s)}`);
  return s;
};
const quantity = (field: string, s: string): string => {
  if (!/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.test(s)) throw new UsageError(`invalid ${field}: want a Kubernetes quantity like 10Gi, got ${JSON.stringify(s)}`);
  return s;
};

const flags = {
  out: flag.nonEmpty(),
  namespace: flag.of(dnsLabel),
  groups: flag.int(1, 1000),
  replicas: flag.int(1, 99),
  controllers: flag.int(1, 99),
  image: flag.of(nonEmpty),
  shards: flag.int(1, 16384),
  storage: flag.of(quantity),
  "cluster-domain": flag.of(nonEmpty),
};

/** The options and output directory of a command line; throws UsageError. */
export function parseK8sArgs(argv: readonly string[]): { out: string; opts: K8sOptions } | "help" {
  const cl = parseCommandLine(argv, flags, { positionals: 0 });
  if (cl.help) return "help";
  const v = cl.values;
  const d = k8sDefaults;
  return {
    out: v.out ?? defaultOut,
    opts: {
      namespace: v.namespace ?? d.namespace, groups: v.groups ?? d.groups, replicas: v.replicas ?? d.replicas, controllers: v.controllers ?? d.controllers,
      image: v.image ?? d.image, shards: v.shards ?? d.shards, storage: v.storage ?? d.storage, clusterDomain: v["cluster-domain"] ?? d.clusterDomain,
    },
  };
}

function main(argv: readonly string[]): void {
  let parsed: ReturnType<typeof parseK8sArgs>;
  try {
    parsed = parseK8sArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`k8s: ${oneLine(e.message)} (--help for usage)\n`);
    process.exit(exitUsage);
  }
  if (parsed === "help") {
    process.stdout.write(usageText);
    return;
  }
  const files = renderManifests(parsed.opts);
  mkdirSync(parsed.out, { recursive: true });
  for (const f of readdirSync(parsed.out)) if (f.endsWith(".yaml") && !files.has(f)) rmSync(join(parsed.out, f));
  for (const [name, text] of files) writeFileSync(join(parsed.out, name), text);
  process.stdout.write(`wrote ${files.size} files to ${parsed.out}: ${[...files.keys()].join(", ")}\n`);
}

main(process.argv.slice(2));
