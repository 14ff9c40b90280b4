#!/usr/bin/env bash
# Builds the shardfs .deb from an already built tree with CPack, checks it (lintian, contents,
# modes, control fields, conffiles, no maintainer scripts), installs it on this machine with
# dpkg -i, runs the installed programs, checks the man pages, the systemd units and the example
# node config, then purges it and checks that nothing is left.
# Usage: deb_test.sh BUILD_DIR VERSION   (VERSION: the project's, e.g. 0.1.0). Needs root.
# It refuses (fails, does not skip) when shardfs is already installed from elsewhere, or any
# file it would install exists: the test must never clobber or remove someone's installation.
set -euo pipefail

build_dir=${1:?usage: deb_test.sh BUILD_DIR VERSION}
version=${2:?usage: deb_test.sh BUILD_DIR VERSION}-1
arch=$(dpkg --print-architecture)

fail() {
  echo "deb_test: FAIL: $*" >&2
  exit 1
}
note() { echo "deb_test: $*"; }

# Every path the package installs, with its mode, as dpkg-deb -c shows them.
expected_files=(
  "-rwxr-xr-x ./usr/bin/shardfs"
  "-rwxr-xr-x ./usr/bin/shardfs-node"
  "-rwxr-xr-x ./sbin/mount.shardfs"
  "-rwxr-xr-x ./sbin/umount.fuse.shardfs"
  "-rw-r--r-- ./usr/share/man/man1/shardfs.1.gz"
  "-rw-r--r-- ./usr/share/man/man1/shardfs-node.1.gz"
  "-rw-r--r-- ./usr/share/man/man8/mount.shardfs.8.gz"
  "-rw-r--r-- ./usr/share/man/man8/umount.fuse.shardfs.8.gz"
  "-rw-r--r-- ./usr/share/doc/shardfs/copyright"
  "-rw-r--r-- ./usr/share/doc/shardfs/changelog.Debian.gz"
  "-rw-r--r-- ./usr/share/doc/shardfs/examples/mnt-photos.mount"
  "-rw-r--r-- ./usr/share/doc/shardfs/examples/mnt-photos.automount"
  "-rw-r--r-- ./lib/systemd/system/shardfs-node@.service"
  "-rw-r--r-- ./etc/shardfs-node/example.conf"
  "-rw-r--r-- ./usr/share/lintian/overrides/shardfs"
)
installed_paths=()
for entry in "${expected_files[@]}"; do
  installed_paths+=("${entry#* .}")
done

# --- refuse to touch an existing installation ---------------------------------------------------
((EUID == 0)) || fail "run as root: the test installs the package with dpkg -i"
[[ -f "$build_dir/CPackConfig.cmake" ]] || fail "$build_dir/CPackConfig.cmake is missing: configure the build first"
status=$(dpkg-query -W -f='${db:Status-Status}' shardfs 2>/dev/null || true)
if [[ -n "$status" && "$status" != not-installed ]]; then
  fail "a shardfs package is already on this machine (dpkg status: $status); remove it first (dpkg --purge shardfs) — this test does not replace it"
fi
for path in "${installed_paths[@]}" /usr/sbin/mount.shardfs; do
  if [[ -e "$path" || -L "$path" ]]; then
    fail "$path already exists (installed by hand?); remove it first — this test does not overwrite it"
  fi
done

work=$(mktemp -d /tmp/shardfs-deb-test.XXXXXX)
installed=0
node_pid=
cleanup() {
  local rc=$?
  if [[ -n "$node_pid" ]]; then kill "$node_pid" 2>/dev/null || true; fi
  if ((installed)); then
    note "cleanup: purging the test's shardfs package"
    dpkg --purge shardfs >/dev/null 2>&1 || echo "deb_test: cleanup: dpkg --purge shardfs failed" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dpkg takes a lock that apt, run by someone else, may hold for a while: wait for it.
dpkg_retry() {
  local out
  for _ in $(seq 1 60); do
    if out=$("$@" 2>&1); then
      printf '%s\n' "$out"
      return 0
    fi
    if ! grep -q 'lock' <<<"$out"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    sleep 2
  done
  printf '%s\n' "$out" >&2
  return 1
}

# --- build --------------------------------------------------------------------------------------
note "building the package with cpack"
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
debs=("$work"/out/shardfs_*.deb)
[[ ${#debs[@]} -eq 1 && -f "${debs[0]}" ]] || fail "cpack made no single shardfs_*.deb: ${debs[*]}"
deb=${debs[0]}
[[ "$(basename "$deb")" == "shardfs_${version}_${arch}.deb" ]] ||
  fail "the package is named $(basename "$deb"), expected shardfs_${version}_${arch}.deb"
for path in "${installed_paths[@]}"; do
  [[ ! -e "$path" ]] || fail "cpack wrote $path outside its staging directory"
done

# --- control fields -----------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[[ "$(field Package)" == shardfs ]] || fail "Package is '$(field Package)'"
[[ "$(field Version)" == "$version" ]] || fail "Version is '$(field Version)', expected $version"
[[ "$(field Architecture)" == "$arch" ]] || fail "Architecture is '$(field Architecture)'"
depends=$(field Depends)
for dep in fuse3 libfuse3-3 libc6 libssl3 'libstdc++6'; do
  grep -Eq "(^|, )${dep//+/\\+}( |,|$)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
note "Depends: $depends"

# --- contents, owners and modes -----------------------------------------------------------------
dpkg-deb -c "$deb" >"$work/contents"
bad_owner=$(awk '$2 != "root/root"' "$work/contents")
[[ -z "$bad_owner" ]] || fail "entries not owned by root/root:"$'\n'"$bad_owner"
bad_dir=$(awk '/^d/ && $1 != "drwxr-xr-x"' "$work/contents")
[[ -z "$bad_dir" ]] || fail "directories without mode 0755:"$'\n'"$bad_dir"
awk '!/^d/ {print $1, $6}' "$work/contents" | sort >"$work/files.actual"
printf '%s\n' "${expected_files[@]}" | sort >"$work/files.expected"
diff -u "$work/files.expected" "$work/files.actual" >&2 || fail "the package's files differ from the expected ones (above: - expected, + actual)"

dpkg-deb -x "$deb" "$work/root"
for program in usr/bin/shardfs usr/bin/shardfs-node; do
  if readelf -S "$work/root/$program" | grep -q '\.symtab'; then
    fail "$program is not stripped"
  fi
done
zcat "$work/root/usr/share/doc/shardfs/changelog.Debian.gz" | head -1 | grep -q "^shardfs ($version) " ||
  fail "packaging/changelog's latest entry is not for version $version: add one"

dpkg-deb --ctrl-tarfile "$deb" | tar -t | sed 's|^\./||' | grep -v '^$' | sort >"$work/control.actual"
printf '%s\n' conffiles control md5sums | sort >"$work/control.expected"
diff -u "$work/control.expected" "$work/control.actual" >&2 ||
  fail "unexpected control files (maintainer scripts would run at install; above: - expected, + actual)"
[[ "$(dpkg-deb -I "$deb" conffiles)" == /etc/shardfs-node/example.conf ]] ||
  fail "conffiles is not exactly /etc/shardfs-node/example.conf"

# --- lintian ------------------------------------------------------------------------------------
note "running lintian"
lintian_rc=0
lintian --fail-on error --display-info "$deb" >"$work/lintian.log" 2>&1 || lintian_rc=$?
cat "$work/lintian.log"
((lintian_rc == 0)) || fail "lintian reports errors (above)"

# --- install ------------------------------------------------------------------------------------
note "installing $(basename "$deb")"
installed=1
dpkg_retry dpkg -i "$deb" || fail "dpkg -i failed"
[[ "$(dpkg-query -W -f='${db:Status-Status}' shardfs)" == installed ]] || fail "dpkg does not list shardfs as installed"

[[ "$(/usr/bin/shardfs --version)" == "shardfs ${version%-*}" ]] || fail "shardfs --version: $(/usr/bin/shardfs --version)"
[[ "$(/usr/bin/shardfs-node --version)" == "shardfs-node ${version%-*}" ]] ||
  fail "shardfs-node --version: $(/usr/bin/shardfs-node --version)"
# The helpers have no --version; mount.shardfs -f (fake) does all but the mount, and -v shows
# the command it would run, options for mount(8) removed.
[[ -x /sbin/mount.shardfs && -x /sbin/umount.fuse.shardfs ]] || fail "the mount helpers in /sbin are not executable"
helper_out=$(/sbin/mount.shardfs photos /mnt/photos -fv -o _netdev,nofail,ro,password_file=/p 2>&1) ||
  fail "/sbin/mount.shardfs -fv failed: $helper_out"
[[ "$helper_out" == *"shardfs mount photos /mnt/photos -o ro,password_file=/p,fsname=photos"* ]] ||
  fail "/sbin/mount.shardfs -fv: $helper_out"
note "installed: $(/usr/bin/shardfs --version), $(/usr/bin/shardfs-node --version), $helper_out"

# Nothing is enabled or started by the installation.
if compgen -G '/etc/systemd/system/*/shardfs*' >/dev/null; then
  fail "the installation enabled a unit: $(ls /etc/systemd/system/*/shardfs*)"
fi
pgrep -x shardfs-node >/dev/null && pgrep -a -x shardfs-node | grep -q /usr/bin/ &&
  fail "the installation started shardfs-node"

if command -v man >/dev/null; then
  for page in 1/shardfs 1/shardfs-node 8/mount.shardfs 8/umount.fuse.shardfs; do
    found=$(man -w "${page%/*}" "${page#*/}" 2>/dev/null) || fail "man -w $page finds no page"
    [[ "$found" == /usr/share/man/* ]] || fail "man -w $page finds $found, not the package's page"
    # Rendering must not warn (bad macros, unknown escapes).
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings "$found" 2>&1 >/dev/null || true)
    [[ -z "$warnings" ]] || fail "man $page renders with warnings:"$'\n'"$warnings"
  done
else
  note "man is not installed: the pages were checked in the package listing only"
fi

if command -v systemd-analyze >/dev/null; then
  # A template is verified through an instance; the units' programs must exist (they do now).
  mkdir "$work/units"
  ln -s /lib/systemd/system/shardfs-node@.service "$work/units/shardfs-node@test.service"
  cp /usr/share/doc/shardfs/examples/mnt-photos.mount /usr/share/doc/shardfs/examples/mnt-photos.automount "$work/units/"
  for unit in shardfs-node@test.service mnt-photos.mount mnt-photos.automount; do
    SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$work/units/$unit" >"$work/verify.log" 2>&1 ||
      { cat "$work/verify.log" >&2; fail "systemd-analyze verify $unit"; }
    if [[ -s "$work/verify.log" ]]; then
      cat "$work/verify.log" >&2
      fail "systemd-analyze verify $unit printed warnings"
    fi
  done
  note "systemd-analyze verify: the units are clean"
else
  note "systemd-analyze is not installed: the units were not verified"
fi

# The example config parses (comments and all) but cannot run: it has no keys.
if /usr/bin/shardfs-node --config /etc/shardfs-node/example.conf --data "$work/node-data" \
  >"$work/example.log" 2>&1; then
  fail "shardfs-node started with the unedited example config"
fi
grep -q 'no access keys' "$work/example.log" || fail "the example config: $(cat "$work/example.log")"
# With a key added, as the comments say, it runs, and stops cleanly on SIGTERM.
sed 's|^    // {"access_key"|    {"access_key"|' /etc/shardfs-node/example.conf >"$work/node.conf"
grep -q '^    {"access_key"' "$work/node.conf" || fail "the example config has no commented key line to enable"
/usr/bin/shardfs-node --config "$work/node.conf" --data "$work/node-data" --listen 127.0.0.1:0 \
  >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/node.log" && break
  kill -0 "$node_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'listening on' "$work/node.log" || fail "shardfs-node did not start with the example config plus a key: $(cat "$work/node.log")"
kill -TERM "$node_pid"
node_rc=0
wait "$node_pid" || node_rc=$?
node_pid=
((node_rc == 0)) || fail "shardfs-node exited $node_rc on SIGTERM: $(cat "$work/node.log")"

# --- purge --------------------------------------------------------------------------------------
note "purging"
dpkg_retry dpkg --purge shardfs >/dev/null || fail "dpkg --purge shardfs failed"
installed=0
status=$(dpkg-query -W -f='${db:Status-Status}' shardfs 2>/dev/null || true)
[[ -z "$status" || "$status" == not-installed ]] || fail "after purge, dpkg status is $status"
! dpkg -s shardfs >/dev/null 2>&1 || fail "dpkg -s shardfs still succeeds after purge"
for path in "${installed_paths[@]}" /etc/shardfs-node /usr/share/doc/shardfs; do
  [[ ! -e "$path" && ! -L "$path" ]] || fail "$path is left after purge"
done
note "PASS: $(basename "$deb") builds, passes lintian, installs, runs and purges cleanly"
