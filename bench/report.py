#!/usr/bin/env python3
"""Turns bench/run.sh's samples into bench/results/bench.md (a Markdown table of medians with
min-max, and shardfs's per-run speed ratios to each peer), bench.png (a gnuplot chart of every
system's speed relative to the local filesystem) and, given micro_bench's JSON, micro.md (each
shardfs data-path step beside the raw library call it wraps)."""

import argparse
import collections
import json
import os
import statistics
import subprocess

SYSTEMS = ["shardfs", "shardfs-net", "gocryptfs", "rclone", "passthru", "local"]
SHARDFS = ["shardfs", "shardfs-net"]
HEADERS = {
    "shardfs": "shardfs (dir store)",
    "shardfs-net": "shardfs (6 nodes, 4+2)",
    "gocryptfs": "gocryptfs",
    "rclone": "rclone crypt (vfs full)",
    "passthru": "passthrough_ll",
    "local": "ext4 (local)",
}
# workload -> (row title, how the figure is shown). Kinds: mbs (seconds for size_mib, shown as
# MB/s), iops, secs (lower is better), mib (memory).
WORKLOADS = [
    ("seq-write", "sequential write {size}, ending in fsync (MB/s)", "mbs"),
    ("seq-write-sync", "  then `shardfs sync` until stored (s)", "secs"),
    ("seq-write-stored", "  written and stored, write start to sync end (MB/s)", "mbs"),
    ("seq-read-cold", "sequential read, after remount and dropped caches (MB/s)", "mbs"),
    ("seq-read-warm", "sequential read again, warm (MB/s)", "mbs"),
    ("seq-read-empty-cache", "sequential read, shardfs block cache emptied too (MB/s)", "mbs"),
    ("rand-read", "random 4 KiB reads in a {rand} file, fio (IOPS)", "iops"),
    ("rand-write", "random 4 KiB writes, fio, ending in fsync (IOPS)", "iops"),
    ("rand-write-sync", "  then `shardfs sync` until stored (s)", "secs"),
    ("files-create", "create {files} files of 4 KiB in {dirs} directories, then syncfs (s)",
     "secs"),
    ("files-create-sync", "  then `shardfs sync` until stored (s)", "secs"),
    ("files-stat", "stat them, dropped caches (s)", "secs"),
    ("files-delete", "delete them, then syncfs (s)", "secs"),
    ("rsync", "rsync -a of {tree}, then syncfs (s)", "secs"),
    ("rsync-sync", "  then `shardfs sync` until stored (s)", "secs"),
    ("rsync-noop", "rsync -a again, nothing to do (s)", "secs"),
    ("untar", "untar that tree, then syncfs (s)", "secs"),
    ("untar-sync", "  then `shardfs sync` until stored (s)", "secs"),
    ("tar", "tar it, dropped caches (s)", "secs"),
    ("peak-rss", "daemon peak memory, VmHWM (MiB)", "mib"),
]
PEERS = ["gocryptfs", "rclone", "passthru", "local"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--samples", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--size-mib", type=int, required=True)
    p.add_argument("--rand-mib", type=int, required=True)
    p.add_argument("--files", type=int, required=True)
    p.add_argument("--dirs", type=int, required=True)
    p.add_argument("--tree", required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--micro")
    return p.parse_args()


def load(path):
    """{(system, workload): {run: value}}"""
    data = collections.defaultdict(dict)
    with open(path) as f:
        next(f)
        for line in f:
            run, system, workload, value, _unit = line.rstrip("\n").split("\t")
            data[(system, workload)][int(run)] = float(value)
    # Derived: the write and the sync after it, as one transfer (issue 4's sync target).
    for system in SYSTEMS:
        written, synced = data.get((system, "seq-write"), {}), data.get((system, "seq-write-sync"), {})
        for run in written.keys() & synced.keys():
            data[(system, "seq-write-stored")][run] = written[run] + synced[run]
    return data


def shown(kind, value, size_mib):
    """The figure as shown: MB/s for sequential transfers, else the value itself."""
    return size_mib * 1.048576 / value if kind == "mbs" else value


def speed(kind, value):
    """A number where higher is better, for ratios."""
    return 1.0 / value if kind in ("mbs", "secs") else value


def fmt(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def spread(values):
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def figures_table(data, systems, args, titles):
    rows = ["| workload | " + " | ".join(HEADERS[s] for s in systems) + " |",
            "| --- |" + " --- |" * len(systems)]
    for name, _title, kind in WORKLOADS:
        if not any((s, name) in data for s in systems):
            continue
        cells = []
        for s in systems:
            runs = data.get((s, name))
            cells.append(spread([shown(kind, v, args.size_mib) for v in runs.values()])
                         if runs else "–")
        rows.append(f"| {titles[name]} | " + " | ".join(cells) + " |")
    return rows


def ratio_table(data, ours, peers, titles):
    """shardfs's speed / the peer's, per run (the systems ran interleaved within a run)."""
    rows = [f"| {HEADERS[ours]}: speed relative to | " +
            " | ".join(HEADERS[p] for p in peers) + " |",
            "| --- |" + " --- |" * len(peers)]
    for name, _title, kind in WORKLOADS:
        if kind == "mib" or name.endswith("-sync") or (ours, name) not in data:
            continue
        if not any((p, name) in data for p in peers):
            continue
        cells = []
        for p in peers:
            mine, theirs = data[(ours, name)], data.get((p, name), {})
            ratios = [speed(kind, mine[r]) / speed(kind, theirs[r])
                      for r in mine if r in theirs and theirs[r] > 0 and mine[r] > 0]
            cells.append(spread(ratios) + "×" if ratios else "–")
        rows.append(f"| {titles[name]} | " + " | ".join(cells) + " |")
    return rows


def chart(data, systems, args):
    """Clustered bars: each system's median speed relative to the reference system."""
    ref = "local" if "local" in systems else systems[-1]
    names = [(n, k) for n, _t, k in WORKLOADS
             if k != "mib" and not n.endswith("-sync") and (ref, n) in data]
    if not names:
        return
    dat = os.path.join(args.out, "bench.dat")
    with open(dat, "w") as f:
        f.write("workload " + " ".join(f'"{HEADERS[s]}"' for s in systems) + "\n")
        for n, kind in names:
            ref_speed = statistics.median(speed(kind, v) for v in data[(ref, n)].values())
            cells = []
            for s in systems:
                runs = data.get((s, n))
                if runs:
                    med = statistics.median(speed(kind, v) for v in runs.values())
                    cells.append(f"{med / ref_speed:.4g}")
                else:
                    cells.append("-")
            f.write(n + " " + " ".join(cells) + "\n")
    plot = f"""
set terminal pngcairo size 1400,650 font "sans,10"
set output "{os.path.join(args.out, 'bench.png')}"
set title "Speed relative to {HEADERS[ref]}: median of {args.runs} run(s), higher is better"
set ylabel "log scale"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set termoption noenhanced
set grid ytics
set xtics rotate by -30 scale 0
set key outside right top
set datafile missing "-"
plot for [i=2:{len(systems) + 1}] "{dat}" using i:xtic(1) title columnheader(i)
"""
    subprocess.run(["gnuplot"], input=plot, text=True, check=True)
    os.remove(dat)


def micro_table(path):
    with open(path) as f:
        report = json.load(f)
    ops = collections.OrderedDict()
    for b in report["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        parts = b["run_name"].split("/")  # STEP/SIDE, then Google Benchmark's suffixes
        side = next((p for p in parts if p in ("shardfs", "raw")), None)
        if side is None:
            continue
        op = "/".join(parts[:parts.index(side)])
        if "bytes_per_second" in b:
            rate = f"{b['bytes_per_second'] / 1e6:,.0f} MB/s"
            value = b["bytes_per_second"]
        else:
            rate = f"{b['items_per_second'] / 1e6:,.2f} M/s"
            value = b["items_per_second"]
        ops.setdefault(op, {})[side] = (b.get("label", ""), rate, value)
    rows = ["| step | shardfs | per core | raw library | per core | shardfs / raw |",
            "| --- | --- | --- | --- | --- | --- |"]
    for op, sides in ops.items():
        ours, raw = sides.get("shardfs"), sides.get("raw")
        ratio = f"{ours[2] / raw[2]:.2f}" if ours and raw else "–"
        ours = ours or ("–", "–", 0)
        raw = raw or ("–", "–", 0)
        rows.append(f"| {op} | {ours[0]} | {ours[1]} | {raw[0]} | {raw[1]} | {ratio} |")
    ctx = report.get("context", {})
    rows.append("")
    rows.append(f"One thread, wall time, median of 3 repetitions each; {ctx.get('num_cpus', '?')} "
                f"CPUs at {ctx.get('mhz_per_cpu', '?')} MHz. The cache steps run on the disk "
                "under /var/tmp with the bytes in the page cache; a put includes LRU eviction "
                "at a full 256 MiB budget.")
    return rows


def main():
    args = parse_args()
    data = load(args.samples)
    systems = [s for s in SYSTEMS if any(k[0] == s for k in data)]
    titles = {n: t.format(size=f"{args.size_mib} MiB" if args.size_mib < 1024 else
                          f"{args.size_mib // 1024} GiB",
                          rand=f"{args.rand_mib} MiB", files=f"{args.files:,}", dirs=args.dirs,
                          tree=args.tree)
              for n, t, _k in WORKLOADS}
    lines = figures_table(data, systems, args, titles)
    peers = [p for p in PEERS if p in systems]
    for ours in (s for s in SHARDFS if s in systems):
        if peers:
            lines += ["", *ratio_table(data, ours, peers, titles)]
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    chart(data, systems, args)
    if args.micro:
        with open(os.path.join(args.out, "micro.md"), "w") as f:
            f.write("\n".join(micro_table(args.micro)) + "\n")


if __name__ == "__main__":
    main()
