// feed-merge's store: one SQLite file (mode 0600) holding every
// indicator version worth keeping, the sources each came through, the
// analysts' decisions, and what the blocklists held when last published.
//
//   indicators  the latest version of each indicator id (by instant), the
//               values its pattern names, "revoked" once any version we
//               received was revoked (STIX revocation is permanent), and its
//               channels: the sources our own x-ctishare-assessment objects
//               say it came through, with their trust;
//   observations one row per (value, indicator, channel) with what scoring
//               needs in one cell, keyed by value: the rows are one
//               ordered scan;
//   decisions   an analyst's approve/reject per observable;
//   published   the blocklist entries of the last publication;
//   removals    what left the blocklists, when and why (removed.csv);
//   meta        the RPZ serial and the like.
//
// Ingest is idempotent: the same (id, modified) again changes nothing, an
// older version is ignored, and each input is one transaction (all of it or
// none of it).
#pragma once

#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctishare/file.h"
#include "ctishare/json.h"
#include "ctishare/merge.h"
#include "ctishare/result.h"
#include "ctishare/time.h"
#include "ctishare/trust.h"

namespace ctishare::merge {

struct IngestStats {
  std::size_t objects = 0;      // read from the input
  std::size_t indicators = 0;   // indicators among them
  std::size_t assessments = 0;  // our assessments among them (naming a source)
  std::size_t stored = 0;       // indicator versions newer than what the store held
  std::size_t unusable = 0;     // indicators skipped (reported)
};

// How rows are computed (see merge.h).
struct MergePolicy {
  trust::Policy scoring = trust::Policy::defaults();
  std::vector<stix::ObservableType> observe_only = {stix::ObservableType::ipv4, stix::ObservableType::ipv6};
  // The configured trust per source. A source missing from a non-empty
  // map counts as unverified (0.3): it is no longer configured. An empty
  // map (no configuration at all) keeps the trust stored with each channel.
  std::map<std::string, double> trust;
  const trust::Allowlist* allowlist = nullptr;
};

enum class Verdict { approve, reject };

struct Decision {
  Verdict verdict = Verdict::approve;
  std::string reason, by, at;
};

// One published blocklist entry.
struct Entry {
  stix::ObservableType type = stix::ObservableType::domain;
  std::string value;
  friend bool operator<(const Entry& a, const Entry& b) {
    return a.type != b.type ? a.type < b.type : a.value < b.value;
  }
  friend bool operator==(const Entry& a, const Entry& b) { return a.type == b.type && a.value == b.value; }
};

// One local revocation. kind: "value" (target "<type number>\t<value>",
// see suppression_target), "id" (an indicator id) or "source" (a source
// name, with `since`).
struct Suppression {
  std::string kind, target, since, reason, by, at;
};
std::string suppression_target(const Entry& entry);

// One input read and put in the store's order, nothing stored yet
// (Store::read, then Store::apply). Reading touches no store, so the next
// input can be read on another thread while one is applied.
class ReadInput {
 public:
  ReadInput();
  ~ReadInput();
  ReadInput(ReadInput&&) noexcept;
  ReadInput& operator=(ReadInput&&) noexcept;
  const IngestStats& stats() const noexcept;  // all but `stored`

 private:
  friend class Store;
  friend struct ReadAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Opens (creating it, mode 0600, when missing) the store at `path`; a
  // store of an earlier schema is converted first, in one transaction (the
  // caller holds the lock). Errors: cannot_create (73) when it cannot be
  // created or opened; data (65) when the file is not a feed-merge store
  // or comes from a newer version; temp_fail (75) when another process
  // holds it too long.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Several ingests in one transaction: pages a later input touches again
  // are written once. The batch is all or nothing: once an ingest or apply
  // in it fails (a store write: disk full, I/O error), commit_batch() rolls
  // the whole batch back and fails. Reading an input writes nothing, so an
  // input that cannot be read (read() fails) costs the batch nothing. A
  // batch not committed is rolled back when the store closes.
  // The committed batch is made durable by a checkpoint on another thread
  // (and connection) while the caller goes on reading the store: settle()
  // waits for it, and must return success before anything derived from
  // the batch is published. The store's destructor waits too.
  Status begin_batch();
  Status commit_batch();
  Status settle();

  // Reads one input (a bundle or NDJSON, as stix::read_objects) and stores
  // its indicators and the channels our assessments (created by
  // `identity_id`) name. An unusable indicator (no pattern, a confidence
  // that is not 0-100, a bad timestamp, a pattern naming no value that can
  // be blocked or watched) is skipped and passed to `report` with where it
  // was. Errors (the input then leaves no trace): data (65) for input that
  // is not STIX JSON, io (74) for a failed read or write.
  Result<IngestStats> ingest(std::istream& in, const json::Limits& limits, const std::string& identity_id,
                             const std::function<void(const std::string&)>& report);
  // ingest() in two steps: read() (any thread; data and io errors as
  // ingest's, `report` called from that thread) and apply() (the store's
  // thread; io errors). An input mapped in memory (MappedInput) is read
  // faster than a stream.
  static Result<ReadInput> read(std::istream& in, const json::Limits& limits, const std::string& identity_id,
                                const std::function<void(const std::string&)>& report);
  static Result<ReadInput> read(MappedInput& in, const json::Limits& limits, const std::string& identity_id,
                                const std::function<void(const std::string&)>& report);
  Result<IngestStats> apply(ReadInput&& input);

  // Indicators no source is known for (no assessment of ours named them).
  Result<std::size_t> count_unassessed();

  // Every observable's row as of `now`, handed to `sink` one at a time in
  // order of type, then value (bounded memory, whatever the store's size);
  // `sink`'s errors stop the scan and are returned; a stored observation
  // that does not decode is a data error (65) naming its indicator and value.
  // With `only` (sorted), just the rows of those values, in that order.
  Status scan_rows(const MergePolicy& policy, const Timestamp& now, const std::function<Status(Row&&)>& sink,
                   const std::vector<Entry>* only = nullptr);
  // The same, collected (tests and small stores).
  Result<std::vector<Row>> rows(const MergePolicy& policy, const Timestamp& now);

  Status set_decision(const Entry& entry, const Decision& decision);
  // Whether there was one to clear.
  Result<bool> clear_decision(const Entry& entry);

  // The entries of the last publication, sorted.
  Result<std::vector<Entry>> published();
  // Removals still remembered (removed_at within the retention), newest first.
  Result<std::vector<Removal>> removals();
  // Records a publication in one transaction, as its difference from the
  // last one: the entries that left (`gone`) and came (`fresh`), the
  // removals it made, removals older than `forget_before` dropped, and the
  // meta values given.
  Status publish(const std::vector<Entry>& gone, const std::vector<Entry>& fresh, const std::vector<Removal>& removed,
                 const Timestamp& forget_before, const std::map<std::string, std::string>& meta);

  Result<std::optional<std::string>> meta(const std::string& key);

  // Local revocations (revoke): a value, an indicator id, or a whole source
  // (its indicators modified at or after `since`) no longer counts; the row
  // says so (status suppressed). Removing one restores what was there.
  Status add_suppression(const Suppression& s);
  Result<bool> remove_suppression(const std::string& kind, const std::string& target);
  Result<std::vector<Suppression>> suppressions();
  // The values an indicator names, and those a source reported (modified
  // at or after `since`, "" for all), from the stored observations.
  Result<std::vector<Entry>> entries_of_indicator(const std::string& id);
  Result<std::vector<Entry>> entries_of_source(const std::string& source, const std::string& since);
  // The indicators (ids) that name a value.
  Result<std::vector<std::string>> ids_of_entry(const Entry& entry);

  const std::string& path() const noexcept;

 public:
  struct Impl;  // the SQLite connection; private to store.cpp

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------ publishing

struct PublishOptions {
  std::string out_dir;
  ExportOptions exports;         // rpz_serial is chosen by publish()
  double max_loss_percent = 25;  // the sanity gate (see publish)
  double max_loss_count = 100;
  bool force = false;        // publish even when the gate would refuse
  double removed_days = 30;  // removed.csv remembers removals this long
};

struct PublishReport {
  std::size_t rows = 0;                // in threat_master.csv
  std::size_t actions[3] = {0, 0, 0};  // rows per action: block, review, observe
  std::size_t entries = 0;             // blocklist entries now
  std::size_t added = 0, removed = 0;  // since the last publication
  std::vector<std::string> changed;    // files rewritten (names in out_dir)
};

// Computes the rows (Store::scan_rows) and writes every output of
// output_files() and removed.csv into
// options.out_dir, each atomically and only when its bytes change, then
// records the publication in the store. The RPZ serial is bumped only when
// the zone's records change. The sanity gate: when the blocklists would
// lose more than max_loss_percent of their entries and more than
// max_loss_count entries at once, nothing is written and the error is
// data (65), unless options.force. Errors: cannot_create (73) / io (74)
// for files; a failure leaves every file either old or new, each whole,
// and the store as it was (the next run finishes the job).
Result<PublishReport> publish(Store& store, const MergePolicy& policy, PublishOptions options);

// The fast path for revoke: re-scores only the `touched` values that are on
// the blocklists, drops those that may no longer block (and any the
// allowlist now vetoes), and rewrites the blocklists and removed.csv from
// the last publication; threat_master.csv follows at the next publish().
// No sanity gate: a revocation is deliberate. `published` is what
// Store::published() returns (taken, so its values move into the rows).
Result<PublishReport> republish(Store& store, const MergePolicy& policy, PublishOptions options,
                                const std::vector<Entry>& touched, std::vector<Entry> published);

}  // namespace ctishare::merge
