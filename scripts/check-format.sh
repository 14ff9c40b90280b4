#!/usr/bin/env bash
# Checks that every C++ source (*.h, *.cc under fs cli node tests bench) matches .clang-format.
# Files are those git tracks plus untracked ones it does not ignore; outside a git work tree,
# every such file. Exits 1 naming the files to fix (`make format` fixes them).
set -euo pipefail

cd "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")"

DIRS=(fs cli node tests bench)

command -v clang-format >/dev/null 2>&1 ||
  { echo "check-format: clang-format not found; run scripts/install-deps.sh" >&2; exit 1; }

existing=()
for d in "${DIRS[@]}"; do
  [[ -d "$d" ]] && existing+=("$d")
done
if ((${#existing[@]} == 0)); then
  echo "format ok (0 files)"
  exit 0
fi

files=()
if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  while IFS= read -r -d '' f; do
    # ls-files also lists tracked files deleted from the work tree.
    [[ -f "$f" ]] && files+=("$f")
  done < <(git ls-files -z --cached --others --exclude-standard -- \
    "${existing[@]/%//*.h}" "${existing[@]/%//*.cc}" | sort -zu)
else
  while IFS= read -r -d '' f; do
    files+=("$f")
  done < <(find "${existing[@]}" -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
fi

bad=()
for f in "${files[@]}"; do
  if ! out=$(clang-format --dry-run --Werror "$f" 2>&1); then
    bad+=("$f")
    # The first diagnostic names the first offending line (or why clang-format failed).
    echo "${out%%$'\n'*}" >&2
  fi
done

if ((${#bad[@]} > 0)); then
  echo "check-format: ${#bad[@]} of ${#files[@]} files are not formatted per .clang-format:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "run 'make format' to fix them" >&2
  exit 1
fi
echo "format ok (${#files[@]} files)"
