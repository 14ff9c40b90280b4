#!/usr/bin/env bash
# Usage: check-thread-safety.sh BUILD_DIR [FILE.cc...]
#
# Clang's thread-safety analysis over the project's own sources (fs/, cli/, node/; not tests or
# bench): each translation unit of BUILD_DIR/compile_commands.json (the gcc build's) is parsed
# again by clang++ with -fsyntax-only -Wthread-safety, and any finding is an error. The
# annotations are those of fs/util/thread_annotations.h (GUARDED_BY, REQUIRES, EXCLUDES...) on
# util::Mutex. With FILE arguments, only those files are checked (with the repository's include
# path), which tests/thread_safety_test.sh uses to show that a breach is caught.
# Prints `thread safety ok (N files)` or clang's findings and exits 1.
set -euo pipefail
build=${1:?usage: check-thread-safety.sh BUILD_DIR [FILE.cc...]}
shift
root=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
clang=$(command -v clang++ || command -v clang++-14 || true)
[[ -n $clang ]] || { echo "check-thread-safety: clang++ is missing (scripts/install-deps.sh)" >&2; exit 2; }
flags=(-fsyntax-only -Wthread-safety -Werror=thread-safety)

list=$(mktemp)
trap 'rm -f "$list"' EXIT
if (($#)); then
  for f in "$@"; do
    printf '%s\0%s\0' "$PWD" "$clang -std=c++20 -I$root ${flags[*]} $f"
  done >"$list"
else
  [[ -f $build/compile_commands.json ]] ||
    { echo "check-thread-safety: no $build/compile_commands.json (build first)" >&2; exit 2; }
  # Each entry: its directory and the command, the compiler replaced by clang++, gcc's warning
  # and output flags dropped (only the analysis is wanted here).
  python3 - "$build/compile_commands.json" "$root" "$clang" "${flags[@]}" >"$list" <<'PY'
import json, shlex, sys
db, root, clang, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for e in json.load(open(db)):
    f = e["file"]
    if not any(f.startswith(f"{root}/{d}/") for d in ("fs", "cli", "node")):
        continue
    args = shlex.split(e["command"])[1:]
    out, skip = [clang], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT"):
            skip = True
            continue
        if a == "-MD" or a.startswith("-W") or a == "-pedantic":
            continue
        out.append(a)
    sys.stdout.write(e["directory"] + "\0" + shlex.join(out + flags) + "\0")
PY
fi
count=$(($(tr -cd '\0' <"$list" | wc -c) / 2))
if ! xargs -0 -n 2 -P "${JOBS:-2}" sh -c 'cd "$1" && eval "$2"' sh <"$list"; then
  echo "check-thread-safety: clang's thread-safety analysis found the problems above" >&2
  exit 1
fi
echo "thread safety ok ($count files)"
