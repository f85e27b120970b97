#!/bin/bash
# The entrypoint of every shardkv pod on Kubernetes (deploy/k8s/manifests.ts mounts it from the
# ConfigMap shardkv-scripts): starts one controller or shard server replica. Replica id =
# StatefulSet ordinal + 1; the address of replica i is pod <set>-(i-1) of the set's headless
# Service. The group's members come from the ConfigMap <set>-members (mounted at
# /etc/shardkv/members), which the operator keeps current (docs/operations.md, "Kubernetes"):
#   ids      the members' replica ids, e.g. 1,2,3 (what --peers names)
#   state    "new" while the cluster is being created, "existing" once it runs
#   retired  ids replaced or removed (their pods run no replica: /healthz only)
# A member starts with --peers naming the members; a replica not (yet) a member starts with
# --join (a new replica being added: its empty directory, or a restart while the change runs).
# A member whose data directory is empty once the cluster exists has lost its data: starting
# it again under its old id would let it forget its votes, so the script refuses (exit 2) and
# says what to do. Environment (set by the StatefulSet): POD_NAME, SHARDKV_KIND (controller or
# server), SHARDKV_SET, SHARDKV_SERVICE_DOMAIN (headless Service's DNS name), SHARDKV_PORT,
# SHARDKV_METRICS_PORT; servers: SHARDKV_GID, SHARDKV_CONTROLLERS; controllers: SHARDKV_SHARDS.
set -euo pipefail

members=${SHARDKV_MEMBERS_DIR:-/etc/shardkv/members}
tls=${SHARDKV_TLS_DIR:-/etc/shardkv/tls}
data=${SHARDKV_DATA_DIR:-/var/lib/shardkv/data}
bin=${SHARDKV_BIN_DIR:-/app/bin}

ordinal=${POD_NAME##*-}
if ! [[ $ordinal =~ ^[0-9]+$ ]]; then
  echo "replica.sh: POD_NAME ${POD_NAME} does not end in a StatefulSet ordinal" >&2
  exit 2
fi
id=$((ordinal + 1))
read_key() { [[ -f $members/$1 ]] && tr -d ' \n' < "$members/$1" || true; }
ids=$(read_key ids)
state=$(read_key state)
retired=$(read_key retired)
in_list() { [[ ",$2," == *",$1,"* ]]; }
addr_of() { echo "${SHARDKV_SET}-$(($1 - 1)).${SHARDKV_SERVICE_DOMAIN}:${SHARDKV_PORT}"; }

if [[ -z $ids ]]; then
  echo "replica.sh: $members/ids is empty: the ConfigMap ${SHARDKV_SET}-members must list the members' ids" >&2
  exit 2
fi
if in_list "$id" "$retired"; then
  echo "replica.sh: replica $id (${POD_NAME}) is retired (${SHARDKV_SET}-members: retired=$retired); running nothing" >&2
  # Alive (/healthz 200: no restarts) but never ready (/readyz 503: not counted by the budget).
  exec node -e 'require("http").createServer((q, s) => { s.statusCode = q.url === "/healthz" ? 200 : 503; s.end("retired: runs no replica\n"); }).listen(Number(process.argv[1]))' "${SHARDKV_METRICS_PORT}"
fi

peers=""
for i in ${ids//,/ }; do peers+="${peers:+,}$i=$(addr_of "$i")"; done
args=(--id "$id" --listen "0.0.0.0:${SHARDKV_PORT}" --data "$data"
  --tls-ca "$tls/ca.crt" --tls-cert "$tls/${POD_NAME}.crt" --tls-key "$tls/${POD_NAME}.key"
  --metrics-listen "0.0.0.0:${SHARDKV_METRICS_PORT}")
if in_list "$id" "$ids"; then
  if [[ ! -e $data/identity.json && $state == existing ]]; then
    echo "replica.sh: replica $id (${POD_NAME}) is a member but its data directory $data is empty: its data was lost." \
      "Starting it again under id $id could lose acknowledged writes. Replace it by a new replica" \
      "(docs/operations.md, \"Kubernetes: replacing a failed pod's replica\")" >&2
    exit 2
  fi
  args+=(--peers "$peers")
else
  args+=(--join --peers "$peers,$id=$(addr_of "$id")")
fi
case ${SHARDKV_KIND} in
  controller) exec "$bin/shardkv-controller" "${args[@]}" --shards "${SHARDKV_SHARDS}" ;;
  server) exec "$bin/shardkv-server" --gid "${SHARDKV_GID}" "${args[@]}" --controllers "${SHARDKV_CONTROLLERS}" ;;
  *) echo "replica.sh: SHARDKV_KIND must be controller or server, got \"${SHARDKV_KIND}\"" >&2; exit 2 ;;
esac
