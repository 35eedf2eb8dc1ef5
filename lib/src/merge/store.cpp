// feed-merge's SQLite store (see merge_store.h for the tables).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <unordered_map>

#include "core/sqlite.h"
#include "ctishare/allowlist.h"
#include "ctishare/bundle.h"
#include "ctishare/marking.h"
#include "ctishare/merge_store.h"

namespace ctishare::merge {
namespace {

using detail::Stmt;
using detail::version_key;

// "CTIM": a feed-merge store (the TAXII server's is "CTIS").
constexpr int kApplicationId = 0x4354494D;
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE indicators (
  id TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  version_key TEXT NOT NULL,
  created TEXT NOT NULL,
  created_by TEXT NOT NULL,
  kind INTEGER NOT NULL,
  confidence REAL,
  valid_from TEXT NOT NULL,
  valid_until TEXT,
  revoked INTEGER NOT NULL,
  tlp TEXT NOT NULL,
  observables TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE channels (
  id TEXT NOT NULL,
  source TEXT NOT NULL,
  trust REAL NOT NULL,
  PRIMARY KEY (id, source)
) WITHOUT ROWID;
CREATE TABLE decisions (
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  verdict TEXT NOT NULL,
  reason TEXT NOT NULL,
  by TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE TABLE published (
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE TABLE removals (
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  removed_at TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX removals_by_time ON removals(removed_at);
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

Error store_error(ErrorCategory category, const std::string& path, std::string_view what) {
  return Error(category, "merge store " + quote(path) + ": " + std::string(what));
}

std::optional<stix::ObservableType> type_named(std::string_view name) {
  bool any_hash = false;
  auto t = stix::parse_observable_type(name, &any_hash);
  if (any_hash) return std::nullopt;
  return t;
}

// The observables column: "type\tvalue\n" per value.
void append_observable(std::string& out, const stix::Observable& o) {
  out += stix::observable_type_name(o.type);
  out += '\t';
  out += o.value;
  out += '\n';
}

template <typename F>
void for_each_observable(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    if (auto t = type_named(line.substr(0, tab))) f(*t, line.substr(tab + 1));
  }
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::round(v * 100.0) / 100.0);
  std::string s(buf);
  while (s.find('.') != std::string::npos && (s.back() == '0' || s.back() == '.')) {
    const bool dot = s.back() == '.';
    s.pop_back();
    if (dot) break;
  }
  return s;
}

}  // namespace

struct Store::Impl {
  sqlite3* db = nullptr;
  std::string path;
  std::unordered_map<std::string, sqlite3_stmt*> cache;

  ~Impl() {
    for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
    if (db != nullptr) sqlite3_close_v2(db);
  }

  Error fail(int rc) const {
    const int primary = rc & 0xff;
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return store_error(ErrorCategory::temp_fail, path, message);
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return store_error(ErrorCategory::data, path, message);
    return store_error(ErrorCategory::io, path, message);
  }

  Status exec(const char* sql) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(rc);
    return {};
  }

  Result<Stmt> prepare(const char* sql) {
    auto it = cache.find(sql);
    if (it != cache.end()) return Stmt(it->second, false);
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return fail(rc);
    cache.emplace(sql, stmt);
    return Stmt(stmt, false);
  }

  // A transaction rolled back unless committed.
  class Transaction {
   public:
    explicit Transaction(Impl& impl) : impl_(impl) {}
    Status begin() {
      CTI_TRY_STATUS(impl_.exec("BEGIN IMMEDIATE"));
      open_ = true;
      return {};
    }
    Status commit() {
      CTI_TRY_STATUS(impl_.exec("COMMIT"));
      open_ = false;
      return {};
    }
    ~Transaction() {
      if (open_) (void)impl_.exec("ROLLBACK");
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

   private:
    Impl& impl_;
    bool open_ = false;
  };

  Result<std::int64_t> read_int(const char* sql) {
    auto stmt = prepare(sql);
    if (!stmt) return std::move(stmt).error();
    const int rc = stmt->step();
    if (rc != SQLITE_ROW) return fail(rc);
    return stmt->int_at(0);
  }
};

#define CTI_TRY_STMT(var, sql_text)                            \
  auto var##_result_ = impl_->prepare(sql_text);               \
  if (!var##_result_) return std::move(var##_result_).error(); \
  Stmt var = std::move(*var##_result_)

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;
const std::string& Store::path() const noexcept { return impl_->path; }

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  bool created = false;
  // Created 0600 by us (SQLite would make it 0644): it holds partners'
  // shared intelligence. SQLite gives -wal and -shm the same mode.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    created = true;
    ::close(fd);
  } else if (errno != EEXIST) {
    return store_error(ErrorCategory::cannot_create, path, std::strerror(errno));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  auto discard = [&](Error e) -> Result<std::unique_ptr<Store>> {
    impl.reset();
    if (created) ::unlink(path.c_str());
    return e;
  };
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return discard(store_error(ErrorCategory::cannot_create, path, impl->fail(rc).message()));
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);
  if (sqlite3_db_readonly(impl->db, "main") == 1)
    return discard(store_error(ErrorCategory::cannot_create, path, "read-only"));

  auto app = impl->read_int("PRAGMA application_id");
  if (!app) {
    if (app.error().category() == ErrorCategory::data)
      return discard(store_error(ErrorCategory::data, path, "not a feed-merge store (not an SQLite database)"));
    return discard(std::move(app).error());
  }
  auto version = impl->read_int("PRAGMA user_version");
  if (!version) return discard(std::move(version).error());
  auto tables = impl->read_int("SELECT count(*) FROM sqlite_master");
  if (!tables) return discard(std::move(tables).error());
  const bool fresh = *app == 0 && *tables == 0;
  if (!fresh && *app != kApplicationId)
    return discard(
        store_error(ErrorCategory::data, path, "not a feed-merge store (an SQLite database of another program)"));
  if (!fresh && *version > kSchemaVersion)
    return discard(store_error(ErrorCategory::data, path,
                               "written by a newer ctishare (schema " + std::to_string(*version) +
                                   ", this build knows " + std::to_string(kSchemaVersion) + ")"));
  // WAL with synchronous=FULL: every commit is durable once it returns.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA cache_size=-65536",
                             "PRAGMA temp_store=MEMORY", "PRAGMA wal_autocheckpoint=16384"}) {
    if (auto s = impl->exec(pragma); !s) return discard(std::move(s).error());
  }
  if (fresh) {
    std::string ddl = "BEGIN IMMEDIATE;";
    ddl += kSchema;
    ddl += "PRAGMA application_id=" + std::to_string(kApplicationId) + ";";
    ddl += "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";COMMIT;";
    if (auto s = impl->exec(ddl.c_str()); !s) {
      (void)impl->exec("ROLLBACK");
      return discard(std::move(s).error());
    }
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<IngestStats> Store::ingest(std::istream& in, const json::Limits& limits, const std::string& identity_id,
                                  const std::function<void(const std::string&)>& report) {
  IngestStats stats;
  Impl::Transaction tx(*impl_);
  CTI_TRY_STATUS(tx.begin());
  CTI_TRY_STMT(upsert, R"sql(
    INSERT INTO indicators (id, version, version_key, created, created_by, kind, confidence, valid_from,
                            valid_until, revoked, tlp, observables)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
    ON CONFLICT (id) DO UPDATE SET
      version = excluded.version, version_key = excluded.version_key, created = excluded.created,
      created_by = excluded.created_by, kind = excluded.kind, confidence = excluded.confidence,
      valid_from = excluded.valid_from, valid_until = excluded.valid_until,
      revoked = max(indicators.revoked, excluded.revoked), tlp = excluded.tlp, observables = excluded.observables
    WHERE excluded.version_key > indicators.version_key)sql");
  // Revocation is permanent: an older revoked version still revokes.
  CTI_TRY_STMT(revoke, "UPDATE indicators SET revoked = 1 WHERE id = ?1 AND revoked = 0");
  CTI_TRY_STMT(channel, R"sql(
    INSERT INTO channels (id, source, trust) VALUES (?1, ?2, ?3)
    ON CONFLICT (id, source) DO UPDATE SET trust = excluded.trust WHERE trust != excluded.trust)sql");

  stix::ReadOptions options;
  options.limits = limits;
  std::string observables;
  std::vector<std::string> refused;
  Status read = stix::read_objects(in, options, [&](stix::Object&& o, const stix::Origin& where) -> Status {
    ++stats.objects;
    const std::string_view type = o.type();
    if (type == "x-ctishare-assessment") {
      // Only our own assessments name a channel; anyone can write one that
      // claims a source, so one created by someone else is ignored.
      if (o.created_by_ref() != identity_id) return {};
      auto ref = o.get_string("indicator_ref");
      auto source = o.get_string("source");
      const json::Value* t = o.get("source_trust");
      std::optional<double> trust = t != nullptr ? t->as_double() : std::nullopt;
      if (!ref || !source || source->empty() || !trust) {
        report(where.where() + ": assessment " + quote(o.id()) +
               " lacks indicator_ref, source or source_trust; ignored");
        return {};
      }
      ++stats.assessments;
      channel.bind(1, *ref);
      channel.bind(2, *source);
      channel.bind(3, *trust);
      const int rc = channel.step();
      channel.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
      return {};
    }
    if (type != "indicator") return {};
    ++stats.indicators;
    auto evidence = trust::evidence_of(o);
    if (!evidence) {
      ++stats.unusable;
      report(where.where() + ": " + evidence.error().message() + "; skipped");
      return {};
    }
    refused.clear();
    const auto found = trust::observables_of_pattern(evidence->pattern, &refused);
    for (const auto& why : refused) {
      report(where.where() + ": indicator " + quote(o.id()) + ": " + why + "; that value is skipped");
    }
    if (!refused.empty()) ++stats.unusable;
    if (found.empty()) return {};  // nothing a list can hold (e.g. a process name)
    observables.clear();
    for (const auto& ob : found) append_observable(observables, ob);
    const std::string created(o.created().value_or(evidence->indicator_version));
    const std::string key = version_key(evidence->indicator_version);
    const std::string valid_from = evidence->valid_from.to_string();
    const std::string valid_until = evidence->valid_until ? evidence->valid_until->to_string() : std::string();
    const auto tlp = stix::tlp_of(o);
    upsert.bind(1, o.id());
    upsert.bind(2, evidence->indicator_version);
    upsert.bind(3, key);
    upsert.bind(4, created);
    upsert.bind(5, o.created_by_ref().value_or(""));
    upsert.bind(6, static_cast<std::int64_t>(evidence->kind));
    if (evidence->confidence) {
      upsert.bind(7, *evidence->confidence);
    } else {
      upsert.bind_null(7);
    }
    upsert.bind(8, valid_from);
    if (evidence->valid_until) {
      upsert.bind(9, valid_until);
    } else {
      upsert.bind_null(9);
    }
    upsert.bind(10, static_cast<std::int64_t>(evidence->revoked ? 1 : 0));
    upsert.bind(11, tlp ? stix::tlp_name(*tlp) : std::string_view(""));
    upsert.bind(12, observables);
    int rc = upsert.step();
    upsert.reset();
    if (rc != SQLITE_DONE) return impl_->fail(rc);
    if (sqlite3_changes(impl_->db) > 0) {
      ++stats.stored;
    } else if (evidence->revoked) {
      revoke.bind(1, o.id());
      rc = revoke.step();
      revoke.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
    return {};
  });
  if (!read) return read.error();
  CTI_TRY_STATUS(tx.commit());
  return stats;
}

Result<std::size_t> Store::count_unassessed() {
  auto n = impl_->read_int(
      "SELECT count(*) FROM indicators i WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = i.id)");
  if (!n) return std::move(n).error();
  return static_cast<std::size_t>(*n);
}

namespace {

// Everything known about one observable while the rows are built. Names
// (sources, producers, indicators) are numbers into tables kept once, so a
// million observables cost a million small records, not ten million strings.
struct Aggregate {
  stix::ObservableType type = stix::ObservableType::domain;
  bool live = false, all_revoked = true;
  std::uint32_t first = 0, last = 0;          // indicators with the earliest created / latest version
  std::uint32_t from = kNone, until = kNone;  // live indicators with the earliest valid_from / latest valid_until
  std::uint32_t expired = kNone;              // the indicator whose valid_until passed last
  bool unbounded = false;                     // a live indicator without valid_until
  std::int8_t tlp = -1;
  std::uint32_t best_source = 0;
  double max_trust = -1, max_confidence = 0;
  std::vector<std::pair<std::uint32_t, double>> producers;  // best live score per producer
  std::vector<std::uint32_t> sources, live_sources, ids, live_ids;
  static constexpr std::uint32_t kNone = 0xFFFFFFFF;
};

// One stored indicator version, once.
struct Indicator {
  std::string id, version, version_key, created, valid_from, valid_until;
  std::int64_t created_ns = 0, from_ns = 0, until_ns = 0;
  Timestamp from;
};

void add_unique(std::vector<std::uint32_t>& v, std::uint32_t x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

std::int64_t nanos_of(const Timestamp& t) { return t.unix_seconds() * 1000000000 + t.nanos(); }

// Numbers names in order of first appearance.
class Names {
 public:
  std::uint32_t number(std::string_view name) {
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    names_.emplace_back(name);
    const auto n = static_cast<std::uint32_t>(names_.size() - 1);
    index_.emplace(names_.back(), n);
    return n;
  }
  const std::string& operator[](std::uint32_t n) const { return names_[n]; }

 private:
  std::deque<std::string> names_;  // stable addresses for the index's views
  std::unordered_map<std::string_view, std::uint32_t> index_;
};

}  // namespace

Result<std::vector<Row>> Store::rows(const MergePolicy& policy, const Timestamp& now) {
  CTI_TRY_STMT(scan, R"sql(
    SELECT i.id, i.version, i.version_key, i.created, i.created_by, i.kind, i.confidence, i.valid_from,
           i.valid_until, i.revoked, i.tlp, i.observables, c.source, c.trust
    FROM channels c JOIN indicators i ON i.id = c.id ORDER BY c.id)sql");
  Names sources, producers;
  std::vector<double> source_trust;
  std::deque<Indicator> indicators;  // never relocated: Timestamp copies allocate
  std::unordered_map<std::string, Aggregate> by_key;
  std::string key;
  const auto& scoring = policy.scoring;
  const std::int64_t now_ns = nanos_of(now);
  int rc;
  while ((rc = scan.step()) == SQLITE_ROW) {
    const std::string_view id = scan.text_at(0);
    // Rows come grouped by indicator (the channels' key starts with its id).
    if (indicators.empty() || indicators.back().id != id) {
      Indicator ind;
      ind.id = std::string(id);
      ind.version = std::string(scan.text_at(1));
      ind.version_key = std::string(scan.text_at(2));
      ind.created = std::string(scan.text_at(3));
      ind.valid_from = std::string(scan.text_at(7));
      if (!scan.null_at(8)) ind.valid_until = std::string(scan.text_at(8));
      auto from = Timestamp::parse(ind.valid_from);
      if (!from) return store_error(ErrorCategory::data, impl_->path, "indicator " + quote(id) + ": bad valid_from");
      ind.from_ns = nanos_of(*from);
      ind.from = *from;
      if (!ind.valid_until.empty()) {
        auto until = Timestamp::parse(ind.valid_until);
        if (!until)
          return store_error(ErrorCategory::data, impl_->path, "indicator " + quote(id) + ": bad valid_until");
        ind.until_ns = nanos_of(*until);
      }
      if (auto created = Timestamp::parse(ind.created)) ind.created_ns = nanos_of(*created);
      indicators.push_back(std::move(ind));
    }
    const auto ind_no = static_cast<std::uint32_t>(indicators.size() - 1);
    const Indicator& ind = indicators.back();
    const std::string_view source = scan.text_at(12);
    const std::uint32_t source_no = sources.number(source);
    if (source_no == source_trust.size()) {
      // The configured trust wins; a source no longer configured counts as
      // unverified, whatever it once had.
      double trust = 0.3;
      if (auto t = policy.trust.find(std::string(source)); t != policy.trust.end()) {
        trust = t->second;
      } else if (policy.trust.empty()) {
        trust = scan.double_at(13);
      }
      source_trust.push_back(trust);
    }
    const double trust = source_trust[source_no];
    const auto kind = static_cast<trust::Kind>(scan.int_at(5));
    const double confidence = scan.null_at(6) ? scoring.default_confidence : scan.double_at(6);
    const bool revoked = scan.int_at(9) != 0;
    const bool bounded = !ind.valid_until.empty();
    const bool expired = bounded && ind.until_ns <= now_ns;
    const double decay = trust::age(kind, ind.from, scoring, now).decay;
    const double score = trust::score(confidence, trust, decay);
    const bool live = !revoked && !expired && score >= scoring.floor;
    const std::string_view created_by = scan.text_at(4);
    const std::uint32_t producer =
        created_by.empty() ? producers.number("source:" + std::string(source)) : producers.number(created_by);
    const auto tlp = stix::parse_tlp(scan.text_at(10));

    for_each_observable(scan.text_at(11), [&](stix::ObservableType type, std::string_view value) {
      key.assign(stix::observable_type_name(type));
      key += '\t';
      key += value;
      auto [it, fresh] = by_key.try_emplace(key);
      Aggregate& g = it->second;
      if (fresh) {
        g.type = type;
        g.first = g.last = ind_no;
      }
      add_unique(g.sources, source_no);
      add_unique(g.ids, ind_no);
      if (!revoked) g.all_revoked = false;
      if (expired && (g.expired == Aggregate::kNone || ind.until_ns > indicators[g.expired].until_ns))
        g.expired = ind_no;
      if (ind.created_ns < indicators[g.first].created_ns) g.first = ind_no;
      if (ind.version_key > indicators[g.last].version_key) g.last = ind_no;
      if (!live) return;
      g.live = true;
      add_unique(g.live_sources, source_no);
      add_unique(g.live_ids, ind_no);
      auto p = std::find_if(g.producers.begin(), g.producers.end(), [&](const auto& x) { return x.first == producer; });
      if (p == g.producers.end()) {
        g.producers.emplace_back(producer, score);
      } else {
        p->second = std::max(p->second, score);
      }
      if (trust > g.max_trust) {
        g.max_trust = trust;
        g.best_source = source_no;
      }
      g.max_confidence = std::max(g.max_confidence, confidence);
      if (g.from == Aggregate::kNone || ind.from_ns < indicators[g.from].from_ns) g.from = ind_no;
      if (!bounded) {
        g.unbounded = true;
      } else if (g.until == Aggregate::kNone || ind.until_ns > indicators[g.until].until_ns) {
        g.until = ind_no;
      }
      if (tlp && (g.tlp < 0 || stix::more_restrictive(*tlp, static_cast<stix::Tlp>(g.tlp))))
        g.tlp = static_cast<std::int8_t>(*tlp);
    });
  }
  if (rc != SQLITE_DONE) return impl_->fail(rc);

  // Analysts' decisions.
  std::unordered_map<std::string, Decision> decisions;
  {
    CTI_TRY_STMT(d, "SELECT type, value, verdict, reason, by, at FROM decisions");
    while ((rc = d.step()) == SQLITE_ROW) {
      std::string k(d.text_at(0));
      k += '\t';
      k += d.text_at(1);
      decisions[k] = Decision{d.text_at(2) == "reject" ? Verdict::reject : Verdict::approve, std::string(d.text_at(3)),
                              std::string(d.text_at(4)), std::string(d.text_at(5))};
    }
    if (rc != SQLITE_DONE) return impl_->fail(rc);
  }

  std::vector<Row> rows;
  rows.reserve(by_key.size());
  const std::string block_text = format_number(scoring.block_threshold);
  const std::string review_text = format_number(scoring.review_threshold);
  for (auto& [k, g] : by_key) {
    Row r;
    r.type = g.type;
    r.value = k.substr(k.find('\t') + 1);
    r.first_seen = indicators[g.first].created;
    r.last_seen = indicators[g.last].version;
    for (auto n : g.live ? g.live_sources : g.sources) r.sources.push_back(sources[n]);
    std::sort(r.sources.begin(), r.sources.end());
    for (auto n : g.live ? g.live_ids : g.ids) r.stix_ids.push_back(indicators[n].id);
    std::sort(r.stix_ids.begin(), r.stix_ids.end());
    if (!g.live) {
      r.status = g.all_revoked ? RowStatus::revoked : RowStatus::expired;
      r.reason = g.all_revoked                   ? "revoked by its producer"
                 : g.expired != Aggregate::kNone ? "expired at valid_until " + indicators[g.expired].valid_until
                                                 : "decayed below the floor (" + format_number(scoring.floor) + ")";
      rows.push_back(std::move(r));
      continue;
    }
    double keep = 1.0;
    for (const auto& [producer, score] : g.producers) keep *= 1.0 - std::clamp(score, 0.0, 100.0) / 100.0;
    r.score = std::round((1.0 - keep) * 10000.0) / 100.0;
    r.producer_confidence = g.max_confidence;
    r.source_tier = std::string(trust::tier_of(g.max_trust));
    r.valid_from = indicators[g.from].valid_from;
    if (!g.unbounded) r.valid_until = indicators[g.until].valid_until;
    if (g.tlp >= 0) r.tlp = std::string(stix::tlp_name(static_cast<stix::Tlp>(g.tlp)));
    const std::string best = sources[g.best_source] + " (" + format_number(g.max_trust) + ")";
    const std::string corroboration =
        g.producers.size() > 1 ? " from " + std::to_string(g.producers.size()) + " independent producers" : "";
    const trust::Action by_score = r.score >= scoring.block_threshold    ? trust::Action::block
                                   : r.score >= scoring.review_threshold ? trust::Action::review
                                                                         : trust::Action::observe;
    const std::string score_text = "score " + format_number(r.score) + corroboration;
    if (by_score == trust::Action::observe) {
      r.action = trust::Action::observe;
      r.reason = score_text + " below the review threshold " + review_text;
    } else if (g.max_trust < 0.5) {
      r.action = trust::Action::observe;
      r.reason = score_text + ", but the most trusted source, " + best + ", is below 0.5: observe only";
    } else if (by_score == trust::Action::block && g.max_trust < 0.8) {
      r.action = trust::Action::review;
      r.reason = score_text + ", but the most trusted source, " + best + ", is below 0.8: needs human review";
    } else if (by_score == trust::Action::block) {
      r.action = trust::Action::block;
      r.reason = score_text + " at or above the block threshold " + block_text + "; most trusted source " + best;
    } else {
      r.action = trust::Action::review;
      r.reason = score_text + " between the review threshold " + review_text + " and the block threshold " + block_text;
    }
    if (auto d = decisions.find(k); d != decisions.end()) {
      const Decision& dec = d->second;
      if (dec.verdict == Verdict::reject) {
        r.status = RowStatus::suppressed;
        r.action = trust::Action::observe;
        r.reason = "rejected by " + dec.by + " at " + dec.at + ": " + dec.reason;
      } else if (r.action == trust::Action::review) {
        r.action = trust::Action::block;
        r.reason = "approved by " + dec.by + " at " + dec.at + ": " + dec.reason + " (" + r.reason + ")";
      }
    }
    if (r.action != trust::Action::observe &&
        std::find(policy.observe_only.begin(), policy.observe_only.end(), r.type) != policy.observe_only.end()) {
      r.action = trust::Action::observe;
      r.reason = std::string(stix::observable_type_name(r.type)) + " values are observe-only (merge.observe_only); " +
                 r.reason;
    }
    if (policy.allowlist != nullptr) {
      if (const trust::AllowEntry* e = policy.allowlist->match(stix::Observable{r.type, r.value}, now)) {
        r.status = RowStatus::allowlisted;
        r.action = trust::Action::observe;
        r.reason = "allowlisted: " + e->reason + " (" + std::string(trust::allow_type_name(e->type)) + " " + e->value +
                   ", line " + std::to_string(e->line) + " of " + policy.allowlist->origin() + ")";
      }
    }
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.type != b.type ? a.type < b.type : a.value < b.value; });
  return rows;
}

Status Store::set_decision(const Entry& entry, const Decision& decision) {
  CTI_TRY_STMT(
      put, "INSERT OR REPLACE INTO decisions (type, value, verdict, reason, by, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  put.bind(1, stix::observable_type_name(entry.type));
  put.bind(2, entry.value);
  put.bind(3, std::string_view(decision.verdict == Verdict::reject ? "reject" : "approve"));
  put.bind(4, decision.reason);
  put.bind(5, decision.by);
  put.bind(6, decision.at);
  if (const int rc = put.step(); rc != SQLITE_DONE) return impl_->fail(rc);
  return {};
}

Result<bool> Store::clear_decision(const Entry& entry) {
  CTI_TRY_STMT(del, "DELETE FROM decisions WHERE type = ?1 AND value = ?2");
  del.bind(1, stix::observable_type_name(entry.type));
  del.bind(2, entry.value);
  if (const int rc = del.step(); rc != SQLITE_DONE) return impl_->fail(rc);
  return sqlite3_changes(impl_->db) > 0;
}

Result<std::vector<Entry>> Store::published() {
  CTI_TRY_STMT(scan, "SELECT type, value FROM published");
  std::vector<Entry> out;
  int rc;
  while ((rc = scan.step()) == SQLITE_ROW) {
    if (auto t = type_named(scan.text_at(0))) out.push_back(Entry{*t, std::string(scan.text_at(1))});
  }
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Removal>> Store::removals() {
  CTI_TRY_STMT(scan, "SELECT type, value, removed_at, status, reason FROM removals ORDER BY removed_at DESC, rowid");
  std::vector<Removal> out;
  int rc;
  while ((rc = scan.step()) == SQLITE_ROW) {
    auto t = type_named(scan.text_at(0));
    if (!t) continue;
    out.push_back(Removal{*t, std::string(scan.text_at(1)), std::string(scan.text_at(2)), std::string(scan.text_at(3)),
                          std::string(scan.text_at(4))});
  }
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  return out;
}

Status Store::publish(const std::vector<Entry>& entries, const std::vector<Removal>& removed,
                      const Timestamp& forget_before, const std::map<std::string, std::string>& meta) {
  auto old = published();
  if (!old) return std::move(old).error();
  Impl::Transaction tx(*impl_);
  CTI_TRY_STATUS(tx.begin());
  {
    // Only the difference is written: an unchanged publication costs nothing.
    CTI_TRY_STMT(add, "INSERT OR IGNORE INTO published (type, value) VALUES (?1, ?2)");
    CTI_TRY_STMT(del, "DELETE FROM published WHERE type = ?1 AND value = ?2");
    std::vector<Entry> gone, fresh;
    std::set_difference(old->begin(), old->end(), entries.begin(), entries.end(), std::back_inserter(gone));
    std::set_difference(entries.begin(), entries.end(), old->begin(), old->end(), std::back_inserter(fresh));
    for (const auto& e : gone) {
      del.bind(1, stix::observable_type_name(e.type));
      del.bind(2, e.value);
      const int rc = del.step();
      del.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
    for (const auto& e : fresh) {
      add.bind(1, stix::observable_type_name(e.type));
      add.bind(2, e.value);
      const int rc = add.step();
      add.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
  }
  {
    CTI_TRY_STMT(add, "INSERT INTO removals (type, value, removed_at, status, reason) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const auto& r : removed) {
      add.bind(1, stix::observable_type_name(r.type));
      add.bind(2, r.value);
      add.bind(3, r.removed_at);
      add.bind(4, r.status);
      add.bind(5, r.reason);
      const int rc = add.step();
      add.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
    CTI_TRY_STMT(prune, "DELETE FROM removals WHERE removed_at < ?1");
    const std::string before = Timestamp::from_unix(forget_before.unix_seconds(), 0, 0).to_string();
    prune.bind(1, before);
    if (const int rc = prune.step(); rc != SQLITE_DONE) return impl_->fail(rc);
  }
  {
    CTI_TRY_STMT(put, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
    for (const auto& [k, v] : meta) {
      put.bind(1, k);
      put.bind(2, v);
      const int rc = put.step();
      put.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
  }
  return tx.commit();
}

Result<std::optional<std::string>> Store::meta(const std::string& key) {
  CTI_TRY_STMT(get, "SELECT value FROM meta WHERE key = ?1");
  get.bind(1, key);
  const int rc = get.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(std::string(get.text_at(0)));
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  return std::optional<std::string>();
}

}  // namespace ctishare::merge
