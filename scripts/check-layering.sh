#!/usr/bin/env bash
# Usage: check-layering.sh [ROOT]   (ROOT defaults to the repository holding this script)
#
# Enforces DESIGN.md's include direction, cli -> fs/fuse -> fs/core -> {fs/crypto, fs/cache,
# fs/remote} -> fs/util, on every C++ file under fs/, node/, cli/ and mount-helpers/:
#   fs/util                         includes only fs/util
#   fs/crypto, fs/cache, fs/remote  include only fs/util and their own folder
#   fs/core                         includes fs/util, the three leaves and fs/core; never fs/fuse
#   fs/fuse                         includes anything under fs/
#   any other fs/<dir>              treated as a leaf until a rule for it is added here
#   fs/ itself                      holds folders only: a file there belongs to no layer
#   cli/drive (the drive's wiring)  includes fs/util, the leaves, fs/core and cli/drive
#   cli/ (the programs)             includes fs/ and cli/
#   node/                           includes only fs/util, fs/remote and node/
#   nothing under fs/               includes cli/ or node/; nothing under cli/ includes node/
#   only fs/fuse                    includes libfuse headers (<fuse.h>, <fuse_lowlevel.h>, ...)
# tests/ and bench/ are not checked: tests may reach any layer (and libfuse, to test fs/fuse).
# Relative quoted includes ("x.h", "../cache/x.h") are resolved against the including file.
# Prints `file:line: <include> crosses the layers (<rule>)` per violation and exits 1,
# or prints `layering ok (N files)`.
set -euo pipefail

if (($# > 1)); then
  echo "usage: $0 [ROOT]" >&2
  exit 2
fi
ROOT=${1:-$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")}
if [[ ! -d "$ROOT/fs" ]]; then
  echo "check-layering: $ROOT has no fs/ folder; pass the repository root" >&2
  exit 2
fi
cd "$ROOT"

SCAN_DIRS=(fs node cli mount-helpers)
# First path components that name this repository's folders (so "fs/x.h" is ours, <x/y.h> is not).
REPO_DIRS="fs|cli|node|tests|bench|mount-helpers|packaging"
LEAVES="crypto|cache|remote"

# The layer a file belongs to: util, leaf:<name>, core, fuse, loose (a file in fs/ itself),
# drive, cli, node, app (mount helpers).
layer_of() {
  local f=$1
  case "$f" in
    fs/util/*) echo util ;;
    fs/fuse/*) echo fuse ;;
    fs/core/*) echo core ;;
    fs/*/*)
      local d=${f#fs/}
      echo "leaf:${d%%/*}"
      ;;
    fs/*) echo loose ;;
    cli/drive/*) echo drive ;;
    cli/*) echo cli ;;
    node/*) echo node ;;
    *) echo app ;;
  esac
}

is_libfuse_header() {
  [[ "$1" =~ ^(fuse3/.*|fuse|fuse_[A-Za-z0-9_]*|cuse_lowlevel)\.h$ ]]
}

# Prints the rule an include of repo path `target` from `layer` breaks, or nothing.
rule_broken() {
  local layer=$1 target=$2
  case "$layer:$target" in
    util:* | leaf:* | core:* | fuse:* | loose:*)
      if [[ "$target" == cli/* || "$target" == node/* ]]; then
        echo "nothing under fs/ includes cli/ or node/"
        return
      fi
      ;;
    drive:node/* | cli:node/*)
      echo "nothing under cli/ includes node/"
      return
      ;;
  esac
  case "$layer" in
    util)
      [[ "$target" == fs/util/* ]] || echo "fs/util includes only fs/util"
      ;;
    leaf:*)
      local own=${layer#leaf:}
      if [[ "$target" == fs/util/* || "$target" == "fs/$own/"* ]]; then
        return
      fi
      if [[ ! "$own" =~ ^($LEAVES)$ ]]; then
        echo "fs/$own is not a layer in DESIGN.md: it includes only fs/util and fs/$own until scripts/check-layering.sh gives it a rule"
      else
        echo "fs/$own includes only fs/util and fs/$own"
      fi
      ;;
    core)
      if [[ "$target" == fs/fuse/* ]]; then
        echo "fs/core never includes fs/fuse: fs/fuse sits above it"
      elif [[ ! "$target" =~ ^fs/(util|core|$LEAVES)/ ]]; then
        echo "fs/core includes only fs/util, fs/crypto, fs/cache, fs/remote and fs/core"
      fi
      ;;
    loose)
      echo "fs/ holds folders only: move this file into the layer it belongs to"
      ;;
    fuse)
      [[ "$target" == fs/* ]] || echo "fs/fuse includes only fs/"
      ;;
    drive)
      if [[ ! "$target" =~ ^(fs/(util|core|$LEAVES)|cli/drive)/ ]]; then
        echo "cli/drive includes only fs/util, the leaves, fs/core and cli/drive"
      fi
      ;;
    cli)
      [[ "$target" =~ ^(fs|cli)/ ]] || echo "cli/ includes only fs/ and cli/"
      ;;
    node)
      if [[ ! "$target" =~ ^(fs/util|fs/remote|node)/ ]]; then
        echo "node/ includes only fs/util, fs/remote and node/"
      fi
      ;;
  esac
}

files=()
for d in "${SCAN_DIRS[@]}"; do
  [[ -d "$d" ]] || continue
  while IFS= read -r -d '' f; do
    files+=("${f#./}")
  done < <(find "$d" -type f \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' \
    -o -name '*.cpp' -o -name '*.cxx' -o -name '*.inc' -o -name '*.ipp' \) -print0 | sort -z)
done

include_re='^[[:space:]]*#[[:space:]]*include(_next)?[[:space:]]*([<"])([^>"]+)[>"]'
violations=0
for f in "${files[@]}"; do
  layer=$(layer_of "$f")
  dir=$(dirname "$f")
  while IFS= read -r hit; do
    lineno=${hit%%:*}
    line=${hit#*:}
    [[ "$line" =~ $include_re ]] || continue
    open=${BASH_REMATCH[2]}
    inc=${BASH_REMATCH[3]}
    if [[ "$open" == '<' ]]; then
      written="<$inc>"
    else
      written="\"$inc\""
    fi
    rule=""
    if is_libfuse_header "$inc"; then
      [[ "$layer" == fuse ]] || rule="only fs/fuse includes libfuse headers"
    else
      target=$inc
      # A quoted include found beside the file wins over the repo root, as for the compiler.
      if [[ "$open" == '"' && -f "$dir/$inc" ]]; then
        target=$(realpath -ms --relative-to=. "$dir/$inc")
      fi
      if [[ "$target" =~ ^($REPO_DIRS)/ ]]; then
        rule=$(rule_broken "$layer" "$target")
      fi
    fi
    if [[ -n "$rule" ]]; then
      echo "$f:$lineno: $written crosses the layers ($rule)"
      violations=$((violations + 1))
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done

if ((violations > 0)); then
  echo "check-layering: $violations include(s) cross the layers; see DESIGN.md (Layout and who may know whom)" >&2
  exit 1
fi
echo "layering ok (${#files[@]} files)"
