// feed-merge's SQLite store (see merge_store.h for the tables).
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <optional>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "core/sqlite.h"
#include "ctishare/allowlist.h"
#include "ctishare/file.h"
#include "ctishare/marking.h"
#include "ctishare/merge_store.h"
#include "merge/cells.h"
#include "merge/pipe.h"
#include "merge/reader.h"

namespace ctishare::merge {
namespace {

using ::ctishare::detail::Stmt;
using ::ctishare::detail::version_key;

// "CTIM": a feed-merge store (the TAXII server's is "CTIS").
constexpr int kApplicationId = 0x4354494D;
constexpr int kSchemaVersion = 4;
constexpr int kBusyTimeoutMs = 5000;

// Observable types are stored as stix::ObservableType's numbers (their
// order is the files' order); changing that enum needs a new schema version.
//
// Schema 2 keeps the rows narrow, as both tables carry every version
// property and a run writes a million of each: a timestamp written
// "YYYY-MM-DDTHH:MM:SS.sssZ" (nearly all) is an integer, milliseconds since
// the epoch, and an id "indicator--<uuid>" or "identity--<uuid>" with the
// UUID in lower case is its 16 bytes; any other text is stored as it is (so
// those columns are declared BLOB: no affinity converts what is bound). The
// instant-ordered version key is computed when read, not stored. Schema 1
// stored all of these as text; open() converts such a store once.
//
// Schema 3 keeps the indicators in a table of their own order (rowid), with
// a unique index on the id, instead of in a table ordered by the id: ids
// are random, so each input of a merge inserted its rows all over the
// table's pages; now rows are appended and only the index's small entries
// (an id and a rowid) land at random. A million indicators from five
// sources merged 1-15% faster (eight alternated pairs, outputs
// byte-identical), in a store 7% larger. Schema 2 stores are converted on
// open, once.
constexpr const char* kIndicatorsTable = R"sql(
CREATE TABLE indicators (
  id BLOB NOT NULL UNIQUE,
  version BLOB NOT NULL,
  created BLOB NOT NULL,
  created_by BLOB NOT NULL,
  kind INTEGER NOT NULL,
  confidence REAL,
  valid_from BLOB NOT NULL,
  valid_until BLOB NOT NULL,
  revoked INTEGER NOT NULL,
  tlp TEXT NOT NULL,
  observables TEXT NOT NULL,
  channels TEXT NOT NULL
);
)sql";
// Schema 4 keeps what an observation says of its value besides the key in
// one cell, `report` (see cells.h), instead of ten columns: SQLite reads
// and writes a row a column at a time (its header walked, each value
// copied through the API), and every run reads all million observations
// while a full merge writes them. Measured on a million observations, by
// themselves: a scan 0.65 s -> 0.30 s, inserting them 30-40% faster.
constexpr const char* kObservationsTable = R"sql(
CREATE TABLE observations (
  type INTEGER NOT NULL,
  value TEXT NOT NULL,
  id BLOB NOT NULL,
  source TEXT NOT NULL,
  report BLOB NOT NULL,
  PRIMARY KEY (type, value, id, source)
) WITHOUT ROWID;
)sql";

// The tables that did not change from schema 1.
constexpr const char* kSchemaRest = R"sql(
CREATE TABLE decisions (
  type INTEGER NOT NULL,
  value TEXT NOT NULL,
  verdict TEXT NOT NULL,
  reason TEXT NOT NULL,
  by TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE TABLE published (
  type INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE TABLE removals (
  type INTEGER NOT NULL,
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

// Schema 1 to 4: the two wide tables copied into their compact form (the
// functions are sql_time, sql_ref and sql_report below), in one
// transaction with the version bump, so a store is either wholly 1 or
// wholly 4.
constexpr const char* kMigrate1to2 = R"sql(
DROP INDEX IF EXISTS unassessed;
ALTER TABLE indicators RENAME TO indicators_1;
ALTER TABLE observations RENAME TO observations_1;
)sql";
constexpr const char* kMigrateCopy = R"sql(
INSERT INTO indicators
  SELECT ctim_ref(id, 'indicator--'), ctim_time(version), ctim_time(created), ctim_ref(created_by, 'identity--'),
         kind, confidence, ctim_time(valid_from), ctim_time(valid_until), revoked, tlp, observables, channels
  FROM indicators_1;
INSERT INTO observations
  SELECT type, value, ctim_ref(id, 'indicator--'), source,
         ctim_report(trust, version, created, created_by, kind, confidence, valid_from, valid_until, revoked, tlp)
  FROM observations_1;
DROP TABLE indicators_1;
DROP TABLE observations_1;
)sql";

// Schema 2 to 3: the indicators copied into their new table.
constexpr const char* kMigrate2to3 = R"sql(
DROP INDEX IF EXISTS unassessed;
ALTER TABLE indicators RENAME TO indicators_2;
)sql";
constexpr const char* kMigrate2to3Copy = R"sql(
INSERT INTO indicators (id, version, created, created_by, kind, confidence, valid_from, valid_until, revoked, tlp,
                        observables, channels)
  SELECT id, version, created, created_by, kind, confidence, valid_from, valid_until, revoked, tlp, observables,
         channels
  FROM indicators_2;
DROP TABLE indicators_2;
)sql";

// Schema 3 to 4: the observations copied into their new table.
constexpr const char* kMigrate3to4 = R"sql(
ALTER TABLE observations RENAME TO observations_3;
)sql";
constexpr const char* kMigrate3to4Copy = R"sql(
INSERT INTO observations (type, value, id, source, report)
  SELECT type, value, id, source,
         ctim_report(trust, version, created, created_by, kind, confidence, valid_from, valid_until, revoked, tlp)
  FROM observations_3;
DROP TABLE observations_3;
)sql";

// Local revocations (revoke): kept apart from the data, so undoing one
// restores exactly what was there. And the indicators no assessment of ours
// names yet (usually none: a partial index, so counting them after every
// run does not read the whole table). Created on open for stores made
// before they existed.
constexpr const char* kSuppressions = R"sql(
CREATE TABLE IF NOT EXISTS suppressions (
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  since TEXT NOT NULL,
  reason TEXT NOT NULL,
  by TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (kind, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS unassessed ON indicators(id) WHERE channels = '';
)sql";

Error store_error(ErrorCategory category, const std::string& path, std::string_view what) {
  return Error(category, "merge store " + quote(path) + ": " + std::string(what));
}

std::optional<stix::ObservableType> type_of(std::int64_t n) {
  if (n < 0 || n > static_cast<std::int64_t>(stix::ObservableType::sha512)) return std::nullopt;
  return static_cast<stix::ObservableType>(n);
}

std::int64_t number_of(stix::ObservableType t) { return static_cast<std::int64_t>(t); }

// The observables column: "type\tvalue\n" per value, the type as its number.
template <typename F>
void for_each_observable(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    f(std::strtoll(std::string(line.substr(0, tab)).c_str(), nullptr, 10), line.substr(tab + 1));
  }
}

using detail::decode_report;
using detail::encode_report;
using detail::format_time;
using detail::format_uuid;
using detail::kIdentityPrefix;
using detail::kIndicatorPrefix;
using detail::ReportCell;
using detail::time_number;
using detail::uuid_bytes;

// Texts of compact times, the last of each slot kept: the indicators of
// one bundle mostly share their times, so most are the one before.
class TimeTexts {
 public:
  void text(std::size_t slot, std::int64_t ms, std::string& out) {
    Recent& r = recent_[slot % recent_.size()];
    if (!r.known || r.ms != ms) {
      format_time(ms, r.text);
      r.ms = ms;
      r.known = true;
    }
    out.assign(r.text, sizeof r.text);
  }

 private:
  struct Recent {
    bool known = false;
    std::int64_t ms = 0;
    char text[24];
  };
  std::array<Recent, 16> recent_{};
};

// The text of a reference, the last compact one's kept (a column that
// repeats, as an indicator's producer does).
class RefText {
 public:
  void text(const unsigned char* bytes, std::string_view prefix, std::string& out) {
    if (!known_ || std::memcmp(bytes, bytes_, 16) != 0) {
      std::memcpy(bytes_, bytes, 16);
      format_uuid(bytes_, prefix, text_);
      known_ = true;
    }
    out.assign(text_);
  }

 private:
  bool known_ = false;
  unsigned char bytes_[16] = {};
  std::string text_;
};

// Binding and reading the compact cells of a statement (Stmt binds text
// and numbers; blobs and a cell's storage class need the raw statement).
class Cells {
 public:
  Cells(Stmt& stmt, sqlite3_stmt* raw) : stmt_(stmt), raw_(raw) {}

  void bind_time(int index, std::string_view text) {
    if (auto n = time_number(text)) {
      stmt_.bind(index, *n);
    } else {
      stmt_.bind(index, text);
    }
  }
  // The same with the compact form worked out before (time_number).
  void bind_time(int index, std::string_view text, const std::optional<std::int64_t>& number) {
    if (number) {
      stmt_.bind(index, *number);
    } else {
      stmt_.bind(index, text);
    }
  }
  // The same with the bytes worked out before (uuid_bytes), when `compact`.
  int bind_ref(int index, std::string_view text, bool compact, const unsigned char (&bytes)[16]) {
    if (!compact) {
      stmt_.bind(index, text);
      return SQLITE_OK;
    }
    return sqlite3_bind_blob(raw_, index, bytes, sizeof bytes, SQLITE_STATIC);
  }
  // Returns SQLite's code (blobs are bound here, not through Stmt).
  int bind_ref(int index, std::string_view text, std::string_view prefix) {
    unsigned char bytes[16];
    if (!uuid_bytes(text, prefix, bytes)) {
      stmt_.bind(index, text);
      return SQLITE_OK;
    }
    return sqlite3_bind_blob(raw_, index, bytes, sizeof bytes, SQLITE_TRANSIENT);
  }
  // The text of a time cell (its column's last text kept: see TimeTexts).
  void time_at(int col, std::string& out) const {
    if (sqlite3_column_type(raw_, col) == SQLITE_INTEGER) {
      times_.text(static_cast<std::size_t>(col), sqlite3_column_int64(raw_, col), out);
    } else {
      out.assign(stmt_.text_at(col));
    }
  }
  void ref_at(int col, std::string_view prefix, std::string& out) const {
    if (sqlite3_column_type(raw_, col) == SQLITE_BLOB && sqlite3_column_bytes(raw_, col) == 16) {
      format_uuid(static_cast<const unsigned char*>(sqlite3_column_blob(raw_, col)), prefix, out);
    } else {
      out.assign(stmt_.text_at(col));
    }
  }

 private:
  Stmt& stmt_;
  sqlite3_stmt* raw_;
  mutable TimeTexts times_;
};

// The SQL functions the conversions use: ctim_time(text) and
// ctim_ref(text, prefix), each the compact form of a text cell (schema 1),
// and ctim_report (below).
void sql_time(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
    const std::string_view text(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                                static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
    if (auto n = time_number(text)) return sqlite3_result_int64(ctx, *n);
  }
  sqlite3_result_value(ctx, argv[0]);
}

void sql_ref(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT && sqlite3_value_type(argv[1]) == SQLITE_TEXT) {
    const std::string_view text(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                                static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
    const std::string_view prefix(reinterpret_cast<const char*>(sqlite3_value_text(argv[1])),
                                  static_cast<std::size_t>(sqlite3_value_bytes(argv[1])));
    unsigned char bytes[16];
    if (uuid_bytes(text, prefix, bytes)) return sqlite3_result_blob(ctx, bytes, sizeof bytes, SQLITE_TRANSIENT);
  }
  sqlite3_result_value(ctx, argv[0]);
}

// ctim_report(trust, version, created, created_by, kind, confidence,
// valid_from, valid_until, revoked, tlp): schema 4's report cell from the
// columns of schema 1 (text) or 3 (compact cells or text).
void sql_report(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto text = [&](int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    return std::string_view(p == nullptr ? "" : p, static_cast<std::size_t>(sqlite3_value_bytes(argv[i])));
  };
  const auto time = [&](int i, ReportCell::Time& out) {
    if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER) {
      out.ms = sqlite3_value_int64(argv[i]);
      return true;
    }
    if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) return false;
    out.text = text(i);
    if ((out.ms = time_number(out.text))) out.text = {};
    return true;
  };
  ReportCell cell;
  unsigned char producer[16];
  bool ok = sqlite3_value_type(argv[0]) != SQLITE_NULL && time(1, cell.version) && time(2, cell.created) &&
            time(6, cell.valid_from) && time(7, cell.valid_until);
  cell.trust = sqlite3_value_double(argv[0]);
  if (sqlite3_value_type(argv[3]) == SQLITE_BLOB && sqlite3_value_bytes(argv[3]) == 16) {
    std::memcpy(producer, sqlite3_value_blob(argv[3]), sizeof producer);
    cell.created_by.bytes = producer;
  } else if (sqlite3_value_type(argv[3]) == SQLITE_TEXT) {
    cell.created_by.text = text(3);
    if (uuid_bytes(cell.created_by.text, kIdentityPrefix, producer)) cell.created_by = {producer, {}};
  } else {
    ok = false;
  }
  cell.kind = sqlite3_value_int64(argv[4]);
  if (sqlite3_value_type(argv[5]) != SQLITE_NULL) cell.confidence = sqlite3_value_double(argv[5]);
  cell.revoked = sqlite3_value_int64(argv[8]) != 0;
  cell.tlp = text(9);
  std::string out;
  if (!ok || !encode_report(cell, out)) {
    // A data error (exit 65), not an I/O one: the store holds what no
    // version of ctishare wrote.
    sqlite3_result_error(ctx, "an observation holds a value of no known form", -1);
    return sqlite3_result_error_code(ctx, SQLITE_CORRUPT);
  }
  sqlite3_result_blob64(ctx, out.data(), out.size(), SQLITE_TRANSIENT);
}

}  // namespace

struct Store::Impl {
  sqlite3* db = nullptr;
  std::string path;
  std::unordered_map<std::string, sqlite3_stmt*> cache;
  bool wal = false;  // in WAL mode (see open())
  // The checkpoint after a batch (commit_batch), and how it ended.
  std::thread checkpointer;
  std::optional<Error> checkpoint_error;

  ~Impl() {
    if (checkpointer.joinable()) checkpointer.join();
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

  // A transaction rolled back unless committed. Inside a batch, the
  // batch's own: no savepoint per input, which would copy every page the
  // input changes into a sub-journal (measured: 0.1-0.5 s and 120 MB of a
  // million-indicator merge) to undo what only a failed store write needs
  // undone, and SQLite may already have rolled back the whole batch after
  // one (disk full, I/O error). So a failure poisons the batch instead:
  // commit_batch() then rolls it all back.
  class Transaction {
   public:
    explicit Transaction(Impl& impl) : impl_(impl), nested_(impl.batch) {}
    Status begin() {
      // After a failed write SQLite may have ended the batch's transaction:
      // nothing more goes in, or it would be committed on its own.
      if (nested_ && impl_.batch_failed)
        return store_error(ErrorCategory::io, impl_.path, "an earlier write of this batch failed");
      if (!nested_) CTI_TRY_STATUS(impl_.exec("BEGIN IMMEDIATE"));
      open_ = true;
      return {};
    }
    Status commit() {
      if (!nested_) CTI_TRY_STATUS(impl_.exec("COMMIT"));
      open_ = false;
      return {};
    }
    ~Transaction() {
      if (!open_) return;
      if (nested_)
        impl_.batch_failed = true;
      else
        (void)impl_.exec("ROLLBACK");
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

   private:
    Impl& impl_;
    bool nested_;
    bool open_ = false;
  };
  bool batch = false;
  bool batch_failed = false;  // a write in the batch failed (Transaction)

  // The statement behind a Stmt from prepare(sql) (for Cells).
  sqlite3_stmt* raw(const char* sql) const { return cache.at(sql); }

  Result<std::string> read_text(const char* sql) {
    auto stmt = prepare(sql);
    if (!stmt) return std::move(stmt).error();
    const int rc = stmt->step();
    if (rc != SQLITE_ROW) return fail(rc);
    std::string out(stmt->text_at(0));
    stmt->reset();
    return out;
  }

  Result<std::int64_t> read_int(const char* sql) {
    auto stmt = prepare(sql);
    if (!stmt) return std::move(stmt).error();
    const int rc = stmt->step();
    if (rc != SQLITE_ROW) return fail(rc);
    const std::int64_t value = stmt->int_at(0);
    stmt->reset();  // no read transaction left open
    return value;
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
  // synchronous=FULL: every commit is durable once it returns (but a
  // batch's: see commit_batch()). A 16 MiB page cache: measured on a
  // million indicators, a larger one is slower (each page it holds is
  // allocated and faulted in, and scans read every page once) and only adds
  // memory; 256 MiB took 33 s and 930 MB, 16 MiB 27 s and 675 MB.
  for (const char* pragma : {"PRAGMA synchronous=FULL", "PRAGMA cache_size=-16384", "PRAGMA temp_store=MEMORY"}) {
    if (auto s = impl->exec(pragma); !s) return discard(std::move(s).error());
  }
  // Runs `ddl` (from BEGIN on) and leaves the store at this schema, in one
  // transaction: nothing of it stays when it fails.
  const auto to_current_schema = [&](std::string ddl) -> Status {
    ddl += "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";COMMIT;";
    Status done = impl->exec(ddl.c_str());
    if (!done) (void)impl->exec("ROLLBACK");
    return done;
  };
  // An earlier schema: converted once, in one transaction (the caller holds
  // the store's lock), each step's tables made anew and copied.
  if (!fresh && *version < kSchemaVersion) {
    constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    rc = sqlite3_create_function_v2(impl->db, "ctim_time", 1, kFlags, nullptr, sql_time, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK)
      rc = sqlite3_create_function_v2(impl->db, "ctim_ref", 2, kFlags, nullptr, sql_ref, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK)
      rc = sqlite3_create_function_v2(impl->db, "ctim_report", 10, kFlags, nullptr, sql_report, nullptr, nullptr,
                                      nullptr);
    if (rc != SQLITE_OK) return discard(impl->fail(rc));
    std::string ddl = "BEGIN IMMEDIATE;";
    if (*version < 2) {
      ddl += std::string(kMigrate1to2) + kIndicatorsTable + kObservationsTable + kMigrateCopy;
    } else {
      if (*version == 2) ddl += std::string(kMigrate2to3) + kIndicatorsTable + kMigrate2to3Copy;
      ddl += std::string(kMigrate3to4) + kObservationsTable + kMigrate3to4Copy;
    }
    if (auto s = to_current_schema(std::move(ddl)); !s) return discard(std::move(s).error());
  }
  if (fresh) {
    // 16 KiB pages, not SQLite's 4 KiB: a million indicators are written
    // into two tables in key order, and four times fewer pages means four
    // times fewer splits and a shallower tree (a full bench-merge run took
    // 8.0-8.7 s against 9.2-9.3 s; a small run is no slower). A store made
    // before keeps its pages.
    if (auto s = to_current_schema(std::string("PRAGMA page_size=16384;BEGIN IMMEDIATE;") + kIndicatorsTable +
                                   kObservationsTable + kSchemaRest +
                                   "PRAGMA application_id=" + std::to_string(kApplicationId) + ";");
        !s)
      return discard(std::move(s).error());
  }
  // The journal, chosen for what a run will write (set after a new store
  // has its page size: a store in WAL mode cannot change it).
  // - A store holding indicators gets its batches in WAL mode: a run's new
  //   rows land all over its pages, and a rollback journal would copy each
  //   page it changes before writing it (a daily increment of 10,000 into a
  //   million touches 7,300 of 17,500 pages). WAL writes each once, the
  //   commit does not wait for the disk, and the checkpoint that copies the
  //   pages into the store and syncs both runs on another thread while the
  //   caller scans (commit_batch()). Nothing checkpoints on commit
  //   (wal_autocheckpoint=0); closing the store checkpoints what is left
  //   and removes the WAL.
  // - An empty store keeps a rollback journal: its first run only appends
  //   pages, which a rollback journal does not copy, while WAL would write
  //   them twice (to the WAL, then the store). A million indicators took
  //   0.7-3.5 s longer in WAL mode.
  // Where WAL cannot be had (no shared memory on the file system), a
  // rollback journal.
  {
    auto holds = impl->read_int("SELECT EXISTS (SELECT 1 FROM indicators)");
    if (!holds) return discard(std::move(holds).error());
    if (*holds != 0) {
      auto mode = impl->read_text("PRAGMA journal_mode=WAL");
      if (!mode) return discard(std::move(mode).error());
      impl->wal = *mode == "wal";
    }
    if (!impl->wal)
      if (auto s = impl->exec("PRAGMA journal_mode=DELETE"); !s) return discard(std::move(s).error());
    if (auto s = impl->exec("PRAGMA wal_autocheckpoint=0"); !s) return discard(std::move(s).error());
  }
  if (auto st = impl->exec(kSuppressions); !st) return discard(std::move(st).error());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

namespace {

// Keeps `text` in `kept` only when it has no compact form; `kept` is left
// empty (its buffer freed) when it has. `text` may be `kept` itself.
void keep_text(bool compact, std::string_view text, std::string& kept) {
  if (compact) {
    std::string().swap(kept);
  } else if (text.data() != kept.data()) {
    kept.assign(text);
  }
}

// A time kept as its compact cell (time_number) when it has one, else as
// its text.
void keep_time(std::string_view text, std::string& kept, std::optional<std::int64_t>& number) {
  number = time_number(text);
  keep_text(number.has_value(), text, kept);
}

// The same for an id: its UUID's bytes, else its text.
void keep_ref(std::string_view text, std::string_view prefix, std::string& kept, bool& compact,
              unsigned char (&bytes)[16]) {
  compact = uuid_bytes(text, prefix, bytes);
  keep_text(compact, text, kept);
}

// An indicator id's text, whether kept as such or as its UUID's bytes.
std::string indicator_id(const std::string& text, bool compact, const unsigned char* bytes) {
  if (!compact) return text;
  std::string out;
  format_uuid(bytes, kIndicatorPrefix, out);
  return out;
}

// One indicator version as feed-merge keeps it. A million of them pass
// through a merge, two inputs' worth held at once: each id, reference and
// time is kept in its compact cell (see Cells) when it has one, worked out
// where the version is read, off the store's thread, and its text only
// when it has none (the text members are empty otherwise).
struct Version {
  std::string id, version, created, created_by, valid_from, valid_until, tlp;
  std::int64_t kind = 0;
  std::optional<double> confidence;
  bool revoked = false;
  std::string observables;  // "type\tvalue\n" per value (type as its number)
  struct Compact {
    std::optional<std::int64_t> version, created, valid_from, valid_until;
    bool id = false, created_by = false;
    unsigned char id_bytes[16] = {}, created_by_bytes[16] = {};
  } cells;
  // Texts (as read from the store) into their compact cells.
  void compact() {
    keep_time(version, version, cells.version);
    keep_time(created, created, cells.created);
    keep_time(valid_from, valid_from, cells.valid_from);
    keep_time(valid_until, valid_until, cells.valid_until);
    keep_ref(id, kIndicatorPrefix, id, cells.id, cells.id_bytes);
    keep_ref(created_by, kIdentityPrefix, created_by, cells.created_by, cells.created_by_bytes);
  }
  std::string id_text() const { return indicator_id(id, cells.id, cells.id_bytes); }
  std::string version_text() const {
    if (!cells.version) return version;
    char text[24];
    format_time(*cells.version, text);
    return std::string(text, sizeof text);
  }
};

// Whether `a` is a later version than `b` (version_key's order): compact
// times (milliseconds, one shape of text) compare as numbers.
bool later(const Version& a, const Version& b) {
  if (a.cells.version && b.cells.version) return *a.cells.version > *b.cells.version;
  return version_key(a.version_text()) > version_key(b.version_text());
}

// A channel: the source an indicator came through and that source's trust then.
struct Channel {
  std::string source;
  double trust = 0.3;
};

// One assessment of ours as read: the indicator it names and the channel.
struct Assessed {
  std::string indicator;
  Channel channel;
  bool compact = false;  // `indicator` is a canonical id, its UUID in `key`
  unsigned char key[16] = {};
};

// Eight bytes of a UUID as a big-endian number: two of them order UUIDs as
// memcmp does, without the call.
std::uint64_t uuid_half(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

// Orders indicator ids as their text does, comparing the UUIDs' bytes
// when both are canonical ("indicator--" and a lower-case UUID: the bytes'
// order is then the text's) and the text otherwise (a canonical id's text
// is not kept: written out again from its bytes). -1, 0 or 1.
int compare_ids(const std::string& a, bool a_compact, const unsigned char* a_key, const std::string& b, bool b_compact,
                const unsigned char* b_key) {
  if (a_compact && b_compact) {
    for (int at : {0, 8}) {
      const std::uint64_t x = uuid_half(a_key + at), y = uuid_half(b_key + at);
      if (x != y) return x < y ? -1 : 1;
    }
    return 0;
  }
  const int c = indicator_id(a, a_compact, a_key).compare(indicator_id(b, b_compact, b_key));
  return (c > 0) - (c < 0);
}

// The channels column: "source\ttrust\n" per channel.
std::vector<Channel> parse_channels(std::string_view text) {
  std::vector<Channel> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    out.push_back(
        Channel{std::string(line.substr(0, tab)), std::strtod(std::string(line.substr(tab + 1)).c_str(), nullptr)});
  }
  return out;
}

std::string format_channels(const std::vector<Channel>& channels) {
  std::string out;
  for (const auto& c : channels) {
    out += c.source;
    out += '\t';
    // As "%.17g" writes it, without printf's machinery (a row each).
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, c.trust, std::chars_format::general, 17);
    out.append(buf, ec == std::errc() ? end : buf);
    out += '\n';
  }
  return out;
}

// An integer 0-100 written as a JSON number ("90", not "90.5" or "1e2").
std::optional<double> parse_confidence(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 100) return std::nullopt;
  return static_cast<double>(v);
}

trust::Kind kind_of(stix::ObservableType t) {
  switch (t) {
    case stix::ObservableType::url:
      return trust::Kind::url;
    case stix::ObservableType::domain:
      return trust::Kind::domain;
    case stix::ObservableType::ipv4:
    case stix::ObservableType::ipv6:
      return trust::Kind::ip;
    case stix::ObservableType::email:
      return trust::Kind::email;
    default:
      return trust::Kind::file;
  }
}

// One row of the observations table to write.
struct Observation {
  const Version* v;
  const Channel* channel;
  std::int64_t type;
  std::string_view value;
};

// Binds a version's stored properties (the indicators table's version …
// tlp, in that order) from index `first` on; SQLite's code.
int bind_version(Stmt& stmt, Cells& cells, int first, const Version& v) {
  cells.bind_time(first, v.version, v.cells.version);
  cells.bind_time(first + 1, v.created, v.cells.created);
  const int rc = cells.bind_ref(first + 2, v.created_by, v.cells.created_by, v.cells.created_by_bytes);
  stmt.bind(first + 3, v.kind);
  if (v.confidence) {
    stmt.bind(first + 4, *v.confidence);
  } else {
    stmt.bind_null(first + 4);
  }
  cells.bind_time(first + 5, v.valid_from, v.cells.valid_from);
  cells.bind_time(first + 6, v.valid_until, v.cells.valid_until);
  stmt.bind(first + 7, static_cast<std::int64_t>(v.revoked ? 1 : 0));
  stmt.bind(first + 8, v.tlp);
  return rc;
}

constexpr const char* kGetIndicator = R"sql(
    SELECT version, created, created_by, kind, confidence, valid_from, valid_until, revoked, tlp, observables, channels
    FROM indicators WHERE id = ?1)sql";
constexpr const char* kPutIndicator = R"sql(
    INSERT OR REPLACE INTO indicators (id, version, created, created_by, kind, confidence, valid_from, valid_until,
                                       revoked, tlp, observables, channels)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12))sql";
// A version of an indicator the store does not hold yet; nothing when it does.
constexpr const char* kNewIndicator = R"sql(
    INSERT INTO indicators (id, version, created, created_by, kind, confidence, valid_from, valid_until, revoked, tlp,
                            observables, channels)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (id) DO NOTHING)sql";
constexpr const char* kDropObservation = "DELETE FROM observations WHERE type = ?1 AND value = ?2 AND id = ?3";
// The INSERT of one observation, or of kObservationsPerInsert at once.
constexpr std::size_t kObservationsPerInsert = 256;
const char* put_observations_sql(bool many) {
  static const auto for_rows = [](std::size_t rows) {
    std::string text = "INSERT OR REPLACE INTO observations (type, value, id, source, report) VALUES ";
    for (std::size_t k = 0; k < rows; ++k) text += k == 0 ? "(?,?,?,?,?)" : ",(?,?,?,?,?)";
    return text;
  };
  static const std::string one = for_rows(1), all = for_rows(kObservationsPerInsert);
  return many ? all.c_str() : one.c_str();
}
constexpr const char* kScanAll = "SELECT type, value, id, source, report FROM observations ORDER BY type, value";
constexpr const char* kScanValue =
    "SELECT type, value, id, source, report FROM observations WHERE type = ?1 AND value = ?2";

// A version's report cell as it came through `channel` (views of `v`).
ReportCell report_of(const Version& v, const Channel& channel) {
  ReportCell cell;
  cell.trust = channel.trust;
  cell.kind = v.kind;
  cell.confidence = v.confidence;
  cell.revoked = v.revoked;
  cell.version = {v.cells.version, v.version};
  cell.created = {v.cells.created, v.created};
  cell.valid_from = {v.cells.valid_from, v.valid_from};
  cell.valid_until = {v.cells.valid_until, v.valid_until};
  cell.created_by = {v.cells.created_by ? v.cells.created_by_bytes : nullptr, v.created_by};
  cell.tlp = v.tlp;
  return cell;
}

// A time of a report cell as text (compact ones through `texts`, in `slot`).
void time_text(TimeTexts& texts, std::size_t slot, const ReportCell::Time& t, std::string& out) {
  if (t.ms) {
    texts.text(slot, *t.ms, out);
  } else {
    out.assign(t.text);
  }
}

}  // namespace

namespace {

// A checkpoint on a connection of its own: the WAL synced, copied into the
// store, the store synced (SQLite's order, with synchronous=FULL).
std::optional<Error> checkpoint(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    rc = sqlite3_exec(db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  }
  if (rc == SQLITE_OK) rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  std::optional<Error> error;
  if (rc != SQLITE_OK)
    error = store_error(ErrorCategory::io, path,
                        std::string("checkpoint: ") + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  sqlite3_close_v2(db);
  return error;
}

}  // namespace

Status Store::begin_batch() {
  CTI_TRY_STATUS(settle());
  // Durable at the checkpoint instead of at the commit (commit_batch()).
  if (impl_->wal) CTI_TRY_STATUS(impl_->exec("PRAGMA synchronous=NORMAL"));
  CTI_TRY_STATUS(impl_->exec("BEGIN IMMEDIATE"));
  impl_->batch = true;
  impl_->batch_failed = false;
  return {};
}

Status Store::commit_batch() {
  impl_->batch = false;
  Status committed =
      impl_->batch_failed
          ? Status(store_error(ErrorCategory::io, impl_->path, "a write of this batch failed, so none of it is kept"))
          : impl_->exec("COMMIT");
  if (!committed && sqlite3_get_autocommit(impl_->db) == 0) (void)impl_->exec("ROLLBACK");
  if (!impl_->wal) return committed;
  Status restored = impl_->exec("PRAGMA synchronous=FULL");
  if (!committed) return committed;  // its error first
  if (!restored) return restored;
  // The batch is in the WAL, not yet on the disk: the checkpoint makes it
  // durable while the caller reads the store (settle() waits for it).
  try {
    impl_->checkpointer = std::thread([impl = impl_.get()] {
      pthread_setname_np(pthread_self(), "fm-checkpoint");
      impl->checkpoint_error = checkpoint(impl->path);
    });
  } catch (const std::system_error&) {
    impl_->checkpoint_error = checkpoint(impl_->path);  // no thread: here and now
  }
  return {};
}

Status Store::settle() {
  if (impl_->checkpointer.joinable()) impl_->checkpointer.join();
  if (!impl_->checkpoint_error) return {};
  // Once more on this connection (its commits sync): the batch must be on
  // the disk before anything derived from it is published.
  const Error first = std::move(*impl_->checkpoint_error);
  impl_->checkpoint_error.reset();
  const int rc = sqlite3_wal_checkpoint_v2(impl_->db, "main", SQLITE_CHECKPOINT_FULL, nullptr, nullptr);
  if (rc != SQLITE_OK)
    return Error(impl_->fail(rc).category(), first.message() +
                                                 "; the merged inputs may not be on the disk, so nothing "
                                                 "was published");
  return {};
}

namespace {

// The channels an assessed indicator gets from one input.
struct AssessedIndicator {
  std::string id;  // as Version's: empty when compact
  bool compact = false;
  unsigned char key[16] = {};
  std::vector<Channel> channels;
  bool used = false;  // merged with a version of this input
  std::string id_text() const { return indicator_id(id, compact, key); }
};

}  // namespace

struct ReadInput::Impl {
  IngestStats stats;
  std::vector<Version> versions;            // the latest of each id, in id order
  std::vector<AssessedIndicator> assessed;  // in id order
};

ReadInput::ReadInput() : impl_(std::make_unique<Impl>()) {}
ReadInput::~ReadInput() = default;
ReadInput::ReadInput(ReadInput&&) noexcept = default;
ReadInput& ReadInput::operator=(ReadInput&&) noexcept = default;
const IngestStats& ReadInput::stats() const noexcept { return impl_->stats; }

// The read below fills a ReadInput's insides.
struct ReadAccess {
  static ReadInput::Impl& of(ReadInput& input) { return *input.impl_; }
};

namespace {

// What one input (or one half of it) holds: the latest version of each
// indicator in it, and the channels our assessments name, in input order.
// Nothing is written to the store yet, so a broken input leaves no trace.
struct Gatherer {
  explicit Gatherer(const std::string& identity) : identity_id(identity) {}
  const std::string& identity_id;
  IngestStats stats;
  std::vector<Version> versions;
  // Our assessments in input order; grouped by indicator below, then
  // walked beside the versions (both in id order) instead of looked up in
  // a hash map per indicator.
  std::vector<Assessed> assessments;
  // What to report, with where it was (the object's index counts from the
  // start of the part read).
  struct Note {
    std::uint64_t index, line;
    std::string text;
  };
  std::vector<Note> notes;
  std::vector<std::string> refused;

  void note(const detail::RawObject& o, std::string text) { notes.push_back(Note{o.index, o.line, std::move(text)}); }
  // Room for every version and assessment `bytes` of input can hold: grown
  // by doubling instead, a 200,000-indicator input's versions took four
  // times their size in fresh memory and moved twice, each step faulting
  // in pages the kernel zeroes first. Memory reserved and never touched
  // costs no more than its addresses. An indicator with its assessment,
  // as trust-score writes them, takes over 1 KB; the cap (a million, some
  // 500 MB of addresses) bounds what a huge input reserves before it
  // proves to be one.
  void reserve_for(std::size_t bytes) {
    constexpr std::size_t kMinScoredIndicatorBytes = 512;
    constexpr std::size_t kMostReserved = std::size_t{1} << 20;
    const std::size_t n = std::min(bytes / kMinScoredIndicatorBytes, kMostReserved);
    versions.reserve(n);
    assessments.reserve(n);
  }
  // The notes as messages, objects counted from `first`.
  void report_to(const std::function<void(const std::string&)>& report, std::uint64_t first) const {
    for (const auto& n : notes)
      report("object " + std::to_string(first + n.index + 1) + " (line " + std::to_string(n.line) + "): " + n.text);
  }
  // Takes `later`'s objects after its own (the second half of an input).
  void append(Gatherer&& later) {
    stats.objects += later.stats.objects;
    stats.indicators += later.stats.indicators;
    stats.assessments += later.stats.assessments;
    stats.unusable += later.stats.unusable;
    versions.reserve(versions.size() + later.versions.size());
    std::move(later.versions.begin(), later.versions.end(), std::back_inserter(versions));
    later.versions = {};
    assessments.reserve(assessments.size() + later.assessments.size());
    std::move(later.assessments.begin(), later.assessments.end(), std::back_inserter(assessments));
  }

  Status take(const detail::RawObject& o) {
    ++stats.objects;
    if (o.type == "x-ctishare-assessment") {
      // Only our own assessments name a channel; anyone can write one that
      // claims a source, so one created by someone else is ignored.
      if (o.created_by_ref != identity_id) return {};
      char* end = nullptr;
      const double trust = o.source_trust.empty() ? -1 : std::strtod(o.source_trust.c_str(), &end);
      if (o.indicator_ref.empty() || o.source.empty() || trust < 0 || trust > 1) {
        note(o, "assessment " + quote(o.id) + " lacks indicator_ref, source or source_trust; ignored");
        return {};
      }
      ++stats.assessments;
      Assessed& a = assessments.emplace_back(Assessed{{}, Channel{o.source, trust}});
      keep_ref(o.indicator_ref, kIndicatorPrefix, a.indicator, a.compact, a.key);
      return {};
    }
    if (o.type != "indicator") return {};
    ++stats.indicators;
    const auto unusable = [&](const std::string& what) -> Status {
      ++stats.unusable;
      note(o, "indicator " + quote(o.id) + ": " + what + "; skipped");
      return {};
    };
    if (o.id.empty()) return unusable("no id");
    if (o.pattern.empty()) return unusable("no pattern");
    Version v;
    if (o.has_confidence) {
      v.confidence = o.confidence_not_number ? std::nullopt : parse_confidence(o.confidence);
      if (!v.confidence) return unusable("confidence is not an integer from 0 to 100");
    }
    // The times as Timestamp writes them back; one already in the compact
    // form ("YYYY-MM-DDTHH:MM:SS.sssZ", nearly all) is kept as its number.
    const auto normal = [](const std::string& text, std::string& kept, std::optional<std::int64_t>& number) -> Status {
      if ((number = time_number(text))) return {};
      auto t = Timestamp::parse(text);
      if (!t) return std::move(t).error();
      keep_time(t->to_string(), kept, number);
      return {};
    };
    if (auto from = normal(o.valid_from, v.valid_from, v.cells.valid_from); !from)
      return unusable(o.valid_from.empty() ? "no valid_from" : "valid_from: " + from.error().message());
    if (!o.valid_until.empty()) {
      if (auto until = normal(o.valid_until, v.valid_until, v.cells.valid_until); !until)
        return unusable("valid_until: " + until.error().message());
    }
    refused.clear();
    const auto found = trust::observables_of_pattern(o.pattern, &refused);
    for (const auto& why : refused) note(o, "indicator " + quote(o.id) + ": " + why + "; that value is skipped");
    if (!refused.empty()) ++stats.unusable;
    if (found.empty()) return {};  // nothing a list can hold (e.g. a process name)
    keep_ref(o.id, kIndicatorPrefix, v.id, v.cells.id, v.cells.id_bytes);
    const std::string& version = o.modified.empty() ? o.created : o.modified;
    keep_time(version, v.version, v.cells.version);
    keep_time(o.created.empty() ? version : o.created, v.created, v.cells.created);
    keep_ref(o.created_by_ref, kIdentityPrefix, v.created_by, v.cells.created_by, v.cells.created_by_bytes);
    v.revoked = o.revoked;
    v.kind = static_cast<std::int64_t>(kind_of(found.front().type));
    std::optional<stix::Tlp> tlp;
    for (const auto& m : o.markings)
      if (auto t = stix::tlp_of_marking_id(m); t && (!tlp || stix::more_restrictive(*t, *tlp))) tlp = t;
    if (tlp) v.tlp = std::string(stix::tlp_name(*tlp));
    for (const auto& ob : found) {
      v.observables += std::to_string(static_cast<int>(ob.type));
      v.observables += '\t';
      v.observables += ob.value;
      v.observables += '\n';
    }
    versions.push_back(std::move(v));
    return {};
  }
};

// The gathered input in the store's order.
ReadInput arrange(Gatherer&& gathered) {
  ReadInput out;
  auto& input = ReadAccess::of(out);
  input.stats = gathered.stats;
  std::vector<Version>& versions = input.versions;
  versions = std::move(gathered.versions);
  std::vector<Assessed>& assessments = gathered.assessments;
  // 2. In id order (the store's order: each page is visited once), the
  //    latest version of each id; revocation, once seen, stays.
  //    Sorted as positions (a version is large to move), each moved once.
  const auto by_id = [](const Version& a, const Version& b) {
    return compare_ids(a.id, a.cells.id, a.cells.id_bytes, b.id, b.cells.id, b.cells.id_bytes);
  };
  {
    std::vector<std::uint32_t> order(versions.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    if (std::all_of(versions.begin(), versions.end(), [](const Version& v) { return v.cells.id; })) {
      // Canonical ids (nearly always): their UUIDs as two integers beside
      // the positions, so the sort reads no version but for equal ids.
      struct Key {
        std::uint64_t hi, lo;
        std::uint32_t at;
      };
      std::vector<Key> keys(versions.size());
      for (std::uint32_t i = 0; i < keys.size(); ++i)
        keys[i] = Key{uuid_half(versions[i].cells.id_bytes), uuid_half(versions[i].cells.id_bytes + 8), i};
      std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
        if (a.hi != b.hi) return a.hi < b.hi;
        if (a.lo != b.lo) return a.lo < b.lo;
        return later(versions[b.at], versions[a.at]);
      });
      for (std::size_t i = 0; i < keys.size(); ++i) order[i] = keys[i].at;
    } else {
      std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
        const int c = by_id(versions[x], versions[y]);
        return c != 0 ? c < 0 : later(versions[y], versions[x]);
      });
    }
    // Into that order in place, cycle by cycle (no second copy of them).
    for (std::size_t k = 0; k < order.size(); ++k) {
      if (order[k] == k) continue;
      Version held = std::move(versions[k]);
      std::size_t at = k;
      for (;;) {
        const std::size_t from = order[at];
        order[at] = static_cast<std::uint32_t>(at);
        if (from == k) {
          versions[at] = std::move(held);
          break;
        }
        versions[at] = std::move(versions[from]);
        at = from;
      }
    }
    std::size_t kept = 0;
    for (std::size_t k = 0; k < versions.size(); ++k) {
      if (kept > 0 && by_id(versions[kept - 1], versions[k]) == 0) {
        const bool revoked = versions[kept - 1].revoked || versions[k].revoked;
        versions[kept - 1] = std::move(versions[k]);
        versions[kept - 1].revoked = revoked;
      } else {
        if (kept != k) versions[kept] = std::move(versions[k]);
        ++kept;
      }
    }
    versions.resize(kept);
  }

  // The channels each assessed indicator gets from this input, in id
  // order: its sources in order of first appearance, each with the last
  // trust given (a stable sort keeps the input's order within an id).
  std::vector<std::uint32_t> order(assessments.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto compare_assessed = [&](std::uint32_t x, std::uint32_t y) {
    const Assessed& a = assessments[x];
    const Assessed& b = assessments[y];
    return compare_ids(a.indicator, a.compact, a.key, b.indicator, b.compact, b.key);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t x, std::uint32_t y) { return compare_assessed(x, y) < 0; });
  std::vector<AssessedIndicator>& assessed = input.assessed;
  for (std::size_t k = 0; k < order.size(); ++k) {
    Assessed& a = assessments[order[k]];
    // The same indicator as the one before? (Its text may have moved into
    // the group already: compared there.)
    bool same = false;
    if (k > 0) {
      const Assessed& before = assessments[order[k - 1]];
      same = before.compact && a.compact ? std::memcmp(before.key, a.key, 16) == 0 : assessed.back().id == a.indicator;
    }
    if (!same) {
      AssessedIndicator& first = assessed.emplace_back();
      first.id = std::move(a.indicator);
      first.compact = a.compact;
      std::memcpy(first.key, a.key, sizeof a.key);
    }
    auto& list = assessed.back().channels;
    auto it = std::find_if(list.begin(), list.end(), [&](const Channel& c) { return c.source == a.channel.source; });
    if (it == list.end()) {
      list.push_back(std::move(a.channel));
    } else {
      it->trust = a.channel.trust;
    }
  }
  return out;
}

// The end of every read: its messages, then its error or its objects.
Result<ReadInput> finish_read(Gatherer&& gathered, const Status& read,
                              const std::function<void(const std::string&)>& report) {
  gathered.report_to(report, 0);
  if (!read) return read.error();
  return arrange(std::move(gathered));
}

}  // namespace

Result<ReadInput> Store::read(std::istream& in, const json::Limits& limits, const std::string& identity_id,
                              const std::function<void(const std::string&)>& report) {
  Gatherer all(identity_id);
  const Status read = detail::read_raw_objects(in, limits, [&](const detail::RawObject& o) { return all.take(o); });
  return finish_read(std::move(all), read, report);
}

Result<ReadInput> Store::read(MappedInput& in, const json::Limits& limits, const std::string& identity_id,
                              const std::function<void(const std::string&)>& report) {
  const auto release = [&](std::size_t from, std::size_t to) { in.release(from, to); };
  // A large input of one object per line is read in two halves at once.
  {
    Gatherer first(identity_id), second(identity_id);
    // The first takes the second's versions after its own.
    first.reserve_for(in.text().size());
    second.reserve_for(in.text().size() / 2);
    const auto read = detail::read_raw_objects_in_halves(
        in.text(), limits, [&](const detail::RawObject& o) { return first.take(o); },
        [&](const detail::RawObject& o) { return second.take(o); }, release);
    if (read) {
      if (!read->first_objects) return finish_read(std::move(first), read->status, report);
      first.report_to(report, 0);
      second.report_to(report, *read->first_objects);
      if (!read->status) return read->status.error();
      first.append(std::move(second));
      return arrange(std::move(first));
    }
  }
  Gatherer all(identity_id);
  all.reserve_for(in.text().size());
  const Status read = detail::read_raw_objects(
      in.text(), limits, [&](const detail::RawObject& o) { return all.take(o); }, release);
  return finish_read(std::move(all), read, report);
}

Result<IngestStats> Store::ingest(std::istream& in, const json::Limits& limits, const std::string& identity_id,
                                  const std::function<void(const std::string&)>& report) {
  auto input = read(in, limits, identity_id, report);
  if (!input) return std::move(input).error();
  return apply(std::move(*input));
}

Result<IngestStats> Store::apply(ReadInput&& read_input) {
  ReadInput::Impl& input = *read_input.impl_;
  IngestStats& stats = input.stats;
  std::vector<Version>& versions = input.versions;
  std::vector<AssessedIndicator>& assessed = input.assessed;
  Impl::Transaction tx(*impl_);
  CTI_TRY_STATUS(tx.begin());
  CTI_TRY_STMT(get, kGetIndicator);
  Cells get_cells(get, impl_->raw(kGetIndicator));
  CTI_TRY_STMT(put, kPutIndicator);
  Cells put_cells(put, impl_->raw(kPutIndicator));
  CTI_TRY_STMT(drop, kDropObservation);
  Cells drop_cells(drop, impl_->raw(kDropObservation));

  // Versions kept alive for the observations written at the end.
  std::deque<Version> stored;
  std::deque<std::vector<Channel>> channel_lists;
  std::vector<Observation> observations;
  const auto observe = [&](const Version& v, const std::vector<Channel>& channels) {
    for_each_observable(v.observables, [&](std::int64_t type, std::string_view value) {
      for (const auto& c : channels) observations.push_back(Observation{&v, &c, type, value});
    });
  };

  // Reads the stored version of `id`, if any, into `v` and `channels`.
  const auto load = [&](const std::string& id, Version& v, std::vector<Channel>& channels) -> Result<bool> {
    if (const int bound = get_cells.bind_ref(1, id, kIndicatorPrefix); bound != SQLITE_OK) return impl_->fail(bound);
    const int rc = get.step();
    if (rc == SQLITE_DONE) {
      get.reset();
      return false;
    }
    if (rc != SQLITE_ROW) {
      get.reset();
      return impl_->fail(rc);
    }
    v = Version{};
    v.id = id;
    get_cells.time_at(0, v.version);
    get_cells.time_at(1, v.created);
    get_cells.ref_at(2, kIdentityPrefix, v.created_by);
    v.kind = get.int_at(3);
    if (!get.null_at(4)) v.confidence = get.double_at(4);
    get_cells.time_at(5, v.valid_from);
    get_cells.time_at(6, v.valid_until);
    v.revoked = get.int_at(7) != 0;
    v.tlp = std::string(get.text_at(8));
    v.observables = std::string(get.text_at(9));
    channels = parse_channels(get.text_at(10));
    get.reset();
    v.compact();
    return true;
  };
  CTI_TRY_STMT(add, kNewIndicator);
  Cells add_cells(add, impl_->raw(kNewIndicator));
  // Writes `v` with `channels`: over what the store holds, or (`only_new`)
  // only when it holds nothing for the id. Whether it was written.
  const auto write = [&](const Version& v, const std::vector<Channel>& channels, bool only_new) -> Result<bool> {
    Stmt& stmt = only_new ? add : put;
    Cells& cells = only_new ? add_cells : put_cells;
    const std::string channel_text = format_channels(channels);
    int rc = cells.bind_ref(1, v.id, v.cells.id, v.cells.id_bytes);
    if (rc == SQLITE_OK) rc = bind_version(stmt, cells, 2, v);
    stmt.bind(11, v.observables);
    stmt.bind(12, channel_text);
    if (rc == SQLITE_OK) rc = stmt.step();
    stmt.reset();
    if (rc != SQLITE_DONE) return impl_->fail(rc);
    return !only_new || sqlite3_changes(impl_->db) > 0;
  };
  const auto save = [&](const Version& v, const std::vector<Channel>& channels) -> Status {
    auto written = write(v, channels, false);
    if (!written) return std::move(written).error();
    return {};
  };
  // Adds the channels this input names for `id`; true when one is new or
  // changed. Called in increasing id order (the versions' order), so the
  // assessed indicators are a walk, not a search.
  auto next_assessed = assessed.begin();
  const auto merge_channels = [&](const Version& v, std::vector<Channel>& channels) {
    bool changed = false;
    const auto compare = [&] {
      return compare_ids(next_assessed->id, next_assessed->compact, next_assessed->key, v.id, v.cells.id,
                         v.cells.id_bytes);
    };
    while (next_assessed != assessed.end() && compare() < 0) ++next_assessed;
    if (next_assessed == assessed.end() || compare() != 0) return false;
    next_assessed->used = true;
    for (const auto& c : next_assessed->channels) {
      auto have =
          std::find_if(channels.begin(), channels.end(), [&](const Channel& x) { return x.source == c.source; });
      if (have == channels.end()) {
        channels.push_back(c);
        changed = true;
      } else if (have->trust != c.trust) {
        have->trust = c.trust;
        changed = true;
      }
    }
    return changed;
  };

  Version old;
  std::vector<Channel> old_channels;
  for (auto& v : versions) {
    // Most indicators of a feed are new to the store: each is first
    // written as new, which searches the table once, and only an id the
    // store holds is read and compared.
    {
      std::vector<Channel> channels;
      merge_channels(v, channels);
      auto added = write(v, channels, true);
      if (!added) return std::move(added).error();
      if (*added) {
        ++stats.stored;
        channel_lists.push_back(std::move(channels));
        observe(v, channel_lists.back());
        continue;
      }
    }
    auto found = load(v.id_text(), old, old_channels);
    if (!found) return std::move(found).error();
    std::vector<Channel> channels = *found ? old_channels : std::vector<Channel>();
    bool channels_changed = merge_channels(v, channels);
    const bool newer = !*found || later(v, old);
    if (newer) {
      ++stats.stored;
      if (*found) {
        v.revoked = v.revoked || old.revoked;
        // The values the old version named and the new one does not.
        for_each_observable(old.observables, [&](std::int64_t type, std::string_view value) {
          std::string line = std::to_string(type) + "\t" + std::string(value) + "\n";
          if (("\n" + v.observables).find("\n" + line) != std::string::npos) return;
          drop.bind(1, type);
          drop.bind(2, value);
          if (drop_cells.bind_ref(3, v.id, v.cells.id, v.cells.id_bytes) == SQLITE_OK) (void)drop.step();
          drop.reset();
        });
      }
      stored.push_back(std::move(v));
    } else if ((v.revoked && !old.revoked) || channels_changed) {
      old.revoked = old.revoked || v.revoked;
      stored.push_back(old);
    } else {
      continue;  // nothing new
    }
    channel_lists.push_back(std::move(channels));
    CTI_TRY_STATUS(save(stored.back(), channel_lists.back()));
    observe(stored.back(), channel_lists.back());
  }
  // Assessments of indicators this input did not carry (stored earlier).
  std::vector<std::string> rest;
  for (const auto& a : assessed)
    if (!a.used) rest.push_back(a.id_text());
  next_assessed = assessed.begin();
  for (const auto& id : rest) {
    auto found = load(id, old, old_channels);
    if (!found) return std::move(found).error();
    if (!*found || !merge_channels(old, old_channels)) continue;
    stored.push_back(old);
    channel_lists.push_back(old_channels);
    CTI_TRY_STATUS(save(stored.back(), channel_lists.back()));
    observe(stored.back(), channel_lists.back());
  }

  // 3. The observations, in their table's order.
  std::sort(observations.begin(), observations.end(), [](const Observation& a, const Observation& b) {
    if (a.type != b.type) return a.type < b.type;
    if (const int c = a.value.compare(b.value); c != 0) return c < 0;
    if (const int c = a.v->id.compare(b.v->id); c != 0) return c < 0;
    return a.channel->source < b.channel->source;
  });
  // Many rows to a statement: each execution opens and closes its cursors
  // and allocates and frees their state, which one row per statement paid
  // more for than for the row's own writing (200,000 sorted rows inserted
  // alone: 0.19 s one to a statement, 0.09 s 256 to one).
  // (An SQLite built to take fewer parameters than that, before 3.32 or
  // limited at run time, gets one row to a statement.)
  const char* const one_sql = put_observations_sql(false);
  CTI_TRY_STMT(obs, one_sql);
  Cells obs_cells(obs, impl_->raw(one_sql));
  std::vector<std::string> reports(kObservationsPerInsert);
  // Binds `o` as the row whose parameters start at `first`.
  const auto bind_row = [&](Stmt& stmt, Cells& cells, int first, const Observation& o, std::string& report) -> Status {
    const Version& v = *o.v;
    if (!encode_report(report_of(v, *o.channel), report))
      return store_error(ErrorCategory::internal, impl_->path,
                         "indicator " + quote(v.id_text()) + ": a property out of the store's range");
    stmt.bind(first, o.type);
    stmt.bind(first + 1, o.value);
    if (const int rc = cells.bind_ref(first + 2, v.id, v.cells.id, v.cells.id_bytes); rc != SQLITE_OK)
      return impl_->fail(rc);
    stmt.bind(first + 3, o.channel->source);
    stmt.bind_blob(first + 4, report);
    return {};
  };
  const auto run = [&](Stmt& stmt) -> Status {
    const int rc = stmt.step();
    stmt.reset();
    if (rc != SQLITE_DONE) return impl_->fail(rc);
    return {};
  };
  std::size_t at = 0;
  if (observations.size() >= kObservationsPerInsert &&
      sqlite3_limit(impl_->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) >= static_cast<int>(5 * kObservationsPerInsert)) {
    const char* const many_sql = put_observations_sql(true);
    CTI_TRY_STMT(many, many_sql);
    Cells many_cells(many, impl_->raw(many_sql));
    for (; observations.size() - at >= kObservationsPerInsert; at += kObservationsPerInsert) {
      for (std::size_t k = 0; k < kObservationsPerInsert; ++k)
        CTI_TRY_STATUS(bind_row(many, many_cells, static_cast<int>(5 * k + 1), observations[at + k], reports[k]));
      CTI_TRY_STATUS(run(many));
    }
  }
  for (; at < observations.size(); ++at) {
    CTI_TRY_STATUS(bind_row(obs, obs_cells, 1, observations[at], reports[0]));
    CTI_TRY_STATUS(run(obs));
  }
  CTI_TRY_STATUS(tx.commit());
  return stats;
}

Result<std::size_t> Store::count_unassessed() {
  auto n = impl_->read_int("SELECT count(*) FROM indicators WHERE channels = ''");
  if (!n) return std::move(n).error();
  return static_cast<std::size_t>(*n);
}

Status Store::scan_rows(const MergePolicy& policy, const Timestamp& now, const std::function<Status(Row&&)>& sink,
                        const std::vector<Entry>* only) {
  // Local revocations: few, in memory.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> suppressed;  // -> since key, why
  {
    CTI_TRY_STMT(q, "SELECT kind, target, since, reason, by, at FROM suppressions");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      suppressed[{std::string(q.text_at(0)), std::string(q.text_at(1))}] = {
          q.text_at(2).empty() ? std::string() : version_key(q.text_at(2)),
          "revoked here by " + std::string(q.text_at(4)) + " at " + std::string(q.text_at(5)) + ": " +
              std::string(q.text_at(3))};
    }
    if (rc != SQLITE_DONE) return impl_->fail(rc);
  }
  const auto suppression = [&](std::string_view kind,
                               std::string_view target) -> const std::pair<std::string, std::string>* {
    if (suppressed.empty()) return nullptr;
    auto it = suppressed.find({std::string(kind), std::string(target)});
    return it == suppressed.end() ? nullptr : &it->second;
  };
  // Analysts' decisions: few, in memory.
  std::map<std::pair<std::int64_t, std::string>, Decision> decisions;
  {
    CTI_TRY_STMT(d, "SELECT type, value, verdict, reason, by, at FROM decisions");
    int rc;
    while ((rc = d.step()) == SQLITE_ROW) {
      decisions[{d.int_at(0), std::string(d.text_at(1))}] =
          Decision{d.text_at(2) == "reject" ? Verdict::reject : Verdict::approve, std::string(d.text_at(3)),
                   std::string(d.text_at(4)), std::string(d.text_at(5))};
    }
    if (rc != SQLITE_DONE) return impl_->fail(rc);
  }
  const auto& scoring = policy.scoring;
  std::unordered_map<std::string, double> trust_of;  // per source, resolved once
  const std::string block_text = format_number(scoring.block_threshold);
  const std::string review_text = format_number(scoring.review_threshold);

  // The observable being gathered.
  struct Report {
    std::string id, source, version, version_key, created, valid_from, valid_until, tlp;
    std::string producer;
    double trust = 0, score = 0, confidence = 0;
    bool live = false, revoked = false, expired = false;
    const std::string* suppressed = nullptr;  // why, when revoked here
  };
  // One value and the reports on it: reports[0, used), reused from value
  // to value so their strings keep their buffers (a million rows would
  // otherwise cost ten million allocations).
  struct Group {
    std::int64_t type = -1;
    std::string value;
    std::vector<Report> reports;
    std::size_t used = 0;
  };
  // The row being built: one object, cleared for each value, so a sink that
  // does not take its strings leaves their buffers for the next.
  Row row;

  // Two threads: this one reads the store and scores each report (take),
  // another combines each value's reports into its row and hands it to
  // `sink` (finish), the groups going from one to the other in batches.
  const auto finish = [&](Group& group) -> Status {
    const std::int64_t type = group.type;
    const std::string& value = group.value;
    std::vector<Report>& pool = group.reports;
    const std::size_t used = group.used;
    if (used == 0) return {};
    // In (id, source) order as text, as schema 1's key gave them: ties
    // between reports go to the first, and a compact id sorts apart from
    // one stored as text. Nearly always in order already.
    const auto by_key = [](const Report& a, const Report& b) {
      return a.id != b.id ? a.id < b.id : a.source < b.source;
    };
    if (!std::is_sorted(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(used), by_key))
      std::sort(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(used), by_key);
    const std::span<const Report> reports(pool.data(), used);
    Row& r = row;
    r.type = static_cast<stix::ObservableType>(type);
    r.value = value;
    r.action = trust::Action::observe;
    r.status = RowStatus::active;
    r.score = 0;
    r.producer_confidence = 0;
    r.sources.clear();
    r.source_tier.clear();
    r.valid_from.clear();
    r.valid_until.clear();
    r.reason.clear();
    r.tlp.clear();
    r.stix_ids.clear();
    bool live = false, all_revoked = true;
    const Report* first = &reports.front();
    const Report* last = &reports.front();
    for (const auto& p : reports) {
      live = live || p.live;
      all_revoked = all_revoked && p.revoked;
      if (p.created < first->created) first = &p;
      if (p.version_key > last->version_key) last = &p;
    }
    r.first_seen = first->created;
    r.last_seen = last->version;
    for (const auto& p : reports) {
      if (live && !p.live) continue;
      r.sources.push_back(p.source);
      r.stix_ids.push_back(p.id);
    }
    for (auto* list : {&r.sources, &r.stix_ids}) {
      std::sort(list->begin(), list->end());
      list->erase(std::unique(list->begin(), list->end()), list->end());
    }
    const std::string* local = nullptr;
    // The key is built only when there are revocations to look it up in.
    if (auto v = suppressed.empty() ? nullptr : suppression("value", std::to_string(type) + "\t" + value)) {
      local = &v->second;
      live = false;
    }
    for (const auto& p : reports)
      if (!local && !live && p.suppressed != nullptr && !p.revoked) local = p.suppressed;
    if (local != nullptr) {
      r.status = RowStatus::suppressed;
      r.action = trust::Action::observe;
      r.reason = *local;
      return sink(std::move(r));
    }
    if (!live) {
      r.status = all_revoked ? RowStatus::revoked : RowStatus::expired;
      std::string expired_at;
      for (const auto& p : reports)
        if (p.expired && p.valid_until > expired_at) expired_at = p.valid_until;
      r.reason = all_revoked           ? "revoked by its producer"
                 : !expired_at.empty() ? "expired at valid_until " + expired_at
                                       : "decayed below the floor (" + format_number(scoring.floor) + ")";
      return sink(std::move(r));
    }
    // Independent producers: the best live score of each, combined.
    std::vector<std::pair<std::string_view, double>> producers;
    double max_trust = -1;
    const Report* best = nullptr;
    bool unbounded = false;
    std::optional<stix::Tlp> tlp;
    for (const auto& p : reports) {
      if (!p.live) continue;
      auto it = std::find_if(producers.begin(), producers.end(), [&](const auto& x) { return x.first == p.producer; });
      if (it == producers.end()) {
        producers.emplace_back(p.producer, p.score);
      } else {
        it->second = std::max(it->second, p.score);
      }
      if (p.trust > max_trust) {
        max_trust = p.trust;
        best = &p;
      }
      r.producer_confidence = std::max(r.producer_confidence, p.confidence);
      if (r.valid_from.empty() || p.valid_from < r.valid_from) r.valid_from = p.valid_from;
      if (p.valid_until.empty()) {
        unbounded = true;
      } else if (p.valid_until > r.valid_until) {
        r.valid_until = p.valid_until;
      }
      if (auto t = stix::parse_tlp(p.tlp); t && (!tlp || stix::more_restrictive(*t, *tlp))) tlp = t;
    }
    if (unbounded) r.valid_until.clear();
    if (tlp) r.tlp = std::string(stix::tlp_name(*tlp));
    double keep = 1.0;
    for (const auto& [producer, score] : producers) keep *= 1.0 - std::clamp(score, 0.0, 100.0) / 100.0;
    r.score = std::round((1.0 - keep) * 10000.0) / 100.0;
    r.source_tier = std::string(trust::tier_of(max_trust));
    // The reason, appended in place: a million rows would otherwise build
    // a dozen temporary strings each.
    std::string& why = r.reason;
    why = "score ";
    append_number(why, r.score);
    if (producers.size() > 1) {
      why += " from ";
      why += std::to_string(producers.size());
      why += " independent producers";
    }
    const auto most_trusted = [&] {
      why += best->source;
      why += " (";
      append_number(why, max_trust);
      why += ')';
    };
    const trust::Action by_score = r.score >= scoring.block_threshold    ? trust::Action::block
                                   : r.score >= scoring.review_threshold ? trust::Action::review
                                                                         : trust::Action::observe;
    if (by_score == trust::Action::observe) {
      r.action = trust::Action::observe;
      why += " below the review threshold ";
      why += review_text;
    } else if (max_trust < 0.5) {
      r.action = trust::Action::observe;
      why += ", but the most trusted source, ";
      most_trusted();
      why += ", is below 0.5: observe only";
    } else if (by_score == trust::Action::block && max_trust < 0.8) {
      r.action = trust::Action::review;
      why += ", but the most trusted source, ";
      most_trusted();
      why += ", is below 0.8: needs human review";
    } else if (by_score == trust::Action::block) {
      r.action = trust::Action::block;
      why += " at or above the block threshold ";
      why += block_text;
      why += "; most trusted source ";
      most_trusted();
    } else {
      r.action = trust::Action::review;
      why += " between the review threshold ";
      why += review_text;
      why += " and the block threshold ";
      why += block_text;
    }
    if (auto d = decisions.find({type, value}); d != decisions.end()) {
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
      if (const trust::AllowEntry* e = policy.allowlist->match(r.type, r.value, now)) {
        r.status = RowStatus::allowlisted;
        r.action = trust::Action::observe;
        r.reason = "allowlisted: " + e->reason + " (" + std::string(trust::allow_type_name(e->type)) + " " + e->value +
                   ", line " + std::to_string(e->line) + " of " + policy.allowlist->origin() + ")";
      }
    }
    return sink(std::move(r));
  };

  // The last valid_from and valid_until parsed (mostly the next ones too).
  struct LastParsed {
    std::string text;
    std::optional<Timestamp> time;
    const Timestamp* parse(const std::string& t) {
      if (!time || t != text) {
        auto parsed = Timestamp::parse(t);
        if (!parsed) return nullptr;
        time = *parsed;
        text = t;
      }
      return &*time;
    }
  } last_from, last_until;

  detail::BatchPipe<Group> pipe(256);
  std::string last_version, last_version_key;
  std::optional<double> last_decay;  // of last_kind at last_decay_from
  trust::Kind last_kind{};
  Timestamp last_decay_from;
  Group* group = nullptr;                             // being gathered
  ReportCell cell;                                    // the observation's, as read
  TimeTexts times;
  RefText producers;
  const Error stopped(ErrorCategory::io, "stopped");  // the finishing thread's error is reported

  // One observation: a report on the value being gathered.
  const auto take = [&](Stmt& scan, const Cells& cells) -> Status {
    const std::int64_t t = scan.int_at(0);
    const std::string_view v = scan.text_at(1);
    if (group == nullptr || t != group->type || v != group->value) {
      if (group != nullptr) pipe.commit();
      group = pipe.slot();
      if (group == nullptr) return stopped;
      group->type = t;
      group->value.assign(v);
      group->used = 0;
    }
    if (group->used == group->reports.size()) group->reports.emplace_back();
    Report& p = group->reports[group->used++];
    cells.ref_at(2, kIndicatorPrefix, p.id);
    p.source.assign(scan.text_at(3));
    if (!decode_report(scan.blob_at(4), cell))
      return store_error(ErrorCategory::data, impl_->path,
                         "indicator " + quote(p.id) + ": its observation of " + quote(group->value) + " is damaged");
    // The configured trust wins; a source no longer configured counts as
    // unverified, whatever it once had.
    auto [it, fresh] = trust_of.try_emplace(p.source, 0.3);
    if (fresh) {
      if (auto c = policy.trust.find(p.source); c != policy.trust.end()) {
        it->second = c->second;
      } else if (policy.trust.empty()) {
        it->second = cell.trust;
      }
    }
    p.trust = it->second;
    time_text(times, 0, cell.version, p.version);
    // Most reports share their version's time and their producer with the
    // report before: those are worked out once.
    if (p.version != last_version) {
      last_version = p.version;
      last_version_key = version_key(p.version);
    }
    p.version_key = last_version_key;
    time_text(times, 1, cell.created, p.created);
    if (cell.created_by.bytes != nullptr) {
      producers.text(cell.created_by.bytes, kIdentityPrefix, p.producer);
    } else {
      p.producer.assign(cell.created_by.text);
    }
    if (p.producer.empty()) p.producer = "source:" + p.source;
    const auto kind = static_cast<trust::Kind>(cell.kind);
    p.confidence = cell.confidence.value_or(scoring.default_confidence);
    time_text(times, 2, cell.valid_from, p.valid_from);
    time_text(times, 3, cell.valid_until, p.valid_until);
    p.revoked = cell.revoked;
    p.expired = false;
    p.suppressed = nullptr;
    p.tlp.assign(cell.tlp);
    const Timestamp* from = last_from.parse(p.valid_from);
    if (from == nullptr)
      return store_error(ErrorCategory::data, impl_->path, "indicator " + quote(p.id) + ": bad valid_from");
    if (!p.valid_until.empty()) {
      const Timestamp* until = last_until.parse(p.valid_until);
      if (until == nullptr)
        return store_error(ErrorCategory::data, impl_->path, "indicator " + quote(p.id) + ": bad valid_until");
      p.expired = *until <= now;
    }
    // Most reports share their kind and valid_from with the one before.
    if (!last_decay || kind != last_kind || *from != last_decay_from) {
      last_decay = trust::age(kind, *from, scoring, now).decay;
      last_kind = kind;
      last_decay_from = *from;
    }
    p.score = trust::score(p.confidence, p.trust, *last_decay);
    p.live = !p.revoked && !p.expired && p.score >= scoring.floor;
    if (auto by_id = suppression("id", p.id)) {
      p.suppressed = &by_id->second;
    } else if (auto by_source = suppression("source", p.source); by_source && p.version_key >= by_source->first) {
      p.suppressed = &by_source->second;
    }
    if (p.suppressed != nullptr) p.live = false;
    return {};
  };

  const auto scan_all = [&]() -> Status {
    int rc = SQLITE_DONE;
    if (only == nullptr) {
      CTI_TRY_STMT(scan, kScanAll);
      const Cells cells(scan, impl_->raw(kScanAll));
      while ((rc = scan.step()) == SQLITE_ROW) CTI_TRY_STATUS(take(scan, cells));
    } else {
      CTI_TRY_STMT(scan, kScanValue);
      const Cells cells(scan, impl_->raw(kScanValue));
      for (const auto& e : *only) {
        scan.bind(1, number_of(e.type));
        scan.bind(2, e.value);
        while ((rc = scan.step()) == SQLITE_ROW) CTI_TRY_STATUS(take(scan, cells));
        scan.reset();
        if (rc != SQLITE_DONE) break;
      }
    }
    if (rc != SQLITE_DONE) return impl_->fail(rc);
    if (group != nullptr) pipe.commit();
    return {};
  };

  return detail::run_pipe(pipe, "fm-rows", scan_all, finish, "computing the rows");
}

Result<std::vector<Row>> Store::rows(const MergePolicy& policy, const Timestamp& now) {
  std::vector<Row> out;
  CTI_TRY_STATUS(scan_rows(policy, now, [&](Row&& r) -> Status {
    out.push_back(std::move(r));
    return {};
  }));
  return out;
}

Status Store::set_decision(const Entry& entry, const Decision& decision) {
  CTI_TRY_STMT(
      put, "INSERT OR REPLACE INTO decisions (type, value, verdict, reason, by, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  put.bind(1, number_of(entry.type));
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
  del.bind(1, number_of(entry.type));
  del.bind(2, entry.value);
  if (const int rc = del.step(); rc != SQLITE_DONE) return impl_->fail(rc);
  return sqlite3_changes(impl_->db) > 0;
}

Result<std::vector<Entry>> Store::published() {
  // No count(*) first to reserve: it reads every page of the table too.
  CTI_TRY_STMT(scan, "SELECT type, value FROM published");
  std::vector<Entry> out;
  int rc;
  while ((rc = scan.step()) == SQLITE_ROW) {
    if (auto t = type_of(scan.int_at(0))) out.push_back(Entry{*t, std::string(scan.text_at(1))});
  }
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  // Usually already in order (the table's key is (type, value)).
  if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Removal>> Store::removals() {
  CTI_TRY_STMT(scan, "SELECT type, value, removed_at, status, reason FROM removals ORDER BY removed_at DESC, rowid");
  std::vector<Removal> out;
  int rc;
  while ((rc = scan.step()) == SQLITE_ROW) {
    auto t = type_of(scan.int_at(0));
    if (!t) continue;
    out.push_back(Removal{*t, std::string(scan.text_at(1)), std::string(scan.text_at(2)), std::string(scan.text_at(3)),
                          std::string(scan.text_at(4))});
  }
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  return out;
}

Status Store::publish(const std::vector<Entry>& gone, const std::vector<Entry>& fresh,
                      const std::vector<Removal>& removed, const Timestamp& forget_before,
                      const std::map<std::string, std::string>& meta) {
  Impl::Transaction tx(*impl_);
  CTI_TRY_STATUS(tx.begin());
  {
    // Only the difference is written: an unchanged publication costs nothing.
    CTI_TRY_STMT(add, "INSERT OR IGNORE INTO published (type, value) VALUES (?1, ?2)");
    CTI_TRY_STMT(del, "DELETE FROM published WHERE type = ?1 AND value = ?2");
    for (const auto& e : gone) {
      del.bind(1, number_of(e.type));
      del.bind(2, e.value);
      const int rc = del.step();
      del.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
    for (const auto& e : fresh) {
      add.bind(1, number_of(e.type));
      add.bind(2, e.value);
      const int rc = add.step();
      add.reset();
      if (rc != SQLITE_DONE) return impl_->fail(rc);
    }
  }
  {
    CTI_TRY_STMT(add, "INSERT INTO removals (type, value, removed_at, status, reason) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const auto& r : removed) {
      add.bind(1, number_of(r.type));
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

std::string suppression_target(const Entry& entry) {
  return std::to_string(number_of(entry.type)) + "\t" + entry.value;
}

Status Store::add_suppression(const Suppression& x) {
  CTI_TRY_STMT(
      put, "INSERT OR REPLACE INTO suppressions (kind, target, since, reason, by, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  put.bind(1, x.kind);
  put.bind(2, x.target);
  put.bind(3, x.since);
  put.bind(4, x.reason);
  put.bind(5, x.by);
  put.bind(6, x.at);
  if (const int rc = put.step(); rc != SQLITE_DONE) return impl_->fail(rc);
  return {};
}

Result<bool> Store::remove_suppression(const std::string& kind, const std::string& target) {
  CTI_TRY_STMT(del, "DELETE FROM suppressions WHERE kind = ?1 AND target = ?2");
  del.bind(1, kind);
  del.bind(2, target);
  if (const int rc = del.step(); rc != SQLITE_DONE) return impl_->fail(rc);
  return sqlite3_changes(impl_->db) > 0;
}

Result<std::vector<Suppression>> Store::suppressions() {
  CTI_TRY_STMT(q, "SELECT kind, target, since, reason, by, at FROM suppressions ORDER BY at, kind, target");
  std::vector<Suppression> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back(Suppression{std::string(q.text_at(0)), std::string(q.text_at(1)), std::string(q.text_at(2)),
                              std::string(q.text_at(3)), std::string(q.text_at(4)), std::string(q.text_at(5))});
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  return out;
}

Result<std::vector<Entry>> Store::entries_of_indicator(const std::string& id) {
  static constexpr const char* kSql = "SELECT observables FROM indicators WHERE id = ?1";
  CTI_TRY_STMT(q, kSql);
  Cells cells(q, impl_->raw(kSql));
  if (const int bound = cells.bind_ref(1, id, kIndicatorPrefix); bound != SQLITE_OK) return impl_->fail(bound);
  std::vector<Entry> out;
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    for_each_observable(q.text_at(0), [&](std::int64_t type, std::string_view value) {
      if (auto t = type_of(type)) out.push_back(Entry{*t, std::string(value)});
    });
  } else if (rc != SQLITE_DONE) {
    return impl_->fail(rc);
  }
  return out;
}

Result<std::vector<Entry>> Store::entries_of_source(const std::string& source, const std::string& since) {
  // The version key is not stored (schema 2): compared here.
  static constexpr const char* kSql = "SELECT type, value, report FROM observations WHERE source = ?1";
  CTI_TRY_STMT(q, kSql);
  const std::string since_key = since.empty() ? std::string() : version_key(since);
  q.bind(1, source);
  std::vector<Entry> out;
  std::string version;
  ReportCell cell;
  TimeTexts times;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    if (!decode_report(q.blob_at(2), cell))
      return store_error(ErrorCategory::data, impl_->path,
                         "an observation of " + quote(std::string(q.text_at(1))) + " is damaged");
    time_text(times, 0, cell.version, version);
    if (version_key(version) < since_key) continue;
    if (auto t = type_of(q.int_at(0))) out.push_back(Entry{*t, std::string(q.text_at(1))});
  }
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<std::string>> Store::ids_of_entry(const Entry& entry) {
  static constexpr const char* kSql = "SELECT DISTINCT id FROM observations WHERE type = ?1 AND value = ?2";
  CTI_TRY_STMT(q, kSql);
  const Cells cells(q, impl_->raw(kSql));
  q.bind(1, number_of(entry.type));
  q.bind(2, entry.value);
  std::vector<std::string> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) cells.ref_at(0, kIndicatorPrefix, out.emplace_back());
  if (rc != SQLITE_DONE) return impl_->fail(rc);
  // In text order, as schema 1 gave them (a compact id sorts apart).
  std::sort(out.begin(), out.end());
  return out;
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
