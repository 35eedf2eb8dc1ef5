// Tests of stix-gen's engine (stix::generate): detections in CSV, TSV and
// NDJSON become indicators with the right patterns, confidences, labels,
// markings and validity; invalid rows are refused or skipped; and across runs
// sharing a state directory the output is idempotent, versioned when a
// detection changes, renewed when its validity runs low, and seeded from an
// earlier bundle with --previous. Every run uses a FixedClock, temporary
// input files and a temporary state directory.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ctishare/bundle.h"
#include "ctishare/file.h"
#include "ctishare/generator.h"
#include "ctishare/marking.h"
#include "ctishare/time.h"
#include "support/temp_dir.h"

using namespace ctishare;
using namespace ctishare::stix;
namespace fs = std::filesystem;

using ctishare::test::TempDir;

namespace {

Timestamp at(const char* text) {
  auto t = Timestamp::parse(text);
  REQUIRE(t);
  return *t;
}

struct Diagnostic {
  Severity severity;
  std::string message;
};

struct Run {
  bool ok = false;
  ErrorCategory category = ErrorCategory::internal;
  std::string error;
  GenerateReport report;
  std::string output;
  std::vector<Diagnostic> diagnostics;

  std::string errors() const {
    std::string all;
    for (const auto& d : diagnostics)
      if (d.severity == Severity::error) all += d.message + "\n";
    return all;
  }
};

// Runs generate() and, when it succeeds and `commit` is set, saves the state.
Run run(const GenerateOptions& options, bool commit = true) {
  Run r;
  StringSink sink;
  auto gen = generate(options, sink, [&](Severity s, const std::string& m) { r.diagnostics.push_back({s, m}); });
  r.output = sink.text();
  if (!gen) {
    r.category = gen.error().category();
    r.error = gen.error().message();
    return r;
  }
  r.report = (*gen)->report();
  if (commit) {
    Status s = (*gen)->commit_state();
    INFO((s ? std::string() : s.error().message()));
    REQUIRE(s);
  }
  r.ok = true;
  return r;
}

// The same, requiring success.
Run run_ok(const GenerateOptions& options, bool commit = true) {
  Run r = run(options, commit);
  INFO("error: " << r.error << "\ndiagnostics:\n" << r.errors());
  REQUIRE(r.ok);
  return r;
}

std::vector<Object> objects_of(const std::string& text) {
  std::istringstream in(text);
  auto all = read_all(in);
  INFO(text);
  REQUIRE(all);
  return std::move(*all);
}

std::vector<const Object*> of_type(const std::vector<Object>& objects, std::string_view type) {
  std::vector<const Object*> out;
  for (const auto& o : objects)
    if (o.type() == type) out.push_back(&o);
  return out;
}

// The indicator whose pattern is `pattern`; fails the test when missing.
const Object& indicator(const std::vector<Object>& objects, const std::string& pattern) {
  for (const auto& o : objects)
    if (o.type() == "indicator" && o.get_string("pattern") == pattern) return o;
  FAIL("no indicator with pattern " << pattern);
  throw std::logic_error("unreachable");
}

std::string domain_pattern(const std::string& d) { return "[domain-name:value = '" + d + "']"; }

std::int64_t confidence(const Object& o) {
  const json::Value* c = o.get("confidence");
  REQUIRE(c != nullptr);
  REQUIRE(c->as_int64());
  return *c->as_int64();
}

std::vector<std::string> strings(const Object& o, std::string_view property) {
  std::vector<std::string> out;
  const json::Value* v = o.get(property);
  if (v == nullptr) return out;
  REQUIRE(v->is_array());
  for (const auto& e : v->as_array()) {
    REQUIRE(e.is_string());
    out.push_back(e.as_string());
  }
  return out;
}

std::string str(const Object& o, std::string_view property) {
  auto s = o.get_string(property);
  INFO(property);
  REQUIRE(s);
  return std::string(*s);
}

const char* const kNow = "2024-05-01T06:00:00.000Z";
const std::string kSeedCsv = "value,confidence\nsecure-login.net,0.92\nbit-verify.co,0.88\n";

GenerateOptions base_options(const Clock& clock) {
  GenerateOptions o;
  o.clock = &clock;
  o.identity_name = "Example Threat Team";
  return o;
}

// base_options with a state directory and one input, d.csv holding `csv`.
GenerateOptions stateful_options(TempDir& dir, const Clock& clock, const std::string& csv) {
  GenerateOptions o = base_options(clock);
  o.state_dir = dir.path("state");
  o.inputs = {dir.file("d.csv", csv)};
  return o;
}

}  // namespace

// ---------------------------------------------------------------- one run

TEST_CASE("generate: the seed example", "[stix][generator]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("detections.csv", kSeedCsv)};
  o.labels = {"phishing", "threat-intel"};
  o.state_dir = dir.path("state");

  Run r = run_ok(o);
  CHECK(r.report.rows == 2);
  CHECK(r.report.invalid == 0);
  CHECK(r.report.created == 2);
  CHECK(r.report.versioned == 0);
  CHECK(r.report.unchanged == 0);
  CHECK(r.report.identity_name == "Example Threat Team");
  CHECK_FALSE(r.report.default_identity);

  // A compact bundle: one object per line.
  REQUIRE(r.output.rfind("{\"type\":\"bundle\",\"id\":\"bundle--", 0) == 0);
  CHECK(r.output.size() >= 4);
  CHECK(r.output.substr(r.output.size() - 4) == "\n]}\n");
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 6);  // header, 4 objects, footer
  auto bundle = json::parse(r.output);
  REQUIRE(bundle);
  auto bundle_id = Identifier::parse(*bundle->find_string("id"));
  REQUIRE(bundle_id);
  CHECK(bundle_id->uuid.version() == 4);

  auto objects = objects_of(r.output);
  REQUIRE(objects.size() == 4);
  // Sorted by id: identity, indicators, marking definition.
  for (std::size_t i = 1; i < objects.size(); ++i) CHECK(objects[i - 1].id() < objects[i].id());

  auto identities = of_type(objects, "identity");
  REQUIRE(identities.size() == 1);
  const Object& identity = *identities[0];
  CHECK(str(identity, "name") == "Example Threat Team");
  CHECK(str(identity, "identity_class") == "organization");
  CHECK(str(identity, "spec_version") == "2.1");
  CHECK(str(identity, "created") == kNow);
  CHECK(Identifier::parse(identity.id())->uuid.version() == 4);

  auto markings = of_type(objects, "marking-definition");
  REQUIRE(markings.size() == 1);
  CHECK(markings[0]->id() == tlp2_marking_id(Tlp::amber));
  CHECK(markings[0]->json() == tlp2_marking_object(Tlp::amber));

  REQUIRE(of_type(objects, "indicator").size() == 2);
  const Object& a = indicator(objects, domain_pattern("secure-login.net"));
  const Object& b = indicator(objects, domain_pattern("bit-verify.co"));
  CHECK(confidence(a) == 92);
  CHECK(confidence(b) == 88);
  for (const Object* i : {&a, &b}) {
    CHECK(str(*i, "spec_version") == "2.1");
    CHECK(i->created_by_ref() == identity.id());
    CHECK(strings(*i, "labels") == std::vector<std::string>{"phishing", "threat-intel"});
    CHECK(strings(*i, "indicator_types") == std::vector<std::string>{"malicious-activity"});
    CHECK(strings(*i, "object_marking_refs") == std::vector<std::string>{std::string(tlp2_marking_id(Tlp::amber))});
    CHECK(str(*i, "pattern_type") == "stix");
    CHECK(str(*i, "created") == kNow);
    CHECK(str(*i, "modified") == kNow);
    CHECK(str(*i, "valid_from") == kNow);
    CHECK(str(*i, "valid_until") == "2024-05-31T06:00:00.000Z");  // domains: 30 days
    CHECK_FALSE(i->get_string("description").value_or("").empty());
    auto id = Identifier::parse(i->id());
    REQUIRE(id);
    CHECK(id->type == "indicator");
    CHECK(id->uuid.version() == 4);
  }
  CHECK(str(a, "name") == "secure-login.net");
  CHECK(a.id() != b.id());
}

TEST_CASE("generate: default identity and options", "[stix][generator]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o;
  o.clock = &clock;
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  o.indicator_types = {"malicious-activity", "anomalous-activity"};
  o.tlp = Tlp::green;
  o.valid_for = 86400;
  Run r = run_ok(o);
  CHECK(r.report.default_identity);
  CHECK(r.report.identity_name == default_identity_name());
  auto objects = objects_of(r.output);
  auto identities = of_type(objects, "identity");
  REQUIRE(identities.size() == 1);
  CHECK(str(*identities[0], "name") == default_identity_name());
  CHECK(str(*identities[0], "identity_class") == "system");
  const Object& a = indicator(objects, domain_pattern("secure-login.net"));
  CHECK(strings(a, "indicator_types") == std::vector<std::string>{"malicious-activity", "anomalous-activity"});
  CHECK(strings(a, "object_marking_refs") == std::vector<std::string>{std::string(tlp2_marking_id(Tlp::green))});
  CHECK(str(a, "valid_until") == "2024-05-02T06:00:00.000Z");
  CHECK(a.get("labels") == nullptr);  // no labels: the property is left out
  auto markings = of_type(objects, "marking-definition");
  REQUIRE(markings.size() == 1);
  CHECK(markings[0]->id() == tlp2_marking_id(Tlp::green));
}

TEST_CASE("generate: lifetimes by observable type", "[stix][generator]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv",
                       "value,confidence\n"
                       "http://evil.example.com/login,0.5\n"
                       "198.51.100.7,0.5\n"
                       "evil@example.com,0.5\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,0.5\n")};
  auto objects = objects_of(run_ok(o).output);
  CHECK(str(indicator(objects, "[url:value = 'http://evil.example.com/login']"), "valid_until") == "2024-05-08T06:00:00.000Z");
  CHECK(str(indicator(objects, "[ipv4-addr:value = '198.51.100.7']"), "valid_until") == "2024-05-04T06:00:00.000Z");
  CHECK(str(indicator(objects, "[email-addr:value = 'evil@example.com']"), "valid_until") == "2024-05-31T06:00:00.000Z");
  CHECK(str(indicator(objects,
                      "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"),
            "valid_until") == "2025-05-01T06:00:00.000Z");  // 365 days
}

// ---------------------------------------------------------------- confidence

TEST_CASE("generate: confidence scales and decimal rounding", "[stix][generator][confidence]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);

  SECTION("unit scale, half away from zero on the decimal digits") {
    o.inputs = {dir.file("u.csv",
                         "value,confidence\n"
                         "a.example.com,0.285\n"   // 28.499999... as a double: must still be 29
                         "b.example.com,0.29\n"    // 28.999999... as a double
                         "c.example.com,0.005\n"
                         "d.example.com,0.004\n"
                         "e.example.com,1\n"
                         "f.example.com,0\n"
                         "g.example.com,0.575\n")};  // 57.49999... as a double
    auto objects = objects_of(run_ok(o).output);
    CHECK(confidence(indicator(objects, domain_pattern("a.example.com"))) == 29);
    CHECK(confidence(indicator(objects, domain_pattern("b.example.com"))) == 29);
    CHECK(confidence(indicator(objects, domain_pattern("c.example.com"))) == 1);
    CHECK(confidence(indicator(objects, domain_pattern("d.example.com"))) == 0);
    CHECK(confidence(indicator(objects, domain_pattern("e.example.com"))) == 100);
    CHECK(confidence(indicator(objects, domain_pattern("f.example.com"))) == 0);
    CHECK(confidence(indicator(objects, domain_pattern("g.example.com"))) == 58);
  }
  SECTION("percent scale") {
    o.inputs = {dir.file("p.csv", "value,confidence\na.example.com,92.5\nb.example.com,7\nc.example.com,100\n")};
    auto objects = objects_of(run_ok(o).output);
    CHECK(confidence(indicator(objects, domain_pattern("a.example.com"))) == 93);
    CHECK(confidence(indicator(objects, domain_pattern("b.example.com"))) == 7);
    CHECK(confidence(indicator(objects, domain_pattern("c.example.com"))) == 100);
  }
  SECTION("automatic: one value above 1 makes the whole input percent") {
    o.inputs = {dir.file("m.csv", "value,confidence\na.example.com,0.5\nb.example.com,50\n")};
    auto objects = objects_of(run_ok(o).output);
    CHECK(confidence(indicator(objects, domain_pattern("a.example.com"))) == 1);  // 0.5 rounds half away
    CHECK(confidence(indicator(objects, domain_pattern("b.example.com"))) == 50);
  }
  SECTION("explicit percent scale on small values") {
    o.scale = ConfidenceScale::percent;
    o.inputs = {dir.file("p.csv", "value,confidence\na.example.com,0.9\n")};
    auto objects = objects_of(run_ok(o).output);
    CHECK(confidence(indicator(objects, domain_pattern("a.example.com"))) == 1);
  }
  SECTION("--confidence-scale unit refuses a value above 1") {
    o.scale = ConfidenceScale::unit;
    const std::string path = dir.file("u.csv", "value,confidence\na.example.com,0.5\nb.example.com,50\n");
    o.inputs = {path};
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::data);
    CHECK(r.output.empty());
    CHECK_THAT(r.errors(), Catch::Contains("line 3"));
    CHECK_THAT(r.errors(), Catch::Contains("above 1"));
  }
  SECTION("values outside 0-100 or not numbers are row errors") {
    o.skip_invalid = true;
    o.inputs = {dir.file("bad.csv",
                         "value,confidence\na.example.com,101\nb.example.com,-0.5\nc.example.com,high\nd.example.com,\n"
                         "e.example.com,0.5\n")};
    Run r = run_ok(o);
    CHECK(r.report.invalid == 4);
    auto objects = objects_of(r.output);
    CHECK(of_type(objects, "indicator").size() == 1);
  }
}

// ---------------------------------------------------------------- invalid rows

TEST_CASE("generate: invalid rows", "[stix][generator][invalid]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  const std::string path = dir.file("mixed.csv",
                                    "value,confidence\n"
                                    "good.example.com,0.9\n"
                                    "co.uk,0.9\n"  // a public suffix
                                    "other.example.com,0.8\n"
                                    "hxxp://evil.example.com/,0.7\n");
  o.inputs = {path};
  o.state_dir = dir.path("state");

  SECTION("by default: a data error, nothing written, each row named") {
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::data);
    CHECK(r.output.empty());
    CHECK_THAT(r.error, Catch::Contains("2 invalid"));
    const std::string errors = r.errors();
    CHECK_THAT(errors, Catch::Contains("'" + path + "': line 3"));
    CHECK_THAT(errors, Catch::Contains("'" + path + "': line 5"));
    CHECK_THAT(errors, Catch::Contains("public suffix"));
    CHECK_THAT(errors, Catch::Contains("defanged"));
    // And no state was written: the next run starts from nothing.
    o.skip_invalid = true;
    Run again = run_ok(o);
    CHECK(again.report.created == 2);
  }
  SECTION("skip_invalid: the rest is written and the refusals counted") {
    o.skip_invalid = true;
    Run r = run_ok(o);
    CHECK(r.report.rows == 4);
    CHECK(r.report.invalid == 2);
    CHECK(r.report.created == 2);
    auto objects = objects_of(r.output);
    CHECK(of_type(objects, "indicator").size() == 2);
    indicator(objects, domain_pattern("good.example.com"));
    indicator(objects, domain_pattern("other.example.com"));
    CHECK(r.errors().find("line 3") != std::string::npos);
  }
  SECTION("a missing input is no_input") {
    o.inputs = {dir.path("absent.csv")};
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::no_input);
    CHECK(r.output.empty());
  }
  SECTION("a header without value/confidence is a data error") {
    o.inputs = {dir.file("nohdr.csv", "domain,score\nexample.com,1\n")};
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::data);
  }
}

TEST_CASE("generate: duplicates are merged, keeping the higher confidence", "[stix][generator]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("dup.csv",
                       "value,confidence\n"
                       "Secure-Login.net,0.5\n"
                       "secure-login.net.,0.9\n"
                       "secure-login.net,0.7\n"
                       "bit-verify.co,0.6\n")};
  o.cli_values = {{"SECURE-LOGIN.NET", "0.8"}};
  Run r = run_ok(o);
  CHECK(r.report.rows == 5);
  CHECK(r.report.duplicates == 3);
  CHECK(r.report.created == 2);
  auto objects = objects_of(r.output);
  REQUIRE(of_type(objects, "indicator").size() == 2);
  CHECK(confidence(indicator(objects, domain_pattern("secure-login.net"))) == 90);
}

// ---------------------------------------------------------------- formats

TEST_CASE("generate: input formats and per-row columns", "[stix][generator][formats]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);

  SECTION("NDJSON with a labels array") {
    o.labels = {"feed"};
    o.inputs = {dir.file("d.ndjson",
                         "{\"value\":\"evil.example.net\",\"confidence\":0.7,\"labels\":[\"phishing\",\"kit\",\"feed\"]}\n"
                         "\n"
                         "{\"value\":\"198.51.100.9\",\"confidence\":\"0.25\",\"type\":\"ipv4\"}\n")};
    Run r = run_ok(o);
    CHECK(r.report.rows == 2);
    auto objects = objects_of(r.output);
    const Object& a = indicator(objects, domain_pattern("evil.example.net"));
    CHECK(confidence(a) == 70);
    CHECK(strings(a, "labels") == std::vector<std::string>{"feed", "phishing", "kit"});
    const Object& b = indicator(objects, "[ipv4-addr:value = '198.51.100.9']");
    CHECK(confidence(b) == 25);
    CHECK(strings(b, "labels") == std::vector<std::string>{"feed"});
  }
  SECTION("NDJSON errors name the line") {
    o.skip_invalid = true;
    const std::string path = dir.file("bad.jsonl",
                                      "{\"value\":\"a.example.net\",\"confidence\":0.7}\n"
                                      "{\"value\":\"b.example.net\",\"confidence\":[1]}\n"
                                      "not json\n");
    o.inputs = {path};
    Run r = run_ok(o);
    CHECK(r.report.invalid == 2);
    CHECK_THAT(r.errors(), Catch::Contains("'" + path + "': line 2"));
    CHECK_THAT(r.errors(), Catch::Contains("'" + path + "': line 3"));
  }
  SECTION("TSV") {
    o.inputs = {dir.file("d.tsv", "value\tconfidence\tlabels\n198.51.100.7\t0.5\tscanner;botnet\nevil.example.org\t0.6\t\n")};
    auto objects = objects_of(run_ok(o).output);
    const Object& a = indicator(objects, "[ipv4-addr:value = '198.51.100.7']");
    CHECK(confidence(a) == 50);
    CHECK(strings(a, "labels") == std::vector<std::string>{"scanner", "botnet"});
    CHECK(confidence(indicator(objects, domain_pattern("evil.example.org"))) == 60);
  }
  SECTION("TSV detected from content") {
    o.inputs = {dir.file("d.txt", "value\tconfidence\nevil.example.org\t0.6\n")};
    auto objects = objects_of(run_ok(o).output);
    CHECK(confidence(indicator(objects, domain_pattern("evil.example.org"))) == 60);
  }
  SECTION("CSV quoted field with a comma and a newline") {
    o.skip_invalid = true;
    const std::string path = dir.file("q.csv",
                                      "value,confidence,description\n"
                                      "evil.example.com,0.5,\"Kit, with a comma\nand a \"\"second\"\" line\"\n"
                                      "com,0.5,after the multi-line row\n");
    o.inputs = {path};
    Run r = run_ok(o);
    auto objects = objects_of(r.output);
    const Object& a = indicator(objects, domain_pattern("evil.example.com"));
    CHECK(str(a, "description") == "Kit, with a comma\nand a \"second\" line");
    // Line numbers keep counting through the quoted newline.
    CHECK_THAT(r.errors(), Catch::Contains("'" + path + "': line 4"));
  }
  SECTION("explicit valid_until is used verbatim; first_seen sets valid_from") {
    o.inputs = {dir.file("t.csv",
                         "value,confidence,valid_until,first_seen\n"
                         "a.example.com,0.5,2030-06-15T12:34:56.789Z,\n"
                         "b.example.com,0.5,,2024-04-20T08:00:00.5Z\n"
                         "c.example.com,0.5,2031-01-01T00:00:00Z,2024-04-01T00:00:00Z\n")};
    auto objects = objects_of(run_ok(o).output);
    const Object& a = indicator(objects, domain_pattern("a.example.com"));
    CHECK(str(a, "valid_until") == "2030-06-15T12:34:56.789Z");
    CHECK(str(a, "valid_from") == kNow);
    const Object& b = indicator(objects, domain_pattern("b.example.com"));
    CHECK(str(b, "valid_from") == "2024-04-20T08:00:00.5Z");
    CHECK(str(b, "valid_until") == "2024-05-31T06:00:00.000Z");
    CHECK(str(b, "created") == kNow);
    const Object& c = indicator(objects, domain_pattern("c.example.com"));
    CHECK(str(c, "valid_from") == "2024-04-01T00:00:00Z");
    CHECK(str(c, "valid_until") == "2031-01-01T00:00:00Z");
  }
  SECTION("valid_until not after first_seen is a row error") {
    o.inputs = {dir.file("t.csv", "value,confidence,valid_until,first_seen\na.example.com,0.5,2024-01-01T00:00:00Z,2024-02-01T00:00:00Z\n")};
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::data);
    CHECK(r.output.empty());
  }
  SECTION("per-row tlp") {
    o.inputs = {dir.file("tlp.csv",
                         "value,confidence,tlp\n"
                         "a.example.com,0.5,TLP:RED\n"
                         "b.example.com,0.5,\n"
                         "c.example.com,0.5,clear\n")};
    auto objects = objects_of(run_ok(o).output);
    auto marking_of = [&](const char* d) { return strings(indicator(objects, domain_pattern(d)), "object_marking_refs"); };
    CHECK(marking_of("a.example.com") == std::vector<std::string>{std::string(tlp2_marking_id(Tlp::red))});
    CHECK(marking_of("b.example.com") == std::vector<std::string>{std::string(tlp2_marking_id(Tlp::amber))});
    CHECK(marking_of("c.example.com") == std::vector<std::string>{std::string(tlp2_marking_id(Tlp::clear))});
    auto markings = of_type(objects, "marking-definition");
    REQUIRE(markings.size() == 3);  // one object per level used
    std::vector<std::string> ids;
    for (const Object* m : markings) ids.emplace_back(m->id());
    CHECK(std::is_sorted(ids.begin(), ids.end()));
  }
  SECTION("an unknown tlp is a row error") {
    o.inputs = {dir.file("tlp.csv", "value,confidence,tlp\na.example.com,0.5,purple\n")};
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::data);
    CHECK_THAT(r.errors(), Catch::Contains("purple"));
  }
  SECTION("a type column") {
    o.inputs = {dir.file("typed.csv",
                         "type,value,confidence\n"
                         "sha256,E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,0.5\n"
                         "md5,d41d8cd98f00b204e9800998ecf8427e,0.5\n")};
    auto objects = objects_of(run_ok(o).output);
    indicator(objects, "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']");
    indicator(objects, "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']");
  }
}

// ---------------------------------------------------------------- framings

TEST_CASE("generate: NDJSON and pretty output", "[stix][generator][framing]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  o.state_dir = dir.path("state");
  const Run compact = run_ok(o, false);

  o.framing = OutputFraming::ndjson;
  const Run nd = run_ok(o, false);
  CHECK(nd.output.find("\"bundle\"") == std::string::npos);
  CHECK(std::count(nd.output.begin(), nd.output.end(), '\n') == 4);
  std::istringstream lines(nd.output);
  std::string line;
  std::size_t n = 0;
  while (std::getline(lines, line)) {
    auto v = json::parse(line);
    REQUIRE(v);
    CHECK(v->is_object());
    ++n;
  }
  CHECK(n == 4);
  // The same objects as the bundle (ids are random per run without a saved
  // state, so compare types and patterns).
  auto summary = [](const std::vector<Object>& objects) {
    std::vector<std::string> out;
    for (const auto& obj : objects)
      out.push_back(std::string(obj.type()) + " " + std::string(obj.get_string("pattern").value_or("")));
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto from_bundle = summary(objects_of(compact.output));
  CHECK(from_bundle.size() == 4);
  CHECK(summary(objects_of(nd.output)) == from_bundle);

  o.framing = OutputFraming::bundle;
  o.layout = json::Layout::pretty;
  const Run pretty = run_ok(o, false);
  CHECK(pretty.output.rfind("{\n  \"type\": \"bundle\",\n  \"id\": \"bundle--", 0) == 0);
  CHECK(objects_of(pretty.output).size() == 4);
}

// ---------------------------------------------------------------- across runs

TEST_CASE("generate: re-runs with the same state are idempotent", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  o.labels = {"phishing", "threat-intel"};
  o.state_dir = dir.path("state");

  Run first = run_ok(o);
  const std::string state_after_first = *read_file(dir.path("state/stix-gen.state"));
  Run second = run_ok(o);
  CHECK(second.output == first.output);
  CHECK(second.report.unchanged == 2);
  CHECK(second.report.created == 0);
  CHECK(second.report.versioned == 0);
  CHECK(*read_file(dir.path("state/stix-gen.state")) == state_after_first);

  // Even later (but before renewal is due) nothing changes.
  FixedClock later(at("2024-05-08T06:00:00.000Z"));
  o.clock = &later;
  Run third = run_ok(o);
  CHECK(third.output == first.output);
  CHECK(third.report.unchanged == 2);

  SECTION("without committing the state, a run leaves no trace") {
    o.clock = &clock;
    o.inputs = {dir.file("more.csv", "value,confidence\nnew.example.com,0.5\n")};
    Run uncommitted = run_ok(o, false);
    CHECK(uncommitted.report.created == 1);
    Run again = run_ok(o, false);
    CHECK(again.report.created == 1);
    auto x = objects_of(uncommitted.output);
    auto y = objects_of(again.output);
    CHECK(indicator(x, domain_pattern("new.example.com")).id() != indicator(y, domain_pattern("new.example.com")).id());
  }
}

TEST_CASE("generate: a changed detection becomes a new version", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  auto first = objects_of(run_ok(o).output);
  const Object& a1 = indicator(first, domain_pattern("secure-login.net"));
  const Object& b1 = indicator(first, domain_pattern("bit-verify.co"));

  // Same clock: modified must still move forward.
  o.inputs = {dir.file("d2.csv", "value,confidence\nsecure-login.net,0.95\nbit-verify.co,0.88\n")};
  Run second = run_ok(o);
  CHECK(second.report.versioned == 1);
  CHECK(second.report.unchanged == 1);
  CHECK(second.report.created == 0);
  auto objs2 = objects_of(second.output);
  const Object& a2 = indicator(objs2, domain_pattern("secure-login.net"));
  const Object& b2 = indicator(objs2, domain_pattern("bit-verify.co"));
  CHECK(a2.id() == a1.id());
  CHECK(str(a2, "created") == str(a1, "created"));
  CHECK(confidence(a2) == 95);
  CHECK(*Timestamp::parse(str(a2, "modified")) > *Timestamp::parse(str(a1, "modified")));
  CHECK(str(a2, "valid_from") == str(a1, "valid_from"));
  CHECK(str(a2, "valid_until") == str(a1, "valid_until"));
  CHECK(b2.to_string() == b1.to_string());  // unchanged: byte-identical
  CHECK(first[0].to_string() == objs2[0].to_string());  // the identity too

  // Re-running the changed input: unchanged again, same bytes.
  Run third = run_ok(o);
  CHECK(third.report.unchanged == 2);
  CHECK(third.output == second.output);

  // Changing it back at the same instant: yet another, later version.
  o.inputs = {dir.file("d3.csv", kSeedCsv)};
  Run fourth = run_ok(o);
  CHECK(fourth.report.versioned == 1);
  auto objs4 = objects_of(fourth.output);
  const Object& a4 = indicator(objs4, domain_pattern("secure-login.net"));
  CHECK(a4.id() == a1.id());
  CHECK(*Timestamp::parse(str(a4, "modified")) > *Timestamp::parse(str(a2, "modified")));

  SECTION("labels and tlp changes are changes too") {
    o.labels = {"phishing"};
    Run labelled = run_ok(o);
    CHECK(labelled.report.versioned == 2);
    o.tlp = Tlp::red;
    Run red = run_ok(o);
    CHECK(red.report.versioned == 2);
    auto objs = objects_of(red.output);
    CHECK(indicator(objs, domain_pattern("secure-login.net")).id() == a1.id());
  }
}

TEST_CASE("generate: a detection that comes back keeps its id", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.state_dir = dir.path("state");
  o.inputs = {dir.file("d1.csv", kSeedCsv)};
  auto first = objects_of(run_ok(o).output);

  o.inputs = {dir.file("d2.csv", "value,confidence\nbit-verify.co,0.88\n")};
  Run second = run_ok(o);
  auto objs2 = objects_of(second.output);
  CHECK(of_type(objs2, "indicator").size() == 1);
  CHECK(second.report.unchanged == 1);

  o.inputs = {dir.file("d3.csv", kSeedCsv)};
  Run third = run_ok(o);
  auto objs3 = objects_of(third.output);
  CHECK(indicator(objs3, domain_pattern("secure-login.net")).id() == indicator(first, domain_pattern("secure-login.net")).id());
  CHECK(third.report.created == 0);
  CHECK(third.output == run_ok(o).output);
}

TEST_CASE("generate: validity is renewed when less than half the lifetime is left", "[stix][generator][state]") {
  TempDir dir;
  FixedClock day0(at(kNow));
  GenerateOptions o = base_options(day0);
  o.state_dir = dir.path("state");
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  auto first = objects_of(run_ok(o).output);
  const Object& a1 = indicator(first, domain_pattern("secure-login.net"));
  REQUIRE(str(a1, "valid_until") == "2024-05-31T06:00:00.000Z");

  // Day 15: exactly half of the 30 days left, kept.
  FixedClock day15(at("2024-05-16T06:00:00.000Z"));
  o.clock = &day15;
  Run kept = run_ok(o);
  CHECK(kept.report.unchanged == 2);
  CHECK(kept.output == run_ok(o).output);

  // Day 16: less than half left, a new version valid 30 days from now.
  FixedClock day16(at("2024-05-17T06:00:00.000Z"));
  o.clock = &day16;
  Run renewed = run_ok(o);
  CHECK(renewed.report.versioned == 2);
  auto objs = objects_of(renewed.output);
  const Object& a2 = indicator(objs, domain_pattern("secure-login.net"));
  CHECK(a2.id() == a1.id());
  CHECK(str(a2, "valid_until") == "2024-06-16T06:00:00.000Z");
  CHECK(str(a2, "valid_from") == str(a1, "valid_from"));
  CHECK(str(a2, "created") == str(a1, "created"));
  CHECK(str(a2, "modified") == "2024-05-17T06:00:00.000Z");
}

TEST_CASE("generate: --previous seeds a fresh state from an earlier bundle", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", "value,confidence,description\nsecure-login.net,0.92,\nbit-verify.co,0.88,Kit \"X\"\n")};
  o.labels = {"phishing", "threat-intel"};
  // Without any state.
  Run without_state = run_ok(o);
  const std::string previous = dir.file("previous.json", without_state.output);

  o.state_dir = dir.path("fresh-state");
  o.previous = previous;
  Run seeded = run_ok(o);
  CHECK(seeded.output == without_state.output);
  CHECK(seeded.report.unchanged == 2);
  CHECK(seeded.report.created == 0);

  // And the seeded state carries on.
  o.previous.clear();
  Run after = run_ok(o);
  CHECK(after.output == without_state.output);

  SECTION("another identity's indicators are not taken over") {
    GenerateOptions other = o;
    other.identity_name = "Someone Else";
    other.state_dir = dir.path("other-state");
    other.previous = previous;
    Run r = run_ok(other);
    CHECK(r.report.created == 2);
    auto objs = objects_of(r.output);
    auto before = objects_of(without_state.output);
    CHECK(indicator(objs, domain_pattern("secure-login.net")).id() !=
          indicator(before, domain_pattern("secure-login.net")).id());
  }
}

TEST_CASE("generate: a held state lock is a temporary failure", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  o.state_dir = dir.path("state");
  REQUIRE(make_directories(o.state_dir));
  {
    auto lock = FileLock::acquire(o.state_dir + "/stix-gen.lock");
    REQUIRE(lock);
    Run r = run(o);
    REQUIRE_FALSE(r.ok);
    CHECK(r.category == ErrorCategory::temp_fail);
    CHECK(r.output.empty());
  }
  // Released: the run goes through.
  Run r = run_ok(o);
  CHECK(r.report.created == 2);
}

TEST_CASE("generate: the Generation holds the lock until it is gone", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  o.state_dir = dir.path("state");
  StringSink sink;
  auto gen = generate(o, sink, [](Severity, const std::string&) {});
  REQUIRE(gen);
  auto lock = FileLock::acquire(o.state_dir + "/stix-gen.lock");
  REQUIRE_FALSE(lock);
  CHECK(lock.error().category() == ErrorCategory::temp_fail);
  REQUIRE((*gen)->commit_state());
  gen->reset();
  CHECK(FileLock::acquire(o.state_dir + "/stix-gen.lock"));
}

TEST_CASE("generate: a corrupt state file is a data error", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  o.state_dir = dir.path("state");
  REQUIRE(make_directories(o.state_dir));
  dir.file("state/stix-gen.state", "not a state file\n");
  Run r = run(o);
  REQUIRE_FALSE(r.ok);
  CHECK(r.category == ErrorCategory::data);
  CHECK_THAT(r.error, Catch::Contains("stix-gen.state"));
  CHECK(r.output.empty());
}

TEST_CASE("generate: modified moves forward even when the clock goes back", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  run_ok(o);

  FixedClock yesterday(at("2024-04-30T06:00:00.000Z"));
  o.clock = &yesterday;
  o.inputs = {dir.file("d2.csv", "value,confidence\nsecure-login.net,0.5\nbit-verify.co,0.88\n")};
  Run r = run_ok(o);
  CHECK(r.report.versioned == 1);
  auto objs = objects_of(r.output);
  const Object& a = indicator(objs, domain_pattern("secure-login.net"));
  CHECK(str(a, "created") == kNow);
  CHECK(*Timestamp::parse(str(a, "modified")) > at(kNow));
}

TEST_CASE("generate: a new identity class is a new identity version", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  auto first = objects_of(run_ok(o).output);
  const Object& id1 = *of_type(first, "identity").at(0);

  o.identity_class = "individual";
  auto second = objects_of(run_ok(o).output);
  const Object& id2 = *of_type(second, "identity").at(0);
  CHECK(id2.id() == id1.id());
  CHECK(str(id2, "identity_class") == "individual");
  CHECK(str(id2, "created") == str(id1, "created"));
  CHECK(*Timestamp::parse(str(id2, "modified")) > *Timestamp::parse(str(id1, "modified")));
  // The indicators still point at it.
  for (const Object* i : of_type(second, "indicator")) CHECK(i->created_by_ref() == id1.id());
}

TEST_CASE("generate: a revoked indicator in --previous is not continued", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("d.csv", kSeedCsv)};
  Run first = run_ok(o);

  // The producer revoked secure-login.net's indicator later on.
  std::istringstream in(first.output);
  auto objects = read_all(in);
  REQUIRE(objects);
  std::string revoked_id;
  StringSink previous;
  {
    BundleWriter w(previous, OutputFraming::bundle, json::Layout::compact, "bundle--0b5a3c1e-7d2f-4b8a-9c6d-1e2f3a4b5c6d");
    for (Object& obj : *objects) {
      if (obj.get_string("pattern") == domain_pattern("secure-login.net")) {
        revoked_id = obj.id();
        obj.json().set("modified", "2024-05-01T07:00:00.000Z");
        obj.json().set("revoked", true);
      }
      REQUIRE(w.add(obj.json()));
    }
    REQUIRE(w.finish());
  }
  REQUIRE_FALSE(revoked_id.empty());
  o.previous = dir.file("previous.json", previous.text());
  o.state_dir = dir.path("state");
  Run r = run_ok(o);
  CHECK(r.report.created == 1);
  CHECK(r.report.unchanged == 1);
  auto objs = objects_of(r.output);
  CHECK(indicator(objs, domain_pattern("secure-login.net")).id() != revoked_id);
  CHECK(indicator(objs, domain_pattern("bit-verify.co")).id() ==
        indicator(*objects, domain_pattern("bit-verify.co")).id());
}

// ---------------------------------------------------------------- revoke(1)'s holds

namespace {

// Holds revoke would record now for `patterns` and `ids`, recorded.
std::vector<Hold> hold(const std::string& state_dir, const std::vector<std::string>& patterns,
                       const std::vector<std::string>& ids, const char* now) {
  auto holds = Holds::open(state_dir, 0);
  INFO((holds ? std::string() : holds.error().message()));
  REQUIRE(holds);
  auto found = holds->find(patterns, ids, at(now), "false positive, ticket 4711");
  INFO((found ? std::string() : found.error().message()));
  REQUIRE(found);
  holds->add(*found);
  REQUIRE(holds->save());
  return *found;
}

std::vector<Hold> lift(const std::string& state_dir, const std::vector<std::string>& patterns,
                       const std::vector<std::string>& ids) {
  auto holds = Holds::open(state_dir, 0);
  REQUIRE(holds);
  auto lifted = holds->lift(patterns, ids);
  REQUIRE(holds->save());
  return lifted;
}

}  // namespace

TEST_CASE("holds: a revoked indicator is withheld, changed or not, until lifted", "[stix][generator][holds]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  auto first = objects_of(run_ok(o).output);
  const std::string old_id = std::string(indicator(first, domain_pattern("secure-login.net")).id());
  const std::string kept_id = std::string(indicator(first, domain_pattern("bit-verify.co")).id());

  auto held = hold(o.state_dir, {domain_pattern("secure-login.net")}, {}, "2024-05-01T09:00:00Z");
  REQUIRE(held.size() == 1);
  CHECK(held[0].indicator_id == old_id);
  CHECK(held[0].pattern == domain_pattern("secure-login.net"));
  CHECK(held[0].modified == "2024-05-01T09:00:00.000Z");  // the revoked version revoke sends
  CHECK(held[0].identity_id == first[0].id());
  CHECK_FALSE(held[0].lifted);

  // The same detection, and a changed one: neither the old version, nor a
  // newer one, nor a new id.
  FixedClock next_day(at("2024-05-02T06:00:00.000Z"));
  o.clock = &next_day;
  for (const char* csv : {"value,confidence\nsecure-login.net,0.92\nbit-verify.co,0.88\n",
                          "value,confidence\nsecure-login.net,0.99\nbit-verify.co,0.88\n"}) {
    o.inputs = {dir.file("d2.csv", csv)};
    Run r = run_ok(o);
    CHECK(r.report.withheld == 1);
    CHECK(r.report.created == 0);
    CHECK(r.report.versioned == 0);
    CHECK(r.report.unchanged == 1);
    CHECK(r.output.find("secure-login.net") == std::string::npos);
    CHECK(r.output.find(old_id) == std::string::npos);
    CHECK(indicator(objects_of(r.output), domain_pattern("bit-verify.co")).id() == kept_id);
    bool said = false;
    for (const auto& d : r.diagnostics) said |= d.message.find("'secure-login.net': withheld") != std::string::npos;
    CHECK(said);
  }
  // The state knows of the revocation; re-runs change nothing.
  const std::string state = *read_file(o.state_dir + "/stix-gen.state");
  const std::size_t at_id = state.find("\t" + old_id + "\t");
  REQUIRE(at_id != std::string::npos);
  const std::string line = state.substr(at_id, state.find('\n', at_id) - at_id);
  CHECK(line.find("\t2024-05-01T09:00:00.000Z\t") != std::string::npos);  // modified: the revoked version's
  CHECK(line.find("\t1\tidentity--") != std::string::npos);               // revoked
  run_ok(o);
  CHECK(*read_file(o.state_dir + "/stix-gen.state") == state);
  // Revoking again finds the same hold.
  CHECK(hold(o.state_dir, {domain_pattern("secure-login.net")}, {}, "2024-05-03T09:00:00Z")[0].modified ==
        held[0].modified);

  // Lifted: a new indicator, never the revoked id.
  auto lifted = lift(o.state_dir, {domain_pattern("secure-login.net")}, {});
  REQUIRE(lifted.size() == 1);
  CHECK(lifted[0].lifted);
  Run after = run_ok(o);
  CHECK(after.report.withheld == 0);
  CHECK(after.report.created == 1);
  const std::string new_id = std::string(indicator(objects_of(after.output), domain_pattern("secure-login.net")).id());
  CHECK(new_id != old_id);
  CHECK(after.output.find(old_id) == std::string::npos);
  // Stable from then on; the lifted hold no longer matters.
  Run again = run_ok(o);
  CHECK(again.output == after.output);
  CHECK(again.report.unchanged == 2);
}

TEST_CASE("holds: lifted before stix-gen ran, the revoked id is still not continued", "[stix][generator][holds]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  auto first = objects_of(run_ok(o).output);
  const std::string old_id = std::string(indicator(first, domain_pattern("secure-login.net")).id());

  // By id this time.
  auto held = hold(o.state_dir, {}, {old_id}, "2024-05-01T09:00:00Z");
  REQUIRE(held.size() == 1);
  CHECK(held[0].pattern == domain_pattern("secure-login.net"));
  CHECK(lift(o.state_dir, {}, {old_id}).size() == 1);
  CHECK(lift(o.state_dir, {}, {old_id}).empty());  // lifted already

  Run r = run_ok(o);
  CHECK(r.report.created == 1);
  CHECK(r.report.unchanged == 1);
  CHECK(indicator(objects_of(r.output), domain_pattern("secure-login.net")).id() != old_id);
}

TEST_CASE("holds: only what our stix-gen state holds is ours", "[stix][generator][holds]") {
  TempDir dir;
  const std::string state_dir = dir.path("state");
  SECTION("no state: nothing to hold, no file, no lock") {
    auto holds = Holds::open(state_dir, 0);
    REQUIRE(holds);
    CHECK_FALSE(holds->has_state());
    auto found = holds->find({domain_pattern("secure-login.net")}, {}, at(kNow), "fp");
    REQUIRE(found);
    CHECK(found->empty());
    CHECK_FALSE(fs::exists(state_dir));
  }
  SECTION("a value or id the state does not hold") {
    FixedClock clock(at(kNow));
    GenerateOptions o = base_options(clock);
    o.state_dir = state_dir;
    o.inputs = {dir.file("d.csv", kSeedCsv)};
    run_ok(o);
    auto holds = Holds::open(state_dir, 0);
    REQUIRE(holds);
    CHECK(holds->has_state());
    auto found = holds->find({domain_pattern("other.example")},
                             {"indicator--0b5a3c1e-7d2f-4b8a-9c6d-1e2f3a4b5c6d", "not an id"}, at(kNow), "fp");
    REQUIRE(found);
    CHECK(found->empty());
    CHECK_FALSE(fs::exists(state_dir + "/stix-gen.holds"));
  }
}

TEST_CASE("holds: stix-gen's lock is waited for, a dry run reads without it", "[stix][generator][holds]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  run_ok(o);
  auto lock = FileLock::acquire(o.state_dir + "/stix-gen.lock");
  REQUIRE(lock);
  auto held = Holds::open(o.state_dir, 0);
  REQUIRE_FALSE(held);
  CHECK(held.error().category() == ErrorCategory::temp_fail);
  auto reading = Holds::open(o.state_dir, -1);
  REQUIRE(reading);
  auto found = reading->find({domain_pattern("secure-login.net")}, {}, at(kNow), "fp");
  REQUIRE(found);
  CHECK(found->size() == 1);
}

TEST_CASE("holds: a corrupt holds file is a data error for revoke and stix-gen", "[stix][generator][holds]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = stateful_options(dir, clock, kSeedCsv);
  run_ok(o);
  dir.file("state/stix-gen.holds", "ctishare-stix-gen-holds 1\nhold\tindicator--x\n");
  auto holds = Holds::open(o.state_dir, 0);
  REQUIRE_FALSE(holds);
  CHECK(holds.error().category() == ErrorCategory::data);
  CHECK_THAT(holds.error().message(), Catch::Contains("stix-gen.holds': line 2"));
  Run r = run(o);
  REQUIRE_FALSE(r.ok);
  CHECK(r.category == ErrorCategory::data);
}

TEST_CASE("holds: the state is searched without loading it, across its blocks", "[stix][generator][holds]") {
  // 6,000 entries: a state of several blocks of the scan (256 KiB each).
  TempDir dir;
  FixedClock clock(at(kNow));
  std::string csv = "value,confidence\n";
  for (int i = 0; i < 6000; ++i) csv += "host-" + std::to_string(i) + ".example.com,0.9\n";
  GenerateOptions o = stateful_options(dir, clock, csv);
  auto objects = objects_of(run_ok(o).output);
  REQUIRE(fs::file_size(o.state_dir + "/stix-gen.state") > (1U << 20));
  std::map<std::string, std::string> id_of;  // pattern -> id
  for (const Object* i : of_type(objects, "indicator")) id_of[str(*i, "pattern")] = i->id();
  std::vector<std::string> patterns;
  // Every one, so the lines cut by a block's end are among them.
  for (int i = 0; i < 6000; ++i) patterns.push_back(domain_pattern("host-" + std::to_string(i) + ".example.com"));
  auto holds = Holds::open(o.state_dir, -1);
  REQUIRE(holds);
  auto all = holds->find(patterns, {}, at(kNow), "fp");
  REQUIRE(all);
  CHECK(all->size() == patterns.size());
  for (const Hold& h : *all) CHECK(id_of.at(h.pattern) == h.indicator_id);
  // By id, and named twice: one hold.
  const std::vector<std::string> ids = {id_of[domain_pattern("host-5999.example.com")], id_of[patterns[3]]};
  auto found = holds->find({patterns[3]}, ids, at(kNow), "fp");
  REQUIRE(found);
  CHECK(found->size() == 2);
  for (const Hold& h : *found) CHECK(id_of.at(h.pattern) == h.indicator_id);
}

TEST_CASE("generate: a UTF-8 byte order mark before the CSV header", "[stix][generator][formats]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.inputs = {dir.file("bom.csv", "\xEF\xBB\xBF" + kSeedCsv)};
  Run r = run_ok(o);
  CHECK(r.report.rows == 2);
  CHECK(of_type(objects_of(r.output), "indicator").size() == 2);
}

TEST_CASE("generate: the state keeps awkward patterns and names apart", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.identity_name = "Team\tBackslash\\ and\nnewline";
  o.state_dir = dir.path("state");
  o.inputs = {dir.file("d.ndjson",
                       "{\"value\":\"http://example.com/a\\\\b?q='x'\",\"confidence\":0.5}\n"
                       "{\"value\":\"http://example.com/a\\\\\\\\b\",\"confidence\":0.5}\n"
                       "{\"value\":\"http://example.com/t\\\\tab\",\"confidence\":0.5}\n")};
  Run first = run_ok(o);
  CHECK(first.report.created == 3);
  auto objs = objects_of(first.output);
  indicator(objs, "[url:value = 'http://example.com/a\\\\b?q=\\'x\\'']");
  indicator(objs, "[url:value = 'http://example.com/a\\\\\\\\b']");
  CHECK(str(*of_type(objs, "identity").at(0), "name") == o.identity_name);

  Run second = run_ok(o);
  CHECK(second.report.unchanged == 3);
  CHECK(second.report.created == 0);
  CHECK(second.output == first.output);
}

TEST_CASE("generate: row order does not change the output", "[stix][generator][state]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.state_dir = dir.path("state");
  o.inputs = {dir.file("a.csv", "value,confidence\na.example.com,0.1\nb.example.com,0.2\n198.51.100.1,0.3\nc.example.com,0.4\n")};
  Run first = run_ok(o);
  o.inputs = {dir.file("b.csv", "value,confidence\nc.example.com,0.4\n198.51.100.1,0.3\nb.example.com,0.2\na.example.com,0.1\n")};
  Run second = run_ok(o);
  CHECK(second.report.unchanged == 4);
  CHECK(second.output == first.output);
}

TEST_CASE("generate: several inputs in one run", "[stix][generator][formats]") {
  TempDir dir;
  FixedClock clock(at(kNow));
  GenerateOptions o = base_options(clock);
  o.skip_invalid = true;
  const std::string csv = dir.file("a.csv", "value,confidence\na.example.com,0.5\ncom,0.5\n");
  const std::string nd = dir.file("b.ndjson", "{\"value\":\"co.uk\",\"confidence\":0.5}\n{\"value\":\"b.example.com\",\"confidence\":0.6}\n");
  o.inputs = {csv, nd};
  Run r = run_ok(o);
  CHECK(r.report.rows == 4);
  CHECK(r.report.invalid == 2);
  auto objs = objects_of(r.output);
  CHECK(of_type(objs, "indicator").size() == 2);
  CHECK_THAT(r.errors(), Catch::Contains("'" + csv + "': line 3"));
  CHECK_THAT(r.errors(), Catch::Contains("'" + nd + "': line 1"));
}
