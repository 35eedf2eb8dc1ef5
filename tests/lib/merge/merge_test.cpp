// feed-merge's store and publication: ingest (versions, revocation,
// channels, bad input), the rows (tier gates, decay, corroboration,
// decisions, allowlist) and publish (unchanged files, the sanity gate,
// removed.csv, the RPZ serial).
#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "ctishare/allowlist.h"
#include "ctishare/file.h"
#include "ctishare/merge_store.h"
#include "merge/reader.h"
#include "support/temp_dir.h"

using namespace ctishare;
using namespace ctishare::merge;

namespace {

const std::string kIdentity(*trust::identity_object("merge test", "organization").find_string("id"));

Timestamp at(const char* text) { return *Timestamp::parse(text); }

std::string uuid(int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08d-0000-4000-8000-000000000000", n);
  return buf;
}

struct Ind {
  explicit Ind(int number) : n(number) {}
  int n;
  std::string value = "phish.example";
  std::string type = "domain-name";
  int confidence = 90;  // -1: none
  std::string modified = "2026-11-28T00:00:00.000Z";
  bool revoked = false;
  std::string valid_until;
  std::string producer = "identity--11111111-1111-4111-8111-111111111111";
};

std::string indicator(const Ind& i) {
  std::string o = R"({"type":"indicator","spec_version":"2.1","id":"indicator--)" + uuid(i.n) +
                  R"(","created_by_ref":")" + i.producer + R"(","created":"2026-11-28T00:00:00.000Z","modified":")" +
                  i.modified + R"(","pattern":"[)" + i.type + ":value = '" + i.value +
                  R"(']","pattern_type":"stix","valid_from":"2026-11-28T00:00:00Z")";
  if (i.confidence >= 0) o += R"(,"confidence":)" + std::to_string(i.confidence);
  if (i.revoked) o += R"(,"revoked":true)";
  if (!i.valid_until.empty()) o += R"(,"valid_until":")" + i.valid_until + "\"";
  return o + "}\n";
}

std::string assessment(int n, const std::string& source, double trust, const std::string& by = kIdentity) {
  char t[32];
  std::snprintf(t, sizeof t, "%g", trust);
  return R"({"type":"x-ctishare-assessment","spec_version":"2.1","id":"x-ctishare-assessment--)" + uuid(n + 5000) +
         R"(","created_by_ref":")" + by +
         R"(","created":"2026-11-28T00:00:00.000Z","modified":"2026-11-28T00:00:00.000Z","indicator_ref":"indicator--)" +
         uuid(n) + R"(","source":")" + source + R"(","source_trust":)" + t + "}\n";
}

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<Store> store;
  std::vector<std::string> reports;
  MergePolicy policy;

  Fixture() {
    auto s = Store::open(dir / "merge.db");
    REQUIRE(s);
    store = std::move(*s);
  }
  Result<IngestStats> ingest(const std::string& text) {
    std::istringstream in(text);
    return store->ingest(in, json::Limits{}, kIdentity, [this](const std::string& m) { reports.push_back(m); });
  }
  std::vector<Row> rows(const char* now = "2026-11-28T12:00:00Z") {
    auto r = store->rows(policy, at(now));
    REQUIRE(r);
    return std::move(*r);
  }
  Row only_row(const char* now = "2026-11-28T12:00:00Z") {
    auto r = rows(now);
    REQUIRE(r.size() == 1);
    return r.front();
  }
  Result<PublishReport> publish(const char* now = "2026-11-28T12:00:00Z", bool force = false) {
    PublishOptions o;
    o.out_dir = dir.path();
    o.exports.now = at(now);
    o.force = force;
    o.exports.allowlist = policy.allowlist;
    return merge::publish(*store, policy, o);
  }
};

}  // namespace

TEST_CASE("a partner's indicator with its assessment becomes one row", "[merge]") {
  Fixture f;
  auto stats = f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 0.8));
  REQUIRE(stats);
  CHECK(stats->indicators == 1);
  CHECK(stats->assessments == 1);
  CHECK(stats->stored == 1);
  const Row r = f.only_row();
  CHECK(r.value == "phish.example");
  CHECK(r.type == stix::ObservableType::domain);
  CHECK(r.action == trust::Action::block);  // 90 × 0.8 × (almost no decay) ≥ 70
  CHECK(r.status == RowStatus::active);
  CHECK(r.source_tier == "partner");
  CHECK(r.sources == std::vector<std::string>{"partner-b"});
  CHECK(r.stix_ids == std::vector<std::string>{"indicator--" + uuid(1)});
  CHECK(r.producer_confidence == 90);
}

TEST_CASE("ingest is idempotent and keeps the newest version", "[merge]") {
  Fixture f;
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 0.8)));
  auto again = f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 0.8));
  REQUIRE(again);
  CHECK(again->stored == 0);
  // A newer version with a lower confidence replaces it; an older one does not come back.
  Ind newer{1};
  newer.modified = "2026-11-29T00:00:00.000Z";
  newer.confidence = 40;
  REQUIRE(f.ingest(indicator(newer)));
  CHECK(f.only_row().producer_confidence == 40);
  REQUIRE(f.ingest(indicator(Ind(1))));
  CHECK(f.only_row().producer_confidence == 40);
}

TEST_CASE("a revocation, even of an older version, takes the value off the lists for good", "[merge]") {
  Fixture f;
  Ind v2{1};
  v2.modified = "2026-11-29T00:00:00.000Z";
  REQUIRE(f.ingest(indicator(v2) + assessment(1, "partner-b", 0.8)));
  Ind old_revoked{1};
  old_revoked.revoked = true;
  REQUIRE(f.ingest(indicator(old_revoked)));
  const Row r = f.only_row();
  CHECK(r.status == RowStatus::revoked);
  CHECK(r.action == trust::Action::observe);
  CHECK(r.reason == "revoked by its producer");
}

TEST_CASE("a second channel for a stored indicator keeps that indicator's own properties", "[merge]") {
  Fixture f;
  // Two indicators, the second without a confidence (the default, 50, applies).
  Ind second{2};
  second.value = "other.example";
  second.confidence = -1;
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 0.8) + indicator(second) +
                   assessment(2, "partner-b", 0.8)));
  // The same objects again through an open-source channel.
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "osint", 0.6) + indicator(second) + assessment(2, "osint", 0.6)));
  const auto rows = f.rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].value == "other.example");
  CHECK(rows[0].producer_confidence == 50);
  CHECK(rows[0].sources == std::vector<std::string>{"osint", "partner-b"});
  CHECK(rows[1].producer_confidence == 90);
}

TEST_CASE("the tier gates hold whatever the confidence", "[merge]") {
  const auto action_at = [](double trust) {
    Fixture f;
    Ind i{1};
    i.confidence = 100;
    REQUIRE(f.ingest(indicator(i) + assessment(1, "src", trust)));
    return f.only_row().action;
  };
  CHECK(action_at(1.0) == trust::Action::block);
  CHECK(action_at(0.8) == trust::Action::block);
  CHECK(action_at(0.6) == trust::Action::review);
  CHECK(action_at(0.3) == trust::Action::observe);
}

TEST_CASE("the configured trust wins; a source no longer configured is unverified", "[merge]") {
  Fixture f;
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 1.0)));
  f.policy.trust = {{"partner-b", 0.6}};
  CHECK(f.only_row().action == trust::Action::review);
  f.policy.trust = {{"someone-else", 1.0}};
  CHECK(f.only_row().action == trust::Action::observe);
}

TEST_CASE("assessments not in our name name no channel", "[merge]") {
  Fixture f;
  auto stats =
      f.ingest(indicator(Ind(1)) + assessment(1, "cert", 1.0, "identity--22222222-2222-4222-8222-222222222222"));
  REQUIRE(stats);
  CHECK(stats->assessments == 0);
  CHECK(f.rows().empty());
  auto unassessed = f.store->count_unassessed();
  REQUIRE(unassessed);
  CHECK(*unassessed == 1);
}

TEST_CASE("scores decay with time, then the row expires", "[merge]") {
  Fixture f;
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 0.8)));
  CHECK(f.only_row("2026-11-28T12:00:00Z").action == trust::Action::block);
  // Domains live 30 days at speed 0.5: after 20 days the score has fallen.
  const Row later = f.only_row("2026-12-18T00:00:00Z");
  CHECK(later.action == trust::Action::review);
  CHECK(later.score < 70);
  const Row gone = f.only_row("2027-01-05T00:00:00Z");
  CHECK(gone.status == RowStatus::expired);
  CHECK(gone.action == trust::Action::observe);
}

TEST_CASE("valid_until in the past expires a row", "[merge]") {
  Fixture f;
  Ind i{1};
  i.valid_until = "2026-11-29T00:00:00Z";
  REQUIRE(f.ingest(indicator(i) + assessment(1, "partner-b", 0.8)));
  CHECK(f.only_row("2026-11-28T12:00:00Z").status == RowStatus::active);
  const Row r = f.only_row("2026-11-30T00:00:00Z");
  CHECK(r.status == RowStatus::expired);
  CHECK(r.reason == "expired at valid_until 2026-11-29T00:00:00Z");
}

TEST_CASE("independent producers corroborate; one producer relayed twice does not", "[merge]") {
  Fixture f;
  // 60 × 0.8 = 48 from each of two producers: 1 − 0.52² = 72.96 → block.
  Ind a{1}, b{2};
  a.confidence = b.confidence = 60;
  b.producer = "identity--33333333-3333-4333-8333-333333333333";
  REQUIRE(f.ingest(indicator(a) + assessment(1, "partner-a", 0.8) + indicator(b) + assessment(2, "partner-b", 0.8)));
  Row r = f.only_row();
  CHECK(r.action == trust::Action::block);
  CHECK(r.stix_ids.size() == 2);

  Fixture g;
  Ind c{3}, d{4};
  c.confidence = d.confidence = 60;  // the same producer, two indicators
  REQUIRE(g.ingest(indicator(c) + assessment(3, "partner-a", 0.8) + indicator(d) + assessment(4, "partner-b", 0.8)));
  r = g.only_row();
  CHECK(r.action == trust::Action::review);
  CHECK(r.score < 50);
}

TEST_CASE("analysts' decisions: approve lifts review to block, reject suppresses", "[merge]") {
  Fixture f;
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "osint", 0.6)));
  CHECK(f.only_row().action == trust::Action::review);
  const Entry e{stix::ObservableType::domain, "phish.example"};
  REQUIRE(f.store->set_decision(e, Decision{Verdict::approve, "checked", "alice", "2026-11-28T10:00:00Z"}));
  Row r = f.only_row();
  CHECK(r.action == trust::Action::block);
  CHECK(r.reason.rfind("approved by alice at 2026-11-28T10:00:00Z: checked", 0) == 0);
  REQUIRE(f.store->set_decision(e, Decision{Verdict::reject, "our CDN", "bob", "2026-11-28T11:00:00Z"}));
  r = f.only_row();
  CHECK(r.status == RowStatus::suppressed);
  CHECK(r.action == trust::Action::observe);
  auto cleared = f.store->clear_decision(e);
  REQUIRE(cleared);
  CHECK(*cleared);
  CHECK(f.only_row().action == trust::Action::review);
}

TEST_CASE("an approval cannot lift an unverified source", "[merge]") {
  Fixture f;
  REQUIRE(f.ingest(indicator(Ind(1)) + assessment(1, "osint", 0.3)));
  REQUIRE(f.store->set_decision({stix::ObservableType::domain, "phish.example"},
                                Decision{Verdict::approve, "x", "alice", "2026-11-28T10:00:00Z"}));
  CHECK(f.only_row().action == trust::Action::observe);
}

TEST_CASE("IP addresses are observe-only by default, and the allowlist vetoes", "[merge]") {
  Fixture f;
  Ind ip{1};
  ip.type = "ipv4-addr";
  ip.value = "198.51.100.7";
  Ind bank{2};
  bank.value = "login.bank.example";
  REQUIRE(f.ingest(indicator(ip) + assessment(1, "cert", 1.0) + indicator(bank) + assessment(2, "cert", 1.0)));
  auto allow = trust::Allowlist::parse("type,value,reason,expires\ndomain,bank.example,our own sites,\n", "allow.csv");
  REQUIRE(allow);
  f.policy.allowlist = &*allow;
  const auto rows = f.rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].value == "login.bank.example");
  CHECK(rows[0].status == RowStatus::allowlisted);
  CHECK(rows[0].action == trust::Action::observe);
  CHECK(rows[1].value == "198.51.100.7");
  CHECK(rows[1].action == trust::Action::observe);
  CHECK(rows[1].reason.rfind("ipv4 values are observe-only", 0) == 0);
}

TEST_CASE("a broken input leaves no trace", "[merge]") {
  Fixture f;
  auto bad = f.ingest(indicator(Ind(1)) + assessment(1, "partner-b", 0.8) + "{\"type\": \"indicator\", ");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category() == ErrorCategory::data);
  CHECK(f.rows().empty());
  auto utf8 = f.ingest(indicator(Ind(1)) + "{\"type\":\"x\",\"name\":\"\xff\"}\n");
  REQUIRE_FALSE(utf8);
  CHECK(utf8.error().message().find("invalid UTF-8") != std::string::npos);
}

TEST_CASE("unusable indicators are reported and skipped, the rest stored", "[merge]") {
  Fixture f;
  Ind bad{1};
  bad.confidence = 150;
  Ind suffix{2};
  suffix.value = "co.uk";
  auto stats = f.ingest(indicator(bad) + assessment(1, "p", 0.8) + indicator(suffix) + indicator(Ind(3)) +
                        assessment(3, "p", 0.8));
  REQUIRE(stats);
  CHECK(stats->unusable == 2);
  REQUIRE(f.reports.size() == 2);
  CHECK(f.reports[0].find("confidence is not an integer from 0 to 100") != std::string::npos);
  CHECK(f.reports[1].find("public suffix") != std::string::npos);
  CHECK(f.rows().size() == 1);
}

TEST_CASE("publish writes only what changed, and the sanity gate keeps the lists", "[merge]") {
  Fixture f;
  std::string feed;
  for (int n = 1; n <= 200; ++n) {
    Ind i{n};
    i.value = "d" + std::to_string(n) + ".example";
    feed += indicator(i) + assessment(n, "cert", 1.0);
  }
  REQUIRE(f.ingest(feed));
  auto first = f.publish();
  REQUIRE(first);
  CHECK(first->entries == 200);
  CHECK(first->added == 200);
  auto zone = read_file(f.dir / "rpz.zone");
  REQUIRE(zone);

  // The same run again: nothing changes, not even a file's time.
  struct stat before {};
  REQUIRE(::stat((f.dir / "threat_master.csv").c_str(), &before) == 0);
  auto second = f.publish();
  REQUIRE(second);
  CHECK(second->changed.empty());
  struct stat after {};
  REQUIRE(::stat((f.dir / "threat_master.csv").c_str(), &after) == 0);
  CHECK(before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
  CHECK(*read_file(f.dir / "rpz.zone") == *zone);

  // 150 of 200 revoked at once: more than 25% and more than 100 → refused.
  std::string revocations;
  for (int n = 1; n <= 150; ++n) {
    Ind i{n};
    i.value = "d" + std::to_string(n) + ".example";
    i.modified = "2026-11-29T00:00:00.000Z";
    i.revoked = true;
    revocations += indicator(i);
  }
  REQUIRE(f.ingest(revocations));
  auto refused = f.publish("2026-11-29T12:00:00Z");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().category() == ErrorCategory::data);
  CHECK(refused.error().message().find("would lose 150 of their 200 entries") != std::string::npos);
  CHECK(*read_file(f.dir / "rpz.zone") == *zone);

  // Forced: the lists shrink, removed.csv says why, the RPZ serial moves.
  auto forced = f.publish("2026-11-29T12:00:00Z", true);
  REQUIRE(forced);
  CHECK(forced->entries == 50);
  CHECK(forced->removed == 150);
  auto removed = read_file(f.dir / "removed.csv");
  REQUIRE(removed);
  CHECK(removed->find("d1.example,domain,2026-11-29T12:00:00Z,revoked,observe: revoked by its producer\n") !=
        std::string::npos);
  auto new_zone = read_file(f.dir / "rpz.zone");
  REQUIRE(new_zone);
  CHECK(*new_zone != *zone);
  CHECK(new_zone->find("d1.example CNAME .") == std::string::npos);
  CHECK(new_zone->find("d200.example CNAME .") != std::string::npos);
}

TEST_CASE("file hashes and e-mail addresses are rows, never blocklist entries", "[merge]") {
  Fixture f;
  Ind hash(1);
  hash.type = "file";
  hash.value = "";
  std::string text = indicator(hash);
  const std::string pattern = "[file:value = '']";
  text.replace(text.find(pattern), pattern.size(),
               "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']");
  Ind mail(2);
  mail.type = "email-addr";
  mail.value = "payroll@evil.example";
  REQUIRE(f.ingest(text + assessment(1, "cert", 1.0) + indicator(mail) + assessment(2, "cert", 1.0)));
  const auto rows = f.rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].type == stix::ObservableType::email);
  CHECK(rows[1].type == stix::ObservableType::sha256);
  CHECK(rows[1].value == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(rows[1].action == trust::Action::block);
  auto report = f.publish();
  REQUIRE(report);
  CHECK(report->entries == 0);
  auto master = read_file(f.dir / "threat_master.csv");
  REQUIRE(master);
  CHECK(master->find("\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,sha256,block,active,") !=
        std::string::npos);
}

namespace {

// The tables every schema so far has had as they are, and the partial
// index on the indicators.
constexpr const char* kUnchangedTables = R"sql(
CREATE TABLE decisions (type INTEGER NOT NULL, value TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  by TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (type, value)) WITHOUT ROWID;
CREATE TABLE published (type INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (type, value)) WITHOUT ROWID;
CREATE TABLE removals (type INTEGER NOT NULL, value TEXT NOT NULL, removed_at TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX removals_by_time ON removals(removed_at);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE suppressions (kind TEXT NOT NULL, target TEXT NOT NULL, since TEXT NOT NULL, reason TEXT NOT NULL,
  by TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (kind, target)) WITHOUT ROWID;
CREATE INDEX unassessed ON indicators(id) WHERE channels = '';
)sql";

// A store as ctishare wrote it before schema 2 (issue #6: the compact
// rows): every timestamp and id as text, and a stored version key.
const std::string kSchema1 = std::string(R"sql(
CREATE TABLE indicators (
  id TEXT PRIMARY KEY, version TEXT NOT NULL, version_key TEXT NOT NULL, created TEXT NOT NULL,
  created_by TEXT NOT NULL, kind INTEGER NOT NULL, confidence REAL, valid_from TEXT NOT NULL,
  valid_until TEXT NOT NULL, revoked INTEGER NOT NULL, tlp TEXT NOT NULL, observables TEXT NOT NULL,
  channels TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE observations (
  type INTEGER NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL, source TEXT NOT NULL, trust REAL NOT NULL,
  version TEXT NOT NULL, version_key TEXT NOT NULL, created TEXT NOT NULL, created_by TEXT NOT NULL,
  kind INTEGER NOT NULL, confidence REAL, valid_from TEXT NOT NULL, valid_until TEXT NOT NULL,
  revoked INTEGER NOT NULL, tlp TEXT NOT NULL, PRIMARY KEY (type, value, id, source)
) WITHOUT ROWID;
)sql") + kUnchangedTables + R"sql(
PRAGMA application_id=1129597261;  -- "CTIM"
PRAGMA user_version=1;
-- One indicator in the usual forms, one in forms that stay text: an id in
-- upper case, timestamps without milliseconds or with other precision,
-- no producer.
INSERT INTO indicators VALUES ('indicator--00000001-0000-4000-8000-000000000000', '2026-11-28T00:00:00.000Z',
  '2026-11-28T00:00:00.', '2026-11-28T00:00:00.000Z', 'identity--11111111-1111-4111-8111-111111111111', 1, 90,
  '2026-11-28T00:00:00Z', '', 0, '', '0	phish.example
', 'partner-b	0.80000000000000004
');
INSERT INTO observations VALUES (0, 'phish.example', 'indicator--00000001-0000-4000-8000-000000000000', 'partner-b',
  0.8, '2026-11-28T00:00:00.000Z', '2026-11-28T00:00:00.', '2026-11-28T00:00:00.000Z',
  'identity--11111111-1111-4111-8111-111111111111', 1, 90, '2026-11-28T00:00:00Z', '', 0, '');
INSERT INTO indicators VALUES ('indicator--00000002-0000-4000-8000-00000000000A', '2026-11-29T00:00:00Z',
  '2026-11-29T00:00:00.', '2026-11-27T00:00:00.5Z', '', 1, NULL, '2026-11-27T00:00:00.250Z',
  '2027-01-01T00:00:00.000Z', 0, 'amber', '0	other.example
', 'partner-b	0.80000000000000004
');
INSERT INTO observations VALUES (0, 'other.example', 'indicator--00000002-0000-4000-8000-00000000000A', 'partner-b',
  0.8, '2026-11-29T00:00:00Z', '2026-11-29T00:00:00.', '2026-11-27T00:00:00.5Z', '', 1, NULL,
  '2026-11-27T00:00:00.250Z', '2027-01-01T00:00:00.000Z', 0, 'amber');
)sql";

std::int64_t pragma_value(const std::string& path, const char* pragma) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, (std::string("PRAGMA ") + pragma).c_str(), -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  const std::int64_t v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

std::int64_t user_version(const std::string& path) { return pragma_value(path, "user_version"); }

void exec_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

namespace {

// The same two indicators as kSchema1, as schema 3 held them: the first in
// compact cells (ids and producer as UUID bytes, times as milliseconds),
// the second in the forms that stay text; and a third that no assessment
// names yet (no channel, so no observation).
const std::string kSchema3 = std::string(R"sql(
CREATE TABLE indicators (
  id BLOB NOT NULL UNIQUE, version BLOB NOT NULL, created BLOB NOT NULL, created_by BLOB NOT NULL,
  kind INTEGER NOT NULL, confidence REAL, valid_from BLOB NOT NULL, valid_until BLOB NOT NULL,
  revoked INTEGER NOT NULL, tlp TEXT NOT NULL, observables TEXT NOT NULL, channels TEXT NOT NULL
);
CREATE TABLE observations (
  type INTEGER NOT NULL, value TEXT NOT NULL, id BLOB NOT NULL, source TEXT NOT NULL, trust REAL NOT NULL,
  version BLOB NOT NULL, created BLOB NOT NULL, created_by BLOB NOT NULL, kind INTEGER NOT NULL, confidence REAL,
  valid_from BLOB NOT NULL, valid_until BLOB NOT NULL, revoked INTEGER NOT NULL, tlp TEXT NOT NULL,
  PRIMARY KEY (type, value, id, source)
) WITHOUT ROWID;
)sql") + kUnchangedTables + R"sql(
PRAGMA application_id=1129597261;
PRAGMA user_version=3;
INSERT INTO indicators VALUES (X'00000001000040008000000000000000', 1795824000000, 1795824000000,
  X'11111111111141118111111111111111', 1, 90, '2026-11-28T00:00:00Z', '', 0, '', '0	phish.example
', 'partner-b	0.80000000000000004
');
INSERT INTO observations VALUES (0, 'phish.example', X'00000001000040008000000000000000', 'partner-b', 0.8,
  1795824000000, 1795824000000, X'11111111111141118111111111111111', 1, 90, '2026-11-28T00:00:00Z', '', 0, '');
INSERT INTO indicators VALUES ('indicator--00000002-0000-4000-8000-00000000000A', '2026-11-29T00:00:00Z',
  '2026-11-27T00:00:00.5Z', '', 1, NULL, 1795737600250, 1798761600000, 0, 'amber', '0	other.example
', 'partner-b	0.80000000000000004
');
INSERT INTO observations VALUES (0, 'other.example', 'indicator--00000002-0000-4000-8000-00000000000A', 'partner-b',
  0.8, '2026-11-29T00:00:00Z', '2026-11-27T00:00:00.5Z', '', 1, NULL, 1795737600250, 1798761600000, 0, 'amber');
INSERT INTO indicators VALUES (X'00000003000040008000000000000000', 1795824000000, 1795824000000, '', 1, NULL,
  1795824000000, '', 0, '', '0	third.example
', '');
)sql";

// Schema 2 differed from 3 only in its indicators table, ordered by id.
constexpr const char* kSchema3to2 = R"sql(
BEGIN;
DROP INDEX unassessed;
ALTER TABLE indicators RENAME TO indicators_3;
CREATE TABLE indicators (
  id BLOB PRIMARY KEY, version BLOB NOT NULL, created BLOB NOT NULL, created_by BLOB NOT NULL,
  kind INTEGER NOT NULL, confidence REAL, valid_from BLOB NOT NULL, valid_until BLOB NOT NULL,
  revoked INTEGER NOT NULL, tlp TEXT NOT NULL, observables TEXT NOT NULL, channels TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO indicators SELECT * FROM indicators_3;
DROP TABLE indicators_3;
CREATE INDEX unassessed ON indicators(id) WHERE channels = '';
PRAGMA user_version=2;
COMMIT;
)sql";

// A table's definition as the store holds it.
std::string table_sql(const std::string& path, const char* table) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = ?1", -1, &q, nullptr) == SQLITE_OK);
  sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  std::string sql(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return sql;
}

}  // namespace

TEST_CASE("a store of an earlier schema is converted once on open and reads as it did (issue #6)", "[merge]") {
  // Schema 1 held every time and id as text; 2 made them compact; 3 appended
  // the indicators to a rowid table; 4 keeps an observation's properties in
  // one cell. Each is converted straight to the current schema, and every
  // property reads back as it was written.
  test::TempDir dir;
  const std::string path = dir / "merge.db";
  std::size_t unassessed_before = 0;
  SECTION("schema 1") { exec_sql(path, kSchema1.c_str()); }
  SECTION("schema 2") {
    exec_sql(path, kSchema3.c_str());
    exec_sql(path, kSchema3to2);
    REQUIRE(table_sql(path, "indicators").find("WITHOUT ROWID") != std::string::npos);
    unassessed_before = 1;
  }
  SECTION("schema 3") {
    exec_sql(path, kSchema3.c_str());
    unassessed_before = 1;
  }
  MergePolicy policy;
  const auto check_rows = [&](Store& store) {
    auto rows = store.rows(policy, at("2026-11-29T12:00:00Z"));
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    const Row& other = (*rows)[0];
    CHECK(other.value == "other.example");
    CHECK(other.stix_ids == std::vector<std::string>{"indicator--00000002-0000-4000-8000-00000000000A"});
    CHECK(other.first_seen == "2026-11-27T00:00:00.5Z");
    CHECK(other.last_seen == "2026-11-29T00:00:00Z");
    CHECK(other.valid_from == "2026-11-27T00:00:00.250Z");
    CHECK(other.valid_until == "2027-01-01T00:00:00.000Z");
    CHECK(other.tlp == "amber");
    CHECK(other.producer_confidence == 50);  // none given: scoring's default
    const Row& phish = (*rows)[1];
    CHECK(phish.value == "phish.example");
    CHECK(phish.stix_ids == std::vector<std::string>{"indicator--00000001-0000-4000-8000-000000000000"});
    CHECK(phish.first_seen == "2026-11-28T00:00:00.000Z");
    CHECK(phish.last_seen == "2026-11-28T00:00:00.000Z");
    CHECK(phish.valid_from == "2026-11-28T00:00:00Z");
    CHECK(phish.valid_until.empty());
    CHECK(phish.producer_confidence == 90);
    CHECK(phish.sources == std::vector<std::string>{"partner-b"});
  };
  for (int open = 0; open < 2; ++open) {  // converted, then already converted
    auto store = Store::open(path);
    if (!store) FAIL(store.error().message());
    CHECK(user_version(path) == 4);
    CHECK(table_sql(path, "indicators").find("WITHOUT ROWID") == std::string::npos);
    CHECK(table_sql(path, "observations").find("report BLOB") != std::string::npos);
    check_rows(**store);
    auto ids = (*store)->ids_of_entry(Entry{stix::ObservableType::domain, "other.example"});
    REQUIRE(ids);
    CHECK(*ids == std::vector<std::string>{"indicator--00000002-0000-4000-8000-00000000000A"});
    auto entries = (*store)->entries_of_indicator("indicator--00000002-0000-4000-8000-00000000000A");
    REQUIRE(entries);
    CHECK(*entries == std::vector<Entry>{Entry{stix::ObservableType::domain, "other.example"}});
    auto since = (*store)->entries_of_source("partner-b", "2026-11-28T12:00:00Z");
    REQUIRE(since);
    CHECK(*since == std::vector<Entry>{Entry{stix::ObservableType::domain, "other.example"}});
    auto unassessed = (*store)->count_unassessed();
    REQUIRE(unassessed);
    CHECK(*unassessed == unassessed_before);
  }
  // And it takes new versions, of a stored indicator and of a new one.
  auto store = Store::open(path);
  REQUIRE(store);
  Ind newer(1);
  newer.modified = "2026-11-29T06:00:00.000Z";
  Ind added(4);
  added.value = "added.example";
  std::istringstream in(indicator(newer) + assessment(1, "partner-b", 0.8) + indicator(added) +
                        assessment(4, "partner-b", 0.8));
  auto stats = (*store)->ingest(in, json::Limits{}, kIdentity, [](const std::string&) {});
  REQUIRE(stats);
  CHECK(stats->stored == 2);
  auto rows = (*store)->rows(policy, at("2026-11-29T12:00:00Z"));
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].value == "added.example");
  CHECK((*rows)[2].value == "phish.example");
  CHECK((*rows)[2].last_seen == "2026-11-29T06:00:00.000Z");
}

TEST_CASE("a damaged observation is reported with the value, not read past", "[merge]") {
  test::TempDir dir;
  const std::string path = dir / "merge.db";
  exec_sql(path, kSchema3.c_str());
  { REQUIRE(Store::open(path)); }
  // Cut short, and lengthened.
  for (const char* damage : {"UPDATE observations SET report = substr(report, 1, 12) WHERE value = 'phish.example'",
                             "UPDATE observations SET report = CAST(report || X'00' AS BLOB) WHERE value = "
                             "'phish.example'"}) {
    const std::string copy = dir / "damaged.db";
    std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);
    exec_sql(copy, damage);
    auto store = Store::open(copy);
    REQUIRE(store);
    auto rows = (*store)->rows(MergePolicy{}, at("2026-11-29T12:00:00Z"));
    REQUIRE_FALSE(rows);
    CHECK(rows.error().category() == ErrorCategory::data);
    CHECK(rows.error().message() ==
          "merge store '" + copy +
              "': indicator 'indicator--00000001-0000-4000-8000-000000000000': its observation of 'phish.example' is "
              "damaged");
  }
}

TEST_CASE("an observation's trust, kind and revocation survive the conversion to schema 4", "[merge]") {
  // What the rows read from the converted cell besides the times and ids:
  // the trust stored with the observation (no trust configured), its kind
  // (which sets the decay) and its revocation.
  test::TempDir dir;
  const std::string path = dir / "merge.db";
  exec_sql(path, kSchema3.c_str());
  exec_sql(path,
           "UPDATE observations SET trust = 0.3, kind = 0 WHERE value = 'other.example';"
           "UPDATE observations SET revoked = 1 WHERE value = 'phish.example';");
  auto store = Store::open(path);
  REQUIRE(store);
  MergePolicy policy;
  const Timestamp now = at("2026-11-29T12:00:00Z");
  auto rows = (*store)->rows(policy, now);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  const Row& other = (*rows)[0];
  CHECK(other.source_tier == trust::tier_of(0.3));
  const double decay = trust::age(trust::Kind::url, at("2026-11-27T00:00:00.250Z"), policy.scoring, now).decay;
  CHECK(other.score == Approx(std::round(trust::score(50, 0.3, decay) * 100) / 100));
  CHECK(decay != Approx(trust::age(trust::Kind::domain, at("2026-11-27T00:00:00.250Z"), policy.scoring, now).decay));
  const Row& phish = (*rows)[1];
  CHECK(phish.status == RowStatus::revoked);
}

TEST_CASE("hundreds of observations in one input are written and replaced whole", "[merge]") {
  // More than one statement's worth (256 rows) and a remainder, then half
  // of them again through a second source: every row with all it was told.
  Fixture f;
  const auto value = [](int n) { return "v" + std::to_string(1000 + n) + ".example"; };
  std::string first, second;
  for (int n = 1; n <= 600; ++n) {
    Ind i(n);
    i.value = value(n);
    i.confidence = 50 + n % 50;  // live through either source
    first += indicator(i) + assessment(n, "partner-b", 0.8);
    if (n % 2 == 0) second += indicator(i) + assessment(n, "cert", 1.0);
  }
  REQUIRE(f.ingest(first));
  REQUIRE(f.ingest(second));
  const auto rows = f.rows();
  REQUIRE(rows.size() == 600);
  for (int n = 1; n <= 600; ++n) {
    const Row& r = rows[static_cast<std::size_t>(n - 1)];
    INFO(r.value);
    CHECK(r.value == value(n));
    CHECK(r.stix_ids == std::vector<std::string>{"indicator--" + uuid(n)});
    CHECK(r.producer_confidence == 50 + n % 50);
    CHECK(r.sources ==
          (n % 2 == 0 ? std::vector<std::string>{"cert", "partner-b"} : std::vector<std::string>{"partner-b"}));
  }
}

TEST_CASE("a new store has 16 KiB pages; one made with smaller pages keeps them and works", "[merge]") {
  test::TempDir dir;
  { REQUIRE(Store::open(dir / "new.db")); }
  CHECK(pragma_value(dir / "new.db", "page_size") == 16384);
  const std::string old = dir / "old.db";
  exec_sql(old, "PRAGMA page_size=4096; CREATE TABLE x (a); DROP TABLE x;");
  auto store = Store::open(old);
  REQUIRE(store);
  std::istringstream in(indicator(Ind(1)) + assessment(1, "partner-b", 0.8));
  REQUIRE((*store)->ingest(in, json::Limits{}, kIdentity, [](const std::string&) {}));
  auto rows = (*store)->rows(MergePolicy{}, at("2026-11-28T12:00:00Z"));
  REQUIRE(rows);
  CHECK(rows->size() == 1);
  store->reset();
  CHECK(pragma_value(old, "page_size") == 4096);
}

std::string journal_mode(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  std::string mode(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return mode;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST_CASE("a batch is on the disk in the store file itself once settle() returns (issue #6)", "[merge]") {
  test::TempDir dir;
  const std::string path = dir / "merge.db";
  const auto batch = [&](Store& store, int n, const char* value) {
    REQUIRE(store.begin_batch());
    Ind i(n);
    i.value = value;
    std::istringstream in(indicator(i) + assessment(n, "partner-b", 0.8));
    REQUIRE(store.ingest(in, json::Limits{}, kIdentity, [](const std::string&) {}));
    REQUIRE(store.commit_batch());
    auto settled = store.settle();
    if (!settled) FAIL(settled.error().message());
  };
  const auto values = [&](const std::string& file) {
    auto store = Store::open(file);
    REQUIRE(store);
    auto rows = (*store)->rows(MergePolicy{}, at("2026-11-28T12:00:00Z"));
    REQUIRE(rows);
    std::vector<std::string> out;
    for (const auto& r : *rows) out.push_back(r.value);
    return out;
  };
  {
    // An empty store only appends: a rollback journal, gone after the commit.
    auto store = Store::open(path);
    REQUIRE(store);
    batch(**store, 1, "first.example");
    CHECK(journal_mode(path) == "delete");
    CHECK_FALSE(exists(path + "-journal"));
    CHECK_FALSE(exists(path + "-wal"));
  }
  {
    // One that holds indicators writes through a WAL; the checkpoint
    // behind settle() has copied the batch into the store file: a copy of
    // that file alone, taken while the store is still open, holds it.
    auto store = Store::open(path);
    REQUIRE(store);
    batch(**store, 2, "second.example");
    CHECK(journal_mode(path) == "wal");
    REQUIRE(std::filesystem::copy_file(path, dir / "copy.db"));
    CHECK(values(dir / "copy.db") == std::vector<std::string>{"first.example", "second.example"});
    // What comes after the batch is durable at its own commit, and in the
    // store file once the store closes.
    REQUIRE((*store)->set_decision(Entry{stix::ObservableType::domain, "first.example"},
                                   Decision{Verdict::reject, "test", "tester", "2026-11-28T00:00:00Z"}));
  }
  CHECK_FALSE(exists(path + "-wal"));
  CHECK(values(path) == std::vector<std::string>{"first.example", "second.example"});
  auto store = Store::open(path);
  REQUIRE(store);
  auto rows = (*store)->rows(MergePolicy{}, at("2026-11-28T12:00:00Z"));
  REQUIRE(rows);
  CHECK((*rows)[0].status == RowStatus::suppressed);
}

TEST_CASE("a failed store write in a batch keeps no input of the batch (issue #6)", "[merge]") {
  // Both journals: an empty store's batch (rollback journal) and one into a
  // store that holds indicators (WAL).
  const bool filled = GENERATE(false, true);
  test::TempDir dir;
  const std::string path = dir / "merge.db";
  const auto ingest = [](Store& store, int n, const char* value) {
    Ind i(n);
    i.value = value;
    std::istringstream in(indicator(i) + assessment(n, "partner-b", 0.8));
    return store.ingest(in, json::Limits{}, kIdentity, [](const std::string&) {});
  };
  const auto values = [](Store& store) {
    auto rows = store.rows(MergePolicy{}, at("2026-11-28T12:00:00Z"));
    REQUIRE(rows);
    std::vector<std::string> out;
    for (const auto& r : *rows) out.push_back(r.value);
    return out;
  };
  const std::vector<std::string> before =
      filled ? std::vector<std::string>{"kept.example"} : std::vector<std::string>{};
  {
    auto store = Store::open(path);
    REQUIRE(store);
    if (filled) REQUIRE(ingest(**store, 1, "kept.example"));
  }
  // A write the store cannot make, as on a full disk, halfway through the
  // second input (its indicator is written, its observation is not).
  exec_sql(path,
           "CREATE TRIGGER full_disk BEFORE INSERT ON observations WHEN NEW.value = 'boom.example' "
           "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  {
    auto store = Store::open(path);
    REQUIRE(store);
    REQUIRE((*store)->begin_batch());
    REQUIRE(ingest(**store, 2, "first.example"));
    auto failed = ingest(**store, 3, "boom.example");
    REQUIRE_FALSE(failed);
    CHECK_THAT(failed.error().message(), Catch::Contains("database or disk is full"));
    // Nothing more goes into a batch that cannot be committed.
    CHECK_FALSE(ingest(**store, 5, "later.example"));
    auto committed = (*store)->commit_batch();
    REQUIRE_FALSE(committed);
    CHECK(committed.error().category() == ErrorCategory::io);
    CHECK_THAT(committed.error().message(), Catch::Contains("none of it is kept"));
    REQUIRE((*store)->settle());
    CHECK(values(**store) == before);
    // The store goes on: the next batch is merged.
    REQUIRE((*store)->begin_batch());
    REQUIRE(ingest(**store, 4, "next.example"));
    REQUIRE((*store)->commit_batch());
    REQUIRE((*store)->settle());
  }
  auto store = Store::open(path);
  REQUIRE(store);
  std::vector<std::string> after = before;
  after.emplace_back("next.example");
  CHECK(values(**store) == after);
}

TEST_CASE("a store of a newer schema is refused with one line", "[merge]") {
  test::TempDir dir;
  const std::string path = dir / "merge.db";
  { REQUIRE(Store::open(path)); }
  exec_sql(path, "PRAGMA user_version=5");
  auto store = Store::open(path);
  REQUIRE_FALSE(store);
  CHECK(store.error().category() == ErrorCategory::data);
  CHECK(store.error().message().find("written by a newer ctishare (schema 5, this build knows 4)") !=
        std::string::npos);
}

TEST_CASE("every timestamp and id reads back exactly as written, compact or not (issue #6)", "[merge]") {
  // Compact: milliseconds and lower-case UUIDs; kept as text: any other
  // precision, a date that does not exist, an upper-case UUID.
  for (const char* modified : {"2028-02-29T12:00:00.000Z", "2026-02-29T12:00:00.000Z", "2026-11-28T01:02:03Z",
                               "2026-11-28T01:02:03.123456Z", "1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"}) {
    for (const char* producer : {"identity--11111111-1111-4111-8111-111111111111",
                                 "identity--11111111-1111-4111-8111-11111111111A", "identity--not-a-uuid"}) {
      Fixture f;
      Ind i(7);
      i.modified = modified;
      i.producer = producer;
      REQUIRE(f.ingest(indicator(i) + assessment(7, "partner-b", 0.8)));
      const Row r = f.only_row();
      CHECK(r.last_seen == modified);
      CHECK(r.stix_ids == std::vector<std::string>{"indicator--" + uuid(7)});
      auto ids = f.store->ids_of_entry(Entry{stix::ObservableType::domain, "phish.example"});
      REQUIRE(ids);
      CHECK(*ids == std::vector<std::string>{"indicator--" + uuid(7)});
    }
  }
}

namespace {

// What one read of `text` gives: the error message, or the stats and
// reports; through a stream or through a mapping of a file.
struct ReadOutcome {
  std::string error;
  std::size_t objects = 0, indicators = 0, assessments = 0, unusable = 0;
  std::vector<std::string> reports;
  bool operator==(const ReadOutcome&) const = default;
};

ReadOutcome read_outcome(const test::TempDir& dir, const std::string& text, bool mapped,
                         const json::Limits& limits = {}) {
  ReadOutcome out;
  const auto report = [&](const std::string& m) { out.reports.push_back(m); };
  std::optional<Result<ReadInput>> read;
  std::unique_ptr<MappedInput> map;
  if (mapped) {
    auto m = MappedInput::open(dir.file("input.json", text));
    REQUIRE(m);
    REQUIRE(*m);  // a regular file is always mapped
    map = std::move(*m);
    REQUIRE(map->text() == text);
    REQUIRE(map->text().data()[text.size()] == '\0');
    read.emplace(Store::read(*map, limits, kIdentity, report));
  } else {
    std::istringstream in(text);
    read.emplace(Store::read(in, limits, kIdentity, report));
  }
  if (!*read) {
    out.error = read->error().message();
    return out;
  }
  const IngestStats& s = (*read)->stats();
  out.objects = s.objects, out.indicators = s.indicators, out.assessments = s.assessments, out.unusable = s.unusable;
  return out;
}

}  // namespace

TEST_CASE("a mapped input reads exactly as a stream does, errors included", "[merge]") {
  test::TempDir dir;
  Ind unusable{2};
  unusable.confidence = 150;
  const std::string good = indicator(Ind(1)) + assessment(1, "p", 0.8) + indicator(unusable);
  const std::string bundle =
      R"({"type":"bundle","id":"bundle--)" + uuid(9) + R"(","objects":[)" + good.substr(0, good.find('\n')) + "]}";
  // A file that ends exactly on a page (the NUL after it is the mapping's
  // extra page), once whole and once inside a string.
  std::string page = good;
  page.append(4096 - page.size() - 1, ' ');
  page += '\n';
  const std::string page_open =
      std::string(page, 0, 4096 - 40) + "{\"type\":\"x\",\"name\":\"" + std::string(40 - 20, 'a');
  std::string cases[] = {
      good,
      bundle,
      "",
      " \n\t\n",
      page,
      page_open.substr(0, 4096),
      good + "{\"type\": \"indicator\", ",                                      // cut short
      good + "{\"type\":\"x\",\"name\":\"\xff\"}\n",                            // bad UTF-8 in a string
      good + "{\"type\":\"x\",\"n\":\xff}\n",                                   // bad UTF-8 where JSON is
      good + "{\"type\":\"x\",\"name\":\"\xe2\x82",                             // ends inside a sequence
      good + "{\"type\":\"x\",\"name\":\"a" + std::string(1, '\0') + "b\"}\n",  // NUL in a string
      good + std::string(1, '\0') + "\n",                                       // NUL between values
      good + "{\"type\":\"x\",\"id\":\"a\",\"id\":\"b\"}\n",                    // a member twice
      good + "{\"type\":\"x\",\"name\":\"a\tb\"}\n",                            // a raw control character
      "[" + good.substr(0, good.find('\n')) + ",]",                             // a trailing comma
      "42",                                                                     // not an object
  };
  for (const auto& text : cases) {
    INFO("input: " << text);
    const ReadOutcome streamed = read_outcome(dir, text, false);
    const ReadOutcome mapped = read_outcome(dir, text, true);
    CHECK(mapped.error == streamed.error);
    // (A failed read's reports may differ: the stream stops at the chunk
    // that holds a bad byte, the mapping at the byte.)
    if (streamed.error.empty()) CHECK(mapped == streamed);
  }
  // The good ones read as they should, and the bad ones fail.
  CHECK(read_outcome(dir, good, true).indicators == 2);
  CHECK(read_outcome(dir, good, true).unusable == 1);
  CHECK(read_outcome(dir, bundle, true).objects == 1);
  CHECK(read_outcome(dir, page, true).objects == 3);
  CHECK(read_outcome(dir, page_open.substr(0, 4096), true).error.find("invalid JSON") == 0);
  CHECK(read_outcome(dir, cases[9], true).error.find("invalid UTF-8") != std::string::npos);

  SECTION("the size limit") {
    json::Limits small;
    small.max_document_bytes = good.size() - 1;
    CHECK(read_outcome(dir, good, true, small).error == read_outcome(dir, good, false, small).error);
    CHECK(read_outcome(dir, good, true, small).error.find("--max-input-size") != std::string::npos);
  }
  SECTION("a bad byte far into a large input, past the reader's look-ahead") {
    std::string large;
    for (int i = 0; large.size() < (20U << 20); ++i) large += indicator(Ind(10 + i % 1000));
    const std::size_t at = large.size();
    large += "{\"type\":\"x\",\"name\":\"\xc3\x28\"}\n";
    for (int i = 0; i < 1000; ++i) large += indicator(Ind(20 + i));
    const ReadOutcome mapped = read_outcome(dir, large, true);
    CHECK(mapped == read_outcome(dir, large, false));
    CHECK(mapped.error == "invalid JSON at byte " + std::to_string(at + 21) + ": invalid UTF-8");
  }
}

TEST_CASE("what cannot be mapped is left to the stream", "[merge]") {
  test::TempDir dir;
  auto stdin_input = MappedInput::open("-");
  REQUIRE(stdin_input);
  CHECK_FALSE(*stdin_input);
  auto missing = MappedInput::open(dir / "missing.json");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().category() == ErrorCategory::no_input);
  CHECK(missing.error().message() == open_input(dir / "missing.json").error().message());
  auto directory = MappedInput::open(dir.path());
  REQUIRE_FALSE(directory);
  CHECK(directory.error().message() == open_input(dir.path()).error().message());
  auto empty = MappedInput::open(dir.file("empty.json", ""));
  REQUIRE(empty);
  REQUIRE(*empty);
  CHECK((*empty)->text().empty());
  CHECK((*empty)->text().data()[0] == '\0');
}

TEST_CASE("ids in any form group their assessments, canonical or not", "[merge]") {
  // Canonical ids are sorted by their UUIDs' bytes, others by their text:
  // both orders must agree, and each indicator must get all its channels.
  Fixture f;
  const auto with_id = [](std::string text, int n, const std::string& id) {
    const std::string canonical = "indicator--" + uuid(n);
    for (auto at = text.find(canonical); at != std::string::npos; at = text.find(canonical, at + id.size()))
      text.replace(at, canonical.size(), id);
    return text;
  };
  const std::string upper = "indicator--0000000A-0000-4000-8000-000000000000";  // upper case: not canonical
  const std::string odd = "indicator--x";                                       // not a UUID
  std::string feed;
  const char* values[] = {"a.example", "b.example", "c.example", "d.example"};
  for (int n = 1; n <= 4; ++n) {
    Ind i{n};
    i.value = values[n - 1];
    feed += indicator(i);
  }
  // Each indicator's assessments apart, in an order that is not the ids'.
  for (const char* source : {"s-one", "s-two"})
    for (int n : {3, 1, 4, 2}) feed += assessment(n, source, 0.8);
  feed = with_id(with_id(feed, 2, upper), 4, odd);
  REQUIRE(f.ingest(feed));
  const auto rows = f.rows();
  REQUIRE(rows.size() == 4);
  for (const auto& r : rows) {
    INFO(r.value);
    CHECK(r.sources == std::vector<std::string>{"s-one", "s-two"});
  }
  CHECK(rows[1].stix_ids == std::vector<std::string>{upper});
  CHECK(rows[3].stix_ids == std::vector<std::string>{odd});
}

TEST_CASE("the reader knows each property it keeps by its exact name", "[merge]") {
  // A property the reader keeps may appear once per object; given twice it
  // is an error naming it. Names that only look alike are not kept, so
  // they may repeat (JSON allows it; the reader ignores them).
  test::TempDir dir;
  const char* kept[] = {
      "type",          "id",          "created",      "modified", "created_by_ref",      "pattern",
      "valid_from",    "valid_until", "confidence",   "revoked",  "object_marking_refs", "granular_markings",
      "indicator_ref", "source",      "source_trust", "objects"};
  for (const char* name : kept) {
    INFO(name);
    const std::string text = std::string("{\"type\":\"x\",\"") + name + "\":1,\"" + name + "\":2}\n";
    for (bool mapped : {false, true}) {
      const ReadOutcome r =
          read_outcome(dir, std::string(name) == "type" ? "{\"type\":\"x\",\"type\":\"y\"}" : text, mapped);
      CHECK(r.error == std::string("line 1: the member ") + name + " appears twice in one object");
    }
  }
  const char* others[] = {"types",
                          "ID",
                          "creates",
                          "modifier",
                          "created_by_refs",
                          "patterns",
                          "valid_frum",
                          "valid_untik",
                          "confidenze",
                          "revokes",
                          "object_marking_reft",
                          "granular_marking_",
                          "indicator_rel",
                          "sourcf",
                          "source_trusts",
                          "objectz",
                          "name",
                          "x",
                          ""};
  for (const char* name : others) {
    INFO(name);
    const ReadOutcome r =
        read_outcome(dir, std::string("{\"type\":\"x\",\"") + name + "\":1,\"" + name + "\":2}\n", true);
    CHECK(r.error.empty());
    CHECK(r.objects == 1);
  }
}

namespace {

// A large NDJSON feed (past detail::kHalvesFrom) of indicators with
// assessments, an unusable indicator every 10,000 lines.
std::string large_feed(std::size_t bytes) {
  std::string feed;
  for (int i = 0; feed.size() < bytes; ++i) {
    Ind ind{1 + i};
    ind.value = "large-" + std::to_string(i) + ".example";
    if (i % 5000 == 0) ind.confidence = 150;
    feed += indicator(ind) + assessment(1 + i, "s", 0.8);
  }
  return feed;
}

// Whether read_raw_objects_in_halves reads `text` in halves, and how many
// objects the first half had.
std::optional<std::uint64_t> halves_of(const std::string& text, const json::Limits& limits = {}) {
  const auto none = [](const detail::RawObject&) -> Status { return {}; };
  auto read = detail::read_raw_objects_in_halves(text, limits, none, none, {});
  if (!read || !read->status) return std::nullopt;
  return read->first_objects;
}

}  // namespace

TEST_CASE("a large feed of one object per line is read in halves, as one read would", "[merge]") {
  test::TempDir dir;
  const std::string feed = large_feed(detail::kHalvesFrom + (1U << 20));
  const std::size_t middle = feed.find('\n', feed.size() / 2) + 1;
  // The halves are really taken (else this would test nothing).
  const auto halves = halves_of(feed);
  REQUIRE(halves);
  CHECK(*halves == static_cast<std::uint64_t>(std::count(feed.begin(), feed.begin() + middle, '\n')));
  CHECK_FALSE(halves_of(feed.substr(0, detail::kHalvesFrom - 1)));

  const auto same = [&](const std::string& text, const json::Limits& limits = {}) {
    const ReadOutcome mapped = read_outcome(dir, text, true, limits);
    const ReadOutcome streamed = read_outcome(dir, text, false, limits);
    CHECK(mapped.error == streamed.error);
    // (A failed read's reports may differ where a bad byte stops the
    // stream early: see above.)
    if (mapped.error.find("UTF-8") == std::string::npos) CHECK(mapped == streamed);
    return mapped;
  };
  const ReadOutcome whole = same(feed);
  CHECK(whole.error.empty());
  CHECK(whole.unusable >= 4);
  REQUIRE(whole.reports.size() == whole.unusable);
  // Objects and lines counted from the start of the input in both halves
  // (one object per line: object N is on line N), reports on both sides.
  std::uint64_t last = 0;
  for (const auto& r : whole.reports) {
    INFO(r);
    unsigned long long object = 0, line = 0;
    REQUIRE(std::sscanf(r.c_str(), "object %llu (line %llu)", &object, &line) == 2);
    CHECK(object == line);
    last = object;
  }
  CHECK(last > *halves);

  SECTION("errors in either half are the input's first") {
    for (const std::size_t at : {middle / 3, middle + (middle / 3)}) {
      INFO("at " << at);
      const std::size_t line = feed.find('\n', at) + 1;
      std::string bad_json = feed;
      bad_json.insert(line, "{\"type\": \"x\",}\n");
      CHECK(same(bad_json).error.find("invalid JSON at byte " + std::to_string(line + 13) + " (line ") == 0);
      std::string bad_utf8 = feed;
      bad_utf8.insert(line, "{\"type\":\"x\",\"name\":\"\xff\"}\n");
      CHECK(same(bad_utf8).error == "invalid JSON at byte " + std::to_string(line + 20) + ": invalid UTF-8");
      std::string twice = feed;
      twice.insert(line, "{\"type\":\"x\",\"id\":\"a\",\"id\":\"b\"}\n");
      const std::uint64_t lines = static_cast<std::uint64_t>(std::count(feed.begin(), feed.begin() + line, '\n'));
      CHECK(same(twice).error == "line " + std::to_string(lines + 1) + ": the member id appears twice in one object");
    }
  }
  SECTION("what cannot be split at the middle is read whole") {
    // One value across the middle line: an array of the objects.
    std::string array = "[";
    array.reserve(feed.size() + feed.size() / 100);
    for (char c : feed) {
      if (c == '\n') array += ',';
      array += c;
    }
    array.resize(array.size() - 2);  // the last ",\n"
    array += "]";
    CHECK_FALSE(halves_of(array));
    CHECK(same(array).objects == whole.objects);
    // A bundle as trust-score writes it: one object per line too, but each
    // line ends "}," (read whole at once, not parsed twice).
    std::string bundle = R"({"type":"bundle","id":"bundle--)" + uuid(7) + R"(","objects":[)" + "\n";
    bundle.reserve(feed.size() + feed.size() / 100 + 100);
    for (std::size_t at = 0, end; at < feed.size(); at = end + 1) {
      end = feed.find('\n', at);
      bundle.append(feed, at, end - at);
      bundle += end + 1 < feed.size() ? ",\n" : "\n";
    }
    bundle += "]}\n";
    CHECK_FALSE(halves_of(bundle));
    CHECK(same(bundle).objects == whole.objects);
    // Too many objects for the limit.
    json::Limits few;
    few.max_objects = whole.objects - 1;
    CHECK_FALSE(halves_of(feed, few));
    CHECK(same(feed, few).error.find("more than " + std::to_string(few.max_objects) + " objects") != std::string::npos);
  }
}

TEST_CASE("several versions of one indicator in one input: the newest is kept, a revocation stays", "[merge]") {
  Fixture f;
  std::string feed;
  // Ids out of order, versions of indicator 5 apart and out of order, an
  // older one revoked.
  const char* modified[] = {"2026-11-28T02:00:00.000Z", "2026-11-28T09:00:00.000Z", "2026-11-28T01:00:00.000Z"};
  int seen = 0;
  for (int n : {9, 5, 3, 5, 7, 5, 1}) {
    Ind i{n};
    i.value = "v" + std::to_string(n) + ".example";
    if (n == 5) {
      i.modified = modified[seen % 3];
      i.revoked = seen % 3 == 2;
      ++seen;
    }
    feed += indicator(i) + assessment(n, "partner-b", 0.8);
  }
  auto stats = f.ingest(feed);
  REQUIRE(stats);
  CHECK(stats->stored == 5);
  const auto rows = f.rows();
  REQUIRE(rows.size() == 5);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    INFO(rows[k].value);
    CHECK(rows[k].value == "v" + std::to_string(2 * k + 1) + ".example");
    CHECK(rows[k].status == (k == 2 ? RowStatus::revoked : RowStatus::active));
  }
  CHECK(rows[2].last_seen == "2026-11-28T09:00:00.000Z");
}

TEST_CASE("each row's score decays by its own kind and valid_from, however the rows come", "[merge]") {
  // Rows in store order alternate kinds and start times, so no score can
  // be one worked out for the row before.
  Fixture f;
  const char* froms[] = {"2026-11-20T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-10T00:00:00Z",
                         "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-25T06:30:00.5Z"};
  const char* types[] = {"domain-name", "url", "url", "domain-name", "domain-name", "url"};
  std::string feed;
  for (int n = 1; n <= 6; ++n) {
    Ind i{n};
    i.type = types[n - 1];
    i.value =
        i.type == "url" ? "https://x" + std::to_string(n) + ".example/login" : "d" + std::to_string(n) + ".example";
    std::string text = indicator(i);
    const std::string from = R"("valid_from":"2026-11-28T00:00:00Z")";
    text.replace(text.find(from), from.size(), std::string(R"("valid_from":")") + froms[n - 1] + "\"");
    feed += text + assessment(n, "cert", 1.0);
  }
  REQUIRE(f.ingest(feed));
  const Timestamp now = at("2026-11-28T12:00:00Z");
  const auto rows = f.rows("2026-11-28T12:00:00Z");
  REQUIRE(rows.size() == 6);
  for (const auto& r : rows) {
    INFO(r.value);
    const int n = std::stoi(r.value.substr(r.value.find_first_of("0123456789")));
    const trust::Kind kind = std::string(types[n - 1]) == "url" ? trust::Kind::url : trust::Kind::domain;
    const double decay = trust::age(kind, at(froms[n - 1]), f.policy.scoring, now).decay;
    CHECK(r.score == Approx(trust::score(90, 1.0, decay)).margin(0.006));
  }
  // And they differ: the inputs are not all the same case.
  std::set<double> scores;
  for (const auto& r : rows) scores.insert(r.score);
  CHECK(scores.size() >= 4);
}

TEST_CASE("versions compare by their instant, whatever the precision they are written with (issue #6)", "[merge]") {
  // Milliseconds are kept as numbers, other precisions as text: a version
  // of either form must still be newer or older than one of the other by
  // its instant, within one input and against the store.
  Fixture f;
  const auto version = [](const char* modified) {
    Ind i{5};
    i.modified = modified;
    return indicator(i) + assessment(5, "partner-b", 0.8);
  };
  // Each step an input, what it stores and the version kept after it. One
  // input first: the newest (half a millisecond past the compact one) wins,
  // in any order. Then against the store: an older compact version is not
  // stored, a newer one is, and a text one newer than that one is too.
  struct Step {
    std::vector<const char*> modified;
    std::size_t stored;
    const char* kept;
  };
  const Step steps[] = {
      {{"2026-11-28T09:00:00.0012Z", "2026-11-28T09:00:00.0015Z", "2026-11-28T09:00:00.001Z",
        "2026-11-28T09:00:00.001Z"},
       1,
       "2026-11-28T09:00:00.0015Z"},
      {{"2026-11-28T09:00:00.001Z"}, 0, "2026-11-28T09:00:00.0015Z"},
      {{"2026-11-28T09:00:00.002Z"}, 1, "2026-11-28T09:00:00.002Z"},
      {{"2026-11-28T09:00:00.00201Z"}, 1, "2026-11-28T09:00:00.00201Z"},
  };
  for (const Step& step : steps) {
    std::string input;
    for (const char* m : step.modified) input += version(m);
    INFO(input);
    auto stats = f.ingest(input);
    REQUIRE(stats);
    CHECK(stats->stored == step.stored);
    CHECK(f.only_row().last_seen == step.kept);
  }
}
