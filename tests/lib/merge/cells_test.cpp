// The store's compact cells (lib/src/merge/cells.h): every report cell
// decodes to what was encoded, and no damaged one decodes.
#include "merge/cells.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

using ctishare::merge::detail::decode_report;
using ctishare::merge::detail::encode_report;
using ctishare::merge::detail::ReportCell;

namespace {

constexpr unsigned char kProducer[16] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x41, 0x11,
                                     0x81, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xfe};

bool same_time(const ReportCell::Time& a, const ReportCell::Time& b) {
  return a.ms == b.ms && (a.ms || a.text == b.text);
}

bool same_ref(const ReportCell::Ref& a, const ReportCell::Ref& b) {
  if ((a.bytes == nullptr) != (b.bytes == nullptr)) return false;
  return a.bytes != nullptr ? std::memcmp(a.bytes, b.bytes, 16) == 0 : a.text == b.text;
}

// Cells in every form each part can take.
std::vector<ReportCell> cells() {
  const std::vector<ReportCell::Time> times = {
      {1795824000000, {}},    // 2026-11-28T00:00:00.000Z
      {0, {}},                // the epoch
      {253402300799999, {}},  // 9999-12-31T23:59:59.999Z, the last
      {std::nullopt, "2026-11-28T00:00:00Z"},
      {std::nullopt, ""},
      {std::nullopt, std::string_view("x\0y", 3)},
  };
  static const std::string long_text(300, 'z');  // a length of two bytes
  const std::vector<ReportCell::Ref> producers = {
      {kProducer, {}}, {nullptr, ""}, {nullptr, "identity--NOT-A-UUID"}, {nullptr, long_text}};
  std::vector<ReportCell> out;
  for (std::size_t i = 0; i < 48; ++i) {
    ReportCell c;
    c.trust = i % 3 == 0 ? 0.80000000000000004 : i % 3 == 1 ? 1.0 : 0.3;
    c.kind = i % 4 == 3 ? 255 : static_cast<std::int64_t>(i % 4);
    if (i % 2 == 0) c.confidence = i % 4 == 0 ? 90.0 : 0.0;
    c.revoked = i % 5 == 0;
    c.version = times[i % times.size()];
    c.created = times[(i + 1) % times.size()];
    c.valid_from = times[(i / 2) % times.size()];
    c.valid_until = times[(i / 3 + 4) % times.size()];
    c.created_by = producers[i % producers.size()];
    c.tlp = i % 3 == 0 ? "" : i % 3 == 1 ? "amber" : std::string_view(long_text);
    out.push_back(c);
  }
  return out;
}

}  // namespace

TEST_CASE("a report cell decodes to what was encoded, in every form", "[merge]") {
  std::string bytes;
  for (const ReportCell& c : cells()) {
    REQUIRE(encode_report(c, bytes));
    ReportCell back;
    back.confidence = 12.0;  // decoding replaces what the cell held
    REQUIRE(decode_report(bytes, back));
    CHECK(back.trust == c.trust);
    CHECK(back.kind == c.kind);
    CHECK(back.confidence == c.confidence);
    CHECK(back.revoked == c.revoked);
    CHECK(same_time(back.version, c.version));
    CHECK(same_time(back.created, c.created));
    CHECK(same_time(back.valid_from, c.valid_from));
    CHECK(same_time(back.valid_until, c.valid_until));
    CHECK(same_ref(back.created_by, c.created_by));
    CHECK(back.tlp == c.tlp);
  }
}

TEST_CASE("a report cell cut short, lengthened or flagged wrongly does not decode", "[merge]") {
  std::string bytes;
  for (const ReportCell& c : cells()) {
    REQUIRE(encode_report(c, bytes));
    ReportCell back;
    for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_report(bytes.substr(0, n), back));
    CHECK_FALSE(decode_report(bytes + '\0', back));
    std::string flagged = bytes;
    flagged[0] = static_cast<char>(flagged[0] | 0x80);
    CHECK_FALSE(decode_report(flagged, back));
  }
  // A compact time past the year 9999.
  ReportCell c;
  c.version.ms = 0;
  REQUIRE(encode_report(c, bytes));
  std::string late = bytes;
  std::memset(late.data() + 10, 0xff, 6);  // flags, kind and trust first
  CHECK_FALSE(decode_report(late, c));
  // A length of more than five LEB128 bytes, even one that means 0: the
  // version's empty text (the byte after flags, kind and trust) written
  // with five bytes decodes, with six it does not.
  ReportCell text;
  REQUIRE(encode_report(text, bytes));
  REQUIRE(bytes[10] == '\0');
  const std::string five = bytes.substr(0, 10) + std::string(4, '\x80') + bytes.substr(10);
  CHECK(decode_report(five, text));
  const std::string six = bytes.substr(0, 10) + std::string(5, '\x80') + bytes.substr(10);
  CHECK_FALSE(decode_report(six, text));
}

TEST_CASE("a report cell refuses what it cannot hold", "[merge]") {
  std::string bytes;
  ReportCell c;
  for (std::int64_t kind : {-1, 256}) {
    c.kind = kind;
    CHECK_FALSE(encode_report(c, bytes));
  }
  c.kind = 0;
  for (std::int64_t ms : {std::int64_t{-1}, std::int64_t{253402300800000}}) {
    c.valid_until.ms = ms;
    CHECK_FALSE(encode_report(c, bytes));
  }
  c.valid_until.ms = 253402300799999;
  CHECK(encode_report(c, bytes));
}
