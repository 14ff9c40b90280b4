#!/usr/bin/env bash
# Network faults on a real mount over real nodes (issue 4). Unlike the other fstests this one
# does not use with_mount.sh: it starts its own devnet of 6 shardfs-node processes on 127.0.0.1,
# creates a 4+2 drive over them, mounts it and then, with files of random data compared byte
# for byte against copies kept outside the mount:
#   1. kills -9 two nodes during a large read with an emptied cache: the read succeeds;
#   2. kills -9 two nodes while files are being written: the writer sees no error, `shardfs
#      sync` completes, and with the two nodes still down everything reads back identical;
#   3. corrupts every object of one node and deletes every object of another: reads are still
#      correct and `shardfs status` counts bad shards for the corrupt node;
#   4. SIGSTOPs one node (connections accepted, never answered): a read is not drastically
#      slower than with every node up;
#   5. kills 3 nodes (more than m=2): reads fail with EIO and never return wrong bytes; once
#      the nodes are back the same read succeeds;
#   6. kills -9 the shardfs daemon right after an fsync: after a remount, a sync and an emptied
#      cache the file is intact;
#   7. privacy: no node's data directory contains a marker put in file contents and names.
# Whatever happens, the trap unmounts, stops the devnet and removes the temporary directory.
#
# Environment: SHARDFS_BIN, SHARDFS_NODE_BIN (default: the build tree), SHARDFS_SEED (replays
# the random choice of nodes), SHARDFS_KEEP=1 (keep the temporary directory for inspection).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SHARDFS_BIN:=$here/../../build/cli/shardfs}"
: "${SHARDFS_NODE_BIN:=$here/../../build/node/shardfs-node}"
sfs=$SHARDFS_BIN
seed=${SHARDFS_SEED:-$RANDOM}
RANDOM=$seed

home=$(mktemp -d /var/tmp/shardfs-network-XXXXXX)
dev=$home/devnet
mnt=$home/mnt
cache=$home/cache
ref=$home/ref         # the reference copies, outside the mount
out=$home/out         # what was read back
daemon_log=$home/daemon.log
drive=drive       # the drive mount_drive mounts
daemon=""         # pid of the `shardfs mount -f` daemon
mkdir -p "$mnt" "$ref" "$out"
head -c 24 /dev/urandom | base64 >"$home/password"
chmod 600 "$home/password"
export SHARDFS_CONFIG_DIR=$home/config
export SHARDFS_PASSWORD_FILE=$home/password
t_start=$(date +%s)

say() { echo "network: $*"; }
step() { echo; echo "network: [$(($(date +%s) - t_start))s] === $* ==="; }
fail() { echo "network: FAIL: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# ---- devnet helpers ------------------------------------------------------------------------

# node_pid, node_ids, alive, our_node, nodes_up_count, node_objects
source "$here/devnet_lib.sh"

# N distinct random node ids, printed one per line.
pick_nodes() {
  local ids
  read -r -a ids <<<"$(node_ids)"
  local i j tmp
  for ((i = ${#ids[@]} - 1; i > 0; i--)); do
    j=$((RANDOM % (i + 1)))
    tmp=${ids[i]}; ids[i]=${ids[j]}; ids[j]=$tmp
  done
  printf '%s\n' "${ids[@]:0:$1}"
}
# kill -SIG each node id given; for KILL/TERM, wait until they are gone.
signal_nodes() {
  local sig=$1 id pid
  shift
  for id in "$@"; do
    pid=$(node_pid "$id")
    [[ -n $pid ]] && our_node "$pid" || fail "no running process for $id (pid '$pid')"
    kill -"$sig" "$pid"
  done
  [[ $sig == KILL || $sig == TERM ]] || return 0
  for id in "$@"; do
    pid=$(node_pid "$id")
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
    alive "$pid" && fail "$id (pid $pid) still alive after SIG$sig"
  done
  return 0
}
devnet_up() {
  "$sfs" devnet up --nodes 6 --dir "$dev" --node-bin "$SHARDFS_NODE_BIN" --quota 1G >/dev/null ||
    fail "shardfs devnet up failed"
  local id pid
  for id in $(node_ids); do
    pid=$(node_pid "$id")
    [[ -n $pid ]] && alive "$pid" || fail "devnet up: $id is not running"
  done
}
# Each node's status line: "node health latency errors shards bad endpoint".
node_status_field() {  # node_status_field NODE COLUMN(5=stored, 6=bad, 4=errors, 2=health)
  "$sfs" status "$mnt" | awk -v n="$1" -v c="$2" '$1 == n { print $c; found = 1 } END { exit !found }'
}

# ---- mount helpers -------------------------------------------------------------------------

# Unmount (which waits for uploads), drop every cached block, mount again: every block read
# afterwards comes from the nodes.
empty_cache() {
  unmount_drive
  rm -rf "$cache/blocks"
  mount_drive
}
sync_drive() {
  local t0=$(now_ms)
  timeout "${1:-180}" "$sfs" sync "$mnt" >/dev/null || fail "shardfs sync did not complete (status $?)"
  say "sync took $(($(now_ms) - t0)) ms"
}
daemon_pid() { cat "$cache/daemon.pid" 2>/dev/null || true; }

# Reads $1 (in the mount) to $2 in 1 MiB chunks; after $3 chunks it creates the file $4 and
# goes on at ~$5 s per chunk, so that whoever waits for $4 acts in the middle of the read.
slow_read() {
  python3 - "$@" <<'EOF'
import sys, time
src, dst, after, flag, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
n = 0
with open(src, "rb", buffering=0) as f, open(dst, "wb") as o:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        o.write(b)
        n += 1
        if n == after:
            open(flag, "w").close()
        if n >= after:
            time.sleep(pause)
EOF
}
wait_for_file() {
  for _ in $(seq 600); do [[ -e $1 ]] && return 0; sleep 0.01; done
  fail "timed out waiting for $1"
}
same() {  # same REF FILE WHAT
  cmp -- "$1" "$2" || fail "$3: $2 differs from its reference copy"
}
check_all() {  # check_all WHAT: every reference file reads back identical from the mount
  local f n=0 t0
  t0=$(now_ms)
  for f in "$ref"/*; do
    same "$f" "$mnt/$(basename "$f")" "$1"
    n=$((n + 1))
  done
  say "$1: $n files identical ($(du -sh "$ref" | cut -f1), read in $(($(now_ms) - t0)) ms)"
}

# ---- cleanup and diagnostics ---------------------------------------------------------------

diagnostics() {
  echo "=============== network: diagnostics ===============" >&2
  echo "--- shardfs status $mnt" >&2
  timeout 10 "$sfs" status "$mnt" >&2 2>&1 || true
  echo "--- shardfs devnet status" >&2
  timeout 10 "$sfs" devnet status --dir "$dev" >&2 2>&1 || true
  local log
  for log in "$dev"/node*/node.log; do
    [[ -f $log ]] || continue
    echo "--- tail $log" >&2
    tail -n 15 "$log" >&2 || true
  done
  if [[ -f $daemon_log ]]; then
    echo "--- tail $daemon_log" >&2
    tail -n 60 "$daemon_log" >&2 || true
  fi
  echo "=============== network: seed $seed (SHARDFS_SEED=$seed replays the node choices) ===" >&2
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  ((status == 0)) || diagnostics
  # Stopped (SIGSTOP) nodes would make the unmount wait; let them go on first.
  local id pid
  if [[ -f $dev/devnet.json ]]; then
    for id in $(node_ids 2>/dev/null); do
      pid=$(node_pid "$id" 2>/dev/null)
      [[ -n $pid ]] && our_node "$pid" && kill -CONT "$pid" 2>/dev/null
    done
  fi
  if findmnt -rn "$mnt" >/dev/null 2>&1; then
    timeout 60 "$sfs" unmount "$mnt" >/dev/null 2>&1 || fusermount3 -u "$mnt" 2>/dev/null ||
      fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
  fi
  pid=$(daemon_pid)
  if [[ -n $pid ]] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$mnt"; then
    kill -9 "$pid" 2>/dev/null
  fi
  if [[ -f $dev/devnet.json ]]; then
    timeout 30 "$sfs" devnet down --dir "$dev" >/dev/null 2>&1
    for id in $(node_ids 2>/dev/null); do
      pid=$(node_pid "$id" 2>/dev/null)
      [[ -n $pid ]] && alive "$pid" && our_node "$pid" && kill -9 "$pid" 2>/dev/null
    done
  fi
  if [[ ${SHARDFS_KEEP:-} == 1 ]]; then
    echo "network: kept $home" >&2
  else
    rm -rf "$home"
  fi
  echo "network: $( ((status == 0)) && echo PASSED || echo "FAILED (status $status)") in $(($(date +%s) - t_start)) s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- setup ---------------------------------------------------------------------------------

step "setup: 6 nodes, a 4+2 drive with 1 MiB blocks (seed $seed)"
[[ -x $sfs ]] || fail "no shardfs at $sfs"
[[ -x $SHARDFS_NODE_BIN ]] || fail "no shardfs-node at $SHARDFS_NODE_BIN"
"$sfs" devnet up --nodes 6 --dir "$dev" --node-bin "$SHARDFS_NODE_BIN" --quota 1G >/dev/null ||
  fail "shardfs devnet up failed"
[[ $(nodes_up_count) == 6 ]] || fail "devnet did not start 6 nodes"
"$sfs" init drive --nodes "$dev/nodes.conf" --cache-dir "$cache" --cache-size 512M \
  --block-size 1M --kdf-memory 8M --kdf-passes 1 --mnemonic-out "$home/mnemonic" >/dev/null ||
  fail "shardfs init failed"
mount_drive
head -c 40M /dev/urandom >"$ref/big"
cp "$ref/big" "$mnt/big"
sync_drive
for id in $(node_ids); do
  n=$(node_status_field "$id" 5) || fail "no status line for $id"
  ((n > 0)) || fail "$id holds no shard after writing 40 MiB to 6 nodes"
done
say "40 MiB written and stored; every node holds shards"
# df: six nodes with a 1 GiB quota each hold 4 GiB of blocks at 4+2.
read -r size used < <(df -B1 --output=size,used "$mnt" | tail -n 1)
[[ $size == $((4 << 30)) ]] || fail "df shows a size of $size bytes, not the 4 GiB six 1 GiB nodes hold at 4+2"
((used >= 40 << 20 && used < 48 << 20)) || fail "df shows $used bytes used after storing 40 MiB"
say "df: size 4 GiB, $((used >> 20)) MiB used"

# ---- 1 -------------------------------------------------------------------------------------

step "1. kill -9 two nodes during a large read with an emptied cache"
empty_cache
mapfile -t victims < <(pick_nodes 2)
rm -f "$home/flag"
slow_read "$mnt/big" "$out/big" 10 "$home/flag" 0.02 2>"$home/read.err" &
reader=$!
wait_for_file "$home/flag"
say "10 MiB read; killing ${victims[*]}"
signal_nodes KILL "${victims[@]}"
wait "$reader" || fail "the read failed after ${victims[*]} were killed: $(tail -n 3 "$home/read.err")"
same "$ref/big" "$out/big" "read during kills"
say "read of 40 MiB completed, identical, with ${victims[*]} killed mid-read"
devnet_up
say "nodes restarted"

# ---- 2 -------------------------------------------------------------------------------------

step "2. kill -9 two nodes during writes"
mkdir -p "$home/src2"
for i in 1 2 3; do head -c 12M /dev/urandom >"$home/src2/w$i"; done
mapfile -t down2 < <(pick_nodes 2)
cp "$home/src2"/w* "$ref/"
(for i in 1 2 3; do cp "$home/src2/w$i" "$mnt/w$i"; sleep 0.2; done) 2>"$home/write.err" &
writer=$!
sleep 0.2
say "writes under way; killing ${down2[*]}"
signal_nodes KILL "${down2[@]}"
wait "$writer" || fail "the writer got an error after ${down2[*]} were killed: $(cat "$home/write.err")"
say "36 MiB written without error; waiting for sync with ${down2[*]} down"
sync_drive 240
empty_cache
[[ $(nodes_up_count) == 4 ]] || fail "expected 4 nodes up, devnet says $(nodes_up_count)"
check_all "with ${down2[*]} still down"
devnet_up
say "nodes restarted"

# ---- 3 -------------------------------------------------------------------------------------

# The two nodes that were down in 2 hold no shard of the files written then (unless repair
# moved some there, at most one per block), so every file keeps 4 good shards per block.
corrupt=${down2[0]}
wiped=${down2[1]}
step "3. corrupt every object of $corrupt, delete every object of $wiped"
# Keep their data to put back afterwards (for the following scenarios).
signal_nodes TERM "$corrupt" "$wiped"
for id in "$corrupt" "$wiped"; do cp -a "$dev/$id/data" "$home/backup-$id"; done
n_corrupt=0
while IFS= read -r f; do
  python3 - "$f" <<'EOF'
import os, sys
p = sys.argv[1]
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(size // 2)
    b = f.read(16)
    f.seek(size // 2)
    f.write(bytes(x ^ 0xFF for x in b))
EOF
  n_corrupt=$((n_corrupt + 1))
done < <(node_objects "$corrupt")
n_wiped=$(node_objects "$wiped" | wc -l)
node_objects "$wiped" | xargs -r rm -f
((n_corrupt > 0 && n_wiped > 0)) || fail "nothing to damage: $corrupt has $n_corrupt objects, $wiped $n_wiped"
say "flipped 16 bytes in the middle of $n_corrupt objects of $corrupt; deleted $n_wiped objects of $wiped"
devnet_up
unmount_drive
rm -rf "$cache/blocks"
mount_drive  # fresh health counters too
check_all "with $corrupt corrupt and $wiped wiped"
"$sfs" status "$mnt" | sed 's/^/network:   | /'
bad=$(node_status_field "$corrupt" 6) || fail "no status line for $corrupt"
say "shardfs status: $corrupt bad=$bad errors=$(node_status_field "$corrupt" 4); $wiped bad=$(node_status_field "$wiped" 6) errors=$(node_status_field "$wiped" 4)"
[[ $bad =~ ^[0-9]+$ ]] && ((bad > 0)) || fail "shardfs status reports no bad shards ('$bad') for $corrupt"
lost=$(node_status_field "$wiped" 6) || fail "no status line for $wiped"
[[ $lost =~ ^[0-9]+$ ]] && ((lost > 0)) || fail "shardfs status reports no missing shards ('$lost') for $wiped"
[[ $(node_status_field "$corrupt" 2) == damaged ]] || fail "shardfs status does not call $corrupt damaged"
# Put the nodes' data back (merged: anything repair wrote there since stays).
signal_nodes TERM "$corrupt" "$wiped"
for id in "$corrupt" "$wiped"; do cp -a "$home/backup-$id/." "$dev/$id/data/"; rm -rf "$home/backup-$id"; done
devnet_up
say "restored the data of $corrupt and $wiped"

# ---- 4 -------------------------------------------------------------------------------------

step "4. a slow node: SIGSTOP one node, time a read of 40 MiB"
empty_cache
t0=$(now_ms)
cat "$mnt/big" >"$out/big" || fail "the read with every node up failed"
normal=$(($(now_ms) - t0))
same "$ref/big" "$out/big" "read with every node up"
mapfile -t slow < <(pick_nodes 1)
signal_nodes STOP "${slow[0]}"
say "${slow[0]} stopped (SIGSTOP)"
empty_cache
t0=$(now_ms)
timeout 300 cat "$mnt/big" >"$out/big" || fail "the read with ${slow[0]} stopped failed"
slowed=$(($(now_ms) - t0))
signal_nodes CONT "${slow[0]}"
same "$ref/big" "$out/big" "read with ${slow[0]} stopped"
limit=$((3 * normal + 5000))
say "40 MiB read: ${normal} ms with every node up, ${slowed} ms with ${slow[0]} stopped (limit ${limit} ms)"
((slowed < limit)) || fail "the read with a stopped node took ${slowed} ms, more than 3 x ${normal} + 5000 ms"

# ---- 5 -------------------------------------------------------------------------------------

step "5. three nodes down (more than m=2): EIO, never wrong data"
mapfile -t down5 < <(pick_nodes 3)
unmount_drive
rm -rf "$cache/blocks"
mount_drive  # with every node up: a mount refuses to start with fewer than k nodes reachable
say "killing ${down5[*]}"
signal_nodes KILL "${down5[@]}"
t0=$(now_ms)
set +e
timeout 120 cat "$mnt/big" >"$out/big" 2>"$home/cat.err"
rc=$?
set -e
((rc != 0)) ||
  fail "cat succeeded with 3 nodes down$(cmp -s "$ref/big" "$out/big" && echo ' (data correct)' || echo ' and returned WRONG DATA')"
((rc != 124)) || fail "cat hung (> 120 s) with 3 nodes down"
grep -q 'Input/output error' "$home/cat.err" ||
  fail "cat failed, but not with EIO: $(cat "$home/cat.err")"
say "cat fails after $(($(now_ms) - t0)) ms: $(head -n 1 "$home/cat.err")"
# Whatever cat got before the error must be a prefix of the file.
cmp -s "$out/big" <(head -c "$(stat -c %s "$out/big")" "$ref/big") ||
  fail "cat returned WRONG DATA before failing"
# Block by block: each read either fails with EIO or returns the right bytes.
ok=0 eio=0
for blk in 0 1 7 19 38 39; do
  if timeout 60 dd if="$mnt/big" of="$out/blk" bs=1M skip=$blk count=1 status=none 2>"$home/dd.err"; then
    dd if="$ref/big" of="$out/refblk" bs=1M skip=$blk count=1 status=none
    cmp -s "$out/refblk" "$out/blk" || fail "block $blk read WRONG DATA with 3 nodes down"
    ok=$((ok + 1))
  else
    grep -q 'Input/output error' "$home/dd.err" || fail "block $blk: not EIO: $(cat "$home/dd.err")"
    eio=$((eio + 1))
  fi
done
say "6 single-block reads: $eio EIO, $ok correct, none wrong"
devnet_up
say "nodes restarted"
t0=$(now_ms)
tries=0
until cat "$mnt/big" >"$out/big" 2>"$home/cat.err"; do
  tries=$((tries + 1))
  (($(now_ms) - t0 < 60000)) || fail "the read still fails 60 s after the nodes came back: $(cat "$home/cat.err")"
  sleep 1
done
same "$ref/big" "$out/big" "read after the nodes came back"
say "read after restart succeeded and is identical ($tries failed attempts before, $(($(now_ms) - t0)) ms)"
((tries == 0)) || fail "the first read after the nodes came back failed ($tries retries, $(($(now_ms) - t0)) ms)"

# ---- 6 -------------------------------------------------------------------------------------

step "6. the daemon killed -9 right after an fsync, uploads pending"
head -c 24M /dev/urandom >"$ref/fsynced"
dd if="$ref/fsynced" of="$mnt/fsynced" bs=1M conv=fsync status=none || fail "dd ... conv=fsync failed"
pid=$(daemon_pid)
[[ -n $pid ]] || fail "no daemon pid in $cache/daemon.pid"
queued=$("$sfs" status "$mnt" | sed -n 's/^ *uploads *//p')
kill -9 "$pid"
for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
alive "$pid" && fail "the daemon (pid $pid) survived kill -9"
wait "$pid" 2>/dev/null || true
say "daemon $pid killed (uploads before the kill: $queued)"
fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || fail "cannot unmount the dead mount"
mount_drive
same "$ref/fsynced" "$mnt/fsynced" "after kill -9 and remount"
sync_drive
empty_cache
check_all "after kill -9, sync and an emptied cache"

# ---- 7 -------------------------------------------------------------------------------------

step "7. privacy: nothing in the clear on the nodes"
name=secret-diary-of-the-network-test
text=NETWORK-CANARY-the-vault-code-is-2718281828
mkdir "$mnt/$name-dir"
for i in $(seq 10); do
  head -c $((i * 50000)) < <(yes "$text $i") >"$mnt/$name-dir/$name-$i.txt"
done
printf '%s' "$text" >"$mnt/small-$name"
head -c 3M < <(yes "$text") >"$mnt/$name-big"
sync_drive
objects=0
for id in $(node_ids); do objects=$((objects + $(node_objects "$id" | wc -l))); done
((objects > 0)) || fail "no objects on the nodes"
for needle in "$name" "$text" "NETWORK-CANARY"; do
  if grep -r -a -l -F -- "$needle" "$dev"/node*/data; then
    fail "'$needle' found in the clear in the node files above"
  fi
done
[[ $(cat "$mnt/small-$name") == "$text" ]] || fail "the marker file did not read back"
say "$objects objects on 6 nodes checked: neither names nor contents in the clear"

step "all scenarios passed"
