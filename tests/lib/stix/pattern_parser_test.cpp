// Tests of the STIX pattern parser and checker (pattern_parser.h) and of the
// SCO property tables they rely on (stix/schema.h, schema_sco.cpp).
//
// Corpora under tests/data/patterns/: spec-examples.txt (every example of
// STIX 2.1 §9), valid.txt (patterns that parse, with the exact issues
// check() must report) and invalid.txt (patterns that must fail, with the
// column and message). Inputs a text file cannot hold are built here.
#include "ctishare/pattern_parser.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "stix/schema.h"

namespace pat = ctishare::stix::pattern;
namespace schema = ctishare::stix::schema;

namespace {

struct CorpusLine {
  std::size_t line = 0;
  std::vector<std::string> fields;  // the last one is the rest of the line
};

// Reads a corpus: '#' lines and blank lines are skipped; each line is split
// at its first `fields - 1` tabs.
std::vector<CorpusLine> read_corpus(const std::string& name, std::size_t fields) {
  std::ifstream in(std::string(CTISHARE_TEST_DATA) + "/patterns/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::vector<CorpusLine> out;
  std::string text;
  std::size_t n = 0;
  while (std::getline(in, text)) {
    ++n;
    if (text.empty() || text[0] == '#') continue;
    CorpusLine l;
    l.line = n;
    std::size_t pos = 0;
    for (std::size_t f = 0; f + 1 < fields; ++f) {
      const std::size_t tab = text.find('\t', pos);
      INFO(name << ":" << n);
      REQUIRE(tab != std::string::npos);
      l.fields.push_back(text.substr(pos, tab - pos));
      pos = tab + 1;
    }
    l.fields.push_back(text.substr(pos));
    out.push_back(std::move(l));
  }
  return out;
}

pat::ParsedPattern parse_ok(std::string_view text) {
  pat::ParsedPattern p;
  pat::ParseError e;
  const bool ok = pat::parse(text, p, e);
  INFO(text << " -> " << pat::to_string(e));
  REQUIRE(ok);
  return p;
}

pat::ParseError parse_fail(std::string_view text, const pat::ParseOptions& options = {}) {
  pat::ParsedPattern p;
  pat::ParseError e;
  const bool ok = pat::parse(text, p, e, options);
  REQUIRE_FALSE(ok);
  REQUIRE(e.column >= 1);
  REQUIRE(e.column <= text.size() + 1);
  REQUIRE_FALSE(e.message.empty());
  // One line, lower-case start, no final period.
  CHECK(e.message.find('\n') == std::string::npos);
  CHECK(!(e.message[0] >= 'A' && e.message[0] <= 'Z'));
  CHECK(e.message.back() != '.');
  return e;
}

std::string issues_text(const std::vector<pat::Issue>& issues) {
  std::string s;
  for (const auto& i : issues)
    s += std::string(pat::to_string(i.kind)) + "@" + std::to_string(i.column) + ":" + i.message + "\n";
  return s;
}

const pat::Test& only_test(const pat::ParsedPattern& p) {
  REQUIRE(p.tests.size() == 1);
  return p.tests[0];
}

const pat::Literal& only_literal(const pat::ParsedPattern& p) {
  const auto lits = p.literals_of(only_test(p));
  REQUIRE(lits.size() == 1);
  return lits[0];
}

}  // namespace

// ---------------------------------------------------------------------------
// Corpora

TEST_CASE("every example pattern of STIX 2.1 section 9 gets its expected verdict", "[pattern_parser]") {
  const auto lines = read_corpus("spec-examples.txt", 2);
  REQUIRE(lines.size() >= 80);
  std::size_t ok = 0, parse_errors = 0;
  for (const auto& l : lines) {
    const std::string& expect = l.fields[0];
    const std::string& text = l.fields[1];
    INFO("spec-examples.txt:" << l.line << ": " << text);
    pat::ParsedPattern p;
    pat::ParseError e;
    const bool parsed = pat::parse(text, p, e);
    if (expect == "parse-error") {
      CHECK_FALSE(parsed);
      ++parse_errors;
      continue;
    }
    INFO(pat::to_string(e));
    REQUIRE(parsed);
    const auto issues = pat::check(p);
    INFO(issues_text(issues));
    if (expect == "ok") {
      CHECK(issues.empty());
      ++ok;
    } else if (expect == "warn") {
      CHECK_FALSE(issues.empty());
      CHECK_FALSE(pat::has_errors(issues));
    } else {
      REQUIRE(expect == "check-error");
      CHECK(pat::has_errors(issues));
    }
  }
  CHECK(ok >= 40);
  CHECK(parse_errors >= 30);
}

TEST_CASE("valid.txt: patterns parse, check() reports exactly the listed issues, to_string round-trips",
          "[pattern_parser]") {
  const auto lines = read_corpus("valid.txt", 2);
  REQUIRE(lines.size() >= 150);
  for (const auto& l : lines) {
    const std::string& text = l.fields[1];
    INFO("valid.txt:" << l.line << ": " << text);
    const auto p = parse_ok(text);
    const auto issues = pat::check(p);
    INFO("got:\n" << issues_text(issues));
    std::vector<std::string> expected;
    if (l.fields[0] != "-") {
      std::size_t pos = 0;
      while (true) {
        const std::size_t bar = l.fields[0].find(" | ", pos);
        expected.push_back(l.fields[0].substr(pos, bar - pos));
        if (bar == std::string::npos) break;
        pos = bar + 3;
      }
    }
    REQUIRE(issues.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const std::string& x = expected[i];
      const std::size_t at = x.find('@');
      const std::size_t colon = x.find(':', at);
      REQUIRE(at != std::string::npos);
      REQUIRE(colon != std::string::npos);
      CHECK(pat::to_string(issues[i].kind) == x.substr(0, at));
      CHECK(std::to_string(issues[i].column) == x.substr(at + 1, colon - at - 1));
      CHECK_THAT(issues[i].message, Catch::Contains(x.substr(colon + 1)));
      CHECK(issues[i].kind != pat::IssueKind::error);
    }
    // Canonical form: stable, and it keeps the meaning (same issues).
    const std::string canonical = pat::to_string(p);
    const auto again = parse_ok(canonical);
    CHECK(pat::to_string(again) == canonical);
    const auto issues_again = pat::check(again);
    REQUIRE(issues_again.size() == issues.size());
    for (std::size_t i = 0; i < issues.size(); ++i) {
      CHECK(issues_again[i].kind == issues[i].kind);
      CHECK(issues_again[i].message == issues[i].message);
    }
  }
}

TEST_CASE("invalid.txt: patterns fail at the listed column with the listed message", "[pattern_parser]") {
  const auto lines = read_corpus("invalid.txt", 4);
  REQUIRE(lines.size() >= 170);
  std::size_t parse_cases = 0, check_cases = 0;
  for (const auto& l : lines) {
    const std::string& stage = l.fields[0];
    const std::size_t column = std::stoul(l.fields[1]);
    const std::string& fragment = l.fields[2];
    const std::string& text = l.fields[3];
    INFO("invalid.txt:" << l.line << ": " << text);
    if (stage == "parse") {
      ++parse_cases;
      const auto e = parse_fail(text);
      CHECK(e.column == column);
      CHECK_THAT(e.message, Catch::Contains(fragment));
      // The Result form carries the same, prefixed with the column.
      const auto r = pat::parse(text);
      REQUIRE_FALSE(r);
      CHECK(r.error().category() == ctishare::ErrorCategory::data);
      CHECK(r.error().message() == "column " + std::to_string(column) + ": " + e.message);
      continue;
    }
    REQUIRE(stage == "check");
    ++check_cases;
    const auto p = parse_ok(text);
    const auto issues = pat::check(p);
    INFO(issues_text(issues));
    bool found = false;
    for (const auto& i : issues)
      found = found ||
              (i.kind == pat::IssueKind::error && i.column == column && i.message.find(fragment) != std::string::npos);
    CHECK(found);
    CHECK(pat::has_errors(pat::parse_and_check(text)));
  }
  CHECK(parse_cases >= 120);
  CHECK(check_cases >= 45);
}

// ---------------------------------------------------------------------------
// The syntax tree

TEST_CASE("observation operators: AND binds tighter than OR, OR tighter than FOLLOWEDBY", "[pattern_parser]") {
  const auto p = parse_ok("[a-b:x = 1] OR [a-b:x = 2] AND [a-b:x = 3] FOLLOWEDBY [a-b:x = 4] OR [a-b:x = 5]");
  const auto& root = p.observations[p.root];
  REQUIRE(root.kind == pat::ObservationKind::followed_by);
  const auto fb = p.operands_of(root);
  REQUIRE(fb.size() == 2);
  const auto& left = p.observations[fb[0]];
  REQUIRE(left.kind == pat::ObservationKind::or_);
  REQUIRE(p.operands_of(left).size() == 2);
  CHECK(p.observations[p.operands_of(left)[0]].kind == pat::ObservationKind::observation);
  const auto& and_node = p.observations[p.operands_of(left)[1]];
  REQUIRE(and_node.kind == pat::ObservationKind::and_);
  CHECK(p.operands_of(and_node).size() == 2);
  CHECK(p.observations[fb[1]].kind == pat::ObservationKind::or_);
  CHECK(root.column == 44);  // the first FOLLOWEDBY
  // Children before parents, so a forward walk needs no recursion.
  for (std::size_t i = 0; i < p.observations.size(); ++i) {
    for (auto o : p.operands_of(p.observations[i])) CHECK(o < i);
    if (p.observations[i].child != pat::kNoNode) CHECK(p.observations[i].child < i);
  }
}

TEST_CASE("chains are n-ary and left to right; parentheses are group nodes", "[pattern_parser]") {
  const auto p = parse_ok("[a-b:x = 1] FOLLOWEDBY [a-b:x = 2] FOLLOWEDBY ([a-b:x = 3] FOLLOWEDBY [a-b:x = 4])");
  const auto& root = p.observations[p.root];
  REQUIRE(root.kind == pat::ObservationKind::followed_by);
  const auto ops = p.operands_of(root);
  REQUIRE(ops.size() == 3);
  const auto& group = p.observations[ops[2]];
  REQUIRE(group.kind == pat::ObservationKind::group);
  CHECK(group.column == 47);
  CHECK(p.observations[group.child].kind == pat::ObservationKind::followed_by);
  const auto& first = p.observations[ops[0]];
  REQUIRE(first.kind == pat::ObservationKind::observation);
  CHECK(first.column == 1);
  const auto& t = p.tests[p.comparisons[first.comparison].test];
  CHECK(p.literals_of(t)[0].integer == 1);
}

TEST_CASE("comparison operators: AND binds tighter than OR; parentheses leave no node", "[pattern_parser]") {
  const auto p = parse_ok("[file:name = 'a' OR file:name = 'b' AND (file:size = 1 OR file:size = 2)]");
  const auto& obs = p.observations[p.root];
  REQUIRE(obs.kind == pat::ObservationKind::observation);
  const auto& root = p.comparisons[obs.comparison];
  REQUIRE(root.kind == pat::ComparisonKind::or_);
  CHECK(root.column == 18);
  const auto ops = p.operands_of(root);
  REQUIRE(ops.size() == 2);
  CHECK(p.comparisons[ops[0]].kind == pat::ComparisonKind::test);
  const auto& and_node = p.comparisons[ops[1]];
  REQUIRE(and_node.kind == pat::ComparisonKind::and_);
  const auto and_ops = p.operands_of(and_node);
  REQUIRE(and_ops.size() == 2);
  CHECK(p.comparisons[and_ops[1]].kind == pat::ComparisonKind::or_);
  CHECK(p.tests.size() == 4);
  CHECK(pat::to_string(p) == "[file:name = 'a' OR file:name = 'b' AND (file:size = 1 OR file:size = 2)]");
}

TEST_CASE("qualifiers attach to their observation expression, in order", "[pattern_parser]") {
  const auto p = parse_ok(
      "([file:name = 'a'] REPEATS 2 TIMES AND [file:name = 'b']) WITHIN 2.5 SECONDS START t'2016-06-01T00:00:00Z' "
      "STOP t'2016-07-01T00:00:00.5Z'");
  const auto& group = p.observations[p.root];
  REQUIRE(group.kind == pat::ObservationKind::group);
  const auto qs = p.qualifiers_of(group);
  REQUIRE(qs.size() == 2);
  CHECK(qs[0].kind == pat::QualifierKind::within);
  CHECK(qs[0].column == 59);
  CHECK(p.literals[qs[0].literal].kind == pat::LiteralKind::floating);
  CHECK(p.literals[qs[0].literal].number == 2.5);
  CHECK(qs[1].kind == pat::QualifierKind::start_stop);
  const auto& start = p.literals[qs[1].literal];
  const auto& stop = p.literals[qs[1].literal + 1];
  CHECK(start.kind == pat::LiteralKind::timestamp);
  CHECK(p.text(start.text) == "2016-06-01T00:00:00Z");
  CHECK(start.timestamp.unix_seconds() == 1464739200);
  CHECK(stop.timestamp.to_string() == "2016-07-01T00:00:00.5Z");
  const auto& and_node = p.observations[group.child];
  REQUIRE(and_node.kind == pat::ObservationKind::and_);
  CHECK(and_node.qualifier_count == 0);
  const auto& first = p.observations[p.operands_of(and_node)[0]];
  const auto fq = p.qualifiers_of(first);
  REQUIRE(fq.size() == 1);
  CHECK(fq[0].kind == pat::QualifierKind::repeats);
  CHECK(p.literals[fq[0].literal].integer == 2);
  CHECK(p.qualifiers_of(p.observations[p.operands_of(and_node)[1]]).empty());
}

TEST_CASE("a qualifier on parentheses is separate from the one inside", "[pattern_parser]") {
  const auto p = parse_ok("([file:name = 'a'] WITHIN 5 SECONDS) WITHIN 6 SECONDS");
  const auto& group = p.observations[p.root];
  REQUIRE(group.qualifier_count == 1);
  CHECK(p.literals[p.qualifiers_of(group)[0].literal].integer == 6);
  const auto& inner = p.observations[group.child];
  REQUIRE(inner.qualifier_count == 1);
  CHECK(p.literals[p.qualifiers_of(inner)[0].literal].integer == 5);
  const auto e = parse_fail("[file:name = 'a'] WITHIN 5 SECONDS REPEATS 2 TIMES WITHIN 6 SECONDS");
  CHECK(e.column == 52);
  CHECK_THAT(e.message, Catch::Contains("more than one WITHIN"));
}

TEST_CASE("object paths: type, property steps, quoted steps, indexes", "[pattern_parser]") {
  const auto p = parse_ok("[x509-certificate:'x.y'.hashes.'SHA-256'[3][*].z = 'v']");
  const auto& t = only_test(p);
  CHECK(p.text(t.path.type) == "x509-certificate");
  CHECK(t.path.column == 2);
  CHECK(t.column == 2);
  const auto steps = p.steps_of(t);
  REQUIRE(steps.size() == 6);
  CHECK(steps[0].kind == pat::StepKind::property);
  CHECK(p.text(steps[0].name) == "x.y");
  CHECK(steps[0].column == 19);
  CHECK(p.text(steps[1].name) == "hashes");
  CHECK(p.text(steps[2].name) == "SHA-256");
  CHECK(steps[3].kind == pat::StepKind::index);
  CHECK(steps[3].index == 3);
  CHECK(steps[4].kind == pat::StepKind::any_index);
  CHECK(p.text(steps[5].name) == "z");
  CHECK(pat::to_string(p) == "[x509-certificate:'x.y'.hashes.'SHA-256'[3][*].z = 'v']");
}

TEST_CASE("literals are decoded", "[pattern_parser]") {
  SECTION("strings: only \\' and \\\\ are escapes") {
    const auto p = parse_ok(R"([file:name = 'it\'s a \\ back\\slash'])");
    const auto& l = only_literal(p);
    CHECK(l.kind == pat::LiteralKind::string);
    CHECK(p.text(l.text) == R"(it's a \ back\slash)");
    CHECK(l.column == 14);
  }
  SECTION("integers, the full int64 range") {
    CHECK(only_literal(parse_ok("[x-a:n = -9223372036854775808]")).integer == INT64_MIN);
    CHECK(only_literal(parse_ok("[x-a:n = 9223372036854775807]")).integer == INT64_MAX);
    const auto p = parse_ok("[x-a:n = -42]");
    CHECK(only_literal(p).kind == pat::LiteralKind::integer);
    CHECK(only_literal(p).number == -42.0);
  }
  SECTION("floats, including .5 as the grammar has it") {
    CHECK(only_literal(parse_ok("[x-a:n = .5]")).number == 0.5);
    CHECK(only_literal(parse_ok("[x-a:n = -.25]")).number == -0.25);
    CHECK(only_literal(parse_ok("[x-a:n = 7.0]")).kind == pat::LiteralKind::floating);
  }
  SECTION("booleans") {
    CHECK(only_literal(parse_ok("[process:is_hidden = true]")).boolean);
    CHECK_FALSE(only_literal(parse_ok("[process:is_hidden = false]")).boolean);
    CHECK(only_literal(parse_ok("[process:is_hidden = false]")).kind == pat::LiteralKind::boolean);
  }
  SECTION("binary: base64 decoded, line feeds ignored (9.2)") {
    const auto p = parse_ok("[artifact:payload_bin = b'dGhpcyBp\ncyBhIHRl\r\nc3Q=']");
    const auto& l = only_literal(p);
    CHECK(l.kind == pat::LiteralKind::binary);
    CHECK(p.text(l.text) == "this is a test");
    CHECK(pat::to_string(p) == "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']");
    const auto ff = parse_ok("[artifact:payload_bin = b'/w==']");
    CHECK(ff.text(only_literal(ff).text) == "\xff");
  }
  SECTION("hex: decoded, either case") {
    const auto p = parse_ok("[file:magic_number_hex = h'fFd8']");
    CHECK(p.text(only_literal(p).text) == "\xff\xd8");
    CHECK(pat::to_string(p) == "[file:magic_number_hex = h'ffd8']");
    CHECK(p.text(only_literal(parse_ok("[file:magic_number_hex = h'']")).text).empty());
  }
  SECTION("timestamps: text and instant, any number of fractional digits") {
    const auto p = parse_ok("[file:ctime = t'2016-02-29T23:59:59.123456789012Z']");
    const auto& l = only_literal(p);
    CHECK(l.kind == pat::LiteralKind::timestamp);
    CHECK(p.text(l.text) == "2016-02-29T23:59:59.123456789012Z");
    CHECK(l.timestamp.unix_seconds() == 1456790399);
    CHECK(l.timestamp.nanos() == 123456789);
  }
  SECTION("sets") {
    const auto p = parse_ok("[file:size IN (1, 2.5, 3)]");
    const auto& t = only_test(p);
    CHECK(t.op == pat::TestOperator::in);
    REQUIRE(t.literal_count == 3);
    CHECK(p.literals_of(t)[1].number == 2.5);
  }
}

TEST_CASE("every operator, with and without NOT", "[pattern_parser]") {
  struct Case {
    const char* text;
    pat::TestOperator op;
    bool negated;
    std::size_t op_column;
  };
  const Case cases[] = {
      {"[file:size = 1]", pat::TestOperator::equal, false, 12},
      {"[file:size != 1]", pat::TestOperator::not_equal, false, 12},
      {"[file:size < 1]", pat::TestOperator::less, false, 12},
      {"[file:size <= 1]", pat::TestOperator::less_equal, false, 12},
      {"[file:size > 1]", pat::TestOperator::greater, false, 12},
      {"[file:size >= 1]", pat::TestOperator::greater_equal, false, 12},
      {"[file:size IN (1)]", pat::TestOperator::in, false, 12},
      {"[file:name LIKE 'a']", pat::TestOperator::like, false, 12},
      {"[file:name MATCHES 'a']", pat::TestOperator::matches, false, 12},
      {"[ipv4-addr:value ISSUBSET '10.0.0.0/8']", pat::TestOperator::issubset, false, 18},
      {"[ipv4-addr:value ISSUPERSET '10.0.0.1']", pat::TestOperator::issuperset, false, 18},
      {"[EXISTS file:name]", pat::TestOperator::exists, false, 2},
      {"[file:size NOT = 1]", pat::TestOperator::equal, true, 16},
      {"[file:size NOT != 1]", pat::TestOperator::not_equal, true, 16},
      {"[file:size NOT < 1]", pat::TestOperator::less, true, 16},
      {"[file:size NOT <= 1]", pat::TestOperator::less_equal, true, 16},
      {"[file:size NOT > 1]", pat::TestOperator::greater, true, 16},
      {"[file:size NOT >= 1]", pat::TestOperator::greater_equal, true, 16},
      {"[file:size NOT IN (1, 2)]", pat::TestOperator::in, true, 16},
      {"[file:name NOT LIKE 'a']", pat::TestOperator::like, true, 16},
      {"[file:name NOT MATCHES 'a']", pat::TestOperator::matches, true, 16},
      {"[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']", pat::TestOperator::issubset, true, 22},
      {"[ipv4-addr:value NOT ISSUPERSET '10.0.0.1']", pat::TestOperator::issuperset, true, 22},
      {"[NOT EXISTS file:name]", pat::TestOperator::exists, true, 6},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto p = parse_ok(c.text);
    const auto& t = only_test(p);
    CHECK(t.op == c.op);
    CHECK(t.negated == c.negated);
    CHECK(t.op_column == c.op_column);
    CHECK(pat::to_string(p) == c.text);
    CHECK(pat::check(p).empty());
  }
}

TEST_CASE("whitespace: any Unicode WSpace code point between tokens, none needed around punctuation",
          "[pattern_parser]") {
  const std::string ws[] = {" ",
                            "\t",
                            "\n",
                            "\r\n",
                            "\v",
                            "\f",
                            "\xc2\x85",
                            "\xc2\xa0",
                            "\xe1\x9a\x80",
                            "\xe2\x80\x80",
                            "\xe2\x80\x8a",
                            "\xe2\x80\xa8",
                            "\xe2\x80\xa9",
                            "\xe2\x80\xaf",
                            "\xe2\x81\x9f",
                            "\xe3\x80\x80"};
  for (const auto& w : ws) {
    const std::string text = w + "[" + w + "file:name" + w + "=" + w + "'a'" + w + "AND" + w + "file:size" + w + "NOT" +
                             w + "IN" + w + "(" + w + "1" + w + "," + w + "2" + w + ")" + w + "]" + w + "WITHIN" + w +
                             "5" + w + "SECONDS" + w;
    INFO(text);
    const auto p = parse_ok(text);
    CHECK(pat::to_string(p) == "[file:name = 'a' AND file:size NOT IN (1, 2)] WITHIN 5 SECONDS");
  }
  CHECK(pat::to_string(parse_ok("[file:name='a'AND file:size>=1]")) == "[file:name = 'a' AND file:size >= 1]");
  // A code point that is not whitespace (U+200B ZERO WIDTH SPACE is not WSpace).
  const auto e = parse_fail("[file:name =\xe2\x80\x8b'a']");
  CHECK(e.column == 13);
  CHECK_THAT(e.message, Catch::Contains("U+200B"));
  // Columns count bytes, across lines.
  const auto e2 = parse_fail("[file:name = 'a'\n AND file:size == 1]");
  CHECK(e2.column == 33);
}

TEST_CASE("keywords are case-sensitive and cannot be bare property names", "[pattern_parser]") {
  CHECK_THAT(parse_fail("[file:name = 'a' and file:size = 1]").message, Catch::Contains("keywords are upper case"));
  CHECK_THAT(parse_fail("[file:name = 'a'] followedby [file:name = 'b']").message,
             Catch::Contains("keywords are upper case"));
  CHECK_THAT(parse_fail("[file:IN = 1]").message, Catch::Contains("quote it"));
  CHECK(only_test(parse_ok("[x-a:'IN' = 1]")).path.step_count == 1);
  // Identifiers that merely start with a keyword are identifiers.
  const auto p = parse_ok("[x-a:INx = 1 AND x-a:ORDER = 2]");
  CHECK(p.text(p.steps_of(p.tests[1])[0].name) == "ORDER");
}

// ---------------------------------------------------------------------------
// Hostile input

TEST_CASE("deep nesting is an error at the limit, never a stack overflow", "[pattern_parser]") {
  SECTION("10,000 parentheses around observations") {
    const std::string text = std::string(10000, '(') + "[file:name = 'a']" + std::string(10000, ')');
    const auto e = parse_fail(text);
    CHECK(e.column == 101);
    CHECK_THAT(e.message, Catch::Contains("nested more than 100"));
  }
  SECTION("10,000 parentheses inside an observation") {
    const std::string text = "[" + std::string(10000, '(') + "file:name = 'a'" + std::string(10000, ')') + "]";
    CHECK(parse_fail(text).column == 101);
  }
  SECTION("10,000 unclosed parentheses") {
    CHECK_THAT(parse_fail(std::string(10000, '(')).message, Catch::Contains("nested more than 100"));
    CHECK_THAT(parse_fail("[" + std::string(10000, '(')).message, Catch::Contains("nested more than 100"));
  }
  SECTION("the limit is exact and configurable") {
    const auto nest = [](int n) { return std::string(n, '(') + "[file:name = 'a']" + std::string(n, ')'); };
    parse_ok(nest(99));  // 99 parentheses + 1 bracket = 100 levels
    CHECK(parse_fail(nest(100)).column == 101);
    pat::ParseOptions options;
    options.max_depth = 3;
    pat::ParsedPattern p;
    pat::ParseError e;
    CHECK(pat::parse(nest(2), p, e, options));
    CHECK_FALSE(pat::parse(nest(3), p, e, options));
    CHECK(e.column == 4);
  }
}

TEST_CASE("long operator chains are flat and fast to parse and check", "[pattern_parser]") {
  constexpr int kN = 100000;
  std::string obs, cmp = "[";
  for (int i = 0; i < kN; ++i) {
    if (i != 0) {
      obs += i % 2 == 0 ? " FOLLOWEDBY " : " AND ";
      cmp += i % 3 == 0 ? " OR " : " AND ";
    }
    obs += "[file:size = " + std::to_string(i) + "]";
    cmp += "file:size = " + std::to_string(i);
  }
  cmp += "]";
  const auto start = std::chrono::steady_clock::now();
  const auto p1 = parse_ok(obs);
  CHECK(p1.observations[p1.root].kind == pat::ObservationKind::followed_by);
  CHECK(p1.tests.size() == static_cast<std::size_t>(kN));
  CHECK(pat::check(p1).empty());
  const auto p2 = parse_ok(cmp);
  CHECK(pat::check(p2).empty());
  CHECK(pat::to_string(p2).size() > cmp.size() - 10);
  // Generous: linear work takes milliseconds; a quadratic slip takes minutes.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}

TEST_CASE("megabyte literals parse in linear time, and messages stay short", "[pattern_parser]") {
  const std::size_t kSize = 1 << 20;
  SECTION("a 1 MB string") {
    const std::string text = "[file:name = '" + std::string(kSize, 'a') + "']";
    const auto p = parse_ok(text);
    CHECK(p.text(only_literal(p).text).size() == kSize);
  }
  SECTION("a 1 MB string of escapes") {
    std::string body;
    for (std::size_t i = 0; i < kSize / 2; ++i) body += i % 2 == 0 ? "\\'" : "\\\\";
    const auto p = parse_ok("[file:name = '" + body + "']");
    CHECK(p.text(only_literal(p).text).size() == kSize / 2);
  }
  SECTION("an unterminated 1 MB string") {
    const auto e = parse_fail("[file:name = '" + std::string(kSize, 'a'));
    CHECK(e.column == 14);
    CHECK(e.message == "unterminated string literal");
  }
  SECTION("1 MB binary, hex and regex literals") {
    std::string b64(kSize, 'A');
    const auto p = parse_ok("[artifact:payload_bin = b'" + b64 + "']");
    CHECK(p.text(only_literal(p).text).size() == kSize / 4 * 3);
    const auto h = parse_ok("[file:magic_number_hex = h'" + std::string(kSize, 'f') + "']");
    CHECK(p.text(only_literal(p).text).size() > 0);
    CHECK(h.text(only_literal(h).text).size() == kSize / 2);
    // PCRE2 (link size 2) refuses compiled expressions over 64 KiB.
    const auto m = pat::check(parse_ok("[file:name MATCHES '" + std::string(kSize, 'a') + "']"));
    REQUIRE(m.size() == 1);
    CHECK_THAT(m[0].message, Catch::Contains("too large"));
    CHECK(pat::check(parse_ok("[file:name MATCHES '" + std::string(4096, 'a') + "']")).empty());
  }
  SECTION("a 1 MB bad token is cut in the message") {
    const auto e = parse_fail("[file:name = '" + std::string(kSize, 'x') + "' '" + std::string(kSize, 'y') + "']");
    CHECK(e.message.size() < 200);
    const auto e2 = parse_fail("[file:size = " + std::string(kSize, '1') + "x]");
    CHECK(e2.message.size() < 200);
    const auto e3 = parse_fail("[file:ctime = t'2016-01-01T00:00:00." + std::string(kSize, '1') + "']");
    CHECK(e3.message.size() < 200);
  }
}

TEST_CASE("NUL bytes and invalid UTF-8", "[pattern_parser]") {
  using namespace std::string_literals;
  const auto p = parse_ok("[file:name = 'a\0b']"s);
  CHECK(p.text(only_literal(p).text) == "a\0b"s);
  CHECK(pat::to_string(p) == "[file:name = 'a\0b']"s);
  const auto e = parse_fail("[file:name = 'a']\0"s);
  CHECK(e.column == 18);
  CHECK_THAT(e.message, Catch::Contains("NUL"));
  CHECK(parse_fail("[file:name\0 = 'a']"s).column == 11);
  const auto u = parse_fail("[file:name = 'a\xff']");
  CHECK(u.column == 16);
  CHECK(u.message == "invalid UTF-8 in string literal");
  CHECK(parse_fail("[file:name = 'a\xc0\xaf']").column == 16);      // overlong
  CHECK(parse_fail("[file:name = 'a\xed\xa0\x80']").column == 16);  // surrogate
  CHECK(parse_fail("[file:name = 'a\xe2\x82']").column == 16);      // truncated
  const auto o = parse_fail("[file:name = 'a'] \xff");
  CHECK(o.column == 19);
  CHECK_THAT(o.message, Catch::Contains("invalid UTF-8"));
  CHECK(o.message.find('\xff') == std::string::npos);
  CHECK(parse_fail("").message == "expected '[' or '(' but found the end of the pattern");
  CHECK(parse_fail("   ").column == 4);
}

// ---------------------------------------------------------------------------
// API

TEST_CASE("the Result form and reuse of one ParsedPattern", "[pattern_parser]") {
  auto r = pat::parse("[file:name = 'a']");
  REQUIRE(r);
  CHECK(r->tests.size() == 1);
  const auto bad = pat::parse("[file:name = 'a'");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "column 17: expected ']' but found the end of the pattern");
  CHECK(pat::to_string(pat::ParseError{14, "expected ']' but found 'AND'"}) ==
        "column 14: expected ']' but found 'AND'");

  pat::ParsedPattern p;
  pat::ParseError e;
  REQUIRE(pat::parse("[file:name = 'a' AND file:size = 1] AND [file:name = 'b']", p, e));
  CHECK(p.tests.size() == 3);
  REQUIRE_FALSE(pat::parse("[file:name = ", p, e));
  REQUIRE(pat::parse("[domain-name:value = 'x']", p, e));
  CHECK(p.tests.size() == 1);
  CHECK(p.observations.size() == 1);
  CHECK(p.strings == "domain-namevaluex");
  CHECK(pat::to_string(p) == "[domain-name:value = 'x']");
}

TEST_CASE("check: issues sorted by column, parse_and_check, has_errors", "[pattern_parser]") {
  const auto issues =
      pat::parse_and_check("[file:hashes.MD5 = 'abc' AND file:foo = 1] WITHIN 0 SECONDS OR [domain:value = 'x']");
  REQUIRE(issues.size() == 4);
  CHECK(issues[0].kind == pat::IssueKind::error);  // the MD5 value
  CHECK(issues[0].column == 20);
  CHECK(issues[1].kind == pat::IssueKind::custom_property);
  CHECK(issues[1].column == 35);
  CHECK(issues[2].kind == pat::IssueKind::error);  // WITHIN 0
  CHECK(issues[2].column == 51);
  CHECK(issues[3].kind == pat::IssueKind::custom_object);
  CHECK(issues[3].message == "unknown object type 'domain' (a custom type? 'domain-name' is the STIX type)");
  CHECK(pat::has_errors(issues));
  for (const auto& i : issues) {
    CHECK(i.message.find('\n') == std::string::npos);
    CHECK(!(i.message[0] >= 'A' && i.message[0] <= 'Z'));
    CHECK(i.message.back() != '.');
  }
  const auto parse_issue = pat::parse_and_check("[file:name == 'a']");
  REQUIRE(parse_issue.size() == 1);
  CHECK(parse_issue[0].kind == pat::IssueKind::error);
  CHECK(parse_issue[0].column == 12);
  CHECK_FALSE(pat::has_errors(pat::parse_and_check("[file:foo = 1]")));
  CHECK(pat::parse_and_check("[domain-name:value = 'secure-login.example']").empty());
  CHECK(pat::to_string(pat::IssueKind::literal_type) == "literal-type");
  CHECK(pat::check(pat::ParsedPattern{}).empty());

  std::vector<pat::Issue> appended{{pat::IssueKind::error, 99, "earlier"}};
  pat::check(parse_ok("[file:foo = 1]"), appended);
  REQUIRE(appended.size() == 2);
  CHECK(appended[0].message == "earlier");
}

TEST_CASE("check: MATCHES is compiled as PCRE2 with DOTALL and UTF (not UTF for binary)", "[pattern_parser]") {
  CHECK(pat::parse_and_check("[file:name MATCHES '(?s).\\\\d+']").empty());
  CHECK(pat::parse_and_check("[file:name MATCHES '\\\\p{L}+']").empty());  // needs UTF / Unicode properties
  CHECK(pat::parse_and_check("[artifact:payload_bin MATCHES '\\\\xd4\\\\xc3']").empty());
  const auto issues = pat::parse_and_check("[file:name MATCHES 'a)']");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].column == 20);
  CHECK_THAT(issues[0].message, Catch::StartsWith("invalid regular expression: ") && Catch::Contains("offset 1"));
}

TEST_CASE("check: a custom type's comparisons are not judged beyond the type", "[pattern_parser]") {
  const auto issues = pat::parse_and_check("[x-acme-widget:size = 'big' AND x-acme-widget:hashes.MD5 = 'abc']");
  REQUIRE(issues.size() == 2);
  CHECK(issues[0].kind == pat::IssueKind::custom_object);
  CHECK(issues[1].kind == pat::IssueKind::custom_object);
}

// ---------------------------------------------------------------------------
// The SCO tables

TEST_CASE("schema: the 18 SCO types of section 6 and their predefined extensions", "[pattern_parser]") {
  const auto& types = schema::sco_types();
  REQUIRE(types.size() == 18);
  const char* names[] = {"artifact",
                         "autonomous-system",
                         "directory",
                         "domain-name",
                         "email-addr",
                         "email-message",
                         "file",
                         "ipv4-addr",
                         "ipv6-addr",
                         "mac-addr",
                         "mutex",
                         "network-traffic",
                         "process",
                         "software",
                         "url",
                         "user-account",
                         "windows-registry-key",
                         "x509-certificate"};
  for (const char* n : names) {
    INFO(n);
    bool found = false;
    for (const auto& t : types) found = found || t.name == n;
    CHECK(found);
  }
  for (const auto& t : types) {
    INFO(t.name);
    CHECK_FALSE(t.properties.empty());
    for (const auto& prop : t.properties) {
      // Only the type's own properties; the common ones live elsewhere.
      CHECK(prop.name != "type");
      CHECK(prop.name != "id");
      CHECK(prop.name != "extensions");
      CHECK(prop.name != "spec_version");
      if (prop.kind == schema::Kind::object || prop.kind == schema::Kind::object_list) {
        REQUIRE(prop.nested != nullptr);
        CHECK_FALSE(prop.nested->properties.empty());
      }
      if (prop.name.size() > 4 && prop.name.substr(prop.name.size() - 4) == "_ref") {
        CHECK(prop.kind == schema::Kind::identifier);
        CHECK_FALSE(prop.targets.empty());
      }
      if (prop.name.size() > 5 && prop.name.substr(prop.name.size() - 5) == "_refs") {
        CHECK(prop.kind == schema::Kind::identifier_list);
      }
      if (prop.name.size() > 4 && prop.name.substr(prop.name.size() - 4) == "_hex")
        CHECK(prop.kind == schema::Kind::hex);
      if (prop.name.size() > 4 && prop.name.substr(prop.name.size() - 4) == "_bin")
        CHECK(prop.kind == schema::Kind::binary);
    }
  }
  const auto prop = [](std::string_view type, std::string_view name) {
    const schema::ObjectSchema* s = nullptr;
    for (const auto& t : schema::sco_types())
      if (t.name == type) s = &t;
    REQUIRE(s != nullptr);
    const auto* p = schema::find_property(*s, name);
    REQUIRE(p != nullptr);
    return p;
  };
  CHECK(prop("autonomous-system", "number")->required);
  CHECK(prop("autonomous-system", "number")->min == 0);
  CHECK(prop("network-traffic", "src_port")->max == 65535);
  CHECK(prop("network-traffic", "dst_port")->min == 0);
  CHECK(prop("network-traffic", "protocols")->required);
  CHECK(prop("network-traffic", "src_ref")->targets ==
        std::vector<std::string_view>{"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"});
  CHECK(prop("email-message", "from_ref")->targets == std::vector<std::string_view>{"email-addr"});
  CHECK(prop("email-message", "is_multipart")->required);
  CHECK(prop("file", "parent_directory_ref")->targets == std::vector<std::string_view>{"directory"});
  CHECK(prop("file", "size")->min == 0);
  CHECK(prop("file", "hashes")->kind == schema::Kind::hashes);
  CHECK(prop("artifact", "encryption_algorithm")->vocab == "encryption-algorithm-enum");
  CHECK(prop("artifact", "encryption_algorithm")->kind == schema::Kind::enumeration);
  CHECK(prop("user-account", "account_type")->vocab == "account-type-ov");
  CHECK(prop("windows-registry-key", "values")->nested->name == "windows-registry-value-type");
  CHECK(schema::find_property(*prop("windows-registry-key", "values")->nested, "data_type")->vocab ==
        "windows-registry-datatype-enum");
  CHECK(prop("x509-certificate", "x509_v3_extensions")->nested->properties.size() == 16);
  CHECK(prop("email-message", "body_multipart")->nested->name == "email-mime-part-type");
  for (const char* required : {"value"})
    for (const char* type : {"domain-name", "email-addr", "ipv4-addr", "ipv6-addr", "mac-addr", "url"})
      CHECK(prop(type, required)->required);

  struct Ext {
    const char* type;
    const char* name;
    const char* required;  // "" when none
  };
  const Ext exts[] = {
      {"file", "archive-ext", "contains_refs"},
      {"file", "ntfs-ext", ""},
      {"file", "pdf-ext", ""},
      {"file", "raster-image-ext", ""},
      {"file", "windows-pebinary-ext", "pe_type"},
      {"network-traffic", "http-request-ext", "request_method"},
      {"network-traffic", "icmp-ext", "icmp_code_hex"},
      {"network-traffic", "socket-ext", "address_family"},
      {"network-traffic", "tcp-ext", ""},
      {"process", "windows-process-ext", ""},
      {"process", "windows-service-ext", ""},
      {"user-account", "unix-account-ext", ""},
  };
  for (const auto& x : exts) {
    INFO(x.type << " " << x.name);
    const auto* s = schema::find_extension(x.type, x.name);
    REQUIRE(s != nullptr);
    CHECK(s->name == x.name);
    std::size_t required = 0;
    for (const auto& p : s->properties) required += p.required ? 1 : 0;
    if (*x.required != '\0') {
      const auto* r = schema::find_property(*s, x.required);
      REQUIRE(r != nullptr);
      CHECK(r->required);
    } else {
      CHECK(required == 0);
    }
  }
  CHECK(schema::find_extension("file", "tcp-ext") == nullptr);
  CHECK(schema::find_extension("process", "archive-ext") == nullptr);
  CHECK(schema::find_extension("domain-name", "x") == nullptr);
  const auto* pe = schema::find_extension("file", "windows-pebinary-ext");
  CHECK(schema::find_property(*pe, "sections")->nested->name == "windows-pe-section-type");
  CHECK(schema::find_property(*schema::find_property(*pe, "sections")->nested, "entropy")->kind ==
        schema::Kind::number);
  CHECK(schema::find_property(*pe, "optional_header")->kind == schema::Kind::object);
  CHECK(schema::find_property(*schema::find_extension("network-traffic", "socket-ext"), "socket_type")->vocab ==
        "network-socket-type-enum");
  CHECK(schema::find_property(*schema::find_extension("process", "windows-service-ext"), "service_status")->vocab ==
        "windows-service-status-enum");
}
