// Tests of the taxii-push and taxii-pull engines that need no server:
// push's TLP ceiling and envelopes (ctishare/taxii/push.h), pull's filters,
// cursor files, journal recovery and delivery (ctishare/taxii/pull.h).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/digest.h"
#include "ctishare/bundle.h"
#include "ctishare/json.h"
#include "ctishare/marking.h"
#include "ctishare/object.h"
#include "ctishare/taxii/pull.h"
#include "ctishare/taxii/push.h"
#include "ctishare/time.h"
#include "support/temp_dir.h"
#include "taxii/pull_envelope.h"

using namespace ctishare;
using namespace ctishare::taxii;
using ctishare::test::slurp;
using ctishare::test::spit;
using ctishare::test::TempDir;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

Timestamp now() {
  auto t = Timestamp::parse("2024-05-01T12:00:00.000Z");
  REQUIRE(t);
  return *t;
}

std::string hex(const std::array<std::uint8_t, 32>& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// ---- STIX objects -------------------------------------------------------------------

std::string uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
  return buf;
}

std::string indicator_id(int n) { return "indicator--" + uuid(n); }

// A compact indicator, optionally marked.
std::string indicator(int n, const std::string& modified = "2024-01-01T00:00:00.000Z",
                      const std::vector<std::string>& marking_refs = {},
                      const std::vector<std::string>& granular_refs = {}) {
  json::Object o;
  o.emplace_back("type", "indicator");
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", indicator_id(n));
  o.emplace_back("created", "2024-01-01T00:00:00.000Z");
  o.emplace_back("modified", modified);
  o.emplace_back("pattern", "[ipv4-addr:value = '198.51.100." + std::to_string(n % 250) + "']");
  o.emplace_back("pattern_type", "stix");
  o.emplace_back("valid_from", "2024-01-01T00:00:00Z");
  if (!marking_refs.empty()) {
    json::Array refs;
    for (const auto& r : marking_refs) refs.emplace_back(r);
    o.emplace_back("object_marking_refs", std::move(refs));
  }
  if (!granular_refs.empty()) {
    json::Array g;
    for (const auto& r : granular_refs) {
      json::Object m;
      m.emplace_back("marking_ref", r);
      json::Array selectors;
      selectors.emplace_back("pattern");
      m.emplace_back("selectors", std::move(selectors));
      g.emplace_back(std::move(m));
    }
    o.emplace_back("granular_markings", std::move(g));
  }
  return json::to_string(json::Value(std::move(o)));
}

stix::Object object(const std::string& text) {
  auto v = json::parse(text);
  REQUIRE(v);
  auto o = stix::Object::from_json(std::move(*v));
  REQUIRE(o);
  return std::move(*o);
}

std::string tlp2(stix::Tlp t) { return std::string(stix::tlp2_marking_id(t)); }
std::string tlp1(stix::Tlp t) { return std::string(stix::tlp1_marking_id(t)); }

std::vector<stix::Object> read_objects_of(const std::string& path) {
  std::istringstream in(slurp(path));
  auto all = stix::read_all(in);
  REQUIRE(all);
  return std::move(*all);
}

std::vector<std::string> ids_of(const std::vector<stix::Object>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.emplace_back(o.id());
  return out;
}

// ---- Pulls built by hand ------------------------------------------------------------

const std::string kRootA = "https://taxii.bank-a.example/api1/";
const std::string kRootB = "https://taxii.bank-b.example/feeds/";

CollectionInfo collection(const std::string& id, const std::string& alias = "") {
  CollectionInfo c;
  c.id = id;
  c.alias = alias;
  c.can_read = true;
  return c;
}

// A collection pull holding indicators `ns` (each at `modified`), its cursor at `added_after`.
CollectionPull collection_pull(const CursorStore& store, const std::string& partner, const std::string& api_root,
                               const std::string& collection_id, const std::vector<int>& ns,
                               const std::string& added_after, const PullFilters& filters = {},
                               const std::string& modified = "2024-01-01T00:00:00.000Z") {
  CollectionPull c;
  c.collection = collection(collection_id);
  for (int n : ns) {
    c.add(indicator(n, modified), indicator_id(n), modified);
    c.cursor.boundary.push_back(indicator_id(n) + "|" + modified);
  }
  c.cursor.added_after = added_after;
  c.cursor_path = store.cursor_path(partner, api_root, collection_id, filters);
  c.pages = 1;
  c.received = ns.size();
  return c;
}

PartnerPull partner_pull(const std::string& partner, const std::string& api_root,
                         std::vector<CollectionPull> collections, const PullFilters& filters = {}) {
  PartnerPull p;
  p.partner = partner;
  p.api_root = api_root;
  p.filters = filters;
  p.collections = std::move(collections);
  return p;
}

}  // namespace

// =====================================================================================
// push
// =====================================================================================

TEST_CASE("tlp_of reads object_marking_refs, TLP 2.0 and 1.0", "[push][taxii]") {
  using stix::Tlp;
  CHECK_FALSE(tlp_of(object(indicator(1))));
  CHECK(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z", {tlp2(Tlp::green)}))) == Tlp::green);
  CHECK(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z", {tlp1(Tlp::green)}))) == Tlp::green);
  CHECK(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z", {tlp2(Tlp::clear)}))) == Tlp::clear);
  CHECK(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z", {tlp1(Tlp::clear)}))) == Tlp::clear);
  CHECK(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z", {tlp2(Tlp::amber_strict)}))) == Tlp::amber_strict);
  CHECK(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z", {tlp1(Tlp::red)}))) == Tlp::red);
  // A marking that is not TLP (a statement, a custom one) says nothing about TLP.
  CHECK_FALSE(tlp_of(object(indicator(1, "2024-01-01T00:00:00.000Z",
                                      {"marking-definition--" + uuid(77)}))));
}

TEST_CASE("tlp_of: the most restrictive marking wins, granular markings included", "[push][taxii]") {
  using stix::Tlp;
  const std::string t = "2024-01-01T00:00:00.000Z";
  CHECK(tlp_of(object(indicator(1, t, {tlp2(Tlp::green), tlp1(Tlp::red), tlp2(Tlp::amber)}))) == Tlp::red);
  CHECK(tlp_of(object(indicator(1, t, {tlp1(Tlp::amber), tlp2(Tlp::clear)}))) == Tlp::amber);
  CHECK(tlp_of(object(indicator(1, t, {}, {tlp2(Tlp::amber)}))) == Tlp::amber);
  CHECK(tlp_of(object(indicator(1, t, {}, {tlp1(Tlp::red)}))) == Tlp::red);
  // Granular more restrictive than the object's marking.
  CHECK(tlp_of(object(indicator(1, t, {tlp2(Tlp::green)}, {tlp2(Tlp::amber_strict)}))) == Tlp::amber_strict);
  // Object marking more restrictive than the granular one.
  CHECK(tlp_of(object(indicator(1, t, {tlp1(Tlp::red)}, {tlp2(Tlp::clear)}))) == Tlp::red);
  // A granular marking by language only carries no TLP.
  auto lang = object(R"({"type":"note","spec_version":"2.1","id":"note--)" + uuid(5) +
                     R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","content":"x",)"
                     R"("object_refs":["indicator--)" + uuid(1) +
                     R"("],"granular_markings":[{"lang":"en","selectors":["content"]}]})");
  CHECK_FALSE(tlp_of(lang));
}

TEST_CASE("plan_push holds back what is above the ceiling, keeps order", "[push][taxii]") {
  using stix::Tlp;
  const std::string t = "2024-01-01T00:00:00.000Z";
  std::vector<stix::Object> in = {
      object(indicator(1, t, {tlp2(Tlp::clear)})),
      object(indicator(2, t, {tlp2(Tlp::red)})),
      object(indicator(3)),  // unmarked
      object(indicator(4, t, {tlp1(Tlp::amber)})),
      object(indicator(5, "2024-02-02T00:00:00.000Z", {tlp2(Tlp::amber_strict)})),
      object(indicator(6, t, {tlp2(Tlp::green)})),
      object(indicator(7, t, {tlp2(Tlp::green)}, {tlp1(Tlp::red)})),
  };
  PushPlan plan = plan_push(in, Tlp::amber);
  REQUIRE(plan.objects.size() == 4);
  REQUIRE(plan.versions.size() == 4);
  CHECK(plan.versions[0] == IdVersion{indicator_id(1), t});
  CHECK(plan.versions[1] == IdVersion{indicator_id(3), t});
  CHECK(plan.versions[2] == IdVersion{indicator_id(4), t});  // equal to the ceiling
  CHECK(plan.versions[3] == IdVersion{indicator_id(6), t});
  CHECK(plan.objects[0] == in[0].to_string());
  CHECK(plan.objects[1] == in[2].to_string());
  REQUIRE(plan.held_back.size() == 3);
  CHECK(plan.held_back[0].id == indicator_id(2));
  CHECK(plan.held_back[0].tlp == Tlp::red);
  CHECK(plan.held_back[1].id == indicator_id(5));
  CHECK(plan.held_back[1].version == "2024-02-02T00:00:00.000Z");
  CHECK(plan.held_back[1].tlp == Tlp::amber_strict);
  CHECK(plan.held_back[2].id == indicator_id(7));
  CHECK(plan.held_back[2].tlp == Tlp::red);

  PushPlan clear = plan_push(in, Tlp::clear);
  CHECK(clear.objects.size() == 2);  // clear and unmarked
  CHECK(clear.held_back.size() == 5);

  PushPlan red = plan_push(in, Tlp::red);
  CHECK(red.objects.size() == in.size());
  CHECK(red.held_back.empty());

  PushPlan strict = plan_push(in, Tlp::amber_strict);
  CHECK(strict.objects.size() == 5);
  CHECK(strict.held_back.size() == 2);

  CHECK(plan_push({}, Tlp::amber).objects.empty());
}

TEST_CASE("envelope_text is {\"objects\":[...]} in order", "[push][taxii]") {
  std::vector<std::string> objects = {indicator(1), indicator(2), indicator(3)};
  const std::string all = envelope_text(objects, 0, 3);
  auto v = json::parse(all);
  REQUIRE(v);
  REQUIRE(v->is_object());
  REQUIRE(v->as_object().size() == 1);
  const json::Value* list = v->find("objects");
  REQUIRE(list);
  REQUIRE(list->is_array());
  REQUIRE(list->as_array().size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(json::to_string(list->as_array()[i]) == objects[i]);

  const std::string middle = envelope_text(objects, 1, 2);
  CHECK(middle == "{\"objects\":[" + objects[1] + "]}");
  CHECK(envelope_text(objects, 0, 0) == "{\"objects\":[]}");
  REQUIRE(json::parse(envelope_text(objects, 0, 0)));
}

TEST_CASE("split_envelopes: empty input", "[push][taxii]") {
  Envelopes e = split_envelopes({}, 1000);
  CHECK(e.ranges.empty());
  CHECK(e.too_large.empty());
}

TEST_CASE("split_envelopes: objects that exactly fit", "[push][taxii]") {
  const std::vector<std::string> ten = {std::string(10, 'a'), std::string(10, 'b'), std::string(10, 'c')};
  // {"objects":[ + 3 * 10 + 2 commas + ]} = 12 + 30 + 2 + 2 = 46 bytes.
  REQUIRE(envelope_text(ten, 0, 3).size() == 46);
  Envelopes exact = split_envelopes(ten, 46);
  REQUIRE(exact.ranges.size() == 1);
  CHECK(exact.ranges[0] == std::make_pair(std::size_t{0}, std::size_t{3}));
  CHECK(exact.too_large.empty());

  Envelopes one_less = split_envelopes(ten, 45);
  REQUIRE(one_less.ranges.size() == 2);
  CHECK(one_less.ranges[0] == std::make_pair(std::size_t{0}, std::size_t{2}));
  CHECK(one_less.ranges[1] == std::make_pair(std::size_t{2}, std::size_t{3}));
  CHECK(one_less.too_large.empty());

  // A single object alone: 14 bytes of envelope around it.
  Envelopes alone = split_envelopes(ten, 24);
  CHECK(alone.ranges.size() == 3);
  CHECK(alone.too_large.empty());
  for (const auto& [b, e] : alone.ranges) CHECK(e - b == 1);

  Envelopes none_fit = split_envelopes(ten, 23);
  CHECK(none_fit.ranges.empty());
  CHECK(none_fit.too_large == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("split_envelopes isolates an oversize object", "[push][taxii]") {
  const std::vector<std::string> objects = {std::string(10, 'a'), std::string(10, 'b'), std::string(500, 'X'),
                                            std::string(10, 'c'), std::string(600, 'Y')};
  Envelopes e = split_envelopes(objects, 100);
  CHECK(e.too_large == std::vector<std::size_t>{2, 4});
  REQUIRE(e.ranges.size() == 2);
  CHECK(e.ranges[0] == std::make_pair(std::size_t{0}, std::size_t{2}));
  CHECK(e.ranges[1] == std::make_pair(std::size_t{3}, std::size_t{4}));

  const std::vector<std::string> first_huge = {std::string(500, 'X'), std::string(10, 'a')};
  Envelopes f = split_envelopes(first_huge, 100);
  CHECK(f.too_large == std::vector<std::size_t>{0});
  REQUIRE(f.ranges.size() == 1);
  CHECK(f.ranges[0] == std::make_pair(std::size_t{1}, std::size_t{2}));
}

TEST_CASE("split_envelopes: every envelope within max bytes, in order, all objects once", "[push][taxii]") {
  // Objects of assorted sizes, real ones and filler.
  std::vector<std::string> objects;
  for (int i = 0; i < 60; ++i) {
    if (i % 7 == 3)
      objects.push_back("{\"x\":\"" + std::string(static_cast<std::size_t>(50 + i * 13), 'z') + "\"}");
    else
      objects.push_back(indicator(i));
  }
  for (std::uint64_t max : {std::uint64_t{15}, std::uint64_t{200}, std::uint64_t{300}, std::uint64_t{333},
                            std::uint64_t{512}, std::uint64_t{1000}, std::uint64_t{4096}, std::uint64_t{1} << 20}) {
    INFO("max_bytes " << max);
    Envelopes e = split_envelopes(objects, max);
    std::set<std::size_t> too_large(e.too_large.begin(), e.too_large.end());
    for (std::size_t i = 0; i < objects.size(); ++i)
      CHECK((too_large.count(i) != 0) == (objects[i].size() + 14 > max));  // too large exactly when alone it won't fit
    std::vector<std::size_t> order;
    for (std::size_t r = 0; r < e.ranges.size(); ++r) {
      const auto [b, end] = e.ranges[r];
      REQUIRE(b < end);
      const std::string text = envelope_text(objects, b, end);
      CHECK(text.size() <= max);
      REQUIRE(json::parse(text));
      // Packed: the next object, when it is next in line, would not have fit.
      if (r + 1 < e.ranges.size() && e.ranges[r + 1].first == end)
        CHECK(envelope_text(objects, b, end + 1).size() > max);
      for (std::size_t i = b; i < end; ++i) order.push_back(i);
    }
    for (std::size_t i : e.too_large) order.push_back(i);
    std::sort(order.begin(), order.end());
    std::vector<std::size_t> expected(objects.size());
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = i;
    CHECK(order == expected);  // each object exactly once
    // Ranges in increasing order, never overlapping.
    for (std::size_t r = 1; r < e.ranges.size(); ++r) CHECK(e.ranges[r - 1].second <= e.ranges[r].first);
    // The large limit puts everything in one envelope.
    if (max == (std::uint64_t{1} << 20)) {
      REQUIRE(e.ranges.size() == 1);
      CHECK(e.ranges[0] == std::make_pair(std::size_t{0}, objects.size()));
    }
  }
}

// =====================================================================================
// pull: filters and cursors
// =====================================================================================

TEST_CASE("PullFilters::match_query", "[pull][taxii]") {
  PullFilters none;
  CHECK(none.match_query().empty());
  none.added_after = "2024-01-01T00:00:00Z";
  none.limit = 50;
  CHECK(none.match_query().empty());  // not filters of the cursor's set

  PullFilters f;
  f.spec_versions = {"2.1"};
  f.versions = {"all"};
  f.ids = {indicator_id(1), indicator_id(2)};
  f.types = {"indicator", "malware"};
  const std::string q = f.match_query();
  CHECK(q == "match[type]=indicator,malware&match[id]=" + indicator_id(1) + "," + indicator_id(2) +
                 "&match[version]=all&match[spec_version]=2.1");
  CHECK(f.match_query() == q);  // stable

  PullFilters encoded;
  encoded.versions = {"2024-01-01T00:00:00.000Z", "last"};
  encoded.types = {"x-my type", "a,b"};
  const std::string e = encoded.match_query();
  CHECK(e == "match[type]=a%2Cb,x-my%20type&match[version]=2024-01-01T00%3A00%3A00.000Z,last");  // sorted
  CHECK_FALSE(contains(e, " "));
  CHECK_FALSE(contains(e, ":"));

  PullFilters only_types;
  only_types.types = {"indicator"};
  CHECK(only_types.match_query() == "match[type]=indicator");
}

// The same filter set written in another order, or with a value repeated,
// must name the same cursor file: otherwise a pull with
// "--type malware,indicator" after one with "--type indicator,malware"
// would start over from the beginning and deliver everything again.
TEST_CASE("PullFilters: the same filter set in another order names the same cursor", "[pull][taxii]") {
  PullFilters a;
  a.types = {"indicator", "malware"};
  PullFilters b;
  b.types = {"malware", "indicator"};
  PullFilters c;
  c.types = {"indicator", "malware", "indicator"};
  CHECK(a.match_query() == b.match_query());
  CHECK(a.match_query() == c.match_query());
  CursorStore store("/nonexistent-state");
  CHECK(store.cursor_path("p", kRootA, "coll", a) == store.cursor_path("p", kRootA, "coll", b));
}

TEST_CASE("CursorStore::cursor_path is stable and differs per partner, root, collection, filters", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  PullFilters none;
  PullFilters types;
  types.types = {"indicator"};
  PullFilters with_start = none;
  with_start.added_after = "2024-01-01T00:00:00Z";
  with_start.limit = 10;

  const std::string base = store.cursor_path("bank-a", kRootA, "coll-1", none);
  CHECK(base == CursorStore(dir.path()).cursor_path("bank-a", kRootA, "coll-1", none));
  CHECK(base.rfind(dir.path() + "/pull/bank-a/", 0) == 0);
  CHECK(base.ends_with(".cursor"));
  CHECK(store.partner_dir("bank-a") == dir.path() + "/pull/bank-a");

  std::set<std::string> paths = {
      base,
      store.cursor_path("bank-b", kRootA, "coll-1", none),
      store.cursor_path("bank-a", kRootB, "coll-1", none),
      store.cursor_path("bank-a", kRootA, "coll-2", none),
      store.cursor_path("bank-a", kRootA, "coll-1", types),
  };
  CHECK(paths.size() == 5);
  // added_after and limit are not part of the filter set.
  CHECK(store.cursor_path("bank-a", kRootA, "coll-1", with_start) == base);
  // The API root and collection are not confused with one another.
  CHECK(store.cursor_path("bank-a", "https://x.example/a", "b/c", none) !=
        store.cursor_path("bank-a", "https://x.example/a/b", "c", none));
}

TEST_CASE("CursorStore: save and load round trip; missing is nullopt", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  PullFilters f;
  f.types = {"indicator"};
  const std::string path = store.cursor_path("bank-a", kRootA, "coll-1", f);

  auto missing = store.load(path);
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());

  Cursor c;
  c.added_after = "2024-03-04T05:06:07.123456Z";
  c.boundary = {indicator_id(1) + "|2024-01-01T00:00:00.000Z", "ipv4-addr--" + uuid(9) + "|"};
  REQUIRE(store.save(path, c, kRootA, "coll-1", f, now()));
  CHECK(exists(path));

  auto loaded = store.load(path);
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->added_after == c.added_after);
  CHECK((*loaded)->boundary == c.boundary);

  // The file says, for people reading it, what it is for.
  auto doc = json::parse(slurp(path));
  REQUIRE(doc);
  CHECK(doc->find_string("api_root").value_or("") == kRootA);
  CHECK(doc->find_string("collection").value_or("") == "coll-1");
  CHECK(doc->find_string("filters").value_or("") == "match[type]=indicator");
  CHECK(doc->find_string("updated").value_or("") == "2024-05-01T12:00:00.000Z");

  // Saving again replaces it.
  Cursor later;
  later.added_after = "2024-03-05T00:00:00Z";
  REQUIRE(store.save(path, later, kRootA, "coll-1", f, now()));
  auto again = store.load(path);
  REQUIRE(again);
  REQUIRE(again->has_value());
  CHECK((*again)->added_after == "2024-03-05T00:00:00Z");
  CHECK((*again)->boundary.empty());

  // An empty cursor (nothing pulled yet) round-trips too.
  REQUIRE(store.save(path, Cursor{}, kRootA, "coll-1", f, now()));
  auto empty = store.load(path);
  REQUIRE(empty);
  REQUIRE(empty->has_value());
  CHECK((*empty)->added_after.empty());
}

TEST_CASE("CursorStore: a damaged cursor is a data error suggesting --reset-cursor", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string path = store.cursor_path("bank-a", kRootA, "coll-1", {});
  std::filesystem::create_directories(store.partner_dir("bank-a"));
  for (const char* text : {"", "not json", "[1,2]", "{}", R"({"added_after": 5})", R"({"added_after": "yesterday"})",
                           R"({"added_after": "2024-01-01T00:00:00Z", "boundary": "x"})",
                           R"({"added_after": "2024-01-01T00:00:00Z", "boundary": [1]})",
                           "{\"added_after\": \"2024-01-01T00:00:00Z\""}) {
    INFO(text);
    spit(path, text);
    auto c = store.load(path);
    REQUIRE_FALSE(c);
    CHECK(c.error().category() == ErrorCategory::data);
    CHECK(exit_code(c.error().category()) == 65);
    CHECK(contains(c.error().message(), "--reset-cursor"));
    CHECK(contains(c.error().message(), path));
  }
}

TEST_CASE("CursorStore::reset removes cursors and the journal, nothing else", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string a1 = store.cursor_path("bank-a", kRootA, "coll-1", {});
  const std::string a2 = store.cursor_path("bank-a", kRootA, "coll-2", {});
  const std::string b1 = store.cursor_path("bank-b", kRootB, "coll-1", {});
  Cursor c;
  c.added_after = "2024-01-01T00:00:00Z";
  REQUIRE(store.save(a1, c, kRootA, "coll-1", {}, now()));
  REQUIRE(store.save(a2, c, kRootA, "coll-2", {}, now()));
  REQUIRE(store.save(b1, c, kRootB, "coll-1", {}, now()));
  const std::string journal = dir.file("pull/bank-a/pending.json", "{}");
  const std::string notes = dir.file("pull/bank-a/notes.txt", "keep me");
  const std::string backup = dir.file("pull/bank-a/old.cursor.bak", "keep me too");

  REQUIRE(store.reset("bank-a"));
  CHECK_FALSE(exists(a1));
  CHECK_FALSE(exists(a2));
  CHECK_FALSE(exists(journal));
  CHECK(exists(notes));
  CHECK(exists(backup));
  CHECK(exists(b1));  // another partner's cursor stays
  auto after = store.load(a1);
  REQUIRE(after);
  CHECK_FALSE(after->has_value());

  // Nothing to reset is fine, twice or for a partner never pulled.
  CHECK(store.reset("bank-a"));
  CHECK(store.reset("never-seen"));
}

// =====================================================================================
// pull: journal recovery
// =====================================================================================

namespace {

// A journal as a dying run would have left it.
void write_journal(const TempDir& dir, const std::string& partner, const std::string& output,
                   const std::string& digest, const std::vector<std::pair<std::string, std::string>>& cursors,
                   const std::optional<std::string>& head = std::nullopt) {
  json::Array list;
  for (const auto& [path, text] : cursors) {
    json::Object e;
    e.emplace_back("path", path);
    e.emplace_back("text", text);
    list.emplace_back(std::move(e));
  }
  json::Object j;
  j.emplace_back("output", output);
  if (head) j.emplace_back("head", *head);
  j.emplace_back("sha256", digest);
  j.emplace_back("cursors", std::move(list));
  std::filesystem::create_directories(dir.path() + "/pull/" + partner);
  spit(dir.path() + "/pull/" + partner + "/pending.json", json::to_string(json::Value(std::move(j))));
}

std::string cursor_text(const std::string& added_after) {
  return "{\"added_after\":\"" + added_after + "\",\"boundary\":[]}\n";
}

}  // namespace

TEST_CASE("recover_journal: no journal", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  auto r = recover_journal(store, "bank-a");
  REQUIRE(r);
  CHECK_FALSE(*r);
}

TEST_CASE("recover_journal: output written with the recorded digest commits the cursors", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string output = dir.file("out.json", "abc");
  // SHA-256("abc"), the FIPS 180-2 test vector.
  const std::string digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  REQUIRE(hex(detail::sha256("abc")) == digest);
  const std::string c1 = store.cursor_path("bank-a", kRootA, "coll-1", {});
  const std::string c2 = store.cursor_path("bank-a", kRootA, "coll-2", {});
  write_journal(dir, "bank-a", output, digest,
                {{c1, cursor_text("2024-02-01T00:00:00.000Z")}, {c2, cursor_text("2024-02-02T00:00:00.000Z")}});

  auto r = recover_journal(store, "bank-a");
  REQUIRE(r);
  CHECK(*r);
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  auto l1 = store.load(c1);
  REQUIRE(l1);
  REQUIRE(l1->has_value());
  CHECK((*l1)->added_after == "2024-02-01T00:00:00.000Z");
  auto l2 = store.load(c2);
  REQUIRE(l2);
  REQUIRE(l2->has_value());
  CHECK((*l2)->added_after == "2024-02-02T00:00:00.000Z");
  CHECK(slurp(output) == "abc");  // the output is left alone

  // Done: a second recovery finds nothing.
  auto again = recover_journal(store, "bank-a");
  REQUIRE(again);
  CHECK_FALSE(*again);
}

TEST_CASE("recover_journal: output missing or different drops the journal, cursors untouched", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string digest = hex(detail::sha256("abc"));
  const std::string c1 = store.cursor_path("bank-a", kRootA, "coll-1", {});
  Cursor old;
  old.added_after = "2024-01-01T00:00:00.000Z";

  SECTION("output missing") {
    REQUIRE(store.save(c1, old, kRootA, "coll-1", {}, now()));
    write_journal(dir, "bank-a", dir / "never-written.json", digest, {{c1, cursor_text("2024-09-09T00:00:00.000Z")}});
  }
  SECTION("output with other bytes (the crash came before the rename)") {
    REQUIRE(store.save(c1, old, kRootA, "coll-1", {}, now()));
    const std::string output = dir.file("out.json", "abcd");
    write_journal(dir, "bank-a", output, digest, {{c1, cursor_text("2024-09-09T00:00:00.000Z")}});
  }
  auto r = recover_journal(store, "bank-a");
  REQUIRE(r);
  CHECK_FALSE(*r);
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  auto l = store.load(c1);
  REQUIRE(l);
  REQUIRE(l->has_value());
  CHECK((*l)->added_after == "2024-01-01T00:00:00.000Z");
}

TEST_CASE("recover_journal: a head names the first bytes, the digest the rest", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string c1 = store.cursor_path("bank-a", kRootA, "coll-1", {});
  const std::string output = dir.file("out.json", "{head}abc");
  const std::string digest = hex(detail::sha256("abc"));
  struct Case {
    std::string head;
    bool committed;
  };
  for (const Case& c : {Case{"{head}", true}, Case{"{heap}", false}, Case{"", false}, Case{"{head}abc!", false}}) {
    INFO(c.head);
    std::filesystem::remove(c1);
    write_journal(dir, "bank-a", output, digest, {{c1, cursor_text("2024-09-09T00:00:00.000Z")}}, c.head);
    auto r = recover_journal(store, "bank-a");
    REQUIRE(r);
    CHECK(*r == c.committed);
    CHECK(exists(c1) == c.committed);
    CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  }
}

TEST_CASE("recover_journal: no cursor before a dropped journal, none after", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string c1 = store.cursor_path("bank-a", kRootA, "coll-1", {});
  const std::string output = dir.file("out.json", "ab");
  write_journal(dir, "bank-a", output, hex(detail::sha256("abc")), {{c1, cursor_text("2024-09-09T00:00:00.000Z")}});
  auto r = recover_journal(store, "bank-a");
  REQUIRE(r);
  CHECK_FALSE(*r);
  CHECK_FALSE(exists(c1));
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
}

TEST_CASE("recover_journal: a damaged journal is a data error", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  std::filesystem::create_directories(store.partner_dir("bank-a"));
  const std::string journal = store.partner_dir("bank-a") + "/pending.json";
  for (const char* text : {"", "garbage", "[]", R"({"output":"x","sha256":"y"})", R"({"output":"x","cursors":[]})"}) {
    INFO(text);
    spit(journal, text);
    auto r = recover_journal(store, "bank-a");
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::data);
  }
}

TEST_CASE("recover_journal only touches its own partner", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path());
  const std::string output = dir.file("out.json", "abc");
  const std::string cb = store.cursor_path("bank-b", kRootB, "coll-1", {});
  write_journal(dir, "bank-b", output, hex(detail::sha256("abc")), {{cb, cursor_text("2024-02-01T00:00:00.000Z")}});
  auto a = recover_journal(store, "bank-a");
  REQUIRE(a);
  CHECK_FALSE(*a);
  CHECK(exists(store.partner_dir("bank-b") + "/pending.json"));
  CHECK_FALSE(exists(cb));
}

// =====================================================================================
// pull: delivery
// =====================================================================================

TEST_CASE("deliver to a file: a bundle, then the cursors, no journal left", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string out = dir / "pulled.json";
  std::vector<PartnerPull> pulls;
  pulls.push_back(partner_pull("bank-a", kRootA,
                               {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2, 3}, "2024-02-01T00:00:00.000Z"),
                                collection_pull(store, "bank-a", kRootA, "coll-2", {4}, "2024-02-02T00:00:00.000Z")}));
  const std::string cursor1 = pulls[0].collections[0].cursor_path;
  const std::string cursor2 = pulls[0].collections[1].cursor_path;
  CHECK(pulls[0].new_objects() == 4);

  DeliveryOptions options;
  options.output = out;
  auto d = deliver(pulls, store, options, now());
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].partner == "bank-a");
  CHECK((*d)[0].path == out);
  CHECK((*d)[0].objects == 4);
  CHECK((*d)[0].changed);

  auto doc = json::parse(slurp(out));
  REQUIRE(doc);
  CHECK(doc->find_string("type").value_or("") == "bundle");
  CHECK(doc->find_string("id").value_or("").starts_with("bundle--"));
  CHECK(ids_of(read_objects_of(out)) ==
        std::vector<std::string>{indicator_id(1), indicator_id(2), indicator_id(3), indicator_id(4)});
  CHECK(read_objects_of(out)[0].to_string() == indicator(1));

  auto c1 = store.load(cursor1);
  REQUIRE(c1);
  REQUIRE(c1->has_value());
  CHECK((*c1)->added_after == "2024-02-01T00:00:00.000Z");
  CHECK((*c1)->boundary.size() == 3);
  auto c2 = store.load(cursor2);
  REQUIRE(c2);
  REQUIRE(c2->has_value());
  CHECK((*c2)->added_after == "2024-02-02T00:00:00.000Z");
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  auto r = recover_journal(store, "bank-a");
  REQUIRE(r);
  CHECK_FALSE(*r);
}

TEST_CASE("deliver to a file with nothing new: an empty bundle, cursors still saved", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string out = dir / "pulled.json";
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00.000Z")}));
  const std::string cursor = pulls[0].collections[0].cursor_path;
  DeliveryOptions options;
  options.output = out;
  auto d = deliver(pulls, store, options, now());
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].objects == 0);
  REQUIRE(exists(out));
  auto doc = json::parse(slurp(out));
  REQUIRE(doc);
  CHECK(doc->find_string("type").value_or("") == "bundle");
  CHECK(read_objects_of(out).empty());
  auto c = store.load(cursor);
  REQUIRE(c);
  REQUIRE(c->has_value());
  CHECK((*c)->added_after == "2024-02-01T00:00:00.000Z");
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
}

TEST_CASE("deliver to standard output with nothing new writes nothing and saves cursors", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00.000Z")}));
  const std::string cursor = pulls[0].collections[0].cursor_path;
  DeliveryOptions options;  // output "-"
  auto d = deliver(pulls, store, options, now());
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].path == "-");
  CHECK_FALSE((*d)[0].changed);
  auto c = store.load(cursor);
  REQUIRE(c);
  CHECK(c->has_value());
}

TEST_CASE("deliver to one file: several partners, an object they share once", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string out = dir / "all.json";
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2}, "2024-02-01T00:00:00Z")}));
  pulls.push_back(
      partner_pull("bank-b", kRootB, {collection_pull(store, "bank-b", kRootB, "coll-1", {2, 3}, "2024-02-03T00:00:00Z")}));
  const std::string ca = pulls[0].collections[0].cursor_path;
  const std::string cb = pulls[1].collections[0].cursor_path;
  DeliveryOptions options;
  options.output = out;
  auto d = deliver(pulls, store, options, now());
  REQUIRE(d);
  REQUIRE(d->size() == 2);
  CHECK((*d)[0].objects == 2);
  CHECK((*d)[1].objects == 1);  // indicator 2 came from bank-a already
  CHECK(ids_of(read_objects_of(out)) == std::vector<std::string>{indicator_id(1), indicator_id(2), indicator_id(3)});
  auto la = store.load(ca);
  auto lb = store.load(cb);
  REQUIRE(la);
  REQUIRE(lb);
  REQUIRE(la->has_value());
  REQUIRE(lb->has_value());
  CHECK((*lb)->added_after == "2024-02-03T00:00:00Z");
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  CHECK_FALSE(exists(store.partner_dir("bank-b") + "/pending.json"));
}

TEST_CASE("deliver: a failing output leaves the cursors as they were", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string cursor = store.cursor_path("bank-a", kRootA, "coll-1", {});
  Cursor old;
  old.added_after = "2024-01-01T00:00:00Z";
  REQUIRE(store.save(cursor, old, kRootA, "coll-1", {}, now()));

  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1}, "2024-02-01T00:00:00Z")}));
  DeliveryOptions options;
  options.output = dir / "no-such-dir/out.json";
  auto d = deliver(pulls, store, options, now());
  REQUIRE_FALSE(d);
  CHECK(d.error().category() == ErrorCategory::cannot_create);
  // The output could not even be started, so no journal was written.
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  auto l = store.load(cursor);
  REQUIRE(l);
  REQUIRE(l->has_value());
  CHECK((*l)->added_after == "2024-01-01T00:00:00Z");
  // The next run's recovery finds no output with the journal's bytes: cursors stay.
  auto r = recover_journal(store, "bank-a");
  REQUIRE(r);
  CHECK_FALSE(*r);
  auto l2 = store.load(cursor);
  REQUIRE(l2);
  REQUIRE(l2->has_value());
  CHECK((*l2)->added_after == "2024-01-01T00:00:00Z");
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
}

TEST_CASE("deliver: a journal left by a failed cursor names the output's digest (issue #5)", "[pull][taxii]") {
  // The digest is taken on a thread of its own, reading back the bytes
  // after the bundle's head (written last): head and digest must still
  // describe the bytes on disk.
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  spit(dir / "blocker", "a file where the cursor's directory should be");
  std::vector<PartnerPull> pulls;
  for (const auto& framing : {stix::OutputFraming::bundle, stix::OutputFraming::ndjson}) {
    pulls.clear();
    pulls.push_back(partner_pull(
        "bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2, 3}, "2024-02-01T00:00:00Z")}));
    pulls[0].collections[0].cursor_path = dir / "blocker/x.cursor";
    DeliveryOptions options;
    options.framing = framing;
    options.output = dir / "out.json";
    REQUIRE_FALSE(deliver(pulls, store, options, now()));
    const std::string journal = store.partner_dir("bank-a") + "/pending.json";
    REQUIRE(exists(journal));
    auto j = json::parse(slurp(journal));
    REQUIRE(j);
    const std::string content = slurp(options.output);
    const std::string head(j->find_string("head").value_or("-"));
    REQUIRE(content.starts_with(head));
    CHECK(head.empty() == (framing == stix::OutputFraming::ndjson));
    const std::string tag(j->find_string("content").value_or("-"));
    CHECK(ctishare::detail::has_content_tag(content.substr(head.size()), tag) == true);
    CHECK(ctishare::detail::has_content_tag(content.substr(head.size()) + " ", tag) == false);
    std::remove(journal.c_str());
  }
}

TEST_CASE("deliver: a journal left behind commits its cursors only over the output it names", "[pull][taxii]") {
  // A run that dies between the journal and the cursors: the next run's
  // recovery saves the cursors when the output holds what the journal's
  // tag was taken of, and drops the journal when it holds anything else.
  for (const bool changed : {false, true}) {
    TempDir dir;
    CursorStore store(dir.path() + "/state");
    spit(dir / "blocker", "a file where the cursor's directory should be");
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull(
        "bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2, 3}, "2024-02-01T00:00:00Z")}));
    pulls[0].collections[0].cursor_path = dir / "blocker/x.cursor";
    DeliveryOptions options;
    options.output = dir / "out.json";
    REQUIRE_FALSE(deliver(pulls, store, options, now()));
    std::remove((dir / "blocker").c_str());  // the cursor's directory, this time
    std::filesystem::create_directory(dir / "blocker");
    if (changed) {
      std::string content = slurp(options.output);
      content[content.size() / 2] ^= 1;
      spit(options.output, content);
    }
    auto r = recover_journal(store, "bank-a");
    REQUIRE(r);
    CHECK(*r == !changed);
    CHECK(exists(dir / "blocker/x.cursor") == !changed);
    CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  }
}

TEST_CASE("content tags: a tag tells its content from any other, and unknown texts are no tags", "[pull][taxii]") {
  using ctishare::detail::ContentTagger;
  using ctishare::detail::has_content_tag;
  const std::string data(100000, 'x');
  auto a = ContentTagger::create();
  REQUIRE(a);
  REQUIRE(a->update(data.data(), 4000));
  REQUIRE(a->update(data.data() + 4000, data.size() - 4000));
  const auto tag = a->finish();
  REQUIRE(tag);
  CHECK(has_content_tag(data, *tag) == true);
  CHECK(has_content_tag(data.substr(1), *tag) == false);
  CHECK(has_content_tag(data + "x", *tag) == false);
  // Each tagger has its own key: the same bytes, another tag.
  auto b = ContentTagger::create();
  REQUIRE(b);
  b->update(data.data(), data.size());
  const auto other = b->finish();
  REQUIRE(other);
  CHECK(*other != *tag);
  CHECK(has_content_tag(data, *other) == true);
  // Earlier journals' SHA-256, and texts that are no tag.
  CHECK(has_content_tag("abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == true);
  CHECK(has_content_tag("abd", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == false);
  for (const std::string& bad : std::vector<std::string>{
           "", "sha256:", "sha256:abc", "md5:900150983cd24fb0d6963f7d28e17f72", tag->substr(0, tag->size() - 1),
           tag->substr(0, tag->size() - 1) + "g", std::string(*tag).replace(9 + 64, 1, "-")})
    CHECK_FALSE(has_content_tag(data, bad).has_value());
}

TEST_CASE("deliver to a missing output_dir fails and leaves the cursors", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1}, "2024-02-01T00:00:00Z")}));
  DeliveryOptions options;
  options.output_dir = dir / "absent";
  auto d = deliver(pulls, store, options, now());
  REQUIRE_FALSE(d);
  CHECK(exit_code(d.error().category()) == 73);
  CHECK_FALSE(exists(store.cursor_path("bank-a", kRootA, "coll-1", {})));
}

TEST_CASE("deliver to output_dir: one file per partner", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string outdir = dir.path() + "/out";
  std::filesystem::create_directories(outdir);
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2}, "2024-02-01T00:00:00Z")}));
  pulls.push_back(
      partner_pull("bank-b", kRootB, {collection_pull(store, "bank-b", kRootB, "coll-1", {2, 3}, "2024-02-03T00:00:00Z")}));
  DeliveryOptions options;
  options.output_dir = outdir;
  auto d = deliver(pulls, store, options, now());
  REQUIRE(d);
  REQUIRE(d->size() == 2);
  const std::string fa = partner_output_path(outdir, "bank-a", stix::OutputFraming::bundle);
  const std::string fb = partner_output_path(outdir, "bank-b", stix::OutputFraming::bundle);
  CHECK(fa == outdir + "/bank-a.json");
  CHECK(fb == outdir + "/bank-b.json");
  CHECK(partner_output_path(outdir, "bank-a", stix::OutputFraming::ndjson) == outdir + "/bank-a.ndjson");
  CHECK((*d)[0].path == fa);
  CHECK((*d)[1].path == fb);
  CHECK((*d)[0].objects == 2);
  CHECK((*d)[1].objects == 2);  // each partner's own file has its own copy
  CHECK(ids_of(read_objects_of(fa)) == std::vector<std::string>{indicator_id(1), indicator_id(2)});
  CHECK(ids_of(read_objects_of(fb)) == std::vector<std::string>{indicator_id(2), indicator_id(3)});
  CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
  CHECK_FALSE(exists(store.partner_dir("bank-b") + "/pending.json"));
  auto cb = store.load(store.cursor_path("bank-b", kRootB, "coll-1", {}));
  REQUIRE(cb);
  REQUIRE(cb->has_value());
  CHECK((*cb)->added_after == "2024-02-03T00:00:00Z");
}

TEST_CASE("deliver to output_dir adds to a file not yet taken, without duplicates", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string outdir = dir.path() + "/out";
  std::filesystem::create_directories(outdir);
  DeliveryOptions options;
  options.output_dir = outdir;
  const std::string f = partner_output_path(outdir, "bank-a", stix::OutputFraming::bundle);

  std::vector<PartnerPull> first;
  first.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2}, "2024-02-01T00:00:00Z")}));
  REQUIRE(deliver(first, store, options, now()));
  REQUIRE(read_objects_of(f).size() == 2);

  // The second pull repeats indicator 2 (same version), brings 3, and a new version of 1.
  std::vector<PartnerPull> second;
  CollectionPull c = collection_pull(store, "bank-a", kRootA, "coll-1", {2, 3}, "2024-02-05T00:00:00Z");
  c.add(indicator(1, "2024-03-01T00:00:00.000Z"), indicator_id(1), "2024-03-01T00:00:00.000Z");
  second.push_back(partner_pull("bank-a", kRootA, {std::move(c)}));
  auto d = deliver(second, store, options, now());
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].objects == 2);  // 3 and the new version of 1
  CHECK((*d)[0].changed);
  auto objects = read_objects_of(f);
  REQUIRE(objects.size() == 4);
  CHECK(ids_of(objects) ==
        std::vector<std::string>{indicator_id(1), indicator_id(2), indicator_id(3), indicator_id(1)});
  CHECK(objects[0].version() == "2024-01-01T00:00:00.000Z");
  CHECK(objects[3].version() == "2024-03-01T00:00:00.000Z");
  auto cur = store.load(store.cursor_path("bank-a", kRootA, "coll-1", {}));
  REQUIRE(cur);
  REQUIRE(cur->has_value());
  CHECK((*cur)->added_after == "2024-02-05T00:00:00Z");

  // A third pull of nothing new keeps the file's bytes.
  const std::string before = slurp(f);
  std::vector<PartnerPull> third;
  third.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {3}, "2024-02-06T00:00:00Z")}));
  auto d3 = deliver(third, store, options, now());
  REQUIRE(d3);
  CHECK((*d3)[0].objects == 0);
  CHECK_FALSE((*d3)[0].changed);
  CHECK(slurp(f) == before);

  // Once the consumer took the file away, the next delivery starts a new one.
  std::filesystem::remove(f);
  std::vector<PartnerPull> fourth;
  fourth.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {9}, "2024-02-07T00:00:00Z")}));
  REQUIRE(deliver(fourth, store, options, now()));
  CHECK(ids_of(read_objects_of(f)) == std::vector<std::string>{indicator_id(9)});
}

TEST_CASE("deliver to output_dir after an empty delivery", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string outdir = dir.path() + "/out";
  std::filesystem::create_directories(outdir);
  DeliveryOptions options;
  options.output_dir = outdir;
  std::vector<PartnerPull> first;
  first.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00Z")}));
  REQUIRE(deliver(first, store, options, now()));
  std::vector<PartnerPull> second;
  second.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {5}, "2024-02-02T00:00:00Z")}));
  auto d = deliver(second, store, options, now());
  REQUIRE(d);
  CHECK((*d)[0].objects == 1);
  CHECK(ids_of(read_objects_of(partner_output_path(outdir, "bank-a", stix::OutputFraming::bundle))) ==
        std::vector<std::string>{indicator_id(5)});
}

TEST_CASE("deliver with NDJSON framing: one object a line", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  DeliveryOptions options;
  options.framing = stix::OutputFraming::ndjson;

  SECTION("to a file") {
    options.output = dir / "out.ndjson";
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull(
        "bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2, 3}, "2024-02-01T00:00:00Z")}));
    REQUIRE(deliver(pulls, store, options, now()));
    const std::string text = slurp(options.output);
    CHECK(text == indicator(1) + "\n" + indicator(2) + "\n" + indicator(3) + "\n");
  }
  SECTION("to output_dir, added to") {
    options.output_dir = dir.path() + "/out";
    std::filesystem::create_directories(options.output_dir);
    std::vector<PartnerPull> first;
    first.push_back(
        partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2}, "2024-02-01T00:00:00Z")}));
    auto d1 = deliver(first, store, options, now());
    REQUIRE(d1);
    const std::string f = options.output_dir + "/bank-a.ndjson";
    CHECK((*d1)[0].path == f);
    CHECK(slurp(f) == indicator(1) + "\n" + indicator(2) + "\n");
    std::vector<PartnerPull> second;
    second.push_back(
        partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {2, 3}, "2024-02-02T00:00:00Z")}));
    auto d2 = deliver(second, store, options, now());
    REQUIRE(d2);
    CHECK((*d2)[0].objects == 1);
    CHECK(slurp(f) == indicator(1) + "\n" + indicator(2) + "\n" + indicator(3) + "\n");
  }
}

TEST_CASE("deliver: the same input gives the same bytes", "[pull][taxii]") {
  TempDir dir;
  const auto run = [&](const std::string& name, stix::OutputFraming framing) {
    CursorStore store(dir.path() + "/state-" + name);
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull(
        "bank-a", kRootA,
        {collection_pull(store, "bank-a", kRootA, "coll-1", {3, 1, 2}, "2024-02-01T00:00:00Z"),
         collection_pull(store, "bank-a", kRootA, "coll-2", {7}, "2024-02-01T00:00:00Z")}));
    DeliveryOptions options;
    options.framing = framing;
    options.output = dir / name;
    auto d = deliver(pulls, store, options, now());
    REQUIRE(d);
    return std::make_pair(slurp(options.output), slurp(pulls[0].collections[0].cursor_path));
  };
  const auto a = run("a.json", stix::OutputFraming::bundle);
  const auto b = run("b.json", stix::OutputFraming::bundle);
  CHECK_FALSE(a.first.empty());
  CHECK(a.first == b.first);    // the bundle id follows the content
  CHECK(a.second == b.second);  // the cursor files too (fixed `now`)
  CHECK(contains(a.second, "2024-05-01T12:00:00.000Z"));
  // Server order is kept, not sorted.
  std::istringstream in(a.first);
  auto objects = stix::read_all(in);
  REQUIRE(objects);
  CHECK(ids_of(*objects) == std::vector<std::string>{indicator_id(3), indicator_id(1), indicator_id(2), indicator_id(7)});

  // Other content, another bundle id.
  CursorStore store(dir.path() + "/state-c");
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {3, 1}, "2024-02-01T00:00:00Z")}));
  DeliveryOptions options;
  options.output = dir / "c.json";
  REQUIRE(deliver(pulls, store, options, now()));
  auto id_a = json::parse(a.first);
  auto id_c = json::parse(slurp(options.output));
  REQUIRE(id_a);
  REQUIRE(id_c);
  CHECK(id_a->find_string("id") != id_c->find_string("id"));

  const auto n1 = run("a.ndjson", stix::OutputFraming::ndjson);
  const auto n2 = run("b.ndjson", stix::OutputFraming::ndjson);
  CHECK(n1.first == n2.first);
}

TEST_CASE("Delivery writes what BundleWriter writes, over many writes", "[pull][taxii]") {
  // 3,000 objects: more pieces than one writev takes, written page by page.
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  for (const auto framing : {stix::OutputFraming::bundle, stix::OutputFraming::ndjson}) {
    INFO(static_cast<int>(framing));
    DeliveryOptions options;
    options.framing = framing;
    options.output = dir / "out";
    auto delivery = Delivery::open(options);
    REQUIRE(delivery);
    REQUIRE((*delivery)->begin("bank-a"));
    CollectionPull c = collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00Z");
    stix::BundleIdDigest id;
    std::vector<std::string> objects;
    for (int n = 0; n < 3000; ++n) {
      objects.push_back(indicator(n, "2024-01-01T00:00:00.000Z"));
      id.add(indicator_id(n), "2024-01-01T00:00:00.000Z");
      auto offer = (*delivery)->add(objects.back(), indicator_id(n), "2024-01-01T00:00:00.000Z");
      REQUIRE(offer);
      CHECK(offer->added == Delivery::Added::written);
      c.keys.push_back(offer->key);
      if (n % 700 == 699) REQUIRE((*delivery)->flush());
    }
    REQUIRE((*delivery)->end());
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull("bank-a", kRootA, {std::move(c)}));
    auto d = (*delivery)->commit(pulls, store, now());
    REQUIRE(d);
    REQUIRE(d->size() == 1);
    CHECK((*d)[0].objects == 3000);
    StringSink expected;
    stix::BundleWriter writer(expected, framing, json::Layout::compact, id.finish());
    for (const auto& o : objects) REQUIRE(writer.add_serialized(o));
    REQUIRE(writer.finish());
    CHECK(slurp(options.output) == expected.text());
    CHECK(pulls[0].collections[0].versions().size() == 3000);
    CHECK(pulls[0].collections[0].versions()[2999].first == indicator_id(2999));
  }
}

TEST_CASE("Delivery: one output holds each key once; an abandoned partner leaves nothing", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  DeliveryOptions options;
  options.output = dir / "out.json";
  auto delivery = Delivery::open(options);
  REQUIRE(delivery);
  Delivery& d = **delivery;
  const std::string v = "2024-01-01T00:00:00.000Z";
  std::vector<std::string> held;  // the objects' bytes, kept until written
  for (int n = 0; n < 5; ++n) held.push_back(indicator(n, v));
  const auto offer = [&](int n) {
    auto o = d.add(held[n], indicator_id(n), v);
    REQUIRE(o);
    return o->added;
  };
  using A = Delivery::Added;
  REQUIRE(d.begin("bank-a"));
  CHECK(offer(1) == A::written);
  CHECK(offer(2) == A::written);
  CHECK(offer(2) == A::duplicate);  // twice in one partner's pull
  REQUIRE(d.end());

  REQUIRE(d.begin("bank-b"));
  CHECK(offer(2) == A::known);  // bank-a wrote it
  CHECK(offer(3) == A::written);
  REQUIRE(d.flush());
  d.abandon();  // bank-b failed: neither its object nor its marks stay

  REQUIRE(d.begin("bank-c"));
  CHECK(offer(3) == A::written);  // forgotten with bank-b
  CHECK(offer(2) == A::known);
  CHECK(offer(3) == A::duplicate);
  REQUIRE(d.end());

  std::vector<PartnerPull> pulls;
  pulls.push_back(partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00Z")}));
  pulls.push_back(partner_pull("bank-c", kRootB, {collection_pull(store, "bank-c", kRootB, "coll-1", {}, "2024-02-01T00:00:00Z")}));
  auto done = d.commit(pulls, store, now());
  REQUIRE(done);
  REQUIRE(done->size() == 2);
  CHECK((*done)[0].objects == 2);
  CHECK((*done)[1].objects == 1);
  std::istringstream in(slurp(options.output));
  auto objects = stix::read_all(in);
  REQUIRE(objects);
  CHECK(ids_of(*objects) == std::vector<std::string>{indicator_id(1), indicator_id(2), indicator_id(3)});
  // The journal-free end state: cursors written, no journal, no temporary file.
  CHECK(exists(pulls[1].collections[0].cursor_path));
  CHECK_FALSE(exists(store.partner_dir("bank-c") + "/pending.json"));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 1);
}

TEST_CASE("Delivery: the bytes of an abandoned last partner do not stay at the end", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string v = "2024-01-01T00:00:00.000Z";
  const std::string one = indicator(1, v), two = indicator(2, v), three = indicator(3, v);
  for (const auto framing : {stix::OutputFraming::ndjson, stix::OutputFraming::bundle}) {
    INFO(static_cast<int>(framing));
    DeliveryOptions options;
    options.framing = framing;
    options.output = dir / "out";
    auto delivery = Delivery::open(options);
    REQUIRE(delivery);
    Delivery& d = **delivery;
    REQUIRE(d.begin("bank-a"));
    REQUIRE(d.add(one, indicator_id(1), v));
    REQUIRE(d.end());
    REQUIRE(d.begin("bank-b"));
    REQUIRE(d.add(two, indicator_id(2), v));
    REQUIRE(d.add(three, indicator_id(3), v));
    REQUIRE(d.flush());
    d.abandon();
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00Z")}));
    REQUIRE(d.commit(pulls, store, now()));
    StringSink expected;
    stix::BundleIdDigest id;
    id.add(indicator_id(1), v);
    stix::BundleWriter writer(expected, framing, json::Layout::compact, id.finish());
    REQUIRE(writer.add_serialized(one));
    REQUIRE(writer.finish());
    CHECK(slurp(options.output) == expected.text());
  }
}

TEST_CASE("Delivery to output_dir: an abandoned partner's file stays as it was", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  std::filesystem::create_directories(dir / "out");
  DeliveryOptions options;
  options.output_dir = dir / "out";
  const std::string path = partner_output_path(options.output_dir, "bank-a", options.framing);
  std::vector<PartnerPull> first;
  first.push_back(partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1}, "2024-02-01T00:00:00Z")}));
  REQUIRE(deliver(first, store, options, now()));
  const std::string before = slurp(path);

  auto delivery = Delivery::open(options);
  REQUIRE(delivery);
  REQUIRE((*delivery)->begin("bank-a"));
  const std::string object = indicator(1, "2024-01-01T00:00:00.000Z");
  auto again = (*delivery)->add(object, indicator_id(1), "2024-01-01T00:00:00.000Z");
  REQUIRE(again);
  CHECK(again->added == Delivery::Added::known);  // in the file not yet taken
  const std::string other = indicator(2, "2024-01-01T00:00:00.000Z");
  REQUIRE((*delivery)->add(other, indicator_id(2), "2024-01-01T00:00:00.000Z"));
  REQUIRE((*delivery)->flush());
  (*delivery)->abandon();
  delivery->reset();
  CHECK(slurp(path) == before);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out")) files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 1);
}

TEST_CASE("deliver: the same file delivered again is unchanged", "[pull][taxii]") {
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  DeliveryOptions options;
  options.output = dir / "out.json";
  const std::string cursor = store.cursor_path("bank-a", kRootA, "coll-1", {});
  for (int round = 0; round < 2; ++round) {
    std::vector<PartnerPull> pulls;
    pulls.push_back(
        partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2}, "2024-02-01T00:00:00Z")}));
    if (round == 1) std::filesystem::remove(cursor);  // so the second round's cursor is seen to be written
    auto d = deliver(pulls, store, options, now());
    REQUIRE(d);
    CHECK((*d)[0].changed == (round == 0));
    // One cursor and an unchanged file: the cursor moves, without a journal left behind.
    auto saved = store.load(cursor);
    REQUIRE(saved);
    REQUIRE(*saved);
    CHECK((*saved)->added_after == "2024-02-01T00:00:00Z");
    CHECK_FALSE(std::filesystem::exists(store.partner_dir("bank-a") + "/pending.json"));
  }
}

TEST_CASE("deliver over an earlier output: the new bytes, however the old ones differ", "[pull][taxii]") {
  // The target is compared as the objects come and written only from the
  // first difference: each case is checked against the same delivery to a
  // new file.
  TempDir dir;
  const std::string v1 = "2024-01-01T00:00:00.000Z", v2 = "2024-03-01T00:00:00.000Z";
  std::vector<int> all(3000), half(1500);
  std::iota(all.begin(), all.end(), 0);
  std::iota(half.begin(), half.end(), 0);
  int run = 0;
  // Delivers ns (the last one at `last_version`) to `out`, in one or two
  // collections: whether the output changed.
  const auto deliver_to = [&](const std::string& out, std::vector<int> ns, stix::OutputFraming framing,
                              int collections = 1, const std::string& last_version = "") {
    CursorStore store(dir.path() + "/state-" + std::to_string(++run));
    std::vector<CollectionPull> cs;
    std::vector<int> last;
    if (!last_version.empty() && !ns.empty()) {
      last.push_back(ns.back());
      ns.pop_back();
    }
    cs.push_back(collection_pull(store, "bank-a", kRootA, "coll-1", ns, "2024-02-01T00:00:00Z"));
    if (!last.empty()) {
      cs.push_back(collection_pull(store, "bank-a", kRootA, "coll-2", last, "2024-02-01T00:00:00Z", {}, last_version));
    } else if (collections == 2) {
      cs.push_back(collection_pull(store, "bank-a", kRootA, "coll-2", {}, "2024-02-01T00:00:00Z"));
    }
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull("bank-a", kRootA, std::move(cs)));
    DeliveryOptions options;
    options.framing = framing;
    options.output = out;
    auto d = deliver(pulls, store, options, now());
    REQUIRE(d);
    for (const auto& c : pulls[0].collections) CHECK(exists(c.cursor_path));
    CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
    return (*d)[0].changed;
  };
  const auto inode = [](const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_ino;
  };
  for (const auto framing : {stix::OutputFraming::bundle, stix::OutputFraming::ndjson}) {
    INFO("ndjson " << (framing == stix::OutputFraming::ndjson));
    const std::string out = dir / "out", fresh = dir / "fresh";
    const auto expect = [&](std::vector<int> ns, int collections = 1, const std::string& last_version = "") {
      std::filesystem::remove(fresh);
      deliver_to(fresh, std::move(ns), framing, collections, last_version);
      return slurp(fresh);
    };
    // The same objects again, in one collection and in two (the journal's way).
    for (int collections : {1, 2}) {
      INFO("collections " << collections);
      deliver_to(out, all, framing);
      const auto before = inode(out);
      CHECK_FALSE(deliver_to(out, all, framing, collections));
      CHECK(inode(out) == before);
      CHECK(slurp(out) == expect(all));
    }
    SECTION("the last object differs") {
      deliver_to(out, all, framing);
      CHECK(deliver_to(out, all, framing, 1, v2));
      CHECK(slurp(out) == expect(all, 1, v2));
      CHECK(slurp(out) != expect(all));
    }
    SECTION("the old output is shorter, or longer") {
      deliver_to(out, half, framing);
      CHECK(deliver_to(out, all, framing));
      CHECK(slurp(out) == expect(all));
      CHECK(deliver_to(out, half, framing));
      CHECK(slurp(out) == expect(half));
    }
    SECTION("the same objects under another head, or with a byte after them") {
      deliver_to(out, all, framing);
      std::string text = slurp(out);
      if (framing == stix::OutputFraming::bundle) {
        const auto at = text.find("bundle--") + 8;
        text[at] = text[at] == '0' ? '1' : '0';
        spit(out, text);
        CHECK(deliver_to(out, all, framing));
        CHECK(slurp(out) == expect(all));
      }
      spit(out, slurp(out) + "\n");
      CHECK(deliver_to(out, all, framing));
      CHECK(slurp(out) == expect(all));
    }
    SECTION("an old output that is nothing like it") {
      for (const std::string& old : {std::string(), std::string("not json"), std::string(200000, 'x')}) {
        spit(out, old);
        CHECK(deliver_to(out, half, framing));
        CHECK(slurp(out) == expect(half));
      }
    }
    SECTION("nothing new, over nothing new and over something") {
      deliver_to(out, {}, framing);
      CHECK_FALSE(deliver_to(out, {}, framing));
      deliver_to(out, half, framing);
      CHECK(deliver_to(out, {}, framing));
      CHECK(slurp(out) == expect({}));
    }
    std::filesystem::remove(out);
  }
}

TEST_CASE("Delivery over an earlier output that is taken away during the pull", "[pull][taxii]") {
  // The objects match the file compared with, but a consumer moved it
  // away before the commit: the output is written again, not kept.
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string out = dir / "out.json";
  std::vector<PartnerPull> first;
  first.push_back(partner_pull("bank-a", kRootA,
                               {collection_pull(store, "bank-a", kRootA, "coll-1", {1, 2}, "2024-02-01T00:00:00Z")}));
  DeliveryOptions options;
  options.output = out;
  REQUIRE(deliver(first, store, options, now()));
  const std::string before = slurp(out);
  auto delivery = Delivery::open(options);
  REQUIRE(delivery);
  REQUIRE((*delivery)->begin("bank-a"));
  const std::string v = "2024-01-01T00:00:00.000Z";
  const std::string one = indicator(1, v), two = indicator(2, v);
  REQUIRE((*delivery)->add(one, indicator_id(1), v));
  REQUIRE((*delivery)->add(two, indicator_id(2), v));
  REQUIRE((*delivery)->end());
  SECTION("moved away") { std::filesystem::rename(out, dir / "taken.json"); }
  SECTION("moved away, and another file put in its place") {
    std::filesystem::rename(out, dir / "taken.json");
    spit(out, "another file");
  }
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-a", kRootA, {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-02T00:00:00Z")}));
  auto d = (*delivery)->commit(pulls, store, now());
  REQUIRE(d);
  CHECK((*d)[0].changed);
  CHECK(slurp(out) == before);
  CHECK(slurp(dir / "taken.json") == before);
}

TEST_CASE("Delivery over an earlier output cut short while it is compared fails, whole", "[pull][taxii]") {
  // Someone truncates the old file after its first objects matched: those
  // bytes cannot be copied any more, so the delivery fails (for this
  // partner and every later one) and neither output nor cursor moves.
  TempDir dir;
  CursorStore store(dir.path() + "/state");
  const std::string v = "2024-01-01T00:00:00.000Z";
  std::vector<std::string> held;
  for (int n = 0; n < 3000; ++n) held.push_back(indicator(n, v));
  DeliveryOptions options;
  options.output = dir / "out.json";
  {
    auto first = Delivery::open(options);
    REQUIRE(first);
    REQUIRE((*first)->begin("bank-a"));
    for (int n = 0; n < 2000; ++n) REQUIRE((*first)->add(held[n], indicator_id(n), v));
    REQUIRE((*first)->end());
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull("bank-a", kRootA,
                                 {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00Z")}));
    REQUIRE((*first)->commit(pulls, store, now()));
  }
  auto delivery = Delivery::open(options);
  REQUIRE(delivery);
  Delivery& d = **delivery;
  REQUIRE(d.begin("bank-a"));
  for (int n = 0; n < 1000; ++n) REQUIRE(d.add(held[n], indicator_id(n), v));
  REQUIRE(d.flush());  // compared, the same
  REQUIRE(::truncate(options.output.c_str(), 100) == 0);
  // These differ: the first 1,000 cannot be copied (at the next flush,
  // in add() or end()).
  Status failed;
  for (int n = 2000; n < 3000 && failed; ++n)
    if (auto o = d.add(held[n], indicator_id(n), v); !o) failed = o.error();
  if (failed) {
    failed = d.end();
  } else {
    d.abandon();
  }
  REQUIRE_FALSE(failed);
  CHECK(failed.error().category() == ErrorCategory::io);
  CHECK(contains(failed.error().message(), "changed while it was being read"));
  REQUIRE(d.begin("bank-b"));
  REQUIRE(d.add(held[0], indicator_id(0), v));
  CHECK_FALSE(d.end());
  std::vector<PartnerPull> pulls;
  pulls.push_back(
      partner_pull("bank-b", kRootB, {collection_pull(store, "bank-b", kRootB, "coll-1", {}, "2024-02-02T00:00:00Z")}));
  CHECK_FALSE(d.commit(pulls, store, now()));
  CHECK(std::filesystem::file_size(options.output) == 100);
  CHECK_FALSE(exists(pulls[0].collections[0].cursor_path));
}

TEST_CASE("Delivery over an earlier output: a partner abandoned while comparing", "[pull][taxii]") {
  // Partners a and c bring what the file holds; b, in between, brings an
  // object it does not and is abandoned. The file stays as it was, and the
  // journal (two partners) names its content.
  TempDir dir;
  const std::string v = "2024-01-01T00:00:00.000Z";
  std::vector<std::string> held;
  for (int n = 0; n < 2000; ++n) held.push_back(indicator(n, v));
  int run = 0;
  spit(dir / "blocker", "a file where a cursor's directory should be");
  // With `fail`, bank-c's cursor cannot be written: the journal stays.
  const auto deliver_to = [&](const std::string& out, bool with_b, bool fail = false) {
    CursorStore store(dir.path() + "/state-" + std::to_string(++run));
    DeliveryOptions options;
    options.output = out;
    auto delivery = Delivery::open(options);
    REQUIRE(delivery);
    Delivery& d = **delivery;
    REQUIRE(d.begin("bank-a"));
    for (int n = 0; n < 1000; ++n) REQUIRE(d.add(held[n], indicator_id(n), v));
    REQUIRE(d.end());
    if (with_b) {
      REQUIRE(d.begin("bank-b"));
      for (int n = 1500; n < 2000; ++n) REQUIRE(d.add(held[n], indicator_id(n), v));
      REQUIRE(d.flush());
      d.abandon();
    }
    REQUIRE(d.begin("bank-c"));
    for (int n = 1000; n < 1500; ++n) REQUIRE(d.add(held[n], indicator_id(n), v));
    REQUIRE(d.end());
    std::vector<PartnerPull> pulls;
    pulls.push_back(partner_pull("bank-a", kRootA,
                                 {collection_pull(store, "bank-a", kRootA, "coll-1", {}, "2024-02-01T00:00:00Z")}));
    pulls.push_back(partner_pull("bank-c", kRootB,
                                 {collection_pull(store, "bank-c", kRootB, "coll-1", {}, "2024-02-01T00:00:00Z")}));
    if (fail) pulls[1].collections[0].cursor_path = dir / "blocker/x.cursor";
    auto done = d.commit(pulls, store, now());
    if (fail) {
      // The journal names the content the output holds (read back from
      // the old file for the bytes before the abandoned partner).
      REQUIRE_FALSE(done);
      auto j = json::parse(slurp(store.partner_dir("bank-c") + "/pending.json"));
      REQUIRE(j);
      const std::string head(j->find_string("head").value_or("-"));
      const std::string content = slurp(out);
      REQUIRE(content.starts_with(head));
      CHECK(ctishare::detail::has_content_tag(content.substr(head.size()),
                                              std::string(j->find_string("content").value_or("-"))) == true);
      return false;
    }
    REQUIRE(done);
    CHECK(exists(pulls[1].collections[0].cursor_path));
    CHECK_FALSE(exists(store.partner_dir("bank-a") + "/pending.json"));
    return (*done)[0].changed;
  };
  const std::string out = dir / "out.json", fresh = dir / "fresh.json";
  deliver_to(fresh, false);
  deliver_to(out, false);
  CHECK_FALSE(deliver_to(out, true));
  CHECK(slurp(out) == slurp(fresh));
  deliver_to(out, true, true);
  CHECK(slurp(out) == slurp(fresh));
  // And over an output that differs only in its last object: written.
  std::string text = slurp(out);
  const auto last = text.rfind(indicator_id(1499));
  REQUIRE(last != std::string::npos);
  text.replace(last, indicator_id(1499).size(), indicator_id(1999));
  spit(out, text);
  CHECK(deliver_to(out, true));
  CHECK(slurp(out) == slurp(fresh));
}

// =====================================================================================
// envelopes (issue #5: the scan that replaced RapidJSON's reader on the hot path
// must give what the reader gives, or leave the page to it)
// =====================================================================================

namespace {

// A page like taxii-serve's, with what makes scanning hard: escapes, UTF-8,
// numbers, nesting, "created" without "modified", members in any order.
const std::string kPage =
    R"({"more":true,"next":"tok-1","objects":[)"
    R"({"type":"attack-pattern","spec_version":"2.1","id":"attack-pattern--1","created":"2024-01-01T00:00:00.000Z",)"
    R"("modified":"2024-02-01T00:00:00.000Z","name":"Spear\"phish\\ing \u00e9\u4e2d\n","x_n":[1,-2.5,0,{"a":null}],)"
    R"("description":"cafÃ© ä¸­ð","kill_chain_phases":[{"kill_chain_name":"k","phase_name":"p"}]},)"
    R"({"id":"identity--2","created":"2023-01-01T00:00:00Z","type":"identity","confidence":100,"labels":[],"ext":{}},)"
    R"({"type":"marking-definition","id":"marking-definition--3","name":"TLP","definition":{"tlp":"red"},"x":true,"y":false})"
    R"(],"x_extra":{"nested":[[[]]]}})";

void check_same(const internal::Envelope& a, const internal::Envelope& b) {
  REQUIRE(a.objects.size() == b.objects.size());
  for (std::size_t i = 0; i < a.objects.size(); ++i) {
    CHECK(a.objects[i].json == b.objects[i].json);
    CHECK(a.objects[i].id == b.objects[i].id);
    CHECK(a.objects[i].type == b.objects[i].type);
    CHECK(a.objects[i].version == b.objects[i].version);
  }
  CHECK(a.more == b.more);
  CHECK(a.next == b.next);
  CHECK(a.next_present == b.next_present);
}

}  // namespace

TEST_CASE("scan_envelope reads a page as the reader does, views of the body", "[pull][taxii]") {
  const json::Limits limits;
  auto scanned = internal::scan_envelope(kPage, limits);
  REQUIRE(scanned);
  auto parsed = internal::parse_envelope("u", kPage, limits);
  REQUIRE(parsed);
  check_same(*scanned, *parsed);
  REQUIRE(scanned->objects.size() == 3);
  CHECK(scanned->objects[0].version == "2024-02-01T00:00:00.000Z");
  CHECK(scanned->objects[1].version == "2023-01-01T00:00:00Z");
  CHECK(scanned->objects[2].version.empty());
  CHECK(scanned->objects[2].json.front() == '{');
  CHECK(scanned->objects[2].json.back() == '}');
  CHECK(scanned->next == "tok-1");
  CHECK(!scanned->arena);
  CHECK(scanned->objects[0].json.data() >= kPage.data());
  CHECK(scanned->objects[0].json.data() < kPage.data() + kPage.size());
}

TEST_CASE("scan_envelope leaves to the reader what it does not read itself", "[pull][taxii]") {
  const json::Limits limits;
  const char* pages[] = {
      "{\"objects\":[{\"id\":\"a\",\n\"type\":\"b\"}]}",          // on two lines: re-written
      R"({"objects":[{"id":"a--\u0031","type":"b"}]})",                 // an id with an escape
      R"({"objects":[{"i\u0064":"a","type":"b"}]})",                    // a name with an escape
      R"({"objects":[{"id":"a","type":"b","n":1e5}]})",                  // an exponent
      R"({"objects":[{"id":"a","type":"b","s":"\udc00"}]})",            // a lone surrogate (65)
      R"({"objects":[1]})",                                               // not an object (65)
      R"({"objects":[{"id":"a","id":"b"}]})",                            // a duplicate name (65)
      R"({"more":"yes"})",                                                // 76
      R"({"objects":{}})",                                                // 76
      R"({"next":["t"]})",                                                // 76
      R"([])",                                                            // not an object: the reader's call
      R"({"objects":[]} x)",                                              // trailing bytes
      "{\"objects\":[]}\0x",                                              // what RapidJSON takes for the end
      R"({"a":"\xff"})",                                                 // not UTF-8
      R"({"a":12345678901234567890})",                                   // many digits
  };
  for (const char* text : pages) {
    INFO(text);
    const std::string page = text == pages[12] ? std::string("{\"objects\":[]}\0x", 17) : std::string(text);
    CHECK(!internal::scan_envelope(page, limits));
    auto read = internal::read_envelope("u", page, limits);
    auto parsed = internal::parse_envelope("u", page, limits);
    REQUIRE(bool(read) == bool(parsed));
    if (read) {
      check_same(*read, *parsed);
    } else {
      CHECK(read.error().message() == parsed.error().message());
      CHECK(read.error().category() == parsed.error().category());
    }
  }
}

TEST_CASE("scan_envelope: limits are the reader's, to the byte", "[pull][taxii]") {
  json::Limits limits;
  limits.max_depth = 4;  // envelope, objects, object, one more
  CHECK(internal::scan_envelope(R"({"objects":[{"id":"a","type":"b","x":[1]}]})", limits));
  CHECK(!internal::scan_envelope(R"({"objects":[{"id":"a","type":"b","x":[[1]]}]})", limits));
  limits = {};
  limits.max_string_bytes = 7;  // "objects", and names count too
  CHECK(internal::scan_envelope(R"({"objects":[{"id":"a","type":"b","x":"\u00e9\u00e9\u00e9\n"}]})", limits));  // 7 decoded
  CHECK(!internal::scan_envelope(R"({"objects":[{"id":"abcdefgh","type":"b"}]})", limits));
  limits = {};
  limits.max_members = 2;
  CHECK(internal::scan_envelope(R"({"objects":[{"id":"a","type":"b"}]})", limits));
  CHECK(!internal::scan_envelope(R"({"objects":[{"id":"a","type":"b","c":1}]})", limits));
}

TEST_CASE("scan_envelope agrees with the reader on mutated pages", "[pull][taxii]") {
  // Whatever the scan accepts, the reader accepts with the same result.
  std::mt19937 random(5);
  const std::string alphabet = "{}[]\":,\\ \t\n0123456789-.eEtrufalsn\x80\xc3\xa9\xed\xa0\xf0\x00abu";
  const json::Limits defaults;
  const json::Limits tight = [] {
    json::Limits l;
    l.max_depth = 5;
    l.max_string_bytes = 24;
    l.max_members = 6;
    return l;
  }();
  std::size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string page = kPage;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = random() % page.size();
      switch (random() % 4) {
        case 0: page[at] = alphabet[random() % alphabet.size()]; break;
        case 1: page.erase(at, 1 + random() % 3); break;
        case 2: page.insert(at, 1, alphabet[random() % alphabet.size()]); break;
        default: {
          const std::size_t from = random() % page.size();
          page.insert(at, page.substr(from, 1 + random() % 12));
        }
      }
      if (page.empty()) page = "{}";
    }
    for (const json::Limits* limits : {&defaults, &tight}) {
      auto scanned = internal::scan_envelope(page, *limits);
      if (!scanned) continue;
      ++accepted;
      auto parsed = internal::parse_envelope("u", page, *limits);
      INFO(page);
      REQUIRE(parsed);
      check_same(*scanned, *parsed);
    }
  }
  CHECK(accepted > 1000);  // the mutations leave many pages valid
}
