// Errors as values. Every fallible library call returns Result<T> (or Status,
// which is Result<void>); the category of an Error decides the process exit
// code of the tool that reports it, following shared/CLI.md (sysexits.h).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ctishare {

// What kind of failure an Error is; each maps to one exit status.
enum class ErrorCategory {
  negative,        // 1: a negative answer (e.g. invalid objects found)
  usage,           // 64
  data,            // 65: bad input data, over a limit
  no_input,        // 66: input missing or unreadable
  unavailable,     // 69: remote service unavailable
  internal,        // 70: a bug
  cannot_create,   // 73: cannot create output
  io,              // 74: I/O error while reading or writing
  temp_fail,       // 75: temporary failure, safe to retry (lock held)
  protocol,        // 76: remote protocol error
  permission,      // 77: permission denied
  config,          // 78: configuration error
};

// The sysexits.h status for a category.
int exit_code(ErrorCategory category) noexcept;

// A failure: its category, a one-line message (lower-case start, no final
// period) and optional context naming the subject ('file', STIX id, line).
// Context is added on the way up with with_context(), never printed on the
// way down.
class [[nodiscard]] Error {
 public:
  Error(ErrorCategory category, std::string message)
      : category_(category), message_(std::move(message)) {}

  ErrorCategory category() const noexcept { return category_; }
  const std::string& message() const noexcept { return message_; }

  // Prefixes the message with a subject, e.g. "'in.csv': line 3: " + message.
  Error&& with_context(std::string_view context) &&;
  Error& with_context(std::string_view context) &;

 private:
  ErrorCategory category_;
  std::string message_;
};

// Quotes a subject for a message: 'name'.
std::string quote(std::string_view subject);

// A value or an Error, shaped like std::expected (absent from GCC 12).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error& error() & { assert(!has_value()); return std::get<1>(state_); }
  const Error& error() const& { assert(!has_value()); return std::get<1>(state_); }
  Error&& error() && { assert(!has_value()); return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }

  Error& error() & { assert(failed_); return error_; }
  const Error& error() const& { assert(failed_); return error_; }
  Error&& error() && { assert(failed_); return std::move(error_); }

 private:
  Error error_{ErrorCategory::internal, {}};
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace ctishare

// Returns the error of a failed Result from the enclosing function.
#define CTI_TRY_STATUS(expr)                                   \
  do {                                                         \
    auto cti_try_status_ = (expr);                             \
    if (!cti_try_status_) return std::move(cti_try_status_).error(); \
  } while (false)
