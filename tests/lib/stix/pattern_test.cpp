// Tests of the STIX pattern builder (§9): string literals stay single
// literals whatever the value holds, path steps are quoted when needed, and
// trees serialise with the right operators. Also the TLP markings
// (marking.h), which have no test file of their own.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "ctishare/marking.h"
#include "ctishare/pattern.h"

using namespace ctishare;
using namespace ctishare::stix;
namespace pat = ctishare::stix::pattern;

namespace {

// Reads one STIX string literal starting at `text[start]` the way a pattern
// lexer does (a backslash escapes the next character; an unescaped quote
// ends it). Returns the index just past the closing quote and the unescaped
// value, or nullopt when the literal does not start or never ends.
struct Literal {
  std::size_t end;
  std::string value;
};
std::optional<Literal> scan_literal(std::string_view text, std::size_t start = 0) {
  if (start >= text.size() || text[start] != '\'') return std::nullopt;
  std::string value;
  for (std::size_t i = start + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      value += text[++i];
    } else if (text[i] == '\'') {
      return Literal{i + 1, value};
    } else {
      value += text[i];
    }
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------- literals

TEST_CASE("string_literal escapes quotes and backslashes", "[stix][pattern][literal]") {
  CHECK(pat::string_literal("example.com") == "'example.com'");
  CHECK(pat::string_literal("") == "''");
  CHECK(pat::string_literal("a'b\\c") == "'a\\'b\\\\c'");
  CHECK(pat::string_literal("\\") == "'\\\\'");
  CHECK(pat::string_literal("'") == "'\\''");
  CHECK(pat::string_literal("\"double\"") == "'\"double\"'");  // double quotes need nothing
  CHECK(pat::string_literal("bücher") == "'bücher'");
}

TEST_CASE("a hostile value stays one string literal", "[stix][pattern][literal]") {
  for (std::string value : {
           std::string("x'] OR [ipv4-addr:value = '1.2.3.4"),
           std::string("x\\'] OR [ipv4-addr:value = '1.2.3.4"),  // backslash before the quote
           std::string("trailing backslash \\"),
           std::string("\\\\'\\'\\"),
           std::string("']"),
           std::string("'"),
       }) {
    INFO(value);
    const std::string lit = pat::string_literal(value);
    auto scanned = scan_literal(lit);
    REQUIRE(scanned);
    CHECK(scanned->end == lit.size());  // ends exactly at the end
    CHECK(scanned->value == value);     // and means the value

    // Inside a comparison the literal still runs to the closing bracket.
    const std::string p = pat::to_string(pat::Observation{{pat::Comparison{{"url", {"value"}}, pat::Operator::equal, value}}});
    const std::string prefix = "[url:value = ";
    REQUIRE(p.rfind(prefix, 0) == 0);
    auto in_pattern = scan_literal(p, prefix.size());
    REQUIRE(in_pattern);
    CHECK(in_pattern->end == p.size() - 1);
    CHECK(p.back() == ']');
    CHECK(in_pattern->value == value);

    std::string eq;
    pat::append_equality(eq, "domain-name", "value", value);
    const std::string eq_prefix = "[domain-name:value = ";
    REQUIRE(eq.rfind(eq_prefix, 0) == 0);
    auto in_eq = scan_literal(eq, eq_prefix.size());
    REQUIRE(in_eq);
    CHECK(in_eq->end == eq.size() - 1);
    CHECK(in_eq->value == value);
  }
}

// ---------------------------------------------------------------- paths

TEST_CASE("path_step quotes steps that are not identifiers", "[stix][pattern][path]") {
  CHECK(pat::path_step("MD5") == "MD5");
  CHECK(pat::path_step("hashes") == "hashes");
  CHECK(pat::path_step("x_custom_2") == "x_custom_2");
  CHECK(pat::path_step("_private") == "_private");
  CHECK(pat::path_step("SHA-256") == "'SHA-256'");
  CHECK(pat::path_step("SHA3-256") == "'SHA3-256'");
  CHECK(pat::path_step("x-acme-ext") == "'x-acme-ext'");
  CHECK(pat::path_step("2nd") == "'2nd'");
  CHECK(pat::path_step("a b") == "'a b'");
  CHECK(pat::path_step("it's") == "'it\\'s'");
  CHECK(pat::path_step("") == "''");

  CHECK(pat::to_string(pat::ObjectPath{"file", {"hashes", "SHA-256"}}) == "file:hashes.'SHA-256'");
  CHECK(pat::to_string(pat::ObjectPath{"file", {"hashes", "MD5"}}) == "file:hashes.MD5");
  CHECK(pat::to_string(pat::ObjectPath{"windows-registry-key", {"key"}}) == "windows-registry-key:key");
  CHECK(pat::to_string(pat::ObjectPath{"file", {"extensions", "windows-pebinary-ext", "sections"}}) ==
        "file:extensions.'windows-pebinary-ext'.sections");
}

// ---------------------------------------------------------------- trees

TEST_CASE("comparisons, observations and patterns serialise", "[stix][pattern][tree]") {
  const pat::Comparison name{{"file", {"name"}}, pat::Operator::equal, "a.exe"};
  const pat::Comparison hash{{"file", {"hashes", "SHA-256"}}, pat::Operator::equal,
                             "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"};
  CHECK(pat::to_string(name) == "file:name = 'a.exe'");
  CHECK(pat::to_string(hash) ==
        "file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'");

  SECTION("every operator") {
    const std::pair<pat::Operator, const char*> ops[] = {
        {pat::Operator::equal, "="},          {pat::Operator::not_equal, "!="}, {pat::Operator::less, "<"},
        {pat::Operator::less_equal, "<="},    {pat::Operator::greater, ">"},    {pat::Operator::greater_equal, ">="},
        {pat::Operator::like, "LIKE"},        {pat::Operator::matches, "MATCHES"},
        {pat::Operator::issubset, "ISSUBSET"}, {pat::Operator::issuperset, "ISSUPERSET"},
    };
    for (const auto& [op, text] : ops) {
      pat::Comparison c{{"ipv4-addr", {"value"}}, op, "10.0.0.0/8"};
      CHECK(pat::to_string(c) == std::string("ipv4-addr:value ") + text + " '10.0.0.0/8'");
    }
  }
  SECTION("NOT goes before the operator") {
    pat::Comparison c{{"ipv4-addr", {"value"}}, pat::Operator::issubset, "10.0.0.0/8", true};
    CHECK(pat::to_string(c) == "ipv4-addr:value NOT ISSUBSET '10.0.0.0/8'");
    pat::Comparison m{{"file", {"name"}}, pat::Operator::matches, "^a\\.exe$", true};
    CHECK(pat::to_string(m) == "file:name NOT MATCHES '^a\\\\.exe$'");
  }
  SECTION("observations join comparisons with AND or OR") {
    CHECK(pat::to_string(pat::Observation{{name}}) == "[file:name = 'a.exe']");
    CHECK(pat::to_string(pat::Observation{{name, hash}, pat::Join::and_}) ==
          "[file:name = 'a.exe' AND file:hashes.'SHA-256' = "
          "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']");
    CHECK(pat::to_string(pat::Observation{{name, name}, pat::Join::or_}) ==
          "[file:name = 'a.exe' OR file:name = 'a.exe']");
  }
  SECTION("patterns join observations with AND, OR or FOLLOWEDBY") {
    const pat::Observation a{{name}};
    const pat::Observation b{{pat::Comparison{{"domain-name", {"value"}}, pat::Operator::equal, "example.com"}}};
    CHECK(pat::to_string(pat::Pattern{{a}}) == "[file:name = 'a.exe']");
    CHECK(pat::to_string(pat::Pattern{{a, b}, pat::ObservationJoin::and_}) ==
          "[file:name = 'a.exe'] AND [domain-name:value = 'example.com']");
    CHECK(pat::to_string(pat::Pattern{{a, b}, pat::ObservationJoin::or_}) ==
          "[file:name = 'a.exe'] OR [domain-name:value = 'example.com']");
    CHECK(pat::to_string(pat::Pattern{{a, b, a}, pat::ObservationJoin::followed_by}) ==
          "[file:name = 'a.exe'] FOLLOWEDBY [domain-name:value = 'example.com'] FOLLOWEDBY [file:name = 'a.exe']");
    // The default join is OR.
    CHECK(pat::to_string(pat::Pattern{{a, b}}) == "[file:name = 'a.exe'] OR [domain-name:value = 'example.com']");
  }
}

TEST_CASE("append_equality builds [type:path = 'value'] and appends", "[stix][pattern][tree]") {
  std::string out = "prefix ";
  pat::append_equality(out, "domain-name", "value", "example.com");
  CHECK(out == "prefix [domain-name:value = 'example.com']");
  std::string q;
  pat::append_equality(q, "url", "value", "http://example.com/it's\\here");
  CHECK(q == "[url:value = 'http://example.com/it\\'s\\\\here']");
  // It agrees with the tree form.
  for (const char* v : {"plain", "o'brien@example.com", "a\\b", "'] OR ['"}) {
    std::string fast;
    pat::append_equality(fast, "email-addr", "value", v);
    CHECK(fast == pat::to_string(pat::Observation{{pat::Comparison{{"email-addr", {"value"}}, pat::Operator::equal, v}}}));
  }
  // The path is written as given: steps come already in path_step form.
  std::string hashed;
  pat::append_equality(hashed, "file", "hashes." + pat::path_step("SHA-256"), "ab'c");
  CHECK(hashed == "[file:hashes.'SHA-256' = 'ab\\'c']");
  CHECK(hashed == pat::to_string(pat::Observation{{pat::Comparison{{"file", {"hashes", "SHA-256"}}, pat::Operator::equal, "ab'c"}}}));
}

// ---------------------------------------------------------------- TLP

TEST_CASE("parse_tlp", "[stix][marking]") {
  CHECK(parse_tlp("clear") == Tlp::clear);
  CHECK(parse_tlp("white") == Tlp::clear);
  CHECK(parse_tlp("TLP:WHITE") == Tlp::clear);
  CHECK(parse_tlp("green") == Tlp::green);
  CHECK(parse_tlp("Amber") == Tlp::amber);
  CHECK(parse_tlp("TLP:AMBER") == Tlp::amber);
  CHECK(parse_tlp("TLP:AMBER+STRICT") == Tlp::amber_strict);
  CHECK(parse_tlp("amber+strict") == Tlp::amber_strict);
  CHECK(parse_tlp("tlp:red") == Tlp::red);
  CHECK(parse_tlp("RED") == Tlp::red);
  CHECK_FALSE(parse_tlp(""));
  CHECK_FALSE(parse_tlp("TLP:"));
  CHECK_FALSE(parse_tlp("purple"));
  CHECK_FALSE(parse_tlp("amber+"));
  CHECK_FALSE(parse_tlp("TLP:TLP:RED"));
  CHECK_FALSE(parse_tlp(" red"));
}

TEST_CASE("tlp_name", "[stix][marking]") {
  CHECK(tlp_name(Tlp::clear) == "clear");
  CHECK(tlp_name(Tlp::green) == "green");
  CHECK(tlp_name(Tlp::amber) == "amber");
  CHECK(tlp_name(Tlp::amber_strict) == "amber+strict");
  CHECK(tlp_name(Tlp::red) == "red");
  for (Tlp t : {Tlp::clear, Tlp::green, Tlp::amber, Tlp::amber_strict, Tlp::red}) CHECK(parse_tlp(tlp_name(t)) == t);
}

TEST_CASE("TLP 2.0 marking-definition ids and objects", "[stix][marking]") {
  CHECK(tlp2_marking_id(Tlp::clear) == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487");
  CHECK(tlp2_marking_id(Tlp::green) == "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb");
  CHECK(tlp2_marking_id(Tlp::amber) == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421");
  CHECK(tlp2_marking_id(Tlp::amber_strict) == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003");
  CHECK(tlp2_marking_id(Tlp::red) == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1");

  // The objects as OASIS publishes them (cti-stix-common-objects, tlp-2.0).
  const std::pair<Tlp, const char*> names[] = {{Tlp::clear, "TLP:CLEAR"},
                                               {Tlp::green, "TLP:GREEN"},
                                               {Tlp::amber, "TLP:AMBER"},
                                               {Tlp::amber_strict, "TLP:AMBER+STRICT"},
                                               {Tlp::red, "TLP:RED"}};
  for (const auto& [tlp, name] : names) {
    INFO(name);
    json::Value m = tlp2_marking_object(tlp);
    CHECK(m.find_string("type") == std::optional<std::string_view>("marking-definition"));
    CHECK(m.find_string("spec_version") == std::optional<std::string_view>("2.1"));
    CHECK(m.find_string("id") == std::optional<std::string_view>(tlp2_marking_id(tlp)));
    CHECK(m.find_string("created") == std::optional<std::string_view>("2022-10-01T00:00:00.000Z"));
    CHECK(m.find_string("name") == std::optional<std::string_view>(name));
    CHECK(m.find("modified") == nullptr);
    const json::Value* ext = m.find("extensions");
    REQUIRE(ext != nullptr);
    REQUIRE(ext->as_object().size() == 1);
    const json::Value* tlp_ext = ext->find("extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d");
    REQUIRE(tlp_ext != nullptr);
    CHECK(tlp_ext->find_string("extension_type") == std::optional<std::string_view>("property-extension"));
    CHECK(tlp_ext->find_string("tlp_2_0") == std::optional<std::string_view>(tlp_name(tlp)));
    CHECK(m.as_object().size() == 6);
    CHECK(tlp_of_marking_id(tlp2_marking_id(tlp)) == tlp);
  }
}

TEST_CASE("tlp_of_marking_id knows the TLP 1.0 ids", "[stix][marking]") {
  CHECK(tlp_of_marking_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9") == Tlp::clear);
  CHECK(tlp_of_marking_id("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da") == Tlp::green);
  CHECK(tlp_of_marking_id("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82") == Tlp::amber);
  CHECK(tlp_of_marking_id("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed") == Tlp::red);
  CHECK_FALSE(tlp_of_marking_id("marking-definition--11111111-1111-4111-8111-111111111111"));
  CHECK_FALSE(tlp_of_marking_id(""));
  CHECK_FALSE(tlp_of_marking_id("613f2e26-407d-48c7-9eca-b8e91df99dc9"));  // without the type
}

TEST_CASE("more_restrictive orders clear < green < amber < amber+strict < red", "[stix][marking]") {
  const Tlp order[] = {Tlp::clear, Tlp::green, Tlp::amber, Tlp::amber_strict, Tlp::red};
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 5; ++j) CHECK(more_restrictive(order[i], order[j]) == (i > j));
}
