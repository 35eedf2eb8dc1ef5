// Validation reports: the four formats stix-validate writes its findings in.
// Every format is UTF-8 and a function of the findings alone (no times, no
// host names), so the same input gives byte-identical reports. Strings from
// the input (ids, property paths, messages, file names) are hostile: bytes
// that are not UTF-8 become U+FFFD in every format, and each format escapes
// what its grammar needs.
//
// text   One line per finding, written as findings arrive:
//          FILE:LINE: ID: CODE NAME: [PROPERTY: ]MESSAGE
//        "FILE: ID: ..." when the line is unknown, "-" for ID when the finding
//        is about the input. CODE is the check's own code, so a warning that
//        --strict made an error still shows as Wnnn. Control characters (C0,
//        DEL, C1), line separators and bidi overrides are shown as \uXXXX,
//        so one finding stays one line and cannot rewrite a terminal.
//          bundle.json:12: indicator--1f2e...: E014 invalid-timestamp: valid_from: 'x' is not ...
//
// json   One document (two-space indent), files in the order they were given:
//          {"files": [{"file": "bundle.json", "objects": 3, "errors": 1, "warnings": 0,
//                      "findings": [{"code": "E014", "name": "invalid-timestamp",
//                                    "severity": "error", "line": 12, "id": "indicator--...",
//                                    "property": "valid_from", "message": "..."}]}],
//           "errors": 1, "warnings": 0}
//        Every member is always present: "line" is 0 when unknown, "id" and
//        "property" are "" when the finding has none; "severity" is after
//        --strict ("error", "warning"). errors / warnings count findings.
//
// sarif  SARIF 2.1.0, one run. tool.driver: name "stix-validate", version
//        (when given), rules = the checks that occurred, in code order (id =
//        code, name, shortDescription, defaultConfiguration.level). Each
//        result: ruleId, ruleIndex, level (after --strict), message.text
//        ("ID: PROPERTY: MESSAGE"), one location with physicalLocation.
//        artifactLocation.uri (the path as given, percent-encoded; stdin is
//        "stdin"), region.startLine when the line is known (SARIF §3.29.4:
//        no region means the whole artifact), and the object id as a
//        logicalLocation of kind "object". GitHub code scanning needs ruleId,
//        message.text and a non-empty uri on every result; each has them.
//
// junit  JUnit XML as Jenkins and GitLab read it: a <testsuite> per input
//        (tests = its objects), a <testcase> per object with findings (name:
//        the id, or "input" for findings about the input as a whole), or one
//        passing "all objects" testcase when there are none. A testcase with
//        errors holds one <failure> (type: the first error's code; message:
//        the first error; text: every error, one text-format line each),
//        since parsers such as GitLab's take one failure per testcase;
//        warnings go to its <system-out> and do not fail it. Characters XML
//        1.0 forbids are shown as \uXXXX.
//
// The document formats keep their findings until finish(): JUnit needs the
// counts before the cases, SARIF the rules before the results, and a check
// that spans versions may report on a file after that file has ended.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ctishare/validate.h"

namespace ctishare::stix {

namespace {

// Text output goes out in small chunks so a CI log shows progress; the
// documents in larger ones so a huge report does not cost a write per line.
constexpr std::size_t kTextFlushBytes = std::size_t{4} * 1024;
constexpr std::size_t kDocumentFlushBytes = std::size_t{64} * 1024;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// A finding always names its check; this stands in should one not, so a
// validator bug shows up in the report instead of crashing the writer.
constexpr Check kUnknownCheck{"E000", "unknown-check", Severity::error, "a finding that names no check"};

const Check& check_of(const Finding& finding) { return finding.check != nullptr ? *finding.check : kUnknownCheck; }

// Calls on(code_point, bytes) for each code point of `s`; a byte that does not
// start a well-formed UTF-8 sequence (overlong, surrogate, past U+10FFFF,
// truncated) comes as U+FFFD with the replacement's own bytes.
template <typename OnCodePoint>
void for_each_code_point(std::string_view s, OnCodePoint&& on) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      on(static_cast<char32_t>(b0), s.substr(i, 1));
      ++i;
      continue;
    }
    // The sequence length from the lead byte, its payload bits, and the least
    // code point that needs that length (anything less is overlong).
    std::size_t n = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 2;
      cp = b0 & 0x1F;
      min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 3;
      cp = b0 & 0x0F;
      min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 4;
      cp = b0 & 0x07;
      min = 0x10000;
    }
    bool ok = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!ok) {
      on(char32_t{0xFFFD}, kReplacement);
      ++i;
      continue;
    }
    on(cp, s.substr(i, n));
    i += n;
  }
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for_each_code_point(s, [&](char32_t, std::string_view bytes) { out.append(bytes); });
  return out;
}

// Characters that must not reach a line-oriented log as they are: they would
// split a finding over lines, move the cursor, or reorder what is shown.
bool is_control(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

void append_escape(char32_t c, std::string& out) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
  out += buf;
}

// Appends `s` for the text format: valid UTF-8, controls escaped.
void append_text(std::string_view s, std::string& out) {
  for_each_code_point(s, [&](char32_t c, std::string_view bytes) {
    if (is_control(c)) {
      append_escape(c, out);
    } else {
      out.append(bytes);
    }
  });
}

// Appends `s` as XML 1.0 character data, or as an attribute value. Content
// keeps tabs and line breaks (the lines of a <failure> are ours); in an
// attribute (a file name, an object id: one-line labels on a dashboard) they
// are shown escaped like every other control character.
void append_xml(std::string_view s, std::string& out, bool attribute) {
  for_each_code_point(s, [&](char32_t c, std::string_view bytes) {
    switch (c) {
      case '&':
        out += "&amp;";
        return;
      case '<':
        out += "&lt;";
        return;
      case '>':
        out += "&gt;";
        return;
      case '"':
        out += "&quot;";
        return;
      case '\'':
        out += "&apos;";
        return;
      case '\t':
      case '\n':
        if (!attribute) {
          out += static_cast<char>(c);
          return;
        }
        break;
      case '\r':
        if (!attribute) {
          out += "&#13;";  // a literal CR would be read back as a line feed
          return;
        }
        break;
      default:
        break;
    }
    // Other C0 controls, U+FFFE and U+FFFF are not XML 1.0 characters at all
    // (not even as references); the rest of is_control() is legal but shown
    // escaped for the same reasons as in text.
    if (is_control(c) || c == 0xFFFE || c == 0xFFFF) {
      append_escape(c, out);
    } else {
      out.append(bytes);
    }
  });
}

// An input path as a SARIF artifactLocation.uri: a relative reference kept
// relative, every byte outside RFC 3986 "unreserved" and "/" percent-encoded
// (so "a b#1.json" cannot be read as a fragment, nor "c:x.json" as a scheme).
std::string artifact_uri(std::string_view file) {
  if (file.empty() || file == "-" || file == "<stdin>") return "stdin";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : valid_utf8(file)) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::info:
      return "info";
  }
  return "error";
}

std::string_view sarif_level(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::info:
      return "note";
  }
  return "error";
}

// "CODE name: [property: ]message", text-escaped.
void append_text_body(const Finding& finding, std::string& out) {
  const Check& check = check_of(finding);
  out.append(check.code);
  out += ' ';
  out.append(check.name);
  out += ": ";
  if (!finding.property.empty()) {
    append_text(finding.property, out);
    out += ": ";
  }
  append_text(finding.message, out);
}

// One text-format line, without the newline.
void append_text_line(const Finding& finding, std::string_view file, std::string& out) {
  append_text(file.empty() ? std::string_view("-") : file, out);
  if (finding.line > 0) {
    out += ':';
    out += std::to_string(finding.line);
  }
  out += ": ";
  append_text(finding.object_id.empty() ? std::string_view("-") : std::string_view(finding.object_id), out);
  out += ": ";
  append_text_body(finding, out);
}

void newline(std::string& out, int depth) {
  out += '\n';
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

// Buffers output for a sink and keeps the first write error: the writer's
// add() and end_file() cannot return one, so finish() does.
class Output {
 public:
  Output(Sink& sink, std::size_t flush_at) : sink_(sink), flush_at_(flush_at) {}

  std::string& buffer() noexcept { return buffer_; }
  void flush_if_full() {
    if (buffer_.size() >= flush_at_) flush();
  }
  void flush() {
    if (buffer_.empty()) return;
    // After a failure nothing more is written: a report with a hole in the
    // middle would be worse than one cut short.
    if (status_) {
      Status written = sink_.write(buffer_);
      if (!written) status_ = std::move(written);
    }
    buffer_.clear();
  }
  [[nodiscard]] const Status& status() const noexcept { return status_; }

 private:
  Sink& sink_;
  std::size_t flush_at_;
  std::string buffer_;
  Status status_;
};

class TextWriter final : public ReportWriter {
 public:
  explicit TextWriter(Sink& sink) : out_(sink, kTextFlushBytes) {}

  void begin_file(std::string_view file) override { file_ = file; }
  void add(const Finding& finding) override {
    append_text_line(finding, finding.file.empty() ? std::string_view(file_) : std::string_view(finding.file),
                     out_.buffer());
    out_.buffer() += '\n';
    out_.flush_if_full();
  }
  void end_file(std::string_view, std::uint64_t) override { out_.flush(); }
  Status finish() override {
    out_.flush();
    return out_.status();
  }

 private:
  Output out_;
  std::string file_;
};

// One input's part of a document report.
struct Section {
  std::string file;
  std::uint64_t objects = 0;
  std::uint64_t errors = 0;
  std::uint64_t warnings = 0;
  std::vector<Finding> findings;
};

// Collects findings by input and writes the document at finish().
class DocumentWriter : public ReportWriter {
 public:
  explicit DocumentWriter(Sink& sink) : out_(sink, kDocumentFlushBytes) {}

  void begin_file(std::string_view file) override {
    sections_.push_back(Section{std::string(file), 0, 0, 0, {}});
    open_ = sections_.size() - 1;
  }

  void add(const Finding& finding) override {
    Section& section = section_for(finding.file);
    if (finding.severity == Severity::error) ++section.errors;
    if (finding.severity == Severity::warning) ++section.warnings;
    section.findings.push_back(finding);
  }

  void end_file(std::string_view file, std::uint64_t objects) override {
    Section& section = section_for(file);
    section.objects = objects;
    if (open_ != kNone && &sections_[open_] == &section) open_ = kNone;
  }

  Status finish() override {
    if (!finished_) {
      finished_ = true;
      render(out_);
      out_.flush();
    }
    return out_.status();
  }

 protected:
  virtual void render(Output& out) = 0;

  [[nodiscard]] const std::vector<Section>& sections() const noexcept { return sections_; }
  [[nodiscard]] std::uint64_t total_errors() const {
    std::uint64_t n = 0;
    for (const auto& s : sections_) n += s.errors;
    return n;
  }
  [[nodiscard]] std::uint64_t total_warnings() const {
    std::uint64_t n = 0;
    for (const auto& s : sections_) n += s.warnings;
    return n;
  }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // The input a finding (or end_file) belongs to: the open one when the name
  // matches or is empty, else the latest of that name (a cross-version check
  // may report on a file that has ended), else a new one. A name never seen
  // gets its own section rather than being filed under the wrong input.
  Section& section_for(std::string_view file) {
    if (open_ != kNone && (file.empty() || sections_[open_].file == file)) return sections_[open_];
    for (auto it = sections_.rbegin(); it != sections_.rend(); ++it) {
      if (file.empty() || it->file == file) return *it;
    }
    sections_.push_back(Section{std::string(file), 0, 0, 0, {}});
    return sections_.back();
  }

  Output out_;
  std::vector<Section> sections_;
  std::size_t open_ = kNone;
  bool finished_ = false;
};

json::Value integer(std::uint64_t n) { return {static_cast<std::int64_t>(n)}; }

class JsonWriter final : public DocumentWriter {
 public:
  using DocumentWriter::DocumentWriter;

 private:
  void render(Output& out) override {
    std::string& b = out.buffer();
    b += "{\n  \"files\": [";
    bool first_file = true;
    for (const Section& section : sections()) {
      if (!first_file) b += ',';
      first_file = false;
      newline(b, 2);
      b += '{';
      newline(b, 3);
      b += "\"file\": ";
      json::write_string(valid_utf8(section.file), b);
      b += ',';
      newline(b, 3);
      b += "\"objects\": " + std::to_string(section.objects) + ',';
      newline(b, 3);
      b += "\"errors\": " + std::to_string(section.errors) + ',';
      newline(b, 3);
      b += "\"warnings\": " + std::to_string(section.warnings) + ',';
      newline(b, 3);
      b += "\"findings\": [";
      bool first = true;
      for (const Finding& finding : section.findings) {
        if (!first) b += ',';
        first = false;
        newline(b, 4);
        const Check& check = check_of(finding);
        json::write(json::Value(json::Object{
                        {"code", json::Value(check.code)},
                        {"name", json::Value(check.name)},
                        {"severity", json::Value(severity_name(finding.severity))},
                        {"line", integer(finding.line)},
                        {"id", json::Value(valid_utf8(finding.object_id))},
                        {"property", json::Value(valid_utf8(finding.property))},
                        {"message", json::Value(valid_utf8(finding.message))},
                    }),
                    b, json::Layout::pretty, 4);
        out.flush_if_full();
      }
      if (!section.findings.empty()) newline(b, 3);
      b += ']';
      newline(b, 2);
      b += '}';
    }
    if (!sections().empty()) newline(b, 1);
    b += "],\n  \"errors\": " + std::to_string(total_errors()) +
         ",\n  \"warnings\": " + std::to_string(total_warnings()) + "\n}\n";
  }
};

class SarifWriter final : public DocumentWriter {
 public:
  SarifWriter(Sink& sink, std::string_view tool_version) : DocumentWriter(sink), tool_version_(tool_version) {}

 private:
  void render(Output& out) override {
    // The rules are the checks that occurred, in code order; ruleIndex
    // points into that list.
    std::map<std::string_view, const Check*> occurred;
    for (const Section& section : sections()) {
      for (const Finding& finding : section.findings) occurred.emplace(check_of(finding).code, &check_of(finding));
    }
    std::map<std::string_view, std::int64_t> index;
    json::Array rules;
    for (const auto& [code, check] : occurred) {
      index.emplace(code, static_cast<std::int64_t>(rules.size()));
      rules.emplace_back(json::Object{
          {"id", json::Value(check->code)},
          {"name", json::Value(check->name)},
          {"shortDescription", json::Object{{"text", json::Value(check->summary)}}},
          {"defaultConfiguration", json::Object{{"level", json::Value(sarif_level(check->severity))}}},
      });
    }
    json::Object driver{{"name", "stix-validate"}};
    if (!tool_version_.empty()) driver.emplace_back("version", valid_utf8(tool_version_));
    driver.emplace_back("rules", std::move(rules));

    std::string& b = out.buffer();
    b += "{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n";
    b += "  \"runs\": [\n    {\n      \"tool\": ";
    json::write(json::Value(json::Object{{"driver", std::move(driver)}}), b, json::Layout::pretty, 3);
    b += ",\n      \"results\": [";
    bool first = true;
    for (const Section& section : sections()) {
      const std::string uri = artifact_uri(section.file);
      for (const Finding& finding : section.findings) {
        if (!first) b += ',';
        first = false;
        newline(b, 4);
        json::write(result(finding, uri, index.at(check_of(finding).code)), b, json::Layout::pretty, 4);
        out.flush_if_full();
      }
    }
    if (!first) newline(b, 3);
    b += "]\n    }\n  ]\n}\n";
  }

  static json::Value result(const Finding& finding, const std::string& uri, std::int64_t rule_index) {
    // The message names the object: code scanning shows the message, not
    // the logical location.
    std::string text;
    if (!finding.object_id.empty()) text += finding.object_id + ": ";
    if (!finding.property.empty()) text += finding.property + ": ";
    text += finding.message;

    json::Object physical{{"artifactLocation", json::Object{{"uri", uri}}}};
    if (finding.line > 0) physical.emplace_back("region", json::Object{{"startLine", integer(finding.line)}});
    json::Object location{{"physicalLocation", std::move(physical)}};
    if (!finding.object_id.empty()) {
      location.emplace_back("logicalLocations",
                            json::Array{json::Object{{"name", valid_utf8(finding.object_id)}, {"kind", "object"}}});
    }
    const Check& check = check_of(finding);
    return json::Object{
        {"ruleId", json::Value(check.code)},
        {"ruleIndex", json::Value(rule_index)},
        {"level", json::Value(sarif_level(finding.severity))},
        {"message", json::Object{{"text", valid_utf8(text)}}},
        {"locations", json::Array{std::move(location)}},
    };
  }

  std::string tool_version_;
};

class JunitWriter final : public DocumentWriter {
 public:
  using DocumentWriter::DocumentWriter;

 private:
  // The findings of one object (or of the input as a whole: empty id).
  struct Case {
    std::string_view id;
    std::vector<const Finding*> failures;  // error severity, after --strict
    std::vector<const Finding*> output;    // the rest
  };
  struct Suite {
    const Section* section;
    std::vector<Case> cases;
    std::uint64_t tests;
    std::uint64_t failures;
  };

  static Suite suite_of(const Section& section) {
    Suite suite{&section, {}, 0, 0};
    std::unordered_map<std::string_view, std::size_t> by_id;
    for (const Finding& finding : section.findings) {
      const auto [it, added] = by_id.emplace(finding.object_id, suite.cases.size());
      if (added) suite.cases.push_back(Case{finding.object_id, {}, {}});
      Case& c = suite.cases[it->second];
      (finding.severity == Severity::error ? c.failures : c.output).push_back(&finding);
    }
    for (const Case& c : suite.cases) suite.failures += c.failures.empty() ? 0 : 1;
    // tests counts objects, but never fewer than the testcases shown, so a
    // file that is not JSON at all (no objects, one failing "input") still
    // adds up.
    const std::uint64_t shown = suite.cases.empty() ? 1 : suite.cases.size();
    suite.tests = std::max(section.objects, shown);
    return suite;
  }

  void render(Output& out) override {
    std::vector<Suite> suites;
    std::uint64_t tests = 0;
    std::uint64_t failures = 0;
    for (const Section& section : sections()) {
      suites.push_back(suite_of(section));
      tests += suites.back().tests;
      failures += suites.back().failures;
    }
    std::string& b = out.buffer();
    b += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    b += "<testsuites name=\"stix-validate\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
         std::to_string(failures) + "\" errors=\"0\">\n";
    for (const Suite& suite : suites) {
      const std::string& file = suite.section->file;
      b += "  <testsuite name=\"";
      append_xml(file, b, true);
      b += "\" tests=\"" + std::to_string(suite.tests) + "\" failures=\"" + std::to_string(suite.failures) +
           "\" errors=\"0\" skipped=\"0\">\n";
      if (suite.cases.empty()) {
        b += "    <testcase classname=\"";
        append_xml(file, b, true);
        b += "\" name=\"all objects\"/>\n";
      }
      for (const Case& c : suite.cases) {
        b += "    <testcase classname=\"";
        append_xml(file, b, true);
        b += "\" name=\"";
        append_xml(c.id.empty() ? std::string_view("input") : c.id, b, true);
        b += "\">\n";
        if (!c.failures.empty()) {
          const Finding& first = *c.failures.front();
          std::string message;
          append_text_body(first, message);
          if (c.failures.size() > 1) message += " (+" + std::to_string(c.failures.size() - 1) + " more)";
          b += "      <failure message=\"";
          append_xml(message, b, true);
          b += "\" type=\"";
          b.append(check_of(first).code);
          b += "\">";
          append_lines(c.failures, file, b);
          b += "</failure>\n";
        }
        if (!c.output.empty()) {
          b += "      <system-out>";
          append_lines(c.output, file, b);
          b += "</system-out>\n";
        }
        b += "    </testcase>\n";
        out.flush_if_full();
      }
      b += "  </testsuite>\n";
    }
    b += "</testsuites>\n";
  }

  // Text-format lines, XML-escaped, one per finding.
  static void append_lines(const std::vector<const Finding*>& findings, std::string_view file, std::string& out) {
    std::string line;
    for (std::size_t i = 0; i < findings.size(); ++i) {
      line.clear();
      const Finding& f = *findings[i];
      append_text_line(f, f.file.empty() ? file : std::string_view(f.file), line);
      if (i != 0) out += '\n';
      append_xml(line, out, false);
    }
  }
};

}  // namespace

std::optional<ReportFormat> parse_report_format(std::string_view name) {
  if (name == "text") return ReportFormat::text;
  if (name == "json") return ReportFormat::json;
  if (name == "sarif") return ReportFormat::sarif;
  if (name == "junit") return ReportFormat::junit;
  return std::nullopt;
}

std::unique_ptr<ReportWriter> make_report_writer(ReportFormat format, Sink& sink, std::string_view tool_version) {
  switch (format) {
    case ReportFormat::text:
      return std::make_unique<TextWriter>(sink);
    case ReportFormat::json:
      return std::make_unique<JsonWriter>(sink);
    case ReportFormat::sarif:
      return std::make_unique<SarifWriter>(sink, tool_version);
    case ReportFormat::junit:
      return std::make_unique<JunitWriter>(sink);
  }
  return std::make_unique<TextWriter>(sink);
}

}  // namespace ctishare::stix
