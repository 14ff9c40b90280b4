#!/usr/bin/env bash
# Privacy on a real mount (run through with_mount.sh): after files of known contents and names
# are written and uploaded, no object in the store and no file in the local cache, metadata or
# config contains those contents or names in the clear.
set -euo pipefail
mnt=${SHARDFS_FSTEST_DIR:?run me through with_mount.sh}
home=$SHARDFS_FSTEST_HOME
fail() { echo "privacy: FAIL: $*" >&2; exit 1; }

name=very-private-tax-return-2026
text=PLAINTEXT-CANARY-the-combination-is-31-41-59
mkdir "$mnt/$name-dir"
for i in $(seq 30); do
  head -c $((i * 9000)) < <(yes "$text $i") >"$mnt/$name-dir/$name-$i.txt"
done
printf '%s' "$text" >"$mnt/small-$name"
ln -s "$name-target" "$mnt/link-$name"
setfattr -n user.$name -v "$text" "$mnt/small-$name" 2>/dev/null ||
  python3 -c "import os,sys; os.setxattr(sys.argv[1], 'user.'+sys.argv[2], sys.argv[3].encode())" \
    "$mnt/small-$name" "$name" "$text"
eval "$SHARDFS_UNMOUNT"  # waits for the uploads
for needle in "$name" "$text" "PLAINTEXT-CANARY"; do
  if grep -r -a -l -F -- "$needle" "$home/store" "$home/cache" "$home/config"; then
    fail "'$needle' found in the clear in the files above"
  fi
done
objects=$(find "$home/store" -type f | wc -l)
((objects > 0)) || fail "nothing reached the store"
eval "$SHARDFS_MOUNT"
[[ $(cat "$mnt/small-$name") == "$text" ]] || fail "the data did not come back"
echo "privacy: $objects objects checked, nothing in the clear"
