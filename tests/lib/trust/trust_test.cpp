// Tests of ctishare/trust.h (trust-score's model: pattern kinds, tiers, the
// decayed score, the gates, the assessment objects) and of the [source.NAME]
// and [scoring] tables of ctishare/config.h that feed it.
#include <catch2/catch.hpp>

#include <cmath>
#include <regex>
#include <set>
#include <string>

#include "ctishare/config.h"
#include "ctishare/json.h"
#include "ctishare/object.h"
#include "ctishare/time.h"
#include "ctishare/trust.h"

using namespace ctishare;
using namespace ctishare::trust;
using Catch::Matchers::Contains;

namespace {

constexpr const char* kIndicatorId = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
constexpr const char* kVersion = "2026-11-01T00:00:00.000Z";
constexpr const char* kIdentityId = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff";

Timestamp ts(const std::string& text) {
  auto t = Timestamp::parse(text);
  if (!t) FAIL("bad timestamp " << text << ": " << t.error().message());
  return *t;
}

// valid_from (2026-11-01T00:00:00Z) plus a number of days, possibly fractional.
Timestamp days_after_valid_from(double days) {
  const std::int64_t base = ts("2026-11-01T00:00:00Z").unix_seconds();
  return Timestamp::from_unix(base + static_cast<std::int64_t>(std::llround(days * 86400.0)), 0, 0);
}

// An indicator with `extra` members (JSON text without the braces, may be
// empty) after the common ones; `pattern` empty leaves it out.
stix::Object indicator(const std::string& pattern, const std::string& extra = "",
                       const std::string& valid_from = "2026-11-01T00:00:00Z") {
  std::string text = std::string(R"({"type":"indicator","spec_version":"2.1","id":")") + kIndicatorId +
                     R"(","created":")" + kVersion + R"(","modified":")" + kVersion + R"(")";
  if (!pattern.empty()) text += R"(,"pattern_type":"stix","pattern":)" + json::to_string(json::Value(pattern));
  if (!valid_from.empty()) text += R"(,"valid_from":")" + valid_from + R"(")";
  if (!extra.empty()) text += "," + extra;
  text += "}";
  auto v = json::parse(text);
  if (!v) FAIL("bad test JSON: " << v.error().message() << "\n" << text);
  auto o = stix::Object::from_json(std::move(*v));
  if (!o) FAIL("bad test object: " << o.error().message());
  return std::move(*o);
}

constexpr const char* kDomain = "[domain-name:value = 'secure-login.net']";
constexpr const char* kUrl = "[url:value = 'http://bit-verify.co/login']";
constexpr const char* kIp = "[ipv4-addr:value = '198.51.100.7']";
constexpr const char* kFile =
    "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']";
constexpr const char* kEmail = "[email-addr:value = 'billing@bit-verify.co']";
constexpr const char* kOther = "[process:name = 'evil.exe']";

Assessment assess_ok(const stix::Object& o, const Source& source, const Timestamp& now,
                     const Policy& policy = Policy::defaults()) {
  auto a = assess(o, source, policy, now);
  if (!a) FAIL("assess failed: " << a.error().message());
  return std::move(*a);
}

Error assess_error(const stix::Object& o, const Timestamp& now = days_after_valid_from(1)) {
  auto a = assess(o, Source{"cert", 1.0}, Policy::defaults(), now);
  if (a) FAIL("assess succeeded where it should fail");
  return a.error();
}

bool has_reason(const Assessment& a, const std::string& needle) {
  for (const auto& r : a.reasons)
    if (r.find(needle) != std::string::npos) return true;
  return false;
}

std::string reasons_of(const Assessment& a) {
  std::string s;
  for (const auto& r : a.reasons) s += "[" + r + "] ";
  return s;
}

// The hand formula of trust.h, unrounded.
double expected_score(double confidence, double trust, double age, double lifetime, double speed) {
  if (age >= lifetime) return 0;
  return confidence * trust * (1.0 - std::pow(age / lifetime, 1.0 / speed));
}

const std::regex kUuid4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

}  // namespace

TEST_CASE("kind_of_pattern: the type of the first comparison", "[trust]") {
  CHECK(kind_of_pattern(kUrl) == Kind::url);
  CHECK(kind_of_pattern(kDomain) == Kind::domain);
  CHECK(kind_of_pattern(kIp) == Kind::ip);
  CHECK(kind_of_pattern("[ipv6-addr:value = '2001:db8::1']") == Kind::ip);
  CHECK(kind_of_pattern("[ipv4-addr:value = '203.0.113.0/24']") == Kind::ip);
  CHECK(kind_of_pattern(kFile) == Kind::file);
  CHECK(kind_of_pattern("[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']") == Kind::file);
  CHECK(kind_of_pattern("[artifact:hashes.'SHA-1' = '3395856ce81f2b7382dee72602f798b642f14140']") == Kind::file);
  CHECK(kind_of_pattern(kEmail) == Kind::email);
  CHECK(kind_of_pattern("[email-message:from_ref.value = 'billing@bit-verify.co']") == Kind::email);
  CHECK(kind_of_pattern(kOther) == Kind::other);
  CHECK(kind_of_pattern("[x-custom:value = 'a']") == Kind::other);
  // The first comparison decides.
  CHECK(kind_of_pattern("[url:value = 'http://a.example/'] OR [domain-name:value = 'a.example']") == Kind::url);
  CHECK(kind_of_pattern("[domain-name:value = 'a.example'] AND [url:value = 'http://a.example/']") == Kind::domain);
  // Unparsable: other, never a crash.
  CHECK(kind_of_pattern("") == Kind::other);
  CHECK(kind_of_pattern("[[") == Kind::other);
  CHECK(kind_of_pattern("url:value = 'http://a.example/'") == Kind::other);
  CHECK(kind_of_pattern("[url:value = 'unterminated]") == Kind::other);
}

TEST_CASE("kind_name and action_name", "[trust]") {
  CHECK(kind_name(Kind::url) == "url");
  CHECK(kind_name(Kind::domain) == "domain");
  CHECK(kind_name(Kind::ip) == "ip");
  CHECK(kind_name(Kind::file) == "file");
  CHECK(kind_name(Kind::email) == "email");
  CHECK(kind_name(Kind::other) == "other");
  CHECK(action_name(Action::block) == "block");
  CHECK(action_name(Action::review) == "review");
  CHECK(action_name(Action::observe) == "observe");
}

TEST_CASE("tier_of: the trust tiers and their boundaries", "[trust]") {
  CHECK(tier_of(1.0) == "government");
  CHECK(tier_of(0.99) == "partner");
  CHECK(tier_of(0.8) == "partner");
  CHECK(tier_of(0.79) == "open-source");
  CHECK(tier_of(0.6) == "open-source");
  CHECK(tier_of(0.5) == "open-source");
  CHECK(tier_of(0.49) == "unverified");
  CHECK(tier_of(0.3) == "unverified");
  CHECK(tier_of(0.0) == "unverified");
}

TEST_CASE("Policy::defaults: the documented thresholds and decay per kind", "[trust]") {
  const Policy p = Policy::defaults();
  CHECK(p.block_threshold == 70);
  CHECK(p.review_threshold == 30);
  CHECK(p.floor == 5);
  CHECK(p.default_confidence == 50);
  CHECK(p.decay_of(Kind::url).lifetime_days == 7);
  CHECK(p.decay_of(Kind::domain).lifetime_days == 30);
  CHECK(p.decay_of(Kind::ip).lifetime_days == 3);
  CHECK(p.decay_of(Kind::file).lifetime_days == 180);
  CHECK(p.decay_of(Kind::email).lifetime_days == 30);
  CHECK(p.decay_of(Kind::other).lifetime_days == 90);
  for (Kind k : {Kind::url, Kind::domain, Kind::ip, Kind::file, Kind::email}) CHECK(p.decay_of(k).speed == 0.5);
  CHECK(p.decay_of(Kind::other).speed == 1);
  // A policy without an entry for a kind falls back to other's, then to 90 d linear.
  Policy partial;
  partial.decay = {{Kind::other, {10, 2}}};
  CHECK(partial.decay_of(Kind::url).lifetime_days == 10);
  Policy empty;
  CHECK(empty.decay_of(Kind::ip).lifetime_days == 90);
  CHECK(empty.decay_of(Kind::ip).speed == 1);
}

TEST_CASE("assess: the score is confidence × trust × decay, per kind's default decay", "[trust]") {
  const Source cert{"cert", 1.0};
  const Source partner{"partner-b", 0.8};

  SECTION("a domain (30 d, speed 0.5: 1 − (age/30)²)") {
    const auto o = indicator(kDomain, R"("confidence":90)");
    auto a = assess_ok(o, cert, days_after_valid_from(0));
    CHECK(a.kind == Kind::domain);
    CHECK(a.age_days == 0);
    CHECK(a.lifetime_days == 30);
    CHECK(a.speed == 0.5);
    CHECK(a.decay == 1);
    CHECK(a.score == 90);
    a = assess_ok(o, cert, days_after_valid_from(3));  // 1 − 0.01
    CHECK(a.age_days == Approx(3));
    CHECK(a.decay == Approx(0.99));
    CHECK(a.score == Approx(89.1));
    a = assess_ok(o, cert, days_after_valid_from(15));  // 1 − 0.25
    CHECK(a.decay == Approx(0.75));
    CHECK(a.score == Approx(67.5));
    a = assess_ok(o, partner, days_after_valid_from(15));  // 90 × 0.8 × 0.75
    CHECK(a.score == Approx(54));
    a = assess_ok(o, cert, days_after_valid_from(24));  // 1 − 0.64
    CHECK(a.score == Approx(32.4));
    a = assess_ok(o, cert, days_after_valid_from(7.5));  // half a day counts: 1 − 0.0625
    CHECK(a.age_days == Approx(7.5));
    CHECK(a.score == Approx(84.38));  // 84.375 rounded to 0.01
  }
  SECTION("a URL (7 d, speed 0.5)") {
    const auto o = indicator(kUrl, R"("confidence":80)");
    auto a = assess_ok(o, partner, days_after_valid_from(3.5));  // 80 × 0.8 × 0.75
    CHECK(a.kind == Kind::url);
    CHECK(a.lifetime_days == 7);
    CHECK(a.score == Approx(48));
    a = assess_ok(o, partner, days_after_valid_from(1));  // 64 × (1 − 1/49)
    CHECK(a.score == Approx(std::round(expected_score(80, 0.8, 1, 7, 0.5) * 100) / 100));
    CHECK(a.score == Approx(62.69));
  }
  SECTION("an IP address (3 d, speed 0.5)") {
    const auto o = indicator(kIp, R"("confidence":100)");
    auto a = assess_ok(o, cert, days_after_valid_from(1.5));
    CHECK(a.kind == Kind::ip);
    CHECK(a.score == Approx(75));
    a = assess_ok(o, cert, days_after_valid_from(2.7));  // 100 × (1 − 0.81)
    CHECK(a.score == Approx(19));
    const auto v6 = indicator("[ipv6-addr:value = '2001:db8::1']", R"("confidence":100)");
    CHECK(assess_ok(v6, cert, days_after_valid_from(1.5)).score == Approx(75));
  }
  SECTION("a file hash (180 d, speed 0.5)") {
    const auto o = indicator(kFile, R"("confidence":60)");
    auto a = assess_ok(o, cert, days_after_valid_from(90));
    CHECK(a.kind == Kind::file);
    CHECK(a.lifetime_days == 180);
    CHECK(a.score == Approx(45));
    a = assess_ok(o, cert, days_after_valid_from(36));  // 60 × (1 − 0.04)
    CHECK(a.score == Approx(57.6));
  }
  SECTION("an e-mail address (30 d, speed 0.5)") {
    const auto o = indicator(kEmail, R"("confidence":50)");
    auto a = assess_ok(o, cert, days_after_valid_from(6));  // 50 × (1 − 0.04)
    CHECK(a.kind == Kind::email);
    CHECK(a.score == Approx(48));
  }
  SECTION("anything else (90 d, linear)") {
    const auto o = indicator(kOther, R"("confidence":80)");
    auto a = assess_ok(o, cert, days_after_valid_from(45));
    CHECK(a.kind == Kind::other);
    CHECK(a.lifetime_days == 90);
    CHECK(a.speed == 1);
    CHECK(a.decay == Approx(0.5));
    CHECK(a.score == Approx(40));
    a = assess_ok(o, cert, days_after_valid_from(9));
    CHECK(a.score == Approx(72));
  }
  SECTION("the formula at many ages, against the hand computation") {
    const auto o = indicator(kDomain, R"("confidence":77)");
    for (double age : {0.0, 0.25, 1.0, 2.0, 5.0, 10.0, 12.5, 20.0, 29.0}) {
      const auto a = assess_ok(o, Source{"p", 0.6}, days_after_valid_from(age));
      INFO("age " << age);
      CHECK(a.score == Approx(expected_score(77, 0.6, age, 30, 0.5)).margin(0.005));
    }
  }
  SECTION("a policy's own decay") {
    Policy p = Policy::defaults();
    p.decay[Kind::domain] = Decay{10, 2};  // 1 − sqrt(age/10)
    const auto a = assess_ok(indicator(kDomain, R"("confidence":100)"), cert, days_after_valid_from(2.5), p);
    CHECK(a.lifetime_days == 10);
    CHECK(a.speed == 2);
    CHECK(a.score == Approx(50));
  }
}

TEST_CASE("assess: at and past the lifetime the score is 0", "[trust]") {
  const auto o = indicator(kDomain, R"("confidence":100)");
  for (double age : {30.0, 30.5, 45.0, 400.0}) {
    INFO("age " << age);
    const auto a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(age));
    CHECK(a.decay == 0);
    CHECK(a.score == 0);
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "decayed below the floor (5)"));
  }
  const auto url = assess_ok(indicator(kUrl, R"("confidence":100)"), Source{"cert", 1.0}, days_after_valid_from(7));
  CHECK(url.score == 0);
}

TEST_CASE("assess: valid_from in the future is age 0, with a reason", "[trust]") {
  const auto o = indicator(kDomain, R"("confidence":90)", "2026-12-10T00:00:00Z");
  const auto a = assess_ok(o, Source{"cert", 1.0}, ts("2026-12-01T04:20:00Z"));
  CHECK(a.age_days == 0);
  CHECK(a.decay == 1);
  CHECK(a.score == 90);
  CHECK(a.action == Action::block);
  CHECK(has_reason(a, "valid_from is in the future"));
  // Fractions of a second count: one millisecond ahead is still the future.
  const auto b = assess_ok(indicator(kDomain, R"("confidence":90)", "2026-12-01T04:20:00.001Z"), Source{"cert", 1.0},
                           ts("2026-12-01T04:20:00Z"));
  CHECK(b.age_days == 0);
  CHECK(has_reason(b, "valid_from is in the future"));
  const auto c = assess_ok(indicator(kDomain, R"("confidence":90)", "2026-12-01T04:20:00Z"), Source{"cert", 1.0},
                           ts("2026-12-01T04:20:00Z"));
  CHECK_FALSE(has_reason(c, "in the future"));
}

TEST_CASE("assess: the default confidence when the producer gave none", "[trust]") {
  const auto o = indicator(kDomain);
  auto a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(0));
  CHECK(a.confidence == 50);
  CHECK(a.confidence_defaulted);
  CHECK(a.score == 50);
  REQUIRE_FALSE(a.reasons.empty());
  CHECK(a.reasons.front() == "no confidence given: 50 assumed");
  CHECK(a.action == Action::review);

  Policy p = Policy::defaults();
  p.default_confidence = 20;
  a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(0), p);
  CHECK(a.confidence == 20);
  CHECK(a.reasons.front() == "no confidence given: 20 assumed");
  CHECK(a.action == Action::observe);

  const auto given = assess_ok(indicator(kDomain, R"("confidence":0)"), Source{"cert", 1.0}, days_after_valid_from(0));
  CHECK(given.confidence == 0);
  CHECK_FALSE(given.confidence_defaulted);
  CHECK_FALSE(has_reason(given, "no confidence"));
  CHECK(given.action == Action::observe);
}

TEST_CASE("assess: unusable values are data errors naming the property", "[trust]") {
  SECTION("confidence out of range or not an integer") {
    for (const char* c : {"150", "101", "-1", "50.5", "\"90\"", "true", "null", "1e3"}) {
      INFO("confidence " << c);
      const Error e = assess_error(indicator(kDomain, std::string(R"("confidence":)") + c));
      CHECK(e.category() == ErrorCategory::data);
      CHECK_THAT(e.message(), Contains("confidence is not an integer from 0 to 100"));
      CHECK_THAT(e.message(), Contains(kIndicatorId));
    }
    // Integers in another form are integers.
    CHECK(assess_ok(indicator(kDomain, R"("confidence":90.0)"), Source{"c", 1.0}, days_after_valid_from(0)).confidence ==
          90);
    CHECK(assess_ok(indicator(kDomain, R"("confidence":100)"), Source{"c", 1.0}, days_after_valid_from(0)).confidence ==
          100);
  }
  SECTION("no pattern") {
    const Error e = assess_error(indicator("", R"("confidence":90)"));
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("no pattern"));
  }
  SECTION("no valid_from, or not a timestamp") {
    Error e = assess_error(indicator(kDomain, R"("confidence":90)", ""));
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("no valid_from"));
    for (const char* bad : {"yesterday", "2026-11-01", "2026-13-01T00:00:00Z", "2026-11-01T00:00:00+01:00"}) {
      INFO("valid_from " << bad);
      e = assess_error(indicator(kDomain, R"("confidence":90)", bad));
      CHECK(e.category() == ErrorCategory::data);
      CHECK_THAT(e.message(), Contains("valid_from"));
    }
  }
  SECTION("valid_until not a timestamp") {
    const Error e = assess_error(indicator(kDomain, R"("confidence":90,"valid_until":"soon")"));
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("valid_until"));
  }
  SECTION("not an indicator") {
    auto v = json::parse(R"({"type":"malware","spec_version":"2.1","id":"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",)"
                         R"("created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z",)"
                         R"("name":"kit","is_family":true})");
    REQUIRE(v);
    auto o = stix::Object::from_json(std::move(*v));
    REQUIRE(o);
    const Error e = assess_error(*o);
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("not an indicator"));
    CHECK_THAT(e.message(), Contains("malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"));
  }
}

TEST_CASE("assess: the trust gates the arithmetic cannot pass", "[trust]") {
  const Timestamp fresh = days_after_valid_from(0);
  const auto full = indicator(kDomain, R"("confidence":100)");

  SECTION("trust 0.3: observe whatever the confidence") {
    auto a = assess_ok(full, Source{"osint", 0.3}, fresh);
    CHECK(a.score == 30);  // at the review threshold by the arithmetic
    CHECK(a.tier == "unverified");
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "source trust below 0.5: observe only, never blocked automatically"));
    // Even with thresholds that would block a score of 30.
    Policy lax = Policy::defaults();
    lax.block_threshold = 10;
    lax.review_threshold = 5;
    a = assess_ok(full, Source{"osint", 0.3}, fresh, lax);
    CHECK(a.action == Action::observe);
    a = assess_ok(full, Source{"osint", 0.49}, fresh, lax);
    CHECK(a.action == Action::observe);
  }
  SECTION("trust 0.6: review at most") {
    auto a = assess_ok(full, Source{"feed", 0.6}, fresh);
    CHECK(a.score == 60);
    CHECK(a.tier == "open-source");
    CHECK(a.action == Action::review);
    Policy lax = Policy::defaults();
    lax.block_threshold = 50;  // the arithmetic alone would block
    a = assess_ok(full, Source{"feed", 0.6}, fresh, lax);
    CHECK(a.action == Action::review);
    CHECK(has_reason(a, "source trust below 0.8: needs human review before blocking"));
    a = assess_ok(full, Source{"feed", 0.79}, fresh, lax);
    CHECK(a.action == Action::review);
    a = assess_ok(full, Source{"feed", 0.5}, fresh, lax);
    CHECK(a.action == Action::review);
    // Below the review threshold it stays observe.
    a = assess_ok(indicator(kDomain, R"("confidence":40)"), Source{"feed", 0.6}, fresh);
    CHECK(a.score == 24);
    CHECK(a.action == Action::observe);
  }
  SECTION("trust 0.8: block at the threshold, review just under it") {
    auto a = assess_ok(full, Source{"partner-b", 0.8}, fresh);
    CHECK(a.score == 80);
    CHECK(a.tier == "partner");
    CHECK(a.action == Action::block);
    CHECK(has_reason(a, "score at or above the block threshold (70)"));
    a = assess_ok(indicator(kDomain, R"("confidence":88)"), Source{"partner-b", 0.8}, fresh);  // 70.4
    CHECK(a.action == Action::block);
    a = assess_ok(indicator(kDomain, R"("confidence":87)"), Source{"partner-b", 0.8}, fresh);  // 69.6
    CHECK(a.score == Approx(69.6));
    CHECK(a.action == Action::review);
    CHECK(has_reason(a, "score between the review and block thresholds"));
    // Exactly at the threshold blocks.
    a = assess_ok(indicator(kDomain, R"("confidence":70)"), Source{"cert", 1.0}, fresh);
    CHECK(a.score == 70);
    CHECK(a.action == Action::block);
    a = assess_ok(indicator(kDomain, R"("confidence":30)"), Source{"cert", 1.0}, fresh);
    CHECK(a.action == Action::review);
    a = assess_ok(indicator(kDomain, R"("confidence":29)"), Source{"cert", 1.0}, fresh);
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "score below the review threshold (30)"));
  }
  SECTION("trust 1.0: block") {
    const auto a = assess_ok(indicator(kDomain, R"("confidence":90)"), Source{"cert", 1.0}, fresh);
    CHECK(a.tier == "government");
    CHECK(a.action == Action::block);
    // Age alone takes a fresh block down to review: 90 × (1 − (15/30)²) = 67.5.
    CHECK(assess_ok(indicator(kDomain, R"("confidence":90)"), Source{"cert", 1.0}, days_after_valid_from(15)).action ==
          Action::review);
  }
  SECTION("revoked: observe") {
    const auto a = assess_ok(indicator(kDomain, R"("confidence":100,"revoked":true)"), Source{"cert", 1.0}, fresh);
    CHECK(a.score == 100);
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "revoked by its producer"));
    const auto b = assess_ok(indicator(kDomain, R"("confidence":100,"revoked":false)"), Source{"cert", 1.0}, fresh);
    CHECK(b.action == Action::block);
  }
  SECTION("past valid_until: observe") {
    const auto o = indicator(kDomain, R"("confidence":100,"valid_until":"2026-11-02T00:00:00Z")");
    auto a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(1.5));
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "expired at valid_until 2026-11-02T00:00:00Z"));
    a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(1));  // at valid_until: no longer valid
    CHECK(a.action == Action::observe);
    a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(0.5));
    CHECK(a.action == Action::block);
    CHECK_FALSE(has_reason(a, "expired"));
  }
  SECTION("decayed below the floor: observe") {
    const auto o = indicator(kDomain, R"("confidence":90)");
    auto a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(29.5));  // 90 × (1 − 0.96694) = 2.98
    CHECK(a.score == Approx(2.98));
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "decayed below the floor (5)"));
    a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(29));  // 5.9: above the floor
    CHECK(a.score == Approx(5.9));
    CHECK_FALSE(has_reason(a, "floor"));
    Policy p = Policy::defaults();
    p.floor = 10;
    a = assess_ok(o, Source{"cert", 1.0}, days_after_valid_from(29), p);
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "decayed below the floor (10)"));
  }
  SECTION("custom thresholds are honoured") {
    Policy p = Policy::defaults();
    p.block_threshold = 90;
    p.review_threshold = 50;
    auto a = assess_ok(indicator(kDomain, R"("confidence":85)"), Source{"cert", 1.0}, fresh, p);
    CHECK(a.action == Action::review);
    a = assess_ok(indicator(kDomain, R"("confidence":90)"), Source{"cert", 1.0}, fresh, p);
    CHECK(a.action == Action::block);
    CHECK(has_reason(a, "score at or above the block threshold (90)"));
    a = assess_ok(indicator(kDomain, R"("confidence":49)"), Source{"cert", 1.0}, fresh, p);
    CHECK(a.action == Action::observe);
    CHECK(has_reason(a, "score below the review threshold (50)"));
    p.block_threshold = 62.5;
    a = assess_ok(indicator(kDomain, R"("confidence":63)"), Source{"cert", 1.0}, fresh, p);
    CHECK(a.action == Action::block);
    CHECK(has_reason(a, "(62.5)"));
  }
  SECTION("no gate raises an action") {
    // A revoked, expired, decayed indicator from a 0.3 source: observe, every reason kept.
    const auto o = indicator(kDomain, R"("confidence":100,"revoked":true,"valid_until":"2026-11-02T00:00:00Z")");
    const auto a = assess_ok(o, Source{"osint", 0.3}, days_after_valid_from(40));
    CHECK(a.action == Action::observe);
    INFO(reasons_of(a));
    CHECK(has_reason(a, "revoked"));
    CHECK(has_reason(a, "expired"));
  }
}

TEST_CASE("assess: the components are kept for --explain", "[trust]") {
  const auto o = indicator(kUrl, R"("confidence":80)");
  const auto a = assess_ok(o, Source{"partner-b", 0.8}, days_after_valid_from(3.5));
  CHECK(a.indicator_id == kIndicatorId);
  CHECK(a.indicator_version == kVersion);
  CHECK(a.pattern == kUrl);
  CHECK(a.source == "partner-b");
  CHECK(a.tier == "partner");
  CHECK(a.trust == 0.8);
  CHECK(a.confidence == 80);
  CHECK_FALSE(a.confidence_defaulted);
  CHECK(a.action == Action::review);
}

TEST_CASE("assessment_object: our SDO beside the indicator", "[trust]") {
  const auto o = indicator(kDomain, R"("confidence":90)");
  const Timestamp now = days_after_valid_from(15);
  const auto a = assess_ok(o, Source{"cert", 1.0}, now);
  const json::Value v = assessment_object(a, kIdentityId, now);
  REQUIRE(v.is_object());
  CHECK(v.find_string("type") == "x-ctishare-assessment");
  CHECK(v.find_string("spec_version") == "2.1");
  CHECK(v.find_string("created_by_ref") == kIdentityId);
  // created is the indicator version's time, so every run's assessment of
  // this version is a version of one object (STIX 2.1 §3.6); modified is now.
  CHECK(v.find_string("created") == kVersion);
  CHECK(v.find_string("modified") == "2026-11-16T00:00:00.000Z");
  const json::Value next_run = assessment_object(a, kIdentityId, days_after_valid_from(20));
  CHECK(next_run.find_string("id") == v.find_string("id"));
  CHECK(next_run.find_string("created") == v.find_string("created"));
  CHECK(next_run.find_string("modified") == "2026-11-21T00:00:00.000Z");
  CHECK(v.find_string("indicator_ref") == kIndicatorId);
  CHECK(v.find_string("indicator_version") == kVersion);
  CHECK(v.find_string("source") == "cert");
  CHECK(v.find_string("source_tier") == "government");
  CHECK(v.find_string("decision") == "review");
  CHECK(v.find("action") == nullptr);  // a reserved property name
  REQUIRE(v.find("score") != nullptr);
  CHECK(v.find("score")->as_number().text == "67.5");
  CHECK(v.find("source_trust")->as_number().text == "1");
  CHECK(v.find("producer_confidence")->as_number().text == "90");
  CHECK(v.find("decay")->as_number().text == "0.75");
  CHECK(v.find("age_days")->as_number().text == "15");
  CHECK(v.find_string("observable_kind") == "domain");
  REQUIRE(v.find("reasons") != nullptr);
  REQUIRE(v.find("reasons")->is_array());
  CHECK(v.find("reasons")->as_array().size() == a.reasons.size());

  const json::Value* ext = v.find("extensions");
  REQUIRE(ext != nullptr);
  REQUIRE(ext->is_object());
  REQUIRE(ext->as_object().size() == 1);
  const json::Value* entry = ext->find(extension_definition_id());
  REQUIRE(entry != nullptr);
  CHECK(entry->find_string("extension_type") == "new-sdo");

  // The id: UUIDv4 form, derived from (source, indicator id, version).
  const std::string id(*v.find_string("id"));
  REQUIRE(id.rfind("x-ctishare-assessment--", 0) == 0);
  CHECK(std::regex_match(id.substr(std::string("x-ctishare-assessment--").size()), kUuid4));
  CHECK(stix::Identifier::parse(id));

  SECTION("same inputs, same id; and the same object at the same time") {
    const auto again = assess_ok(o, Source{"cert", 1.0}, now);
    CHECK(json::to_string(assessment_object(again, kIdentityId, now)) == json::to_string(v));
    // A later run of the same version keeps the id.
    const Timestamp later = days_after_valid_from(20);
    const auto b = assess_ok(o, Source{"cert", 1.0}, later);
    CHECK(assessment_object(b, kIdentityId, later).find_string("id") == id);
  }
  SECTION("another source or version, another id") {
    const auto other_source = assess_ok(o, Source{"osint", 0.3}, now);
    CHECK(assessment_object(other_source, kIdentityId, now).find_string("id") != id);
    const auto v2 = indicator(kDomain, R"("confidence":90)");
    auto next = assess_ok(v2, Source{"cert", 1.0}, now);
    next.indicator_version = "2026-11-02T00:00:00.000Z";
    CHECK(assessment_object(next, kIdentityId, now).find_string("id") != id);
    auto other_indicator = assess_ok(o, Source{"cert", 1.0}, now);
    other_indicator.indicator_id = "indicator--1c1f0cf6-2a3a-4a55-8a4a-6a0c6c6f6b6e";
    CHECK(assessment_object(other_indicator, kIdentityId, now).find_string("id") != id);
  }
  SECTION("created and modified carry at least milliseconds") {
    const Timestamp precise = ts("2026-11-16T00:00:00.123456Z");
    const auto p = assessment_object(a, kIdentityId, precise);
    CHECK(p.find_string("modified") == "2026-11-16T00:00:00.123456Z");
  }
}

TEST_CASE("extension_definition: defines the new SDO, fixed times", "[trust]") {
  const json::Value d = extension_definition(kIdentityId);
  CHECK(d.find_string("type") == "extension-definition");
  CHECK(d.find_string("spec_version") == "2.1");
  CHECK(d.find_string("id") == extension_definition_id());
  CHECK(stix::Identifier::parse(extension_definition_id()));
  CHECK(d.find_string("created_by_ref") == kIdentityId);
  CHECK(d.find_string("created") == "2026-11-30T00:00:00.000Z");
  CHECK(d.find_string("modified") == "2026-11-30T00:00:00.000Z");
  REQUIRE(d.find_string("name"));
  REQUIRE(d.find_string("schema"));
  REQUIRE(d.find_string("version"));
  const json::Value* types = d.find("extension_types");
  REQUIRE(types != nullptr);
  REQUIRE(types->is_array());
  REQUIRE(types->as_array().size() == 1);
  CHECK(types->as_array()[0].as_string() == "new-sdo");
  CHECK(json::to_string(extension_definition(kIdentityId)) == json::to_string(d));
}

TEST_CASE("identity_object: one stable id per name", "[trust]") {
  const json::Value a = identity_object("Example Bank CERT", "organization");
  CHECK(a.find_string("type") == "identity");
  CHECK(a.find_string("name") == "Example Bank CERT");
  CHECK(a.find_string("identity_class") == "organization");
  CHECK(a.find_string("created") == "2026-11-30T00:00:00.000Z");
  CHECK(a.find_string("modified") == "2026-11-30T00:00:00.000Z");
  const std::string id(*a.find_string("id"));
  REQUIRE(id.rfind("identity--", 0) == 0);
  CHECK(std::regex_match(id.substr(10), kUuid4));
  CHECK(json::to_string(identity_object("Example Bank CERT", "organization")) == json::to_string(a));
  CHECK(identity_object("Other Bank", "organization").find_string("id") != id);
  CHECK(identity_object("ctishare", "organization").find_string("id") != id);
}

TEST_CASE("explain_line: one compact JSON object with every component", "[trust]") {
  const auto o = indicator(kUrl);
  const auto a = assess_ok(o, Source{"partner-b", 0.8}, days_after_valid_from(3.5));
  const std::string line = explain_line(a);
  CHECK(line.find('\n') == std::string::npos);
  auto v = json::parse(line);
  REQUIRE(v);
  REQUIRE(v->is_object());
  CHECK(v->find_string("indicator") == kIndicatorId);
  CHECK(v->find_string("version") == kVersion);
  CHECK(v->find_string("pattern") == kUrl);
  CHECK(v->find_string("kind") == "url");
  CHECK(v->find_string("source") == "partner-b");
  CHECK(v->find_string("tier") == "partner");
  CHECK(v->find("trust")->as_number().text == "0.8");
  CHECK(v->find("confidence")->as_number().text == "50");
  REQUIRE(v->find("confidence_defaulted") != nullptr);
  CHECK(v->find("confidence_defaulted")->as_bool());
  CHECK(v->find("age_days")->as_number().text == "3.5");
  CHECK(v->find("lifetime_days")->as_number().text == "7");
  CHECK(v->find("speed")->as_number().text == "0.5");
  CHECK(v->find("decay")->as_number().text == "0.75");
  CHECK(v->find("score")->as_number().text == "30");  // 50 × 0.8 × 0.75
  CHECK(v->find_string("action") == "review");
  REQUIRE(v->find("reasons") != nullptr);
  REQUIRE(v->find("reasons")->is_array());
  REQUIRE(v->find("reasons")->as_array().size() == 2);
  CHECK(v->find("reasons")->as_array()[0].as_string() == "no confidence given: 50 assumed");
  // The pattern is escaped, not broken out of.
  const auto tricky = assess_ok(indicator("[url:value = 'http://a.example/\"x\\\\y']"), Source{"s", 1.0},
                                days_after_valid_from(0));
  auto t = json::parse(explain_line(tricky));
  REQUIRE(t);
  CHECK(t->find_string("pattern") == "[url:value = 'http://a.example/\"x\\\\y']");
}

// ---------------------------------------------------------------------------
// The configuration trust-score reads.

namespace {

Config parse_ok(const std::string& text) {
  auto r = parse_config(text, "test.toml", "/base");
  if (!r) FAIL("parse_config failed: " << r.error().message());
  return std::move(r).value();
}

Error parse_error(const std::string& text) {
  auto r = parse_config(text, "test.toml", "/base");
  if (r) FAIL("parse_config accepted:\n" << text);
  return r.error();
}

}  // namespace

TEST_CASE("config: [source.NAME] tables", "[trust][config]") {
  SECTION("read with trust and description") {
    const Config c = parse_ok(
        "[source.osint]\ntrust = 0.3\ndescription = \"open lists\"\n"
        "[source.cert]\ntrust = 1\n"
        "[source.\"feeds.example\"]\ntrust = 0.6\n");
    REQUIRE(c.sources.size() == 3);
    CHECK(c.sources.at("osint").name == "osint");
    CHECK(c.sources.at("osint").trust == 0.3);
    CHECK(c.sources.at("osint").description == "open lists");
    CHECK(c.sources.at("cert").trust == 1.0);  // an integer is a number
    CHECK(c.sources.at("cert").description.empty());
    CHECK(c.sources.at("feeds.example").trust == 0.6);
    CHECK(c.partners.empty());
  }
  SECTION("beside partners, whose trust is read too") {
    const Config c = parse_ok(
        "[partner.partner-b]\nurl = \"https://taxii.b.example/api1/\"\ntrust = 0.8\n"
        "[partner.plain]\nurl = \"https://taxii.p.example/api1/\"\n"
        "[source.osint]\ntrust = 0.3\n");
    CHECK(c.partners.at("partner-b").trust == 0.8);
    CHECK(c.partners.at("plain").trust == 0.3);  // unverified unless the file says otherwise
    CHECK(c.sources.at("osint").trust == 0.3);
  }
  SECTION("no [source] at all") {
    CHECK(parse_ok("[identity]\nname = \"x\"\n").sources.empty());
  }
  SECTION("trust is required") {
    const Error e = parse_error("[source.osint]\ndescription = \"x\"\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains("'test.toml'"));
    CHECK_THAT(e.message(), Contains("[source.osint] needs trust"));
  }
  SECTION("trust from 0 to 1") {
    for (const char* bad : {"1.5", "-0.1", "\"high\"", "true", "80"}) {
      INFO("trust = " << bad);
      const Error e = parse_error(std::string("[source.osint]\ntrust = ") + bad + "\n");
      CHECK(e.category() == ErrorCategory::config);
      CHECK_THAT(e.message(), Contains("line 2"));
      CHECK_THAT(e.message(), Contains("source.osint.trust must be a number from 0 to 1"));
    }
    CHECK(parse_ok("[source.a]\ntrust = 0\n").sources.at("a").trust == 0);
    CHECK(parse_ok("[source.a]\ntrust = 1.0\n").sources.at("a").trust == 1);
  }
  SECTION("an unknown key") {
    const Error e = parse_error("[source.osint]\ntrust = 0.3\ntrsut = 0.8\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains("line 3"));
    CHECK_THAT(e.message(), Contains("unknown key 'source.osint.trsut'"));
  }
  SECTION("description must be a string") {
    const Error e = parse_error("[source.osint]\ntrust = 0.3\ndescription = 3\n");
    CHECK_THAT(e.message(), Contains("source.osint.description must be a string"));
  }
  SECTION("a name is a partner or a source, not both") {
    const Error e = parse_error(
        "[partner.cert-tw]\nurl = \"https://taxii.cert.example/api1/\"\ntrust = 1.0\n"
        "[source.cert-tw]\ntrust = 1.0\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains("[source.cert-tw] has the name of a partner"));
  }
  SECTION("[source] must hold tables") {
    CHECK_THAT(parse_error("source = 3\n").message(), Contains("[source] must hold [source.NAME] tables"));
    CHECK_THAT(parse_error("[source]\nosint = 0.3\n").message(), Contains("[source.osint] must be a table"));
  }
}

TEST_CASE("config: the [scoring] table", "[trust][config]") {
  SECTION("defaults without it") {
    const Config c = parse_ok("");
    CHECK(c.scoring.block_threshold == 70);
    CHECK(c.scoring.review_threshold == 30);
    CHECK(c.scoring.floor == 5);
    CHECK(c.scoring.default_confidence == 50);
    // The same as the model's own defaults.
    const Policy p = Policy::defaults();
    CHECK(c.scoring.block_threshold == p.block_threshold);
    CHECK(c.scoring.review_threshold == p.review_threshold);
    CHECK(c.scoring.floor == p.floor);
    CHECK(c.scoring.default_confidence == p.default_confidence);
  }
  SECTION("every key, integers and decimals") {
    const Config c = parse_ok(
        "[scoring]\nblock_threshold = 80\nreview_threshold = 40.5\nfloor = 0\ndefault_confidence = 100\n");
    CHECK(c.scoring.block_threshold == 80);
    CHECK(c.scoring.review_threshold == 40.5);
    CHECK(c.scoring.floor == 0);
    CHECK(c.scoring.default_confidence == 100);
  }
  SECTION("some keys, the rest default") {
    const Config c = parse_ok("[scoring]\nfloor = 10\n");
    CHECK(c.scoring.floor == 10);
    CHECK(c.scoring.block_threshold == 70);
  }
  SECTION("review equal to block is allowed") {
    const Config c = parse_ok("[scoring]\nblock_threshold = 50\nreview_threshold = 50\n");
    CHECK(c.scoring.review_threshold == 50);
  }
  SECTION("review above block is an error") {
    Error e = parse_error("[scoring]\nblock_threshold = 50\nreview_threshold = 60\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains("scoring.review_threshold is above scoring.block_threshold"));
    // Against the default block threshold too.
    e = parse_error("[scoring]\nreview_threshold = 75\n");
    CHECK_THAT(e.message(), Contains("review_threshold is above"));
  }
  SECTION("each key from 0 to 100") {
    for (const char* key : {"block_threshold", "review_threshold", "floor", "default_confidence"}) {
      for (const char* bad : {"101", "-1", "\"70\"", "true"}) {
        INFO(key << " = " << bad);
        const Error e = parse_error(std::string("[scoring]\n") + key + " = " + bad + "\n");
        CHECK(e.category() == ErrorCategory::config);
        CHECK_THAT(e.message(), Contains("line 2"));
        CHECK_THAT(e.message(), Contains(std::string("scoring.") + key + " must be a number from 0 to 100"));
      }
    }
  }
  SECTION("an unknown key") {
    const Error e = parse_error("[scoring]\nblock_threshold = 80\nblock = 90\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains("line 3"));
    CHECK_THAT(e.message(), Contains("unknown key 'scoring.block'"));
  }
}
