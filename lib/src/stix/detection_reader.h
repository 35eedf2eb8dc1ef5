// Reading detection rows (CSV, TSV, NDJSON, command-line pairs) into compact
// records: the canonical observable in one string pool, the confidence in
// both possible scales, and the optional attributes interned (rows of one
// feed usually share them). Private to the generator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ctishare/diagnostics.h"
#include "ctishare/generator.h"
#include "ctishare/observable.h"

namespace ctishare::stix::detail {

struct Attributes {
  std::vector<std::string> labels;
  std::string description;
  std::string first_seen;   // normalised RFC 3339 text, or empty
  std::string last_seen;
  std::string valid_until;
  int tlp = -1;             // Tlp as int, or -1 for the run's default
};

struct Record {
  std::uint64_t value_offset = 0;
  std::uint32_t value_length = 0;
  std::uint32_t attributes = 0;  // index into DetectionSet::attributes
  std::uint32_t source = 0;      // index into DetectionSet::sources
  std::uint32_t line = 0;
  double raw_confidence = 0;
  std::uint8_t type = 0;            // ObservableType
  std::int16_t confidence_unit = -1;     // value x 100, rounded; -1 when the value is above 1
  std::int16_t confidence_percent = -1;  // value rounded; -1 when above 100
};

struct DetectionSet {
  std::string pool;
  std::vector<Record> records;
  std::vector<Attributes> attributes;
  std::vector<std::string> sources;  // display names
  std::uint64_t rows = 0;
  std::uint64_t invalid = 0;

  std::string_view value(const Record& r) const { return std::string_view(pool).substr(r.value_offset, r.value_length); }
  std::string where(const Record& r) const;
};

// Reads every input of `options` into `set`; row problems go to
// `diagnostics` and are counted in set.invalid. Returns only whole-input
// failures (missing file: no_input; unreadable header or JSON framing: data).
Status read_detections(const GenerateOptions& options, DetectionSet& set, const DiagnosticSink& diagnostics);

// A detection timestamp: RFC 3339 UTC as STIX wants it, or a plain date
// (YYYY-MM-DD, taken as midnight UTC). Returns the STIX text.
Result<std::string> normalise_detection_time(std::string_view text);

// Parses a confidence as written (decimal, optional exponent) into both
// scales with decimal rounding half away from zero (0.285 -> 29, never 28).
struct Confidence {
  double raw = 0;
  int unit = -1;     // -1: above 1
  int percent = -1;  // -1: above 100
};
Result<Confidence> parse_confidence(std::string_view text);

}  // namespace ctishare::stix::detail
