// Status and Result<T>: how every expected failure in Retarget is reported.
//
// Expected failures (bad input, unknown ids, a refused plugin, I/O errors) are
// values, never exceptions, across the public API. Programmer errors are
// assertions. A Status carries a code and a plain-sentence message that
// already names the location (file:line:column) when there is one.
//
// Thread safety: plain values.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace retarget {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidInput,   // the user's input is wrong, or a file is missing or unreadable (exit code 2)
    kNotFound,       // an id that does not exist (exit code 1)
    kFailed,         // the request could not be carried out (exit code 1)
    kIoError,        // a file or store could not be read or written (exit code 1)
    kTimedOut,       // stopped at its deadline (limits.max_evaluation_time) or cancelled (exit code 1)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidInput(std::string msg) { return Status(Code::kInvalidInput, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Failed(std::string msg) { return Status(Code::kFailed, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status TimedOut(std::string msg) { return Status(Code::kTimedOut, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The command line's exit code for this status (formats.md): 0 ok, 2 bad
  // input (nothing applied), 1 every other failure (unknown id, refused, I/O).
  int exit_code() const {
    if (ok()) return 0;
    return code_ == Code::kInvalidInput ? 2 : 1;
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace retarget
