// feed-merge's model: every scored feed folded into one decision per
// observable (threat_master.csv), and the blocklists that enforce the
// decisions to block.
//
// The store keeps the latest version of each indicator per source it came
// through (ingest is idempotent by (id, modified) per source); each run
// re-scores what is stored as of `now` with trust-score's model, so scores
// decay between runs without new input. The rows:
//   - one per canonical observable (type, value) named by a stored indicator;
//   - an indicator revoked by its producer (any version we hold is revoked)
//     no longer counts; when nothing live names the value, the row's status
//     is revoked (or expired: valid_until past, or decayed below the floor);
//   - the score combines independent reports: the best score per producer
//     (created_by_ref, else the channel), then 1 − Π(1 − s/100) across
//     producers, so one producer relayed by three partners counts once;
//   - the action: block only when the most trusted live source has trust
//     ≥ 0.8 and the score reaches the block threshold; review when the most
//     trusted has ≥ 0.5 and the score reaches the review threshold (or an
//     analyst approved it: then block); observe otherwise. Types in
//     observe_only (IP addresses by default) are never more than observe;
//   - vetoes: an allowlist entry → status allowlisted, action observe; an
//     analyst's rejection → status suppressed, action observe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ctishare/file.h"
#include "ctishare/object.h"
#include "ctishare/observable.h"
#include "ctishare/result.h"
#include "ctishare/time.h"
#include "ctishare/trust.h"

namespace ctishare::trust {
class Allowlist;
}

namespace ctishare::merge {

enum class RowStatus { active, expired, revoked, allowlisted, suppressed };
std::string_view status_name(RowStatus status);  // "active", "expired", "revoked", "allowlisted", "suppressed"

// What the blocklist writers read of a row. publish() keeps only this of
// the rows that may block (a quarter of a million of a million-indicator
// store): a whole Row is seven times larger, and each fresh page of memory
// costs more here than the work done on it.
struct ListRow {
  stix::ObservableType type = stix::ObservableType::domain;
  std::string value;  // canonical (classify_observable)
  trust::Action action = trust::Action::observe;
  RowStatus status = RowStatus::active;
};

// One row of threat_master.csv: one observable and the decision about it.
// (Store::scan_rows reuses one Row and resets every member for each value:
// a new member needs resetting there too.)
struct Row : ListRow {
  double score = 0;                   // 0-100, rounded to 0.01
  double producer_confidence = 0;     // the highest among the live reports
  std::vector<std::string> sources;   // channel names, sorted, unique
  std::string source_tier;            // tier of the most trusted live source
  std::string first_seen, last_seen;  // earliest created / latest modified of the indicators
  std::string valid_from;             // earliest valid_from of the live indicators
  std::string valid_until;            // latest valid_until ("" when one never expires)
  std::string reason;                 // why the action is what it is
  std::string tlp;                    // the most restrictive TLP ("clear" … "red"), "" when unmarked
  std::vector<std::string> stix_ids;  // indicator ids, sorted
};

// What left the blocklists, and why (removed.csv).
struct Removal {
  stix::ObservableType type = stix::ObservableType::domain;
  std::string value;
  std::string removed_at;  // the run's time
  std::string status;      // the row's status then ("" when no indicator names it any more)
  std::string reason;
};

// ---------------------------------------------------------------- exporters

struct ExportOptions {
  const trust::Allowlist* allowlist = nullptr;  // vetoes again, in every exporter
  Timestamp now;
  bool csv_raw = false;  // false: spreadsheet-safe cells
  std::string rpz_origin = "rpz.ctishare.local";
  std::uint32_t rpz_ttl = 300;  // seconds; short, so removals reach caches fast
  std::uint32_t rpz_serial = 1;
  std::string ipset_name = "ctishare-block";
  // Rows whose values were already re-classified to themselves in this run
  // (by address; see canonical_row). Classification is the one costly
  // check, so it runs once per row; every exporter still applies the
  // others, the allowlist included, itself.
  const std::unordered_set<const ListRow*>* canonical = nullptr;
  // The RPZ and Unbound writers need the same list (blockable domains
  // without a listed parent); within a publication (canonical set) the
  // first computes it and the second reuses it.
  mutable std::vector<std::string_view> zone_roots;
  mutable const std::vector<ListRow>* zone_roots_of = nullptr;
  // Likewise the blockable domains, which four writers list.
  mutable std::vector<std::string_view> blockable_domains;
  mutable const std::vector<ListRow>* blockable_domains_of = nullptr;
};

// A score or trust as the outputs write it: at most two decimals, no
// trailing zeros (70, 62.5, 0.8); append_number appends it.
std::string format_number(double value);
void append_number(std::string& out, double value);

// A CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF;
// unless `raw`, a cell starting with = + - @ TAB or CR is prefixed with a
// single quote so no spreadsheet runs it as a formula.
std::string csv_cell(std::string_view text, bool raw);
void append_csv_cell(std::string& out, std::string_view text, bool raw);

// Whether a row may go to a blocklist: action block, status active, not
// covered by the allowlist at `now`, and its value still classifies as a
// blockable observable of its type (no public suffix, no control
// characters). `why` gets the reason when it may not.
bool blockable(const ListRow& row, const ExportOptions& options, std::string* why = nullptr);

// The rows with action block and status active whose values re-classify
// to themselves (for ExportOptions::canonical): canonical_row is true for
// each.
bool canonical_row(const ListRow& row);

// The writers. Each takes every row and writes only what it should; each
// blocklist writer checks blockable() itself. Output is deterministic (rows
// in the given order, which callers keep sorted by type then value).
// Errors: the sink's (io, 74) when a write fails; write_rpz and
// write_ipset a usage error (64) for an rpz_origin or ipset_name that is
// not a name.
// threat_master.csv a row at a time: the header line, and one row's line
// appended to `out` (for writers that stream rows).
std::string_view master_csv_header();
void append_master_csv_row(std::string& out, const Row& row, const ExportOptions& options);
ctishare::Status write_master_csv(Sink& out, const std::vector<Row>& rows, const ExportOptions& options);
ctishare::Status write_domain_list(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_hosts(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_rpz(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_unbound(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_suricata_dataset(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_url_list(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_ipset(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options);
ctishare::Status write_removed_csv(Sink& out, const std::vector<Removal>& removals, const ExportOptions& options);

// The output files in --out-dir, in the order they are written.
struct OutputFile {
  std::string_view name;
  // The blocklists' writer; threat_master.csv has none here (publish()
  // writes it a row at a time, write_master_csv() all at once).
  ctishare::Status (*write)(Sink&, const std::vector<ListRow>&, const ExportOptions&);
  bool blocklist;  // counted by the sanity gate
};
const std::vector<OutputFile>& output_files();

}  // namespace ctishare::merge
