#include "fs/util/units.h"

#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace shardfs::util {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError(Errc::kInvalid,
                     fmt::format("'{}' is not a size ({}); write a number with an optional "
                                 "K, M, G or T suffix, as in 32M",
                                 text, why));
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string_view number = text.substr(0, i);
  std::string suffix(text.substr(i));
  if (number.empty()) return bad("no number");
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() >= 2 && suffix.substr(suffix.size() - 2) == "IB")
    suffix.resize(suffix.size() - 2);
  else if (suffix.size() >= 2 && suffix.back() == 'B')
    suffix.pop_back();
  else if (suffix == "B")
    suffix.clear();
  int shift = 0;
  if (suffix.empty())
    shift = 0;
  else if (suffix == "K")
    shift = 10;
  else if (suffix == "M")
    shift = 20;
  else if (suffix == "G")
    shift = 30;
  else if (suffix == "T")
    shift = 40;
  else if (suffix == "P")
    shift = 50;
  else
    return bad("unknown suffix");

  if (number.find('.') == std::string_view::npos) {
    uint64_t v = 0;
    for (char c : number) {
      if (v > (std::numeric_limits<uint64_t>::max() - 9) / 10) return bad("too large");
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (shift > 0 && v > (std::numeric_limits<uint64_t>::max() >> shift)) return bad("too large");
    return v << shift;
  }
  if (number.find('.') != number.rfind('.')) return bad("two decimal points");
  double d = std::strtod(std::string(number).c_str(), nullptr);
  double bytes = std::ldexp(d, shift);
  if (!(bytes < 1.8e19)) return bad("too large");
  if (bytes != std::floor(bytes)) return bad("not a whole number of bytes");
  return static_cast<uint64_t>(bytes);
}

std::string FormatSize(uint64_t bytes) {
  static constexpr const char* kSuffixes[] = {"P", "T", "G", "M", "K"};
  static constexpr int kShifts[] = {50, 40, 30, 20, 10};
  if (bytes == 0) return "0";
  for (int i = 0; i < 5; ++i) {
    uint64_t unit = uint64_t{1} << kShifts[i];
    if (bytes % unit == 0) return fmt::format("{}{}", bytes / unit, kSuffixes[i]);
  }
  return fmt::format("{}", bytes);
}

std::string HumanSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 6) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

}  // namespace shardfs::util
