// stix-gen's engine: internal detections (CSV, TSV or NDJSON rows of a value
// and a model confidence) become STIX 2.1 indicators in a bundle, with
// stable ids across daily runs. A small state (pattern -> indicator id,
// created, last version) makes re-runs idempotent: an unchanged detection
// gives the byte-identical object, a changed one a new version (same id and
// created, later modified), a revoked one a fresh indicator. Beside the state,
// revoke(1) keeps holds on the indicators it revoked: their detections are
// withheld until the hold is lifted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ctishare/bundle.h"
#include "ctishare/diagnostics.h"
#include "ctishare/file.h"
#include "ctishare/json.h"
#include "ctishare/marking.h"
#include "ctishare/time.h"

namespace ctishare::stix {

enum class DetectionFormat { automatic, csv, tsv, ndjson };
enum class ConfidenceScale { automatic, unit, percent };

// Lifetimes used when neither the row nor --valid-for gives one.
struct Lifetimes {
  std::int64_t url = 7 * 86400;       // phishing URLs are taken down in days
  std::int64_t domain = 30 * 86400;   // dedicated phishing domains live for weeks
  std::int64_t ip = 3 * 86400;        // addresses are reassigned fastest
  std::int64_t email = 30 * 86400;
  std::int64_t hash = 365 * 86400;    // a file hash never stops being that file
};

struct GenerateOptions {
  std::vector<std::string> inputs;                               // files; "-" is stdin
  std::vector<std::pair<std::string, std::string>> cli_values;   // --value/--confidence pairs
  DetectionFormat format = DetectionFormat::automatic;
  ConfidenceScale scale = ConfidenceScale::automatic;
  std::vector<std::string> labels;                               // added to every indicator
  std::vector<std::string> indicator_types = {"malicious-activity"};
  std::optional<std::int64_t> valid_for;                         // seconds; overrides Lifetimes
  Lifetimes lifetimes;
  Tlp tlp = Tlp::amber;
  std::string identity_name;   // empty: the default producer identity
  std::string identity_class = "organization";
  std::string state_dir;       // empty: no state is read or written
  int lock_wait_seconds = 0;
  std::string previous;        // --previous FILE: seed the state from a bundle
  bool skip_invalid = false;
  OutputFraming framing = OutputFraming::bundle;
  json::Layout layout = json::Layout::compact;
  const Clock* clock = nullptr;  // nullptr: the system clock
  json::Limits limits;
};

struct GenerateReport {
  std::uint64_t rows = 0;        // detections read
  std::uint64_t invalid = 0;     // rows refused
  std::uint64_t duplicates = 0;  // rows merged into another with the same observable
  std::uint64_t created = 0;     // new indicators
  std::uint64_t versioned = 0;   // new versions of known indicators
  std::uint64_t unchanged = 0;   // emitted exactly as last time
  std::uint64_t withheld = 0;    // not emitted: revoke(1) holds their indicator
  std::string identity_name;
  bool default_identity = false;
};

// A finished run whose output has been written to the sink but whose state
// is not yet saved: commit the output first, then the state, so the state
// never describes output that does not exist. Holds the state lock.
class Generation {
 public:
  virtual ~Generation() = default;
  virtual const GenerateReport& report() const = 0;
  // Saves the state atomically (nothing when running without state).
  virtual Status commit_state() = 0;
};

// Reads the detections, writes the bundle (or NDJSON) to `out`, and returns
// the pending state. Problems with single rows go to `diagnostics` as
// errors, each naming the input and line. Errors: data (65) for invalid rows
// (unless skip_invalid; then the rest is written and the report counts them),
// bad input or state; no_input (66) for a missing input; temp_fail (75)
// when another run holds the state lock; cannot_create (73) when the state
// directory cannot be made; io (74) for write failures.
Result<std::unique_ptr<Generation>> generate(const GenerateOptions& options, Sink& out,
                                             const DiagnosticSink& diagnostics);

// The name of the default producer identity ("ctishare on <host>").
std::string default_identity_name();

// A hold revoke(1) put on one of our indicators. Nothing may follow a
// revoked version in STIX, and a new indicator for the same false positive
// would undo the revocation at every partner, so while the hold lasts
// stix-gen emits nothing for the pattern. Once it is lifted, the next run
// that still detects the pattern starts a new indicator (a new id: the
// revoked one stays revoked).
struct Hold {
  std::string indicator_id;  // indicator--UUID
  std::string identity_id;   // its creator: an identity in stix-gen's state
  std::string pattern;
  std::string modified;      // the revoked version's modified
  std::string reason;
  bool lifted = false;       // revoke --undo
};

// The holds of one state directory. They live in a small file beside the
// state (stix-gen.holds), so that revoking never loads or rewrites a state
// of a million entries; stix-gen folds them into its state on its next run.
class Holds {
 public:
  // Reads the holds in `state_dir`. When stix-gen has a state or holds
  // there and `wait_seconds` is not negative, takes stix-gen's lock first,
  // waiting up to `wait_seconds` for a running stix-gen; the lock is kept
  // until the object goes. A negative `wait_seconds` only reads (both files
  // are replaced whole, never written in place). Errors: temp_fail (75)
  // when another run keeps the lock, cannot_create (73), data (65) for a
  // corrupt holds file, io (74).
  static Result<Holds> open(const std::string& state_dir, int wait_seconds);

  // Whether stix-gen keeps a state here. Without one, nothing is ours.
  bool has_state() const noexcept { return has_state_; }

  // The holds add() records for our indicators among `patterns` (as
  // append_observable_pattern writes them) and `ids`, under any identity in
  // the state: the hold already kept for the indicator (held again, the new
  // reason), else a new one with `reason` and, as modified, the next version
  // time after the state's last version at `now` (the state's own modified
  // when it is revoked already). Reads the state once, line by line, without
  // loading it; empty without a state. Errors: data (65) for a corrupt
  // state, io (74).
  Result<std::vector<Hold>> find(const std::vector<std::string>& patterns, const std::vector<std::string>& ids,
                                 const Timestamp& now, const std::string& reason) const;
  // Records `holds`, replacing those on the same indicators. Nothing is
  // written before save().
  void add(const std::vector<Hold>& holds);
  // Lifts the holds on `patterns` or `ids` that are held and returns them. A
  // lifted hold stays in the file, so that stix-gen still marks the
  // indicator revoked in its state. Nothing is written before save().
  std::vector<Hold> lift(const std::vector<std::string>& patterns, const std::vector<std::string>& ids);
  // Writes the holds atomically (nothing when they did not change). Errors:
  // cannot_create (73), io (74).
  Status save() const;

  const std::vector<Hold>& holds() const noexcept { return holds_; }

 private:
  std::string dir_;
  bool has_state_ = false;
  std::vector<Hold> holds_;  // sorted by indicator id
  std::optional<FileLock> lock_;
};

}  // namespace ctishare::stix
