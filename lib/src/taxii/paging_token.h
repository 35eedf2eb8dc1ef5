// Stateless `next` tokens (SPEC 3.5, Appendix B). A token carries only the
// paging position and an expiry; everything it is valid for — API root,
// collection, endpoint, the other query parameters, the user — is bound in
// by the HMAC instead of being carried, so the server keeps no session
// state, tokens survive restarts (same key), and a token presented in any
// other context simply fails to verify. Private to the library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ctishare/result.h"
#include "ctishare/taxii/store.h"

namespace ctishare::taxii::detail {

// What a token is bound to. `endpoint` names the endpoint and, for the
// per-object ones, the object ("objects", "manifest", "object:<id>",
// "versions:<id>"); `query` is QueryParams::canonical.
struct TokenScope {
  std::string_view api_root, collection, endpoint, query, user;
};

// A base64url token (no padding) for resuming after `position`, valid
// until `expires` (Unix seconds).
std::string make_token(std::string_view key, const TokenScope& scope, Micros position, std::int64_t expires);

// The position of a token that verifies for `scope` and has not expired at
// `now` (Unix seconds). Errors (data): malformed, tampered, issued for
// another scope, expired — deliberately one message for all but expiry, so
// a prober learns nothing about which binding failed.
Result<Micros> verify_token(std::string_view key, const TokenScope& scope, std::string_view token, std::int64_t now);

}  // namespace ctishare::taxii::detail
