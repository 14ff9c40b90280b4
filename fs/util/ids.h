// Strong ids: distinct types for inode, node and drive numbers so one can never be passed where
// another is meant. Plain values; hashable and ordered.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace shardfs::util {

template <typename Tag, typename Rep>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  Rep value_{};
};

using InodeId = StrongId<struct InodeIdTag, uint64_t>;
using NodeId = StrongId<struct NodeIdTag, uint32_t>;
using BlockIndex = StrongId<struct BlockIndexTag, uint64_t>;

}  // namespace shardfs::util

template <typename Tag, typename Rep>
struct std::hash<shardfs::util::StrongId<Tag, Rep>> {
  size_t operator()(const shardfs::util::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};

#include <array>
#include <string>

namespace shardfs::util {

// A block object's id: 16 random bytes, fresh for every sealed block (blocks are immutable).
struct ObjectId {
  std::array<uint8_t, 16> bytes{};
  auto operator<=>(const ObjectId&) const = default;
  std::string Hex() const;
  static bool FromHex(std::string_view hex, ObjectId* out);
};

}  // namespace shardfs::util

template <>
struct std::hash<shardfs::util::ObjectId> {
  size_t operator()(const shardfs::util::ObjectId& id) const noexcept {
    size_t h = 0;
    for (int i = 0; i < 8; ++i) h = h << 8 | id.bytes[i];
    return h;
  }
};
