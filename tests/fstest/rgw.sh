#!/usr/bin/env bash
# Drives whose shards live on a real Ceph RGW S3 server. Like network.sh this test makes its own
# drives (no with_mount.sh); each is mounted for real and its files, of random data, names and a
# symlink, are compared byte for byte against reference copies kept outside the mount:
#   1. RGW only: a 4+2 drive over 6 buckets of one RGW. After `shardfs sync`, status shows no
#      pending upload and 6 nodes, every bucket holds objects; with the local cache of blocks
#      emptied everything reads back identical; no object in the RGW holds a marker written in
#      a file's contents and in a file name.
#   2. Mixed: a 4+2 drive over 3 shardfs-nodes (a devnet) and 3 RGW buckets. Objects land on
#      both kinds; with the cache emptied and 2 of the nodes killed -9 everything reads back
#      identical; once they are restarted the drive takes new writes.
# Timings (sync, read) are printed, never asserted. Whatever happens, the trap unmounts, stops
# every process it started, deletes its buckets and removes the temporary directory.
#
# The RGW: the one described by $SHARDFS_TEST_RGW_ENV (the env file tests/fixtures/ceph-rgw.sh
# writes; the ctest fixture s3_rgw sets it), else one this script starts and stops itself. Exits
# 77 (skipped) when the ceph binaries are missing.
#
# Environment: SHARDFS_BIN, SHARDFS_NODE_BIN (default: the build tree), SHARDFS_TEST_RGW_ENV,
# SHARDFS_SEED (replays the random choices), SHARDFS_KEEP=1 (keep the temporary directory).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SHARDFS_BIN:=$here/../../build/cli/shardfs}"
: "${SHARDFS_NODE_BIN:=$here/../../build/node/shardfs-node}"
sfs=$SHARDFS_BIN
fixture=$here/../fixtures/ceph-rgw.sh
seed=${SHARDFS_SEED:-$RANDOM}
RANDOM=$seed

home=$(mktemp -d /var/tmp/shardfs-rgw-XXXXXX)
dev=$home/devnet
mnt=$home/mnt
objects=$home/objects  # what the buckets hold, downloaded
daemon_log=$home/daemon.log
mkdir -p "$mnt" "$objects"
head -c 24 /dev/urandom | base64 >"$home/password"
chmod 600 "$home/password"
export SHARDFS_CONFIG_DIR=$home/config
export SHARDFS_PASSWORD_FILE=$home/password
# Bucket names unique to this run: reruns against a shared RGW never meet old buckets.
run_id=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
own_rgw=""    # the directory of the RGW this script started, if it did
buckets=()    # every bucket this run gave a drive
drive=""      # the drive mounted (or to mount) at $mnt, and its cache directory
cache=""
daemon=""     # pid of the `shardfs mount -f` daemon
t_start=$(date +%s)

say() { echo "rgw: $*"; }
step() { echo; echo "rgw: [$(($(date +%s) - t_start))s] === $* ==="; }
fail() { echo "rgw: FAIL: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# ---- RGW helpers ---------------------------------------------------------------------------

# s3 SECONDS ARGS...: s3cmd ARGS talking path-style to the RGW (no config file), with a timeout.
s3() {
  timeout "$1" s3cmd --config=/dev/null --access_key="$S3_ACCESS_KEY" \
    --secret_key="$S3_SECRET_KEY" --host="$s3_host" --host-bucket="$s3_host" --no-ssl "${@:2}"
}
# How many objects bucket $1 holds.
bucket_count() {
  local listing
  listing=$(s3 60 ls -r "s3://$1") || fail "s3cmd cannot list bucket $1"
  grep -c " s3://$1/" <<<"$listing" || true
}
# Writes a node list (docs/nodes.md) to $1: the nodes of the node list $2 (or none: "") and one
# RGW node per bucket: id rgwN, bucket sfs-$run_id-$3-N, for N in 1..$4.
write_nodes() {
  local file=$1 base=$2 what=$3 count=$4 i
  for ((i = 1; i <= count; i++)); do buckets+=("sfs-$run_id-$what-$i"); done
  python3 - "$file" "$base" "$what" "$count" "$run_id" "$S3_ENDPOINT" "$S3_ACCESS_KEY" \
    "$S3_SECRET_KEY" <<'EOF'
import json, sys
out, base, what, count, run_id, endpoint, access, secret = sys.argv[1:]
nodes = json.load(open(base))["nodes"] if base else []
for i in range(1, int(count) + 1):
    nodes.append({"id": f"rgw{i}", "endpoint": endpoint, "bucket": f"sfs-{run_id}-{what}-{i}",
                  "access_key": access, "secret_key": secret, "zone": "rgw"})
with open(out, "w") as f:
    json.dump({"format": "shardfs-nodes", "version": 1, "nodes": nodes}, f, indent=2)
EOF
  chmod 600 "$file"
}

# ---- devnet helpers ------------------------------------------------------------------------

# node_pid, node_ids, alive, our_node, nodes_up_count, node_objects
source "$here/devnet_lib.sh"

devnet_up() {
  "$sfs" devnet up --nodes 3 --dir "$dev" --node-bin "$SHARDFS_NODE_BIN" >/dev/null ||
    fail "shardfs devnet up failed"
  local id pid
  for id in $(node_ids); do
    pid=$(node_pid "$id")
    [[ -n $pid ]] && alive "$pid" || fail "devnet up: $id is not running"
  done
  [[ $(nodes_up_count) == 3 ]] || fail "devnet status does not show 3 nodes up"
}

# ---- mount helpers -------------------------------------------------------------------------

# Unmount (which waits for uploads) and drop every cached block: every block read afterwards
# comes from the nodes.
unmount_and_empty_cache() {
  unmount_drive
  [[ -d $cache/blocks ]] || fail "no block cache at $cache/blocks"
  rm -rf "$cache/blocks"
}
sync_drive() {
  local t0
  t0=$(now_ms)
  timeout 180 "$sfs" sync "$mnt" >"$home/sync.out" 2>&1 ||
    fail "shardfs sync $mnt did not complete (status $?): $(tail -n 3 "$home/sync.out")"
  say "sync took $(($(now_ms) - t0)) ms ($(tail -n 1 "$home/sync.out"))"
}
# Checks that `shardfs status` shows no upload waiting and $1 nodes, each named in "$2".
check_status() {
  local want=$1 ids=$2 st pending id n
  st=$("$sfs" status "$mnt") || fail "shardfs status $mnt failed"
  sed 's/^/rgw:   | /' <<<"$st"
  pending=$(awk '$1 == "uploads" { print $2; exit }' <<<"$st")
  [[ $pending == 0 ]] || fail "shardfs status shows '$pending' uploads pending after sync"
  n=$(awk '$1 == "node" && $2 == "health" { on = 1; next } on && NF >= 7 { n++ } END { print n + 0 }' <<<"$st")
  [[ $n == "$want" ]] || fail "shardfs status lists $n nodes, not $want"
  for id in $ids; do
    grep -qE "^ +$id +" <<<"$st" || fail "shardfs status does not list node $id"
  done
}

# ---- test data -----------------------------------------------------------------------------

# Fills directory $1 with a mix: one file of $2 MiB, small files, an empty one, a file that
# crosses a block boundary, a tree of named directories and a symlink, and files whose names
# and contents carry the markers.
name_marker=rgw-test-name-marker-$run_id
text_marker=RGW-TEXT-MARKER-the-safe-opens-with-$run_id
make_files() {
  local d=$1
  mkdir -p "$d/tree/a/b/c" "$d/tree/with space/ünïcode" "$d/$name_marker-dir"
  head -c "$2M" /dev/urandom >"$d/big.bin"
  head -c 1 /dev/urandom >"$d/one-byte"
  head -c 4096 /dev/urandom >"$d/page"
  head -c 123457 /dev/urandom >"$d/odd-size"
  head -c $((4 * 1024 * 1024 + 1)) /dev/urandom >"$d/block-plus-one"
  : >"$d/empty"
  head -c 300000 /dev/urandom >"$d/tree/a/b/c/deep.bin"
  echo "hello from a path with a space" >"$d/tree/with space/ünïcode/note.txt"
  ln -s a/b/c/deep.bin "$d/tree/link-to-deep"
  head -c 600000 < <(yes "$text_marker") >"$d/$name_marker-dir/$name_marker.txt"
  printf '%s' "$text_marker" >"$d/small-$name_marker"
}
# Copies the reference tree $1 into the mount (symlinks as symlinks) and makes sure it is there.
write_files() {
  local t0
  t0=$(now_ms)
  cp -R "$1/." "$mnt/" || fail "copying the files into the mount failed"
  say "wrote $(du -sh "$1" | cut -f1) in $(($(now_ms) - t0)) ms"
  [[ $(readlink "$mnt/tree/link-to-deep") == a/b/c/deep.bin ]] || fail "the symlink reads back wrong"
}
# Compares the mount with the reference tree $1, names, contents and symlinks, and times it.
check_files() {
  local ref=$1 what=$2 t0 n
  t0=$(now_ms)
  diff -r --no-dereference "$ref" "$mnt" >"$home/diff.out" 2>&1 ||
    fail "$what: the mount differs from the reference copies: $(head -n 5 "$home/diff.out")"
  n=$(find "$ref" | wc -l)
  (($(find "$mnt" | wc -l) == n)) || fail "$what: the mount has $(find "$mnt" | wc -l) entries, not $n"
  [[ $(readlink "$mnt/tree/link-to-deep") == a/b/c/deep.bin ]] || fail "$what: the symlink reads back wrong"
  say "$what: $n entries identical ($(du -sh "$ref" | cut -f1), read in $(($(now_ms) - t0)) ms)"
}
# Fails if any file under the given directories contains a marker.
check_no_markers() {
  local needle
  for needle in "$name_marker" "$text_marker" "RGW-TEXT-MARKER" "rgw-test-name-marker"; do
    if grep -r -a -l -F -- "$needle" "$@"; then
      fail "'$needle' found in the clear in the objects above"
    fi
  done
}
# Downloads every object of bucket $1 into $objects/$1 and prints how many there are.
download_bucket() {
  mkdir -p "$objects/$1"
  s3 120 get -r --force "s3://$1/" "$objects/$1/" >/dev/null 2>"$home/s3get.err" ||
    fail "s3cmd get from bucket $1 failed: $(tail -n 3 "$home/s3get.err")"
  find "$objects/$1" -type f | wc -l
}

# ---- cleanup and diagnostics ---------------------------------------------------------------

diagnostics() {
  echo "=============== rgw: diagnostics ===============" >&2
  if findmnt -rn "$mnt" >/dev/null 2>&1; then
    echo "--- shardfs status $mnt" >&2
    timeout 10 "$sfs" status "$mnt" >&2 2>&1 || true
  fi
  if [[ -f $dev/devnet.json ]]; then
    echo "--- shardfs devnet status" >&2
    timeout 10 "$sfs" devnet status --dir "$dev" >&2 2>&1 || true
    local log
    for log in "$dev"/node*/node.log; do
      [[ -f $log ]] || continue
      echo "--- tail $log" >&2
      tail -n 10 "$log" >&2 || true
    done
  fi
  if [[ -n $own_rgw && -f $own_rgw/log/rgw.log ]]; then
    echo "--- tail $own_rgw/log/rgw.log" >&2
    tail -n 20 "$own_rgw/log/rgw.log" >&2 || true
  fi
  if [[ -f $daemon_log ]]; then
    echo "--- tail $daemon_log" >&2
    tail -n 60 "$daemon_log" >&2 || true
  fi
  echo "=============== rgw: seed $seed (SHARDFS_SEED=$seed replays the node choices) ===" >&2
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  ((status == 0 || status == 77)) || diagnostics
  if findmnt -rn "$mnt" >/dev/null 2>&1; then
    timeout 60 "$sfs" unmount "$mnt" >/dev/null 2>&1 || fusermount3 -u "$mnt" 2>/dev/null ||
      fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
  fi
  if [[ -n $daemon ]] && alive "$daemon"; then
    for _ in $(seq 50); do alive "$daemon" || break; sleep 0.1; done
    alive "$daemon" && kill -9 "$daemon" 2>/dev/null
  fi
  local id pid
  if [[ -f $dev/devnet.json ]]; then
    timeout 30 "$sfs" devnet down --dir "$dev" >/dev/null 2>&1
    for id in $(node_ids 2>/dev/null); do
      pid=$(node_pid "$id" 2>/dev/null)
      [[ -n $pid ]] && alive "$pid" && our_node "$pid" && kill -9 "$pid" 2>/dev/null
    done
  fi
  if [[ -n $own_rgw ]]; then
    timeout 60 "$fixture" stop "$own_rgw" >/dev/null 2>&1 || echo "rgw: stopping the RGW in $own_rgw failed" >&2
  elif [[ -n ${s3_host:-} ]]; then
    # A shared RGW (one memstore OSD) lives on: give back the memory our objects took.
    local b
    for b in "${buckets[@]}"; do
      s3 60 rb -r --force "s3://$b" >/dev/null 2>&1
    done
  fi
  # Every process this run started names $home on its command line.
  local left
  for _ in $(seq 20); do
    left=$(pgrep -a -f -- "$home/" || true)
    [[ -z $left ]] && break
    sleep 0.25
  done
  if [[ -n $left ]]; then
    echo "rgw: FAIL: processes left behind (killed now):" >&2
    echo "$left" >&2
    local p
    for p in $(awk '{ print $1 }' <<<"$left"); do kill -9 "$p" 2>/dev/null; done
    ((status != 0)) || status=1
  fi
  if [[ ${SHARDFS_KEEP:-} == 1 ]]; then
    echo "rgw: kept $home" >&2
  else
    rm -rf "$home"
  fi
  if ((status == 77)); then
    echo "rgw: SKIPPED"
  else
    echo "rgw: $( ((status == 0)) && echo PASSED || echo "FAILED (status $status)") in $(($(date +%s) - t_start)) s"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- setup ---------------------------------------------------------------------------------

step "setup (seed $seed, run $run_id)"
[[ -x $sfs ]] || fail "no shardfs at $sfs"
[[ -x $SHARDFS_NODE_BIN ]] || fail "no shardfs-node at $SHARDFS_NODE_BIN"
command -v s3cmd >/dev/null || fail "s3cmd is not installed (scripts/install-deps.sh)"
if [[ -n ${SHARDFS_TEST_RGW_ENV:-} ]]; then
  if [[ ! -r $SHARDFS_TEST_RGW_ENV ]]; then
    say "no Ceph RGW: $SHARDFS_TEST_RGW_ENV is missing (are the ceph packages installed? scripts/install-deps.sh)"
    exit 77
  fi
  env_file=$SHARDFS_TEST_RGW_ENV
  say "using the RGW described by $env_file"
else
  t0=$(now_ms)
  own_rgw=$home/rgw
  set +e
  "$fixture" start "$own_rgw" --owner-pid $$ >"$home/rgw-start.log" 2>&1
  rc=$?
  set -e
  if ((rc == 3)); then
    own_rgw=""
    say "no Ceph RGW: the ceph binaries are missing (scripts/install-deps.sh)"
    exit 77
  fi
  ((rc == 0)) || fail "tests/fixtures/ceph-rgw.sh start failed: $(tail -n 5 "$home/rgw-start.log")"
  env_file=$own_rgw/env
  say "started an RGW in $(($(now_ms) - t0)) ms"
fi
S3_ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' "$env_file")
S3_ACCESS_KEY=$(sed -n 's/^S3_ACCESS_KEY=//p' "$env_file")
S3_SECRET_KEY=$(sed -n 's/^S3_SECRET_KEY=//p' "$env_file")
[[ $S3_ENDPOINT =~ ^http://([^/]+)$ && -n $S3_ACCESS_KEY && -n $S3_SECRET_KEY ]] ||
  fail "$env_file holds no usable S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY"
s3_host=${BASH_REMATCH[1]}
s3 30 ls >/dev/null 2>"$home/s3ls.err" ||
  fail "s3cmd cannot reach the RGW at $S3_ENDPOINT: $(tail -n 2 "$home/s3ls.err")"
say "RGW at $S3_ENDPOINT"
t_tests=$(date +%s)

# ---- 1 -------------------------------------------------------------------------------------

step "1. RGW only: a 4+2 drive over 6 buckets of one RGW"
drive=rgw-only
cache=$home/cache-$drive
ref=$home/ref1
write_nodes "$home/nodes1.conf" "" only 6
"$sfs" init "$drive" --nodes "$home/nodes1.conf" --ec 4+2 --cache-dir "$cache" \
  --kdf-memory 8M --kdf-passes 1 --mnemonic-out "$home/mnemonic1" >/dev/null ||
  fail "shardfs init $drive over 6 RGW buckets failed"
make_files "$ref" 40
mount_drive
write_files "$ref"
sync_drive
check_status 6 "rgw1 rgw2 rgw3 rgw4 rgw5 rgw6"
total=0
for b in "${buckets[@]:0:6}"; do
  n=$(bucket_count "$b")
  ((n > 0)) || fail "bucket $b holds no object after a sync of $(du -sh "$ref" | cut -f1)"
  total=$((total + n))
done
say "every bucket holds objects ($total in all)"
unmount_and_empty_cache
mount_drive
check_files "$ref" "RGW only, cache emptied"
n=0
for b in "${buckets[@]:0:6}"; do
  c=$(download_bucket "$b")
  n=$((n + c))
done
((n == total)) || fail "downloaded $n objects, the buckets listed $total"
check_no_markers "$objects"
say "$n objects in 6 buckets checked: neither names nor contents in the clear"
unmount_drive
rm -rf "${objects:?}"/*

# ---- 2 -------------------------------------------------------------------------------------

step "2. Mixed: a 4+2 drive over 3 shardfs-nodes and 3 RGW buckets"
devnet_up
drive=mixed
cache=$home/cache-$drive
ref=$home/ref2
write_nodes "$home/nodes2.conf" "$dev/nodes.conf" mixed 3
"$sfs" init "$drive" --nodes "$home/nodes2.conf" --ec 4+2 --cache-dir "$cache" \
  --kdf-memory 8M --kdf-passes 1 --mnemonic-out "$home/mnemonic2" >/dev/null ||
  fail "shardfs init $drive over 3 nodes and 3 RGW buckets failed"
make_files "$ref" 24
mount_drive
write_files "$ref"
sync_drive
check_status 6 "$(node_ids) rgw1 rgw2 rgw3"
for id in $(node_ids); do
  n=$(node_objects "$id" | wc -l)
  ((n > 0)) || fail "devnet node $id holds no object after the sync"
  say "$id holds $n objects"
done
for b in "${buckets[@]:6:3}"; do
  n=$(bucket_count "$b")
  ((n > 0)) || fail "bucket $b holds no object after the sync"
  say "bucket $b holds $n objects"
done
for b in "${buckets[@]:6:3}"; do download_bucket "$b" >/dev/null; done
check_no_markers "$objects" "$dev"
say "neither names nor contents in the clear on the nodes or in the buckets"
unmount_and_empty_cache
mapfile -t victims < <(node_ids | tr ' ' '\n' | shuf --random-source=<(yes "$seed") -n 2)
for id in "${victims[@]}"; do
  pid=$(node_pid "$id")
  [[ -n $pid ]] && our_node "$pid" || fail "no running process for $id (pid '$pid')"
  kill -9 "$pid"
  for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
  alive "$pid" && fail "$id (pid $pid) still alive after SIGKILL"
done
[[ $(nodes_up_count) == 1 ]] || fail "expected 1 devnet node up, devnet status says $(nodes_up_count)"
say "killed -9 ${victims[*]}"
mount_drive
check_files "$ref" "mixed, cache emptied, ${victims[*]} down"
"$sfs" status "$mnt" | sed 's/^/rgw:   | /'
devnet_up
say "${victims[*]} restarted"
head -c 5M /dev/urandom >"$ref/after-restart"
cp "$ref/after-restart" "$mnt/after-restart" || fail "writing after the restart failed"
sync_drive
check_status 6 "$(node_ids) rgw1 rgw2 rgw3"
unmount_and_empty_cache
mount_drive
check_files "$ref" "mixed, every node back, cache emptied"
unmount_drive
"$sfs" devnet down --dir "$dev" >/dev/null || fail "shardfs devnet down failed"
for id in $(node_ids); do
  pid=$(node_pid "$id")
  [[ -z $pid ]] || ! alive "$pid" || ! our_node "$pid" || fail "$id (pid $pid) runs after devnet down"
done

step "all scenarios passed ($(($(date +%s) - t_tests)) s without the RGW start)"
