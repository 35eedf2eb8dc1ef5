// Exit-code mapping and message helpers for ctishare::Error.
#include "ctishare/result.h"

namespace ctishare {

int exit_code(ErrorCategory category) noexcept {
  switch (category) {
    case ErrorCategory::negative: return 1;
    case ErrorCategory::usage: return 64;
    case ErrorCategory::data: return 65;
    case ErrorCategory::no_input: return 66;
    case ErrorCategory::unavailable: return 69;
    case ErrorCategory::internal: return 70;
    case ErrorCategory::cannot_create: return 73;
    case ErrorCategory::io: return 74;
    case ErrorCategory::temp_fail: return 75;
    case ErrorCategory::protocol: return 76;
    case ErrorCategory::permission: return 77;
    case ErrorCategory::config: return 78;
  }
  return 70;
}

Error& Error::with_context(std::string_view context) & {
  if (!context.empty()) message_ = std::string(context) + ": " + message_;
  return *this;
}

Error&& Error::with_context(std::string_view context) && {
  with_context(context);
  return std::move(*this);
}

std::string quote(std::string_view subject) {
  std::string out;
  out.reserve(subject.size() + 2);
  out += '\'';
  out += subject;
  out += '\'';
  return out;
}

}  // namespace ctishare
