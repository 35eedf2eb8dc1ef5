#include <catch2/catch.hpp>
#include <string>

#include "core/digest.h"

using ctishare::detail::sha256;
using ctishare::detail::siphash128;
using ctishare::detail::SipKey;

namespace {
std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += k[p[i] >> 4];
    out += k[p[i] & 0xF];
  }
  return out;
}
SipKey reference_key() {
  SipKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
  return k;
}
std::string reference_message(std::size_t n) {
  std::string m;
  for (std::size_t i = 0; i < n; ++i) m += static_cast<char>(i);
  return m;
}
}  // namespace

TEST_CASE("sha256 matches the FIPS 180-2 vectors", "[core][digest]") {
  auto abc = sha256("abc");
  CHECK(hex(abc.data(), abc.size()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto empty = sha256("");
  CHECK(hex(empty.data(), empty.size()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("siphash128 matches the reference vectors of SipHash-2-4-128", "[core][digest]") {
  // vectors_sip128 of the reference implementation: key 00..0f, message
  // 00..(n-1).
  auto h0 = siphash128(reference_key(), reference_message(0));
  CHECK(hex(h0.data(), h0.size()) == "a3817f04ba25a8e66df67214c7550293");
  auto h1 = siphash128(reference_key(), reference_message(1));
  CHECK(hex(h1.data(), h1.size()) == "da87c1d86b99af44347659119b22fc45");
  auto h15 = siphash128(reference_key(), reference_message(15));
  CHECK(hex(h15.data(), h15.size()) == "5493e99933b0a8117e08ec0f97cfc3d9");
}

TEST_CASE("siphash128 depends on the key and on every byte", "[core][digest]") {
  SipKey k = reference_key();
  const auto a = siphash128(k, "indicator content");
  CHECK(siphash128(k, "indicator contenT") != a);
  CHECK(siphash128(k, "indicator content ") != a);
  k[0] ^= 1;
  CHECK(siphash128(k, "indicator content") != a);
}
