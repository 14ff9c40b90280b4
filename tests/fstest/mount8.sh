#!/usr/bin/env bash
# mount(8), umount(8) and /etc/fstab with shardfs (issue 5), on a drive in a temporary directory:
#   1. `mount -t fuse.shardfs` (mount.fuse3 runs `shardfs DRIVE DIR -o OPTS`) with the fstab-only
#      options it must ignore, uid=/gid=/umask=, cache_dir=; findmnt and df show the drive; then
#      `umount` (through umount.fuse.shardfs) returns only once the daemon stored the data and exited;
#   2. `mount -a -T FSTAB` mounts the auto line and not the noauto one, twice (the second a no-op);
#   3. type `shardfs` through mount.shardfs, which strips what mount(8) leaves in the options;
#   4. the units systemd-fstab-generator makes for an x-systemd.automount line (offline);
#   2b. `mount -o remount,ro` refuses every change with EROFS while reads go on (EBUSY while a
#      file is open for writing), `shardfs status` says so, and `remount,rw` writes again;
#   5. a missing password file, a missing keyfile, a wrong password, no password without a
#      terminal, and nodes that do not answer each fail within seconds with one clear line;
#      a systemd credential unlocks the drive, and one unreachable node of three (k=2) does not
#      keep it from mounting.
# mount(8) clears PATH, so mount.fuse3 finds `shardfs` only in the default PATH, and mount(8)
# finds helpers only in /sbin. The script therefore re-runs itself in a private mount namespace
# where read-only overlays put the build's shardfs first in /usr/local/sbin and the helpers of
# mount-helpers/ into /usr/sbin (= /sbin): the machine's own directories and /etc/fstab are not
# touched. Whatever happens, the trap unmounts, stops the daemons and removes the directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SHARDFS_BIN:=$here/../../build/cli/shardfs}"
SHARDFS_BIN=$(readlink -f "$SHARDFS_BIN")
helpers=$(cd "$here/../../mount-helpers" && pwd)
if [[ -z ${SHARDFS_MOUNT8_NAMESPACE:-} ]]; then
  exec env SHARDFS_MOUNT8_NAMESPACE=1 SHARDFS_BIN="$SHARDFS_BIN" \
    unshare --mount --propagation private "${BASH_SOURCE[0]}" "$@"
fi
# Only what the mount options say may find the drive and its password.
unset SHARDFS_CONFIG_DIR SHARDFS_PASSWORD_FILE SHARDFS_PASSWORD CREDENTIALS_DIRECTORY

home=$(mktemp -d /tmp/shardfs-mount8-XXXXXX)
mnt=$home/mnt
mnt2=$home/mnt2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "--- $*"; }

cleanup() {
  local status=$?
  set +e
  for m in "$mnt" "$mnt2"; do
    if findmnt -rn "$m" >/dev/null 2>&1; then
      timeout 60 "$SHARDFS_BIN" unmount "$m" >/dev/null 2>&1 || umount -l "$m" 2>/dev/null || true
    fi
  done
  for pidfile in "$home"/cache*/daemon.pid; do
    [[ -f $pidfile ]] && kill -9 "$(cat "$pidfile")" 2>/dev/null
  done
  if [[ -n ${listener:-} ]]; then
    kill "$listener" 2>/dev/null
    wait "$listener" 2>/dev/null
  fi
  [[ -n ${etc_overlay:-} ]] && umount -l /etc
  # Lazily: this shell's own redirections may still hold it; only this namespace sees it.
  [[ -n ${dev_tmpfs:-} ]] && umount -l /dev
  for m in /usr/sbin /usr/local/sbin; do
    findmnt -rn -t overlay "$m" >/dev/null 2>&1 && umount "$m"
  done
  rm -rf "$home"
  exit "$status"
}
trap cleanup EXIT INT TERM

# ---- where mount(8) looks: overlays visible only in this namespace ----------------------------
mkdir -p "$mnt" "$mnt2" "$home/sbin" "$home/local-sbin" /usr/local/sbin
ln -s "$helpers/mount.shardfs" "$home/sbin/mount.shardfs"
ln -s "$helpers/umount.fuse.shardfs" "$home/sbin/umount.fuse.shardfs"
ln -s "$SHARDFS_BIN" "$home/local-sbin/shardfs"
mount -t overlay overlay -o "lowerdir=$home/sbin:/usr/sbin" /usr/sbin
mount -t overlay overlay -o "lowerdir=$home/local-sbin:/usr/local/sbin" /usr/local/sbin
found=$(env -i /bin/sh -c 'command -v shardfs')
[[ $(readlink -f "$found") == "$SHARDFS_BIN" ]] ||
  die "the default PATH finds $found, not the build's $SHARDFS_BIN"

# ---- a drive on a dir: store, found only through the options -----------------------------------
head -c 24 /dev/urandom | base64 >"$home/password"
chmod 600 "$home/password"
"$SHARDFS_BIN" init photos --config-dir "$home/config" --password-file "$home/password" \
  --store "dir:$home/store" --cache-dir "$home/cache" --cache-size 64M --block-size 64K \
  --kdf-memory 8M --kdf-passes 1 --mnemonic-out "$home/mnemonic" >/dev/null
opts="password_file=$home/password,config_dir=$home/config,cache_dir=$home/cache-opt,cache_size=32M"

daemon_pid() { cat "$home/cache-opt/daemon.pid" 2>/dev/null; }
check_mounted() {  # check_mounted DIR WHAT: mounted, shown as drive photos of type fuse.shardfs
  local shown
  shown=$(findmnt -rn -o SOURCE,FSTYPE "$1" || true)
  [[ $shown == "photos fuse.shardfs" ]] || fail "$2: findmnt shows '$shown' at $1"
}
count_objects() { find "$home/store" -type f | wc -l; }

# ---- 1. mount -t fuse.shardfs, umount waits for the uploads ------------------------------------
say "1. mount -t fuse.shardfs / umount"
mount -t fuse.shardfs photos "$mnt" \
  -o "_netdev,nofail,x-systemd.device-timeout=10s,noatime,uid=4242,gid=4343,umask=027,$opts" \
  </dev/null || die "mount -t fuse.shardfs failed"
check_mounted "$mnt" "mount -t fuse.shardfs"
[[ $(df --output=source "$mnt" | tail -n 1) == photos ]] || fail "df does not show the drive"
[[ -f $home/cache-opt/daemon.pid && ! -e $home/cache/daemon.pid ]] ||
  fail "cache_dir= was not used"
head -c 3M /dev/urandom >"$home/data"
cp "$home/data" "$mnt/data"
[[ $(stat -c %u:%g:%a "$mnt/data") == 4242:4343:640 ]] ||
  fail "uid=/gid=/umask=: data shows as $(stat -c %u:%g:%a "$mnt/data"), not 4242:4343:640"
[[ $(stat -c %a "$mnt") == 750 ]] || fail "umask=027: the root shows as $(stat -c %a "$mnt")"
pid=$(daemon_pid)
say "before umount: $(count_objects) objects in the store"
out=$(umount -v "$mnt" 2>&1) || die "umount failed: $out"
# umount -v passes -v to the helper, whose `shardfs unmount` says it unmounted.
[[ $out == *"unmounted $mnt"* ]] || fail "umount did not run umount.fuse.shardfs: '$out'"
# The daemon released the drive (its lock) before umount returned, and exits right after: its
# listener closing is the last thing it does, so it may still be finishing exit() for a moment
# (a zombie waits only for init to reap it).
flock -n "$home/cache-opt/lock" true || fail "the drive's cache is still locked after umount"
for _ in $(seq 50); do
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
  [[ $state == gone || $state == Z ]] && break
  sleep 0.1
done
[[ $state == gone || $state == Z ]] || fail "the daemon (pid $pid) is still $state 5 s after umount"
objects=$(count_objects)
((objects >= 48)) || fail "after umount only $objects objects are in the store (3 MiB: 48 blocks)"
say "after umount: $objects objects in the store, daemon $pid gone"
findmnt -rn "$mnt" >/dev/null && fail "$mnt is still mounted"

# ---- 1b. a system drive (init --system) is found without config_dir= --------------------------
say "1b. a drive in /etc/shardfs, found by mount(8) without config_dir="
# /etc/shardfs appears only in this namespace: /etc overlaid read-only with a directory holding it.
mkdir -p "$home/etc-extra"
"$SHARDFS_BIN" init sysdrive --config-dir "$home/etc-extra/shardfs" \
  --password-file "$home/password" --store "dir:$home/store-sys" --cache-dir "$home/cache-sys" \
  --cache-size 64M --block-size 64K --kdf-memory 8M --kdf-passes 1 \
  --mnemonic-out "$home/mnemonic-sys" >/dev/null || die "init of the system drive failed"
mount -t overlay overlay -o "lowerdir=$home/etc-extra:/etc" /etc
etc_overlay=1
mount -t fuse.shardfs sysdrive "$mnt" -o "_netdev,password_file=$home/password" </dev/null ||
  fail "mount(8) did not find the drive in /etc/shardfs"
if ! { [[ $(findmnt -rn -o SOURCE "$mnt") == sysdrive ]] && echo sys >"$mnt/f" && umount "$mnt"; }; then
  fail "the system drive did not work"
fi
umount /etc
etc_overlay=

# ---- 2. mount -a with a test fstab ----------------------------------------------------------------
say "2. mount -a -T FSTAB"
cat >"$home/fstab" <<FSTAB
# test fstab
photos $mnt fuse.shardfs _netdev,nofail,x-systemd.automount,defaults,$opts 0 0
photos $mnt2 fuse.shardfs noauto,nofail,$opts 0 0
FSTAB
mount -a -T "$home/fstab" </dev/null || die "mount -a failed"
check_mounted "$mnt" "mount -a"
findmnt -rn "$mnt2" >/dev/null && fail "mount -a mounted the noauto line"
cmp -s "$home/data" "$mnt/data" || fail "the file differs after a remount"
mount -a -T "$home/fstab" </dev/null || fail "a second mount -a (already mounted) failed"
[[ $(findmnt -rn "$mnt" | wc -l) == 1 ]] || fail "a second mount -a mounted the drive twice"
umount "$mnt" || die "umount after mount -a failed"
mount -T "$home/fstab" "$mnt" </dev/null || die "mount -T FSTAB DIR failed"
check_mounted "$mnt" "mount DIR from the fstab"
umount "$mnt" || die "umount failed"

# ---- 2b. mount -o remount,ro and back to rw --------------------------------------------------------
say "2b. mount -o remount,ro / remount,rw"
mount -T "$home/fstab" "$mnt" </dev/null || die "mount -T FSTAB DIR failed"
options_before=$(findmnt -rn -o OPTIONS "$mnt" | tr , '\n' | sort)
echo before >"$mnt/before"
# A file open for writing keeps the drive writable, as on any Linux file system (EBUSY).
exec {held}>"$mnt/held"
out=$(mount -T "$home/fstab" -o remount,ro "$mnt" </dev/null 2>&1) &&
  fail "remount,ro worked while a file was open for writing"
[[ $out == *busy* ]] || fail "remount,ro with a file open for writing said: '$out'"
exec {held}>&-
# mount(8) adds the fstab line's options (password_file=, cache_size=, ...) and the mount's own
# (relatime, user_id=0, ...): a remount takes them all.
out=$(mount -T "$home/fstab" -o remount,ro "$mnt" </dev/null 2>&1) || fail "remount,ro failed: $out"
[[ $(findmnt -rn -o OPTIONS "$mnt") == ro,* ]] ||
  fail "after remount,ro the mount shows $(findmnt -rn -o OPTIONS "$mnt")"
for change in 'echo x >"$mnt/new"' 'echo x >>"$mnt/before"' 'rm "$mnt/before"' \
  'mkdir "$mnt/d"' 'touch "$mnt/before"' 'chmod 600 "$mnt/before"' 'truncate -s 0 "$mnt/data"' \
  'mv "$mnt/before" "$mnt/after"' 'ln -s x "$mnt/link"' 'setfattr -n user.x -v 1 "$mnt/data"'; do
  if out=$(eval "$change" 2>&1); then
    fail "a read-only drive took: $change"
  elif [[ $out != *"Read-only file system"* ]]; then
    fail "$change on a read-only drive said '$out', not EROFS"
  fi
done
cmp -s "$home/data" "$mnt/data" || fail "reads stopped on the read-only drive"
[[ $(cat "$mnt/before") == before ]] || fail "a file written just before remount,ro is not whole"
"$SHARDFS_BIN" status "$mnt" | head -n 1 | grep -q "(read-only)" ||
  fail "shardfs status does not say the drive is read-only"
out=$(mount -o remount,rw,noexec "$mnt" </dev/null 2>&1) || fail "remount,rw failed: $out"
options=$(findmnt -rn -o OPTIONS "$mnt" | tr , '\n' | sort)
[[ $options == "$(printf '%s\nnoexec\n' "$options_before" | sort)" ]] ||
  fail "remount,rw,noexec changed the mount's options from $(echo $options_before) to $(echo $options)"
{ echo after >"$mnt/new" && [[ $(cat "$mnt/new") == after ]]; } || fail "no write after remount,rw"
"$SHARDFS_BIN" status "$mnt" | head -n 1 | grep -q "(read-only)" &&
  fail "shardfs status still says read-only after remount,rw"
out=$("$SHARDFS_BIN" mount photos "$home" -o remount,ro 2>&1) &&
  fail "a remount of a directory that is not mounted worked"
[[ $out == *"nothing is mounted at"* ]] || fail "remount of an unmounted directory said: '$out'"
umount "$mnt" || die "umount after the remounts failed"

# ---- 3. type shardfs through mount.shardfs --------------------------------------------------------
say "3. mount -t shardfs (mount.shardfs)"
mount -t shardfs photos "$mnt" -o "_netdev,nofail,noauto,user,x-systemd.automount,$opts" \
  </dev/null || die "mount -t shardfs failed"
check_mounted "$mnt" "mount -t shardfs"
cmp -s "$home/data" "$mnt/data" || fail "the file differs through mount.shardfs"
# `user` made mount(8) add noexec,nosuid,nodev; they reached the kernel.
[[ $(findmnt -rn -o OPTIONS "$mnt") == *nosuid*nodev*noexec* ]] ||
  fail "user's nosuid,nodev,noexec are missing: $(findmnt -rn -o OPTIONS "$mnt")"
umount "$mnt" || die "umount of the type shardfs mount failed"
echo "photos $mnt shardfs _netdev,nofail,$opts 0 0" >"$home/fstab-shardfs"
mount -a -T "$home/fstab-shardfs" </dev/null || die "mount -a of a type shardfs line failed"
check_mounted "$mnt" "mount -a of a type shardfs line"
umount "$mnt" || die "umount failed"

# ---- 4. the units systemd would make for an automount line (offline) --------------------------
say "4. systemd-fstab-generator"
generator=/lib/systemd/system-generators/systemd-fstab-generator
if [[ -x $generator ]]; then
  line="photos /mnt/photos fuse.shardfs _netdev,nofail,x-systemd.automount,"
  line+="x-systemd.idle-timeout=10min,password_file=/etc/shardfs/photos.pass,"
  line+="config_dir=/etc/shardfs 0 0"
  echo "$line" >"$home/fstab-systemd"
  mkdir "$home/units"
  SYSTEMD_FSTAB=$home/fstab-systemd SYSTEMD_LOG_LEVEL=warning \
    "$generator" "$home/units" "$home/units" "$home/units" || fail "the generator failed"
  unit=$home/units/mnt-photos.mount
  auto=$home/units/mnt-photos.automount
  for want in "What=photos" "Where=/mnt/photos" "Type=fuse.shardfs" \
    "Options=_netdev,nofail,x-systemd.automount,x-systemd.idle-timeout=10min,password_file=/etc/shardfs/photos.pass,config_dir=/etc/shardfs"; do
    grep -qxF "$want" "$unit" 2>/dev/null || fail "$unit lacks $want"
  done
  grep -qxF "Where=/mnt/photos" "$auto" 2>/dev/null || fail "no automount unit for /mnt/photos"
  grep -qxF "TimeoutIdleSec=10min" "$auto" 2>/dev/null || fail "the automount lacks the idle timeout"
  # _netdev makes it a remote mount: remote-fs.target pulls in the automount (wanted, not
  # required, with nofail), and systemd gives a remote mount unit After= and
  # Wants=network-online.target when it loads it (systemd.mount(5)), not in the file.
  [[ -L $home/units/remote-fs.target.wants/mnt-photos.automount ]] ||
    fail "remote-fs.target does not want the automount: $(cd "$home/units" && find . | tr '\n' ' ')"
  # Without _netdev systemd does not know fuse.shardfs needs the network: a local mount.
  echo "photos /mnt/photos fuse.shardfs nofail,x-systemd.automount 0 0" >"$home/fstab-local"
  mkdir "$home/units-local"
  SYSTEMD_FSTAB=$home/fstab-local SYSTEMD_LOG_LEVEL=warning \
    "$generator" "$home/units-local" "$home/units-local" "$home/units-local" ||
    fail "the generator failed"
  [[ -L $home/units-local/local-fs.target.wants/mnt-photos.automount ]] ||
    fail "without _netdev the automount is not a local one"
else
  fail "$generator is missing (systemd package)"
fi

# ---- 5. failures: fast, one clear line --------------------------------------------------------
say "5. failures"
# The system log: a listener on /dev/log, in a tmpfs over /dev that only this namespace sees
# (with the few devices these mounts use), for the failures that must be logged there too.
listener=
mount -t tmpfs -o mode=755 tmpfs /dev
dev_tmpfs=1
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/fuse c 10 229
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
out = open(sys.argv[1], "a")
print("ready", file=out, flush=True)
while True:
    print(s.recv(65536).decode(errors="replace").rstrip("\n"), file=out, flush=True)
' "$home/syslog" &
listener=$!
for _ in $(seq 50); do [[ -s $home/syslog ]] && break; sleep 0.1; done
expect_failure() {  # expect_failure WHAT TEXT OPTIONS [DRIVE]: fails in < 10 s with one line
  local what=$1 text=$2 options=$3 drive=${4:-photos} start end status=0 logged
  logged=$(wc -l <"$home/syslog")
  start=$(date +%s%N)
  mount -t fuse.shardfs "$drive" "$mnt" -o "$options" </dev/null >"$home/out" 2>"$home/err" ||
    status=$?
  end=$(date +%s%N)
  local ms=$(((end - start) / 1000000)) err
  err=$(cat "$home/err")
  say "$what: status $status in $ms ms: $err"
  ((status != 0)) || fail "$what: the mount succeeded"
  ((ms < 10000)) || fail "$what: took $ms ms"
  [[ $(wc -l <"$home/err") == 1 ]] || fail "$what: not one line on stderr: '$err'"
  [[ $err == *"$text"* ]] || fail "$what: the message does not say '$text'"
  sleep 0.2  # the datagram is sent; let the listener write it
  local log
  log=$(tail -n +$((logged + 1)) "$home/syslog")
  [[ $(grep -c . <<<"$log") == 1 && $log == *"shardfs["*"$text"* ]] ||
    fail "$what: not one line in the system log: '$log'"
  findmnt -rn "$mnt" >/dev/null && { fail "$what: mounted anyway"; umount "$mnt"; }
  return 0
}
expect_failure "missing password file" "$home/nope" \
  "password_file=$home/nope,config_dir=$home/config"
cp -a "$home/config" "$home/config-nokey"
rm "$home/config-nokey/drives/photos/keyfile"
expect_failure "missing keyfile" "$home/config-nokey/drives/photos/keyfile" \
  "password_file=$home/password,config_dir=$home/config-nokey"
echo "not the password" >"$home/wrong"
chmod 600 "$home/wrong"
expect_failure "wrong password" "password" "password_file=$home/wrong,config_dir=$home/config"
expect_failure "no password, no terminal" "give password_file=" "config_dir=$home/config"
expect_failure "unknown drive" "no drive named 'nosuch'" \
  "password_file=$home/password,config_dir=$home/config" nosuch

# A systemd credential (LoadCredential=shardfs.password:FILE) unlocks without password_file=.
mkdir "$home/credentials"
cp "$home/password" "$home/credentials/shardfs.password"
CREDENTIALS_DIRECTORY=$home/credentials mount -t fuse.shardfs photos "$mnt" \
  -o "config_dir=$home/config,cache_dir=$home/cache-opt" </dev/null ||
  fail "the systemd credential did not unlock the drive"
findmnt -rn "$mnt" >/dev/null && umount "$mnt"

# Drives over three nodes with k=2: dir: nodes answer, http nodes on a closed port do not.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
make_node_drive() {  # make_node_drive NAME HTTP_NODES: nodes n2.. of the 3 are unreachable
  local name=$1 http=$2
  mkdir -p "$home/$name-n1" "$home/$name-n2" "$home/$name-n3"
  cat >"$home/$name.nodes" <<NODES
{"format": "shardfs-nodes", "version": 1, "nodes": [
 {"id": "n1", "endpoint": "dir:$home/$name-n1"},
 {"id": "n2", "endpoint": "dir:$home/$name-n2"},
 {"id": "n3", "endpoint": "dir:$home/$name-n3"}]}
NODES
  "$SHARDFS_BIN" init "$name" --config-dir "$home/config" --password-file "$home/password" \
    --nodes "$home/$name.nodes" --ec 2+1 --cache-dir "$home/cache-$name" --cache-size 8M \
    --block-size 64K --kdf-memory 8M --kdf-passes 1 --mnemonic-out "$home/$name.mnemonic" \
    >/dev/null
  python3 - "$home/config/drives/$name/config.json" "$port" "$http" <<'PY'
import json, sys
path, port, http = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = json.load(open(path))
for node in config["nodes"][3 - http:]:
    node.update(endpoint=f"http://127.0.0.1:{port}", bucket="shardfs", access_key="AKTEST",
                secret_key="secret-for-a-closed-port")
json.dump(config, open(path, "w"), indent=2)
PY
}
make_node_drive down2 2
expect_failure "unreachable nodes" "only 1 of the 3 storage nodes of drive 'down2'" \
  "password_file=$home/password,config_dir=$home/config" down2
[[ $(cat "$home/err") == *"node 'n2' (http://127.0.0.1:$port)"*"node 'n3'"* ]] ||
  fail "the message does not name the unreachable nodes"
make_node_drive down1 1
mount -t fuse.shardfs down1 "$mnt" -o "password_file=$home/password,config_dir=$home/config" \
  </dev/null || fail "2 of 3 nodes answering (k=2) did not mount"
check_mounted_any() { findmnt -rn -o SOURCE "$mnt" | grep -qx down1; }
check_mounted_any || fail "down1 is not mounted"
findmnt -rn "$mnt" >/dev/null && { timeout 120 umount "$mnt" || fail "umount of down1 failed"; }

((failures == 0)) || die "$failures checks failed"
say "all mount(8) checks passed"
