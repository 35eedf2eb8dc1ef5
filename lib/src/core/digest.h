// SHA-256 for the library's own bookkeeping (content digests, state keys):
// one reused OpenSSL context per thread and a digest fetched once, because
// per-call context allocation and implicit fetches cost more than hashing a
// few hundred bytes. Private to the library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ctishare::detail {

std::array<std::uint8_t, 32> sha256(std::string_view data);

// Lower-case hex of bytes (two digits each).
std::string to_hex(const std::uint8_t* data, std::size_t size);
inline std::string to_hex(const std::array<std::uint8_t, 32>& digest) { return to_hex(digest.data(), digest.size()); }

// The 64 lower-case hex digits of the SHA-256 of `data`.
inline std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace ctishare::detail

namespace ctishare::detail {

// SipHash-2-4 with a 128-bit output (Aumasson and Bernstein): a keyed hash
// that nobody without the key can make collide, several times faster than
// SHA-256 on short inputs. Used for change detection where the key stays
// with the data (stix-gen's state).
using SipKey = std::array<std::uint8_t, 16>;
std::array<std::uint8_t, 16> siphash128(const SipKey& key, std::string_view data);

}  // namespace ctishare::detail

namespace ctishare::detail {

// A tag that lets a later run tell whether a file holds exactly the bytes
// it was taken of (taxii-pull's journal): Poly1305 under a random
// one-time key kept with the tag, a universal hash seven times faster than
// SHA-256. Two different contents share a tag with a probability below
// 2^-80, whatever they are; it is no MAC against someone who reads the
// key, and needs not be (whoever can edit the file can edit the journal).
// Written "poly1305:KEY:TAG" in hex, or "sha256:DIGEST" where OpenSSL
// offers no Poly1305 (a FIPS-only provider).
class ContentTagger {
 public:
  // A tagger with a fresh key; nullptr when OpenSSL cannot make one.
  static std::unique_ptr<ContentTagger> create();
  virtual ~ContentTagger() = default;
  // False when OpenSSL fails (then finish() fails too).
  virtual bool update(const void* data, std::size_t size) = 0;
  // The tag's text, once; nullopt on failure.
  virtual std::optional<std::string> finish() = 0;
};

// Whether `data` is what `tag` (a ContentTagger's text) was taken of:
// nullopt for a text that is no tag this version knows.
std::optional<bool> has_content_tag(std::string_view data, std::string_view tag);

}  // namespace ctishare::detail
