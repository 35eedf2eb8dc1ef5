// UUIDs for STIX identifiers: version 4 from a CSPRNG for SDOs, SROs and
// bundles, version 5 (SHA-1, RFC 4122 §4.3) for deterministic SCO ids.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "ctishare/result.h"

namespace ctishare {

class Uuid {
 public:
  Uuid() = default;
  explicit Uuid(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // A random version 4 UUID from OpenSSL's CSPRNG. Fails (internal error)
  // only when the CSPRNG cannot be seeded.
  static Result<Uuid> v4();
  // The version 5 UUID of `name` (hashed as its bytes, UTF-8) in `ns`.
  static Uuid v5(const Uuid& ns, std::string_view name);
  // Parses the 36-character 8-4-4-4-12 form, either case; nullopt otherwise.
  static std::optional<Uuid> parse(std::string_view text);

  int version() const noexcept { return bytes_[6] >> 4; }
  // RFC 4122 variant (10xx in the top bits of byte 8).
  bool is_rfc4122() const noexcept { return (bytes_[8] & 0xC0) == 0x80; }
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }

  // Lower-case 8-4-4-4-12 form.
  std::string to_string() const;
  void append_to(std::string& out) const;

  friend bool operator==(const Uuid& a, const Uuid& b) noexcept { return a.bytes_ == b.bytes_; }
  // Byte order, compared as two big-endian words (sorting a million ids
  // this way is several times faster than a byte-wise compare).
  friend bool operator<(const Uuid& a, const Uuid& b) noexcept {
    const auto ah = a.word(0), bh = b.word(0);
    return ah != bh ? ah < bh : a.word(1) < b.word(1);
  }

 private:
  std::uint64_t word(int i) const noexcept {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes_.data() + i * 8, 8);
    return __builtin_bswap64(w);  // big-endian: numeric order is byte order
  }
  std::array<std::uint8_t, 16> bytes_{};
};

// The namespace STIX 2.1 §2.9 fixes for deterministic SCO ids.
const Uuid& stix_sco_namespace();

}  // namespace ctishare
