// STIX timestamps (RFC 3339, UTC, literal "Z") that keep the precision they
// were written with, and a clock seam so tests and --now can fix the time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ctishare/result.h"

namespace ctishare {

// A point in time with its fractional digits as written (0 to any number).
// Comparison is by instant; "…:00Z" and "…:00.000Z" compare equal but keep
// their own text.
class Timestamp {
 public:
  Timestamp() = default;

  // Parses YYYY-MM-DDTHH:MM:SS[.fraction]Z, as STIX 2.1 §2.16 allows: UTC
  // only, at least one digit after a decimal point, real calendar dates
  // (years 0001-9999), no leap second. Returns a data error naming what is
  // wrong otherwise.
  static Result<Timestamp> parse(std::string_view text);

  // From whole seconds since the Unix epoch plus nanoseconds, written with
  // `digits` fractional digits (0-9).
  static Timestamp from_unix(std::int64_t seconds, std::uint32_t nanos, int digits);

  std::int64_t unix_seconds() const noexcept { return seconds_; }
  // The fractional digits as written (possibly empty, possibly finer than
  // nanoseconds; comparison uses all of them).
  const std::string& fraction() const noexcept { return fraction_; }
  std::uint32_t nanos() const noexcept;
  int precision() const noexcept { return static_cast<int>(fraction_.size()); }

  // The timestamp exactly as written (or as constructed).
  std::string to_string() const;
  // The same instant with at least `digits` fractional digits (zeros added,
  // never removed): what STIX 2.1 requires for created/modified (digits = 3).
  Timestamp with_min_precision(int digits) const;
  // This instant plus a number of seconds (keeps precision).
  Timestamp plus_seconds(std::int64_t seconds) const;
  // Truncated to milliseconds, written with exactly 3 digits.
  Timestamp to_millis() const;

  friend int compare(const Timestamp& a, const Timestamp& b) noexcept;
  friend bool operator==(const Timestamp& a, const Timestamp& b) noexcept { return compare(a, b) == 0; }
  friend bool operator<(const Timestamp& a, const Timestamp& b) noexcept { return compare(a, b) < 0; }
  friend bool operator<=(const Timestamp& a, const Timestamp& b) noexcept { return compare(a, b) <= 0; }
  friend bool operator>(const Timestamp& a, const Timestamp& b) noexcept { return compare(a, b) > 0; }

 private:
  std::int64_t seconds_ = 0;  // since 1970-01-01T00:00:00Z
  std::string fraction_;      // digits after the point, as written
};

// The `modified` of a new version: `now` with at least millisecond
// precision, or one millisecond after `last` when the clock has not moved
// past it (STIX 2.1 §3.6: each version's modified is strictly later).
Timestamp next_version_time(const Timestamp& last, const Timestamp& now);

// Parses a duration such as "90d", "12h", "30m", "45s", "2w" or a sum
// "1d12h"; returns seconds, or a data error.
Result<std::int64_t> parse_duration(std::string_view text);

// The time source of the library. Tools pass a fixed clock for --now.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current time with millisecond precision.
  virtual Timestamp now() const = 0;
};

// The system clock.
const Clock& system_clock();

// A clock stuck at one instant (for --now and tests).
class FixedClock final : public Clock {
 public:
  explicit FixedClock(Timestamp t) : t_(std::move(t)) {}
  Timestamp now() const override { return t_; }

 private:
  Timestamp t_;
};

}  // namespace ctishare
