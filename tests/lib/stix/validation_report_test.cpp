// Tests of the validation report writers: the exact text lines, the JSON and
// SARIF documents (parsed back and checked field by field), JUnit XML and its
// escaping of hostile strings, URI escaping, --strict severities, byte-exact
// determinism and sink write errors. Only core checks (E0nn, W1nn-W5nn of the
// fixed table) are used, never vocabulary codes.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ctishare/file.h"
#include "ctishare/json.h"
#include "ctishare/validate.h"

using namespace ctishare;
using namespace ctishare::stix;

namespace {

const std::string kIndicator = "indicator--11111111-1111-4111-8111-111111111111";
const std::string kMalware = "malware--22222222-2222-4222-8222-222222222222";

const Check* check(std::string_view code) {
  const Check* c = find_check(code);
  REQUIRE(c != nullptr);
  return c;
}

Finding finding(std::string_view code, std::string file, std::uint64_t line, std::string id, std::string property,
                std::string message) {
  Finding f;
  f.check = check(code);
  f.severity = f.check->severity;
  f.file = std::move(file);
  f.line = line;
  f.object_id = std::move(id);
  f.property = std::move(property);
  f.message = std::move(message);
  return f;
}

// A warning that --strict turned into an error.
Finding strict(Finding f) {
  f.severity = Severity::error;
  return f;
}

// Findings on two inputs: a.json (3 objects: an error and a warning on the
// indicator, an error without a line on the malware), b.json (2 objects, no
// findings), c.json (0 objects, one finding about the input itself).
struct Input {
  std::string file;
  std::uint64_t objects;
  std::vector<Finding> findings;
};

std::vector<Input> sample() {
  return {
      {"a.json",
       3,
       {finding("E014", "a.json", 12, kIndicator, "valid_from", "'2024-13-01T00:00:00Z' is not a date"),
        finding("W101", "a.json", 12, kIndicator, "acme_score", "custom property without x_ prefix"),
        finding("E010", "a.json", 0, kMalware, "", "missing required property 'is_family'")}},
      {"b.json", 2, {}},
      {"c.json", 0, {finding("E001", "c.json", 1, "", "", "unexpected end of input at byte 17")}},
  };
}

std::string render(ReportFormat format, const std::vector<Input>& inputs, std::string_view version = {}) {
  StringSink sink;
  auto writer = make_report_writer(format, sink, version);
  for (const auto& input : inputs) {
    writer->begin_file(input.file);
    for (const auto& f : input.findings) writer->add(f);
    writer->end_file(input.file, input.objects);
  }
  REQUIRE(writer->finish());
  return sink.text();
}

json::Value parse_json(const std::string& text) {
  INFO(text);
  auto v = json::parse(text);
  REQUIRE(v);
  return std::move(*v);
}

const json::Value& at(const json::Value& v, std::string_view name) {
  INFO(name);
  const json::Value* m = v.find(name);
  REQUIRE(m != nullptr);
  return *m;
}

std::string str(const json::Value& v, std::string_view name) {
  const json::Value& m = at(v, name);
  REQUIRE(m.is_string());
  return m.as_string();
}

std::int64_t num(const json::Value& v, std::string_view name) {
  const auto n = at(v, name).as_int64();
  REQUIRE(n);
  return *n;
}

// Whether `s` is well-formed UTF-8 (what every report must be).
bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80                 ? 1
                    : b >= 0xC2 && b <= 0xDF ? 2
                    : b >= 0xE0 && b <= 0xEF ? 3
                    : b >= 0xF0 && b <= 0xF4 ? 4
                                             : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Whether `s` holds a byte XML 1.0 forbids (C0 controls but tab, LF, CR).
bool has_xml_illegal_byte(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
  }
  return false;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

class FailingSink final : public Sink {
 public:
  Status write(std::string_view) override { return Error(ErrorCategory::io, "'<stdout>': write failed"); }
};

// Records each write, to see when output reaches the sink.
class CountingSink final : public Sink {
 public:
  Status write(std::string_view data) override {
    text.append(data);
    ++writes;
    return {};
  }
  std::string text;
  int writes = 0;
};

const std::string kHostile = std::string("</failure><script>alert(\"x\" & 'y')</script>\x01 nul:") + '\0' + "!\n2nd";

}  // namespace

TEST_CASE("parse_report_format knows the four names and nothing else", "[report]") {
  CHECK(parse_report_format("text") == ReportFormat::text);
  CHECK(parse_report_format("json") == ReportFormat::json);
  CHECK(parse_report_format("sarif") == ReportFormat::sarif);
  CHECK(parse_report_format("junit") == ReportFormat::junit);
  CHECK_FALSE(parse_report_format("JSON"));
  CHECK_FALSE(parse_report_format("xml"));
  CHECK_FALSE(parse_report_format(""));
}

TEST_CASE("text: one exact line per finding, no summary", "[report]") {
  const std::string text = render(ReportFormat::text, sample());
  // clang-format off
  CHECK(text ==
        "a.json:12: " + kIndicator + ": E014 invalid-timestamp: valid_from: '2024-13-01T00:00:00Z' is not a date\n"
        "a.json:12: " + kIndicator + ": W101 custom-prefix: acme_score: custom property without x_ prefix\n"
        "a.json: " + kMalware + ": E010 missing-property: missing required property 'is_family'\n"
        "c.json:1: -: E001 invalid-json: unexpected end of input at byte 17\n");
  // clang-format on
}

TEST_CASE("text: --strict keeps the W code; no findings, no output", "[report]") {
  CHECK(render(ReportFormat::text, {{"a.json", 1, {strict(finding("W101", "a.json", 4, kIndicator, "", "m"))}}}) ==
        "a.json:4: " + kIndicator + ": W101 custom-prefix: m\n");
  CHECK(render(ReportFormat::text, {{"a.json", 5, {}}}).empty());
}

TEST_CASE("text: control characters and bad UTF-8 cannot break a line", "[report]") {
  const std::string text =
      render(ReportFormat::text,
             {{"a\nb.json",
               1,
               {finding("E013", "a\nb.json", 2, "x--\x1b[2J", "name\t",
                        std::string("bad \xff byte, nul") + '\0' + ", del\x7f, rlo \xE2\x80\xAE, ok \xC3\xA9")}}});
  CHECK(text ==
        "a\\u000ab.json:2: x--\\u001b[2J: E013 invalid-identifier: name\\u0009: bad \xEF\xBF\xBD byte, nul\\u0000, "
        "del\\u007f, rlo \\u202e, ok \xC3\xA9\n");
  CHECK(count(text, "\n") == 1);
  CHECK(is_utf8(text));
}

TEST_CASE("text: written as findings come, at the latest at end_file", "[report]") {
  CountingSink sink;
  auto writer = make_report_writer(ReportFormat::text, sink);
  writer->begin_file("big.json");
  const Finding f = finding("W101", "big.json", 7, kIndicator, "acme", std::string(100, 'm'));
  for (int i = 0; i < 1000; ++i) writer->add(f);
  // Over 100 KB of lines: some must have gone out before the file ended.
  CHECK(sink.writes > 0);
  CHECK(sink.writes < 1000);  // but not a write per line
  writer->end_file("big.json", 1000);
  CHECK(count(sink.text, "\n") == 1000);
  writer->begin_file("small.json");
  writer->add(finding("E010", "small.json", 1, kMalware, "", "m"));
  writer->end_file("small.json", 1);
  CHECK(count(sink.text, "\n") == 1001);
  REQUIRE(writer->finish());
  CHECK(count(sink.text, "\n") == 1001);
}

TEST_CASE("json: the documented document", "[report]") {
  const json::Value doc = parse_json(render(ReportFormat::json, sample()));
  CHECK(num(doc, "errors") == 3);
  CHECK(num(doc, "warnings") == 1);
  const auto& files = at(doc, "files").as_array();
  REQUIRE(files.size() == 3);

  CHECK(str(files[0], "file") == "a.json");
  CHECK(num(files[0], "objects") == 3);
  CHECK(num(files[0], "errors") == 2);
  CHECK(num(files[0], "warnings") == 1);
  const auto& a = at(files[0], "findings").as_array();
  REQUIRE(a.size() == 3);
  CHECK(str(a[0], "code") == "E014");
  CHECK(str(a[0], "name") == "invalid-timestamp");
  CHECK(str(a[0], "severity") == "error");
  CHECK(num(a[0], "line") == 12);
  CHECK(str(a[0], "id") == kIndicator);
  CHECK(str(a[0], "property") == "valid_from");
  CHECK(str(a[0], "message") == "'2024-13-01T00:00:00Z' is not a date");
  CHECK(str(a[1], "severity") == "warning");
  CHECK(num(a[2], "line") == 0);
  CHECK(str(a[2], "property").empty());

  CHECK(str(files[1], "file") == "b.json");
  CHECK(num(files[1], "objects") == 2);
  CHECK(at(files[1], "findings").as_array().empty());

  const auto& c = at(files[2], "findings").as_array();
  REQUIRE(c.size() == 1);
  CHECK(str(c[0], "id").empty());
  CHECK(str(c[0], "code") == "E001");
}

TEST_CASE("json: an empty report, --strict, and hostile strings", "[report]") {
  const json::Value empty = parse_json(render(ReportFormat::json, {}));
  CHECK(at(empty, "files").as_array().empty());
  CHECK(num(empty, "errors") == 0);

  const std::string text =
      render(ReportFormat::json, {{"a.json",
                                   1,
                                   {strict(finding("W101", "a.json", 3, kIndicator, "", kHostile)),
                                    finding("E010", "a.json", 3, kIndicator, "", "bad \xC0\xAF"),
                                    finding("E010", "a.json", 3, kIndicator, "",
                                            "\xE0\x80\xAF|\xED\xA0\x80|\xF4\x90\x80\x80|\xF0\x9F\x98\x80")}}});
  CHECK(is_utf8(text));
  const json::Value doc = parse_json(text);
  CHECK(num(doc, "errors") == 3);
  CHECK(num(doc, "warnings") == 0);
  const auto& f = at(at(doc, "files").as_array()[0], "findings").as_array();
  CHECK(str(f[0], "code") == "W101");
  CHECK(str(f[0], "severity") == "error");
  CHECK(str(f[0], "message") == kHostile);                        // JSON carries it exactly
  CHECK(str(f[1], "message") == "bad \xEF\xBF\xBD\xEF\xBF\xBD");  // an overlong "/" is not let through
  // Overlong, surrogate, past U+10FFFF: one U+FFFD a byte; a real emoji stays.
  const std::string r = "\xEF\xBF\xBD";
  CHECK(str(f[2], "message") == r + r + r + "|" + r + r + r + "|" + r + r + r + r + "|\xF0\x9F\x98\x80");
}

TEST_CASE("json: a finding after its file ended joins that file", "[report]") {
  // Cross-version checks report from Validator::finish(), after end_file.
  StringSink sink;
  auto writer = make_report_writer(ReportFormat::json, sink);
  writer->begin_file("a.json");
  writer->end_file("a.json", 2);
  writer->begin_file("b.json");
  writer->end_file("b.json", 1);
  writer->add(finding("E042", "a.json", 5, kIndicator, "created", "differs from an earlier version"));
  writer->add(finding("E040", "new.json", 0, kMalware, "", "conflict"));
  REQUIRE(writer->finish());
  const json::Value doc = parse_json(sink.text());
  const auto& files = at(doc, "files").as_array();
  REQUIRE(files.size() == 3);
  CHECK(str(files[0], "file") == "a.json");
  CHECK(num(files[0], "objects") == 2);
  CHECK(at(files[0], "findings").as_array().size() == 1);
  CHECK(at(files[1], "findings").as_array().empty());
  CHECK(str(files[2], "file") == "new.json");
  CHECK(num(files[2], "objects") == 0);
  CHECK(num(doc, "errors") == 2);
}

TEST_CASE("json: a finding about an earlier file while another is open goes to the earlier one", "[report]") {
  // A version conflict found while reading b.json may name a.json.
  StringSink sink;
  auto writer = make_report_writer(ReportFormat::json, sink);
  writer->begin_file("a.json");
  writer->end_file("a.json", 1);
  writer->begin_file("b.json");
  writer->add(finding("E041", "a.json", 2, kIndicator, "", "earlier"));
  writer->add(finding("E041", "", 3, kIndicator, "", "unnamed: the open file"));
  writer->end_file("b.json", 1);
  REQUIRE(writer->finish());
  const json::Value doc = parse_json(sink.text());
  const auto& files = at(doc, "files").as_array();
  REQUIRE(files.size() == 2);
  REQUIRE(at(files[0], "findings").as_array().size() == 1);
  CHECK(str(at(files[0], "findings").as_array()[0], "message") == "earlier");
  REQUIRE(at(files[1], "findings").as_array().size() == 1);
  CHECK(str(at(files[1], "findings").as_array()[0], "message") == "unnamed: the open file");
}

TEST_CASE("sarif: a 2.1.0 log code scanning accepts", "[report]") {
  const json::Value log = parse_json(render(ReportFormat::sarif, sample(), "1.2.3"));
  CHECK(str(log, "version") == "2.1.0");
  CHECK(str(log, "$schema") == "https://json.schemastore.org/sarif-2.1.0.json");
  const auto& runs = at(log, "runs").as_array();
  REQUIRE(runs.size() == 1);
  const json::Value& driver = at(at(runs[0], "tool"), "driver");
  CHECK(str(driver, "name") == "stix-validate");
  CHECK(str(driver, "version") == "1.2.3");

  // Only the checks that occurred, in code order.
  const auto& rules = at(driver, "rules").as_array();
  REQUIRE(rules.size() == 4);
  const char* const codes[] = {"E001", "E010", "E014", "W101"};
  for (std::size_t i = 0; i < 4; ++i) CHECK(str(rules[i], "id") == codes[i]);
  CHECK(str(rules[2], "name") == "invalid-timestamp");
  CHECK(str(at(rules[2], "shortDescription"), "text") == std::string(check("E014")->summary));
  CHECK(str(at(rules[2], "defaultConfiguration"), "level") == "error");
  CHECK(str(at(rules[3], "defaultConfiguration"), "level") == "warning");

  const auto& results = at(runs[0], "results").as_array();
  REQUIRE(results.size() == 4);
  for (const auto& r : results) {
    // What GitHub requires of every result, and a ruleIndex that agrees.
    const auto index = num(r, "ruleIndex");
    REQUIRE(index >= 0);
    REQUIRE(index < static_cast<std::int64_t>(rules.size()));
    CHECK(str(rules[static_cast<std::size_t>(index)], "id") == str(r, "ruleId"));
    CHECK_FALSE(str(at(r, "message"), "text").empty());
    const auto& locations = at(r, "locations").as_array();
    REQUIRE(locations.size() == 1);
    CHECK_FALSE(str(at(at(locations[0], "physicalLocation"), "artifactLocation"), "uri").empty());
  }

  const json::Value& first = results[0];
  CHECK(str(first, "ruleId") == "E014");
  CHECK(str(first, "level") == "error");
  CHECK(str(at(first, "message"), "text") == kIndicator + ": valid_from: '2024-13-01T00:00:00Z' is not a date");
  const json::Value& location = at(first, "locations").as_array()[0];
  const json::Value& physical = at(location, "physicalLocation");
  CHECK(str(at(physical, "artifactLocation"), "uri") == "a.json");
  CHECK(num(at(physical, "region"), "startLine") == 12);
  const auto& logical = at(location, "logicalLocations").as_array();
  REQUIRE(logical.size() == 1);
  CHECK(str(logical[0], "name") == kIndicator);
  CHECK(str(logical[0], "kind") == "object");

  CHECK(str(results[1], "level") == "warning");
  // No line: the whole artifact, so no region (a startLine of 0 is invalid).
  CHECK(at(at(results[2], "locations").as_array()[0], "physicalLocation").find("region") == nullptr);
  // About the input: no logical location, a message without an id.
  CHECK(at(results[3], "locations").as_array()[0].find("logicalLocations") == nullptr);
  CHECK(str(at(results[3], "message"), "text") == "unexpected end of input at byte 17");
}

TEST_CASE("sarif: --strict levels, no version, escaped URIs, stdin", "[report]") {
  const std::vector<Input> inputs = {
      {"feeds/my dir/a b#1%?.json", 1, {strict(finding("W101", "", 2, kIndicator, "", "m"))}},
      {"-", 1, {finding("E014", "-", 1, kIndicator, "", "m")}},
      {"<stdin>", 1, {finding("E014", "<stdin>", 1, kIndicator, "", "m")}},
      {"c:x\xC3\xA9.json", 1, {finding("E014", "c:x\xC3\xA9.json", 1, kIndicator, "", "m")}},
  };
  const json::Value log = parse_json(render(ReportFormat::sarif, inputs));
  const json::Value& driver = at(at(at(log, "runs").as_array()[0], "tool"), "driver");
  CHECK(driver.find("version") == nullptr);
  const auto& rules = at(driver, "rules").as_array();
  REQUIRE(rules.size() == 2);
  CHECK(str(at(rules[1], "defaultConfiguration"), "level") == "warning");  // the check's own default

  const auto& results = at(at(log, "runs").as_array()[0], "results").as_array();
  REQUIRE(results.size() == 4);
  auto uri = [&](std::size_t i) {
    return str(at(at(at(results[i], "locations").as_array()[0], "physicalLocation"), "artifactLocation"), "uri");
  };
  CHECK(str(results[0], "ruleId") == "W101");
  CHECK(str(results[0], "level") == "error");
  CHECK(uri(0) == "feeds/my%20dir/a%20b%231%25%3F.json");
  CHECK(uri(1) == "stdin");
  CHECK(uri(2) == "stdin");
  CHECK(uri(3) == "c%3Ax%C3%A9.json");
}

TEST_CASE("sarif: an empty run is still a valid log", "[report]") {
  const json::Value log = parse_json(render(ReportFormat::sarif, {{"a.json", 4, {}}}));
  const json::Value& run = at(log, "runs").as_array()[0];
  CHECK(at(run, "results").as_array().empty());
  CHECK(at(at(at(run, "tool"), "driver"), "rules").as_array().empty());
}

TEST_CASE("junit: the exact document", "[report]") {
  const std::string xml = render(ReportFormat::junit, sample());
  // clang-format off
  CHECK(xml ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites name=\"stix-validate\" tests=\"6\" failures=\"3\" errors=\"0\">\n"
        "  <testsuite name=\"a.json\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"0\">\n"
        "    <testcase classname=\"a.json\" name=\"" + kIndicator + "\">\n"
        "      <failure message=\"E014 invalid-timestamp: valid_from: &apos;2024-13-01T00:00:00Z&apos; is not a date\" "
        "type=\"E014\">a.json:12: " + kIndicator + ": E014 invalid-timestamp: valid_from: &apos;2024-13-01T00:00:00Z&apos; "
        "is not a date</failure>\n"
        "      <system-out>a.json:12: " + kIndicator + ": W101 custom-prefix: acme_score: custom property without x_ "
        "prefix</system-out>\n"
        "    </testcase>\n"
        "    <testcase classname=\"a.json\" name=\"" + kMalware + "\">\n"
        "      <failure message=\"E010 missing-property: missing required property &apos;is_family&apos;\" "
        "type=\"E010\">a.json: " + kMalware + ": E010 missing-property: missing required property "
        "&apos;is_family&apos;</failure>\n"
        "    </testcase>\n"
        "  </testsuite>\n"
        "  <testsuite name=\"b.json\" tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"0\">\n"
        "    <testcase classname=\"b.json\" name=\"all objects\"/>\n"
        "  </testsuite>\n"
        "  <testsuite name=\"c.json\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\">\n"
        "    <testcase classname=\"c.json\" name=\"input\">\n"
        "      <failure message=\"E001 invalid-json: unexpected end of input at byte 17\" type=\"E001\">c.json:1: -: "
        "E001 invalid-json: unexpected end of input at byte 17</failure>\n"
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n");
  // clang-format on
}

TEST_CASE("junit: several errors make one failure; --strict warnings fail, plain ones do not", "[report]") {
  const std::string xml = render(ReportFormat::junit, {{"a.json",
                                                        2,
                                                        {finding("E014", "a.json", 3, kIndicator, "created", "one"),
                                                         finding("E016", "a.json", 3, kIndicator, "modified", "two"),
                                                         finding("W101", "a.json", 3, kIndicator, "", "three"),
                                                         strict(finding("W101", "a.json", 9, kMalware, "", "four"))}}});
  CHECK(count(xml, "<failure ") == 2);
  CHECK(xml.find("<failure message=\"E014 invalid-timestamp: created: one (+1 more)\" type=\"E014\">a.json:3: " +
                 kIndicator + ": E014 invalid-timestamp: created: one\na.json:3: " + kIndicator +
                 ": E016 timestamp-order: modified: two</failure>") != std::string::npos);
  CHECK(xml.find("<system-out>a.json:3: " + kIndicator + ": W101 custom-prefix: three</system-out>") !=
        std::string::npos);
  CHECK(xml.find("<failure message=\"W101 custom-prefix: four\" type=\"W101\">") != std::string::npos);
  CHECK(xml.find("tests=\"2\" failures=\"2\"") != std::string::npos);
}

TEST_CASE("junit: hostile strings are escaped, illegal characters never reach the XML", "[report]") {
  const std::string hostile_id = std::string("x--\"/><testcase name=\"pwned\x01\n") + '\0';
  const std::string file = "a&b<c>\t.json";
  const std::string xml =
      render(ReportFormat::junit, {{file,
                                    1,
                                    {finding("E013", file, 1, hostile_id, "", kHostile),
                                     finding("W101", file, 1, hostile_id, "", kHostile + "\xff")}}});
  CHECK(is_utf8(xml));
  CHECK_FALSE(has_xml_illegal_byte(xml));
  CHECK(xml.find("<script>") == std::string::npos);
  CHECK(count(xml, "</failure>") == 1);
  CHECK(count(xml, "<testcase ") == 1);
  // Attributes are one-line labels: controls, tab and newline included, are shown escaped.
  CHECK(xml.find("name=\"x--&quot;/&gt;&lt;testcase name=&quot;pwned\\u0001\\u000a\\u0000\"") != std::string::npos);
  CHECK(xml.find("<testsuite name=\"a&amp;b&lt;c&gt;\\u0009.json\"") != std::string::npos);
  CHECK(xml.find("&lt;/failure&gt;&lt;script&gt;alert(&quot;x&quot; &amp; &apos;y&apos;)&lt;/script&gt;\\u0001 "
                 "nul:\\u0000!\\u000a2nd") != std::string::npos);
}

TEST_CASE("every format is byte-for-byte deterministic and UTF-8", "[report]") {
  auto inputs = sample();
  inputs[0].findings.push_back(finding("W101", "a.json", 20, kIndicator, "p\xfe", kHostile));
  for (const auto format : {ReportFormat::text, ReportFormat::json, ReportFormat::sarif, ReportFormat::junit}) {
    const std::string a = render(format, inputs, "0.1.0");
    const std::string b = render(format, inputs, "0.1.0");
    CHECK(a == b);
    CHECK_FALSE(a.empty());
    CHECK(is_utf8(a));
  }
}

TEST_CASE("a sink write error comes back from finish", "[report]") {
  for (const auto format : {ReportFormat::text, ReportFormat::json, ReportFormat::sarif, ReportFormat::junit}) {
    FailingSink sink;
    auto writer = make_report_writer(format, sink);
    writer->begin_file("a.json");
    writer->add(finding("E014", "a.json", 1, kIndicator, "", "m"));
    writer->end_file("a.json", 1);
    const Status status = writer->finish();
    REQUIRE_FALSE(status);
    CHECK(status.error().category() == ErrorCategory::io);
  }
}
