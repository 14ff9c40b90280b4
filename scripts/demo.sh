#!/usr/bin/env bash
# Creates a demo drive named "demo" whose every file lives under ./demo in the repository:
# config (SHARDFS_CONFIG_DIR), a local directory store, the cache, a random password and the
# mnemonic. Run again, it shows the existing drive instead. `make demo` builds first; run
# alone, it uses $SHARDFS_BIN (default build/cli/shardfs). Nothing is mounted yet: mounting
# arrives with the filesystem (FUSE) issue.
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

if [[ -e "$drive_dir" ]]; then
  echo "The demo drive already exists in $PWD/demo; here it is ('$SHARDFS info $DRIVE'):"
  echo
  "$SHARDFS" info "$DRIVE" ||
    die "'$SHARDFS info $DRIVE' failed on the existing demo drive; remove it with 'rm -rf demo' and run again"
  echo
  echo "To start over, remove it with: rm -rf demo"
  exit 0
fi

# init never overwrites a mnemonic file; one without a drive is a leftover of a manual run.
[[ ! -e demo/mnemonic.txt ]] ||
  die "demo/mnemonic.txt exists but the demo drive does not; remove the leftovers with 'rm -rf demo' and run again"

mkdir -p demo
if [[ ! -s demo/password ]]; then
  # 24 random bytes, base64: 32 printable characters.
  printf '%s\n' "$(head -c 24 /dev/urandom | base64)" >demo/password
fi

echo "Creating the demo drive (Argon2id takes a moment)..."
"$SHARDFS" init "$DRIVE" --store "dir:$PWD/demo/store" --cache-dir "$PWD/demo/cache" \
  --cache-size 256M --password-file demo/password --mnemonic-out demo/mnemonic.txt
[[ -f "$drive_dir/config.json" ]] ||
  die "'$SHARDFS init' reported success but $drive_dir/config.json is missing; nothing to show"

cat <<EOF

Created the demo drive '$DRIVE'. Everything it has lives under $PWD/demo:
  config     demo/config/drives/$DRIVE/  (config.json and the password-wrapped keyfile)
  store      demo/store/     local directory store: the encrypted shards go here
  cache      demo/cache/     local cache, at most 256M
  password   demo/password   random password that unlocks the keyfile
  mnemonic   demo/mnemonic.txt  the 24 words that recover the drive (a demo: kept in plain text)
Show it:   SHARDFS_CONFIG_DIR=$SHARDFS_CONFIG_DIR $SHARDFS info $DRIVE
Remove it: rm -rf demo

Mounting is not there yet: it arrives with the filesystem (FUSE) issue, and so does
putting files in this drive.
EOF
