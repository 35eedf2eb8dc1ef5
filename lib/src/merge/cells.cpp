// The compact cells of feed-merge's store (see cells.h).
#include "merge/cells.h"

#include <array>
#include <bit>
#include <cstring>

namespace ctishare::merge::detail {

namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

void format_time(std::int64_t ms, char (&text)[24]) {
  const std::int64_t z = ms / 86400000 + 719468;
  std::int64_t rest = ms % 86400000;
  const std::int64_t era = z / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  static constexpr char kForm[] = "0000-00-00T00:00:00.000Z";
  std::memcpy(text, kForm, sizeof text);
  const auto put = [&](int at, int width, std::int64_t v) {
    for (int i = at + width - 1; i >= at; --i, v /= 10) text[i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, y);
  put(5, 2, m);
  put(8, 2, d);
  put(11, 2, rest / 3600000);
  rest %= 3600000;
  put(14, 2, rest / 60000);
  rest %= 60000;
  put(17, 2, rest / 1000);
  put(20, 3, rest % 1000);
}

std::optional<std::int64_t> time_number(std::string_view text) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != kShape.size()) return std::nullopt;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  const auto num = [&](std::size_t at, std::size_t width) {
    std::int64_t v = 0;
    for (std::size_t i = at; i < at + width; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  const std::int64_t y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), sec = num(17, 2);
  static constexpr std::int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  // Every field in range and written with its digits: format_time gives
  // this text back.
  return ((days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 24 + h) * 60 + mi) * 60000 +
         sec * 1000 + num(20, 3);
}

bool uuid_bytes(std::string_view text, std::string_view prefix, unsigned char (&out)[16]) {
  if (text.size() != prefix.size() + 36 || text.substr(0, prefix.size()) != prefix) return false;
  // The value of each lower-case hex digit, 16 for anything else.
  static constexpr auto kValue = [] {
    std::array<unsigned char, 256> v{};
    v.fill(16);
    for (int c = 0; c < 10; ++c) v['0' + c] = static_cast<unsigned char>(c);
    for (int c = 0; c < 6; ++c) v['a' + c] = static_cast<unsigned char>(10 + c);
    return v;
  }();
  const char* p = text.data() + prefix.size();
  if (p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-') return false;
  unsigned bad = 0;
  for (int i = 0, at = 0; i < 16; ++i, at += 2) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
    const unsigned char hi = kValue[static_cast<unsigned char>(p[at])];
    const unsigned char lo = kValue[static_cast<unsigned char>(p[at + 1])];
    bad |= (hi | lo) & 16U;
    out[i] = static_cast<unsigned char>((hi << 4) | (lo & 15U));
  }
  return bad == 0;
}

void format_uuid(const unsigned char* bytes, std::string_view prefix, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char uuid[36];
  char* p = uuid;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = kHex[bytes[i] >> 4];
    *p++ = kHex[bytes[i] & 0xf];
  }
  out.assign(prefix);
  out.append(uuid, sizeof uuid);
}

// The report cell, its integers little-endian:
//   flags       1 byte: kRevoked, kConfidence, and which of the times and the
//               producer are in compact form (the top bit is never set)
//   kind        1 byte
//   trust       8 bytes, an IEEE double
//   confidence  8 bytes, when kConfidence
//   version, created, created_by, valid_from, valid_until: each its compact
//               form (a time's milliseconds in 6 bytes, a reference's 16
//               bytes) or its text, a LEB128 length then the bytes
//   tlp         its text, a length then the bytes
// and nothing after: a cell cut short anywhere does not decode.
namespace {

enum : unsigned char {
  kRevoked = 1,
  kConfidence = 2,
  kVersionMs = 4,
  kCreatedMs = 8,
  kFromMs = 16,
  kUntilMs = 32,
  kProducerBytes = 64,
};
constexpr std::int64_t kTimeEnd = 253402300800000;  // 10000-01-01T00:00:00Z in milliseconds
constexpr std::size_t kTimeBytes = 6;               // kTimeEnd < 2^48

// The low `size` bytes of `v`, least significant first (Reader::number
// reads them back).
void put_number(std::string& out, std::uint64_t v, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i, v >>= 8) out += static_cast<char>(v & 0xff);
}

void put_double(std::string& out, double v) { put_number(out, std::bit_cast<std::uint64_t>(v), 8); }

void put_text(std::string& out, std::string_view text) {
  std::size_t n = text.size();
  do {
    out += static_cast<char>((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n != 0);
  out.append(text);
}

bool put_time(std::string& out, const ReportCell::Time& t) {
  if (!t.ms) {
    put_text(out, t.text);
    return true;
  }
  if (*t.ms < 0 || *t.ms >= kTimeEnd) return false;
  put_number(out, static_cast<std::uint64_t>(*t.ms), kTimeBytes);
  return true;
}

// Reads the cell's parts in order; each false when the bytes run out or
// hold what no encoder writes.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : p_(bytes) {}
  bool byte(unsigned char& out) {
    if (p_.empty()) return false;
    out = static_cast<unsigned char>(p_.front());
    p_.remove_prefix(1);
    return true;
  }
  bool number(std::size_t size, std::uint64_t& out) {
    if (p_.size() < size) return false;
    out = 0;
    for (std::size_t i = size; i-- > 0;) out = (out << 8) | static_cast<unsigned char>(p_[i]);
    p_.remove_prefix(size);
    return true;
  }
  bool real(double& out) {
    std::uint64_t bits;
    if (!number(8, bits)) return false;
    out = std::bit_cast<double>(bits);
    return true;
  }
  bool text(std::string_view& out) {
    std::size_t n = 0;
    for (int shift = 0;; shift += 7) {
      unsigned char b;
      if (shift > 28 || !byte(b)) return false;
      n |= static_cast<std::size_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    if (p_.size() < n) return false;
    out = p_.substr(0, n);
    p_.remove_prefix(n);
    return true;
  }
  bool time(bool compact, ReportCell::Time& out) {
    out = {};
    if (!compact) return text(out.text);
    std::uint64_t ms;
    if (!number(kTimeBytes, ms) || ms >= static_cast<std::uint64_t>(kTimeEnd)) return false;
    out.ms = static_cast<std::int64_t>(ms);
    return true;
  }
  bool ref(bool compact, ReportCell::Ref& out) {
    out = {};
    if (!compact) return text(out.text);
    if (p_.size() < 16) return false;
    out.bytes = reinterpret_cast<const unsigned char*>(p_.data());
    p_.remove_prefix(16);
    return true;
  }
  [[nodiscard]] std::string_view rest() const { return p_; }

 private:
  std::string_view p_;
};

}  // namespace

bool encode_report(const ReportCell& cell, std::string& out) {
  if (cell.kind < 0 || cell.kind > 0xff) return false;
  unsigned char flags = 0;
  if (cell.revoked) flags |= kRevoked;
  if (cell.confidence) flags |= kConfidence;
  if (cell.version.ms) flags |= kVersionMs;
  if (cell.created.ms) flags |= kCreatedMs;
  if (cell.valid_from.ms) flags |= kFromMs;
  if (cell.valid_until.ms) flags |= kUntilMs;
  if (cell.created_by.bytes != nullptr) flags |= kProducerBytes;
  out.clear();
  out += static_cast<char>(flags);
  out += static_cast<char>(cell.kind);
  put_double(out, cell.trust);
  if (cell.confidence) put_double(out, *cell.confidence);
  if (!put_time(out, cell.version) || !put_time(out, cell.created)) return false;
  if (cell.created_by.bytes != nullptr) {
    out.append(reinterpret_cast<const char*>(cell.created_by.bytes), 16);
  } else {
    put_text(out, cell.created_by.text);
  }
  if (!put_time(out, cell.valid_from) || !put_time(out, cell.valid_until)) return false;
  put_text(out, cell.tlp);
  return true;
}

bool decode_report(std::string_view bytes, ReportCell& cell) {
  Reader in(bytes);
  unsigned char flags, kind;
  if (!in.byte(flags) || (flags & 0x80) != 0 || !in.byte(kind) || !in.real(cell.trust)) return false;
  cell.kind = kind;
  cell.revoked = (flags & kRevoked) != 0;
  cell.confidence.reset();
  if ((flags & kConfidence) != 0) {
    double c;
    if (!in.real(c)) return false;
    cell.confidence = c;
  }
  if (!in.time((flags & kVersionMs) != 0, cell.version) || !in.time((flags & kCreatedMs) != 0, cell.created) ||
      !in.ref((flags & kProducerBytes) != 0, cell.created_by) || !in.time((flags & kFromMs) != 0, cell.valid_from) ||
      !in.time((flags & kUntilMs) != 0, cell.valid_until))
    return false;
  return in.text(cell.tlp) && in.rest().empty();
}

}  // namespace ctishare::merge::detail
