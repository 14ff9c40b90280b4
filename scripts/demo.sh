#!/usr/bin/env bash
# Creates a demo drive named "demo" whose every file lives under ./demo in the repository:
# config (SHARDFS_CONFIG_DIR), a local directory store, the cache, a random password and the
# mnemonic; mounts it at ./demo/mnt and prints how to use and unmount it. Run again, it mounts
# the existing drive (or says it is mounted). `make demo` builds first; run alone, it uses
# $SHARDFS_BIN (default build/cli/shardfs).
set -euo pipefail

cd "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")"
umask 077  # the password, the mnemonic and the keyfile are secrets

SHARDFS=${SHARDFS_BIN:-build/cli/shardfs}
DRIVE=demo
export SHARDFS_CONFIG_DIR=$PWD/demo/config
# Where the CLI keeps a drive (fs/drive_paths.h): <config dir>/drives/<name>/.
drive_dir=$SHARDFS_CONFIG_DIR/drives/$DRIVE

die() {
  echo "demo: $*" >&2
  exit 1
}

[[ -x "$SHARDFS" ]] || die "$SHARDFS is not built; run 'make build' (or 'make demo')"
"$SHARDFS" init --help >/dev/null 2>&1 ||
  die "$SHARDFS has no working 'init' command in this build; nothing was created"

mnt=$PWD/demo/mnt
export SHARDFS_PASSWORD_FILE=$PWD/demo/password

if [[ ! -e "$drive_dir" ]]; then
  [[ ! -e demo/mnemonic.txt ]] ||
    die "demo/mnemonic.txt exists but the demo drive does not; remove the leftovers with 'rm -rf demo' and run again"
  mkdir -p demo
  [[ -s demo/password ]] || printf '%s\n' "$(head -c 24 /dev/urandom | base64)" >demo/password
  echo "Creating the demo drive (Argon2id takes a moment)..."
  "$SHARDFS" init "$DRIVE" --store "dir:$PWD/demo/store" --cache-dir "$PWD/demo/cache" \
    --cache-size 256M --mnemonic-out demo/mnemonic.txt >/dev/null
  [[ -f "$drive_dir/config.json" ]] || die "'$SHARDFS init' reported success but $drive_dir/config.json is missing"
  echo "Created the demo drive '$DRIVE'."
else
  echo "The demo drive already exists in $PWD/demo."
fi

mkdir -p "$mnt"
if findmnt -rn "$mnt" >/dev/null 2>&1; then
  echo "It is already mounted at $mnt."
else
  "$SHARDFS" mount "$DRIVE" "$mnt" || die "the mount failed (see the message above)"
  # A first file, so there is something to look at.
  [[ -e "$mnt/README.txt" ]] || cat >"$mnt/README.txt" <<'TXT'
This file lives on a shardfs drive: it was cut into blocks, each block encrypted with keys
from the drive's 24 words, and stored under demo/store as objects nobody can read without them.
TXT
fi

cat <<EOF

The demo drive '$DRIVE' is mounted at:
  $mnt
Use it like any directory: cp, rsync, editors, git, sqlite3...

Everything it has lives under $PWD/demo:
  config     demo/config/drives/$DRIVE/  (config.json and the password-wrapped keyfile)
  store      demo/store/        local directory store: the encrypted blocks go here
  cache      demo/cache/        local metadata and block cache, at most 256M
  password   demo/password      random password that unlocks the keyfile
  mnemonic   demo/mnemonic.txt  the 24 words that recover the drive (a demo: kept in plain text)

Unmount:     $SHARDFS unmount $mnt
Mount again: SHARDFS_CONFIG_DIR=$SHARDFS_CONFIG_DIR SHARDFS_PASSWORD_FILE=$SHARDFS_PASSWORD_FILE \\
               $SHARDFS mount $DRIVE $mnt
Remove it:   $SHARDFS unmount $mnt; rm -rf demo
EOF
