// ProbeNodes: before a drive is mounted, asks each of its storage nodes one cheap signed question
// (list one key) in parallel, each within a short deadline and without retries, so that a mount
// at boot fails in seconds, naming the nodes, rather than hanging when too few are reachable to
// read anything. Blocking; thread-safe (it shares nothing).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "fs/core/drive_config.h"
#include "fs/remote/s3_store.h"
#include "fs/util/result.h"

namespace shardfs::drive {

// The S3 client options for one node of the list: endpoint, bucket, keys, region; the rest
// defaults.
remote::S3Options NodeS3Options(const core::NodeSpec& node);

// For a drive on nodes: kUnavailable naming every node that did not answer, and why, when fewer
// than k (erasure data count) answered; else the descriptions of the nodes that did not answer
// (empty when all did), for a warning. A drive on a dir: store has nothing to probe.
util::Result<std::vector<std::string>> ProbeNodes(const core::DriveConfig& config,
                                                  std::chrono::milliseconds timeout);

}  // namespace shardfs::drive
