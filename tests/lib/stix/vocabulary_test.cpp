// Tests of the STIX 2.1 §10 vocabularies and enumerations (Errata 01 values),
// their warning checks (stix2-validator numbers, merged into the check
// table), and the specification-defined relationship types.
#include "stix/vocabulary.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "ctishare/check.h"

using namespace ctishare;
using namespace ctishare::stix;

namespace {

const vocab::Vocabulary& get(std::string_view name) {
  const auto* v = vocab::find(name);
  INFO("vocabulary: " << name);
  REQUIRE(v != nullptr);
  return *v;
}

bool in(std::string_view vocabulary, std::string_view value) { return vocab::contains(get(vocabulary), value); }

}  // namespace

TEST_CASE("every vocabulary and enumeration of §10 is there", "[vocabulary]") {
  const char* open[] = {
      "account-type-ov",    "attack-motivation-ov",     "attack-resource-level-ov",   "grouping-context-ov",
      "hash-algorithm-ov",  "identity-class-ov",        "implementation-language-ov", "indicator-type-ov",
      "industry-sector-ov", "infrastructure-type-ov",   "malware-capabilities-ov",    "malware-result-ov",
      "malware-type-ov",    "pattern-type-ov",          "processor-architecture-ov",  "region-ov",
      "report-type-ov",     "threat-actor-type-ov",     "threat-actor-role-ov",       "threat-actor-sophistication-ov",
      "tool-type-ov",       "windows-pebinary-type-ov",
  };
  const char* closed[] = {
      "encryption-algorithm-enum",
      "extension-type-enum",
      "network-socket-address-family-enum",
      "network-socket-type-enum",
      "opinion-enum",
      "windows-integrity-level-enum",
      "windows-registry-datatype-enum",
      "windows-service-start-type-enum",
      "windows-service-type-enum",
      "windows-service-status-enum",
  };
  for (auto name : open) {
    INFO(name);
    CHECK_FALSE(get(name).closed);
    CHECK_FALSE(get(name).values.empty());
  }
  for (auto name : closed) {
    INFO(name);
    CHECK(get(name).closed);
    CHECK(get(name).check.code.empty());
    CHECK_FALSE(get(name).values.empty());
  }
  CHECK(vocab::all().size() == std::size(open) + std::size(closed));
  // Names are unique, end in -ov exactly when open, and find() returns the entry of all().
  std::set<std::string_view> names;
  for (const auto& v : vocab::all()) {
    INFO(v.name);
    CHECK(names.insert(v.name).second);
    CHECK(v.name.ends_with(v.closed ? "-enum" : "-ov"));
    CHECK(vocab::find(v.name) == &v);
    std::set<std::string_view> values(v.values.begin(), v.values.end());
    CHECK(values.size() == v.values.size());  // no duplicate values
  }
  CHECK(vocab::find("no-such-ov") == nullptr);
  CHECK(vocab::find("") == nullptr);
  // §10.7 calls it hash-algorithm-ov; the longer name is accepted too.
  CHECK(vocab::find("hashing-algorithm-ov") == vocab::find("hash-algorithm-ov"));
}

TEST_CASE("Errata 01 values are present", "[vocabulary]") {
  CHECK(in("implementation-language-ov", "rust"));
  CHECK(in("industry-sector-ov", "legal"));
  CHECK(in("report-type-ov", "incident"));
  CHECK(in("threat-actor-type-ov", "private-sector"));
  // Summary fixes of Errata 01 in infrastructure-type-ov.
  for (auto value : {"control-system", "firewall", "routers-switches", "workstation"}) {
    CHECK(in("infrastructure-type-ov", value));
  }
  CHECK(get("report-type-ov").values.size() == 12);
  CHECK(get("industry-sector-ov").values.size() == 35);
  CHECK(get("implementation-language-ov").values.size() == 22);
  CHECK(get("threat-actor-type-ov").values.size() == 13);
  CHECK(get("region-ov").values.size() == 29);
  CHECK(get("malware-capabilities-ov").values.size() == 37);
}

TEST_CASE("values are matched exactly", "[vocabulary]") {
  CHECK(in("indicator-type-ov", "malicious-activity"));
  CHECK_FALSE(in("indicator-type-ov", "Malicious-Activity"));
  CHECK_FALSE(in("indicator-type-ov", "malicious-activity "));
  CHECK_FALSE(in("indicator-type-ov", ""));
  CHECK(in("hash-algorithm-ov", "SHA-256"));
  CHECK_FALSE(in("hash-algorithm-ov", "sha256"));
  CHECK(in("region-ov", "south-eastern-asia"));
  CHECK(in("attack-resource-level-ov", "individual"));  // lost from §10.3's value table, kept in its summary
  CHECK(in("network-socket-type-enum", "SOCK_DGRAM"));  // §10.17's summary misprints it
  CHECK_FALSE(in("network-socket-type-enum", "AF_ISOCK_DGRAMNET"));
  CHECK(in("opinion-enum", "strongly-agree"));
  CHECK_FALSE(in("opinion-enum", "strongly agree"));
  CHECK(in("windows-registry-datatype-enum", "REG_INVALID_TYPE"));
  CHECK(in("encryption-algorithm-enum", "ChaCha20-Poly1305"));
  CHECK(in("extension-type-enum", "toplevel-property-extension"));
  CHECK_FALSE(in("extension-type-enum", "new-smo"));
  CHECK(in("windows-pebinary-type-ov", "dll"));
  CHECK_FALSE(in("account-type-ov", "kavi"));  // in stix2-validator's list, not in the spec

  // A copy not owned by all() is still answered.
  vocab::Vocabulary copy = get("opinion-enum");
  CHECK(vocab::contains(copy, "neutral"));
  CHECK_FALSE(vocab::contains(copy, "neutrall"));
}

TEST_CASE("open vocabularies carry their stix2-validator warning", "[vocabulary]") {
  struct Expected {
    std::string_view vocabulary, code, name;
  };
  const Expected expected[] = {
      {"attack-motivation-ov", "W211", "attack-motivation"},
      {"attack-resource-level-ov", "W212", "attack-resource-level"},
      {"identity-class-ov", "W213", "identity-class"},
      {"indicator-type-ov", "W214", "indicator-types"},
      {"industry-sector-ov", "W215", "industry-sector"},
      {"malware-type-ov", "W216", "malware-types"},
      {"report-type-ov", "W218", "report-types"},
      {"threat-actor-type-ov", "W219", "threat-actor-types"},
      {"threat-actor-role-ov", "W220", "threat-actor-role"},
      {"threat-actor-sophistication-ov", "W221", "threat-actor-sophistication"},
      {"tool-type-ov", "W222", "tool-types"},
      {"region-ov", "W223", "region"},
      {"grouping-context-ov", "W225", "grouping-context"},
      {"implementation-language-ov", "W226", "implementation-languages"},
      {"infrastructure-type-ov", "W227", "infrastructure-types"},
      {"malware-capabilities-ov", "W228", "malware-capabilities"},
      {"processor-architecture-ov", "W230", "processor-architecture"},
      {"malware-result-ov", "W231", "malware-result"},
      {"hash-algorithm-ov", "W241", "hash-algo"},
      {"windows-pebinary-type-ov", "W243", "windows-pebinary-type"},
      {"account-type-ov", "W244", "account-type"},
      {"pattern-type-ov", "W245", "indicator-pattern-types"},
  };
  for (const auto& e : expected) {
    INFO(e.vocabulary);
    const auto& v = get(e.vocabulary);
    CHECK(v.check.code == e.code);
    CHECK(v.check.name == e.name);
    CHECK(v.check.severity == Severity::warning);
    CHECK_FALSE(v.check.summary.empty());
  }
}

TEST_CASE("vocabulary checks are unique, W-prefixed and in the check table", "[vocabulary]") {
  std::set<std::string_view> codes, names;
  for (const auto& v : vocab::all()) {
    if (v.closed) continue;
    INFO(v.name);
    const Check& c = v.check;
    REQUIRE(c.code.size() == 4);
    CHECK(c.code[0] == 'W');
    CHECK(std::all_of(c.code.begin() + 1, c.code.end(), [](char ch) { return ch >= '0' && ch <= '9'; }));
    CHECK(codes.insert(c.code).second);
    CHECK(names.insert(c.name).second);
    CHECK(c.severity == Severity::warning);

    auto table = all_checks();
    auto it = std::find_if(table.begin(), table.end(), [&](const Check& t) { return t.code == c.code; });
    REQUIRE(it != table.end());
    CHECK(it->name == c.name);
    CHECK(it->severity == c.severity);
    CHECK(it->summary == c.summary);
    // Exactly one entry per code after the merge with the core table.
    CHECK(std::count_if(table.begin(), table.end(), [&](const Check& t) { return t.code == c.code; }) == 1);

    const Check* found = find_check(c.code);
    REQUIRE(found != nullptr);
    CHECK(found->name == c.name);
    CHECK(find_check(c.name) == found);
    CHECK(find_check(c.code.substr(1)) == found);  // bare number, as stix2-validator takes it
  }
}

TEST_CASE("specification-defined relationships", "[vocabulary]") {
  using vocab::is_spec_relationship;
  SECTION("from the per-object tables of §4") {
    CHECK(is_spec_relationship("indicator", "indicates", "malware"));
    CHECK_FALSE(is_spec_relationship("malware", "indicates", "indicator"));
    CHECK(is_spec_relationship("indicator", "based-on", "observed-data"));
    CHECK(is_spec_relationship("attack-pattern", "targets", "vulnerability"));
    CHECK(is_spec_relationship("campaign", "attributed-to", "threat-actor"));
    CHECK_FALSE(is_spec_relationship("campaign", "attributed-to", "identity"));
    CHECK(is_spec_relationship("threat-actor", "attributed-to", "identity"));
    CHECK(is_spec_relationship("threat-actor", "impersonates", "identity"));
    CHECK(is_spec_relationship("course-of-action", "remediates", "vulnerability"));
    CHECK(is_spec_relationship("course-of-action", "investigates", "indicator"));
    CHECK(is_spec_relationship("malware", "exfiltrates-to", "infrastructure"));
    CHECK(is_spec_relationship("malware", "drops", "file"));
    CHECK(is_spec_relationship("malware", "targets", "vulnerability"));
    CHECK_FALSE(is_spec_relationship("tool", "drops", "file"));
    CHECK(is_spec_relationship("tool", "uses", "infrastructure"));
    CHECK(is_spec_relationship("intrusion-set", "owns", "infrastructure"));
    CHECK(is_spec_relationship("identity", "located-at", "location"));
    CHECK_FALSE(is_spec_relationship("location", "located-at", "identity"));
    // Errata 01: av-analysis-of replaces analysis-of.
    CHECK(is_spec_relationship("malware-analysis", "av-analysis-of", "malware"));
    CHECK_FALSE(is_spec_relationship("malware-analysis", "analysis-of", "malware"));
    // stix2-validator lists vulnerability impacts ...; the spec does not.
    CHECK_FALSE(is_spec_relationship("vulnerability", "impacts", "infrastructure"));
  }
  SECTION("between cyber-observables (§6)") {
    CHECK(is_spec_relationship("domain-name", "resolves-to", "ipv4-addr"));
    CHECK(is_spec_relationship("domain-name", "resolves-to", "domain-name"));
    CHECK(is_spec_relationship("ipv4-addr", "belongs-to", "autonomous-system"));
    CHECK(is_spec_relationship("ipv6-addr", "belongs-to", "autonomous-system"));
    CHECK(is_spec_relationship("ipv6-addr", "resolves-to", "mac-addr"));
    CHECK_FALSE(is_spec_relationship("ipv4-addr", "resolves-to", "domain-name"));
    CHECK_FALSE(is_spec_relationship("mac-addr", "belongs-to", "autonomous-system"));
  }
  SECTION("infrastructure consists-of any SCO") {
    CHECK(is_spec_relationship("infrastructure", "consists-of", "x509-certificate"));
    CHECK(is_spec_relationship("infrastructure", "consists-of", "ipv4-addr"));
    CHECK(is_spec_relationship("infrastructure", "consists-of", "observed-data"));
    CHECK_FALSE(is_spec_relationship("infrastructure", "consists-of", "malware"));
  }
  SECTION("common relationships of §3.7") {
    CHECK(is_spec_relationship("identity", "derived-from", "identity"));
    CHECK_FALSE(is_spec_relationship("identity", "derived-from", "malware"));
    CHECK(is_spec_relationship("file", "duplicate-of", "file"));
    CHECK_FALSE(is_spec_relationship("campaign", "duplicate-of", "intrusion-set"));
    CHECK(is_spec_relationship("malware", "related-to", "tool"));
    CHECK(is_spec_relationship("x-custom-thing", "related-to", "url"));
  }
  SECTION("names are exact") {
    CHECK_FALSE(is_spec_relationship("indicator", "Indicates", "malware"));
    CHECK_FALSE(is_spec_relationship("indicator", "indicates", "malware "));
    CHECK_FALSE(is_spec_relationship("indicator", "", "malware"));
    CHECK_FALSE(is_spec_relationship("", "", ""));
    CHECK_FALSE(is_spec_relationship("indicator", "x-indicates", "malware"));
  }
}
