#!/usr/bin/env bash
# The randomized data-integrity exerciser on a real mount (run through with_mount.sh with a
# cache smaller than the data, so blocks are evicted and read back from the store), then a
# remount and a byte-for-byte check of what was kept; then the round under concurrent buffered
# readers (O_DIRECT writes, punched holes, copy_file_range: fstest_concurrent, 20 s).
# Usage: integrity.sh FSTEST_INTEGRITY FSTEST_CONCURRENT [SEED]
set -euo pipefail
mnt=${SHARDFS_FSTEST_DIR:?run me through with_mount.sh}
exe=${1:?path to fstest_integrity}
concurrent=${2:?path to fstest_concurrent}
seed_args=()
[[ -n ${3:-${SHARDFS_SEED:-}} ]] && seed_args=(--seed "${3:-$SHARDFS_SEED}")
shadow=$(mktemp -d /tmp/shardfs-shadow-XXXXXX)
trap 'rm -rf "$shadow"' EXIT
mkdir "$mnt/integrity"
"$exe" --dir "$mnt/integrity" --shadow "$shadow" "${seed_args[@]}" --ops 4000 --files 4 \
  --max-size $((6 << 20)) --block-size 65536 --keep
eval "$SHARDFS_REMOUNT"
"$exe" --dir "$mnt/integrity" --shadow "$shadow" --verify-only
echo "integrity: verified after remount"
"$concurrent" --dir "$mnt/integrity" --seconds 20 --readers 2 "${seed_args[@]}"
