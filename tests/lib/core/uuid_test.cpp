// Tests of ctishare/uuid.h: v4 generation, v5 derivation, text forms.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "ctishare/uuid.h"

using namespace ctishare;

namespace {

Uuid must_parse(std::string_view text) {
  auto u = Uuid::parse(text);
  if (!u) FAIL("cannot parse " << text);
  return *u;
}

const char* const kNamespaceDns = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
const char* const kNamespaceUrl = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

}  // namespace

TEST_CASE("uuid: v4 has version and variant bits and does not repeat", "[core][uuid]") {
  std::set<std::string> seen;
  int bit_ones[128] = {};
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    auto u = Uuid::v4();
    REQUIRE(u);
    REQUIRE(u->version() == 4);
    REQUIRE(u->is_rfc4122());
    const std::string s = u->to_string();
    REQUIRE(s.size() == 36);
    REQUIRE(s[14] == '4');
    REQUIRE((s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b'));
    seen.insert(s);
    for (int b = 0; b < 128; ++b) bit_ones[b] += (u->bytes()[b / 8] >> (7 - b % 8)) & 1;
  }
  CHECK(seen.size() == static_cast<std::size_t>(n));
  // The 122 random bits are each set about half the time (a zeroed or
  // constant byte would show up here).
  for (int b = 0; b < 128; ++b) {
    if (b >= 48 && b < 52) continue;  // version
    if (b == 64 || b == 65) continue; // variant
    INFO("bit " << b);
    CHECK(bit_ones[b] > n * 4 / 10);
    CHECK(bit_ones[b] < n * 6 / 10);
  }
}

TEST_CASE("uuid: v5 known vectors", "[core][uuid]") {
  const Uuid dns = must_parse(kNamespaceDns);
  CHECK(Uuid::v5(dns, "python.org").to_string() == "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  CHECK(Uuid::v5(dns, "www.example.com").to_string() == "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  // The name is hashed as its UTF-8 bytes.
  CHECK(Uuid::v5(must_parse(kNamespaceUrl), "caf\xc3\xa9").to_string() == "79d4db4c-73a9-5cec-bd37-4fc862e2120d");
  // A STIX SCO id: the canonical JSON of the contributing properties.
  CHECK(Uuid::v5(stix_sco_namespace(), R"({"value":"198.51.100.3"})").to_string() ==
        "28bb3599-77cd-5a82-a950-b5bc3caf07c4");

  Uuid a = Uuid::v5(dns, "a");
  CHECK(a.version() == 5);
  CHECK(a.is_rfc4122());
  CHECK(Uuid::v5(dns, "a") == a);
  CHECK_FALSE(Uuid::v5(dns, "b") == a);
  CHECK_FALSE(Uuid::v5(must_parse(kNamespaceUrl), "a") == a);
}

TEST_CASE("uuid: parse accepts either case, to_string writes lower case", "[core][uuid]") {
  Uuid lower = must_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  Uuid upper = must_parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8");
  Uuid mixed = must_parse("6Ba7B810-9dAd-11D1-80b4-00C04fd430C8");
  CHECK(lower == upper);
  CHECK(lower == mixed);
  CHECK(upper.to_string() == "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  CHECK(lower.version() == 1);
  CHECK(lower.is_rfc4122());
  CHECK(lower.bytes()[0] == 0x6b);
  CHECK(lower.bytes()[15] == 0xc8);

  CHECK(must_parse("ffffffff-ffff-ffff-ffff-ffffffffffff").to_string() == "ffffffff-ffff-ffff-ffff-ffffffffffff");
  CHECK(must_parse("00000000-0000-0000-0000-000000000000") == Uuid());
  CHECK(Uuid().to_string() == "00000000-0000-0000-0000-000000000000");
}

TEST_CASE("uuid: parse rejects other forms", "[core][uuid]") {
  const char* bad[] = {
      "",
      "6ba7b810-9dad-11d1-80b4-00c04fd430c",      // 35 characters
      "6ba7b810-9dad-11d1-80b4-00c04fd430c80",    // 37 characters
      "6ba7b8109dad11d180b400c04fd430c8",         // no dashes
      "6ba7b81-09dad-11d1-80b4-00c04fd430c8",     // dash misplaced
      "6ba7b810-9dad-11d1-80b4_00c04fd430c8",     // underscore
      "6ba7b810-9dad-11d1-80b4-00c04fd430cg",     // non-hex
      "6ba7b810-9dad-11d1-80b4-00c04fd430c-",     // dash in a hex position
      "-ba7b810-9dad-11d1-80b4-00c04fd430c8",     // dash in a hex position
      " 6ba7b810-9dad-11d1-80b4-00c04fd430c",     // leading space
      "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",   // braces
      "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
      "6ba7b810-9dad-11d1-80b4-00c04fd430c8\n",
      "+ba7b810-9dad-11d1-80b4-00c04fd430c8",
      "6ba7b810 9dad 11d1 80b4 00c04fd430c8",
  };
  for (const char* text : bad) {
    INFO("'" << text << "'");
    CHECK_FALSE(Uuid::parse(text));
  }
  CHECK_FALSE(Uuid::parse(std::string_view("6ba7b810-9dad-11d1-80b4-00c04fd430c\0", 36)));
}

TEST_CASE("uuid: bytes constructor, append_to and ordering", "[core][uuid]") {
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < 16; ++i) b[i] = static_cast<std::uint8_t>(i * 17);
  Uuid u(b);
  CHECK(u.bytes() == b);
  CHECK(u.to_string() == "00112233-4455-6677-8899-aabbccddeeff");
  std::string out = "indicator--";
  u.append_to(out);
  CHECK(out == "indicator--00112233-4455-6677-8899-aabbccddeeff");
  CHECK(Uuid::parse(u.to_string()) == std::optional<Uuid>(u));

  CHECK(must_parse("00000000-0000-0000-0000-000000000001") < must_parse("00000000-0000-0000-0000-000000000002"));
  CHECK(must_parse("00000000-0000-0000-0000-0000000000ff") < must_parse("01000000-0000-0000-0000-000000000000"));
  CHECK(must_parse("00000000-0000-0000-ff00-000000000000") < must_parse("00000000-0000-0001-0000-000000000000"));
  CHECK(must_parse("00000000-0000-0000-7f00-000000000000") < must_parse("00000000-0000-0000-8000-000000000000"));
  CHECK_FALSE(must_parse("00000000-0000-0001-0000-000000000000") < must_parse("00000000-0000-0000-ffff-ffffffffffff"));
  CHECK_FALSE(u < u);

  // The order is the byte-wise (and so the text) order.
  for (int i = 0; i < 2000; ++i) {
    auto ra = Uuid::v4();
    auto rb = Uuid::v4();
    REQUIRE(ra);
    REQUIRE(rb);
    Uuid x = *ra, y = *rb;
    if (i % 4 == 0) {  // share the first eight bytes so the second half decides
      auto bytes = y.bytes();
      std::copy(x.bytes().begin(), x.bytes().begin() + 8, bytes.begin());
      y = Uuid(bytes);
    }
    REQUIRE((x < y) == (x.bytes() < y.bytes()));
    REQUIRE((x < y) == (x.to_string() < y.to_string()));
    REQUIRE_FALSE((x < y && y < x));
  }
}

TEST_CASE("uuid: the STIX SCO namespace", "[core][uuid]") {
  CHECK(stix_sco_namespace().to_string() == "00abedb4-aa42-466c-9c01-fed23315a9b7");
  CHECK(&stix_sco_namespace() == &stix_sco_namespace());
}
