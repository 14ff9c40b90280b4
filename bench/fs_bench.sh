#!/usr/bin/env bash
# Filesystem benchmark (issue 3's speed targets): the same workloads, in one run, on
#   shardfs   a drive on a local directory store (the `shardfs` daemon)
#   passthru  libfuse's passthrough_ll example over ext4 (built here from the example source
#             Debian ships in libfuse3-dev; -o writeback), the raw FUSE reference
#   ext4      the local filesystem underneath both (the limit)
# Workloads: 10,000 files of 4 KiB in 100 directories; rsync -a of /usr/include; sequential
# 1 GiB write ending in fsync; sequential 1 GiB read after a remount and dropped page cache.
# Each figure is the median of RUNS runs (default 3); shardfs's daemon peak RSS is reported.
# Usage: bench/fs_bench.sh [--runs N] [--size-mib N] [--only WORKLOAD] (run as root)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shardfs=${SHARDFS_BIN:-$root/build/cli/shardfs}
runs=3
size_mib=1024
only=
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "fs_bench: run as root (drops page caches, mounts)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/shardfs-bench-XXXXXX)
pt_bin=$work/passthrough_ll
gcc -O2 -Wall -o "$pt_bin" /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c \
  $(pkg-config fuse3 --cflags --libs) 2>"$work/gcc.log" ||
  { echo "cannot build passthrough_ll: $(cat "$work/gcc.log")" >&2; exit 1; }

export SHARDFS_CONFIG_DIR=$work/config SHARDFS_PASSWORD_FILE=$work/password
head -c 24 /dev/urandom | base64 >"$work/password"
chmod 600 "$work/password"
"$shardfs" init bench --store "dir:$work/store" --cache-dir "$work/cache" --cache-size 4G \
  --mnemonic-out "$work/words" >/dev/null

mnt=$work/mnt
mkdir -p "$mnt" "$work/ext4" "$work/pt-src"
peak_rss_kib=0
mount_fs() {
  case $1 in
    shardfs) "$shardfs" mount bench "$mnt" >/dev/null ;;
    # writeback on: the faster of its two configurations, so the stronger reference.
    # passthrough_ll holds a file descriptor per inode it has seen: raise the limit first.
    passthru) (ulimit -n "$(ulimit -Hn)" && "$pt_bin" -o source="$work/pt-src",writeback "$mnt")
              for _ in $(seq 50); do findmnt -rn "$mnt" >/dev/null && break; sleep 0.1; done ;;
    ext4) ;;
  esac
}
unmount_fs() {
  case $1 in
    shardfs)
      local pid
      pid=$(cat "$work/cache/daemon.pid" 2>/dev/null || echo)
      if [[ -n $pid ]]; then
        local hwm
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        ((hwm > peak_rss_kib)) && peak_rss_kib=$hwm
      fi
      "$shardfs" unmount "$mnt" >/dev/null ;;
    passthru) fusermount3 -u "$mnt" ;;
    ext4) ;;
  esac
}
target() { [[ $1 == ext4 ]] && echo "$work/ext4" || echo "$mnt"; }
cleanup() {
  findmnt -rn "$mnt" >/dev/null 2>&1 && { "$shardfs" unmount "$mnt" 2>/dev/null || fusermount3 -u "$mnt"; }
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Workloads: each prints seconds. $1 = directory to work in.
w_create() {
  local d=$1 t0
  head -c 4096 /dev/urandom >"$work/4k"
  t0=$(now)
  for i in $(seq 0 99); do
    mkdir "$d/c$i"
    for j in $(seq 0 99); do cp "$work/4k" "$d/c$i/f$j"; done
  done
  sync
  echo "$(now) - $t0" | bc
}
w_rsync() {
  local d=$1 t0
  t0=$(now)
  rsync -a /usr/include/ "$d/include/"
  sync
  echo "$(now) - $t0" | bc
}
w_write() {
  local d=$1 t0
  t0=$(now)
  dd if=/dev/zero of="$d/big" bs=1M count="$size_mib" conv=fsync status=none
  echo "$(now) - $t0" | bc
}
w_read() {  # needs the file from w_write; remounted and caches dropped by the caller
  local d=$1 t0
  t0=$(now)
  dd if="$d/big" of=/dev/null bs=1M status=none
  echo "$(now) - $t0" | bc
}
fresh() {  # empty the area under test
  local fs=$1
  unmount_fs "$fs"
  case $fs in
    shardfs) mount_fs shardfs; rm -rf "${mnt:?}"/* ;;
    passthru) rm -rf "${work:?}/pt-src"/*; mount_fs passthru ;;
    ext4) rm -rf "${work:?}/ext4"/* ;;
  esac
  sync
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A result
fss=(shardfs passthru ext4)
workloads=(create rsync write read)
[[ -n $only ]] && workloads=("$only")
for fs in "${fss[@]}"; do
  mount_fs "$fs"
  for w in "${workloads[@]}"; do
    samples=()
    for r in $(seq "$runs"); do
      if [[ $w == read ]]; then
        fresh "$fs"
        w_write "$(target "$fs")" >/dev/null
        unmount_fs "$fs"; drop_caches; mount_fs "$fs"
      else
        fresh "$fs"
      fi
      samples+=("$(w_"$w" "$(target "$fs")")")
    done
    result[$fs,$w]=$(printf '%s\n' "${samples[@]}" | median)
    echo "  $fs $w: ${samples[*]} s" >&2
  done
  unmount_fs "$fs"
done

printf '\n| workload | shardfs | passthrough_ll | ext4 | shardfs / passthrough_ll |\n'
printf '| --- | --- | --- | --- | --- |\n'
for w in "${workloads[@]}"; do
  s=${result[shardfs,$w]} p=${result[passthru,$w]} e=${result[ext4,$w]}
  case $w in
    write | read)
      mb() { echo "scale=0; $size_mib * 1.048576 / $1" | bc; }
      printf '| sequential %s %s MiB | %s MB/s | %s MB/s | %s MB/s | %s x throughput |\n' "$w" \
        "$size_mib" "$(mb "$s")" "$(mb "$p")" "$(mb "$e")" "$(echo "scale=2; $p / $s" | bc)" ;;
    *)
      printf '| %s | %.2f s | %.2f s | %.2f s | %s x time |\n' "$w" "$s" "$p" "$e" \
        "$(echo "scale=2; $s / $p" | bc)" ;;
  esac
done
printf '\nshardfs daemon peak RSS: %d MiB\n' $((peak_rss_kib / 1024))
