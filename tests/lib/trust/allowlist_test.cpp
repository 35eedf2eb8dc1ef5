// The allowlist: CSV parsing, canonical forms, matching by type, expiry,
// and the vetoes it puts on trust-score's decisions.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <array>
#include <cstdint>

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

TEST_CASE("allowlist: the first live entry in file order covers, whatever its type", "[trust][allowlist]") {
  const Allowlist a = load(
      "host,www.bank.example,first,2026-12-01T00:00:00Z\n"      // line 2
      "domain,bank.example,second,\n"                           // line 3
      "host,www.bank.example,third,\n"                          // line 4
      "domain,www.bank.example,fourth,\n"                       // line 5
      "cidr,192.0.2.0/24,wide,\n"                               // line 6
      "cidr,192.0.2.0/25,narrow,\n"                             // line 7
      "url-prefix,https://docs.example/,prefix,\n"              // line 8
      "domain,docs.example,name,\n"                             // line 9
      "url-prefix,https://app.example:8443/private/,port,\n");  // line 10
  const Timestamp before = at("2026-11-30T00:00:00Z"), after = at("2026-12-02T00:00:00Z");
  const auto line = [&](const char* value, const Timestamp& now) {
    const AllowEntry* e = a.match(obs(value), now);
    return e == nullptr ? std::size_t{0} : e->line;
  };
  CHECK(line("www.bank.example", before) == 2);
  CHECK(line("www.bank.example", after) == 3);  // the first has expired: the parent domain, before the host
  CHECK(line("a.www.bank.example", before) == 3);
  CHECK(line("https://www.bank.example/x", after) == 3);
  CHECK(line("192.0.2.5", after) == 6);
  CHECK(line("192.0.2.200", after) == 6);
  CHECK(line("https://192.0.2.5/x", after) == 6);
  CHECK(line("https://docs.example/a", after) == 8);
  CHECK(line("https://www.docs.example/a", after) == 9);
  CHECK(line("bank.example.test", after) == 0);
  CHECK(line("https://app.example:8443/private/x", after) == 10);
  CHECK(line("https://app.example/private/x", after) == 0);  // another port: not that prefix
  CHECK(line("https://app.example:8443/public/x", after) == 0);
}

TEST_CASE("allowlist: networks cover by family and length, lengths off a byte boundary included",
          "[trust][allowlist]") {
  const Allowlist a = load(
      "cidr,198.51.100.0/22,v4 /22,\n"
      "cidr,2001:db8:8000::/33,v6 /33,\n"
      "cidr,203.0.113.7,one address,\n");
  const Timestamp now = at("2026-11-30T00:00:00Z");
  const auto covered = [&](const char* value) { return a.match(obs(value), now) != nullptr; };
  CHECK(covered("198.51.100.0"));
  CHECK(covered("198.51.103.255"));
  CHECK_FALSE(covered("198.51.104.0"));
  CHECK_FALSE(covered("198.51.99.255"));
  CHECK(covered("198.51.102.0/23"));       // a narrower range inside it
  CHECK_FALSE(covered("198.51.96.0/21"));  // a wider one
  CHECK(covered("2001:db8:8000::1"));
  CHECK(covered("2001:db8:ffff:ffff::1"));
  CHECK_FALSE(covered("2001:db8:7fff::1"));
  CHECK(covered("203.0.113.7"));
  CHECK_FALSE(covered("203.0.113.8"));
  CHECK(covered("http://198.51.101.9/login"));  // a URL on a covered address
  const Allowlist all = load("cidr,0.0.0.0/0,everything v4,\n");
  CHECK(all.match(obs("192.0.2.1"), now) != nullptr);
  CHECK(all.match(obs("2001:db8::1"), now) == nullptr);  // the other family
}

TEST_CASE("allowlist: thousands of entries answer as a walk through them would", "[trust][allowlist]") {
  // Every fifth entry expired; names that share labels, nest and repeat.
  std::string rows;
  for (int i = 0; i < 5000; ++i) {
    const std::string expires = i % 5 == 0 ? "2026-01-01T00:00:00Z" : "";
    const std::string name = "site" + std::to_string(i % 700) + (i % 3 == 0 ? ".bank.example" : ".partner.example");
    rows += std::string(i % 2 == 0 ? "domain," : "host,") + (i % 7 == 0 ? "www." : "") + name + ",entry " +
            std::to_string(i) + "," + expires + "\n";
    // Names of other lengths and another top-level label.
    if (i % 40 == 0) rows += "domain,org" + std::to_string(i % 700) + ".test,short," + expires + "\n";
    if (i % 90 == 0) rows += "host,a.b.c.portal" + std::to_string(i % 700) + ".example,deep," + expires + "\n";
    if (i % 250 == 0) rows += "cidr,10." + std::to_string(i / 250) + ".0.0/16,net," + expires + "\n";
    if (i % 500 == 0) rows += "url-prefix,https://cdn.example/" + std::to_string(i) + "/,cdn," + expires + "\n";
  }
  const Allowlist a = load(rows);
  const Timestamp now = at("2026-11-30T00:00:00Z");
  // The rule as the header states it, entry by entry.
  const auto walked = [&](const stix::Observable& o) -> const AllowEntry* {
    std::string host = o.type == stix::ObservableType::domain ? o.value : "";
    if (o.type == stix::ObservableType::url) host = o.value.substr(8, o.value.find('/', 8) - 8);
    for (const AllowEntry& e : a.entries()) {
      if (e.expires && *e.expires <= now) continue;
      const bool name =
          !host.empty() && (host == e.value || (e.type == AllowEntry::Type::domain && host.ends_with("." + e.value)));
      if ((e.type == AllowEntry::Type::host || e.type == AllowEntry::Type::domain) && name) return &e;
      if (e.type == AllowEntry::Type::cidr && o.type == stix::ObservableType::ipv4) {
        // The address's first e.bits bits against the network's, bit by bit.
        std::array<std::uint8_t, 4> address{};
        REQUIRE(inet_pton(AF_INET, o.value.c_str(), address.data()) == 1);
        bool inside = !e.v6;
        for (int bit = 0; bit < e.bits && inside; ++bit) {
          const int mask = 0x80 >> (bit % 8);
          inside = (address[bit / 8] & mask) == (e.network[bit / 8] & mask);
        }
        if (inside) return &e;
      }
      if (e.type == AllowEntry::Type::url_prefix && o.type == stix::ObservableType::url && o.value.starts_with(e.value))
        return &e;
    }
    return nullptr;
  };
  std::size_t covered = 0, probes = 0;
  for (int i = 0; i < 800; i += 3) {
    for (const std::string& value :
         {"site" + std::to_string(i) + ".bank.example", "x.site" + std::to_string(i) + ".partner.example",
          "www.site" + std::to_string(i) + ".bank.example", "a.b.www.site" + std::to_string(i) + ".partner.example",
          "https://site" + std::to_string(i) + ".bank.example/login", "10." + std::to_string(i % 30) + ".1.2",
          "https://cdn.example/" + std::to_string(i * 10) + "/x.js", "org" + std::to_string(i) + ".test",
          "x.y.org" + std::to_string(i) + ".test", "site" + std::to_string(i) + ".bank.com",
          "a.b.c.portal" + std::to_string(i) + ".example", "b.c.portal" + std::to_string(i) + ".example",
          "https://x.org" + std::to_string(i) + ".test/a"}) {
      INFO(value);
      const stix::Observable o = obs(value.c_str());
      const AllowEntry* expected = walked(o);
      CHECK(a.match(o, now) == expected);
      ++probes;
      covered += expected != nullptr;
    }
  }
  // Both answers occur often enough to mean something.
  CHECK(covered > probes / 8);
  CHECK(covered < probes);
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
