// The allowlist: CSV parsing, canonical forms, matching by type, expiry,
// and the vetoes it puts on trust-score's decisions.
#include <catch2/catch.hpp>

#include "ctishare/allowlist.h"
#include "ctishare/trust.h"

using namespace ctishare;
using namespace ctishare::trust;

namespace {

Timestamp at(const char* text) { return *Timestamp::parse(text); }

Allowlist load(const std::string& rows) {
  auto a = Allowlist::parse("type,value,reason,expires\n" + rows, "allow.csv");
  REQUIRE(a);
  return std::move(*a);
}

stix::Observable obs(const char* value) { return *stix::classify_observable(value); }

}  // namespace

TEST_CASE("allowlist: host, domain, cidr and url-prefix entries match what they cover", "[trust][allowlist]") {
  const Allowlist a = load(
      "host,Login.Partner.Example.,partner SSO,\n"
      "domain,bank.example,our sites,\n"
      "cidr,192.0.2.0/24,our range,\n"
      "cidr,2001:db8::/32,our v6,\n"
      "url-prefix,https://docs.example/shared/,\"shared, documents\",\n");
  const Timestamp now = at("2026-11-30T00:00:00Z");
  REQUIRE(a.size() == 5);
  CHECK(a.entries()[0].value == "login.partner.example");  // canonical
  CHECK(a.entries()[4].reason == "shared, documents");     // quoted field with a comma

  CHECK(a.match(obs("login.partner.example"), now) != nullptr);
  CHECK(a.match(obs("evil.login.partner.example"), now) == nullptr);  // host: exactly that host
  CHECK(a.match(obs("bank.example"), now) != nullptr);
  CHECK(a.match(obs("www.bank.example"), now) != nullptr);          // domain: and its subdomains
  CHECK(a.match(obs("notbank.example"), now) == nullptr);           // not a suffix match on text
  CHECK(a.match(obs("bank.example.evil.test"), now) == nullptr);
  CHECK(a.match(obs("192.0.2.77"), now) != nullptr);
  CHECK(a.match(obs("192.0.3.1"), now) == nullptr);
  CHECK(a.match(obs("2001:db8::1"), now) != nullptr);
  CHECK(a.match(obs("https://www.bank.example/login"), now) != nullptr);  // a URL on an allowlisted host
  CHECK(a.match(obs("http://192.0.2.5/x"), now) != nullptr);              // a URL on an allowlisted address
  CHECK(a.match(obs("https://docs.example/shared/a.pdf"), now) != nullptr);
  CHECK(a.match(obs("https://docs.example/private/a.pdf"), now) == nullptr);
}

TEST_CASE("allowlist: an expired entry no longer vetoes", "[trust][allowlist]") {
  const Allowlist a = load("domain,bank.example,campaign,2026-12-01T00:00:00Z\n");
  CHECK(a.match(obs("bank.example"), at("2026-11-30T23:59:59Z")) != nullptr);
  CHECK(a.match(obs("bank.example"), at("2026-12-01T00:00:00Z")) == nullptr);
}

TEST_CASE("allowlist: bad files are refused with the line", "[trust][allowlist]") {
  const auto error = [](const std::string& text) {
    auto a = Allowlist::parse(text, "allow.csv");
    REQUIRE_FALSE(a);
    CHECK(a.error().category() == ErrorCategory::data);
    return a.error().message();
  };
  CHECK(error("value,type,reason,expires\n").find("header") != std::string::npos);
  CHECK(error("type,value,reason,expires\nbogus,x,y,\n").find("line 2: unknown type 'bogus'") != std::string::npos);
  CHECK(error("type,value,reason,expires\ndomain,bank.example,,\n").find("needs a reason") != std::string::npos);
  CHECK(error("type,value,reason,expires\ndomain,bank.example,x,tomorrow\n").find("not a timestamp") != std::string::npos);
  CHECK(error("type,value,reason,expires\ncidr,300.1.1.1/8,x,\n").find("not an IPv4 or IPv6 network") != std::string::npos);
  CHECK(error("type,value,reason,expires\ndomain,bank.example,x\n").find("3 fields") != std::string::npos);
  CHECK(error("type,value,reason,expires\ndomain,\"bank.example,x,\n").find("not closed") != std::string::npos);
  // Blank lines and a spreadsheet's BOM are fine.
  CHECK(Allowlist::parse("\xEF\xBB\xBFtype,value,reason,expires\r\n\r\nhost,a.example,x,\r\n", "a.csv"));
}

TEST_CASE("observables_of_pattern: equality and IN values, canonical; refusals explained", "[trust][allowlist]") {
  std::vector<std::string> refused;
  auto o = observables_of_pattern(
      "[domain-name:value = 'Evil.Example'] OR [url:value IN ('http://a.test/x', 'http://b.test/')] OR "
      "[ipv4-addr:value ISSUBSET '198.51.100.0/24'] OR [domain-name:value = 'co.uk'] OR "
      "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E'] OR [email-addr:value = 'Fraud@Evil.Example'] OR "
      "[file:size = 5]",
      &refused);
  REQUIRE(o.size() == 6);
  CHECK(o[0].value == "evil.example");
  CHECK(o[1].type == stix::ObservableType::url);
  CHECK(o[3].type == stix::ObservableType::ipv4);
  CHECK(o[4].type == stix::ObservableType::md5);
  CHECK(o[4].value == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(o[5].type == stix::ObservableType::email);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].find("public suffix") != std::string::npos);
  CHECK(observables_of_pattern("not a pattern").empty());
}

TEST_CASE("assess: the allowlist and unblockable values veto any score", "[trust][allowlist]") {
  const Allowlist a = load("domain,bank.example,our sites,\n");
  const Timestamp now = at("2026-11-30T00:00:00Z");
  const auto indicator = [](const char* pattern) {
    auto o = stix::Object::from_json(*json::parse(std::string(R"({"type":"indicator","spec_version":"2.1",)") +
                                                  R"("id":"indicator--6fd1fc2b-5b5e-4a4d-8f1e-1d6b0bb0e6a1",)" +
                                                  R"("created":"2026-11-30T00:00:00.000Z","modified":"2026-11-30T00:00:00.000Z",)" +
                                                  R"("confidence":100,"pattern_type":"stix","valid_from":"2026-11-30T00:00:00Z",)" +
                                                  "\"pattern\":\"" + pattern + "\"}"));
    REQUIRE(o);
    return std::move(*o);
  };
  const Source cert{"cert", 1.0};
  auto blocked = assess(indicator("[domain-name:value = 'phish.example']"), cert, Policy::defaults(), now, &a);
  REQUIRE(blocked);
  CHECK(blocked->action == Action::block);
  auto vetoed = assess(indicator("[domain-name:value = 'login.bank.example']"), cert, Policy::defaults(), now, &a);
  REQUIRE(vetoed);
  CHECK(vetoed->action == Action::observe);
  CHECK(vetoed->score == 100);  // the arithmetic is untouched; the gate decides
  REQUIRE_FALSE(vetoed->reasons.empty());
  CHECK(vetoed->reasons.back().find("allowlisted: our sites (domain bank.example, line 2 of allow.csv)") == 0);
  auto suffix = assess(indicator("[domain-name:value = 'co.uk']"), cert, Policy::defaults(), now, nullptr);
  REQUIRE(suffix);
  CHECK(suffix->action == Action::observe);
  CHECK(suffix->reasons.front().find("never blocked") == 0);
}
