// Base64 (RFC 4648 §4) and base64url (§5), strict both ways: the TAXII
// paging tokens, HTTP Basic credentials, scrypt hashes, API keys and JWTs
// all go through these two functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ctishare::detail {

enum class Base64Alphabet { standard, url };
enum class Base64Padding { required, forbidden };

// The encoding of `in`; with Base64Padding::required, '=' up to a multiple
// of four characters.
std::string base64_encode(std::string_view in, Base64Alphabet alphabet, Base64Padding padding);

// The bytes `in` encodes, or nullopt unless `in` holds only the alphabet's
// characters, padding exactly as `padding` says, and the unused bits of the
// last character zero (so each value has one encoding).
std::optional<std::string> base64_decode(std::string_view in, Base64Alphabet alphabet, Base64Padding padding);

}  // namespace ctishare::detail
