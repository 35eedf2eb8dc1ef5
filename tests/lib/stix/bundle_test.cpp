// Tests of STIX reading in every framing (bundle, bundle with "objects"
// first, NDJSON, bare array, single object), its errors and limits, the
// byte-exact round trip of custom content, the bundle/NDJSON writer, the
// deterministic bundle id and the spooled writer of content-addressed bundles.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ctishare/bundle.h"
#include "ctishare/file.h"
#include "ctishare/json.h"
#include "ctishare/object.h"
#include "ctishare/uuid.h"
#include "support/temp_dir.h"

using namespace ctishare;
using namespace ctishare::stix;

namespace {

struct Seen {
  std::string id;
  std::string type;
  std::uint64_t line;
  std::uint64_t index;
};

struct ReadResult {
  Status status;
  std::vector<Seen> seen;
};

ReadResult read(const std::string& text, const ReadOptions& options = {}) {
  std::istringstream in(text);
  ReadResult r;
  r.status = read_objects(in, options, [&](Object&& o, const Origin& origin) -> Status {
    r.seen.push_back(Seen{std::string(o.id()), std::string(o.type()), origin.line, origin.index});
    return {};
  });
  return r;
}

const std::string kBundleId = "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d";
const std::string kObj1 = R"({"type":"indicator","id":"indicator--11111111-1111-4111-8111-111111111111"})";
const std::string kObj2 = R"({"type":"malware","id":"malware--22222222-2222-4222-8222-222222222222"})";
const std::string kObj3 = R"({"type":"x-acme-thing","id":"x-acme-thing--33333333-3333-4333-8333-333333333333"})";

json::Value parse_json(std::string_view text) {
  auto v = json::parse(text);
  INFO(text);
  REQUIRE(v);
  return std::move(*v);
}

}  // namespace

// ---------------------------------------------------------------- framings

TEST_CASE("read_objects: a bundle hands objects over one at a time with index and line", "[stix][bundle][read]") {
  const std::string text = "{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[\n" + kObj1 + ",\n" + kObj2 +
                           ",\n\n" + kObj3 + "\n]}\n";
  auto r = read(text);
  REQUIRE(r.status);
  REQUIRE(r.seen.size() == 3);
  CHECK(r.seen[0].id == "indicator--11111111-1111-4111-8111-111111111111");
  CHECK(r.seen[0].index == 0);
  CHECK(r.seen[0].line == 2);
  CHECK(r.seen[1].id == "malware--22222222-2222-4222-8222-222222222222");
  CHECK(r.seen[1].index == 1);
  CHECK(r.seen[1].line == 3);
  CHECK(r.seen[2].type == "x-acme-thing");
  CHECK(r.seen[2].index == 2);
  CHECK(r.seen[2].line == 5);

  SECTION("pretty-printed: the line where each object starts") {
    const std::string pretty = "{\n  \"type\": \"bundle\",\n  \"id\": \"" + kBundleId +
                               "\",\n  \"objects\": [\n    {\n      \"type\": \"indicator\",\n      \"id\": "
                               "\"indicator--11111111-1111-4111-8111-111111111111\"\n    },\n    {\n      \"type\": "
                               "\"malware\",\n      \"id\": \"malware--22222222-2222-4222-8222-222222222222\"\n    }\n  ]\n}\n";
    auto p = read(pretty);
    REQUIRE(p.status);
    REQUIRE(p.seen.size() == 2);
    CHECK(p.seen[0].line == 5);
    CHECK(p.seen[1].line == 9);
    CHECK(p.seen[1].index == 1);
  }
  SECTION("Origin::where names both") {
    Origin o{17, 2};
    CHECK(o.where() == "object 3 (line 17)");
  }
}

TEST_CASE("read_objects: a bundle whose objects come before type and id", "[stix][bundle][read]") {
  const std::string text = "{\"objects\":[" + kObj1 + "," + kObj2 + "],\"id\":\"" + kBundleId + "\",\"type\":\"bundle\"}";
  auto r = read(text);
  REQUIRE(r.status);
  REQUIRE(r.seen.size() == 2);
  CHECK(r.seen[0].type == "indicator");
  CHECK(r.seen[1].type == "malware");
  CHECK(r.seen[1].index == 1);
}

TEST_CASE("read_objects: NDJSON", "[stix][bundle][read]") {
  const std::string text = kObj1 + "\n" + kObj2 + "\n\n" + kObj3 + "\n";
  auto r = read(text);
  REQUIRE(r.status);
  REQUIRE(r.seen.size() == 3);
  CHECK(r.seen[0].line == 1);
  CHECK(r.seen[1].line == 2);
  CHECK(r.seen[2].line == 4);
  CHECK(r.seen[2].index == 2);
  CHECK(r.seen[2].type == "x-acme-thing");

  SECTION("without a final newline, with CRLF") {
    auto c = read(kObj1 + "\r\n" + kObj2);
    REQUIRE(c.status);
    REQUIRE(c.seen.size() == 2);
    CHECK(c.seen[1].line == 2);
  }
}

TEST_CASE("read_objects: a bare JSON array", "[stix][bundle][read]") {
  auto r = read("[" + kObj1 + "," + kObj2 + "," + kObj3 + "]");
  REQUIRE(r.status);
  REQUIRE(r.seen.size() == 3);
  CHECK(r.seen[0].index == 0);
  CHECK(r.seen[2].index == 2);
  CHECK(r.seen[2].type == "x-acme-thing");

  auto empty = read("[]");
  REQUIRE(empty.status);
  CHECK(empty.seen.empty());
}

// Origin::line is documented as "line where the object starts"; elements of
// a bare array are all reported at the line of the '['.
TEST_CASE("read_objects: bare array elements carry their own line", "[stix][bundle][read]") {
  auto r = read("[\n" + kObj1 + ",\n" + kObj2 + "\n]\n");
  REQUIRE(r.status);
  REQUIRE(r.seen.size() == 2);
  CHECK(r.seen[0].line == 2);
  CHECK(r.seen[1].line == 3);
}

TEST_CASE("read_objects: a single object", "[stix][bundle][read]") {
  auto r = read("\n  " + kObj2 + "\n");
  REQUIRE(r.status);
  REQUIRE(r.seen.size() == 1);
  CHECK(r.seen[0].id == "malware--22222222-2222-4222-8222-222222222222");
  CHECK(r.seen[0].index == 0);
  CHECK(r.seen[0].line == 2);
}

TEST_CASE("read_objects: an empty bundle without objects", "[stix][bundle][read]") {
  auto r = read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\"}\n");
  REQUIRE(r.status);
  CHECK(r.seen.empty());
  auto e = read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[]}");
  REQUIRE(e.status);
  CHECK(e.seen.empty());
  auto nothing = read("  \n");
  REQUIRE(nothing.status);
  CHECK(nothing.seen.empty());
}

TEST_CASE("read_objects: a UTF-8 byte order mark is skipped", "[stix][bundle][read]") {
  auto r = read("\xEF\xBB\xBF" + kObj1);
  REQUIRE(r.status);
  CHECK(r.seen.size() == 1);
}

TEST_CASE("read_all collects every object in order", "[stix][bundle][read]") {
  std::istringstream in("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[" + kObj3 + "," + kObj1 + "]}");
  auto all = read_all(in);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].type() == "x-acme-thing");
  CHECK((*all)[1].to_string() == kObj1);
}

// ---------------------------------------------------------------- errors

TEST_CASE("read_objects errors", "[stix][bundle][read][errors]") {
  auto expect_data_error = [](const ReadResult& r, const std::string& fragment) {
    REQUIRE_FALSE(r.status);
    CHECK(r.status.error().category() == ErrorCategory::data);
    CHECK_THAT(r.status.error().message(), Catch::Contains(fragment));
  };

  SECTION("an 'objects' array on something that is not a bundle") {
    auto r = read("{\"type\":\"grouping\",\"id\":\"grouping--11111111-1111-4111-8111-111111111111\",\"objects\":[" + kObj1 + "]}");
    expect_data_error(r, "not a bundle");
    auto u = read("{\"objects\":[" + kObj1 + "]}");
    expect_data_error(u, "not a bundle");
  }
  SECTION("a bundle without a bundle-- id") {
    expect_data_error(read("{\"type\":\"bundle\",\"id\":\"report--11111111-1111-4111-8111-111111111111\",\"objects\":[" +
                           kObj1 + "]}"),
                      "bundle--");
    expect_data_error(read("{\"type\":\"bundle\",\"objects\":[" + kObj1 + "]}"), "bundle--");
    expect_data_error(read(R"({"type":"bundle"})"), "bundle--");
  }
  SECTION("bundle objects that are not an array") {
    expect_data_error(read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":{}}"), "not an array");
  }
  SECTION("an element without id, named by position and line") {
    auto r = read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[\n" + kObj1 +
                  ",\n{\"type\":\"malware\",\"name\":\"x\"}\n]}");
    expect_data_error(r, "'id'");
    CHECK_THAT(r.status.error().message(), Catch::Contains("object 2 (line 3)"));
    CHECK(r.seen.size() == 1);  // the first was handed over before
  }
  SECTION("an element without type") {
    expect_data_error(read(R"([{"id":"indicator--11111111-1111-4111-8111-111111111111"}])"), "'type'");
  }
  SECTION("an element that is not an object") {
    expect_data_error(read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[" + kObj1 + ",42]}"),
                      "not a JSON object");
    expect_data_error(read("[\"indicator\"]"), "not a JSON object");
  }
  SECTION("a top-level value that is no object, bundle or array") {
    expect_data_error(read("42"), "line 1");
    expect_data_error(read(kObj1 + "\n\"text\"\n"), "line 2");
  }
  SECTION("more objects than --max-objects") {
    ReadOptions options;
    options.limits.max_objects = 2;
    auto r = read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[" + kObj1 + "," + kObj2 + "," + kObj3 + "]}",
                  options);
    expect_data_error(r, "--max-objects");
    CHECK(r.seen.size() == 2);
    auto n = read(kObj1 + "\n" + kObj2 + "\n" + kObj3 + "\n", options);
    expect_data_error(n, "--max-objects");
    auto a = read("[" + kObj1 + "," + kObj2 + "," + kObj3 + "]", options);
    expect_data_error(a, "--max-objects");
    auto ok = read(kObj1 + "\n" + kObj2 + "\n", options);
    CHECK(ok.status);
  }
  SECTION("invalid JSON names the line") {
    auto r = read("{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[\n" + kObj1 +
                  ",\n{\"type\": oops}\n]}");
    expect_data_error(r, "line 3");
    CHECK_THAT(r.status.error().message(), Catch::Contains("invalid JSON"));
    auto t = read(kObj1 + "\n" + kObj2 + "\n{\"type\":");
    expect_data_error(t, "line 3");
  }
  SECTION("duplicate member names (I-JSON)") {
    expect_data_error(read(R"({"type":"tool","id":"tool--11111111-1111-4111-8111-111111111111","name":"a","name":"b"})"),
                      "duplicate");
  }
  SECTION("an error from the sink stops the reading and comes back as it is") {
    std::istringstream in(kObj1 + "\n" + kObj2 + "\n" + kObj3 + "\n");
    int calls = 0;
    Status s = read_objects(in, {}, [&](Object&&, const Origin&) -> Status {
      if (++calls == 2) return Error(ErrorCategory::io, "sink is full");
      return {};
    });
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::io);
    CHECK(s.error().message() == "sink is full");
    CHECK(calls == 2);
  }
}

// ---------------------------------------------------------------- round trip

TEST_CASE("custom content survives a read/write round trip byte for byte", "[stix][bundle][roundtrip]") {
  const std::vector<std::string> objects = {
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[file:hashes.'SHA-256' = 'ab\\'c']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","confidence":85,"x_foo":{"nested":{"deeper":[1.50,-0,1e3,2.5E-3,100000000000000000000000,{"a":null,"b":true,"c":false}],"empty":{},"none":[]},"score":1.50}})",
      R"({"type":"x-acme-thing","id":"x-acme-thing--33333333-3333-4333-8333-333333333333","spec_version":"2.1","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"Grüße, 日本語 and 🛡","x_escapes":"quote \" backslash \\ tab \t newline \n ctrl \u0001 slash /","z_last":0.1,"a_first":10})",
      R"({"type":"identity","spec_version":"2.1","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","name":"ACME Corp, Inc.","identity_class":"organization","x_acme_numbers":[0,-1,3.14159265358979323846264338327950288,1E+2]})",
  };
  std::string input = "{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[\n";
  for (std::size_t i = 0; i < objects.size(); ++i) input += objects[i] + (i + 1 < objects.size() ? ",\n" : "\n");
  input += "]}\n";

  std::istringstream in(input);
  auto all = read_all(in);
  REQUIRE(all);
  REQUIRE(all->size() == objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) CHECK((*all)[i].to_string() == objects[i]);

  StringSink sink;
  BundleWriter writer(sink, OutputFraming::bundle, json::Layout::compact, kBundleId);
  for (const Object& o : *all) REQUIRE(writer.add(o.json()));
  REQUIRE(writer.finish());
  CHECK(sink.text() == input);
}

TEST_CASE("real data: the OASIS SCO examples (a pretty-printed bare array)", "[stix][bundle][roundtrip]") {
  std::ifstream in(CTISHARE_TEST_DATA "/stix21/sco-examples.json", std::ios::binary);
  REQUIRE(in);
  auto all = read_all(in);
  REQUIRE(all);
  REQUIRE(all->size() == 82);
  std::map<std::string, int> by_type;
  for (const Object& o : *all) {
    ++by_type[std::string(o.type())];
    CHECK(o.kind() == ObjectKind::sco);
  }
  CHECK(by_type.size() == 18);  // every SCO type of STIX 2.1
  CHECK(by_type["ipv4-addr"] == 22);
  CHECK(by_type["file"] == 15);
  CHECK(by_type["network-traffic"] == 11);
  CHECK(by_type["email-addr"] == 6);
  CHECK(by_type["x509-certificate"] == 2);

  // Compact bundle out, read back: the same values in the same order.
  StringSink sink;
  BundleWriter w(sink, OutputFraming::bundle, json::Layout::compact, kBundleId);
  for (const Object& o : *all) REQUIRE(w.add(o.json()));
  REQUIRE(w.finish());
  std::istringstream again(sink.text());
  auto back = read_all(again);
  REQUIRE(back);
  REQUIRE(back->size() == all->size());
  for (std::size_t i = 0; i < all->size(); ++i) {
    CHECK((*back)[i].json() == (*all)[i].json());
    CHECK((*back)[i].to_string() == (*all)[i].to_string());
  }
  // One object per line between the envelope lines.
  CHECK(std::count(sink.text().begin(), sink.text().end(), '\n') == 82 + 2);
}

// ---------------------------------------------------------------- writer

TEST_CASE("BundleWriter framings", "[stix][bundle][writer]") {
  const json::Value a = parse_json(kObj1);
  const json::Value b = parse_json(kObj3);

  SECTION("compact bundle: one object per line") {
    StringSink sink;
    BundleWriter w(sink, OutputFraming::bundle, json::Layout::compact, kBundleId);
    REQUIRE(w.add(a));
    REQUIRE(w.add_serialized(kObj3));
    REQUIRE(w.finish());
    CHECK(sink.text() == "{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\",\"objects\":[\n" + kObj1 + ",\n" + kObj3 + "\n]}\n");
    auto parsed = json::parse(sink.text());
    REQUIRE(parsed);
    CHECK(parsed->find_string("type") == std::optional<std::string_view>("bundle"));
    REQUIRE(parsed->find("objects") != nullptr);
    REQUIRE(parsed->find("objects")->as_array().size() == 2);
    CHECK(parsed->find("objects")->as_array()[1] == b);
  }
  SECTION("pretty bundle: two-space indent") {
    const std::string expected = "{\n  \"type\": \"bundle\",\n  \"id\": \"" + kBundleId +
                                 "\",\n  \"objects\": [\n"
                                 "    {\n      \"type\": \"indicator\",\n      \"id\": \"indicator--11111111-1111-4111-8111-111111111111\"\n    },\n"
                                 "    {\n      \"type\": \"x-acme-thing\",\n      \"id\": \"x-acme-thing--33333333-3333-4333-8333-333333333333\",\n"
                                 "      \"list\": [\n        1,\n        {}\n      ]\n    }\n  ]\n}\n";
    const std::string third = R"({"type":"x-acme-thing","id":"x-acme-thing--33333333-3333-4333-8333-333333333333","list":[1,{}]})";
    StringSink via_add;
    BundleWriter w(via_add, OutputFraming::bundle, json::Layout::pretty, kBundleId);
    REQUIRE(w.add(a));
    REQUIRE(w.add(parse_json(third)));
    REQUIRE(w.finish());
    CHECK(via_add.text() == expected);
    // add_serialized gives the same in pretty layout.
    StringSink via_serialized;
    BundleWriter s(via_serialized, OutputFraming::bundle, json::Layout::pretty, kBundleId);
    REQUIRE(s.add_serialized(kObj1));
    REQUIRE(s.add_serialized(third));
    REQUIRE(s.finish());
    CHECK(via_serialized.text() == expected);
    auto parsed = json::parse(expected);
    REQUIRE(parsed);
  }
  SECTION("NDJSON: one compact object per line, no envelope") {
    StringSink sink;
    BundleWriter w(sink, OutputFraming::ndjson, json::Layout::compact, kBundleId);
    REQUIRE(w.add(a));
    REQUIRE(w.add_serialized(kObj2));
    REQUIRE(w.add(b));
    REQUIRE(w.finish());
    CHECK(sink.text() == kObj1 + "\n" + kObj2 + "\n" + kObj3 + "\n");
    std::istringstream in(sink.text());
    auto all = read_all(in);
    REQUIRE(all);
    CHECK(all->size() == 3);
  }
  SECTION("an empty bundle omits objects") {
    StringSink compact;
    BundleWriter w(compact, OutputFraming::bundle, json::Layout::compact, kBundleId);
    REQUIRE(w.finish());
    CHECK(compact.text() == "{\"type\":\"bundle\",\"id\":\"" + kBundleId + "\"}\n");
    StringSink pretty;
    BundleWriter p(pretty, OutputFraming::bundle, json::Layout::pretty, kBundleId);
    REQUIRE(p.finish());
    CHECK(pretty.text() == "{\n  \"type\": \"bundle\",\n  \"id\": \"" + kBundleId + "\"\n}\n");
    for (const std::string* t : {&compact.text(), &pretty.text()}) {
      auto parsed = json::parse(*t);
      REQUIRE(parsed);
      CHECK(parsed->find("objects") == nullptr);
      // And it reads back as a bundle of nothing.
      std::istringstream in(*t);
      auto all = read_all(in);
      REQUIRE(all);
      CHECK(all->empty());
    }
    StringSink nd;
    BundleWriter n(nd, OutputFraming::ndjson, json::Layout::compact, kBundleId);
    REQUIRE(n.finish());
    CHECK(nd.text().empty());
  }
  SECTION("large output is flushed in pieces and stays whole") {
    StringSink sink;
    BundleWriter w(sink, OutputFraming::bundle, json::Layout::compact, kBundleId);
    const int n = 5000;
    bool all_added = true;
    const json::Value base = parse_json(kObj1);
    for (int i = 0; i < n; ++i) {
      json::Value v = base;
      v.set("x_index", i);
      v.set("x_pad", std::string(100, 'p'));
      all_added = all_added && static_cast<bool>(w.add(v));
    }
    REQUIRE(all_added);
    REQUIRE(w.finish());
    CHECK(sink.text().size() > (1U << 18));  // larger than the writer's buffer
    std::istringstream in(sink.text());
    auto all = read_all(in);
    REQUIRE(all);
    REQUIRE(all->size() == static_cast<std::size_t>(n));
    CHECK((*all)[n - 1].get("x_index")->as_int64() == n - 1);
  }
}

TEST_CASE("BundleWriter begin_object/end_object agree with add_serialized", "[stix][bundle][writer]") {
  const std::string third = R"({"type":"x-acme-thing","id":"x-acme-thing--33333333-3333-4333-8333-333333333333","list":[1,{}]})";
  for (auto framing : {OutputFraming::bundle, OutputFraming::ndjson}) {
    for (auto layout : {json::Layout::compact, json::Layout::pretty}) {
      if (framing == OutputFraming::ndjson && layout == json::Layout::pretty) continue;
      StringSink direct, serialized;
      BundleWriter d(direct, framing, layout, kBundleId);
      BundleWriter s(serialized, framing, layout, kBundleId);
      for (const std::string* o : {&kObj1, &third, &kObj2}) {
        d.begin_object() += *o;
        REQUIRE(d.end_object());
        REQUIRE(s.add_serialized(*o));
      }
      REQUIRE(d.finish());
      REQUIRE(s.finish());
      CHECK(direct.text() == serialized.text());
      std::istringstream in(direct.text());
      auto all = read_all(in);
      REQUIRE(all);
      REQUIRE(all->size() == 3);
      CHECK((*all)[1].to_string() == third);
    }
  }
}

TEST_CASE("a failing sink is reported by the writer", "[stix][bundle][writer]") {
  struct FailingSink final : Sink {
    Status write(std::string_view) override { return Error(ErrorCategory::io, "disk full"); }
  } sink;
  BundleWriter w(sink, OutputFraming::bundle, json::Layout::compact, kBundleId);
  REQUIRE(w.add_serialized(kObj1));  // buffered
  Status s = w.finish();
  REQUIRE_FALSE(s);
  CHECK(s.error().category() == ErrorCategory::io);
}

// ---------------------------------------------------------------- bundle id

TEST_CASE("BundleIdDigest: deterministic version-4 bundle ids", "[stix][bundle][bundle-id]") {
  auto digest = [](const std::vector<std::pair<std::string, std::string>>& items) {
    BundleIdDigest d;
    for (const auto& [id, version] : items) d.add(id, version);
    return d.finish();
  };
  const std::vector<std::pair<std::string, std::string>> base = {
      {"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff", "2016-04-06T20:03:00.000Z"},
      {"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "2016-04-06T20:03:48.000Z"},
  };
  const std::string id = digest(base);
  CHECK(id == digest(base));

  auto parsed = Identifier::parse(id);
  REQUIRE(parsed);
  CHECK(parsed->type == "bundle");
  CHECK(parsed->uuid.version() == 4);
  CHECK(parsed->uuid.is_rfc4122());
  CHECK(id.substr(0, 8) == "bundle--");
  CHECK(id.size() == 8 + 36);

  auto changed_version = base;
  changed_version[1].second = "2016-04-06T20:03:48.001Z";
  CHECK(digest(changed_version) != id);
  auto changed_id = base;
  changed_id[0].first = "identity--f431f809-377b-45e0-aa1c-6a4751cae5fe";
  CHECK(digest(changed_id) != id);
  auto reordered = std::vector<std::pair<std::string, std::string>>{base[1], base[0]};
  CHECK(digest(reordered) != id);
  // The pairs are delimited: moving text between id and version changes the id.
  CHECK(digest({{"ab", "c"}}) != digest({{"a", "bc"}}));
  CHECK(digest({}) != id);
  auto empty = Identifier::parse(digest({}));
  REQUIRE(empty);
  CHECK(empty->uuid.version() == 4);
  CHECK(empty->uuid.is_rfc4122());
}

// ---------------------------------------------------------------- spooled writer

namespace {

struct Item {
  std::string text, id, version;
};

// `n` distinct objects, each about 300 bytes: n = 5000 is more than one
// spool chunk (1 MiB).
std::vector<Item> items(int n) {
  std::vector<Item> out;
  for (int i = 0; i < n; ++i) {
    char id[64];
    std::snprintf(id, sizeof id, "indicator--%08x-1111-4111-8111-111111111111", static_cast<unsigned>(i));
    const std::string version = "2026-11-" + std::string(i % 2 == 0 ? "01" : "02") + "T00:00:00.000Z";
    json::Object o;
    o.emplace_back("type", "indicator");
    o.emplace_back("id", std::string(id));
    o.emplace_back("modified", version);
    o.emplace_back("x_pad", std::string(200, 'p'));
    out.push_back({json::to_string(json::Value(std::move(o))), id, version});
  }
  return out;
}

// What BundleWriter writes for the same objects with the id they digest to.
std::string expected_output(const std::vector<Item>& objects, OutputFraming framing) {
  BundleIdDigest digest;
  for (const auto& o : objects) digest.add(o.id, o.version);
  StringSink sink;
  BundleWriter w(sink, framing, json::Layout::compact, framing == OutputFraming::bundle ? digest.finish() : "");
  for (const auto& o : objects) REQUIRE(w.add_serialized(o.text));
  REQUIRE(w.finish());
  return sink.text();
}

std::size_t entries(const std::string& dir) {
  return static_cast<std::size_t>(
      std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

}  // namespace

TEST_CASE("SpooledBundleWriter writes what BundleWriter writes, with the id of its content",
          "[stix][bundle][spooled]") {
  test::TempDir dir;
  for (auto framing : {OutputFraming::bundle, OutputFraming::ndjson}) {
    for (int n : {0, 1, 3, 5000}) {
      INFO("framing " << (framing == OutputFraming::bundle ? "bundle" : "ndjson") << ", " << n << " objects");
      const auto objects = items(n);
      StringSink sink;
      auto w = SpooledBundleWriter::create(sink, framing, dir.path());
      REQUIRE(w);
      bool all_added = true;
      for (std::size_t i = 0; i < objects.size(); ++i) {
        const auto& o = objects[i];
        // Both ways in: a value and its serialisation.
        Status added =
            i % 2 == 0 ? (*w)->add(parse_json(o.text), o.id, o.version) : (*w)->add_serialized(o.text, o.id, o.version);
        all_added = all_added && static_cast<bool>(added);
      }
      REQUIRE(all_added);
      CHECK((*w)->size() == objects.size());
      // Nothing reaches the sink before finish(), and the spool has no name.
      CHECK(sink.text().empty());
      CHECK(entries(dir.path()) == 0);
      REQUIRE((*w)->finish());
      CHECK(sink.text() == expected_output(objects, framing));
      CHECK(entries(dir.path()) == 0);
      Status again = (*w)->finish();
      REQUIRE_FALSE(again);
      CHECK(again.error().category() == ErrorCategory::internal);
      Status late = (*w)->add_serialized(kObj1, "indicator--11111111-1111-4111-8111-111111111111", "");
      REQUIRE_FALSE(late);
      CHECK(late.error().category() == ErrorCategory::internal);
    }
  }
}

TEST_CASE("SpooledBundleWriter: the bundle id follows the content", "[stix][bundle][spooled]") {
  test::TempDir dir;
  auto objects = items(3);
  auto write = [&](const std::vector<Item>& list) {
    StringSink sink;
    auto w = SpooledBundleWriter::create(sink, OutputFraming::bundle, dir.path());
    REQUIRE(w);
    for (const auto& o : list) REQUIRE((*w)->add_serialized(o.text, o.id, o.version));
    REQUIRE((*w)->finish());
    auto parsed = json::parse(sink.text());
    REQUIRE(parsed);
    return std::string(*parsed->find_string("id"));
  };
  const std::string id = write(objects);
  CHECK(write(objects) == id);
  std::swap(objects[0], objects[1]);
  CHECK(write(objects) != id);
}

TEST_CASE("SpooledBundleWriter: NDJSON without a spool goes straight to the sink", "[stix][bundle][spooled]") {
  const auto objects = items(5000);
  StringSink sink;
  auto w = SpooledBundleWriter::create(sink, OutputFraming::ndjson, "");
  REQUIRE(w);
  for (const auto& o : objects) REQUIRE((*w)->add_serialized(o.text, o.id, o.version));
  CHECK_FALSE(sink.text().empty());  // more than one chunk: written on the way
  REQUIRE((*w)->finish());
  CHECK(sink.text() == expected_output(objects, OutputFraming::ndjson));
}

TEST_CASE("SpooledBundleWriter errors", "[stix][bundle][spooled][errors]") {
  test::TempDir dir;
  StringSink sink;
  SECTION("a spool directory that does not exist cannot be written (73), and is named") {
    auto w = SpooledBundleWriter::create(sink, OutputFraming::bundle, dir / "missing");
    REQUIRE_FALSE(w);
    CHECK(w.error().category() == ErrorCategory::cannot_create);
    CHECK(w.error().message().find(dir / "missing") != std::string::npos);
  }
  SECTION("a bundle always needs a spool") {
    auto w = SpooledBundleWriter::create(sink, OutputFraming::bundle, "");
    REQUIRE_FALSE(w);
    CHECK(w.error().category() == ErrorCategory::internal);
  }
  SECTION("a failing sink is reported by finish()") {
    struct FailingSink final : Sink {
      Status write(std::string_view) override { return Error(ErrorCategory::io, "disk full"); }
    } failing;
    auto w = SpooledBundleWriter::create(failing, OutputFraming::bundle, dir.path());
    REQUIRE(w);
    REQUIRE((*w)->add_serialized(kObj1, "indicator--11111111-1111-4111-8111-111111111111", ""));
    Status s = (*w)->finish();
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::io);
    CHECK(entries(dir.path()) == 0);
  }
}
