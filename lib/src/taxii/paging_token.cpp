// Next tokens; see paging_token.h. Layout of the decoded token (48 bytes):
// version byte 1, position (8 bytes, big-endian), expiry (8 bytes,
// big-endian), then the first 31 bytes of HMAC-SHA256 over those 17 bytes
// and the scope. Truncating the MAC by one byte keeps the token a multiple
// of three bytes (64 base64url characters, no padding) at 248 bits of
// strength.
#include "taxii/paging_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "core/base64.h"
#include "core/digest.h"

namespace ctishare::taxii::detail {

namespace {

constexpr std::size_t kHeader = 17, kMac = 31, kToken = kHeader + kMac;
using ctishare::detail::Base64Alphabet;
using ctishare::detail::Base64Padding;

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

std::uint64_t get_u64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<std::uint8_t>(in[static_cast<std::size_t>(i)]);
  return v;
}

// Each scope field is length-prefixed so no two different scopes can
// serialise alike ("ab"+"c" vs "a"+"bc"); the query goes in as its digest.
void put_field(std::string& out, std::string_view field) {
  put_u64(out, field.size());
  out.append(field);
}

std::array<std::uint8_t, 32> mac(std::string_view key, std::string_view header, const TokenScope& scope) {
  std::string data(header);
  put_field(data, scope.api_root);
  put_field(data, scope.collection);
  put_field(data, scope.endpoint);
  const auto query_digest = ctishare::detail::sha256(scope.query);
  put_field(data, std::string_view(reinterpret_cast<const char*>(query_digest.data()), query_digest.size()));
  put_field(data, scope.user);
  std::array<std::uint8_t, 32> out{};
  unsigned len = 0;
  static const unsigned char empty_key = 0;
  const void* key_data = key.empty() ? static_cast<const void*>(&empty_key) : static_cast<const void*>(key.data());
  HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}


}  // namespace

std::string make_token(std::string_view key, const TokenScope& scope, Micros position, std::int64_t expires) {
  std::string raw(1, '\x01');
  put_u64(raw, static_cast<std::uint64_t>(position));
  put_u64(raw, static_cast<std::uint64_t>(expires));
  const auto m = mac(key, raw, scope);
  raw.append(reinterpret_cast<const char*>(m.data()), kMac);
  return ctishare::detail::base64_encode(raw, Base64Alphabet::url, Base64Padding::forbidden);
}

Result<Micros> verify_token(std::string_view key, const TokenScope& scope, std::string_view token, std::int64_t now) {
  const Error invalid(ErrorCategory::data, "the next token is not valid for this request");
  if (token.size() != (kToken / 3) * 4) return invalid;
  const auto decoded = ctishare::detail::base64_decode(token, Base64Alphabet::url, Base64Padding::forbidden);
  if (!decoded || decoded->size() != kToken || (*decoded)[0] != '\x01') return invalid;
  const std::string& raw = *decoded;
  const std::string_view header = std::string_view(raw).substr(0, kHeader);
  const auto expected = mac(key, header, scope);
  if (CRYPTO_memcmp(expected.data(), raw.data() + kHeader, kMac) != 0) return invalid;
  // Only an authentic token gets a distinct answer: its own expiry.
  const auto expires = static_cast<std::int64_t>(get_u64(header.substr(9, 8)));
  if (now > expires) return Error(ErrorCategory::data, "the next token has expired; start again without it");
  return static_cast<Micros>(get_u64(header.substr(1, 8)));
}

}  // namespace ctishare::taxii::detail
