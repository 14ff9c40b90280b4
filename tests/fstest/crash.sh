#!/usr/bin/env bash
# Crash safety on a real mount (run through with_mount.sh): kill -9 the daemon after files were
# fsynced, remount: every fsynced file is intact. Then kill it at random moments during writes:
# the drive always mounts again and every file and directory stays readable.
set -euo pipefail
mnt=${SHARDFS_FSTEST_DIR:?run me through with_mount.sh}
home=$SHARDFS_FSTEST_HOME
fail() { echo "crash: FAIL: $*" >&2; exit 1; }
step() { echo "crash: $*"; }

kill_daemon() {
  local pid
  pid=$(cat "$home/cache/daemon.pid")
  kill -9 "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
}

step "fsynced files survive kill -9"
mkdir "$mnt/durable"
for i in $(seq 20); do
  head -c $((i * 37000)) /dev/urandom >"$mnt/durable/f$i"
  sync "$mnt/durable/f$i"
done
sync "$mnt/durable"
(cd "$mnt/durable" && sha256sum f*) >"$home/sums"
# Attributes live in memory until the inode's record is written: an fsync of any file writes
# them all, so f2's change is as durable as f1's.
chmod 0751 "$mnt/durable/f1"
chown 1234:5678 "$mnt/durable/f1"
touch -d '2001-02-03 04:05:06.123456789' "$mnt/durable/f1"
chmod 0604 "$mnt/durable/f2"
touch -d '2002-03-04 05:06:07.5' "$mnt/durable/f2"
sync "$mnt/durable/f1"
stat -c '%n %a %u %g %y' "$mnt/durable/f1" "$mnt/durable/f2" >"$home/attrs"
kill_daemon
eval "$SHARDFS_MOUNT"
(cd "$mnt/durable" && sha256sum -c --quiet "$home/sums") || fail "fsynced data lost"
stat -c '%n %a %u %g %y' "$mnt/durable/f1" "$mnt/durable/f2" | diff "$home/attrs" - ||
  fail "attributes set before an fsync were lost"

step "inode numbers handed out before a kill -9 are never handed out again"
# They are reserved many at a time: the daemon dies in the middle of a reservation.
for i in $(seq 5); do echo "before $i" >"$mnt/durable/n$i"; done
sync "$mnt/durable"/n* "$mnt/durable"
kill_daemon
eval "$SHARDFS_MOUNT"
for i in $(seq 5); do echo "after $i" >"$mnt/durable/m$i"; done
dups=$(stat -c %i "$mnt/durable"/* | sort | uniq -d)
[[ -z $dups ]] || fail "inode numbers used twice after kill -9: $dups"
for i in $(seq 5); do
  [[ $(cat "$mnt/durable/n$i") == "before $i" && $(cat "$mnt/durable/m$i") == "after $i" ]] ||
    fail "file n$i or m$i has the wrong contents after kill -9"
done

step "kills at random moments"
seed=${SHARDFS_SEED:-$RANDOM}
echo "crash: seed $seed (SHARDFS_SEED=$seed replays the timings)"
RANDOM=$seed
for round in $(seq 5); do
  (
    i=0
    while :; do
      i=$((i + 1))
      mkdir -p "$mnt/busy/r$round/d$((i % 7))" 2>/dev/null || exit 0
      head -c $((RANDOM * 8)) /dev/urandom >"$mnt/busy/r$round/d$((i % 7))/f$i" 2>/dev/null || exit 0
      mv "$mnt/busy/r$round/d$((i % 7))/f$i" "$mnt/busy/r$round/g$i" 2>/dev/null || exit 0
    done
  ) &
  writer=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill_daemon
  wait "$writer" 2>/dev/null || true
  eval "$SHARDFS_MOUNT" || fail "round $round: the drive does not mount after kill -9"
  find "$mnt" -type f -print0 | xargs -0 -r cat >/dev/null || fail "round $round: unreadable files"
  (cd "$mnt/durable" && sha256sum -c --quiet "$home/sums") || fail "round $round: fsynced data lost"
done
step "all passed"
