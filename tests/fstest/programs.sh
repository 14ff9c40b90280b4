#!/usr/bin/env bash
# Real programs on a real mount (run through with_mount.sh): rsync -a of a large tree, diff -r,
# remount, diff -r again (every file identical, none empty), a second rsync that transfers
# nothing; tar x and c; git init/add/commit/log/gc/fsck; sqlite3 with PRAGMA integrity_check
# across a remount.
set -euo pipefail
mnt=${SHARDFS_FSTEST_DIR:?run me through with_mount.sh}
work=$(mktemp -d /tmp/shardfs-programs-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "programs: FAIL: $*" >&2; exit 1; }
step() { echo "programs: $*"; }

# /usr/include without boost: ~8,000 files, ~135 MB, symlinks, deep directories.
src=/usr/include
excl=(--exclude=boost)
step "rsync -a $src -> mount"
rsync -a "${excl[@]}" "$src/" "$mnt/include/"
diff -r --no-dereference -x boost "$src" "$mnt/include" >/dev/null || fail "diff -r after rsync"
files=$(find "$mnt/include" -type f | wc -l)
((files > 1000)) || fail "only $files files arrived"

step "remount, diff -r again"
eval "$SHARDFS_REMOUNT"
diff -r --no-dereference -x boost "$src" "$mnt/include" >/dev/null || fail "diff -r after remount"
empty_src=$(find "$src" -path "$src/boost" -prune -o -type f -empty -print | wc -l)
empty_mnt=$(find "$mnt/include" -type f -empty | wc -l)
[[ $empty_src == "$empty_mnt" ]] || fail "$empty_mnt empty files on the mount, $empty_src in the source"

step "second rsync transfers nothing"
changes=$(rsync -a --itemize-changes "${excl[@]}" "$src/" "$mnt/include/")
[[ -z $changes ]] || fail "second rsync changed: $(head -5 <<<"$changes")"

step "tar c and x"
tar -C "$mnt" -cf "$work/from-mount.tar" include
mkdir "$mnt/untar"
tar -C "$mnt/untar" -xf "$work/from-mount.tar"
diff -r --no-dereference "$mnt/include" "$mnt/untar/include" >/dev/null || fail "tar x on the mount differs"
tar -C "$mnt/untar" -cf "$mnt/again.tar" include
cmp <(tar -tvf "$work/from-mount.tar") <(tar -tvf "$mnt/again.tar") || fail "tar listings differ"

step "git"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@example.org HOME=$work
git init -q "$mnt/repo"
cp -r "$src/linux" "$mnt/repo/"
git -C "$mnt/repo" add -A
git -C "$mnt/repo" commit -q -m first
echo change >>"$mnt/repo/linux/types.h"
git -C "$mnt/repo" commit -q -am second
[[ $(git -C "$mnt/repo" log --oneline | wc -l) == 2 ]] || fail "git log"
git -C "$mnt/repo" gc -q
git -C "$mnt/repo" fsck --full --strict 2>&1 | grep -v '^Checking' && fail "git fsck" || true
git -C "$mnt/repo" status --porcelain | grep . && fail "git status not clean" || true

step "sqlite3"
db=$mnt/test.sqlite
sqlite3 "$db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000)
  INSERT INTO t SELECT x, hex(randomblob(64)) FROM c;
  CREATE INDEX tv ON t(v); DELETE FROM t WHERE id % 3 = 0; VACUUM;"
[[ $(sqlite3 "$db" "PRAGMA integrity_check") == ok ]] || fail "sqlite integrity_check"
eval "$SHARDFS_REMOUNT"
[[ $(sqlite3 "$db" "PRAGMA integrity_check") == ok ]] || fail "sqlite integrity_check after remount"
[[ $(sqlite3 "$db" "SELECT count(*) FROM t") == 13334 ]] || fail "sqlite row count"
step "all passed"
