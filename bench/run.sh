#!/usr/bin/env bash
# The benchmark driver behind `make bench` (issue 6): the same workloads, in one run, on
#   shardfs      a drive on a local directory store (dir:), default 4 MiB blocks
#   shardfs-net  a drive erasure-coded 4+2 over a devnet of 6 shardfs-node processes
#   gocryptfs    gocryptfs over a directory on the same disk
#   rclone       rclone mount of a crypt remote over a local remote, --vfs-cache-mode full
#   passthru     libfuse's passthrough_ll example over ext4 (-o writeback): raw FUSE
#   local        the local filesystem itself (the limit)
# Workload groups (each figure one row): seq (a 1 GiB write ending in fsync; reads after a
# remount and dropped caches, then warm; for shardfs also with its block cache emptied), rand
# (fio 4 KiB random reads and writes in a 256 MiB file, 5 s each, IOPS), files (create, stat,
# delete 10,000 files of 4 KiB in 100 directories), rsync (rsync -a of a tree, then again with
# nothing to do), tar (untar and tar of that tree). The tree is /usr/include without boost/
# (~8,200 files, ~135 MiB; copied, symlinks left out, into the work directory first): with boost (24,000 entries)
# passthrough_ll, which holds a descriptor per inode it has seen, runs out of descriptors at
# this machine's hard limit of 20,000 (`--tree DIR` for another tree). For
# shardfs also the time `shardfs sync` takes after each write, and the daemon's peak memory
# (VmHWM). Every system is mounted at once and, within each run, each workload runs on every
# system in turn (the order rotates per run), so noise hits all alike; before each workload the
# shardfs daemons finish uploading and deleting, so one's background work slows no other.
# Figures are medians of the runs with min-max; ratios are medians of per-run ratios. Then
# micro_bench (the data path per core). Defaults take ~35 minutes on 2 cores.
# Writes bench/results/{samples.tsv,bench.md,bench.png,micro.md,micro.json,machine.md}.
# Usage: bench/run.sh [--runs N] [--size-mib N] [--only NAME,...] [--quick] [--tree DIR]
#                     [--out DIR] [--no-micro]     (as root: mounts, drops page caches)
#   --only   systems and/or workload groups to run (e.g. --only shardfs,local,seq)
#   --quick  64 MiB, 1,000 files, /usr/include/boost/asio as the tree, 1 run: a smoke test
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shardfs=${SHARDFS_BIN:-$root/build/cli/shardfs}
node_bin=${SHARDFS_NODE_BIN:-$root/build/node/shardfs-node}
micro_bin=${MICRO_BENCH_BIN:-$root/build/bench/micro_bench}

all_systems=(shardfs shardfs-net gocryptfs rclone passthru local)
all_groups=(seq rand files rsync tar)
runs=3 size_mib=1024 dirs=100 files_per_dir=100 tree='' rand_mib=256
fio_secs=5
out=$here/results only='' micro=1
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --tree) tree=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-micro) micro=0; shift ;;
    --quick)
      runs=1 size_mib=64 dirs=10 rand_mib=32 fio_secs=3 tree=/usr/include/boost/asio
      shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done
systems=() groups=()
if [[ -n $only ]]; then
  IFS=, read -ra picks <<<"$only"
  for p in "${picks[@]}"; do
    if [[ " ${all_systems[*]} " == *" $p "* ]]; then systems+=("$p")
    elif [[ " ${all_groups[*]} " == *" $p "* ]]; then groups+=("$p")
    else echo "run.sh: --only: $p is neither a system (${all_systems[*]}) nor a workload" \
      "group (${all_groups[*]})" >&2; exit 2
    fi
  done
fi
((${#systems[@]})) || systems=("${all_systems[@]}")
((${#groups[@]})) || groups=("${all_groups[@]}")

[[ $(id -u) == 0 ]] || { echo "run.sh: run as root (mounts, drops page caches)" >&2; exit 2; }
need=(fio rsync tar python3 gnuplot)
for s in "${systems[@]}"; do
  case $s in gocryptfs | rclone) need+=("$s") ;; esac
done
for c in "${need[@]}"; do
  command -v "$c" >/dev/null ||
    { echo "run.sh: $c is missing (scripts/install-deps.sh)" >&2; exit 2; }
done
bins=()
[[ " ${systems[*]} " == *" shardfs"* ]] && bins+=("$shardfs")
[[ " ${systems[*]} " == *" shardfs-net "* ]] && bins+=("$node_bin")
((micro == 0)) || bins+=("$micro_bin")
for b in "${bins[@]}"; do
  [[ -x $b ]] || { echo "run.sh: $b is missing: build first (make build)" >&2; exit 2; }
done

work=$(mktemp -d /var/tmp/shardfs-bench-XXXXXX)
mkdir -p "$out"
declare -A pid=() peak_kib=()
cleanup() {
  local s m
  for s in "${systems[@]}"; do
    m=$work/$s/mnt
    if findmnt -rn "$m" >/dev/null 2>&1; then
      case $s in
        shardfs*) "$shardfs" unmount "$m" >/dev/null 2>&1 || fusermount3 -u "$m" || true ;;
        *) fusermount3 -u "$m" 2>/dev/null || umount -l "$m" || true ;;
      esac
    fi
    if [[ -n ${pid[$s]:-} ]]; then
      kill "${pid[$s]}" 2>/dev/null || true
      wait "${pid[$s]}" 2>/dev/null || true
    fi
  done
  [[ -f $work/devnet/devnet.json ]] && "$shardfs" devnet down --dir "$work/devnet" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { echo "run.sh: $*" >&2; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}'; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$1" "$2" "$3" "$4" >>"$out/samples.tsv"; }
target() { [[ $1 == local ]] && echo "$work/local/data" || echo "$work/$1/mnt"; }

# --- Setting up and mounting each system -------------------------------------------------
export SHARDFS_CONFIG_DIR=$work/config SHARDFS_PASSWORD_FILE=$work/password
head -c 24 /dev/urandom | base64 >"$work/password"
chmod 600 "$work/password"
rclone_conf=$work/rclone/rclone.conf

setup() {
  local s=$1 d=$work/$1
  mkdir -p "$d/mnt"
  case $s in
    shardfs)
      "$shardfs" init dir --store "dir:$d/store" --cache-dir "$d/cache" --cache-size 4G \
        --mnemonic-out "$d/words" >/dev/null ;;
    shardfs-net)
      "$shardfs" devnet up --nodes 6 --dir "$work/devnet" --node-bin "$node_bin" >/dev/null
      "$shardfs" init net --nodes "$work/devnet/nodes.conf" --ec 4+2 --cache-dir "$d/cache" \
        --cache-size 4G --mnemonic-out "$d/words" >/dev/null ;;
    gocryptfs)
      mkdir -p "$d/cipher"
      gocryptfs -init -q -passfile "$work/password" "$d/cipher" >/dev/null ;;
    rclone)
      mkdir -p "$d/store" "$d/cache"
      printf '[disk]\ntype = local\n\n[crypt]\ntype = crypt\nremote = disk:%s\npassword = %s\n' \
        "$d/store" "$(rclone obscure "$(cat "$work/password")")" >"$rclone_conf" ;;
    passthru)
      mkdir -p "$d/src"
      local fuse_flags
      read -ra fuse_flags < <(pkg-config fuse3 --cflags --libs)
      gcc -O2 -Wall -o "$d/passthrough_ll" /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c \
        "${fuse_flags[@]}" 2>"$d/gcc.log" ||
        { log "cannot build passthrough_ll: $(cat "$d/gcc.log")"; exit 1; } ;;
    local) mkdir -p "$d/data" ;;
  esac
}

mount_sys() {
  local s=$1 d=$work/$1 m=$work/$1/mnt
  case $s in
    shardfs) "$shardfs" mount dir "$m" -f 2>>"$d/daemon.log" & ;;
    shardfs-net) "$shardfs" mount net "$m" -f 2>>"$d/daemon.log" & ;;
    gocryptfs) gocryptfs -q -fg -passfile "$work/password" "$d/cipher" "$m" 2>>"$d/daemon.log" & ;;
    rclone)
      rclone mount crypt: "$m" --config "$rclone_conf" --vfs-cache-mode full \
        --cache-dir "$d/cache" 2>>"$d/daemon.log" & ;;
    # writeback on: the faster of its two settings. It holds a descriptor per inode it has
    # seen, so it gets the hard limit of open files.
    passthru) (ulimit -n "$(ulimit -Hn)" && exec "$d/passthrough_ll" -f \
      -o source="$d/src",writeback "$m" 2>>"$d/daemon.log") & ;;
    local) return 0 ;;
  esac
  pid[$s]=$!
  for _ in $(seq 300); do
    findmnt -rn "$m" >/dev/null 2>&1 && return 0
    kill -0 "${pid[$s]}" 2>/dev/null || break
    sleep 0.1
  done
  log "$s did not mount; its log ends with:"
  tail -5 "$d/daemon.log" >&2
  exit 1
}

note_peak() {  # keeps the largest VmHWM seen for a shardfs daemon
  local s=$1 hwm
  [[ $s == shardfs* && -n ${pid[$s]:-} ]] || return 0
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/${pid[$s]}/status" 2>/dev/null || echo 0)
  ((hwm > ${peak_kib[$s]:-0})) && peak_kib[$s]=$hwm
  return 0
}

unmount_sys() {
  local s=$1 m=$work/$1/mnt
  [[ $s == local ]] && return 0
  note_peak "$s"
  case $s in
    shardfs*) "$shardfs" unmount "$m" >/dev/null ;;
    *) fusermount3 -u "$m" ;;
  esac
  wait "${pid[$s]}" || true
  pid[$s]=
}

# --- Workloads: each takes the system and records its figures ------------------------------
sync_fs() { sync -f "$1"; }
shardfs_sync() {  # after a write: how long until `shardfs sync` says all is in the store
  local s=$1 w=$2 t0
  [[ $s == shardfs* ]] || return 0
  t0=$EPOCHREALTIME
  "$shardfs" sync "$(target "$s")" >/dev/null 2>&1
  record "$s" "$w-sync" "$(secs_since "$t0")" s
}
settle() {  # before each workload: every shardfs daemon done uploading and deleting
  local s m n deadline=$((SECONDS + 600))
  for s in "${systems[@]}"; do
    [[ $s == shardfs* ]] || continue
    m=$(target "$s")
    while n=$("$shardfs" status "$m" 2>/dev/null |
      awk '$1 == "uploads" || $1 == "deletes" {n += $2} END {print n + 0}') && ((n > 0)); do
      ((SECONDS < deadline)) || { log "$s: $n blocks still to upload or delete after 600 s"; exit 1; }
      sleep 0.5
    done
  done
}
read_big() {
  local s=$1 w=$2 t0
  t0=$EPOCHREALTIME
  dd if="$(target "$s")/big" of=/dev/null bs=1M status=none
  record "$s" "$w" "$(secs_since "$t0")" s
}
w_seq() {
  local s=$1 d t0
  d=$(target "$s")
  rm -f "$d/big"
  sync_fs "$d"
  t0=$EPOCHREALTIME
  dd if="$work/big" of="$d/big" bs=1M conv=fsync status=none
  record "$s" seq-write "$(secs_since "$t0")" s
  shardfs_sync "$s" seq-write
  unmount_sys "$s"; drop_caches; mount_sys "$s"
  read_big "$s" seq-read-cold
  read_big "$s" seq-read-warm
  if [[ $s == shardfs* ]]; then  # every block from the store or the nodes
    unmount_sys "$s"; rm -rf "$work/$s/cache/blocks"; drop_caches; mount_sys "$s"
    read_big "$s" seq-read-empty-cache
  fi
}
fio_iops() {  # $1 = rw mode, $2 = file; prints IOPS over the wall time (end_fsync included)
  local t0 ios
  t0=$EPOCHREALTIME
  ios=$(fio --name=b --filename="$2" --rw="$1" --bs=4k --size="${rand_mib}M" --ioengine=psync \
    --time_based --runtime="$fio_secs" --end_fsync=1 --output-format=json |
    python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]
print(j["read"]["total_ios"] + j["write"]["total_ios"])')
  awk -v n="$ios" -v t="$(secs_since "$t0")" 'BEGIN {printf "%.0f", n / t}'
}
w_rand() {
  local s=$1 d
  d=$(target "$s")
  [[ -f $d/rand ]] || { head -c "$((rand_mib << 20))" "$work/big" >"$d/rand"; sync_fs "$d"; }
  drop_caches
  record "$s" rand-read "$(fio_iops randread "$d/rand")" iops
  record "$s" rand-write "$(fio_iops randwrite "$d/rand")" iops
  shardfs_sync "$s" rand-write
}
w_files() {
  local s=$1 d t0
  d=$(target "$s")
  rm -rf "$d/files"
  sync_fs "$d"
  t0=$EPOCHREALTIME
  python3 - "$d/files" "$dirs" "$files_per_dir" "$work/4k" <<'EOF'
import os, sys
top, dirs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blob = open(sys.argv[4], "rb").read()
os.mkdir(top)
for i in range(dirs):
    d = os.path.join(top, f"d{i}")
    os.mkdir(d)
    for j in range(per):
        with open(os.path.join(d, f"f{j}"), "wb") as f:
            f.write(blob)
EOF
  sync_fs "$d"
  record "$s" files-create "$(secs_since "$t0")" s
  shardfs_sync "$s" files-create
  drop_caches
  t0=$EPOCHREALTIME
  local n
  n=$(find "$d/files" -type f -printf '%s\n' | wc -l)
  record "$s" files-stat "$(secs_since "$t0")" s
  ((n == dirs * files_per_dir)) ||
    { log "$s: found $n files, not $((dirs * files_per_dir))"; exit 1; }
  t0=$EPOCHREALTIME
  rm -rf "$d/files"
  sync_fs "$d"
  record "$s" files-delete "$(secs_since "$t0")" s
}
w_rsync() {
  local s=$1 d t0
  d=$(target "$s")
  rm -rf "$d/tree"
  sync_fs "$d"
  t0=$EPOCHREALTIME
  rsync -a "$tree/" "$d/tree/"
  sync_fs "$d"
  record "$s" rsync "$(secs_since "$t0")" s
  shardfs_sync "$s" rsync
  t0=$EPOCHREALTIME
  rsync -a "$tree/" "$d/tree/"
  record "$s" rsync-noop "$(secs_since "$t0")" s
  rm -rf "$d/tree"
}
w_tar() {
  local s=$1 d t0
  d=$(target "$s")
  rm -rf "$d/untar"
  mkdir "$d/untar"
  sync_fs "$d"
  t0=$EPOCHREALTIME
  tar -xf "$work/tree.tar" -C "$d/untar"
  sync_fs "$d"
  record "$s" untar "$(secs_since "$t0")" s
  shardfs_sync "$s" untar
  drop_caches
  t0=$EPOCHREALTIME
  # Through a pipe: GNU tar skips reading files it writes to /dev/null. rclone's mount changes
  # a file's times as it is read, so tar's "file changed as we read it" (status 1) is accepted.
  { tar -cf - --warning=no-file-changed -C "$d" untar || (($? == 1)); } | wc -c >/dev/null
  record "$s" tar "$(secs_since "$t0")" s
  rm -rf "$d/untar"
}

# --- The run -------------------------------------------------------------------------------
log "work directory $work; systems: ${systems[*]}; workloads: ${groups[*]}; $runs run(s)"
head -c "$((size_mib << 20))" /dev/urandom >"$work/big"  # incompressible, made once, untimed
head -c 4096 /dev/urandom >"$work/4k"
if [[ -z $tree ]]; then
  tree=$work/include
  # Without its 20 symlinks: rclone's crypt remote refuses them (EIO).
  rsync -a --no-links --exclude /boost /usr/include/ "$tree/" >/dev/null
  tree_name="/usr/include without boost"
else
  tree_name=$tree
fi
tar -cf "$work/tree.tar" -C "$(dirname "$tree")" "$(basename "$tree")"
tree_desc="$tree_name ($(find "$tree" -type f | wc -l) files, $(du -sm "$tree" | cut -f1) MiB)"
# On disk before the first run: its writeback would otherwise land in whichever write came first.
sync
printf 'run\tsystem\tworkload\tvalue\tunit\n' >"$out/samples.tsv"
for s in "${systems[@]}"; do setup "$s"; mount_sys "$s"; done

started=$EPOCHREALTIME
for run in $(seq "$runs"); do
  shift_by=$(((run - 1) % ${#systems[@]}))
  order=("${systems[@]:shift_by}" "${systems[@]:0:shift_by}")
  for g in "${groups[@]}"; do
    for s in "${order[@]}"; do
      settle  # the previous workload's background work must not slow this one
      log "run $run/$runs: $g on $s"
      "w_$g" "$s"
    done
  done
  for s in "${systems[@]}"; do  # the shardfs daemons' peak memory over this run
    [[ $s == shardfs* ]] || continue
    note_peak "$s"
    record "$s" peak-rss "$((${peak_kib[$s]:-0} / 1024))" MiB
    peak_kib[$s]=0
  done
done
for s in "${systems[@]}"; do unmount_sys "$s"; done
log "file-system workloads took $(secs_since "$started") s"

# The machine, for the report.
{
  echo "- CPU: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "- RAM: $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "- kernel: $(uname -r); $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)"
  dev=$(df --output=source "$work" | tail -1)
  echo "- disk: $(df --output=fstype "$work" | tail -1) on $dev" \
    "($(lsblk -dno SIZE,ROTA,MODEL "$dev" 2>/dev/null |
      awk '{printf "%s, %s", $1, $2 ? "rotational" : "SSD"; $1 = $2 = ""; print}' | sed 's/ *$//'))"
  echo "- peers: gocryptfs $(gocryptfs -version 2>/dev/null | awk '{print $2}' | tr -d ';')," \
    "rclone $(rclone version 2>/dev/null | awk 'NR == 1 {print $2}')," \
    "libfuse $(pkg-config --modversion fuse3)"
} >"$out/machine.md"

args=(--samples "$out/samples.tsv" --out "$out" --size-mib "$size_mib" --rand-mib "$rand_mib"
  --files "$((dirs * files_per_dir))" --dirs "$dirs" --tree "$tree_desc" --runs "$runs")
if ((micro)); then
  log "micro-benchmarks"
  "$micro_bin" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/micro.json" --benchmark_out_format=json >"$work/micro.log" 2>&1 ||
    { tail -5 "$work/micro.log" >&2; exit 1; }
  args+=(--micro "$out/micro.json")
fi
python3 "$here/report.py" "${args[@]}"
cat "$out/bench.md"
((micro == 0)) || cat "$out/micro.md"
