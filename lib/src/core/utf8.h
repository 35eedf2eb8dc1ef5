// A streaming UTF-8 check, shared by the JSON parser (whole documents in
// memory) and feed-merge's reader (chunks of a file). Private to the
// library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ctishare::detail {

// A streaming UTF-8 check (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), fed chunk by chunk; sequences may straddle chunks.
class Utf8Check {
 public:
  // False at the first invalid byte; `bad_at` is then its offset in `p`.
  bool feed(const unsigned char* p, std::size_t n, std::size_t& bad_at) {
    std::size_t i = 0;
    while (i < n) {
      if (need_ == 0) {
        // ASCII runs, eight bytes at a time.
        while (i + 8 <= n) {
          std::uint64_t w;
          std::memcpy(&w, p + i, 8);
          if ((w & 0x8080808080808080ULL) != 0) break;
          i += 8;
        }
        if (i >= n) break;
        const unsigned char c = p[i];
        if (c < 0x80) {
          ++i;
          continue;
        }
        lo_ = 0x80, hi_ = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
          need_ = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
          need_ = 2;
          if (c == 0xE0) lo_ = 0xA0;
          if (c == 0xED) hi_ = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
          need_ = 3;
          if (c == 0xF0) lo_ = 0x90;
          if (c == 0xF4) hi_ = 0x8F;
        } else {
          bad_at = i;
          return false;
        }
        ++i;
        continue;
      }
      const unsigned char c = p[i];
      if (c < lo_ || c > hi_) {
        bad_at = i;
        return false;
      }
      lo_ = 0x80, hi_ = 0xBF;
      --need_;
      ++i;
    }
    return true;
  }
  bool complete() const { return need_ == 0; }

 private:
  int need_ = 0;
  unsigned char lo_ = 0x80, hi_ = 0xBF;
};

// Whether `text` is well-formed UTF-8.
inline bool valid_utf8(std::string_view text) {
  Utf8Check check;
  std::size_t bad_at = 0;
  return check.feed(reinterpret_cast<const unsigned char*>(text.data()), text.size(), bad_at) && check.complete();
}

}  // namespace ctishare::detail
