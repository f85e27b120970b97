# Node's flags for the daemons, sourced by bin/shardkv-server and bin/shardkv-controller.
# SHARDKV_NODE_FLAGS replaces them (e.g. to add --cpu-prof; empty: Node's defaults).
#
# --initial-old-space-size=256: V8 starts a daemon's old generation small and, while it is
# small, runs a full mark-compact every time a few MiB of Buffers (Raft entries, pulled shard
# chunks) have come and gone: 135 full GCs per 100 MiB written in 256 KiB values on one group
# (3 replicas), each a main-thread pause of 10-30 ms that every request on the replica waits
# for. With 256 MiB of room before the heuristics kick in: 6 full GCs, 25% less CPU per MiB
# (docs/benchmarks.md, "Performance work", change 11). The heap grows only as it is used.
daemon_node_flags=(${SHARDKV_NODE_FLAGS---initial-old-space-size=256})
