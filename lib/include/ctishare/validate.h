// STIX 2.1 validation: every MUST of the specification is an error, every
// SHOULD a warning, each with a stable check code. Objects are validated one
// at a time as they are read (bounded memory), and checks that span versions
// of one id run as each version arrives, with what remains reported by
// finish(). Reports in text, JSON, SARIF 2.1.0 and JUnit XML.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/check.h"
#include "ctishare/diagnostics.h"
#include "ctishare/file.h"
#include "ctishare/json.h"
#include "ctishare/result.h"

namespace ctishare::stix {

// One finding about one object (or about the input as a whole).
struct Finding {
  const Check* check = nullptr;
  Severity severity = Severity::error;  // after --strict
  std::string file;       // display name of the input
  std::uint64_t line = 0; // line where the object starts (0: unknown)
  std::string object_id;  // "" when the finding is about the input
  std::string property;   // property path, e.g. "external_references[0].url"; may be empty
  std::string message;    // one line, lower-case start
};

struct ValidateOptions {
  json::Limits limits;
  bool strict = false;                    // warnings count as errors
  std::vector<std::string> ignore;        // codes or names not reported
  std::vector<std::string> enable;        // only these warnings (errors always) when non-empty
};

using FindingSink = std::function<void(const Finding&)>;

// Validates STIX content. One Validator keeps the cross-version state of
// one input (or of several, when they are to be judged together).
class Validator {
 public:
  // Errors (usage): an unknown code in ignore / enable.
  static Result<Validator> create(const ValidateOptions& options, FindingSink sink);
  Validator(Validator&&) noexcept;
  Validator& operator=(Validator&&) noexcept;
  ~Validator();

  // Reads every object of `in` (a bundle, a JSON array, single objects or
  // NDJSON) and validates it. Malformed JSON, duplicate keys and breached
  // limits are findings (E001), not errors: judging input is the point.
  // Errors: only I/O failures of `in` (io).
  Status validate_stream(std::istream& in, std::string_view file);

  // Validates one object; `line` is where it started, for messages.
  void validate_object(const json::Value& object, std::string_view file, std::uint64_t line);

  // Ends one set of inputs judged together: forgets the versions seen, so
  // the next input's versions are not compared with these. (Cross-version
  // problems are reported as soon as the version that shows them arrives.)
  void finish();

  // Counts after --strict / --ignore are applied.
  std::uint64_t objects() const;
  std::uint64_t errors() const;
  std::uint64_t warnings() const;

 private:
  struct Impl;
  explicit Validator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Report formats. A ReportWriter receives findings as they come and writes
// the whole report at finish (SARIF, JUnit and JSON need counts up front or
// a closing bracket; text is streamed).
enum class ReportFormat { text, json, sarif, junit };

// Parses "text" / "json" / "sarif" / "junit"; nullopt otherwise.
std::optional<ReportFormat> parse_report_format(std::string_view name);

class ReportWriter {
 public:
  virtual ~ReportWriter() = default;
  // An input is about to be validated (JUnit: a test suite per file).
  virtual void begin_file(std::string_view file) = 0;
  virtual void add(const Finding& finding) = 0;
  // The input was done, with this many objects.
  virtual void end_file(std::string_view file, std::uint64_t objects) = 0;
  // Writes what remains; errors: the sink's write errors.
  virtual Status finish() = 0;
};

// A writer of `format` onto `sink` (kept by reference; must outlive it).
// `tool_version` goes into SARIF's tool.driver.version (left out when empty).
// Every format is deterministic UTF-8; the layouts are described in
// validation_report.cpp. Text is one line per finding:
//   FILE:LINE: ID: CODE NAME: [PROPERTY: ]MESSAGE   ("FILE: ..." without a line, "-" without an id)
// written at least at each end_file; the others are written at finish().
std::unique_ptr<ReportWriter> make_report_writer(ReportFormat format, Sink& sink, std::string_view tool_version = {});

// The inputs named on a command line: files, "-" for stdin, and with
// `recursive` directories (their *.json, *.stix, *.ndjson and *.jsonl files,
// in name order, at any depth). Errors: no_input (66) for a missing or
// unreadable input or a directory without `recursive` — all checked before
// anything is validated, so a typo never yields a half report.
Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs, bool recursive);

struct ValidationSummary {
  std::uint64_t files = 0, objects = 0, errors = 0, warnings = 0;
};

// Validates each input in turn into `report` (one Validator per input: the
// versions of different files are not compared). Errors: usage (unknown
// codes in options), no_input / io for inputs, and the report sink's errors.
Result<ValidationSummary> validate_inputs(const std::vector<std::string>& inputs, const ValidateOptions& options,
                                          ReportWriter& report);

}  // namespace ctishare::stix
