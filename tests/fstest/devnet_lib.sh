# Helpers for fstests that run a devnet (network.sh, rgw.sh); sourced, not run. They read the
# caller's $dev (the devnet directory) and $sfs (the shardfs binary).

# The pid devnet.json records for node id $1 (nodes restarted by `devnet up` get new pids).
node_pid() {
  python3 - "$dev/devnet.json" "$1" <<'EOF'
import json, sys
for n in json.load(open(sys.argv[1]))["nodes"]:
    if n["id"] == sys.argv[2]:
        print(n.get("pid") or "")
EOF
}
node_ids() { python3 -c 'import json,sys; print(" ".join(n["id"] for n in json.load(open(sys.argv[1]))["nodes"]))' "$dev/devnet.json"; }
# Is pid $1 a live process (not gone, not a zombie: nothing here reaps the killed nodes)?
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}
# Is pid $1 one of this devnet's shardfs-node processes (and not a reused pid)?
our_node() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q -- "$dev/"; }
# How many nodes `devnet status` shows up.
nodes_up_count() { "$sfs" devnet status --dir "$dev" | grep -c ' up$' || true; }
# Objects of a node: every file under its buckets' objects/ directories.
node_objects() { find "$dev/$1/data/buckets" -path '*/objects/*' -type f 2>/dev/null; }
