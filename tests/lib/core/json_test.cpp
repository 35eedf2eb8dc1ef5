// Tests of ctishare/json.h: parsing with limits, streaming (NDJSON and split
// bundles), deterministic writing and RFC 8785 canonicalisation.
#include "ctishare/json.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <vector>

using namespace ctishare;
using namespace ctishare::json;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

Value parse_ok(std::string_view text, const Limits& limits = {}) {
  auto r = parse(text, limits);
  if (!r) FAIL("parse failed: " << r.error().message() << " for: " << text);
  return std::move(r).value();
}

Error parse_err(std::string_view text, const Limits& limits = {}) {
  auto r = parse(text, limits);
  if (r) FAIL("parse unexpectedly succeeded for: " << text);
  return std::move(r).error();
}

struct Event {
  Value value;
  StreamEvent::Kind kind;
  std::uint64_t line;
  std::uint64_t index;
};

// Runs parse_stream over `text`, collecting every event.
Status stream(const std::string& text, std::vector<Event>& out, std::string_view split = {},
              const Limits& limits = {}) {
  std::istringstream in(text);
  return parse_stream(in, limits, split, [&](Value&& v, const StreamEvent& ev) -> Status {
    out.push_back(Event{std::move(v), ev.kind, ev.line, ev.index});
    return {};
  });
}

std::string canon(std::string_view text) {
  auto c = canonicalize(parse_ok(text));
  if (!c) FAIL("canonicalize failed: " << c.error().message());
  return std::move(c).value();
}

// A stream buffer that hands out `data` and then fails like a broken device.
class FailingBuf : public std::streambuf {
 public:
  explicit FailingBuf(std::string data) : data_(std::move(data)) {
    setg(data_.data(), data_.data(), data_.data() + data_.size());
  }

 protected:
  int_type underflow() override { throw std::runtime_error("device error"); }

 private:
  std::string data_;
};

}  // namespace

// ---------------------------------------------------------------- parsing

TEST_CASE("json: parse builds values of every kind", "[core][json]") {
  Value v = parse_ok(R"({"n":null,"t":true,"f":false,"i":-12,"s":"x","a":[1,"2"],"o":{"k":{}}})");
  REQUIRE(v.is_object());
  CHECK(v.find("n")->is_null());
  CHECK(v.find("t")->as_bool() == true);
  CHECK(v.find("f")->as_bool() == false);
  CHECK(v.find("i")->as_number().text == "-12");
  CHECK(v.find("s")->as_string() == "x");
  REQUIRE(v.find("a")->is_array());
  CHECK(v.find("a")->as_array().size() == 2);
  CHECK(v.find("a")->as_array()[1].as_string() == "2");
  CHECK(v.find("o")->find("k")->is_object());
  CHECK(v.find("o")->find("k")->as_object().empty());
  CHECK(parse_ok("  7 \n").as_number().text == "7");
  CHECK(parse_ok("\"top\"").as_string() == "top");
}

TEST_CASE("json: round trip keeps member order, number text and unicode", "[core][json]") {
  const std::string text =
      "{\"zeta\":1,\"alpha\":1.50e3,\"mid\":[-0,0.10,1E+2,12345678901234567890123],"
      "\"uni\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"\xe2\x82\xac\":null}";
  Value v = parse_ok(text);
  const Object& o = v.as_object();
  REQUIRE(o.size() == 5);
  CHECK(o[0].first == "zeta");
  CHECK(o[1].first == "alpha");
  CHECK(o[2].first == "mid");
  CHECK(o[3].first == "uni");
  CHECK(o[4].first == "\xe2\x82\xac");
  CHECK(v.find("alpha")->as_number().text == "1.50e3");
  CHECK(v.find("mid")->as_array()[0].as_number().text == "-0");
  CHECK(v.find("mid")->as_array()[1].as_number().text == "0.10");
  CHECK(v.find("mid")->as_array()[2].as_number().text == "1E+2");
  CHECK(v.find("mid")->as_array()[3].as_number().text == "12345678901234567890123");
  CHECK(to_string(v) == text);
  // Pretty output parses back to the same value.
  CHECK(parse_ok(to_string(v, Layout::pretty)) == v);
}

TEST_CASE("json: escapes decode to UTF-8 and are written minimally", "[core][json]") {
  Value v = parse_ok(R"("\u00e9\ud83d\ude00\n\"\\\/\u0000x")");
  CHECK(v.as_string() == std::string("\xc3\xa9\xf0\x9f\x98\x80\n\"\\/\0x", 12));
  CHECK(to_string(v) == "\"\xc3\xa9\xf0\x9f\x98\x80\\n\\\"\\\\/\\u0000x\"");
}

TEST_CASE("json: write_string escapes quotes, backslashes and control characters", "[core][json]") {
  std::string out = "prefix:";
  write_string("a\"b\\c\x01\x1f\b\f\n\r\t/\x7f\xc3\xa9", out);
  CHECK(out == "prefix:\"a\\\"b\\\\c\\u0001\\u001f\\b\\f\\n\\r\\t/\x7f\xc3\xa9\"");

  std::string nul;
  write_string(std::string_view("\0", 1), nul);
  CHECK(nul == "\"\\u0000\"");

  std::string empty;
  write_string("", empty);
  CHECK(empty == "\"\"");

  // Every control character is escaped, with lower-case hex where no short form exists.
  for (int c = 0; c < 0x20; ++c) {
    std::string s;
    write_string(std::string(1, static_cast<char>(c)), s);
    INFO("control character " << c);
    CHECK(s.size() > 3);
    CHECK(s[1] == '\\');
    CHECK(s.find_first_of("ABCDEF") == std::string::npos);
    CHECK(parse_ok(s).as_string() == std::string(1, static_cast<char>(c)));
  }
}

// The TAXII server stores a POSTed object's received bytes when
// is_compact() calls them compact: that must hold only when they are
// exactly what to_string() writes for the parsed object.
TEST_CASE("json: parse_split gives each element's bytes and is_compact says which are written compactly",
          "[core][json]") {
  const std::vector<std::string> elements = {
      R"({"a":1,"b":[true,null,-1.50e3],"c":{},"d":[],"e":{"x":"y"}})",  // compact
      R"({"s":"\"\\\b\f\n\r\t\u0001\u001f\u0000/\u00e9é"})",             // \u00e9 is written raw
      R"({"s":"\u000a"})",                                               // \n is the short form
      R"({"s":"\u001F"})",                                               // upper-case hex
      R"({"s":"\/"})",
      R"({"s":"\ud83d\ude00"})",
      R"({"a": 1})",
      R"({"a":[1 ,2]})",
      R"("plain")",
      R"("tab\tand\u001b")",
      R"(12.50)",
      R"([{"k":"v"},{"k":[]}])",
      R"({"nested":{"deeper":{"s":"a\"b}]"}}})",
  };
  std::string body = "{\"more\":[{\"objects\":[]}], \"objects\" : [ ";
  for (std::size_t i = 0; i < elements.size(); ++i) body += (i == 0 ? "" : " ,\n") + elements[i];
  body += " ] ,\"z\":null}";
  std::size_t seen = 0;
  REQUIRE(parse_split(body, {}, "objects", [&](Value&& v, const StreamEvent& ev) -> Status {
    if (ev.kind != StreamEvent::Kind::element) return {};
    REQUIRE(ev.index < elements.size());
    const std::string& element = elements[ev.index];
    INFO(element);
    // Containers come with their bytes; scalars (size 0) are checked as written.
    const std::string_view raw = ev.size != 0 ? std::string_view(body).substr(ev.offset, ev.size) : element;
    CHECK(raw == element);
    CHECK(is_compact(raw) == (raw == to_string(v)));
    ++seen;
    return {};
  }));
  CHECK(seen == elements.size());
  CHECK(is_compact(elements[0]));
  CHECK(is_compact(elements[1]) == false);
  CHECK(is_compact(elements[3]) == false);
  CHECK(is_compact(elements[9]));

  // Which arrays are split: the named member's, also when its name is
  // escaped, or a top-level array's; nothing else.
  auto split_count = [](std::string_view text) {
    std::optional<std::size_t> n;
    std::size_t elements_seen = 0;
    REQUIRE(parse_split(text, {}, "objects", [&](Value&&, const StreamEvent& ev) -> Status {
      if (ev.kind == StreamEvent::Kind::element) ++elements_seen;
      if (ev.kind == StreamEvent::Kind::envelope) n = elements_seen;
      return {};
    }));
    return n;
  };
  CHECK(split_count(R"({"objects":[]})") == std::optional<std::size_t>(0));
  CHECK_FALSE(split_count(R"({"other":[1]})"));
  CHECK_FALSE(split_count(R"({"objects":{}})"));
  CHECK(split_count(R"([{"objects":[1]}])") == std::optional<std::size_t>(1));
  CHECK(split_count(R"({"obj\u0065cts":[1]})") == std::optional<std::size_t>(1));
}

// parse_split hands the TAXII server one posted object at a time, with the
// bytes it was received in; is_compact says whether those bytes can be
// stored as they are.
TEST_CASE("json: parse_split hands over elements with their bytes, then the rest", "[core][json]") {
  const std::vector<std::string> elements = {
      R"({"a":1,"b":[true,null,-1.50e3],"c":{},"e":{"x":"y"}})",
      R"({"s":"\"\\\b\f\n\r\t\u0001\u001f\u0000/\u00e9é"})",
      R"({"s":"\u001F"})",
      R"({"a": 1})",
      R"([{"k":"v"},{"k":[]}])",
      R"({"nested":{"deeper":{"s":"a\"b}]"}}})",
      R"("plain")",
      R"(12.50)",
  };
  std::string body = "{\"more\":[{\"objects\":[]}], \"objects\" : [ ";
  for (std::size_t i = 0; i < elements.size(); ++i) body += (i == 0 ? "" : " ,\n") + elements[i];
  body += " ] ,\"z\":null}";
  const Value whole = parse_ok(body);
  std::vector<Value> got;
  std::optional<Value> rest;
  auto s = parse_split(body, {}, "objects", [&](Value&& v, const StreamEvent& ev) -> Status {
    if (ev.kind == StreamEvent::Kind::element) {
      INFO(elements[ev.index]);
      REQUIRE(ev.index == got.size());
      if (v.is_object() || v.is_array()) {
        const std::string_view raw = std::string_view(body).substr(ev.offset, ev.size);
        CHECK(raw == elements[ev.index]);
        CHECK(is_compact(raw) == (raw == to_string(v)));
      } else {
        CHECK(ev.size == 0);
      }
      got.push_back(std::move(v));
    } else {
      CHECK(ev.kind == StreamEvent::Kind::envelope);
      rest = std::move(v);
    }
    return {};
  });
  REQUIRE(s);
  CHECK(got == whole.find("objects")->as_array());
  REQUIRE(rest);
  CHECK(rest->find("objects") == nullptr);
  CHECK(*rest->find("more") == *whole.find("more"));
  CHECK(rest->find("z")->is_null());
  CHECK(is_compact(elements[0]));
  CHECK_FALSE(is_compact(elements[1]));
  CHECK_FALSE(is_compact(elements[3]));
  CHECK_FALSE(is_compact(R"({"a":1} )"));

  // Without the array the document goes whole; errors are parse()'s.
  std::vector<StreamEvent::Kind> kinds;
  auto record = [&](Value&&, const StreamEvent& ev) -> Status {
    kinds.push_back(ev.kind);
    return {};
  };
  REQUIRE(parse_split(R"({"objects":{}})", {}, "objects", record));
  CHECK(kinds == std::vector<StreamEvent::Kind>{StreamEvent::Kind::value});
  auto bad = parse_split(R"({"objects":[{}],"x":)", {}, "objects", record);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category() == ErrorCategory::data);
  CHECK_THAT(bad.error().message(), Catch::Contains("invalid JSON at byte"));
  CHECK_FALSE(parse_split(R"({"objects":[],"objects":[]})", {}, "objects", record));
  Limits small;
  small.max_document_bytes = 4;
  CHECK_FALSE(parse_split(R"({"objects":[]})", small, "objects", record));
}

TEST_CASE("json: compact and pretty layouts", "[core][json]") {
  Value v = parse_ok(R"( { "a" : 1 , "b" : [ true , null ] , "c" : { } , "d" : [ ] , "e" : { "x" : "y" } } )");
  CHECK(to_string(v) == R"({"a":1,"b":[true,null],"c":{},"d":[],"e":{"x":"y"}})");
  CHECK(to_string(v, Layout::pretty) ==
        "{\n"
        "  \"a\": 1,\n"
        "  \"b\": [\n"
        "    true,\n"
        "    null\n"
        "  ],\n"
        "  \"c\": {},\n"
        "  \"d\": [],\n"
        "  \"e\": {\n"
        "    \"x\": \"y\"\n"
        "  }\n"
        "}");
  CHECK(to_string(Value(Array{}), Layout::pretty) == "[]");
  CHECK(to_string(Value("s"), Layout::pretty) == "\"s\"");

  // write() appends and honours the starting indent.
  std::string out = "X";
  write(parse_ok(R"({"k":[1]})"), out, Layout::pretty, 1);
  CHECK(out == "X{\n    \"k\": [\n      1\n    ]\n  }");
}

TEST_CASE("json: duplicate member names are rejected", "[core][json]") {
  SECTION("small object") {
    Error e = parse_err(R"({"a":1,"b":2,"a":3})");
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("duplicate member name 'a'"));
  }
  SECTION("nested object") {
    Error e = parse_err(R"({"outer":{"id":1,"id":1}})");
    CHECK_THAT(e.message(), Contains("'id'"));
  }
  SECTION("exactly 16 and 17 members, duplicate last") {
    for (int n : {16, 17, 40}) {
      std::string text = "{";
      for (int i = 0; i < n - 1; ++i) text += "\"key" + std::to_string(i) + "\":" + std::to_string(i) + ",";
      text += "\"key7\":0}";
      INFO("members: " << n);
      Error e = parse_err(text);
      CHECK(e.category() == ErrorCategory::data);
      CHECK_THAT(e.message(), Contains("'key7'"));
    }
  }
  SECTION("distinct names, including case variants, pass") {
    std::string text = "{";
    for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\":0,";
    text += "\"K1\":0,\"k\":0}";
    CHECK(parse_ok(text).as_object().size() == 42);
    CHECK(parse_ok(R"({"a":{"x":1},"b":{"x":1}})").as_object().size() == 2);
  }
}

TEST_CASE("json: max_depth limit", "[core][json]") {
  Limits l;
  l.max_depth = 3;
  CHECK(parse_ok("[[[1]]]", l).is_array());
  CHECK(parse_ok(R"({"a":{"b":{"c":1}}})", l).is_object());
  for (const char* deep : {"[[[[1]]]]", R"({"a":{"b":{"c":{}}}})", R"([{"a":[1]}, 2, {"b":{"c":[]}}])"}) {
    INFO(deep);
    Error e = parse_err(deep, l);
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("--max-depth"));
    CHECK_THAT(e.message(), Contains("3"));
  }
  // The default is 64 levels.
  CHECK(parse_ok(std::string(64, '[') + std::string(64, ']')).is_array());
  CHECK_THAT(parse_err(std::string(65, '[') + std::string(65, ']')).message(), Contains("--max-depth"));
  // Zero means no limit.
  Limits none;
  none.max_depth = 0;
  CHECK(parse_ok(std::string(500, '[') + std::string(500, ']'), none).is_array());
}

TEST_CASE("json: max_string_bytes limit applies to strings and names", "[core][json]") {
  Limits l;
  l.max_string_bytes = 4;
  CHECK(parse_ok(R"({"abcd":"wxyz"})", l).is_object());
  // Bytes, not characters: two 2-byte characters fit, three do not.
  CHECK(parse_ok("\"\xc3\xa9\xc3\xa9\"", l).is_string());
  for (const char* text : {R"("abcde")", R"({"abcde":1})", R"(["ok","toolong"])", "\"\xc3\xa9\xc3\xa9\xc3\xa9\""}) {
    INFO(text);
    Error e = parse_err(text, l);
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), Contains("--max-string-length"));
  }
}

TEST_CASE("json: max_document_bytes limit", "[core][json]") {
  Limits l;
  l.max_document_bytes = 10;
  CHECK(parse_ok("[1,2,3,44]", l).is_array());  // exactly 10 bytes
  Error e = parse_err("[1,2,3,456]", l);
  CHECK(e.category() == ErrorCategory::data);
  CHECK_THAT(e.message(), Contains("--max-input-size"));
  CHECK_THAT(e.message(), Contains("10"));

  SECTION("parse_stream") {
    std::vector<Event> events;
    Status s = stream("[1,2,3,456]", events, {}, l);
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::data);
    CHECK_THAT(s.error().message(), Contains("--max-input-size"));

    // The budget covers the whole stream, not each value.
    events.clear();
    Status multi = stream("[1]\n[2]\n[3]\n[4]\n", events, {}, l);
    REQUIRE_FALSE(multi);
    CHECK_THAT(multi.error().message(), Contains("--max-input-size"));

    events.clear();
    Status fits = stream("[1]\n[2]\n", events, {}, l);
    CHECK(fits);
    CHECK(events.size() == 2);
  }
}

TEST_CASE("json: max_members limit on objects and arrays", "[core][json]") {
  Limits l;
  l.max_members = 3;
  CHECK(parse_ok("[1,2,3]", l).as_array().size() == 3);
  CHECK(parse_ok(R"({"a":1,"b":2,"c":3})", l).as_object().size() == 3);
  for (const char* text : {"[1,2,3,4]", R"({"a":1,"b":2,"c":3,"d":4})", R"({"x":[[],[],[],[]]})"}) {
    INFO(text);
    Error e = parse_err(text, l);
    CHECK(e.category() == ErrorCategory::data);
    // No command-line flag raises this limit (json.h lists none), so the
    // message names the limit itself.
    CHECK_THAT(e.message(), Contains("more than 3 members"));
  }
}

TEST_CASE("json: non-JSON syntax is rejected", "[core][json]") {
  const char* bad[] = {
      "NaN", "[NaN]", "Infinity", "[-Infinity]", "{\"a\":1,}", "[1,]", "[1,,2]", "// c\n1", "/* c */ 1",
      "[1] // trailing", "{'a':1}", "{a:1}", "01", "+1", ".5", "1.", "0x10", "1e", "tru", "nul", "\"unterminated",
      "\"tab\tinside\"", "\"bad \\x escape\"", "[1] [2]", "{\"a\" 1}", "", "   ", "{\"a\":1}}", "[\"\\u12G4\"]",
      "\"\\ud800\"", "\"\\ud800x\"", "\"\\ud800\\u0041\""};
  for (const char* text : bad) {
    INFO("input: " << text);
    Error e = parse_err(text);
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), StartsWith("invalid JSON at byte "));
  }
}

TEST_CASE("json: invalid UTF-8 is rejected", "[core][json]") {
  const std::string bad[] = {
      "\"\xff\"",                  // never valid
      "\"\x80\"",                  // lone continuation byte
      "\"\xc3\"",                  // truncated sequence
      "\"\xe2\x82\"",              // truncated sequence
      "\"\xc0\xaf\"",              // overlong '/'
      "\"\xe0\x80\xaf\"",          // overlong '/'
      "\"\xed\xa0\x80\"",          // encoded surrogate U+D800
      "\"\xf4\x90\x80\x80\"",      // above U+10FFFF
      "\"\xf8\x88\x80\x80\x80\"",  // 5-byte form
      "{\"\xff\":1}",              // in a member name
  };
  for (const auto& text : bad) {
    INFO("input bytes: " << text.size());
    Error e = parse_err(text);
    CHECK(e.category() == ErrorCategory::data);
    CHECK_THAT(e.message(), StartsWith("invalid JSON at byte "));
  }
  // The largest code point and a 4-byte character are fine.
  CHECK(parse_ok("\"\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80\"").as_string().size() == 8);
}

namespace {
// A plain decoder to hold the parser's UTF-8 check against: each sequence
// decoded to its code point, then the code point's range and shortest form
// checked.
bool reference_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k < n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if ((t & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (t & 0x3Fu);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}
}  // namespace

// parse() checks UTF-8 up front, 16 bytes at a time, and only then lets
// RapidJSON skip its own check: the two must agree on every input.
TEST_CASE("json: the up-front UTF-8 check accepts exactly well-formed UTF-8", "[core][json]") {
  std::mt19937 rng(20261130);
  // Single bytes at the edges of the ranges, and whole characters at theirs.
  std::vector<std::string> pieces = {"\xc3\xa9",         "\xe2\x82\xac",     "\xed\x9f\xbf", "\xee\x80\x80",
                                     "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xe0\xa0\x80", "\xf0\x90\x80\x80"};
  for (unsigned b : {0x41u, 0x7Fu, 0x80u, 0x8Fu, 0x90u, 0x9Fu, 0xA0u, 0xBFu, 0xC0u, 0xC1u, 0xC2u, 0xDFu, 0xE0u,
                     0xE1u, 0xECu, 0xEDu, 0xEEu, 0xEFu, 0xF0u, 0xF1u, 0xF3u, 0xF4u, 0xF5u, 0xF8u, 0xFFu})
    pieces.emplace_back(1, static_cast<char>(b));
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string content(rng() % 24, 'a');  // some ASCII, so the 16-byte path runs too
    const std::size_t count = 1 + rng() % 5;
    for (std::size_t k = 0; k < count; ++k) content.insert(rng() % (content.size() + 1), pieces[rng() % pieces.size()]);
    const std::string doc = "[\"" + content + "\"]";
    const bool ok = reference_utf8(content);
    INFO("round " << round);
    CHECK(static_cast<bool>(parse(doc)) == ok);
    CHECK(static_cast<bool>(
              parse_split(doc, {}, "objects", [](Value&&, const StreamEvent&) -> Status { return {}; })) == ok);
    accepted += ok ? 1 : 0;
  }
  // Both outcomes are well represented.
  CHECK(accepted > 1000);
  CHECK(accepted < 19000);
}

TEST_CASE("json: an escaped lone low surrogate is rejected (I-JSON)", "[core][json]") {
  // RFC 7493 §2.1: no unpaired surrogates. RapidJSON 1.1.0 only checks high
  // surrogates, so "\udc00" decodes to the invalid UTF-8 bytes ED B0 80.
  auto r = parse(R"("\udc00")");
  CHECK_FALSE(r);
  auto r2 = parse(R"({"\udfff":1})");
  CHECK_FALSE(r2);
}

TEST_CASE("json: a NUL byte after the document is not taken as its end", "[core][json]") {
  // RapidJSON streams report '\0' at their end; a real NUL byte in the input
  // must not make the rest of the input vanish.
  auto r = parse(std::string_view("{}\0garbage", 10));
  CHECK_FALSE(r);
  std::vector<Event> events;
  Status s = stream(std::string("{\"a\":1}\n\0\n{\"b\":2}\n", 17), events);
  CHECK_FALSE(s);
}

TEST_CASE("json: syntax errors give the byte offset", "[core][json]") {
  Error e = parse_err(R"({"a": [1, 2)");  // 11 bytes, ends early
  CHECK(e.category() == ErrorCategory::data);
  CHECK_THAT(e.message(), StartsWith("invalid JSON at byte 11: "));

  Error e2 = parse_err(R"({"a": x})");
  CHECK_THAT(e2.message(), StartsWith("invalid JSON at byte 6: "));
  // Messages start lower-case and have no final period.
  const std::string& m = e2.message();
  auto colon = m.find(": ");
  REQUIRE(colon != std::string::npos);
  CHECK(std::islower(static_cast<unsigned char>(m[colon + 2])));
  CHECK(m.back() != '.');
}

// ---------------------------------------------------------------- Value

TEST_CASE("json: Value::as_int64 and as_double", "[core][json]") {
  auto num = [](const char* t) { return Value(Number{t}); };
  CHECK(num("1").as_int64() == std::optional<std::int64_t>(1));
  CHECK(num("1.0").as_int64() == std::optional<std::int64_t>(1));
  CHECK(num("1e2").as_int64() == std::optional<std::int64_t>(100));
  CHECK(num("1E2").as_int64() == std::optional<std::int64_t>(100));
  CHECK(num("0.5e1").as_int64() == std::optional<std::int64_t>(5));
  CHECK(num("-7").as_int64() == std::optional<std::int64_t>(-7));
  CHECK(num("-0").as_int64() == std::optional<std::int64_t>(0));
  CHECK(num("9223372036854775807").as_int64() == std::optional<std::int64_t>(INT64_MAX));
  CHECK(num("-9223372036854775808").as_int64() == std::optional<std::int64_t>(INT64_MIN));
  CHECK_FALSE(num("1.5").as_int64());
  CHECK_FALSE(num("1e-1").as_int64());
  CHECK_FALSE(num("9223372036854775808").as_int64());
  CHECK_FALSE(num("1e300").as_int64());
  CHECK_FALSE(Value("1").as_int64());
  CHECK_FALSE(Value(true).as_int64());
  CHECK_FALSE(Value().as_int64());

  CHECK(num("1.50e3").as_double() == std::optional<double>(1500.0));
  CHECK(num("-0.25").as_double() == std::optional<double>(-0.25));
  CHECK(num("3").as_double() == std::optional<double>(3.0));
  CHECK_FALSE(Value("1.5").as_double());
  CHECK_FALSE(Value(Array{}).as_double());

  // Parsed numbers behave the same.
  Value v = parse_ok(R"([1, 1.0, 1e2, 1.5])");
  CHECK(v.as_array()[0].as_int64() == std::optional<std::int64_t>(1));
  CHECK(v.as_array()[1].as_int64() == std::optional<std::int64_t>(1));
  CHECK(v.as_array()[2].as_int64() == std::optional<std::int64_t>(100));
  CHECK_FALSE(v.as_array()[3].as_int64());
  CHECK(v.as_array()[3].as_double() == std::optional<double>(1.5));
}

TEST_CASE("json: Value constructors, kinds and equality", "[core][json]") {
  CHECK(Value().kind() == Value::Kind::null);
  CHECK(Value(nullptr).is_null());
  CHECK(Value(false).kind() == Value::Kind::boolean);
  CHECK(Value(42).kind() == Value::Kind::number);
  CHECK(Value(42).as_number().text == "42");
  CHECK(Value(std::int64_t{-9000000000}).as_number().text == "-9000000000");
  CHECK(Value("s").kind() == Value::Kind::string);
  CHECK(Value(std::string_view("sv")).as_string() == "sv");
  CHECK(Value(Array{1, 2}).kind() == Value::Kind::array);
  CHECK(Value(Object{}).kind() == Value::Kind::object);

  CHECK(Value::from_double(0.1).as_number().text == "0.1");
  CHECK(Value::from_double(-2.5).as_number().text == "-2.5");
  CHECK(Value::from_double(std::nan("")).is_null());
  CHECK(Value::from_double(std::numeric_limits<double>::infinity()).is_null());
  CHECK(Value::from_double(-std::numeric_limits<double>::infinity()).is_null());

  // Equality compares number text as stored, and member order.
  CHECK(Value(Number{"1.0"}) != Value(Number{"1"}));
  CHECK(Value(1) == Value(Number{"1"}));
  CHECK(parse_ok(R"({"a":1,"b":2})") == parse_ok(R"({ "a" : 1, "b" : 2 })"));
  CHECK(parse_ok(R"({"a":1,"b":2})") != parse_ok(R"({"b":2,"a":1})"));
  CHECK(Value("1") != Value(1));
  CHECK(Value() != Value(false));
}

TEST_CASE("json: set, erase, find and find_string", "[core][json]") {
  Value v = parse_ok(R"({"a":1,"b":"two","c":null})");
  CHECK(v.find("b")->as_string() == "two");
  CHECK(v.find("missing") == nullptr);
  CHECK(v.find_string("b") == std::optional<std::string_view>("two"));
  CHECK_FALSE(v.find_string("a"));
  CHECK_FALSE(v.find_string("missing"));

  v.set("b", Value(2));  // replaced in place
  v.set("d", Value("new"));  // appended
  REQUIRE(v.as_object().size() == 4);
  CHECK(v.as_object()[1].first == "b");
  CHECK(v.as_object()[1].second == Value(2));
  CHECK(v.as_object()[3].first == "d");
  CHECK(to_string(v) == R"({"a":1,"b":2,"c":null,"d":"new"})");

  CHECK(v.erase("a"));
  CHECK_FALSE(v.erase("a"));
  CHECK_FALSE(v.erase("zzz"));
  CHECK(to_string(v) == R"({"b":2,"c":null,"d":"new"})");

  // The mutable find modifies in place.
  Value* c = v.find("c");
  REQUIRE(c != nullptr);
  *c = Value(true);
  CHECK(to_string(v) == R"({"b":2,"c":true,"d":"new"})");

  // Lookups on non-objects find nothing.
  Value arr = parse_ok("[1]");
  CHECK(arr.find("0") == nullptr);
  CHECK_FALSE(arr.find_string("0"));
  CHECK_FALSE(arr.erase("0"));
  CHECK(Value("s").find("s") == nullptr);
}

// ---------------------------------------------------------------- streaming

TEST_CASE("json: parse_stream of NDJSON reports lines and indexes", "[core][json]") {
  std::vector<Event> events;
  const std::string text = "{\"a\":1}\n\n   [2,\n3]\r\n\"x\"\n\n\n\t42\n";
  REQUIRE(stream(text, events));
  REQUIRE(events.size() == 4);
  CHECK(events[0].value == parse_ok(R"({"a":1})"));
  CHECK(events[0].line == 1);
  CHECK(events[1].value == parse_ok("[2,3]"));
  CHECK(events[1].line == 3);
  CHECK(events[2].value == Value("x"));
  CHECK(events[2].line == 5);
  CHECK(events[3].value == Value(42));
  CHECK(events[3].line == 8);
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].kind == StreamEvent::Kind::value);
    CHECK(events[i].index == i);
  }
}

TEST_CASE("json: parse_stream of empty input delivers nothing", "[core][json]") {
  std::vector<Event> events;
  CHECK(stream("", events));
  CHECK(stream(" \n\t\r\n", events));
  CHECK(events.empty());
}

TEST_CASE("json: parse_stream accepts a UTF-8 byte order mark", "[core][json]") {
  std::vector<Event> events;
  REQUIRE(stream("\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n", events));
  REQUIRE(events.size() == 2);
  CHECK(events[0].value == parse_ok(R"({"a":1})"));
  CHECK(events[1].line == 2);

  events.clear();
  Status bad = stream("\xEF\xBB{\"a\":1}", events);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category() == ErrorCategory::data);
  CHECK(events.empty());
}

TEST_CASE("json: parse_stream errors name byte offset and line", "[core][json]") {
  SECTION("truncated document") {
    std::vector<Event> events;
    Status s = stream("{\"a\":1}\n{\"b\": [1,", events);
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::data);
    CHECK_THAT(s.error().message(), StartsWith("invalid JSON at byte 17 (line 2): "));
    // The complete first value was delivered before the error.
    CHECK(events.size() == 1);
  }
  SECTION("bad value on line 3") {
    std::vector<Event> events;
    Status s = stream("1\n2\n{\"c\":tru}\n4\n", events);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message(), Contains("(line 3)"));
    CHECK(events.size() == 2);
  }
  SECTION("duplicate names and limits apply to streamed values") {
    std::vector<Event> events;
    Status s = stream("{\"a\":1}\n{\"d\":1,\"d\":2}\n", events);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message(), Contains("duplicate member name 'd'"));
    Limits l;
    l.max_depth = 2;
    Status d = stream("[[1]]\n[[[1]]]\n", events, {}, l);
    REQUIRE_FALSE(d);
    CHECK_THAT(d.error().message(), Contains("--max-depth"));
  }
}

TEST_CASE("json: parse_stream reports a failing read as an I/O error", "[core][json]") {
  // Exactly one 64 KiB read succeeds (a complete value, then the start of
  // another); the next read fails.
  const std::string tail = "{\"b\"";
  std::string first = "{\"a\":\"";
  first += std::string(65536 - tail.size() - first.size() - 3, 'p') + "\"}\n";
  REQUIRE(first.size() + tail.size() == 65536);
  FailingBuf buf(first + tail);
  std::istream in(&buf);
  int calls = 0;
  Status s = parse_stream(in, {}, {}, [&](Value&&, const StreamEvent&) -> Status {
    ++calls;
    return {};
  });
  REQUIRE_FALSE(s);
  CHECK(s.error().category() == ErrorCategory::io);
  CHECK(calls == 1);
}

TEST_CASE("json: a sink error stops parse_stream and is returned unchanged", "[core][json]") {
  SECTION("whole values") {
    std::istringstream in("1\n2\n3\n");
    int calls = 0;
    Status s = parse_stream(in, {}, {}, [&](Value&&, const StreamEvent& ev) -> Status {
      ++calls;
      if (ev.index == 1) return Error(ErrorCategory::negative, "stop at two");
      return {};
    });
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::negative);
    CHECK(s.error().message() == "stop at two");
    CHECK(calls == 2);
  }
  SECTION("split elements") {
    std::istringstream in(R"({"type":"bundle","objects":[{"n":0},{"n":1},{"n":2}],"id":"x"})");
    std::vector<StreamEvent::Kind> kinds;
    Status s = parse_stream(in, {}, "objects", [&](Value&&, const StreamEvent& ev) -> Status {
      kinds.push_back(ev.kind);
      if (ev.kind == StreamEvent::Kind::element && ev.index == 1)
        return Error(ErrorCategory::permission, "sink refused element 1");
      return {};
    });
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::permission);
    CHECK(s.error().message() == "sink refused element 1");
    const std::vector<StreamEvent::Kind> want{StreamEvent::Kind::element, StreamEvent::Kind::element};
    CHECK(kinds == want);
  }
}

TEST_CASE("json: parse_stream splits a bundle's objects array", "[core][json]") {
  const std::string text =
      "{\n"
      "  \"type\": \"bundle\",\n"
      "  \"id\": \"bundle--1\",\n"
      "  \"objects\": [\n"
      "    {\"type\": \"indicator\", \"n\": 0},\n"
      "    {\"type\": \"malware\",\n"
      "     \"n\": 1},\n"
      "    \"odd\",\n"
      "    [1, 2]\n"
      "  ],\n"
      "  \"x_after\": true\n"
      "}\n";
  std::vector<Event> events;
  REQUIRE(stream(text, events, "objects"));
  REQUIRE(events.size() == 5);
  for (int i = 0; i < 4; ++i) {
    INFO("element " << i);
    CHECK(events[i].kind == StreamEvent::Kind::element);
    CHECK(events[i].index == static_cast<std::uint64_t>(i));
  }
  CHECK(events[0].value == parse_ok(R"({"type":"indicator","n":0})"));
  CHECK(events[0].line == 5);
  CHECK(events[1].value == parse_ok(R"({"type":"malware","n":1})"));
  CHECK(events[1].line == 6);
  CHECK(events[2].value == Value("odd"));
  CHECK(events[2].line == 8);
  CHECK(events[3].value == parse_ok("[1,2]"));
  CHECK(events[3].line == 9);

  const Event& env = events[4];
  CHECK(env.kind == StreamEvent::Kind::envelope);
  CHECK(env.line == 1);
  CHECK(env.index == 0);
  CHECK(env.value.find("objects") == nullptr);
  CHECK(to_string(env.value) == R"({"type":"bundle","id":"bundle--1","x_after":true})");
}

TEST_CASE("json: parse_stream splits only a top-level array member of that name, and top-level arrays", "[core][json]") {
  const std::string text =
      "{\"objects\":5}\n"
      "{\"x\":{\"objects\":[1]}}\n"
      "[{\"objects\":[1]}]\n"
      "{\"type\":\"bundle\",\"objects\":[]}\n"
      "{\"type\":\"bundle\",\"objects\":[{\"a\":1}]}\n";
  std::vector<Event> events;
  REQUIRE(stream(text, events, "objects"));
  REQUIRE(events.size() == 7);
  CHECK(events[0].kind == StreamEvent::Kind::value);
  CHECK(to_string(events[0].value) == R"({"objects":5})");
  CHECK(events[1].kind == StreamEvent::Kind::value);
  CHECK(to_string(events[1].value) == R"({"x":{"objects":[1]}})");
  // A top-level array is split too: its element whole (the member inside is
  // not split again), then a null envelope.
  CHECK(events[2].kind == StreamEvent::Kind::element);
  CHECK(to_string(events[2].value) == R"({"objects":[1]})");
  CHECK(events[2].line == 3);
  CHECK(events[3].kind == StreamEvent::Kind::envelope);
  CHECK(events[3].value.is_null());
  CHECK(events[3].index == 2);
  CHECK(events[4].kind == StreamEvent::Kind::envelope);
  CHECK(to_string(events[4].value) == R"({"type":"bundle"})");
  CHECK(events[4].index == 3);
  CHECK(events[5].kind == StreamEvent::Kind::element);
  CHECK(events[5].index == 0);  // element indexes restart per bundle
  CHECK(events[5].line == 5);
  CHECK(events[6].kind == StreamEvent::Kind::envelope);
  CHECK(events[6].index == 4);
}

TEST_CASE("json: split state does not leak into the next streamed value", "[core][json]") {
  // After a bundle whose split array is its last member, a following
  // top-level array holding an array gives that inner array whole, once.
  std::vector<Event> events;
  REQUIRE(stream("{\"type\":\"bundle\",\"objects\":[1]}\n[[2,3]]\n", events, "objects"));
  REQUIRE(events.size() == 4);
  CHECK(events[2].kind == StreamEvent::Kind::element);
  CHECK(to_string(events[2].value) == "[2,3]");
  CHECK(events[3].kind == StreamEvent::Kind::envelope);
  CHECK(events[3].value.is_null());
}

TEST_CASE("json: a duplicate split member is rejected like any duplicate", "[core][json]") {
  std::vector<Event> events;
  Status s = stream(R"({"type":"bundle","objects":[1],"objects":[2]})", events, "objects");
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().message(), Contains("duplicate member name 'objects'"));
}

TEST_CASE("json: limits apply inside a split array", "[core][json]") {
  Limits l;
  l.max_depth = 3;  // bundle, objects array, element
  std::vector<Event> events;
  CHECK(stream(R"({"objects":[{"a":1}]})", events, "objects", l));
  events.clear();
  Status s = stream(R"({"objects":[{"a":{}}]})", events, "objects", l);
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().message(), Contains("--max-depth"));

  Limits sl;
  sl.max_string_bytes = 7;  // "objects" itself fits
  events.clear();
  Status s2 = stream(R"({"objects":["abcdefg","abcdefgh"]})", events, "objects", sl);
  REQUIRE_FALSE(s2);
  CHECK_THAT(s2.error().message(), Contains("--max-string-length"));
  CHECK(events.size() == 1);

  events.clear();
  Status dup = stream(R"({"objects":[{"id":1,"id":2}]})", events, "objects");
  REQUIRE_FALSE(dup);
  CHECK_THAT(dup.error().message(), Contains("'id'"));
}

TEST_CASE("json: a split bundle is delivered while it is still being read", "[core][json]") {
  // About 600 KB of objects: far more than the reader's 64 KiB buffer.
  std::string text = "{\"type\":\"bundle\",\"id\":\"bundle--big\",\"objects\":[";
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    if (i != 0) text += ',';
    text += "{\"type\":\"indicator\",\"id\":\"indicator--" + std::to_string(i) + "\",\"pad\":\"" +
            std::string(20, 'p') + "\"}";
  }
  text += "],\"spec_version\":\"2.1\"}";
  REQUIRE(text.size() > 500000);

  std::istringstream in(text);
  std::streamoff first_pos = -1;
  std::uint64_t elements = 0;
  bool envelope_last = false;
  Status s = parse_stream(in, {}, "objects", [&](Value&& v, const StreamEvent& ev) -> Status {
    if (ev.kind == StreamEvent::Kind::element) {
      if (ev.index == 0) first_pos = static_cast<std::streamoff>(in.tellg());
      if (ev.index != elements) return Error(ErrorCategory::internal, "element out of order");
      if (v.find_string("id") != "indicator--" + std::to_string(ev.index))
        return Error(ErrorCategory::internal, "wrong element");
      ++elements;
    } else {
      envelope_last = ev.kind == StreamEvent::Kind::envelope && elements == n &&
                      to_string(v) == R"({"type":"bundle","id":"bundle--big","spec_version":"2.1"})";
    }
    return {};
  });
  REQUIRE(s);
  CHECK(elements == static_cast<std::uint64_t>(n));
  CHECK(envelope_last);
  // The first element came out when only a small part of the input was read.
  CHECK(first_pos > 0);
  CHECK(first_pos < static_cast<std::streamoff>(text.size() / 4));
}

// ---------------------------------------------------------------- RFC 8785

TEST_CASE("json: canonicalize sorts members by UTF-16 code units (RFC 8785 3.2.3)", "[core][json]") {
  const std::string in = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  CHECK(canon(in) ==
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
        "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
        "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST_CASE("json: canonicalize the RFC 8785 3.2.4 example", "[core][json]") {
  const std::string in = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  CHECK(canon(in) ==
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
        "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

TEST_CASE("json: canonicalize sorts nested objects and drops whitespace", "[core][json]") {
  CHECK(canon(R"( { "b" : [ { "z" : 1 , "a" : 2 } ] , "a" : { "d" : {}, "c" : [] } , "B": 0 } )") ==
        R"({"B":0,"a":{"c":[],"d":{}},"b":[{"a":2,"z":1}]})");
  // Prefixes sort first.
  CHECK(canon(R"({"ab":1,"a":2,"":3})") == R"({"":3,"a":2,"ab":1})");
}

TEST_CASE("json: canonicalize numbers in ECMAScript form", "[core][json]") {
  const std::pair<const char*, const char*> cases[] = {
      {"1e+21", "1e+21"},
      {"1e21", "1e+21"},
      {"1000000000000000000000", "1e+21"},
      {"100000000000000000000", "100000000000000000000"},
      {"0.000001", "0.000001"},
      {"0.0000001", "1e-7"},
      {"1e-7", "1e-7"},
      {"333333333.3333333", "333333333.3333333"},
      {"-0", "0"},
      {"-0.0", "0"},
      {"0", "0"},
      {"4.50", "4.5"},
      {"1E30", "1e+30"},
      {"9007199254740992", "9007199254740992"},
      {"-9007199254740992", "-9007199254740992"},
      {"295147905179352830000", "295147905179352830000"},
      {"1.0", "1"},
      {"100", "100"},
      {"-1.5e-10", "-1.5e-10"},
      {"123456.789e3", "123456789"},
  };
  for (const auto& [in, want] : cases) {
    INFO("number " << in);
    CHECK(canon(in) == want);
  }
}

TEST_CASE("json: canonicalize the RFC 8785 Appendix B doubles", "[core][json]") {
  const std::pair<std::uint64_t, const char*> cases[] = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& [bits, want] : cases) {
    const double d = std::bit_cast<double>(bits);
    INFO("bits " << std::hex << bits);
    auto c = canonicalize(Value::from_double(d));
    REQUIRE(c);
    CHECK(*c == want);
  }
}

TEST_CASE("json: canonicalize rejects numbers that are not finite doubles", "[core][json]") {
  // (parse itself refuses such numbers; they can still be constructed.)
  Value v = parse_ok(R"({"ok":1,"big":[0]})");
  v.find("big")->as_array()[0] = Value(Number{"1e400"});
  auto r = canonicalize(v);
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == ErrorCategory::data);
  CHECK_THAT(r.error().message(), Contains("'1e400'"));
  CHECK_FALSE(canonicalize(Value(Number{"-1e999"})));
  CHECK_FALSE(canonicalize(Value(Number{"not-a-number"})));
}

TEST_CASE("json: canonicalize escapes strings minimally", "[core][json]") {
  std::string raw = "\x01\x1f\x7f/\xc3\xa9\"\\\b\t\n\f\r";
  auto c = canonicalize(Value(raw));
  REQUIRE(c);
  CHECK(*c == "\"\\u0001\\u001f\x7f/\xc3\xa9\\\"\\\\\\b\\t\\n\\f\\r\"");
}
