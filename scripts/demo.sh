#!/usr/bin/env bash
# Starts a devnet of 6 local storage nodes (shardfs-node on 127.0.0.1) and creates a demo
# drive named "demo" erasure-coded 4+2 over them, every file under ./demo in the repository:
# config (SHARDFS_CONFIG_DIR), the nodes' data, the cache, a random password and the mnemonic;
# mounts it at ./demo/mnt and prints how to use, inspect and unmount it. Run again, it restarts
# nodes that are down and mounts the existing drive (or says it is mounted). `make demo` builds
# first; run alone, it uses $SHARDFS_BIN (default build/cli/shardfs) and $SHARDFS_NODE_BIN
# (default build/node/shardfs-node).
set -euo pipefail

cd "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")"
umask 077  # the password, the mnemonic and the keyfile are secrets

SHARDFS=${SHARDFS_BIN:-build/cli/shardfs}
NODE_BIN=${SHARDFS_NODE_BIN:-build/node/shardfs-node}
DRIVE=demo
export SHARDFS_CONFIG_DIR=$PWD/demo/config
# Where the CLI keeps a drive (cli/drive/drive_paths.h): <config dir>/drives/<name>/.
drive_dir=$SHARDFS_CONFIG_DIR/drives/$DRIVE

die() {
  echo "demo: $*" >&2
  exit 1
}

[[ -x "$SHARDFS" ]] || die "$SHARDFS is not built; run 'make build' (or 'make demo')"
[[ -x "$NODE_BIN" ]] || die "$NODE_BIN is not built; run 'make build' (or 'make demo')"
"$SHARDFS" init --help >/dev/null 2>&1 ||
  die "$SHARDFS has no working 'init' command in this build; nothing was created"

mnt=$PWD/demo/mnt
export SHARDFS_PASSWORD_FILE=$PWD/demo/password

mkdir -p demo
echo "Starting the devnet: 6 storage nodes on 127.0.0.1..."
"$SHARDFS" devnet up --nodes 6 --dir "$PWD/demo/devnet" --node-bin "$NODE_BIN" >/dev/null ||
  die "the devnet did not start (see the message above)"

if [[ ! -e "$drive_dir" ]]; then
  [[ ! -e demo/mnemonic.txt ]] ||
    die "demo/mnemonic.txt exists but the demo drive does not; remove the leftovers with 'rm -rf demo' and run again"
  mkdir -p demo
  [[ -s demo/password ]] || printf '%s\n' "$(head -c 24 /dev/urandom | base64)" >demo/password
  echo "Creating the demo drive (Argon2id takes a moment)..."
  "$SHARDFS" init "$DRIVE" --nodes "$PWD/demo/devnet/nodes.conf" --ec 4+2 \
    --cache-dir "$PWD/demo/cache" --cache-size 256M --mnemonic-out demo/mnemonic.txt >/dev/null
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
from the drive's 24 words, erasure-coded into 6 shards (any 4 rebuild a block) and spread over
6 storage nodes (demo/devnet/node*/data) that can neither read them nor tell what they belong to.
TXT
fi

cat <<EOF

The demo drive '$DRIVE' is mounted at:
  $mnt
Use it like any directory: cp, rsync, editors, git, sqlite3...

Everything it has lives under $PWD/demo:
  config     demo/config/drives/$DRIVE/  (config.json and the password-wrapped keyfile)
  devnet     demo/devnet/       6 storage nodes: data, logs, nodes.conf (the node list)
  cache      demo/cache/        local metadata and block cache, at most 256M
  password   demo/password      random password that unlocks the keyfile
  mnemonic   demo/mnemonic.txt  the 24 words that recover the drive (a demo: kept in plain text)

Inspect:     $SHARDFS status $mnt        (uploads waiting, cache, each node's health)
Wait:        $SHARDFS sync $mnt          (until everything written is on the nodes)
Nodes:       $SHARDFS devnet status --dir $PWD/demo/devnet
Unmount:     $SHARDFS unmount $mnt
Stop nodes:  $SHARDFS devnet down --dir $PWD/demo/devnet   (after unmounting)
Mount again: SHARDFS_CONFIG_DIR=$SHARDFS_CONFIG_DIR SHARDFS_PASSWORD_FILE=$SHARDFS_PASSWORD_FILE \\
               $SHARDFS mount $DRIVE $mnt
Remove it:   $SHARDFS unmount $mnt; $SHARDFS devnet down --dir $PWD/demo/devnet; rm -rf demo
EOF
