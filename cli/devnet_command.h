// `shardfs devnet up|down|status`: local storage nodes for trying shardfs out and for tests.
// `up` starts N shardfs-node processes on 127.0.0.1 (free ports, generated credentials, one
// data directory each under DIR) and writes DIR/nodes.conf, a node list `shardfs init --nodes`
// takes; `down` stops exactly the processes `up` started (pids and start times recorded in
// DIR/devnet.json, so a reused pid is never signalled); `status` shows each node's health.
#pragma once

#include <optional>
#include <string>

#include "fs/util/result.h"

namespace shardfs::cli {

struct DevnetOptions {
  std::string action;  // up, down, status
  int nodes = 6;
  std::optional<std::string> dir;       // default ~/.local/share/shardfs/devnet
  std::optional<std::string> node_bin;  // default: shardfs-node beside this program, else PATH
  std::string quota = "0";              // per node; 0 = unlimited
};

util::Status RunDevnet(const DevnetOptions& options);

}  // namespace shardfs::cli
