// Strict base64 / base64url (lib/src/core/base64.h).
#include "core/base64.h"

#include <catch2/catch.hpp>

using namespace ctishare::detail;

TEST_CASE("base64: RFC 4648 test vectors, both alphabets, with and without padding", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(base64_encode(plain, Base64Alphabet::standard, Base64Padding::required) == encoded);
    CHECK(base64_decode(encoded, Base64Alphabet::standard, Base64Padding::required) == std::string(plain));
    std::string bare = encoded;
    while (!bare.empty() && bare.back() == '=') bare.pop_back();
    CHECK(base64_encode(plain, Base64Alphabet::url, Base64Padding::forbidden) == bare);
    CHECK(base64_decode(bare, Base64Alphabet::url, Base64Padding::forbidden) == std::string(plain));
  }
  CHECK(base64_encode("\xfb\xff", Base64Alphabet::standard, Base64Padding::forbidden) == "+/8");
  CHECK(base64_encode("\xfb\xff", Base64Alphabet::url, Base64Padding::forbidden) == "-_8");
}

TEST_CASE("base64: anything but the one encoding of a value is refused", "[base64]") {
  CHECK_FALSE(base64_decode("Zg", Base64Alphabet::standard, Base64Padding::required));     // padding missing
  CHECK_FALSE(base64_decode("Zg==", Base64Alphabet::url, Base64Padding::forbidden));       // padding present
  CHECK_FALSE(base64_decode("Zh==", Base64Alphabet::standard, Base64Padding::required));   // unused bits set
  CHECK_FALSE(base64_decode("Z", Base64Alphabet::url, Base64Padding::forbidden));          // impossible length
  CHECK_FALSE(base64_decode("-_8", Base64Alphabet::standard, Base64Padding::forbidden));   // other alphabet
  CHECK_FALSE(base64_decode("+/8", Base64Alphabet::url, Base64Padding::forbidden));
  CHECK_FALSE(base64_decode("Zm 9v", Base64Alphabet::standard, Base64Padding::forbidden));  // whitespace
}
