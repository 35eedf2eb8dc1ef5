// Tests of the SQLite taxii::Store: schema and reopen, date_added rules,
// duplicates and conflicts, every filter of Query, paging, remove, statuses,
// atomicity of add() and concurrent use.
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "core/sqlite.h"
#include "ctishare/taxii/store.h"
#include "support/temp_dir.h"

using namespace ctishare;
using namespace ctishare::taxii;
using Catch::Matchers::Contains;
using ctishare::test::TempDir;

namespace {

const std::string kCollection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

// A small STIX object; `extra` makes the content differ for one version.
NewObject object(const std::string& id, const std::string& version, const std::string& spec = "2.1",
                 const std::string& extra = "") {
  NewObject o;
  o.id = id;
  o.version = version;
  o.spec_version = spec;
  o.type = id.substr(0, id.find("--"));
  o.json = R"({"type":")" + o.type + R"(","spec_version":")" + spec + R"(","id":")" + id + R"(","modified":")" +
           version + R"(")" + extra + "}";
  return o;
}

std::string indicator_id(int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "indicator--00000000-0000-4000-8000-%012d", n);
  return buf;
}

// A clock that returns the values it is given, then repeats the last.
struct ScriptedClock {
  std::vector<Micros> values;
  std::size_t next = 0;
  Micros operator()() {
    Micros v = values[std::min(next, values.size() - 1)];
    ++next;
    return v;
  }
};

std::unique_ptr<Store> open_memory(std::function<Micros()> clock = {}) {
  auto store = open_sqlite_store(":memory:", std::move(clock));
  REQUIRE(store);
  return std::move(*store);
}

Page run(Store& store, Query q) {
  if (q.collection.empty()) q.collection = kCollection;
  auto page = store.query(q);
  REQUIRE(page);
  return std::move(*page);
}

// "id@version" of each object of a page, in page order.
std::vector<std::string> keys(const Page& page) {
  std::vector<std::string> out;
  for (const auto& o : page.objects) out.push_back(o.id + "@" + o.version);
  return out;
}

void add_ok(Store& store, const std::vector<NewObject>& objects) {
  auto r = store.add(kCollection, objects);
  REQUIRE(r);
  for (const auto& outcome : *r) REQUIRE(outcome.kind == AddOutcome::Kind::added);
}

// A match[version]: `which` lists the keywords ("all", "first", "last").
VersionMatch versions(std::string_view which, std::vector<std::string> exact = {}) {
  VersionMatch v;
  v.all = which.find("all") != std::string_view::npos;
  v.first = which.find("first") != std::string_view::npos;
  v.last = which.find("last") != std::string_view::npos;
  v.exact = std::move(exact);
  return v;
}

Query all_query() {
  Query q;
  q.versions = versions("all");
  return q;
}

Query ids_query(std::vector<std::string> ids) {
  Query q;
  q.ids = std::move(ids);
  return q;
}

// Runs SQL on a file directly, to fake other programs' databases.
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  INFO(message);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("sqlite store: created with its schema, mode 0600, and data survives reopening", "[sqlite_store]") {
  TempDir dir;
  std::string path = dir / "store.db";
  Micros first_added = 0;
  {
    auto store = open_sqlite_store(path, [] { return Micros{1'000'000}; });
    REQUIRE(store);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto added = (*store)->add(kCollection, {object("indicator--a", "2020-01-01T00:00:00.000Z")});
    REQUIRE(added);
    first_added = (*added)[0].date_added;
    CHECK(first_added == 1'000'000);
    StatusRecord status;
    status.id = "status-1";
    status.total = 1;
    status.success = 1;
    status.successes = {{"indicator--a", "2020-01-01T00:00:00.000Z", ""}};
    REQUIRE((*store)->put_status(status));
    // The WAL file holds committed data too; it must not be readable by others either.
    if (::stat((path + "-wal").c_str(), &st) == 0) CHECK((st.st_mode & 0077) == 0);
  }
  // Reopened with a clock that went back an hour: date_added still grows,
  // because the collection's last value is stored, not recomputed.
  auto store = open_sqlite_store(path, [] { return Micros{5}; });
  REQUIRE(store);
  Page page = run(**store, {});
  REQUIRE(page.objects.size() == 1);
  CHECK(page.objects[0].id == "indicator--a");
  CHECK(page.objects[0].type == "indicator");
  CHECK(page.objects[0].spec_version == "2.1");
  CHECK(page.objects[0].date_added == first_added);
  CHECK(page.objects[0].json == object("indicator--a", "2020-01-01T00:00:00.000Z").json);
  auto status = (*store)->get_status("status-1");
  REQUIRE(status);
  REQUIRE(status->has_value());
  CHECK((*status)->successes.size() == 1);

  // Deleting the newest object does not let a later add reuse its date_added.
  REQUIRE((*store)->remove(kCollection, "indicator--a", VersionMatch{true, false, false, {}}, {}));
  auto added = (*store)->add(kCollection, {object("indicator--b", "2020-01-01T00:00:00.000Z")});
  REQUIRE(added);
  CHECK((*added)[0].date_added == first_added + 1);
}

TEST_CASE("sqlite store: files that are not a ctishare store are refused", "[sqlite_store]") {
  TempDir dir;
  SECTION("not a database") {
    std::string text = "type,value\nipv4-addr,198.51.100.7\n";
    for (int i = 0; i < 6; ++i) text += text;  // past SQLite's 100-byte header
    std::string path = dir.file("feed.csv", text);
    auto store = open_sqlite_store(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().category() == ErrorCategory::data);
    CHECK_THAT(store.error().message(), Contains("feed.csv") && Contains("not a ctishare store"));
    std::ifstream in(path, std::ios::binary);
    std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(after == text);  // untouched
  }
  SECTION("another program's SQLite database") {
    std::string path = dir / "other.db";
    raw_sql(path, "CREATE TABLE things (x INTEGER)");
    auto store = open_sqlite_store(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().category() == ErrorCategory::data);
    CHECK_THAT(store.error().message(), Contains("not a ctishare store"));
  }
  SECTION("a store of a newer schema") {
    std::string path = dir / "new.db";
    REQUIRE(open_sqlite_store(path));
    raw_sql(path, "PRAGMA user_version=99");
    auto store = open_sqlite_store(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().category() == ErrorCategory::data);
    CHECK_THAT(store.error().message(), Contains("newer"));
  }
  SECTION("a directory that does not exist") {
    auto store = open_sqlite_store(dir / "missing/store.db");
    REQUIRE_FALSE(store);
    CHECK(store.error().category() == ErrorCategory::cannot_create);
    CHECK_THAT(store.error().message(), Contains("missing/store.db"));
  }
}

TEST_CASE("sqlite store: date_added is unique and strictly increasing per collection", "[sqlite_store]") {
  SECTION("frozen clock") {
    auto store = open_memory([] { return Micros{1'700'000'000'000'000}; });
    std::vector<NewObject> batch;
    for (int i = 0; i < 50; ++i) batch.push_back(object(indicator_id(i), "2020-01-01T00:00:00.000Z"));
    auto first = store->add(kCollection, batch);
    REQUIRE(first);
    auto second = store->add(kCollection, {object("indicator--late", "2020-01-01T00:00:00.000Z")});
    REQUIRE(second);
    Micros previous = 1'700'000'000'000'000 - 1;
    for (const auto& o : *first) {
      CHECK(o.date_added == previous + 1);
      previous = o.date_added;
    }
    CHECK((*second)[0].date_added == previous + 1);
  }
  SECTION("clock going backwards") {
    ScriptedClock clock{{1000, 5000, 3000, 3000, 9000, 1}};
    auto store = open_memory(std::ref(clock));
    std::vector<Micros> seen;
    for (int i = 0; i < 6; ++i) {
      auto r = store->add(kCollection, {object(indicator_id(i), "2020-01-01T00:00:00.000Z")});
      REQUIRE(r);
      seen.push_back((*r)[0].date_added);
    }
    CHECK(seen == std::vector<Micros>{1000, 5000, 5001, 5002, 9000, 9001});
  }
  SECTION("collections count separately") {
    auto store = open_memory([] { return Micros{100}; });
    auto a = store->add("collection-a", {object("indicator--x", "2020-01-01T00:00:00Z")});
    auto b = store->add("collection-b", {object("indicator--x", "2020-01-01T00:00:00Z")});
    REQUIRE(a);
    REQUIRE(b);
    CHECK((*a)[0].date_added == 100);
    CHECK((*b)[0].date_added == 100);
  }
}

TEST_CASE("sqlite store: duplicates succeed, conflicts are refused", "[sqlite_store]") {
  Micros now = 10;
  auto store = open_memory([&] { return now++; });
  auto first = store->add(kCollection, {object("indicator--a", "2020-01-01T00:00:00.000Z")});
  REQUIRE(first);
  Micros stored = (*first)[0].date_added;

  auto again = store->add(
      kCollection, {object("indicator--a", "2020-01-01T00:00:00.000Z"),
                    object("indicator--a", "2020-01-01T00:00:00.000Z", "2.1", R"(,"x":1)"),
                    // Same instant written differently: the same version, other content.
                    object("indicator--a", "2020-01-01T00:00:00Z"), object("indicator--a", "2020-01-02T00:00:00.000Z"),
                    object("indicator--a", "2020-01-02T00:00:00.000Z"),
                    // An identity is (id, version): another spec_version does not make it new.
                    object("indicator--a", "2020-01-01T00:00:00.000Z", "2.0")});
  REQUIRE(again);
  REQUIRE(again->size() == 6);
  CHECK((*again)[0].kind == AddOutcome::Kind::duplicate);
  CHECK((*again)[0].date_added == stored);
  CHECK((*again)[1].kind == AddOutcome::Kind::conflict);
  CHECK((*again)[2].kind == AddOutcome::Kind::conflict);
  CHECK((*again)[3].kind == AddOutcome::Kind::added);
  // A duplicate within one batch reports the date_added given a moment ago.
  CHECK((*again)[4].kind == AddOutcome::Kind::duplicate);
  CHECK((*again)[4].date_added == (*again)[3].date_added);
  CHECK((*again)[5].kind == AddOutcome::Kind::conflict);

  Page page = run(*store, all_query());
  CHECK(keys(page) ==
        std::vector<std::string>{"indicator--a@2020-01-01T00:00:00.000Z", "indicator--a@2020-01-02T00:00:00.000Z"});
  CHECK(page.objects[0].json == object("indicator--a", "2020-01-01T00:00:00.000Z").json);
}

TEST_CASE("sqlite store: match filters, versions and the spec_version rule", "[sqlite_store]") {
  Micros now = 1;
  auto store = open_memory([&] { return now++; });
  // Added out of version order, so date_added order differs from version order.
  add_ok(*store, {
                     object("indicator--a", "2020-01-02T00:00:00.000Z"),  // date 1
                     object("indicator--a", "2020-01-01T00:00:00Z"),      // date 2 (first)
                     object("indicator--a", "2020-01-03T00:00:00.5Z"),    // date 3 (last)
                     object("malware--m", "2021-05-05T00:00:00.000Z"),    // date 4 (only)
                     object("indicator--b", "2020-01-03T00:00:00Z"),      // date 5 (first)
                     object("indicator--b", "2020-01-03T00:00:00.001Z"),  // date 6 (last: later instant)
                     object("report--r", "2019-01-01T00:00:00Z", "2.0"),  // date 7
                     object("report--r", "2019-06-01T00:00:00Z", "2.1"),  // date 8 (latest spec)
                     object("report--r", "2019-12-01T00:00:00Z", "2.0"),  // date 9 (newest, older spec)
                     object("report--r", "2019-03-01T00:00:00Z", "2.1"),  // date 10
                 });
  using V = std::vector<std::string>;

  SECTION("defaults: the last version of each object, oldest date_added first") {
    CHECK(keys(run(*store, {})) == V{"indicator--a@2020-01-03T00:00:00.5Z", "malware--m@2021-05-05T00:00:00.000Z",
                                     "indicator--b@2020-01-03T00:00:00.001Z", "report--r@2019-06-01T00:00:00Z"});
  }
  SECTION("first (judged by instant, not text)") {
    Query q;
    q.versions = versions("first");
    CHECK(keys(run(*store, q)) == V{"indicator--a@2020-01-01T00:00:00Z", "malware--m@2021-05-05T00:00:00.000Z",
                                    "indicator--b@2020-01-03T00:00:00Z", "report--r@2019-03-01T00:00:00Z"});
  }
  SECTION("first and last") {
    Query q;
    q.ids = {"indicator--a", "indicator--b"};
    q.versions = versions("first,last");
    CHECK(keys(run(*store, q)) == V{"indicator--a@2020-01-01T00:00:00Z", "indicator--a@2020-01-03T00:00:00.5Z",
                                    "indicator--b@2020-01-03T00:00:00Z", "indicator--b@2020-01-03T00:00:00.001Z"});
  }
  SECTION("all") {
    Query q;
    q.ids = {"indicator--a"};
    q.versions = versions("all");
    CHECK(keys(run(*store, q)) == V{"indicator--a@2020-01-02T00:00:00.000Z", "indicator--a@2020-01-01T00:00:00Z",
                                    "indicator--a@2020-01-03T00:00:00.5Z"});
  }
  SECTION("exact versions match by instant, combined with first") {
    Query q;
    q.versions = versions("first", {"2020-01-02T00:00:00Z", "2021-05-05T00:00:00.000000Z"});
    q.types = {"indicator", "malware"};
    CHECK(keys(run(*store, q)) == V{"indicator--a@2020-01-02T00:00:00.000Z", "indicator--a@2020-01-01T00:00:00Z",
                                    "malware--m@2021-05-05T00:00:00.000Z", "indicator--b@2020-01-03T00:00:00Z"});
  }
  SECTION("exact version that does not exist") {
    Query q;
    q.versions = versions("", {"1999-01-01T00:00:00Z"});
    CHECK(run(*store, q).objects.empty());
  }
  SECTION("no version selection selects nothing") {
    Query q;
    q.versions = versions("");
    CHECK(run(*store, q).objects.empty());
  }
  SECTION("types OR within, AND with ids") {
    Query q;
    q.types = {"malware", "report"};
    CHECK(keys(run(*store, q)) == V{"malware--m@2021-05-05T00:00:00.000Z", "report--r@2019-06-01T00:00:00Z"});
    q.ids = {"indicator--a", "report--r"};
    CHECK(keys(run(*store, q)) == V{"report--r@2019-06-01T00:00:00Z"});
    q.types = {"campaign"};  // a STIX type the collection lacks: no error, nothing
    CHECK(run(*store, q).objects.empty());
  }
  SECTION("without match[spec_version] only the latest spec_version counts") {
    Query q;
    q.ids = {"report--r"};
    q.versions = versions("all");
    CHECK(keys(run(*store, q)) == V{"report--r@2019-06-01T00:00:00Z", "report--r@2019-03-01T00:00:00Z"});
    q.versions = versions("first,last");
    CHECK(keys(run(*store, q)) == V{"report--r@2019-06-01T00:00:00Z", "report--r@2019-03-01T00:00:00Z"});
  }
  SECTION("match[spec_version]: first/last among the listed spec versions") {
    Query q;
    q.ids = {"report--r"};
    q.spec_versions = {"2.0"};
    CHECK(keys(run(*store, q)) == V{"report--r@2019-12-01T00:00:00Z"});
    q.versions = versions("first");
    CHECK(keys(run(*store, q)) == V{"report--r@2019-01-01T00:00:00Z"});
    q.spec_versions = {"2.0", "2.1"};
    q.versions = versions("first,last");
    CHECK(keys(run(*store, q)) == V{"report--r@2019-01-01T00:00:00Z", "report--r@2019-12-01T00:00:00Z"});
    q.spec_versions = {"2.1"};
    q.versions = versions("all");
    CHECK(keys(run(*store, q)) == V{"report--r@2019-06-01T00:00:00Z", "report--r@2019-03-01T00:00:00Z"});
    q.spec_versions = {"2.2"};
    CHECK(run(*store, q).objects.empty());
    // Other objects are all 2.1: only reports answer to 2.0.
    q.ids.clear();
    q.spec_versions = {"2.0"};
    q.versions = {};
    CHECK(keys(run(*store, q)) == V{"report--r@2019-12-01T00:00:00Z"});
  }
  SECTION("last is judged over the whole collection, then added_after cuts") {
    Query q;
    q.added_after = 5;
    // indicator--a's last version (date 3) is before the cut: not shown;
    // its older versions after the cut are not "last" either.
    CHECK(keys(run(*store, q)) == V{"indicator--b@2020-01-03T00:00:00.001Z", "report--r@2019-06-01T00:00:00Z"});
  }
  SECTION("added_after and position: the later of the two wins") {
    Query q;
    q.versions = versions("all");
    q.added_after = 3;
    q.position = 7;
    CHECK(run(*store, q).objects.front().date_added == 8);
    q.added_after = 8;
    q.position = 2;
    CHECK(run(*store, q).objects.front().date_added == 10);  // 9 is a 2.0 version: not the latest spec
    q.added_after = std::nullopt;
    CHECK(run(*store, q).objects.front().date_added == 3);
    q.position = 10;
    Page empty = run(*store, q);
    CHECK(empty.objects.empty());
    CHECK_FALSE(empty.more);
  }
  SECTION("an unknown collection is empty") {
    Query q;
    q.collection = "no-such-collection";
    Page page = run(*store, q);
    CHECK(page.objects.empty());
    CHECK_FALSE(page.more);
  }
}

TEST_CASE("sqlite store: limit and more, and a paging walk sees every object once", "[sqlite_store]") {
  Micros now = 1'000;
  auto store = open_memory([&] { return now; });  // frozen: every batch shares one clock value
  std::vector<NewObject> batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back(object(indicator_id(i), "2020-01-01T00:00:00.000Z"));
    if (batch.size() == 250) {
      add_ok(*store, batch);
      batch.clear();
    }
  }
  // Newer versions of some objects: paging with the default (last) must
  // show only those and not the superseded ones.
  for (int i = 0; i < 1000; i += 10) batch.push_back(object(indicator_id(i), "2020-02-01T00:00:00.000Z"));
  add_ok(*store, batch);

  SECTION("limit 7 walk") {
    std::map<std::string, int> seen;
    std::optional<Micros> position;
    Micros last_date = 0;
    int pages = 0;
    for (;;) {
      Query q;
      q.limit = 7;
      q.position = position;
      Page page = run(*store, q);
      ++pages;
      REQUIRE(page.objects.size() <= 7);
      for (const auto& o : page.objects) {
        CHECK(o.date_added > last_date);
        last_date = o.date_added;
        ++seen[o.id];
        int n = std::stoi(o.id.substr(o.id.size() - 12));
        CHECK(o.version == (n % 10 == 0 ? "2020-02-01T00:00:00.000Z" : "2020-01-01T00:00:00.000Z"));
      }
      if (!page.more) break;
      REQUIRE(page.objects.size() == 7);
      REQUIRE(pages < 200);  // a cursor that does not advance would loop forever
      position = page.objects.back().date_added;
    }
    CHECK(seen.size() == 1000);
    for (const auto& [id, count] : seen) CHECK(count == 1);
    CHECK(pages == 143);  // ceil(1000 / 7)
  }
  SECTION("more is false when the page holds exactly the rest") {
    Query q;
    q.limit = 1000;
    Page page = run(*store, q);
    CHECK(page.objects.size() == 1000);
    CHECK_FALSE(page.more);
    q.limit = 999;
    CHECK(run(*store, q).more);
  }
}

TEST_CASE("sqlite store: remove deletes the selected versions of one object", "[sqlite_store]") {
  Micros now = 1;
  auto store = open_memory([&] { return now++; });
  add_ok(*store, {object("indicator--a", "2020-01-01T00:00:00Z"), object("indicator--a", "2020-01-02T00:00:00Z"),
                  object("indicator--a", "2020-01-03T00:00:00Z"), object("indicator--b", "2020-01-01T00:00:00Z"),
                  object("report--r", "2019-01-01T00:00:00Z", "2.0"), object("report--r", "2019-02-01T00:00:00Z")});
  auto all_versions = [&](const std::string& id) {
    Query q;
    q.ids = {id};
    q.spec_versions = {"2.0", "2.1"};
    q.versions = versions("all");
    return keys(run(*store, q));
  };
  using V = std::vector<std::string>;

  auto removed = store->remove(kCollection, "indicator--a", VersionMatch{}, {});  // default: last
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(all_versions("indicator--a") == V{"indicator--a@2020-01-01T00:00:00Z", "indicator--a@2020-01-02T00:00:00Z"});
  // The next "last" is now the 01-02 version.
  CHECK(keys(run(*store, ids_query({"indicator--a"}))) == V{"indicator--a@2020-01-02T00:00:00Z"});

  removed = store->remove(kCollection, "indicator--a", versions("", {"2020-01-01T00:00:00.000Z"}), {});
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(all_versions("indicator--a") == V{"indicator--a@2020-01-02T00:00:00Z"});

  // Without spec_versions only the latest spec_version is affected.
  removed = store->remove(kCollection, "report--r", versions("all"), {});
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(all_versions("report--r") == V{"report--r@2019-01-01T00:00:00Z"});
  removed = store->remove(kCollection, "report--r", versions("all"), {"2.0"});
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(all_versions("report--r").empty());

  removed = store->remove(kCollection, "indicator--nope", versions("all"), {});
  REQUIRE(removed);
  CHECK(*removed == 0);
  removed = store->remove("other-collection", "indicator--b", versions("all"), {});
  REQUIRE(removed);
  CHECK(*removed == 0);
  CHECK(all_versions("indicator--b").size() == 1);
  removed = store->remove(kCollection, "indicator--b", versions("all"), {});
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(run(*store, all_query()).objects.size() == 1);
}

TEST_CASE("sqlite store: statuses round trip, replace and expire", "[sqlite_store]") {
  auto store = open_memory();
  StatusRecord s;
  s.id = "2d086da7-4bdc-4f91-900e-d77486753710";
  s.api_root = "/api1/";
  s.user = "bank-a";
  s.complete = false;
  s.request_timestamp = 1'000;
  s.total = 4;
  s.success = 1;
  s.failure = 1;
  s.pending = 2;
  s.successes = {{"indicator--a", "2020-01-01T00:00:00.000Z", ""}};
  s.failures = {{"indicator--b", "2020-01-01T00:00:00.000Z", "conflicts with the stored version"}};
  s.pendings = {{"indicator--c", "v1", ""}, {"indicator--d", "v2", "later"}};
  REQUIRE(store->put_status(s));

  auto got = store->get_status(s.id);
  REQUIRE(got);
  REQUIRE(got->has_value());
  const StatusRecord& r = **got;
  CHECK(r.id == s.id);
  CHECK(r.api_root == "/api1/");
  CHECK(r.user == "bank-a");
  CHECK_FALSE(r.complete);
  CHECK(r.request_timestamp == 1'000);
  CHECK((r.total == 4 && r.success == 1 && r.failure == 1 && r.pending == 2));
  REQUIRE(r.successes.size() == 1);
  CHECK(r.successes[0].id == "indicator--a");
  REQUIRE(r.failures.size() == 1);
  CHECK(r.failures[0].message == "conflicts with the stored version");
  REQUIRE(r.pendings.size() == 2);
  CHECK(r.pendings[0].id == "indicator--c");
  CHECK(r.pendings[1].version == "v2");
  CHECK(r.pendings[1].message == "later");

  // Replacing keeps one record and drops the old details.
  s.complete = true;
  s.success = 3;
  s.pending = 0;
  s.successes.push_back({"indicator--c", "v1", ""});
  s.successes.push_back({"indicator--d", "v2", ""});
  s.pendings.clear();
  REQUIRE(store->put_status(s));
  got = store->get_status(s.id);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->complete);
  CHECK((*got)->successes.size() == 3);
  CHECK((*got)->pendings.empty());
  CHECK((*got)->failures.size() == 1);

  auto missing = store->get_status("no-such-status");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());

  StatusRecord pending_old = s;
  pending_old.id = "pending-old";
  pending_old.complete = false;
  StatusRecord complete_new = s;
  complete_new.id = "complete-new";
  complete_new.request_timestamp = 5'000;
  REQUIRE(store->put_status(pending_old));
  REQUIRE(store->put_status(complete_new));

  REQUIRE(store->expire_statuses(1'000));  // strictly before the cutoff: nothing goes
  CHECK(store->get_status(s.id)->has_value());
  REQUIRE(store->expire_statuses(1'001));
  CHECK_FALSE(store->get_status(s.id)->has_value());
  CHECK(store->get_status("pending-old")->has_value());  // still being processed
  CHECK(store->get_status("complete-new")->has_value());
  // A status put again under an expired id starts without stale details.
  StatusRecord fresh;
  fresh.id = s.id;
  REQUIRE(store->put_status(fresh));
  got = store->get_status(s.id);
  REQUIRE(got);
  CHECK((*got)->successes.empty());
  CHECK((*got)->failures.empty());
}

TEST_CASE("sqlite store: a batch is one transaction", "[sqlite_store]") {
  TempDir dir;
  std::string path = dir / "store.db";
  // The clock is read once per object; making it fail on the 600th object
  // aborts add() half way through a 1,000-object batch.
  int calls = 0;
  auto store = open_sqlite_store(path, [&]() -> Micros {
    if (++calls == 600) throw std::runtime_error("clock failed");
    return 1'000 + calls;
  });
  REQUIRE(store);
  add_ok(**store, {object("indicator--before", "2020-01-01T00:00:00Z")});
  std::vector<NewObject> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(object(indicator_id(i), "2020-01-01T00:00:00.000Z"));
  auto r = (*store)->add(kCollection, batch);
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == ErrorCategory::internal);
  CHECK_THAT(r.error().message(), Contains("clock failed"));
  CHECK(calls == 600);

  Query q;
  q.limit = 2000;
  q.versions = versions("all");
  CHECK(keys(run(**store, q)) == std::vector<std::string>{"indicator--before@2020-01-01T00:00:00Z"});
  // The store is usable afterwards, and a second connection sees the same.
  add_ok(**store, {object("indicator--after", "2020-01-01T00:00:00Z")});
  auto other = open_sqlite_store(path);
  REQUIRE(other);
  CHECK(run(**other, q).objects.size() == 2);
}

TEST_CASE("sqlite store: concurrent adds and queries from several threads", "[sqlite_store]") {
  TempDir dir;
  auto opened = open_sqlite_store(dir / "store.db");
  REQUIRE(opened);
  Store& store = **opened;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < 10; ++b) {
        std::vector<NewObject> batch;
        for (int i = 0; i < 20; ++i)
          batch.push_back(object(indicator_id(t * 1000 + b * 20 + i), "2020-01-01T00:00:00Z"));
        if (!store.add(kCollection, batch)) ++failures;
        Query q;
        q.collection = kCollection;
        q.limit = 50;
        if (!store.query(q)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  Query q;
  q.limit = 10'000;
  Page page = run(store, q);
  CHECK(page.objects.size() == 800);
  std::set<Micros> dates;
  for (const auto& o : page.objects) dates.insert(o.date_added);
  CHECK(dates.size() == 800);
}

TEST_CASE("sqlite store: versions that are not timestamps", "[sqlite_store]") {
  Micros now = 1;
  auto store = open_memory([&] { return now++; });
  add_ok(*store, {object("x-custom--a", ""), object("x-custom--b", "v2"), object("x-custom--b", "v1"),
                  object("x-custom--c", "zzz"), object("x-custom--c", "2020-01-01T00:00:00Z")});
  using V = std::vector<std::string>;
  // Text after every timestamp: "zzz" is c's last, the timestamp its first.
  CHECK(keys(run(*store, {})) == V{"x-custom--a@", "x-custom--b@v2", "x-custom--c@zzz"});
  Query q;
  q.versions = versions("first");
  CHECK(keys(run(*store, q)) == V{"x-custom--a@", "x-custom--b@v1", "x-custom--c@2020-01-01T00:00:00Z"});
  q.versions = versions("", {"v1", ""});
  CHECK(keys(run(*store, q)) == V{"x-custom--a@", "x-custom--b@v1"});
  auto again = store->add(kCollection, {object("x-custom--a", "")});
  REQUIRE(again);
  CHECK((*again)[0].kind == AddOutcome::Kind::duplicate);
}

TEST_CASE("sqlite store: add_with_status stores the objects and their status in one transaction",
          "[sqlite_store]") {
  Micros now = 1'000;
  auto store = open_memory([&] { return now++; });
  const std::vector<NewObject> objects{object(indicator_id(1), "2020-01-01T00:00:00.000Z"),
                                       object(indicator_id(2), "2020-01-01T00:00:00.000Z")};
  std::vector<AddOutcome> seen;
  auto outcomes = store->add_with_status(kCollection, objects, [&](const std::vector<AddOutcome>& o) {
    seen = o;
    StatusRecord s;
    s.id = "0f4c1f0e-1111-4222-8333-444455556666";
    s.api_root = "api1";
    s.user = "alice";
    s.total = s.success = o.size();
    for (std::size_t i = 0; i < o.size(); ++i) s.successes.push_back({objects[i].id, objects[i].version, ""});
    return s;
  });
  REQUIRE(outcomes);
  REQUIRE(outcomes->size() == 2);
  CHECK((*outcomes)[0].kind == AddOutcome::Kind::added);
  CHECK(seen.size() == 2);  // the status was built from the same outcomes
  CHECK(run(*store, all_query()).objects.size() == 2);
  auto status = store->get_status("0f4c1f0e-1111-4222-8333-444455556666");
  REQUIRE(status);
  REQUIRE(status->has_value());
  CHECK((*status)->successes.size() == 2);

  // Adding the same objects again inside another call is a duplicate, and a
  // nested transaction (add inside add_with_status) commits once.
  auto again = store->add_with_status(kCollection, objects, [&](const std::vector<AddOutcome>& o) {
    StatusRecord s;
    s.id = "0f4c1f0e-1111-4222-8333-777788889999";
    s.total = s.success = o.size();
    return s;
  });
  REQUIRE(again);
  CHECK((*again)[0].kind == AddOutcome::Kind::duplicate);
  CHECK(run(*store, all_query()).objects.size() == 2);
  REQUIRE(store->get_status("0f4c1f0e-1111-4222-8333-777788889999"));
}

TEST_CASE("sqlite store: the default listing follows each object's last version through adds and removes",
          "[sqlite_store]") {
  Micros now = 1;
  auto store = open_memory([&] { return now++; });
  using V = std::vector<std::string>;
  add_ok(*store, {object("indicator--a", "2020-01-02T00:00:00Z"), object("indicator--b", "2020-01-01T00:00:00Z")});
  // An older version arriving later does not displace the last one; a newer one does.
  add_ok(*store, {object("indicator--a", "2020-01-01T00:00:00Z")});
  CHECK(keys(run(*store, {})) == V{"indicator--a@2020-01-02T00:00:00Z", "indicator--b@2020-01-01T00:00:00Z"});
  add_ok(*store, {object("indicator--b", "2020-02-01T00:00:00Z")});
  CHECK(keys(run(*store, {})) == V{"indicator--a@2020-01-02T00:00:00Z", "indicator--b@2020-02-01T00:00:00Z"});
  // A newer spec_version wins over a later modified of an older one.
  add_ok(*store, {object("report--r", "2019-06-01T00:00:00Z", "2.1"), object("report--r", "2019-12-01T00:00:00Z", "2.0")});
  CHECK(keys(run(*store, {})).back() == "report--r@2019-06-01T00:00:00Z");
  // A re-post of a stored version changes nothing.
  auto again = store->add(kCollection, {object("indicator--a", "2020-01-01T00:00:00Z")});
  REQUIRE(again);
  CHECK((*again)[0].kind == AddOutcome::Kind::duplicate);
  CHECK(keys(run(*store, {})).front() == "indicator--a@2020-01-02T00:00:00Z");

  // Removing the last version makes the newest one left the last, in the
  // listing of the whole collection as well as by id.
  REQUIRE(store->remove(kCollection, "indicator--a", VersionMatch{}, {}));
  // (The 01-01 version was added after the 01-02 one, so it lists first now.)
  CHECK(keys(run(*store, {})) == V{"indicator--a@2020-01-01T00:00:00Z", "indicator--b@2020-02-01T00:00:00Z",
                                   "report--r@2019-06-01T00:00:00Z"});
  // Removing an older version leaves the last one alone.
  REQUIRE(store->remove(kCollection, "indicator--b", versions("first"), {}));
  CHECK(keys(run(*store, ids_query({"indicator--b"}))) == V{"indicator--b@2020-02-01T00:00:00Z"});
  REQUIRE(store->remove(kCollection, "report--r", versions("all"), {}));
  CHECK(keys(run(*store, {})) == V{"indicator--a@2020-01-01T00:00:00Z", "indicator--b@2020-02-01T00:00:00Z",
                                   "report--r@2019-12-01T00:00:00Z"});
}

namespace {

int count_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  int n = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// A store as earlier releases wrote it (schema 1 to 3), holding `objects`
// of the collection kCollection with date_added 1, 2, ..., and a status
// "old-status" with its details as rows of status_details.
void write_old_store(const std::string& path, int schema, const std::vector<NewObject>& objects) {
  std::string sql = R"sql(
PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA application_id=1129597267;
CREATE TABLE collections (cid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_date_added INTEGER NOT NULL);
CREATE TABLE objects (cid INTEGER NOT NULL REFERENCES collections(cid), id TEXT NOT NULL, version TEXT NOT NULL,
  version_key TEXT NOT NULL, spec_version TEXT NOT NULL, type TEXT NOT NULL, date_added INTEGER NOT NULL,
  json TEXT NOT NULL);
CREATE UNIQUE INDEX objects_by_date ON objects(cid, date_added);
CREATE UNIQUE INDEX objects_by_version ON objects(cid, id, version_key);
CREATE INDEX objects_by_spec ON objects(cid, id, spec_version, version_key);
CREATE TABLE statuses (id TEXT PRIMARY KEY, api_root TEXT NOT NULL, owner TEXT NOT NULL, complete INTEGER NOT NULL,
  request_timestamp INTEGER NOT NULL, total INTEGER NOT NULL, success INTEGER NOT NULL, failure INTEGER NOT NULL,
  pending INTEGER NOT NULL);
CREATE INDEX statuses_by_time ON statuses(complete, request_timestamp);
CREATE TABLE status_details (status_id TEXT NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
  kind INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL, message TEXT NOT NULL,
  PRIMARY KEY (status_id, kind, seq)) WITHOUT ROWID;
)sql";
  if (schema >= 2) {
    sql +=
        "ALTER TABLE objects ADD COLUMN is_last INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX objects_last_by_date ON objects(cid, date_added) WHERE is_last = 1;";
  }
  sql += "INSERT INTO collections (cid, name, last_date_added) VALUES (1, '" + kCollection + "', " +
         std::to_string(objects.size()) + ");";
  int date_added = 0;
  for (const NewObject& o : objects) {
    auto q = [](const std::string& t) { return "'" + t + "'"; };
    sql += "INSERT INTO objects (cid, id, version, version_key, spec_version, type, date_added, json) VALUES (1, " +
           q(o.id) + ", " + q(o.version) + ", " + q(ctishare::detail::version_key(o.version)) + ", " +
           q(o.spec_version) + ", " + q(o.type) + ", " + std::to_string(++date_added) + ", " + q(o.json) + ");";
  }
  if (schema >= 2) {
    sql +=
        "UPDATE objects SET is_last = 1 WHERE rowid IN (SELECT (SELECT v.rowid FROM objects v WHERE v.cid = o.cid "
        "AND v.id = o.id ORDER BY v.spec_version DESC, v.version_key DESC LIMIT 1) FROM objects o "
        "GROUP BY o.cid, o.id);";
  }
  if (schema >= 3) {
    // The id hash under a known key (see idh in sqlite_store.cpp).
    ctishare::detail::SipKey key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
    sql +=
        "ALTER TABLE objects ADD COLUMN idh INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE store_keys (name TEXT PRIMARY KEY, key BLOB NOT NULL);"
        "INSERT INTO store_keys (name, key) VALUES ('idh', x'" +
        ctishare::detail::to_hex(key.data(), key.size()) + "');";
    for (const NewObject& o : objects) {
      const auto h = ctishare::detail::siphash128(key, o.id);
      std::int64_t idh = 0;
      std::memcpy(&idh, h.data(), sizeof idh);
      sql += "UPDATE objects SET idh = " + std::to_string(idh) + " WHERE id = '" + o.id + "';";
    }
    sql +=
        "CREATE INDEX objects_by_id ON objects(cid, idh);"
        "DROP INDEX objects_by_spec; DROP INDEX objects_by_version;";
  }
  sql +=
      "INSERT INTO statuses VALUES ('old-status', 'api1', 'u', 1, 5, 2, 1, 1, 0);"
      "INSERT INTO status_details VALUES ('old-status', 0, 0, 'indicator--a', '2020-01-02T00:00:00Z', '');"
      "INSERT INTO status_details VALUES ('old-status', 1, 0, 'indicator--z', '2020-01-01T00:00:00Z', 'refused');";
  sql += "PRAGMA user_version=" + std::to_string(schema) + ";";
  raw_sql(path, sql);
}

}  // namespace

TEST_CASE("sqlite store: stores of earlier schemas are migrated when opened", "[sqlite_store]") {
  using V = std::vector<std::string>;
  const int schema = GENERATE(1, 2, 3);
  INFO("schema " << schema);
  TempDir dir;
  std::string path = dir / "store.db";
  write_old_store(path, schema,
                  {object("indicator--a", "2020-01-02T00:00:00Z"), object("indicator--a", "2020-01-01T00:00:00Z"),
                   object("indicator--b", "2020-01-01T00:00:00Z"), object("report--r", "2020-01-01T00:00:00Z")});
  Micros now = 100;
  {
    auto store = open_sqlite_store(path, [&] { return now++; });
    INFO((store ? std::string() : store.error().message()));
    REQUIRE(store);
    // Each object's last version, by id too (objects_by_id is filled).
    CHECK(keys(run(**store, {})) == V{"indicator--a@2020-01-02T00:00:00Z", "indicator--b@2020-01-01T00:00:00Z",
                                      "report--r@2020-01-01T00:00:00Z"});
    CHECK(keys(run(**store, ids_query({"indicator--a"}))) == V{"indicator--a@2020-01-02T00:00:00Z"});
    Query first = ids_query({"indicator--a"});
    first.versions = versions("first");
    CHECK(keys(run(**store, first)) == V{"indicator--a@2020-01-01T00:00:00Z"});
    // Identities survive: a re-post is a duplicate, other bytes a conflict,
    // a newer version becomes the last.
    auto again = (*store)->add(kCollection, {object("indicator--a", "2020-01-01T00:00:00Z"),
                                             object("indicator--b", "2020-01-01T00:00:00Z", "2.1", R"(,"x":1)"),
                                             object("indicator--b", "2020-03-01T00:00:00Z")});
    REQUIRE(again);
    REQUIRE(again->size() == 3);
    CHECK((*again)[0].kind == AddOutcome::Kind::duplicate);
    CHECK((*again)[0].date_added == 2);
    CHECK((*again)[1].kind == AddOutcome::Kind::conflict);
    CHECK((*again)[2].kind == AddOutcome::Kind::added);
    CHECK(keys(run(**store, {})) == V{"indicator--a@2020-01-02T00:00:00Z", "report--r@2020-01-01T00:00:00Z",
                                      "indicator--b@2020-03-01T00:00:00Z"});
    REQUIRE((*store)->remove(kCollection, "report--r", versions("all"), {}));
    CHECK(keys(run(**store, ids_query({"report--r"}))).empty());
    // A status written before schema 4 is read from its rows; a new one from
    // its record.
    auto old_status = (*store)->get_status("old-status");
    REQUIRE(old_status);
    REQUIRE(old_status->has_value());
    REQUIRE((*old_status)->successes.size() == 1);
    CHECK((*old_status)->successes[0].id == "indicator--a");
    REQUIRE((*old_status)->failures.size() == 1);
    CHECK((*old_status)->failures[0].message == "refused");
    StatusRecord fresh;
    fresh.id = "new-status";
    fresh.api_root = "api1";
    fresh.user = "u";
    fresh.successes = {{"indicator--b", "2020-03-01T00:00:00Z", ""}};
    fresh.pendings = {{"indicator--c", "2020-03-01T00:00:00Z", "later"}};
    REQUIRE((*store)->put_status(fresh));
    auto read = (*store)->get_status("new-status");
    REQUIRE(read);
    REQUIRE(read->has_value());
    CHECK((*read)->successes.size() == 1);
    CHECK((*read)->failures.empty());
    REQUIRE((*read)->pendings.size() == 1);
    CHECK((*read)->pendings[0].message == "later");
  }
  CHECK(count_rows(path, "PRAGMA user_version") == 4);
  CHECK(count_rows(path, "SELECT count(*) FROM status_details WHERE status_id = 'new-status'") == 0);
  CHECK(count_rows(path,
                   "SELECT count(*) FROM sqlite_master WHERE name IN ('objects_by_version', 'objects_by_spec')") == 0);
  CHECK(count_rows(path, "SELECT count(*) FROM sqlite_master WHERE name = 'objects_by_id'") == 1);
  CHECK(count_rows(path, "SELECT count(*) FROM objects WHERE idh = 0") == 0);
  // Opening again changes nothing.
  REQUIRE(open_sqlite_store(path));
  CHECK(count_rows(path, "SELECT count(*) FROM objects") == 4);
}

namespace {
// Indicators first .. first + count - 1, each padded with `pad` bytes.
std::vector<NewObject> padded_indicators(int first, int count, std::size_t pad) {
  const std::string extra = R"(,"x_pad":")" + std::string(pad, 'p') + "\"";
  std::vector<NewObject> objects;
  for (int i = first; i < first + count; ++i)
    objects.push_back(object(indicator_id(i), "2020-01-01T00:00:00Z", "2.1", extra));
  return objects;
}
}  // namespace

namespace {
// How many bytes of `path` this process has mapped (from /proc/self/maps).
long long mapped_bytes(const std::string& path) {
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) == nullptr) return -1;
  const std::string name = std::string(" ") + real;
  std::ifstream maps("/proc/self/maps");
  long long total = 0;
  for (std::string line; std::getline(maps, line);) {
    if (!line.ends_with(name)) continue;
    unsigned long long from = 0, to = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &from, &to) == 2) total += static_cast<long long>(to - from);
  }
  return total;
}
}  // namespace

TEST_CASE("sqlite store: the WAL is copied into the database in the background", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir / "store.db";
  auto store = open_sqlite_store(path);
  REQUIRE(store);
  // 40 MB of objects, past the 32 MB checkpoint interval.
  for (int batch = 0; batch < 10; ++batch) add_ok(**store, padded_indicators(batch * 500, 500, 8000));
  auto file_size = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1LL;
  };
  // The writer never checkpoints below 256 MB; only the thread can have
  // filled the database file.
  for (int i = 0; i < 200 && file_size(path) < (30LL << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(file_size(path) >= (30LL << 20));
  // The store's own reads now come from a map of the whole file, not from
  // the few pages it had when it was created.
  Query first;
  first.limit = 1;
  CHECK(run(**store, first).objects.size() == 1);
  CHECK(mapped_bytes(path) >= (30LL << 20));
  store->reset();
  auto again = open_sqlite_store(path);
  REQUIRE(again);
  Query q;
  q.limit = 6000;
  CHECK(run(**again, q).objects.size() == 5000);
}

TEST_CASE("sqlite store: when the writes stop, the WAL is copied to its end", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir / "store.db";
  auto store = open_sqlite_store(path);
  REQUIRE(store);
  auto file_size = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1LL;
  };
  const long long empty = file_size(path);
  // 2 MB, far below the 32 MB interval: only the idle checkpoint copies it.
  add_ok(**store, padded_indicators(0, 250, 8000));
  for (int i = 0; i < 200 && file_size(path) < empty + (1LL << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(file_size(path) >= empty + (1LL << 20));
  // And the store goes on: the next commit starts the clock again.
  add_ok(**store, padded_indicators(250, 250, 8000));
  const long long after_first = file_size(path);
  for (int i = 0; i < 200 && file_size(path) < after_first + (1LL << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(file_size(path) >= after_first + (1LL << 20));
  Query q;
  q.limit = 1000;
  CHECK(run(**store, q).objects.size() == 500);
}

TEST_CASE("sqlite store: what add() returned is visible to other connections at once", "[sqlite_store]") {
  // The store's connection gathers its WAL writes in a buffer (wal_buffer.h):
  // a commit must write it out before the frames are published.
  TempDir dir;
  const std::string path = dir / "store.db";
  auto store = open_sqlite_store(path);
  REQUIRE(store);
  int stored = 0;
  for (int batch = 0; batch < 5; ++batch) {
    const auto objects = padded_indicators(stored, 20 + batch * 40, 3000);
    add_ok(**store, objects);
    stored += static_cast<int>(objects.size());
    INFO("after batch " << batch);
    CHECK(count_rows(path, "SELECT count(*) FROM objects") == stored);
    CHECK(count_rows(path, "SELECT count(*) FROM objects WHERE json LIKE '%ppp\"}'") == stored);
  }
}

TEST_CASE("sqlite store: concurrent add_with_status calls share commits and fail alone", "[sqlite_store]") {
  // Callers arriving while a commit runs are stored together in the next
  // one, each in its own savepoint: one whose status cannot be made is
  // rolled back alone, and every other one is stored with its status.
  TempDir dir;
  auto opened = open_sqlite_store(dir / "store.db");
  REQUIRE(opened);
  Store& store = **opened;
  constexpr int kThreads = 6, kRounds = 10, kPerCall = 30;
  std::vector<std::vector<bool>> ok(kThreads, std::vector<bool>(kRounds));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        std::vector<NewObject> objects;
        for (int i = 0; i < kPerCall; ++i)
          objects.push_back(object(indicator_id((t * kRounds + round) * kPerCall + i), "2020-01-01T00:00:00Z"));
        const bool fails = (t + round) % 4 == 0;
        auto r = store.add_with_status(kCollection, objects, [&](const std::vector<AddOutcome>& outcomes) {
          if (fails) throw std::runtime_error("no status for this one");
          StatusRecord s;
          s.id = "status-" + std::to_string(t) + "-" + std::to_string(round);
          s.api_root = "api1";
          s.user = "u";
          s.complete = true;
          s.total = s.success = outcomes.size();
          return s;
        });
        ok[static_cast<std::size_t>(t)][static_cast<std::size_t>(round)] =
            static_cast<bool>(r) && r->size() == kPerCall;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::size_t expected = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int round = 0; round < kRounds; ++round) {
      const bool fails = (t + round) % 4 == 0;
      INFO("thread " << t << " round " << round);
      CHECK(ok[static_cast<std::size_t>(t)][static_cast<std::size_t>(round)] == !fails);
      auto status = store.get_status("status-" + std::to_string(t) + "-" + std::to_string(round));
      REQUIRE(status);
      CHECK(status->has_value() == !fails);
      Query one = ids_query({indicator_id((t * kRounds + round) * kPerCall)});
      CHECK(run(store, one).objects.size() == (fails ? 0U : 1U));
      if (!fails) expected += kPerCall;
    }
  }
  Query all;
  all.limit = 10000;
  CHECK(run(store, all).objects.size() == expected);
}

TEST_CASE("sqlite store: a status whose details record is damaged is an error, not a guess", "[sqlite_store]") {
  TempDir dir;
  const std::string path = dir / "store.db";
  {
    auto store = open_sqlite_store(path);
    REQUIRE(store);
    StatusRecord st;
    st.id = "s1";
    st.api_root = "api1";
    st.user = "u";
    st.successes = {{"indicator--a", "2020-01-01T00:00:00Z", ""}, {"indicator--b", "2020-01-01T00:00:00Z", "x"}};
    st.failures = {{"indicator--c", "2020-01-01T00:00:00Z", "bad"}};
    REQUIRE((*store)->put_status(st));
  }
  const int size = count_rows(path, "SELECT length(details) FROM statuses WHERE id = 's1'");
  REQUIRE(size > 12);
  // Every cut of the record, and one byte too many, is refused.
  for (int cut = 0; cut <= size; ++cut) {
    const std::string damaged =
        cut == size ? "details || x'00'" : "substr(details, 1, " + std::to_string(cut) + ")";
    raw_sql(path, "CREATE TABLE IF NOT EXISTS keep AS SELECT details FROM statuses WHERE id = 's1';"
                  "UPDATE statuses SET details = " + damaged + " WHERE id = 's1';");
    {
      auto store = open_sqlite_store(path);
      REQUIRE(store);
      auto r = (*store)->get_status("s1");
      INFO("cut " << cut);
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message(), Catch::Contains("damaged"));
    }
    raw_sql(path, "UPDATE statuses SET details = (SELECT details FROM keep) WHERE id = 's1';");
  }
  auto store = open_sqlite_store(path);
  REQUIRE(store);
  auto r = (*store)->get_status("s1");
  REQUIRE(r);
  REQUIRE(r->has_value());
  CHECK((*r)->successes.size() == 2);
  CHECK((*r)->successes[1].message == "x");
  CHECK((*r)->failures.size() == 1);
}

TEST_CASE("sqlite store: ids whose hashes collide stay apart", "[sqlite_store]") {
  // Collisions of a 64-bit keyed hash cannot be produced on purpose, so
  // this gives indicator--b indicator--a's idh by hand.
  using V = std::vector<std::string>;
  TempDir dir;
  std::string path = dir / "store.db";
  Micros now = 1;
  {
    auto store = open_sqlite_store(path, [&] { return now++; });
    REQUIRE(store);
    add_ok(**store, {object("indicator--a", "2020-01-01T00:00:00Z"), object("indicator--b", "2020-01-01T00:00:00Z")});
  }
  raw_sql(path,
          "UPDATE objects SET idh = (SELECT idh FROM objects WHERE id = 'indicator--a') WHERE id = 'indicator--b'");
  auto store = open_sqlite_store(path, [&] { return now++; });
  REQUIRE(store);
  // Every lookup by indicator--a's id meets indicator--b in objects_by_id
  // and must pass it over.
  CHECK(keys(run(**store, ids_query({"indicator--a"}))) == V{"indicator--a@2020-01-01T00:00:00Z"});
  Query all = ids_query({"indicator--a"});
  all.versions = versions("all");
  CHECK(keys(run(**store, all)) == V{"indicator--a@2020-01-01T00:00:00Z"});
  Query first = ids_query({"indicator--a"});
  first.versions = versions("first");
  CHECK(keys(run(**store, first)) == V{"indicator--a@2020-01-01T00:00:00Z"});
  Query spec = ids_query({"indicator--a"});
  spec.versions = versions("all");
  spec.spec_versions = {"2.1"};
  CHECK(keys(run(**store, spec)) == V{"indicator--a@2020-01-01T00:00:00Z"});
  // Nor may adding or removing versions of indicator--a see indicator--b's
  // versions or change which of them is the last.
  auto added = (*store)->add(kCollection, {object("indicator--a", "2020-01-01T00:00:00Z", "2.1", R"(,"x":1)"),
                                           object("indicator--a", "2020-02-01T00:00:00Z")});
  REQUIRE(added);
  CHECK((*added)[0].kind == AddOutcome::Kind::conflict);
  CHECK((*added)[1].kind == AddOutcome::Kind::added);
  CHECK(keys(run(**store, {})) == V{"indicator--b@2020-01-01T00:00:00Z", "indicator--a@2020-02-01T00:00:00Z"});
  REQUIRE((*store)->remove(kCollection, "indicator--a", versions("last"), {}));
  CHECK(keys(run(**store, {})) == V{"indicator--a@2020-01-01T00:00:00Z", "indicator--b@2020-01-01T00:00:00Z"});
}
