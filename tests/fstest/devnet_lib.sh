# Helpers for fstests that run a devnet (network.sh, rgw.sh); sourced, not run. They read the
# caller's $dev (the devnet directory), $sfs (the shardfs binary), and for mounting $drive, $mnt
# and $daemon_log, and call its fail().

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

# Mounts $drive at $mnt with the daemon in the foreground (-f) in the background of this script,
# so that its log is kept in $daemon_log (without -f it logs to syslog, which may not exist
# here); $daemon is its pid.
mount_drive() {
  echo "--- mount $drive at $(date +%T.%3N)" >>"$daemon_log"
  "$sfs" mount "$drive" "$mnt" -f >>"$daemon_log" 2>&1 &
  daemon=$!
  for _ in $(seq 300); do
    findmnt -rn "$mnt" >/dev/null 2>&1 && return 0
    kill -0 "$daemon" 2>/dev/null || { wait "$daemon" || true; fail "shardfs mount $drive exited before mounting"; }
    sleep 0.1
  done
  fail "$drive did not mount within 30 s"
}
unmount_drive() {
  findmnt -rn "$mnt" >/dev/null 2>&1 || return 0
  timeout 300 "$sfs" unmount "$mnt" >/dev/null || fail "shardfs unmount $mnt failed or hung"
  for _ in $(seq 100); do alive "$daemon" || break; sleep 0.1; done
  alive "$daemon" && fail "the daemon (pid $daemon) still runs 10 s after the unmount"
  wait "$daemon" 2>/dev/null || true
  daemon=""
}
