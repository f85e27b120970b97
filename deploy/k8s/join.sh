#!/bin/bash
# The join Job of a shardkv cluster on Kubernetes (deploy/k8s/manifests.ts mounts it from the
# ConfigMap shardkv-scripts): waits for the controllers, then joins every shard group of
# SHARDKV_JOIN_GROUPS ("GID=ADDR,ADDR,... GID=..."), skipping a group the latest config already
# has, so running it again (a retried pod, a re-applied Job, a group added later) is harmless.
# A group whose servers do not answer yet is refused by the controller's join check; the
# script tries again every 5 s, up to SHARDKV_JOIN_ATTEMPTS times (default 60), then fails
# (the Job retries the pod). Each try is one join check (`--wait-servers 0`): this loop is the
# wait, and shardctl's own (30 s by default) would stretch each try of it. Identity: the admin certificate in /etc/shardkv/admin.
set -euo pipefail

bin=${SHARDKV_BIN_DIR:-/app/bin}
admin=${SHARDKV_ADMIN_TLS_DIR:-/etc/shardkv/admin}
export SHARDKV_TLS_CA=$admin/ca.crt SHARDKV_TLS_CERT=$admin/admin.crt SHARDKV_TLS_KEY=$admin/admin.key
attempts=${SHARDKV_JOIN_ATTEMPTS:-60}

joined() {
  "$bin/shardctl" --json query | node -e '
    const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(Object.hasOwn(c.groups, process.argv[1]) ? 0 : 1);' "$1"
}

"$bin/shardctl" status --timeout 5m >/dev/null
for spec in ${SHARDKV_JOIN_GROUPS}; do
  gid=${spec%%=*}
  for ((try = 1; ; try++)); do
    if joined "$gid"; then
      echo "group $gid is joined"
      break
    fi
    if "$bin/shardctl" --timeout 1m join --wait-servers 0 "$spec"; then
      continue
    fi
    if ((try >= attempts)); then
      echo "join.sh: group $gid could not be joined after $attempts attempts" >&2
      exit 3
    fi
    sleep 5
  done
done
