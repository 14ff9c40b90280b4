// The parts of an S3 request target ("/bucket/key?query"): the decoded path split into bucket and
// key (path-style addressing), and the query parameters decoded. Pure; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "fs/util/result.h"

namespace shardfs::node {

struct Target {
  std::string path;                                // decoded, e.g. "/bucket/a b"
  std::string raw_query;                           // as received, without '?'
  std::string bucket;                              // "" for "/"
  std::string key;                                 // "" for bucket requests
  std::multimap<std::string, std::string> params;  // decoded

  bool Has(const std::string& name) const { return params.contains(name); }
  std::string Get(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

// kInvalid for a target that is not an absolute path, has a bad %-escape, or a NUL byte.
util::Result<Target> ParseTarget(std::string_view target);

}  // namespace shardfs::node
