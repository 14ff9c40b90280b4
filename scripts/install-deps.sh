#!/usr/bin/env bash
# Installs the Debian packages that shardfs's build, tests and demo need (Debian 12).
# Idempotent: asks dpkg which are missing and touches apt only when something is.
# Runs as root, or through sudo when not root.
set -euo pipefail

# The one list of packages. Add a package to its group here, nowhere else.
PACKAGES=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config
  # libraries linked by shardfs (crypto, password KDF, LMDB, erasure coding, checksums,
  # Asio/Beast, logging, CLI, config)
  libssl-dev libargon2-dev liblmdb-dev libisal-dev libxxhash-dev
  libboost-dev libboost-system-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # FUSE: headers for the adapter, fusermount3 and mount.fuse3 for mounting
  libfuse3-dev fuse3
  # io_uring: FUSE requests served on the caller's CPU (fs/fuse/uring_transport.h)
  liburing-dev
  # format check (scripts/check-format.sh), and clang's thread-safety analysis
  # (scripts/check-thread-safety.sh)
  clang-format clang
  # programs the tests run on a real mount (tests/fstest) and the benchmarks use
  rsync git sqlite3 tar attr util-linux procps bc python3
  # the peers and tools of `make bench` (bench/run.sh; rclone is below)
  gocryptfs fio gnuplot-nox
  # real S3 clients that check shardfs-node, and a real S3 server (Ceph RGW) for the client
  s3cmd rclone ceph-mon ceph-osd radosgw ceph-common uuid-runtime
  # the Debian package (make deb, tests/packaging/deb_test.sh): dpkg-shlibdeps, lintian, man -w
  dpkg-dev lintian man-db
)

die() {
  echo "install-deps: $*" >&2
  exit 1
}

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script installs Debian packages (Debian 12); on another system install the equivalents of: ${PACKAGES[*]}"

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: missing ${#missing[@]} of ${#PACKAGES[@]} packages: ${missing[*]}"

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  die "not root and sudo is not installed; run as root: apt-get install ${missing[*]}"
fi

"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
