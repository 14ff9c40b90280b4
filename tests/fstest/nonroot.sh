#!/usr/bin/env bash
# A drive created, mounted, used and unmounted by an unprivileged user (uid 65534, through the
# setuid fusermount3), as a user of a desktop would. Debian ships /dev/fuse mode 0666; where it
# is tighter (as on some build machines) it is opened up for the test and restored afterwards.
# Run as root by ctest: usage: nonroot.sh (SHARDFS_BIN names the shardfs program).
set -euo pipefail
: "${SHARDFS_BIN:?set SHARDFS_BIN to the shardfs program}"
[[ $(id -u) == 0 ]] || { echo "nonroot: needs root to switch users; skipped"; exit 0; }
[[ -c /dev/fuse ]] || { echo "nonroot: no /dev/fuse; skipped"; exit 0; }
command -v setpriv >/dev/null || { echo "nonroot: setpriv missing (util-linux)" >&2; exit 1; }

user=65534
work=$(mktemp -d /var/tmp/shardfs-nonroot-XXXXXX)
fuse_mode=$(stat -c %a /dev/fuse)
cleanup() {
  findmnt -rn "$work/mnt" >/dev/null 2>&1 && fusermount3 -u "$work/mnt" 2>/dev/null || true
  chmod "$fuse_mode" /dev/fuse
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0666 /dev/fuse
chmod 0755 "$work"
chown "$user:$user" "$work"
# The shardfs program must be reachable by that user: copy it into the work directory.
cp "$SHARDFS_BIN" "$work/shardfs"
chmod 0755 "$work/shardfs"

cat >"$work/as-user.sh" <<'USER'
set -euo pipefail
cd "$1"
export HOME=$PWD SHARDFS_CONFIG_DIR=$PWD/config SHARDFS_PASSWORD_FILE=$PWD/pw
umask 077
echo "a password for nobody" >pw
./shardfs init mine --store "dir:$PWD/store" --cache-dir "$PWD/cache" --cache-size 64M \
  --mnemonic-out "$PWD/words" --kdf-memory 8M --kdf-passes 1 >/dev/null
mkdir -p mnt
./shardfs mount mine "$PWD/mnt"
head -c 3000000 /dev/urandom >data
cp data mnt/data
mkdir mnt/dir
ln -s data mnt/link
cmp data mnt/data
[[ $(stat -c %u mnt/data) == "$(id -u)" ]] || { echo "file not owned by the user" >&2; exit 1; }
# The kernel checks permissions: another user's file is not ours to chmod.
if chmod 600 / 2>/dev/null; then echo "chmod of / worked as nobody" >&2; exit 1; fi
./shardfs status "$PWD/mnt" >status.txt
grep -q "uploads" status.txt
./shardfs unmount "$PWD/mnt"
./shardfs mount mine "$PWD/mnt"
cmp data mnt/data
[[ $(readlink mnt/link) == data ]]
./shardfs unmount "$PWD/mnt"
echo "user ok"
USER

out=$(setpriv --reuid "$user" --regid "$user" --clear-groups bash "$work/as-user.sh" "$work" 2>&1) || {
  echo "$out" >&2
  echo "nonroot: the unprivileged user could not use a drive (above)" >&2
  exit 1
}
echo "$out"
[[ $out == *"user ok"* ]] || { echo "nonroot: the user script did not finish" >&2; exit 1; }
if findmnt -rn "$work/mnt" >/dev/null; then
  echo "nonroot: the mount is still there after unmount" >&2
  exit 1
fi
echo "nonroot: ok"
