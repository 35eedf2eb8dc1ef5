// SHA-256 for the library's own bookkeeping (content digests, state keys):
// one reused OpenSSL context per thread and a digest fetched once, because
// per-call context allocation and implicit fetches cost more than hashing a
// few hundred bytes. Private to the library.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ctishare::detail {

std::array<std::uint8_t, 32> sha256(std::string_view data);

}  // namespace ctishare::detail
