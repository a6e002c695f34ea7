#pragma once
// Status / Result for data-path code. Exceptions are reserved for configuration and
// start-up failures; everything that can fail per record or per I/O call returns these.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace sw {

class [[nodiscard]] Status {
 public:
  enum class Code { kOk, kInvalid, kIo, kCorruption, kNotFound, kUnavailable, kInternal };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
  static Status io(std::string m) { return Status(Code::kIo, std::move(m)); }
  static Status corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status not_found(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
  //! Corruption for a checkpoint record of a state version this build does not read: names
  //! both versions and the fix (an empty state.dir and a replay of the input).
  static Status state_version(const std::string& what, const std::string& found,
                              const std::string& reads) {
    return corruption(what + "state version " + found +
                      " was written by another shelfwatch build; this build reads version " +
                      reads + " only: point state.dir at an empty directory and replay the input");
  }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;
  //! Marks a deliberately ignored status so error swallowing can be found with grep.
  void permit_unchecked() const {}

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status s) : v_(std::move(s)) {}     // NOLINT(google-explicit-constructor)
  bool is_ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  Status status() const { return is_ok() ? Status::ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* msg);

}  // namespace sw

//! Always-on invariant check (also in release builds): logs and aborts.
#define SW_CHECK(cond, msg)                                          \
  do {                                                               \
    if (!(cond)) ::sw::check_failed(#cond, __FILE__, __LINE__, msg); \
  } while (0)

#define SW_RETURN_IF_ERROR(expr)      \
  do {                                \
    ::sw::Status sw_s_ = (expr);      \
    if (!sw_s_.is_ok()) return sw_s_; \
  } while (0)
