// RFC 3339 timestamp parsing and formatting for STIX, and the clock seam.
#include "ctishare/time.h"

#include <chrono>
#include <cstdio>

namespace ctishare {

namespace {

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

Error bad(std::string_view text, std::string_view why) {
  return Error(ErrorCategory::data, "invalid timestamp " + quote(text) + ": " + std::string(why));
}

}  // namespace

Result<Timestamp> Timestamp::parse(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() < 20 || !digits(text, 0, 4, y) || text[4] != '-' || !digits(text, 5, 2, mo) ||
      text[7] != '-' || !digits(text, 8, 2, d) || text[10] != 'T' || !digits(text, 11, 2, h) ||
      text[13] != ':' || !digits(text, 14, 2, mi) || text[16] != ':' || !digits(text, 17, 2, s))
    return bad(text, "expected YYYY-MM-DDTHH:MM:SS[.s+]Z");
  std::size_t pos = 19;
  std::string fraction;
  if (text[pos] == '.') {
    ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') fraction += text[pos++];
    if (fraction.empty()) return bad(text, "a decimal point must be followed by digits");
  }
  if (pos >= text.size() || text[pos] != 'Z') {
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-' || text[pos] == 'z'))
      return bad(text, "STIX timestamps must be UTC with a literal 'Z'");
    return bad(text, "expected 'Z' after the seconds");
  }
  if (pos + 1 != text.size()) return bad(text, "unexpected characters after 'Z'");
  if (y < 1) return bad(text, "year out of range");
  if (mo < 1 || mo > 12) return bad(text, "month out of range");
  if (d < 1 || d > days_in_month(y, mo)) return bad(text, "day out of range for the month");
  if (h > 23) return bad(text, "hour out of range");
  if (mi > 59) return bad(text, "minute out of range");
  if (s > 59) return bad(text, "second out of range (leap seconds are not allowed)");
  Timestamp t;
  t.seconds_ = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
               mi * 60 + s;
  t.fraction_ = std::move(fraction);
  return t;
}

Timestamp Timestamp::from_unix(std::int64_t seconds, std::uint32_t nanos, int digits) {
  Timestamp t;
  t.seconds_ = seconds;
  if (digits > 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%09u", nanos % 1000000000U);
    t.fraction_.assign(buf, static_cast<std::size_t>(digits > 9 ? 9 : digits));
  }
  return t;
}

std::uint32_t Timestamp::nanos() const noexcept {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < 9; ++i) n = n * 10 + (i < fraction_.size() ? static_cast<std::uint32_t>(fraction_[i] - '0') : 0);
  return n;
}

std::string Timestamp::to_string() const {
  int y = 0;
  unsigned m = 0, d = 0;
  std::int64_t days = seconds_ / 86400;
  std::int64_t rem = seconds_ % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  civil_from_days(days, y, m, d);
  std::string out;
  out.reserve(21 + fraction_.size() + 1);
  if (y >= 0 && y <= 9999) {
    // "%04d-%02u-%02uT%02d:%02d:%02d" without printf (a feed has a million).
    char buf[19] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0', '0', ':', '0', '0', ':', '0', '0'};
    const auto put = [&](int at, int width, unsigned v) {
      for (int i = at + width - 1; i >= at; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
    };
    put(0, 4, static_cast<unsigned>(y));
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, static_cast<unsigned>(rem / 3600));
    put(14, 2, static_cast<unsigned>(rem / 60 % 60));
    put(17, 2, static_cast<unsigned>(rem % 60));
    out.append(buf, sizeof buf);
  } else {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", y, m, d, static_cast<int>(rem / 3600),
                  static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
    out = buf;
  }
  if (!fraction_.empty()) {
    out += '.';
    out += fraction_;
  }
  out += 'Z';
  return out;
}

Timestamp Timestamp::with_min_precision(int digits) const {
  Timestamp t = *this;
  if (t.precision() < digits) t.fraction_.append(static_cast<std::size_t>(digits - t.precision()), '0');
  return t;
}

Timestamp Timestamp::plus_seconds(std::int64_t seconds) const {
  Timestamp t = *this;
  t.seconds_ += seconds;
  return t;
}

Timestamp Timestamp::to_millis() const {
  Timestamp t = *this;
  t.fraction_.resize(3, '0');
  return t;
}

int compare(const Timestamp& a, const Timestamp& b) noexcept {
  if (a.seconds_ != b.seconds_) return a.seconds_ < b.seconds_ ? -1 : 1;
  const std::size_t n = std::max(a.fraction_.size(), b.fraction_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char ca = i < a.fraction_.size() ? a.fraction_[i] : '0';
    const char cb = i < b.fraction_.size() ? b.fraction_[i] : '0';
    if (ca != cb) return ca < cb ? -1 : 1;
  }
  return 0;
}

Timestamp next_version_time(const Timestamp& last, const Timestamp& now) {
  const Timestamp candidate = now.with_min_precision(3);
  if (last < candidate) return candidate;
  const Timestamp ms = last.to_millis();
  const std::uint32_t ns = ms.nanos() + 1000000U;
  return ns >= 1000000000U ? Timestamp::from_unix(ms.unix_seconds() + 1, ns - 1000000000U, 3)
                           : Timestamp::from_unix(ms.unix_seconds(), ns, 3);
}

Result<std::int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return Error(ErrorCategory::data, "empty duration");
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > 100'000'000) return Error(ErrorCategory::data, "duration " + quote(text) + " is too large");
      ++i;
    }
    if (i == start || i == text.size())
      return Error(ErrorCategory::data, "invalid duration " + quote(text) + ": expected a number and a unit (s, m, h, d, w)");
    std::int64_t unit = 0;
    switch (text[i]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: return Error(ErrorCategory::data, "invalid duration " + quote(text) + ": unknown unit " + quote(text.substr(i, 1)));
    }
    ++i;
    total += n * unit;
  }
  if (total <= 0) return Error(ErrorCategory::data, "duration " + quote(text) + " must be positive");
  return total;
}

namespace {
class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return Timestamp::from_unix(ns / 1000000000, static_cast<std::uint32_t>(ns % 1000000000), 3);
  }
};
}  // namespace

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace ctishare
