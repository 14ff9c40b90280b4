#!/usr/bin/env bash
# Network benchmark (issue 4's speed targets): a drive on a local devnet of 6 shardfs-node
# processes with 4+2 erasure coding, against rclone moving the same bytes to and from one of
# those nodes over plain S3 (no encryption, no erasure coding: the transfer alone), in one run.
#   write+sync  a SIZE file copied into the mount, then `shardfs sync` until every shard is on
#               the nodes: SIZE / (copy + sync); the sync alone is shown too
#   cold read   after an unmount, the cached blocks deleted and the page cache dropped: every
#               byte comes from the nodes (fetch, checksum, decode, decrypt)
#   rclone      `rclone copyto` of the same file to one node, and `rclone cat` back
# Each figure is the median of RUNS runs (default 3); the daemon's peak RSS over the whole run
# is reported. Usage: bench/net_bench.sh [--runs N] [--size-mib N]   (run as root)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shardfs=${SHARDFS_BIN:-$root/build/cli/shardfs}
node_bin=${SHARDFS_NODE_BIN:-$root/build/node/shardfs-node}
runs=3
size_mib=1024
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    *) echo "net_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "net_bench: run as root (drops page caches, mounts)" >&2; exit 2; }
command -v rclone >/dev/null || { echo "net_bench: rclone is missing (make deps)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/shardfs-netbench-XXXXXX)
dev=$work/devnet mnt=$work/mnt cache=$work/cache
daemon_pid=
cleanup() {
  if findmnt -rn "$mnt" >/dev/null 2>&1; then
    "$shardfs" unmount "$mnt" >/dev/null 2>&1 || fusermount3 -u "$mnt" || true
  fi
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null || true
  [[ -f $dev/devnet.json ]] && "$shardfs" devnet down --dir "$dev" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export SHARDFS_CONFIG_DIR=$work/config SHARDFS_PASSWORD_FILE=$work/password
head -c 24 /dev/urandom | base64 >"$work/password"
chmod 600 "$work/password"
"$shardfs" devnet up --nodes 6 --dir "$dev" --node-bin "$node_bin" >/dev/null
"$shardfs" init bench --nodes "$dev/nodes.conf" --ec 4+2 --cache-dir "$cache" \
  --mnemonic-out "$work/words" >/dev/null
mkdir -p "$mnt"
# Incompressible data, made once on the local disk (not timed).
head -c $((size_mib << 20)) /dev/urandom >"$work/src"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The daemon runs in the foreground in the background of this script, so its pid is known and
# its peak RSS (VmHWM) can be read just before each unmount.
peak_rss_kib=0
mount_drive() {
  "$shardfs" mount bench "$mnt" -f 2>>"$work/daemon.log" &
  daemon_pid=$!
  for _ in $(seq 300); do
    findmnt -rn "$mnt" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "net_bench: the drive did not mount; see the log:" >&2
  tail -5 "$work/daemon.log" >&2
  exit 1
}
unmount_drive() {
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status" 2>/dev/null || echo 0)
  ((hwm > peak_rss_kib)) && peak_rss_kib=$hwm
  "$shardfs" unmount "$mnt" >/dev/null
  wait "$daemon_pid" || true
  daemon_pid=
}

# rclone against node1 of the devnet, configured from its nodes.conf entry.
read -r ep ak sk bucket < <(python3 -c '
import json, sys
n = json.load(open(sys.argv[1]))["nodes"][0]
print(n["endpoint"], n["access_key"], n["secret_key"], n["bucket"])' "$dev/nodes.conf")
export RCLONE_CONFIG_NODE_TYPE=s3 RCLONE_CONFIG_NODE_PROVIDER=Other RCLONE_CONFIG_NODE_ENDPOINT=$ep
export RCLONE_CONFIG_NODE_ACCESS_KEY_ID=$ak RCLONE_CONFIG_NODE_SECRET_ACCESS_KEY=$sk
export RCLONE_CONFIG_NODE_FORCE_PATH_STYLE=true RCLONE_CONFIG=/dev/null

declare -a t_write t_sync t_read t_rup t_rdown
mount_drive
for r in $(seq "$runs"); do
  rm -f "$mnt/big"
  "$shardfs" sync "$mnt" >/dev/null 2>&1
  t0=$(now)
  cp "$work/src" "$mnt/big"
  t1=$(now)
  "$shardfs" sync "$mnt" >/dev/null 2>&1
  t_write+=("$(elapsed "$t0")")
  t_sync+=("$(elapsed "$t1")")
  unmount_drive
  rm -rf "$cache/blocks"
  drop_caches
  mount_drive
  t0=$(now)
  cat "$mnt/big" >/dev/null
  t_read+=("$(elapsed "$t0")")
  cmp "$work/src" "$mnt/big" || { echo "net_bench: the file read back differs" >&2; exit 1; }

  t0=$(now)
  env -u AWS_CA_BUNDLE rclone copyto "$work/src" "node:$bucket/rclone-big" --s3-upload-cutoff 5G
  t_rup+=("$(elapsed "$t0")")
  drop_caches
  t0=$(now)
  env -u AWS_CA_BUNDLE rclone cat "node:$bucket/rclone-big" >/dev/null
  t_rdown+=("$(elapsed "$t0")")
  env -u AWS_CA_BUNDLE rclone deletefile "node:$bucket/rclone-big"
  echo "  run $r: write+sync ${t_write[-1]} s (sync ${t_sync[-1]} s), cold read ${t_read[-1]} s;" \
    "rclone up ${t_rup[-1]} s, down ${t_rdown[-1]} s" >&2
done
unmount_drive

mbs() { echo "scale=0; $size_mib * 1.048576 / $1" | bc; }
med() { printf '%s\n' "$@" | median; }
w=$(med "${t_write[@]}") s=$(med "${t_sync[@]}") rd=$(med "${t_read[@]}")
ru=$(med "${t_rup[@]}") rdn=$(med "${t_rdown[@]}")
printf '\n| %s MiB over 6 local nodes | shardfs (4+2, encrypted) | rclone to one node (plain S3) |\n' "$size_mib"
printf '| --- | --- | --- |\n'
printf '| write until stored | %s MB/s (%.1f s, of which sync %.1f s) | %s MB/s (%.1f s) |\n' \
  "$(mbs "$w")" "$w" "$s" "$(mbs "$ru")" "$ru"
printf '| cold sequential read | %s MB/s (%.1f s) | %s MB/s (%.1f s) |\n' \
  "$(mbs "$rd")" "$rd" "$(mbs "$rdn")" "$rdn"
printf '\nshardfs daemon peak RSS: %d MiB\n' $((peak_rss_kib / 1024))
