// The SQLite implementation of taxii::Store.
//
// Layout: `collections` maps a collection id to a small integer and keeps
// the last date_added handed out there (kept even when objects are deleted,
// so a client's paging cursor can never be overtaken by a reused value);
// `objects` holds one row per object version, indexed by (cid, date_added)
// for paging and by (cid, idh) for everything about one object, where idh
// is a 64-bit keyed hash of the object's id (SipHash-2-4 under a random key
// kept in `store_keys`, so no client can choose ids that collide). Every
// statement that looks an object up by id also compares the id itself, so
// a collision costs a row read, never a wrong answer. The index is small on
// purpose: its keys are random, so each commit rewrites most of its pages,
// and an index on the id text itself (two, until schema 3: a UNIQUE one on
// (cid, id, version_key) and one on (cid, id, spec_version, version_key))
// was over half of ingest's time at 100,000 objects, for a page rewritten
// per object stored. add() reads an object's versions with one seek, and
// learns from it whether the version is already stored and which version
// is the last. The status resources live in `statuses`, each with its
// lists of successes, failures and pendings in one record (`details`, see
// encode_details): one row per object in `status_details`, as until schema
// 4, was a tenth of a POST's time in the store. Statuses written before
// keep their rows there, and are read from them.
//
// Versions are compared by instant, not by text: "…:00Z" sorts after
// "…:00.5Z" as text but before it in time, and "…:00Z" equals
// "…:00.000Z". version_key is a text form that sorts in instant order and is
// equal for equal instants, so SQL can use min/max/= on it.
//
// All filtering happens in SQL: one statement selects a page, with
// correlated subqueries for each object's latest spec_version and its
// first/last version. Statements are prepared once and cached by their text.
// The common selection, each object's last version (match[version] absent),
// needs no subquery: is_last marks that row, kept by add() and remove(),
// and a partial index lists those rows in date_added order.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/sqlite.h"
#include "ctishare/taxii/store.h"
#include "taxii/sqlite/wal_buffer.h"

namespace ctishare::taxii {
namespace {

using detail::Bind;
using detail::Binds;
using detail::Stmt;
using detail::version_key;

// PRAGMA application_id marks a file as ours ("CTIS"); user_version is the
// schema version, raised (with a migration) whenever the schema changes.
constexpr int kApplicationId = 0x43544953;
constexpr int kSchemaVersion = 4;  // 2: objects.is_last; 3: objects.idh and its index; 4: statuses.details
// Writers from another process (an admin tool) wait this long for the lock.
constexpr int kBusyTimeoutMs = 5000;
// The memory map's limit (see open_store), and one byte more to map again (see refresh_map).
constexpr const char* kMmapSize = "PRAGMA mmap_size=268435456";
constexpr const char* kMmapSizeNudged = "PRAGMA mmap_size=268435457";
// How long the writes must stop before the WAL is copied to its end (see start_checkpointer).
constexpr std::chrono::milliseconds kIdleCheckpoint{500};
// The query shapes are few (one per combination of list lengths); the cap
// only stops a client sending ever-new list lengths from growing it forever.
constexpr std::size_t kMaxCachedStatements = 256;
// Statements with very long IN lists are rare and not worth keeping.
constexpr std::size_t kMaxCachedBinds = 64;
// A group commit takes queued requests up to this many objects (and at
// least one request, however large).
constexpr std::size_t kMaxBatchObjects = 20000;

constexpr const char* kSchema = R"sql(
CREATE TABLE collections (
  cid INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_date_added INTEGER NOT NULL
);
CREATE TABLE objects (
  cid INTEGER NOT NULL REFERENCES collections(cid),
  id TEXT NOT NULL,
  version TEXT NOT NULL,
  version_key TEXT NOT NULL,
  spec_version TEXT NOT NULL,
  type TEXT NOT NULL,
  date_added INTEGER NOT NULL,
  json TEXT NOT NULL,
  is_last INTEGER NOT NULL DEFAULT 0,
  idh INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX objects_by_date ON objects(cid, date_added);
CREATE INDEX objects_by_id ON objects(cid, idh);
CREATE INDEX objects_last_by_date ON objects(cid, date_added) WHERE is_last = 1;
CREATE TABLE store_keys (
  name TEXT PRIMARY KEY,
  key BLOB NOT NULL
);
INSERT INTO store_keys (name, key) VALUES ('idh', randomblob(16));
CREATE TABLE statuses (
  id TEXT PRIMARY KEY,
  api_root TEXT NOT NULL,
  owner TEXT NOT NULL,
  complete INTEGER NOT NULL,
  request_timestamp INTEGER NOT NULL,
  total INTEGER NOT NULL,
  success INTEGER NOT NULL,
  failure INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  details BLOB
);
CREATE INDEX statuses_by_time ON statuses(complete, request_timestamp);
CREATE TABLE status_details (
  status_id TEXT NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
  kind INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  version TEXT NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (status_id, kind, seq)
) WITHOUT ROWID;
)sql";

Micros system_now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void add_int(Binds& binds, std::int64_t v) { binds.push_back({true, v, {}}); }
void add_text(Binds& binds, std::string s) { binds.push_back({false, 0, std::move(s)}); }

// Appends "(?, ?, …)" for `values` (after `transform`, to text or to
// integers) to `sql`.
template <typename F>
void add_list(std::string& sql, Binds& binds, const std::vector<std::string>& values, F transform) {
  sql += '(';
  for (std::size_t i = 0; i < values.size(); ++i) {
    sql += i == 0 ? "?" : ", ?";
    auto value = transform(values[i]);
    if constexpr (std::is_integral_v<decltype(value)>) {
      add_int(binds, value);
    } else {
      add_text(binds, std::move(value));
    }
  }
  sql += ')';
}
std::string same(const std::string& s) { return s; }

// A status's details as one record: for successes, failures and pendings
// in turn, a count and then each detail's id, version and message, every
// count and length 4 bytes little-endian.
void put_u32(std::string& out, std::size_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
std::string encode_details(const StatusRecord& s) {
  std::size_t size = 12;
  for (const auto* list : {&s.successes, &s.failures, &s.pendings})
    for (const StatusDetail& d : *list) size += 12 + d.id.size() + d.version.size() + d.message.size();
  std::string out;
  out.reserve(size);
  for (const auto* list : {&s.successes, &s.failures, &s.pendings}) {
    put_u32(out, list->size());
    for (const StatusDetail& d : *list) {
      for (const std::string* field : {&d.id, &d.version, &d.message}) {
        put_u32(out, field->size());
        out += *field;
      }
    }
  }
  return out;
}
// False when `in` is not what encode_details wrote.
bool decode_details(std::string_view in, StatusRecord& r) {
  auto u32 = [&](std::size_t& v) {
    if (in.size() < 4) return false;
    v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::size_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(4);
    return true;
  };
  for (auto* list : {&r.successes, &r.failures, &r.pendings}) {
    std::size_t count = 0;
    if (!u32(count) || count > in.size() / 12) return false;
    list->reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      StatusDetail d;
      for (std::string* field : {&d.id, &d.version, &d.message}) {
        std::size_t n = 0;
        if (!u32(n) || n > in.size()) return false;
        field->assign(in.substr(0, n));
        in.remove_prefix(n);
      }
      list->push_back(std::move(d));
    }
  }
  return in.empty();
}

// Appends the conditions that pick versions of objects (alias `o`) by
// spec_version and match[version]; shared by query() and remove().
// True when the selection is each object's last version of its newest
// spec_version and nothing else: the rows marked is_last.
bool last_only(const VersionMatch& versions, const std::vector<std::string>& spec_versions) {
  return spec_versions.empty() && !versions.all && versions.exact.empty() && versions.last && !versions.first;
}

void add_selection(std::string& sql, Binds& binds, const VersionMatch& versions,
                   const std::vector<std::string>& spec_versions) {
  if (last_only(versions, spec_versions)) {
    sql += " AND o.is_last = 1";
    return;
  }
  // Each object's first version of its newest spec_version, nothing else:
  // one index seek per row instead of two.
  if (spec_versions.empty() && !versions.all && versions.exact.empty() && versions.first && !versions.last) {
    sql +=
        " AND o.rowid = (SELECT v.rowid FROM objects v WHERE v.cid = o.cid AND v.idh = o.idh AND v.id = o.id ORDER BY "
        "v.spec_version DESC, v.version_key ASC LIMIT 1)";
    return;
  }
  // Without match[spec_version] only each object's newest spec_version
  // counts (TAXII 3.4.1), and first/last are judged among those versions.
  std::string sibling_spec;
  if (spec_versions.empty()) {
    sql +=
        " AND o.spec_version = (SELECT max(s.spec_version) FROM objects s WHERE s.cid = o.cid AND s.idh = o.idh AND "
        "s.id = o.id)";
    sibling_spec = " AND v.spec_version = o.spec_version";
  } else {
    sql += " AND o.spec_version IN ";
    add_list(sql, binds, spec_versions, same);
  }
  if (versions.all) return;
  std::vector<std::string> alternatives;
  auto extreme = [&](const char* fn) {
    std::string c = "o.version_key = (SELECT ";
    c += fn;
    c += "(v.version_key) FROM objects v WHERE v.cid = o.cid AND v.idh = o.idh AND v.id = o.id";
    if (spec_versions.empty()) {
      c += sibling_spec;
    } else {
      c += " AND v.spec_version IN ";
      add_list(c, binds, spec_versions, same);
    }
    c += ')';
    alternatives.push_back(std::move(c));
  };
  // Binds are positional, so the alternatives are built in the order they
  // are appended to `sql`.
  if (versions.first) extreme("min");
  if (versions.last) extreme("max");
  if (!versions.exact.empty()) {
    std::string c = "o.version_key IN ";
    add_list(c, binds, versions.exact, [](const std::string& s) { return version_key(s); });
    alternatives.push_back(std::move(c));
  }
  if (alternatives.empty()) {
    sql += " AND 0";  // nothing asked for, nothing selected (never "everything" by accident in remove())
    return;
  }
  sql += " AND (";
  for (std::size_t i = 0; i < alternatives.size(); ++i) {
    if (i != 0) sql += " OR ";
    sql += alternatives[i];
  }
  sql += ')';
}

// Prepares (or takes from the cache) a statement into `var`, returning the
// error from the enclosing function on failure.
#define CTI_TRY_PREPARE(var, sql_text)                         \
  auto var##_result_ = prepare(sql_text);                      \
  if (!var##_result_) return std::move(var##_result_).error(); \
  Stmt var = std::move(*var##_result_)

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string path, std::function<Micros()> now)
      : db_(db), path_(std::move(path)), now_(std::move(now)) {}
  ~SqliteStore() override {
    if (checkpointer_.joinable()) {
      {
        std::lock_guard lock(checkpoint_mutex_);
        checkpoint_stop_ = true;
      }
      checkpoint_wanted_.notify_one();
      checkpointer_.join();
    }
    if (checkpoint_db_ != nullptr) sqlite3_close_v2(checkpoint_db_);
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<std::vector<AddOutcome>> add(std::string_view collection, const std::vector<NewObject>& objects) override {
    return guarded<std::vector<AddOutcome>>([&] { return add_locked(collection, objects); });
  }
  Result<Page> query(const Query& query) override {
    return guarded<Page>([&] { return query_locked(query); });
  }
  Result<std::uint64_t> remove(std::string_view collection, std::string_view id, const VersionMatch& versions,
                               const std::vector<std::string>& spec_versions) override {
    return guarded<std::uint64_t>([&] { return remove_locked(collection, id, versions, spec_versions); });
  }
  Status put_status(const StatusRecord& status) override {
    return guarded<void>([&] { return put_status_locked(status); });
  }
  // Group commit: a caller that finds no batch running leads one. It takes
  // every request queued by then (its own first), stores each in a
  // savepoint of one transaction and commits them together, so requests
  // arriving while a commit syncs share the next commit: one sync, and one
  // rewrite of each index page they touch, for all of them. A request that
  // fails is rolled back to its savepoint alone; a failed commit fails them
  // all, and nothing is acknowledged before the commit.
  Result<std::vector<AddOutcome>> add_with_status(
      std::string_view collection, const std::vector<NewObject>& objects,
      const std::function<StatusRecord(const std::vector<AddOutcome>&)>& make_status) override {
    AddRequest me{collection, &objects, &make_status, {}};
    std::unique_lock lock(queue_mutex_);
    queue_.push_back(&me);
    while (!me.result) {
      if (leading_) {
        queue_done_.wait(lock);
        continue;
      }
      leading_ = true;
      std::vector<AddRequest*> batch;
      std::size_t count = 0;
      while (!queue_.empty() && (batch.empty() || count + queue_.front()->objects->size() <= kMaxBatchObjects)) {
        count += queue_.front()->objects->size();
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      auto results = run_batch(batch);
      lock.lock();
      // Set under the lock: a follower reads its result under it.
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
      leading_ = false;
      queue_done_.notify_all();
    }
    return std::move(*me.result);
  }
  Result<std::optional<StatusRecord>> get_status(std::string_view id) override {
    return guarded<std::optional<StatusRecord>>([&] { return get_status_locked(id); });
  }
  Status expire_statuses(Micros cutoff) override {
    return guarded<void>([&]() -> Status {
      CTI_TRY_PREPARE(stmt, "DELETE FROM statuses WHERE complete = 1 AND request_timestamp < ?");
      stmt.bind(1, cutoff);
      if (int rc = stmt.step(); rc != SQLITE_DONE) return fail(rc);
      return {};
    });
  }

  sqlite3* handle() const { return db_; }

  // Background checkpoints: a commit that leaves at least `pages` frames
  // in the WAL wakes a thread that copies them into the database file
  // through its own connection `db` (which it then owns), so the writer no
  // longer stops for that copy and its sync: about a third of the commits'
  // time in a long ingest. A writer that finds `limit` frames (the thread
  // not keeping up) checkpoints itself, as SQLite would, so the WAL stays
  // bounded. Replaces SQLite's own automatic checkpoint.
  // When the writes stop for kIdleCheckpoint, the thread also copies what
  // the WAL holds below that interval: a WAL read to its end is ignored by
  // new readers, which then take every page from the memory-mapped file
  // instead of a pread of the WAL each (a sixth of a paged GET's time
  // after an ingest).
  void start_checkpointer(sqlite3* db, int pages, int limit) {
    checkpoint_db_ = db;
    checkpoint_pages_ = pages;
    checkpoint_limit_ = limit;
    sqlite3_wal_hook(db_, &SqliteStore::on_commit, this);
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
  }

  // The key of idh (see the top), read once the schema is current.
  void set_id_key(const detail::SipKey& key) { id_key_ = key; }
  std::int64_t id_hash(std::string_view id) const {
    const auto h = detail::siphash128(id_key_, id);
    std::int64_t v = 0;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }

  // Runs a statement that returns no rows (pragmas, DDL, BEGIN/COMMIT).
  Status exec(const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (message != nullptr) sqlite3_free(message);
    if (rc != SQLITE_OK) return fail(rc);
    return {};
  }

  // A failure of the last call on the connection, named after the store.
  Error fail(int rc) const {
    int primary = rc & 0xff;
    // Busy means another process holds the lock: worth retrying (75).
    ErrorCategory category =
        primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? ErrorCategory::temp_fail : ErrorCategory::io;
    const char* what = sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    return Error(category, "taxii store " + quote(path_) + ": " + what);
  }

 private:
  // Serialises callers on the one connection and turns escaping exceptions
  // (allocation failure) into errors: nothing is thrown across Store.
  template <typename T, typename F>
  Result<T> guarded(F&& body) {
    try {
      std::lock_guard lock(mutex_);
      trim_cache();
      if (remap_due_.exchange(false)) refresh_map();
      return body();
    } catch (const std::exception& e) {
      return Error(ErrorCategory::internal, "taxii store " + quote(path_) + ": " + e.what());
    }
  }

  // The store's connection maps as much of the database file as it had
  // when it last wrote it or saw another connection's commit, and never
  // its own commits: the pages the checkpointer copies past that end would
  // be read with pread for the life of the process. Changing the mmap
  // limit maps the file again at its current size. An optimisation only:
  // a failure leaves the reads on pread.
  void refresh_map() {
    (void)exec(kMmapSizeNudged);
    (void)exec(kMmapSize);
  }

  static int on_commit(void* self, sqlite3* db, const char* schema, int frames) {
    auto& store = *static_cast<SqliteStore*>(self);
    if (frames >= store.checkpoint_limit_) {
      (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      return SQLITE_OK;
    }
    const bool due = frames >= store.checkpoint_pages_;
    bool wake = due;
    {
      std::lock_guard lock(store.checkpoint_mutex_);
      store.checkpoint_due_ = store.checkpoint_due_ || due;
      wake = wake || !store.idle_due_;  // the first commit after a quiet spell starts the idle clock
      store.idle_due_ = true;
      store.last_commit_ = std::chrono::steady_clock::now();
    }
    if (wake) store.checkpoint_wanted_.notify_one();
    return SQLITE_OK;
  }

  void checkpoint_loop() {
    std::unique_lock lock(checkpoint_mutex_);
    const auto idle_over = [this] {
      return idle_due_ && std::chrono::steady_clock::now() >= last_commit_ + kIdleCheckpoint;
    };
    for (;;) {
      if (idle_due_) {
        checkpoint_wanted_.wait_until(lock, last_commit_ + kIdleCheckpoint,
                                      [&] { return checkpoint_due_ || checkpoint_stop_ || idle_over(); });
      } else {
        checkpoint_wanted_.wait(lock, [this] { return checkpoint_due_ || checkpoint_stop_ || idle_due_; });
      }
      if (checkpoint_stop_) return;
      if (!checkpoint_due_ && !idle_over()) continue;  // the idle clock started, or a commit moved it on
      // Either way the copy goes to the WAL's end, so the idle one is done too.
      checkpoint_due_ = idle_due_ = false;
      lock.unlock();
      // PASSIVE never waits for the writer or readers; what it cannot copy
      // now (busy, or frames still read) the next one copies. Failures are
      // not the writer's: its commits are durable in the WAL already.
      (void)sqlite3_wal_checkpoint_v2(checkpoint_db_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      remap_due_ = true;
      lock.lock();
    }
  }

  struct AddRequest {
    std::string_view collection;
    const std::vector<NewObject>* objects;
    const std::function<StatusRecord(const std::vector<AddOutcome>&)>* make_status;
    std::optional<Result<std::vector<AddOutcome>>> result;
  };

  // Stores a batch of add_with_status requests in one transaction (see
  // there); the result of each.
  std::vector<Result<std::vector<AddOutcome>>> run_batch(const std::vector<AddRequest*>& batch) {
    std::vector<std::optional<Result<std::vector<AddOutcome>>>> results(batch.size());
    auto status = guarded<void>([&]() -> Status {
      Transaction txn(*this);
      CTI_TRY_STATUS(txn.begin());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const AddRequest& r = *batch[i];
        CTI_TRY_STATUS(run_cached("SAVEPOINT add_request"));
        Result<std::vector<AddOutcome>> outcomes = Error(ErrorCategory::internal, "");
        try {
          outcomes = add_locked(r.collection, *r.objects);
          if (outcomes) {
            if (auto saved = put_status_locked((*r.make_status)(*outcomes)); !saved)
              outcomes = std::move(saved).error();
          }
        } catch (const std::exception& e) {
          outcomes = Error(ErrorCategory::internal, "taxii store " + quote(path_) + ": " + e.what());
        }
        if (!outcomes) CTI_TRY_STATUS(run_cached("ROLLBACK TO add_request"));
        CTI_TRY_STATUS(run_cached("RELEASE add_request"));
        results[i] = std::move(outcomes);
      }
      return txn.commit();
    });
    // A committed batch has every request's result; a failed one stored
    // nothing, and a request's own error says more than the batch's.
    std::vector<Result<std::vector<AddOutcome>>> out;
    out.reserve(batch.size());
    for (auto& r : results)
      out.push_back(r && (status || !*r) ? std::move(*r) : Result<std::vector<AddOutcome>>(status.error()));
    return out;
  }

  // Only called between operations: a statement evicted mid-call would be
  // finalized under the Stmt that uses it.
  void trim_cache() {
    if (cache_.size() < kMaxCachedStatements) return;
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    cache_.clear();
  }

  // The statement for `sql`, cached unless it has many parameters.
  Result<Stmt> prepare(const std::string& sql, std::size_t binds = 0) {
    if (auto it = cache_.find(sql); it != cache_.end()) return Stmt(it->second, false);
    sqlite3_stmt* stmt = nullptr;
    bool keep = binds <= kMaxCachedBinds;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), keep ? SQLITE_PREPARE_PERSISTENT : 0,
                                &stmt, nullptr);
    if (rc != SQLITE_OK) return fail(rc);
    if (keep) cache_.emplace(sql, stmt);
    return Stmt(stmt, !keep);
  }

  // BEGIN IMMEDIATE … COMMIT; rolls back unless committed. IMMEDIATE takes
  // the write lock up front, so a read-then-write never fails half way with
  // SQLITE_BUSY after the busy timeout could no longer help. Inside another
  // Transaction it joins that one: begin and commit do nothing, and the
  // outer one commits or rolls back the whole.
  class Transaction {
   public:
    explicit Transaction(SqliteStore& store) : store_(store) {}
    ~Transaction() {
      if (open_ && sqlite3_get_autocommit(store_.db_) == 0) {
        auto s = store_.run_cached("ROLLBACK");
        (void)s;
      }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Status begin() {
      if (sqlite3_get_autocommit(store_.db_) == 0) return {};  // nested: the outer one owns it
      CTI_TRY_STATUS(store_.run_cached("BEGIN IMMEDIATE"));
      open_ = true;
      return {};
    }
    Status commit() {
      if (!open_) return {};
      CTI_TRY_STATUS(store_.run_cached("COMMIT"));
      open_ = false;
      return {};
    }

   private:
    SqliteStore& store_;
    bool open_ = false;
  };

  Status run_cached(const std::string& sql) {
    CTI_TRY_PREPARE(stmt, sql);
    if (int rc = stmt.step(); rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(rc);
    return {};
  }

  // The integer key of a collection, if it has ever been written to.
  Result<std::optional<std::int64_t>> find_collection(std::string_view name) {
    CTI_TRY_PREPARE(stmt, "SELECT cid FROM collections WHERE name = ?");
    stmt.bind(1, name);
    int rc = stmt.step();
    if (rc == SQLITE_DONE) return std::optional<std::int64_t>();
    if (rc != SQLITE_ROW) return fail(rc);
    return std::optional<std::int64_t>(stmt.int_at(0));
  }

  Result<std::vector<AddOutcome>> add_locked(std::string_view collection, const std::vector<NewObject>& objects) {
    std::vector<AddOutcome> outcomes;
    if (objects.empty()) return outcomes;
    outcomes.reserve(objects.size());
    Transaction txn(*this);
    CTI_TRY_STATUS(txn.begin());

    std::int64_t cid = 0;
    Micros last = 0;
    {
      CTI_TRY_PREPARE(create,
                      "INSERT INTO collections (name, last_date_added) VALUES (?, 0) ON CONFLICT (name) DO NOTHING");
      create.bind(1, collection);
      if (int rc = create.step(); rc != SQLITE_DONE) return fail(rc);
      CTI_TRY_PREPARE(read, "SELECT cid, last_date_added FROM collections WHERE name = ?");
      read.bind(1, collection);
      if (int rc = read.step(); rc != SQLITE_ROW) return fail(rc);
      cid = read.int_at(0);
      last = read.int_at(1);
    }

    CTI_TRY_PREPARE(
        insert,
        "INSERT INTO objects (cid, id, version, version_key, spec_version, type, date_added, json, is_last, "
        "idh) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    // Every version of the object (see idh at the top): whether this one is
    // stored already, and which is the last (see is_last). An object has
    // few versions, and a new object none: then the seek in objects_by_id
    // is all it costs.
    CTI_TRY_PREPARE(versions, "SELECT rowid, spec_version, version_key, id FROM objects WHERE cid = ? AND idh = ?");
    CTI_TRY_PREPARE(existing, "SELECT json, date_added FROM objects WHERE rowid = ?");
    CTI_TRY_PREPARE(demote, "UPDATE objects SET is_last = 0 WHERE rowid = ?");
    insert.bind(1, cid);
    versions.bind(1, cid);
    std::string key, newest_spec, newest_key;
    for (const NewObject& object : objects) {
      key = version_key(object.version);
      if (last == std::numeric_limits<Micros>::max()) {
        return Error(ErrorCategory::internal, "taxii store " + quote(path_) + ": date_added exhausted");
      }
      const std::int64_t idh = id_hash(object.id);
      versions.bind(2, idh);
      std::optional<std::int64_t> same_version, newest;
      int rc;
      while ((rc = versions.step()) == SQLITE_ROW) {
        if (versions.text_at(3) != object.id) continue;  // another id with the same hash
        const std::string_view spec = versions.text_at(1);
        const std::string_view vkey = versions.text_at(2);
        if (vkey == key) same_version = versions.int_at(0);
        if (!newest || spec > newest_spec || (spec == newest_spec && vkey > newest_key)) {
          newest = versions.int_at(0);
          newest_spec = spec;
          newest_key = vkey;
        }
      }
      versions.reset();
      if (rc != SQLITE_DONE) return fail(rc);

      // Already stored (an identity is (id, version), whatever the
      // spec_version): a duplicate when the bytes are the same, else a
      // conflict; nothing is written either way.
      if (same_version) {
        existing.bind(1, *same_version);
        rc = existing.step();
        if (rc != SQLITE_ROW) {
          existing.reset();
          return rc == SQLITE_DONE ? fail(SQLITE_INTERNAL) : fail(rc);
        }
        AddOutcome outcome;
        outcome.kind = existing.text_at(0) == object.json ? AddOutcome::Kind::duplicate : AddOutcome::Kind::conflict;
        if (outcome.kind == AddOutcome::Kind::duplicate) outcome.date_added = existing.int_at(1);
        existing.reset();
        outcomes.push_back(outcome);
        continue;
      }

      // Strictly increasing even when the clock steps back or many objects
      // share a microsecond: paging on date_added relies on it.
      const Micros date_added = std::max(now_(), last + 1);
      const bool is_last =
          !newest || newest_spec < object.spec_version || (newest_spec == object.spec_version && newest_key < key);
      insert.bind(2, object.id);
      insert.bind(3, object.version);
      insert.bind(4, key);
      insert.bind(5, object.spec_version);
      insert.bind(6, object.type);
      insert.bind(7, date_added);
      insert.bind(8, object.json);
      insert.bind(9, std::int64_t{is_last ? 1 : 0});
      insert.bind(10, idh);
      rc = insert.step();
      insert.reset();
      if (rc != SQLITE_DONE) return fail(rc);
      if (is_last && newest) {
        demote.bind(1, *newest);
        rc = demote.step();
        demote.reset();
        if (rc != SQLITE_DONE) return fail(rc);
      }
      last = date_added;
      outcomes.push_back({AddOutcome::Kind::added, date_added});
    }

    {
      CTI_TRY_PREPARE(update, "UPDATE collections SET last_date_added = ? WHERE cid = ?");
      update.bind(1, last);
      update.bind(2, cid);
      if (int rc = update.step(); rc != SQLITE_DONE) return fail(rc);
    }
    CTI_TRY_STATUS(txn.commit());
    return outcomes;
  }

  Result<Page> query_locked(const Query& q) {
    Page page;
    auto cid = find_collection(q.collection);
    if (!cid) return std::move(cid).error();
    if (!*cid) return page;

    const Query::Content content = q.content;
    std::string sql = content == Query::Content::envelope   ? "SELECT o.date_added, o.json FROM objects o "
                      : content == Query::Content::metadata ? "SELECT o.date_added, o.id, o.version, o.spec_version, "
                                                              "o.type FROM objects o "
                                                            : "SELECT o.date_added, o.id, o.version, o.spec_version, "
                                                              "o.type, o.json FROM objects o ";
    // Without statistics the planner walks objects_by_date for the ORDER BY
    // even when match[id] names a handful of objects: a scan of the whole
    // collection for GET …/objects/{id}/. Seek the ids instead and sort the
    // few rows found.
    if (!q.ids.empty()) {
      sql += "INDEXED BY objects_by_id ";
    } else if (last_only(q.versions, q.spec_versions)) {
      sql += "INDEXED BY objects_last_by_date ";
    }
    sql += "WHERE o.cid = ? AND o.date_added > ?";
    Binds binds;
    add_int(binds, **cid);
    Micros after = std::numeric_limits<Micros>::min();
    if (q.added_after) after = std::max(after, *q.added_after);
    if (q.position) after = std::max(after, *q.position);
    add_int(binds, after);
    if (!q.ids.empty()) {
      // A row's idh is its id's hash, so this is exactly "id IN ids".
      sql += " AND o.idh IN ";
      add_list(sql, binds, q.ids, [this](const std::string& id) { return id_hash(id); });
      sql += " AND o.id IN ";
      add_list(sql, binds, q.ids, same);
    }
    if (!q.types.empty()) {
      sql += " AND o.type IN ";
      add_list(sql, binds, q.types, same);
    }
    add_selection(sql, binds, q.versions, q.spec_versions);
    sql += " ORDER BY o.date_added LIMIT ?";
    // One row past the page tells whether there is more.
    std::size_t limit = std::min<std::size_t>(q.limit, std::numeric_limits<std::int32_t>::max());
    add_int(binds, static_cast<std::int64_t>(limit) + 1);

    auto prepared = prepare(sql, binds.size());
    if (!prepared) return std::move(prepared).error();
    Stmt& stmt = *prepared;
    stmt.bind_all(binds);
    page.objects.reserve(std::min<std::size_t>(limit, 1000));
    if (content == Query::Content::envelope) page.joined_json.reserve(std::min<std::size_t>(limit, 1000) * 2048);
    for (;;) {
      int rc = stmt.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(rc);
      if (page.objects.size() == limit) {
        page.more = true;
        break;
      }
      StoredObject& o = page.objects.emplace_back();
      o.date_added = stmt.int_at(0);
      if (content == Query::Content::envelope) {
        // Straight from SQLite's row into the page: no string per object.
        if (!page.joined_json.empty()) page.joined_json += ',';
        page.joined_json += stmt.text_at(1);
        continue;
      }
      o.id = stmt.text_at(1);
      o.version = stmt.text_at(2);
      o.spec_version = stmt.text_at(3);
      o.type = stmt.text_at(4);
      if (content == Query::Content::full) o.json = stmt.text_at(5);
    }
    return page;
  }

  Result<std::uint64_t> remove_locked(std::string_view collection, std::string_view id, const VersionMatch& versions,
                                      const std::vector<std::string>& spec_versions) {
    auto cid = find_collection(collection);
    if (!cid) return std::move(cid).error();
    if (!*cid) return std::uint64_t{0};
    // The selection is materialised before the delete starts, so first and
    // last are judged on the versions as they were.
    std::string sql =
        "DELETE FROM objects WHERE rowid IN (SELECT o.rowid FROM objects o WHERE o.cid = ? AND o.idh = ? AND "
        "o.id = ?";
    Binds binds;
    add_int(binds, **cid);
    add_int(binds, id_hash(id));
    add_text(binds, std::string(id));
    add_selection(sql, binds, versions, spec_versions);
    sql += ')';
    auto prepared = prepare(sql, binds.size());
    if (!prepared) return std::move(prepared).error();
    Stmt& stmt = *prepared;
    stmt.bind_all(binds);
    Transaction txn(*this);
    CTI_TRY_STATUS(txn.begin());
    if (int rc = stmt.step(); rc != SQLITE_DONE) return fail(rc);
    const auto removed = static_cast<std::uint64_t>(sqlite3_changes64(db_));
    // If the last version went, the newest left takes its place.
    CTI_TRY_PREPARE(promote,
                    "UPDATE objects SET is_last = 1 WHERE rowid = (SELECT rowid FROM objects WHERE cid = ? "
                    "AND idh = ? AND id = ? ORDER BY spec_version DESC, version_key DESC LIMIT 1)");
    const std::int64_t idh = id_hash(id);
    promote.bind(1, **cid);
    promote.bind(2, idh);
    promote.bind(3, id);
    if (int rc = promote.step(); rc != SQLITE_DONE) return fail(rc);
    CTI_TRY_STATUS(txn.commit());
    return removed;
  }

  Status put_status_locked(const StatusRecord& s) {
    Transaction txn(*this);
    CTI_TRY_STATUS(txn.begin());
    {
      CTI_TRY_PREPARE(upsert,
                      "INSERT INTO statuses (id, api_root, owner, complete, request_timestamp, total, success, "
                      "failure, pending, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                      "SET "
                      "api_root = excluded.api_root, owner = excluded.owner, complete = excluded.complete, "
                      "request_timestamp = excluded.request_timestamp, total = excluded.total, "
                      "success = excluded.success, failure = excluded.failure, pending = excluded.pending, "
                      "details = excluded.details");
      upsert.bind(1, s.id);
      upsert.bind(2, s.api_root);
      upsert.bind(3, s.user);
      upsert.bind(4, std::int64_t{s.complete ? 1 : 0});
      upsert.bind(5, s.request_timestamp);
      upsert.bind(6, static_cast<std::int64_t>(s.total));
      upsert.bind(7, static_cast<std::int64_t>(s.success));
      upsert.bind(8, static_cast<std::int64_t>(s.failure));
      upsert.bind(9, static_cast<std::int64_t>(s.pending));
      const std::string details = encode_details(s);
      upsert.bind_blob(10, details);
      if (int rc = upsert.step(); rc != SQLITE_DONE) return fail(rc);
    }
    {
      // Rows a status written before schema 4 may have.
      CTI_TRY_PREPARE(clear, "DELETE FROM status_details WHERE status_id = ?");
      clear.bind(1, s.id);
      if (int rc = clear.step(); rc != SQLITE_DONE) return fail(rc);
    }
    return txn.commit();
  }

  Result<std::optional<StatusRecord>> get_status_locked(std::string_view id) {
    // One read transaction, so the record and its details agree even while
    // another process rewrites the status.
    CTI_TRY_STATUS(run_cached("BEGIN"));
    auto result = read_status(id);
    if (sqlite3_get_autocommit(db_) == 0) {
      auto s = run_cached("COMMIT");
      if (!s && result) return std::move(s).error();
    }
    return result;
  }

  Result<std::optional<StatusRecord>> read_status(std::string_view id) {
    StatusRecord r;
    {
      CTI_TRY_PREPARE(head,
                      "SELECT id, api_root, owner, complete, request_timestamp, total, success, failure, pending, "
                      "details FROM statuses WHERE id = ?");
      head.bind(1, id);
      int rc = head.step();
      if (rc == SQLITE_DONE) return std::optional<StatusRecord>();
      if (rc != SQLITE_ROW) return fail(rc);
      r.id = head.text_at(0);
      r.api_root = head.text_at(1);
      r.user = head.text_at(2);
      r.complete = head.int_at(3) != 0;
      r.request_timestamp = head.int_at(4);
      r.total = static_cast<std::uint64_t>(head.int_at(5));
      r.success = static_cast<std::uint64_t>(head.int_at(6));
      r.failure = static_cast<std::uint64_t>(head.int_at(7));
      r.pending = static_cast<std::uint64_t>(head.int_at(8));
      if (!head.null_at(9)) {
        if (!decode_details(head.blob_at(9), r))
          return Error(ErrorCategory::data, "taxii store " + quote(path_) + ": the details of status " +
                                                quote(std::string(id)) + " are damaged");
        return std::optional<StatusRecord>(std::move(r));
      }
    }
    // Written before schema 4: one row per detail.
    CTI_TRY_PREPARE(details,
                    "SELECT kind, id, version, message FROM status_details WHERE status_id = ? ORDER BY kind, seq");
    details.bind(1, id);
    std::vector<StatusDetail>* lists[] = {&r.successes, &r.failures, &r.pendings};
    for (;;) {
      int rc = details.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(rc);
      std::int64_t kind = details.int_at(0);
      if (kind < 0 || kind > 2) continue;
      lists[kind]->push_back(
          {std::string(details.text_at(1)), std::string(details.text_at(2)), std::string(details.text_at(3))});
    }
    return std::optional<StatusRecord>(std::move(r));
  }

#undef CTI_TRY_PREPARE

  sqlite3* db_;
  std::string path_;
  std::function<Micros()> now_;
  std::mutex mutex_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  detail::SipKey id_key_{};
  // The background checkpointer (see start_checkpointer).
  sqlite3* checkpoint_db_ = nullptr;
  int checkpoint_pages_ = 0, checkpoint_limit_ = 0;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wanted_;
  bool checkpoint_due_ = false, checkpoint_stop_ = false;
  std::atomic<bool> remap_due_{false};  // a checkpoint ran: see refresh_map
  bool idle_due_ = false;               // commits since the last checkpoint, the last at last_commit_
  std::chrono::steady_clock::time_point last_commit_;
  std::thread checkpointer_;
  // add_with_status's queue (see there), under queue_mutex_.
  std::mutex queue_mutex_;
  std::condition_variable queue_done_;
  std::deque<AddRequest*> queue_;
  bool leading_ = false;
};

Error open_error(ErrorCategory category, const std::string& path, std::string_view what) {
  return Error(category, "taxii store " + quote(path) + ": " + std::string(what));
}

// Reads one integer pragma; SQLITE_NOTADB here means the file is not a
// database at all.
Result<std::int64_t> read_int(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  std::string message = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  if (rc == SQLITE_ROW) return value;
  if ((rc & 0xff) == SQLITE_NOTADB) return open_error(ErrorCategory::data, path, "not a ctishare store: " + message);
  if ((rc & 0xff) == SQLITE_BUSY) return open_error(ErrorCategory::temp_fail, path, message);
  return open_error(ErrorCategory::cannot_create, path, message);
}

struct Identity {
  std::int64_t application_id = 0, user_version = 0, tables = 0;
};

Result<Identity> read_identity(sqlite3* db, const std::string& path) {
  Identity id;
  auto app = read_int(db, path, "PRAGMA application_id");
  if (!app) return std::move(app).error();
  auto version = read_int(db, path, "PRAGMA user_version");
  if (!version) return std::move(version).error();
  auto tables = read_int(db, path, "SELECT count(*) FROM sqlite_master");
  if (!tables) return std::move(tables).error();
  return Identity{*app, *version, *tables};
}

// Ok when the database is ours and current; `fresh` when it is empty.
Result<bool> check_identity(const Identity& id, const std::string& path) {
  if (id.application_id == 0 && id.tables == 0) return true;
  if (id.application_id != kApplicationId) {
    return open_error(ErrorCategory::data, path, "not a ctishare store (an SQLite database of another program)");
  }
  if (id.user_version > kSchemaVersion) {
    return open_error(ErrorCategory::data, path,
                      "written by a newer ctishare (store schema " + std::to_string(id.user_version) +
                          ", this build knows up to " + std::to_string(kSchemaVersion) + ")");
  }
  if (id.user_version < 1) return open_error(ErrorCategory::data, path, "not a ctishare store (no schema version)");
  return false;
}

// Reads the key of idh (see the top).
Result<detail::SipKey> read_id_key(sqlite3* db, const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT key FROM store_keys WHERE name = 'idh'", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  detail::SipKey key{};
  const bool ok = rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == static_cast<int>(key.size());
  if (ok) std::memcpy(key.data(), sqlite3_column_blob(stmt, 0), key.size());
  std::string message =
      rc == SQLITE_ROW || rc == SQLITE_DONE ? "the id hash key is missing or damaged" : sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  if (!ok) return open_error(ErrorCategory::data, path, message);
  return key;
}

// Brings a store of schema 1 or 2 to the current one in one transaction (a
// crash leaves it as it was, to be migrated at the next start): schema 1
// gets each object's last version marked (is_last) and those rows indexed;
// schema 2 gets idh, its key and its index instead of the two indexes on
// the id text; schema 3 gets statuses.details (its statuses keep their
// rows in status_details).
Status migrate(SqliteStore& store, const std::string& path) {
  CTI_TRY_STATUS(store.exec("BEGIN IMMEDIATE"));
  auto rollback = [&](Error e) -> Status {
    (void)store.exec("ROLLBACK");
    return e;
  };
  auto version = read_int(store.handle(), path, "PRAGMA user_version");  // another process may have migrated it
  if (!version) return rollback(std::move(version).error());
  if (*version == 1) {
    if (auto s = store.exec(
            "ALTER TABLE objects ADD COLUMN is_last INTEGER NOT NULL DEFAULT 0;"
            "UPDATE objects SET is_last = 1 WHERE rowid IN (SELECT (SELECT v.rowid FROM objects v WHERE v.cid = o.cid "
            "AND v.id = o.id ORDER BY v.spec_version DESC, v.version_key DESC LIMIT 1) FROM objects o "
            "GROUP BY o.cid, o.id);"
            "CREATE INDEX objects_last_by_date ON objects(cid, date_added) WHERE is_last = 1;"
            "PRAGMA user_version=2;");
        !s)
      return rollback(std::move(s).error());
  }
  if (*version <= 2) {
    if (auto s = store.exec("ALTER TABLE objects ADD COLUMN idh INTEGER NOT NULL DEFAULT 0;"
                            "CREATE TABLE store_keys (name TEXT PRIMARY KEY, key BLOB NOT NULL);"
                            "INSERT INTO store_keys (name, key) VALUES ('idh', randomblob(16));");
        !s)
      return rollback(std::move(s).error());
    auto key = read_id_key(store.handle(), path);
    if (!key) return rollback(std::move(key).error());
    store.set_id_key(*key);
    {
      sqlite3_stmt* r = nullptr;
      sqlite3_stmt* w = nullptr;
      int rc = sqlite3_prepare_v2(store.handle(), "SELECT rowid, id FROM objects", -1, &r, nullptr);
      Stmt read(r, true);
      if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(store.handle(), "UPDATE objects SET idh = ? WHERE rowid = ?", -1, &w, nullptr);
      Stmt write(w, true);
      if (rc != SQLITE_OK) return rollback(store.fail(rc));
      while ((rc = read.step()) == SQLITE_ROW) {
        write.bind(1, store.id_hash(read.text_at(1)));
        write.bind(2, read.int_at(0));
        if (int written = write.step(); written != SQLITE_DONE) return rollback(store.fail(written));
        write.reset();
      }
      if (rc != SQLITE_DONE) return rollback(store.fail(rc));
    }
    if (auto s = store.exec("CREATE INDEX objects_by_id ON objects(cid, idh);"
                            "DROP INDEX IF EXISTS objects_by_spec; DROP INDEX IF EXISTS objects_by_version;"
                            "PRAGMA user_version=3;");
        !s)
      return rollback(std::move(s).error());
  }
  if (*version <= 3) {
    if (auto s = store.exec("ALTER TABLE statuses ADD COLUMN details BLOB; PRAGMA user_version=4;"); !s)
      return rollback(std::move(s).error());
  }
  if (auto s = store.exec("COMMIT"); !s) return rollback(std::move(s).error());
  return {};
}

Result<std::unique_ptr<Store>> open_store(const std::string& path, std::function<Micros()> now) {
  bool in_memory = path == ":memory:";
  bool created = false;
  if (!in_memory) {
    // SQLite would create the file 0644; the store holds partners' shared
    // intelligence, so create it 0600 ourselves (SQLite gives -wal and -shm
    // the same mode as the database).
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      created = true;
      int rc = ::fchmod(fd, 0600);
      int err = errno;
      ::close(fd);
      if (rc != 0) {
        ::unlink(path.c_str());
        return open_error(ErrorCategory::cannot_create, path, std::strerror(err));
      }
    } else if (errno != EEXIST) {
      return open_error(ErrorCategory::cannot_create, path, std::strerror(errno));
    }
  }
  auto discard = [&] {
    if (created) ::unlink(path.c_str());
  };

  // SQLite's memory statistics take a global mutex on every allocation,
  // shared by all connections and threads; nothing here reads them. Must
  // come before SQLite initialises (it fails harmlessly afterwards).
  static const bool memstatus_off = [] { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }();
  (void)memstatus_off;

  // Writes to the WAL are gathered (see wal_buffer.h; this connection
  // keeps synchronous=FULL, which that needs).
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           in_memory ? nullptr : detail::wal_buffer_vfs());
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    discard();
    return open_error(ErrorCategory::cannot_create, path, message);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  auto store = std::make_unique<SqliteStore>(db, path, std::move(now));
  auto fail = [&](Error e) -> Result<std::unique_ptr<Store>> {
    store.reset();
    discard();
    return e;
  };

  if (sqlite3_db_readonly(db, "main") == 1) return fail(open_error(ErrorCategory::cannot_create, path, "read-only"));
  auto identity = read_identity(db, path);
  if (!identity) return fail(std::move(identity).error());
  auto fresh = check_identity(*identity, path);
  if (!fresh) return fail(std::move(fresh).error());

  // 16 KiB pages for a new store: an object is about 1.5 KB, so a page of
  // 100 objects spans a dozen pages instead of forty, and ingest writes
  // (and checkpoints) a quarter of the WAL frames: measured, about a third
  // less CPU per object stored. Only possible before the file has content;
  // existing stores keep their page size.
  if (*fresh && !in_memory) {
    if (auto s = store->exec("PRAGMA page_size=16384"); !s) return fail(std::move(s).error());
  }
  // WAL: readers never block the writer and a commit is one append plus
  // one fsync (synchronous=FULL makes every commit durable, as add()
  // promises). An in-memory database keeps its "memory" journal.
  if (!in_memory) {
    auto mode = std::string();
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW) return fail(store->fail(rc));
    if (mode != "wal") {
      return fail(open_error(ErrorCategory::cannot_create, path, "cannot use the WAL journal (mode " + mode + ")"));
    }
  }
  // mmap: page reads of a collection larger than the page cache become
  // memory reads instead of pread calls (a third off a paged GET). A 32 MB
  // checkpoint interval lets batches of 1,000 objects share checkpoints
  // (each one writes and syncs the database file), and they run in the
  // background (see start_checkpointer); the WAL is cut back to 64 MB
  // afterwards.
  // synchronous=FULL: every commit durable, as add() promises, and what
  // the WAL buffer relies on.
  for (const char* pragma : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", "PRAGMA cache_size=-16384", kMmapSize,
                             "PRAGMA journal_size_limit=67108864"}) {
    if (auto s = store->exec(pragma); !s) return fail(std::move(s).error());
  }
  // The checkpoint interval in pages: 32 MB whatever the page size.
  auto page_size = read_int(db, path, "PRAGMA page_size");
  if (!page_size) return fail(std::move(page_size).error());
  const int checkpoint_pages = static_cast<int>((32 << 20) / std::max<std::int64_t>(*page_size, 512));
  if (*fresh) {
    // Re-check under the write lock: another process may have created the
    // schema since we looked.
    if (auto s = store->exec("BEGIN IMMEDIATE"); !s) return fail(std::move(s).error());
    auto again = read_identity(db, path);
    Result<bool> still_fresh = again ? check_identity(*again, path) : Result<bool>(std::move(again).error());
    if (!still_fresh) {
      (void)store->exec("ROLLBACK");
      return fail(std::move(still_fresh).error());
    }
    if (*still_fresh) {
      std::string ddl = kSchema;
      ddl += "PRAGMA application_id=" + std::to_string(kApplicationId) + ";";
      ddl += "PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";";
      if (auto s = store->exec(ddl.c_str()); !s) {
        (void)store->exec("ROLLBACK");
        return fail(std::move(s).error());
      }
    }
    if (auto s = store->exec("COMMIT"); !s) {
      (void)store->exec("ROLLBACK");
      return fail(std::move(s).error());
    }
  }
  if (!*fresh && identity->user_version < kSchemaVersion) {
    if (auto s = migrate(*store, path); !s) return fail(std::move(s).error());
  }
  auto key = read_id_key(db, path);
  if (!key) return fail(std::move(key).error());
  store->set_id_key(*key);
  // Last, on a store in its final shape.
  if (!in_memory) {
    sqlite3* checkpoint_db = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &checkpoint_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    // A connection learns that the file is in WAL mode when it first reads
    // it; until then a checkpoint does nothing.
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(checkpoint_db, kBusyTimeoutMs);
      rc = sqlite3_exec(checkpoint_db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    }
    if (rc != SQLITE_OK) {
      std::string message = checkpoint_db != nullptr ? sqlite3_errmsg(checkpoint_db) : sqlite3_errstr(rc);
      sqlite3_close_v2(checkpoint_db);
      return fail(open_error(ErrorCategory::cannot_create, path, message));
    }
    store->start_checkpointer(checkpoint_db, checkpoint_pages, 8 * checkpoint_pages);
  }

  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  return open_sqlite_store(path, system_now_micros);
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, std::function<Micros()> now_micros) {
  if (!now_micros) now_micros = system_now_micros;
  try {
    return open_store(path, std::move(now_micros));
  } catch (const std::exception& e) {
    return Error(ErrorCategory::internal, "taxii store " + quote(path) + ": " + e.what());
  }
}

}  // namespace ctishare::taxii
