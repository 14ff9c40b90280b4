#!/usr/bin/env bash
# scripts/check-layering.sh against a small tree of its own: one file per rule that crosses the
# layers, each of which it must name, and the same tree without them, which it must pass.
# Usage: layering_test.sh CHECK_LAYERING_SCRIPT
set -euo pipefail
check=${1:?path to check-layering.sh}
tree=$(mktemp -d /tmp/shardfs-layering-XXXXXX)
trap 'rm -rf "$tree"' EXIT
put() {  # put FILE INCLUDE...
  mkdir -p "$tree/$(dirname "$1")"
  local f=$tree/$1
  shift
  : >"$f"
  for inc in "$@"; do echo "#include $inc" >>"$f"; done
}
# Allowed: each layer including what it may.
put fs/util/a.h '<vector>'
put fs/cache/b.h '"fs/util/a.h"'
put fs/core/c.h '"fs/cache/b.h"' '"fs/util/a.h"' '"fs/core/d.h"'
put fs/core/d.h
put fs/fuse/e.cc '"fs/core/c.h"' '<fuse_lowlevel.h>'
put cli/drive/f.h '"fs/core/c.h"' '"fs/cache/b.h"'
put cli/g.cc '"cli/drive/f.h"' '"fs/fuse/e.h"'
put node/h.cc '"fs/util/a.h"'
out=$("$check" "$tree") || { echo "FAIL: a tree that keeps the rules was refused: $out"; exit 1; }
# Each of these crosses a layer.
bad=(
  'fs/util/x.h|"fs/core/c.h"|fs/util includes only fs/util'
  'fs/cache/x.h|"fs/remote/r.h"|fs/cache includes only fs/util and fs/cache'
  'fs/core/x.h|"fs/fuse/e.h"|fs/core never includes fs/fuse'
  'fs/core/y.h|"cli/g.h"|nothing under fs/ includes cli/ or node/'
  'fs/loose.cc|"fs/util/a.h"|fs/ holds folders only'
  'cli/drive/x.cc|"fs/fuse/e.h"|cli/drive includes only'
  'cli/x.cc|"node/h.h"|nothing under cli/ includes node/'
  'node/x.cc|"fs/core/c.h"|node/ includes only fs/util, fs/remote and node/'
  'fs/core/z.cc|<fuse_lowlevel.h>|only fs/fuse includes libfuse headers'
)
failures=0
for case in "${bad[@]}"; do
  IFS='|' read -r file inc rule <<<"$case"
  put "$file" "$inc"
  if out=$("$check" "$tree" 2>&1); then
    echo "FAIL: $file including $inc passed"
    failures=$((failures + 1))
  elif [[ $out != *"$file:1: $inc crosses the layers ($rule"* ]]; then
    echo "FAIL: $file including $inc: expected '$rule', got: $out"
    failures=$((failures + 1))
  fi
  rm "$tree/$file"
done
((failures == 0)) || exit 1
echo "layering rules: ${#bad[@]} crossings caught, the clean tree passed"
