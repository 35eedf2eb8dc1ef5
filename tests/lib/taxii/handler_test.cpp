// Tests of ctishare/taxii/handler.h: every endpoint of TAXII 2.1 §4-5 and
// every error path, against the in-memory store of tests/support.
#include "ctishare/taxii/handler.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ctishare/json.h"
#include "support/memory_store.h"
#include "taxii/paging_token.h"
#include "taxii/query_params.h"

using namespace ctishare;
using namespace ctishare::taxii;

namespace {

const std::string kTaxii = "application/taxii+json;version=2.1";
const std::string kShared = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
const std::string kReadOnly = "52892447-4d7e-4f70-b94d-d7f22742ff63";
const std::string kWriteOnly = "64993447-4d7e-4f70-b94d-d7f22742ff63";
const std::string kHidden = "75aa3447-4d7e-4f70-b94d-d7f22742ff63";

// A clock the tests can move (FixedClock cannot be changed once made).
class TestClock final : public Clock {
 public:
  Timestamp now() const override { return t; }
  Timestamp t = *Timestamp::parse("2026-03-01T12:00:00.000Z");
};

ServerConfig make_config() {
  ServerConfig c;
  c.description = "test server";
  c.default_api_root = "api1";
  c.max_content_length = 64 * 1024;
  c.max_page_size = 50;
  c.next_token_lifetime = 3600;
  c.status_lifetime = 7200;
  ApiRootConfig api1{"api1", "Root one", "the first root", {}};
  api1.collections.push_back({kShared, "shared", "Shared", "everyone's"});
  api1.collections.push_back({kReadOnly, "readonly", "Read only", ""});
  api1.collections.push_back({kWriteOnly, "writeonly", "Write only", ""});
  api1.collections.push_back({kHidden, "", "Hidden", ""});
  c.api_roots.push_back(api1);
  c.api_roots.push_back(ApiRootConfig{"api2", "Root two", "", {}});
  // alice: everything; bob: per collection (ids and aliases mixed); eve: nothing.
  c.users.push_back({"alice", {"*"}, {"*"}});
  c.users.push_back({"bob", {"shared", kReadOnly}, {kShared, "writeonly"}});
  c.users.push_back({"eve", {}, {}});
  return c;
}

struct Fixture {
  testing::MemoryStore store;
  TestClock clock;
  ServerConfig config = make_config();
  Handler handler{config, store, clock, "test paging key"};

  HttpResponse send(std::string method, std::string target, std::string user = "alice", std::string body = {},
                    std::vector<Header> headers = {{"Accept", kTaxii}}) {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.user = std::move(user);
    r.body = std::move(body);
    r.headers = std::move(headers);
    return handler.handle(r);
  }
  HttpResponse get(std::string target, std::string user = "alice") {
    return send("GET", std::move(target), std::move(user));
  }
  HttpResponse post(std::string target, std::string body, std::string user = "alice") {
    return send("POST", std::move(target), std::move(user), std::move(body),
                {{"Accept", kTaxii}, {"Content-Type", kTaxii}});
  }
  HttpResponse del(std::string target, std::string user = "alice") {
    return send("DELETE", std::move(target), std::move(user));
  }
};

std::string objects_path(const std::string& collection) { return "/api1/collections/" + collection + "/objects/"; }

const std::string* header(const HttpResponse& r, std::string_view name) {
  for (const Header& h : r.headers)
    if (h.name == name) return &h.value;
  return nullptr;
}

json::Value body_of(const HttpResponse& r) {
  auto v = json::parse(r.body);
  if (!v) FAIL("response body is not JSON: " << r.body);
  return std::move(*v);
}

// Every response carries the TAXII media type (SPEC 3.1), errors included.
void check_media_type(const HttpResponse& r) {
  const std::string* ct = header(r, "Content-Type");
  REQUIRE(ct != nullptr);
  CHECK(*ct == kTaxii);
}

// An error response: the status, the media type, an error resource with a
// title and http_status equal to the status.
void check_error(const HttpResponse& r, int status) {
  INFO("body: " << r.body);
  REQUIRE(r.status == status);
  check_media_type(r);
  const json::Value b = body_of(r);
  REQUIRE(b.find_string("title"));
  CHECK(!b.find_string("title")->empty());
  REQUIRE(b.find_string("http_status"));
  CHECK(*b.find_string("http_status") == std::to_string(status));
}

std::string uuid_n(int n, int variant = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", variant, n);
  return buf;
}

std::string indicator(int n, const std::string& modified = "2026-01-01T00:00:00.000Z") {
  return R"({"type":"indicator","spec_version":"2.1","id":"indicator--)" + uuid_n(n) +
         R"(","created":"2026-01-01T00:00:00.000Z","modified":")" + modified + R"(","name":"bad ip )" +
         std::to_string(n) +
         R"(","pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"})";
}

std::string malware(int n) {
  return R"({"type":"malware","spec_version":"2.1","id":"malware--)" + uuid_n(n, 1) +
         R"(","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"m","is_family":false})";
}

std::string envelope(const std::vector<std::string>& objects) {
  std::string out = "{\"objects\":[";
  for (std::size_t i = 0; i < objects.size(); ++i) out += (i ? "," : "") + objects[i];
  return out + "]}";
}

// The ids of an envelope's objects, in order.
std::vector<std::string> ids_of(const json::Value& b) {
  std::vector<std::string> out;
  if (const json::Value* objs = b.find("objects"))
    for (const json::Value& o : objs->as_array()) out.emplace_back(*o.find_string("id"));
  return out;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

const std::regex kTimestamp(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");

}  // namespace

TEST_CASE("taxii handler: discovery and API root", "[taxii_handler]") {
  Fixture f;
  auto d = f.get("/taxii2/");
  REQUIRE(d.status == 200);
  check_media_type(d);
  auto b = body_of(d);
  CHECK(*b.find_string("title") == "ctishare TAXII 2.1 server");
  CHECK(*b.find_string("description") == "test server");
  CHECK(b.find("contact") == nullptr);
  CHECK(*b.find_string("default") == "/api1/");
  REQUIRE(b.find("api_roots") != nullptr);
  CHECK(json::to_string(*b.find("api_roots")) == R"(["/api1/","/api2/"])");

  auto r = f.get("/api1/");
  REQUIRE(r.status == 200);
  check_media_type(r);
  auto rb = body_of(r);
  CHECK(*rb.find_string("title") == "Root one");
  CHECK(*rb.find_string("description") == "the first root");
  CHECK(json::to_string(*rb.find("versions")) == R"(["application/taxii+json;version=2.1"])");
  CHECK(rb.find("max_content_length")->as_int64() == 64 * 1024);
  CHECK(body_of(f.get("/api2/")).find("description") == nullptr);
}

TEST_CASE("taxii handler: collections are listed and hidden per user", "[taxii_handler]") {
  Fixture f;
  auto titles = [&](const std::string& user) {
    auto r = f.get("/api1/collections/", user);
    REQUIRE(r.status == 200);
    check_media_type(r);
    std::map<std::string, std::pair<bool, bool>> out;
    auto b = body_of(r);
    if (const json::Value* cs = b.find("collections"))
      for (const json::Value& c : cs->as_array())
        out[std::string(*c.find_string("title"))] = {c.find("can_read")->as_bool(), c.find("can_write")->as_bool()};
    return out;
  };
  auto alice = titles("alice");
  CHECK(alice.size() == 4);
  CHECK(alice["Hidden"] == std::make_pair(true, true));
  auto bob = titles("bob");
  CHECK(bob.size() == 3);
  CHECK(bob.count("Hidden") == 0);
  CHECK(bob["Shared"] == std::make_pair(true, true));
  CHECK(bob["Read only"] == std::make_pair(true, false));
  CHECK(bob["Write only"] == std::make_pair(false, true));
  // Nothing visible: an empty resource, not an empty list (SPEC 2).
  auto eve = f.get("/api1/collections/", "eve");
  CHECK(eve.body == "{}");

  // One collection, by id or alias, with the resource's fields.
  auto one = f.get("/api1/collections/shared/", "bob");
  REQUIRE(one.status == 200);
  auto ob = body_of(one);
  CHECK(*ob.find_string("id") == kShared);
  CHECK(*ob.find_string("alias") == "shared");
  CHECK(*ob.find_string("description") == "everyone's");
  CHECK(json::to_string(*ob.find("media_types")) == R"(["application/stix+json;version=2.1"])");
  CHECK(f.get("/api1/collections/" + kShared + "/", "bob").status == 200);
  check_error(f.get("/api1/collections/" + kHidden + "/", "bob"), 404);
  check_error(f.get(objects_path(kHidden), "bob"), 404);
  check_error(f.get("/api1/collections/" + kShared + "/", "eve"), 404);
  check_error(f.get("/api1/collections/no-such/"), 404);
  // A collection is found only under its own root.
  check_error(f.get("/api2/collections/shared/"), 404);
  CHECK(f.get("/api2/collections/").body == "{}");
}

TEST_CASE("taxii handler: a posted indicator is listed by GET objects", "[taxii_handler]") {
  Fixture f;
  auto p = f.post(objects_path(kShared), envelope({indicator(1)}));
  INFO(p.body);
  REQUIRE(p.status == 202);
  check_media_type(p);
  auto s = body_of(p);
  CHECK(*s.find_string("status") == "complete");
  CHECK(s.find("total_count")->as_int64() == 1);
  CHECK(s.find("success_count")->as_int64() == 1);
  CHECK(s.find("failure_count")->as_int64() == 0);
  CHECK(s.find("pending_count")->as_int64() == 0);
  CHECK(s.find("failures") == nullptr);
  CHECK(std::regex_match(std::string(*s.find_string("request_timestamp")), kTimestamp));
  const json::Value& success = s.find("successes")->as_array().at(0);
  CHECK(*success.find_string("id") == "indicator--" + uuid_n(1));
  CHECK(*success.find_string("version") == "2026-01-01T00:00:00.000Z");

  auto g = f.get(objects_path(kShared));
  REQUIRE(g.status == 200);
  check_media_type(g);
  auto b = body_of(g);
  CHECK(b.find("more") == nullptr);
  CHECK(b.find("next") == nullptr);
  REQUIRE(ids_of(b) == std::vector<std::string>{"indicator--" + uuid_n(1)});
  // The object comes back byte for byte as posted (compact).
  CHECK(json::to_string(b.find("objects")->as_array()[0]) == indicator(1));
  const std::string* first = header(g, "X-TAXII-Date-Added-First");
  const std::string* last = header(g, "X-TAXII-Date-Added-Last");
  REQUIRE(first != nullptr);
  REQUIRE(last != nullptr);
  CHECK(*first == *last);
  CHECK(std::regex_match(*first, kTimestamp));

  // The alias works too; another collection is still empty, with no headers.
  CHECK(ids_of(body_of(f.get(objects_path("shared")))).size() == 1);
  auto empty = f.get(objects_path(kReadOnly));
  REQUIRE(empty.status == 200);
  CHECK(empty.body == "{}");
  CHECK(header(empty, "X-TAXII-Date-Added-First") == nullptr);
  CHECK(header(empty, "X-TAXII-Date-Added-Last") == nullptr);
}

// Objects are stored compact: as received when they already are (the
// server then skips serialising them again), rewritten when they are not.
// Either way GET serves the compact bytes, and posting the same object in
// the other layout is a duplicate, never a conflict.
TEST_CASE("taxii handler: posted objects are stored compact whatever their layout", "[taxii_handler]") {
  Fixture f;
  const std::string compact = indicator(1);
  std::string loose = compact;
  loose.replace(loose.find(",\"name\":"), 8, " ,\n \"name\" : ");
  loose.replace(loose.find("bad ip"), 6, "bad\\u0020ip");
  REQUIRE(json::to_string(*json::parse(loose)) == compact);
  auto p = f.post(objects_path(kShared), "{ \"objects\" : [ " + loose + " ,\n" + indicator(2) + " ] }");
  INFO(p.body);
  REQUIRE(p.status == 202);
  CHECK(body_of(p).find("success_count")->as_int64() == 2);
  auto g = f.get(objects_path(kShared));
  REQUIRE(g.status == 200);
  CHECK(g.body.find(compact) != std::string::npos);
  CHECK(g.body.find(indicator(2)) != std::string::npos);
  CHECK(g.body.find("\\u0020") == std::string::npos);

  auto again = body_of(f.post(objects_path(kShared), envelope({compact, indicator(2)})));
  CHECK(again.find("success_count")->as_int64() == 2);
  CHECK(again.find("failure_count")->as_int64() == 0);
  auto loose_again = body_of(f.post(objects_path(kShared), "{\"objects\":[" + loose + "]}"));
  CHECK(loose_again.find("success_count")->as_int64() == 1);
  CHECK(f.store.size(kShared) == 2);
}

TEST_CASE("taxii handler: POST reports invalid, conflicting and duplicate objects", "[taxii_handler]") {
  Fixture f;
  const std::string changed = indicator(1).replace(indicator(1).find("bad ip 1"), 8, "renamed!");
  const std::string invalid = R"({"type":"indicator","spec_version":"2.1","id":"indicator--)" + uuid_n(9) +
                              R"(","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"})";
  REQUIRE(f.post(objects_path(kShared), envelope({indicator(1)})).status == 202);
  auto p = f.post(objects_path(kShared), envelope({indicator(1), changed, invalid, indicator(2)}));
  REQUIRE(p.status == 202);
  auto s = body_of(p);
  CHECK(s.find("total_count")->as_int64() == 4);
  CHECK(s.find("success_count")->as_int64() == 2);  // the duplicate and indicator 2
  CHECK(s.find("failure_count")->as_int64() == 2);
  std::map<std::string, std::string> failures;
  for (const json::Value& d : s.find("failures")->as_array())
    failures[std::string(*d.find_string("id"))] = std::string(d.find_string("message").value_or(""));
  // Within one envelope the validator sees the clash itself (E040).
  CHECK(failures["indicator--" + uuid_n(1)].find("same id") != std::string::npos);
  CHECK(!failures["indicator--" + uuid_n(9)].empty());  // the validator's first error
  CHECK(f.store.size(kShared) == 2);
  // Alone, the changed version clashes with the stored one in the store.
  auto c = body_of(f.post(objects_path(kShared), envelope({changed})));
  CHECK(c.find("failure_count")->as_int64() == 1);
  CHECK(*c.find("failures")->as_array().at(0).find_string("message") ==
        "a different object with this id and version is stored");
  CHECK(f.store.size(kShared) == 2);
  // A bundle inside an envelope is a failure, not stored.
  auto b = f.post(objects_path(kShared),
                  envelope({R"({"type":"bundle","id":"bundle--)" + uuid_n(3) + R"(","objects":[]})"}));
  REQUIRE(b.status == 202);
  CHECK(body_of(b).find("failure_count")->as_int64() == 1);
  // An empty envelope is accepted with nothing to do.
  auto e = f.post(objects_path(kShared), "{}");
  REQUIRE(e.status == 202);
  CHECK(body_of(e).find("total_count")->as_int64() == 0);
}

TEST_CASE("taxii handler: status is readable only by its poster, under its root, for its lifetime", "[taxii_handler]") {
  Fixture f;
  auto p = f.post(objects_path(kShared), envelope({indicator(1)}), "bob");
  REQUIRE(p.status == 202);
  const std::string id(*body_of(p).find_string("id"));
  auto mine = f.get("/api1/status/" + id + "/", "bob");
  REQUIRE(mine.status == 200);
  check_media_type(mine);
  CHECK(json::to_string(body_of(mine)) == json::to_string(body_of(p)));
  check_error(f.get("/api1/status/" + id + "/", "alice"), 404);
  check_error(f.get("/api2/status/" + id + "/", "bob"), 404);
  check_error(f.get("/api1/status/00000000-0000-4000-8000-000000000000/", "bob"), 404);
  f.clock.t = f.clock.t.plus_seconds(7201);
  check_error(f.get("/api1/status/" + id + "/", "bob"), 404);
  // The next POST drops the expired one from the store.
  REQUIRE(f.post(objects_path(kShared), envelope({indicator(2)}), "bob").status == 202);
  CHECK(f.store.status_count() == 1);
}

TEST_CASE("taxii handler: paging with limit and next visits every object once", "[taxii_handler]") {
  Fixture f;
  std::vector<std::string> objs;
  for (int i = 0; i < 23; ++i) objs.push_back(indicator(i));
  REQUIRE(f.post(objects_path(kShared), envelope(objs)).status == 202);

  for (std::string endpoint : {"objects", "manifest"}) {
    INFO(endpoint);
    const std::string base = "/api1/collections/" + kShared + "/" + endpoint + "/?limit=5";
    std::vector<std::string> seen;
    std::string next;
    std::string previous_last;
    int pages = 0;
    while (pages < 20) {  // bounded: a next that does not advance must fail, not hang
      auto r = f.get(base + (next.empty() ? "" : "&next=" + url_encode(next)));
      REQUIRE(r.status == 200);
      auto b = body_of(r);
      auto ids = ids_of(b);
      REQUIRE(ids.size() <= 5);
      seen.insert(seen.end(), ids.begin(), ids.end());
      ++pages;
      // Ascending date_added across pages, headers matching the page.
      const std::string first = *header(r, "X-TAXII-Date-Added-First");
      CHECK(first > previous_last);
      previous_last = *header(r, "X-TAXII-Date-Added-Last");
      if (endpoint == "manifest")
        CHECK(*b.find("objects")->as_array().back().find_string("date_added") == previous_last);
      if (!b.find("more")) break;
      REQUIRE(b.find("more")->as_bool());
      next = std::string(*b.find_string("next"));
    }
    CHECK(pages == 5);
    CHECK(seen.size() == 23);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 23);
  }

  // The fallback cursor: added_after = the previous page's last date_added.
  std::vector<std::string> seen;
  std::string after;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = f.get(objects_path(kShared) + "?limit=10" + (after.empty() ? "" : "&added_after=" + after));
    auto ids = ids_of(body_of(r));
    if (ids.empty()) break;
    seen.insert(seen.end(), ids.begin(), ids.end());
    after = *header(r, "X-TAXII-Date-Added-Last");
  }
  CHECK(seen.size() == 23);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 23);

  // limit above the server's cap is cut to it, not refused.
  std::vector<std::string> many;
  for (int i = 100; i < 160; ++i) many.push_back(indicator(i));
  REQUIRE(f.post(objects_path(kShared), envelope(many)).status == 202);
  auto capped = body_of(f.get(objects_path(kShared) + "?limit=100000000000000000000000"));
  CHECK(ids_of(capped).size() == 50);
  CHECK(capped.find("more")->as_bool());
  // Without limit: the default page of 50 (min of 100 and the cap).
  CHECK(ids_of(body_of(f.get(objects_path(kShared)))).size() == 50);
}

TEST_CASE("taxii handler: next tokens are bound to user, query, endpoint, collection and time", "[taxii_handler]") {
  Fixture f;
  std::vector<std::string> objs;
  for (int i = 0; i < 6; ++i) objs.push_back(indicator(i));
  REQUIRE(f.post(objects_path(kShared), envelope(objs)).status == 202);
  REQUIRE(f.post(objects_path(kReadOnly), envelope(objs)).status == 202);
  auto first = body_of(f.get(objects_path(kShared) + "?limit=2&match[type]=indicator"));
  const std::string next = url_encode(*first.find_string("next"));
  const std::string with_next = "?limit=2&match[type]=indicator&next=" + next;

  // The same query (parameters in another order) continues.
  auto ok = f.get(objects_path(kShared) + "?match[type]=indicator&next=" + next + "&limit=2");
  REQUIRE(ok.status == 200);
  CHECK(ids_of(body_of(ok)).size() == 2);
  // Another page size continues too (taxii2-client's as_pages changes it,
  // or drops it, after a short page): the position is a date_added.
  auto other_limit = f.get(objects_path(kShared) + "?limit=3&match[type]=indicator&next=" + next);
  REQUIRE(other_limit.status == 200);
  CHECK(ids_of(body_of(other_limit)).size() == 3);
  auto no_limit = f.get(objects_path(kShared) + "?match[type]=indicator&next=" + next);
  REQUIRE(no_limit.status == 200);
  CHECK(ids_of(body_of(no_limit)).size() == 4);
  // Anything else is a 400 error resource.
  check_error(f.get(objects_path(kShared) + with_next, "bob"), 400);                               // another user
  check_error(f.get(objects_path(kShared) + "?limit=2&next=" + next), 400);                        // filter dropped
  check_error(f.get(objects_path(kShared) + "?limit=2&match[type]=indicator,malware&next=" + next), 400);
  check_error(f.get("/api1/collections/" + kShared + "/manifest/" + with_next), 400);  // other endpoint
  check_error(f.get(objects_path(kReadOnly) + with_next), 400);                        // other collection
  check_error(f.get(objects_path(kShared) + "?limit=2&match[type]=indicator&next=garbage"), 400);
  // Tampered: every single-character change is refused.
  std::string raw(*first.find_string("next"));
  for (std::size_t i = 0; i < raw.size(); i += 7) {
    std::string t = raw;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    check_error(f.get(objects_path(kShared) + "?limit=2&match[type]=indicator&next=" + url_encode(t)), 400);
  }
  // Another server key does not accept it.
  Handler other(f.config, f.store, f.clock, "another key");
  HttpRequest req{"GET", objects_path(kShared) + with_next, {{"Accept", kTaxii}}, "", "alice"};
  check_error(other.handle(req), 400);
  // Expired.
  f.clock.t = f.clock.t.plus_seconds(3601);
  auto expired = f.get(objects_path(kShared) + with_next);
  check_error(expired, 400);
  CHECK(body_of(expired).find_string("description")->find("expired") != std::string_view::npos);
}

TEST_CASE("taxii handler: paging tokens round-trip and reject forgeries", "[taxii_handler]") {
  using namespace ctishare::taxii::detail;
  const TokenScope scope{"api1", "c", "objects", "limit=2\n", "alice"};
  const std::string t = make_token("k", scope, 1234567, 1000);
  CHECK(t.size() == 64);
  auto ok = verify_token("k", scope, t, 999);
  REQUIRE(ok);
  CHECK(*ok == 1234567);
  CHECK(verify_token("k", scope, t, 1000));
  CHECK(!verify_token("k", scope, t, 1001));
  CHECK(!verify_token("K", scope, t, 0));
  CHECK(!verify_token("k", {"api1", "c", "objects", "limit=2\n", "bob"}, t, 0));
  CHECK(!verify_token("k", {"api1", "c", "manifest", "limit=2\n", "alice"}, t, 0));
  CHECK(!verify_token("k", {"api1", "d", "objects", "limit=2\n", "alice"}, t, 0));
  CHECK(!verify_token("k", {"api2", "c", "objects", "limit=2\n", "alice"}, t, 0));
  CHECK(!verify_token("k", {"api1", "c", "objects", "limit=3\n", "alice"}, t, 0));
  CHECK(!verify_token("k", scope, t.substr(1), 0));
  CHECK(!verify_token("k", scope, t + "A", 0));
  CHECK(!verify_token("k", scope, "", 0));
}

TEST_CASE("taxii handler: query parameters are parsed strictly", "[taxii_handler]") {
  using detail::parse_query;
  auto p = parse_query("added_after=2026-01-01T00%3A00%3A00.5Z&limit=10&match%5Btype%5D=indicator,malware&x=1", 5);
  REQUIRE(p);
  CHECK(*p->added_after == 1'767'225'600'500'000);
  CHECK(*p->limit == 5);
  CHECK(*p->types == std::vector<std::string>{"indicator", "malware"});
  CHECK(!p->ids);
  CHECK(!p->versions);
  auto v = parse_query("match[version]=first,2026-01-01T00:00:00Z,last&match[unknown]=x", 5);
  REQUIRE(v);
  CHECK(v->versions->first);
  CHECK(v->versions->last);
  CHECK(!v->versions->all);
  CHECK(v->versions->exact == std::vector<std::string>{"2026-01-01T00:00:00Z"});
  // Canonical form ignores order and spelling of the same query.
  CHECK(parse_query("match[type]=b,a&limit=2", 9)->canonical ==
        parse_query("limit=2&match%5Btype%5D=a,b", 9)->canonical);
  CHECK(parse_query("limit=2", 9)->canonical == parse_query("limit=3", 9)->canonical);  // page size is free
  CHECK(parse_query("match[type]=a", 9)->canonical != parse_query("match[type]=b", 9)->canonical);
  for (const char* bad : {"limit=0",
                          "limit=-1",
                          "limit=abc",
                          "limit=1.5",
                          "limit=",
                          "limit=1&limit=2",
                          "added_after=yesterday",
                          "added_after=2026-01-01T00:00:00Z&added_after=2026-01-01T00:00:00Z",
                          "added_after=2026-01-01T00:00:00",
                          "match[type]=a&match[type]=b",
                          "match[type]=a,,b",
                          "match[type]=a,",
                          "match[id]=",
                          "match[version]=all,last",
                          "match[version]=last,last",
                          "match[version]=first,all",
                          "match[version]=latest",
                          "match[version]=2026-01-01T00:00:00Z,2026-01-01T00:00:00.000Z",
                          "match[spec_version]=2.1,2.1",
                          "next=",
                          "next=a&next=b",
                          "limit=%zz",
                          "match[type]=%4"}) {
    INFO(bad);
    CHECK(!parse_query(bad, 10));
  }
}

TEST_CASE("taxii handler: match filters, added_after and spec_version", "[taxii_handler]") {
  Fixture f;
  const std::string i1 = "indicator--" + uuid_n(1), i2 = "indicator--" + uuid_n(2), m1 = "malware--" + uuid_n(1, 1);
  REQUIRE(f.post(objects_path(kShared), envelope({indicator(1), indicator(2), malware(1)})).status == 202);
  // A second version of indicator 1, added later.
  REQUIRE(f.post(objects_path(kShared), envelope({indicator(1, "2026-02-01T00:00:00.000Z")})).status == 202);
  auto ids = [&](const std::string& query) {
    auto r = f.get(objects_path(kShared) + query);
    INFO(query << " -> " << r.body);
    REQUIRE(r.status == 200);
    return ids_of(body_of(r));
  };
  using V = std::vector<std::string>;
  // Default: the last version of each object, ascending date_added.
  CHECK(ids("") == V{i2, m1, i1});
  CHECK(ids("?match[id]=" + i1) == V{i1});
  CHECK(ids("?match[id]=" + i1 + "," + m1) == V{m1, i1});
  CHECK(ids("?match[type]=malware") == V{m1});
  CHECK(ids("?match[type]=malware,indicator") == V{i2, m1, i1});
  CHECK(ids("?match[type]=indicator&match[id]=" + m1) == V{});  // different fields AND
  CHECK(f.get(objects_path(kShared) + "?match[type]=campaign").body == "{}");
  CHECK(ids("?match[version]=all") == V{i1, i2, m1, i1});
  CHECK(ids("?match[version]=first&match[id]=" + i1).size() == 1);
  auto first = body_of(f.get(objects_path(kShared) + "?match[version]=first&match[id]=" + i1));
  CHECK(*first.find("objects")->as_array()[0].find_string("modified") == "2026-01-01T00:00:00.000Z");
  CHECK(ids("?match[version]=first,last&match[id]=" + i1) == V{i1, i1});
  CHECK(ids("?match[version]=2026-02-01T00:00:00Z") == V{i1});  // same instant, other spelling
  CHECK(ids("?match[version]=2025-02-01T00:00:00Z") == V{});
  CHECK(ids("?match[spec_version]=2.1") == V{i2, m1, i1});
  CHECK(ids("?match[spec_version]=2.0") == V{});
  // added_after: strictly after the given date_added.
  auto all = f.get(objects_path(kShared) + "?match[version]=all");
  const std::string first_added = *header(all, "X-TAXII-Date-Added-First");
  CHECK(ids("?match[version]=all&added_after=" + first_added) == V{i2, m1, i1});
  // "last" is judged over the collection: after the second version's
  // date_added nothing is left, the older version does not resurface.
  CHECK(ids("?added_after=" + std::string(*header(all, "X-TAXII-Date-Added-Last"))) == V{});
  // Malformed parameters are 400 on every listing endpoint.
  for (const std::string& path : {objects_path(kShared), "/api1/collections/" + kShared + "/manifest/",
                                  objects_path(kShared) + i1 + "/", objects_path(kShared) + i1 + "/versions/"}) {
    INFO(path);
    check_error(f.get(path + "?limit=0"), 400);
    check_error(f.get(path + "?added_after=soon"), 400);
    check_error(f.get(path + "?match[version]=all,first"), 400);
  }
  check_error(f.del(objects_path(kShared) + i1 + "/?match[version]=bad"), 400);
}

TEST_CASE("taxii handler: manifest records and versions, with paging", "[taxii_handler]") {
  Fixture f;
  const std::string id = "indicator--" + uuid_n(1);
  std::vector<std::string> versions;
  for (int d = 1; d <= 7; ++d) {
    char mod[40];
    std::snprintf(mod, sizeof mod, "2026-01-%02dT00:00:00.000Z", d);
    versions.push_back(indicator(1, mod));
  }
  REQUIRE(f.post(objects_path(kShared), envelope(versions)).status == 202);

  auto m = f.get("/api1/collections/" + kShared + "/manifest/?match[version]=all&limit=3");
  REQUIRE(m.status == 200);
  check_media_type(m);
  auto mb = body_of(m);
  CHECK(mb.find("more")->as_bool());
  REQUIRE(mb.find_string("next"));
  const auto& rec = mb.find("objects")->as_array();
  REQUIRE(rec.size() == 3);
  CHECK(*rec[0].find_string("id") == id);
  CHECK(*rec[0].find_string("version") == "2026-01-01T00:00:00.000Z");
  CHECK(*rec[0].find_string("media_type") == "application/stix+json;version=2.1");
  CHECK(std::regex_match(std::string(*rec[0].find_string("date_added")), kTimestamp));
  CHECK(*rec[0].find_string("date_added") == *header(m, "X-TAXII-Date-Added-First"));
  // The default (last) manifest holds one record.
  CHECK(body_of(f.get("/api1/collections/" + kShared + "/manifest/")).find("objects")->as_array().size() == 1);

  // Versions: every version, paged with next.
  const std::string vpath = objects_path(kShared) + id + "/versions/";
  std::vector<std::string> seen;
  std::string next;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = f.get(vpath + "?limit=3" + (next.empty() ? "" : "&next=" + url_encode(next)));
    REQUIRE(r.status == 200);
    check_media_type(r);
    REQUIRE(header(r, "X-TAXII-Date-Added-Last") != nullptr);
    auto b = body_of(r);
    for (const json::Value& v : b.find("versions")->as_array()) seen.emplace_back(v.as_string());
    if (!b.find("more")) break;
    next = std::string(*b.find_string("next"));
  }
  REQUIRE(seen.size() == 7);
  CHECK(seen.front() == "2026-01-01T00:00:00.000Z");
  CHECK(seen.back() == "2026-01-07T00:00:00.000Z");
  check_error(f.get(objects_path(kShared) + "indicator--" + uuid_n(99) + "/versions/"), 404);
  // A versions token is bound to its object.
  auto page1 = body_of(f.get(vpath + "?limit=3"));
  REQUIRE(f.post(objects_path(kShared), envelope({indicator(2)})).status == 202);
  check_error(f.get(objects_path(kShared) + "indicator--" + uuid_n(2) +
                    "/versions/?limit=3&next=" + url_encode(*page1.find_string("next"))),
              400);
}

TEST_CASE("taxii handler: object GET and DELETE, with the permission matrix", "[taxii_handler]") {
  Fixture f;
  const std::string id = "indicator--" + uuid_n(1);
  const std::string obj = objects_path(kShared) + id + "/";
  REQUIRE(f.post(objects_path(kShared), envelope({indicator(1), indicator(1, "2026-02-01T00:00:00.000Z"),
                                                  indicator(1, "2026-03-01T00:00:00.000Z"), indicator(2)}))
              .status == 202);
  auto g = f.get(obj);
  REQUIRE(g.status == 200);
  check_media_type(g);
  CHECK(header(g, "X-TAXII-Date-Added-First") != nullptr);
  CHECK(ids_of(body_of(g)) == std::vector<std::string>{id});
  CHECK(ids_of(body_of(f.get(obj + "?match[version]=all"))).size() == 3);
  auto page = body_of(f.get(obj + "?match[version]=all&limit=2"));
  CHECK(ids_of(page).size() == 2);
  CHECK(page.find("more")->as_bool());
  auto rest = body_of(f.get(obj + "?match[version]=all&limit=2&next=" + url_encode(*page.find_string("next"))));
  CHECK(ids_of(rest).size() == 1);
  // Exists but filtered out: an empty envelope; absent: 404.
  CHECK(f.get(obj + "?match[version]=2020-01-01T00:00:00Z").body == "{}");
  check_error(f.get(objects_path(kShared) + "indicator--" + uuid_n(42) + "/"), 404);

  // P3: read+write only; false/false is hidden (404), one flag alone 403.
  REQUIRE(f.post(objects_path(kReadOnly), envelope({indicator(1)})).status == 202);
  REQUIRE(f.post(objects_path(kWriteOnly), envelope({indicator(1)})).status == 202);
  REQUIRE(f.post(objects_path(kHidden), envelope({indicator(1)})).status == 202);
  check_error(f.del(objects_path(kHidden) + id + "/", "bob"), 404);
  check_error(f.del(objects_path(kReadOnly) + id + "/", "bob"), 403);
  check_error(f.del(objects_path(kWriteOnly) + id + "/", "bob"), 403);
  CHECK(f.store.size(kReadOnly) == 1);
  CHECK(f.store.size(kWriteOnly) == 1);
  CHECK(f.store.size(kHidden) == 1);

  // One version by timestamp; the others stay.
  auto d1 = f.del(obj + "?match[version]=2026-02-01T00:00:00.000Z", "bob");
  REQUIRE(d1.status == 200);
  CHECK(d1.body.empty());
  check_media_type(d1);
  CHECK(f.get(obj + "?match[version]=2026-02-01T00:00:00.000Z").body == "{}");
  CHECK(ids_of(body_of(f.get(obj + "?match[version]=all"))).size() == 2);
  // Without match[version]: the whole object.
  REQUIRE(f.del(obj, "bob").status == 200);
  check_error(f.get(obj), 404);
  check_error(f.get(obj + "versions/"), 404);
  check_error(f.del(obj), 404);
  auto manifest = body_of(f.get("/api1/collections/" + kShared + "/manifest/?match[version]=all"));
  REQUIRE(manifest.find("objects") != nullptr);
  for (const json::Value& r : manifest.find("objects")->as_array()) CHECK(*r.find_string("id") != id);
  CHECK(f.store.size(kReadOnly) == 1);  // other collections keep it (SPEC 5.7)
}

TEST_CASE("taxii handler: error responses", "[taxii_handler]") {
  Fixture f;
  const std::string objs = objects_path(kShared);

  SECTION("401 with a challenge for missing or unknown users") {
    for (const std::string user : {"", "mallory"}) {
      for (const std::string& target : std::vector<std::string>{"/taxii2/", "/api1/", objs, "/nowhere/"}) {
        auto r = f.get(target, user);
        check_error(r, 401);
        REQUIRE(header(r, "WWW-Authenticate") != nullptr);
        CHECK(*header(r, "WWW-Authenticate") == "Basic realm=\"TAXII\", charset=\"UTF-8\"");
      }
    }
  }
  SECTION("403 for reads without can_read and writes without can_write") {
    check_error(f.get(objects_path(kWriteOnly), "bob"), 403);
    check_error(f.get("/api1/collections/" + kWriteOnly + "/manifest/", "bob"), 403);
    check_error(f.get(objects_path(kWriteOnly) + "indicator--" + uuid_n(1) + "/", "bob"), 403);
    check_error(f.get(objects_path(kWriteOnly) + "indicator--" + uuid_n(1) + "/versions/", "bob"), 403);
    check_error(f.post(objects_path(kReadOnly), envelope({indicator(1)}), "bob"), 403);
    CHECK(f.store.size(kReadOnly) == 0);
    // The collection resource itself is readable with either flag.
    CHECK(f.get("/api1/collections/" + kWriteOnly + "/", "bob").status == 200);
  }
  SECTION("308 to the same path with its trailing slash, query kept") {
    for (const std::string& target : std::vector<std::string>{"/taxii2", "/api1", "/api1/collections",
                                                              objs.substr(0, objs.size() - 1) + "?limit=2"}) {
      INFO(target);
      auto r = f.get(target);
      check_error(r, 308);
      REQUIRE(header(r, "Location") != nullptr);
      const std::size_t q = target.find('?');
      const std::string expected = q == std::string::npos ? target + "/" : target.substr(0, q) + "/" + target.substr(q);
      CHECK(*header(r, "Location") == expected);
    }
  }
  SECTION("404 for unknown paths") {
    for (const std::string& target : std::vector<std::string>{
             "/", "/taxii/", "/api3/", "/api3", "/api1/collections/" + kShared + "/x/",
             objs + "indicator--" + uuid_n(1) + "/versions/x/", "/api1//collections/", "/api1/status/", "/api1/%zz/"}) {
      INFO(target);
      check_error(f.get(target), 404);
    }
  }
  SECTION("405 with Allow") {
    auto put = f.send("PUT", objs);
    check_error(put, 405);
    CHECK(*header(put, "Allow") == "GET, POST");
    auto post_disc = f.send("POST", "/taxii2/");
    check_error(post_disc, 405);
    CHECK(*header(post_disc, "Allow") == "GET");
    auto del_coll = f.send("DELETE", "/api1/collections/" + kShared + "/");
    check_error(del_coll, 405);
    auto post_obj = f.send("POST", objs + "indicator--" + uuid_n(1) + "/");
    check_error(post_obj, 405);
    CHECK(*header(post_obj, "Allow") == "GET, DELETE");
  }
  SECTION("406 for an Accept without the TAXII type; the TAXII forms and */* pass") {
    check_error(f.send("GET", "/taxii2/", "alice", "", {{"Accept", "application/json"}}), 406);
    check_error(f.send("GET", objs, "alice", "", {{"Accept", "application/taxii+json;version=2.0"}}), 406);
    check_error(f.send("GET", objs, "alice", "", {{"accept", "application/taxii+json;q=0"}}), 406);
    for (const std::string ok : {"application/taxii+json", "*/*", "application/taxii+json; version=2.1",
                                 "text/html, application/TAXII+json;version=\"2.1\";q=0.5", "application/*"}) {
      INFO(ok);
      CHECK(f.send("GET", objs, "alice", "", {{"Accept", ok}}).status == 200);
    }
    CHECK(f.send("GET", objs, "alice", "", {}).status == 200);
  }
  SECTION("415 for a POST without the TAXII Content-Type") {
    const std::string body = envelope({indicator(1)});
    check_error(f.send("POST", objs, "alice", body, {{"Accept", kTaxii}, {"Content-Type", "application/json"}}), 415);
    check_error(f.send("POST", objs, "alice", body, {{"Accept", kTaxii}}), 415);
    check_error(f.send("POST", objs, "alice", body,
                       {{"Accept", kTaxii}, {"Content-Type", "application/taxii+json;version=2.0"}}),
                415);
    CHECK(
        f.send("POST", objs, "alice", body, {{"Accept", kTaxii}, {"content-type", "application/taxii+json"}}).status ==
        202);
  }
  SECTION("413 above max_content_length, and not at it") {
    std::string big = envelope({indicator(1)});
    big.insert(big.size() - 1, ",\"x_pad\":\"" + std::string(f.config.max_content_length, 'a') + "\"");
    check_error(f.post(objs, big), 413);
    std::string exact = envelope({indicator(1)});
    const std::size_t pad = f.config.max_content_length - exact.size();
    exact.insert(exact.size() - 1, std::string(pad, ' '));
    REQUIRE(exact.size() == f.config.max_content_length);
    CHECK(f.post(objs, exact).status == 202);
  }
  SECTION("422 for bodies that are not envelopes") {
    auto bundle =
        f.post(objs, R"({"type":"bundle","id":"bundle--)" + uuid_n(1) + R"(","objects":[)" + indicator(1) + "]}");
    check_error(bundle, 422);
    CHECK(body_of(bundle).find_string("title")->find("bundle") != std::string_view::npos);
    check_error(f.post(objs, "not json"), 422);
    check_error(f.post(objs, "[]"), 422);
    check_error(f.post(objs, indicator(1)), 422);
    check_error(f.post(objs, R"({"objects":{}})"), 422);
    check_error(f.post(objs, R"({"objects":[1]})"), 422);
    check_error(f.post(objs, R"({"objects":[{"type":"indicator"}]})"), 422);
    // The objects are read one at a time, but nothing is stored unless the
    // whole body is an envelope: whatever follows valid objects counts.
    auto late_type = f.post(objs, R"({"objects":[)" + indicator(1) + R"(],"type":"bundle"})");
    check_error(late_type, 422);
    CHECK(body_of(late_type).find_string("title")->find("bundle") != std::string_view::npos);
    auto truncated = f.post(objs, R"({"objects":[)" + indicator(1) + R"(],"more":)");
    check_error(truncated, 422);
    CHECK(*body_of(truncated).find_string("title") == "The request body is not JSON");
    auto late_bad = f.post(objs, R"({"objects":[)" + indicator(1) + "," + indicator(2) + R"(,[]]})");
    check_error(late_bad, 422);
    CHECK(body_of(late_bad).find_string("description")->find("objects[2]") != std::string_view::npos);
    check_error(f.post(objs, R"({"objects":[)" + indicator(1) + "]," + R"("objects":[]})"), 422);
    CHECK(f.store.size(kShared) == 0);
  }
  SECTION("503 when the store fails") {
    f.store.fail = true;
    check_error(f.get(objs), 503);
    check_error(f.post(objs, envelope({indicator(1)})), 503);
    check_error(f.del(objs + "indicator--" + uuid_n(1) + "/"), 503);
    check_error(f.get("/api1/status/00000000-0000-4000-8000-000000000000/"), 503);
  }
}

TEST_CASE("taxii handler: the SQLite store behaves like the memory store behind the handler", "[taxii_handler]") {
  Micros clock_micros = 1'767'225'600'000'000;
  auto opened = open_sqlite_store(":memory:", [&clock_micros] { return clock_micros += 1000; });
  REQUIRE(opened);
  Store& store = **opened;
  TestClock clock;
  const ServerConfig config = make_config();
  Handler handler(config, store, clock, "key");
  auto send = [&](std::string method, std::string target, std::string body = {}) {
    HttpRequest r{
        std::move(method), std::move(target), {{"Accept", kTaxii}, {"Content-Type", kTaxii}}, std::move(body), "alice"};
    return handler.handle(r);
  };
  std::vector<std::string> objs;
  for (int i = 0; i < 12; ++i) objs.push_back(indicator(i));
  objs.push_back(indicator(0, "2026-02-01T00:00:00.000Z"));
  objs.push_back(malware(1));
  auto p = send("POST", objects_path(kShared), envelope(objs));
  REQUIRE(p.status == 202);
  CHECK(body_of(p).find("success_count")->as_int64() == 14);
  // Re-posting is all duplicates: successes.
  CHECK(body_of(send("POST", objects_path(kShared), envelope(objs))).find("failure_count")->as_int64() == 0);

  std::vector<std::string> seen;
  std::string next;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = send("GET", objects_path(kShared) + "?limit=4" + (next.empty() ? "" : "&next=" + url_encode(next)));
    REQUIRE(r.status == 200);
    auto b = body_of(r);
    auto ids = ids_of(b);
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!b.find("more")) break;
    next = std::string(*b.find_string("next"));
  }
  CHECK(seen.size() == 13);  // the last version of each of 13 objects
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 13);
  CHECK(seen.back() == "malware--" + uuid_n(1, 1));

  auto ids = [&](const std::string& query) { return ids_of(body_of(send("GET", objects_path(kShared) + query))); };
  const std::string i0 = "indicator--" + uuid_n(0);
  CHECK(ids("?match[type]=malware").size() == 1);
  CHECK(ids("?match[version]=all").size() == 14);
  CHECK(ids("?match[id]=" + i0 + "&match[version]=first,last").size() == 2);
  CHECK(ids("?match[version]=2026-02-01T00:00:00Z") == std::vector<std::string>{i0});
  auto versions = body_of(send("GET", objects_path(kShared) + i0 + "/versions/"));
  CHECK(json::to_string(*versions.find("versions")) == R"(["2026-01-01T00:00:00.000Z","2026-02-01T00:00:00.000Z"])");
  REQUIRE(send("DELETE", objects_path(kShared) + i0 + "/?match[version]=2026-01-01T00:00:00Z").status == 200);
  CHECK(ids("?match[id]=" + i0 + "&match[version]=all").size() == 1);
  REQUIRE(send("DELETE", objects_path(kShared) + i0 + "/").status == 200);
  check_error(send("GET", objects_path(kShared) + i0 + "/"), 404);
  const std::string status_id(*body_of(p).find_string("id"));
  CHECK(send("GET", "/api1/status/" + status_id + "/").status == 200);
}

TEST_CASE("taxii handler: what each request did, for the audit log", "[taxii_handler]") {
  Fixture f;
  const std::string objs = objects_path(kShared);
  auto post = f.post(objs, envelope({indicator(1), indicator(2), R"({"type":"indicator","id":"indicator--x"})"}));
  REQUIRE(post.status == 202);
  CHECK(post.audit.action == "objects.add");
  CHECK(post.audit.collection == kShared);
  CHECK(post.audit.objects == 2);
  CHECK(post.audit.failed == 1);

  auto page = f.get(objs + "?limit=1");
  CHECK(page.audit.action == "objects.read");
  CHECK(page.audit.objects == 1);
  auto manifest = f.get("/api1/collections/" + kShared + "/manifest/");
  CHECK(manifest.audit.action == "manifest.read");
  CHECK(manifest.audit.objects == 2);
  auto versions = f.get(objs + "indicator--" + uuid_n(1) + "/versions/");
  CHECK(versions.audit.action == "versions.read");
  CHECK(versions.audit.objects == 1);

  auto del = f.del(objs + "indicator--" + uuid_n(1) + "/");
  REQUIRE(del.status == 200);
  CHECK(del.audit.action == "object.delete");
  CHECK(del.audit.objects == 1);
  auto del_again = f.del(objs + "indicator--" + uuid_n(1) + "/");
  CHECK(del_again.status == 404);
  CHECK(del_again.audit.objects == 0);

  // Requests that touch no objects leave nothing to audit.
  CHECK(f.get("/taxii2/").audit.action.empty());
  CHECK(f.get("/api1/collections/").audit.action.empty());
  CHECK(f.get(objs, "mallory").audit.action.empty());
}
