#include "node/s3_target.h"

#include "fs/remote/s3/sigv4.h"

namespace shardfs::node {

util::Result<Target> ParseTarget(std::string_view target) {
  using util::Errc;
  using util::MakeError;
  if (target.empty() || target.front() != '/') {
    return MakeError(Errc::kInvalid, "the request target is not an absolute path");
  }
  Target t;
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (q != std::string_view::npos) t.raw_query = std::string(target.substr(q + 1));
  SHARDFS_ASSIGN_OR_RETURN(t.path, remote::s3::UriDecode(raw_path, false));
  if (t.path.find('\0') != std::string::npos) {
    return MakeError(Errc::kInvalid, "the path contains a NUL byte");
  }
  size_t slash = t.path.find('/', 1);
  t.bucket = t.path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  if (slash != std::string::npos) t.key = t.path.substr(slash + 1);
  SHARDFS_ASSIGN_OR_RETURN(auto params, remote::s3::DecodeQuery(t.raw_query));
  for (auto& [name, value] : params) t.params.emplace(std::move(name), std::move(value));
  return t;
}

}  // namespace shardfs::node
