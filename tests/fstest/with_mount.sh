#!/usr/bin/env bash
# Usage: with_mount.sh [--block-size S] [--cache-size S] [--keep-dir] -- COMMAND [ARGS...]
#
# Creates a fresh drive in a temporary directory (its own config, store and cache), mounts it
# with the real `shardfs mount` daemon, runs COMMAND with these variables set, then unmounts
# and removes everything — on success, failure or interruption alike:
#   SHARDFS_FSTEST_DIR   the mount point
#   SHARDFS_FSTEST_HOME  the temporary directory (config/, store/, cache/, password)
#   SHARDFS_BIN          the shardfs program
#   SHARDFS_REMOUNT      a command that unmounts and mounts the drive again
#   SHARDFS_UNMOUNT / SHARDFS_MOUNT   the two halves of it
# Exits with COMMAND's status (or 1 when the mount itself fails).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SHARDFS_BIN:=$here/../../build/cli/shardfs}"
block_size=64K
cache_size=64M
while (($#)); do
  case $1 in
    --block-size) block_size=$2; shift 2 ;;
    --cache-size) cache_size=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "with_mount.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
(($#)) || { echo "usage: with_mount.sh [options] -- COMMAND [ARGS...]" >&2; exit 2; }

home=$(mktemp -d /tmp/shardfs-fstest-XXXXXX)
chmod 755 "$home"  # the unprivileged-user tests must be able to reach the mount
mnt=$home/mnt
mkdir -p "$mnt"
chmod 755 "$mnt"
head -c 24 /dev/urandom | base64 > "$home/password"
chmod 600 "$home/password"
export SHARDFS_CONFIG_DIR=$home/config
export SHARDFS_PASSWORD_FILE=$home/password

mount_drive() {
  "$SHARDFS_BIN" mount fstest "$mnt" -o allow_other
}
unmount_drive() {
  if findmnt -rn "$mnt" >/dev/null 2>&1; then
    "$SHARDFS_BIN" unmount "$mnt" || fusermount3 -u "$mnt" || umount -l "$mnt" || true
  fi
}
cleanup() {
  local status=$?
  unmount_drive
  # A daemon that outlived its mount (it should not) is stopped by its pid file.
  if [[ -f $home/cache/daemon.pid ]]; then
    kill -9 "$(cat "$home/cache/daemon.pid")" 2>/dev/null || true
  fi
  rm -rf "$home"
  exit "$status"
}
trap cleanup EXIT INT TERM

"$SHARDFS_BIN" init fstest --store "dir:$home/store" --cache-dir "$home/cache" \
  --cache-size "$cache_size" --block-size "$block_size" --kdf-memory 8M --kdf-passes 1 \
  --mnemonic-out "$home/mnemonic" >/dev/null
mount_drive

export SHARDFS_FSTEST_DIR=$mnt SHARDFS_FSTEST_HOME=$home SHARDFS_BIN
export SHARDFS_MOUNT="$SHARDFS_BIN mount fstest $mnt -o allow_other"
export SHARDFS_UNMOUNT="$SHARDFS_BIN unmount $mnt"
export SHARDFS_REMOUNT="$SHARDFS_UNMOUNT && $SHARDFS_MOUNT"
set +e
"$@"
status=$?
set -e
exit "$status"
