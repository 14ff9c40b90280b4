// Result<T>: a value or an Error (an Errc plus a message for people and logs). Status is
// Result<void>. Reading the value of an error aborts (SHARDFS_CHECK): check ok() first or use
// SHARDFS_TRY / SHARDFS_ASSIGN_OR_RETURN. Plain value type; not synchronized.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "fs/util/check.h"
#include "fs/util/errc.h"

namespace shardfs::util {

struct Error {
  Errc code = Errc::kInternal;
  std::string message;

  // "context: message", keeping the code. For adding what the caller was doing.
  Error WithContext(std::string_view context) const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    SHARDFS_CHECK(ok(), "value() of an error Result");
    return std::get<0>(v_);
  }
  const T& value() const& {
    SHARDFS_CHECK(ok(), "value() of an error Result");
    return std::get<0>(v_);
  }
  T&& value() && {
    SHARDFS_CHECK(ok(), "value() of an error Result");
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    SHARDFS_CHECK(!ok(), "error() of an ok Result");
    return std::get<1>(v_);
  }
  // kOk for a value, so `r.code() == Errc::kNotFound` reads naturally.
  Errc code() const { return ok() ? Errc::kOk : error().code; }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    SHARDFS_CHECK(!ok_, "error() of an ok Status");
    return error_;
  }
  Errc code() const { return ok_ ? Errc::kOk : error_.code; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status Ok() { return Status(); }
inline Error MakeError(Errc code, std::string message) { return Error{code, std::move(message)}; }

// Passes an error up with some context added.
template <typename T>
Error Context(const Result<T>& r, std::string_view context) {
  return r.error().WithContext(context);
}

}  // namespace shardfs::util

#define SHARDFS_CONCAT_INNER(a, b) a##b
#define SHARDFS_CONCAT(a, b) SHARDFS_CONCAT_INNER(a, b)

// Returns the error of a Status/Result expression from the enclosing function.
#define SHARDFS_TRY(expr)                                            \
  do {                                                               \
    auto&& shardfs_try_result = (expr);                              \
    if (!shardfs_try_result.ok()) return shardfs_try_result.error(); \
  } while (false)

// `SHARDFS_ASSIGN_OR_RETURN(auto x, Foo());` declares x from Foo()'s value, or returns its error.
#define SHARDFS_ASSIGN_OR_RETURN(lhs, expr) \
  SHARDFS_ASSIGN_OR_RETURN_IMPL(SHARDFS_CONCAT(shardfs_result_, __LINE__), lhs, expr)
#define SHARDFS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.error();                  \
  lhs = std::move(tmp).value()
