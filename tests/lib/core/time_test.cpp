// Tests of ctishare/time.h: STIX timestamps, durations and clocks.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "ctishare/time.h"

using namespace ctishare;
using Catch::Matchers::Contains;

namespace {

Timestamp ts(std::string_view text) {
  auto r = Timestamp::parse(text);
  if (!r) FAIL("parse failed: " << r.error().message());
  return *r;
}

}  // namespace

TEST_CASE("time: parse accepts STIX timestamps and keeps their text", "[core][time]") {
  const char* good[] = {
      "2016-01-20T12:31:12Z",
      "2016-01-20T12:31:12.1Z",
      "2016-01-20T12:31:12.123Z",
      "2016-01-20T12:31:12.000Z",
      "2016-01-20T12:31:12.1699798608Z",
      "2016-01-20T12:31:12.123456789012345Z",
      "2024-02-29T00:00:00Z",
      "2000-02-29T23:59:59Z",
      "0001-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999Z",
      "1970-01-01T00:00:00Z",
      "1969-12-31T23:59:59.5Z",
  };
  for (const char* text : good) {
    INFO(text);
    auto r = Timestamp::parse(text);
    REQUIRE(r);
    CHECK(r->to_string() == text);
  }
}

TEST_CASE("time: parse computes the instant and fraction", "[core][time]") {
  Timestamp t = ts("2016-01-20T12:31:12Z");
  CHECK(t.unix_seconds() == 1453293072);
  CHECK(t.fraction().empty());
  CHECK(t.precision() == 0);
  CHECK(t.nanos() == 0);

  Timestamp f = ts("2016-01-20T12:31:12.1699798608Z");
  CHECK(f.unix_seconds() == 1453293072);
  CHECK(f.fraction() == "1699798608");
  CHECK(f.precision() == 10);
  CHECK(f.nanos() == 169979860);

  CHECK(ts("2016-01-20T12:31:12.1Z").nanos() == 100000000);
  CHECK(ts("2016-01-20T12:31:12.123Z").nanos() == 123000000);
  CHECK(ts("1970-01-01T00:00:00Z").unix_seconds() == 0);
  CHECK(ts("1969-12-31T23:59:59Z").unix_seconds() == -1);
  CHECK(ts("2000-03-01T00:00:00Z").unix_seconds() == 951868800);
  CHECK(ts("0001-01-01T00:00:00Z").unix_seconds() == -62135596800);
  CHECK(ts("9999-12-31T23:59:59Z").unix_seconds() == 253402300799);
}

TEST_CASE("time: parse rejects what STIX does not allow", "[core][time]") {
  const char* bad[] = {
      "2016-01-20T12:31:12+01:00",   // offset
      "2016-01-20T12:31:12-05:00",   // offset
      "2016-01-20T12:31:12.5+00:00", // offset after fraction
      "2016-01-20T12:31:12z",        // lower-case z
      "2016-01-20T12:31:12",         // no Z
      "2016-01-20T12:31:12.123",     // no Z after fraction
      "2016-01-20T12:31:12.Z",       // point without digits
      "2016-01-20T12:31:12.",        // point without digits or Z
      "2016-01-20T12:31:12ZZ",       // trailing characters
      "2016-01-20T12:31:12Z ",       // trailing space
      " 2016-01-20T12:31:12Z",       // leading space
      "2016-01-20t12:31:12Z",        // lower-case t
      "2016-01-20 12:31:12Z",        // space separator
      "2016-01-20T12:31Z",           // no seconds
      "2016-1-20T12:31:12Z",         // short month
      "16-01-20T12:31:12Z",          // short year
      "2016/01/20T12:31:12Z",        // wrong separators
      "2016-01-20T12-31-12Z",        // wrong separators
      "2016-01-20T12:31:1aZ",        // non-digit
      "2023-02-30T00:00:00Z",        // Feb 30
      "2024-02-30T00:00:00Z",        // Feb 30 in a leap year
      "2023-02-29T00:00:00Z",        // not a leap year
      "1900-02-29T00:00:00Z",        // century, not a leap year
      "2016-04-31T00:00:00Z",        // April has 30 days
      "2016-01-32T00:00:00Z",
      "2016-01-00T00:00:00Z",
      "2016-13-01T00:00:00Z",
      "2016-00-01T00:00:00Z",
      "2016-12-31T23:59:60Z",        // leap second
      "2016-01-20T24:00:00Z",        // hour 24
      "2016-01-20T12:60:00Z",        // minute 60
      "0000-01-01T00:00:00Z",        // year 0
      "",
      "Z",
  };
  for (const char* text : bad) {
    INFO(text);
    auto r = Timestamp::parse(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::data);
    CHECK_THAT(r.error().message(), Contains(quote(text)));
  }
  CHECK_THAT(Timestamp::parse("2016-01-20T12:31:12+01:00").error().message(), Contains("UTC"));
  CHECK_THAT(Timestamp::parse("2016-12-31T23:59:60Z").error().message(), Contains("leap"));
}

TEST_CASE("time: comparison is by instant, whatever the precision", "[core][time]") {
  Timestamp a = ts("2016-01-20T12:31:00Z");
  Timestamp b = ts("2016-01-20T12:31:00.000Z");
  CHECK(a == b);
  CHECK(compare(a, b) == 0);
  CHECK_FALSE(a < b);
  CHECK(a <= b);
  CHECK(a.to_string() != b.to_string());  // each keeps its own text

  CHECK(ts("2016-01-20T12:31:00.1Z") == ts("2016-01-20T12:31:00.100000000000Z"));
  CHECK(ts("2016-01-20T12:31:00.09Z") < ts("2016-01-20T12:31:00.1Z"));
  CHECK(ts("2016-01-20T12:31:00.1Z") < ts("2016-01-20T12:31:00.11Z"));
  CHECK(ts("2016-01-20T12:31:00.11Z") > ts("2016-01-20T12:31:00.1Z"));
  CHECK(ts("2016-01-20T12:31:00Z") < ts("2016-01-20T12:31:00.0000000001Z"));
  // Whole seconds dominate the fraction.
  CHECK(ts("2016-01-20T12:31:00.999999999999Z") < ts("2016-01-20T12:31:01Z"));
  CHECK(ts("2016-01-20T12:31:01Z") > ts("2016-01-20T12:31:00.9Z"));
  CHECK(ts("2015-12-31T23:59:59.9Z") < ts("2016-01-01T00:00:00Z"));
  CHECK(compare(ts("2017-01-01T00:00:00Z"), ts("2016-01-01T00:00:00Z")) > 0);
  CHECK(compare(ts("2016-01-01T00:00:00Z"), ts("2017-01-01T00:00:00Z")) < 0);
  // Differing beyond nanoseconds still counts.
  CHECK(ts("2016-01-20T12:31:00.0000000001Z") < ts("2016-01-20T12:31:00.0000000002Z"));
}

TEST_CASE("time: with_min_precision and to_millis", "[core][time]") {
  CHECK(ts("2016-01-20T12:31:12Z").with_min_precision(3).to_string() == "2016-01-20T12:31:12.000Z");
  CHECK(ts("2016-01-20T12:31:12.1Z").with_min_precision(3).to_string() == "2016-01-20T12:31:12.100Z");
  CHECK(ts("2016-01-20T12:31:12.123Z").with_min_precision(3).to_string() == "2016-01-20T12:31:12.123Z");
  CHECK(ts("2016-01-20T12:31:12.12345Z").with_min_precision(3).to_string() == "2016-01-20T12:31:12.12345Z");
  CHECK(ts("2016-01-20T12:31:12.1Z").with_min_precision(0).to_string() == "2016-01-20T12:31:12.1Z");
  Timestamp t = ts("2016-01-20T12:31:12.5Z");
  CHECK(t.with_min_precision(6) == t);
  CHECK(t.with_min_precision(6).precision() == 6);

  CHECK(ts("2016-01-20T12:31:12Z").to_millis().to_string() == "2016-01-20T12:31:12.000Z");
  CHECK(ts("2016-01-20T12:31:12.1Z").to_millis().to_string() == "2016-01-20T12:31:12.100Z");
  CHECK(ts("2016-01-20T12:31:12.123456Z").to_millis().to_string() == "2016-01-20T12:31:12.123Z");
  // Truncated, never rounded (rounding would carry into the seconds).
  CHECK(ts("2016-01-20T12:31:59.9999Z").to_millis().to_string() == "2016-01-20T12:31:59.999Z");
}

TEST_CASE("time: plus_seconds crosses day, month and year boundaries", "[core][time]") {
  CHECK(ts("2016-01-20T23:59:59Z").plus_seconds(1).to_string() == "2016-01-21T00:00:00Z");
  CHECK(ts("2016-01-31T23:00:00.25Z").plus_seconds(3600).to_string() == "2016-02-01T00:00:00.25Z");
  CHECK(ts("2024-02-28T23:00:00Z").plus_seconds(3600).to_string() == "2024-02-29T00:00:00Z");
  CHECK(ts("2023-02-28T23:30:00Z").plus_seconds(1800).to_string() == "2023-03-01T00:00:00Z");
  CHECK(ts("2016-12-31T23:59:59.500Z").plus_seconds(1).to_string() == "2017-01-01T00:00:00.500Z");
  CHECK(ts("2017-01-01T00:00:00Z").plus_seconds(-1).to_string() == "2016-12-31T23:59:59Z");
  CHECK(ts("1970-01-01T00:00:00Z").plus_seconds(-86400).to_string() == "1969-12-31T00:00:00Z");
  CHECK(ts("2016-01-20T12:31:12Z").plus_seconds(90 * 86400).to_string() == "2016-04-19T12:31:12Z");
  CHECK(ts("2016-01-20T12:31:12Z").plus_seconds(0) == ts("2016-01-20T12:31:12Z"));
}

TEST_CASE("time: from_unix", "[core][time]") {
  CHECK(Timestamp::from_unix(0, 0, 0).to_string() == "1970-01-01T00:00:00Z");
  CHECK(Timestamp::from_unix(1453293072, 123456789, 3).to_string() == "2016-01-20T12:31:12.123Z");
  CHECK(Timestamp::from_unix(1453293072, 123456789, 9).to_string() == "2016-01-20T12:31:12.123456789Z");
  CHECK(Timestamp::from_unix(1453293072, 5000000, 3).to_string() == "2016-01-20T12:31:12.005Z");
  CHECK(Timestamp::from_unix(1453293072, 5000000, 1).to_string() == "2016-01-20T12:31:12.0Z");
  CHECK(Timestamp::from_unix(1453293072, 999999999, 0).to_string() == "2016-01-20T12:31:12Z");
  CHECK(Timestamp::from_unix(-1, 0, 0).to_string() == "1969-12-31T23:59:59Z");
  CHECK(Timestamp::from_unix(951782400, 0, 0).to_string() == "2000-02-29T00:00:00Z");
  Timestamp t = Timestamp::from_unix(1453293072, 120000000, 3);
  CHECK(t.unix_seconds() == 1453293072);
  CHECK(t.nanos() == 120000000);
  CHECK(t.precision() == 3);
  CHECK(t == ts("2016-01-20T12:31:12.12Z"));
}

TEST_CASE("time: parse_duration", "[core][time]") {
  const std::pair<const char*, std::int64_t> good[] = {
      {"7d", 604800}, {"1d12h", 129600}, {"2w", 1209600}, {"45s", 45}, {"30m", 1800},
      {"12h", 43200}, {"90d", 7776000}, {"1w1d1h1m1s", 694861}, {"0d1s", 1}, {"007s", 7},
  };
  for (const auto& [text, secs] : good) {
    INFO(text);
    auto r = parse_duration(text);
    REQUIRE(r);
    CHECK(*r == secs);
  }
  const char* bad[] = {"", "7", "7x", "0d", "0s0m", "d", "-1d", "1.5d", "1d 2h", " 1d", "1D", "1dd", "7d3",
                       "99999999999d"};
  for (const char* text : bad) {
    INFO("'" << text << "'");
    auto r = parse_duration(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::data);
  }
  CHECK_THAT(parse_duration("7x").error().message(), Contains("'x'"));
}

TEST_CASE("time: FixedClock and the system clock", "[core][time]") {
  const Timestamp t = ts("2020-05-05T05:05:05.555Z");
  FixedClock fixed(t);
  const Clock& clock = fixed;
  CHECK(clock.now() == t);
  CHECK(clock.now().to_string() == "2020-05-05T05:05:05.555Z");
  CHECK(clock.now() == clock.now());

  const Timestamp now = system_clock().now();
  CHECK(now.precision() == 3);
  const auto real = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  CHECK(now.unix_seconds() <= real);
  CHECK(now.unix_seconds() >= real - 5);
  CHECK(Timestamp::parse(now.to_string()));
}

TEST_CASE("next_version_time is now, or one millisecond after the last version", "[core][time]") {
  using ctishare::Timestamp;
  auto t = [](const char* s) { return *Timestamp::parse(s); };
  CHECK(ctishare::next_version_time(t("2026-11-29T04:00:00.000Z"), t("2026-11-30T04:00:00Z")).to_string() ==
        "2026-11-30T04:00:00.000Z");
  CHECK(ctishare::next_version_time(t("2026-11-29T04:00:00.000Z"), t("2026-11-29T04:00:00Z")).to_string() ==
        "2026-11-29T04:00:00.001Z");
  CHECK(ctishare::next_version_time(t("2026-11-29T04:00:00.9995Z"), t("2026-11-28T00:00:00Z")).to_string() ==
        "2026-11-29T04:00:01.000Z");
}

TEST_CASE("time: to_string writes every instant as printf would", "[core][time]") {
  // The reference: the instant's civil fields through printf.
  const auto reference = [](std::int64_t seconds) {
    std::int64_t days = seconds / 86400, rem = seconds % 86400;
    if (rem < 0) rem += 86400, --days;
    const std::int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    const auto y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, static_cast<int>(rem / 3600),
                  static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
    return std::string(buf);
  };
  std::uint64_t x = 88172645463325252ULL;  // xorshift: many instants, the same each run
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    // Years 0001 to 9999, and past 9999 (printf's own path).
    const auto span = static_cast<std::int64_t>(i % 10 == 0 ? 400000000000ULL : 315537897600ULL);
    const std::int64_t seconds = -62135596800 + static_cast<std::int64_t>(x % static_cast<std::uint64_t>(span));
    const Timestamp t = Timestamp::from_unix(seconds, 0, 0);
    INFO(seconds);
    REQUIRE(t.to_string() == reference(seconds));
  }
}
