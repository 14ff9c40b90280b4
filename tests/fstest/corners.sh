#!/usr/bin/env bash
# Corners real programs reach (issue 19), on drives of its own in a temporary directory, as root:
#   1. a full disk under the cache: a drive with the default 2G cache whose cache directory is on
#      a tmpfs with 64 MiB free. mount warns; cp of a 200 MB file and then of 10 MB succeed;
#      `shardfs status` shows the room the disk has; unmount succeeds; after a remount both
#      files are byte for byte what was written;
#   2. fallocate promises space: on a drive whose dir: store is a 48 MiB tmpfs, fallocate of
#      1P and of 100M fail with ENOSPC and leave the file empty (size 0, st_blocks 0); 16M works
#      and shows in st_blocks;
#   3. file handles across a remount: a handle taken before opens the same file after.
# Whatever happens, the trap unmounts, stops the daemons and removes the directory.
# Usage: corners.sh FSTEST_HANDLE (SHARDFS_BIN names the shardfs program).
set -euo pipefail
: "${SHARDFS_BIN:?set SHARDFS_BIN to the shardfs program}"
handle_tool=${1:?path to fstest_handle}
[[ $(id -u) == 0 ]] || { echo "corners: needs root (tmpfs mounts); skipped"; exit 0; }

home=$(mktemp -d /tmp/shardfs-corners-XXXXXX)
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "--- $*"; }
cleanup() {
  local status=$?
  set +e
  for m in "$home"/mnt*; do
    if findmnt -rn "$m" >/dev/null 2>&1; then
      timeout 120 "$SHARDFS_BIN" unmount "$m" >/dev/null 2>&1 || fusermount3 -u "$m" ||
        umount -l "$m"
    fi
  done
  for pidfile in "$home"/*/cache/daemon.pid "$home"/cache*/daemon.pid; do
    [[ -f $pidfile ]] && kill -9 "$(cat "$pidfile")" 2>/dev/null
  done
  for t in "$home"/tmpfs*; do findmnt -rn "$t" >/dev/null 2>&1 && umount -l "$t"; done
  rm -rf "$home"
  exit "$status"
}
trap cleanup EXIT INT TERM

head -c 24 /dev/urandom | base64 >"$home/password"
chmod 600 "$home/password"
export SHARDFS_CONFIG_DIR=$home/config SHARDFS_PASSWORD_FILE=$home/password
init() {  # init NAME --store ... [more init options]
  "$SHARDFS_BIN" init "$@" --kdf-memory 8M --kdf-passes 1 --mnemonic-out "$home/words-$1" \
    >/dev/null || die "init $1 failed"
}

# ---- 1. a full disk under the cache -------------------------------------------------------------
say "1. the cache's disk has 64 MiB free, the cache may use 2G"
mkdir -p "$home/tmpfs1" "$home/mnt1"
mount -t tmpfs -o size=96M tmpfs "$home/tmpfs1"
init full --store "dir:$home/store1" --cache-dir "$home/tmpfs1/cache"
avail=$(df -B1 --output=avail "$home/tmpfs1" | tail -n 1)
head -c $((avail - (64 << 20))) /dev/zero >"$home/tmpfs1/filler"
out=$("$SHARDFS_BIN" mount full "$home/mnt1" 2>&1) || die "mount failed: $out"
[[ $out == *"warning: the disk of the cache directory"*"has room for"* ]] ||
  fail "mount did not warn that the cache cannot have its size: '$out'"
head -c 200000000 /dev/urandom >"$home/big"
head -c 10000000 /dev/urandom >"$home/ten"
cp "$home/big" "$home/mnt1/big" || fail "cp of 200 MB failed"
cp "$home/ten" "$home/mnt1/ten" || fail "cp of 10 MB after it failed"
status=$("$SHARDFS_BIN" status "$home/mnt1")
[[ $status == *"its disk has room for"* ]] || fail "status does not show the disk's room: $status"
df_cache=$(df -B1 --output=avail "$home/tmpfs1" | tail -n 1)
((df_cache > 0)) || fail "the cache filled its disk to the last byte"
out=$(timeout 300 "$SHARDFS_BIN" unmount "$home/mnt1" 2>&1) || fail "unmount failed: $out"
"$SHARDFS_BIN" mount full "$home/mnt1" >/dev/null 2>&1 || die "remount failed"
cmp "$home/big" "$home/mnt1/big" || fail "the 200 MB file differs after a remount"
cmp "$home/ten" "$home/mnt1/ten" || fail "the 10 MB file differs after a remount"
"$SHARDFS_BIN" unmount "$home/mnt1" >/dev/null || fail "unmount failed"
say "1. ok"

# ---- 2. fallocate on a small store --------------------------------------------------------------
say "2. fallocate beyond the store's room is ENOSPC and allocates nothing"
mkdir -p "$home/tmpfs2" "$home/mnt2"
mount -t tmpfs -o size=48M tmpfs "$home/tmpfs2"
init small --store "dir:$home/tmpfs2/store" --cache-dir "$home/cache2" --cache-size 64M
"$SHARDFS_BIN" mount small "$home/mnt2" >/dev/null || die "mount failed"
f=$home/mnt2/prealloc
for size in 1P 100M; do
  if out=$(fallocate -l "$size" "$f" 2>&1); then
    fail "fallocate -l $size on a 48 MiB store worked"
  elif [[ $out != *"No space left on device"* ]]; then
    fail "fallocate -l $size said '$out', not ENOSPC"
  fi
  [[ $(stat -c %s:%b "$f") == 0:0 ]] || fail "fallocate -l $size left $(stat -c %s:%b "$f")"
done
fallocate -l 16M "$f" || fail "fallocate -l 16M on a 48 MiB store failed"
(($(stat -c %b "$f") * 512 >= 16 << 20)) || fail "16M allocated shows $(stat -c %b "$f") blocks"
say "2. ok"

# ---- 3. file handles across a remount -----------------------------------------------------------
say "3. a file handle taken before a remount opens the file after it"
echo "kept by handle" >"$home/mnt2/handled"
"$handle_tool" save "$home/mnt2/handled" "$home/handle" || fail "name_to_handle_at failed"
"$SHARDFS_BIN" unmount "$home/mnt2" >/dev/null || fail "unmount failed"
"$SHARDFS_BIN" mount small "$home/mnt2" >/dev/null || die "remount failed"
[[ $("$handle_tool" cat "$home/mnt2" "$home/handle") == "kept by handle" ]] ||
  fail "the handle did not open the file after a remount"
rm "$home/mnt2/handled"
out=$("$handle_tool" cat "$home/mnt2" "$home/handle" 2>&1) && fail "a deleted file's handle opened"
[[ $out == *ESTALE* ]] || fail "a deleted file's handle said '$out', not ESTALE"
"$SHARDFS_BIN" unmount "$home/mnt2" >/dev/null || fail "unmount failed"
say "3. ok"

((failures == 0)) || { echo "FAIL: $failures checks failed" >&2; exit 1; }
echo "corners: all checks passed"
